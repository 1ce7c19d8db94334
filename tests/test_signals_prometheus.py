"""The dashboards against a real Prometheus scraping a synthetic Flux fleet on 127.0.0.1.

Every panel query, with its template variables substituted as Grafana would for "All", must
return data, and the cluster dashboard's numbers must equal what the fleet holds.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from components.settings import load_settings
from components.signals.dashboards import cluster_dashboard, control_plane_dashboard
from components.signals.podmonitor import flux_pod_monitor
from components.signals.promql import OBJECT_COUNT, STATE_READY, SUSPENDED
from components.signals.rules import flux_rule_groups
from tests.flux_fleet import (
    Prometheus, build_fleet, metric_relabel_configs, rule_groups_evaluated_every, scrape_configs, serve_fleet,
    start_prometheus,
)
from tests.signals_tools import require_tool

GENERATIONS = ("resource-info", "legacy")
# 17 kinds (Alerts and Providers too) in 4 namespaces; deleted objects linger in the legacy series.
FLEET = build_fleet(size=68, namespaces=4, failing=0.1, suspended=0.05, unknown=0.02, deleted=0.05)
RECONCILERS = {"Kustomization", "HelmRelease"}
SOURCES = {"GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket"}
SCRAPE_INTERVAL = "1s"
# What Grafana would make of $__rate_interval at a 1s scrape interval (at least 4 scrapes).
RATE_INTERVAL = "10s"
STARTUP_DEADLINE = 45.0


def settings_for(generation: str):
    # The fleet's legacy series keep deleted objects with Deleted=1, as Flux 2.0 does.
    version = {"fluxVersion": "2.0"} if generation == "legacy" else {}
    return load_settings({"fluxMetrics": generation, **version}, kube_context="test")


def substitute(expr: str, model: dict) -> str:
    """The query Grafana sends with every template variable at All."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
    return expr


def panel_queries() -> list:
    params = []
    for generation in GENERATIONS:
        for build in (control_plane_dashboard, cluster_dashboard):
            model = build(settings_for(generation))
            for panel in model["panels"]:
                for target in panel["targets"]:
                    params.append(pytest.param(generation, substitute(target["expr"], model),
                                               id=f"{generation}/{model['uid']}/{panel['title']}/{target['refId']}"))
    return params


@contextmanager
def fleet_prometheus(binary: str, generation: str, workdir: Path) -> Iterator[Prometheus]:
    """A Prometheus scraping the fleet served in ``generation`` through the PodMonitor's metric
    relabelings, evaluating the PrometheusRule's groups every scrape; both stopped when the block ends.

    The fleet's controllers also export the legacy state series (as Flux 2.1 to 2.4 do), so the
    relabelings of the resource-info generation have them to drop.
    """
    settings = settings_for(generation)
    with serve_fleet(FLEET, generation, legacy_state=True) as fleet_port:
        configs = scrape_configs(fleet_port, generation, metric_relabel_configs(flux_pod_monitor(settings)))
        groups = rule_groups_evaluated_every(flux_rule_groups(settings), SCRAPE_INTERVAL)
        with start_prometheus(binary, workdir, configs, SCRAPE_INTERVAL, groups) as prometheus:
            deadline = time.monotonic() + STARTUP_DEADLINE
            # 5 scrapes: rate windows then hold data; then the recorded series cover them.
            prometheus.wait_until_scraped(sum(len(c["static_configs"]) for c in configs), 5, deadline)
            prometheus.wait_for_rule_evaluation(deadline)
            yield prometheus


@pytest.fixture(scope="module")
def prometheus_for(tmp_path_factory) -> Iterator[Callable[[str], Prometheus]]:
    """Starts, on first use, one Prometheus per metric generation; stops them all after the module."""
    binary = require_tool("prometheus")
    started: dict[str, Prometheus] = {}
    with ExitStack() as stack:
        def get(generation: str) -> Prometheus:
            if generation not in started:
                workdir = tmp_path_factory.mktemp(f"prometheus-{generation}")
                started[generation] = stack.enter_context(fleet_prometheus(binary, generation, workdir))
            return started[generation]

        yield get


