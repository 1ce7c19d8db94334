"""The Flux dashboards and the ConfigMaps that deliver them to Grafana's sidecar."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flux_monitoring.config.alerting import duration_seconds
from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard, dashboard_config_maps
from flux_monitoring.signals.promql import (
    ALL_NAMESPACES,
    FAILING_OBJECTS,
    OBJECT_DURATIONS_INTERVAL,
    SLOWEST_AVERAGE,
    SLOWEST_P99,
    duration_quantile_record,
    recording_rules,
)
from flux_monitoring.signals.rules import flux_rule_groups

PROJECT = Path(__file__).resolve().parents[2]
GENERATIONS = ("resource-info", "legacy", "flux-operator")
# Legacy gauges exist up to Flux 2.4; the other sources on the newest release.
VERSIONS = {"legacy": "2.4"}
DASHBOARDS = {"flux-control-plane": control_plane_dashboard, "flux-cluster": cluster_dashboard}
# kubectl's client-side apply copies the object into an annotation limited to 256 KiB; staying
# below that keeps every way of applying open, far under the 1 MiB ConfigMap limit.
APPLY_ANNOTATION_LIMIT = 262144


def settings_for(generation: str, namespace: str = "monitoring", **raw: str):
    version = {"fluxVersion": VERSIONS[generation]} if generation in VERSIONS else {}
    return load_settings({"fluxMetrics": generation, "namespace": namespace, **version, **raw}, kube_context="test")


def targets(model: dict) -> list[dict]:
    return [target for panel in model["panels"] for target in panel.get("targets", [])]


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_dashboard_has_the_uid_of_the_flux_guide(uid):
    assert DASHBOARDS[uid](settings_for("resource-info"))["uid"] == uid


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_dashboard_offers_a_prometheus_datasource_and_a_namespace_choice(uid, generation):
    variables = {v["name"]: v for v in DASHBOARDS[uid](settings_for(generation))["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    namespace = next(v for name, v in variables.items() if "namespace" in name)
    assert namespace["type"] == "query"
    assert namespace["includeAll"] is True


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_panel_queries_the_chosen_prometheus(uid, generation):
    model = DASHBOARDS[uid](settings_for(generation))
    for panel in model["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel.get("targets"), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_panel_ids_and_titles_are_unique(uid, generation):
    panels = DASHBOARDS[uid](settings_for(generation))["panels"]
    assert len({p["id"] for p in panels}) == len({p["title"] for p in panels}) == len(panels)


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_panels_filter_by_the_namespace_variable(uid, generation):
    model = DASHBOARDS[uid](settings_for(generation))
    names = [v["name"] for v in model["templating"]["list"] if v["type"] == "query"]
    for target in targets(model):
        assert any(f"${name}" in target["expr"] for name in names), target["expr"]


# Metric source -> the state metrics its objects come from.
STATE_METRICS = {
    "legacy": {"gotk_reconcile_condition", "gotk_suspend_status"},
    "resource-info": {"gotk_resource_info"},
    "flux-operator": {"flux_resource_info"},
}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_cluster_dashboard_reads_object_state_from_the_chosen_source_only(generation):
    model = cluster_dashboard(settings_for(generation))
    read = json.dumps(targets(model)) + json.dumps(model["templating"])
    for source, metrics in STATE_METRICS.items():
        assert all((metric in read) == (source == generation) for metric in metrics), (source, metrics)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_failing_objects_table_shows_the_ready_reason_where_the_source_has_it(generation):
    """The table lists the recorded failing objects, recorded with the source's detail labels
    (test_recording_rules.py checks the values)."""
    expr = panel_exprs(cluster_dashboard(settings_for(generation)))["Failing objects"]
    (rule,) = [r for r in recording_rules(settings_for(generation)) if r["record"] == FAILING_OBJECTS]
    assert expr.startswith(FAILING_OBJECTS)
    assert ("reason" in rule["expr"]) == (generation != "legacy")


def test_controllers_up_has_one_legend_per_controller_and_shard():
    components = ["source-controller", "kustomize-controller", "kustomize-controller-shard1", "source-watcher"]
    model = control_plane_dashboard(settings_for("resource-info", fluxComponents=json.dumps(components)))
    (panel,) = [p for p in model["panels"] if p["title"] == "Controllers up"]
    (target,) = panel["targets"]
    # The cluster at a fleet's store (empty in its own); the shard for a shard's pods (empty otherwise).
    assert target["legendFormat"] == "{{app}} {{shard}} {{cluster}}"
    assert "sum by (cluster, app, shard)" in target["expr"]
    # A listed controller or shard without a target shows 0 instead of vanishing; others only when scraped.
    zeros = re.findall(r'"app", "([a-z-]+)", "", ""\), "shard", "([a-z0-9-]*)"', target["expr"])
    assert set(zeros) == {
        ("source-controller", ""),
        ("kustomize-controller", ""),
        ("kustomize-controller", "shard1"),
        ("source-watcher", ""),
    }


def test_only_the_flux_operator_source_shows_the_flux_instance():
    for generation in GENERATIONS:
        titles = panel_exprs(control_plane_dashboard(settings_for(generation)))
        assert ("Flux instance (Flux Operator)" in titles) == (generation == "flux-operator")
    exprs = panel_exprs(control_plane_dashboard(settings_for("flux-operator")))
    assert "flux_instance_info" in exprs["Flux instance (Flux Operator)"]
    assert "revision" in exprs["Flux instance (Flux Operator)"]


def test_slowest_objects_panels_hold_hourly_reconciliations():
    exprs = panel_exprs(cluster_dashboard(settings_for("resource-info")))
    for title in ("Slowest 10 objects, average reconcile duration", "Slowest 10 objects, p99 reconcile duration"):
        assert "[2h]" in exprs[title] and "$__rate_interval" not in exprs[title], title


def panel_exprs(model: dict) -> dict[str, str]:
    return {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in model["panels"]}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_panel_of_series_recorded_less_often_than_a_refresh_says_when_it_fills(generation):
    # Such a panel is empty until its group first evaluates after the rules are loaded: up to its
    # interval, not a scrape interval. Its no-data text says so, with the interval.
    settings = settings_for(generation)
    slow = {
        r["record"]: g["interval"]
        for g in flux_rule_groups(settings)
        if duration_seconds(g["interval"]) > 300
        for r in g["rules"]
        if "record" in r
    }
    # The slowest-objects records (every 5m) carry the per-object durations' interval.
    slow.update({SLOWEST_AVERAGE: OBJECT_DURATIONS_INTERVAL, SLOWEST_P99: OBJECT_DURATIONS_INTERVAL})
    checked = 0
    for board in (cluster_dashboard(settings), control_plane_dashboard(settings)):
        for p in board["panels"]:
            exprs = " ".join(t["expr"] for t in p.get("targets", []))
            intervals = {interval for record, interval in slow.items() if re.search(re.escape(record) + r"\b", exprs)}
            if intervals:
                checked += 1
                no_value = p["fieldConfig"]["defaults"].get("noValue", "")
                assert all(f"recorded every {i}" in no_value for i in intervals), (p["title"], no_value)
    assert checked >= 4


# The fleet overview's per-cluster panels (tests/test_fleet_dashboards.py).
FLEET_OVERVIEW = (
    "Failing objects per cluster",
    "Unknown objects per cluster",
    "Suspended objects per cluster",
    "Controllers down per cluster",
    "Seconds since the last heartbeat",
)
AGGREGATE_PANELS = (
    "Reconcilers ready",
    "Reconcilers failing",
    "Reconcilers unknown",
    "Sources ready",
    "Sources failing",
    "Sources unknown",
    "Suspended",
    "Average reconcile duration per kind",
    "p99 reconcile duration per kind",
)
# What the signals cannot see (FluxKindUnreported, FluxStateSourceDown, FluxVersionMismatch), on the first screen.
BLIND_SPOT_PANELS = ("Kinds reconciled, not reported", "State source down", "Running Flux, not 2.9")
DRILL_DOWN_PANELS = (
    "Failing objects",
    "Suspended objects",
    "Slowest 10 objects, average reconcile duration",
    "Slowest 10 objects, p99 reconcile duration",
)
# A selector of a raw Flux series: an object-state metric or the controllers' duration histogram.
RAW_SELECTOR = re.compile(r"(?<![\w:])(gotk_\w+|flux_resource_info)\{([^}]*)\}")


def test_the_cluster_dashboard_is_the_fleet_overview_aggregates_and_drill_downs():
    titles = set(panel_exprs(cluster_dashboard(settings_for("resource-info"))))
    assert titles == set(FLEET_OVERVIEW) | set(BLIND_SPOT_PANELS) | set(AGGREGATE_PANELS) | set(DRILL_DOWN_PANELS)


@pytest.mark.parametrize("build", [control_plane_dashboard, cluster_dashboard])
def test_both_dashboards_show_the_blind_spots_on_their_first_screen(build):
    panels = build(settings_for("resource-info"))["panels"]
    first = [p["title"] for p in panels if p["gridPos"]["y"] < 12]
    assert set(BLIND_SPOT_PANELS) <= set(first)
    legacy = [p["title"] for p in build(settings_for("legacy"))["panels"]]
    assert "State source down" not in legacy  # the controllers are the source: FluxControllerDown


@pytest.mark.parametrize("generation", GENERATIONS)
def test_cluster_panels_read_recorded_series_and_raw_ones_only_for_selected_namespaces(generation):
    """At All every panel reads recorded series: each raw selector also requires the namespace
    variable not to be at All (test_recording_rules.py checks both cases on promtool)."""
    exprs = panel_exprs(cluster_dashboard(settings_for(generation)))
    for title, expr in ((title, exprs[title]) for title in AGGREGATE_PANELS + DRILL_DOWN_PANELS):
        assert "flux:" in expr, title
        for metric, matchers in RAW_SELECTOR.findall(expr):
            assert f'{ALL_NAMESPACES}!~"$exported_namespace"' in matchers, (title, metric)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_tables_read_only_the_recorded_objects(generation):
    exprs = panel_exprs(cluster_dashboard(settings_for(generation)))
    for title in ("Failing objects", "Suspended objects"):
        assert not RAW_SELECTOR.search(exprs[title]), title


@pytest.mark.parametrize("generation", GENERATIONS)
def test_control_plane_duration_per_kind_reads_the_recorded_quantiles(generation):
    expr = panel_exprs(control_plane_dashboard(settings_for(generation)))["Reconcile duration per kind"]
    assert "gotk_reconcile_duration_seconds_bucket" not in expr
    assert all(duration_quantile_record(q) in expr for q in (0.5, 0.9, 0.99))


# Control-plane panel -> the per-controller series it reads, recorded instead of the raw metric.
CONTROL_PLANE_RECORDED = {
    "Work queue depth": ("flux:workqueue_depth:max", "workqueue_depth"),
    "Reconciliations per minute": (
        "flux:controller_runtime_reconcile_total:rate5m",
        "controller_runtime_reconcile_total",
    ),
    "Reconciliation errors per minute": (
        "flux:controller_runtime_reconcile_errors_total:rate5m",
        "controller_runtime_reconcile_errors_total",
    ),
}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_control_plane_work_queue_and_reconcile_panels_read_the_recorded_series(generation):
    exprs = panel_exprs(control_plane_dashboard(settings_for(generation)))
    for title, (record, raw) in CONTROL_PLANE_RECORDED.items():
        assert record in exprs[title], title
        assert raw not in exprs[title].replace(record, ""), title
        assert 'namespace=~"$namespace"' in exprs[title], title


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_recorded_series_is_read_by_a_dashboard_or_a_rule(generation):
    settings = settings_for(generation)
    panels = [t["expr"] for build in DASHBOARDS.values() for t in targets(build(settings))]
    rules = [r["expr"] for g in flux_rule_groups(settings) for r in g["rules"]]
    read = " ".join(panels + rules)
    unread = {r["record"] for r in recording_rules(settings)} - set(re.findall(r"flux:[a-z0-9_:]+", read))
    assert not unread


@pytest.mark.parametrize("generation", GENERATIONS)
def test_config_maps_are_labelled_for_the_grafana_sidecar_in_the_monitoring_namespace(generation):
    config_maps = dashboard_config_maps(settings_for(generation, namespace="observability"))
    assert [cm["metadata"]["name"] for cm in config_maps] == ["flux-control-plane", "flux-cluster"]
    for cm in config_maps:
        assert cm["metadata"]["namespace"] == "observability"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"


@pytest.mark.parametrize("generation", GENERATIONS)
def test_config_map_holds_its_dashboard_as_json(generation):
    settings = settings_for(generation)
    for cm in dashboard_config_maps(settings):
        uid = cm["metadata"]["name"]
        assert list(cm["data"]) == [f"{uid}.json"]
        assert json.loads(cm["data"][f"{uid}.json"]) == DASHBOARDS[uid](settings)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_config_maps_stay_far_below_the_configmap_size_limit(generation):
    for cm in dashboard_config_maps(settings_for(generation)):
        assert len(json.dumps(cm).encode()) < APPLY_ANNOTATION_LIMIT


RENDER_ALL_SIGNALS = """
import json, sys
from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.dashboards import dashboard_config_maps
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.rules import flux_prometheus_rule
settings = load_settings(json.loads(sys.argv[1]), kube_context="test")
print(json.dumps([dashboard_config_maps(settings), flux_prometheus_rule(settings),
                  flux_pod_monitors(settings), kube_state_metrics_values(settings)]))
"""


@pytest.mark.parametrize("generation", GENERATIONS)
def test_signals_are_byte_identical_across_processes(generation):
    """Separate interpreters with different hash seeds: set or dict ordering cannot leak into the output."""
    outputs = {
        subprocess.run(
            [
                sys.executable,
                "-c",
                RENDER_ALL_SIGNALS,
                json.dumps(
                    {
                        "fluxMetrics": generation,
                        **({"fluxVersion": VERSIONS[generation]} if generation in VERSIONS else {}),
                    }
                ),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=PROJECT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
