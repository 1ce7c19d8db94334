"""Flux's own Grafana user: Flux logs in as an Editor kept from inside Grafana's pod, never as the admin."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from flux_monitoring.config.settings import load_settings
from flux_monitoring.contract import FLUX_GRAFANA_USER, GRAFANA_FLUX_PASSWORD_KEY
from flux_monitoring.manifests.grafana_flux_user import CONTAINER, PROGRAM, SIDECAR_IMAGE, flux_user_container
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values
from flux_monitoring.resources.grafana_admin import admin_checksum
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.pulumi_harness import mock_random_password

pytestmark = pytest.mark.unit

SECRET = "kubernetes:core/v1:Secret"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
KEY = "00" * 32


def grafana_values(events: dict) -> dict:
    settings = load_settings({"fluxEvents": json.dumps(events)}, kube_context="test")
    return kube_prometheus_stack_values(settings)["grafana"]


def test_with_grafana_annotations_grafanas_pod_gets_the_container_that_keeps_flux_s_user():
    values = grafana_values({"grafanaAnnotations": True})
    [container] = yaml.safe_load(values["extraContainers"])
    assert container == flux_user_container()
    assert container["name"] == CONTAINER and container["image"] == SIDECAR_IMAGE
    assert container["command"] == ["python", "-u", "-c", PROGRAM.read_text()]
    assert values["extraContainerVolumes"] == [
        {"name": CONTAINER, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
    ]


def test_without_grafana_annotations_there_is_no_flux_user():
    values = grafana_values({"alertmanager": True})
    assert "extraContainers" not in values and "extraContainerVolumes" not in values


def test_the_container_reads_every_credential_from_the_admin_secret_and_holds_none_in_its_spec():
    env = {e["name"]: e for e in flux_user_container()["env"]}
    assert {name: e["valueFrom"]["secretKeyRef"] for name, e in env.items() if "valueFrom" in e} == {
        "GF_SECURITY_ADMIN_USER": {"name": "grafana-admin", "key": "admin-user"},
        "GF_SECURITY_ADMIN_PASSWORD": {"name": "grafana-admin", "key": "admin-password"},
        "FLUX_GRAFANA_PASSWORD": {"name": "grafana-admin", "key": GRAFANA_FLUX_PASSWORD_KEY},
    }
    assert env["FLUX_GRAFANA_USER"]["value"] == FLUX_GRAFANA_USER
    assert env["GRAFANA_URL"]["value"] == "http://127.0.0.1:3000"  # inside the pod: no traffic leaves it


def test_only_the_image_and_pull_policy_are_templates_for_the_charts_tpl():
    # The chart renders extraContainers with tpl: any other {{ would be read as a template.
    text = grafana_values({"grafanaAnnotations": True})["extraContainers"]
    templates = re.findall(r"\{\{.*?\}\}", text)
    assert templates == [*re.findall(r"\{\{.*?\}\}", SIDECAR_IMAGE), "{{ .Values.sidecar.imagePullPolicy }}"]
    assert "{{" not in PROGRAM.read_text()


def test_the_container_runs_as_the_charts_sidecars_do_on_a_read_only_root():
    context = flux_user_container()["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True and context["runAsNonRoot"] is True


def test_the_flux_provider_secret_holds_flux_s_own_user_and_never_the_admin_password():
    run = run_stack("prod", password=PROD_PASSWORD)
    flux = run.one(SECRET, "flux-grafana-credentials").inputs
    admin = run.one(SECRET, "grafana-admin").inputs["stringData"]
    generated = mock_random_password("flux-grafana-password", 32)
    assert flux["metadata"]["namespace"] == "flux-system"
    assert flux["stringData"] == {"username": FLUX_GRAFANA_USER, "password": generated}
    assert admin[GRAFANA_FLUX_PASSWORD_KEY] == flux["stringData"]["password"]
    assert PROD_PASSWORD not in str(flux)


def test_the_flux_users_password_is_generated_with_every_class_of_character_and_json_safe_specials():
    inputs = run_stack("prod", password=PROD_PASSWORD).one(RANDOM_PASSWORD, "flux-grafana-password").inputs
    assert inputs["length"] == 32 and inputs["special"] is True and inputs["overrideSpecial"] == "-_"
    assert all(inputs[f"min{kind}"] == 1 for kind in ("Upper", "Lower", "Numeric", "Special"))


def test_a_new_flux_user_password_rolls_grafana_and_no_flux_user_changes_nothing():
    before = admin_checksum(KEY, "admin", "pw", {}, "one")
    assert admin_checksum(KEY, "admin", "pw", {}, "two") != before
    assert admin_checksum(KEY, "admin", "pw", {}, None) == admin_checksum(KEY, "admin", "pw")


def test_a_rollout_waits_for_the_user_but_a_later_failure_leaves_grafana_in_service():
    container = flux_user_container()
    assert "readinessProbe" not in container  # a readiness probe would take Grafana out of its Service
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 300
