"""Which prometheus-operator-crds chart carries the CRDs of a kube-prometheus-stack version.

Direct delivery installs the Prometheus Operator CRDs itself, from the prometheus-operator-crds
chart, with kube-prometheus-stack's own CRDs off: Helm installs a chart's ``crds/`` once and never
upgrades them. Both charts copy the CRDs of one Prometheus Operator release (kube-prometheus-stack's
``appVersion``, the CRDs under charts/crds/crds/; prometheus-operator-crds' ``appVersion``, the
same CRDs under charts/crds/templates/, identical below ``spec:`` at 88.5.3 / 31.0.1). So the
version of one follows from the other through the operator release.

Source: prometheus-community/helm-charts, charts/kube-prometheus-stack/Chart.yaml and
charts/prometheus-operator-crds/Chart.yaml at every release tag (kube-prometheus-stack-74.0.0 to
-88.5.3, prometheus-operator-crds-21.0.0 to -31.0.1; main at cf408a2, 2026-08-22). Each row: the
first and last kube-prometheus-stack release of one operator release, the operator release, and
the newest prometheus-operator-crds release of it. Operator v0.82.2 (72.4.0 to 73.2.3) has no
prometheus-operator-crds release.
"""

from __future__ import annotations

CRDS_CHART = "prometheus-operator-crds"

OPERATOR_CRDS = (
    ("74.0.0", "75.18.1", "v0.83.0", "21.0.0"),
    ("76.0.0", "76.5.1", "v0.84.1", "22.0.2"),
    ("77.0.0", "77.14.0", "v0.85.0", "23.0.0"),
    ("78.0.0", "78.3.1", "v0.86.0", "24.0.0"),
    ("78.3.2", "79.2.1", "v0.86.1", "24.0.1"),
    ("79.3.0", "79.12.0", "v0.86.2", "24.0.2"),
    ("80.0.0", "80.2.0", "v0.87.0", "25.0.0"),
    ("80.2.1", "80.14.4", "v0.87.1", "25.0.1"),
    ("81.0.0", "81.2.2", "v0.88.0", "26.0.0"),
    ("81.2.5", "81.6.9", "v0.88.1", "26.0.1"),
    ("82.0.0", "82.18.0", "v0.89.0", "27.0.1"),
    ("83.0.0", "85.4.0", "v0.90.1", "28.0.1"),
    ("86.0.0", "86.3.2", "v0.91.0", "29.0.0"),
    ("87.0.0", "87.3.0", "v0.92.0", "30.0.0"),
    ("87.4.0", "87.21.0", "v0.92.1", "30.0.1"),
    ("88.0.0", "88.3.0", "v0.93.0", "31.0.0"),
    ("88.4.0", "88.5.3", "v0.93.1", "31.0.1"),
)
KNOWN_RANGE = f"{OPERATOR_CRDS[0][0]} to {OPERATOR_CRDS[-1][1]}"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def operator_release(chart_version: str) -> str | None:
    """The Prometheus Operator release kube-prometheus-stack ``chart_version`` ships; None if unknown
    (a pre-release or build may ship another one than its release)."""
    if "-" in chart_version or "+" in chart_version:
        return None
    for first, last, operator, _ in OPERATOR_CRDS:
        if _key(first) <= _key(chart_version) <= _key(last):
            return operator
    return None


def crds_chart_version(chart_version: str) -> str | None:
    """The prometheus-operator-crds version with the CRDs of kube-prometheus-stack ``chart_version``."""
    operator = operator_release(chart_version)
    return next((crds for _, _, release, crds in OPERATOR_CRDS if release == operator), None)
