"""Real clusters, not the Flux a stack declares: each scenario a fleet modelled on upstream (pods labelled as
the Flux manifests and the sharding guide label them, kube-state-metrics reporting only the kinds its config
names at a version the cluster serves, controller images of the release that runs), scraped by a real
Prometheus on 127.0.0.1 through the program's own PodMonitors (as the Prometheus Operator turns them into
relabelings) and evaluating its rules.

- ``sharded``: the default config on a cluster running image automation and kustomize-controller in three
  shards, one of them failing its scrapes: every controller and shard is scraped and its kinds watched;
  FluxControllerDown names the shard, nothing else fires.
- ``upgraded``: Flux 2.9 running under ``fluxVersion: "2.6"``: kube-state-metrics' config (written for 2.6)
  names the image kinds at v1beta2, which 2.9 no longer serves: FluxKindUnreported names the three kinds,
  FluxVersionMismatch every controller, running 2.9.
- ``kube-state-metrics down``: its scrapes fail: FluxStateSourceDown; every reconciled kind is unreported.
- ``operator stale``: the Flux Operator's reporting loop stopped: FluxStateSourceDown.

Alerts' ``for`` is 0s; each asserts what fires and that nothing else does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache

import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.promql import OBJECT_COUNT
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.flux_fleet import (
    KUBE_STATE_METRICS,
    Fleet,
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
STARTUP_DEADLINE = 120.0
DEFAULT = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")
IMAGE = ("image-reflector-controller", "image-automation-controller")
IMAGE_KINDS = {"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"}
ZERO_FOR = json.dumps(
    {
        name: {"for": "0s"}
        for name in (
            "reconciliationFailure",
            "suspended",
            "controllerDown",
            "sourceFailure",
            "kindUnreported",
            "stateSourceDown",
            "versionMismatch",
        )
    }
)


@dataclass(frozen=True)
class Scenario:
    config: dict  # the stack's config, besides the alerts
    minor: str  # the Flux that runs
    controllers: tuple
    shards: dict = field(default_factory=dict)
    down: frozenset = frozenset()
    unreachable: frozenset = frozenset()  # endpoints whose scrapes fail (flux_fleet.serve_fleet)
    reporting: bool = True


SCENARIOS = {
    "sharded": Scenario(
        {},
        "2.9",
        DEFAULT + IMAGE,
        shards={"kustomize-controller": ("shard1", "shard2", "shard3")},
        down=frozenset({"kustomize-controller-shard2"}),
    ),
    "upgraded": Scenario({"fluxVersion": "2.6"}, "2.9", DEFAULT + IMAGE),
    "kube-state-metrics down": Scenario({}, "2.9", DEFAULT, unreachable=frozenset({KUBE_STATE_METRICS})),
    "operator stale": Scenario({"fluxMetrics": "flux-operator"}, "2.9", DEFAULT, reporting=False),
}


@cache
def matrix() -> dict:
    return yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())


def settings_for(name: str):
    return load_settings({**SCENARIOS[name].config, "alerts": ZERO_FOR}, kube_context="test")


def watched(settings) -> tuple | None:
    """(group, version, kind) of every custom resource the stack's kube-state-metrics config names."""
    values = kube_state_metrics_values(settings)
    if not values:
        return None
    resources = values["customResourceState"]["config"]["spec"]["resources"]
    return tuple(
        (r["groupVersionKind"]["group"], r["groupVersionKind"]["version"], r["groupVersionKind"]["kind"])
        for r in resources
    )


def fleet_for(name: str) -> Fleet:
    scenario = SCENARIOS[name]
    release = MatrixRelease.of(matrix(), scenario.minor)
    objects = build_fleet(size=3 * 19, namespaces=3, release=release, controllers=scenario.controllers, seed=7)
    return Fleet(
        release=release,
        objects=objects,
        controllers=scenario.controllers,
        down=scenario.down,
        shards=scenario.shards,
        watched=watched(settings_for(name)),
        reporting=scenario.reporting,
    )


@dataclass
class Running:
    fleet: Fleet
    prometheus: Prometheus


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Callable[[str], Running]]:
    """On first use, serves every scenario's fleet and starts a Prometheus for each; stops them after the module."""
    binary = require_tool("prometheus")
    started: dict[str, Running] = {}
    with ExitStack() as stack:

        def start_all() -> None:
            pending = []
            for name in SCENARIOS:
                fleet, settings = fleet_for(name), settings_for(name)
                port = stack.enter_context(serve_fleet(fleet, set(SCENARIOS[name].unreachable)))
                # kube-prometheus-stack always runs kube-state-metrics, whatever the metric source.
                configs = scrape_configs(port, fleet, flux_pod_monitors(settings), kube_state_metrics=True)
                groups = rule_groups_evaluated_every(flux_rule_groups(settings), SCRAPE_INTERVAL)
                workdir = tmp_path_factory.mktemp("prometheus")
                prometheus = stack.enter_context(start_prometheus(binary, workdir, configs, SCRAPE_INTERVAL, groups))
                healthy = targets(configs) - len(fleet.down) - len(SCENARIOS[name].unreachable)
                pending.append((name, fleet, prometheus, targets(configs), healthy))
            deadline = time.monotonic() + STARTUP_DEADLINE
            for _, _, prometheus, count, healthy in pending:
                prometheus.wait_until_scraped(count, 5, deadline, healthy=healthy)
            for name, fleet, prometheus, _, _ in pending:
                prometheus.wait_for_rule_evaluation(deadline)
                started[name] = Running(fleet, prometheus)

        failed: list[str] = []

        def get(name: str) -> Running:
            if failed:
                pytest.fail(f"the scenarios' Prometheus servers did not start: {failed[0]}")
            if not started:
                try:
                    start_all()
                except AssertionError as error:
                    failed.append(str(error))
                    raise
            return started[name]

        yield get


