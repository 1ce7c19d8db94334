"""The alert catalogue: every alert this program ships, once.

Each ``Alert`` holds what users read about it: its name, its key under ``alerts`` and that key's
defaults (``for``, severity, threshold), its summary and description (Prometheus annotation
templates) and the anchor of its section in docs/runbooks.md. The settings build the ``alerts``
models from it (config/settings.py), the rules take their text from it (signals/rules.py, which
adds each alert's expression), and the docs read it: the alert table of docs/runbooks.md is
generated from it (``python -m flux_monitoring.config.schema``), and a test fails when an alert has
no section there.

Summaries and descriptions are Prometheus alert templates (Go text/template, ``{{ ... }}``); a
``{word}`` in them is a value the rules fill in (``fill``): ``{object}`` the object's kind,
namespace and name, ``{for}`` the configured ``for``, ``{threshold}``, ``{window}``,
``{flux_namespace}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flux_monitoring.config.types import one_of_numbers, positive_number
from flux_monitoring.flux.release import DURATION_THRESHOLDS

# Where the runbooks live in this repository (and in a fork of it): the runbook_url of an alert
# when runbookBaseUrl is unset.
RUNBOOKS_PATH = "docs/runbooks.md"


@dataclass(frozen=True)
class Threshold:
    """An alert's threshold key under its ``alerts`` key: its name, default, form and meaning."""

    key: str
    default: float
    form: Any
    meaning: str


