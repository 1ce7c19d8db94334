"""Prometheus alert rules for Flux, the same alerts for every metric source (the Flux Operator's
adds one on the FluxInstance)."""

from __future__ import annotations

from flux_monitoring.config.alerting import duration_seconds
from flux_monitoring.config.alerts import ALERTS, Alert, fill, runbook_url, settings_of
from flux_monitoring.config.names import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from flux_monitoring.config.settings import AlertRule, Settings, SloSettings
from flux_monitoring.config.slo import ALERT_WINDOWS, BURN_RATES, error_budget
from flux_monitoring.flux.release import DURATION_THRESHOLDS, bound_text, format_bound
from flux_monitoring.signals.promql import (
    ALL_KINDS,
    FAILING_OBJECTS,
    NOT_SOURCES,
    OBJECT_DURATIONS_INTERVAL,
    OBJECT_P99_WINDOW,
    QUANTILE_WINDOW,
    SLO_SUM_WINDOW,
    SOURCES,
    SUSPENDED_OBJECTS,
    FluxQueries,
    duration_quantile_rules,
    duration_rules,
    heartbeat_rule,
    instances_not_ready,
    object_duration_rules,
    object_rules,
    per_object,
    slo_budget_rules,
    slo_count_rules,
    slo_error_ratio,
    slo_window_rules,
    slowest_rules,
)
from flux_monitoring.signals.sources import FluxOperatorSource

RULE_NAME = "flux-monitoring"

# Each group has an explicit interval, what its readers need and no more: the rules run whatever
# anyone watches, so at 10,000 objects all of them together must cost Prometheus less than one
# person watching the upstream dashboards (make bench, docs/scale.md), each evaluation well under a
# tenth of its interval.
# An alert reads raw series, or series recorded before it in its own group: rules of a group run in
# order at one timestamp (prometheus/prometheus rules/group.go Eval), so a late or missed evaluation
# of another group can never leave it without data and restart its `for`.
# - controller alerts: every `for` is minutes long (5m at the shortest by default), so a minute is enough;
ALERT_GROUP = "flux"
ALERT_INTERVAL = "1m"
# - object states, which the dashboards show as they are (refresh 1m), and the object-state alerts
#   on the failing and suspended objects recorded just before them: a minute, as the alerts had in
#   the alert group;
RECORDING_GROUP = "flux-objects"
RECORDING_INTERVAL = "1m"
# - reconcile durations per kind, rates of their sums and counts over 5m windows, each evaluation's
#   window starting where the last one ended (every reconcile counted once), and FluxKindUnreported
#   after the counts;
DURATION_GROUP = "flux-durations"
DURATION_INTERVAL = "5m"
# - the quantiles per kind, from the rates of every bucket series of the fleet (eleven an object, the
#   costliest read after the per-object durations): over 10m windows, every 10 minutes
#   (promql.QUANTILE_WINDOW), for the quantile panels, trends over hours;
DURATION_QUANTILE_GROUP = "flux-duration-quantiles"
# - each object's p99 over 30m and average over 2h, which read every bucket, sum and count series of
#   the fleet and only the slowest-objects panels read: every 15 minutes (promql.OBJECT_DURATIONS_INTERVAL);
OBJECT_DURATIONS_GROUP = "flux-object-durations"
# - the slowest objects, from those over windows, and FluxReconcileDurationHigh over 30m (its `for`
#   is 30m by default), which reads the raw bucket at its threshold and the count of each object.
SLOWEST_GROUP = "flux-slowest"
SLOWEST_INTERVAL = "5m"
# - with slo: each namespace's error ratio over the burn-rate windows (5m to 6h), read by the
#   alerts every minute; and over the SLO window, from 5-minute sums that its 5m interval tiles.
SLO_GROUP = "flux-slo"
SLO_INTERVAL = "1m"
SLO_BUDGET_GROUP = "flux-slo-budget"
# FluxReconcileDurationHigh: more than this share of an object's reconciles took longer than the
# threshold, which is to say its p99 is above it.
SLOWER_SHARE = 0.01

_OBJECT = "{{ $labels.kind }} {{ $labels.exported_namespace }}/{{ $labels.name }}"


# Every alert leaving Prometheus carries the cluster external label (fleet.py); its text names the
# cluster too, for receivers that show only the summary. Rules are evaluated on the cluster's own
# series, which do not carry it: $externalLabels does.
_IN_CLUSTER = " in cluster {{ $externalLabels.cluster }}"


