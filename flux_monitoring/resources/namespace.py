"""The monitoring namespace."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.namespace import namespace_manifest


class MonitoringNamespace(pulumi.ComponentResource):
    """The namespace everything of the monitoring stack runs in."""

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flux-monitoring:namespace:MonitoringNamespace", name, None, opts)
        manifest = namespace_manifest(settings)
        self.namespace = k8s.core.v1.Namespace(
            "namespace",
            metadata=manifest["metadata"],
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect),
        )
        self.name: pulumi.Output[str] = self.namespace.metadata.name
        self.register_outputs({"name": self.name})
