"""A fleet of clusters, each a real Prometheus with its own synthetic Flux fleet, remote writing into real
central stores on 127.0.0.1, read with the program's own dashboards.

Each "cluster" scrapes its fleet through the PodMonitor's relabelings, evaluates the PrometheusRule's
groups, carries the operator's external labels (``cluster`` from the program, ``prometheus`` and the
replica label from the operator) and remote writes with the ``remote_write`` block the operator would
generate from the program's spec, credentials resolved from the program's Secret data:
- to VictoriaMetrics (single node, basic auth) with ``fluxOnly: true``, configured for HA dedup as
  docs/fleet.md says (``-dedup.minScrapeInterval``, replica label dropped on ingestion); both replicas of
  ``prod`` write to it;
- with ``fluxOnly: false`` to a central Prometheus remote-write receiver (exact PromQL, as Mimir and
  Thanos run it) behind a model of Mimir's HA tracker (tests/support/ha_tracker.py), configured as docs/fleet.md
  tells Mimir users: ``ha_cluster_label: cluster``, ``ha_replica_label: prometheus_replica``. Both
  replicas of ``prod`` write to it; it keeps one and strips the replica label.
A fourth cluster, ``gone``, writes for a while and stops: the fleet overview must show it silent.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from flux_monitoring.config.settings import Settings, load_settings
from flux_monitoring.manifests.fleet import (
    CLUSTER_LABEL,
    REMOTE_WRITE_SECRET,
    REPLICA_LABEL,
    fleet_prometheus_spec,
    remote_write_secret_data,
)
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.promql import HEARTBEAT, STATE_READY, SUSPENDED
from flux_monitoring.signals.promql import RECONCILERS as RECONCILER_KINDS
from flux_monitoring.signals.promql import SOURCES as SOURCE_KINDS
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.fleet_stores import Store, operator_external_labels, remote_write_config, start_victoria_metrics
from tests.support.flux_fleet import (
    Fleet,
    FluxObject,
    MatrixRelease,
    build_fleet,
    free_port,
    rule_groups_evaluated_every,
    scrape_configs,
    serve_fleet,
    start_prometheus,
)
from tests.support.ha_tracker import serve_ha_tracker
from tests.support.signals_tools import require_tool, upstream_file

SETTINGS = load_settings({}, kube_context="test")
SCRAPE_INTERVAL = "1s"
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval at a 1s scrape interval
MAX_LAG = 5  # seconds a store may be behind the clusters: the rate windows then still hold 5 scrapes
DEADLINE = 60.0
VM_AUTH = ("fleet-writer", "vm-password-for-tests-only-5d1e")
STORES = ("victoria-metrics", "central-prometheus")
TOOLS = (("prometheus", "prometheus"), ("victoria-metrics", "victoria-metrics"), ("vmagent", "victoria-metrics"))


@cache
def release() -> MatrixRelease:
    """The Flux release the stacks monitor by default, as the shared matrix states it."""
    return MatrixRelease.of(yaml.safe_load(upstream_file("flux/matrix.yaml").read_text()), SETTINGS.flux.release.minor)


@dataclass(frozen=True)
class Cluster:
    name: str
    size: int
    namespaces: int
    seed: int
    replicas: int = 1
    down: frozenset = frozenset()  # controllers whose scrape fails
    static: tuple = ()  # fixed objects instead of a built fleet

    @property
    def fleet(self) -> list[FluxObject]:
        if self.static:
            return list(self.static)
        return _objects(self.size, self.namespaces, self.seed)


@cache
def _objects(size: int, namespaces: int, seed: int) -> list[FluxObject]:
    return build_fleet(
        size=size,
        namespaces=namespaces,
        release=release(),
        controllers=SETTINGS.flux.components,
        failing=0.08,
        suspended=0.05,
        unknown=0.03,
        seed=seed,
    )


CLUSTERS = (
    Cluster("eu-1", 34, 2, seed=1),
    Cluster("us-1", 51, 3, seed=2, down=frozenset({"notification-controller"})),
    Cluster("prod", 68, 4, seed=3, replicas=2),
)
# It stops sending at the start. Its objects have no state (Alerts and Providers), so it adds nothing
# to any count however long each store still shows its last samples (Prometheus: the 5m lookback).
GONE = Cluster(
    "gone",
    0,
    1,
    seed=4,
    static=tuple(
        FluxObject(kind, "team-000", f"notify-{i}", ready="", suspended=False, revision="", seconds=0.5)
        for i, kind in enumerate(("Alert", "Provider", "Alert"))
    ),
)


def cluster_settings(cluster: str, vm_url: str, central_url: str) -> Settings:
    """A cluster's stack config: its name and the fleet's remote write targets (credentials as secrets)."""
    queue = {"batchSendDeadline": "1s", "minBackoff": "100ms", "maxBackoff": "1s"}
    targets = [
        {
            "name": "victoria-metrics",
            "url": vm_url,
            "queue": queue,
            "basicAuth": {"username": VM_AUTH[0], "password": VM_AUTH[1]},
        },
        {
            "name": "central-prometheus",
            "url": central_url,
            "fluxOnly": False,
            "headers": {"X-Scope-OrgID": "platform"},
            "queue": queue,
        },
    ]
    return load_settings(
        {"cluster": cluster, "remoteWrite": json.dumps(targets)}, secret_keys={"remoteWrite"}, kube_context="test"
    )


def prometheus_remote_write(settings: Settings) -> list[dict]:
    """What the operator writes into each replica's prometheus.yml from the program's spec and Secret."""
    data = remote_write_secret_data(settings.remote_write)
    return [
        remote_write_config(spec, REMOTE_WRITE_SECRET, data) for spec in fleet_prometheus_spec(settings)["remoteWrite"]
    ]


def served(cluster: Cluster) -> Fleet:
    return Fleet(release=release(), objects=cluster.fleet, controllers=SETTINGS.flux.components, down=cluster.down)


class FleetRun:
    """The running clusters and central stores; the stores can be restarted in place."""

    def __init__(self, stack: ExitStack, workdir: Path, prometheus: str, victoria_metrics: str, vmagent: str):
        self.stack, self.workdir = stack, workdir
        self.binaries = {"prometheus": prometheus, "victoria-metrics": victoria_metrics}
        self.ports = {store: free_port() for store in STORES}
        self.stores: dict[str, Store] = {}
        self.store_stacks: dict[str, ExitStack] = {}
        for store in STORES:
            self.start_store(store)
        # The central Prometheus receives through the HA tracker model, as Mimir's ingesters do.
        relay_port = free_port()
        relay = workdir / "ha-tracker"
        relay.mkdir()
        self.ha_tracker = stack.enter_context(
            serve_ha_tracker(
                f"http://127.0.0.1:{self.ports['central-prometheus']}/api/v1/write",
                CLUSTER_LABEL,
                REPLICA_LABEL,
                relay_port,
                vmagent,
                relay,
            )
        )
        self.urls = [
            f"http://127.0.0.1:{self.ports['victoria-metrics']}/api/v1/write",
            f"http://127.0.0.1:{relay_port}/api/v1/push",
        ]
        self.spokes: dict[tuple[str, int], Store] = {}

    def start_store(self, store: str) -> None:
        stack = self.store_stacks[store] = ExitStack()
        workdir = self.workdir / store
        workdir.mkdir(exist_ok=True)
        if store == "victoria-metrics":
            self.stores[store] = stack.enter_context(
                start_victoria_metrics(self.binaries[store], workdir, self.ports[store], SCRAPE_INTERVAL, VM_AUTH)
            )
        else:
            central = stack.enter_context(
                start_prometheus(
                    self.binaries["prometheus"],
                    workdir,
                    [],
                    SCRAPE_INTERVAL,
                    port=self.ports[store],
                    flags=("--web.enable-remote-write-receiver",),
                )
            )
            self.stores[store] = Store(central.url, central.process)

    def stop_store(self, store: str) -> None:
        self.store_stacks.pop(store).close()

    def close_stores(self) -> None:
        for store in list(self.store_stacks):
            self.stop_store(store)

    def start_cluster(self, cluster: Cluster, stack: ExitStack) -> None:
        fleet = served(cluster)
        fleet_port = stack.enter_context(serve_fleet(fleet))
        configs = scrape_configs(fleet_port, fleet, flux_pod_monitors(SETTINGS), kube_state_metrics=True)
        settings = cluster_settings(cluster.name, *self.urls)
        groups = rule_groups_evaluated_every(flux_rule_groups(SETTINGS), SCRAPE_INTERVAL)
        for replica in range(cluster.replicas):
            workdir = self.workdir / f"{cluster.name}-{replica}"
            workdir.mkdir()
            self.spokes[(cluster.name, replica)] = stack.enter_context(
                start_prometheus(
                    self.binaries["prometheus"],
                    workdir,
                    configs,
                    SCRAPE_INTERVAL,
                    groups,
                    external_labels=operator_external_labels(settings.cluster, replica),
                    remote_write=prometheus_remote_write(settings),
                )
            )

    def wait_for_samples(self, clusters: list[str], scrapes: int) -> None:
        """Every store holds ``scrapes`` scrapes and heartbeats of every cluster in ``clusters``, and is
        current: its newest scrape of each is at most MAX_LAG old (remote write can fall behind, and a
        store a rate window behind shows rate panels empty however many older scrapes it holds)."""
        deadline = time.monotonic() + DEADLINE
        for store in self.stores.values():

            def ready(store=store) -> bool:
                got = {
                    r["metric"][CLUSTER_LABEL]: float(r["value"][1])
                    for r in store.query(f"min by (cluster) (count_over_time({HEARTBEAT}[1m]))")
                }
                up = {
                    r["metric"][CLUSTER_LABEL]
                    for r in store.query(f'count by (cluster) (count_over_time(up{{cluster!=""}}[1m]) >= {scrapes})')
                }
                current = {
                    r["metric"][CLUSTER_LABEL]
                    for r in store.query(f'time() - max by (cluster) (timestamp(up{{cluster!=""}})) <= {MAX_LAG}')
                }
                return all(got.get(c, 0) >= scrapes and c in up and c in current for c in clusters)

            try:
                store.wait_for(f"{scrapes} scrapes of {clusters}, current, at {store.url}", ready, deadline)
            except AssertionError as timed_out:
                behind = store.query('time() - max by (cluster) (timestamp(up{cluster!=""}))')
                lag = {r["metric"][CLUSTER_LABEL]: round(float(r["value"][1]), 1) for r in behind}
                raise AssertionError(f"{timed_out}; seconds behind, by cluster: {lag}") from None


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[FleetRun]:
    binaries = [require_tool(tool, package) for tool, package in TOOLS]
    with ExitStack() as stack:
        running = FleetRun(stack, tmp_path_factory.mktemp("fleet"), *binaries)
        stack.callback(running.close_stores)
        with ExitStack() as gone:
            running.start_cluster(GONE, gone)
            running.wait_for_samples([GONE.name], scrapes=2)
        for cluster in CLUSTERS:
            running.start_cluster(cluster, stack)
        # 12 scrapes: the rate windows of the panels (10s) then hold data at every store.
        running.wait_for_samples([c.name for c in CLUSTERS], scrapes=12)
        yield running


# -- what each cluster's fleet holds -------------------------------------------------------------

RECONCILERS = set(RECONCILER_KINDS.names)
SOURCES = set(SOURCE_KINDS.names)


def state_counts(fleet: list[FluxObject]) -> Counter:
    """(kind, state) -> objects; deleted objects and kinds without a Ready condition are in none."""
    states = {ready: state for state, ready in STATE_READY.items()}
    return Counter(
        (o.kind, SUSPENDED if o.suspended else states[o.ready])
        for o in fleet
        if not o.deleted and (o.suspended or o.ready in states)
    )


def stat_panels(fleet: list[FluxObject]) -> dict[str, int]:
    """The cluster dashboard's stat panel title -> the count it must show for ``fleet``."""
    counts = state_counts(fleet)
    expected = {
        f"{group} {state}": sum(n for (kind, s), n in counts.items() if kind in kinds and s == state)
        for group, kinds in (("Reconcilers", RECONCILERS), ("Sources", SOURCES))
        for state in STATE_READY
    }
    expected["Suspended"] = sum(n for (_, s), n in counts.items() if s == SUSPENDED)
    return expected


