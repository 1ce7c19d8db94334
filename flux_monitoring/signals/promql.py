"""PromQL for Flux objects and controllers, in one place for every metric source.

Dashboards and alert rules take their queries from here, so a panel and the alert beside it
always count the same objects; what varies by metric source is written in that source's object
(sources.py). No other module writes PromQL (tests/unit/test_promql_in_one_place.py).
Object states come from the stack's metric source (sources.py: the controllers' legacy gauges,
kube-state-metrics' gotk_resource_info or the Flux Operator's flux_resource_info); controller
series (durations, work queues, up) from the controllers' PodMonitor.

Every object query returns one series per Flux object labelled ``kind``, ``exported_namespace``
and ``name``. ``exported_namespace`` is the object's namespace in every source:
- Controller metrics are scraped through the PodMonitor with honor_labels false, so the pod's
  namespace (flux-system) takes ``namespace`` and the object's own ``namespace`` label is renamed
  ``exported_namespace`` by Prometheus.
- kube-state-metrics is scraped with honorLabels true (kube-prometheus-stack's default), which
  would keep an object ``namespace`` label as is; the custom resource state config therefore names
  the label ``exported_namespace`` itself (see kube_state_metrics.py), matching the controllers.
- The Flux Operator names it ``exported_namespace`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from flux_monitoring.config.settings import Settings
from flux_monitoring.config.types import object_label_name
from flux_monitoring.flux.release import format_bound
from flux_monitoring.signals.sources import (
    OBJECT_LABELS,
    POD_MONITOR_NAME,
    SHARD_LABEL,
    FluxOperatorSource,
    Kinds,
    MetricSource,
    metric_source,
    pod_monitor_job,
)
from flux_monitoring.signals.sources import (
    by as _by,
)
from flux_monitoring.signals.sources import (
    equals as _equals,
)
from flux_monitoring.signals.sources import (
    selector as _selector,
)

# ``cluster``: at a fleet's central store, namesakes of different clusters are different objects and
# controllers (sources.OBJECT_LABELS has it too). In a cluster's own Prometheus no series has it
# (Prometheus adds its external labels only to what leaves it), so grouping by it changes nothing there.
CLUSTER = "cluster"
WORKQUEUE_BY = (CLUSTER, "namespace", "app", "name")

RECONCILERS = Kinds(("Kustomization", "HelmRelease"))
SOURCES = Kinds(("GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket", "ExternalArtifact"))
NOT_SOURCES = Kinds(SOURCES.names, negate=True)
ALL_KINDS = Kinds(())
# The app label the operator's PodMonitor gives its target, so FluxControllerDown names it too.
FLUX_OPERATOR_APP = "flux-operator"


def held(state: Callable[[str | None], str], reported: str, on: tuple[str, ...]) -> str:
    """``state`` (a query of a ``window``) as the source reports it now; where ``reported`` (matched
    ``on`` its labels) says the source reports nothing now (a failed scrape ended every series of its
    target), each series' last state in STATE_HOLD."""
    return f"{state(None)}\nor (\n{state(STATE_HOLD)}\nunless on ({', '.join(on)}) {reported}\n)"


def instances_not_ready(operator: FluxOperatorSource) -> str:
    """FluxInstances the Flux Operator reports not ready, through a gap in its scrapes (``held``)."""
    return held(operator.instances_not_ready, operator.instances_reported(), (CLUSTER,))


def _matches(label: str, regex: str | None) -> str:
    return f'{label}=~"{regex}"' if regex is not None else ""


def label_values(series: str, label: str) -> str:
    """A Grafana template variable's query: the values of ``label`` among ``series``."""
    return f"label_values({series}, {label})"


