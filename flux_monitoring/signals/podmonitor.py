"""The PodMonitors through which Prometheus scrapes the Flux controllers and, with the
flux-operator metric source, the Flux Operator."""

from __future__ import annotations

from flux_monitoring.config.names import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from flux_monitoring.config.settings import Settings
from flux_monitoring.flux.release import CONTROLLER_METRICS_PORT, CONTROLLER_POD_LABEL, SHARD_PATTERN
from flux_monitoring.flux.target import FLUX_OPERATOR, LEGACY
from flux_monitoring.signals.promql import FLUX_OPERATOR_APP
from flux_monitoring.signals.sources import OPERATOR_POD_MONITOR_NAME, POD_MONITOR_NAME, SHARD_LABEL

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
# Flux 2.1 to 2.4 controllers still export the legacy per-object state series; the other metric
# sources never read them.
LEGACY_OBJECT_METRICS = "gotk_reconcile_condition|gotk_suspend_status"
# Flux 2.0 controllers keep a deleted object's condition series with status="Deleted" at 1 and
# zero its other statuses (fluxcd/pkg runtime/metrics RecordCondition, runtime <= v0.41.0), so the
# other statuses alone exclude deleted objects and the Deleted series is never read.
DROPPED_CONDITION_STATUS = "Deleted"
# No gotk_reconcile_duration_seconds bucket is dropped: Flux's ten bounds (10ms to 1800s,
# flux_monitoring/flux/release.py) each split reconciliations that really occur, from a cached source
# fetch to a Helm upgrade that runs into its timeout.

# The Flux Operator's pod (kustomize manifests and Helm chart alike) and its metrics port: the
# container port named "http" is the health-probe port 8081; metrics are on "http-metrics", 8080
# (controlplaneio-fluxcd/flux-operator config/manager/deployment.yaml @ v0.58.1; MATRIX §1e, §3).
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "flux-operator"}
OPERATOR_METRICS_PORT = "http-metrics"


def metric_relabelings(settings: Settings) -> list[dict]:
    """PodMonitor metricRelabelings dropping the controller series the signals never use."""
    if not settings.drop_unused_metrics:
        return []
    flux = settings.flux
    names = list(UNUSED_CONTROLLER_METRICS)
    if flux.metrics != LEGACY and flux.release.exports_legacy_gauges:
        names.append(LEGACY_OBJECT_METRICS)
    relabelings = [{"sourceLabels": ["__name__"], "action": "drop", "regex": f"({'|'.join(names)})"}]
    if flux.metrics == LEGACY and flux.release.deleted_status:
        relabelings.append(
            {
                "sourceLabels": ["__name__", "status"],
                "action": "drop",
                "regex": f"gotk_reconcile_condition;{DROPPED_CONDITION_STATUS}",
            }
        )
    return relabelings


# Completed or failed pods keep their IP for a while; scraping them would report a controller
# as down (prometheus-operator#4816, as upstream Flux does).
_RUNNING_PODS = {"sourceLabels": ["__meta_kubernetes_pod_phase"], "action": "keep", "regex": "Running"}


def _pod_monitor(settings: Settings, name: str, selector: dict, endpoint: dict, **spec) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": {**PART_OF_LABELS, **PROMETHEUS_SELECTOR_LABELS},
        },
        "spec": {
            "namespaceSelector": {"matchNames": [settings.flux_namespace]},
            "selector": selector,
            **spec,
            "podMetricsEndpoints": [endpoint],
        },
    }


_POD_APP = f"__meta_kubernetes_pod_label_{CONTROLLER_POD_LABEL}"


def _controller_app_regex(settings: Settings) -> str:
    """The app labels of every controller of the release and of every shard of one (Prometheus
    anchors relabel regexes): group 1 the controller, group 3 the shard."""
    release = settings.flux.release
    return f"({'|'.join(release.controllers)})(-({SHARD_PATTERN}))?"


def controller_relabelings(settings: Settings) -> list[dict]:
    """Keep the pods of every controller of the release and of their shards, whatever fluxComponents
    says (a label selector cannot match app=<controller>-<shard> for any shard name); label each
    target app=<controller>, shard=<shard>."""
    apps = _controller_app_regex(settings)
    return [
        _RUNNING_PODS,
        {"sourceLabels": [_POD_APP], "action": "keep", "regex": apps},
        {
            "sourceLabels": [_POD_APP],
            "action": "replace",
            "regex": apps,
            "targetLabel": CONTROLLER_POD_LABEL,
            "replacement": "$1",
        },
        # An empty replacement (the main controller) leaves the label out.
        {
            "sourceLabels": [_POD_APP],
            "action": "replace",
            "regex": apps,
            "targetLabel": SHARD_LABEL,
            "replacement": "$3",
        },
    ]


def flux_pod_monitor(settings: Settings) -> dict:
    """A monitoring.coreos.com/v1 PodMonitor for every Flux controller and shard in ``settings.flux_namespace``.

    Its CRD comes with the kube-prometheus-stack release, so it must be created after it.
    """
    endpoint = {"port": CONTROLLER_METRICS_PORT, "path": "/metrics", "relabelings": controller_relabelings(settings)}
    if relabelings := metric_relabelings(settings):
        endpoint["metricRelabelings"] = relabelings
    # Every pod with an app label; the relabelings keep the controllers' and their shards'.
    selector = {"matchExpressions": [{"key": CONTROLLER_POD_LABEL, "operator": "Exists"}]}
    return _pod_monitor(settings, POD_MONITOR_NAME, selector, endpoint)


def flux_operator_pod_monitor(settings: Settings) -> dict:
    """A PodMonitor for the Flux Operator in ``settings.flux_namespace``; its target is labelled
    app=flux-operator like the controllers', so FluxControllerDown names it."""
    endpoint = {
        "port": OPERATOR_METRICS_PORT,
        "path": "/metrics",
        "relabelings": [
            _RUNNING_PODS,
            {"action": "replace", "targetLabel": CONTROLLER_POD_LABEL, "replacement": FLUX_OPERATOR_APP},
        ],
    }
    return _pod_monitor(settings, OPERATOR_POD_MONITOR_NAME, {"matchLabels": OPERATOR_POD_LABELS}, endpoint)


def flux_pod_monitors(settings: Settings) -> list[dict]:
    """Every PodMonitor the stack's metric source needs."""
    monitors = [flux_pod_monitor(settings)]
    if settings.flux.metrics == FLUX_OPERATOR:
        monitors.append(flux_operator_pod_monitor(settings))
    return monitors
