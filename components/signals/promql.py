"""PromQL for Flux objects and controllers, in one place for every metric source.

Dashboards and alert rules take their queries from here, so a panel and the alert beside it
always count the same objects. Object states come from the stack's metric source
(sources.py: the controllers' legacy gauges, kube-state-metrics' gotk_resource_info or the Flux
Operator's flux_resource_info); controller series (durations, work queues, up) from the
controllers' PodMonitor.

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

from dataclasses import dataclass

from components.settings import Settings
from components.signals.sources import (
    OBJECT_LABELS, POD_MONITOR_NAME, FluxOperatorSource, Kinds, MetricSource, by as _by,
    equals as _equals, metric_source, pod_monitor_job, selector as _selector,
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


def _matches(label: str, regex: str | None) -> str:
    return f'{label}=~"{regex}"' if regex is not None else ""


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
    cluster: str | None = None

    @property
    def source(self) -> MetricSource:
        return metric_source(self.settings.flux, self.settings.namespace)

    # -- controllers -------------------------------------------------------------------

    def controllers(self, *matchers: str) -> str:
        """Selector of the series scraped from the Flux controllers by the PodMonitor."""
        namespace = (f'namespace=~"{self.controller_namespace}"'
                     if self.controller_namespace is not None else "")
        return _selector(_equals("job", pod_monitor_job(self.settings.namespace, POD_MONITOR_NAME)), namespace,
                         _matches(CLUSTER, self.cluster), *matchers)

    def _objects_namespace(self) -> str:
        return _matches("exported_namespace", self.object_namespace)

    def _object_filters(self) -> str:
        """The matchers on the objects' namespace and cluster, for the metric source ("" for any)."""
        return ", ".join(m for m in (self._objects_namespace(), _matches(CLUSTER, self.cluster)) if m)

    def durations(self, series: str) -> str:
        """A gotk_reconcile_duration_seconds series (bucket, sum or count) with its selector."""
        return f"gotk_reconcile_duration_seconds_{series}{self.controllers(self._objects_namespace())}"

    def controller_down(self) -> str:
        """A scrape that fails, or an installed controller (fluxComponents) with no target at all;
        with the flux-operator source, the operator too."""
        down = [f"up{self.controllers()} == 0"]
        absent = [f"absent(up{self.controllers(_equals('app', app))})" for app in self.settings.flux.components]
        if isinstance(source := self.source, FluxOperatorSource):
            operator = _equals("job", source.operator_job)
            down.append(f"up{_selector(operator)} == 0")
            absent.append(f"absent(up{_selector(operator, _equals('app', FLUX_OPERATOR_APP))})")
        return "\nor ".join(down + absent)

    def workqueue_depth(self) -> str:
        """The deepest of each controller's work queues (max over its pods)."""
        return f"max {_by(WORKQUEUE_BY)} (workqueue_depth{self.controllers()})"

    def duration_quantile(self, quantile: float, window: str, by: tuple[str, ...]) -> str:
        return (f"histogram_quantile({quantile}, sum {_by(by + ('le',))} "
                f"(rate({self.durations('bucket')}[{window}])))")

    def duration_average(self, window: str, by: tuple[str, ...]) -> str:
        return (f"sum {_by(by)} (rate({self.durations('sum')}[{window}]))\n"
                f"/ sum {_by(by)} (rate({self.durations('count')}[{window}]))")

    # -- objects -----------------------------------------------------------------------

    def objects(self, ready: str, kinds: Kinds, detail: bool = False) -> str:
        """Objects whose Ready condition is ``ready``, neither deleted nor suspended.

        A suspended object keeps the Ready condition of its last reconciliation; it is counted
        (and alerted on) as suspended instead, so each object is in exactly one state.
        ``detail`` adds the labels the source knows beyond the object's (revision, reason).
        """
        # Deleted objects have no ready state at 1, so excluding them from the suspended set
        # here would only cost a join.
        source = self.source
        return (f"{source.ready(ready, kinds, self._object_filters(), detail)}\n"
                f"unless on ({', '.join(OBJECT_LABELS)}) {source.suspend_flag(kinds, self._object_filters(), False)}")

    def suspended(self, kinds: Kinds, detail: bool = False) -> str:
        return self.source.suspended(kinds, self._object_filters(), detail)


# -- recorded series ----------------------------------------------------------------------
#
# Names follow level:metric:operations. Each recorded expression is built from the raw queries
# above (FluxQueries without namespace filters), so a recorded series and the raw query it stands
# for cannot drift apart. Recorded series keep ``exported_namespace`` (objects) and ``namespace``
# (the controllers' namespace) so dashboard variables still filter them.

