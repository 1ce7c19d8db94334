"""A synthetic Flux fleet served over HTTP as the Flux controllers and kube-state-metrics would.

``build_fleet`` makes a deterministic set of Flux objects (namesakes in several namespaces, a share
failing, suspended or not ready yet); ``serve_fleet`` serves their metrics on 127.0.0.1, and
``scrape_configs`` gives Prometheus the targets with the labels a real scrape has:
- controllers as the PodMonitor scrapes them: target labels job, namespace (the pod's), pod,
  container, endpoint, app, and honor_labels false, so each object's ``namespace`` label becomes
  ``exported_namespace``;
- kube-state-metrics as kube-prometheus-stack's ServiceMonitor scrapes it: honor_labels true, the
  object namespace already in ``exported_namespace``.
Counters grow with wall-clock time, so rates over any window hold data.

Controllers also export the per-controller families real ones do (Go runtime, controller-runtime,
work queue and client-go histograms), so the PodMonitor's metric relabelings have something to
drop. ``start_prometheus`` runs a real Prometheus on 127.0.0.1 for the tests and bench/.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import requests
import yaml

from components.flux_release import DURATION_BUCKET_LE

FLUX_NAMESPACE = "flux-system"
MONITORING_NAMESPACE = "monitoring"
CONTROLLER_JOB = f"{MONITORING_NAMESPACE}/flux-system"

# kind -> (controller app, API group, version)
KINDS = {
    "Kustomization": ("kustomize-controller", "kustomize.toolkit.fluxcd.io", "v1"),
    "HelmRelease": ("helm-controller", "helm.toolkit.fluxcd.io", "v2"),
    "GitRepository": ("source-controller", "source.toolkit.fluxcd.io", "v1"),
    "OCIRepository": ("source-controller", "source.toolkit.fluxcd.io", "v1"),
    "HelmRepository": ("source-controller", "source.toolkit.fluxcd.io", "v1"),
    "HelmChart": ("source-controller", "source.toolkit.fluxcd.io", "v1"),
    "Bucket": ("source-controller", "source.toolkit.fluxcd.io", "v1"),
    "Receiver": ("notification-controller", "notification.toolkit.fluxcd.io", "v1"),
    "ImageRepository": ("image-reflector-controller", "image.toolkit.fluxcd.io", "v1"),
    "ImagePolicy": ("image-reflector-controller", "image.toolkit.fluxcd.io", "v1"),
    "ImageUpdateAutomation": ("image-automation-controller", "image.toolkit.fluxcd.io", "v1"),
    "Alert": ("notification-controller", "notification.toolkit.fluxcd.io", "v1beta3"),
    "Provider": ("notification-controller", "notification.toolkit.fluxcd.io", "v1beta3"),
}
# notification v1beta3 kinds have no conditions and no reconciler: no state, no controller series.
NOT_RECONCILED = {"Alert", "Provider"}
# Reconcilers outnumber sources in real fleets.
KIND_CYCLE = ("Kustomization", "HelmRelease", "GitRepository", "Kustomization", "HelmRelease", "HelmChart",
              "HelmRepository", "OCIRepository", "Bucket", "Kustomization", "HelmRelease", "ImageRepository",
              "ImagePolicy", "ImageUpdateAutomation", "Receiver", "Alert", "Provider")
CONTROLLERS = sorted({app for app, _, _ in KINDS.values()})
# gotk_reconcile_duration_seconds buckets of the Flux controllers, as they write them (10ms to 1800s).
BUCKETS = tuple((le, float(le)) for le in DURATION_BUCKET_LE)
# controller-runtime's reconcile time buckets, work queue (1e-8 to 1e1, x10) and client-go latency buckets.
RECONCILE_TIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7,
                          0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15,
                          20, 25, 30, 40, 50, 60)
WORKQUEUE_BUCKETS = tuple(10.0 ** e for e in range(-8, 2))
REST_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
GO_MEMSTATS = ("alloc_bytes", "alloc_bytes_total", "buck_hash_sys_bytes", "frees_total", "gc_sys_bytes",
               "heap_alloc_bytes", "heap_idle_bytes", "heap_inuse_bytes", "heap_objects", "heap_released_bytes",
               "heap_sys_bytes", "last_gc_time_seconds", "lookups_total", "mallocs_total", "mcache_inuse_bytes",
               "mcache_sys_bytes", "mspan_inuse_bytes", "mspan_sys_bytes", "next_gc_bytes", "other_sys_bytes",
               "stack_inuse_bytes", "stack_sys_bytes", "sys_bytes")


@dataclass(frozen=True)
class FluxObject:
    kind: str
    namespace: str
    name: str
    ready: str  # True, False, Unknown, or "" for a kind without a Ready condition
    suspended: bool
    revision: str
    seconds: float  # typical reconcile duration
    deleted: bool = False  # deleted while failing: gone from kube-state-metrics, Deleted=1 in the legacy series


def build_fleet(size: int, namespaces: int, failing: float = 0.05, suspended: float = 0.02,
                unknown: float = 0.01, deleted: float = 0.0, seed: int = 0) -> list[FluxObject]:
    """``size`` objects spread over ``namespaces``; the same kind/name recurs in every namespace.

    The shares of failing, unknown, deleted and suspended objects are of all objects, drawn among
    the reconciled ones (Alerts and Providers have no state).
    """
    rng = random.Random(seed)
    kinds = [KIND_CYCLE[(i // namespaces) % len(KIND_CYCLE)] for i in range(size)]
    order = [i for i in range(size) if kinds[i] not in NOT_RECONCILED]
    rng.shuffle(order)
    n_failing, n_suspended, n_unknown = (max(1, round(size * share)) for share in (failing, suspended, unknown))
    state = {i: "False" for i in order[:n_failing]}
    state.update({i: "Unknown" for i in order[n_failing:n_failing + n_unknown]})
    rest = order[n_failing + n_unknown:]
    parked = set(rest[:n_suspended])
    gone = set(rest[n_suspended:n_suspended + round(size * deleted)])
    objects = []
    for i in range(size):
        slot = i // namespaces
        objects.append(FluxObject(
            kind=kinds[i], namespace=f"team-{i % namespaces:03d}", name=f"app-{slot}",
            ready="" if kinds[i] in NOT_RECONCILED else "False" if i in gone else state.get(i, "True"),
            suspended=i in parked, deleted=i in gone,
            revision=f"main@sha1:{rng.getrandbits(160):040x}", seconds=round(rng.uniform(0.05, 30.0), 3)))
    return objects


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class FleetMetrics:
    """The exposition text of each endpoint, at the current time."""

    def __init__(self, objects: list[FluxObject], generation: str, legacy_state: bool | None = None):
        self.objects = objects
        self.generation = generation
        # Flux 2.1 to 2.4 controllers export the legacy state series in both generations.
        self.legacy_state = generation == "legacy" if legacy_state is None else legacy_state
        self.started = time.monotonic()
        self.by_app = {app: [o for o in objects if KINDS[o.kind][0] == app and o.kind not in NOT_RECONCILED]
                       for app in CONTROLLERS}

    def controller(self, app: str) -> str:
        elapsed = time.monotonic() - self.started + 60  # as if running for a minute already
        queues = sorted({o.kind.lower() for o in self.by_app[app]})
        lines = [
            f"process_cpu_seconds_total {0.05 * elapsed:.3f}",
            f"process_resident_memory_bytes {64 * 2**20 + 1024 * len(self.by_app[app])}",
        ]
        for queue in queues:
            q = _labels(controller=queue, name=queue)
            lines += [f"workqueue_depth{q} {len(queue) % 4}",
                      f"workqueue_longest_running_processor_seconds{q} {0.5 * (len(queue) % 3)}",
                      f"controller_runtime_reconcile_errors_total{q} {0.02 * elapsed:.3f}"]
            for result, share in (("success", 1.0), ("error", 0.02), ("requeue_after", 0.5)):
                lines.append(f"controller_runtime_reconcile_total"
                             f"{_labels(controller=queue, result=result)} {share * elapsed:.3f}")
        for code, method, share in (("200", "GET", 3.0), ("200", "PATCH", 1.0), ("404", "GET", 0.3),
                                    ("500", "PATCH", 0.01)):
            lines.append(f"rest_client_requests_total"
                         f"{_labels(code=code, host='10.96.0.1:443', method=method)} {share * elapsed:.3f}")
        lines += self._runtime(queues, elapsed)
        for o in self.by_app[app]:
            lines += self._durations(o, elapsed)
            if self.legacy_state:
                lines += self._legacy_state(o)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _histogram(name: str, labels: dict, buckets: tuple, count: float) -> list[str]:
        lines = [f"{name}_bucket{_labels(**labels, le=f'{le:g}')} {count * min(1.0, le):.3f}" for le in buckets]
        return lines + [f"{name}_bucket{_labels(**labels, le='+Inf')} {count:.3f}",
                        f"{name}_sum{_labels(**labels)} {count * 0.2:.3f}", f"{name}_count{_labels(**labels)} {count:.3f}"]

    def _runtime(self, queues: list[str], elapsed: float) -> list[str]:
        """The per-controller families no signal reads (Go runtime, latency histograms)."""
        lines = [f"go_gc_duration_seconds{_labels(quantile=q)} 0.0001" for q in ("0", "0.25", "0.5", "0.75", "1")]
        lines += [f"go_gc_duration_seconds_sum {elapsed / 1000:.3f}", f"go_gc_duration_seconds_count {elapsed:.0f}",
                  "go_goroutines 120", "go_threads 14"]
        lines += [f"go_memstats_{name} {1024 * (i + 1)}" for i, name in enumerate(GO_MEMSTATS)]
        for queue in queues:
            lines += self._histogram("controller_runtime_reconcile_time_seconds", {"controller": queue},
                                     RECONCILE_TIME_BUCKETS, elapsed)
            for family in ("workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"):
                lines += self._histogram(family, {"name": queue}, WORKQUEUE_BUCKETS, elapsed)
        for verb in ("GET", "PATCH", "POST", "PUT", "DELETE"):
            lines += self._histogram("rest_client_request_duration_seconds",
                                     {"host": "10.96.0.1:443", "verb": verb}, REST_BUCKETS, elapsed)
        return lines

    @staticmethod
    def _durations(o: FluxObject, elapsed: float) -> list[str]:
        # One reconciliation every two seconds: 90% take the typical time, 10% five times as long.
        count = elapsed / 2
        obj = dict(kind=o.kind, name=o.name, namespace=o.namespace)
        lines = [f"gotk_reconcile_duration_seconds_bucket{_labels(**obj, le=text)} "
                 f"{count * (0.9 * (o.seconds <= le) + 0.1 * (5 * o.seconds <= le)):.3f}" for text, le in BUCKETS]
        return lines + [f"gotk_reconcile_duration_seconds_bucket{_labels(**obj, le='+Inf')} {count:.3f}",
                        f"gotk_reconcile_duration_seconds_sum{_labels(**obj)} {count * 1.4 * o.seconds:.3f}",
                        f"gotk_reconcile_duration_seconds_count{_labels(**obj)} {count:.3f}"]

    @staticmethod
    def _legacy_state(o: FluxObject) -> list[str]:
        # As fluxcd/pkg runtime/metrics records it: a deleted object has Deleted=1 and every other status 0.
        obj = dict(kind=o.kind, name=o.name, namespace=o.namespace)
        status = "Deleted" if o.deleted else o.ready
        return [f"gotk_reconcile_condition{_labels(**obj, type='Ready', status=s)} {int(s == status)}"
                for s in ("True", "False", "Unknown", "Deleted")] + [
            f"gotk_suspend_status{_labels(**obj)} {int(o.suspended)}"]

    def kube_state_metrics(self) -> str:
        lines = []
        for o in (o for o in self.objects if not o.deleted):
            _, group, version = KINDS[o.kind]
            labels = dict(customresource_group=group, customresource_kind=o.kind, customresource_version=version,
                          exported_namespace=o.namespace, name=o.name, suspended=str(o.suspended).lower(),
                          revision=o.revision)
            if o.ready in ("True", "False"):  # no Ready condition (yet, or in its kind): no label
                labels["ready"] = o.ready
            lines.append(f"gotk_resource_info{_labels(**labels)} 1")
        return "\n".join(lines) + "\n"


def metric_relabel_configs(pod_monitor: dict) -> list[dict]:
    """The PodMonitor's metricRelabelings as the Prometheus Operator writes them into the scrape config."""
    keys = {"sourceLabels": "source_labels", "targetLabel": "target_label", "action": "action",
            "regex": "regex", "separator": "separator", "replacement": "replacement"}
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    return [{keys[k]: v for k, v in rule.items()} for rule in endpoint.get("metricRelabelings", [])]