# A busy machine makes a 1s scrape miss now and then (a for of 0s fires on it): each check polls until
# what fires is what it expects, for at most SETTLE seconds, and reports what fired last.
SETTLE = 45.0


def settled(read: Callable[[], object], expected: object) -> object:
    deadline = time.monotonic() + SETTLE
    while (got := read()) != expected and time.monotonic() < deadline:
        time.sleep(1)
    return got


def firing(run: Running, alertname: str, *labels: str, expected: set | None = None) -> set[tuple[str, ...]]:
    def read() -> set[tuple[str, ...]]:
        rows = run.prometheus.query(f'ALERTS{{alertname="{alertname}", alertstate="firing"}}')
        return {tuple(r["metric"].get(label, "") for label in labels) for r in rows}

    return settled(read, expected) if expected is not None else read()


def firing_names(run: Running, expected: set | None = None) -> set[str]:
    def read() -> set[str]:
        return {r["metric"]["alertname"] for r in run.prometheus.query('ALERTS{alertstate="firing"}')}

    return settled(read, expected) if expected is not None else read()


# Alerts about objects' own states: the fleets hold failing and suspended objects on purpose.
OBJECT_STATE_ALERTS = {"ReconciliationFailure", "FluxSourceFailure", "FluxObjectSuspended", "FluxWorkqueueBacklog"}


# -- sharded: the default config sees every controller and shard ----------------------------------


def test_the_default_config_scrapes_every_controller_and_shard_running(running):
    run = running("sharded")
    rows = run.prometheus.query('up{job="monitoring/flux-system"}')
    scraped = {(r["metric"]["app"], r["metric"].get("shard", "")) for r in rows}
    assert scraped == {
        *((c, "") for c in DEFAULT + IMAGE),
        *(("kustomize-controller", f"shard{n}") for n in (1, 2, 3)),
    }


def test_the_default_config_watches_the_image_automation_kinds(running):
    run = running("sharded")
    counted = {r["metric"]["kind"] for r in run.prometheus.query(f"sum by (kind) ({OBJECT_COUNT})")}
    assert counted >= IMAGE_KINDS
    query = 'count by (app) (last_over_time(gotk_reconcile_duration_seconds_count{kind=~"Image.+"}[1m]))'
    assert {r["metric"]["app"] for r in run.prometheus.query(query)} == set(IMAGE)


def test_controller_down_names_the_shard_that_fails_its_scrapes_and_nothing_else(running):
    run = running("sharded")
    expected = {("kustomize-controller", "shard2", "kustomize-controller-shard2-6d9c7f5b8-x2k4q")}
    assert firing(run, "FluxControllerDown", "app", "shard", "pod", expected=expected) == expected


def test_a_sharded_cluster_on_the_declared_flux_raises_no_blind_spot(running):
    run = running("sharded")
    expected = {"FluxControllerDown"}
    assert settled(lambda: firing_names(run) - OBJECT_STATE_ALERTS, expected) == expected


# -- upgraded: Flux 2.9 under fluxVersion 2.6 -----------------------------------------------------


def test_kind_unreported_names_the_kinds_the_old_config_watches_at_versions_no_longer_served(running):
    run = running("upgraded")
    # 2.6's config watches the image kinds at v1beta2; Flux 2.9 serves only v1 (matrix kinds.*.versions).
    for kind in IMAGE_KINDS:
        assert "v1beta2" not in run.fleet.release.kinds[kind]["served"]
    expected = {(kind,) for kind in IMAGE_KINDS}
    assert firing(run, "FluxKindUnreported", "kind", expected=expected) == expected


def test_version_mismatch_names_every_controller_running_flux_2_9(running):
    run = running("upgraded")
    expected = {(f"{app}-6d9c7f5b8-x2k4q", "2.9") for app in DEFAULT + IMAGE}
    assert firing(run, "FluxVersionMismatch", "pod", "running", expected=expected) == expected


def test_an_upgraded_cluster_raises_only_the_blind_spot_alerts(running):
    run = running("upgraded")
    expected = {"FluxKindUnreported", "FluxVersionMismatch"}
    assert settled(lambda: firing_names(run) - OBJECT_STATE_ALERTS, expected) == expected


# -- the state source down ------------------------------------------------------------------------


def test_state_source_down_fires_when_kube_state_metrics_fails_its_scrapes(running):
    run = running("kube-state-metrics down")
    expected = {("kube-state-metrics",)}
    assert firing(run, "FluxStateSourceDown", "job", expected=expected) == expected


def test_with_kube_state_metrics_down_every_reconciled_kind_is_unreported(running):
    run = running("kube-state-metrics down")
    reconciled = {o.kind for o in run.fleet.objects if run.fleet.release.records_duration(o.kind)}
    expected = {(kind,) for kind in reconciled}
    assert firing(run, "FluxKindUnreported", "kind", expected=expected) == expected
    # No object state is known, so no object alert fires; the versions cannot be read either.
    names = {"FluxStateSourceDown", "FluxKindUnreported"}
    assert settled(lambda: firing_names(run) - {"FluxWorkqueueBacklog"}, names) == names


def test_state_source_down_fires_when_the_flux_operator_stops_reporting(running):
    run = running("operator stale")
    assert firing(run, "FluxStateSourceDown", "severity", expected={("page",)}) == {("page",)}
    assert "FluxKindUnreported" not in firing_names(run)  # its last report still lists every kind


def test_a_healthy_source_raises_no_state_source_down(running):
    for name in ("sharded", "upgraded"):
        assert "FluxStateSourceDown" not in firing_names(running(name)), name
