"""The Grafana admin password reaches the cluster only as Secret data and leaves only as a secret."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PROD_PASSWORD, run_stack

SECRET = "kubernetes:core/v1:Secret"


def places_holding(run, password: str) -> list[str]:
    """Every resource input and plain export whose text contains the password."""
    found = []
    for resource in run.resources:
        for key, value in resource.inputs.items():
            allowed = resource.type == SECRET and key in ("stringData", "data") and key in resource.secret_inputs
            if not allowed and password in json.dumps(value):
                found.append(f"{resource.type} {resource.name}: {key}")
    for name, value in run.exports.items():
        if name not in run.secret_exports and password in json.dumps(value):
            found.append(f"export {name}")
    return found


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_configured_password_appears_only_in_secret_data(stack):
    run = run_stack(stack, password=PROD_PASSWORD)
    assert places_holding(run, PROD_PASSWORD) == []
    assert run.one(SECRET).inputs["stringData"]["admin-password"] == PROD_PASSWORD


def test_generated_password_appears_only_in_secret_data():
    run = run_stack("staging")
    generated = run.exports["grafanaAdminPassword"]
    assert len(generated) == 32
    assert places_holding(run, generated) == []
    assert run.one(SECRET).inputs["stringData"]["admin-password"] == generated


def test_generated_password_is_long_and_kept_in_state():
    generator = run_stack("staging").one("random:index/randomPassword:RandomPassword").inputs
    assert generator["length"] >= 24
    # No keepers or triggers: nothing replaces it once generated.
    assert "keepers" not in generator


def test_the_scan_finds_a_password_leaked_into_helm_values():
    run = run_stack("staging", password=PROD_PASSWORD)
    release = next(r for r in run.resources if r.type == "kubernetes:helm.sh/v3:Release")
    release.inputs["values"]["grafana"]["adminPassword"] = PROD_PASSWORD
    assert places_holding(run, PROD_PASSWORD) == ["kubernetes:helm.sh/v3:Release kube-prometheus-stack: values"]
