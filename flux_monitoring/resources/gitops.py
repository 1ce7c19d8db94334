"""GitOps delivery: Pulumi creates the Flux source and Kustomizations, Flux syncs the stack."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.gitops import duration_seconds, flux_sync_manifests, helm_release_reconcile_request
from flux_monitoring.manifests.readiness import await_condition
from flux_monitoring.resources.custom_resources import custom_resource

# Controller queueing and the first git fetch, on top of Flux's own timeouts.
AWAIT_MARGIN_SECONDS = 120


def await_ready(seconds: int) -> dict[str, str]:
    """Annotations that make `pulumi up` wait for the Ready condition, and fail after ``seconds``."""
    return await_condition("Ready", seconds)


class GitOpsDelivery(pulumi.ComponentResource):
    """The Flux guide's GitRepository ``monitoring`` and Kustomizations ``monitoring-stack`` and
    ``monitoring-config``, each awaited until Ready so a broken path or an unreachable
    repository fails `pulumi up` instead of reporting success.

    ``after``: what the synced objects need first (the namespace, the Grafana admin Secret).
    ``credentials_checksum``: changes with every credential Grafana holds; on a Flux before 2.7 a
    patch of the HelmRelease carries it as a requested reconcile, so a rotation takes effect now.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        after: Sequence[pulumi.Resource],
        credentials_checksum: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("flux-monitoring:gitops:GitOpsDelivery", name, None, opts)
        source, stack, config = flux_sync_manifests(settings)
        stack_timeout = duration_seconds(stack["spec"]["timeout"])
        config_timeout = duration_seconds(config["spec"]["timeout"])
        # Deleting a pruning Kustomization uninstalls what it synced: protect them with the rest.
        self.source = custom_resource(
            source, pulumi.ResourceOptions(parent=self, protect=settings.protect), await_ready(AWAIT_MARGIN_SECONDS)
        )
        after_source = pulumi.ResourceOptions(parent=self, protect=settings.protect, depends_on=[self.source, *after])
        self.stack = custom_resource(stack, after_source, await_ready(stack_timeout + AWAIT_MARGIN_SECONDS))
        # Flux applies the config only once the stack is Ready: both windows.
        self.config = custom_resource(
            config, after_source, await_ready(stack_timeout + config_timeout + AWAIT_MARGIN_SECONDS)
        )
        request = helm_release_reconcile_request(settings, credentials_checksum)
        # After the stack is Ready (the HelmRelease exists) and the Secrets hold the new values.
        self.reconcile_request = (
            k8s.apiextensions.CustomResourcePatch(
                "kube-prometheus-stack-reconcile-request",
                api_version=request["apiVersion"],
                kind=request["kind"],
                metadata=request["metadata"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.stack, *after]),
            )
            if request
            else None
        )
        self.register_outputs({"kustomizations": [stack["metadata"]["name"], config["metadata"]["name"]]})
