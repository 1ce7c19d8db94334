"""Flux objects of GitOps delivery, as pure functions of the settings.

Two sets: what Pulumi creates in the Flux namespace in ``gitops`` mode (the GitRepository
and the two Kustomizations of the Flux guide), and the HelmRepository and HelmRelease that
the render writes into the synced tree, carrying the same values direct delivery gives Helm.
"""

from __future__ import annotations

from typing import Any

from components.helm_values import OPERATOR_DEPLOYMENT, kube_prometheus_stack_values
from components.kube_prometheus_stack import MAX_HISTORY, RELEASE_TIMEOUT_SECONDS
from components.selectors import PART_OF_LABELS
from components.settings import HELM_REPOSITORY, RELEASE_NAME, Settings

GIT_REPOSITORY = "monitoring"
STACK_KUSTOMIZATION = "monitoring-stack"
CONFIG_KUSTOMIZATION = "monitoring-config"
HELM_REPOSITORY_NAME = "prometheus-community"
GRAFANA_DEPLOYMENT = f"{RELEASE_NAME}-grafana"

# The Flux guide's values: the objects change through git, the interval only repairs drift.
KUSTOMIZATION_INTERVAL = "1h"
HELM_INTERVAL = "1h"
CHART_INTERVAL = "24h"
INSTALL_RETRIES = 3


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(PART_OF_LABELS)}


def git_repository(settings: Settings) -> dict[str, Any]:
    gitops = settings.gitops
    spec: dict[str, Any] = {
        "interval": gitops.interval,
        "url": gitops.url,
        "ref": {gitops.ref_kind: gitops.ref_value},
    }
    if gitops.secret_ref:
        spec["secretRef"] = {"name": gitops.secret_ref}
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": _metadata(GIT_REPOSITORY, settings.flux_namespace),
        "spec": spec,
    }


def _kustomization(settings: Settings, name: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": _metadata(name, settings.flux_namespace),
        "spec": {
            "interval": KUSTOMIZATION_INTERVAL,
            "prune": True,
            "path": path,
            "sourceRef": {"kind": "GitRepository", "name": GIT_REPOSITORY},
            "timeout": settings.gitops.timeout,
            **spec,
        },
    }


def stack_kustomization(settings: Settings) -> dict[str, Any]:
    """kube-prometheus-stack; Ready once the operator and Grafana run."""
    health_checks = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": settings.namespace}
                     for name in (OPERATOR_DEPLOYMENT, GRAFANA_DEPLOYMENT)]
    return _kustomization(settings, STACK_KUSTOMIZATION, settings.gitops.stack_path, healthChecks=health_checks)


def config_kustomization(settings: Settings) -> dict[str, Any]:
    """The PodMonitor, dashboards and rules; their CRDs come with the stack, hence dependsOn."""
    return _kustomization(settings, CONFIG_KUSTOMIZATION, settings.gitops.config_path,
                          dependsOn=[{"name": STACK_KUSTOMIZATION}])


def flux_sync_manifests(settings: Settings) -> list[dict[str, Any]]:
    """What ``gitops`` mode creates: the source, then the Kustomizations that read it."""
    return [git_repository(settings), stack_kustomization(settings), config_kustomization(settings)]


def helm_repository(settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": _metadata(HELM_REPOSITORY_NAME, settings.namespace),
        "spec": {"interval": CHART_INTERVAL, "url": HELM_REPOSITORY},
    }


def helm_release(settings: Settings) -> dict[str, Any]:
    """The pinned chart with exactly the values direct delivery passes to Helm."""
    # Retry a failed install or upgrade, then roll back: the same safety as an atomic Helm release.
    remediation = {"retries": INSTALL_RETRIES}
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": _metadata(RELEASE_NAME, settings.namespace),
        "spec": {
            "interval": HELM_INTERVAL,
            "releaseName": RELEASE_NAME,  # exact: the health checks' Deployment names derive from it
            "targetNamespace": settings.namespace,
            "chart": {"spec": {
                "chart": "kube-prometheus-stack",
                "version": settings.chart_version,
                "interval": CHART_INTERVAL,
                "sourceRef": {"kind": "HelmRepository", "name": HELM_REPOSITORY_NAME,
                              "namespace": settings.namespace},
            }},
            # The chart ships the Prometheus Operator CRDs; keep them current on upgrades too.
            "install": {"crds": "CreateReplace", "remediation": remediation},
            "upgrade": {"crds": "CreateReplace", "cleanupOnFail": True,
                        "remediation": {**remediation, "remediateLastFailure": True}},
            "timeout": f"{RELEASE_TIMEOUT_SECONDS}s",
            "maxHistory": MAX_HISTORY,
            "values": kube_prometheus_stack_values(settings),
        },
    }
