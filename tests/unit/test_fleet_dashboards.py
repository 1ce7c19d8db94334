"""The dashboards as a fleet's: a cluster variable every query filters on, cluster identity kept
where objects and controllers are named, and a fleet overview at the top of the cluster dashboard."""

from __future__ import annotations

import re

import pytest

from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.promql import HEARTBEAT

GENERATIONS = ("resource-info", "flux-operator", "legacy")
DASHBOARDS = (control_plane_dashboard, cluster_dashboard)
OVERVIEW = [
    "Failing objects per cluster",
    "Unknown objects per cluster",
    "Suspended objects per cluster",
    "Controllers down per cluster",
    "Seconds since the last heartbeat",
]


def model(build, generation: str) -> dict:
    # legacy: Flux 2.4, the last release whose controllers export the legacy gauges.
    version = {"fluxVersion": "2.4"} if generation == "legacy" else {}
    return build(load_settings({"fluxMetrics": generation, **version}, kube_context="test"))


def exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", DASHBOARDS)
def test_the_cluster_variable_lists_the_fleets_clusters_many_at_once_all_by_default(build, generation):
    variables = model(build, generation)["templating"]["list"]
    names = [v["name"] for v in variables]
    cluster = variables[names.index("cluster")]
    assert names.index("cluster") == 1  # after the data source, before the namespace it narrows
    assert cluster["query"] == f"label_values({HEARTBEAT}, cluster)"
    assert (cluster["multi"], cluster["includeAll"], cluster["allValue"]) == (True, True, ".*")
    assert cluster["current"]["value"] == "$__all"
    namespace = variables[2]
    assert 'cluster=~"$cluster"' in namespace["query"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", DASHBOARDS)
def test_every_query_filters_on_the_cluster_variable(build, generation):
    for expr in exprs(model(build, generation)):
        selectors = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}", expr)
        assert selectors, expr
        assert all('cluster=~"$cluster"' in s for s in selectors), expr


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", DASHBOARDS)
def test_queries_naming_objects_or_controllers_keep_them_apart_per_cluster(build, generation):
    for expr in exprs(model(build, generation)):
        for labels in re.findall(r"(?:by|(?:unless|and) on) \(([^)]*)\)", expr):
            names = [label.strip() for label in labels.split(",")]
            if {"name", "app", "controller"} & set(names):
                assert "cluster" in names, (labels, expr)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_cluster_dashboard_opens_with_the_fleet_overview(generation):
    panels = model(cluster_dashboard, generation)["panels"]
    assert [p["title"] for p in panels[: len(OVERVIEW)]] == OVERVIEW
    for panel in panels[: len(OVERVIEW)]:
        (target,) = panel["targets"]
        assert target["legendFormat"] == "{{cluster}}" and "by (cluster)" in target["expr"], panel["title"]
    silence = panels[len(OVERVIEW) - 1]
    steps = silence["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [step["color"] for step in steps] == ["green", "red"] and steps[1]["value"] == 120
