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
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

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
}
# Reconcilers outnumber sources in real fleets.
KIND_CYCLE = ("Kustomization", "HelmRelease", "GitRepository", "Kustomization", "HelmRelease", "HelmChart",
              "HelmRepository", "OCIRepository", "Bucket", "Kustomization", "HelmRelease", "ImageRepository",
              "ImagePolicy", "ImageUpdateAutomation", "Receiver")
CONTROLLERS = sorted({app for app, _, _ in KINDS.values()})
# gotk_reconcile_duration_seconds buckets of the Flux controllers (10ms to 100s, x10).
BUCKETS = (0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class FluxObject:
    kind: str
    namespace: str
    name: str
    ready: str  # True, False or Unknown
    suspended: bool
    revision: str
    seconds: float  # typical reconcile duration


def build_fleet(size: int, namespaces: int, failing: float = 0.05, suspended: float = 0.02,
                unknown: float = 0.01, seed: int = 0) -> list[FluxObject]:
    """``size`` objects spread over ``namespaces``; the same kind/name recurs in every namespace."""
    rng = random.Random(seed)
    order = list(range(size))
    rng.shuffle(order)
    n_failing, n_suspended, n_unknown = (max(1, round(size * share)) for share in (failing, suspended, unknown))
    state = {i: "False" for i in order[:n_failing]}
    state.update({i: "Unknown" for i in order[n_failing:n_failing + n_unknown]})
    parked = set(order[n_failing + n_unknown:n_failing + n_unknown + n_suspended])
    objects = []
    for i in range(size):
        slot = i // namespaces
        objects.append(FluxObject(
            kind=KIND_CYCLE[slot % len(KIND_CYCLE)], namespace=f"team-{i % namespaces:03d}", name=f"app-{slot}",
            ready=state.get(i, "True"), suspended=i in parked,
            revision=f"main@sha1:{rng.getrandbits(160):040x}", seconds=round(rng.uniform(0.05, 30.0), 3)))
    return objects


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class FleetMetrics:
    """The exposition text of each endpoint, at the current time."""

    def __init__(self, objects: list[FluxObject], generation: str):
        self.objects = objects
        self.generation = generation
        self.started = time.monotonic()
        self.by_app = {app: [o for o in objects if KINDS[o.kind][0] == app] for app in CONTROLLERS}

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
        for o in self.by_app[app]:
            lines += self._durations(o, elapsed)
            if self.generation == "legacy":
                lines += self._legacy_state(o)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _durations(o: FluxObject, elapsed: float) -> list[str]:
        # One reconciliation every two seconds: 90% take the typical time, 10% five times as long.
        count = elapsed / 2
        obj = dict(kind=o.kind, name=o.name, namespace=o.namespace)
        lines = [f"gotk_reconcile_duration_seconds_bucket{_labels(**obj, le=f'{le:g}')} "
                 f"{count * (0.9 * (o.seconds <= le) + 0.1 * (5 * o.seconds <= le)):.3f}" for le in BUCKETS]
        return lines + [f"gotk_reconcile_duration_seconds_bucket{_labels(**obj, le='+Inf')} {count:.3f}",
                        f"gotk_reconcile_duration_seconds_sum{_labels(**obj)} {count * 1.4 * o.seconds:.3f}",
                        f"gotk_reconcile_duration_seconds_count{_labels(**obj)} {count:.3f}"]

    @staticmethod
    def _legacy_state(o: FluxObject) -> list[str]:
        obj = dict(kind=o.kind, name=o.name, namespace=o.namespace)
        return [f"gotk_reconcile_condition{_labels(**obj, type='Ready', status=s)} {int(s == o.ready)}"
                for s in ("True", "False", "Unknown", "Deleted")] + [
            f"gotk_suspend_status{_labels(**obj)} {int(o.suspended)}"]

    def kube_state_metrics(self) -> str:
        lines = []
        for o in self.objects:
            _, group, version = KINDS[o.kind]
            labels = dict(customresource_group=group, customresource_kind=o.kind, customresource_version=version,
                          exported_namespace=o.namespace, name=o.name, suspended=str(o.suspended).lower(),
                          revision=o.revision)
            if o.ready != "Unknown":  # an object not reconciled yet has no Ready condition, so no label
                labels["ready"] = o.ready
            lines.append(f"gotk_resource_info{_labels(**labels)} 1")
        return "\n".join(lines) + "\n"


def scrape_configs(port: int, generation: str) -> list[dict]:
    """Prometheus scrape configs for the served fleet, with the labels of a real cluster scrape."""
    controllers = {
        "job_name": "flux-controllers",
        "honor_labels": False,
        "static_configs": [{
            "targets": [f"127.0.0.1:{port}"],
            "labels": {"__metrics_path__": f"/controllers/{app}/metrics", "job": CONTROLLER_JOB,
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
def serve_fleet(objects: list[FluxObject], generation: str) -> Iterator[int]:
    """Serves the fleet's metrics on 127.0.0.1 at an ephemeral port (yielded) until the block ends."""
    metrics = FleetMetrics(objects, generation)

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
            self.wfile.write(data)

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