@dataclass(frozen=True)
class FluxQueries:
    """Queries for one metric generation.

    ``object_namespace``, ``controller_namespace`` and ``cluster`` are regexes restricting the objects'
    and the controllers' namespaces and the clusters of a fleet (dashboards pass their template
    variables); None means any.
    """

    settings: Settings
    object_namespace: str | None = None
    controller_namespace: str | None = None
    # Select nothing when ``object_namespace`` is a template variable at All (see ALL_NAMESPACES).
    only_selected: bool = False
    cluster: str | None = None

    @property
    def source(self) -> MetricSource:
        return metric_source(self.settings.flux, self.settings.namespace, self.settings.object_labels)

    # -- controllers -------------------------------------------------------------------

    def controllers(self, *matchers: str) -> str:
        """Selector of the series scraped from the Flux controllers by the PodMonitor."""
        namespace = f'namespace=~"{self.controller_namespace}"' if self.controller_namespace is not None else ""
        return _selector(
            _equals("job", pod_monitor_job(self.settings.namespace, POD_MONITOR_NAME)),
            namespace,
            _matches(CLUSTER, self.cluster),
            *matchers,
        )

    def _objects_namespace(self) -> str:
        matcher = _matches("exported_namespace", self.object_namespace)
        if self.only_selected and self.object_namespace is not None:
            return f'{matcher}, {ALL_NAMESPACES}!~"{self.object_namespace}"'
        return matcher

    def _object_filters(self) -> str:
        """The matchers on the objects' namespace and cluster, for the metric source ("" for any)."""
        return ", ".join(m for m in (self._objects_namespace(), _matches(CLUSTER, self.cluster)) if m)

    def object_namespaces(self) -> str:
        """The namespaces of the objects (a template variable's values: not filtered on itself)."""
        return self.object_label_values("exported_namespace")

    def object_label_values(self, label: str) -> str:
        """The values of one label of the objects' state series (a template variable's values)."""
        return label_values(f"{self.source.state_metric}{_selector(_matches(CLUSTER, self.cluster))}", label)

    def durations(self, series: str, *matchers: str) -> str:
        """A gotk_reconcile_duration_seconds series (bucket, sum or count) with its selector."""
        return f"gotk_reconcile_duration_seconds_{series}{self.controllers(self._objects_namespace(), *matchers)}"

    def required_controllers(self) -> list[str]:
        """A matcher pair (app, shard) per controller or shard fluxComponents says must be running."""
        return [
            f"{_equals('app', controller)}, {_equals(SHARD_LABEL, shard or '')}"
            for controller, shard in self.settings.flux.required
        ]

    def controller_down(self) -> str:
        """A scrape that fails (any controller or shard), or a controller or shard of fluxComponents with
        no target at all; with the flux-operator source, the operator too."""
        down = [f"up{self.controllers()} == 0"]
        absent = [f"absent(up{self.controllers(required)})" for required in self.required_controllers()]
        if isinstance(source := self.source, FluxOperatorSource):
            operator = _equals("job", source.operator_job)
            down.append(f"up{_selector(operator)} == 0")
            absent.append(f"absent(up{_selector(operator, _equals('app', FLUX_OPERATOR_APP))})")
        return "\nor ".join(down + absent)

    # -- blind spots: what the metric source misses (sources.py says what each can know) ------------

    def _cluster_filter(self) -> str:
        return _matches(CLUSTER, self.cluster)

    def kinds_unreported(self, recorded: bool = False) -> str:
        """Each (cluster, kind) the controllers reconciled in the last KIND_SEEN_WINDOW (its recorded
        reconcile rate above 0) while the metric source reports no object of it.

        Read over KIND_SEEN_WINDOW so kinds whose objects all reconcile hourly count, and a missed
        evaluation of the durations group changes nothing (a missing rate only keeps it quiet). The
        alert asks the source itself; ``recorded``, for the dashboards, reads the same query as recorded
        (REPORTED_KINDS)."""
        reportable = Kinds(self.source.unreportable().names, negate=True)
        reconciled = _selector(reportable.matcher("kind"), self._cluster_filter())
        reported = (
            f"{REPORTED_KINDS}{_selector(self._cluster_filter())}"
            if recorded
            else self.source.reported_kinds(self._cluster_filter())
        )
        return (
            f"group by (cluster, kind) "
            f"(max_over_time({duration_rate_record('count')}{reconciled}[{KIND_SEEN_WINDOW}]) > 0)\n"
            f"unless on (cluster, kind) {reported}"
        )

    def state_source_down(self) -> str | None:
        return self.source.down(self._cluster_filter())

    def running_flux(self) -> str:
        """The Flux that runs where it is not the declared release (sources.py)."""
        return self.source.running_flux(self.settings.flux_namespace, self._cluster_filter())

    def workqueue_depth(self) -> str:
        """The deepest of each controller's work queues (max over its pods)."""
        return f"max {_by(WORKQUEUE_BY)} (workqueue_depth{self.controllers()})"

    def workqueue_backlog(self, threshold: float) -> str:
        """Work queues holding more than ``threshold`` items."""
        return f"{self.workqueue_depth()} > {threshold:g}"

    def controllers_up(self) -> str:
        """Targets up per controller and shard of each cluster, and a 0 for each controller or shard
        of fluxComponents without a target: "or on (app, shard)" adds it only for one no chosen
        cluster has a target of."""
        missing = [
            f'label_replace(label_replace(vector(0), "app", "{controller}", "", ""), '
            f'"{SHARD_LABEL}", "{shard or ""}", "", "")'
            for controller, shard in self.settings.flux.required
        ]
        up = f"sum {_by((CLUSTER, 'app', SHARD_LABEL))} (up{self.controllers()})"
        return f"\nor on (app, {SHARD_LABEL}) ".join([up, *missing])

    # -- the blind-spot stats of the dashboards: the alerts' queries, 0 when all is seen ------------

    def unreported_kinds_stat(self) -> str:
        """Per cluster and kind, 1 where FluxKindUnreported's condition holds (as recorded)."""
        return f"sum {_by((CLUSTER, 'kind'))} ({self.kinds_unreported(recorded=True)})\nor vector(0)"

    def state_source_down_stat(self) -> str | None:
        """Per cluster, how many state sources are down (None where the source has no target of its own)."""
        if (down := self.state_source_down()) is None:
            return None
        return f"count {_by((CLUSTER,))} ({down})\nor vector(0)"

    def other_flux_stat(self) -> str:
        """Per cluster and running release, how many controllers (or FluxInstances) run another Flux."""
        return f"count {_by((CLUSTER, 'running'))} ({self.running_flux()})\nor vector(0)"

    def controllers_down_per_cluster(self) -> str:
        """How many controller targets of each cluster fail their scrape."""
        return f"count {_by((CLUSTER,))} (up{self.controllers()} == 0)"

    def controller_cpu(self, window: str) -> str:
        return f"sum {_by((CLUSTER, 'app'))} (rate(process_cpu_seconds_total{self.controllers()}[{window}]))"

    def controller_memory(self) -> str:
        """The controllers' own resident memory: it needs no cAdvisor series."""
        return f"sum {_by((CLUSTER, 'app'))} (process_resident_memory_bytes{self.controllers()})"

    def longest_running_processor(self) -> str:
        return f"max {_by((CLUSTER, 'app', 'name'))} (workqueue_longest_running_processor_seconds{self.controllers()})"

    def api_requests(self, window: str) -> str:
        """Kubernetes API requests per second, per controller and method."""
        return f"sum {_by((CLUSTER, 'app', 'method'))} (rate(rest_client_requests_total{self.controllers()}[{window}]))"

    def api_error_ratio(self, window: str) -> str:
        """The share of Kubernetes API requests answered 5xx or 429, per controller."""
        requests = f"rate(rest_client_requests_total{self.controllers()}[{window}])"
        failed = 'code=~"5..|429"'
        errors = f"rate(rest_client_requests_total{self.controllers(failed)}[{window}])"
        return f"sum {_by((CLUSTER, 'app'))} ({errors})\n/ sum {_by((CLUSTER, 'app'))} ({requests})"

    def controller_namespaces(self) -> str:
        """The namespaces of the controllers (a template variable's values: not filtered on itself)."""
        return label_values(f"up{replace(self, controller_namespace=None).controllers()}", "namespace")

    def flux_instances(self) -> str | None:
        """Each Flux installation in the controller namespaces and clusters chosen, where the source
        reports them (the Flux Operator's FluxInstance); None otherwise."""
        filters = (_matches("namespace", self.controller_namespace), _matches(CLUSTER, self.cluster))
        return self.source.instances(", ".join(m for m in filters if m))

    def duration_buckets(self, window: str, by: tuple[str, ...]) -> str:
        """The rate of each duration bucket over ``window``, summed ``by`` (a histogram_quantile's input)."""
        return f"sum {_by((*by, 'le'))} (rate({self.durations('bucket')}[{window}]))"

    # Per object, the duration series are aggregated by taking the worst of its pods (an object is
    # reconciled by one pod at a time: two only while a pod is replaced within the window), not by
    # summing its series: at 10,000 objects a sum over the eleven bucket series of each costs a third
    # of the per-object p99 (decision 0011). The worst pod's quantile, average or share above a bound
    # is at least that of all its reconciles (each pod's distribution bounds the mixture's).

    def object_duration_quantile(self, quantile: float, window: str) -> str:
        """Each object's ``quantile`` of its reconciles in ``window`` (its worst pod's); NaN, and so
        dropped by max unless it is all there is, without reconciles."""
        return f"max {_by(OBJECT_LABELS)} (histogram_quantile({quantile}, rate({self.durations('bucket')}[{window}])))"

    def object_duration_average(self, window: str) -> str:
        """Each object's average reconcile duration in ``window`` (its worst pod's)."""
        return (
            f"max {_by(OBJECT_LABELS)} (\nrate({self.durations('sum')}[{window}])\n"
            f"/ rate({self.durations('count')}[{window}])\n)"
        )

    def mostly_slower_than(self, bound: float, window: str, share: float) -> str:
        """Objects more than ``share`` of whose reconciles in ``window`` took longer than ``bound`` (on
        one of its pods), a bucket bound of Flux's histogram, so exact: 1 - bucket{le=bound} / count.

        Reads two series per object (the bucket at the bound and the count), not all eleven.
        """
        faster = _equals("le", format_bound(bound))
        return (
            f"max {_by(OBJECT_LABELS)} (\n1 - rate({self.durations('bucket', faster)}[{window}])\n"
            f"/ ignoring (le) rate({self.durations('count')}[{window}])\n) > {share:g}"
        )

    def duration_average(self, window: str, by: tuple[str, ...]) -> str:
        return (
            f"sum {_by(by)} (rate({self.durations('sum')}[{window}]))\n"
            f"/ sum {_by(by)} (rate({self.durations('count')}[{window}]))"
        )

    # -- objects -----------------------------------------------------------------------

    def objects(self, ready: str, kinds: Kinds, detail: bool = False, window: str | None = None) -> str:
        """Objects whose Ready condition is ``ready``, neither deleted nor suspended.

        A suspended object keeps the Ready condition of its last reconciliation; it is counted
        (and alerted on) as suspended instead, so each object is in exactly one state.
        ``detail`` adds the labels the source knows beyond the object's (revision, reason);
        ``window``: each object's last state in it (sources.last_known).
        """
        # Deleted objects have no ready state at 1, so excluding them from the suspended set
        # here would only cost a join.
        source = self.source
        suspended = source.suspend_flag(kinds, self._object_filters(), False, window)
        return (
            f"{source.ready(ready, kinds, self._object_filters(), detail, window)}\n"
            f"unless on ({', '.join(OBJECT_LABELS)}) {suspended}"
        )

    def suspended(self, kinds: Kinds, detail: bool = False, window: str | None = None) -> str:
        return self.source.suspended(kinds, self._object_filters(), detail, window)

    def held_objects(self, ready: str, kinds: Kinds, detail: bool = False) -> str:
        """``objects``, through a gap in the source's scrapes (``held``; reads REPORTED_KINDS, recorded
        before it in the same group by object_rules)."""
        return held(lambda window: self.objects(ready, kinds, detail, window), REPORTED_KINDS, (CLUSTER, "kind"))

    def held_suspended(self, kinds: Kinds, detail: bool = False) -> str:
        """``suspended``, through a gap in the source's scrapes (like ``held_objects``)."""
        return held(lambda window: self.suspended(kinds, detail, window), REPORTED_KINDS, (CLUSTER, "kind"))


