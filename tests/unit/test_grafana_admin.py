"""Rotating the Grafana admin credentials takes effect: Grafana applies the Secret's password on every
start of an existing database, and a new password restarts it. Nothing shows the password."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from flux_monitoring.manifests.gitops import helm_release
from flux_monitoring.manifests.helm_values import GRAFANA_DATABASE, kube_prometheus_stack_values
from flux_monitoring.resources.grafana_admin import admin_checksum
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.gitops_stacks import run_mode, settings_of
from tests.support.pulumi_harness import ProgramRun, stack_settings

SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROTATED = "An0ther-S3cret-after-rotation"
KEY = bytes(range(32)).hex()


def pod_annotations(run: ProgramRun) -> dict[str, str]:
    return run.one(RELEASE).inputs["values"]["grafana"]["podAnnotations"]


def reset_container(values: dict) -> dict:
    [container] = values["grafana"]["extraInitContainers"]
    return container


# -- the checksum that restarts Grafana ------------------------------------------------------------


def test_the_checksum_changes_with_the_password_and_the_user_and_is_stable_otherwise():
    checksum = admin_checksum(KEY, "admin", PROD_PASSWORD)
    assert checksum == admin_checksum(KEY, "admin", PROD_PASSWORD)
    assert checksum != admin_checksum(KEY, "admin", ROTATED)
    assert checksum != admin_checksum(KEY, "ops", PROD_PASSWORD)


def test_the_checksum_is_keyed_not_a_plain_hash_of_the_password():
    checksum = admin_checksum(KEY, "admin", PROD_PASSWORD)
    assert checksum != admin_checksum(bytes(32).hex(), "admin", PROD_PASSWORD)  # depends on the secret key
    plain = [
        hashlib.new(name, text.encode()).hexdigest()
        for name in ("md5", "sha1", "sha256", "sha512")
        for text in (PROD_PASSWORD, f"admin\0{PROD_PASSWORD}", f"admin{PROD_PASSWORD}")
    ]
    assert not any(digest in checksum for digest in plain)
    assert PROD_PASSWORD not in checksum


def test_a_rotated_password_changes_grafanas_pod_template_so_helm_rolls_it():
    before = run_stack("prod", password=PROD_PASSWORD)
    after = run_stack("prod", password=ROTATED)
    assert pod_annotations(before)["checksum/grafana-admin"] != pod_annotations(after)["checksum/grafana-admin"]


def test_an_unchanged_password_leaves_the_pod_template_alone():
    first, second = run_stack("prod", password=PROD_PASSWORD), run_stack("prod", password=PROD_PASSWORD)
    assert pod_annotations(first) == pod_annotations(second)


def test_the_checksum_key_is_random_and_kept_in_the_state():
    run = run_stack("prod", password=PROD_PASSWORD)
    key = run.one("random:index/randomBytes:RandomBytes").inputs
    assert key["length"] >= 32 and "keepers" not in key  # never replaced: the checksum stays put
    secret = run.one(SECRET, "grafana-admin").inputs["stringData"]
    assert pod_annotations(run)["checksum/grafana-admin"] == secret["admin-checksum"]


def test_gitops_takes_the_same_checksum_from_the_secret_and_flux_watches_it():
    run = run_mode("prod", "gitops")
    secret = run.one(SECRET, "grafana-admin").inputs
    assert secret["metadata"]["labels"]["reconcile.fluxcd.io/watch"] == "Enabled"
    assert secret["stringData"]["admin-checksum"].startswith("hmac-sha256:")
    [checksum] = helm_release(settings_of("prod", "gitops"))["spec"]["valuesFrom"]
    assert checksum == {
        "kind": "Secret",
        "name": "grafana-admin",
        "valuesKey": "admin-checksum",
        "targetPath": "grafana.podAnnotations.checksum/grafana-admin",
    }
    # The same place in the values as direct delivery's annotation.
    direct = run_stack("prod", password=PROD_PASSWORD).one(RELEASE).inputs["values"]
    node = direct
    for key in checksum["targetPath"].split("."):
        node = node[key]
    assert node.startswith("hmac-sha256:")


def test_direct_delivery_labels_no_secret_for_flux():
    labels = run_stack("prod", password=PROD_PASSWORD).one(SECRET, "grafana-admin").inputs["metadata"]["labels"]
    assert "reconcile.fluxcd.io/watch" not in labels


# -- the init container that applies the password ---------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_grafana_resets_the_admin_password_from_the_secret_before_it_starts(stack):
    container = reset_container(kube_prometheus_stack_values(stack_settings(stack, PROD_PASSWORD)))
    assert container["env"] == [
        {
            "name": "GF_SECURITY_ADMIN_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "grafana-admin", "key": "admin-password"}},
        }
    ]
    script = container["command"][-1]
    assert "reset-admin-password --password-from-stdin" in script
    assert PROD_PASSWORD not in json.dumps(container)


def test_the_init_container_runs_grafanas_image_on_grafanas_config_and_database():
    container = reset_container(kube_prometheus_stack_values(stack_settings("prod", PROD_PASSWORD)))
    # The chart's Grafana container image expression, rendered by the chart's tpl.
    assert container["image"] == (
        "{{ .Values.global.imageRegistry | default .Values.image.registry }}/"
        "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
    )
    assert container["volumeMounts"] == [
        {"name": "config", "mountPath": "/etc/grafana/grafana.ini", "subPath": "grafana.ini"},
        {"name": "storage", "mountPath": "/var/lib/grafana"},
        {"name": "search", "mountPath": "/var/lib/grafana-search"},
    ]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_grafana_paths_data_is_where_the_init_container_looks_for_the_database(shared_upstream):
    import yaml

    defaults = yaml.safe_load((shared_upstream / "charts" / "grafana-12.11.1.values.yaml").read_text())
    assert defaults["grafana.ini"]["paths"]["data"].rstrip("/") == str(Path(GRAFANA_DATABASE).parent)
    assert defaults["grafana.ini"]["unified_storage"]["index_path"].startswith("/var/lib/grafana-search/")
    assert defaults["extraInitContainers"] == []  # nothing of the chart's own is replaced


# The script itself, run by sh against a stand-in `grafana` that records what it is given.
FAKE_GRAFANA = """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD.args"
cat > "$RECORD.stdin"
exit "${FAKE_EXIT:-0}"
"""


@pytest.fixture
def reset_script(tmp_path):
    """Runs the init container's script with the database at a temporary path; returns a runner."""
    container = reset_container(kube_prometheus_stack_values(stack_settings("prod", PROD_PASSWORD)))
    database = tmp_path / "grafana.db"
    script = container["command"][-1].replace(GRAFANA_DATABASE, str(database))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "grafana"
    fake.write_text(FAKE_GRAFANA)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "record"

    def run(**env: str) -> subprocess.CompletedProcess:
        environment = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "RECORD": str(record),
            "GF_SECURITY_ADMIN_PASSWORD": PROD_PASSWORD,
            **env,
        }
        return subprocess.run(
            [*container["command"][:-1], script], env=environment, capture_output=True, text=True, timeout=30
        )

    return run, database, record


def test_on_a_first_start_the_script_leaves_the_password_to_grafana(reset_script):
    run, _, record = reset_script
    done = run()
    assert done.returncode == 0 and not Path(f"{record}.args").exists()
    assert PROD_PASSWORD not in done.stdout + done.stderr


def test_on_an_existing_database_the_password_goes_to_the_cli_on_stdin_only(reset_script):
    run, database, record = reset_script
    database.write_bytes(b"SQLite format 3\0")
    done = run()
    assert done.returncode == 0, done.stderr
    args = Path(f"{record}.args").read_text().split("\n")
    assert args[:5] == ["cli", "--homepath", "/usr/share/grafana", "--config", "/etc/grafana/grafana.ini"]
    assert args[5:8] == ["admin", "reset-admin-password", "--password-from-stdin"]
    assert PROD_PASSWORD not in "\n".join(args)
    assert Path(f"{record}.stdin").read_text() == PROD_PASSWORD + "\n"
    assert PROD_PASSWORD not in done.stdout + done.stderr


def test_a_failed_reset_fails_the_pod_start_instead_of_serving_a_stale_password(reset_script):
    run, database, _ = reset_script
    database.write_bytes(b"SQLite format 3\0")
    assert run(FAKE_EXIT="1").returncode != 0