def scrape_configs(port: int, generation: str, relabelings: list[dict] | None = None,
                   job_name: str = "flux-controllers", job: str = CONTROLLER_JOB) -> list[dict]:
    """Prometheus scrape configs for the served fleet, with the labels of a real cluster scrape.

    ``relabelings`` are the controllers' metric_relabel_configs (see ``metric_relabel_configs``).
    """
    controllers = {
        "job_name": job_name,
        "honor_labels": False,
        **({"metric_relabel_configs": relabelings} if relabelings else {}),
        "static_configs": [{
            "targets": [f"127.0.0.1:{port}"],
            "labels": {"__metrics_path__": f"/controllers/{app}/metrics", "job": job,
                       "namespace": FLUX_NAMESPACE, "pod": f"{app}-6d9c7f5b8-x2k4q", "container": "manager",
                       "endpoint": "http-prom", "app": app},
        } for app in CONTROLLERS],
    }
    if generation == "legacy":
        return [controllers]
    kube_state_metrics = {
        "job_name": "kube-state-metrics",
        "honor_labels": True,
        "static_configs": [{
            "targets": [f"127.0.0.1:{port}"],
            "labels": {"__metrics_path__": "/kube-state-metrics/metrics", "job": "kube-state-metrics",
                       "namespace": MONITORING_NAMESPACE, "pod": "kube-state-metrics-5f7d8c9b6-q8w2e",
                       "container": "kube-state-metrics", "endpoint": "http", "service": "kube-state-metrics"},
        }],
    }
    return [controllers, kube_state_metrics]


