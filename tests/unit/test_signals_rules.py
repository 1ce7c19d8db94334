"""The Flux alert rules, checked and unit-tested with the real promtool, for every metric source.

Input series carry the labels a real scrape gives them: controller metrics arrive through the
PodMonitor (pod namespace in ``namespace``, the object's in ``exported_namespace``), kube-state-
metrics' gotk_resource_info through the chart's ServiceMonitor (honorLabels: true), the Flux
Operator's flux_resource_info through its PodMonitor. Label forms follow the release matrix
(../shared/upstream/flux/MATRIX.md §1d-§1f): legacy series as Flux 2.0 records them (a deleted
object keeps Deleted=1), kube-state-metrics' ``suspended="true"``, the operator's ``suspended="True"``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.flux.release import DURATION_BUCKET_LE
from flux_monitoring.signals.rules import flux_prometheus_rule, flux_rule_groups
from tests.support.signals_tools import require_tool

GENERATIONS = ("resource-info", "legacy", "flux-operator")
# The legacy gauges with the Deleted status: Flux 2.0 (the other sources: the newest release).
VERSIONS = {"legacy": "2.0"}
CONTROLLER_TARGET = {
    "job": "monitoring/flux-system",
    "namespace": "flux-system",
    "container": "manager",
    "endpoint": "http-prom",
}
OPERATOR_TARGET = {
    "job": "monitoring/flux-operator",
    "namespace": "flux-system",
    "container": "manager",
    "endpoint": "http-metrics",
    "pod": "flux-operator-7c9d8",
    "app": "flux-operator",
}
KSM_TARGET = {"job": "kube-state-metrics", "namespace": "monitoring", "instance": "10.0.0.9:8080"}
GROUPS = {
    "Kustomization": "kustomize.toolkit.fluxcd.io",
    "HelmRelease": "helm.toolkit.fluxcd.io",
    "GitRepository": "source.toolkit.fluxcd.io",
    "Alert": "notification.toolkit.fluxcd.io",
}
CORE_CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")


def settings_for(generation: str, alerts: str | None = None):
    raw = {"fluxMetrics": generation, **({"fluxVersion": VERSIONS[generation]} if generation in VERSIONS else {})}
    if alerts:
        raw["alerts"] = alerts
    return load_settings(raw, kube_context="test")


def selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


# The Ready reasons a controller sets (fluxcd/pkg apis/meta).
REASONS = {"True": "ReconciliationSucceeded", "False": "ReconciliationFailed", "Unknown": "Progressing"}


def flux_object(
    generation: str,
    kind: str,
    namespace: str,
    name: str,
    values: str = "1x60",
    ready: str | None = "True",
    suspended: bool = False,
    deleted: bool = False,
) -> list[dict]:
    """The input series that describe one Flux object in ``generation``.

    ``values`` is the promtool notation of the object's lifetime. A deleted object (deleted after
    2 minutes) vanishes from kube-state-metrics; its legacy series stay, the controller having set
    Deleted=1 and True, False and Unknown to 0 (fluxcd/pkg runtime/metrics RecordCondition).
    ``ready`` None is a kind without a Ready condition (Alert, Provider): no ready label in
    kube-state-metrics, and no legacy series, as the controllers do not reconcile it.
    """
    if generation == "legacy":
        if ready is None:
            return []
        owner = {**CONTROLLER_TARGET, "app": "kustomize-controller", "pod": "kustomize-controller-5d7c9"}
        obj = {**owner, "kind": kind, "exported_namespace": namespace, "name": name}

        def lifetime(status: str) -> str:
            if deleted:
                return {ready: "1x2 0x58", "Deleted": "0x2 1x58"}.get(status, "0x60")
            return values.replace("1x", f"{int(status == ready)}x")

        conditions = [
            {
                "series": selector("gotk_reconcile_condition", {**obj, "type": "Ready", "status": s}),
                "values": lifetime(s),
            }
            for s in ("True", "False", "Unknown", "Deleted")
        ]
        return [
            *conditions,
            {"series": selector("gotk_suspend_status", obj), "values": values.replace("1x", f"{int(suspended)}x")},
        ]
    if deleted:
        values = "1x2 _x58"
    if generation == "flux-operator":
        # Alerts and Providers have no status: the operator reports them ready.
        info = {
            **OPERATOR_TARGET,
            "kind": kind,
            "exported_namespace": namespace,
            "name": name,
            "ready": ready or "True",
            "reason": REASONS.get(ready or "True", ""),
            "suspended": str(suspended),
            "revision": "main@sha1:0a1b2c",
            "uid": f"{namespace}-{name}",
        }
        return [{"series": selector("flux_resource_info", info), "values": values}]
    info = {
        **KSM_TARGET,
        "customresource_group": GROUPS[kind],
        "customresource_kind": kind,
        "customresource_version": "v1",
        "exported_namespace": namespace,
        "name": name,
        **({"ready": ready, "reason": REASONS[ready]} if ready is not None else {}),
        "suspended": str(suspended).lower(),
        "revision": "main@sha1:0a1b2c",
    }
    return [{"series": selector("gotk_resource_info", info), "values": values}]


def controller_up(app: str, values: str = "1x60") -> dict:
    return {"series": selector("up", {**CONTROLLER_TARGET, "app": app, "pod": f"{app}-5d7c9"}), "values": values}


def healthy_controllers(generation: str, except_app: str | None = None) -> list[dict]:
    """The default controllers up, and the Flux Operator where it is the metric source."""
    operator = [{"series": selector("up", OPERATOR_TARGET), "values": "1x60"}] if generation == "flux-operator" else []
    return [controller_up(app) for app in CORE_CONTROLLERS if app != except_app] + operator


def durations(kind: str, namespace: str, name: str, seconds: float) -> list[dict]:
    """A reconcile duration histogram with one reconciliation a minute, each taking ``seconds``."""
    obj = {
        **CONTROLLER_TARGET,
        "app": "kustomize-controller",
        "pod": "kustomize-controller-5d7c9",
        "kind": kind,
        "exported_namespace": namespace,
        "name": name,
    }
    # Flux's own bucket bounds, as its Go client writes them (MATRIX Appendix B: 0.01 ... 1799.9999999999986).
    bounds = [*list(DURATION_BUCKET_LE), "+Inf"]
    series = [
        {
            "series": selector("gotk_reconcile_duration_seconds_bucket", {**obj, "le": le}),
            "values": "0+1x60" if seconds <= float(le) else "0x60",
        }
        for le in bounds
    ]
    return [
        *series,
        {"series": selector("gotk_reconcile_duration_seconds_count", obj), "values": "0+1x60"},
        {"series": selector("gotk_reconcile_duration_seconds_sum", obj), "values": f"0+{seconds}x60"},
    ]


def promtool_test(
    tmp_path: Path,
    generation: str,
    series: list[dict],
    eval_time: str,
    alertname: str,
    exp_alerts: list[dict],
    alerts: str | None = None,
    annotations: bool = False,
) -> None:
    """Runs one promtool alert test against the generated rules; fails with promtool's report.

    promtool compares annotations too; they are dropped unless the test is about them.
    """
    promtool = require_tool("promtool")
    groups = flux_rule_groups(settings_for(generation, alerts))
    if not annotations:
        groups = [
            {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]} for g in groups
        ]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "external_labels": {"cluster": "eu-west-1"},  # as the Prometheus Operator sets them
                "input_series": series,
                "alert_rule_test": [{"eval_time": eval_time, "alertname": alertname, "exp_alerts": exp_alerts}],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def object_alert(severity: str, kind: str, namespace: str, name: str) -> dict:
    return {"exp_labels": {"severity": severity, "kind": kind, "exported_namespace": namespace, "name": name}}


# -- the rule file ----------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_promtool_accepts_the_rule_groups(tmp_path, generation):
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": flux_rule_groups(settings_for(generation))}))
    result = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_rule_is_selected_by_prometheus_and_holds_the_groups():
    settings = load_settings({"namespace": "observability"}, kube_context="test")
    rule = flux_prometheus_rule(settings)
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["name"] == "flux-monitoring"
    assert rule["metadata"]["namespace"] == "observability"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"]["groups"] == flux_rule_groups(settings)


def test_every_source_defines_the_same_object_and_controller_alerts():
    def alerts(gen: str) -> list[tuple]:
        return [
            (r["alert"], r["for"], r["labels"]["severity"])
            for g in flux_rule_groups(settings_for(gen))
            for r in g["rules"]
            if "alert" in r
        ]

    legacy = alerts("legacy")
    assert legacy == alerts("resource-info")
    assert ("ReconciliationFailure", "10m", "page") in legacy
    # Only the Flux Operator knows the FluxInstance.
    assert alerts("flux-operator") == [*legacy, ("FluxInstanceNotReady", "10m", "page")]


# -- ReconciliationFailure -------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_names_the_failing_object_not_its_namesake(tmp_path, generation):
    series = flux_object(generation, "Kustomization", "apps", "podinfo", ready="False") + flux_object(
        generation, "Kustomization", "staging", "podinfo", ready="True"
    )
    promtool_test(
        tmp_path,
        generation,
        series,
        "15m",
        "ReconciliationFailure",
        [object_alert("page", "Kustomization", "apps", "podinfo")],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_summary_names_kind_and_namespaced_object(tmp_path, generation):
    series = flux_object(generation, "Kustomization", "apps", "podinfo", ready="False")
    alert = object_alert("page", "Kustomization", "apps", "podinfo")
    alert["exp_annotations"] = {
        "summary": "Kustomization apps/podinfo reconciliation has been failing for more than 10m in cluster eu-west-1",
        "description": "Its Ready condition is False; see `flux get` and the controller's logs."
        + ("" if generation == "legacy" else " Reason: ReconciliationFailed."),
    }
    promtool_test(tmp_path, generation, series, "15m", "ReconciliationFailure", [alert], annotations=True)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_waits_for_its_for_duration(tmp_path, generation):
    series = flux_object(generation, "HelmRelease", "apps", "redis", ready="False")
    promtool_test(tmp_path, generation, series, "9m", "ReconciliationFailure", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_for_duration_comes_from_settings(tmp_path, generation):
    series = flux_object(generation, "HelmRelease", "apps", "redis", ready="False")
    promtool_test(
        tmp_path,
        generation,
        series,
        "4m",
        "ReconciliationFailure",
        [object_alert("critical", "HelmRelease", "apps", "redis")],
        alerts='{"reconciliationFailure": {"for": "3m", "severity": "critical"}}',
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_ignores_healthy_deleted_and_suspended_objects(tmp_path, generation):
    series = (
        flux_object(generation, "Kustomization", "apps", "healthy")
        + flux_object(generation, "Kustomization", "apps", "gone", ready="False", deleted=True)
        + flux_object(generation, "Kustomization", "apps", "parked", ready="False", suspended=True)
    )
    promtool_test(tmp_path, generation, series, "30m", "ReconciliationFailure", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconciliation_failure_leaves_sources_to_source_failure(tmp_path, generation):
    series = flux_object(generation, "GitRepository", "apps", "podinfo", ready="False")
    promtool_test(tmp_path, generation, series, "30m", "ReconciliationFailure", [])


# -- FluxSourceFailure -----------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_source_failure_names_the_failing_source_not_its_namesake(tmp_path, generation):
    series = flux_object(generation, "GitRepository", "apps", "podinfo", ready="False") + flux_object(
        generation, "GitRepository", "staging", "podinfo"
    )
    promtool_test(
        tmp_path,
        generation,
        series,
        "20m",
        "FluxSourceFailure",
        [object_alert("warning", "GitRepository", "apps", "podinfo")],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_source_failure_waits_for_its_for_duration(tmp_path, generation):
    series = flux_object(generation, "GitRepository", "apps", "podinfo", ready="False")
    promtool_test(tmp_path, generation, series, "14m", "FluxSourceFailure", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_source_failure_ignores_healthy_deleted_and_suspended_sources(tmp_path, generation):
    series = (
        flux_object(generation, "GitRepository", "apps", "healthy")
        + flux_object(generation, "GitRepository", "apps", "gone", ready="False", deleted=True)
        + flux_object(generation, "GitRepository", "apps", "parked", ready="False", suspended=True)
    )
    promtool_test(tmp_path, generation, series, "30m", "FluxSourceFailure", [])


# -- FluxObjectSuspended ---------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_suspended_fires_for_the_suspended_object_after_its_threshold(tmp_path, generation):
    series = flux_object(generation, "HelmRelease", "apps", "redis", suspended=True, values="1x1500") + flux_object(
        generation, "HelmRelease", "staging", "redis", values="1x1500"
    )
    promtool_test(
        tmp_path,
        generation,
        series,
        "25h",
        "FluxObjectSuspended",
        [object_alert("warning", "HelmRelease", "apps", "redis")],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_suspended_ignores_a_suspended_object_once_deleted(tmp_path, generation):
    # Legacy controllers leave gotk_suspend_status at 1 beside Deleted=1.
    series = flux_object(generation, "HelmRelease", "apps", "redis", suspended=True, deleted=True)
    promtool_test(
        tmp_path, generation, series, "59m", "FluxObjectSuspended", [], alerts='{"suspended": {"for": "30m"}}'
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_suspended_waits_for_its_threshold(tmp_path, generation):
    series = flux_object(generation, "HelmRelease", "apps", "redis", suspended=True, values="1x1500")
    promtool_test(tmp_path, generation, series, "23h", "FluxObjectSuspended", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_suspended_threshold_comes_from_settings(tmp_path, generation):
    series = flux_object(generation, "HelmRelease", "apps", "redis", suspended=True, values="1x180")
    promtool_test(
        tmp_path,
        generation,
        series,
        "2h",
        "FluxObjectSuspended",
        [object_alert("info", "HelmRelease", "apps", "redis")],
        alerts='{"suspended": {"for": "1h", "severity": "info"}}',
    )


# -- FluxControllerDown ----------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_controller_down_fires_for_the_controller_that_cannot_be_scraped(tmp_path, generation):
    series = [*healthy_controllers(generation, except_app="helm-controller"), controller_up("helm-controller", "0x60")]
    promtool_test(
        tmp_path,
        generation,
        series,
        "10m",
        "FluxControllerDown",
        [
            {
                "exp_labels": {
                    "severity": "page",
                    "app": "helm-controller",
                    "pod": "helm-controller-5d7c9",
                    **CONTROLLER_TARGET,
                }
            }
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_controller_down_fires_when_a_core_controller_has_no_target(tmp_path, generation):
    series = healthy_controllers(generation, except_app="source-controller")
    promtool_test(
        tmp_path,
        generation,
        series,
        "10m",
        "FluxControllerDown",
        [{"exp_labels": {"severity": "page", "app": "source-controller", "job": "monitoring/flux-system"}}],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_controller_down_waits_for_its_for_duration(tmp_path, generation):
    series = [*healthy_controllers(generation, except_app="helm-controller"), controller_up("helm-controller", "0x60")]
    promtool_test(tmp_path, generation, series, "4m", "FluxControllerDown", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_controller_down_stays_quiet_while_controllers_are_up(tmp_path, generation):
    promtool_test(tmp_path, generation, healthy_controllers(generation), "30m", "FluxControllerDown", [])


# -- FluxReconcileDurationHigh ---------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconcile_duration_fires_for_the_slow_object_not_its_namesake(tmp_path, generation):
    series = durations("Kustomization", "apps", "infra", seconds=500) + durations(
        "Kustomization", "staging", "infra", seconds=0.5
    )
    promtool_test(
        tmp_path,
        generation,
        series,
        "40m",
        "FluxReconcileDurationHigh",
        [object_alert("warning", "Kustomization", "apps", "infra")],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconcile_duration_waits_for_its_for_duration(tmp_path, generation):
    series = durations("Kustomization", "apps", "infra", seconds=500)
    promtool_test(tmp_path, generation, series, "20m", "FluxReconcileDurationHigh", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_reconcile_duration_threshold_comes_from_settings(tmp_path, generation):
    series = durations("Kustomization", "apps", "infra", seconds=0.5)
    promtool_test(tmp_path, generation, series, "40m", "FluxReconcileDurationHigh", [])
    promtool_test(
        tmp_path,
        generation,
        series,
        "40m",
        "FluxReconcileDurationHigh",
        [object_alert("warning", "Kustomization", "apps", "infra")],
        alerts='{"reconcileDuration": {"p99Seconds": 0.2}}',
    )


# -- FluxWorkqueueBacklog --------------------------------------------------------------------


def workqueue_depth(app: str, queue: str, values: str) -> dict:
    labels = {**CONTROLLER_TARGET, "app": app, "pod": f"{app}-5d7c9", "name": queue, "controller": queue}
    return {"series": selector("workqueue_depth", labels), "values": values}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_workqueue_backlog_fires_for_the_backed_up_queue(tmp_path, generation):
    series = [
        workqueue_depth("kustomize-controller", "kustomization", "150x60"),
        workqueue_depth("helm-controller", "helmrelease", "3x60"),
    ]
    promtool_test(
        tmp_path,
        generation,
        series,
        "20m",
        "FluxWorkqueueBacklog",
        [
            {
                "exp_labels": {
                    "severity": "warning",
                    "namespace": "flux-system",
                    "app": "kustomize-controller",
                    "name": "kustomization",
                }
            }
        ],
    )


@pytest.mark.parametrize("generation", GENERATIONS)
def test_workqueue_backlog_waits_for_its_for_duration(tmp_path, generation):
    series = [workqueue_depth("kustomize-controller", "kustomization", "150x60")]
    promtool_test(tmp_path, generation, series, "10m", "FluxWorkqueueBacklog", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_workqueue_backlog_threshold_comes_from_settings(tmp_path, generation):
    series = [workqueue_depth("kustomize-controller", "kustomization", "30x60")]
    promtool_test(
        tmp_path,
        generation,
        series,
        "20m",
        "FluxWorkqueueBacklog",
        [
            {
                "exp_labels": {
                    "severity": "warning",
                    "namespace": "flux-system",
                    "app": "kustomize-controller",
                    "name": "kustomization",
                }
            }
        ],
        alerts='{"workqueue": {"depth": 20}}',
    )


# The real histogram (MATRIX Appendix B): a threshold above 10s fires, one at the top bucket too.


@pytest.mark.parametrize(
    "threshold, slowest, below",
    [
        (60, 500, 20),
        # histogram_quantile reports a quantile in the +Inf bucket as the top bound, 1799.9999999999986:
        # written as 1800 the threshold could never be reached.
        (1799.9999999999986, 2400, 500),
    ],
    ids=["above-10s", "top-bucket"],
)
def test_reconcile_duration_threshold_on_the_real_histogram_fires_for_the_object_above_it(
    tmp_path, threshold, slowest, below
):
    series = durations("HelmRelease", "apps", "slow", seconds=slowest) + durations(
        "HelmRelease", "apps", "fast", seconds=below
    )
    promtool_test(
        tmp_path,
        "resource-info",
        series,
        "40m",
        "FluxReconcileDurationHigh",
        [object_alert("warning", "HelmRelease", "apps", "slow")],
        alerts=json.dumps({"reconcileDuration": {"p99Seconds": threshold}}),
    )


def test_the_default_reconcile_duration_threshold_lets_a_one_minute_helm_release_be(tmp_path):
    series = durations("HelmRelease", "apps", "minute", seconds=60)
    promtool_test(tmp_path, "resource-info", series, "40m", "FluxReconcileDurationHigh", [])


# -- FluxInstanceNotReady (flux-operator) ----------------------------------------------------


def flux_instance(ready: str, reason: str) -> dict:
    labels = {
        **OPERATOR_TARGET,
        "kind": "FluxInstance",
        "name": "flux",
        "exported_namespace": "flux-system",
        "ready": ready,
        "reason": reason,
        "suspended": "False",
        "uid": "1",
        "revision": f"v2.9.4@sha256:{'a' * 64}",
    }
    return {"series": selector("flux_instance_info", labels), "values": "1x60"}


def test_flux_instance_not_ready_names_the_instance_and_its_reason(tmp_path):
    alert = {
        "exp_labels": {"severity": "page", "exported_namespace": "flux-system", "name": "flux"},
        "exp_annotations": {
            "summary": "FluxInstance flux-system/flux has not been ready for more than 10m in cluster eu-west-1",
            "description": "The Flux Operator reports it not ready; see `kubectl describe fluxinstance` and "
            "the operator's logs. Reason: ReconciliationFailed.",
        },
    }
    promtool_test(
        tmp_path,
        "flux-operator",
        [flux_instance("False", "ReconciliationFailed")],
        "15m",
        "FluxInstanceNotReady",
        [alert],
        annotations=True,
    )


def test_flux_instance_not_ready_stays_quiet_while_it_is_ready(tmp_path):
    promtool_test(
        tmp_path, "flux-operator", [flux_instance("True", "ReconciliationSucceeded")], "30m", "FluxInstanceNotReady", []
    )


# -- per-object duration panels: objects that reconcile every hour ------------------------------


def hourly_durations(kind: str, namespace: str, name: str, seconds: float) -> list[dict]:
    """A duration histogram of an object reconciled once an hour (Flux's usual interval), at minute 30."""
    obj = {
        **CONTROLLER_TARGET,
        "app": "helm-controller",
        "pod": "helm-controller-5d7c9",
        "kind": kind,
        "exported_namespace": namespace,
        "name": name,
    }

    def hourly(step: float) -> str:
        return f"0x29 {step:g}x59 {2 * step:g}x59 {3 * step:g}x59"

    series = [
        {
            "series": selector("gotk_reconcile_duration_seconds_bucket", {**obj, "le": le}),
            "values": hourly(1 if seconds <= float(le) else 0),
        }
        for le in [*DURATION_BUCKET_LE, "+Inf"]
    ]
    return [
        *series,
        {"series": selector("gotk_reconcile_duration_seconds_count", obj), "values": hourly(1)},
        {"series": selector("gotk_reconcile_duration_seconds_sum", obj), "values": hourly(seconds)},
    ]


def promtool_expr_test(
    tmp_path: Path, series: list[dict], expr: str, eval_time: str, samples: list[dict], groups: list[dict] | None = None
) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups or []}))
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": expr, "eval_time": eval_time, "exp_samples": samples}],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


