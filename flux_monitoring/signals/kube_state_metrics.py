"""kube-state-metrics values that export Flux objects' state as gotk_resource_info.

Since Flux 2.5 the controllers no longer export gotk_reconcile_condition / gotk_suspend_status;
kube-state-metrics reads the objects instead (custom resource state metrics). It watches each kind
at the version the stack's Flux release stores (flux_monitoring/flux/release.py), and every kind of
the release whatever fluxComponents says, so image automation and source-watcher objects are seen
without configuration.

A watched kind whose CRD is absent (a controller not installed) is harmless: the chart pinned by
kube-prometheus-stack 88.5.3, kube-state-metrics 8.4.0, runs kube-state-metrics v2.20.0
(prometheus-community/helm-charts charts/kube-state-metrics/Chart.yaml appVersion 2.20.0 @ cf408a29),
whose CRD discovery resolves each configured kind against the CRDs it finds: an absent one (or one
that no longer serves the version) yields no metrics and a log line, and its metrics start when a
CRD serving it appears (kubernetes/kube-state-metrics internal/discovery/discovery.go
ResolveGVKToGVKPs, PollForCacheUpdates @ c92fe0c5; CHANGELOG v2.20.0 #2996 "Log when a configured
custom resource CRD is absent", #2940 "Ignore non-served CRD versions"). What it cannot do is say so
in a metric: FluxKindUnreported (rules.py) does.
"""

from __future__ import annotations

from flux_monitoring.config.settings import Settings
from flux_monitoring.config.types import object_label_name
from flux_monitoring.flux.release import ReleaseKind
from flux_monitoring.flux.target import RESOURCE_INFO


def _resource(flux_kind: ReleaseKind, object_labels: tuple[str, ...]) -> dict:
    labels: dict[str, list[str]] = {
        # Named exported_namespace, not namespace: kube-prometheus-stack scrapes kube-state-metrics
        # with honorLabels: true, so this label reaches Prometheus as is, under the same name the
        # controllers' metrics carry the object namespace (there Prometheus renames the clashing
        # namespace label). Dashboards and alerts join both on it.
        "exported_namespace": ["metadata", "namespace"],
    }
    if flux_kind.has_suspend:
        labels["suspended"] = ["spec", "suspend"]
    if flux_kind.has_ready:
        labels["ready"] = ["status", "conditions", "[type=Ready]", "status"]
        # A [key=value] step selects the list element, any field of it follows
        # (kubernetes/kube-state-metrics pkg/customresourcestate/registry_factory.go compilePath, c92fe0c5).
        labels["reason"] = ["status", "conditions", "[type=Ready]", "reason"]
    if flux_kind.revision:
        labels["revision"] = list(flux_kind.revision)
    # objectLabels: a key's value at metadata.labels.<key>, absent when the object has no such label.
    # A path step is a map key as is (dots and slashes included; registry_factory.go compilePath).
    labels.update({object_label_name(key): ["metadata", "labels", key] for key in object_labels})
    return {
        "groupVersionKind": {"group": flux_kind.group, "version": flux_kind.version, "kind": flux_kind.kind},
        "metricNamePrefix": "gotk",
        "metrics": [
            {
                "name": "resource_info",
                # kube-state-metrics drops the series of a kind whose metric shares another kind's
                # help text; a distinct text per kind keeps every kind.
                "help": f"The current state of a Flux {flux_kind.kind} object.",
                "each": {"type": "Info", "info": {"labelsFromPath": {"name": ["metadata", "name"]}}},
                "labelsFromPath": labels,
            }
        ],
    }


def kube_state_metrics_values(settings: Settings) -> dict:
    """The fragment to merge under the chart's ``kube-state-metrics:`` values ({} unless the
    metric source is resource-info).

    It adds the Flux resources to kube-state-metrics' default collectors: the default Kubernetes
    metrics stay (no --custom-resource-state-only), other dashboards need them.
    """
    flux = settings.flux
    if flux.metrics != RESOURCE_INFO:
        return {}
    kinds = flux.kinds
    return {
        "rbac": {
            "extraRules": [
                {
                    "apiGroups": sorted({k.group for k in kinds}),
                    "resources": sorted(k.plural for k in kinds),
                    "verbs": ["list", "watch"],
                }
            ]
        },
        "customResourceState": {
            "enabled": True,
            "config": {
                "kind": "CustomResourceStateMetrics",
                "spec": {"resources": [_resource(k, settings.object_labels) for k in kinds]},
            },
        },
    }
