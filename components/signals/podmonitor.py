"""The PodMonitor through which Prometheus scrapes the Flux controllers."""

from __future__ import annotations

import re

from components.selectors import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from components.settings import FLUX_DURATION_BUCKETS, Settings
from components.signals.promql import CONTROLLERS, POD_MONITOR_NAME


# Controller series that no dashboard, alert or recording rule reads: controller-runtime, work
# queue and client-go latency/size histograms (one series per bucket per controller) and the Go
# runtime's GC, memory and scheduler families. tests/test_signals_podmonitor.py proves every
# metric the signals query survives.
UNUSED_CONTROLLER_METRICS = (
    "go_(gc|memstats|sched|cpu|godebug|cgo)_.+",
    "controller_runtime_reconcile_time_seconds_bucket",
    "controller_runtime_webhook_.+",
    "workqueue_(queue|work)_duration_seconds_bucket",
    "rest_client_(request_duration|rate_limiter_duration|request_size|response_size)_(seconds|bytes)_bucket",
)
# Flux 2.1 to 2.4 controllers still export the legacy per-object state series beside
# kube-state-metrics' gotk_resource_info; the resource-info generation never reads them.
LEGACY_OBJECT_METRICS = "gotk_reconcile_condition|gotk_suspend_status"
# Flux's reconcile duration buckets start at 10ns; the cut-off is 100ms: the seven buckets below it
# (1e-08 to 0.01) resolve reconciliations of 10ms or less, which Flux's API round trips do not
# allow, so they only repeat one another. Quantiles below 100ms interpolate within 0-100ms without
# them, and every Flux object saves seven series.
DROPPED_DURATION_BUCKETS = tuple(bound for bound in FLUX_DURATION_BUCKETS if bound < 0.1)
# The controllers zero an object's True/False/Unknown series when they record Deleted
# (fluxcd/pkg runtime/metrics), so the state series alone exclude deleted objects.
DROPPED_CONDITION_STATUS = "Deleted"


def metric_relabelings(settings: Settings) -> list[dict]:
    """PodMonitor metricRelabelings dropping the controller series the signals never use."""
    if not settings.drop_unused_metrics:
        return []
    names = list(UNUSED_CONTROLLER_METRICS)
    if settings.flux_metrics != "legacy":
        names.append(LEGACY_OBJECT_METRICS)
    return [
        {"sourceLabels": ["__name__"], "action": "drop", "regex": f"({'|'.join(names)})"},
        {"sourceLabels": ["__name__", "le"], "action": "drop",
         "regex": f"gotk_reconcile_duration_seconds_bucket;({'|'.join(re.escape(f'{b:g}') for b in DROPPED_DURATION_BUCKETS)})"},
        {"sourceLabels": ["__name__", "status"], "action": "drop",
         "regex": f"gotk_reconcile_condition;{DROPPED_CONDITION_STATUS}"},
    ]


def flux_pod_monitor(settings: Settings) -> dict:
    """A monitoring.coreos.com/v1 PodMonitor for the Flux controllers in ``settings.flux_namespace``.

    Its CRD comes with the kube-prometheus-stack release, so it must be created after it.
    """
    endpoint = {
        "port": "http-prom",
        "path": "/metrics",
        # Completed or failed pods keep their IP for a while; scraping them would report
        # a controller as down (prometheus-operator#4816, as upstream Flux does).
        "relabelings": [{
            "sourceLabels": ["__meta_kubernetes_pod_phase"],
            "action": "keep",
            "regex": "Running",
        }],
    }
    if relabelings := metric_relabelings(settings):
        endpoint["metricRelabelings"] = relabelings
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": POD_MONITOR_NAME,
            "namespace": settings.namespace,
            "labels": {**PART_OF_LABELS, **PROMETHEUS_SELECTOR_LABELS},
        },
        "spec": {
            "namespaceSelector": {"matchNames": [settings.flux_namespace]},
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": list(CONTROLLERS)}]},
            # The pod's app label names the controller on every series, for per-controller panels
            # and for telling which controller is absent.
            "podTargetLabels": ["app"],
            "podMetricsEndpoints": [endpoint],
        },
    }