SLOWEST_PANELS = ("Slowest 10 objects, average reconcile duration", "Slowest 10 objects, p99 reconcile duration")


@pytest.mark.parametrize("title", SLOWEST_PANELS)
def test_slowest_objects_panels_show_an_object_that_reconciles_hourly(tmp_path, title):
    from flux_monitoring.signals.dashboards import cluster_dashboard

    model = cluster_dashboard(settings_for("resource-info"))
    (panel,) = [p for p in model["panels"] if p["title"] == title]
    expr = panel["targets"][0]["expr"].replace("$exported_namespace", ".*").replace("$cluster", ".*")
    series = hourly_durations("HelmRelease", "apps", "podinfo", seconds=45)
    shown = f"count by (kind, exported_namespace, name) ({expr} > 0)"
    # The panels read recorded series (test_recording_rules.py).
    groups = flux_rule_groups(settings_for("resource-info"))
    # 3h20m: the last reconciliation was 50 minutes ago; the panel still shows the object...
    promtool_expr_test(
        tmp_path,
        series,
        shown,
        "200m",
        [{"labels": '{exported_namespace="apps", kind="HelmRelease", name="podinfo"}', "value": 1}],
        groups,
    )
    # ...where a window of a few scrape intervals ($__rate_interval) would not.
    short = [{**g, "rules": [{**r, "expr": r["expr"].replace("[2h]", "[5m]")} for r in g["rules"]]} for g in groups]
    promtool_expr_test(tmp_path, series, shown.replace("[2h]", "[5m]"), "200m", [], short)
