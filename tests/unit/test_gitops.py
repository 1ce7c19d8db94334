"""gitops delivery: what `pulumi up` creates when Flux syncs the stack from git."""

from __future__ import annotations

import json

import pytest

from flux_monitoring.manifests.gitops import duration_seconds, flux_sync_manifests, helm_release
from render import CONFIG_DIR, STACK_DIR, rendered_tree
from tests.support.gitops_stacks import GUIDE_TAG, GUIDE_URL, MODES_AND_STACKS, run_mode, settings_of
from tests.support.pulumi_harness import ProgramRun
from tests.support.schemas import kubernetes_objects, object_key

NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT = "pulumi.com/timeoutSeconds"


@pytest.fixture(scope="module")
def staging_gitops() -> ProgramRun:
    return run_mode("staging", "gitops")


def spec(run: ProgramRun, type_: str, name: str | None = None) -> dict:
    return run.one(type_, name).inputs["spec"]


def annotations(run: ProgramRun, type_: str, name: str | None = None) -> dict:
    return run.one(type_, name).inputs["metadata"]["annotations"]


def flux_owned(run: ProgramRun, stack: str, mode: str) -> set[tuple[str, str, str]]:
    """The objects Flux applies: those of the rendered directories the run's Kustomizations sync."""
    settings = settings_of(stack, mode)
    tree = rendered_tree(settings)
    synced = {settings.gitops.stack_path: STACK_DIR, settings.gitops.config_path: CONFIG_DIR} if settings.gitops else {}
    return {
        object_key(manifest)
        for kustomization in run.of_type(KUSTOMIZATION)
        for manifest in tree[synced[kustomization.inputs["spec"]["path"]]]
    }


def test_gitops_creates_namespace_secret_source_and_two_kustomizations(staging_gitops):
    kubernetes = {(r.type, r.name) for r in staging_gitops.resources if r.type.startswith("kubernetes:")}
    # Pulumi keeps the Secrets (Grafana admin, Alertmanager configuration, Flux's Grafana credentials);
    # Flux syncs the Providers and Alerts with the rest.
    assert kubernetes == {
        (NAMESPACE, "namespace"),
        (SECRET, "grafana-admin"),
        (SECRET, "alertmanager-config"),
        (SECRET, "flux-grafana-credentials"),
        (GIT_REPOSITORY, "monitoring"),
        (KUSTOMIZATION, "monitoring-stack"),
        (KUSTOMIZATION, "monitoring-config"),
    }


def test_gitops_creates_no_helm_release_signals_or_dashboards(staging_gitops):
    types = {r.type for r in staging_gitops.resources}
    assert not {t for t in types if "helm" in t or "monitoring.coreos.com" in t or t.endswith(":ConfigMap")}
    assert not {t for t in types if t.startswith(("flux-monitoring:flux_signals", "flux-monitoring:kube_prometheus"))}


def test_git_repository_is_the_configured_source_in_the_flux_namespace(staging_gitops):
    source = staging_gitops.one(GIT_REPOSITORY).inputs
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert source["metadata"]["namespace"] == "flux-system"
    assert source["spec"] == {"interval": "30m", "url": GUIDE_URL, "ref": {"tag": GUIDE_TAG}}


def test_private_repository_uses_the_configured_secret_ref():
    run = run_mode(
        "staging",
        "gitops",
        {
            "flux-monitoring:gitops": json.dumps(
                {"url": "ssh://git@github.com/acme/monitoring", "commit": "a" * 40, "secretRef": "monitoring-git-auth"}
            )
        },
    )
    assert spec(run, GIT_REPOSITORY)["secretRef"] == {"name": "monitoring-git-auth"}
    assert spec(run, GIT_REPOSITORY)["ref"] == {"commit": "a" * 40}


def test_stack_kustomization_prunes_the_stack_path_and_checks_the_helm_release(staging_gitops):
    stack = spec(staging_gitops, KUSTOMIZATION, "monitoring-stack")
    assert (stack["interval"], stack["prune"]) == ("1h", True)
    assert stack["path"] == "./manifests/monitoring/kube-prometheus-stack"
    assert stack["sourceRef"] == {"kind": "GitRepository", "name": "monitoring"}
    # The HelmRelease, not its Deployments: after a rolled-back upgrade the old Deployments are
    # healthy while the HelmRelease is not Ready. Then the Prometheus and Alertmanager the operator starts.
    assert stack["healthChecks"] == [
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "name": "kube-prometheus-stack",
            "namespace": "monitoring",
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "name": "kube-prometheus-stack-prometheus",
            "namespace": "monitoring",
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Alertmanager",
            "name": "kube-prometheus-stack-alertmanager",
            "namespace": "monitoring",
        },
    ]


def test_the_health_checked_helm_release_is_the_rendered_one(staging_gitops):
    settings = settings_of("staging", "gitops")
    check = spec(staging_gitops, KUSTOMIZATION, "monitoring-stack")["healthChecks"][0]
    release = helm_release(settings)
    assert (check["apiVersion"], check["kind"], check["name"], check["namespace"]) == (
        release["apiVersion"],
        release["kind"],
        release["metadata"]["name"],
        release["metadata"]["namespace"],
    )
    assert release in rendered_tree(settings)[STACK_DIR]


def test_stack_kustomization_outlasts_one_helm_install_or_upgrade(staging_gitops):
    stack = spec(staging_gitops, KUSTOMIZATION, "monitoring-stack")
    release_timeout = duration_seconds(helm_release(settings_of("staging", "gitops"))["spec"]["timeout"])
    # A first install that takes the whole Helm timeout must not fail the health check.
    assert duration_seconds(stack["timeout"]) > release_timeout
    assert stack["timeout"] == "20m"


