"""A synthetic Flux fleet served over HTTP as a given Flux release's controllers, kube-state-metrics
and the Flux Operator would serve it, modelled on the shared release matrix, not on the program.

The facts come from ``../shared/upstream/flux/matrix.yaml`` (sources in MATRIX.md beside it):
which kinds exist in the release and which controller serves each, the version kube-state-metrics
reports, which kinds the controllers still export the legacy gauges for, whether a deleted object
keeps a ``status="Deleted"`` series, the exact ``le`` texts of the duration histogram, the label
forms of kube-state-metrics (``suspended`` absent unless spec.suspend is set, ``ready`` absent
without a Ready condition) and of the Flux Operator (``suspended="True"/"False"``, ``reason``), and
the pod ports (controllers ``http-prom``; the operator's metrics on ``http-metrics``, its ``http``
port answering health probes only).

``build_fleet`` makes a deterministic set of Flux objects (namesakes in several namespaces, a share
failing, suspended or not ready yet, some deleted); ``serve_fleet`` serves their metrics on
127.0.0.1, and ``scrape_configs`` gives Prometheus the Flux namespace's pods as Kubernetes discovery
lists them (controllers and their shards labelled as the Flux manifests and the sharding guide label
them, the Flux Operator) with the relabel configs the Prometheus Operator makes of each PodMonitor
(tests/support/pod_discovery.py), so a target exists only for a pod the PodMonitor selects:
- controllers and the operator with the labels a real scrape has: job, namespace (the pod's), pod,
  container, endpoint and what the PodMonitor's relabelings add (app, shard), honor_labels false (so
  each object's ``namespace`` label becomes ``exported_namespace``);
- kube-state-metrics as kube-prometheus-stack's ServiceMonitor scrapes it: honor_labels true, the
  object namespace already in ``exported_namespace``; it reports only the kinds its config watches at
  a version the cluster serves, and the pods' containers with their images.
Counters grow with wall-clock time, so rates over any window hold data.

Controllers also export the per-controller families real ones do (Go runtime, controller-runtime,
work queue and client-go histograms), so the PodMonitor's metric relabelings have something to
drop. ``start_prometheus`` runs a real Prometheus on 127.0.0.1 for the tests and bench/.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import requests
import yaml

from tests.support.loopback import serve_on_loopback
from tests.support.pod_discovery import Pod, listed, metric_relabel_configs, relabel, relabel_configs

FLUX_NAMESPACE = "flux-system"
MONITORING_NAMESPACE = "monitoring"
MATRIX = Path(__file__).resolve().parents[3] / "shared" / "upstream" / "flux" / "matrix.yaml"

# Reconcilers outnumber sources in real fleets. A release's fleet keeps the kinds it has.
KIND_CYCLE = (
    "Kustomization",
    "HelmRelease",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "OCIRepository",
    "Bucket",
    "Kustomization",
    "HelmRelease",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "Receiver",
    "Alert",
    "Provider",
    "ExternalArtifact",
    "ArtifactGenerator",
)
SOURCE_GROUP = "source.toolkit.fluxcd.io"
# The Ready reasons the fleet's objects carry (fluxcd/pkg apis/meta and the controllers' own).
READY_REASONS = {"True": "ReconciliationSucceeded", "Unknown": "Progressing"}
FAILED_REASONS = {
    "Kustomization": "HealthCheckFailed",
    "HelmRelease": "InstallFailed",
    "GitRepository": "GitOperationFailed",
    "HelmChart": "ChartPullError",
}
# controller-runtime's reconcile time buckets, work queue (1e-8 to 1e1, x10) and client-go latency buckets.
RECONCILE_TIME_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    4.5,
    5,
    6,
    7,
    8,
    9,
    10,
    15,
    20,
    25,
    30,
    40,
    50,
    60,
)
WORKQUEUE_BUCKETS = tuple(10.0**e for e in range(-8, 2))
REST_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
GO_MEMSTATS = (
    "alloc_bytes",
    "alloc_bytes_total",
    "buck_hash_sys_bytes",
    "frees_total",
    "gc_sys_bytes",
    "heap_alloc_bytes",
    "heap_idle_bytes",
    "heap_inuse_bytes",
    "heap_objects",
    "heap_released_bytes",
    "heap_sys_bytes",
    "last_gc_time_seconds",
    "lookups_total",
    "mallocs_total",
    "mcache_inuse_bytes",
    "mcache_sys_bytes",
    "mspan_inuse_bytes",
    "mspan_sys_bytes",
    "next_gc_bytes",
    "other_sys_bytes",
    "stack_inuse_bytes",
    "stack_sys_bytes",
    "sys_bytes",
)


PROVENANCE = MATRIX.parents[1] / "crds" / "flux" / "PROVENANCE.txt"
OPERATOR_IMAGE_TAG = "v0.58.1"


@cache
def _last_patch_line(minor: str) -> str:
    """PROVENANCE.txt's "Last patch of each minor as full image references" line of ``minor``."""
    (line,) = [line for line in PROVENANCE.read_text().splitlines() if line.startswith(f"  Flux {minor} (v{minor}.")]
    return line


