"""Every alert links its runbook: a section of docs/runbooks.md per catalogue alert, reached by the
alert's runbook_url, and the catalogue is the only description of the alerts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flux_monitoring.config import schema
from flux_monitoring.config.alerts import ALERTS, BY_NAME, RUNBOOKS_PATH, with_catalogue_table
from flux_monitoring.config.settings import AlertSettings, SettingsError, load_settings
from flux_monitoring.signals.rules import flux_rule_groups

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / RUNBOOKS_PATH
# Each section tells the person paged these, in this order.
PARTS = ("**Meaning.**", "**Confirm.**", "**Common causes", "**Fix or silence.**")
# Every metric source, each with a delivery SLO (whose alerts exist only then).
_SLO = {"slo": json.dumps({"objective": 99.5}), "prometheus": json.dumps({"retention": "30d"})}
SOURCES = ({**_SLO}, {"fluxMetrics": "legacy", "fluxVersion": "2.4", **_SLO}, {"fluxMetrics": "flux-operator", **_SLO})


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'
    (github/cmark-gfm's anchor rule, as GitHub renders Markdown)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(page: str) -> dict[str, str]:
    """The page's level-2 sections by the anchor of their heading."""
    parts = re.split(r"^## (.+)$", page, flags=re.MULTILINE)
    return {github_anchor(heading): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def alerts_of(raw: dict) -> list[dict]:
    groups = flux_rule_groups(load_settings(raw, kube_context="test"))
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_catalogue_alert_has_a_runbook_section_with_its_anchor():
    found = sections(PAGE.read_text())
    missing = [alert.name for alert in ALERTS if alert.anchor not in found]
    assert not missing, f"docs/runbooks.md has no '## <name>' section for {missing}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda alert: alert.name)
def test_every_runbook_section_says_what_it_means_how_to_confirm_causes_and_fix(alert):
    body = sections(PAGE.read_text())[alert.anchor]
    positions = [body.find(part) for part in PARTS]
    assert -1 not in positions and positions == sorted(positions), f"{alert.name}: wants {PARTS} in order"


def test_the_anchor_rule_is_githubs():
    assert github_anchor("FluxReconcileDurationHigh") == "fluxreconciledurationhigh"
    assert github_anchor("Silencing an alert") == "silencing-an-alert"


@pytest.mark.parametrize("raw", SOURCES, ids=lambda raw: raw.get("fluxMetrics", "resource-info"))
def test_every_alert_rule_is_in_the_catalogue_and_links_its_runbook_section(raw):
    found = sections(PAGE.read_text())
    for rule in alerts_of(raw):
        alert = BY_NAME[rule["alert"]]
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOKS_PATH}#{alert.anchor}"
        assert alert.anchor in found


def test_every_catalogue_alert_is_a_rule_of_some_configuration():
    ruled = {rule["alert"] for raw in SOURCES for rule in alerts_of(raw)}
    assert ruled == set(BY_NAME)


def test_runbook_base_url_is_the_prefix_of_every_runbook_url():
    base = "https://wiki.example.com/flux/runbooks"
    urls = [rule["annotations"]["runbook_url"] for rule in alerts_of({"runbookBaseUrl": base})]
    assert urls and all(url.startswith(base + "#") for url in urls)


@pytest.mark.parametrize(
    "value", ["http://wiki.example.com/runbooks", "https://wiki.example.com/runbooks#top", "docs/runbooks.md"]
)
def test_a_runbook_base_url_that_is_not_https_without_fragment_is_refused(value):
    with pytest.raises(SettingsError) as error:
        load_settings({"runbookBaseUrl": value}, kube_context="test")
    assert str(error.value).count("runbookBaseUrl: got") == 1 and "an https:// URL without #fragment" in str(
        error.value
    )


def test_summaries_and_descriptions_come_from_the_catalogue_with_the_configured_values():
    rules = {
        rule["alert"]: rule
        for rule in alerts_of({"alerts": json.dumps({"workqueue": {"depth": 7, "for": "3m"}}), "fluxNamespace": "fx"})
    }
    assert rules["FluxWorkqueueBacklog"]["annotations"]["description"] == (
        "More than 7 objects wait for reconciliation for 3m: the controller cannot keep up."
    )
    assert " in fx " in rules["FluxControllerDown"]["annotations"]["description"]


def test_each_alert_key_of_the_settings_takes_its_defaults_from_the_catalogue():
    defaults = AlertSettings()
    for alert in ALERTS:
        if alert.key is None:
            continue
        rule = getattr(defaults, alert.field)
        assert (rule.for_, rule.severity) == (alert.for_, alert.severity)
        assert getattr(rule, "threshold", None) == (alert.threshold.default if alert.threshold else None)
        assert AlertSettings.model_fields[alert.field].alias in (alert.key, None)


def test_the_runbooks_alert_table_is_the_one_the_catalogue_generates():
    page = PAGE.read_text()
    assert with_catalogue_table(page) == page, "stale: run python -m flux_monitoring.config.schema"
    assert schema.RUNBOOKS_PATH == PAGE
