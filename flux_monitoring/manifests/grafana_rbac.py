"""What Grafana's service account may read: ConfigMaps, in the monitoring namespace only.

Grafana's sidecars load dashboards and data sources from labelled objects through the Kubernetes
API with Grafana's service account. With the chart's defaults (``rbac.namespaced: false``) and any
sidecar on, the grafana chart binds a ClusterRole granting get/list/watch on configmaps *and
secrets* in every namespace; its namespaced Role grants the same in a namespace
(grafana-community/helm-charts charts/grafana/templates/clusterrole.yaml and role.yaml,
grafana-12.11.1 at 864f779). ``sidecar.*.resource`` and ``searchNamespace`` change what the sidecar
asks for, not what the account may do. So the program owns the Role: ``rbac.namespaced`` makes the
chart bind a Role, not a ClusterRole, in its own namespace and each of ``rbac.namespaces``, and
``rbac.useExistingRole`` makes it bind this one instead of creating its own (rolebinding.yaml;
clusterrole.yaml and clusterrolebinding.yaml render only without ``rbac.namespaced``).

The sidecars then ask only for what the Role allows: ``resource: configmap`` lists and watches
ConfigMaps only, and ``searchNamespace`` names the monitoring namespace, where this program's
dashboards (flux_monitoring.signals.dashboards) and the chart's own dashboards and Prometheus data
source (kube-prometheus-stack templates/grafana/, in the release namespace) are. The sidecar lists
and watches each namespace of NAMESPACE with namespaced calls, and only ``ALL`` cluster-wide
(kiwigrid/k8s-sidecar src/resources.py and src/sidecar.py, 2.10.1 at a61c7ac: the image of
grafana 12.11.1's sidecar.image.tag).
"""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import RELEASE_NAME, Settings

GRAFANA_SIDECAR_ROLE = f"{RELEASE_NAME}-grafana-sidecar"
SIDECAR_RESOURCE = "configmap"
SIDECAR_RULES = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


def sidecar_namespaces(settings: Settings) -> list[str]:
    """The namespaces Grafana's sidecars read dashboards and data sources from."""
    return [settings.namespace]


def grafana_rbac_values() -> dict[str, Any]:
    """The grafana values binding the Role below instead of the chart's (Cluster)Role, in the release's
    namespace (the chart always binds there; ``rbac.namespaces`` would add others)."""
    return {"create": True, "namespaced": True, "useExistingRole": GRAFANA_SIDECAR_ROLE, "namespaces": []}


def sidecar_values(settings: Settings) -> dict[str, Any]:
    """``resource`` and ``searchNamespace`` of the dashboards and data sources sidecars."""
    return {"resource": SIDECAR_RESOURCE, "searchNamespace": sidecar_namespaces(settings)}


def grafana_sidecar_roles(settings: Settings) -> list[dict[str, Any]]:
    """One Role per sidecar namespace, named as ``rbac.useExistingRole`` says."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": GRAFANA_SIDECAR_ROLE, "namespace": namespace, "labels": dict(PART_OF_LABELS)},
            "rules": [dict(rule) for rule in SIDECAR_RULES],
        }
        for namespace in sidecar_namespaces(settings)
    ]
