"""The bench's pure parts: the history it sends Prometheus, its cost arithmetic and its docs writer.

The bench itself (bench/benchmark.py) is a script, never a timed test.
"""

from __future__ import annotations

import math

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from bench.backfill import (
    Series,
    WriteRequest,
    longest_windows,
    scraped_series,
    snappy_block,
)
from bench.costs import GroupCost, break_even_viewers, round_complete, rules_per_hour
from bench.report import BEGIN, END, write_into

pytestmark = pytest.mark.unit

EXPOSITION = {
    "/pods/helm-controller/http-prom/metrics": lambda age: (
        f'gotk_reconcile_duration_seconds_count{{kind="HelmRelease",name="app",namespace="apps"}} {age / 2:.3f}\n'
        'workqueue_depth{name="helmrelease"} 2\n'
        f"go_gc_duration_seconds_count {age:.0f}\n"
    ),
}
CONTROLLERS = {
    "job_name": "flux-system",
    "honor_labels": False,
    "metric_relabel_configs": [
        {"source_labels": ["__name__"], "action": "drop", "regex": "(go_gc_duration_seconds.*)"}
    ],
    "static_configs": [
        {
            "targets": ["127.0.0.1:9000"],
            "labels": {
                "__metrics_path__": "/pods/helm-controller/http-prom/metrics",
                "job": "monitoring/flux-system",
                "namespace": "flux-system",
                "app": "helm-controller",
            },
        }
    ],
}


def series_of(config: dict) -> dict[str, Series]:
    return {s.key: s for s in scraped_series([config], lambda path, age: EXPOSITION[path](age))}


def test_history_series_carry_the_target_labels_and_rename_a_clashing_namespace():
    keys = set(series_of(CONTROLLERS))
    assert (
        'gotk_reconcile_duration_seconds_count{app="helm-controller",exported_namespace="apps",'
        'instance="127.0.0.1:9000",job="monitoring/flux-system",kind="HelmRelease",name="app",'
        'namespace="flux-system"}'
    ) in keys


def test_history_keeps_the_exposition_labels_with_honor_labels():
    config = {**CONTROLLERS, "honor_labels": True}
    (count,) = (k for k in series_of(config) if k.startswith("gotk_reconcile_duration_seconds_count"))
    assert 'namespace="apps"' in count and "exported_namespace" not in count


def test_history_drops_what_the_metric_relabelings_drop_and_adds_up():
    names = {key.split("{")[0] for key in series_of(CONTROLLERS)}
    assert names == {"gotk_reconcile_duration_seconds_count", "workqueue_depth", "up"}


def test_history_has_only_the_targets_the_relabel_configs_keep_labelled_as_they_say():
    pod_label = "__meta_kubernetes_pod_label_app"
    static = CONTROLLERS["static_configs"][0]
    config = {
        **CONTROLLERS,
        "relabel_configs": [
            {"action": "keep", "source_labels": [pod_label], "regex": "helm-controller"},
            {"source_labels": [pod_label], "target_label": "app"},
        ],
        "static_configs": [
            {**static, "labels": {"__metrics_path__": static["labels"]["__metrics_path__"], pod_label: app}}
            for app in ("helm-controller", "kustomize-controller")
        ],
    }
    ups = [key for key in series_of(config) if key.startswith("up{")]
    assert ups == ['up{app="helm-controller",instance="127.0.0.1:9000",job="flux-system"}']


def test_history_values_follow_the_fleet_age():
    series = series_of(CONTROLLERS)
    (count,) = (s for k, s in series.items() if k.startswith("gotk_reconcile_duration_seconds_count"))
    (depth,) = (s for k, s in series.items() if k.startswith("workqueue_depth"))
    assert count.value(3600) == pytest.approx(1800)
    assert depth.value(3600) == 2 and depth.slope == 0


def test_longest_windows_takes_each_metric_s_longest_range():
    windows = longest_windows(
        [
            'rate(gotk_reconcile_duration_seconds_sum{job="x"}[5m])',
            "avg_over_time(gotk_reconcile_duration_seconds_sum[2h]) / gotk_reconcile_duration_seconds_count",
            'increase(controller_runtime_reconcile_total{controller="kustomization"}[1m])',
        ]
    )
    assert windows == {"gotk_reconcile_duration_seconds_sum": 7200, "controller_runtime_reconcile_total": 60}


