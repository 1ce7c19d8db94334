"""Every PromQL query is written in signals/promql.py, or in the metric-source objects of
signals/sources.py where a query varies by source: the dashboards lay out panels and the rules
name alerts, so a panel and the alert beside it cannot count differently."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.source_strings import string_literals

ROOT = Path(__file__).resolve().parents[2]
QUERY_MODULES = {"flux_monitoring/signals/promql.py", "flux_monitoring/signals/sources.py"}
SCANNED = ("flux_monitoring/signals", "flux_monitoring/manifests", "render.py")
# What only a query has: an aggregation with its grouping, a PromQL function call, a Grafana
# label_values query, or a selector on a metric name.
PROMQL = re.compile(
    r"\b(sum|max|min|count|avg|group|topk|bottomk) (by|without) \("
    r"|\b(rate|irate|increase|histogram_quantile|label_replace|absent|max_over_time|vector|time|label_values)\("
    r'|\b[a-z_:]+\{[a-z_]+(=~|!~|!=|=)"'
)


def _modules() -> list[Path]:
    paths = [ROOT / s for s in SCANNED]
    return sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.py")))


def _queries(source: str) -> list[str]:
    """The string literals of ``source`` that hold PromQL, by line."""
    return [f"{node.lineno}: {node.value!r}" for node in string_literals(source) if PROMQL.search(node.value)]


def test_no_module_but_promql_and_sources_writes_a_query():
    found = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in _modules()
        if str(path.relative_to(ROOT)) not in QUERY_MODULES
        for hit in _queries(path.read_text())
    ]
    assert not found, "PromQL outside signals/promql.py and signals/sources.py:\n" + "\n".join(found)


def test_a_query_written_inline_is_found_and_a_docstring_about_one_is_not():
    source = (
        'def panel():\n    """Reads sum by (app) (rate(up[5m])."""\n'
        "    return f'sum by (app) (rate(up{{job=\"x\"}}[{window}]))'\n"
    )
    assert [hit.split(":")[0] for hit in _queries(source)] == ["3"]
    assert _queries('LEGEND = "{{app}} {{cluster}}"\n') == []