def last_patch(minor: str) -> str:
    """The last patch release of Flux ``minor``, such as v2.9.4."""
    return re.search(r"\((v[0-9.]+)\)", _last_patch_line(minor)).group(1)


def controller_images(minor: str) -> dict[str, str]:
    """controller -> image tag in the last patch of Flux ``minor`` (flux2 manifests/bases at that tag)."""
    return dict(re.findall(r"ghcr\.io/fluxcd/([a-z-]+):(v[0-9.]+)", _last_patch_line(minor)))


def load_matrix() -> dict:
    """The shared release matrix; tests reach it through tests.support.signals_tools.upstream_file first."""
    if not MATRIX.is_file():
        raise FileNotFoundError(f"{MATRIX} is missing: the fleet is modelled on the shared Flux release matrix")
    return yaml.safe_load(MATRIX.read_text())


def _minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class MatrixRelease:
    """One Flux minor release as the shared matrix states it."""

    minor: str
    kinds: dict  # kind -> {"group", "controller", "version"}
    legacy_kinds: frozenset
    deleted_status: bool
    le: tuple  # the duration buckets' le texts, +Inf last
    default_controllers: tuple
    extra_controllers: tuple
    controller_port: str
    operator: dict  # the matrix's flux_operator facts

    @classmethod
    def of(cls, matrix: dict, minor: str) -> MatrixRelease:
        controllers = matrix["controllers"]
        state = matrix["controller_state_metrics"]
        return cls(
            minor=minor,
            kinds={
                kind: {
                    "group": facts["group"],
                    "controller": facts["controller"],
                    "version": facts["versions"][minor]["storage"],
                    "served": tuple(facts["versions"][minor]["served"]),
                }
                for kind, facts in matrix["kinds"].items()
                if minor in facts["versions"]
            },
            legacy_kinds=frozenset(state["kinds_emitting"][minor]),
            deleted_status=state["deleted_status"][minor],
            le=tuple(matrix["reconcile_duration_buckets"]["all_2x"]),
            default_controllers=tuple(controllers["default"]),
            extra_controllers=tuple(controllers["extra"][minor]),
            controller_port=controllers["port_name"],
            operator=matrix["flux_operator"],
        )

    def has_ready(self, kind: str) -> bool:
        # Alert and Provider are static objects without status from Flux 2.2 (MATRIX §1d, §1f).
        return not (kind in ("Alert", "Provider") and _minor(self.minor) >= (2, 2))

    def records_duration(self, kind: str) -> bool:
        # gotk_reconcile_duration_seconds: never for the 2.7 kinds; Alert/Provider only to 2.1 (MATRIX §1d).
        return kind not in ("ExternalArtifact", "ArtifactGenerator") and self.has_ready(kind)

    @staticmethod
    def has_suspend(kind: str) -> bool:
        # ExternalArtifact has no spec.suspend; ArtifactGenerator is suspended by annotation, which
        # neither kube-state-metrics' spec.suspend path nor the operator's label reads (MATRIX §1e).
        return kind not in ("ExternalArtifact", "ArtifactGenerator")

    def is_source(self, kind: str) -> bool:
        return self.kinds[kind]["group"] == SOURCE_GROUP


