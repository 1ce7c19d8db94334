"""The PodMonitors that have Prometheus scrape the Flux controllers and the Flux Operator."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.flux.release import DURATION_BUCKET_LE
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.podmonitor import (
    OPERATOR_METRICS_PORT,
    OPERATOR_POD_LABELS,
    flux_operator_pod_monitor,
    flux_pod_monitor,
    flux_pod_monitors,
)
from flux_monitoring.signals.rules import flux_prometheus_rule, flux_rule_groups
from tests.support.pod_discovery import Pod, targets_of
from tests.support.signals_tools import upstream_file

SETTINGS = load_settings({"namespace": "observability", "fluxNamespace": "gitops"}, kube_context="test")
OPERATOR_SETTINGS = load_settings(
    {"namespace": "observability", "fluxNamespace": "gitops", "fluxMetrics": "flux-operator"}, kube_context="test"
)
# What `flux install` installs by default (MATRIX §1a).
DEFAULT_CONTROLLERS = {"source-controller", "kustomize-controller", "helm-controller", "notification-controller"}


def strict(schema: Any) -> Any:
    """The schema with unknown fields rejected: the API server would silently prune them."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


def crd_schema(file: str) -> jsonschema.Draft7Validator:
    """A validator for the CRD's v1 schema (not checked against the metaschema: Go regexes)."""
    crd = yaml.safe_load(upstream_file(f"crds/{file}").read_text())
    return jsonschema.Draft7Validator(
        strict(next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"])
    )


@pytest.mark.parametrize(
    "monitor",
    [flux_pod_monitor(SETTINGS), flux_operator_pod_monitor(OPERATOR_SETTINGS)],
    ids=["controllers", "flux-operator"],
)
def test_pod_monitors_are_valid_against_the_prometheus_operator_crd(monitor):
    crd_schema("monitoring.coreos.com_podmonitors.yaml").validate(monitor)


def test_prometheus_rule_is_valid_against_the_prometheus_operator_crd():
    crd_schema("monitoring.coreos.com_prometheusrules.yaml").validate(flux_prometheus_rule(SETTINGS))


def test_pod_monitor_lives_in_the_monitoring_namespace_and_is_selected_by_prometheus():
    metadata = flux_pod_monitor(SETTINGS)["metadata"]
    assert metadata["namespace"] == "observability"
    assert metadata["labels"]["release"] == "kube-prometheus-stack"


def pod(app: str, namespace: str = "gitops", ports=("http-prom", "healthz"), **labels: str) -> Pod:
    return Pod(name=f"{app}-6d9c7f5b8-x2k4q", namespace=namespace, labels={"app": app, **labels}, ports=ports)


# The Flux namespace of a sharded cluster running image automation, as the Flux manifests and the
# sharding guide label its pods (app=<controller>, app=<controller>-<shard>), beside the Flux
# Operator (app.kubernetes.io/name only), another application's pod with an app label, and a
# controller namesake in another namespace.
CLUSTER = [
    *(pod(app) for app in (*sorted(DEFAULT_CONTROLLERS), "image-reflector-controller", "image-automation-controller")),
    *(pod(f"kustomize-controller-shard{n}") for n in (1, 2, 3)),
    pod("helm-controller-eu-west"),
    Pod(
        "flux-operator-7b9f6c5d4-m3n8p", "gitops", {"app.kubernetes.io/name": "flux-operator"}, ("http-metrics", "http")
    ),
    pod("weave-gitops", ports=("http-prom",)),
    pod("kustomize-controller", namespace="team-a"),
]


def scraped(settings) -> set[tuple[str, str | None]]:
    """(app, shard) of each target the controllers' PodMonitor has in CLUSTER."""
    return {(t["app"], t.get("shard")) for t in targets_of(flux_pod_monitor(settings), CLUSTER)}


def test_pod_monitor_scrapes_every_controller_and_shard_of_the_flux_namespace_without_configuration():
    assert flux_pod_monitor(SETTINGS)["spec"]["namespaceSelector"] == {"matchNames": ["gitops"]}
    assert scraped(SETTINGS) == {
        *((app, None) for app in DEFAULT_CONTROLLERS),
        ("image-reflector-controller", None),
        ("image-automation-controller", None),
        *(("kustomize-controller", f"shard{n}") for n in (1, 2, 3)),
        ("helm-controller", "eu-west"),
    }


def test_pod_monitor_scrapes_the_controllers_whatever_flux_components_lists():
    raw = {"namespace": "observability", "fluxNamespace": "gitops", "fluxComponents": json.dumps(["source-controller"])}
    assert scraped(load_settings(raw, kube_context="test")) == scraped(SETTINGS)


def test_each_target_is_one_pod_on_its_metrics_port_labelled_with_its_pod():
    found = targets_of(flux_pod_monitor(SETTINGS), CLUSTER)
    assert {t["endpoint"] for t in found} == {"http-prom"}
    shard = next(t for t in found if t.get("shard") == "shard2")
    assert shard["pod"] == "kustomize-controller-shard2-6d9c7f5b8-x2k4q"
    assert (shard["app"], shard["namespace"], shard["job"]) == (
        "kustomize-controller",
        "gitops",
        "observability/flux-system",
    )


def test_source_watcher_pods_are_scraped_from_the_release_that_ships_it():
    cluster = [pod("source-watcher"), pod("source-watcher-shard1")]
    newest = targets_of(flux_pod_monitor(SETTINGS), cluster)
    assert {(t["app"], t.get("shard")) for t in newest} == {("source-watcher", None), ("source-watcher", "shard1")}
    old = load_settings({"fluxNamespace": "gitops", "fluxVersion": "2.6"}, kube_context="test")
    assert targets_of(flux_pod_monitor(old), cluster) == []


def test_only_the_flux_operator_source_scrapes_the_operator():
    assert [m["metadata"]["name"] for m in flux_pod_monitors(SETTINGS)] == ["flux-system"]
    assert [m["metadata"]["name"] for m in flux_pod_monitors(OPERATOR_SETTINGS)] == ["flux-system", "flux-operator"]


def test_operator_pod_monitor_scrapes_the_metrics_port_not_the_health_port():
    operator = yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())["flux_operator"]["scrape"]
    monitor = flux_operator_pod_monitor(OPERATOR_SETTINGS)
    assert monitor["metadata"]["namespace"] == "observability"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gitops"]}
    assert monitor["spec"]["selector"] == {"matchLabels": operator["pod_label"]} == {"matchLabels": OPERATOR_POD_LABELS}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    # The pod port named "http" is the health port (8081): metrics are on http-metrics (8080).
    assert endpoint["port"] == operator["container_port_name"] == OPERATOR_METRICS_PORT != "http"
    assert {"action": "replace", "targetLabel": "app", "replacement": "flux-operator"} in endpoint["relabelings"]


