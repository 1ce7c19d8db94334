"""The alerts that say when the signals are blind, tested with the real promtool for every metric source:
FluxKindUnreported (the controllers reconcile a kind the source reports nothing of), FluxStateSourceDown
(the source itself gone) and FluxVersionMismatch (another Flux runs than fluxVersion says)."""

from __future__ import annotations

import pytest

from flux_monitoring.config.settings import load_settings
from tests.unit.test_signals_rules import (
    CONTROLLER_TARGET,
    GENERATIONS,
    KSM_TARGET,
    OPERATOR_TARGET,
    durations,
    flux_object,
    healthy_controllers,
    promtool_test,
    selector,
)

# -- FluxControllerDown for a shard (pods app=<controller>-<shard>, targets labelled app and shard) ---


def shard_up(shard: str, values: str) -> dict:
    pod = f"kustomize-controller-{shard}-7d8f9"
    labels = {**CONTROLLER_TARGET, "app": "kustomize-controller", "shard": shard, "pod": pod}
    return {"series": selector("up", labels), "values": values}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_controller_down_names_the_shard_whose_scrape_fails(tmp_path, generation):
    series = [*healthy_controllers(generation), shard_up("shard1", "1x60"), shard_up("shard2", "0x60")]
    labels = {
        **CONTROLLER_TARGET,
        "app": "kustomize-controller",
        "shard": "shard2",
        "pod": "kustomize-controller-shard2-7d8f9",
    }
    expected = [
        {
            "exp_labels": {"severity": "page", **labels},
            "exp_annotations": {
                "summary": "Flux controller kustomize-controller shard shard2 is down or missing in cluster eu-west-1",
                "description": "Prometheus cannot scrape kustomize-controller (shard shard2), pod "
                "kustomize-controller-shard2-7d8f9, in flux-system (or, for one listed in fluxComponents, finds no "
                "target) for 5m.",
                "runbook_url": "docs/runbooks.md#fluxcontrollerdown",
            },
        }
    ]
    promtool_test(tmp_path, generation, series, "10m", "FluxControllerDown", expected, annotations=True)


def test_controller_down_fires_for_a_shard_flux_components_lists_that_has_no_target(tmp_path):
    components = '["source-controller", "kustomize-controller", "kustomize-controller-shard1"]'
    settings = load_settings({"fluxComponents": components}, kube_context="test")
    series = [
        {"series": selector("up", {**CONTROLLER_TARGET, "app": app, "pod": f"{app}-5d7c9"}), "values": "1x60"}
        for app in ("source-controller", "kustomize-controller")
    ]
    expected = [
        {
            "exp_labels": {
                "severity": "page",
                "job": CONTROLLER_TARGET["job"],
                "app": "kustomize-controller",
                "shard": "shard1",
            }
        }
    ]
    promtool_test(tmp_path, "resource-info", series, "10m", "FluxControllerDown", expected, settings=settings)


def test_a_shard_nobody_listed_is_not_expected_to_exist(tmp_path):
    promtool_test(tmp_path, "resource-info", healthy_controllers("resource-info"), "30m", "FluxControllerDown", [])


# -- FluxKindUnreported ---------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
def test_kind_unreported_names_the_kind_the_controllers_reconcile_and_the_source_does_not_report(tmp_path, generation):
    # Kustomizations are reconciled and reported; the GitRepository is reconciled, never reported.
    series = [
        *durations("Kustomization", "apps", "infra", seconds=2),
        *flux_object(generation, "Kustomization", "apps", "infra"),
        *durations("GitRepository", "apps", "infra", seconds=1),
    ]
    expected = [{"exp_labels": {"severity": "page", "kind": "GitRepository"}}]
    promtool_test(tmp_path, generation, series, "20m", "FluxKindUnreported", expected)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_kind_unreported_waits_for_its_for_duration(tmp_path, generation):
    promtool_test(tmp_path, generation, durations("GitRepository", "apps", "infra", 1), "12m", "FluxKindUnreported", [])


@pytest.mark.parametrize("generation", GENERATIONS)
def test_kind_unreported_stays_quiet_while_every_reconciled_kind_is_reported(tmp_path, generation):
    series = [
        *durations("Kustomization", "apps", "infra", seconds=2),
        *flux_object(generation, "Kustomization", "apps", "infra"),
        *durations("GitRepository", "apps", "infra", seconds=1),
        *flux_object(generation, "GitRepository", "apps", "infra"),
    ]
    promtool_test(tmp_path, generation, series, "30m", "FluxKindUnreported", [])


