"""Prometheus alert rules for Flux, the same alerts for every metric source (the Flux Operator's
adds one on the FluxInstance)."""

from __future__ import annotations

from flux_monitoring.config.names import PART_OF_LABELS, PROMETHEUS_SELECTOR_LABELS
from flux_monitoring.config.settings import AlertRule, Settings
from flux_monitoring.flux.release import DURATION_THRESHOLDS, bound_text, format_bound
from flux_monitoring.signals.promql import (
    ALL_KINDS,
    FAILING_OBJECTS,
    NOT_SOURCES,
    OBJECT_P99_WINDOW,
    SOURCES,
    SUSPENDED_OBJECTS,
    FluxQueries,
    duration_rules,
    heartbeat_rule,
    instances_not_ready,
    object_rules,
    per_object,
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
# - reconcile durations per kind, rates over 5m windows, each evaluation's window starting where the
#   last one ended (every reconcile counted once): they read every duration series of the fleet;
DURATION_GROUP = "flux-durations"
DURATION_INTERVAL = "5m"
# - each object's p99 over 30m and the slowest objects over 2h, which read every bucket series of
#   the fleet, and FluxReconcileDurationHigh over 30m (its `for` is 30m by default): windows that
#   long move little in five minutes.
SLOWEST_GROUP = "flux-slowest"
SLOWEST_INTERVAL = "5m"
# FluxReconcileDurationHigh: more than this share of an object's reconciles took longer than the
# threshold, which is to say its p99 is above it.
SLOWER_SHARE = 0.01

_OBJECT = "{{ $labels.kind }} {{ $labels.exported_namespace }}/{{ $labels.name }}"


# Every alert leaving Prometheus carries the cluster external label (fleet.py); its text names the
# cluster too, for receivers that show only the summary. Rules are evaluated on the cluster's own
# series, which do not carry it: $externalLabels does.
_IN_CLUSTER = " in cluster {{ $externalLabels.cluster }}"


def _alert(name: str, expr: str, rule: AlertRule, summary: str, description: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": rule.for_,
        "labels": {"severity": rule.severity},
        "annotations": {"summary": summary + _IN_CLUSTER, "description": description},
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


def flux_rule_groups(settings: Settings) -> list[dict]:
    """Prometheus rule groups (as in a rule file): alerts on Flux objects and controllers, and the
    recording rules the dashboards read.

    The object-state alerts read the failing and suspended objects recorded just before them in the
    same group, which hold each object's last state through a gap of up to STATE_HOLD in its
    source's scrapes (promql.FluxQueries.held_objects); FluxReconcileDurationHigh reads the raw
    buckets, in the group that computes the per-object durations.
    """
    q = FluxQueries(settings)
    source = q.source
    # Evaluated in the cluster, whose own series have no cluster label.
    reason = _reason(source.reason_query(), "kind", "exported_namespace", "name")
    alerts = settings.alerts
    # Sources are left to FluxSourceFailure so that each failing object raises one alert; a
    # source that cannot fetch keeps serving its last artifact, which warrants its own threshold.
    object_alerts = [
        _alert(
            "ReconciliationFailure",
            per_object(FAILING_OBJECTS, NOT_SOURCES),
            alerts.reconciliation_failure,
            f"{_OBJECT} reconciliation has been failing for more than {alerts.reconciliation_failure.for_}",
            "Its Ready condition is False; see `flux get` and the controller's logs." + reason,
        ),
        _alert(
            "FluxSourceFailure",
            per_object(FAILING_OBJECTS, SOURCES),
            alerts.source_failure,
            f"{_OBJECT} has been failing to fetch for more than {alerts.source_failure.for_}",
            "Its Ready condition is False; objects built from it use its last artifact." + reason,
        ),
        _alert(
            "FluxObjectSuspended",
            per_object(SUSPENDED_OBJECTS, ALL_KINDS),
            alerts.suspended,
            f"{_OBJECT} has been suspended for more than {alerts.suspended.for_}",
            "Flux does not reconcile it until it is resumed (flux resume).",
        ),
    ]
    controller_alerts = [
        _alert(
            "FluxControllerDown",
            q.controller_down(),
            alerts.controller_down,
            "Flux controller {{ $labels.app }} is down or missing",
            f"Prometheus cannot scrape {{{{ $labels.app }}}} in {settings.flux_namespace} "
            f"(or, for a controller listed in fluxComponents, finds no target) for {alerts.controller_down.for_}.",
        ),
        _alert(
            "FluxWorkqueueBacklog",
            q.workqueue_backlog(alerts.workqueue.threshold),
            alerts.workqueue,
            "{{ $labels.app }} work queue {{ $labels.name }} holds {{ $value }} items",
            f"More than {alerts.workqueue.threshold:g} objects wait for reconciliation "
            f"for {alerts.workqueue.for_}: the controller cannot keep up.",
        ),
    ]
    if isinstance(source, FluxOperatorSource):
        # The FluxInstance is Flux's own installation: when it is not ready, an upgrade or a
        # controller failed to apply. Same for and severity as an object that fails to reconcile;
        # its state is held through missed scrapes of the operator like the objects'.
        controller_alerts.append(
            _alert(
                "FluxInstanceNotReady",
                instances_not_ready(source),
                alerts.reconciliation_failure,
                "FluxInstance {{ $labels.exported_namespace }}/{{ $labels.name }} has not been ready "
                f"for more than {alerts.reconciliation_failure.for_}",
                "The Flux Operator reports it not ready; see `kubectl describe fluxinstance` and the operator's logs."
                + _reason(source.instance_reason_query(), "exported_namespace", "name"),
            )
        )
    # The share above a bucket bound is exact (FluxQueries.share_slower_than): an object whose
    # reconciles all take less than the threshold never fires, one whose slowest 1% take longer
    # always does. The summary says only that; how much longer, the buckets cannot tell.
    duration = alerts.reconcile_duration
    bound = DURATION_THRESHOLDS[duration.threshold]
    slower = f"{bound_text(bound)}s"
    duration_alert = _alert(
        "FluxReconcileDurationHigh",
        q.mostly_slower_than(bound, OBJECT_P99_WINDOW, SLOWER_SHARE),
        duration,
        f"{_OBJECT}: more than {SLOWER_SHARE:.0%} of reconciles took longer than {slower} over {OBJECT_P99_WINDOW}",
        f"{{{{ $value | humanizePercentage }}}} of its reconciles in the last {OBJECT_P99_WINDOW} took longer "
        f"than {slower} (the bucket bound {format_bound(bound)}s of Flux's duration histogram), for "
        f"{duration.for_}: its p99 is above {slower}.",
    )
    return [
        {"name": ALERT_GROUP, "interval": ALERT_INTERVAL, "rules": controller_alerts},
        {
            "name": RECORDING_GROUP,
            "interval": RECORDING_INTERVAL,
            "rules": [*object_rules(settings), heartbeat_rule(), *object_alerts],
        },
        {"name": DURATION_GROUP, "interval": DURATION_INTERVAL, "rules": duration_rules(settings)},
        {"name": SLOWEST_GROUP, "interval": SLOWEST_INTERVAL, "rules": [*slowest_rules(settings), duration_alert]},
    ]


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
