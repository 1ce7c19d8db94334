"""Direct delivery: `pulumi up` succeeds only once Prometheus (and Alertmanager) run, and fails, bounded,
naming the one that does not. Helm's wait covers the chart's Deployments, not the StatefulSets the
Prometheus Operator creates afterwards from the chart's Prometheus and Alertmanager resources."""

from __future__ import annotations

import json

import celpy
import pytest
import yaml

from flux_monitoring.config.alerting import AlertingSettings
from flux_monitoring.config.names import RELEASE_TIMEOUT_SECONDS
from flux_monitoring.config.settings import AlertmanagerSettings
from flux_monitoring.manifests.gitops import stack_kustomization
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.gitops_stacks import STACKS, settings_of
from tests.support.pulumi_harness import ROOT, ProgramRun, RecordingMocks

RELEASE = "kubernetes:helm.sh/v3:Release"
PROMETHEUS_READY = "kubernetes:monitoring.coreos.com/v1:PrometheusPatch"
ALERTMANAGER_READY = "kubernetes:monitoring.coreos.com/v1:AlertmanagerPatch"
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT = "pulumi.com/timeoutSeconds"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack("prod", password=PROD_PASSWORD)


def annotations(run: ProgramRun, type_: str) -> dict[str, str]:
    return run.one(type_).inputs["metadata"]["annotations"]


@pytest.mark.parametrize(
    "type_, name",
    [
        (PROMETHEUS_READY, "kube-prometheus-stack-prometheus"),
        (ALERTMANAGER_READY, "kube-prometheus-stack-alertmanager"),
    ],
)
def test_pulumi_up_waits_for_the_operator_to_report_the_chart_resource_available(prod, type_, name):
    patch = prod.one(type_, name).inputs
    # The chart's own resource (release name + suffix), in the monitoring namespace ...
    assert (patch["apiVersion"], patch["metadata"]["name"], patch["metadata"]["namespace"]) == (
        "monitoring.coreos.com/v1",
        name,
        "monitoring",
    )
    # ... awaited on its Available condition, which the operator sets True once every pod is ready.
    assert patch["metadata"]["annotations"][WAIT_FOR] == "condition=Available"


def test_the_wait_starts_after_the_release_that_creates_the_resources(prod):
    release = prod.one(RELEASE).urn
    assert release in prod.one(PROMETHEUS_READY).dependencies
    assert release in prod.one(ALERTMANAGER_READY).dependencies


@pytest.mark.parametrize("type_", [PROMETHEUS_READY, ALERTMANAGER_READY])
def test_the_wait_is_bounded(prod, type_):
    seconds = int(annotations(prod, type_)[TIMEOUT])
    assert 300 <= seconds <= 900
    # The whole `pulumi up` of a broken Prometheus fails within the Helm timeout plus this.
    assert RELEASE_TIMEOUT_SECONDS + seconds <= 1800


def test_the_failure_names_what_is_not_ready(prod):
    # pulumi-kubernetes reports a failed await as "<type> (<name>)": the kind and the object.
    ready = {(r.type.rsplit(":", 1)[1], r.name) for r in (prod.one(PROMETHEUS_READY), prod.one(ALERTMANAGER_READY))}
    assert ready == {
        ("PrometheusPatch", "kube-prometheus-stack-prometheus"),
        ("AlertmanagerPatch", "kube-prometheus-stack-alertmanager"),
    }


WITHOUT_ALERTMANAGER = {"flux-monitoring:alertmanager": '{"enabled": false}', "flux-monitoring:alerting": "{}"}


def test_without_alertmanager_only_prometheus_is_awaited():
    run = run_stack("staging", WITHOUT_ALERTMANAGER)
    assert run.one(PROMETHEUS_READY)
    assert run.of_type(ALERTMANAGER_READY) == []


@pytest.mark.parametrize("type_", [PROMETHEUS_READY, ALERTMANAGER_READY])
def test_the_patch_adds_annotations_only_and_never_changes_the_chart_resource(prod, type_):
    patch = prod.one(type_).inputs
    assert set(patch) == {"apiVersion", "kind", "metadata"}
    assert set(patch["metadata"]) == {"name", "namespace", "annotations"}


def test_every_helm_revision_renews_the_wait(monkeypatch):
    # An unchanged patch is not re-applied, so not re-awaited: the release's revision, which every
    # upgrade bumps, makes each upgrade re-apply it and wait again.
    monkeypatch.setattr(RecordingMocks, "release_revision", 7)
    run = run_stack("prod", password=PROD_PASSWORD)
    for type_ in (PROMETHEUS_READY, ALERTMANAGER_READY):
        assert annotations(run, type_)["flux-monitoring/release-revision"] == "7"