# -- recorded series ----------------------------------------------------------------------
#
# Names follow level:metric:operations. Each recorded expression is built from the raw queries
# above (FluxQueries without namespace filters), so a recorded series and the raw query it stands
# for cannot drift apart.
#
# Fleet totals are recorded without ``exported_namespace``: a namespace holds a handful of objects
# in a large fleet (one per tenant application), so per-namespace aggregates would be nearly as
# many series as objects. The dashboards read the totals when the namespace variable is at All and
# the raw series of just the selected namespaces otherwise (``RecordedQueries``). Drill-down
# series (failing, suspended and slowest objects) are recorded per object, for those objects only.

# Objects per kind and state: label state is one of STATE_READY's keys or "suspended".
OBJECT_COUNT = "flux:gotk_objects:count"
# One series per failing (Ready False, not suspended) or suspended object, with the detail labels
# (revision, reason) its source knows: the drill-down tables, the failing/suspended counts and the
# object-state alerts (rules.py), which read them in the same group. Each object keeps its last
# known state for STATE_HOLD while its source reports nothing of its kind (FluxQueries._held).
FAILING_OBJECTS = "flux:gotk_objects:failing"
SUSPENDED_OBJECTS = "flux:gotk_objects:suspended"
# The kinds the metric source reports objects of at this evaluation (label kind).
REPORTED_KINDS = "flux:gotk_objects:reported_kinds"
# A failed scrape writes a staleness marker for every series of its target (Prometheus' staleness
# handling), so for as long as kube-state-metrics, a controller (legacy gauges) or the Flux Operator
# cannot be scraped (a pod rescheduled in a node drain, 30s scrapes by the Prometheus Operator's
# default) its objects have no state and every `for` would restart. Five minutes, Prometheus' own
# lookback (--query.lookback-delta default): a few missed scrapes, and how long a state held
# without a source may stay out of date (a deleted object's alert resolves after at most that).
STATE_HOLD = "5m"
STATE_READY = {"ready": "True", "failing": "False", "unknown": "Unknown"}
SUSPENDED = "suspended"
PER_OBJECT_STATES = {"failing": FAILING_OBJECTS, SUSPENDED: SUSPENDED_OBJECTS}
RECORD_WINDOW = "5m"
DURATION_BY = (CLUSTER, "namespace", "kind")
CONTROLLER_BY = (CLUSTER, "namespace", "app", "controller")
# The slowest-objects panels list this many objects; their window holds at least one
# reconciliation of every object that reconciles hourly (most Flux objects reconcile every hour
# or every ten minutes, so a few scrape intervals would hold none of most of them).
SLOWEST = 10
PER_OBJECT_WINDOW = "2h"
# A label no series carries. Its (empty) value matches the namespace variable only at All
# (allValue ".*"): a selection is a regex of non-empty names. So ``{ALL_NAMESPACES=~"$var"}``
# selects only at All and ``{ALL_NAMESPACES!~"$var"}`` only with namespaces selected, whatever the
# names (a suffix such as ``exported_namespace!~"$var.+"`` would drop "apps-prod" when "apps" and
# "apps-prod" are both selected).
ALL_NAMESPACES = "flux_monitoring_all_namespaces"


