"""Safe lifecycle: protection, explicit ordering, deterministic inputs and chart upgrades."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.pulumi_harness import ProgramRun
from tests.support.schemas import is_patch

NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
RELEASE = "kubernetes:helm.sh/v3:Release"
GITOPS = {
    "flux-monitoring:delivery": "gitops",
    "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", "tag": "v1.0.0"}),
}


def _run(stack: str, overrides: dict[str, str] | None = None) -> ProgramRun:
    return run_stack(stack, overrides, password=PROD_PASSWORD if stack == "prod" else None)


def _flux(run: ProgramRun, kind: str) -> list:
    return [
        r
        for r in run.resources
        if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}") and "toolkit.fluxcd.io" in r.type
    ]


def _operator_custom_resources(run: ProgramRun) -> list:
    """The operator's custom resources the program creates (not the patches that await the chart's)."""
    return [r for r in run.resources if r.type.startswith("kubernetes:monitoring.coreos.com/") and not is_patch(r.type)]


# -- protect -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_protect_config_protects_the_namespace_and_the_release(stack):
    run = _run(stack, {"flux-monitoring:protect": "true"})
    assert all(n.protect for n in run.of_type(NAMESPACE)) and run.one(RELEASE).protect


def test_protect_config_protects_the_flux_source_and_kustomizations_in_gitops_delivery():
    run = _run("prod", GITOPS)
    flux = _flux(run, "GitRepository") + _flux(run, "Kustomization")
    assert len(flux) == 3 and all(r.protect for r in flux)
    assert run.one(NAMESPACE).protect


def test_without_protect_nothing_is_protected_so_staging_can_be_torn_down():
    run = _run("prod", {"flux-monitoring:protect": "false"})
    assert not any(r.protect for r in run.resources)


# -- explicit ordering ----------------------------------------------------------------------------------


def test_the_release_waits_for_the_secret_it_reads():
    run = _run("prod")
    assert run.one(SECRET, "grafana-admin").urn in run.one(RELEASE).dependencies


def test_the_secret_waits_for_its_namespace():
    run = _run("prod")
    assert run.one(NAMESPACE, "namespace").urn in run.one(SECRET, "grafana-admin").dependencies


def test_kustomizations_wait_for_their_git_repository_the_namespace_and_the_secret():
    run = _run("prod", GITOPS)
    [source] = _flux(run, "GitRepository")
    kustomizations = _flux(run, "Kustomization")
    assert len(kustomizations) == 2
    for kustomization in kustomizations:
        assert {source.urn, run.one(NAMESPACE).urn, run.one(SECRET, "grafana-admin").urn} <= set(
            kustomization.dependencies
        ), kustomization.name


def test_operator_custom_resources_wait_for_the_release_that_installs_their_crds():
    run = _run("prod")
    custom = _operator_custom_resources(run)
    assert {r.type.rsplit(":", 1)[1] for r in custom} == {"PodMonitor", "PrometheusRule"}
    release = run.one(RELEASE).urn
    assert all(release in r.dependencies for r in custom), [r.name for r in custom if release not in r.dependencies]


def test_dashboards_wait_for_the_release_whose_sidecar_loads_them():
    run = _run("prod")
    dashboards = [r for r in run.of_type(CONFIG_MAP) if "grafana_dashboard" in r.inputs["metadata"].get("labels", {})]
    assert len(dashboards) == 2
    assert all(run.one(RELEASE).urn in r.dependencies for r in dashboards)


# -- determinism -----------------------------------------------------------------------------------------


def _registered_bytes(run: ProgramRun) -> dict[str, str]:
    # No sort_keys: the key order the provider receives must be stable too (dashboard JSON included).
    return {
        r.urn: json.dumps(
            {
                "inputs": r.inputs,
                "secret": sorted(r.secret_inputs),
                "dependencies": sorted(r.dependencies),
                "protect": r.protect,
            }
        )
        for r in run.resources
    }


@pytest.mark.parametrize(
    "stack, overrides", [("staging", None), ("prod", None), ("prod", GITOPS)], ids=["staging", "prod", "prod-gitops"]
)
def test_evaluating_a_stack_twice_registers_byte_identical_inputs(stack, overrides):
    first, second = _registered_bytes(_run(stack, overrides)), _registered_bytes(_run(stack, overrides))
    assert list(first) and first == second


_DUMP_IN_A_FRESH_PROCESS = """
import json, sys
from tests.conftest import PROD_PASSWORD, run_stack
from tests.unit.test_lifecycle import GITOPS, _registered_bytes
from tests.support.pulumi_harness import stack_settings
from flux_monitoring.signals.dashboards import dashboard_config_maps
runs = {"staging": run_stack("staging"), "prod": run_stack("prod", password=PROD_PASSWORD),
        "prod-gitops": run_stack("prod", GITOPS, password=PROD_PASSWORD)}
dumped = {name: _registered_bytes(run) for name, run in runs.items()}
dumped["dashboards"] = {stack: json.dumps(dashboard_config_maps(stack_settings(stack, PROD_PASSWORD)))
                        for stack in ("staging", "prod")}
sys.stdout.write(json.dumps(dumped, sort_keys=True))  # registration order is async
"""


def test_inputs_and_dashboard_json_do_not_depend_on_python_hash_seeds():
    # Set and dict iteration can differ between processes: `pulumi preview` runs in a new one each time.
    # Dashboard JSON travels as a string, so its key order reaches the cluster byte for byte.
    root = Path(__file__).resolve().parents[2]

    def dump(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run(
            [sys.executable, "-c", _DUMP_IN_A_FRESH_PROCESS],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    first, second = dump("1"), dump("4242")
    assert json.loads(first)["dashboards"]["prod"] and first == second


def test_urns_are_registered_once_each():
    run = _run("prod")
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))


# -- chart upgrades --------------------------------------------------------------------------------------


def test_the_crd_bearing_release_is_set_up_for_safe_upgrades():
    release = _run("prod").one(RELEASE).inputs
    # Helm would install the chart's CRDs once and never upgrade them: they are off, Pulumi applies them
    # from prometheus-operator-crds first (tests/unit/test_operator_crds.py). The chart's preview
    # crds.upgradeJob (a busybox:latest + kubectl hook) stays off.
    assert release["values"]["crds"] == {"enabled": False}
    # A failed upgrade rolls back and cleans up instead of leaving a half-upgraded release.
    assert release["atomic"] is True and release["cleanupOnFail"] is True
    # No delete-and-recreate of resources or pods on upgrade; no hooks skipped.
    assert not release.get("forceUpdate", False)
    assert not release.get("recreatePods", False)
    assert not release.get("disableCrdHooks", False)
    assert not release.get("disableWebhooks", False)
    # The exact chart, and rollback history to go back to.
    assert release["version"] == "88.5.3"
    assert release["maxHistory"] >= 2


# -- rolling Grafana -------------------------------------------------------------------------------------


def test_prod_grafana_with_its_volume_rolls_by_recreate():
    grafana = _run("prod").one(RELEASE).inputs["values"]["grafana"]
    assert grafana["persistence"]["enabled"] is True
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}
