"""The recording rules and the dashboard queries that read them, unit-tested with the real promtool
for every metric source.

Recorded values must equal the raw aggregation they stand for, on a small set of input series
labelled as a real scrape labels them (see test_signals_rules.py). The cluster dashboard's
queries, with the namespace variable at All and with namespaces selected, must answer what the raw
queries answer over the same namespaces.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from flux_monitoring.config.alerting import duration_seconds
from flux_monitoring.config.settings import SloSettings
from flux_monitoring.flux.release import DURATION_BUCKET_LE
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.promql import (
    FAILING_OBJECTS,
    OBJECT_AVERAGE,
    OBJECT_COUNT,
    OBJECT_DURATIONS_INTERVAL,
    OBJECT_P99,
    QUANTILE_WINDOW,
    RECONCILE_ERROR_RATE,
    RECONCILE_RATE,
    RECORD_WINDOW,
    SLOWEST,
    SLOWEST_AVERAGE,
    SLOWEST_P99,
    SUSPENDED_OBJECTS,
    WORKQUEUE_DEPTH,
    FluxQueries,
    duration_quantile_record,
    duration_rate_record,
)
from flux_monitoring.signals.rules import (
    ALERT_GROUP,
    ALERT_INTERVAL,
    DURATION_GROUP,
    DURATION_INTERVAL,
    DURATION_QUANTILE_GROUP,
    OBJECT_DURATIONS_GROUP,
    RECORDING_GROUP,
    RECORDING_INTERVAL,
    SLOWEST_GROUP,
    SLOWEST_INTERVAL,
    flux_rule_groups,
)
from tests.support.signals_tools import require_tool
from tests.unit.test_signals_rules import (
    CONTROLLER_TARGET,
    GENERATIONS,
    durations,
    flux_object,
    replaced_pod,
    selector,
    settings_for,
)

# The namespace variable at All, and selections of namespaces as Grafana renders them: one
# selected namespace is a prefix of another.
ALL = ".*"
SELECTIONS = ("(apps|apps-prod)", "apps-prod", "staging")


def promtool_expr_test(tmp_path: Path, generation: str, series: list[dict], tests: list[dict]) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": flux_rule_groups(settings_for(generation))}))
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def fleet(generation: str) -> list[dict]:
    return (
        flux_object(generation, "Kustomization", "apps", "ready")
        + flux_object(generation, "Kustomization", "apps", "broken", ready="False")
        + flux_object(generation, "Kustomization", "apps", "gone", ready="False", deleted=True)
        + flux_object(generation, "HelmRelease", "apps", "parked", ready="False", suspended=True)
        + flux_object(generation, "GitRepository", "apps", "new", ready="Unknown")
        + flux_object(generation, "Kustomization", "apps-prod", "ready")
        + flux_object(generation, "HelmRelease", "apps-prod", "broken", ready="False")
        + flux_object(generation, "Kustomization", "staging", "ready")
        + flux_object(generation, "Kustomization", "staging", "other")
        + flux_object(generation, "Alert", "apps", "on-call", ready=None)
    )


# (kind, namespace, name) of the fleet's objects in each state, and the namespace of each.
FLEET_STATES = {
    "ready": {
        ("Kustomization", "apps", "ready"),
        ("Kustomization", "apps-prod", "ready"),
        ("Kustomization", "staging", "ready"),
        ("Kustomization", "staging", "other"),
    },
    "failing": {("Kustomization", "apps", "broken"), ("HelmRelease", "apps-prod", "broken")},
    "unknown": {("GitRepository", "apps", "new")},
    "suspended": {("HelmRelease", "apps", "parked")},
}


def count(state: str, kind: str, value: int) -> dict:
    return {"labels": f'{OBJECT_COUNT}{{kind="{kind}", state="{state}"}}', "value": value}


def panel(generation: str, title: str, namespaces: str) -> str:
    """The cluster dashboard panel's query as Grafana sends it with ``namespaces`` chosen (every cluster)."""
    (target,) = next(p for p in cluster_dashboard(settings_for(generation))["panels"] if p["title"] == title)["targets"]
    return target["expr"].replace("$exported_namespace", namespaces).replace("$cluster", ".*")


