"""Flux signals: the PodMonitors, the dashboards and the alert rules (direct delivery)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.settings import Settings
from flux_monitoring.resources.custom_resources import custom_resource
from flux_monitoring.signals.dashboards import dashboard_config_maps
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.rules import flux_prometheus_rule


class FluxSignals(pulumi.ComponentResource):
    """What Prometheus scrapes and alerts on, and what Grafana shows, for the Flux controllers.

    Created after the release: its CRDs (PodMonitor, PrometheusRule) and the Grafana sidecar
    that loads the dashboards come with it.
    """

    def __init__(
        self, name: str, settings: Settings, release: pulumi.Resource, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("flux-monitoring:flux_signals:FluxSignals", name, None, opts)
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[release])
        self.pod_monitors = [custom_resource(monitor, after_release) for monitor in flux_pod_monitors(settings)]
        self.rules = custom_resource(flux_prometheus_rule(settings), after_release)
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                config_map["metadata"]["name"],
                metadata=config_map["metadata"],
                data=config_map["data"],
                opts=after_release,
            )
            for config_map in dashboard_config_maps(settings)
        ]
        self.register_outputs({"dashboards": [d.metadata.name for d in self.dashboards]})
