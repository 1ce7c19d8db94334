"""The credentials of the fleet's remote write targets and Grafana data sources, as Kubernetes Secrets."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.fleet import fleet_secrets


class FleetCredentials(pulumi.ComponentResource):
    """``remote-write-credentials`` (read by Prometheus through the Prometheus Operator's Secret key
    references) and ``grafana-datasource-credentials`` (Grafana's environment), each only when some
    target has credentials (flux_monitoring.manifests.fleet.fleet_secrets).

    Their values reach the cluster only as Secret data, held as Pulumi secrets: never through Helm
    values, the render or git. Both deliveries create them here, like the Grafana admin Secret.
    """

    def __init__(
        self, name: str, settings: Settings, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("flux-monitoring:fleet_credentials:FleetCredentials", name, None, opts)
        self.secrets = [
            k8s.core.v1.Secret(
                secret_name,
                metadata={"name": secret_name, "namespace": namespace, "labels": dict(PART_OF_LABELS)},
                type="Opaque",
                string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for secret_name, data in fleet_secrets(settings).items()
        ]
        self.register_outputs({"secrets": [secret.metadata.name for secret in self.secrets]})
