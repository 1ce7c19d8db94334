"""Direct delivery: `pulumi up` succeeds only once Prometheus (and Alertmanager) run, and fails, bounded,
naming the one that does not. Helm's wait covers the chart's Deployments, not the StatefulSets the
Prometheus Operator creates afterwards from the chart's Prometheus and Alertmanager resources."""

from __future__ import annotations

import json

import pytest
import yaml

from components.kube_prometheus_stack import RELEASE_TIMEOUT_SECONDS
from tests.conftest import PROD_PASSWORD, run_stack
from tests.pulumi_harness import ROOT, ProgramRun, RecordingMocks

RELEASE = "kubernetes:helm.sh/v3:Release"
PROMETHEUS_READY = "kubernetes:monitoring.coreos.com/v1:PrometheusPatch"
ALERTMANAGER_READY = "kubernetes:monitoring.coreos.com/v1:AlertmanagerPatch"
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT = "pulumi.com/timeoutSeconds"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack("prod", password=PROD_PASSWORD)


@pytest.fixture(scope="module")
def staging() -> ProgramRun:
    return run_stack("staging")


def annotations(run: ProgramRun, type_: str) -> dict[str, str]:
    return run.one(type_).inputs["metadata"]["annotations"]


@pytest.mark.parametrize("type_, name", [(PROMETHEUS_READY, "kube-prometheus-stack-prometheus"),
                                         (ALERTMANAGER_READY, "kube-prometheus-stack-alertmanager")])
def test_pulumi_up_waits_for_the_operator_to_report_the_chart_resource_available(prod, type_, name):
    patch = prod.one(type_, name).inputs
    # The chart's own resource (release name + suffix), in the monitoring namespace ...
    assert (patch["apiVersion"], patch["metadata"]["name"], patch["metadata"]["namespace"]) == (
        "monitoring.coreos.com/v1", name, "monitoring")
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
    assert ready == {("PrometheusPatch", "kube-prometheus-stack-prometheus"),
                     ("AlertmanagerPatch", "kube-prometheus-stack-alertmanager")}


def test_without_alertmanager_only_prometheus_is_awaited(staging):
    assert staging.one(PROMETHEUS_READY)
    assert staging.of_type(ALERTMANAGER_READY) == []


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
    run = run_stack("prod", {"flux-monitoring:delivery": "gitops", "flux-monitoring:gitops": json.dumps(
        {"url": "https://github.com/example/fleet", "tag": "v1.0.0"})}, password=PROD_PASSWORD)
    assert not [r for r in run.resources if r.type.endswith("Patch")]


def test_the_chart_keeps_the_resource_names_the_wait_targets(shared_upstream, prod):
    # kube-prometheus-stack names them "<fullname>-prometheus" / "-alertmanager" unless
    # cleanPrometheusOperatorObjectNames, nameOverride or fullnameOverride say otherwise.
    defaults = yaml.safe_load((shared_upstream / "charts" / "kube-prometheus-stack-88.5.3.values.yaml").read_text())
    assert defaults["cleanPrometheusOperatorObjectNames"] is False
    values = prod.one(RELEASE).inputs["values"]
    assert not {"cleanPrometheusOperatorObjectNames", "nameOverride", "fullnameOverride"} & set(values)
    assert prod.one(RELEASE).inputs["name"] == "kube-prometheus-stack"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_shipped_stacks_leave_the_storage_class_to_the_cluster_default(stack):
    # A named class that the cluster lacks ("standard" on EKS or AKS) leaves Prometheus' volume Pending.
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert "storageClassName" not in config.get("flux-monitoring:prometheus", {})
