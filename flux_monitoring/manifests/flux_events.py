"""Flux's own events: notification-controller Providers and Alerts, as pure functions of the settings.

- ``grafanaAnnotations``: every event of the watched objects becomes a Grafana annotation
  (Provider type ``grafana``, ``/api/annotations``); the notification-controller tags each with
  ``flux`` and the reporting controller, and the flux-cluster dashboard shows the ``flux`` tag.
- ``alertmanager``: error events become Alertmanager alerts (Provider type ``alertmanager``),
  named ``Flux<Kind><Reason>``, routed like the rules' alerts (alertmanager_config.py). They carry
  no endsAt: Alertmanager's resolve_timeout (set there, as the Flux docs recommend) expires them.
Source: fluxcd/notification-controller docs/spec/v1beta3/providers.md and internal/notifier
(grafana.go, alertmanager.go), main 2e46958a67f3 (2026-08-07).

The Providers and Alerts live in the Flux namespace; Pulumi creates them in direct delivery and
the render writes them in gitops delivery. The Grafana credentials Secret is Pulumi's in both.
Alert and Provider have no v1: each is written at its release's version (flux_monitoring/flux/release.py),
v1beta2 in Flux 2.0 and 2.1, v1beta3 from 2.2; every field used here is in both (the eventSources
kinds too: Alert CRDs in ../shared/upstream/crds/flux/<minor>/, checked by tests/unit/test_flux_objects.py).
"""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import RELEASE_NAME, Settings
from flux_monitoring.contract import FLUX_GRAFANA_SECRET
from flux_monitoring.manifests.helm_values import GRAFANA_SERVICE

GRAFANA_PROVIDER = "flux-monitoring-grafana"
ALERTMANAGER_PROVIDER = "flux-monitoring-alertmanager"
# The chart's Alertmanager service and port (kube-prometheus-stack templates/alertmanager/service.yaml,
# alertmanager.service.port 9093), and the alerts API the alertmanager provider posts to.
ALERTMANAGER_SERVICE = f"{RELEASE_NAME}-alertmanager"
ALERTMANAGER_PORT = 9093

# The kinds an Alert's eventSources accept (Alert v1beta2 and v1beta3 CRD enum) that emit reconciliation events.
EVENT_KINDS = (
    "Bucket",
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "HelmChart",
    "Kustomization",
    "HelmRelease",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
)


def grafana_annotations_url(settings: Settings) -> str:
    return f"http://{GRAFANA_SERVICE}.{settings.namespace}.svc.cluster.local/api/annotations"


def alertmanager_alerts_url(settings: Settings) -> str:
    return f"http://{ALERTMANAGER_SERVICE}.{settings.namespace}.svc.cluster.local:{ALERTMANAGER_PORT}/api/v2/alerts/"


def _metadata(name: str, settings: Settings) -> dict[str, Any]:
    return {"name": name, "namespace": settings.flux_namespace, "labels": dict(PART_OF_LABELS)}


def _event_sources(settings: Settings) -> list[dict[str, str]]:
    """Every object of the Flux namespace and of the tenants' namespaces (route.byNamespace): an
    Alert matches event namespaces exactly, with no wildcard (event_handlers.go eventMatchesAlertSource)."""
    route = settings.alerting.route
    namespaces = [
        settings.flux_namespace,
        *sorted(set(route.by_namespace if route else ()) - {settings.flux_namespace}),
    ]
    return [{"kind": kind, "name": "*", "namespace": namespace} for namespace in namespaces for kind in EVENT_KINDS]


def _provider(name: str, settings: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": settings.flux.release.api_version("Provider"),
        "kind": "Provider",
        "metadata": _metadata(name, settings),
        "spec": spec,
    }


def _alert(name: str, settings: Settings, severity: str) -> dict[str, Any]:
    return {
        "apiVersion": settings.flux.release.api_version("Alert"),
        "kind": "Alert",
        "metadata": _metadata(name, settings),
        "spec": {"providerRef": {"name": name}, "eventSeverity": severity, "eventSources": _event_sources(settings)},
    }


def flux_event_manifests(settings: Settings) -> list[dict[str, Any]]:
    """The Providers and Alerts ``fluxEvents`` asks for (no Secret: see FLUX_GRAFANA_SECRET)."""
    events = settings.flux_events
    manifests = []
    if events.grafana_annotations:
        manifests += [
            _provider(
                GRAFANA_PROVIDER,
                settings,
                {
                    "type": "grafana",
                    "address": grafana_annotations_url(settings),
                    "secretRef": {"name": FLUX_GRAFANA_SECRET},
                },
            ),
            _alert(GRAFANA_PROVIDER, settings, "info"),
        ]
    if events.alertmanager:
        manifests += [
            _provider(
                ALERTMANAGER_PROVIDER, settings, {"type": "alertmanager", "address": alertmanager_alerts_url(settings)}
            ),
            _alert(ALERTMANAGER_PROVIDER, settings, "error"),
        ]
    return manifests
