"""Four Flux fleets, modelled on the shared release matrix, each scraped by a real Prometheus on
127.0.0.1 through the program's PodMonitors and relabelings and evaluating its rule groups.

- Flux 2.0, ``legacy``: the controllers' gauges, deleted objects kept with status="Deleted";
- Flux 2.4, ``legacy``: helm-controller and image-automation no longer export the gauges (their
  objects are invisible to this source), a listed controller (image-automation) has no pod;
- Flux 2.9, ``resource-info``: kube-state-metrics' label forms (``suspended`` absent unless set),
  ExternalArtifact and ArtifactGenerator, no helm-controller installed;
- Flux 2.9, ``flux-operator``: the operator's ``suspended="True"/"False"`` and ``reason``, its
  metrics port (not the health port), a failing FluxInstance, helm-controller's scrape failing.

Every dashboard panel query (template variables at All) returns data; the cluster dashboard's
numbers and tables equal what the fleet holds where the source can know it; every alert fires for
exactly the failing, suspended, slow, backed-up or down things and nothing else (alerts' ``for``
set to 0s, thresholds low enough for the fleet to cross).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache

import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.promql import OBJECT_COUNT
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.flux_fleet import (
    Fleet,
    FluxObject,
    MatrixRelease,
    Prometheus,
    build_fleet,
    rule_groups_evaluated_every,
    scrape_configs,
    serve_fleet,
    start_prometheus,
    targets,
)
from tests.support.signals_tools import require_tool, upstream_file

SCRAPE_INTERVAL = "1s"
# What Grafana would make of $__rate_interval at a 1s scrape interval (at least 4 scrapes).
RATE_INTERVAL = "10s"
STARTUP_DEADLINE = 120.0
DEFAULT = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")
IMAGE = ("image-reflector-controller", "image-automation-controller")
# A bucket bound of Flux's histogram above 10s (MATRIX Appendix B), configured as people read it
# (122.3): an object's p99 lies above it exactly when 10% of its reconciliations (five times its
# typical duration) exceed it.
P99_THRESHOLD = "122.30217221643493"
WORKQUEUE_DEPTH = 1


@dataclass(frozen=True)
class FleetCase:
    minor: str
    source: str
    controllers: tuple
    down: frozenset = frozenset()
    missing: frozenset = frozenset()
    instance_ready: str = "True"


CASES = {
    "2.0-legacy": FleetCase("2.0", "legacy", DEFAULT + IMAGE),
    "2.4-legacy": FleetCase("2.4", "legacy", DEFAULT + IMAGE, missing=frozenset({"image-automation-controller"})),
    "2.9-resource-info": FleetCase(
        "2.9",
        "resource-info",
        ("source-controller", "kustomize-controller", "notification-controller", "source-watcher"),
    ),
    "2.9-flux-operator": FleetCase(
        "2.9",
        "flux-operator",
        (*DEFAULT, "source-watcher"),
        down=frozenset({"helm-controller"}),
        instance_ready="False",
    ),
}
ALERTS = json.dumps(
    {name: {"for": "0s"} for name in ("reconciliationFailure", "suspended", "controllerDown", "sourceFailure")}
    | {
        "reconcileDuration": {"for": "0s", "p99Seconds": 122.3},
        "workqueue": {"for": "0s", "depth": WORKQUEUE_DEPTH},
    }
)


def settings_for(name: str):
    case = CASES[name]
    return load_settings(
        {
            "fluxVersion": case.minor,
            "fluxMetrics": case.source,
            "fluxComponents": json.dumps(list(case.controllers)),
            "alerts": ALERTS,
        },
        kube_context="test",
    )


def fleet_for(name: str) -> Fleet:
    case = CASES[name]
    release = MatrixRelease.of(matrix(), case.minor)
    objects = build_fleet(
        size=4 * 19,
        namespaces=4,
        release=release,
        controllers=case.controllers,
        failing=0.1,
        suspended=0.05,
        unknown=0.03,
        deleted=0.05,
        seed=len(name),
    )
    return Fleet(
        release=release,
        objects=objects,
        controllers=case.controllers,
        down=case.down,
        missing=case.missing,
        instance_ready=case.instance_ready,
    )


@cache
def matrix() -> dict:
    return yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())


def substitute(expr: str, model: dict) -> str:
    """The query Grafana sends with every template variable at All."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
    return expr


def panel_queries() -> list:
    params = []
    for name in CASES:
        for build in (control_plane_dashboard, cluster_dashboard):
            model = build(settings_for(name))
            for panel in model["panels"]:
                for target in panel["targets"]:
                    params.append(
                        pytest.param(
                            name,
                            substitute(target["expr"], model),
                            id=f"{name}/{model['uid']}/{panel['title']}/{target['refId']}",
                        )
                    )
    return params


