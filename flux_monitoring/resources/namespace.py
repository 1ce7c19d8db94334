"""The monitoring namespace, and node-exporter's."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.namespace import namespace_manifest, node_exporter_namespace_manifest


class MonitoringNamespace(pulumi.ComponentResource):
    """The namespace everything of the monitoring stack but node-exporter runs in (pod security
    ``baseline``), and, with ``node_exporter``, node-exporter's own (``privileged``): in gitops
    delivery the render writes that one, since no Secret of Pulumi's lives in it."""

    def __init__(self, name: str, settings: Settings, node_exporter: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flux-monitoring:namespace:MonitoringNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, protect=settings.protect)
        self.namespace = k8s.core.v1.Namespace(
            "namespace", metadata=namespace_manifest(settings)["metadata"], opts=child
        )
        self.namespaces = [self.namespace]
        if node_exporter:
            self.namespaces.append(
                k8s.core.v1.Namespace(
                    "node-exporter-namespace",
                    metadata=node_exporter_namespace_manifest(settings)["metadata"],
                    opts=child,
                )
            )
        self.name: pulumi.Output[str] = self.namespace.metadata.name
        self.register_outputs({"names": [namespace.metadata.name for namespace in self.namespaces]})
