"""Direct delivery applies the Prometheus Operator CRDs of the pinned chart itself, before the release,
from the prometheus-operator-crds chart of the same operator release; gitops leaves them to helm-controller."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
import yaml

from flux_monitoring.config.operator_crds import OPERATOR_CRDS, crds_chart_version, operator_release
from flux_monitoring.config.settings import DEFAULT_CHART_VERSION, SettingsError, load_settings
from flux_monitoring.manifests.gitops import helm_release
from tests.conftest import run_stack
from tests.support.gitops_stacks import settings_of

CHART = "kubernetes:helm.sh/v4:Chart"
RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_pinned_charts_operator_release_is_the_one_its_chart_yaml_ships(shared_upstream):
    chart = yaml.safe_load(
        (shared_upstream / "charts" / f"kube-prometheus-stack-{DEFAULT_CHART_VERSION}.Chart.yaml").read_text()
    )
    # The CRDs are the crds subchart's, behind crds.enabled: what direct delivery turns off.
    assert {"name": "crds", "version": "0.0.0", "condition": "crds.enabled"} in chart["dependencies"]
    assert operator_release(DEFAULT_CHART_VERSION) == chart["appVersion"] == "v0.93.1"
    # prometheus-operator-crds 31.0.1: appVersion v0.93.1 (prometheus-community/helm-charts 4529d7b).
    assert crds_chart_version(DEFAULT_CHART_VERSION) == "31.0.1"


def test_the_version_table_is_ordered_and_no_chart_version_maps_to_two_operator_releases():
    bounds = [(_key(first), _key(last)) for first, last, _, _ in OPERATOR_CRDS]
    assert all(first <= last for first, last in bounds)
    assert all(previous[1] < following[0] for previous, following in pairwise(bounds))
    operators = [operator for _, _, operator, _ in OPERATOR_CRDS]
    assert len(set(operators)) == len(operators)


@pytest.mark.parametrize(
    ("chart_version", "crds"),
    [("88.4.0", "31.0.1"), ("88.3.0", "31.0.0"), ("87.21.0", "30.0.1"), ("83.0.0", "28.0.1"), ("85.4.0", "28.0.1")],
)
def test_each_chart_version_maps_to_the_crds_of_its_operator_release(chart_version, crds):
    assert crds_chart_version(chart_version) == crds


@pytest.mark.parametrize("chart_version", ["89.0.0", "73.0.0", "81.2.3", "88.5.3-rc.1"])
def test_an_unknown_chart_version_has_no_crds_version(chart_version):
    assert crds_chart_version(chart_version) is None


def test_direct_delivery_with_an_unknown_chart_version_stops_naming_the_key_and_the_way_out():
    with pytest.raises(SettingsError) as error:
        load_settings({"chartVersion": "89.0.0"}, kube_context="test")
    (problem,) = error.value.problems
    assert problem.startswith('chartVersion: got "89.0.0"; expected a kube-prometheus-stack version from 74.0.0')
    assert "operatorCrdsVersion" in problem


def test_operator_crds_version_overrides_the_table_for_another_chart_version():
    settings = load_settings({"chartVersion": "89.0.0", "operatorCrdsVersion": "32.0.0"}, kube_context="test")
    assert settings.crds_version == "32.0.0"


def test_gitops_delivery_needs_no_crds_version():
    gitops = json.dumps({"url": "https://github.com/example/monitoring", "tag": "v1"})
    settings = load_settings({"chartVersion": "89.0.0", "delivery": "gitops", "gitops": gitops}, kube_context="t")
    assert settings.crds_version is None


@pytest.fixture(scope="module")
def staging_run():
    return run_stack("staging")


def test_direct_delivery_applies_the_matching_crds_chart_before_the_release(staging_run):
    chart = staging_run.one(CHART, "prometheus-operator-crds")
    assert chart.inputs["chart"] == "prometheus-operator-crds"
    assert chart.inputs["version"] == "31.0.1"
    assert chart.inputs["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert chart.urn in staging_run.one(RELEASE).dependencies


def test_the_crds_are_never_deleted_with_the_chart(staging_run):
    values = staging_run.one(CHART, "prometheus-operator-crds").inputs["values"]
    assert values == {"crds": {"annotations": {"helm.sh/resource-policy": "keep"}}}


def test_the_crds_are_applied_server_side_adopting_the_ones_an_earlier_install_left(staging_run):
    chart = staging_run.one(CHART, "prometheus-operator-crds")
    (provider,) = [p for p in staging_run.of_type(PROVIDER) if chart.provider.startswith(p.urn + "::")]
    assert provider.inputs["context"] == "staging"
    # Server-side apply is the provider's default (enableServerSideApply unset or true).
    assert provider.inputs.get("enableServerSideApply", "true") in (True, "true")
    assert provider.inputs["upsertExistingObjects"] in (True, "true")
    assert provider.inputs["enablePatchForce"] in (True, "true")


def test_the_direct_release_leaves_the_crds_to_pulumi(staging_run):
    assert staging_run.one(RELEASE).inputs["values"]["crds"] == {"enabled": False}


def test_gitops_keeps_the_charts_crds_with_create_replace():
    spec = helm_release(settings_of("staging", "gitops"))["spec"]
    assert "crds" not in spec["values"]
    assert spec["install"]["crds"] == spec["upgrade"]["crds"] == "CreateReplace"