def numbers(result: list[dict]) -> list[float]:
    return [float(series["value"][1]) for series in result]


@pytest.mark.parametrize("generation, expr", panel_queries())
def test_every_dashboard_panel_query_returns_data(prometheus_for, generation, expr):
    values = numbers(prometheus_for(generation).query(expr))
    assert values, f"no data for {expr}"
    assert not all(math.isnan(v) for v in values), f"only NaN for {expr}"


def objects(kinds: set[str] | None = None, ready: str | None = None) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of the fleet's objects of ``kinds`` in ``ready`` state (suspended apart)."""
    chosen = [o for o in FLEET if (kinds is None or o.kind in kinds) and not o.deleted
              and (o.suspended if ready is None else (not o.suspended and o.ready == ready))]
    return {(o.kind, o.namespace, o.name) for o in chosen}


# Stat panel title -> the fleet's objects it counts.
COUNTED = {
    "Reconcilers ready": objects(RECONCILERS, "True"),
    "Reconcilers failing": objects(RECONCILERS, "False"),
    "Reconcilers unknown": objects(RECONCILERS, "Unknown"),
    "Sources ready": objects(SOURCES, "True"),
    "Sources failing": objects(SOURCES, "False"),
    "Sources unknown": objects(SOURCES, "Unknown"),
    "Suspended": objects(),
}
TABLED = {"Failing objects": objects(ready="False"), "Suspended objects": objects()}


def cluster_panel(generation: str, title: str) -> str:
    model = cluster_dashboard(settings_for(generation))
    (panel,) = [p for p in model["panels"] if p["title"] == title]
    return substitute(panel["targets"][0]["expr"], model)


def test_the_fleet_has_objects_in_every_counted_state():
    assert all(COUNTED[title] for title in ("Reconcilers failing", "Sources failing", "Suspended"))
    assert {o.namespace for o in FLEET if o.name == "app-0"} == {o.namespace for o in FLEET}
    assert {o.kind for o in FLEET} >= {"Alert", "Provider"}
    assert any(o.deleted for o in FLEET)


def fleet_counts() -> dict[tuple[str, str], int]:
    """(kind, state) -> how many of the fleet's objects are in that state: deleted objects and
    kinds without a Ready condition (Alert, Provider) are in none."""
    states = {ready: state for state, ready in STATE_READY.items()}
    return Counter((o.kind, SUSPENDED if o.suspended else states[o.ready]) for o in FLEET
                   if not o.deleted and (o.suspended or o.ready in states))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_counts_per_kind_and_state_equal_the_fleet(prometheus_for, generation):
    rows = prometheus_for(generation).query(f"sum by (kind, state) ({OBJECT_COUNT})")
    assert {(r["metric"]["kind"], r["metric"]["state"]): float(r["value"][1]) for r in rows} == fleet_counts()


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("title", sorted(COUNTED))
def test_cluster_dashboard_counts_what_the_fleet_holds(prometheus_for, title, generation):
    assert numbers(prometheus_for(generation).query(cluster_panel(generation, title))) == [len(COUNTED[title])]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("title", sorted(TABLED))
def test_cluster_dashboard_tables_list_exactly_the_fleets_objects(prometheus_for, title, generation):
    rows = prometheus_for(generation).query(cluster_panel(generation, title))
    listed = {(r["metric"]["kind"], r["metric"]["exported_namespace"], r["metric"]["name"]) for r in rows}
    assert listed == TABLED[title]


def test_failing_objects_table_shows_revisions_from_kube_state_metrics(prometheus_for):
    revisions = {(o.kind, o.namespace, o.name): o.revision for o in FLEET}
    rows = prometheus_for("resource-info").query(cluster_panel("resource-info", "Failing objects"))
    assert rows
    for row in rows:
        m = row["metric"]
        assert m["revision"] == revisions[(m["kind"], m["exported_namespace"], m["name"])]
