"""The kube-prometheus-stack Helm release (direct delivery)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.names import MAX_HISTORY, RELEASE_TIMEOUT_SECONDS
from flux_monitoring.config.settings import HELM_REPOSITORY, RELEASE_NAME, Settings
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values, with_admin_checksum
from flux_monitoring.manifests.readiness import readiness_patches

# On the readiness patches: a new value on every Helm revision updates the patch, so `pulumi up`
# waits again after each upgrade, not only after the first install.
RELEASE_REVISION_ANNOTATION = "flux-monitoring/release-revision"


class KubePrometheusStack(pulumi.ComponentResource):
    """Prometheus Operator, Prometheus, Grafana and kube-state-metrics, from a pinned chart.

    A ``helm.v3.Release`` rather than ``helm.v4.Chart``: the chart relies on Helm hooks,
    which ``helm.v4.Chart`` does not run.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        namespace: pulumi.Input[str],
        secrets: list[pulumi.Resource],
        admin_checksum: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("flux-monitoring:kube_prometheus_stack:KubePrometheusStack", name, None, opts)
        self.release = k8s.helm.v3.Release(
            "kube-prometheus-stack",
            name=RELEASE_NAME,  # exact: the Flux guide's service and deployment names derive from it
            chart="kube-prometheus-stack",
            version=settings.chart_version,
            repository_opts={"repo": HELM_REPOSITORY},
            namespace=namespace,
            # The credentials' checksum rolls Grafana when they change (flux_monitoring/resources/grafana_admin.py).
            values=with_admin_checksum(kube_prometheus_stack_values(settings), admin_checksum),
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
            max_history=MAX_HISTORY,
            # Grafana's pod mounts the admin Secret, Alertmanager reads its configuration Secret and
            # Prometheus and Grafana read the fleet credentials:
            # they must exist before the release installs.
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect, depends_on=secrets),
        )
        self.status = self.release.status
        # Then the operator's Prometheus (and Alertmanager) must come up: bounded, named in the error.
        revision = self.status.apply(lambda status: str(status.revision))
        self.readiness = [
            k8s.apiextensions.CustomResourcePatch(
                patch["metadata"]["name"],
                api_version=patch["apiVersion"],
                kind=patch["kind"],
                metadata={
                    **patch["metadata"],
                    "annotations": {**patch["metadata"]["annotations"], RELEASE_REVISION_ANNOTATION: revision},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
            )
            for patch in readiness_patches(settings)
        ]
        self.register_outputs({"status": self.status})
