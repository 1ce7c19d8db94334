"""Flux's own events: Providers and Alerts in the Flux namespace, and the annotations on the dashboard."""

from __future__ import annotations

import json

import pytest

from flux_monitoring.config.settings import load_settings
from flux_monitoring.manifests.flux_events import EVENT_KINDS, flux_event_manifests
from flux_monitoring.signals.dashboards import cluster_dashboard
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.alerting_examples import CREDENTIALS
from tests.support.signals_tools import upstream_file

SECRET = "kubernetes:core/v1:Secret"


def settings(events: dict, alerting: dict | None = None):
    raw = {"fluxEvents": json.dumps(events)}
    if alerting is not None:
        raw["alerting"] = json.dumps(alerting)
    return load_settings(raw, {"alerting"}, kube_context="test")


def by_kind(manifests: list[dict]) -> dict[tuple[str, str], dict]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def test_no_flux_events_by_default():
    assert flux_event_manifests(load_settings({}, kube_context="test")) == []
    assert cluster_dashboard(load_settings({}, kube_context="test")).get("annotations") in ({}, None)


def test_grafana_annotations_post_every_event_to_grafanas_annotations_api():
    manifests = by_kind(flux_event_manifests(settings({"grafanaAnnotations": True})))
    provider = manifests[("Provider", "flux-monitoring-grafana")]
    assert provider["apiVersion"] == "notification.toolkit.fluxcd.io/v1beta3"
    assert provider["metadata"]["namespace"] == "flux-system"
    assert provider["spec"] == {
        "type": "grafana",
        "secretRef": {"name": "flux-monitoring-grafana"},
        "address": "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local/api/annotations",
    }
    alert = manifests[("Alert", "flux-monitoring-grafana")]["spec"]
    assert alert["eventSeverity"] == "info" and alert["providerRef"] == {"name": "flux-monitoring-grafana"}


def test_alertmanager_events_are_errors_posted_to_the_alerts_api():
    manifests = by_kind(flux_event_manifests(settings({"alertmanager": True})))
    provider = manifests[("Provider", "flux-monitoring-alertmanager")]
    assert provider["spec"] == {
        "type": "alertmanager",
        "address": "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093/api/v2/alerts/",
    }
    assert manifests[("Alert", "flux-monitoring-alertmanager")]["spec"]["eventSeverity"] == "error"


def test_events_come_from_the_flux_namespace_and_every_tenant_namespace():
    alerting = {
        "receivers": {"t": {"type": "webhook", "url": "https://hooks.example.com/t"}},
        "route": {"default": "t", "byNamespace": {"team-a": "t", "team-b": "t"}},
    }
    [_, alert] = flux_event_manifests(settings({"alertmanager": True}, alerting))
    sources = alert["spec"]["eventSources"]
    assert {(s["namespace"], s["kind"]) for s in sources} == {
        (namespace, kind) for namespace in ("flux-system", "team-a", "team-b") for kind in EVENT_KINDS
    }
    assert {s["name"] for s in sources} == {"*"}


def test_event_kinds_are_the_alert_crds_own():
    crd = upstream_file("crds/notification.toolkit.fluxcd.io_alerts.yaml")
    import yaml

    versions = {v["name"]: v for v in yaml.safe_load(crd.read_text())["spec"]["versions"]}
    kinds = versions["v1beta3"]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["eventSources"][
        "items"
    ]["properties"]["kind"]["enum"]
    assert set(EVENT_KINDS) <= set(kinds) and versions["v1beta3"]["served"]


def test_the_cluster_dashboard_shows_the_flux_tagged_annotations():
    [annotation] = cluster_dashboard(settings({"grafanaAnnotations": True}))["annotations"]["list"]
    assert annotation["datasource"] == {"type": "grafana", "uid": "-- Grafana --"}
    assert annotation["target"] == {"type": "tags", "tags": ["flux"], "matchAny": True, "limit": 100}
    assert annotation["enable"] is True


def test_the_grafana_provider_reads_its_credentials_from_secret_data_written_before_it():
    # What the Secret holds (Flux's own user, never the admin): tests/unit/test_grafana_flux_user.py.
    run = run_stack("prod", password=PROD_PASSWORD)
    secret = run.one(SECRET, "flux-grafana-credentials")
    assert secret.inputs["metadata"]["namespace"] == "flux-system"
    assert "stringData" in secret.secret_inputs
    provider = run.one("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider", "flux-monitoring-grafana")
    assert secret.urn in provider.dependencies


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_alertmanager_configuration_is_a_secret_in_the_monitoring_namespace(stack):
    run = run_stack(stack, password=PROD_PASSWORD)
    secret = run.one(SECRET, "alertmanager-config")
    assert secret.inputs["metadata"]["name"] == "alertmanager-flux-monitoring"
    assert secret.inputs["metadata"]["namespace"] == "monitoring"
    assert list(secret.inputs["stringData"]) == ["alertmanager.yaml"]
    assert CREDENTIALS["slack"] in secret.inputs["stringData"]["alertmanager.yaml"]
