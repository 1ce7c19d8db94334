"""Helm values for kube-prometheus-stack, as a pure function of the settings.

Direct delivery passes these values to a Helm release; the offline render writes the same
values into a Flux HelmRelease, so both modes deploy exactly the same chart configuration.
"""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.names import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE, PROMETHEUS_SELECTOR_LABELS
from flux_monitoring.config.settings import RELEASE_NAME, Settings
from flux_monitoring.contract import GRAFANA_ADMIN_PASSWORD_KEY, GRAFANA_ADMIN_SECRET, GRAFANA_ADMIN_USER_KEY
from flux_monitoring.manifests.alertmanager import alertmanager_values
from flux_monitoring.manifests.fleet import fleet_prometheus_spec, grafana_fleet_values
from flux_monitoring.manifests.grafana_flux_user import flux_user_values
from flux_monitoring.manifests.grafana_rbac import grafana_rbac_values, sidecar_values
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values

# A keyed hash of the credentials (flux_monitoring/resources/grafana_admin.py), also kept in the Secret for gitops.
GRAFANA_ADMIN_CHECKSUM_KEY = "admin-checksum"
# On Grafana's pod template: a new value on rotation restarts the pod, whose init container
# then applies the password. The chart puts only its own checksums there, and none for an
# existingSecret (grafana-community/helm-charts charts/grafana/templates/deployment.yaml
# checksum/secret, podAnnotations; 12.11.1 at 3386a11, 2026-08-20).
GRAFANA_ADMIN_CHECKSUM_ANNOTATION = "checksum/grafana-admin"

# Service names follow from the release name; the Flux guide's commands rely on them.
GRAFANA_SERVICE = f"{RELEASE_NAME}-grafana"
PROMETHEUS_SERVICE = f"{RELEASE_NAME}-prometheus"
# The Prometheus and Alertmanager resources the chart creates for the operator: "<fullname>-prometheus"
# and "<fullname>-alertmanager", fullname being the release name when it contains the chart's name
# (prometheus-community/helm-charts charts/kube-prometheus-stack/templates/_helpers.tpl,
# kube-prometheus-stack.prometheus.crname / alertmanager.crname, 88.5.3 at cf408a2, 2026-08-22;
# cleanPrometheusOperatorObjectNames stays false).
PROMETHEUS_RESOURCE = f"{RELEASE_NAME}-prometheus"
ALERTMANAGER_RESOURCE = f"{RELEASE_NAME}-alertmanager"

# Grafana's Deployment strategy when it has a ReadWriteOnce volume.
GRAFANA_VOLUME_SAFE_STRATEGY = {"type": "Recreate"}


# The admin password reset before every start: docs/decisions/0004-grafana-password-reset-init-container.md.
# Sources: grafana-community/helm-charts charts/grafana/templates/_pod.tpl (12.11.1 at 3386a11: tpl'd
# extraInitContainers, volumes "config", "storage", "search"); grafana/grafana
# pkg/cmd/grafana-cli/commands/reset_password_command.go (--password-from-stdin, --user-id default 1; 01e609d).
GRAFANA_DATABASE = "/var/lib/grafana/grafana.db"
_RESET_ADMIN_PASSWORD = f"""set -eu
if [ ! -f {GRAFANA_DATABASE} ]; then
  echo "no database yet: Grafana creates the admin user from GF_SECURITY_ADMIN_PASSWORD"
  exit 0
fi
printf '%s\\n' "$GF_SECURITY_ADMIN_PASSWORD" | grafana cli --homepath /usr/share/grafana \\
  --config /etc/grafana/grafana.ini admin reset-admin-password --password-from-stdin
"""
_GRAFANA_IMAGE = (
    "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}"
    ":{{ .Values.image.tag | default .Chart.AppVersion }}"
)


def _admin_password_reset() -> dict[str, Any]:
    """The init container that makes the Secret's password the one that logs in."""
    return {
        "name": "reset-admin-password",
        "image": _GRAFANA_IMAGE,
        "command": ["/bin/sh", "-c", _RESET_ADMIN_PASSWORD],
        "env": [
            {
                "name": "GF_SECURITY_ADMIN_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": GRAFANA_ADMIN_SECRET, "key": GRAFANA_ADMIN_PASSWORD_KEY}},
            }
        ],
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/grafana/grafana.ini", "subPath": "grafana.ini"},
            {"name": "storage", "mountPath": "/var/lib/grafana"},
            # grafana.ini's unified_storage.index_path: the CLI starts on the same config as Grafana.
            {"name": "search", "mountPath": "/var/lib/grafana-search"},
        ],
        # The chart's containerSecurityContext for Grafana (grafana 12.11.1 values.yaml).
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def _grafana_values(settings: Settings) -> dict[str, Any]:
    grafana: dict[str, Any] = {
        # The password lives only in this Secret; Helm stores values in plain text.
        "admin": {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": GRAFANA_ADMIN_USER_KEY,
            "passwordKey": GRAFANA_ADMIN_PASSWORD_KEY,
        },
        "extraInitContainers": [_admin_password_reset()],
        # ConfigMaps of the monitoring namespace only, through a Role the program owns (grafana_rbac.py).
        "rbac": grafana_rbac_values(),
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "labelValue": DASHBOARD_LABEL_VALUE,
                **sidecar_values(settings),
            },
            "datasources": sidecar_values(settings),
        },
    }
    if settings.flux_events.grafana_annotations:
        # Flux's own user, an Editor kept from inside Grafana's pod (grafana_flux_user.py).
        grafana.update(flux_user_values())
    ingress = settings.grafana.ingress
    if ingress is not None:
        grafana["ingress"] = {
            "enabled": True,
            "hosts": [ingress.host],
            "path": "/",
        }
        if ingress.class_name:
            grafana["ingress"]["ingressClassName"] = ingress.class_name
        if ingress.tls_secret_name:
            grafana["ingress"]["tls"] = [{"secretName": ingress.tls_secret_name, "hosts": [ingress.host]}]
    if settings.grafana.persistence_size:
        grafana["persistence"] = {"enabled": True, "size": settings.grafana.persistence_size}
        # The chart's default RollingUpdate starts the new pod while the old one holds the
        # ReadWriteOnce volume: on another node it never attaches, Helm times out and rolls back
        # (grafana/helm-charts #146, prometheus-community/helm-charts #898). Recreate stops the
        # old pod first. Defaults: grafana-community/helm-charts charts/grafana/values.yaml
        # (deploymentStrategy, persistence.accessModes), 12.11.1 at 3386a11, 2026-08-20.
        grafana["deploymentStrategy"] = dict(GRAFANA_VOLUME_SAFE_STRATEGY)
    fleet = grafana_fleet_values(settings.grafana.datasources)
    grafana["sidecar"]["datasources"].update(fleet.pop("sidecar", {}).get("datasources", {}))
    return {**grafana, **fleet}


