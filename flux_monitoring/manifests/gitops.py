"""Flux objects of GitOps delivery, as pure functions of the settings.

Two sets: what Pulumi creates in the Flux namespace in ``gitops`` mode (the GitRepository
and the two Kustomizations of the Flux guide), and the HelmRepository and HelmRelease that
the render writes into the synced tree, carrying the same values direct delivery gives Helm.
Each is written for the stack's Flux release: its apiVersion and the fields that release's CRD
has (flux_monitoring/flux/release.py).
"""

from __future__ import annotations

from typing import Any

from flux_monitoring import contract
from flux_monitoring.config.names import MAX_HISTORY, PART_OF_LABELS, RELEASE_TIMEOUT_SECONDS
from flux_monitoring.config.settings import HELM_REPOSITORY, RELEASE_NAME, Settings
from flux_monitoring.contract import FLUX_DURATION, GRAFANA_ADMIN_SECRET, STACK_KUSTOMIZATION
from flux_monitoring.manifests.helm_values import (
    GRAFANA_ADMIN_CHECKSUM_ANNOTATION,
    GRAFANA_ADMIN_CHECKSUM_KEY,
    kube_prometheus_stack_values,
)
from flux_monitoring.manifests.readiness import operator_health_checks

GIT_REPOSITORY = "monitoring"
CONFIG_KUSTOMIZATION = "monitoring-config"
HELM_REPOSITORY_NAME = "prometheus-community"

# The Flux guide's values: the objects change through git, the interval only repairs drift.
KUSTOMIZATION_INTERVAL = "1h"
HELM_INTERVAL = "1h"
CHART_INTERVAL = "24h"
INSTALL_RETRIES = 3
# A failed Kustomization is retried after this, not after its interval (an hour): without it a
# first install that outlasts the timeout leaves monitoring down for an hour
# (fluxcd/kustomize-controller api/v1/kustomization_types.go RetryInterval, GetRetryInterval, v1.9.0).
RETRY_INTERVAL = "2m"
# monitoring-stack health-checks the HelmRelease, whose install or upgrade may take the Helm timeout
# (RELEASE_TIMEOUT_SECONDS): its own timeout covers that plus the apply and the controller's queueing.
STACK_TIMEOUT_MARGIN_SECONDS = 300
# helm-controller compares the release's objects with the cluster on every reconciliation and
# re-applies what drifted (.spec.driftDetection, HelmRelease v2beta2 since helm-controller v0.37 /
# Flux 2.2, and v2; left out for Flux 2.0 and 2.1: DRIFT_DETECTION_FROM). The operator adds this annotation
# to a PrometheusRule it validated after install; the chart's rule objects would drift forever on it.
# Sources: fluxcd/helm-controller docs/spec/v2/helmreleases.md "Drift detection" (v1.6.0, 2026-07-23);
# fluxcd/flux2-monitoring-example monitoring/controllers/kube-prometheus-stack/release.yaml (7ab65dc, 2026-03-06).
DRIFT_DETECTION = {
    "mode": "enabled",
    "ignore": [
        {"paths": ["/metadata/annotations/prometheus-operator-validated"], "target": {"kind": "PrometheusRule"}}
    ],
}


# helm-controller reconciles a HelmRelease whose annotation differs from status.lastHandledReconcileAt,
# on every Flux 2 (ReconcileRequestedPredicate on its HelmRelease watch: fluxcd/helm-controller
# internal/controller/helmrelease_controller.go at v0.35.0 / Flux 2.0, 56e36da, and v1.3.0, e47f47f;
# docs/spec/v2/helmreleases.md "Triggering a reconcile").
RECONCILE_REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"


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
        "apiVersion": settings.flux.release.api_version("GitRepository"),
        "kind": "GitRepository",
        "metadata": _metadata(GIT_REPOSITORY, settings.flux_namespace),
        "spec": spec,
    }


def duration_seconds(duration: str) -> int:
    """Whole seconds of a Flux duration such as 10m or 1h30m (already validated)."""
    return int(contract.duration_seconds(duration, FLUX_DURATION))


def _duration(seconds: int) -> str:
    """A Flux duration for whole seconds: 20m, 90s."""
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def stack_timeout(settings: Settings) -> str:
    """Flux's timeout of monitoring-stack: ``gitops.timeout``, but never shorter than one Helm
    install or upgrade of the HelmRelease it health-checks, plus a margin."""
    least = RELEASE_TIMEOUT_SECONDS + STACK_TIMEOUT_MARGIN_SECONDS
    configured = settings.gitops.timeout
    return configured if duration_seconds(configured) >= least else _duration(least)


def _kustomization(settings: Settings, name: str, path: str, timeout: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": settings.flux.release.api_version("Kustomization"),
        "kind": "Kustomization",
        "metadata": _metadata(name, settings.flux_namespace),
        "spec": {
            "interval": KUSTOMIZATION_INTERVAL,
            "prune": True,
            "path": path,
            "sourceRef": {"kind": "GitRepository", "name": GIT_REPOSITORY},
            "timeout": timeout,
            "retryInterval": RETRY_INTERVAL,
            **spec,
        },
    }


