"""The PodMonitor that has Prometheus scrape the Flux controllers."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml

from components.settings import FLUX_DURATION_BUCKETS, load_settings
from components.signals.dashboards import cluster_dashboard, control_plane_dashboard
from components.signals.podmonitor import flux_pod_monitor
from components.signals.rules import flux_prometheus_rule, flux_rule_groups
from tests.signals_tools import upstream_file

SETTINGS = load_settings({"namespace": "observability", "fluxNamespace": "gitops"}, kube_context="test")
CONTROLLERS = {"source-controller", "kustomize-controller", "helm-controller", "notification-controller",
               "image-reflector-controller", "image-automation-controller"}


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
        strict(next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]))


def test_pod_monitor_is_valid_against_the_prometheus_operator_crd():
    crd_schema("monitoring.coreos.com_podmonitors.yaml").validate(flux_pod_monitor(SETTINGS))


def test_prometheus_rule_is_valid_against_the_prometheus_operator_crd():
    crd_schema("monitoring.coreos.com_prometheusrules.yaml").validate(flux_prometheus_rule(SETTINGS))


def test_pod_monitor_lives_in_the_monitoring_namespace_and_is_selected_by_prometheus():
    metadata = flux_pod_monitor(SETTINGS)["metadata"]
    assert metadata["namespace"] == "observability"
    assert metadata["labels"]["release"] == "kube-prometheus-stack"


def test_pod_monitor_selects_the_flux_controller_pods_in_the_flux_namespace():
    spec = flux_pod_monitor(SETTINGS)["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["gitops"]}
    (expression,) = spec["selector"]["matchExpressions"]
    assert (expression["key"], expression["operator"], set(expression["values"])) == ("app", "In", CONTROLLERS)


def test_pod_monitor_scrapes_the_prometheus_port_of_running_pods_only():
    (endpoint,) = flux_pod_monitor(SETTINGS)["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-prom", "/metrics")
    assert {"sourceLabels": ["__meta_kubernetes_pod_phase"], "action": "keep", "regex": "Running"} \
        in endpoint["relabelings"]


# -- metric relabelings -----------------------------------------------------------------------

GENERATIONS = ("resource-info", "legacy")
# The reconcile duration buckets quantiles interpolate over: Flux's from 100ms up.
QUANTILE_BUCKETS = ("0.1", "1", "10", "+Inf")
READY_STATUSES = ("True", "False", "Unknown")


def kept(relabelings: list[dict], labels: dict[str, str]) -> bool:
    """Whether a series with ``labels`` survives drop relabelings, as Prometheus applies them."""
    for rule in relabelings:
        assert rule["action"] == "drop"
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule["sourceLabels"])
        if re.fullmatch(rule["regex"], value):
            return False
    return True


def relabelings(generation: str, **raw: str) -> list[dict]:
    settings = load_settings({"fluxMetrics": generation, **raw}, kube_context="test")
    (endpoint,) = flux_pod_monitor(settings)["spec"]["podMetricsEndpoints"]
    return endpoint.get("metricRelabelings", [])


def queried_metrics(generation: str) -> set[str]:
    """Every scraped metric name in a dashboard query or variable, an alert or a recording rule."""
    settings = load_settings({"fluxMetrics": generation}, kube_context="test")
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


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_metric_the_signals_query_survives_the_relabelings(generation):
    rules = relabelings(generation)
    assert rules
    for name in queried_metrics(generation):
        les = QUANTILE_BUCKETS if name.endswith("_bucket") else ("",)
        statuses = READY_STATUSES if name == "gotk_reconcile_condition" else ("",)
        for le in les:
            for status in statuses:
                assert kept(rules, {"__name__": name, "le": le, "status": status}), (name, le, status)


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("name", ["go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
                                  "controller_runtime_reconcile_time_seconds_bucket",
                                  "workqueue_work_duration_seconds_bucket", "workqueue_queue_duration_seconds_bucket",
                                  "rest_client_request_duration_seconds_bucket"])
def test_relabelings_drop_controller_families_nothing_reads(generation, name):
    assert not kept(relabelings(generation), {"__name__": name, "le": "1"})


@pytest.mark.parametrize("generation", GENERATIONS)
def test_relabelings_drop_the_reconcile_duration_buckets_below_100ms_only(generation):
    rules = relabelings(generation)
    bucket = "gotk_reconcile_duration_seconds_bucket"
    dropped = {f"{le:g}" for le in FLUX_DURATION_BUCKETS if not kept(rules, {"__name__": bucket, "le": f"{le:g}"})}
    assert dropped == {"1e-08", "1e-07", "1e-06", "1e-05", "0.0001", "0.001", "0.01"}
    assert kept(rules, {"__name__": bucket, "le": "+Inf"})
    assert kept(rules, {"__name__": "gotk_reconcile_duration_seconds_sum"})


def test_legacy_relabelings_drop_only_the_deleted_condition_series():
    rules = relabelings("legacy")
    condition = {"__name__": "gotk_reconcile_condition", "type": "Ready"}
    assert not kept(rules, {**condition, "status": "Deleted"})
    assert all(kept(rules, {**condition, "status": status}) for status in READY_STATUSES)


@pytest.mark.parametrize("name", ["gotk_reconcile_condition", "gotk_suspend_status"])
def test_legacy_state_series_are_dropped_only_where_nothing_reads_them(name):
    assert not kept(relabelings("resource-info"), {"__name__": name})
    assert kept(relabelings("legacy"), {"__name__": name})


@pytest.mark.parametrize("generation", GENERATIONS)
def test_drop_unused_metrics_false_keeps_every_series(generation):
    assert relabelings(generation, dropUnusedMetrics="false") == []
