"""Alert delivery: the Alertmanager configuration Secret and Flux's own event notifications."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import Settings
from flux_monitoring.contract import (
    FLUX_GRAFANA_PASSWORD_KEY,
    FLUX_GRAFANA_SECRET,
    FLUX_GRAFANA_USER,
    FLUX_GRAFANA_USERNAME_KEY,
)
from flux_monitoring.manifests.alertmanager import (
    ALERTMANAGER_CONFIG_KEY,
    ALERTMANAGER_CONFIG_SECRET,
    alertmanager_config_yaml,
)
from flux_monitoring.manifests.endpoints import dashboard_urls
from flux_monitoring.manifests.flux_events import flux_event_manifests
from flux_monitoring.resources.custom_resources import custom_resource
from flux_monitoring.resources.grafana_admin import GrafanaAdmin
from flux_monitoring.signals.dashboards import CLUSTER_UID


class AlertDelivery(pulumi.ComponentResource):
    """The Secret Alertmanager reads its whole configuration from (credentials included: Secret data
    is the only place they go), and the credentials of Flux's own Grafana user, which Flux's grafana
    Provider logs in with.

    Both are Pulumi's in either delivery mode, like the Grafana admin Secret. In direct delivery
    the Flux Providers and Alerts are too (``providers=True``); in gitops delivery the render
    writes those.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        namespace: pulumi.Input[str],
        grafana_admin: GrafanaAdmin,
        providers: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("flux-monitoring:alert_delivery:AlertDelivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secrets: list[k8s.core.v1.Secret] = []
        if settings.alertmanager.enabled:
            config = alertmanager_config_yaml(settings.alerting, dashboard_urls(settings)[CLUSTER_UID])
            self.secrets.append(
                k8s.core.v1.Secret(
                    "alertmanager-config",
                    metadata={
                        "name": ALERTMANAGER_CONFIG_SECRET,
                        "namespace": namespace,
                        "labels": dict(PART_OF_LABELS),
                    },
                    type="Opaque",
                    string_data={ALERTMANAGER_CONFIG_KEY: pulumi.Output.secret(config)},
                    opts=child,
                )
            )
        if settings.flux_events.grafana_annotations:
            self.secrets.append(
                k8s.core.v1.Secret(
                    "flux-grafana-credentials",
                    metadata={
                        "name": FLUX_GRAFANA_SECRET,
                        "namespace": settings.flux_namespace,
                        "labels": dict(PART_OF_LABELS),
                    },
                    type="Opaque",
                    string_data={
                        # Flux's own Editor user, never the admin (grafana_flux_user.py).
                        FLUX_GRAFANA_USERNAME_KEY: FLUX_GRAFANA_USER,
                        FLUX_GRAFANA_PASSWORD_KEY: grafana_admin.flux_password,
                    },
                    opts=child,
                )
            )
        after_secrets = pulumi.ResourceOptions(parent=self, depends_on=self.secrets)
        self.notifications = [
            custom_resource(manifest, after_secrets)
            for manifest in (flux_event_manifests(settings) if providers else [])
        ]
        self.register_outputs({"secrets": [s.metadata.name for s in self.secrets]})