# The reconcile-duration quantiles per kind: the bucket rates they are computed from read every bucket
# series of the fleet (eleven an object), so they are recorded over windows of QUANTILE_WINDOW, as
# often (rules.py), each window starting where the last ended; the per-kind sums and counts (two
# series an object) over RECORD_WINDOW.
QUANTILE_WINDOW = "10m"
# The last value of a series recorded every QUANTILE_WINDOW, past Prometheus' 5m lookback: a minute
# more, for the time its evaluation takes.
QUANTILE_LAST = "11m"


def duration_rate_record(series: str) -> str:
    """Recorded rate of a gotk_reconcile_duration_seconds series (bucket, sum or count) per kind."""
    return f"flux:gotk_reconcile_duration_seconds_{series}:rate{duration_window(series)}"


def duration_window(series: str) -> str:
    return QUANTILE_WINDOW if series == "bucket" else RECORD_WINDOW


def duration_quantile_record(quantile: float) -> str:
    return f"flux:gotk_reconcile_duration_seconds:p{round(quantile * 100)}_rate{QUANTILE_WINDOW}"


def last_quantile_record(record: str) -> str:
    """``record`` (a series of the quantiles group, with its selector) as last recorded."""
    return f"last_over_time({record}[{QUANTILE_LAST}])"


