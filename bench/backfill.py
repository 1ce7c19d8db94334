"""History for the bench: the fleet's series as Prometheus would have scraped them, sent to a fresh
Prometheus through its remote-write receiver, oldest first, so that its head holds the hours the
rules' and panels' longest windows read (as a running Prometheus' head holds its last 2 to 3 hours).

``promtool tsdb create-blocks-from openmetrics`` would write blocks instead; it parses about 90,000
samples per CPU second here (1,000 objects, 2.5 h: 51 CPU seconds), about eight minutes per
Prometheus at 10,000 objects, where the remote-write path takes well under a minute.

Each target's exposition is read twice from the fleet model (tests/support/flux_fleet.py) at two
ages: every value there is a constant or grows in proportion to the fleet's age, so two readings
give each series' value at any time. Each series is labelled as the scrape labels it (the target's
labels; with honor_labels false a clashing exposition label is renamed ``exported_<name>``; the
metric relabelings' drop and keep), and every target has its ``up`` series at 1.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.pod_discovery import relabel

# Two ages of the fleet (seconds) at which its expositions are read; far apart, so that the three
# decimals of the exposition leave the slope exact to about 1e-7.
_AGES = (0.0, 10_000.0)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Series:
    """One scraped series: its OpenMetrics name and labels, its value at age 0 and its growth per second."""

    key: str
    start: float
    slope: float

    def value(self, age: float) -> float:
        return self.start + self.slope * age


def parse_exposition(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of each sample of a Prometheus text exposition (no timestamps)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a sample line: {line!r}")
        name, labels, value = match.groups()
        samples.append((name, dict(_LABEL.findall(labels or "")), float(value)))
    return samples


def target_labels(scrape_config: dict, static_config: dict) -> dict[str, str] | None:
    """The labels a scrape gives a target's series: job, the static labels, after the job's
    relabel_configs, then instance (its address unless set) and no ``__`` ones; None for a target the
    relabel_configs drop (prometheus/prometheus scrape/target.go PopulateLabels)."""
    (address,) = static_config["targets"]
    labels = {"job": scrape_config["job_name"], "__address__": address, **static_config.get("labels", {})}
    labels = relabel(labels, scrape_config.get("relabel_configs", []))
    if labels is None:
        return None
    labels.setdefault("instance", labels["__address__"])
    return {k: v for k, v in labels.items() if not k.startswith("__")}


def scraped(name: str, labels: dict[str, str], target: dict[str, str], honor_labels: bool) -> dict[str, str]:
    """A series' labels after the scrape: the target's labels, and the exposition's (which win with
    honor_labels; otherwise a clashing one is kept as ``exported_<name>``)."""
    result = dict(target)
    for label, value in labels.items():
        if label in target and not honor_labels:
            result[f"exported_{label}"] = value
        else:
            result[label] = value
    return {"__name__": name, **result}


def openmetrics_key(labels: dict[str, str]) -> str:
    name = labels["__name__"]
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def scraped_series(scrape_configs: list[dict], exposition: Callable[[str, float], str]) -> list[Series]:
    """Every series the scrape configs would store, from ``exposition(metrics_path, age)``."""
    series = []
    for config in scrape_configs:
        honor = config.get("honor_labels", False)
        relabelings = config.get("metric_relabel_configs", [])
        for static in config["static_configs"]:
            target = target_labels(config, static)
            if target is None:
                continue
            path = static["labels"]["__metrics_path__"]
            readings = [parse_exposition(exposition(path, age)) for age in _AGES]
            for (name, labels, start), (name_b, labels_b, end) in zip(*readings, strict=True):
                if (name, labels) != (name_b, labels_b):
                    raise ValueError(f"the exposition of {path} changes its series with age")
                full = relabel(scraped(name, labels, target, honor), relabelings)
                if full is not None:
                    series.append(Series(openmetrics_key(full), start, (end - start) / (_AGES[1] - _AGES[0])))
            series.append(Series(openmetrics_key({"__name__": "up", **target}), 1.0, 0.0))
    return series


_WINDOW = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{[^{}]*\})?\s*\[(\d+)([smhd])\]")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def longest_windows(queries: list[str]) -> dict[str, int]:
    """Metric name -> the longest range (seconds) any of ``queries`` reads it over (``name{...}[2h]``)."""
    windows: dict[str, int] = {}
    for query in queries:
        for name, amount, unit in _WINDOW.findall(query):
            windows[name] = max(windows.get(name, 0), int(amount) * _UNIT[unit])
    return windows


def metric_name(key: str) -> str:
    return key.split("{", 1)[0]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + _varint(len(data)) + data


def _labels(key: str) -> list[tuple[str, str]]:
    name, inner = key.split("{", 1)
    return sorted([("__name__", name), *_LABEL.findall(inner[:-1])])


class WriteRequest:
    """Encodes ``series`` as prometheus.WriteRequest messages (prompb/remote.proto, types.proto): one
    TimeSeries (labels = 1, samples = 2) per series, each Sample a double value (1) and an int64
    millisecond timestamp (2). Messages of the same series list concatenate into one request."""

    def __init__(self, series: list[Series]):
        self.series = series
        self._labels = [
            b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in _labels(s.key))
            for s in series
        ]

    def encode(self, timestamps: list[int], age_at: Callable[[int], float]) -> bytes:
        """Every series' samples at ``timestamps`` (unix seconds), valued at ``age_at(timestamp)``."""
        ages = [age_at(t) for t in timestamps]
        # Sample: 0x09 + 8-byte double, 0x10 + varint timestamp; wrapped as field 2 of its TimeSeries.
        stamps = [_varint(1000 * t) for t in timestamps]
        wrapped = [b"\x10" + stamp for stamp in stamps]
        heads = [bytes([0x12, 10 + len(stamp), 0x09]) for stamp in stamps]
        packer = struct.Struct("<" + "".join(f"{len(h)}sd{len(w)}s" for h, w in zip(heads, wrapped, strict=True)))
        cache: dict[tuple[float, float], bytes] = {}  # many series grow alike (every bucket of a kind)
        out = []
        for s, labels in zip(self.series, self._labels, strict=True):
            samples = cache.get((s.start, s.slope))
            if samples is None:
                args = []
                for head, age, stamp in zip(heads, ages, wrapped, strict=True):
                    args += (head, s.start + s.slope * age, stamp)
                samples = cache[(s.start, s.slope)] = packer.pack(*args)
            body = labels + samples
            out.append(b"\x0a" + _varint(len(body)) + body)
        return b"".join(out)


def snappy_block(data: bytes) -> bytes:
    """``data`` in snappy's block format as one literal (no compression; remote write requires snappy
    framing, not a smaller body): the uncompressed length as a varint, then tag 0xfc (a literal whose
    length - 1 follows in four little-endian bytes)."""
    return _varint(len(data)) + b"\xfc" + (len(data) - 1).to_bytes(4, "little") + data
