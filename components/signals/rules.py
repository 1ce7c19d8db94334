"""Prometheus alert rules for Flux, the same alerts for both metric generations."""

from __future__ import annotations

from components.selectors import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from components.settings import AlertRule, Settings
from components.signals.promql import (
    ALL_KINDS, NOT_SOURCES, OBJECT_LABELS, SOURCES, FluxQueries, recording_rules,
)

RULE_NAME = "flux-monitoring"

# Reconciliations happen every few minutes per object; a shorter window would often hold no
# reconciliation at all and let the quantile flicker.
DURATION_WINDOW = "30m"

# The aggregates the dashboards read are recorded at this interval, in a group of their own:
# dashboards refresh every minute, so twice a minute keeps them current at a fraction of the
# cost of computing them from every object's series at each refresh.
RECORDING_GROUP = "flux-aggregates"
RECORDING_INTERVAL = "30s"

_OBJECT = "{{ $labels.kind }} {{ $labels.exported_namespace }}/{{ $labels.name }}"


def _alert(name: str, expr: str, rule: AlertRule, summary: str, description: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": rule.for_,
        "labels": {"severity": rule.severity},
        "annotations": {"summary": summary, "description": description},
    }


def flux_rule_groups(settings: Settings) -> list[dict]:
    """Prometheus rule groups (as in a rule file): alerts on Flux objects and controllers, and the
    recording rules of the aggregates the dashboards read.

    Alerts keep raw per-object expressions: they need each object's labels.
    """
    q = FluxQueries(settings)
    alerts = settings.alerts
    # Sources are left to FluxSourceFailure so that each failing object raises one alert; a
    # source that cannot fetch keeps serving its last artifact, which warrants its own threshold.
    rules = [
        _alert("ReconciliationFailure", q.objects("False", NOT_SOURCES), alerts.reconciliation_failure,
               f"{_OBJECT} reconciliation has been failing for more than {alerts.reconciliation_failure.for_}",
               "Its Ready condition is False; see `flux get` and the controller's logs."),
        _alert("FluxSourceFailure", q.objects("False", SOURCES), alerts.source_failure,
               f"{_OBJECT} has been failing to fetch for more than {alerts.source_failure.for_}",
               "Its Ready condition is False; objects built from it use its last artifact."),
        _alert("FluxObjectSuspended", q.suspended(ALL_KINDS), alerts.suspended,
               f"{_OBJECT} has been suspended for more than {alerts.suspended.for_}",
               "Flux does not reconcile it until it is resumed (flux resume)."),
        _alert("FluxControllerDown", q.controller_down(), alerts.controller_down,
               "Flux controller {{ $labels.app }} is down or missing",
               f"Prometheus cannot scrape {{{{ $labels.app }}}} in {settings.flux_namespace} "
               f"(or, for the core controllers, finds no target) for {alerts.controller_down.for_}."),
        # At or above: Flux's largest duration bucket is 10s, and histogram_quantile returns
        # exactly 10 when the quantile lies beyond it, so a 10s threshold must still fire.
        _alert("FluxReconcileDurationHigh",
               f"{q.duration_quantile(0.99, DURATION_WINDOW, OBJECT_LABELS)} >= {alerts.reconcile_duration.threshold:g}",
               alerts.reconcile_duration,
               f"{_OBJECT} p99 reconcile duration is {{{{ $value | humanizeDuration }}}} or more",
               f"At or above {alerts.reconcile_duration.threshold:g}s over {DURATION_WINDOW}, "
               f"for {alerts.reconcile_duration.for_}."),
        _alert("FluxWorkqueueBacklog",
               f"{q.workqueue_depth()} > {alerts.workqueue.threshold:g}",
               alerts.workqueue,
               "{{ $labels.app }} work queue {{ $labels.name }} holds {{ $value }} items",
               f"More than {alerts.workqueue.threshold:g} objects wait for reconciliation "
               f"for {alerts.workqueue.for_}: the controller cannot keep up."),
    ]
    return [{"name": "flux", "rules": rules},
            {"name": RECORDING_GROUP, "interval": RECORDING_INTERVAL, "rules": recording_rules(settings)}]


def flux_prometheus_rule(settings: Settings) -> dict:
    """The monitoring.coreos.com/v1 PrometheusRule holding ``flux_rule_groups``."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULE_NAME,
            "namespace": settings.namespace,
            "labels": {**PART_OF_LABELS, **PROMETHEUS_SELECTOR_LABELS},
        },
        "spec": {"groups": flux_rule_groups(settings)},
    }
