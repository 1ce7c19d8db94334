"""A first `pulumi up` on a cluster that followed the Flux guide: adopting the objects the program creates
is an explicit opt-in, and a kube-prometheus-stack someone else installed stops everything first."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
from pathlib import Path

import pytest

from flux_monitoring.manifests.migration import ExistingRelease, decode_helm_release, release_conflict
from flux_monitoring.resources.preflight import ExistingReleaseError
from tests.conftest import run_stack
from tests.support.gitops_stacks import settings_of
from tests.support.pulumi_harness import ProgramRun

PROVIDER = "pulumi:providers:kubernetes"
ADOPT = {"flux-monitoring:adoptExistingObjects": "true"}


def helm_storage_release(version: int, values: dict, chart_version: str = "69.8.2") -> str:
    """A Helm storage Secret's data.release as the API returns it: base64 of Helm's base64 of gzipped JSON
    (helm/helm pkg/storage/driver/util.go encodeRelease; the Secret driver stores it under "release")."""
    release = {"name": "kube-prometheus-stack", "version": version, "config": values}
    release["chart"] = {"metadata": {"name": "kube-prometheus-stack", "version": chart_version}}
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(helm_encoded).decode()


# The Flux guide's values (fluxcd/flux2-monitoring-example monitoring/controllers/kube-prometheus-stack/release.yaml).
GUIDE_VALUES = {"alertmanager": {"enabled": False}, "grafana": {"defaultDashboardsEnabled": False}}
OUR_VALUES = {"grafana": {"podAnnotations": {"checksum/grafana-admin": "hmac-sha256:00"}}}


def test_a_helm_storage_secret_decodes_to_its_release():
    release = decode_helm_release(helm_storage_release(3, GUIDE_VALUES))
    assert (release["version"], release["config"]) == (3, GUIDE_VALUES)


def test_a_flux_helm_release_of_the_name_stops_direct_delivery_naming_it_and_the_ways_out():
    problem = release_conflict(settings_of("staging", "direct"), ExistingRelease(True, ()))
    assert problem.startswith("a Flux HelmRelease monitoring/kube-prometheus-stack exists")
    assert "Nothing was changed" in problem and "delivery: gitops" in problem and "docs/migration.md" in problem


def test_a_helm_release_this_program_did_not_install_stops_direct_delivery():
    revisions = (decode_helm_release(helm_storage_release(2, GUIDE_VALUES)),)
    problem = release_conflict(settings_of("staging", "direct"), ExistingRelease(False, revisions))
    assert "Helm release monitoring/kube-prometheus-stack exists that this program did not install" in problem
    assert "revision 2, chart 69.8.2" in problem and "helm uninstall kube-prometheus-stack -n monitoring" in problem


def test_the_programs_own_release_is_no_conflict():
    revisions = tuple(decode_helm_release(helm_storage_release(n, OUR_VALUES, "88.5.3")) for n in (1, 2))
    assert release_conflict(settings_of("staging", "direct"), ExistingRelease(False, revisions)) is None


def test_gitops_delivery_takes_the_guides_release_over_in_place():
    revisions = (decode_helm_release(helm_storage_release(2, GUIDE_VALUES)),)
    assert release_conflict(settings_of("staging", "gitops"), ExistingRelease(True, revisions)) is None


# -- the program, with a kubectl that answers as a cluster would ------------------------------------


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """A fake kubectl first on PATH; ``cluster(flux=..., releases=[...])`` sets what it reports; calls logged."""
    log = tmp_path / "calls"

    def answer(flux: bool = False, releases: tuple[str, ...] = ()) -> Path:
        secrets = {"items": [{"data": {"release": release}} for release in releases]}
        helm_release = "echo helmrelease.helm.toolkit.fluxcd.io/kube-prometheus-stack" if flux else "true"
        script = tmp_path / "kubectl"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> {log}\n'
            'case "$*" in\n'
            f"  *secrets*) echo '{json.dumps(secrets)}' ;;\n"
            f"  *helmreleases*) {helm_release} ;;\n"
            "esac\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        return log

    return answer


def test_adoption_is_off_by_default_and_the_cluster_is_not_asked(cluster):
    log = cluster(flux=True)
    run = run_stack("staging")
    assert run.one(PROVIDER, "cluster").inputs.get("upsertExistingObjects") in (None, False, "false")
    assert not log.exists()


def test_with_adoption_the_provider_updates_existing_objects_instead_of_failing(cluster):
    cluster()
    run = run_stack("staging", ADOPT)
    assert run.one(PROVIDER, "cluster").inputs["upsertExistingObjects"] in (True, "true")


def test_with_adoption_the_guides_helm_release_stops_everything_before_any_resource(cluster):
    log = cluster(flux=True, releases=(helm_storage_release(1, GUIDE_VALUES),))
    run = ProgramRun()
    with pytest.raises(ExistingReleaseError, match="Flux HelmRelease monitoring/kube-prometheus-stack"):
        run_stack("staging", ADOPT, run=run)
    assert run.resources == []
    # On the stack's own context, in the monitoring namespace.
    assert all("--context staging --namespace monitoring" in call for call in log.read_text().splitlines())


def test_with_adoption_a_helm_installed_release_stops_everything_before_any_resource(cluster):
    cluster(releases=(helm_storage_release(4, GUIDE_VALUES),))
    run = ProgramRun()
    with pytest.raises(ExistingReleaseError, match="revision 4"):
        run_stack("staging", ADOPT, run=run)
    assert run.resources == []


def test_with_adoption_the_programs_own_release_goes_on(cluster):
    cluster(releases=(helm_storage_release(1, OUR_VALUES, "88.5.3"),))
    assert run_stack("staging", ADOPT).of_type("kubernetes:helm.sh/v3:Release")
