"""Grafana's admin credentials: a Kubernetes Secret the chart reads by name."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.helm_values import GRAFANA_ADMIN_PASSWORD_KEY, GRAFANA_ADMIN_SECRET, GRAFANA_ADMIN_USER_KEY
from components.selectors import PART_OF_LABELS
from components.settings import Settings


class GrafanaAdmin(pulumi.ComponentResource):
    """The admin Secret, from the stack's secret password or a generated one.

    The password reaches the cluster only as Secret data: never through Helm values,
    which Helm keeps in plain text in its release records.
    """

    def __init__(self, name: str, settings: Settings, namespace: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("flux-monitoring:grafana_admin:GrafanaAdmin", name, None, opts)
        if settings.grafana_admin_password is not None:
            self.password = pulumi.Output.secret(settings.grafana_admin_password.get_secret_value())
        else:
            # Kept in the stack state, so the password stays the same on every `pulumi up`.
            generated = random.RandomPassword(
                "grafana-admin-password", length=32, special=False,
                opts=pulumi.ResourceOptions(parent=self))
            self.password = pulumi.Output.secret(generated.result)
        self.user = pulumi.Output.from_input(settings.grafana.admin_user)
        self.secret = k8s.core.v1.Secret(
            "grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace, "labels": dict(PART_OF_LABELS)},
            type="Opaque",
            string_data={GRAFANA_ADMIN_USER_KEY: settings.grafana.admin_user,
                         GRAFANA_ADMIN_PASSWORD_KEY: self.password},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"secretName": self.secret.metadata.name})
