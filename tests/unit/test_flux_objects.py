"""Every Flux object the program creates or renders, for every Flux release it accepts, in both
deliveries, with and without fluxEvents: written at a version that release serves, with only the
fields that release's CRD has (../shared/upstream/crds/flux/<minor>/, exactly as each minor's last
patch ships them: crds/flux/PROVENANCE.txt)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flux_monitoring.flux.release import MINORS, flux_release, written_api_versions
from flux_monitoring.manifests.flux_events import flux_event_manifests
from flux_monitoring.manifests.gitops import helm_release, stack_kustomization
from render import rendered_tree
from tests.support.gitops_stacks import MODES, run_mode, settings_of
from tests.support.schemas import (
    CrdSchemas,
    is_patch,
    kubernetes_objects,
    load_crd,
    object_schema,
    release_crd_schemas,
    validate,
)

STACK = "prod"  # both fluxEvents providers, gitops-capable, protected
EVENTS = {"on": {"grafanaAnnotations": True, "alertmanager": True}, "off": {}}
CASES = [(minor, mode, events) for minor in MINORS for mode in MODES for events in EVENTS]

# The Flux kinds each delivery creates through Pulumi and renders into git.
REGISTERED = {"direct": set(), "gitops": {"GitRepository", "Kustomization"}}
RENDERED = {"direct": {"HelmRepository", "HelmRelease"}, "gitops": {"HelmRepository", "HelmRelease"}}
EVENT_KINDS = {"Alert", "Provider"}


def _overrides(minor: str, events: str) -> dict[str, str]:
    return {"flux-monitoring:fluxVersion": minor, "flux-monitoring:fluxEvents": json.dumps(EVENTS[events])}


def _is_flux(manifest: dict[str, Any]) -> bool:
    return manifest["apiVersion"].split("/")[0].endswith(".fluxcd.io")


@pytest.fixture(scope="module")
def release_crds(shared_upstream: Path) -> Callable[[str], CrdSchemas]:
    """Flux ``minor``'s CRD schemas (each release's loaded once, when first asked for)."""
    return lambda minor: release_crd_schemas(shared_upstream, minor)


def served_and_valid(manifest: dict[str, Any], crds: CrdSchemas, minor: str) -> None:
    """Fails unless Flux ``minor`` serves the object's version and its CRD there has every field."""
    key = (manifest["apiVersion"], manifest["kind"])
    assert key in crds, f"{manifest['kind']} {manifest['apiVersion']} is not served by Flux {minor}"
    validate(manifest, crds)
    # A health check names a Flux object by apiVersion too: one the release does not serve never passes.
    for check in manifest["spec"].get("healthChecks", []):
        if _is_flux(check):
            assert (check["apiVersion"], check["kind"]) in crds, f"health check {check} on Flux {minor}"


@pytest.mark.parametrize("minor, mode, events", CASES)
def test_every_flux_object_is_served_and_valid_on_its_release(release_crds, minor, mode, events):
    run = run_mode(STACK, mode, _overrides(minor, events))
    registered = [m for m in kubernetes_objects(run) if _is_flux(m)]
    tree = rendered_tree(settings_of(STACK, mode, _overrides(minor, events)))
    rendered = [m for manifests in tree.values() for m in manifests if _is_flux(m)]
    with_events = EVENT_KINDS if events == "on" else set()
    # Pulumi creates the event objects in direct delivery; the render writes them in both.
    assert {m["kind"] for m in registered} == REGISTERED[mode] | (with_events if mode == "direct" else set())
    assert {m["kind"] for m in rendered} == RENDERED[mode] | REGISTERED[mode] | with_events
    for manifest in [*registered, *rendered]:
        served_and_valid(manifest, release_crds(minor), minor)
    # A patch (the HelmRelease reconcile request before Flux 2.7) addresses the object at a served version too.
    for patch in (r.inputs for r in run.resources if is_patch(r.type) and _is_flux(r.inputs)):
        assert (patch["apiVersion"], patch["kind"]) in release_crds(minor), f"{patch['kind']} patch on Flux {minor}"


@pytest.mark.parametrize("minor", MINORS)
def test_pulumi_types_name_the_release_version_and_alias_the_others(minor):
    run = run_mode(STACK, "direct", _overrides(minor, "on"))
    notifications = [r for r in run.resources if r.type.startswith("kubernetes:notification.toolkit.fluxcd.io/")]
    assert notifications
    for resource in notifications:
        kind = resource.inputs["kind"]
        written = flux_release(minor).api_version(kind)
        assert resource.type == f"kubernetes:{written}:{kind}"
        # A fluxVersion change then updates the object in place instead of replacing it.
        others = [f"kubernetes:{version}:{kind}" for version in written_api_versions(kind) if version != written]
        assert resource.alias_types == others


def test_the_api_version_follows_the_release():
    versions = {minor: flux_release(minor) for minor in ("2.1", "2.2", "2.3")}
    assert {m: (r.api_version("HelmRelease"), r.api_version("Alert")) for m, r in versions.items()} == {
        "2.1": ("helm.toolkit.fluxcd.io/v2beta1", "notification.toolkit.fluxcd.io/v1beta2"),
        "2.2": ("helm.toolkit.fluxcd.io/v2beta2", "notification.toolkit.fluxcd.io/v1beta3"),
        "2.3": ("helm.toolkit.fluxcd.io/v2", "notification.toolkit.fluxcd.io/v1beta3"),
    }
    assert written_api_versions("HelmRepository") == (
        "source.toolkit.fluxcd.io/v1beta2",
        "source.toolkit.fluxcd.io/v1",
    )


# -- the validator rejects what the API server would prune or refuse -------------------------------