def _prometheus_spec(settings: Settings) -> dict[str, Any]:
    prometheus = settings.prometheus
    spec: dict[str, Any] = {
        "replicas": prometheus.replicas,
        "retention": prometheus.retention,
        # Explicit selectors: the PodMonitor and PrometheusRule of this program carry these
        # labels, and so do the chart's own monitors.
        "podMonitorSelector": {"matchLabels": dict(PROMETHEUS_SELECTOR_LABELS)},
        "ruleSelector": {"matchLabels": dict(PROMETHEUS_SELECTOR_LABELS)},
    }
    if prometheus.retention_size:
        spec["retentionSize"] = prometheus.retention_size
    resources = {
        part: amounts.as_dict()
        for part, amounts in (("requests", prometheus.resources.requests), ("limits", prometheus.resources.limits))
        if amounts.as_dict()
    }
    if resources:
        spec["resources"] = resources
    if prometheus.storage_size:
        claim: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": prometheus.storage_size}},
        }
        if prometheus.storage_class_name:
            claim["storageClassName"] = prometheus.storage_class_name
        spec["storageSpec"] = {"volumeClaimTemplate": {"spec": claim}}
    return {**spec, **fleet_prometheus_spec(settings)}


def with_admin_checksum(values: dict[str, Any], checksum: Any) -> dict[str, Any]:
    """``values`` with the credentials' checksum on Grafana's pod template (direct delivery; gitops
    takes it from the Secret through the HelmRelease's valuesFrom)."""
    grafana = {**values["grafana"], "podAnnotations": {GRAFANA_ADMIN_CHECKSUM_ANNOTATION: checksum}}
    return {**values, "grafana": grafana}


# Direct delivery applies the Prometheus Operator CRDs from the prometheus-operator-crds chart
# (flux_monitoring/config/operator_crds.py): kube-prometheus-stack's own, which Helm would install
# once and never upgrade, stay off (its crds subchart, condition crds.enabled; Chart.yaml 88.5.3).
# gitops keeps them: helm-controller's CreateReplace upgrades them (manifests/gitops.py).
CHART_CRDS_OFF = {"crds": {"enabled": False}}
# Retained when Pulumi deletes the chart: pulumi-kubernetes helm.v4.Chart gives objects with this
# annotation retainOnDelete (provider/pkg/provider/helm/v4/chart.go, 9497796), and deleting a CRD
# would delete every object of its kind in the cluster. The chart puts crds.annotations on every CRD
# (prometheus-community/helm-charts charts/prometheus-operator-crds/values.yaml, 31.0.1 at 4529d7b).
OPERATOR_CRDS_VALUES = {"crds": {"annotations": {"helm.sh/resource-policy": "keep"}}}


def without_chart_crds(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with kube-prometheus-stack's CRDs off (direct delivery)."""
    return {**values, **CHART_CRDS_OFF}


def kube_prometheus_stack_values(settings: Settings) -> dict[str, Any]:
    """The chart values that realise ``settings``; every key path exists in the chart's defaults."""
    values: dict[str, Any] = {
        "grafana": _grafana_values(settings),
        "prometheus": {"prometheusSpec": _prometheus_spec(settings)},
        "alertmanager": alertmanager_values(settings.alertmanager.enabled),
    }
    # Only node-exporter needs privileged pod security: in a namespace of its own (manifests/namespace.py);
    # the subchart places every object of it there (prometheus-community/helm-charts
    # charts/prometheus-node-exporter/templates/_helpers.tpl "prometheus-node-exporter.namespace",
    # prometheus-node-exporter-4.56.1 at 8b8e639, the kube-prometheus-stack 88.5.3 dependency).
    values["prometheus-node-exporter"] = {"namespaceOverride": settings.node_exporter_namespace}
    kube_state_metrics = kube_state_metrics_values(settings)
    if kube_state_metrics:
        values["kube-state-metrics"] = kube_state_metrics
    if settings.prometheus.replicas > 1:
        # Keep one replica scraping through node drains.
        values["prometheus"]["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
    return values
