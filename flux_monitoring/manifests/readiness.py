"""What `pulumi up` waits for after the Helm release (direct delivery): Prometheus and Alertmanager.

Helm's wait covers the chart's Deployments, not the StatefulSets the Prometheus Operator creates
afterwards from the chart's ``Prometheus`` and ``Alertmanager`` resources: a Pending volume (a
StorageClass the cluster lacks) would leave `pulumi up` green and monitoring down.
"""

from __future__ import annotations

from typing import Any

from flux_monitoring.config.settings import Settings
from flux_monitoring.manifests.helm_values import ALERTMANAGER_RESOURCE, PROMETHEUS_RESOURCE

# pulumi-kubernetes await overrides: wait for this condition on create and update, fail after that long.
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"


def await_condition(condition: str, seconds: int) -> dict[str, str]:
    """Annotations that make `pulumi up` wait for ``condition`` (kubectl wait syntax), bounded."""
    return {WAIT_FOR: f"condition={condition}", TIMEOUT_SECONDS: str(seconds)}


# The operator's condition: True once every pod of the StatefulSets is running and ready (Degraded
# when only some are, False when none), with the resource's generation as observedGeneration
# (prometheus-operator pkg/apis/monitoring/v1/types.go Available, pkg/operator/statefulset_reporter.go,
# v0.93.0-24 at 6adcebc, 2026-08-08; the chart pins v0.93.1). pulumi-kubernetes waits for it like
# `kubectl wait --for=condition=Available`, observedGeneration included, on create and update of
# any resource carrying pulumi.com/waitFor, patches too (provider/pkg/await/await.go Creation and
# Update, provider/pkg/await/condition/kubectl.go; v4.32.0 at 9497796, 2026-07-01).
AVAILABLE = "Available"
# Scheduling, binding and attaching a new volume, pulling the image and replaying the WAL.
READY_TIMEOUT_SECONDS = 600
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"


# gitops delivery: kustomize-controller health-checks the same resources through CEL expressions
# (.spec.healthCheckExprs, kustomize-controller v1.5.0 / Flux 2.5; fluxcd/kustomize-controller
# docs/spec/v1/kustomizations.md "Health check expressions", v1.9.0 at 186fb3b, 2026-08-01). The
# operator's conditions carry observedGeneration; the resources have no status.observedGeneration, so
# the expressions compare it themselves. Reconciled=False means the operator rejected the resource.
# Evaluated on an object without status yet, they fail to evaluate: the controller keeps waiting
# (fluxcd/pkg runtime/cel/status_evaluator.go, ssa/manager_wait.go at e2cfd1a, 2026-07-22).
CURRENT_GENERATION_CONDITION = (
    "status.conditions.exists(c, c.type == '{type}' && c.status == '{status}'"
    " && c.observedGeneration == metadata.generation)"
)
AVAILABLE_EXPRESSION = CURRENT_GENERATION_CONDITION.format(type=AVAILABLE, status="True")
RECONCILE_FAILED_EXPRESSION = CURRENT_GENERATION_CONDITION.format(type="Reconciled", status="False")

# Before Flux 2.5 (no healthCheckExprs) kustomize-controller reads health with kstatus alone, which
# finds a Prometheus or Alertmanager Current as soon as it exists (no Ready, Reconciling or Stalled
# condition, no status.observedGeneration). The equivalent is the StatefulSet the operator runs it
# in: kstatus holds that InProgress until every replica is ready and updated, and waits while it does
# not exist yet (fluxcd/pkg ssa/manager_wait.go WaitForSet, ssa/v0.28.2 of kustomize-controller
# v1.0.1). The operator names it <prefix>-<name> for shard 0, the chart's only shard
# (prometheusSpec.shards: 1): prometheus-operator pkg/prometheus/common.go PrefixedName and
# prometheusNameByShard, pkg/alertmanager/statefulset.go prefixedName (6adcebc, 2026-08-08).
STATEFUL_SET_PREFIXES = {"Prometheus": "prometheus", "Alertmanager": "alertmanager"}


def operator_workloads(settings: Settings) -> list[tuple[str, str]]:
    """(kind, name) of the operator-run resources the chart creates for these settings."""
    workloads = [("Prometheus", PROMETHEUS_RESOURCE)]
    if settings.alertmanager.enabled:
        workloads.append(("Alertmanager", ALERTMANAGER_RESOURCE))
    return workloads


def readiness_patches(settings: Settings) -> list[dict[str, Any]]:
    """Server-side apply patches that add only the await annotations to the chart's resources."""
    return [
        {
            "apiVersion": OPERATOR_API_VERSION,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": settings.namespace,
                "annotations": await_condition(AVAILABLE, READY_TIMEOUT_SECONDS),
            },
        }
        for kind, name in operator_workloads(settings)
    ]


def operator_health_checks(settings: Settings) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A Flux Kustomization's healthChecks and healthCheckExprs for the same resources; for a Flux
    without healthCheckExprs, health checks of their StatefulSets instead."""
    if not settings.flux.release.health_check_exprs:
        stateful_sets = [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": f"{STATEFUL_SET_PREFIXES[kind]}-{name}",
                "namespace": settings.namespace,
            }
            for kind, name in operator_workloads(settings)
        ]
        return stateful_sets, []
    checks = [
        {"apiVersion": OPERATOR_API_VERSION, "kind": kind, "name": name, "namespace": settings.namespace}
        for kind, name in operator_workloads(settings)
    ]
    expressions = [
        {
            "apiVersion": OPERATOR_API_VERSION,
            "kind": kind,
            "current": AVAILABLE_EXPRESSION,
            "failed": RECONCILE_FAILED_EXPRESSION,
        }
        for kind, _ in operator_workloads(settings)
    ]
    return checks, expressions