def stack_kustomization(settings: Settings) -> dict[str, Any]:
    """kube-prometheus-stack; Ready once the HelmRelease is (installed or upgraded, and not rolled
    back: after a remediated upgrade the old Deployments are healthy, the HelmRelease is not), and
    the Prometheus and Alertmanager the operator then starts are available."""
    release = {
        "apiVersion": settings.flux.release.api_version("HelmRelease"),
        "kind": "HelmRelease",
        "name": RELEASE_NAME,
        "namespace": settings.namespace,
    }
    workloads, expressions = operator_health_checks(settings)
    return _kustomization(
        settings,
        STACK_KUSTOMIZATION,
        settings.gitops.stack_path,
        stack_timeout(settings),
        healthChecks=[release, *workloads],
        **({"healthCheckExprs": expressions} if expressions else {}),
    )


def config_kustomization(settings: Settings) -> dict[str, Any]:
    """The PodMonitor, dashboards and rules; their CRDs come with the stack, hence dependsOn."""
    return _kustomization(
        settings,
        CONFIG_KUSTOMIZATION,
        settings.gitops.config_path,
        settings.gitops.timeout,
        dependsOn=[{"name": STACK_KUSTOMIZATION}],
    )


def flux_sync_manifests(settings: Settings) -> list[dict[str, Any]]:
    """What ``gitops`` mode creates: the source, then the Kustomizations that read it."""
    return [git_repository(settings), stack_kustomization(settings), config_kustomization(settings)]


def helm_repository(settings: Settings) -> dict[str, Any]:
    return {
        "apiVersion": settings.flux.release.api_version("HelmRepository"),
        "kind": "HelmRepository",
        "metadata": _metadata(HELM_REPOSITORY_NAME, settings.namespace),
        "spec": {"interval": CHART_INTERVAL, "url": HELM_REPOSITORY},
    }


def helm_release(settings: Settings) -> dict[str, Any]:
    """The pinned chart with exactly the values direct delivery passes to Helm."""
    # Retry a failed install or upgrade, then roll back: the same safety as an atomic Helm release.
    remediation = {"retries": INSTALL_RETRIES}
    drift = {"driftDetection": DRIFT_DETECTION} if settings.flux.release.drift_detection else {}
    return {
        "apiVersion": settings.flux.release.api_version("HelmRelease"),
        "kind": "HelmRelease",
        "metadata": _metadata(RELEASE_NAME, settings.namespace),
        "spec": {
            "interval": HELM_INTERVAL,
            "releaseName": RELEASE_NAME,  # exact: the health checks' Deployment names derive from it
            "targetNamespace": settings.namespace,
            "chart": {
                "spec": {
                    "chart": "kube-prometheus-stack",
                    "version": settings.chart_version,
                    "interval": CHART_INTERVAL,
                    "sourceRef": {
                        "kind": "HelmRepository",
                        "name": HELM_REPOSITORY_NAME,
                        "namespace": settings.namespace,
                    },
                }
            },
            # The chart ships the Prometheus Operator CRDs; keep them current on upgrades too.
            "install": {"crds": "CreateReplace", "remediation": remediation},
            "upgrade": {
                "crds": "CreateReplace",
                "cleanupOnFail": True,
                "remediation": {**remediation, "remediateLastFailure": True},
            },
            "timeout": _duration(RELEASE_TIMEOUT_SECONDS),
            "maxHistory": MAX_HISTORY,
            **drift,
            "values": kube_prometheus_stack_values(settings),
            # The credentials' checksum from the Secret Pulumi keeps (never in git): a rotated password
            # rolls Grafana, as the direct release's pod annotation does (helm_values.with_admin_checksum).
            "valuesFrom": [
                {
                    "kind": "Secret",
                    "name": GRAFANA_ADMIN_SECRET,
                    "valuesKey": GRAFANA_ADMIN_CHECKSUM_KEY,
                    "targetPath": f"grafana.podAnnotations.{GRAFANA_ADMIN_CHECKSUM_ANNOTATION}",
                }
            ],
        },
    }


def helm_release_reconcile_request(settings: Settings, token: Any) -> dict[str, Any] | None:
    """A patch of the rendered HelmRelease that requests a reconcile whenever ``token`` (the Grafana
    credentials' checksum) changes, for a Flux whose helm-controller does not watch the labelled
    valuesFrom Secret (before 2.7: flux_monitoring/flux/release.py watches_labelled_values); None on a
    Flux that does. Without it a rotated credential reaches the release only at its next interval."""
    if settings.flux.release.watches_labelled_values:
        return None
    metadata = _metadata(RELEASE_NAME, settings.namespace)
    return {
        "apiVersion": settings.flux.release.api_version("HelmRelease"),
        "kind": "HelmRelease",
        "metadata": {**metadata, "annotations": {RECONCILE_REQUESTED_AT: token}},
    }
