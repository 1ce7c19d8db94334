"""The recording rules, unit-tested with the real promtool in both metric generations.

Recorded values must equal the raw aggregation they stand for, on a small set of input series
labelled as a real scrape labels them (see test_signals_rules.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.signals.promql import (
    DURATION_BY, OBJECT_COUNT, RECONCILE_ERROR_RATE, RECONCILE_RATE, RECORD_WINDOW, WORKQUEUE_DEPTH, FluxQueries,
    duration_quantile_record, duration_rate_record, recording_rules,
)
from components.signals.rules import RECORDING_GROUP, RECORDING_INTERVAL, flux_rule_groups
from tests.signals_tools import require_tool
from tests.test_signals_rules import CONTROLLER_TARGET, GENERATIONS, durations, flux_object, selector, settings_for


def promtool_expr_test(tmp_path: Path, generation: str, series: list[dict], tests: list[dict]) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": flux_rule_groups(settings_for(generation))}))
    test = {"rule_files": [str(rules)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}]}
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def fleet(generation: str) -> list[dict]:
    return (flux_object(generation, "Kustomization", "apps", "ready")
            + flux_object(generation, "Kustomization", "apps", "broken", ready="False")
            + flux_object(generation, "Kustomization", "apps", "gone", ready="False", deleted=True)
            + flux_object(generation, "HelmRelease", "apps", "parked", ready="False", suspended=True)
            + flux_object(generation, "GitRepository", "apps", "new", ready="Unknown")
            + flux_object(generation, "Kustomization", "staging", "ready")
            + flux_object(generation, "Kustomization", "staging", "other")
            + flux_object(generation, "Alert", "apps", "on-call", ready=None))


def count(state: str, kind: str, namespace: str, value: int) -> dict:
    return {"labels": f'{OBJECT_COUNT}{{exported_namespace="{namespace}", kind="{kind}", state="{state}"}}',
            "value": value}


def test_recording_group_is_separate_with_an_explicit_interval():
    groups = flux_rule_groups(settings_for("resource-info"))
    (recording,) = [g for g in groups if g["name"] == RECORDING_GROUP]
    assert recording["interval"] == RECORDING_INTERVAL
    assert all("record" in r for r in recording["rules"])
    assert all("alert" in r for g in groups if g is not recording for r in g["rules"])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_object_counts_per_kind_namespace_and_state(tmp_path, generation):
    promtool_expr_test(tmp_path, generation, fleet(generation), [{
        "expr": OBJECT_COUNT, "eval_time": "10m",
        "exp_samples": [count("ready", "Kustomization", "apps", 1), count("failing", "Kustomization", "apps", 1),
                        count("suspended", "HelmRelease", "apps", 1), count("unknown", "GitRepository", "apps", 1),
                        count("ready", "Kustomization", "staging", 2)],
    }])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_duration_average_equals_the_reconcile_time(tmp_path, generation):
    series = durations("Kustomization", "apps", "infra", seconds=5) + durations("Kustomization", "staging", "infra",
                                                                                 seconds=50)
    labels = '{exported_namespace="apps", kind="Kustomization", namespace="flux-system"}'
    promtool_expr_test(tmp_path, generation, series, [{
        "expr": f"round({duration_rate_record('sum')}{{exported_namespace=\"apps\"}} / {duration_rate_record('count')}, 0.001)",
        "eval_time": "10m", "exp_samples": [{"labels": labels, "value": 5}],
    }])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_p99_per_kind_equals_the_raw_quantile(tmp_path, generation):
    series = durations("Kustomization", "apps", "infra", seconds=5) + durations("Kustomization", "staging", "infra",
                                                                                 seconds=50)
    raw = FluxQueries(settings_for(generation)).duration_quantile(0.99, RECORD_WINDOW, ("namespace", "kind"))
    promtool_expr_test(tmp_path, generation, series, [{
        "expr": f"{duration_quantile_record(0.99)} - on (namespace, kind) ({raw})", "eval_time": "10m",
        "exp_samples": [{"labels": '{kind="Kustomization", namespace="flux-system"}', "value": 0}],
    }])


def kustomize_controller(metric: str, pod: str, values: str) -> dict:
    labels = {**CONTROLLER_TARGET, "app": "kustomize-controller", "pod": pod, "controller": "kustomization",
              "name": "kustomization"}
    return {"series": selector(metric, labels), "values": values}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_controller_series_per_queue_and_controller(tmp_path, generation):
    """Work queue depth: the deepest pod's; reconciliations and errors: per second over both pods."""
    series = [kustomize_controller("workqueue_depth", "a", "3x60"), kustomize_controller("workqueue_depth", "b", "7x60"),
              kustomize_controller("controller_runtime_reconcile_total", "a", "0+60x60"),
              kustomize_controller("controller_runtime_reconcile_total", "b", "0+120x60"),
              kustomize_controller("controller_runtime_reconcile_errors_total", "a", "0+6x60")]
    queue = '{app="kustomize-controller", name="kustomization", namespace="flux-system"}'
    controller = '{app="kustomize-controller", controller="kustomization", namespace="flux-system"}'
    promtool_expr_test(tmp_path, generation, series, [
        {"expr": record, "eval_time": "10m", "exp_samples": [{"labels": record + labels, "value": value}]}
        for record, labels, value in ((WORKQUEUE_DEPTH, queue, 7), (RECONCILE_RATE, controller, 3),
                                      (RECONCILE_ERROR_RATE, controller, 0.1))])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_recorded_series_keep_the_labels_dashboards_filter_on(generation):
    for rule in recording_rules(settings_for(generation)):
        if rule["record"].startswith("flux:gotk_reconcile_duration_seconds_"):
            assert set(DURATION_BY) <= set(rule["expr"].split("(")[1].split(")")[0].replace(",", " ").split())
        elif rule["record"] == OBJECT_COUNT:
            assert "by (kind, exported_namespace)" in rule["expr"] and rule["labels"]["state"]