def substitute(expr: str, model: dict, cluster: str = ".*") -> str:
    """The query Grafana sends: every variable at All, except ``cluster`` when the dashboard has it."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            value = cluster if variable["name"] == CLUSTER_LABEL else variable["allValue"]
            expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", value, expr)
    return expr


def panels(model: dict) -> list[tuple[str, str]]:
    return [
        (f"{model['uid']}/{p['title']}/{t['refId']}", t["expr"]) for p in model["panels"] for t in p.get("targets", [])
    ]


DASHBOARDS = (control_plane_dashboard(SETTINGS), cluster_dashboard(SETTINGS))
LIVE = [c.name for c in CLUSTERS]


def numbers(result: list[dict]) -> list[float]:
    return [float(series["value"][1]) for series in result]


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_every_panel_of_both_dashboards_shows_data_at_the_central_store(fleet, store):
    empty = []
    for model in DASHBOARDS:
        for name, expr in panels(model):
            values = numbers(fleet.stores[store].query(substitute(expr, model)))
            if not values or all(math.isnan(v) for v in values):
                empty.append(name)
    assert not empty, f"{store}: no data for {empty}"


@pytest.mark.parametrize("store", STORES)
def test_with_all_clusters_the_counts_are_the_fleets_totals(fleet, store):
    model = cluster_dashboard(SETTINGS)
    totals = Counter()
    for cluster in CLUSTERS:
        totals.update(stat_panels(cluster.fleet))
    shown = {
        p["title"]: numbers(fleet.stores[store].query(substitute(p["targets"][0]["expr"], model)))
        for p in model["panels"]
        if p["title"] in totals
    }
    assert shown == {title: [float(n)] for title, n in totals.items()}


STAT_TITLES = set(stat_panels([]))
CLUSTER_IDS = [c.name for c in CLUSTERS]


def panel_values(fleet: Fleet, store: str, model: dict, title: str, cluster: str = ".*") -> list[dict]:
    (panel,) = [p for p in model["panels"] if p["title"] == title]
    return fleet.stores[store].query(substitute(panel["targets"][0]["expr"], model, cluster))


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("cluster", CLUSTERS, ids=CLUSTER_IDS)
def test_with_one_cluster_selected_every_count_is_that_clusters_fleet(fleet, store, cluster):
    model = cluster_dashboard(SETTINGS)
    shown = {title: numbers(panel_values(fleet, store, model, title, cluster.name)) for title in STAT_TITLES}
    assert shown == {title: [float(n)] for title, n in stat_panels(cluster.fleet).items()}


@pytest.mark.parametrize("store", STORES)
def test_with_two_clusters_selected_the_counts_are_theirs_together(fleet, store):
    model = cluster_dashboard(SETTINGS)
    both = Counter(stat_panels(CLUSTERS[0].fleet)) + Counter(stat_panels(CLUSTERS[1].fleet))
    selected = f"{CLUSTERS[0].name}|{CLUSTERS[1].name}"  # what Grafana sends for a multi-value choice
    shown = {title: numbers(panel_values(fleet, store, model, title, selected)) for title in STAT_TITLES}
    assert shown == {title: [float(both[title])] for title in STAT_TITLES}


def object_keys(fleet_objects: list[FluxObject], cluster: str, failing: bool) -> set[tuple[str, ...]]:
    return {
        (cluster, o.kind, o.namespace, o.name)
        for o in fleet_objects
        if not o.deleted and (not o.suspended and o.ready == "False" if failing else o.suspended)
    }


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("title, failing", [("Failing objects", True), ("Suspended objects", False)])
def test_object_tables_keep_namesakes_of_different_clusters_apart(fleet, store, title, failing):
    # Every cluster's fleet has the same kinds, namespaces and names: only the cluster tells them apart.
    rows = panel_values(fleet, store, cluster_dashboard(SETTINGS), title)
    listed = {
        (r["metric"]["cluster"], r["metric"]["kind"], r["metric"]["exported_namespace"], r["metric"]["name"])
        for r in rows
    }
    expected = set().union(*(object_keys(c.fleet, c.name, failing) for c in (*CLUSTERS, GONE)))
    assert listed == expected


@pytest.mark.parametrize("store", STORES)
def test_with_one_cluster_selected_every_panel_shows_that_cluster_only(fleet, store):
    chosen = CLUSTERS[1].name
    wrong = []
    for model in DASHBOARDS:
        for name, expr in panels(model):
            result = fleet.stores[store].query(substitute(expr, model, chosen))
            clusters = {series["metric"].get(CLUSTER_LABEL) for series in result}
            if not result or not clusters <= {chosen, None}:
                wrong.append((name, clusters))
    assert not wrong, wrong


def per_cluster(result: list[dict]) -> dict[str, float]:
    return {series["metric"][CLUSTER_LABEL]: float(series["value"][1]) for series in result}


def live_and_silent(shown: dict[str, float]) -> dict[str, float]:
    """The live clusters' values; the silent one shows 0 until the store's lookback drops it."""
    assert shown.pop(GONE.name, 0.0) == 0.0
    return shown


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("state", ["failing", "unknown", "suspended"])
def test_the_fleet_overview_counts_failing_unknown_and_suspended_objects_per_cluster(fleet, store, state):
    title = f"{state.capitalize()} objects per cluster"
    expected = {c.name: float(sum(n for (_, s), n in state_counts(c.fleet).items() if s == state)) for c in CLUSTERS}
    assert live_and_silent(per_cluster(panel_values(fleet, store, cluster_dashboard(SETTINGS), title))) == expected


@pytest.mark.parametrize("store", STORES)
def test_the_fleet_overview_names_the_cluster_whose_controller_is_down(fleet, store):
    expected = {"eu-1": 0.0, "us-1": 1.0, "prod": 0.0}

    def shown() -> dict[str, float]:
        values = per_cluster(panel_values(fleet, store, cluster_dashboard(SETTINGS), "Controllers down per cluster"))
        values.pop(GONE.name, None)  # silent: its last scrapes, whatever they were
        return values

    # A scrape that times out on a busy machine counts as down until the next one (1s later).
    fleet.stores[store].wait_for(
        f"controllers down to be {expected}", lambda: shown() == expected, time.monotonic() + 20
    )


@pytest.mark.parametrize("store", STORES)
def test_the_fleet_overview_shows_the_cluster_that_stopped_sending(fleet, store):
    silence = per_cluster(panel_values(fleet, store, cluster_dashboard(SETTINGS), "Seconds since the last heartbeat"))
    assert set(silence) == {c.name for c in (*CLUSTERS, GONE)}
    assert all(silence[c] < 10 for c in LIVE)
    assert silence[GONE.name] > max(silence[c] for c in LIVE) + 10


def test_both_replicas_write_and_each_store_keeps_one_copy(fleet):
    pods = {operator_external_labels("prod", replica)[REPLICA_LABEL] for replica in range(2)}
    leader, _ = fleet.ha_tracker.elected["prod"]
    (follower,) = pods - {leader}
    assert fleet.ha_tracker.dropped.get(follower, 0) > 0 and leader not in fleet.ha_tracker.dropped
    for store in fleet.stores.values():  # the replica label is gone: one series where two were written
        assert store.query(f'count({{cluster="prod", {REPLICA_LABEL}!=""}})') == []
        assert store.value(f'count({HEARTBEAT}{{cluster="prod"}})') == 1


# fluxOnly, measured: what each cluster's spoke sent and what each store holds, for the README.
MEASURED: dict[str, dict[str, float]] = {}


def spoke(fleet: FleetRun, cluster: str, replica: int = 0) -> Store:
    running = fleet.spokes[(cluster, replica)]
    return Store(running.url, running.process)


@pytest.mark.parametrize("cluster", LIVE)
def test_flux_only_sends_a_fraction_of_the_series_and_samples(fleet, cluster):
    series = {
        flux_only: fleet.stores[store].value(f'count({{cluster="{cluster}"}})')
        for flux_only, store in ((True, "victoria-metrics"), (False, "central-prometheus"))
    }
    samples = {
        flux_only: spoke(fleet, cluster).value(f'sum(prometheus_remote_storage_samples_total{{remote_name="{name}"}})')
        for flux_only, name in ((True, "victoria-metrics"), (False, "central-prometheus"))
    }
    MEASURED[cluster] = {
        "series_flux_only": series[True],
        "series_all": series[False],
        "samples_flux_only": samples[True],
        "samples_all": samples[False],
    }
    print(f"\nfluxOnly {cluster}: {MEASURED[cluster]}")
    assert 0 < series[True] < series[False]
    assert 0 < samples[True] < samples[False]


def heartbeats(store: Store, selector: str, at: float, window: str) -> float:
    return store.value_at(f"count_over_time({HEARTBEAT}{{{selector}}}[{window}])", at)


def test_a_restarted_central_store_loses_no_samples(fleet):
    """Both stores down for a while, then back on their data: the spokes' remote write retries from
    the WAL, so every heartbeat the spokes recorded meanwhile arrives, and the counts are right."""
    outage = 8.0
    stopped = time.time()
    for store in STORES:
        fleet.stop_store(store)
    time.sleep(outage)
    for store in STORES:
        fleet.start_store(store)
    restarted = time.time()
    # Remote write sends each series in order: once a heartbeat recorded after the restart is in,
    # every earlier one has been sent. Then the window up to the restart must be complete.
    deadline = time.monotonic() + 2 * DEADLINE
    for store in fleet.stores.values():

        def caught_up(store=store) -> bool:
            latest = per_cluster(store.query(f"max by (cluster) (timestamp({HEARTBEAT}))"))
            return all(latest.get(cluster, 0) > restarted + 1 for cluster in LIVE)

        store.wait_for(f"remote write to catch up at {store.url}", caught_up, deadline)
    at = restarted
    window = f"{int(at - stopped + 10)}s"  # from before the outage to the restart
    for cluster in LIVE:
        elected = int(fleet.ha_tracker.elected[cluster][0].rsplit("-", 1)[1])
        sent = heartbeats(spoke(fleet, cluster, elected), "", at, window)
        assert sent >= outage  # the spoke kept recording through the outage
        assert heartbeats(fleet.stores["central-prometheus"], f'cluster="{cluster}"', at, window) == sent, cluster
        if cluster != "prod":  # two replicas' heartbeats are merged into one per dedup interval there
            assert heartbeats(fleet.stores["victoria-metrics"], f'cluster="{cluster}"', at, window) == sent, cluster
    for store in STORES:
        test_with_all_clusters_the_counts_are_the_fleets_totals(fleet, store)


def test_remote_write_credentials_never_appear_in_any_log(fleet):
    """Runs after the restart: the spokes have logged their failed sends to the stores meanwhile."""
    logs = {str(path): path.read_text() for path in fleet.workdir.rglob("*.log")}
    assert len(logs) == len(fleet.spokes) + len(STORES) + 1  # and the HA tracker's vmagent
    assert any("victoria-metrics" in text for text in logs.values()), "the spokes logged no remote write failure"
    assert [name for name, text in logs.items() if VM_AUTH[1] in text] == []
