"""kube-state-metrics values exporting Flux objects as gotk_resource_info, for the stack's Flux release."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.flux.release import MINORS, flux_release
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values
from tests.support.signals_tools import upstream_file

# Every controller of the newest release installed, extras included.
RESOURCE_INFO = load_settings(
    {"fluxComponents": json.dumps(list(flux_release(MINORS[-1]).controllers))}, kube_context="test"
)
# The Flux kinds to export, with the resource name RBAC rules grant access by.
PLURALS = {
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
    "GitRepository": "gitrepositories",
    "OCIRepository": "ocirepositories",
    "HelmRepository": "helmrepositories",
    "HelmChart": "helmcharts",
    "Bucket": "buckets",
    "Alert": "alerts",
    "Provider": "providers",
    "Receiver": "receivers",
    "ImageRepository": "imagerepositories",
    "ImagePolicy": "imagepolicies",
    "ImageUpdateAutomation": "imageupdateautomations",
    "ExternalArtifact": "externalartifacts",
    "ArtifactGenerator": "artifactgenerators",
}
FLUX_KINDS = set(PLURALS)
# Stored CRDs, by kind, to check versions and label paths against.
CRDS = {
    "GitRepository": "source.toolkit.fluxcd.io_gitrepositories.yaml",
    "OCIRepository": "source.toolkit.fluxcd.io_ocirepositories.yaml",
    "HelmRepository": "source.toolkit.fluxcd.io_helmrepositories.yaml",
    "Kustomization": "kustomize.toolkit.fluxcd.io_kustomizations.yaml",
    "HelmRelease": "helm.toolkit.fluxcd.io_helmreleases.yaml",
    "Alert": "notification.toolkit.fluxcd.io_alerts.yaml",
    "Provider": "notification.toolkit.fluxcd.io_providers.yaml",
}


def resources(settings=RESOURCE_INFO) -> list[dict]:
    return kube_state_metrics_values(settings)["customResourceState"]["config"]["spec"]["resources"]


@pytest.fixture(scope="module")
def matrix() -> dict:
    return yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())


@pytest.mark.parametrize("minor", MINORS)
def test_kube_state_metrics_watches_every_kind_of_the_release_at_its_storage_version_by_default(matrix, minor):
    """For every release, under the default config: exactly the kinds that exist, image automation and
    source-watcher's included, each at its storage version (one the release serves). A kind whose CRD
    is absent is skipped by kube-state-metrics v2.20.0 until it appears (kube_state_metrics.py)."""
    settings = load_settings({"fluxVersion": minor}, kube_context="test")
    watched = {
        r["groupVersionKind"]["kind"]: (r["groupVersionKind"]["group"], r["groupVersionKind"]["version"])
        for r in resources(settings)
    }
    expected = {
        kind: (facts["group"], facts["versions"][minor]["storage"])
        for kind, facts in matrix["kinds"].items()
        if minor in facts["versions"]
    }
    assert watched == expected


def test_flux_components_do_not_narrow_what_kube_state_metrics_watches():
    only_sources = load_settings({"fluxComponents": json.dumps(["source-controller"])}, kube_context="test")
    assert resources(only_sources) == resources(load_settings({}, kube_context="test"))


def test_the_pinned_chart_runs_a_kube_state_metrics_that_skips_absent_crds():
    # kube-prometheus-stack 88.5.3 depends on kube-state-metrics 8.4.0 (Chart.yaml), whose appVersion
    # is v2.20.0: CRD discovery with absent kinds skipped (kubernetes/kube-state-metrics v2.20.0).
    chart = yaml.safe_load(upstream_file("charts/kube-prometheus-stack-88.5.3.Chart.yaml").read_text())
    (dependency,) = [d for d in chart["dependencies"] if d["name"] == "kube-state-metrics"]
    assert dependency["version"] == "8.4.0"


def test_the_ready_reason_is_a_label_where_the_kind_has_a_ready_condition():
    for r in resources():
        labels = r["metrics"][0]["labelsFromPath"]
        if "ready" in labels:
            assert labels["reason"] == ["status", "conditions", "[type=Ready]", "reason"]
    assert (
        "reason"
        not in next(r for r in resources() if r["groupVersionKind"]["kind"] == "Alert")["metrics"][0]["labelsFromPath"]
    )


def test_flux_operator_source_needs_no_kube_state_metrics_changes():
    assert kube_state_metrics_values(load_settings({"fluxMetrics": "flux-operator"}, kube_context="test")) == {}


def leaf_paths(values: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(values, dict) and values:
        return [p for key, value in values.items() for p in leaf_paths(value, (*prefix, key))]
    return [prefix]


def test_legacy_generation_needs_no_kube_state_metrics_changes():
    settings = load_settings({"fluxMetrics": "legacy", "fluxVersion": "2.4"}, kube_context="test")
    assert kube_state_metrics_values(settings) == {}


def test_every_key_path_exists_in_the_kube_state_metrics_chart_defaults():
    defaults = yaml.safe_load(upstream_file("charts/kube-state-metrics-8.4.0.values.yaml").read_text())
    unknown = []
    for path in leaf_paths(kube_state_metrics_values(RESOURCE_INFO)):
        node = defaults
        for key in path:
            if node in ({}, []):
                break  # free-form: extraRules, customResourceState.config
            if not isinstance(node, dict) or key not in node:
                unknown.append(".".join(path))
                break
            node = node[key]
    assert unknown == []


def test_every_flux_kind_is_exported():
    assert {r["groupVersionKind"]["kind"] for r in resources()} == FLUX_KINDS


def test_every_kind_has_its_own_help_text():
    helps = [m["help"] for r in resources() for m in r["metrics"]]
    assert len(set(helps)) == len(helps) == len(FLUX_KINDS)


def test_every_kind_is_exported_as_gotk_resource_info():
    names = {(r["metricNamePrefix"], m["name"]) for r in resources() for m in r["metrics"]}
    assert names == {("gotk", "resource_info")}


def test_rbac_lets_kube_state_metrics_list_and_watch_every_exported_kind():
    rules = kube_state_metrics_values(RESOURCE_INFO)["rbac"]["extraRules"]
    granted = {
        (group, resource)
        for rule in rules
        if {"list", "watch"} <= set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    needed = {(r["groupVersionKind"]["group"], PLURALS[r["groupVersionKind"]["kind"]]) for r in resources()}
    assert needed - granted == set()


def test_default_kubernetes_metrics_are_kept():
    values = kube_state_metrics_values(RESOURCE_INFO)
    assert "collectors" not in values
    assert not any("custom-resource-state-only" in arg for arg in values.get("extraArgs", []))


def test_object_namespace_reaches_prometheus_as_exported_namespace():
    """kube-prometheus-stack scrapes kube-state-metrics honouring its labels, so the label keeps its name."""
    stack = yaml.safe_load(upstream_file("charts/kube-prometheus-stack-88.5.3.values.yaml").read_text())
    assert stack["kube-state-metrics"]["prometheus"]["monitor"]["http"]["honorLabels"] is True
    for r in resources():
        assert r["metrics"][0]["labelsFromPath"]["exported_namespace"] == ["metadata", "namespace"]


def _schema_has_path(schema: dict, path: list[str]) -> bool:
    node = schema
    for step in path:
        if step.startswith("[") or step.isdigit():  # "[type=Ready]" or "0": an item of a list
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(step)
        if node is None:
            return False
    return True


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_version_and_label_paths_match_the_flux_crd(kind):
    crd = yaml.safe_load(upstream_file(f"crds/{CRDS[kind]}").read_text())
    resource = next(r for r in resources() if r["groupVersionKind"]["kind"] == kind)
    stored = next(v for v in crd["spec"]["versions"] if v["storage"])
    assert resource["groupVersionKind"]["version"] == stored["name"]
    assert resource["groupVersionKind"]["group"] == crd["spec"]["group"]
    schema = stored["schema"]["openAPIV3Schema"]
    metric = resource["metrics"][0]
    for path in [*metric["labelsFromPath"].values(), *metric["each"]["info"]["labelsFromPath"].values()]:
        if path[0] != "metadata":
            assert _schema_has_path(schema, path), path


def _release_crd(minor: str, kind: str) -> dict:
    """``kind``'s CRD as Flux ``minor`` ships it (../shared/upstream/crds/flux/<minor>/, PROVENANCE.txt)."""
    release_kind = flux_release(minor).kind(kind)
    return yaml.safe_load(
        upstream_file(f"crds/flux/{minor}/{release_kind.group}_{release_kind.plural}.yaml").read_text()
    )