def test_pod_monitor_scrapes_the_prometheus_port_of_running_pods_only():
    (endpoint,) = flux_pod_monitor(SETTINGS)["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-prom", "/metrics")
    assert {"sourceLabels": ["__meta_kubernetes_pod_phase"], "action": "keep", "regex": "Running"} in endpoint[
        "relabelings"
    ]


# -- metric relabelings -----------------------------------------------------------------------

# (metric source, Flux release): legacy with and without the Deleted status, the other sources on a
# release whose controllers still export the legacy gauges and on the newest.
GENERATIONS = ("resource-info", "legacy", "flux-operator")
TARGETS = [
    ("legacy", "2.0"),
    ("legacy", "2.4"),
    ("resource-info", "2.4"),
    ("resource-info", "2.9"),
    ("flux-operator", "2.4"),
    ("flux-operator", "2.9"),
]
# Flux's reconcile duration buckets (MATRIX Appendix B).
QUANTILE_BUCKETS = (*DURATION_BUCKET_LE, "+Inf")
READY_STATUSES = ("True", "False", "Unknown")


def kept(relabelings: list[dict], labels: dict[str, str]) -> bool:
    """Whether a series with ``labels`` survives drop relabelings, as Prometheus applies them."""
    for rule in relabelings:
        assert rule["action"] == "drop"
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule["sourceLabels"])
        if re.fullmatch(rule["regex"], value):
            return False
    return True


