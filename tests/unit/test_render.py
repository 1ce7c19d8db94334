"""The offline render: the tree gitops delivery syncs, written from a stack's files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flux_monitoring.manifests.gitops import flux_sync_manifests
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values
from render import ROOT, offline_settings
from tests.conftest import PROD_PASSWORD
from tests.support.gitops_stacks import GITOPS_CONFIG, STACKS, password
from tests.support.pulumi_harness import stack_settings

# A secret as `pulumi config set --secret` leaves it in a stack file.
CIPHERTEXT = "v1:c2VjcmV0LWNpcGhlcnRleHQtZm9yLXRlc3Rz"


def render(out: Path, stack: str, project: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "render.py"), "--stack", stack, "--out", str(out), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def project_with(tmp_path: Path, stack: str, extra: dict) -> Path:
    """A copy of this project with one more stack: staging's config plus ``extra``."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.staging.yaml").read_text())["config"]
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": {**config, **extra}}))
    return project


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def documents(directory: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yaml")) if p.name != "kustomization.yaml"]


def kind_and_name(manifest: dict) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


def kustomize(directory: Path) -> list[dict]:
    if shutil.which("kubectl") is None and os.environ.get("CI") != "true":
        pytest.skip("kubectl is not installed")
    built = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    return list(yaml.safe_load_all(built.stdout))


@pytest.fixture(scope="module")
def gitops_project(tmp_path_factory) -> Path:
    return project_with(
        tmp_path_factory.mktemp("gitops"),
        "gitops",
        {"flux-monitoring:delivery": "gitops", "flux-monitoring:gitops": GITOPS_CONFIG},
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, gitops_project) -> dict[str, Path]:
    """Each shipped stack and a gitops stack, rendered once."""
    outputs = {}
    for stack, project in [*((s, ROOT) for s in STACKS), ("gitops", gitops_project)]:
        out = tmp_path_factory.mktemp(stack)
        assert render(out, stack, project).returncode == 0
        outputs[stack] = out
    return outputs


def test_render_writes_the_stack_and_config_trees(rendered):
    assert set(files(rendered["prod"])) == {
        "kube-prometheus-stack/kustomization.yaml",
        "kube-prometheus-stack/namespace-monitoring.yaml",
        "kube-prometheus-stack/namespace-node-exporter.yaml",
        "kube-prometheus-stack/role-kube-prometheus-stack-grafana-sidecar.yaml",
        "kube-prometheus-stack/helmrepository-prometheus-community.yaml",
        "kube-prometheus-stack/helmrelease-kube-prometheus-stack.yaml",
        "monitoring-config/kustomization.yaml",
        "monitoring-config/podmonitor-flux-system.yaml",
        "monitoring-config/configmap-flux-control-plane.yaml",
        "monitoring-config/configmap-flux-cluster.yaml",
        "monitoring-config/prometheusrule-flux-monitoring.yaml",
        "monitoring-config/provider-flux-monitoring-grafana.yaml",
        "monitoring-config/alert-flux-monitoring-grafana.yaml",
        "monitoring-config/provider-flux-monitoring-alertmanager.yaml",
        "monitoring-config/alert-flux-monitoring-alertmanager.yaml",
    }


@pytest.mark.parametrize("stack", [*STACKS, "gitops"])
def test_every_directory_builds_with_kubectl_kustomize_into_the_rendered_objects(rendered, stack):
    for directory in sorted(p for p in rendered[stack].iterdir() if p.is_dir()):
        assert sorted(kustomize(directory), key=kind_and_name) == sorted(documents(directory), key=kind_and_name)


@pytest.mark.parametrize("stack", STACKS)
def test_helm_release_values_are_exactly_the_direct_mode_values(rendered, stack):
    release = yaml.safe_load(
        (rendered[stack] / "kube-prometheus-stack/helmrelease-kube-prometheus-stack.yaml").read_text()
    )
    assert release["spec"]["values"] == kube_prometheus_stack_values(stack_settings(stack, password(stack)))


def test_rerendering_an_unchanged_stack_is_byte_identical(rendered, tmp_path):
    assert render(tmp_path, "prod").returncode == 0
    assert files(tmp_path) == files(rendered["prod"])
    assert render(tmp_path, "prod").returncode == 0
    assert files(tmp_path) == files(rendered["prod"])


def test_rerender_replaces_its_own_stale_files_and_keeps_others(tmp_path):
    assert render(tmp_path, "prod").returncode == 0
    stale = tmp_path / "monitoring-config" / "configmap-removed-dashboard.yaml"
    stale.write_text((tmp_path / "monitoring-config" / "configmap-flux-cluster.yaml").read_text())
    own = tmp_path / "monitoring-config" / "notes.yaml"
    own.write_text("# kept\n")
    assert render(tmp_path, "prod").returncode == 0
    assert not stale.exists() and own.exists()


def test_gitops_stack_leaves_the_namespace_to_pulumi_and_adds_the_flux_objects(rendered, gitops_project):
    out = rendered["gitops"]
    # node-exporter's namespace and Grafana's Role hold no Secret: Flux owns them.
    assert [(d["kind"], d["metadata"]["name"]) for d in documents(out / "kube-prometheus-stack")] == [
        ("HelmRelease", "kube-prometheus-stack"),
        ("HelmRepository", "prometheus-community"),
        ("Namespace", "node-exporter"),
        ("Role", "kube-prometheus-stack-grafana-sidecar"),
    ]
    settings = offline_settings("gitops", gitops_project)
    assert sorted(documents(out / "flux"), key=kind_and_name) == sorted(
        flux_sync_manifests(settings), key=kind_and_name
    )


def test_direct_stack_renders_the_namespace_and_no_flux_objects(rendered):
    assert "Namespace" in [d["kind"] for d in documents(rendered["staging"] / "kube-prometheus-stack")]
    assert not (rendered["staging"] / "flux").exists()


def test_no_secret_reaches_any_rendered_file(tmp_path):
    project = project_with(
        tmp_path,
        "secret",
        {
            "flux-monitoring:grafanaAdminPassword": {"secure": CIPHERTEXT},
            "flux-monitoring:requireGrafanaAdminPassword": True,
        },
    )
    out = tmp_path / "out"
    assert render(out, "secret", project).returncode == 0
    texts = [content.decode() for content in files(out).values()]
    assert not any(CIPHERTEXT in t or PROD_PASSWORD in t for t in texts)
    # No Secret object either (the HelmRelease only names the one Pulumi creates, in valuesFrom).
    kinds = [d["kind"] for path in files(out) for d in yaml.safe_load_all((out / path).read_text())]
    assert kinds and "Secret" not in kinds


def test_prod_renders_without_the_password_it_requires(rendered):
    # The render has no secret to read: the HelmRelease names the Secret that Pulumi creates.
    assert offline_settings("prod").grafana_admin_password is None
    release = yaml.safe_load(
        (rendered["prod"] / "kube-prometheus-stack/helmrelease-kube-prometheus-stack.yaml").read_text()
    )
    assert release["spec"]["values"]["grafana"]["admin"]["existingSecret"] == "grafana-admin"


def test_unknown_stack_exits_non_zero_naming_the_known_stacks(tmp_path):
    result = render(tmp_path, "nope")
    assert result.returncode == 1
    assert "stack 'nope'" in result.stderr and "stacks: dev, prod, spoke, staging" in result.stderr
    assert not any(tmp_path.iterdir())


def test_invalid_config_exits_non_zero_listing_the_problem(tmp_path):
    project = project_with(tmp_path, "bad", {"flux-monitoring:prometheus": {"retention": "forever"}})
    result = render(tmp_path / "out", "bad", project)
    assert result.returncode == 1
    assert 'prometheus.retention: got "forever"' in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_plain_text_password_in_the_stack_file_is_rejected(tmp_path):
    project = project_with(tmp_path, "plain", {"flux-monitoring:grafanaAdminPassword": PROD_PASSWORD})
    result = render(tmp_path / "out", "plain", project)
    assert result.returncode == 1
    assert "grafanaAdminPassword: got [secret]" in result.stderr and PROD_PASSWORD not in result.stderr


def test_a_secret_inside_an_object_fails_naming_its_path_without_the_ciphertext(tmp_path):
    # `pulumi config set --path --secret gitops.url ...` leaves the ciphertext inside the object.
    gitops = {**GITOPS_CONFIG, "url": {"secure": CIPHERTEXT}}
    project = project_with(tmp_path, "nested", {"flux-monitoring:delivery": "gitops", "flux-monitoring:gitops": gitops})
    result = render(tmp_path / "out", "nested", project)
    assert result.returncode == 1
    assert "gitops.url: encrypted; the render writes no secrets" in result.stderr
    assert CIPHERTEXT not in result.stderr and not (tmp_path / "out").exists()
