"""The whole of flux-monitoring for one stack."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.fleet import fleet_secrets
from flux_monitoring.resources.alert_delivery import AlertDelivery
from flux_monitoring.resources.fleet_credentials import FleetCredentials
from flux_monitoring.resources.flux_signals import FluxSignals
from flux_monitoring.resources.gitops import GitOpsDelivery
from flux_monitoring.resources.grafana_admin import GrafanaAdmin
from flux_monitoring.resources.kube_prometheus_stack import KubePrometheusStack
from flux_monitoring.resources.namespace import MonitoringNamespace
from flux_monitoring.resources.preflight import check_existing_release


class FluxMonitoring(pulumi.ComponentResource):
    """Namespace, Grafana credentials, kube-prometheus-stack and the Flux signals on the stack's own cluster.

    ``direct``: Pulumi installs the stack. ``gitops``: Pulumi creates the Flux objects that sync
    it from git, and only what must not go to git (the namespace the Secret lives in, the Secret).
    """

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        # Before anything is registered: a kube-prometheus-stack someone else installed stops here.
        check_existing_release(settings)
        super().__init__("flux-monitoring:flux_monitoring:FluxMonitoring", name, None, opts)
        # An explicit provider on the stack's own context: never the operator's current context.
        # adoptExistingObjects: update an object that already exists instead of failing with AlreadyExists,
        # as pulumi-kubernetes did before 4.29.0 (pulumi/pulumi-kubernetes CHANGELOG.md 4.29.0, #2926: "a new
        # provider config option upsertExistingObjects (default false)", at 9497796; the pinned 4.34.2 SDK's
        # provider.py). Off by default: a create that silently takes over someone else's object is how a
        # rename deletes it.
        self.provider = k8s.Provider(
            "cluster",
            context=settings.kube_context,
            upsert_existing_objects=settings.adopt_existing_objects,
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_cluster = pulumi.ResourceOptions(parent=self, providers=[self.provider])

        namespace = MonitoringNamespace(
            "monitoring", settings, node_exporter=settings.delivery == "direct", opts=in_cluster
        )
        fleet = (
            FleetCredentials("fleet", settings, namespace.name, opts=in_cluster).secrets
            if fleet_secrets(settings)
            else []
        )
        # Its checksum covers the data sources' credentials: updated after their Secret, so the roll it
        # causes (or, in gitops, the reconcile the watched Secret causes) reads the new values.
        self.grafana_admin = GrafanaAdmin("grafana", settings, namespace.name, after=fleet, opts=in_cluster)
        self.alert_delivery = AlertDelivery(
            "alert-delivery",
            settings,
            namespace.name,
            self.grafana_admin,
            providers=settings.delivery == "direct",
            opts=in_cluster,
        )
        secrets = [self.grafana_admin.secret, *self.alert_delivery.secrets, *fleet]
        if settings.delivery == "gitops":
            # Flux owns everything else: no object is owned by both.
            self.delivery = GitOpsDelivery(
                "gitops",
                settings,
                after=[namespace.namespace, *secrets],
                credentials_checksum=self.grafana_admin.checksum,
                opts=in_cluster,
            )
        else:
            self.stack = KubePrometheusStack(
                "kube-prometheus-stack",
                settings,
                namespace.name,
                [*namespace.namespaces, *secrets],
                self.grafana_admin.checksum,
                opts=in_cluster,
            )
            self.signals = FluxSignals("flux-signals", settings, self.stack.release, opts=in_cluster)
        self.namespace = namespace.name
        self.register_outputs({"namespace": self.namespace})
