"""Delivery SLOs per tenant: each namespace's Kustomizations and HelmReleases, the fraction of
object-time they are not failing recorded per namespace, defended by multi-window multi-burn-rate
alerts (Google SRE workbook) and shown as the error budget left; promtool evaluates the real rules.

Input series are gotk_resource_info as kube-state-metrics exports it (tests/unit/test_signals_rules.py):
an object whose Ready condition changes gets a new series with the new ready label.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from flux_monitoring.config.settings import SettingsError, load_settings
from flux_monitoring.config.slo import BURN_RATES, error_budget, lowest_objective
from flux_monitoring.signals.dashboards import cluster_dashboard
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.signals_tools import require_tool

KSM = {"job": "kube-state-metrics", "namespace": "monitoring", "instance": "10.0.0.9:8080"}
FAST, SLOW = (rate.alert for rate in BURN_RATES)


def settings(objective: float = 99.5, window: str = "30d", retention: str = "30d"):
    return load_settings(
        {
            "slo": json.dumps({"objective": objective, "window": window}),
            "prometheus": json.dumps({"retention": retention}),
        },
        kube_context="test",
    )


def problem(**raw) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings({k: json.dumps(v) for k, v in raw.items()}, kube_context="test")
    [found] = caught.value.problems
    return found


def kustomization(namespace: str, name: str, ready: str, values: str) -> dict:
    labels = {
        **KSM,
        "customresource_group": "kustomize.toolkit.fluxcd.io",
        "customresource_kind": "Kustomization",
        "customresource_version": "v1",
        "exported_namespace": namespace,
        "name": name,
        "ready": ready,
        "reason": {"True": "ReconciliationSucceeded", "False": "ReconciliationFailed"}[ready],
        "suspended": "false",
    }
    return {
        "series": "gotk_resource_info{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
        "values": values,
    }


def namespace_of_ten(namespace: str, healthy: int, failing: int, after: int) -> list[dict]:
    """Ten Kustomizations sampled every minute: nine always ready, one ready for ``healthy`` minutes,
    failing for ``failing`` minutes, then ready again for ``after`` minutes. A series that ends is
    marked stale at its next scrape, as Prometheus does when kube-state-metrics stops exporting it."""
    total = healthy + failing + after
    series = [kustomization(namespace, f"app-{i}", "True", f"1x{total - 1}") for i in range(1, 10)]
    ready = f"1x{healthy - 1} stale _x{failing - 1}" + (f" 1x{after - 1}" if after else "")
    series.append(kustomization(namespace, "app-0", "True", ready))
    series.append(
        kustomization(namespace, "app-0", "False", f"_x{healthy} 1x{failing - 1}" + (" stale" if after else ""))
    )
    return series


def promtool(tmp_path: Path, rules, series: list[dict], tests: dict) -> None:
    """promtool's unit test of ``tests`` on the rules of ``rules`` (annotations aside: promtool
    compares them too, and their text is tested below)."""
    groups = [
        {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
        for g in flux_rule_groups(rules)
    ]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, **tests}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run(
        [require_tool("promtool"), "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def no_budget_alerts(*minutes: int) -> list[dict]:
    return [{"eval_time": f"{m}m", "alertname": name, "exp_alerts": []} for m in minutes for name in (FAST, SLOW)]


# -- settings -------------------------------------------------------------------------------------------


def test_slo_is_off_unless_set():
    plain = load_settings({}, kube_context="test")
    assert plain.slo is None
    names = {r.get("alert") or r.get("record") for g in flux_rule_groups(plain) for r in g["rules"]}
    assert not {n for n in names if "slo" in n or "Budget" in n}


def test_the_objective_is_a_percentage_below_100():
    assert problem(slo={"objective": 100}).startswith("slo.objective: got 100; expected a percentage above 0 and below")
    assert problem(slo={}).startswith("slo.objective: got null; expected a percentage above 0 and below 100, such as")


def test_an_objective_too_low_for_the_fast_burn_to_ever_page_is_refused():
    # 14.4 x a budget of 7% is above 100%: not even every object failing would page.
    lowest = lowest_objective("30d")
    assert 93 < lowest < 93.1
    found = problem(slo={"objective": 93}, prometheus={"retention": "30d"})
    assert found.startswith("slo.objective: got 93; expected a percentage above 93.06 and below 100 with window 30d")


def test_the_window_is_at_least_a_day_and_at_most_the_retention():
    assert problem(slo={"objective": 99, "window": "12h"}).startswith('slo.window: got "12h"; expected a Prometheus')
    found = problem(slo={"objective": 99.5})  # prometheus.retention defaults to 10d
    assert found.startswith('slo.window: got "30d"; expected at most prometheus.retention (10d)')


def test_the_burn_rates_are_the_workbooks_for_a_30_day_window_and_scale_with_it():
    assert [rate.factor("30d") for rate in BURN_RATES] == pytest.approx([14.4, 6])
    assert [rate.factor("7d") for rate in BURN_RATES] == pytest.approx([3.36, 1.4])
    assert error_budget(99.5) == 0.005


# -- the alerts, on the real rules ----------------------------------------------------------------------


def test_a_namespace_with_one_of_ten_objects_failing_for_an_hour_pages(tmp_path):
    # Six healthy hours, then app-0 fails: 10% of the object-time, 20x the budget of 99.5%.
    series = namespace_of_ten("shop", healthy=360, failing=61, after=0)
    page = {"exp_labels": {"severity": "page", "exported_namespace": "shop"}}
    tests = {
        "alert_rule_test": [
            # After half an hour the 1h window has burnt 5% (under 14.4 x 0.5% = 7.2%): not yet.
            {"eval_time": "390m", "alertname": FAST, "exp_alerts": []},
            {"eval_time": "420m", "alertname": FAST, "exp_alerts": [page]},
            # The 6h window holds only one failing hour: 1.7%, under 6 x 0.5% = 3%: no ticket yet.
            {"eval_time": "420m", "alertname": SLOW, "exp_alerts": []},
        ]
    }
    promtool(tmp_path, settings(), series, tests)


def test_one_of_ten_objects_failing_for_ten_minutes_in_a_day_does_not_alert(tmp_path):
    series = namespace_of_ten("shop", healthy=720, failing=10, after=710)
    # At the end of the failure (the 5m window at 10%), and after it.
    tests = {"alert_rule_test": no_budget_alerts(725, 730, 735, 760, 790, 1080, 1439)}
    promtool(tmp_path, settings(), series, tests)


def test_a_healthy_namespace_beside_a_failing_one_does_not_page(tmp_path):
    series = namespace_of_ten("shop", healthy=360, failing=61, after=0) + [
        kustomization("search", f"app-{i}", "True", "1x420") for i in range(10)
    ]
    page = {"exp_labels": {"severity": "page", "exported_namespace": "shop"}}
    promtool(
        tmp_path,
        settings(),
        series,
        {"alert_rule_test": [{"eval_time": "420m", "alertname": FAST, "exp_alerts": [page]}]},
    )


def test_the_budget_panel_reads_the_recorded_sli_per_namespace(tmp_path):
    """One of four objects failing at every moment (first one, then another): a ratio of exactly 1/4,
    whatever the sampling; a namespace without failures has its whole budget left."""
    rules = settings(window="1d")
    series = [
        kustomization("shop", "a", "False", "1x59 stale"),
        kustomization("shop", "a", "True", "_x60 1x59"),
        kustomization("shop", "b", "True", "1x59 stale"),
        kustomization("shop", "b", "False", "_x60 1x59"),
        kustomization("shop", "c", "True", "1x119"),
        kustomization("shop", "d", "True", "1x119"),
        kustomization("search", "e", "True", "1x119"),
    ]
    [panel] = [p for p in cluster_dashboard(rules)["panels"] if p["title"].startswith("Delivery error budget left")]
    query = panel["targets"][0]["expr"].replace("$exported_namespace", ".*").replace("$cluster", ".*")
    budget = error_budget(99.5)
    tests = {
        "promql_expr_test": [
            {
                "expr": "flux:slo_errors:ratio_rate1d",
                "eval_time": "119m",
                "exp_samples": [
                    {"labels": 'flux:slo_errors:ratio_rate1d{exported_namespace="shop"}', "value": 0.25},
                    {"labels": 'flux:slo_errors:ratio_rate1d{exported_namespace="search"}', "value": 0},
                ],
            },
            {
                "expr": query,
                "eval_time": "119m",
                "exp_samples": [
                    {"labels": '{exported_namespace="shop"}', "value": 1 - 0.25 / budget},
                    {"labels": '{exported_namespace="search"}', "value": 1},
                ],
            },
        ]
    }
    promtool(tmp_path, rules, series, tests)


def test_budget_alerts_carry_the_namespace_for_byNamespace_routing_and_link_their_runbook():
    rules = {r["alert"]: r for g in flux_rule_groups(settings()) for r in g["rules"] if "alert" in r}
    for name in (FAST, SLOW):
        assert rules[name]["annotations"]["runbook_url"] == f"docs/runbooks.md#{name.lower()}"
        assert "{{ $labels.exported_namespace }}" in rules[name]["annotations"]["summary"]
    assert "spent in 2d2h" in rules[FAST]["annotations"]["description"]
    assert "spent in 5d" in rules[SLOW]["annotations"]["description"]