def test_kind_unreported_leaves_out_kinds_the_legacy_gauges_never_carry_in_the_release(tmp_path):
    # helm-controller stopped exporting gotk_reconcile_condition in Flux 2.2: the config warns instead.
    settings = load_settings({"fluxMetrics": "legacy", "fluxVersion": "2.4"}, kube_context="test")
    series = durations("HelmRelease", "apps", "web", seconds=3)
    promtool_test(tmp_path, "legacy", series, "30m", "FluxKindUnreported", [], settings=settings)


def test_kind_unreported_says_which_source_misses_it_and_the_likely_causes(tmp_path):
    series = durations("GitRepository", "apps", "infra", seconds=1)
    expected = [
        {
            "exp_labels": {"severity": "page", "kind": "GitRepository"},
            "exp_annotations": {
                "summary": "Flux reconciles GitRepository objects but kube-state-metrics reports none "
                "in cluster eu-west-1",
                "description": "Every GitRepository panel and alert is blind. Likely: kube-state-metrics' custom "
                "resource config does not name the kind at a version the cluster serves (a config written for "
                "another Flux release, as after an upgrade: fluxVersion), does not name it at all, or "
                "kube-state-metrics is down.",
                "runbook_url": "docs/runbooks.md#fluxkindunreported",
            },
        }
    ]
    promtool_test(tmp_path, "resource-info", series, "20m", "FluxKindUnreported", expected, annotations=True)


# -- FluxStateSourceDown --------------------------------------------------------------------------


def ksm_up(values: str) -> dict:
    return {"series": selector("up", {**KSM_TARGET, "pod": "kube-state-metrics-5f7d8"}), "values": values}


def test_state_source_down_fires_when_kube_state_metrics_cannot_be_scraped(tmp_path):
    expected = [{"exp_labels": {"severity": "page", **KSM_TARGET, "pod": "kube-state-metrics-5f7d8"}}]
    promtool_test(tmp_path, "resource-info", [ksm_up("1x5 0x30")], "20m", "FluxStateSourceDown", expected)


def test_state_source_down_fires_when_kube_state_metrics_has_no_target(tmp_path):
    expected = [{"exp_labels": {"severity": "page", "job": "kube-state-metrics"}}]
    promtool_test(tmp_path, "resource-info", [], "15m", "FluxStateSourceDown", expected)


def test_state_source_down_stays_quiet_while_kube_state_metrics_is_up(tmp_path):
    promtool_test(tmp_path, "resource-info", [ksm_up("1x60")], "30m", "FluxStateSourceDown", [])


def reports(values: str) -> dict:
    """The Flux Operator's FluxReport reconciliations (each one rebuilds flux_resource_info)."""
    labels = {**OPERATOR_TARGET, "controller": "fluxreport", "result": "requeue_after"}
    return {"series": selector("controller_runtime_reconcile_total", labels), "values": values}


def test_state_source_down_fires_when_the_flux_operator_stops_reporting(tmp_path):
    # Reporting every 5 minutes for 20 minutes, then never again.
    series = [reports("0x4 1x5 2x5 3x5 4x60")]
    promtool_test(
        tmp_path, "flux-operator", series, "50m", "FluxStateSourceDown", [{"exp_labels": {"severity": "page"}}]
    )


def test_state_source_down_stays_quiet_while_the_flux_operator_reports_every_interval(tmp_path):
    series = [reports("0+0.2x90")]  # once every five minutes
    promtool_test(tmp_path, "flux-operator", series, "80m", "FluxStateSourceDown", [])


def test_the_legacy_source_has_no_state_source_down_alert_its_controllers_are_the_source(tmp_path):
    promtool_test(tmp_path, "legacy", [], "30m", "FluxStateSourceDown", [])


# -- FluxVersionMismatch --------------------------------------------------------------------------

DECLARED_2_6 = {"fluxVersion": "2.6"}


def container(image: str, pod: str = "source-controller-6d9c7f5b8-x2k4q") -> dict:
    """kube_pod_container_info of one Flux controller container (kube-state-metrics pod metrics)."""
    labels = {**KSM_TARGET, "namespace": "flux-system", "pod": pod, "container": "manager", "image": image}
    return {"series": selector("kube_pod_container_info", {**labels, "image_spec": image}), "values": "1x60"}


