"""The PodMonitor through which Prometheus scrapes the Flux controllers."""

from __future__ import annotations

from components.selectors import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from components.settings import Settings
from components.signals.promql import CONTROLLERS, POD_MONITOR_NAME


def flux_pod_monitor(settings: Settings) -> dict:
    """A monitoring.coreos.com/v1 PodMonitor for the Flux controllers in ``settings.flux_namespace``.

    Its CRD comes with the kube-prometheus-stack release, so it must be created after it.
    """
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
            "podMetricsEndpoints": [{
                "port": "http-prom",
                "path": "/metrics",
                # Completed or failed pods keep their IP for a while; scraping them would report
                # a controller as down (prometheus-operator#4816, as upstream Flux does).
                "relabelings": [{
                    "sourceLabels": ["__meta_kubernetes_pod_phase"],
                    "action": "keep",
                    "regex": "Running",
                }],
            }],
        },
    }
