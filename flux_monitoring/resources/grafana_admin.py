"""Grafana's admin credentials: a Kubernetes Secret the chart reads by name."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import Settings
from flux_monitoring.contract import (
    FLUX_GRAFANA_PASSWORD_RESOURCE,
    FLUX_GRAFANA_USER,
    GRAFANA_ADMIN_PASSWORD_KEY,
    GRAFANA_ADMIN_PASSWORD_RESOURCE,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER_KEY,
    GRAFANA_FLUX_PASSWORD_KEY,
)
from flux_monitoring.manifests.fleet import grafana_datasource_secret_data
from flux_monitoring.manifests.helm_values import GRAFANA_ADMIN_CHECKSUM_KEY

# helm-controller reconciles a HelmRelease as soon as a valuesFrom Secret with this label changes,
# instead of at its next interval (fluxcd/helm-controller docs/spec/v2/helmreleases.md, v1.6.0).
FLUX_WATCH_LABELS = {"reconcile.fluxcd.io/watch": "Enabled"}
CHECKSUM_KEY_BYTES = 32


def admin_checksum(
    key_hex: str,
    user: str,
    password: str,
    datasources: Mapping[str, str] | None = None,
    flux_password: str | None = None,
) -> str:
    """A keyed hash (HMAC-SHA256) of every credential Grafana's pod holds: the admin user and password,
    the data sources' credentials (``grafana-datasource-credentials``, which Grafana reads into its
    environment only when it starts) and Flux's user's password (which the container keeping that
    user reads into its environment when it starts). Changes when any changes, reveals none.

    The key is random and secret, so the value, which Helm keeps in plain text, cannot be tested
    against guessed passwords the way a plain hash could. Prefixed so that Helm's --set parsing
    (gitops valuesFrom targetPath) always reads it as a string. Without data source credentials the
    text hashed is the admin credentials' alone, as before they were added: no spurious roll (the
    same for Flux's user, which only ``fluxEvents.grafanaAnnotations`` has).
    """
    text = f"{user}\0{password}" + "".join(f"\0{name}={value}" for name, value in sorted((datasources or {}).items()))
    if flux_password is not None:
        text += f"\0\0{FLUX_GRAFANA_USER}={flux_password}"
    digest = hmac.new(bytes.fromhex(key_hex), text.encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


class GrafanaAdmin(pulumi.ComponentResource):
    """The admin Secret, from the stack's secret password or a generated one, and a checksum of it
    and of the data sources' credentials.

    The password reaches the cluster only as Secret data: never through Helm values, which Helm
    keeps in plain text in its release records. The checksum goes on Grafana's pod template so
    that a new password or data source credential restarts Grafana, which then applies it
    (flux_monitoring/manifests/helm_values.py).
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        namespace: pulumi.Input[str],
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("flux-monitoring:grafana_admin:GrafanaAdmin", name, None, opts)
        if settings.grafana_admin_password is not None:
            self.password = pulumi.Output.secret(settings.grafana_admin_password.get_secret_value())
        else:
            # Kept in the stack state, so the password stays the same on every `pulumi up`.
            generated = random.RandomPassword(
                GRAFANA_ADMIN_PASSWORD_RESOURCE, length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            self.password = pulumi.Output.secret(generated.result)
        # Flux's Grafana user (fluxEvents.grafanaAnnotations), kept in the state like the admin's; every
        # class of character, so that it passes Grafana's password_policy when that is on, and only
        # "-" and "_" besides letters and digits, so that it needs no quoting in JSON or basic auth.
        self.flux_password: pulumi.Output[str] | None = None
        if settings.flux_events.grafana_annotations:
            flux = random.RandomPassword(
                FLUX_GRAFANA_PASSWORD_RESOURCE,
                length=32,
                special=True,
                override_special="-_",
                min_upper=1,
                min_lower=1,
                min_numeric=1,
                min_special=1,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.flux_password = pulumi.Output.secret(flux.result)
        self.user = pulumi.Output.from_input(settings.grafana.admin_user)
        # Kept in the state like the password: the checksum changes only when the credentials do.
        key = random.RandomBytes(
            "grafana-admin-checksum-key", length=CHECKSUM_KEY_BYTES, opts=pulumi.ResourceOptions(parent=self)
        )
        # Not secret: it reveals nothing without the key (which stays secret in the state).
        datasources = grafana_datasource_secret_data(settings.grafana.datasources)
        self.checksum = pulumi.Output.unsecret(
            pulumi.Output.all(key.hex, self.password, self.flux_password).apply(
                lambda parts: admin_checksum(parts[0], settings.grafana.admin_user, parts[1], datasources, parts[2])
            )
        )
        labels = {**PART_OF_LABELS, **(FLUX_WATCH_LABELS if settings.delivery == "gitops" else {})}
        self.secret = k8s.core.v1.Secret(
            "grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={
                GRAFANA_ADMIN_USER_KEY: settings.grafana.admin_user,
                GRAFANA_ADMIN_PASSWORD_KEY: self.password,
                GRAFANA_ADMIN_CHECKSUM_KEY: self.checksum,
                **({GRAFANA_FLUX_PASSWORD_KEY: self.flux_password} if self.flux_password is not None else {}),
            },
            # ``after``: the Secrets its checksum covers, so whatever the checksum rolls reads their new values.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )
        self.register_outputs({"secretName": self.secret.metadata.name})