@dataclass(frozen=True)
class FluxObject:
    kind: str
    namespace: str
    name: str
    ready: str  # True, False, Unknown (not reconciled yet), or "" for a kind without a Ready condition
    suspended: bool
    revision: str
    seconds: float  # typical reconcile duration
    deleted: bool = False  # deleted while failing
    suspend_set: bool = False  # spec.suspend present (true, or explicitly false)
    slow_share: float = 0.1  # the share of its reconciliations that take five times ``seconds``
    labels: tuple = ()  # metadata.labels, as (key, value) pairs

    def as_kubernetes(self) -> dict:
        """The object as the Kubernetes API serves it to kube-state-metrics (the fields it reads)."""
        obj: dict = {"metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)}}
        if self.suspend_set:
            obj["spec"] = {"suspend": self.suspended}
        if self.ready in ("True", "False"):  # "Unknown" here: not reconciled yet, no condition
            obj["status"] = {"conditions": [{"type": "Ready", "status": self.ready, "reason": self.reason}]}
        return obj

    @property
    def reason(self) -> str:
        if self.ready == "False":
            return FAILED_REASONS.get(self.kind, "ReconciliationFailed")
        return READY_REASONS.get(self.ready, "")


def build_fleet(
    size: int,
    namespaces: int,
    release: MatrixRelease,
    controllers: tuple[str, ...] | None = None,
    failing: float = 0.05,
    suspended: float = 0.02,
    unknown: float = 0.01,
    deleted: float = 0.0,
    seed: int = 0,
) -> list[FluxObject]:
    """``size`` objects of the kinds ``release`` has (of ``controllers``' CRDs; all by default)
    spread over ``namespaces``; the same kind/name recurs in every namespace.

    The shares of failing, unknown, deleted and suspended objects are of all objects, drawn among
    those with a Ready condition (suspended ones among those with spec.suspend).
    """
    installed = controllers or release.default_controllers + release.extra_controllers
    cycle = [k for k in KIND_CYCLE if k in release.kinds and release.kinds[k]["controller"] in installed]
    rng = random.Random(seed)
    kinds = [cycle[(i // namespaces) % len(cycle)] for i in range(size)]
    order = [i for i in range(size) if release.has_ready(kinds[i])]
    rng.shuffle(order)
    n_failing, n_suspended, n_unknown = (max(1, round(size * share)) for share in (failing, suspended, unknown))
    state = dict.fromkeys(order[:n_failing], "False")
    state.update(dict.fromkeys(order[n_failing : n_failing + n_unknown], "Unknown"))
    rest = [i for i in order[n_failing + n_unknown :] if release.has_suspend(kinds[i])]
    parked = set(rest[:n_suspended])
    gone = set(rest[n_suspended : n_suspended + round(size * deleted)])
    objects = []
    for i in range(size):
        slot = i // namespaces
        objects.append(
            FluxObject(
                kind=kinds[i],
                namespace=f"team-{i % namespaces:03d}",
                name=f"app-{slot}",
                ready="" if not release.has_ready(kinds[i]) else "False" if i in gone else state.get(i, "True"),
                suspended=i in parked,
                deleted=i in gone,
                suspend_set=release.has_suspend(kinds[i]) and (i in parked or i % 3 == 0),
                revision=f"main@sha1:{rng.getrandbits(160):040x}",
                seconds=round(rng.uniform(0.05, 30.0), 3),
            )
        )
    return objects


@dataclass(frozen=True)
class Fleet:
    """A cluster: its Flux release, the controllers installed and how they fare, and its objects.

    ``shards`` gives a controller's shards (their pods labelled app=<controller>-<shard>, as the
    Flux sharding guide and the Flux Operator's spec.sharding make them); each object of a sharded
    controller belongs to the main controller or one shard. ``down`` pods (by app label) answer
    their scrape with an error; ``missing`` ones have no pod at all. ``operator``: the Flux
    Operator's pod runs in the Flux namespace (selected only by the operator's PodMonitor).
    """

    release: MatrixRelease
    objects: list
    controllers: tuple  # installed (what fluxComponents should list)
    down: frozenset = frozenset()
    missing: frozenset = frozenset()
    instance_ready: str = "True"  # the FluxInstance's Ready status, with the Flux Operator
    shards: dict = field(default_factory=dict)
    operator: bool = True
    # kube-state-metrics: the custom resources its config watches, (group, version, kind) each (None:
    # every kind at the version the release stores); it reports a kind only if the cluster serves that
    # version. ``images``: the controllers' images, controller -> tag (None: the release's own).
    watched: tuple | None = None
    reporting: bool = True  # the Flux Operator's reporting loop runs
    images: dict | None = None
    # The program's kube-state-metrics custom resource state config (spec): when given,
    # gotk_resource_info is rendered by following it, as kube-state-metrics does.
    custom_resource_state: dict | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def apps(self) -> tuple:
        """The app label of every controller and shard pod installed."""
        return tuple(app for c in self.controllers for app in (c, *(f"{c}-{s}" for s in self.shards.get(c, ()))))

    @property
    def serving(self) -> tuple:
        """Controller and shard pods (app labels) there are to scrape."""
        return tuple(app for app in self.apps if app not in self.missing)

    @property
    def up(self) -> tuple:
        return tuple(app for app in self.serving if app not in self.down)

    def controller_of(self, kind: str) -> str:
        return self.release.kinds[kind]["controller"]

    def pod_of(self, o: FluxObject) -> str:
        """The app label of the pod reconciling ``o``: its controller's, or one of its shards'."""
        controller = self.controller_of(o.kind)
        shards = self.shards.get(controller, ())
        index = zlib.crc32(f"{o.kind}/{o.namespace}/{o.name}".encode()) % (len(shards) + 1)
        return controller if index == 0 else f"{controller}-{shards[index - 1]}"

    def controller_of_pod(self, app: str) -> str:
        return next(c for c in self.controllers if app == c or app.startswith(f"{c}-"))

    def queues(self, app: str) -> list[str]:
        return sorted({o.kind.lower() for o in self.objects if self.pod_of(o) == app})

    @staticmethod
    def queue_depth(queue: str) -> int:
        return len(queue) % 4

    def pods(self) -> list[Pod]:
        """The pods of the Flux namespace as the Flux manifests label them: app=<controller> (or
        <controller>-<shard>), container ports http-prom and healthz (config/manager/deployment.yaml),
        and from Flux 2.7 app.kubernetes.io/part-of=flux and component (flux2 manifests/bases/*/labels.yaml);
        the Flux Operator's app.kubernetes.io/name=flux-operator with http-web, http-metrics and http."""
        labelled = _minor(self.release.minor) >= (2, 7)
        pods = [
            Pod(
                name=f"{app}-6d9c7f5b8-x2k4q",
                namespace=FLUX_NAMESPACE,
                labels={
                    "app": app,
                    **(
                        {
                            "app.kubernetes.io/part-of": "flux",
                            "app.kubernetes.io/component": self.controller_of_pod(app),
                        }
                        if labelled
                        else {}
                    ),
                },
                ports=(self.release.controller_port, "healthz"),
            )
            for app in self.serving
        ]
        if self.operator:
            scrape = self.release.operator["scrape"]
            pods.append(
                Pod(
                    name="flux-operator-7b9f6c5d4-m3n8p",
                    namespace=FLUX_NAMESPACE,
                    labels=scrape["pod_label"],
                    ports=("http-web", scrape["container_port_name"], "http"),
                )
            )
        return pods


def _path_value(obj, path: list[str]):
    """kube-state-metrics' compilePath on the steps the program uses: a map key, or [key=value]
    picking the first list element with that field; None where the path is unset."""
    for step in path:
        if step.startswith("[") and step.endswith("]") and "=" in step:
            key, value = step[1:-1].split("=", 1)
            obj = next((e for e in obj if isinstance(e, dict) and str(e.get(key)) == value), None) if obj else None
        else:
            obj = obj.get(step) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _go_format(value) -> str:
    """fmt.Sprintf("%v", value) of a JSON value."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class FleetMetrics:
    """The exposition text of each endpoint, at the current time."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self.release = fleet.release

    def elapsed(self) -> float:
        """Seconds the fleet has been running, as its counters count them (a minute already at the start)."""
        return time.monotonic() - self.fleet.started + 60

    def controller(self, app: str, elapsed: float | None = None) -> str:
        """A controller's exposition after ``elapsed`` seconds of running (now by default)."""
        fleet = self.fleet
        elapsed = self.elapsed() if elapsed is None else elapsed
        mine = [o for o in fleet.objects if fleet.pod_of(o) == app]
        queues = fleet.queues(app)
        lines = [
            f"process_cpu_seconds_total {0.05 * elapsed:.3f}",
            f"process_resident_memory_bytes {64 * 2**20 + 1024 * len(mine)}",
        ]
        for queue in queues:
            q = _labels(controller=queue, name=queue)
            lines += [
                f"workqueue_depth{q} {fleet.queue_depth(queue)}",
                f"workqueue_longest_running_processor_seconds{q} {0.5 * (len(queue) % 3)}",
                f"controller_runtime_reconcile_errors_total{q} {0.02 * elapsed:.3f}",
            ]
            for result, share in (("success", 1.0), ("error", 0.02), ("requeue_after", 0.5)):
                lines.append(
                    f"controller_runtime_reconcile_total"
                    f"{_labels(controller=queue, result=result)} {share * elapsed:.3f}"
                )
        for code, method, share in (
            ("200", "GET", 3.0),
            ("200", "PATCH", 1.0),
            ("404", "GET", 0.3),
            ("500", "PATCH", 0.01),
        ):
            lines.append(
                f"rest_client_requests_total"
                f"{_labels(code=code, host='10.96.0.1:443', method=method)} {share * elapsed:.3f}"
            )
        lines += self._runtime(queues, elapsed)
        for o in mine:
            if self.release.records_duration(o.kind):
                lines += self._durations(o, elapsed)
            if o.kind in self.release.legacy_kinds:
                lines += self._legacy_state(o)
        return "\n".join(lines) + "\n"

    def endpoint(self, path: str, elapsed: float | None = None) -> tuple[int, str]:
        """Status and body of ``path``: /pods/<pod>/<port name>/metrics answers like that pod port,
        /kube-state-metrics/metrics as kube-state-metrics; controllers' counters after ``elapsed``."""
        fleet = self.fleet
        operator = fleet.release.operator["scrape"]
        operator_pod = operator["pod_label"]["app.kubernetes.io/name"]
        parts = path.strip("/").split("/")
        if parts == [KUBE_STATE_METRICS, "metrics"]:
            return 200, self.kube_state_metrics()
        if len(parts) != 4 or parts[0] != "pods" or parts[3] != "metrics":
            return 404, ""
        pod, port = parts[1], parts[2]
        if pod == operator_pod and fleet.operator:
            if port == operator["container_port_name"]:
                return 200, self.operator()
            if port == "http":  # the health-probe port (8081), not metrics (MATRIX §1e)
                return 200, "ok\n"
            return 404, ""
        if pod not in fleet.serving or port != fleet.release.controller_port:
            return 404, ""
        if pod in fleet.down:
            return 500, "internal error\n"
        return 200, self.controller(pod, elapsed)

    @staticmethod
    def _histogram(name: str, labels: dict, buckets: tuple, count: float) -> list[str]:
        lines = [f"{name}_bucket{_labels(**labels, le=f'{le:g}')} {count * min(1.0, le):.3f}" for le in buckets]
        return [
            *lines,
            f"{name}_bucket{_labels(**labels, le='+Inf')} {count:.3f}",
            f"{name}_sum{_labels(**labels)} {count * 0.2:.3f}",
            f"{name}_count{_labels(**labels)} {count:.3f}",
        ]

    def _runtime(self, queues: list[str], elapsed: float) -> list[str]:
        """The per-controller families no signal reads (Go runtime, latency histograms)."""
        lines = [f"go_gc_duration_seconds{_labels(quantile=q)} 0.0001" for q in ("0", "0.25", "0.5", "0.75", "1")]
        lines += [
            f"go_gc_duration_seconds_sum {elapsed / 1000:.3f}",
            f"go_gc_duration_seconds_count {elapsed:.0f}",
            "go_goroutines 120",
            "go_threads 14",
        ]
        lines += [f"go_memstats_{name} {1024 * (i + 1)}" for i, name in enumerate(GO_MEMSTATS)]
        for queue in queues:
            lines += self._histogram(
                "controller_runtime_reconcile_time_seconds", {"controller": queue}, RECONCILE_TIME_BUCKETS, elapsed
            )
            for family in ("workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"):
                lines += self._histogram(family, {"name": queue}, WORKQUEUE_BUCKETS, elapsed)
        for verb in ("GET", "PATCH", "POST", "PUT", "DELETE"):
            lines += self._histogram(
                "rest_client_request_duration_seconds", {"host": "10.96.0.1:443", "verb": verb}, REST_BUCKETS, elapsed
            )
        return lines

    def _durations(self, o: FluxObject, elapsed: float) -> list[str]:
        if o.deleted and not self.release.deleted_status:
            return []  # from Flux 2.1 a deleted object's series are removed (MATRIX §1d)
        # One reconciliation every two seconds: most take the typical time, ``slow_share`` (10% by
        # default) five times as long. A deleted object (Flux 2.0) keeps its series, which no longer grow.
        count = 30.0 if o.deleted else elapsed / 2
        obj = {"kind": o.kind, "name": o.name, "namespace": o.namespace}
        typical, slow = 1 - o.slow_share, o.slow_share
        lines = []
        for le in self.release.le:
            bound = float(le)  # "+Inf" too
            lines.append(
                f"gotk_reconcile_duration_seconds_bucket{_labels(**obj, le=le)} "
                f"{count * (typical * (o.seconds <= bound) + slow * (5 * o.seconds <= bound)):.3f}"
            )
        return [
            *lines,
            f"gotk_reconcile_duration_seconds_sum{_labels(**obj)} {count * (typical + 5 * slow) * o.seconds:.3f}",
            f"gotk_reconcile_duration_seconds_count{_labels(**obj)} {count:.3f}",
        ]

    def _legacy_state(self, o: FluxObject) -> list[str]:
        obj = {"kind": o.kind, "name": o.name, "namespace": o.namespace}
        if o.deleted and not self.release.deleted_status:
            return []  # removed with the object (Flux 2.1+)
        # Flux 2.0 records a deleted object as Deleted=1 and every other status 0 (fluxcd/pkg runtime/metrics).
        statuses = (
            ("True", "False", "Unknown", "Deleted") if self.release.deleted_status else ("True", "False", "Unknown")
        )
        status = "Deleted" if o.deleted else o.ready
        return [
            f"gotk_reconcile_condition{_labels(**obj, type='Ready', status=s)} {int(s == status)}" for s in statuses
        ] + [f"gotk_suspend_status{_labels(**obj)} {int(o.suspended)}"]

    def reported(self, kind: str) -> bool:
        """Whether kube-state-metrics reports ``kind``: watched at a version the cluster serves (v2.20.0
        resolves each configured kind against the served CRD versions, kubernetes/kube-state-metrics
        internal/discovery/discovery.go @ c92fe0c5)."""
        facts = self.release.kinds[kind]
        if self.fleet.watched is None:
            return True
        return any(g == facts["group"] and k == kind and v in facts["served"] for g, v, k in self.fleet.watched)

    def kube_state_metrics(self) -> str:
        """gotk_resource_info as kube-state-metrics renders it (a label whose path is unset is absent),
        and kube_pod_container_info of the Flux namespace's pods."""
        lines = self._containers()
        if self.fleet.custom_resource_state is not None:
            return "\n".join(lines + self._custom_resource_state(self.fleet.custom_resource_state)) + "\n"
        for o in (o for o in self.fleet.objects if not o.deleted and self.reported(o.kind)):
            kind = self.release.kinds[o.kind]
            labels = {
                "customresource_group": kind["group"],
                "customresource_kind": o.kind,
                "customresource_version": kind["version"],
                "exported_namespace": o.namespace,
                "name": o.name,
                "revision": o.revision,
            }
            if o.suspend_set:
                labels["suspended"] = str(o.suspended).lower()
            if o.ready in ("True", "False"):  # "Unknown" here: not reconciled yet, no condition
                labels.update(ready=o.ready, reason=o.reason)
            lines.append(f"gotk_resource_info{_labels(**labels)} 1")
        return "\n".join(lines) + "\n"

    def _containers(self) -> list[str]:
        """kube_pod_container_info per container: namespace, pod, uid, container, image_spec, image,
        image_id, container_id (kubernetes/kube-state-metrics docs/metrics/workload/pod-metrics.md)."""
        images = self.fleet.images or controller_images(self.release.minor)
        lines = []
        for pod in self.fleet.pods():
            controller = pod.labels.get("app.kubernetes.io/name") or self.fleet.controller_of_pod(pod.labels["app"])
            image = (
                f"ghcr.io/controlplaneio-fluxcd/flux-operator:{OPERATOR_IMAGE_TAG}"
                if controller == "flux-operator"
                else f"ghcr.io/fluxcd/{controller}:{images[controller]}"
            )
            labels = {
                "namespace": pod.namespace,
                "pod": pod.name,
                "uid": f"uid-{pod.name}",
                "container": pod.container,
                "image_spec": image,
                "image": image,
                "image_id": f"{image.split(':')[0]}@sha256:{zlib.crc32(image.encode()):064x}",
                "container_id": f"containerd://{zlib.crc32(pod.name.encode()):064x}",
            }
            lines.append(f"kube_pod_container_info{_labels(**labels)} 1")
        return lines

    def _custom_resource_state(self, spec: dict) -> list[str]:
        """Each Info metric of ``spec`` for each object of its kind, following its labelsFromPath as
        kube-state-metrics does (kubernetes/kube-state-metrics pkg/customresourcestate/registry_factory.go,
        c92fe0c5): the customresource_* labels, then each path's value formatted with %v, a label
        whose path is unset left out, the name sanitized to [a-zA-Z0-9_]. A resource whose version the
        cluster does not serve reports nothing (internal/discovery/discovery.go, same commit)."""
        lines = []
        for resource in spec["resources"]:
            gvk = resource["groupVersionKind"]
            facts = self.release.kinds.get(gvk["kind"])
            if facts is None or facts["group"] != gvk["group"] or gvk["version"] not in facts["served"]:
                continue
            for metric in resource["metrics"]:
                name = f"{resource['metricNamePrefix']}_{metric['name']}"
                paths = {**metric["labelsFromPath"], **metric["each"]["info"]["labelsFromPath"]}
                for o in self.fleet.objects:
                    if o.deleted or o.kind != gvk["kind"]:
                        continue
                    obj = o.as_kubernetes()
                    labels = {
                        "customresource_group": gvk["group"],
                        "customresource_kind": gvk["kind"],
                        "customresource_version": gvk["version"],
                    }
                    for label, path in paths.items():
                        value = _path_value(obj, path)
                        if value is not None:
                            labels[re.sub(r"[^a-zA-Z0-9_]", "_", label)] = _go_format(value)
                    lines.append(f"{name}{_labels(**labels)} 1")
        return lines

    def operator(self) -> str:
        """The Flux Operator's flux_resource_info and flux_instance_info (internal/reporter/metrics.go)."""
        lines = []
        for o in (o for o in self.fleet.objects if not o.deleted):
            # No Ready condition: "Unknown"; Alert and Provider (no status) forced to "True" (MATRIX §1e).
            ready = o.ready or "True"
            labels = {
                "uid": f"{o.namespace}-{o.kind}-{o.name}",
                "kind": o.kind,
                "name": o.name,
                "exported_namespace": o.namespace,
                "ready": ready,
                "reason": o.reason if o.ready else "",
                "suspended": str(o.suspended),
                "revision": o.revision,
            }
            lines.append(f"flux_resource_info{_labels(**labels)} 1")
        instance = self.fleet.instance_ready
        lines.append(
            "flux_instance_info"
            + _labels(
                uid="flux-instance",
                kind="FluxInstance",
                name="flux",
                exported_namespace=FLUX_NAMESPACE,
                ready=instance,
                reason="ReconciliationSucceeded" if instance == "True" else "ReconciliationFailed",
                suspended="False",
                registry="ghcr.io/fluxcd",
                revision=f"{last_patch(self.release.minor)}@sha256:{'4' * 64}",
            )
            + " 1"
        )
        lines.append(
            "flux_operator_info"
            f"{_labels(version=OPERATOR_IMAGE_TAG, api_version='fluxcd.controlplane.io/v1', platform='linux/amd64')} 1"
        )
        # The FluxReport controller's reconciliations, one per reporting interval (RequeueAfter; flux-operator
        # internal/controller/fluxreport_controller.go), counted by controller-runtime; frozen when reporting stops.
        elapsed = self.elapsed()
        reports = elapsed / 5 if self.fleet.reporting else 12
        lines.append(
            f'controller_runtime_reconcile_total{{controller="fluxreport",result="requeue_after"}} {reports:.3f}'
        )
        return "\n".join(lines) + "\n"


# -- scraping as the PodMonitors say -----------------------------------------------------------


def scrape_configs(
    port: int, fleet: Fleet, pod_monitors: list[dict], kube_state_metrics: bool, relabel: bool = True
) -> list[dict]:
    """Prometheus scrape configs for the served fleet, one job per PodMonitor as the Prometheus
    Operator writes it (tests/support/pod_discovery.py): every pod of the Flux namespace as
    discovery lists it, one target per container port, and the operator's relabel_configs, so
    Prometheus itself keeps only the pods and port the PodMonitor selects; its metric relabelings
    when ``relabel``. Plus kube-state-metrics when asked."""
    configs = []
    pods = fleet.pods()
    for monitor in pod_monitors:
        relabelings = metric_relabel_configs(monitor) if relabel else []
        discovered = [
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {
                    **target,
                    "__metrics_path__": f"/pods/{pod.labels.get('app', pod.labels.get('app.kubernetes.io/name'))}"
                    f"/{target['__meta_kubernetes_pod_container_port_name']}/metrics",
                },
            }
            for pod in listed(monitor, pods)
            for target in pod.targets()
        ]
        configs.append(
            {
                "job_name": monitor["metadata"]["name"],
                "honor_labels": False,
                "relabel_configs": relabel_configs(monitor),
                **({"metric_relabel_configs": relabelings} if relabelings else {}),
                "static_configs": discovered,
            }
        )
    if kube_state_metrics:
        configs.append(
            {
                "job_name": "kube-state-metrics",
                "honor_labels": True,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{port}"],
                        "labels": {
                            "__metrics_path__": "/kube-state-metrics/metrics",
                            "job": "kube-state-metrics",
                            "namespace": MONITORING_NAMESPACE,
                            "pod": "kube-state-metrics-5f7d8c9b6-q8w2e",
                            "container": "kube-state-metrics",
                            "endpoint": "http",
                            "service": "kube-state-metrics",
                        },
                    }
                ],
            }
        )
    return configs


def targets(configs: list[dict]) -> int:
    """How many targets Prometheus keeps of the configs' discovered ones, after their relabel_configs."""
    return sum(
        relabel(static["labels"], config.get("relabel_configs", [])) is not None
        for config in configs
        for static in config["static_configs"]
    )


# What answers a scrape it cannot serve, as a pod being rescheduled would (``serve_fleet``'s ``unreachable``).
UNAVAILABLE = 503
KUBE_STATE_METRICS = "kube-state-metrics"


@contextmanager
def serve_fleet(fleet: Fleet, unreachable: set[str] | None = None) -> Iterator[int]:
    """Serves the fleet's metrics on 127.0.0.1 at an ephemeral port (yielded) until the block ends:
    /pods/<pod>/<port name>/metrics answers like that pod port, /kube-state-metrics/metrics too.

    ``unreachable`` (the caller may change it while serving) names endpoints whose scrapes fail:
    KUBE_STATE_METRICS or a pod (a controller's app label, the operator's name)."""
    metrics = FleetMetrics(fleet)
    unreachable = unreachable if unreachable is not None else set()

    def body_of(path: str) -> tuple[int, str]:
        parts = path.strip("/").split("/")
        endpoint = KUBE_STATE_METRICS if parts[0] == KUBE_STATE_METRICS else parts[1] if len(parts) > 1 else ""
        if endpoint in unreachable:
            return UNAVAILABLE, "unavailable\n"
        return metrics.endpoint(path)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = body_of(self.path)
            if status == 404:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # Prometheus gave up on a slow scrape, or is being stopped: its next scrape retries.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, *args):  # scrapes every second would flood the test output
            pass

    with serve_on_loopback(Handler) as port:
        yield port


# -- a real Prometheus on 127.0.0.1 ---------------------------------------------------------


SELF_JOB = "prometheus"
ALERT_RESEND_DELAY = "5s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def query(self, expr: str, timeout: float = 30) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=timeout)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The single number ``expr`` returns, None while it returns nothing (or Prometheus is not up)."""
        try:
            result = self.query(expr)
        except requests.RequestException:
            return None
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, what: str, ready, deadline: float, poll: float = 0.5) -> None:
        """Polls ``ready()`` until true; fails at ``deadline`` (monotonic) or if Prometheus exits."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.process.returncode}")
            if ready():
                return
            time.sleep(poll)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_until_scraped(self, targets: int, scrapes: int, deadline: float, healthy: int | None = None) -> None:
        """Each of ``targets`` scraped at least ``scrapes`` times, ``healthy`` of them (all by default) up."""
        healthy = targets if healthy is None else healthy

        def ready() -> bool:
            up = self.value(f'count(up{{job!="{SELF_JOB}"}} == 1)') or 0
            count = self.value(f'count(up{{job!="{SELF_JOB}"}})')
            least = self.value(f'min(count_over_time(up{{job!="{SELF_JOB}"}}[10m]))')
            return up == healthy and count == targets and least is not None and least >= scrapes

        self.wait_for(f"{scrapes} scrapes of {targets} targets", ready, deadline)

    def wait_for_rule_evaluation(self, deadline: float) -> None:
        """Every rule group evaluated after this call (so over the data scraped so far), without failures.

        Reads Prometheus' own metrics: it scrapes itself as job SELF_JOB.
        """
        since = time.time()

        def ready() -> bool:
            last = self.value("min(prometheus_rule_group_last_evaluation_timestamp_seconds)")
            return last is not None and last > since

        self.wait_for("rule evaluation", ready, deadline)
        failures = self.value("sum(prometheus_rule_evaluation_failures_total)")
        assert not failures, f"{failures} rule evaluation failures"


def rule_groups_evaluated_every(groups: list[dict], interval: str) -> list[dict]:
    """The groups with their explicit intervals replaced, for a quick local Prometheus."""
    return [{**group, "interval": interval} for group in groups]


@contextmanager
def start_prometheus(
    binary: str,
    workdir: Path,
    scrape: list[dict],
    interval: str,
    rule_groups: list[dict] | None = None,
    startup: float = 30.0,
    alertmanagers: list[str] | None = None,
    port: int | None = None,
    external_labels: dict[str, str] | None = None,
    remote_write: list[dict] | None = None,
    flags: tuple[str, ...] = (),
    scrape_itself: bool = True,
) -> Iterator[Prometheus]:
    """A Prometheus on 127.0.0.1 at ``port`` (default: a free one) with its data in ``workdir``, ready to
    answer; stopped after.

    It also scrapes itself (job SELF_JOB) for its rule evaluation and ingestion metrics, and sends
    its alerts to ``alertmanagers`` (host:port) when given. Without ``scrape_itself`` it appends nothing
    of its own, so remote writes of past samples are not out of bounds.
    """
    port = port or free_port()
    itself = {"job_name": SELF_JOB, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
    config: dict = {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "scrape_timeout": interval,
            **({"external_labels": external_labels} if external_labels else {}),
        },
        "scrape_configs": [*scrape, itself] if scrape_itself else scrape,
        **({"remote_write": remote_write} if remote_write else {}),
    }
    flags = list(flags)
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
        # Alerts evaluated before the Alertmanager is discovered are dropped, and resent only after
        # the resend delay (1m by default). 5s: soon resent, and each send stays valid for 4 resend
        # delays (20s), so a busy machine's late evaluation does not expire a firing alert.
        flags.append(f"--rules.alert.resend-delay={ALERT_RESEND_DELAY}")
    if rule_groups:
        (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": rule_groups}))
        config["rule_files"] = [str(workdir / "rules.yml")]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (workdir / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
                *flags,
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            prometheus = Prometheus(f"http://127.0.0.1:{port}", process)
            wait_until_answering(prometheus, "/-/ready", startup)
            yield prometheus
        finally:
            stop(process)


def wait_until_answering(server: Prometheus, path: str, startup: float, auth: tuple[str, str] | None = None) -> None:
    """Polls ``path`` of a server just started until it answers 200, for at most ``startup`` seconds."""

    def ready() -> bool:
        try:
            return requests.get(f"{server.url}{path}", auth=auth, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    server.wait_for(f"{server.url} to start", ready, time.monotonic() + startup)


def stop(process: subprocess.Popen) -> None:
    """Stops a server process: SIGTERM, then SIGKILL if it has not exited after 10 seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