def _alert(
    settings: Settings, alert: Alert, expr: str, description_suffix: str = "", values: dict[str, str] | None = None
) -> dict:
    """The rule of catalogue entry ``alert`` firing on ``expr``, with its key's for and severity;
    ``values`` fill the alert's own placeholders."""
    keyed = settings_of(alert)
    rule: AlertRule = getattr(settings.alerts, keyed.field)
    values = {
        "object": _OBJECT,
        "for": rule.for_,
        "flux_namespace": settings.flux_namespace,
        "window": OBJECT_P99_WINDOW,
        **(values or {}),
    }
    if keyed.threshold:
        values.setdefault("threshold", format_bound(rule.threshold))
    return {
        "alert": alert.name,
        "expr": expr,
        "for": rule.for_,
        "labels": {"severity": rule.severity},
        "annotations": {
            "summary": fill(alert.summary, **values) + _IN_CLUSTER,
            "description": fill(alert.description, **values) + description_suffix,
            "runbook_url": runbook_url(settings.runbook_base_url, alert),
        },
    }


def _reason(query: str | None, *labels: str) -> str:
    """Annotation text giving the Ready reason ``query`` (a printf format of the alert's ``labels``)
    finds, where the source knows it.

    Looked up when the alert is sent rather than kept as a label of the alert: a reason that
    changes while the object keeps failing must not resolve the alert and restart its ``for``.
    """
    if query is None:
        return ""
    arguments = " ".join(f"$labels.{label}" for label in labels)
    return (
        f" {{{{ with printf `{query}` {arguments} | query }}}}"
        f"{{{{ with (index . 0).Labels.reason }}}}Reason: {{{{ . }}}}.{{{{ end }}}}{{{{ end }}}}"
    )


def _duration_text(seconds: float) -> str:
    """A duration as Prometheus writes one, to the minute: 180000 -> 2d2h."""
    minutes, text = round(seconds / 60), ""
    for unit, size in (("d", 1440), ("h", 60), ("m", 1)):
        if minutes >= size:
            text += f"{minutes // size}{unit}"
            minutes %= size
    return text or "0m"


def _burn_rate_alerts(slo: SloSettings) -> dict[str, tuple]:
    """The delivery SLO's burn-rate alerts: both windows of each burn above its rate (SRE workbook)."""
    budget = error_budget(slo.objective)
    alerts = {}
    for rate in BURN_RATES:
        factor = rate.factor(slo.window)
        above = f"> {format_bound(factor)} * {format_bound(budget)}"
        expr = f"{slo_error_ratio(rate.long)} {above}\nand {slo_error_ratio(rate.short)} {above}"
        values = {
            "long": rate.long,
            "short": rate.short,
            "burn": f"{factor:g}",
            "objective": f"{slo.objective:g}",
            "window": slo.window,
            "exhausted": _duration_text(duration_seconds(slo.window) / factor),
        }
        alerts[rate.alert] = (expr, "", values)
    return alerts


def _expressions(settings: Settings) -> dict[str, tuple]:
    """Each alert's expression, the text added to its description and the values of its own
    placeholders, by alert name: the alerts this configuration has."""
    q = FluxQueries(settings)
    source = q.source
    alerts = settings.alerts
    # Evaluated in the cluster, whose own series have no cluster label.
    reason = _reason(source.reason_query(), "kind", "exported_namespace", "name")
    # The share above a bucket bound is exact (FluxQueries.mostly_slower_than): an object whose
    # reconciles all take less than the threshold never fires, one whose slowest 1% take longer
    # always does. The summary says only that; how much longer, the buckets cannot tell.
    bound = DURATION_THRESHOLDS[alerts.reconcile_duration.threshold]
    slower = {"share": f"{SLOWER_SHARE:.0%}", "slower": f"{bound_text(bound)}s", "bound": format_bound(bound)}
    # Sources are left to FluxSourceFailure so that each failing object raises one alert; a
    # source that cannot fetch keeps serving its last artifact, which warrants its own threshold.
    expressions = {
        "ReconciliationFailure": (per_object(FAILING_OBJECTS, NOT_SOURCES, source.object_labels), reason),
        "FluxSourceFailure": (per_object(FAILING_OBJECTS, SOURCES, source.object_labels), reason),
        "FluxObjectSuspended": (per_object(SUSPENDED_OBJECTS, ALL_KINDS, source.object_labels), ""),
        "FluxControllerDown": (q.controller_down(), ""),
        "FluxReconcileDurationHigh": (
            source.labelled(q.mostly_slower_than(bound, OBJECT_P99_WINDOW, SLOWER_SHARE)),
            "",
            slower,
        ),
        "FluxWorkqueueBacklog": (q.workqueue_backlog(alerts.workqueue.threshold), ""),
    }
    # The alerts that say when the signals are blind: a kind the source does not report, the source
    # itself gone, another Flux running than the one everything was built for.
    expressions["FluxKindUnreported"] = (
        q.kinds_unreported(),
        "",
        {"source": source.name, "causes": source.unreported_causes},
    )
    if (down := q.state_source_down()) is not None:
        expressions["FluxStateSourceDown"] = (down, "", {"source": source.name, "state_metric": source.state_metric})
    expressions["FluxVersionMismatch"] = (
        q.running_flux(),
        "",
        {"running": source.running_text, "declared": settings.flux.release.minor},
    )
    if isinstance(source, FluxOperatorSource):
        # Its state is held through missed scrapes of the operator like the objects'.
        instance_reason = _reason(source.instance_reason_query(), "exported_namespace", "name")
        expressions["FluxInstanceNotReady"] = (instances_not_ready(source), instance_reason)
    if settings.slo is not None:
        expressions.update(_burn_rate_alerts(settings.slo))
    return expressions


