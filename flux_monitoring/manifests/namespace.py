"""Kubernetes manifests shared by both delivery modes, as pure functions of the settings."""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.names import PART_OF_LABELS
from flux_monitoring.config.settings import Settings


def namespace_manifest(settings: Settings) -> dict[str, Any]:
    # node-exporter mounts host paths and uses the host network: privileged pod security.
    labels = {
        **PART_OF_LABELS,
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings.namespace, "labels": labels},
    }