RECORDED_QUANTILES = (0.5, 0.9, 0.99)
# A kind counts as reconciled while a reconciliation of it is this recent: most Flux objects reconcile
# every ten minutes or every hour.
KIND_SEEN_WINDOW = "1h"
RECONCILE_RATE = f"flux:controller_runtime_reconcile_total:rate{RECORD_WINDOW}"
RECONCILE_ERROR_RATE = f"flux:controller_runtime_reconcile_errors_total:rate{RECORD_WINDOW}"
WORKQUEUE_DEPTH = "flux:workqueue_depth:max"
# Each object's p99 reconcile duration over OBJECT_P99_WINDOW, for objects that reconciled in it,
# for the slowest-objects p99 panel: an estimate, histogram_quantile interpolating between Flux's
# bucket bounds. Computing it reads every bucket series of every object (eleven per object), the
# costliest query of all: it is recorded every OBJECT_DURATIONS_INTERVAL. FluxReconcileDurationHigh
# does not read it: it states only what the buckets know (FluxQueries.mostly_slower_than) over the
# same window.
OBJECT_P99_WINDOW = "30m"
OBJECT_P99 = f"flux:gotk_reconcile_duration_seconds:p99_rate{OBJECT_P99_WINDOW}"
# Each object's average reconcile duration over PER_OBJECT_WINDOW, which reads every duration sum and
# count series of the fleet over 2h.
OBJECT_AVERAGE = f"flux:gotk_reconcile_duration_seconds:avg_rate{PER_OBJECT_WINDOW}"
# OBJECT_P99 and OBJECT_AVERAGE are recorded this often, by a group of their own (rules.py): only
# the slowest-objects panels read them, through the top-10 records, and their windows (30m, 2h) move
# little in that time; consecutive 30m windows overlap by half, so no reconcile falls between them.
# At 10,000 objects they are the costliest rules (docs/scale.md).
OBJECT_DURATIONS_INTERVAL = "15m"
# The last value of a series recorded every OBJECT_DURATIONS_INTERVAL: a minute more, for the time
# its evaluation takes.
OBJECT_DURATIONS_LAST = "16m"
# The fleet's SLOWEST objects: by average reconcile duration over PER_OBJECT_WINDOW, and by their
# worst OBJECT_P99 in PER_OBJECT_WINDOW (an object reconciling hourly has one in that time).
SLOWEST_AVERAGE = f"flux:gotk_reconcile_duration_seconds:avg_rate{PER_OBJECT_WINDOW}_top{SLOWEST}"
SLOWEST_P99 = f"flux:gotk_reconcile_duration_seconds:p99_rate{OBJECT_P99_WINDOW}_max{PER_OBJECT_WINDOW}_top{SLOWEST}"


def per_object(record: str, kinds: Kinds, object_labels: tuple[str, ...] = ()) -> str:
    """Each object of ``kinds`` in a per-object recorded state, without its detail labels: a
    revision or reason that changes must neither resolve the alert nor restart its ``for``. The
    objects' own labels (objectLabels) stay, for routing."""
    return f"max {_by(OBJECT_LABELS + object_labels)} ({record}{_selector(kinds.matcher('kind'))})"


def _slowest_average(q: FluxQueries) -> str:
    return f"topk({SLOWEST}, {q.object_duration_average(PER_OBJECT_WINDOW)})"


def _slowest_p99(selector: str) -> str:
    return f"topk({SLOWEST}, max_over_time({OBJECT_P99}{selector}[{PER_OBJECT_WINDOW}]))"


def _count_by_kind(expr: str) -> str:
    return f"count {_by(('kind',))} (\n{expr}\n)"


