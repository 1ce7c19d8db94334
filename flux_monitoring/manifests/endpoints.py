"""Where users reach Grafana and Prometheus, as pure functions of the settings."""

from __future__ import annotations

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.helm_values import GRAFANA_SERVICE, PROMETHEUS_SERVICE

DASHBOARD_UIDS = ("flux-control-plane", "flux-cluster")


def grafana_url(settings: Settings) -> str:
    """The ingress URL when Grafana has one, else the in-cluster service URL."""
    ingress = settings.grafana.ingress
    if ingress is not None:
        scheme = "https" if ingress.tls_secret_name else "http"
        return f"{scheme}://{ingress.host}"
    return f"http://{GRAFANA_SERVICE}.{settings.namespace}.svc.cluster.local"


def grafana_port_forward(settings: Settings) -> str:
    return f"kubectl -n {settings.namespace} port-forward svc/{GRAFANA_SERVICE} 3000:80"


def prometheus_url(settings: Settings) -> str:
    return f"http://{PROMETHEUS_SERVICE}.{settings.namespace}.svc.cluster.local:9090"


def dashboard_urls(settings: Settings) -> dict[str, str]:
    base = grafana_url(settings)
    return {uid: f"{base}/d/{uid}" for uid in DASHBOARD_UIDS}
