"""GitOps delivery: Pulumi creates the Flux source and Kustomizations, Flux syncs the stack."""

from __future__ import annotations

import re
from typing import Sequence

import pulumi

from components.custom_resources import custom_resource
from components.gitops_manifests import flux_sync_manifests
from components.settings import Settings

WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"
# Controller queueing and the first git fetch, on top of Flux's own timeouts.
AWAIT_MARGIN_SECONDS = 120
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(duration: str) -> int:
    """Whole seconds of a Flux duration such as 10m or 1h30m (already validated)."""
    return int(sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(duration)))


def await_ready(seconds: int) -> dict[str, str]:
    """Annotations that make `pulumi up` wait for the Ready condition, and fail after ``seconds``."""
    return {WAIT_FOR: "condition=Ready", TIMEOUT_SECONDS: str(seconds)}


class GitOpsDelivery(pulumi.ComponentResource):
    """The Flux guide's GitRepository ``monitoring`` and Kustomizations ``monitoring-stack`` and
    ``monitoring-config``, each awaited until Ready so a broken path or an unreachable
    repository fails `pulumi up` instead of reporting success.

    ``after``: what the synced objects need first (the namespace, the Grafana admin Secret).
    """

    def __init__(self, name: str, settings: Settings, after: Sequence[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("flux-monitoring:gitops:GitOpsDelivery", name, None, opts)
        source, stack, config = flux_sync_manifests(settings)
        flux_timeout = duration_seconds(settings.gitops.timeout)
        # Deleting a pruning Kustomization uninstalls what it synced: protect them with the rest.
        self.source = custom_resource(source, pulumi.ResourceOptions(parent=self, protect=settings.protect),
                                      await_ready(AWAIT_MARGIN_SECONDS))
        after_source = pulumi.ResourceOptions(parent=self, protect=settings.protect,
                                              depends_on=[self.source, *after])
        self.stack = custom_resource(stack, after_source, await_ready(flux_timeout + AWAIT_MARGIN_SECONDS))
        # Flux applies the config only once the stack is Ready: both windows.
        self.config = custom_resource(config, after_source, await_ready(2 * flux_timeout + AWAIT_MARGIN_SECONDS))
        self.register_outputs({"kustomizations": [stack["metadata"]["name"], config["metadata"]["name"]]})
