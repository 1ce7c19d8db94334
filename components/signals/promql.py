"""PromQL for Flux objects and controllers, in one place for both metric generations.

Dashboards and alert rules take their queries from here, so a panel and the alert beside it
always count the same objects.

Every object query returns one series per Flux object labelled ``kind``, ``exported_namespace``
and ``name``. ``exported_namespace`` is the object's namespace in both generations:
- Controller metrics are scraped through the PodMonitor with honor_labels false, so the pod's
  namespace (flux-system) takes ``namespace`` and the object's own ``namespace`` label is renamed
  ``exported_namespace`` by Prometheus.
- kube-state-metrics is scraped with honorLabels true (kube-prometheus-stack's default), which
  would keep an object ``namespace`` label as is; the custom resource state config therefore names
  the label ``exported_namespace`` itself (see kube_state_metrics.py), matching the controllers.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings import Settings
from components.signals.kube_state_metrics import FLUX_KINDS

# The PodMonitor's name; the Prometheus Operator sets the ``job`` label of its targets to
# "<PodMonitor namespace>/<PodMonitor name>".
POD_MONITOR_NAME = "flux-system"

CONTROLLERS = (
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
)
# What `flux install` deploys by default; the image controllers are opt-in, so only these four
# are expected to exist.
CORE_CONTROLLERS = CONTROLLERS[:4]

OBJECT_LABELS = ("kind", "exported_namespace", "name")
WORKQUEUE_BY = ("namespace", "app", "name")


@dataclass(frozen=True)
class Kinds:
    """A set of Flux kinds, or (negate) every kind but these."""

    names: tuple[str, ...]
    negate: bool = False

    def matcher(self, label: str) -> str:
        if not self.names:
            return ""
        return f'{label}{"!~" if self.negate else "=~"}"{"|".join(self.names)}"'


RECONCILERS = Kinds(("Kustomization", "HelmRelease"))
SOURCES = Kinds(("GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket"))
NOT_SOURCES = Kinds(SOURCES.names, negate=True)
ALL_KINDS = Kinds(())
# Kinds with a Ready condition. Alert and Provider (notification v1beta3) have none: in
# gotk_resource_info they lack the ready label, which would otherwise read as Unknown.
WITH_READY = Kinds(tuple(k.kind for k in FLUX_KINDS if not k.has_ready), negate=True)


def _selector(*matchers: str) -> str:
    return "{" + ", ".join(m for m in matchers if m) + "}"


def _equals(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _by(labels: tuple[str, ...]) -> str:
    return f"by ({', '.join(labels)})"


@dataclass(frozen=True)
class FluxQueries:
    """Queries for one metric generation.

    ``object_namespace`` and ``controller_namespace`` are regexes restricting the objects' and the
    controllers' namespaces (dashboards pass their template variables); None means any.
    """

    settings: Settings
    object_namespace: str | None = None
    controller_namespace: str | None = None

    @property
    def legacy(self) -> bool:
        return self.settings.flux_metrics == "legacy"

    # -- controllers -------------------------------------------------------------------

    def controllers(self, *matchers: str) -> str:
        """Selector of the series scraped from the Flux controllers by the PodMonitor."""
        namespace = (f'namespace=~"{self.controller_namespace}"'
                     if self.controller_namespace is not None else "")
        return _selector(f'job="{self.settings.namespace}/{POD_MONITOR_NAME}"', namespace, *matchers)

    def _objects_namespace(self) -> str:
        if self.object_namespace is None:
            return ""
        return f'exported_namespace=~"{self.object_namespace}"'

    def durations(self, series: str) -> str:
        """A gotk_reconcile_duration_seconds series (bucket, sum or count) with its selector."""
        return f"gotk_reconcile_duration_seconds_{series}{self.controllers(self._objects_namespace())}"

    def controller_down(self) -> str:
        """A controller whose scrape fails, or a core controller with no target at all."""
        down = f"up{self.controllers()} == 0"
        absent = [f"absent(up{self.controllers(_equals('app', app))})" for app in CORE_CONTROLLERS]
        return "\nor ".join([down, *absent])

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
        ``detail`` adds the revision label where the generation knows it.
        """
        # Deleted objects have no ready state at 1, so excluding them from the suspended set
        # here would only cost a join.
        return f"{self._ready(ready, kinds, detail)}\nunless on ({', '.join(OBJECT_LABELS)}) {self._suspend_flag(kinds, detail=False)}"

    def suspended(self, kinds: Kinds, detail: bool = False) -> str:
        if self.legacy:
            # A controller leaves gotk_suspend_status at 1 when it records a suspended object
            # deleted; only objects with a live Ready state (True, False or Unknown at 1) count.
            live = self._legacy_selector(kinds, _equals("type", "Ready"), 'status=~"True|False|Unknown"')
            return (f"{self._suspend_flag(kinds, detail)}\n"
                    f"and on ({', '.join(OBJECT_LABELS)}) (gotk_reconcile_condition{live} == 1)")
        return self._suspend_flag(kinds, detail)

    def _suspend_flag(self, kinds: Kinds, detail: bool) -> str:
        """Objects whose suspend flag is set (in legacy, deleted ones included)."""
        if self.legacy:
            return f"max {_by(OBJECT_LABELS)} (gotk_suspend_status{self._legacy_selector(kinds)} == 1)"
        return self._resource_info(kinds, detail, 'suspended="true"')

    def _ready(self, ready: str, kinds: Kinds, detail: bool) -> str:
        if self.legacy:
            # No "unless Deleted" guard: when a controller records an object deleted it sets the
            # object's True, False and Unknown series to 0 beside Deleted=1 (fluxcd/pkg
            # runtime/metrics RecordCondition), so "== 1" already leaves it out; the PodMonitor
            # drops the Deleted series anyway. Kinds without a Ready condition have no series.
            selector = self._legacy_selector(kinds, _equals("type", "Ready"), _equals("status", ready))
            return f"max {_by(OBJECT_LABELS)} (gotk_reconcile_condition{selector} == 1)"
        # An object not reconciled yet has no ready label: it counts as Unknown, if its kind has a
        # Ready condition at all. Deleted objects disappear from kube-state-metrics.
        ready_matcher = 'ready=~"Unknown|"' if ready == "Unknown" else f'ready="{ready}"'
        return self._resource_info(kinds, detail, WITH_READY.matcher("customresource_kind"), ready_matcher)

    def _legacy_selector(self, kinds: Kinds, *matchers: str) -> str:
        return self.controllers(kinds.matcher("kind"), self._objects_namespace(), *matchers)

    def _resource_info(self, kinds: Kinds, detail: bool, *matchers: str) -> str:
        labels = OBJECT_LABELS + (("revision",) if detail else ())
        info = (f"gotk_resource_info"
                f"{_selector(kinds.matcher('customresource_kind'), self._objects_namespace(), *matchers)}")
        # kube-state-metrics names the kind customresource_kind; copy it to kind like the
        # controllers' metrics so both generations share labels.
        return (f"max {_by(labels)} (label_replace({info}, "
                f'"kind", "$1", "customresource_kind", "(.+)"))')


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
CONTROLLER_BY = ("namespace", "app", "controller")


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

    def _filters(self, *matchers: str) -> str:
        obj = f'exported_namespace=~"{self.object_namespace}"' if self.object_namespace is not None else ""
        ctl = f'namespace=~"{self.controller_namespace}"' if self.controller_namespace is not None else ""
        return _selector(*matchers, obj, ctl)

    def object_count(self, state: str, kinds: Kinds) -> str:
        """How many objects of ``kinds`` are in ``state`` (a STATE_READY key or SUSPENDED); 0 when none."""
        selector = self._filters(_equals("state", state), kinds.matcher("kind"))
        return f"sum({OBJECT_COUNT}{selector}) or vector(0)"

    def per_controller(self, record: str, by: tuple[str, ...]) -> str:
        """A per-controller recorded series (RECONCILE_RATE, RECONCILE_ERROR_RATE, WORKQUEUE_DEPTH) summed ``by``."""
        return f"sum {_by(by)} ({record}{self._filters()})"

    def duration_quantile(self, quantile: float, by: tuple[str, ...]) -> str:
        return (f"histogram_quantile({quantile}, sum {_by(by + ('le',))} "
                f"({duration_rate_record('bucket')}{self._filters()}))")

    def duration_average(self, by: tuple[str, ...]) -> str:
        return (f"sum {_by(by)} ({duration_rate_record('sum')}{self._filters()})\n"
                f"/ sum {_by(by)} ({duration_rate_record('count')}{self._filters()})")
