"""Key paths of the kube-prometheus-stack chart's default values, subcharts included.

Helm silently ignores a mistyped key, so every key path the program sets must exist in the
chart's defaults. A key whose default is an empty map (``resources: {}``,
``podMonitorSelector: {}``, ``storageSpec: {}``) is free-form: anything below it is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Subcharts whose defaults sit under a key of the parent chart's values.
SUBCHARTS = {"grafana": "grafana-12.11.1", "kube-state-metrics": "kube-state-metrics-8.4.0"}

# Keys the charts document only as commented examples, with the comment that documents each.
COMMENTED_IN_DEFAULTS = {
    ("grafana", "ingress", "ingressClassName"): ("grafana-12.11.1", "# ingressClassName: nginx"),
    ("grafana", "podAnnotations"): ("grafana-12.11.1", "# podAnnotations: {}"),
    ("grafana", "rbac", "useExistingRole"): ("grafana-12.11.1", "# useExistingRole: name-of-some-role"),
    ("alertmanager", "alertmanagerSpec", "configSecret"): ("kube-prometheus-stack-88.5.3", "# configSecret:"),
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, map by map, as Helm merges a parent's values into a subchart's."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and value and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_chart_defaults(charts: Path, chart_version: str) -> dict[str, Any]:
    defaults = yaml.safe_load((charts / f"kube-prometheus-stack-{chart_version}.values.yaml").read_text())
    for key, chart in SUBCHARTS.items():
        sub = yaml.safe_load((charts / f"{chart}.values.yaml").read_text())
        defaults[key] = deep_merge(sub, defaults.get(key) or {})
    return defaults


def leaf_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaf_paths(value, (*prefix, key))
    else:
        yield prefix


def unknown_paths(values: dict[str, Any], defaults: dict[str, Any], charts: Path) -> list[str]:
    """The key paths of ``values`` that the chart's defaults do not have."""
    unknown = []
    for path in leaf_paths(values):
        node: Any = defaults
        for depth, key in enumerate(path):
            if node == {}:
                break  # free-form map
            if not isinstance(node, dict) or key not in node:
                documented = COMMENTED_IN_DEFAULTS.get(path[: depth + 1])
                if documented and documented[1] in (charts / f"{documented[0]}.values.yaml").read_text():
                    break
                unknown.append(".".join(path))
                break
            node = node[key]
    return unknown