def object_rules(settings: Settings) -> list[dict]:
    """Object states: per object for failing and suspended ones, per kind and state for all; and
    the per-controller rates the control plane reads. In evaluation order: later rules of a group
    read the series earlier ones recorded in the same evaluation."""
    q = FluxQueries(settings)
    rules = [
        {"record": REPORTED_KINDS, "expr": q.source.reported_kinds()},
        {"record": FAILING_OBJECTS, "expr": q.held_objects("False", ALL_KINDS, detail=True)},
        {"record": SUSPENDED_OBJECTS, "expr": q.held_suspended(ALL_KINDS, detail=True)},
    ]
    # Ready and unknown objects but the suspended ones recorded just before: the source's suspend
    # flags are read once an evaluation (with the legacy gauges, one series per object each time).
    unsuspended = f"\nunless on ({', '.join(OBJECT_LABELS)}) {SUSPENDED_OBJECTS}"
    rules += [
        {
            "record": OBJECT_COUNT,
            "expr": _count_by_kind(q.source.ready(ready, ALL_KINDS, q._object_filters(), False) + unsuspended),
            "labels": {"state": state},
        }
        for state, ready in STATE_READY.items()
        if state != "failing"
    ]
    rules += [
        {"record": OBJECT_COUNT, "expr": _count_by_kind(record), "labels": {"state": state}}
        for state, record in PER_OBJECT_STATES.items()
    ]
    rules += [
        {
            "record": RECONCILE_RATE,
            "expr": f"sum {_by(CONTROLLER_BY)} "
            f"(rate(controller_runtime_reconcile_total{q.controllers()}[{RECORD_WINDOW}]))",
        },
        {
            "record": RECONCILE_ERROR_RATE,
            "expr": f"sum {_by(CONTROLLER_BY)} "
            f"(rate(controller_runtime_reconcile_errors_total{q.controllers()}[{RECORD_WINDOW}]))",
        },
        {"record": WORKQUEUE_DEPTH, "expr": q.workqueue_depth()},
    ]
    return rules


def duration_rules(settings: Settings) -> list[dict]:
    """Reconcile durations per kind: the rates of their sums and counts."""
    q = FluxQueries(settings)
    return [
        {
            "record": duration_rate_record(series),
            "expr": f"sum {_by(DURATION_BY)} (rate({q.durations(series)}[{RECORD_WINDOW}]))",
        }
        for series in ("sum", "count")
    ]


def duration_quantile_rules(settings: Settings) -> list[dict]:
    """Reconcile durations per kind: the bucket rates over QUANTILE_WINDOW and their quantiles."""
    q = FluxQueries(settings)
    buckets = {
        "record": duration_rate_record("bucket"),
        "expr": q.duration_buckets(QUANTILE_WINDOW, DURATION_BY),
    }
    return [buckets] + [
        {
            "record": duration_quantile_record(quantile),
            "expr": f"histogram_quantile({quantile}, {duration_rate_record('bucket')})",
        }
        for quantile in RECORDED_QUANTILES
    ]


def object_duration_rules(settings: Settings) -> list[dict]:
    """Each object's p99 (OBJECT_P99) and average (OBJECT_AVERAGE), every OBJECT_DURATIONS_INTERVAL."""
    q = FluxQueries(settings)
    # ">= 0" drops the NaN of an object without reconciliations in the window.
    return [
        {"record": OBJECT_P99, "expr": f"{q.object_duration_quantile(0.99, OBJECT_P99_WINDOW)} >= 0"},
        {"record": OBJECT_AVERAGE, "expr": f"{q.object_duration_average(PER_OBJECT_WINDOW)} >= 0"},
    ]


def slowest_rules(settings: Settings) -> list[dict]:
    """The slowest objects, SLOWEST series each, from the per-object durations over windows
    (object_duration_rules): their worst p99 in 2h, and their latest average."""
    last_average = f"last_over_time({OBJECT_AVERAGE}[{OBJECT_DURATIONS_LAST}])"
    return [
        {"record": SLOWEST_P99, "expr": _slowest_p99("")},
        {"record": SLOWEST_AVERAGE, "expr": f"topk({SLOWEST}, {last_average})"},
    ]


def recording_rules(settings: Settings) -> list[dict]:
    """Every recording rule, whatever its group."""
    return (
        object_rules(settings)
        + duration_rules(settings)
        + duration_quantile_rules(settings)
        + object_duration_rules(settings)
        + slowest_rules(settings)
    )


