"""The alerts on a real Prometheus on 127.0.0.1 through what real scrapes do, each scenario asserting
what fires and what stays quiet:

- kube-state-metrics unreachable for several scrapes in the middle of a ``for`` (its pod rescheduled
  in a node drain): the failing, failing-source and suspended objects' alerts keep counting and fire
  when they would have without the outage; the healthy object never alerts;
- objects whose reconciles all take 60 s, 120 s, 125 s, 150 s and 600 s: under the default threshold
  (469.2 s) only the 600 s one fires; with 122.3 s, the 125 s, 150 s and 600 s ones, never 60 s or 120 s.

A Flux 2.9 fleet (release matrix) with the resource-info source, scraped every second as the program's
PodMonitors and kube-prometheus-stack's kube-state-metrics ServiceMonitor would scrape it, its rule
groups evaluated every second; ``for`` durations shortened to seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache

import pytest
import requests
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.flux_fleet import (
    KUBE_STATE_METRICS,
    Fleet,
    FluxObject,
    MatrixRelease,
    Prometheus,
    rule_groups_evaluated_every,
    scrape_configs,
    serve_fleet,
    start_prometheus,
    targets,
)
from tests.support.signals_tools import require_tool, upstream_file

SCRAPE_INTERVAL = "1s"
STARTUP_DEADLINE = 60.0
CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")
KSM_JOB = "kube-state-metrics"  # the job of kube-prometheus-stack's ServiceMonitor (flux_fleet.scrape_configs)
FOR_SECONDS = 30
MISSED_SCRAPES = 8
CLUSTER = "eu-west-1"  # the cluster external label, as the program sets it


@cache
def release() -> MatrixRelease:
    return MatrixRelease.of(yaml.safe_load(upstream_file("flux/matrix.yaml").read_text()), "2.9")


def flux_object(kind: str, name: str, ready: str = "True", suspended: bool = False, seconds: float = 1.0) -> FluxObject:
    """An object of namespace apps whose reconciles all take ``seconds``."""
    return FluxObject(
        kind=kind,
        namespace="apps",
        name=name,
        ready=ready,
        suspended=suspended,
        suspend_set=suspended,
        revision="main@sha1:" + "0" * 40,
        seconds=seconds,
        slow_share=0.0,
    )


def settings(alerts: dict):
    return load_settings(
        {
            "fluxVersion": "2.9",
            "fluxMetrics": "resource-info",
            "fluxComponents": json.dumps(list(CONTROLLERS)),
            "alerts": json.dumps(alerts),
        },
        kube_context="test",
    )


@contextmanager
def running(tmp_path, objects: list[FluxObject], alerts: dict, unreachable: set[str] | None = None) -> Iterator:
    """The fleet served and a Prometheus scraping it and evaluating the rules of ``alerts``, every
    target scraped 5 times and every group evaluated once."""
    binary = require_tool("prometheus")
    fleet = Fleet(release=release(), objects=objects, controllers=CONTROLLERS)
    config = settings(alerts)
    with ExitStack() as stack:
        port = stack.enter_context(serve_fleet(fleet, unreachable))
        configs = scrape_configs(port, fleet, flux_pod_monitors(config), kube_state_metrics=True)
        groups = rule_groups_evaluated_every(flux_rule_groups(config), SCRAPE_INTERVAL)
        prometheus = stack.enter_context(
            start_prometheus(binary, tmp_path, configs, SCRAPE_INTERVAL, groups, external_labels={"cluster": CLUSTER})
        )
        deadline = time.monotonic() + STARTUP_DEADLINE
        prometheus.wait_until_scraped(targets(configs), 5, deadline)
        prometheus.wait_for_rule_evaluation(deadline)
        yield prometheus


def for_state(prometheus: Prometheus, alertname: str) -> dict[str, float]:
    """Each pending or firing alert's object name -> the time its ``for`` started (ALERTS_FOR_STATE)."""
    rows = prometheus.query(f'ALERTS_FOR_STATE{{alertname="{alertname}"}}')
    return {r["metric"]["name"]: float(r["value"][1]) for r in rows}


def alerting(prometheus: Prometheus, state: str = "firing") -> set[tuple[str, str]]:
    """(alertname, object name) of every alert in ``state``."""
    rows = prometheus.query(f'ALERTS{{alertstate="{state}"}}')
    return {(r["metric"]["alertname"], r["metric"].get("name", "")) for r in rows}


def ever_active(prometheus: Prometheus, alertname: str) -> set[str]:
    """Object names the alert was ever pending or firing for since Prometheus started."""
    rows = prometheus.query(f'max by (name) (max_over_time(ALERTS{{alertname="{alertname}"}}[1h]))')
    return {r["metric"]["name"] for r in rows}


