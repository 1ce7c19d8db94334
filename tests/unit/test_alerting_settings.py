"""`alerting` and `fluxEvents` config: one problem per mistake, naming the key; credentials never echoed."""

from __future__ import annotations

import copy
import json

import pytest

from flux_monitoring.config.settings import SettingsError, load_settings
from tests.support.alerting_examples import CREDENTIALS, EVERY_RECEIVER_TYPE, alerting_settings

DURATION = "an Alertmanager duration above 0 such as 30s, 5m, 4h or 1h30m"


def broken(change) -> dict:
    raw = copy.deepcopy(EVERY_RECEIVER_TYPE)
    change(raw)
    return raw


def problems(raw, secret: bool = True, key: str = "alerting") -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings({key: json.dumps(raw)}, {key} if secret else set(), kube_context="test")
    for credential in CREDENTIALS.values():
        assert credential not in str(caught.value)
    return caught.value.problems


CATALOGUE = [
    (
        lambda r: r["receivers"]["oncall"].pop("routingKey"),
        "alerting.receivers.oncall.routingKey: got null; "
        "expected a PagerDuty Events API v2 integration key, set as a secret (required)",
    ),
    (
        lambda r: r["receivers"]["platform"].pop("apiURL"),
        "alerting.receivers.platform.apiURL: got null; "
        "expected a Slack incoming webhook URL, set as a secret (required)",
    ),
    (
        lambda r: r["receivers"]["platform"].update(apiURL="hooks.slack.com/x"),
        "alerting.receivers.platform.apiURL: got [secret]; expected a Slack incoming webhook URL, set as a secret",
    ),
    (
        lambda r: r["receivers"]["team-c"].update(apiKey=""),
        "alerting.receivers.team-c.apiKey: got [secret]; expected an Opsgenie API integration key, set as a secret",
    ),
    # A URL written in plain text carries no credentials; the receiver's key (a secret) does.
    (
        lambda r: r["receivers"]["team-c"].update(apiURL="https://ops:hunter22@api.eu.opsgenie.com/"),
        'alerting.receivers.team-c.apiURL: got "https://[redacted]@api.eu.opsgenie.com/"; '
        "expected a URL without credentials: put them in apiKey (a secret)",
    ),
    (
        lambda r: r["receivers"]["oncall"].update(url="events.eu.pagerduty.com/v2/enqueue"),
        'alerting.receivers.oncall.url: got "events.eu.pagerduty.com/v2/enqueue"; '
        "expected an http:// or https:// URL such as https://events.eu.pagerduty.com/v2/enqueue",
    ),
    (
        lambda r: r["receivers"]["team-a"].update(type="teams"),
        'alerting.receivers.team-a.type: got "teams"; expected one of slack, pagerduty, msteams, webhook, email, '
        "opsgenie",
    ),
    (
        lambda r: r["receivers"]["team-b"].update(smarthost="smtp.example.com"),
        'alerting.receivers.team-b.smarthost: got "smtp.example.com"; expected an SMTP server as host:port such as '
        "smtp.example.com:587",
    ),
    (
        lambda r: r["receivers"]["team-b"].pop("authPassword"),
        "alerting.receivers.team-b.authPassword: got null; expected authUsername and authPassword together, or neither",
    ),
    (
        lambda r: r["receivers"]["deadman"].update(sendResolved="no"),
        'alerting.receivers.deadman.sendResolved: got "no"; expected true or false',
    ),
    (
        lambda r: r["receivers"]["platform"].update(chanel="#x"),
        'alerting.receivers.platform.chanel: got "#x"; expected no such key; valid keys of '
        "alerting.receivers.platform are type, apiURL, channel, sendResolved",
    ),
    (
        lambda r: r["route"].update(default="nobody"),
        'alerting.route.default: got "nobody"; expected a receiver defined under alerting.receivers '
        "(deadman, oncall, platform, team-a, team-b, team-c)",
    ),
    (
        lambda r: r["route"]["bySeverity"].update(critical="pager"),
        'alerting.route.bySeverity.critical: got "pager"; expected a receiver defined under alerting.receivers '
        "(deadman, oncall, platform, team-a, team-b, team-c)",
    ),
    (
        lambda r: r["route"]["byNamespace"].update({"Team_D": "team-a"}),
        'alerting.route.byNamespace.Team_D: got "Team_D"; expected a DNS-1123 label: lower-case letters, '
        "digits and '-', at most 63 characters, such as monitoring",
    ),
    (lambda r: r["route"].update(groupWait="30 s"), f'alerting.route.groupWait: got "30 s"; expected {DURATION}'),
    (lambda r: r["route"].update(repeatInterval="0s"), f'alerting.route.repeatInterval: got "0s"; expected {DURATION}'),
    (
        lambda r: r["heartbeat"].update(receiver="deadmen"),
        'alerting.heartbeat.receiver: got "deadmen"; expected a receiver defined under alerting.receivers '
        "(deadman, oncall, platform, team-a, team-b, team-c)",
    ),
    (lambda r: r["heartbeat"].update(interval=60), f"alerting.heartbeat.interval: got 60; expected {DURATION}"),
    (
        lambda r: r.update(routes={}),
        "alerting.routes: got [secret]; expected no such key; valid keys of alerting are receivers, route, heartbeat",
    ),
    (
        lambda r: r.pop("route"),
        "alerting.route: got null; expected an object with default (a receiver name), required with receivers",
    ),
]