@pytest.mark.parametrize("name", ["monitoring-stack", "monitoring-config"])
def test_a_failed_kustomization_is_retried_within_minutes_not_after_its_interval(staging_gitops, name):
    kustomization = spec(staging_gitops, KUSTOMIZATION, name)
    assert duration_seconds(kustomization["retryInterval"]) <= 300 < duration_seconds(kustomization["interval"])


def test_helm_release_corrects_drift_of_its_objects_except_the_operator_validation_mark():
    release = helm_release(settings_of("prod", "gitops"))["spec"]
    assert release["driftDetection"] == {
        "mode": "enabled",
        "ignore": [
            {"paths": ["/metadata/annotations/prometheus-operator-validated"], "target": {"kind": "PrometheusRule"}}
        ],
    }


def test_config_kustomization_prunes_the_config_path_after_the_stack(staging_gitops):
    config = spec(staging_gitops, KUSTOMIZATION, "monitoring-config")
    assert (config["interval"], config["prune"]) == ("1h", True)
    assert config["path"] == "./manifests/monitoring/monitoring-config"
    assert config["dependsOn"] == [{"name": "monitoring-stack"}]


def test_configured_paths_interval_and_timeout_reach_the_flux_objects():
    run = run_mode(
        "staging",
        "gitops",
        {
            "flux-monitoring:gitops": json.dumps(
                {
                    "url": GUIDE_URL,
                    "branch": "main",
                    "interval": "5m",
                    "timeout": "30m",
                    "stackPath": "./clusters/prod/stack",
                    "configPath": "./clusters/prod/config",
                }
            )
        },
    )
    assert spec(run, GIT_REPOSITORY)["interval"] == "5m"
    assert {k.name: (k.inputs["spec"]["path"], k.inputs["spec"]["timeout"]) for k in run.of_type(KUSTOMIZATION)} == {
        "monitoring-stack": ("./clusters/prod/stack", "30m"),
        "monitoring-config": ("./clusters/prod/config", "30m"),
    }


def test_a_timeout_shorter_than_a_helm_install_applies_to_the_config_only(staging_gitops):
    timeouts = {k.name: k.inputs["spec"]["timeout"] for k in staging_gitops.of_type(KUSTOMIZATION)}
    assert settings_of("staging", "gitops").gitops.timeout == "10m"
    assert timeouts == {"monitoring-stack": "20m", "monitoring-config": "10m"}


def test_registered_flux_objects_are_the_rendered_ones_plus_await_annotations(staging_gitops):
    # Registration order is not deterministic: compare by name.
    flux = staging_gitops.of_type(GIT_REPOSITORY) + staging_gitops.of_type(KUSTOMIZATION)
    without_annotations = {
        r.name: {**r.inputs, "metadata": {k: v for k, v in r.inputs["metadata"].items() if k != "annotations"}}
        for r in flux
    }
    rendered = flux_sync_manifests(settings_of("staging", "gitops"))
    assert without_annotations == {m["metadata"]["name"]: m for m in rendered}


def test_kustomizations_are_created_after_their_source_namespace_and_secrets(staging_gitops):
    needed = {staging_gitops.one(t).urn for t in (GIT_REPOSITORY, NAMESPACE)}
    needed |= {r.urn for r in staging_gitops.of_type(SECRET)}
    for kustomization in staging_gitops.of_type(KUSTOMIZATION):
        assert needed <= set(kustomization.dependencies), kustomization.name


@pytest.mark.parametrize(
    "type_, name", [(GIT_REPOSITORY, None), (KUSTOMIZATION, "monitoring-stack"), (KUSTOMIZATION, "monitoring-config")]
)
def test_pulumi_up_waits_for_ready_with_a_bounded_timeout(staging_gitops, type_, name):
    awaited = annotations(staging_gitops, type_, name)
    assert awaited[WAIT_FOR] == "condition=Ready"
    assert 60 <= int(awaited[TIMEOUT]) <= 3600


def test_await_outlasts_flux_own_timeouts(staging_gitops):
    stack_timeout = duration_seconds(spec(staging_gitops, KUSTOMIZATION, "monitoring-stack")["timeout"])
    config_timeout = duration_seconds(spec(staging_gitops, KUSTOMIZATION, "monitoring-config")["timeout"])
    stack = int(annotations(staging_gitops, KUSTOMIZATION, "monitoring-stack")[TIMEOUT])
    config = int(annotations(staging_gitops, KUSTOMIZATION, "monitoring-config")[TIMEOUT])
    # The config waits for the stack, then applies: both Flux timeouts.
    assert stack_timeout < stack < stack_timeout + config_timeout < config


def test_prod_protects_the_flux_objects_from_deletion():
    run = run_mode("prod", "gitops")
    assert all(r.protect for r in run.of_type(KUSTOMIZATION) + run.of_type(GIT_REPOSITORY))


@pytest.mark.parametrize("mode, stack", MODES_AND_STACKS)
def test_no_object_is_owned_by_both_pulumi_and_flux(mode, stack):
    run = run_mode(stack, mode)
    pulumi_owned = {object_key(m) for m in kubernetes_objects(run)}
    flux = flux_owned(run, stack, mode)
    assert pulumi_owned and (flux if mode == "gitops" else not flux)
    assert pulumi_owned & flux == set()


@pytest.mark.parametrize(
    "duration, seconds", [("10m", 600), ("1h30m", 5400), ("1.5h", 5400), ("90s", 90), ("1m500ms", 60)]
)
def test_flux_durations_convert_to_await_seconds(duration, seconds):
    assert duration_seconds(duration) == seconds