@pytest.mark.parametrize("generation", ["resource-info", "legacy"])
def test_version_mismatch_names_the_container_and_the_flux_release_its_image_belongs_to(tmp_path, generation):
    settings = load_settings({"fluxMetrics": generation, "fluxVersion": "2.4"}, kube_context="test")
    series = [
        container("ghcr.io/fluxcd/source-controller:v1.9.4"),
        container("ghcr.io/fluxcd/kustomize-controller:v1.4.0", pod="kustomize-controller-5d7c9"),
    ]
    expected = [
        {
            "exp_labels": {
                "severity": "warning",
                "namespace": "flux-system",
                "pod": "source-controller-6d9c7f5b8-x2k4q",
                "image": "ghcr.io/fluxcd/source-controller:v1.9.4",
                "running": "2.9",
            }
        }
    ]
    promtool_test(tmp_path, generation, series, "40m", "FluxVersionMismatch", expected, settings=settings)


def test_version_mismatch_reads_any_registry_and_says_unknown_for_a_release_it_does_not_know(tmp_path):
    settings = load_settings(DECLARED_2_6, kube_context="test")
    series = [
        container("registry.example.com/mirror/fluxcd/helm-controller:v1.6.3@sha256:0a1b", pod="helm-controller-7f"),
        container("ghcr.io/fluxcd/source-controller:v1.10.0"),
    ]
    expected = [
        {
            "exp_labels": {
                "severity": "warning",
                "namespace": "flux-system",
                "pod": "helm-controller-7f",
                "image": "registry.example.com/mirror/fluxcd/helm-controller:v1.6.3@sha256:0a1b",
                "running": "2.9",
            }
        },
        {
            "exp_labels": {
                "severity": "warning",
                "namespace": "flux-system",
                "pod": "source-controller-6d9c7f5b8-x2k4q",
                "image": "ghcr.io/fluxcd/source-controller:v1.10.0",
                "running": "unknown",
            }
        },
    ]
    promtool_test(tmp_path, "resource-info", series, "40m", "FluxVersionMismatch", expected, settings=settings)


def test_version_mismatch_stays_quiet_while_every_controller_runs_the_declared_release(tmp_path):
    settings = load_settings(DECLARED_2_6, kube_context="test")
    series = [
        container("ghcr.io/fluxcd/source-controller:v1.6.2"),
        container("ghcr.io/fluxcd/image-reflector-controller:v0.35.2", pod="image-reflector-controller-8c"),
        container("ghcr.io/example/unrelated:v1.9.4", pod="unrelated-1"),
    ]
    promtool_test(tmp_path, "resource-info", series, "40m", "FluxVersionMismatch", [], settings=settings)


def instance(revision: str) -> dict:
    labels = {**OPERATOR_TARGET, "kind": "FluxInstance", "exported_namespace": "flux-system", "name": "flux"}
    return {
        "series": selector("flux_instance_info", {**labels, "revision": revision, "ready": "True"}),
        "values": "1x60",
    }


def test_version_mismatch_with_the_flux_operator_names_the_fluxinstance_revision(tmp_path):
    settings = load_settings({**DECLARED_2_6, "fluxMetrics": "flux-operator"}, kube_context="test")
    revision = f"v2.9.4@sha256:{'4' * 64}"
    expected = [
        {
            "exp_labels": {
                "severity": "warning",
                "exported_namespace": "flux-system",
                "name": "flux",
                "revision": revision,
                "running": "2.9",
            },
            "exp_annotations": {
                "summary": f"FluxInstance flux-system/flux applied {revision}, Flux 2.9, but fluxVersion is 2.6 "
                "in cluster eu-west-1",
                "description": "Kinds, API versions and metrics are built for Flux 2.6: set fluxVersion to the "
                "release that runs, or some kinds and states go unseen.",
                "runbook_url": "docs/runbooks.md#fluxversionmismatch",
            },
        }
    ]
    series = [instance(revision)]
    promtool_test(
        tmp_path, "flux-operator", series, "40m", "FluxVersionMismatch", expected, annotations=True, settings=settings
    )


@pytest.mark.parametrize("revision", ["v2.6.4@sha256:0a1b", ""])
def test_version_mismatch_with_the_flux_operator_stays_quiet_on_the_declared_or_no_revision(tmp_path, revision):
    settings = load_settings({**DECLARED_2_6, "fluxMetrics": "flux-operator"}, kube_context="test")
    promtool_test(tmp_path, "flux-operator", [instance(revision)], "40m", "FluxVersionMismatch", [], settings=settings)