@dataclass(frozen=True)
class RecordedQueries:
    """Dashboard queries over the recorded series, filtered like FluxQueries.

    ``object_namespace`` is the objects' namespace template variable (allValue ".*"). With it at
    All, each object query reads the recorded fleet series; with namespaces selected, the raw
    series of just those namespaces (the recorded side then selects nothing, and at All the raw
    side selects nothing: index work only, no samples).
    """

    settings: Settings
    object_namespace: str | None = None
    controller_namespace: str | None = None
    cluster: str | None = None
    # Filter the failing and suspended objects on a template variable per objectLabels key, named
    # as its Prometheus label (allValue ".*" also matches objects without the label).
    by_object_labels: bool = False

    def _filters(self, *matchers: str) -> str:
        return _selector(
            *matchers,
            _matches("exported_namespace", self.object_namespace),
            _matches("namespace", self.controller_namespace),
            _matches(CLUSTER, self.cluster),
        )

    def _at_all(self, record: str, *matchers: str) -> str:
        """``record`` (in the chosen clusters) when the namespace variable is at All, nothing otherwise."""
        at_all = f'{ALL_NAMESPACES}=~"{self.object_namespace}"' if self.object_namespace is not None else ""
        return f"{record}{_selector(*matchers, at_all, _matches(CLUSTER, self.cluster))}"

    @property
    def _selected(self) -> FluxQueries:
        """Raw queries of the selected namespaces only (none at All)."""
        return FluxQueries(
            self.settings,
            object_namespace=self.object_namespace,
            controller_namespace=self.controller_namespace,
            cluster=self.cluster,
            only_selected=True,
        )

    def _selected_objects(self, state: str, kinds: Kinds) -> str:
        """The objects of ``kinds`` in ``state`` in the selected namespaces (none at All): failing and
        suspended objects are recorded one by one, so those series."""
        raw = self._selected
        if state in PER_OBJECT_STATES:
            return f"{PER_OBJECT_STATES[state]}{_selector(kinds.matcher('kind'), raw._object_filters())}"
        return raw.objects(STATE_READY[state], kinds)

    def object_count(self, state: str, kinds: Kinds) -> str:
        """How many objects of ``kinds`` are in ``state`` (a STATE_READY key or SUSPENDED); 0 when none.

        Failing and suspended objects are recorded one by one: a selection counts those series."""
        return (
            f"sum({self._at_all(OBJECT_COUNT, _equals('state', state), kinds.matcher('kind'))})\n"
            f"or count(\n{self._selected_objects(state, kinds)}\n)\nor vector(0)"
        )

    def _object_label_filters(self) -> tuple[str, ...]:
        labels = self.settings.object_labels if self.by_object_labels else ()
        return tuple(_matches(name, f"${name}") for name in map(object_label_name, labels))

    def failing_objects(self) -> str:
        """Each failing object (not suspended), with the detail labels its source knows."""
        return f"{FAILING_OBJECTS}{self._filters(*self._object_label_filters())}"

    def suspended_objects(self) -> str:
        return f"{SUSPENDED_OBJECTS}{self._filters(*self._object_label_filters())}"

    def objects_per_cluster(self, state: str) -> str:
        """How many objects of each cluster are in ``state``; clusters with none are left out."""
        return (
            f"sum by ({CLUSTER}) ({self._at_all(OBJECT_COUNT, _equals('state', state))})\n"
            f"or count by ({CLUSTER}) (\n{self._selected_objects(state, ALL_KINDS)}\n)"
        )

    def _per_controller(self, record: str, by: tuple[str, ...]) -> str:
        """A per-controller recorded series (RECONCILE_RATE, RECONCILE_ERROR_RATE, WORKQUEUE_DEPTH) summed ``by``."""
        return f"sum {_by(by)} ({record}{self._filters()})"

    def workqueue_depth(self) -> str:
        return self._per_controller(WORKQUEUE_DEPTH, (CLUSTER, "app", "name"))

    def reconciliations_per_minute(self) -> str:
        return f"{self._per_controller(RECONCILE_RATE, (CLUSTER, 'controller'))} * 60"

    def reconciliation_errors_per_minute(self) -> str:
        return f"{self._per_controller(RECONCILE_ERROR_RATE, (CLUSTER, 'controller'))} * 60"

    def kind_duration_quantile(self, quantile: float) -> str:
        """The recorded ``quantile`` (one of RECORDED_QUANTILES) of reconcile durations per kind, in the
        controller namespaces chosen."""
        recorded = duration_quantile_record(quantile) + self._filters()
        return f"max {_by((CLUSTER, 'kind'))} ({last_quantile_record(recorded)})"

    def with_every_cluster(self, expr: str) -> str:
        """``expr`` per cluster, with a 0 for each cluster that sends a heartbeat and has no value."""
        return f"{expr}\nor 0 * group {_by((CLUSTER,))} ({HEARTBEAT}{_selector(_matches(CLUSTER, self.cluster))})"

    def heartbeat_age(self) -> str:
        """Seconds since each cluster's last heartbeat within HEARTBEAT_LOOKBACK."""
        heartbeats = f"{HEARTBEAT}{_selector(_matches(CLUSTER, self.cluster))}"
        return f"time() - max {_by((CLUSTER,))} (max_over_time({heartbeats}[{HEARTBEAT_LOOKBACK}]))"

    def duration_quantile(self, quantile: float, by: tuple[str, ...]) -> str:
        buckets = (
            f"sum {_by((*by, 'le'))} ({last_quantile_record(self._at_all(duration_rate_record('bucket')))})\n"
            f"or {self._selected.duration_buckets(QUANTILE_WINDOW, by)}"
        )
        return f"histogram_quantile({quantile},\n{buckets}\n)"

    def duration_average(self, by: tuple[str, ...]) -> str:
        recorded = (
            f"sum {_by(by)} ({self._at_all(duration_rate_record('sum'))})\n"
            f"/ sum {_by(by)} ({self._at_all(duration_rate_record('count'))})"
        )
        return f"{recorded}\nor {self._selected.duration_average(RECORD_WINDOW, by)}"

    def slowest_average(self) -> str:
        return f"topk({SLOWEST}, {self._at_all(SLOWEST_AVERAGE)}\nor {_slowest_average(self._selected)})"

    def slo_error_ratio(self, window: str) -> str:
        """Each selected namespace's recorded error ratio over ``window``."""
        return f"{slo_error_ratio(window)}{self._filters()}"

    def budget_left(self, window: str, budget: float) -> str:
        """The fraction of each namespace's error budget (``budget``, over ``window``) not spent yet."""
        return f"1 - {self.slo_error_ratio(window)} / {budget!r}"

    def slowest_p99(self) -> str:
        """Each object's p99 is recorded (OBJECT_P99): a selection reads its namespaces' series."""
        selected = self._selected._object_filters()
        return f"topk({SLOWEST}, {self._at_all(SLOWEST_P99)}\nor {_slowest_p99(_selector(selected))})"