@contextmanager
def serve_fleet(objects: list[FluxObject], generation: str, legacy_state: bool | None = None) -> Iterator[int]:
    """Serves the fleet's metrics on 127.0.0.1 at an ephemeral port (yielded) until the block ends."""
    metrics = FleetMetrics(objects, generation, legacy_state)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            parts = self.path.strip("/").split("/")
            if parts == ["kube-state-metrics", "metrics"] and generation != "legacy":
                body = metrics.kube_state_metrics()
            elif len(parts) == 3 and parts[0] == "controllers" and parts[1] in CONTROLLERS:
                body = metrics.controller(parts[1])
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # Prometheus gave up on a slow scrape, or is being stopped: its next scrape retries

        def log_message(self, *args):  # scrapes every second would flood the test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- a real Prometheus on 127.0.0.1 ---------------------------------------------------------


SELF_JOB = "prometheus"


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

    def wait_until_scraped(self, targets: int, scrapes: int, deadline: float) -> None:
        """Every target healthy, each scraped at least ``scrapes`` times."""
        def ready() -> bool:
            up = self.value(f'count(up{{job!="{SELF_JOB}"}} == 1)')
            least = self.value(f'min(count_over_time(up{{job!="{SELF_JOB}"}}[10m]))')
            return up == targets and least is not None and least >= scrapes
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
def start_prometheus(binary: str, workdir: Path, scrape: list[dict], interval: str,
                     rule_groups: list[dict] | None = None, startup: float = 30.0) -> Iterator[Prometheus]:
    """A Prometheus on 127.0.0.1 at a free port with its data in ``workdir``, ready to answer; stopped after.

    It also scrapes itself (job SELF_JOB) for its rule evaluation and ingestion metrics.
    """
    port = free_port()
    itself = {"job_name": SELF_JOB, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
    config: dict = {"global": {"scrape_interval": interval, "evaluation_interval": interval,
                               "scrape_timeout": interval}, "scrape_configs": [*scrape, itself]}
    if rule_groups:
        (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": rule_groups}))
        config["rule_files"] = [str(workdir / "rules.yml")]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (workdir / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            prometheus = Prometheus(f"http://127.0.0.1:{port}", process)

            def ready() -> bool:
                try:
                    return requests.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200
                except requests.RequestException:
                    return False
            prometheus.wait_for("prometheus to start", ready, time.monotonic() + startup)
            yield prometheus
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
