"""flux-monitoring: monitoring of the Flux controllers, one `pulumi up` per environment."""

import pulumi

from flux_monitoring.manifests.endpoints import dashboard_urls, grafana_port_forward, grafana_url, prometheus_url
from flux_monitoring.resources.flux_monitoring import FluxMonitoring
from flux_monitoring.resources.stack_config import read_settings

settings = read_settings()
monitoring = FluxMonitoring("flux-monitoring", settings)

pulumi.export("namespace", monitoring.namespace)
pulumi.export("grafanaUrl", grafana_url(settings))
pulumi.export("grafanaPortForward", grafana_port_forward(settings))
pulumi.export("grafanaAdminUser", monitoring.grafana_admin.user)
pulumi.export("grafanaAdminPassword", monitoring.grafana_admin.password)
pulumi.export("prometheusUrl", prometheus_url(settings))
pulumi.export("dashboards", dashboard_urls(settings))