def test_gitops_delivery_registers_no_wait_on_objects_flux_owns():
    run = run_stack(
        "prod",
        {
            "flux-monitoring:delivery": "gitops",
            "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", "tag": "v1.0.0"}),
        },
        password=PROD_PASSWORD,
    )
    assert not [r for r in run.resources if r.type.endswith("Patch")]


def test_the_chart_keeps_the_resource_names_the_wait_targets(shared_upstream, prod):
    # kube-prometheus-stack names them "<fullname>-prometheus" / "-alertmanager" unless
    # cleanPrometheusOperatorObjectNames, nameOverride or fullnameOverride say otherwise.
    defaults = yaml.safe_load((shared_upstream / "charts" / "kube-prometheus-stack-88.5.3.values.yaml").read_text())
    assert defaults["cleanPrometheusOperatorObjectNames"] is False
    values = prod.one(RELEASE).inputs["values"]
    assert not {"cleanPrometheusOperatorObjectNames", "nameOverride", "fullnameOverride"} & set(values)
    assert prod.one(RELEASE).inputs["name"] == "kube-prometheus-stack"


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_leave_the_storage_class_to_the_cluster_default(stack):
    # A named class that the cluster lacks ("standard" on EKS or AKS) leaves Prometheus' volume Pending.
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert "storageClassName" not in config.get("flux-monitoring:prometheus", {})


# -- gitops delivery: the same resources, health-checked by kustomize-controller's CEL expressions -------


def operator_resource(generation: int, *conditions: tuple[str, str, int]) -> dict:
    """A Prometheus or Alertmanager as the operator reports it: conditions with their observedGeneration
    (prometheus-operator pkg/apis/monitoring/v1/types.go Condition; Available is True, Degraded or False)."""
    return {
        "metadata": {"generation": generation},
        "status": {
            "conditions": [
                {"type": type_, "status": status, "observedGeneration": observed}
                for type_, status, observed in conditions
            ]
        },
    }


def evaluate(expression: str, resource: dict) -> bool:
    """As kustomize-controller evaluates a health check expression: the object's fields as variables."""
    environment = celpy.Environment()
    program = environment.program(environment.compile(expression))
    return bool(program.evaluate({key: celpy.json_to_cel(value) for key, value in resource.items()}))


@pytest.fixture(scope="module")
def prod_gitops_expressions() -> dict[str, dict[str, str]]:
    stack = stack_kustomization(settings_of("prod", "gitops"))["spec"]
    checked = {check["kind"] for check in stack["healthChecks"]}
    assert {"Prometheus", "Alertmanager"} <= checked
    return {expression["kind"]: expression for expression in stack["healthCheckExprs"]}


@pytest.mark.parametrize("kind", ["Prometheus", "Alertmanager"])
@pytest.mark.parametrize(
    "resource, current, failed",
    [
        (operator_resource(3, ("Available", "True", 3), ("Reconciled", "True", 3)), True, False),
        # Available for the previous spec only: the rollout of the new one is not done.
        (operator_resource(3, ("Available", "True", 2), ("Reconciled", "True", 3)), False, False),
        (operator_resource(3, ("Available", "Degraded", 3), ("Reconciled", "True", 3)), False, False),
        (operator_resource(3, ("Available", "False", 3), ("Reconciled", "True", 3)), False, False),
        # The operator rejected the resource: fail now rather than at the timeout.
        (operator_resource(3, ("Available", "True", 2), ("Reconciled", "False", 3)), False, True),
    ],
    ids=["available", "stale-generation", "degraded", "no-pods", "rejected"],
)
def test_flux_reports_the_operator_resource_current_only_when_available_for_its_generation(
    prod_gitops_expressions, kind, resource, current, failed
):
    expressions = prod_gitops_expressions[kind]
    assert evaluate(expressions["current"], resource) is current
    assert evaluate(expressions["failed"], resource) is failed


def test_a_resource_without_status_yet_is_not_current(prod_gitops_expressions):
    # The expression cannot evaluate: kustomize-controller keeps the resource InProgress and waits.
    with pytest.raises(celpy.CELEvalError):
        evaluate(prod_gitops_expressions["Prometheus"]["current"], {"metadata": {"generation": 1}})


def test_gitops_without_alertmanager_checks_no_alertmanager():
    settings = settings_of("staging", "gitops").model_copy(
        update={"alertmanager": AlertmanagerSettings(enabled=False), "alerting": AlertingSettings()}
    )
    stack = stack_kustomization(settings)["spec"]
    assert [e["kind"] for e in stack["healthCheckExprs"]] == ["Prometheus"]
    assert "Alertmanager" not in {check["kind"] for check in stack["healthChecks"]}