@pytest.mark.parametrize(
    "change, problem", CATALOGUE, ids=[p.split(":")[0] + f"-{i}" for i, (_, p) in enumerate(CATALOGUE)]
)
def test_each_mistake_is_one_problem_naming_the_key(change, problem):
    assert problems(broken(change)) == [problem]


def test_a_webhook_url_held_as_a_secret_may_carry_user_info():
    raw = broken(lambda r: r["receivers"]["deadman"].update(url="https://hook:s3cret@deadman.example.com/ping"))
    alerting = alerting_settings(raw)
    assert alerting.receivers["deadman"].url.get_secret_value() == "https://hook:s3cret@deadman.example.com/ping"


def test_unknown_receiver_names_in_routes_are_errors():
    raw = broken(lambda r: r["route"].update(bySeverity={"page": "pager"}))
    assert [p.split(":")[0] for p in problems(raw)] == ["alerting.route.bySeverity.page"]


def test_credentials_given_in_plain_text_are_refused_one_key_each():
    assert problems(EVERY_RECEIVER_TYPE, secret=False) == [
        f"alerting.receivers.{path}: got [secret]; expected a secret: set it with "
        f"pulumi config set --secret --path alerting.receivers.{path} VALUE"
        for path in (
            "platform.apiURL",
            "oncall.routingKey",
            "team-a.webhookUrl",
            "deadman.url",
            "team-b.authPassword",
            "team-c.apiKey",
        )
    ]


def test_an_alerting_config_without_credentials_may_be_plain():
    settings = load_settings({"alerting": json.dumps({"receivers": {}})}, kube_context="test").alerting
    assert settings.receivers == {} and settings.route is None


def test_non_secret_fields_of_a_secret_key_are_plain_settings_and_shown_in_errors():
    settings = alerting_settings(EVERY_RECEIVER_TYPE)
    assert settings.route.by_severity == {"page": "oncall"}
    assert settings.receivers["platform"].channel == "#flux"
    assert CREDENTIALS["slack"] not in repr(settings) and CREDENTIALS["slack"] not in str(settings)
    assert problems(broken(lambda r: r["receivers"]["platform"].update(channel="two words"))) == [
        'alerting.receivers.platform.channel: got "two words"; expected a Slack channel such as #flux-alerts'
    ]


def test_defaults_are_alertmanagers_own():
    route = alerting_settings(
        {"receivers": {"p": {"type": "webhook", "url": "https://x.example/"}}, "route": {"default": "p"}}
    ).route
    assert (route.group_wait, route.group_interval, route.repeat_interval) == ("30s", "5m", "4h")


def test_receivers_need_alertmanager():
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"alerting": json.dumps(EVERY_RECEIVER_TYPE), "alertmanager": '{"enabled": false}'},
            {"alerting"},
            kube_context="test",
        )
    assert caught.value.problems == [
        "alertmanager.enabled: got false; expected true: alerting.receivers are set, "
        "and only Alertmanager delivers to them"
    ]


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"grafanaAnnotations": "yes"}', 'fluxEvents.grafanaAnnotations: got "yes"; expected true or false'),
        (
            '{"alertManager": true}',
            "fluxEvents.alertManager: got true; expected no such key; "
            "valid keys of fluxEvents are grafanaAnnotations, alertmanager",
        ),
        ("true", "fluxEvents: got true; expected an object with keys grafanaAnnotations, alertmanager"),
        (
            '{"alertmanager": true}',
            "alertmanager.enabled: got false; expected true: fluxEvents.alertmanager sends "
            "Flux's error events to Alertmanager",
        ),
    ],
)
def test_flux_events_mistakes_name_the_key(text, problem):
    with pytest.raises(SettingsError) as caught:
        load_settings({"fluxEvents": text, "alertmanager": '{"enabled": false}'}, kube_context="test")
    assert caught.value.problems == [problem]


def test_flux_events_are_off_by_default():
    events = load_settings({}, kube_context="test").flux_events
    assert not events.grafana_annotations and not events.alertmanager
