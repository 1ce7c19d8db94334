"""Where the state of Flux objects comes from: one object per metric source, behind one interface.

Dashboards, alerts and recording rules ask a ``MetricSource`` for objects in a Ready state, for
suspended objects and, where it knows them, for each object's revision and Ready reason; every
answer has one series per Flux object labelled ``kind``, ``exported_namespace`` and ``name``.

- ``LegacySource``: the controllers' own gauges gotk_reconcile_condition / gotk_suspend_status
  (Flux 2.0 to 2.4; fewer kinds from 2.2, none from 2.5), scraped through the PodMonitor.
- ``ResourceInfoSource``: gotk_resource_info, which kube-state-metrics builds from the objects
  themselves (kube_state_metrics.py configures it for the release's API versions).
- ``FluxOperatorSource``: flux_resource_info and flux_instance_info, exported by the Flux Operator,
  scraped through its own PodMonitor (podmonitor.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from flux_monitoring.config.types import object_label_name
from flux_monitoring.flux.release import MINORS, NEWEST, flux_release
from flux_monitoring.flux.target import FLUX_OPERATOR, LEGACY, FluxTarget

# ``cluster`` first: at a fleet's central store (flux_monitoring/manifests/fleet.py) namesakes of different clusters
# are different objects; in a cluster's own Prometheus no series has it, and grouping by it is a no-op.
OBJECT_LABELS = ("cluster", "kind", "exported_namespace", "name")


@dataclass(frozen=True)
class Kinds:
    """A set of Flux kinds, or (negate) every kind but these."""

    names: tuple[str, ...]
    negate: bool = False

    def matcher(self, label: str) -> str:
        if not self.names:
            return ""
        return f'{label}{"!~" if self.negate else "=~"}"{"|".join(self.names)}"'


def selector(*matchers: str) -> str:
    return "{" + ", ".join(m for m in matchers if m) + "}"


def equals(label: str, value: str) -> str:
    return f'{label}="{value}"'


def by(labels: tuple[str, ...]) -> str:
    return f"by ({', '.join(labels)})"


def last_known(series: str, window: str | None) -> str:
    """``series`` now, or (``window``) each series' last sample in the window before now.

    Range selectors skip staleness markers (prometheus/prometheus promql/engine.go, matrixIterSlice:
    ``value.IsStaleNaN`` samples are dropped, v2.x to v3.14.0), so a series a failed scrape ended
    keeps its last value for ``window``; an instant selector has nothing from the failed scrape on.
    """
    return f"last_over_time({series}[{window}])" if window else series


class MetricSource(ABC):
    """The object-state queries of one metric source.

    ``namespace`` arguments are a matcher on the objects' namespace ("" for any). ``detail`` adds
    the labels ``detail_labels`` (revision, reason) to each object, for tables. ``window``: each
    object's last state in that window rather than now, for when the source is not reporting
    (see ``last_known``).
    """

    # The metric carrying every object's state: the namespace variable's values come from it.
    state_metric: str
    detail_labels: tuple[str, ...] = ()

    def __init__(self, target: FluxTarget):
        self.target = target
        # Kinds without a Ready condition in this release (Alert and Provider from Flux 2.2) are
        # in no state: a source would report them as Unknown (kube-state-metrics: no label) or
        # True (the Flux Operator forces it).
        self.without_ready = Kinds(tuple(k.kind for k in target.release.kinds if not k.has_ready))

    @abstractmethod
    def ready(self, ready: str, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        """Objects of ``kinds`` whose Ready condition is ``ready`` (True, False or Unknown)."""

    @abstractmethod
    def suspend_flag(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        """Objects whose suspend flag is set."""

    def suspended(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        """Suspended objects that exist."""
        return self.suspend_flag(kinds, namespace, detail, window)

    @abstractmethod
    def reported_kinds(self, filters: str = "") -> str:
        """One series per kind the source reports objects of now, labelled ``cluster`` and ``kind``
        (``filters``: a matcher added to its selector, "" for none)."""

    def reason_query(self) -> str | None:
        """A printf format (of kind, namespace, name, each %q) of the query giving an object's Ready
        reason as its ``reason`` label, for alert annotations; None if the source has no reason."""
        return None

    def instances(self, namespace: str) -> str | None:
        """Each Flux installation as the source reports it, where it does (None otherwise)."""
        return None

    def _by_object(self, detail: bool) -> str:
        return by(OBJECT_LABELS + self.object_labels + (self.detail_labels if detail else ()))

    # The Prometheus names of the objects' own labels (objectLabels) that every object series carries.
    object_labels: tuple[str, ...] = ()

    def labelled(self, expr: str) -> str:
        """``expr``, one series per object, with the objects' own labels where the source has them:
        for series that do not come from it (the controllers' durations)."""
        return expr

    # -- what the source can and cannot see (FluxKindUnreported, FluxStateSourceDown, FluxVersionMismatch) --
    #
    # ``filters`` is a matcher added to every selector ("" for none; the dashboards' cluster variable).

    # The source's name and why a kind the controllers reconcile may be missing from it, for alert texts.
    name: str
    unreported_causes: str
    # What FluxVersionMismatch names as running (a template of running_flux's labels).
    running_text = "{{ $labels.pod }} runs {{ $labels.image }}, of Flux {{ $labels.running }}"

    def unreportable(self) -> Kinds:
        """Kinds the source can never report in this release (the config warns about them instead)."""
        return Kinds(())

    def down(self, filters: str = "") -> str | None:
        """The source itself down, absent or stale; None where the controllers are the source
        (FluxControllerDown covers them)."""
        return None

    def running_flux(self, flux_namespace: str, filters: str = "") -> str:
        """The Flux controllers' containers of another release than the declared one, labelled
        ``running`` with the Flux minor their image belongs to ("unknown" for a line no known release
        has), from kube-state-metrics' kube_pod_container_info (its default ``pods`` collector), which
        kube-prometheus-stack runs whatever the metric source."""
        ksm = equals("job", KUBE_STATE_METRICS_JOB)
        controllers = "|".join(flux_release(NEWEST).controllers)
        flux = f'image=~"{_IMAGE_PREFIX}({controllers}):v.*"'
        namespace = equals("namespace", flux_namespace)

        def containers(matcher: str, running: str) -> str:
            info = f"kube_pod_container_info{selector(ksm, namespace, flux, matcher, filters)}"
            return f'label_replace({info}, "running", "{running}", "", "")'

        branches = [containers(f'image=~"{_images_of(m)}"', m) for m in MINORS if m != self.target.release.minor]
        branches.append(containers(f'image!~"{"|".join(_images_of(m) for m in MINORS)}"', "unknown"))
        return "max by (cluster, namespace, pod, image, running) (\n" + "\nor ".join(branches) + "\n)"


# kube-state-metrics' job label: kube-prometheus-stack's kube-state-metrics ServiceMonitor takes it from
# the Service's app.kubernetes.io/name, the chart name (prometheus-community/helm-charts
# charts/kube-state-metrics/templates/servicemonitor.yaml `jobLabel: {{ default "app.kubernetes.io/name" ...}}`,
# chart 8.4.0 @ cf408a29).
KUBE_STATE_METRICS_JOB = "kube-state-metrics"
# Any registry and repository path before the controller's name: ghcr.io/fluxcd/, docker.io/fluxcd/, the Flux
# Operator's enterprise ghcr.io/controlplaneio-fluxcd/distroless/ (PROVENANCE.txt), a private mirror.
_IMAGE_PREFIX = "(.+/)?"


def _images_of(minor: str) -> str:
    """A regex of the images of Flux ``minor``'s controllers: <prefix><controller>:v<line>.<patch>[...]."""
    lines = "|".join(
        f"{c}:v{line.replace('.', '[.]')}" for c, line in flux_release(minor).controller_lines().items() if line
    )
    return f"{_IMAGE_PREFIX}({lines})[.].*"


class LegacySource(MetricSource):
    state_metric = "gotk_reconcile_condition"
    name = "the controllers' gotk_reconcile_condition"
    unreported_causes = (
        "its controller exports no gotk_reconcile_condition for it (they stop per kind from Flux 2.2, "
        "entirely in 2.5), or its series are dropped"
    )

    def __init__(self, target: FluxTarget, controllers_job: str):
        super().__init__(target)
        self.controllers_job = controllers_job

    def unreportable(self) -> Kinds:
        return Kinds(tuple(k.kind for k in self.target.release.kinds if not k.legacy_gauges))

    def _selector(self, kinds: Kinds, namespace: str, *matchers: str) -> str:
        return selector(equals("job", self.controllers_job), kinds.matcher("kind"), namespace, *matchers)

    def ready(self, ready: str, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        # "== 1": in Flux 2.0 a deleted object keeps its series, with Deleted at 1 and True, False and
        # Unknown at 0 (fluxcd/pkg runtime/metrics RecordCondition, runtime <= v0.41.0); from 2.1
        # its series are removed. Kinds without a Ready condition have no series.
        condition = self._selector(kinds, namespace, equals("type", "Ready"), equals("status", ready))
        return f"max {self._by_object(detail)} ({last_known(f'gotk_reconcile_condition{condition}', window)} == 1)"

    def suspend_flag(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        flag = last_known(f"gotk_suspend_status{self._selector(kinds, namespace)}", window)
        return f"max {self._by_object(detail)} ({flag} == 1)"

    def suspended(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        flag = self.suspend_flag(kinds, namespace, detail, window)
        if not self.target.release.deleted_status:
            return flag
        # Flux 2.0 controllers leave gotk_suspend_status at 1 when they record a suspended object
        # deleted: only objects with a live Ready state (True, False or Unknown at 1) count.
        live = self._selector(kinds, namespace, equals("type", "Ready"), 'status=~"True|False|Unknown"')
        live_state = last_known(f"gotk_reconcile_condition{live}", window)
        return f"{flag}\nand on ({', '.join(OBJECT_LABELS)}) ({live_state} == 1)"

    def reported_kinds(self, filters: str = "") -> str:
        # Each kind's gauges come from its controller: a kind is unreported while its controller's
        # scrape fails. Every reported object has its Ready status="True" series (at 0 or 1, beside
        # False and Unknown; with Flux 2.0 Deleted too): one series an object, not three or four.
        ready = self._selector(Kinds(()), "", equals("type", "Ready"), equals("status", "True"), filters)
        return f"group by (cluster, kind) (gotk_reconcile_condition{ready})"


def _kind_from_customresource_kind(expr: str) -> str:
    return f'label_replace({expr}, "kind", "$1", "customresource_kind", "(.+)")'


class ResourceInfoSource(MetricSource):
    """kube-state-metrics renders a label from the object and leaves it out when the path is unset
    (MATRIX §1f, §4): ``suspended`` is "true"/"false" and absent without spec.suspend, ``ready``
    absent before the first reconciliation. It copies the objects' labels of objectLabels
    (kube_state_metrics.py), which every object series then carries."""

    state_metric = "gotk_resource_info"
    detail_labels = ("revision", "reason")
    name = "kube-state-metrics"
    unreported_causes = (
        "kube-state-metrics' custom resource config does not name the kind at a version the cluster serves "
        "(a config written for another Flux release, as after an upgrade: fluxVersion), does not name it at all, "
        "or kube-state-metrics is down"
    )

    def down(self, filters: str = "") -> str:
        up = f"up{selector(equals('job', KUBE_STATE_METRICS_JOB), filters)}"
        return f"{up} == 0\nor absent({up})"

    def __init__(self, target: FluxTarget, object_labels: tuple[str, ...] = ()):
        super().__init__(target)
        self.object_labels = object_labels

    def labelled(self, expr: str) -> str:
        if not self.object_labels:
            return expr
        # An object kube-state-metrics does not list keeps its series, without the labels.
        on = f"on ({', '.join(OBJECT_LABELS)})"
        return (
            f"({expr})\n* {on} group_left ({', '.join(self.object_labels)}) {self._info(Kinds(()), '', False, None)}"
            f"\nor {on} ({expr})"
        )

    def _info(self, kinds: Kinds, namespace: str, detail: bool, window: str | None, *matchers: str) -> str:
        info = last_known(
            f"gotk_resource_info{selector(kinds.matcher('customresource_kind'), namespace, *matchers)}", window
        )
        # kube-state-metrics names the kind customresource_kind; copy it to kind like the other
        # sources, so every query has the same labels.
        return f"max {self._by_object(detail)} ({_kind_from_customresource_kind(info)})"

    def ready(self, ready: str, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        # An object not reconciled yet has no ready label: it counts as Unknown.
        ready_matcher = 'ready=~"Unknown|"' if ready == "Unknown" else equals("ready", ready)
        with_ready = Kinds(self.without_ready.names, negate=True)
        return self._info(kinds, namespace, detail, window, with_ready.matcher("customresource_kind"), ready_matcher)

    def suspend_flag(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        return self._info(kinds, namespace, detail, window, equals("suspended", "true"))

    def reported_kinds(self, filters: str = "") -> str:
        info = f"gotk_resource_info{selector(filters)}" if filters else "gotk_resource_info"
        return _kind_from_customresource_kind(f"group by (cluster, customresource_kind) ({info})")

    def reason_query(self) -> str:
        return "max by (reason) (gotk_resource_info{customresource_kind=%q, exported_namespace=%q, name=%q})"


class FluxOperatorSource(MetricSource):
    """The Flux Operator's flux_resource_info (controlplaneio-fluxcd/flux-operator
    internal/reporter/metrics.go; MATRIX §1e, §3): ``suspended`` "True"/"False" always present,
    ``ready`` "Unknown" without a Ready condition, ``reason`` the Ready condition's reason."""

    state_metric = "flux_resource_info"
    detail_labels = ("revision", "reason")
    name = "the Flux Operator"
    unreported_causes = (
        "the Flux Operator reports only the kinds whose CRD is labelled app.kubernetes.io/part-of=flux, "
        "and its reporting may be stale or down"
    )
    running_text = (
        "FluxInstance {{ $labels.exported_namespace }}/{{ $labels.name }} applied {{ $labels.revision }}, "
        "Flux {{ $labels.running }}"
    )

    def __init__(self, target: FluxTarget, operator_job: str):
        super().__init__(target)
        self.operator_job = operator_job

    def down(self, filters: str = "") -> str:
        """No successful FluxReport reconciliation, which rebuilds flux_resource_info, in REPORTING_STALE_AFTER.

        The operator's FluxReport controller reconciles every reporting interval (RequeueAfter, flux-operator
        internal/controller/fluxreport_controller.go @ 17c6aea); controller-runtime counts each in
        controller_runtime_reconcile_total{controller="fluxreport"} (the lower-cased kind, its default name).
        Its target down is FluxControllerDown's (app=flux-operator)."""
        reports = selector(
            equals("job", self.operator_job), equals("controller", "fluxreport"), 'result!="error"', filters
        )
        return f"sum by (cluster) (increase(controller_runtime_reconcile_total{reports}[{REPORTING_STALE_AFTER}])) == 0"

    def running_flux(self, flux_namespace: str, filters: str = "") -> str:
        """The FluxInstance's applied revision (status.lastAppliedRevision, such as v2.9.4@sha256:...) when
        of another minor than the declared one, labelled ``running`` with that minor."""
        declared = self.target.release.minor.replace(".", "[.]")
        instance = selector(
            equals("job", self.operator_job), 'revision=~"v.+"', f'revision!~"v{declared}[.].*"', filters
        )
        return (
            f"max by (cluster, exported_namespace, name, revision, running) "
            f'(label_replace(flux_instance_info{instance}, "running", "$1", "revision", "v([0-9]+[.][0-9]+)[.].*"))'
        )

    def _info(self, kinds: Kinds, namespace: str, detail: bool, window: str | None, *matchers: str) -> str:
        info = f"flux_resource_info{selector(self._job, kinds.matcher('kind'), namespace, *matchers)}"
        return f"max {self._by_object(detail)} ({last_known(info, window)})"

    @property
    def _job(self) -> str:
        return equals("job", self.operator_job)

    def ready(self, ready: str, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        with_ready = Kinds(self.without_ready.names, negate=True)
        return self._info(kinds, namespace, detail, window, with_ready.matcher("kind"), equals("ready", ready))

    def suspend_flag(self, kinds: Kinds, namespace: str, detail: bool, window: str | None = None) -> str:
        return self._info(kinds, namespace, detail, window, equals("suspended", "True"))

    def reported_kinds(self, filters: str = "") -> str:
        return f"group by (cluster, kind) (flux_resource_info{selector(self._job, filters)})"

    def reason_query(self) -> str:
        return (
            f'max by (reason) (flux_resource_info{{job="{self.operator_job}", '
            "kind=%q, exported_namespace=%q, name=%q})"
        )

    def instances(self, namespace: str) -> str:
        """Each FluxInstance: Flux's own health as the operator reports it, with the reason and the
        revision applied (the Flux version, such as v2.9.4@sha256:...). ``namespace`` matches the
        operator pod's namespace and cluster ("" for any)."""
        return (
            f"max by (cluster, exported_namespace, name, ready, reason, suspended, revision) "
            f"(flux_instance_info{selector(equals('job', self.operator_job), namespace)})"
        )

    def instance_reason_query(self) -> str:
        return f'max by (reason) (flux_instance_info{{job="{self.operator_job}", exported_namespace=%q, name=%q}})'

    def instances_not_ready(self, window: str | None = None) -> str:
        not_ready = selector(self._job, 'ready!="True"')
        return f"max by (exported_namespace, name) ({last_known(f'flux_instance_info{not_ready}', window)})"

    def instances_reported(self) -> str:
        """One series per cluster whose operator reports its FluxInstances now."""
        return f"group by (cluster) (flux_instance_info{selector(self._job)})"


# Three reporting intervals at the Flux Operator's default --reporting-interval, 5m (MATRIX §1e); its docs
# advise 30s with metrics, which this outlasts even more.
REPORTING_STALE_AFTER = "15m"

# The PodMonitors' names; the Prometheus Operator sets the ``job`` label of their targets to
# "<PodMonitor namespace>/<PodMonitor name>".
POD_MONITOR_NAME = "flux-system"
# The target label the controllers' PodMonitor gives a shard's targets: the <shard> of its pods'
# app=<controller>-<shard> (podmonitor.py); the main controller's targets have none.
SHARD_LABEL = "shard"
OPERATOR_POD_MONITOR_NAME = "flux-operator"


def pod_monitor_job(monitoring_namespace: str, name: str) -> str:
    return f"{monitoring_namespace}/{name}"


def metric_source(target: FluxTarget, monitoring_namespace: str, object_labels: tuple[str, ...] = ()) -> MetricSource:
    """The source ``target.metrics`` names; ``object_labels`` are the objectLabels keys (the settings
    refuse them with the other sources)."""
    if target.metrics == LEGACY:
        return LegacySource(target, pod_monitor_job(monitoring_namespace, POD_MONITOR_NAME))
    if target.metrics == FLUX_OPERATOR:
        return FluxOperatorSource(target, pod_monitor_job(monitoring_namespace, OPERATOR_POD_MONITOR_NAME))
    return ResourceInfoSource(target, tuple(object_label_name(key) for key in object_labels))
