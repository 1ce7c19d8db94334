"""The namespaces of the stack and their pod security, as pure functions of the settings.

Pod Security Admission levels (kubernetes.io/docs/concepts/security/pod-security-admission,
pod-security-standards): the monitoring namespace enforces ``baseline``; ``restricted`` would
refuse Grafana's init-chown-data container, which runs as root adding CHOWN and DAC_OVERRIDE
whenever Grafana has a volume (grafana-community/helm-charts charts/grafana/values.yaml
initChownData.securityContext, grafana-12.11.1 at 864f779), while baseline allows both. It warns
and audits at ``restricted``, so what would stop a stricter level shows in `kubectl` and the
audit log. node-exporter mounts the host's /proc, /sys and / and uses the host network and PID
namespace (prometheus-community/helm-charts charts/prometheus-node-exporter/templates/daemonset.yaml,
prometheus-node-exporter-4.56.1 at 8b8e639): only its own namespace is ``privileged``.
"""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import Settings

POD_SECURITY_LABEL = "pod-security.kubernetes.io/{mode}"
MONITORING_ENFORCE = "baseline"
MONITORING_WARN = "restricted"
NODE_EXPORTER_ENFORCE = "privileged"


def _namespace(name: str, enforce: str, warn: str) -> dict[str, Any]:
    labels = {
        **PART_OF_LABELS,
        POD_SECURITY_LABEL.format(mode="enforce"): enforce,
        POD_SECURITY_LABEL.format(mode="audit"): warn,
        POD_SECURITY_LABEL.format(mode="warn"): warn,
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def namespace_manifest(settings: Settings) -> dict[str, Any]:
    """The monitoring namespace: everything but node-exporter runs here."""
    return _namespace(settings.namespace, MONITORING_ENFORCE, MONITORING_WARN)


def node_exporter_namespace_manifest(settings: Settings) -> dict[str, Any]:
    """node-exporter's own namespace (the chart's ``prometheus-node-exporter.namespaceOverride``)."""
    return _namespace(settings.node_exporter_namespace, NODE_EXPORTER_ENFORCE, NODE_EXPORTER_ENFORCE)
