"""kube-state-metrics values that export Flux objects' state as gotk_resource_info.

Since Flux 2.5 the controllers no longer export gotk_reconcile_condition / gotk_suspend_status;
kube-state-metrics reads the objects instead (custom resource state metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings import Settings


@dataclass(frozen=True)
class FluxKind:
    group: str
    version: str
    kind: str
    plural: str
    # Where the object's revision is, if it has one.
    revision: tuple[str, ...] | None = None
    # Alert and Provider (notification v1beta3) have no status conditions.
    has_ready: bool = True


_ARTIFACT_REVISION = ("status", "artifact", "revision")

# The API versions Flux 2.7 serves and stores (image automation went v1 in Flux 2.7).
FLUX_KINDS = (
    FluxKind("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations",
             ("status", "lastAppliedRevision")),
    FluxKind("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases",
             ("status", "history", "0", "chartVersion")),
    FluxKind("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", _ARTIFACT_REVISION),
    FluxKind("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories", _ARTIFACT_REVISION),
    FluxKind("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories", _ARTIFACT_REVISION),
    FluxKind("source.toolkit.fluxcd.io", "v1", "HelmChart", "helmcharts", _ARTIFACT_REVISION),
    FluxKind("source.toolkit.fluxcd.io", "v1", "Bucket", "buckets", _ARTIFACT_REVISION),
    FluxKind("notification.toolkit.fluxcd.io", "v1beta3", "Alert", "alerts", has_ready=False),
    FluxKind("notification.toolkit.fluxcd.io", "v1beta3", "Provider", "providers", has_ready=False),
    FluxKind("notification.toolkit.fluxcd.io", "v1", "Receiver", "receivers"),
    FluxKind("image.toolkit.fluxcd.io", "v1", "ImageRepository", "imagerepositories"),
    FluxKind("image.toolkit.fluxcd.io", "v1", "ImagePolicy", "imagepolicies"),
    FluxKind("image.toolkit.fluxcd.io", "v1", "ImageUpdateAutomation", "imageupdateautomations"),
)


def _resource(flux_kind: FluxKind) -> dict:
    labels: dict[str, list[str]] = {
        # Named exported_namespace, not namespace: kube-prometheus-stack scrapes kube-state-metrics
        # with honorLabels: true, so this label reaches Prometheus as is, under the same name the
        # controllers' metrics carry the object namespace (there Prometheus renames the clashing
        # namespace label). Dashboards and alerts join both on it.
        "exported_namespace": ["metadata", "namespace"],
        "suspended": ["spec", "suspend"],
    }
    if flux_kind.has_ready:
        labels["ready"] = ["status", "conditions", "[type=Ready]", "status"]
    if flux_kind.revision:
        labels["revision"] = list(flux_kind.revision)
    return {
        "groupVersionKind": {"group": flux_kind.group, "version": flux_kind.version, "kind": flux_kind.kind},
        "metricNamePrefix": "gotk",
        "metrics": [{
            "name": "resource_info",
            # kube-state-metrics drops the series of a kind whose metric shares another kind's
            # help text; a distinct text per kind keeps every kind.
            "help": f"The current state of a Flux {flux_kind.kind} object.",
            "each": {"type": "Info", "info": {"labelsFromPath": {"name": ["metadata", "name"]}}},
            "labelsFromPath": labels,
        }],
    }


def kube_state_metrics_values(settings: Settings) -> dict:
    """The fragment to merge under the chart's ``kube-state-metrics:`` values ({} for legacy).

    It adds the Flux resources to kube-state-metrics' default collectors: the default Kubernetes
    metrics stay (no --custom-resource-state-only), other dashboards need them.
    """
    if settings.flux_metrics == "legacy":
        return {}
    groups = sorted({k.group for k in FLUX_KINDS})
    return {
        "rbac": {"extraRules": [{
            "apiGroups": groups,
            "resources": sorted(k.plural for k in FLUX_KINDS),
            "verbs": ["list", "watch"],
        }]},
        "customResourceState": {
            "enabled": True,
            "config": {
                "kind": "CustomResourceStateMetrics",
                "spec": {"resources": [_resource(k) for k in FLUX_KINDS]},
            },
        },
    }