def in_namespaces(objects: set[tuple[str, str, str]], namespaces: str) -> set[tuple[str, str, str]]:
    return {o for o in objects if re.fullmatch(namespaces, o[1])}


def test_every_group_has_an_explicit_interval():
    groups = {g["name"]: g for g in flux_rule_groups(settings_for("resource-info"))}
    assert {name: g["interval"] for name, g in groups.items()} == {
        ALERT_GROUP: ALERT_INTERVAL,
        RECORDING_GROUP: RECORDING_INTERVAL,
        DURATION_GROUP: DURATION_INTERVAL,
        DURATION_QUANTILE_GROUP: QUANTILE_WINDOW,
        OBJECT_DURATIONS_GROUP: OBJECT_DURATIONS_INTERVAL,
        SLOWEST_GROUP: SLOWEST_INTERVAL,
    }


# A recorded series in an expression, and whether a range selector follows it.
_RECORDED = re.compile(r"(flux:[a-z0-9_:]+)(\{[^{}]*\})?(\[)?")
# The delivery SLO too (config/slo.py), whose groups read the objects group's counts over windows.
WITH_AND_WITHOUT_SLO = [(g, None) for g in GENERATIONS] + [("resource-info", {"objective": 99.5, "window": "7d"})]


def _rules_of(generation: str, slo: dict | None):
    settings = settings_for(generation)
    if slo is not None:
        settings = settings.model_copy(update={"slo": SloSettings(**slo)})
    return flux_rule_groups(settings)


@pytest.mark.parametrize(("generation", "slo"), WITH_AND_WITHOUT_SLO)
def test_alerts_read_recorded_series_only_from_earlier_in_their_own_group(generation, slo):
    # Rules of a group run in order at one timestamp; a series of another group may be a whole
    # interval old or, while that group is still writing, missing, and restart an alert's `for`.
    for group in _rules_of(generation, slo):
        recorded: set[str] = set()
        for rule in group["rules"]:
            read = {name for name, _, _ in _RECORDED.findall(rule["expr"])}
            if "alert" in rule:
                assert read <= recorded, (group["name"], rule["alert"], read - recorded)
            else:
                recorded.add(rule["record"])


@pytest.mark.parametrize(("generation", "slo"), WITH_AND_WITHOUT_SLO)
def test_recording_rules_read_another_groups_series_only_over_a_window(generation, slo):
    # Over a window, a late or missed evaluation of the other group is one sample fewer, not none.
    for group in _rules_of(generation, slo):
        recorded: set[str] = set()
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            instant = {name for name, _, ranged in _RECORDED.findall(rule["expr"]) if not ranged}
            assert instant <= recorded, (group["name"], rule["record"], instant - recorded)
            recorded.add(rule["record"])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_object_state_alerts_read_the_recorded_failing_and_suspended_objects(generation):
    groups = {g["name"]: g for g in flux_rule_groups(settings_for(generation))}
    alerts = {r["alert"]: r["expr"] for r in groups[RECORDING_GROUP]["rules"] if "alert" in r}
    assert set(alerts) == {"ReconciliationFailure", "FluxSourceFailure", "FluxObjectSuspended"}
    assert FAILING_OBJECTS in alerts["ReconciliationFailure"] and FAILING_OBJECTS in alerts["FluxSourceFailure"]
    assert SUSPENDED_OBJECTS in alerts["FluxObjectSuspended"]


def test_alerts_evaluate_at_least_as_often_as_their_shortest_default_for():
    # FluxControllerDown's 5m is the shortest default `for`.
    assert ALERT_INTERVAL == "1m"