@dataclass(frozen=True)
class Alert:
    """One alert. ``key`` is its key under ``alerts`` (``field`` its attribute in the settings);
    an alert with ``key`` None fires with the settings of the alert whose ``field`` is ``settings_of``."""

    name: str
    field: str
    summary: str
    description: str
    # What the alert means, for its key's description and the alert table.
    meaning: str
    key: str | None = None
    for_: str = ""
    severity: str = ""
    # "How long <fires> before the alert fires": the for key's description.
    fires: str = ""
    example: dict | None = None
    threshold: Threshold | None = None
    settings_of: str | None = None

    @property
    def anchor(self) -> str:
        """The id GitHub gives the alert's heading (## <name>) in docs/runbooks.md."""
        return self.name.lower()


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, **values: str) -> str:
    """``template`` with each ``{word}`` replaced by ``values[word]`` (Go's ``{{ ... }}`` untouched)."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def runbook_url(base: str | None, alert: Alert) -> str:
    return f"{base or RUNBOOKS_PATH}#{alert.anchor}"


_THRESHOLDS = ", ".join(f"{t:g}" for t in list(DURATION_THRESHOLDS)[:-1]) + f" or {list(DURATION_THRESHOLDS)[-1]:g}"

# In the order of the rule groups.
ALERTS: tuple[Alert, ...] = (
    Alert(
        name="ReconciliationFailure",
        field="reconciliation_failure",
        key="reconciliationFailure",
        for_="10m",
        severity="page",
        fires="a non-source object is not Ready",
        meaning="a Kustomization, HelmRelease or other non-source object is not Ready.",
        example={"for": "10m", "severity": "page"},
        summary="{object} reconciliation has been failing for more than {for}",
        description="Its Ready condition is False; see `flux get` and the controller's logs.",
    ),
    Alert(
        name="FluxSourceFailure",
        field="source_failure",
        key="sourceFailure",
        for_="15m",
        severity="warning",
        fires="a source cannot fetch",
        meaning="a GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket or ExternalArtifact is not Ready.",
        example={"for": "15m"},
        summary="{object} has been failing to fetch for more than {for}",
        description="Its Ready condition is False; objects built from it use its last artifact.",
    ),
    Alert(
        name="FluxObjectSuspended",
        field="suspended",
        key="suspended",
        for_="24h",
        severity="warning",
        fires="an object stays suspended",
        meaning="an object stays suspended.",
        example={"for": "24h"},
        summary="{object} has been suspended for more than {for}",
        description="Flux does not reconcile it until it is resumed (flux resume).",
    ),
    Alert(
        name="FluxControllerDown",
        field="controller_down",
        key="controllerDown",
        for_="5m",
        severity="page",
        fires="a controller is down or missing",
        meaning="a controller or shard's scrape fails, or one of fluxComponents (or, with the flux-operator "
        "source, the Flux Operator) has no target.",
        example={"for": "5m"},
        summary="Flux controller {{ $labels.app }}{{ with $labels.shard }} shard {{ . }}{{ end }} is down or missing",
        description="Prometheus cannot scrape {{ $labels.app }}{{ with $labels.shard }} (shard {{ . }}){{ end }}"
        "{{ with $labels.pod }}, pod {{ . }},{{ end }} in {flux_namespace} "
        "(or, for one listed in fluxComponents, finds no target) for {for}.",
    ),
    # Flux's duration histogram can only say exactly what share of an object's reconciles took longer
    # than one of its bucket bounds (flux_monitoring/flux/release.py: fluxcd/pkg runtime/metrics
    # ExponentialBucketsRange(10e-3, 1800, 10)), so the threshold is a bound. 469.2 s, the first bound
    # above the former default (300 s, the default HelmRelease timeout): it fires only for objects whose
    # slowest 1% take longer than 7m49s, never for one that reconciles in 2 or 5 minutes; 30m outlasts
    # one slow upgrade.
    Alert(
        name="FluxReconcileDurationHigh",
        field="reconcile_duration",
        key="reconcileDuration",
        for_="30m",
        severity="warning",
        fires="more than 1% of an object's reconciles take longer than the threshold",
        meaning="more than 1% of an object's reconciles over 30m took longer than p99Seconds.",
        example={"p99Seconds": 122.3},
        summary="{object}: more than {share} of reconciles took longer than {slower} over {window}",
        description="{{ $value | humanizePercentage }} of its reconciles in the last {window} took longer "
        "than {slower} (the bucket bound {bound}s of Flux's duration histogram), for {for}: "
        "its p99 is above {slower}.",
        threshold=Threshold(
            "p99Seconds",
            469.2,
            one_of_numbers(
                tuple(DURATION_THRESHOLDS),
                f"a bound of Flux's reconcile duration buckets, in seconds: {_THRESHOLDS} (the histogram tells "
                "exactly whether more than 1% of reconciles took longer than a bound, not how long between two)",
            ),
            "The p99 threshold, in seconds: one of the bounds of Flux's reconcile duration buckets "
            f"({_THRESHOLDS}). The alert fires when more than 1% of an object's reconciles over 30m took longer.",
        ),
    ),
    Alert(
        name="FluxWorkqueueBacklog",
        field="workqueue",
        key="workqueue",
        for_="15m",
        severity="warning",
        fires="a controller's work queue stays deep",
        meaning="a controller's work queue stays deeper than depth.",
        example={"depth": 100},
        summary="{{ $labels.app }} work queue {{ $labels.name }} holds {{ $value }} items",
        description="More than {threshold} objects wait for reconciliation for {for}: the controller cannot keep up.",
        threshold=Threshold("depth", 100.0, positive_number(), "Work queue depth threshold, in items."),
    ),
    # Blind spots: every object alert and panel of the kind (or of every kind) is silent meanwhile, so
    # they page like a controller down; 15m outlasts a rollout of kube-state-metrics or of Flux itself.
    # {source} is the metric source's name, {causes} the likely causes it knows of.
    Alert(
        name="FluxKindUnreported",
        field="kind_unreported",
        key="kindUnreported",
        for_="15m",
        severity="page",
        fires="the controllers reconcile a kind the state source reports no object of",
        meaning="the controllers reconciled a kind in the last hour (its recorded reconcile rate above 0) while the "
        "metric source reports no object of it; names the kind and the likely causes.",
        example={"for": "30m"},
        summary="Flux reconciles {{ $labels.kind }} objects but {source} reports none",
        description="Every {{ $labels.kind }} panel and alert is blind. Likely: {causes}.",
    ),
    # Only for a source with a target of its own to lose (not legacy, whose states come from the
    # controllers' own scrapes: FluxControllerDown covers them). {state_metric} is the series it writes.
    Alert(
        name="FluxStateSourceDown",
        field="state_source_down",
        key="stateSourceDown",
        for_="10m",
        severity="page",
        fires="the state source is down, absent or stale",
        meaning="kube-state-metrics' target is down or absent (resource-info), or the Flux Operator has not "
        "completed a report in 15m (flux-operator); not with legacy, whose states come with the controllers'.",
        example={"severity": "warning"},
        summary="Flux object states are unknown: {source} is down, absent or stale",
        description="The {state_metric} series every object panel and alert reads are missing or old for {for}.",
    ),
    # A Flux upgrade rolls its controllers out within minutes; 30m is past any rollout. {running} says
    # what runs (the source's own words), {declared} the fluxVersion minor.
    Alert(
        name="FluxVersionMismatch",
        field="version_mismatch",
        key="versionMismatch",
        for_="30m",
        severity="warning",
        fires="the running Flux is another release than fluxVersion",
        meaning="a Flux controller's image (or, with flux-operator, the FluxInstance's applied revision) belongs "
        "to another Flux minor than fluxVersion; names both.",
        example={"severity": "page"},
        summary="{running}, but fluxVersion is {declared}",
        description="Kinds, API versions and metrics are built for Flux {declared}: set fluxVersion to the release "
        "that runs, or some kinds and states go unseen.",
    ),
    # The FluxInstance is Flux's own installation: when it is not ready, an upgrade or a controller
    # failed to apply. Same for and severity as an object that fails to reconcile (flux-operator source).
    Alert(
        name="FluxInstanceNotReady",
        field="instance_not_ready",
        meaning="the Flux Operator's FluxInstance is not ready (flux-operator source).",
        summary="FluxInstance {{ $labels.exported_namespace }}/{{ $labels.name }} has not been ready "
        "for more than {for}",
        description="The Flux Operator reports it not ready; "
        "see `kubectl describe fluxinstance` and the operator's logs.",
        settings_of="reconciliation_failure",
    ),
)

# The delivery SLO's burn-rate alerts (with slo; config/slo.py has their windows and rates).
_BUDGET = (
    "{{ $labels.exported_namespace }}: {{ $value | humanizePercentage }} of its Kustomizations' and "
    "HelmReleases' time failing over {long}"
)
_BURN = (
    "That burns the {window} error budget of its {objective}% objective {burn}x as fast as it allows "
    "(over {long} and {short}): at this rate it is spent in {exhausted}."
)
ALERTS += (
    Alert(
        name="FluxDeliveryBudgetFastBurn",
        field="delivery_fast_burn",
        key="deliveryFastBurn",
        for_="2m",
        severity="page",
        fires="a namespace's delivery error budget burns fast",
        meaning="a namespace's delivery error budget (slo) burns 14.4x as fast as a 30d window allows, over 1h and "
        "5m (2% of the budget in an hour).",
        example={"severity": "page"},
        summary=_BUDGET,
        description=_BURN,
    ),
    Alert(
        name="FluxDeliveryBudgetSlowBurn",
        field="delivery_slow_burn",
        key="deliverySlowBurn",
        for_="2m",
        severity="warning",
        fires="a namespace's delivery error budget burns",
        meaning="a namespace's delivery error budget (slo) burns 6x as fast as a 30d window allows, over 6h and 30m "
        "(5% of the budget in six hours): a ticket.",
        example={"severity": "warning"},
        summary=_BUDGET,
        description=_BURN,
    ),
)

BY_NAME = {alert.name: alert for alert in ALERTS}
_BY_FIELD = {alert.field: alert for alert in ALERTS}
# The alerts with their own key under ``alerts``, in the order of the settings.
CONFIGURABLE = tuple(alert for alert in ALERTS if alert.key is not None)


def settings_of(alert: Alert) -> Alert:
    """The alert whose key under ``alerts`` (for, severity, threshold) ``alert`` fires with."""
    return _BY_FIELD[alert.settings_of] if alert.settings_of else alert


# -- the alert table of docs/runbooks.md ------------------------------------------------------------

TABLE_BEGIN = "<!-- alert-catalogue: generated by `python -m flux_monitoring.config.schema`; do not edit -->"
TABLE_END = "<!-- end of alert-catalogue -->"


def _row(alert: Alert) -> str:
    keyed = settings_of(alert)
    threshold = f"`{keyed.threshold.key}: {keyed.threshold.default:g}`" if keyed.threshold else ""
    meaning = alert.meaning[0].upper() + alert.meaning[1:]
    return (
        f"| [{alert.name}](#{alert.anchor}) | `alerts.{keyed.key}` | `{keyed.for_}` | `{keyed.severity}` | "
        f"{threshold} | {meaning} |"
    )


def catalogue_table() -> str:
    lines = ["| alert | settings | for | severity | threshold | fires when |", "| --- | --- | --- | --- | --- | --- |"]
    return "\n".join([TABLE_BEGIN, *lines, *(_row(alert) for alert in ALERTS), TABLE_END])


def with_catalogue_table(page: str) -> str:
    begin, end = page.index(TABLE_BEGIN), page.index(TABLE_END) + len(TABLE_END)
    return page[:begin] + catalogue_table() + page[end:]