def _rejection(manifest: dict[str, Any], crds: CrdSchemas) -> str:
    with pytest.raises(jsonschema.ValidationError) as caught:
        validate(manifest, crds)
    return caught.value.message


def test_validator_rejects_drift_detection_on_a_helm_release_v2beta1(release_crds):
    # The 2.9 HelmRelease written at 2.1's version: v2beta1 would prune driftDetection.
    release = helm_release(settings_of(STACK, "gitops"))
    release["apiVersion"] = flux_release("2.1").api_version("HelmRelease")
    assert "'driftDetection' was unexpected" in _rejection(release, release_crds("2.1"))


def test_validator_rejects_health_check_expressions_before_flux_2_5(release_crds):
    kustomization = stack_kustomization(settings_of(STACK, "gitops"))
    validate(kustomization, release_crds("2.5"))
    assert "'healthCheckExprs' was unexpected" in _rejection(kustomization, release_crds("2.4"))


def test_validator_rejects_an_unknown_field_deep_in_a_spec(release_crds):
    release = helm_release(settings_of(STACK, "gitops"))
    release["spec"]["chart"]["spec"]["sourceRef"]["apiVersoin"] = "source.toolkit.fluxcd.io/v1"
    assert "'apiVersoin' was unexpected" in _rejection(release, release_crds("2.9"))


def test_validator_keeps_fields_under_preserve_unknown_fields(release_crds):
    release = helm_release(settings_of(STACK, "gitops", _overrides("2.0", "off")))
    release["spec"]["values"]["anyChartKey"] = {"nested": [1, "two"]}
    validate(release, release_crds("2.0"))


def test_no_release_serves_a_version_it_does_not_ship(release_crds):
    alert = next(m for m in flux_event_manifests(settings_of(STACK, "direct")) if m["kind"] == "Alert")
    assert alert["apiVersion"] == "notification.toolkit.fluxcd.io/v1beta3"
    with pytest.raises(AssertionError, match=r"not served by Flux 2\.1"):
        served_and_valid(alert, release_crds("2.1"), "2.1")


def test_validator_prunes_every_field_of_an_object_without_properties():
    """A structural object with neither properties nor x-kubernetes-preserve-unknown-fields keeps nothing."""
    schema = object_schema(
        {"type": "object", "properties": {"spec": {"type": "object", "properties": {"opaque": {"type": "object"}}}}}
    )
    jsonschema.Draft202012Validator(schema).validate({"spec": {"opaque": {}}, "metadata": {"name": "x"}})
    with pytest.raises(jsonschema.ValidationError, match="'field' was unexpected"):
        jsonschema.Draft202012Validator(schema).validate({"spec": {"opaque": {"field": 1}}})


# -- the release model's versions and fields, read from each release's CRDs -------------------------


def _crd(upstream: Path, minor: str, kind: str) -> dict[str, Any]:
    release_kind = flux_release(minor).kind(kind)
    return load_crd(upstream / "crds" / "flux" / minor / f"{release_kind.group}_{release_kind.plural}.yaml")


@pytest.mark.parametrize("minor", MINORS)
def test_each_kind_is_written_at_the_newest_version_its_release_serves_and_stores(shared_upstream, minor):
    """The storage version, served and not deprecated: the one `kubectl get` and the controllers use."""
    for release_kind in flux_release(minor).kinds:
        versions = {v["name"]: v for v in _crd(shared_upstream, minor, release_kind.kind)["spec"]["versions"]}
        written = versions[release_kind.version]
        assert written["served"] and written["storage"] and not written.get("deprecated"), release_kind.kind


def _spec_fields(upstream: Path, minor: str, kind: str) -> set[str]:
    version = flux_release(minor).kind(kind).version
    (found,) = [v for v in _crd(upstream, minor, kind)["spec"]["versions"] if v["name"] == version]
    return set(found["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


@pytest.mark.parametrize("minor", MINORS)
def test_the_release_model_knows_which_fields_each_release_has(shared_upstream, minor):
    release = flux_release(minor)
    assert release.health_check_exprs == ("healthCheckExprs" in _spec_fields(shared_upstream, minor, "Kustomization"))
    assert release.drift_detection == ("driftDetection" in _spec_fields(shared_upstream, minor, "HelmRelease"))


# -- what each release gets instead ------------------------------------------------------------------


@pytest.mark.parametrize("minor", ["2.0", "2.4"])
def test_before_flux_2_5_the_stack_health_checks_the_operators_stateful_sets(minor):
    stack = stack_kustomization(settings_of(STACK, "gitops", _overrides(minor, "off")))["spec"]
    assert "healthCheckExprs" not in stack
    assert [(c["kind"], c["name"], c["namespace"]) for c in stack["healthChecks"]] == [
        ("HelmRelease", "kube-prometheus-stack", "monitoring"),
        ("StatefulSet", "prometheus-kube-prometheus-stack-prometheus", "monitoring"),
        ("StatefulSet", "alertmanager-kube-prometheus-stack-alertmanager", "monitoring"),
    ]


def test_from_flux_2_5_the_stack_health_checks_the_operators_resources_by_expression():
    stack = stack_kustomization(settings_of(STACK, "gitops", _overrides("2.5", "off")))["spec"]
    assert [e["kind"] for e in stack["healthCheckExprs"]] == ["Prometheus", "Alertmanager"]
    assert [c["kind"] for c in stack["healthChecks"]] == ["HelmRelease", "Prometheus", "Alertmanager"]


@pytest.mark.parametrize("minor, drift", [("2.1", False), ("2.2", True), ("2.9", True)])
def test_drift_detection_is_written_where_the_helm_release_has_it(minor, drift):
    release = helm_release(settings_of(STACK, "gitops", _overrides(minor, "off")))
    assert ("driftDetection" in release["spec"]) is drift
