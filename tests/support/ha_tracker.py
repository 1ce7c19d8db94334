"""A model of Grafana Mimir's HA tracker in front of a remote-write receiver, on 127.0.0.1.

Mimir's distributor, with the HA tracker on, accepts the samples of one replica per cluster (the
first seen is elected; another takes over after ``failover`` seconds without samples from it),
answers the other replicas' writes with 202 and drops them, and removes the replica label from
what it keeps (grafana.com/docs/mimir "Configure Grafana Mimir high-availability deduplication":
``ha_cluster_label``, ``ha_replica_label``). This relay does that to Prometheus remote write
requests (snappy-compressed protobuf prometheus.WriteRequest, Remote Write 1.0), so the test can
query the result with exact PromQL at a real receiver:

- the election, here: it reads the labels of a request's first series only (a request comes from one
  replica), decoding just the start of the snappy block;
- the label drop, in vmagent (Debian ``victoria-metrics``, ``-remoteWrite.relabelConfig`` with a
  ``labeldrop``), which forwards the kept requests to the receiver. Rewriting every series in Python
  could not keep up with the fleet's remote write on a busy machine: the receiver fell behind by more
  than the dashboards' rate windows.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import requests
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tests.support.flux_fleet import Prometheus, free_port, stop, wait_until_answering
from tests.support.loopback import serve_on_loopback

# -- snappy block format (github.com/google/snappy format_description.txt) -------------------------


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def snappy_decode(data: bytes, at_least: int | None = None) -> bytes:
    """The decoded block, or (``at_least``) only its first bytes, at least that many if it has them."""
    length, pos = _uvarint(data, 0)
    out = bytearray()
    while pos < len(data) and (at_least is None or len(out) < at_least):
        tag = data[pos]
        pos += 1
        if tag & 3 == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            size += 1
            out += data[pos : pos + size]
            pos += size
            continue
        if tag & 3 == 1:
            size, offset = ((tag >> 2) & 7) + 4, (tag >> 5) << 8 | data[pos]
            pos += 1
        else:
            extra = 2 if tag & 3 == 2 else 4
            size, offset = (tag >> 2) + 1, int.from_bytes(data[pos : pos + extra], "little")
            pos += extra
        # A copy may overlap its own output: then it repeats the last ``offset`` bytes.
        start = len(out) - offset
        out += out[start : start + size] if offset >= size else (out[start:] * (size // offset + 1))[:size]
    assert at_least is not None or len(out) == length, "corrupt snappy block"
    return bytes(out)


# -- prometheus.WriteRequest, as far as the relay reads it ----------------------------------------
# prometheus/prometheus prompb/remote.proto (WriteRequest: timeseries = 1) and prompb/types.proto
# (TimeSeries: labels = 1; Label: name = 1, value = 2), d15adb9 2026-08-21; the other fields are
# skipped as unknown.


_FIELD = descriptor_pb2.FieldDescriptorProto


def _write_request_class() -> type:
    file = descriptor_pb2.FileDescriptorProto(name="ha_tracker_prompb.proto", package="prometheus", syntax="proto3")

    def message(name: str, *fields: tuple[int, str, str | None]) -> None:
        added = file.message_type.add(name=name)
        for number, field, of in fields:
            added.field.add(
                name=field,
                number=number,
                type=_FIELD.TYPE_MESSAGE if of else _FIELD.TYPE_STRING,
                type_name=f".prometheus.{of}" if of else None,
                label=_FIELD.LABEL_REPEATED if of else _FIELD.LABEL_OPTIONAL,
            )

    message("Label", (1, "name", None), (2, "value", None))
    message("TimeSeries", (1, "labels", "Label"))
    message("WriteRequest", (1, "timeseries", "TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _write_request_class()


def first_series_labels(body: bytes) -> dict[str, str]:
    """The labels of the first series of a snappy-compressed WriteRequest, {} if it has none."""
    head = snappy_decode(body, at_least=16)
    if not head.startswith(b"\x0a"):  # not field 1 (timeseries) first: read the whole request
        request = WriteRequest.FromString(snappy_decode(body))
        return {label.name: label.value for label in request.timeseries[0].labels} if request.timeseries else {}
    size, start = _uvarint(head, 1)
    first = WriteRequest.FromString(snappy_decode(body, at_least=start + size)[: start + size])
    return {label.name: label.value for label in first.timeseries[0].labels}


# -- the relay -------------------------------------------------------------------------------------


class HATracker:
    """Elects one replica per cluster; forwards the elected replica's writes as they are."""

    def __init__(self, upstream: str, cluster_label: str, replica_label: str, failover: float):
        self.upstream, self.cluster_label, self.replica_label = upstream, cluster_label, replica_label
        self.failover = failover
        self.elected: dict[str, tuple[str, float]] = {}  # cluster -> (replica, last accepted)
        self.dropped: dict[str, int] = {}  # replica -> requests dropped
        self.lock = threading.Lock()

    def accepts(self, labels: dict[str, str]) -> bool:
        cluster, replica = labels.get(self.cluster_label), labels.get(self.replica_label)
        if cluster is None or replica is None:
            return True  # not an HA pair: Mimir accepts it as is
        now = time.monotonic()
        with self.lock:
            leader, seen = self.elected.get(cluster, (replica, now))
            if leader != replica and now - seen > self.failover:
                leader = replica  # the leader went quiet: fail over
            if leader == replica:
                self.elected[cluster] = (replica, now)
                return True
            self.dropped[replica] = self.dropped.get(replica, 0) + 1
            return False

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        labels = first_series_labels(body)
        if labels and not self.accepts(labels):
            return 202  # Mimir answers a deduplicated write with 202 Accepted
        return requests.post(self.upstream, data=body, headers=headers, timeout=30).status_code


