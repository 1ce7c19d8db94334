"""The generated alertmanager.yaml: valid for a real amtool, routed and inhibited as README says."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from flux_monitoring.config.alerting import AlertingSettings
from flux_monitoring.config.settings import load_settings
from flux_monitoring.manifests.alertmanager import (
    GROUP_BY,
    KINDS_BY_CONTROLLER,
    OBJECT_ALERTS,
    alertmanager_config,
    alertmanager_config_yaml,
)
from flux_monitoring.signals.rules import flux_rule_groups
from tests.conftest import run_stack
from tests.support.alerting_examples import (
    CREDENTIALS,
    DASHBOARD,
    EVERY_RECEIVER_TYPE,
    alerting_settings,
    amtool,
    check_config,
    every_receiver_type,
    msteams_supported,
    skip_without_msteams,
)


def without_msteams(settings: AlertingSettings) -> AlertingSettings:
    """The same settings minus the msteams receiver and the route to it (for Alertmanager before 0.28)."""
    raw = json.loads(json.dumps(EVERY_RECEIVER_TYPE))
    del raw["receivers"]["team-a"]
    del raw["route"]["byNamespace"]["team-a"]
    return alerting_settings(raw)


def test_every_receiver_type_passes_amtool_check_config(tmp_path):
    text = alertmanager_config_yaml(every_receiver_type(), DASHBOARD)
    checked = check_config(text, tmp_path)
    if msteams_supported():
        assert checked.returncode == 0, checked.stdout + checked.stderr
    else:
        # Alertmanager 0.25 knows every field but msteamsv2_configs: that is its only complaint...
        problems = [line for line in (checked.stdout + checked.stderr).splitlines() if "field " in line]
        assert problems and all("field msteamsv2_configs not found" in p for p in problems), checked.stdout
        # ...and without the msteams receiver the configuration passes.
        rest = check_config(alertmanager_config_yaml(without_msteams(every_receiver_type()), DASHBOARD), tmp_path)
        assert rest.returncode == 0, rest.stdout + rest.stderr


def test_msteams_receiver_passes_a_newer_amtool(tmp_path):
    skip_without_msteams()
    assert check_config(alertmanager_config_yaml(every_receiver_type(), DASHBOARD), tmp_path).returncode == 0


def test_no_receivers_discards_everything_like_the_chart_default(tmp_path):
    config = alertmanager_config(AlertingSettings(), DASHBOARD)
    assert config["route"]["receiver"] == "null"
    assert [r["name"] for r in config["receivers"]] == ["null"]
    assert check_config(alertmanager_config_yaml(AlertingSettings(), DASHBOARD), tmp_path).returncode == 0


def test_the_dev_stacks_configuration_passes_amtool_and_sends_every_alert_to_null(tmp_path):
    run = run_stack("dev")
    text = run.one("kubernetes:core/v1:Secret", "alertmanager-config").inputs["stringData"]["alertmanager.yaml"]
    assert check_config(text, tmp_path).returncode == 0
    for labels in ({"alertname": "ReconciliationFailure", "severity": "page"}, {"alertname": "Watchdog"}):
        assert routes_test(tmp_path, labels, text) == ["null"], labels


def routes_test(tmp_path, labels: dict[str, str], text: str | None = None) -> list[str]:
    """Receivers `amtool config routes test` picks for an alert with ``labels``, in tree order, in the
    configuration ``text`` (default: every receiver type Alertmanager 0.25 knows)."""
    path = tmp_path / "alertmanager.yaml"
    path.write_text(text or alertmanager_config_yaml(without_msteams(every_receiver_type()), DASHBOARD))
    done = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")


OBJECT = {"kind": "Kustomization", "name": "apps"}


@pytest.mark.parametrize(
    "labels, receivers",
    [
        (
            {"alertname": "ReconciliationFailure", "severity": "page", "exported_namespace": "default", **OBJECT},
            ["oncall"],
        ),
        (
            {"alertname": "FluxSourceFailure", "severity": "warning", "exported_namespace": "default", **OBJECT},
            ["platform"],
        ),
        (
            {"alertname": "ReconciliationFailure", "severity": "page", "exported_namespace": "team-b", **OBJECT},
            ["team-b", "oncall"],
        ),
        (
            {"alertname": "FluxSourceFailure", "severity": "warning", "exported_namespace": "team-c", **OBJECT},
            ["team-c", "platform"],
        ),
        # Flux's own error events name the object's namespace as namespace.
        (
            {
                "alertname": "FluxKustomizationReconciliationFailed",
                "severity": "error",
                "namespace": "team-b",
                "reportingcontroller": "kustomize-controller",
                **OBJECT,
            },
            ["team-b", "platform"],
        ),
        # A controller alert in a tenant-named namespace is not a tenant's object.
        (
            {"alertname": "FluxControllerDown", "severity": "page", "namespace": "team-b", "app": "helm-controller"},
            ["oncall"],
        ),
        # The object's own label (objectLabels team, as kube-state-metrics names it): its team too.
        (
            {
                "alertname": "ReconciliationFailure",
                "severity": "page",
                "exported_namespace": "shop",
                "label_team": "payments",
                **OBJECT,
            },
            ["team-c", "oncall"],
        ),
        (
            {
                "alertname": "FluxSourceFailure",
                "severity": "warning",
                "exported_namespace": "team-b",
                "label_team": "payments",
                **OBJECT,
            },
            ["team-b", "team-c", "platform"],
        ),
        (
            {
                "alertname": "ReconciliationFailure",
                "severity": "page",
                "exported_namespace": "shop",
                "label_team": "search",
                **OBJECT,
            },
            ["oncall"],
        ),
        ({"alertname": "Watchdog", "severity": "none"}, ["deadman"]),
        ({"alertname": "InfoInhibitor", "severity": "none", "namespace": "team-b"}, ["null"]),
    ],
    ids=[
        "page",
        "warning",
        "tenant-page",
        "tenant-warning",
        "flux-event-tenant",
        "controller",
        "team-label-page",
        "tenant-and-team-label-warning",
        "other-team-label",
        "watchdog",
        "info-inhibitor",
    ],
)
def test_amtool_routes_each_alert_to_the_receivers_its_route_names(tmp_path, labels, receivers):
    assert routes_test(tmp_path, labels) == receivers


def test_groups_are_per_flux_object():
    assert alertmanager_config(every_receiver_type(), DASHBOARD)["route"]["group_by"] == list(GROUP_BY)
    assert {"alertname", "kind", "exported_namespace", "name", "cluster"} <= set(GROUP_BY)
    assert not {"pod", "instance", "job"} & set(GROUP_BY)


def test_heartbeat_repeats_at_its_interval_and_goes_nowhere_else():
    watchdog = alertmanager_config(every_receiver_type(), DASHBOARD)["route"]["routes"][0]
    assert watchdog["matchers"] == ['alertname = "Watchdog"'] and watchdog["receiver"] == "deadman"
    assert watchdog["repeat_interval"] == "1m" and watchdog["group_interval"] == "6000ms"
    assert "continue" not in watchdog


def test_object_alert_names_exist_in_the_rules_and_controllers_cover_every_reconciled_kind():
    settings = load_settings({}, kube_context="test")
    names = {rule["alert"] for group in flux_rule_groups(settings) for rule in group["rules"] if "alert" in rule}
    assert set(OBJECT_ALERTS) <= names and "FluxControllerDown" in names
    reconciled = {kind for kinds in KINDS_BY_CONTROLLER.values() for kind in kinds}
    assert len(reconciled) == sum(len(k) for k in KINDS_BY_CONTROLLER.values())  # one controller per kind


def test_credentials_are_in_the_configuration_text_only_where_alertmanager_reads_them():
    config = alertmanager_config(every_receiver_type(), DASHBOARD)
    by_name = {r["name"]: r for r in config["receivers"]}
    assert by_name["platform"]["slack_configs"][0]["api_url"] == CREDENTIALS["slack"]
    assert by_name["oncall"]["pagerduty_configs"][0]["routing_key"] == CREDENTIALS["pagerduty"]
    assert by_name["team-a"]["msteamsv2_configs"][0]["webhook_url"] == CREDENTIALS["msteams"]
    assert by_name["deadman"]["webhook_configs"][0]["url"] == CREDENTIALS["webhook"]
    assert by_name["team-b"]["email_configs"][0]["auth_password"] == CREDENTIALS["email"]
    assert by_name["team-c"]["opsgenie_configs"][0]["api_key"] == CREDENTIALS["opsgenie"]
    text = yaml.safe_dump({k: v for k, v in config.items() if k != "receivers"})
    assert not [c for c in CREDENTIALS.values() if c in text]


def test_the_configuration_is_stable_text():
    assert alertmanager_config_yaml(every_receiver_type(), DASHBOARD) == alertmanager_config_yaml(
        every_receiver_type(), DASHBOARD
    )
