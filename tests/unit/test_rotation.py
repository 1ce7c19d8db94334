"""Every credential the program hands Grafana takes effect on `pulumi up`, in both deliveries and on every
supported Flux release: what changes in the registered resources when one is rotated."""

from __future__ import annotations

import json

import pytest

from flux_monitoring.flux.release import MINORS, WATCHED_VALUES_SINCE, flux_release, minor_key
from tests.conftest import run_stack
from tests.support.gitops_stacks import GITOPS_OVERRIDES
from tests.support.pulumi_harness import ProgramRun

SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_RELEASE_PATCH = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmReleasePatch"


def helm_release_patch(minor: str) -> str:
    """The patch's type: the HelmRelease at the version Flux ``minor`` serves (v2beta1 on 2.0 and 2.1)."""
    return f"kubernetes:{flux_release(minor).api_version('HelmRelease')}:HelmReleasePatch"


KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
GRAFANA_KEY = "flux-monitoring:grafana"
WATCH_LABEL = "reconcile.fluxcd.io/watch"


def datasource(**credential) -> dict[str, str]:
    """The staging stack with a fleet data source holding ``credential`` (as a secret key)."""
    source = {"name": "fleet", "url": "https://mimir.example.com/prometheus", **credential}
    return {GRAFANA_KEY: json.dumps({"datasources": [source]})}


BASIC = {"basicAuth": {"username": "reader", "password": "ds-password-before-1a2b"}}
BASIC_ROTATED = {"basicAuth": {"username": "reader", "password": "ds-password-after-3c4d"}}
TOKEN = {"bearerToken": "ds-token-before-5e6f"}
TOKEN_ROTATED = {"bearerToken": "ds-token-after-7a8b"}


def run(credential: dict, mode: str = "direct", flux: str | None = None) -> ProgramRun:
    overrides = {**datasource(**credential), **(GITOPS_OVERRIDES if mode == "gitops" else {})}
    if flux:
        overrides["flux-monitoring:fluxVersion"] = flux
    return run_stack("staging", overrides, secret=(GRAFANA_KEY,))


def grafana_roll(run_: ProgramRun) -> str:
    """What rolls Grafana's pod in direct delivery: the checksum on its pod template."""
    return run_.one(RELEASE).inputs["values"]["grafana"]["podAnnotations"]["checksum/grafana-admin"]


def checksum_secret(run_: ProgramRun) -> dict:
    return run_.one(SECRET, "grafana-admin").inputs


@pytest.mark.parametrize(("before", "after"), [(BASIC, BASIC_ROTATED), (TOKEN, TOKEN_ROTATED)], ids=["basic", "bearer"])
def test_a_rotated_data_source_credential_rolls_grafana_in_direct_delivery(before, after):
    assert grafana_roll(run(before)) != grafana_roll(run(after))


def test_an_unchanged_data_source_credential_leaves_grafana_alone():
    assert grafana_roll(run(BASIC)) == grafana_roll(run(BASIC))


def test_no_data_source_credential_in_the_release_values_only_its_keyed_checksum():
    values = json.dumps(run(BASIC).one(RELEASE).inputs["values"])
    assert "ds-password-before-1a2b" not in values


def test_the_checksum_secret_is_updated_after_the_data_source_credentials_it_covers():
    run_ = run(BASIC)
    credentials = run_.one(SECRET, "grafana-datasource-credentials")
    assert credentials.urn in run_.one(SECRET, "grafana-admin").dependencies


@pytest.mark.parametrize(("before", "after"), [(BASIC, BASIC_ROTATED), (TOKEN, TOKEN_ROTATED)], ids=["basic", "bearer"])
def test_a_rotated_data_source_credential_changes_the_checksum_the_helm_release_reads_in_gitops(before, after):
    first, second = run(before, "gitops"), run(after, "gitops")
    key = "admin-checksum"
    assert checksum_secret(first)["stringData"][key] != checksum_secret(second)["stringData"][key]


@pytest.mark.parametrize("minor", [m for m in MINORS if minor_key(m) >= minor_key(WATCHED_VALUES_SINCE)])
def test_from_flux_2_7_helm_controller_watches_the_labelled_secret_and_nothing_is_patched(minor):
    run_ = run(BASIC, "gitops", minor)
    assert checksum_secret(run_)["metadata"]["labels"][WATCH_LABEL] == "Enabled"
    assert run_.of_type(HELM_RELEASE_PATCH) == []


@pytest.mark.parametrize("minor", [m for m in MINORS if minor_key(m) < minor_key(WATCHED_VALUES_SINCE)])
def test_before_flux_2_7_pulumi_requests_a_reconcile_of_the_helm_release_carrying_the_checksum(minor):
    run_ = run(BASIC, "gitops", minor)
    patch = run_.one(helm_release_patch(minor), "kube-prometheus-stack-reconcile-request")
    metadata = patch.inputs["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("kube-prometheus-stack", "monitoring")
    assert metadata["annotations"] == {
        "reconcile.fluxcd.io/requestedAt": checksum_secret(run_)["stringData"]["admin-checksum"]
    }


def test_the_requested_reconcile_changes_with_the_credential_and_only_with_it():
    def requested(credential: dict) -> str:
        patch = run(credential, "gitops", "2.6").one(HELM_RELEASE_PATCH)
        return patch.inputs["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]

    assert requested(BASIC) == requested(BASIC) != requested(BASIC_ROTATED)


def test_the_reconcile_is_requested_after_the_helm_release_exists_and_the_secrets_hold_the_new_values():
    run_ = run(BASIC, "gitops", "2.6")
    dependencies = run_.one(HELM_RELEASE_PATCH).dependencies
    stack = next(r for r in run_.of_type(KUSTOMIZATION) if r.name == "monitoring-stack")
    assert {stack.urn, run_.one(SECRET, "grafana-admin").urn} <= set(dependencies)