@pytest.mark.parametrize("generation", GENERATIONS)
def test_object_counts_per_kind_and_state_hold_no_namespace(tmp_path, generation):
    promtool_expr_test(
        tmp_path,
        generation,
        fleet(generation),
        [
            {
                "expr": OBJECT_COUNT,
                "eval_time": "10m",
                "exp_samples": [
                    count("ready", "Kustomization", 4),
                    count("failing", "Kustomization", 1),
                    count("failing", "HelmRelease", 1),
                    count("suspended", "HelmRelease", 1),
                    count("unknown", "GitRepository", 1),
                ],
            }
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_failing_and_suspended_objects_are_recorded_for_those_objects_only(tmp_path, generation):
    promtool_expr_test(
        tmp_path,
        generation,
        fleet(generation),
        [
            {
                "expr": f"count by (kind, exported_namespace, name) ({record})",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{{exported_namespace="{ns}", kind="{kind}", name="{name}"}}', "value": 1}
                    for kind, ns, name in sorted(FLEET_STATES[state])
                ],
            }
            for record, state in ((FAILING_OBJECTS, "failing"), (SUSPENDED_OBJECTS, "suspended"))
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_failing_objects_carry_the_revision_and_reason_where_the_source_has_them(tmp_path, generation):
    detail = ', reason="ReconciliationFailed", revision="main@sha1:0a1b2c"' if generation != "legacy" else ""
    promtool_expr_test(
        tmp_path,
        generation,
        fleet(generation),
        [
            {
                "expr": f'{FAILING_OBJECTS}{{exported_namespace="apps"}}',
                "eval_time": "10m",
                "exp_samples": [
                    {
                        "labels": f'{FAILING_OBJECTS}{{exported_namespace="apps", kind="Kustomization", '
                        f'name="broken"{detail}}}',
                        "value": 1,
                    }
                ],
            }
        ],
    )


def several_durations() -> list[dict]:
    return (
        durations("Kustomization", "apps", "infra", seconds=5)
        + durations("Kustomization", "apps-prod", "infra", seconds=50)
        + durations("HelmRelease", "staging", "infra", seconds=2)
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_duration_average_per_kind_spans_the_namespaces(tmp_path, generation):
    promtool_expr_test(
        tmp_path,
        generation,
        several_durations(),
        [
            {
                "expr": f"round({duration_rate_record('sum')} / {duration_rate_record('count')}, 0.001)",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{{kind="{kind}", namespace="flux-system"}}', "value": value}
                    for kind, value in (("HelmRelease", 2), ("Kustomization", 27.5))
                ],
            }
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_p99_per_kind_equals_the_raw_quantile(tmp_path, generation):
    buckets = FluxQueries(settings_for(generation)).duration_buckets(QUANTILE_WINDOW, ("namespace", "kind"))
    raw = f"histogram_quantile(0.99, {buckets})"
    promtool_expr_test(
        tmp_path,
        generation,
        several_durations(),
        [
            {
                "expr": f"{duration_quantile_record(0.99)} - on (namespace, kind) ({raw})",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{{kind="{kind}", namespace="flux-system"}}', "value": 0}
                    for kind in ("HelmRelease", "Kustomization")
                ],
            }
        ],
    )


def kustomize_controller(metric: str, pod: str, values: str) -> dict:
    labels = {
        **CONTROLLER_TARGET,
        "app": "kustomize-controller",
        "pod": pod,
        "controller": "kustomization",
        "name": "kustomization",
    }
    return {"series": selector(metric, labels), "values": values}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_controller_series_per_queue_and_controller(tmp_path, generation):
    """Work queue depth: the deepest pod's; reconciliations and errors: per second over both pods."""
    series = [
        kustomize_controller("workqueue_depth", "a", "3x60"),
        kustomize_controller("workqueue_depth", "b", "7x60"),
        kustomize_controller("controller_runtime_reconcile_total", "a", "0+60x60"),
        kustomize_controller("controller_runtime_reconcile_total", "b", "0+120x60"),
        kustomize_controller("controller_runtime_reconcile_errors_total", "a", "0+6x60"),
    ]
    queue = '{app="kustomize-controller", name="kustomization", namespace="flux-system"}'
    controller = '{app="kustomize-controller", controller="kustomization", namespace="flux-system"}'
    promtool_expr_test(
        tmp_path,
        generation,
        series,
        [
            {"expr": record, "eval_time": "10m", "exp_samples": [{"labels": record + labels, "value": value}]}
            for record, labels, value in (
                (WORKQUEUE_DEPTH, queue, 7),
                (RECONCILE_RATE, controller, 3),
                (RECONCILE_ERROR_RATE, controller, 0.1),
            )
        ],
    )


# SLOWEST + 4 objects spread over the namespaces: four fast ones (0.5 to 2 s, below the 2.17 s
# bound) and SLOWEST slow ones (10 to 19 s, in the bucket up to 31.9 s), so the p99s, which
# interpolate within a bucket, tell them apart too.
TIMED = [
    ("Kustomization", ("apps", "apps-prod", "staging")[i % 3], f"app-{i:02d}", (i + 1) * 0.5 if i < 4 else i + 6)
    for i in range(SLOWEST + 4)
]


def timed_durations() -> list[dict]:
    return [s for kind, ns, name, seconds in TIMED for s in durations(kind, ns, name, seconds=seconds)]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("record", (SLOWEST_AVERAGE, SLOWEST_P99))
def test_slowest_objects_are_recorded_for_the_slowest_only(tmp_path, generation, record):
    slowest = sorted(TIMED, key=lambda o: -o[3])[:SLOWEST]
    promtool_expr_test(
        tmp_path,
        generation,
        timed_durations(),
        [
            {
                "expr": f"count by (kind, exported_namespace, name) ({record})",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{{exported_namespace="{ns}", kind="{kind}", name="{name}"}}', "value": 1}
                    for kind, ns, name, _ in sorted(slowest)
                ],
            }
        ],
    )


def reconciling_ten_minutes_only(values: str) -> str:
    """A counter of ``durations`` ("0+<step>x60") that stops growing after ten minutes."""
    if not values.startswith("0+"):
        return values
    step = float(values[2:].split("x")[0])
    return f"0+{step:g}x10 {10 * step:g}x50"


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("record", (SLOWEST_AVERAGE, SLOWEST_P99))
def test_slowest_objects_include_an_object_that_reconciled_over_an_hour_ago(tmp_path, generation, record):
    """An hourly reconciler is in no 30m window most of the time, but in the 2h the panels show."""
    hourly = [
        {**s, "values": reconciling_ten_minutes_only(s["values"])}
        for s in durations("Kustomization", "apps", "hourly", seconds=20)
    ]
    promtool_expr_test(
        tmp_path,
        generation,
        hourly + durations("Kustomization", "apps", "busy", seconds=1),
        [
            {
                "expr": f"count by (name) ({OBJECT_P99})",
                "eval_time": "55m",
                "exp_samples": [{"labels": '{name="busy"}', "value": 1}],
            },
            {
                "expr": f"count by (name) ({record})",
                "eval_time": "55m",
                "exp_samples": [{"labels": f'{{name="{name}"}}', "value": 1} for name in ("busy", "hourly")],
            },
        ],
    )


# A recorded series in an expression, and the window it is read over, if any.
_RECORDED_OVER = re.compile(r"(flux:[a-z0-9_:]+)(?:\{[^{}]*\})?(?:\[(\w+)\])?")
# Prometheus' --query.lookback-delta default: an instant read finds a sample at most this old.
LOOKBACK_SECONDS = 300


def _queries(node) -> list[str]:
    """Every query of a dashboard model."""
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    found = [node["expr"]] if isinstance(node, dict) and isinstance(node.get("expr"), str) else []
    return found + [query for child in children for query in _queries(child)]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_series_recorded_less_often_than_the_lookback_is_read_over_more_than_its_interval(generation):
    # A series recorded every 10 or 15 minutes has no sample in the 5m an instant read looks back
    # most of the time: rules of other groups and every panel must read its last value over a
    # window longer than the interval (and the evaluation's own time).
    settings = settings_for(generation)
    groups = flux_rule_groups(settings)
    interval = {r["record"]: duration_seconds(g["interval"]) for g in groups for r in g["rules"] if "record" in r}
    assert max(interval.values()) > LOOKBACK_SECONDS  # the case exists
    readers = [(g["name"], r["expr"]) for g in groups for r in g["rules"]]
    for board in (cluster_dashboard(settings), control_plane_dashboard(settings)):
        readers += [("dashboard", query) for query in _queries(board)]
    read = 0
    for reader, expr in readers:
        for record, window in _RECORDED_OVER.findall(expr):
            own = any(record in {r.get("record") for r in g["rules"]} for g in groups if g["name"] == reader)
            if interval.get(record, 0) > LOOKBACK_SECONDS and not own:
                read += 1
                assert window and duration_seconds(window) > interval[record], (reader, record, window)
    assert read


def test_recorded_slowest_average_is_each_objects_reconcile_time(tmp_path):
    promtool_expr_test(
        tmp_path,
        "resource-info",
        timed_durations(),
        [
            {
                "expr": f"round(min({SLOWEST_AVERAGE}), 0.001)",
                "eval_time": "10m",
                "exp_samples": [{"labels": "{}", "value": 10}],
            }
        ],
    )


def bucket_p99(seconds: float) -> float:
    """histogram_quantile(0.99) of reconciles that all took ``seconds``: 99% of the way through
    the bucket holding them."""
    upper = min(float(le) for le in DURATION_BUCKET_LE if float(le) >= seconds)
    lower = max((float(le) for le in DURATION_BUCKET_LE if float(le) < seconds), default=0.0)
    return lower + 0.99 * (upper - lower)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_an_object_whose_pod_was_replaced_has_one_p99_and_average_its_slower_pods(tmp_path, generation):
    # Slow (20 s) on the old pod up to 20m, fast (1 s) on its replacement: at 35m both are in the
    # 30m window, and the object has one p99 and one average, the old pod's.
    series = replaced_pod(
        durations("Kustomization", "apps", "moved", seconds=20),
        durations("Kustomization", "apps", "moved", seconds=1),
        minute=20,
    )
    promtool_expr_test(
        tmp_path,
        generation,
        series,
        [
            {
                "expr": f"round({record}, 0.001)",
                "eval_time": "35m",
                "exp_samples": [
                    {
                        "labels": '{exported_namespace="apps", kind="Kustomization", name="moved"}',
                        "value": round(value, 3),
                    }
                ],
            }
            for record, value in ((OBJECT_P99, bucket_p99(20)), (OBJECT_AVERAGE, 20))
        ],
    )


# -- the cluster dashboard: recorded at All, raw for the selected namespaces ---------------------

COUNT_PANELS = {
    "Reconcilers ready": ("ready", {"Kustomization", "HelmRelease"}),
    "Reconcilers failing": ("failing", {"Kustomization", "HelmRelease"}),
    "Reconcilers unknown": ("unknown", {"Kustomization", "HelmRelease"}),
    "Sources unknown": ("unknown", {"GitRepository"}),
    "Sources failing": ("failing", {"GitRepository"}),
    "Suspended": ("suspended", {"HelmRelease"}),
}


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("namespaces", (ALL, *SELECTIONS))
def test_count_panels_count_the_objects_of_the_chosen_namespaces(tmp_path, generation, namespaces):
    """At All from the recorded totals, otherwise from the selected namespaces' raw series; 0 when none."""
    tests = []
    for title, (state, kinds) in COUNT_PANELS.items():
        objects = {o for o in in_namespaces(FLEET_STATES[state], namespaces) if o[0] in kinds}
        tests.append(
            {
                "expr": panel(generation, title, namespaces),
                "eval_time": "10m",
                "exp_samples": [{"labels": "{}", "value": len(objects)}],
            }
        )
    promtool_expr_test(tmp_path, generation, fleet(generation), tests)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_count_panels_at_all_read_only_the_recorded_totals(tmp_path, generation):
    """The raw side selects nothing at All: without the recorded totals the panel answers 0."""
    expr = panel(generation, "Reconcilers ready", ALL).replace(OBJECT_COUNT, "flux:not_recorded")
    promtool_expr_test(
        tmp_path,
        generation,
        fleet(generation),
        [{"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 0}]}],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("namespaces", (ALL, *SELECTIONS))
def test_tables_list_the_failing_and_suspended_objects_of_the_chosen_namespaces(tmp_path, generation, namespaces):
    tests = [
        {
            "expr": f"count by (kind, exported_namespace, name) ({panel(generation, title, namespaces)})",
            "eval_time": "10m",
            "exp_samples": [
                {"labels": f'{{exported_namespace="{ns}", kind="{kind}", name="{name}"}}', "value": 1}
                for kind, ns, name in sorted(in_namespaces(FLEET_STATES[state], namespaces))
            ],
        }
        for title, state in (("Failing objects", "failing"), ("Suspended objects", "suspended"))
    ]
    promtool_expr_test(tmp_path, generation, fleet(generation), tests)


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("namespaces", (ALL, *SELECTIONS))
def test_duration_panels_per_kind_equal_the_raw_queries_over_the_chosen_namespaces(tmp_path, generation, namespaces):
    raw = FluxQueries(settings_for(generation), object_namespace=namespaces)
    kinds = sorted(
        {
            kind
            for kind, ns in (("Kustomization", "apps"), ("Kustomization", "apps-prod"), ("HelmRelease", "staging"))
            if re.fullmatch(namespaces, ns)
        }
    )
    same = [{"labels": f'{{kind="{kind}"}}', "value": 0} for kind in kinds]
    promtool_expr_test(
        tmp_path,
        generation,
        several_durations(),
        [
            {
                "expr": f"round(({panel(generation, 'Average reconcile duration per kind', namespaces)})\n"
                f"- ({raw.duration_average(RECORD_WINDOW, ('kind',))}), 0.001)",
                "eval_time": "10m",
                "exp_samples": same,
            },
            {
                "expr": f"round(({panel(generation, 'p99 reconcile duration per kind', namespaces)})\n"
                f"- histogram_quantile(0.99, {raw.duration_buckets(QUANTILE_WINDOW, ('kind',))}), 0.001)",
                "eval_time": "10m",
                "exp_samples": same,
            },
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("namespaces", (ALL, *SELECTIONS))
@pytest.mark.parametrize(
    "title", ("Slowest 10 objects, average reconcile duration", "Slowest 10 objects, p99 reconcile duration")
)
def test_slowest_objects_panels_list_the_slowest_of_the_chosen_namespaces(tmp_path, generation, namespaces, title):
    chosen = [o for o in TIMED if re.fullmatch(namespaces, o[1])]
    slowest = sorted(chosen, key=lambda o: -o[3])[:SLOWEST]
    promtool_expr_test(
        tmp_path,
        generation,
        timed_durations(),
        [
            {
                "expr": f"count by (kind, exported_namespace, name) ({panel(generation, title, namespaces)})",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{{exported_namespace="{ns}", kind="{kind}", name="{name}"}}', "value": 1}
                    for kind, ns, name, _ in sorted(slowest)
                ],
            }
        ],
    )