# -- delivery SLO (slo) ---------------------------------------------------------------------
#
# Per namespace (and cluster), never per object at query time: each namespace's Kustomizations and
# HelmReleases that exist, and those failing (Ready False, not suspended; 0 when none), recorded with
# the object states (every minute). The error ratio over a window is the failing object-time over the
# object-time: sum_over_time of the failing count over sum_over_time of the count.
SLO_BY = (CLUSTER, "exported_namespace")
SLO_KINDS = RECONCILERS
SLO_OBJECTS = "flux:slo_objects:count"
SLO_FAILING = "flux:slo_objects_failing:count"
# The SLO window is long (30d): the budget group sums each 5 minutes once, at its own 5m interval,
# so the window's ratio reads 8,640 samples per namespace instead of 86,400.
SLO_SUM_WINDOW = "5m"
SLO_OBJECTS_SUM = f"flux:slo_objects:sum_over_time{SLO_SUM_WINDOW}"
SLO_FAILING_SUM = f"flux:slo_objects_failing:sum_over_time{SLO_SUM_WINDOW}"


def slo_error_ratio(window: str) -> str:
    """The recorded error ratio of each namespace over ``window``."""
    return f"flux:slo_errors:ratio_rate{window}"


def _ratio(failing: str, objects: str, window: str) -> str:
    return f"sum_over_time({failing}[{window}])\n/ sum_over_time({objects}[{window}])"


def slo_count_rules(settings: Settings) -> list[dict]:
    """SLO_OBJECTS and SLO_FAILING, after FAILING_OBJECTS in the objects group (which they read)."""
    q = FluxQueries(settings)
    existing = "\nor ".join([*(q.objects(ready, SLO_KINDS) for ready in STATE_READY.values()), q.suspended(SLO_KINDS)])
    failing = f"{FAILING_OBJECTS}{_selector(SLO_KINDS.matcher('kind'))}"
    return [
        {"record": SLO_OBJECTS, "expr": f"count {_by(SLO_BY)} (\n{existing}\n)"},
        {"record": SLO_FAILING, "expr": f"count {_by(SLO_BY)} ({failing})\nor 0 * {SLO_OBJECTS}"},
    ]


def slo_window_rules(windows: tuple[str, ...]) -> list[dict]:
    """The error ratio over each of the burn-rate alerts' ``windows``."""
    return [{"record": slo_error_ratio(w), "expr": _ratio(SLO_FAILING, SLO_OBJECTS, w)} for w in windows]


def slo_budget_rules(window: str) -> list[dict]:
    """The error ratio over the SLO ``window``, from 5-minute sums (evaluated every SLO_SUM_WINDOW)."""
    return [
        {"record": SLO_FAILING_SUM, "expr": f"sum_over_time({SLO_FAILING}[{SLO_SUM_WINDOW}])"},
        {"record": SLO_OBJECTS_SUM, "expr": f"sum_over_time({SLO_OBJECTS}[{SLO_SUM_WINDOW}])"},
        {"record": slo_error_ratio(window), "expr": _ratio(SLO_FAILING_SUM, SLO_OBJECTS_SUM, window)},
    ]


# Recorded every recording interval; its value is the evaluation time. A cluster whose latest
# heartbeat at the central store is old has stopped sending data.
HEARTBEAT = "flux:heartbeat:timestamp"
# How far back the age of a cluster's heartbeat is looked for: a cluster silent for longer drops out.
HEARTBEAT_LOOKBACK = "1h"


def clusters() -> str:
    """The fleet's clusters (a template variable's values): those with a heartbeat."""
    return label_values(HEARTBEAT, CLUSTER)


def heartbeat_rule() -> dict[str, str]:
    """The recording rule of HEARTBEAT (its value is the evaluation time)."""
    return {"record": HEARTBEAT, "expr": "time()"}