# The group each alert is evaluated in (see the intervals above): the object-state alerts after the
# states they read, FluxReconcileDurationHigh with the per-object durations, the others every minute.
_ALERT_GROUPS = {
    "ReconciliationFailure": RECORDING_GROUP,
    "FluxSourceFailure": RECORDING_GROUP,
    "FluxObjectSuspended": RECORDING_GROUP,
    "FluxReconcileDurationHigh": SLOWEST_GROUP,
    # After the per-kind reconcile rates it reads.
    "FluxKindUnreported": DURATION_GROUP,
    # After the error ratios they read.
    **{rate.alert: SLO_GROUP for rate in BURN_RATES},
}


def flux_rule_groups(settings: Settings) -> list[dict]:
    """Prometheus rule groups (as in a rule file): alerts on Flux objects and controllers, and the
    recording rules the dashboards read.

    The object-state alerts read the failing and suspended objects recorded just before them in the
    same group, which hold each object's last state through a gap of up to STATE_HOLD in its
    source's scrapes (promql.FluxQueries.held_objects); FluxReconcileDurationHigh reads the raw
    buckets, in the group that computes the per-object durations.
    """
    expressions = _expressions(settings)
    alerts: dict[str, list[dict]] = {}
    for alert in ALERTS:
        if alert.name in expressions:
            group = _ALERT_GROUPS.get(alert.name, ALERT_GROUP)
            alerts.setdefault(group, []).append(_alert(settings, alert, *expressions[alert.name]))
    slo = settings.slo
    objects = [*object_rules(settings), *(slo_count_rules(settings) if slo else ()), heartbeat_rule()]
    groups = [
        {"name": ALERT_GROUP, "interval": ALERT_INTERVAL, "rules": alerts[ALERT_GROUP]},
        {"name": RECORDING_GROUP, "interval": RECORDING_INTERVAL, "rules": [*objects, *alerts[RECORDING_GROUP]]},
        {
            "name": DURATION_GROUP,
            "interval": DURATION_INTERVAL,
            "rules": [*duration_rules(settings), *alerts[DURATION_GROUP]],
        },
        {
            "name": DURATION_QUANTILE_GROUP,
            "interval": QUANTILE_WINDOW,
            "rules": duration_quantile_rules(settings),
        },
        {
            "name": OBJECT_DURATIONS_GROUP,
            "interval": OBJECT_DURATIONS_INTERVAL,
            "rules": object_duration_rules(settings),
        },
        {
            "name": SLOWEST_GROUP,
            "interval": SLOWEST_INTERVAL,
            "rules": [*slowest_rules(settings), *alerts[SLOWEST_GROUP]],
        },
    ]
    if slo is not None:
        # The burn-rate alerts read the ratios recorded just before them (instantly), which read the
        # counts of the objects group over windows of minutes to hours.
        groups += [
            {
                "name": SLO_GROUP,
                "interval": SLO_INTERVAL,
                "rules": [*slo_window_rules(ALERT_WINDOWS), *alerts[SLO_GROUP]],
            },
            {"name": SLO_BUDGET_GROUP, "interval": SLO_SUM_WINDOW, "rules": slo_budget_rules(slo.window)},
        ]
    return groups


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