def wait(prometheus: Prometheus, what: str, ready, seconds: float) -> None:
    prometheus.wait_for(what, ready, time.monotonic() + seconds, poll=0.25)


# -- kube-state-metrics unreachable in the middle of a `for` ---------------------------------------

OBJECT_ALERTS = {"ReconciliationFailure": "broken", "FluxSourceFailure": "flaky", "FluxObjectSuspended": "parked"}


def test_object_alerts_keep_their_for_while_kube_state_metrics_misses_scrapes(tmp_path):
    objects = [
        flux_object("Kustomization", "broken", ready="False"),
        flux_object("Kustomization", "healthy"),
        flux_object("GitRepository", "flaky", ready="False"),
        flux_object("HelmRelease", "parked", suspended=True),
    ]
    alerts = {key: {"for": f"{FOR_SECONDS}s"} for key in ("reconciliationFailure", "sourceFailure", "suspended")}
    unreachable: set[str] = set()
    with running(tmp_path, objects, alerts, unreachable) as prometheus:
        wait(prometheus, "the object alerts pending", lambda: all(for_state(prometheus, a) for a in OBJECT_ALERTS), 30)
        started = {alert: for_state(prometheus, alert)[name] for alert, name in OBJECT_ALERTS.items()}
        wait(prometheus, "a third of the for", lambda: time.time() > max(started.values()) + FOR_SECONDS / 3, 30)

        unreachable.add(KUBE_STATE_METRICS)
        saw_no_state = False
        failed = f"count_over_time(up{{job='{KSM_JOB}'}}[1m]) - sum_over_time(up{{job='{KSM_JOB}'}}[1m])"

        def outage_done() -> bool:
            nonlocal saw_no_state
            # The failed scrapes ended every object series: the raw state is gone...
            saw_no_state |= not prometheus.query("gotk_resource_info")
            # ...and every `for` goes on counting from when it started.
            for alert, name in OBJECT_ALERTS.items():
                assert for_state(prometheus, alert).get(name) == started[alert], f"{alert} restarted its for"
            return (prometheus.value(failed) or 0) >= MISSED_SCRAPES

        wait(prometheus, f"{MISSED_SCRAPES} failed scrapes of kube-state-metrics", outage_done, 60)
        unreachable.discard(KUBE_STATE_METRICS)
        assert saw_no_state, "the outage never left the objects without state"

        expected = set(OBJECT_ALERTS.items())
        wait(prometheus, "the object alerts firing", lambda: alerting(prometheus) >= expected, 60)
        fired = time.time()
        # Without the outage they fire FOR_SECONDS after they started; restarted at the end of
        # the outage, they could not fire before FOR_SECONDS after it.
        assert fired < max(started.values()) + FOR_SECONDS + 10
        assert {alert: for_state(prometheus, alert)[name] for alert, name in OBJECT_ALERTS.items()} == started
        assert alerting(prometheus) == expected
        assert all("healthy" not in ever_active(prometheus, alert) for alert in OBJECT_ALERTS)


# -- reconcile durations around the thresholds -----------------------------------------------------

DURATION_OBJECTS = {
    "one-minute": 60,
    "two-minutes": 120,
    "just-over-two-minutes": 125,
    "two-and-a-half-minutes": 150,
    "ten-minutes": 600,
}


@pytest.mark.parametrize(
    "alerts, slow",
    [
        ({}, {"ten-minutes"}),
        ({"p99Seconds": 122.3}, {"just-over-two-minutes", "two-and-a-half-minutes", "ten-minutes"}),
    ],
    ids=["default-469.2s", "122.3s"],
)
def test_reconcile_duration_fires_for_exactly_the_objects_slower_than_the_threshold(tmp_path, alerts, slow):
    objects = [flux_object("Kustomization", name, seconds=seconds) for name, seconds in DURATION_OBJECTS.items()]
    with running(tmp_path, objects, {"reconcileDuration": {"for": "0s", **alerts}}) as prometheus:
        wait(prometheus, "the slow objects' alerts", lambda: {n for _, n in alerting(prometheus)} >= slow, 30)
        # A few more evaluations: nothing else fires, and nothing else ever did.
        until = time.monotonic() + 5
        wait(prometheus, "five more evaluations", lambda: time.monotonic() > until, 10)
        assert alerting(prometheus) == {("FluxReconcileDurationHigh", name) for name in slow}
        assert ever_active(prometheus, "FluxReconcileDurationHigh") == slow
        summaries = {
            a["labels"]["name"]: a["annotations"]["summary"]
            for a in requests.get(f"{prometheus.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        }
        threshold = "122.3" if alerts else "469.2"
        assert summaries["ten-minutes"] == (
            f"Kustomization apps/ten-minutes: more than 1% of reconciles took longer than {threshold}s over 30m "
            f"in cluster {CLUSTER}"
        )