@dataclass
class Running:
    fleet: Fleet
    prometheus: Prometheus


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Callable[[str], Running]]:
    """On first use, serves the four fleets and starts one Prometheus for each, all at once; stops
    them all after the module."""
    binary = require_tool("prometheus")
    started: dict[str, Running] = {}
    with ExitStack() as stack:

        def start_all() -> None:
            pending = []
            for name in CASES:
                fleet = fleet_for(name)
                settings = settings_for(name)
                port = stack.enter_context(serve_fleet(fleet))
                configs = scrape_configs(
                    port,
                    fleet,
                    flux_pod_monitors(settings),
                    kube_state_metrics=settings.flux.metrics == "resource-info",
                )
                groups = rule_groups_evaluated_every(flux_rule_groups(settings), SCRAPE_INTERVAL)
                workdir = tmp_path_factory.mktemp(f"prometheus-{name}")
                prometheus = stack.enter_context(start_prometheus(binary, workdir, configs, SCRAPE_INTERVAL, groups))
                healthy = targets(configs) - len(fleet.down)
                pending.append((name, fleet, prometheus, targets(configs), healthy))
            deadline = time.monotonic() + STARTUP_DEADLINE
            for _name, _fleet, prometheus, count, healthy in pending:
                # 5 scrapes: rate windows then hold data; then the recorded series cover them.
                prometheus.wait_until_scraped(count, 5, deadline, healthy=healthy)
            for name, fleet, prometheus, _, _ in pending:
                prometheus.wait_for_rule_evaluation(deadline)
                started[name] = Running(fleet, prometheus)

        failed: list[str] = []

        def get(name: str) -> Running:
            if failed:  # started once and failed: the other tests fail at once instead of retrying
                pytest.fail(f"the fleets' Prometheus servers did not start: {failed[0]}")
            if not started:
                try:
                    start_all()
                except AssertionError as error:
                    failed.append(str(error))
                    raise
            return started[name]

        yield get


def numbers(result: list[dict]) -> list[float]:
    return [float(series["value"][1]) for series in result]


@pytest.mark.parametrize("name, expr", panel_queries())
def test_every_dashboard_panel_query_returns_data(running, name, expr):
    values = numbers(running(name).prometheus.query(expr))
    assert values, f"no data for {expr}"
    assert not all(math.isnan(v) for v in values), f"only NaN for {expr}"


# -- what the source can know, from the fleet and the matrix -------------------------------------


def state_visible(fleet: Fleet, source: str, o: FluxObject) -> bool:
    """Whether the source reports the object's state at all."""
    if o.deleted:
        return False
    if source == "legacy":
        # The controller must export the gauges for the kind, and be scraped.
        return o.kind in fleet.release.legacy_kinds and fleet.pod_of(o) in fleet.up
    return True


def state_of(fleet: Fleet, source: str, o: FluxObject) -> str | None:
    """ready, failing, unknown, suspended, or None (no state: no Ready condition, or not visible)."""
    if not state_visible(fleet, source, o):
        return None
    if o.suspended:
        return "suspended"
    return {"True": "ready", "False": "failing", "Unknown": "unknown"}.get(o.ready)


def objects_in(
    run: Running, name: str, state: str, kinds: Callable[[str], bool] = lambda kind: True
) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of the fleet's objects the source knows in ``state``."""
    return {
        (o.kind, o.namespace, o.name)
        for o in run.fleet.objects
        if kinds(o.kind) and state_of(run.fleet, CASES[name].source, o) == state
    }


FLEET_NAMES = list(CASES)


def test_the_fleets_hold_what_the_matrix_says_their_release_has():
    fleets = {name: fleet_for(name) for name in CASES}
    old, helm_less, modern = fleets["2.0-legacy"], fleets["2.4-legacy"], fleets["2.9-resource-info"]
    assert any(o.deleted for o in old.objects) and old.release.deleted_status
    assert "HelmRelease" not in helm_less.release.legacy_kinds
    assert any(o.kind == "HelmRelease" and o.ready == "False" for o in helm_less.objects)
    assert {"ExternalArtifact", "ArtifactGenerator"} <= {o.kind for o in modern.objects}
    assert "HelmRelease" not in {o.kind for o in modern.objects}  # no helm-controller installed
    # kube-state-metrics' suspended label: "false" where spec.suspend is set to false, absent where unset.
    assert any(o.suspend_set and not o.suspended for o in modern.objects)
    assert any(not o.suspend_set for o in modern.objects)


@pytest.mark.parametrize("name", FLEET_NAMES)
def test_recorded_counts_per_kind_and_state_equal_what_the_source_can_know(running, name):
    run = running(name)
    expected = Counter(
        (o.kind, state) for o in run.fleet.objects if (state := state_of(run.fleet, CASES[name].source, o)) is not None
    )
    rows = run.prometheus.query(f"sum by (kind, state) ({OBJECT_COUNT})")
    assert {(r["metric"]["kind"], r["metric"]["state"]): float(r["value"][1]) for r in rows} == expected


def cluster_panel(name: str, title: str) -> str:
    model = cluster_dashboard(settings_for(name))
    (panel,) = [p for p in model["panels"] if p["title"] == title]
    return substitute(panel["targets"][0]["expr"], model)