def _remote_write_classes():
    """prometheus.WriteRequest as prompb/remote.proto and types.proto define it, built with protobuf."""
    file = descriptor_pb2.FileDescriptorProto(name="bench_prompb.proto", package="prometheus", syntax="proto3")
    types = descriptor_pb2.FieldDescriptorProto
    fields = {
        "WriteRequest": [("timeseries", 1, types.TYPE_MESSAGE, ".prometheus.TimeSeries", types.LABEL_REPEATED)],
        "TimeSeries": [
            ("labels", 1, types.TYPE_MESSAGE, ".prometheus.Label", types.LABEL_REPEATED),
            ("samples", 2, types.TYPE_MESSAGE, ".prometheus.Sample", types.LABEL_REPEATED),
        ],
        "Label": [
            ("name", 1, types.TYPE_STRING, None, types.LABEL_OPTIONAL),
            ("value", 2, types.TYPE_STRING, None, types.LABEL_OPTIONAL),
        ],
        "Sample": [
            ("value", 1, types.TYPE_DOUBLE, None, types.LABEL_OPTIONAL),
            ("timestamp", 2, types.TYPE_INT64, None, types.LABEL_OPTIONAL),
        ],
    }
    for name, specs in fields.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind, type_name, label in specs:
            field = message.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


def test_write_request_decodes_as_prometheus_remote_write():
    series = [Series('up{job="a",instance="x"}', 1.0, 0.0), Series('c_total{job="a"}', 10.0, 0.5)]
    body = WriteRequest(series).encode([1_800_000_000, 1_800_000_030], lambda t: t - 1_800_000_000)
    request = _remote_write_classes()()
    request.ParseFromString(body)
    up, counter = request.timeseries
    assert [(label.name, label.value) for label in up.labels] == [("__name__", "up"), ("instance", "x"), ("job", "a")]
    assert [(s.value, s.timestamp) for s in counter.samples] == [(10.0, 1_800_000_000_000), (25.0, 1_800_000_030_000)]


def test_snappy_block_is_the_length_then_one_literal():
    data = b"x" * 300
    framed = snappy_block(data)
    assert framed[:2] == bytes([0xAC, 0x02])  # 300 as a varint
    assert framed[2] == 0xFC and int.from_bytes(framed[3:7], "little") == 299 and framed[7:] == data


def test_a_group_costs_its_median_evaluation_once_per_interval():
    group = GroupCost("flux", 60, (0.2, 0.5, 0.3))
    assert group.per_hour_s == pytest.approx(0.3 * 60)
    assert group.share == pytest.approx(0.005)
    assert rules_per_hour([group, GroupCost("flux-slow", 300, (1.0,))]) == pytest.approx(18 + 12)


def test_break_even_is_the_rules_over_what_each_viewer_saves():
    # 120 refreshes an hour save 120 * (0.3 - 0.02) = 33.6 s.
    assert break_even_viewers(33.6, 0.02, 0.3) == pytest.approx(1.0)
    assert math.isinf(break_even_viewers(10, 0.3, 0.3))


def test_a_round_is_complete_once_every_group_evaluated_after_the_latest_first_evaluation():
    # /api/v1/rules' lastEvaluation: RFC 3339, nanoseconds with trailing zeros trimmed (Go).
    slow_first = {"flux-object-durations": ["2026-12-02T01:45:00.5Z"]}
    assert not round_complete({"flux-slowest": ["2026-12-02T01:40:00.123456789Z"], **slow_first})
    assert round_complete({"flux-slowest": ["2026-12-02T01:40:00.1Z", "2026-12-02T01:45:00.6Z"], **slow_first})
    assert not round_complete({"flux-slowest": ["2026-12-02T01:40:00Z"], "flux": []})


def test_the_docs_writer_replaces_only_its_section(tmp_path):
    page = tmp_path / "scale.md"
    page.write_text(f"# Scale\n\nprose\n\n{BEGIN}\nold figures\n{END}\n\nafter\n")
    write_into(page, "new figures")
    assert page.read_text() == f"# Scale\n\nprose\n\n{BEGIN}\nnew figures\n{END}\n\nafter\n"


def test_the_docs_writer_refuses_a_page_without_its_markers(tmp_path):
    page = tmp_path / "scale.md"
    page.write_text("# Scale\n")
    with pytest.raises(ValueError, match="bench-results"):
        write_into(page, "figures")
