"""A model of Grafana Mimir's HA tracker in front of a remote-write receiver, on 127.0.0.1.

Mimir's distributor, with the HA tracker on, accepts the samples of one replica per cluster (the
first seen is elected; another takes over after ``failover`` seconds without samples from it),
answers the other replicas' writes with 202 and drops them, and removes the replica label from
what it keeps (grafana.com/docs/mimir "Configure Grafana Mimir high-availability deduplication":
``ha_cluster_label``, ``ha_replica_label``). This relay does that to Prometheus remote write
requests (snappy-compressed protobuf prometheus.WriteRequest, Remote Write 1.0) and forwards the
kept ones to a real receiver, so the test can query the result with exact PromQL.

It decodes only what it needs: the labels of each series. Requests are sent on uncompressed
("literal-only" snappy blocks are valid snappy).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

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


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def snappy_decode(data: bytes) -> bytes:
    length, pos = _uvarint(data, 0)
    out = bytearray()
    while pos < len(data):
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
        for _ in range(size):  # copies may overlap their own output
            out.append(out[-offset])
    assert len(out) == length, "corrupt snappy block"
    return bytes(out)


def snappy_encode(data: bytes) -> bytes:
    """Literals only: valid snappy, no compression."""
    out = bytearray(_varint_bytes(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start : start + 65536]
        size = len(chunk) - 1
        out += (
            bytes([size << 2])
            if size < 60
            else bytes([60 << 2, size])
            if size < 256
            else bytes([61 << 2]) + size.to_bytes(2, "little")
        )
        out += chunk
    return bytes(out)


# -- protobuf wire format, as far as prometheus.WriteRequest needs (prompb/remote.proto, types.proto) --


def _fields(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(field number, payload of a length-delimited field or b"", the field's raw bytes)."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _uvarint(data, pos)
        wire = key & 7
        payload = b""
        if wire == 0:
            _, pos = _uvarint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _uvarint(data, pos)
            payload = data[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield key >> 3, payload, data[start:pos]


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint_bytes(field << 3 | 2) + _varint_bytes(len(payload)) + payload


def _label(raw: bytes) -> tuple[str, str]:
    parts = {number: payload.decode() for number, payload, _ in _fields(raw)}
    return parts.get(1, ""), parts.get(2, "")


def series_labels(request: bytes) -> list[dict[str, str]]:
    """The labels of each series of a WriteRequest (field 1: TimeSeries; its field 1: Label)."""
    return [
        dict(_label(label) for number, label, _ in _fields(series) if number == 1)
        for field, series, _ in _fields(request)
        if field == 1
    ]


def without_label(request: bytes, name: str) -> bytes:
    """The WriteRequest with label ``name`` removed from every series, everything else as it was."""
    out = bytearray()
    for field, series, raw in _fields(request):
        if field != 1:
            out += raw
            continue
        kept = b"".join(part for number, label, part in _fields(series) if number != 1 or _label(label)[0] != name)
        out += _length_delimited(1, kept)
    return bytes(out)


# -- the relay -------------------------------------------------------------------------------------


class HATracker:
    """Elects one replica per cluster; forwards the elected replica's writes without the replica label."""

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
        request = snappy_decode(body)
        labels = series_labels(request)
        if labels and not self.accepts(labels[0]):
            return 202  # Mimir answers a deduplicated write with 202 Accepted
        forwarded = requests.post(
            self.upstream, data=snappy_encode(without_label(request, self.replica_label)), headers=headers, timeout=30
        )
        return forwarded.status_code


@contextmanager
def serve_ha_tracker(
    upstream: str, cluster_label: str, replica_label: str, port: int, failover: float = 30.0
) -> Iterator[HATracker]:
    """The relay on 127.0.0.1:``port`` (its remote write URL: /api/v1/push) until the block ends."""
    tracker = HATracker(upstream, cluster_label, replica_label, failover)
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

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tracker
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
