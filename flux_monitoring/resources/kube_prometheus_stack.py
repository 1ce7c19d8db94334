"""The kube-prometheus-stack Helm release (direct delivery)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.names import MAX_HISTORY, RELEASE_TIMEOUT_SECONDS
from flux_monitoring.config.operator_crds import CRDS_CHART
from flux_monitoring.config.settings import HELM_REPOSITORY, RELEASE_NAME, Settings
from flux_monitoring.manifests.grafana_rbac import grafana_sidecar_roles
from flux_monitoring.manifests.helm_values import (
    OPERATOR_CRDS_VALUES,
    kube_prometheus_stack_values,
    with_admin_checksum,
    without_chart_crds,
)
from flux_monitoring.manifests.readiness import readiness_patches

# On the readiness patches: a new value on every Helm revision updates the patch, so `pulumi up`
# waits again after each upgrade, not only after the first install.
RELEASE_REVISION_ANNOTATION = "flux-monitoring/release-revision"


class KubePrometheusStack(pulumi.ComponentResource):
    """Prometheus Operator, Prometheus, Grafana and kube-state-metrics, from a pinned chart.

    A ``helm.v3.Release`` rather than a ``helm.v4.Chart``: docs/decisions/0003-helm-v3-release-not-helm-v4-chart.md.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        namespace: pulumi.Input[str],
        after: list[pulumi.Resource],
        admin_checksum: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("flux-monitoring:kube_prometheus_stack:KubePrometheusStack", name, None, opts)
        # The only access of Grafana's service account: the chart binds these by name (grafana_rbac.py).
        self.roles = [
            k8s.rbac.v1.Role(
                f"{role['metadata']['name']}-{role['metadata']['namespace']}",
                metadata=role["metadata"],
                rules=role["rules"],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for role in grafana_sidecar_roles(settings)
        ]
        # The Prometheus Operator CRDs of the pinned chart, applied server-side (several exceed the
        # 262144-byte annotation limit of a client-side apply) and upgraded with chartVersion. Their own
        # provider adopts CRDs that already exist (installed by kube-prometheus-stack's crds/ or by hand)
        # and forces the fields another manager holds: shared definitions, one version in the cluster.
        crds_provider = k8s.Provider(
            "operator-crds",
            context=settings.kube_context,
            upsert_existing_objects=True,
            enable_patch_force=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.crds = k8s.helm.v4.Chart(
            CRDS_CHART,
            chart=CRDS_CHART,
            version=settings.crds_version,
            repository_opts={"repo": HELM_REPOSITORY},
            values=OPERATOR_CRDS_VALUES,
            # After the namespaces and Secrets: a first `pulumi up` that stops at an existing namespace
            # changes no CRD either.
            opts=pulumi.ResourceOptions(parent=self, provider=crds_provider, depends_on=after),
        )
        self.release = k8s.helm.v3.Release(
            "kube-prometheus-stack",
            name=RELEASE_NAME,  # exact: the Flux guide's service and deployment names derive from it
            chart="kube-prometheus-stack",
            version=settings.chart_version,
            repository_opts={"repo": HELM_REPOSITORY},
            namespace=namespace,
            # The credentials' checksum rolls Grafana when they change (flux_monitoring/resources/grafana_admin.py).
            values=without_chart_crds(with_admin_checksum(kube_prometheus_stack_values(settings), admin_checksum)),
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
            max_history=MAX_HISTORY,
            # The namespaces; Grafana's pod mounts the admin Secret, Alertmanager reads its configuration
            # Secret, Prometheus and Grafana read the fleet credentials, Grafana's sidecars need their
            # Role and the operator its CRDs: all must exist before the release installs or upgrades.
            opts=pulumi.ResourceOptions(
                parent=self, protect=settings.protect, depends_on=[*after, *self.roles, self.crds]
            ),
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