@pytest.mark.parametrize("minor", MINORS)
def test_every_label_path_exists_in_the_crd_of_the_release_watched(minor):
    """A path the watched version does not have gives the label no value, silently."""
    settings = load_settings(
        {"fluxVersion": minor, "fluxComponents": json.dumps(list(flux_release(minor).controllers))},
        kube_context="test",
    )
    for resource in resources(settings):
        gvk = resource["groupVersionKind"]
        crd = _release_crd(minor, gvk["kind"])
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == gvk["version"]]
        metric = resource["metrics"][0]
        for path in [*metric["labelsFromPath"].values(), *metric["each"]["info"]["labelsFromPath"].values()]:
            if path[0] != "metadata":
                assert _schema_has_path(version["schema"]["openAPIV3Schema"], path), (gvk["kind"], path)


@pytest.mark.parametrize("minor", ["2.0", "2.1"])
def test_helm_release_revision_on_flux_2_0_and_2_1_is_the_last_applied_chart_version(minor):
    """HelmRelease v2beta1 has no status.history; its lastAppliedRevision is the chart version applied."""
    settings = load_settings({"fluxVersion": minor}, kube_context="test")
    (release,) = [r for r in resources(settings) if r["groupVersionKind"]["kind"] == "HelmRelease"]
    assert release["groupVersionKind"]["version"] == "v2beta1"
    assert release["metrics"][0]["labelsFromPath"]["revision"] == ["status", "lastAppliedRevision"]


@pytest.mark.parametrize("minor", ["2.2", "2.3", "2.9"])
def test_helm_release_revision_from_flux_2_2_is_the_current_release_in_the_history(minor):
    settings = load_settings({"fluxVersion": minor}, kube_context="test")
    (release,) = [r for r in resources(settings) if r["groupVersionKind"]["kind"] == "HelmRelease"]
    assert release["metrics"][0]["labelsFromPath"]["revision"] == ["status", "history", "0", "chartVersion"]
