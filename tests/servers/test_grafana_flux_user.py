"""The container that keeps Flux's Grafana user, run as its pod spec says against Grafana's user API
on 127.0.0.1 (tests/support/grafana_api.py): what it creates and repairs, when it marks the user, what it
never does (log in during a probe, print a password, touch what is already right)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flux_monitoring.contract import FLUX_GRAFANA_USER
from flux_monitoring.manifests.grafana_flux_user import READY_FILE, flux_user_container
from tests.support.flux_fleet import free_port, stop
from tests.support.grafana_api import MAIN_ORG, GrafanaUsers, User, serve_grafana

ADMIN, ADMIN_PASSWORD = "admin", "admin-Secret-4242"
FLUX_PASSWORD = "Flux-user_Secret-1234567890abcdef"
SECRETS = {"admin-user": ADMIN, "admin-password": ADMIN_PASSWORD, "flux-annotations-password": FLUX_PASSWORD}
DEADLINE = 20


def _environment(url: str, ready_file: Path, secrets: dict[str, str]) -> dict[str, str]:
    """The container's env as the kubelet gives it: each secretKeyRef resolved, READY_FILE on a tmp dir."""
    env = {}
    for variable in flux_user_container()["env"]:
        if "valueFrom" in variable:
            env[variable["name"]] = secrets[variable["valueFrom"]["secretKeyRef"]["key"]]
        else:
            env[variable["name"]] = variable["value"]
    assert env["FLUX_GRAFANA_READY_FILE"] == READY_FILE
    return {**env, "GRAFANA_URL": url, "FLUX_GRAFANA_READY_FILE": str(ready_file), "FLUX_GRAFANA_INTERVAL": "0.2"}


@contextmanager
def keeper(url: str, tmp_path: Path, secrets: dict[str, str] = SECRETS) -> Iterator[tuple[subprocess.Popen, Path]]:
    """The container's command (``python`` being this interpreter), stopped after."""
    ready = tmp_path / "ready"
    command = [sys.executable, *flux_user_container()["command"][1:]]
    env = {"PATH": os.environ["PATH"], **_environment(url, ready, secrets)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield process, ready
    finally:
        stop(process)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        time.sleep(0.05)


def output(process: subprocess.Popen) -> str:
    process.terminate()
    return process.communicate(timeout=10)[0]


def flux_user(users: GrafanaUsers) -> User:
    found = users.by_login(FLUX_GRAFANA_USER)
    assert found is not None, "no Flux user"
    return found[1]


def probe_started(ready_file: Path) -> bool:
    """The container's startup probe, run as the kubelet runs it (its env, this interpreter)."""
    command = [sys.executable, *flux_user_container()["startupProbe"]["exec"]["command"][1:]]
    command = [part.replace(READY_FILE, str(ready_file)) for part in command]
    return subprocess.run(command, timeout=30).returncode == 0


def test_on_a_fresh_grafana_it_creates_flux_s_user_as_an_editor_that_logs_in_and_is_then_ready(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    with serve_grafana(users) as url, keeper(url, tmp_path) as (process, ready):
        wait_until(ready.exists, "ready")
        user = flux_user(users)
        assert (user.password, user.orgs, user.admin) == (FLUX_PASSWORD, {MAIN_ORG: "Editor"}, False)
        assert ("GET", "/api/user", FLUX_GRAFANA_USER) in users.requests  # it logged in as the user
        assert users.failed_logins == []
        printed = output(process)
    assert f"{FLUX_GRAFANA_USER}: created, role Viewer -> Editor" in printed
    assert ADMIN_PASSWORD not in printed and FLUX_PASSWORD not in printed


def test_a_rotated_password_and_a_lowered_role_are_set_back(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    users.users[2] = User(FLUX_GRAFANA_USER, "the-old-password", {MAIN_ORG: "Viewer"})
    with serve_grafana(users) as url, keeper(url, tmp_path) as (process, ready):
        wait_until(ready.exists, "ready")
        assert (flux_user(users).password, flux_user(users).orgs) == (FLUX_PASSWORD, {MAIN_ORG: "Editor"})
        assert ("PUT", "/api/admin/users/2/password") in users.writes()
        assert FLUX_PASSWORD not in output(process)


def test_a_user_outside_the_org_is_added_to_it(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    users.users[2] = User(FLUX_GRAFANA_USER, FLUX_PASSWORD, {})  # auto_assign_org off
    with serve_grafana(users) as url, keeper(url, tmp_path) as (_, ready):
        wait_until(ready.exists, "ready")
        assert flux_user(users).orgs == {MAIN_ORG: "Editor"}
        assert users.writes() == [("POST", f"/api/orgs/{MAIN_ORG}/users")]


def test_a_user_already_right_is_only_read_round_after_round(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    users.users[2] = User(FLUX_GRAFANA_USER, FLUX_PASSWORD, {MAIN_ORG: "Editor"})
    with serve_grafana(users) as url, keeper(url, tmp_path) as (process, ready):
        wait_until(
            lambda: sum(r[1] == "/api/users/lookup?loginOrEmail=flux-annotations" for r in users.requests) >= 3,
            "three rounds",
        )
        assert ready.exists() and users.writes() == [] and users.failed_logins == []
        assert output(process).strip() == ""


def test_it_waits_for_grafana_and_is_ready_only_once_grafana_answers(tmp_path):
    port = free_port()
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    with keeper(f"http://127.0.0.1:{port}", tmp_path) as (process, ready):
        time.sleep(1)  # several rounds against a port nothing listens on
        assert not ready.exists() and not probe_started(ready) and process.poll() is None
        with serve_grafana(users, port=port):
            wait_until(ready.exists, "ready once Grafana answers")
            assert probe_started(ready)
            assert flux_user(users).orgs == {MAIN_ORG: "Editor"}


def test_with_a_wrong_admin_password_it_never_starts_and_says_why_without_the_password(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, "another-admin-password")
    with serve_grafana(users) as url, keeper(url, tmp_path) as (process, ready):
        wait_until(lambda: len(users.failed_logins) >= 2, "two rounds")
        assert not ready.exists() and users.by_login(FLUX_GRAFANA_USER) is None
        printed = output(process)
    assert f"{FLUX_GRAFANA_USER}: looking up {FLUX_GRAFANA_USER}: HTTP 401 (Invalid username or password)" in printed
    assert ADMIN_PASSWORD not in printed and FLUX_PASSWORD not in printed


def test_it_unmarks_the_user_when_it_can_no_longer_be_kept(tmp_path):
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    with serve_grafana(users) as url, keeper(url, tmp_path) as (_, ready):
        wait_until(ready.exists, "ready")
        users.users[1].password = "changed-in-the-ui"  # the admin password no longer what the Secret says
        wait_until(lambda: not ready.exists(), "unmarked")
        assert not probe_started(ready)


@pytest.mark.parametrize("marked", [True, False])
def test_the_startup_probe_reads_the_mark_and_never_logs_in(tmp_path, marked):
    ready = tmp_path / "ready"
    if marked:
        ready.write_text("ready\n")
    users = GrafanaUsers.with_admin(ADMIN, ADMIN_PASSWORD)
    with serve_grafana(users):
        assert probe_started(ready) is marked
    assert users.requests == []