@contextmanager
def dropping_label(vmagent: str, workdir: Path, upstream: str, label: str, startup: float = 30.0) -> Iterator[str]:
    """vmagent on 127.0.0.1 forwarding what it receives to ``upstream`` without ``label``; yields its
    remote write URL. One queue, so each series' samples arrive in order (a Prometheus receiver rejects
    out-of-order samples); its queue on disk survives the receiver's restarts."""
    port = free_port()
    relabel = workdir / "relabel.yml"
    relabel.write_text(yaml.safe_dump([{"action": "labeldrop", "regex": label}]))
    with (workdir / "vmagent.log").open("a") as log:
        process = subprocess.Popen(
            [
                vmagent,
                f"-httpListenAddr=127.0.0.1:{port}",
                f"-remoteWrite.url={upstream}",
                f"-remoteWrite.relabelConfig={relabel}",
                f"-remoteWrite.tmpDataPath={workdir / 'queue'}",
                "-remoteWrite.queues=1",
                "-loggerLevel=WARN",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_answering(Prometheus(f"http://127.0.0.1:{port}", process), "/health", startup)
            yield f"http://127.0.0.1:{port}/api/v1/write"
        finally:
            stop(process)


@contextmanager
def serve_ha_tracker(
    upstream: str,
    cluster_label: str,
    replica_label: str,
    port: int,
    vmagent: str,
    workdir: Path,
    failover: float = 30.0,
) -> Iterator[HATracker]:
    """The relay on 127.0.0.1:``port`` (its remote write URL: /api/v1/push), forwarding to ``upstream``
    through vmagent (``workdir``: its files), until the block ends."""
    with ExitStack() as stack:
        through = stack.enter_context(dropping_label(vmagent, workdir, upstream, replica_label))
        yield stack.enter_context(_serve(HATracker(through, cluster_label, replica_label, failover), port))


@contextmanager
def _serve(tracker: HATracker, port: int) -> Iterator[HATracker]:
    forwarded_headers = ("Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version", "User-Agent")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                status = tracker.handle(body, {h: self.headers[h] for h in forwarded_headers if h in self.headers})
            except requests.RequestException:
                status = 503  # the receiver is down: Prometheus retries
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with serve_on_loopback(Handler, port):
        yield tracker