def relabelings(generation: str, version: str = "2.0", **raw: str) -> list[dict]:
    settings = load_settings({"fluxMetrics": generation, "fluxVersion": version, **raw}, kube_context="test")
    (endpoint,) = flux_pod_monitor(settings)["spec"]["podMetricsEndpoints"]
    return endpoint.get("metricRelabelings", [])


def queried_metrics(generation: str, version: str = "2.0") -> set[str]:
    """Every scraped metric name in a dashboard query or variable, an alert or a recording rule."""
    settings = load_settings({"fluxMetrics": generation, "fluxVersion": version}, kube_context="test")
    exprs = [r["expr"] for g in flux_rule_groups(settings) for r in g["rules"]]
    for model in (control_plane_dashboard(settings), cluster_dashboard(settings)):
        exprs += [t["expr"] for p in model["panels"] for t in p["targets"]]
        exprs += [v["query"] for v in model["templating"]["list"] if v["type"] == "query"]
    names = {m for e in exprs for m in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", e)}
    return {n for n in names if ":" not in n}  # recorded series are not scraped


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_queries_reference_the_scraped_metrics_they_read(generation):
    names = queried_metrics(generation)
    assert {"gotk_reconcile_duration_seconds_bucket", "workqueue_depth", "process_cpu_seconds_total"} <= names
    assert ("gotk_reconcile_condition" in names) == (generation == "legacy")


@pytest.mark.parametrize("generation, version", TARGETS)
def test_every_metric_the_signals_query_survives_the_relabelings(generation, version):
    rules = relabelings(generation, version)
    assert rules
    for name in queried_metrics(generation, version):
        les = QUANTILE_BUCKETS if name.endswith("_bucket") else ("",)
        statuses = READY_STATUSES if name == "gotk_reconcile_condition" else ("",)
        for le in les:
            for status in statuses:
                assert kept(rules, {"__name__": name, "le": le, "status": status}), (name, le, status)


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(
    "name",
    [
        "go_memstats_heap_alloc_bytes",
        "go_gc_duration_seconds",
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        "workqueue_queue_duration_seconds_bucket",
        "rest_client_request_duration_seconds_bucket",
    ],
)
def test_relabelings_drop_controller_families_nothing_reads(generation, name):
    assert not kept(relabelings(generation), {"__name__": name, "le": "1"})


@pytest.mark.parametrize("generation, version", TARGETS)
def test_relabelings_keep_every_reconcile_duration_bucket(generation, version):
    # Flux's ten bounds run from 10ms to 1800s: each separates reconciliations that really occur.
    rules = relabelings(generation, version)
    bucket = "gotk_reconcile_duration_seconds_bucket"
    assert all(kept(rules, {"__name__": bucket, "le": le}) for le in QUANTILE_BUCKETS)
    assert kept(rules, {"__name__": "gotk_reconcile_duration_seconds_sum"})


def test_legacy_relabelings_on_flux_2_0_drop_only_the_deleted_condition_series():
    rules = relabelings("legacy", "2.0")
    condition = {"__name__": "gotk_reconcile_condition", "type": "Ready"}
    assert not kept(rules, {**condition, "status": "Deleted"})
    assert all(kept(rules, {**condition, "status": status}) for status in READY_STATUSES)


def test_legacy_relabelings_after_flux_2_0_have_no_deleted_status_to_drop():
    assert not any("Deleted" in rule["regex"] for rule in relabelings("legacy", "2.1"))


@pytest.mark.parametrize("generation", ["resource-info", "flux-operator"])
@pytest.mark.parametrize("name", ["gotk_reconcile_condition", "gotk_suspend_status"])
def test_legacy_state_series_are_dropped_only_where_nothing_reads_them(generation, name):
    assert not kept(relabelings(generation, "2.4"), {"__name__": name})
    assert kept(relabelings("legacy", "2.4"), {"__name__": name})


def test_no_legacy_state_drop_where_the_controllers_no_longer_export_them():
    assert not any("gotk_reconcile_condition" in rule["regex"] for rule in relabelings("resource-info", "2.5"))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_drop_unused_metrics_false_keeps_every_series(generation):
    assert relabelings(generation, dropUnusedMetrics="false") == []