# Objects per kind, namespace and state: label state is one of STATE_READY's keys or "suspended".
OBJECT_COUNT = "flux:gotk_objects:count"
STATE_READY = {"ready": "True", "failing": "False", "unknown": "Unknown"}
SUSPENDED = "suspended"
RECORD_WINDOW = "5m"
DURATION_BY = ("namespace", "kind", "exported_namespace")
CONTROLLER_BY = (CLUSTER, "namespace", "app", "controller")


def duration_rate_record(series: str) -> str:
    """Recorded rate of a gotk_reconcile_duration_seconds series (bucket, sum or count) per kind and namespace."""
    return f"flux:gotk_reconcile_duration_seconds_{series}:rate{RECORD_WINDOW}"


def duration_quantile_record(quantile: float) -> str:
    return f"flux:gotk_reconcile_duration_seconds:p{round(quantile * 100)}_rate{RECORD_WINDOW}"


RECORDED_QUANTILES = (0.5, 0.9, 0.99)
RECONCILE_RATE = f"flux:controller_runtime_reconcile_total:rate{RECORD_WINDOW}"
RECONCILE_ERROR_RATE = f"flux:controller_runtime_reconcile_errors_total:rate{RECORD_WINDOW}"
WORKQUEUE_DEPTH = "flux:workqueue_depth:max"


def recording_rules(settings: Settings) -> list[dict]:
    """The recording rules of the aggregates the dashboards read, in evaluation order."""
    q = FluxQueries(settings)
    by_object = _by(("kind", "exported_namespace"))
    rules = [{"record": OBJECT_COUNT, "expr": f"count {by_object} (\n{q.objects(ready, ALL_KINDS)}\n)",
              "labels": {"state": state}} for state, ready in STATE_READY.items()]
    rules.append({"record": OBJECT_COUNT, "expr": f"count {by_object} (\n{q.suspended(ALL_KINDS)}\n)",
                  "labels": {"state": SUSPENDED}})
    rules += [{"record": duration_rate_record(series),
               "expr": f"sum {_by(DURATION_BY + (('le',) if series == 'bucket' else ()))} "
                       f"(rate({q.durations(series)}[{RECORD_WINDOW}]))"}
              for series in ("bucket", "sum", "count")]
    # Rules of a group run in order: the quantiles read the bucket rates just recorded.
    rules += [{"record": duration_quantile_record(quantile),
               "expr": f"histogram_quantile({quantile}, sum {_by(('namespace', 'kind', 'le'))} "
                       f"({duration_rate_record('bucket')}))"}
              for quantile in RECORDED_QUANTILES]
    rules += [
        {"record": RECONCILE_RATE,
         "expr": f"sum {_by(CONTROLLER_BY)} (rate(controller_runtime_reconcile_total{q.controllers()}[{RECORD_WINDOW}]))"},
        {"record": RECONCILE_ERROR_RATE,
         "expr": f"sum {_by(CONTROLLER_BY)} "
                 f"(rate(controller_runtime_reconcile_errors_total{q.controllers()}[{RECORD_WINDOW}]))"},
        {"record": WORKQUEUE_DEPTH, "expr": q.workqueue_depth()},
    ]
    return rules


@dataclass(frozen=True)
class RecordedQueries:
    """Dashboard queries over the recorded series, filtered like FluxQueries."""

    object_namespace: str | None = None
    controller_namespace: str | None = None
    cluster: str | None = None

    def _filters(self, *matchers: str) -> str:
        return _selector(*matchers, _matches("exported_namespace", self.object_namespace),
                         _matches("namespace", self.controller_namespace), _matches(CLUSTER, self.cluster))

    def object_count(self, state: str, kinds: Kinds) -> str:
        """How many objects of ``kinds`` are in ``state`` (a STATE_READY key or SUSPENDED); 0 when none."""
        selector = self._filters(_equals("state", state), kinds.matcher("kind"))
        return f"sum({OBJECT_COUNT}{selector}) or vector(0)"

    def objects_per_cluster(self, state: str) -> str:
        """How many objects of each cluster are in ``state``; clusters with none are left out."""
        return f"sum by ({CLUSTER}) ({OBJECT_COUNT}{self._filters(_equals('state', state))})"

    def per_controller(self, record: str, by: tuple[str, ...]) -> str:
        """A per-controller recorded series (RECONCILE_RATE, RECONCILE_ERROR_RATE, WORKQUEUE_DEPTH) summed ``by``."""
        return f"sum {_by(by)} ({record}{self._filters()})"

    def duration_quantile(self, quantile: float, by: tuple[str, ...]) -> str:
        return (f"histogram_quantile({quantile}, sum {_by(by + ('le',))} "
                f"({duration_rate_record('bucket')}{self._filters()}))")

    def duration_average(self, by: tuple[str, ...]) -> str:
        return (f"sum {_by(by)} ({duration_rate_record('sum')}{self._filters()})\n"
                f"/ sum {_by(by)} ({duration_rate_record('count')}{self._filters()})")
