"""Every object the program registers and every rendered file, against its real schema."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from flux_monitoring.manifests.gitops import helm_release, stack_kustomization
from flux_monitoring.signals.podmonitor import flux_pod_monitor
from render import rendered_tree, write_tree
from tests.support.gitops_stacks import MODES_AND_STACKS, STACKS, run_mode, settings_of
from tests.support.schemas import KUBERNETES_VERSION, CrdSchemas, crd_schemas, is_patch, kubernetes_objects, validate

FLUX_AND_OPERATOR_KINDS = {
    "GitRepository",
    "HelmRepository",
    "Kustomization",
    "HelmRelease",
    "PodMonitor",
    "PrometheusRule",
    "Provider",
    "Alert",
}


@pytest.fixture(scope="module")
def crds(shared_upstream: Path) -> CrdSchemas:
    return crd_schemas(shared_upstream)


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return stack_kustomization(settings_of("staging", "gitops"))


def test_crds_cover_every_custom_resource_this_project_writes(crds):
    assert {kind for _, kind in crds} >= FLUX_AND_OPERATOR_KINDS


def test_validator_accepts_the_stack_kustomization(crds, kustomization):
    validate(kustomization, crds)


def rejection(crds: CrdSchemas, manifest: dict, edit: Callable[[dict], object]) -> str:
    """Why ``validate`` rejects a copy of ``manifest`` changed by ``edit``."""
    broken = copy.deepcopy(manifest)
    edit(broken)
    with pytest.raises(jsonschema.ValidationError) as caught:
        validate(broken, crds)
    return caught.value.message


def test_validator_rejects_a_kustomization_interval_of_1_hour(crds, kustomization):
    assert "does not match" in rejection(crds, kustomization, lambda k: k["spec"].update(interval="1 hour"))


def test_validator_rejects_a_kustomization_without_its_source(crds, kustomization):
    assert rejection(crds, kustomization, lambda k: k["spec"].pop("sourceRef")) == (
        "'sourceRef' is a required property"
    )


def test_validator_rejects_a_misspelt_custom_resource_field(crds, kustomization):
    assert "'healthCheck' was unexpected" in rejection(
        crds, kustomization, lambda k: k["spec"].update(healthCheck=k["spec"].pop("healthChecks"))
    )


def test_validator_rejects_a_custom_resource_without_namespace(crds, kustomization):
    assert "needs a namespace" in rejection(crds, kustomization, lambda k: k["metadata"].pop("namespace"))


def test_validator_rejects_malformed_custom_resource_metadata(crds, kustomization):
    assert "is not of type 'object'" in rejection(
        crds, kustomization, lambda k: k["metadata"].update(labels=["app.kubernetes.io/part-of"])
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("retryInterval", "2 minutes"),
        ("healthCheckExprs", [{"kind": "Prometheus"}]),
        ("healthChecks", [{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease"}]),
    ],
)
def test_validator_rejects_malformed_retry_and_health_check_settings(crds, kustomization, field, value):
    # retryInterval must be a Flux duration; an expression needs apiVersion and current; a check, a name.
    assert rejection(crds, kustomization, lambda k: k["spec"].update({field: value}))


@pytest.mark.parametrize(
    "edit",
    [
        lambda spec: spec["driftDetection"].update(mode="on"),
        lambda spec: spec["driftDetection"]["ignore"][0].update(path=["/spec"]),
    ],
    ids=["unknown-mode", "misspelt-ignore-field"],
)
def test_validator_rejects_malformed_drift_detection(crds, edit):
    release = helm_release(settings_of("prod", "gitops"))
    validate(release, crds)
    assert rejection(crds, release, lambda r: edit(r["spec"]))


def test_validator_keeps_free_form_helm_values_open(crds):
    release = helm_release(settings_of("prod", "direct"))
    release["spec"]["values"]["anyChartKey"] = {"nested": [1, "two"]}
    validate(release, crds)


@pytest.mark.parametrize("port, valid", [(8080, True), ("http-prom", True), (True, False)])
def test_validator_treats_int_or_string_fields_as_either(crds, port, valid):
    monitor = flux_pod_monitor(settings_of("staging", "direct"))
    monitor["spec"]["podMetricsEndpoints"][0]["targetPort"] = port
    if valid:
        validate(monitor, crds)
    else:
        with pytest.raises(jsonschema.ValidationError):
            validate(monitor, crds)


def test_validator_rejects_an_unknown_core_field_strictly(crds):
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(namespace, crds)


def test_validator_refuses_an_object_it_has_no_schema_for(crds):
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, crds)


@pytest.mark.parametrize("mode, stack", MODES_AND_STACKS)
def test_every_registered_object_matches_its_schema(crds, mode, stack):
    objects = kubernetes_objects(run_mode(stack, mode))
    assert objects
    for manifest in objects:
        validate(manifest, crds)


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_patch_has_valid_object_metadata(stack):
    # A patch carries only metadata (the await annotations) for an object the chart owns.
    patches = [r.inputs for r in run_mode(stack, "direct").resources if is_patch(r.type)]
    assert patches
    for patch in patches:
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": patch["metadata"]}, KUBERNETES_VERSION, strict=True
        )


@pytest.mark.parametrize("mode, stack", MODES_AND_STACKS)
def test_every_rendered_file_matches_its_schema(crds, tmp_path, mode, stack):
    written = write_tree(rendered_tree(settings_of(stack, mode)), tmp_path, stack)
    manifests = [yaml.safe_load(p.read_text()) for p in written if p.name != "kustomization.yaml"]
    assert FLUX_AND_OPERATOR_KINDS - {"GitRepository", "Kustomization"} <= {m["kind"] for m in manifests}
    for manifest in manifests:
        validate(manifest, crds)