@pytest.mark.parametrize("name", FLEET_NAMES)
@pytest.mark.parametrize("title, state", [("Failing objects", "failing"), ("Suspended objects", "suspended")])
def test_cluster_dashboard_tables_list_exactly_the_objects_the_source_can_know(running, name, title, state):
    run = running(name)
    rows = run.prometheus.query(cluster_panel(name, title))
    listed = {(r["metric"]["kind"], r["metric"]["exported_namespace"], r["metric"]["name"]) for r in rows}
    assert listed == objects_in(run, name, state)
    assert listed


@pytest.mark.parametrize("name", ["2.9-resource-info", "2.9-flux-operator"])
def test_failing_objects_table_shows_each_objects_revision_and_ready_reason(running, name):
    run = running(name)
    known = {(o.kind, o.namespace, o.name): (o.revision, o.reason) for o in run.fleet.objects}
    rows = run.prometheus.query(cluster_panel(name, "Failing objects"))
    assert rows
    for row in rows:
        m = row["metric"]
        assert (m["revision"], m["reason"]) == known[(m["kind"], m["exported_namespace"], m["name"])]


# -- alerts ---------------------------------------------------------------------------------------


def firing(prometheus: Prometheus, alertname: str, labels: tuple[str, ...]) -> set[tuple[str, ...]]:
    rows = prometheus.query(f'ALERTS{{alertname="{alertname}", alertstate="firing"}}')
    return {tuple(r["metric"].get(label, "") for label in labels) for r in rows}


def slow(fleet: Fleet, o: FluxObject) -> bool:
    # 10% of the object's reconciliations take five times its typical duration (tests/flux_fleet.py).
    return (
        fleet.release.records_duration(o.kind)
        and not o.deleted
        and fleet.pod_of(o) in fleet.up
        and 5 * o.seconds > float(P99_THRESHOLD)
    )


def expected_objects(run: Running, name: str) -> dict[str, set]:
    """Alert -> the objects it must fire for, from the fleet and the matrix."""
    fleet = run.fleet
    return {
        "ReconciliationFailure": objects_in(run, name, "failing", lambda kind: not fleet.release.is_source(kind)),
        "FluxSourceFailure": objects_in(run, name, "failing", fleet.release.is_source),
        "FluxObjectSuspended": objects_in(run, name, "suspended"),
        "FluxReconcileDurationHigh": {(o.kind, o.namespace, o.name) for o in fleet.objects if slow(fleet, o)},
    }


# Each object alert -> what it fires for; ReconciliationFailure and FluxSourceFailure split the
# failing objects between non-sources and sources, FluxReconcileDurationHigh fires above 10s.
OBJECT_ALERTS = ("ReconciliationFailure", "FluxSourceFailure", "FluxObjectSuspended", "FluxReconcileDurationHigh")


@pytest.mark.parametrize("name", FLEET_NAMES)
@pytest.mark.parametrize("alert", OBJECT_ALERTS)
def test_object_alert_fires_for_exactly_the_objects_the_source_knows_in_its_state(running, name, alert):
    run = running(name)
    expected = expected_objects(run, name)[alert]
    assert expected or alert == "FluxSourceFailure"  # a fleet may have no failing source
    assert firing(run.prometheus, alert, ("kind", "exported_namespace", "name")) == expected


@pytest.mark.parametrize("name", FLEET_NAMES)
def test_controller_down_fires_for_exactly_the_listed_controllers_down_or_missing(running, name):
    run = running(name)
    expected = {(app,) for app in run.fleet.down | run.fleet.missing}
    assert firing(run.prometheus, "FluxControllerDown", ("app",)) == expected


@pytest.mark.parametrize("name", FLEET_NAMES)
def test_workqueue_backlog_fires_for_exactly_the_deep_queues(running, name):
    run = running(name)
    fleet = run.fleet
    expected = {
        (fleet.controller_of_pod(app), queue)
        for app in fleet.up
        for queue in fleet.queues(app)
        if fleet.queue_depth(queue) > WORKQUEUE_DEPTH
    }
    assert expected
    assert firing(run.prometheus, "FluxWorkqueueBacklog", ("app", "name")) == expected


def test_flux_instance_not_ready_fires_for_the_failing_instance(running):
    run = running("2.9-flux-operator")
    assert firing(run.prometheus, "FluxInstanceNotReady", ("exported_namespace", "name")) == {("flux-system", "flux")}


@pytest.mark.parametrize("name", FLEET_NAMES)
def test_no_other_alert_fires(running, name):
    run = running(name)
    names = {r["metric"]["alertname"] for r in run.prometheus.query('ALERTS{alertstate="firing"}')}
    expected = {alert for alert, objects in expected_objects(run, name).items() if objects}
    expected.add("FluxWorkqueueBacklog")
    if run.fleet.down or run.fleet.missing:
        expected.add("FluxControllerDown")
    if CASES[name].source == "flux-operator":
        expected.add("FluxInstanceNotReady")
    assert names == expected
