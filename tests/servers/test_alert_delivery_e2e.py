"""Alerts reach people: a real Prometheus evaluates the program's rules on a synthetic Flux fleet and
sends to a real Alertmanager running the generated configuration, whose receivers are local stand-ins
for Slack, PagerDuty, Opsgenie, MS Teams (Alertmanager 0.28+ only), a webhook and an SMTP server.

Everything runs on 127.0.0.1 with free ports, timings shortened through the settings (rule `for`,
group and heartbeat intervals), every wait bounded, every process and server stopped. One module
fixture plays the whole story once; each test reads what the stand-ins received:

1. Four objects fail from the start (a page-level Kustomization and HelmRelease, warning-level
   GitRepository and HelmChart), in four namespaces, three of them tenants'; one tenant's receiver
   is down for a while. The Watchdog heartbeat keeps firing.
2. The HelmChart recovers.
3. The kustomize-controller goes down; then another Kustomization fails.
"""

from __future__ import annotations

import asyncio
import email
import itertools
import json
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from flux_monitoring.config.settings import load_settings
from flux_monitoring.manifests.alertmanager import alertmanager_config_yaml
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.alerting_examples import DASHBOARD, amtool, msteams_supported, start_alertmanager
from tests.support.flux_fleet import (
    Fleet,
    FluxObject,
    MatrixRelease,
    free_port,
    rule_groups_evaluated_every,
    scrape_configs,
    serve_fleet,
    start_prometheus,
)
from tests.support.loopback import serve_on_loopback
from tests.support.signals_tools import require_tool, upstream_file

INTERVAL = "1s"  # scrape and rule evaluation
GROUP_WAIT, GROUP_INTERVAL = "1s", "2s"
HEARTBEAT = "2s"
DEADLINE = 45.0  # for each awaited delivery
RECEIVER_DOWN_SECONDS = 6.0
SMTP_USER, SMTP_PASSWORD = "alertmanager", "smtp-e2e-password"

# The chart's Watchdog (kube-prometheus-stack templates/prometheus/rules-1.14/general.rules.yaml, 88.5.3):
# always firing, severity none.
WATCHDOG_GROUP = {
    "name": "general.rules",
    "rules": [
        {
            "alert": "Watchdog",
            "expr": "vector(1)",
            "labels": {"severity": "none"},
            "annotations": {
                "summary": "An alert that should always be firing to certify that Alertmanager is working properly."
            },
        }
    ],
}


FLUX_MINOR = "2.9"
CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")


def flux_object(kind: str, namespace: str, name: str, ready: str, team: str | None = None) -> FluxObject:
    # Reconciliations of a millisecond: no duration alert among the fleet's.
    return FluxObject(
        kind=kind,
        namespace=namespace,
        name=name,
        ready=ready,
        suspended=False,
        revision="main@sha1:" + "0" * 40,
        seconds=0.001,
        labels=(("team", team),) if team else (),
    )


# kind, namespace, name -> (alert, severity) expected while it fails
PAGE_KUSTOMIZATION = ("Kustomization", "team-000", "app-0")
PAGE_HELMRELEASE = ("HelmRelease", "team-001", "app-1")
WARNING_GITREPOSITORY = ("GitRepository", "team-002", "app-2")
RECOVERING_HELMCHART = ("HelmChart", "team-003", "app-3")
LATE_KUSTOMIZATION = ("Kustomization", "team-004", "app-4")  # fails while its controller is down
# Labelled team: payments (objectLabels), in a namespace of no tenant: routed by the label alone.
TEAM_KUSTOMIZATION = ("Kustomization", "shop", "checkout")
TEAM_GITREPOSITORY = ("GitRepository", "shop", "catalog")
TEAM, TEAM_RECEIVER = "payments", "payments-oncall"


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str  # firing or resolved
    alertname: str
    object: str  # "Kind namespace/name", or "" for alerts about no object
    at: float = field(default_factory=time.monotonic, compare=False)  # when it arrived


@dataclass
class Inbox:
    """What the stand-in receivers accepted, and how often they refused (while down)."""

    received: list[Notification] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    down: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    opsgenie_aliases: dict[str, Notification] = field(default_factory=dict)
    slack_texts: list[str] = field(default_factory=list)  # the message bodies the Slack stand-in got

    def add(self, notification: Notification) -> None:
        with self.lock:
            self.received.append(notification)

    def of(self, receiver: str) -> list[Notification]:
        with self.lock:
            return [n for n in self.received if n.receiver == receiver]

    def wait_for(self, what: str, found, deadline: float) -> None:
        while time.monotonic() < deadline:
            with self.lock:
                if found(list(self.received)):
                    return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; received {self.received}")


# "[FIRING:1] ReconciliationFailure Kustomization team-000/app-0": the TITLE of alertmanager_config.py
_TITLE = re.compile(r"^\[(FIRING|RESOLVED)[^\]]*\] (\S+)(?: (\S+) (\S+))?")


def from_title(receiver: str, title: str) -> Notification:
    status, alertname, kind, where = _TITLE.match(title).groups()
    return Notification(receiver, status.lower(), alertname, f"{kind} {where}" if kind else "")


def from_webhook(receiver: str, body: dict) -> Notification:
    labels = body["commonLabels"]
    where = labels.get("exported_namespace")
    thing = f"{labels['kind']} {where}/{labels['name']}" if where else ""
    return Notification(receiver, body["status"], labels["alertname"], thing)


@contextmanager
def serve_receivers(inbox: Inbox) -> Iterator[int]:
    """One HTTP server for the HTTP receivers: /<type>/<receiver>/..., each answering as its service
    does; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            service, receiver, *rest = self.path.strip("/").split("/")
            if receiver in inbox.down:
                with inbox.lock:
                    inbox.refused[receiver] += 1
                self.send_error(503)
                return
            if service == "slack":
                inbox.add(from_title(receiver, body["attachments"][0]["title"]))
                inbox.slack_texts.append(body["attachments"][0]["text"])
            elif service == "pagerduty":
                notification = from_title(receiver, body["payload"]["summary"])
                status = "resolved" if body["event_action"] == "resolve" else "firing"
                inbox.add(replace(notification, status=status))
            elif service == "opsgenie":  # create: .../v2/alerts; close: .../v2/alerts/<alias>/close
                if rest[-1] == "close":
                    inbox.add(replace(inbox.opsgenie_aliases[rest[-2]], status="resolved"))
                else:
                    notification = from_title(receiver, body["message"])
                    inbox.opsgenie_aliases[body["alias"]] = notification
                    inbox.add(notification)
            elif service == "msteams":
                inbox.add(from_title(receiver, body["attachments"][0]["content"]["body"][0]["text"]))
            else:
                inbox.add(from_webhook(receiver, body))
            answer = b"ok" if service == "slack" else b"{}"
            self.send_response(202 if service in ("pagerduty", "opsgenie") else 200)
            self.send_header("Content-Type", "text/plain" if service == "slack" else "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    with serve_on_loopback(Handler) as port:
        yield port


@contextmanager
def smtp_server(inbox: Inbox, receiver: str) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that accepts mail after AUTH with the test credentials."""

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if not session.authenticated:
                return "530 Authentication required"
            message = email.message_from_bytes(envelope.content)
            inbox.add(
                from_title(receiver, str(email.header.make_header(email.header.decode_header(message["Subject"]))))
            )
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(
            success=auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
        )

    port = free_port()
    # PLAIN without TLS, which Go's net/smtp allows towards localhost only. Not LOGIN: aiosmtpd's
    # LOGIN challenge ("User Name") is not the "Username:" Alertmanager's LOGIN client expects.
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
        loop=asyncio.new_event_loop(),
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def e2e_alerting(http: str, smtp_port: int, msteams: bool) -> dict:
    receivers = {
        "platform": {"type": "slack", "apiURL": f"{http}/slack/platform", "channel": "#flux"},
        "oncall": {"type": "pagerduty", "routingKey": "pd-e2e-key", "url": f"{http}/pagerduty/oncall"},
        "team-a": {"type": "webhook", "url": f"{http}/webhook/team-a"},
        "team-b": {"type": "opsgenie", "apiKey": "og-e2e-key", "apiURL": f"{http}/opsgenie/team-b/"},
        "team-c": {
            "type": "email",
            "to": "team-c@example.com",
            "from": "alertmanager@example.com",
            "smarthost": f"127.0.0.1:{smtp_port}",
            "authUsername": SMTP_USER,
            "authPassword": SMTP_PASSWORD,
            "requireTLS": False,
        },
        "deadman": {"type": "webhook", "url": f"{http}/webhook/deadman", "sendResolved": False},
        TEAM_RECEIVER: {"type": "webhook", "url": f"{http}/webhook/{TEAM_RECEIVER}"},
    }
    tenants = {"team-000": "team-a", "team-001": "team-b", "team-002": "team-c"}
    if msteams:
        receivers["team-d"] = {"type": "msteams", "webhookUrl": f"{http}/msteams/team-d"}
        tenants["team-003"] = "team-d"
    return {
        "receivers": receivers,
        "route": {
            "default": "platform",
            "bySeverity": {"page": "oncall"},
            "byNamespace": tenants,
            "byObjectLabel": {"team": {TEAM: TEAM_RECEIVER}},
            "groupWait": GROUP_WAIT,
            "groupInterval": GROUP_INTERVAL,
            "repeatInterval": "1h",
        },
        "heartbeat": {"receiver": "deadman", "interval": HEARTBEAT},
    }


def e2e_settings(alerting: dict):
    # A controller counts as down only after a few missed scrapes: before Prometheus' first scrapes its
    # targets are absent, which must not page.
    alerts = {"reconciliationFailure": {"for": "0s"}, "sourceFailure": {"for": "0s"}, "controllerDown": {"for": "3s"}}
    return load_settings(
        {
            "alerting": json.dumps(alerting),
            "alerts": json.dumps(alerts),
            "fluxVersion": FLUX_MINOR,
            "fluxMetrics": "resource-info",
            "fluxComponents": json.dumps(list(CONTROLLERS)),
            "objectLabels": json.dumps(["team"]),
        },
        secret_keys={"alerting"},
        kube_context="test",
    )


@dataclass
class Story:
    inbox: Inbox
    alertmanager: object
    msteams: bool
    refused_while_down: int = 0
    late_alert_states: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    # The team-labelled objects' alerts as Alertmanager holds them, and the config it runs.
    team_alerts: dict[str, dict] = field(default_factory=dict)
    config: str = ""


def failing(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}"


def fired(alertname: str, thing: tuple[str, str, str]):
    def found(received: list[Notification]) -> bool:
        return any(n.alertname == alertname and n.object == failing(*thing) for n in received)

    return found


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Iterator[Story]:
    prometheus_binary = require_tool("prometheus")
    started = time.monotonic()
    inbox = Inbox(down={"team-a"})
    msteams = msteams_supported()
    objects = [
        flux_object(*PAGE_KUSTOMIZATION, "False", team="search"),  # a team without a route of its own
        flux_object(*PAGE_HELMRELEASE, "False"),
        flux_object(*WARNING_GITREPOSITORY, "False"),
        flux_object(*RECOVERING_HELMCHART, "False"),
        flux_object(*LATE_KUSTOMIZATION, "True"),
        flux_object("Kustomization", "team-000", "healthy", "True"),
        flux_object("HelmRelease", "team-002", "healthy", "True"),
        flux_object("GitRepository", "flux-system", "flux-system", "True"),
        flux_object(*TEAM_KUSTOMIZATION, "False", team=TEAM),
        flux_object(*TEAM_GITREPOSITORY, "False", team=TEAM),
        flux_object("HelmRelease", "shop", "healthy", "True", team=TEAM),
    ]
    release = MatrixRelease.of(yaml.safe_load(upstream_file("flux/matrix.yaml").read_text()), FLUX_MINOR)
    # The story changes the objects and the controllers that are down while the fleet is served.
    down: set[str] = set()
    with ExitStack() as stack:
        http = f"http://127.0.0.1:{stack.enter_context(serve_receivers(inbox))}"
        smtp_port = stack.enter_context(smtp_server(inbox, "team-c"))
        settings = e2e_settings(e2e_alerting(http, smtp_port, msteams))
        # kube-state-metrics' series follow the program's own custom resource state config.
        ksm = kube_state_metrics_values(settings)["customResourceState"]["config"]["spec"]
        fleet = Fleet(release=release, objects=objects, controllers=CONTROLLERS, down=down, custom_resource_state=ksm)
        config = alertmanager_config_yaml(settings.alerting, DASHBOARD)
        alertmanager = stack.enter_context(start_alertmanager(config, tmp_path_factory.mktemp("alertmanager")))
        fleet_port = stack.enter_context(serve_fleet(fleet))
        groups = rule_groups_evaluated_every([*flux_rule_groups(settings), WATCHDOG_GROUP], INTERVAL)
        configs = scrape_configs(fleet_port, fleet, flux_pod_monitors(settings), kube_state_metrics=True)
        stack.enter_context(
            start_prometheus(
                prometheus_binary,
                tmp_path_factory.mktemp("prometheus"),
                configs,
                INTERVAL,
                groups,
                alertmanagers=[alertmanager.url.removeprefix("http://")],
            )
        )
        result = Story(inbox, alertmanager, msteams, config=config)

        # 1. The failing objects reach their receivers; team-a is down, then back.
        deadline = time.monotonic() + DEADLINE
        for alertname, thing in (
            ("ReconciliationFailure", PAGE_KUSTOMIZATION),
            ("ReconciliationFailure", PAGE_HELMRELEASE),
            ("FluxSourceFailure", WARNING_GITREPOSITORY),
            ("FluxSourceFailure", RECOVERING_HELMCHART),
            ("ReconciliationFailure", TEAM_KUSTOMIZATION),
            ("FluxSourceFailure", TEAM_GITREPOSITORY),
        ):
            inbox.wait_for(f"{alertname} {thing}", fired(alertname, thing), deadline)
        for alertname, thing in (
            ("ReconciliationFailure", TEAM_KUSTOMIZATION),
            ("FluxSourceFailure", TEAM_GITREPOSITORY),
        ):
            [alert] = alertmanager.alerts(alertname=alertname, name=thing[2])
            result.team_alerts[alertname] = alert
        time.sleep(max(0.0, RECEIVER_DOWN_SECONDS - (time.monotonic() - started)))
        result.refused_while_down = inbox.refused["team-a"]
        inbox.down.clear()
        inbox.wait_for(
            "team-a once it is back", lambda r: any(n.receiver == "team-a" for n in r), time.monotonic() + DEADLINE
        )

        # 2. The HelmChart recovers.
        objects[3] = replace(objects[3], ready="True")
        inbox.wait_for(
            "the HelmChart's resolved notification",
            lambda r: any(n.status == "resolved" and n.object == failing(*RECOVERING_HELMCHART) for n in r),
            time.monotonic() + DEADLINE,
        )

        # 3. The kustomize-controller goes down, then a Kustomization fails: its alert is held back.
        down.add("kustomize-controller")
        inbox.wait_for(
            "FluxControllerDown",
            lambda r: any(n.alertname == "FluxControllerDown" for n in r),
            time.monotonic() + DEADLINE,
        )
        objects[4] = replace(objects[4], ready="False")
        late = {"alertname": "ReconciliationFailure", "exported_namespace": LATE_KUSTOMIZATION[1]}
        deadline = time.monotonic() + DEADLINE
        while not alertmanager.alerts(**late) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3 * 2.0)  # three group intervals: time enough to notify, were it not inhibited
        result.late_alert_states = alertmanager.alerts(**late)
        result.seconds = time.monotonic() - started
        yield result


def firing(story: Story, alertname: str | None = None) -> Counter:
    return Counter(
        (n.receiver, n.alertname, n.object)
        for n in story.inbox.received
        if n.status == "firing" and (alertname is None or n.alertname == alertname)
    )


def test_each_failing_object_is_one_notification_at_exactly_the_receivers_its_route_names(story):
    objects = Counter(
        {key: count for key, count in firing(story).items() if key[1] in ("ReconciliationFailure", "FluxSourceFailure")}
    )
    expected = Counter(
        {
            # page: the on-call PagerDuty, plus the tenant's own receiver
            ("oncall", "ReconciliationFailure", failing(*PAGE_KUSTOMIZATION)): 1,
            ("team-a", "ReconciliationFailure", failing(*PAGE_KUSTOMIZATION)): 1,
            ("oncall", "ReconciliationFailure", failing(*PAGE_HELMRELEASE)): 1,
            ("team-b", "ReconciliationFailure", failing(*PAGE_HELMRELEASE)): 1,
            # warning: the platform's Slack, plus the tenant's
            ("platform", "FluxSourceFailure", failing(*WARNING_GITREPOSITORY)): 1,
            ("team-c", "FluxSourceFailure", failing(*WARNING_GITREPOSITORY)): 1,
            ("platform", "FluxSourceFailure", failing(*RECOVERING_HELMCHART)): 1,
            # labelled team: payments: the team's receiver, plus the platform's by severity
            ("oncall", "ReconciliationFailure", failing(*TEAM_KUSTOMIZATION)): 1,
            (TEAM_RECEIVER, "ReconciliationFailure", failing(*TEAM_KUSTOMIZATION)): 1,
            ("platform", "FluxSourceFailure", failing(*TEAM_GITREPOSITORY)): 1,
            (TEAM_RECEIVER, "FluxSourceFailure", failing(*TEAM_GITREPOSITORY)): 1,
        }
    )
    if story.msteams:
        expected[("team-d", "FluxSourceFailure", failing(*RECOVERING_HELMCHART))] = 1
    assert objects == expected


def test_tenants_get_their_own_namespaces_objects_only(story):
    for receiver, namespace in (("team-a", "team-000"), ("team-b", "team-001"), ("team-c", "team-002")):
        objects = {n.object for n in story.inbox.of(receiver)}
        assert objects and all(o.split(" ")[1].startswith(f"{namespace}/") for o in objects), receiver


def test_a_team_gets_the_alerts_of_the_objects_labelled_with_it_only(story):
    assert {n.object for n in story.inbox.of(TEAM_RECEIVER)} == {
        failing(*TEAM_KUSTOMIZATION),
        failing(*TEAM_GITREPOSITORY),
    }


def test_the_real_alerts_carry_the_objects_team_label_and_amtool_routes_them_to_team_and_platform(story, tmp_path):
    path = tmp_path / "alertmanager.yaml"
    path.write_text(story.config)
    expected = {"ReconciliationFailure": [TEAM_RECEIVER, "oncall"], "FluxSourceFailure": [TEAM_RECEIVER, "platform"]}
    for alertname, alert in story.team_alerts.items():
        labels = alert["labels"]
        assert labels["label_team"] == TEAM
        done = subprocess.run(
            [amtool(), "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().split(",") == expected[alertname]
        assert {r["name"] for r in alert["receivers"]} == set(expected[alertname])


def test_every_receiver_type_delivered(story):
    receivers = {n.receiver for n in story.inbox.received}
    # slack, pagerduty, webhook, opsgenie, email (and msteams where Alertmanager has it)
    assert receivers >= {"platform", "oncall", "team-a", "team-b", "team-c", "deadman"}
    assert ("team-d" in receivers) == story.msteams


def test_the_heartbeat_arrives_repeatedly_at_its_receiver_only(story):
    heartbeats = story.inbox.of("deadman")
    assert len(heartbeats) >= 3 and {n.alertname for n in heartbeats} == {"Watchdog"}
    # one every HEARTBEAT (2s) to 1.1 times that (alertmanager_config.py), plus delivery time
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(heartbeats)]
    assert all(1.5 <= gap <= 2 * 1.1 + 1.5 for gap in gaps), gaps  # delivery times vary on a busy machine
    assert not [n for n in story.inbox.received if n.alertname == "Watchdog" and n.receiver != "deadman"]


def test_a_receiver_that_was_down_gets_every_notification_once_back(story):
    assert story.refused_while_down >= 1  # Alertmanager did try while it was down
    assert firing(story)[("team-a", "ReconciliationFailure", failing(*PAGE_KUSTOMIZATION))] == 1


def test_a_recovered_object_sends_a_resolved_notification(story):
    resolved = [n for n in story.inbox.received if n.status == "resolved"]
    assert {(n.receiver, n.object) for n in resolved if n.object == failing(*RECOVERING_HELMCHART)} >= {
        ("platform", failing(*RECOVERING_HELMCHART))
    }
    assert not [n for n in resolved if n.object != failing(*RECOVERING_HELMCHART)]


def test_a_controller_down_pages_and_holds_back_the_alerts_of_its_kinds(story):
    assert firing(story, "FluxControllerDown") == Counter({("oncall", "FluxControllerDown", ""): 1})
    [late] = story.late_alert_states
    assert late["status"]["state"] == "suppressed" and late["status"]["inhibitedBy"]
    assert not [n for n in story.inbox.received if n.object == failing(*LATE_KUSTOMIZATION)]


def test_a_page_silences_the_warning_about_the_same_object(story):
    obj = {"kind": "Kustomization", "exported_namespace": "team-999", "name": "synthetic"}
    story.alertmanager.post(
        [
            {"labels": {"alertname": "SyntheticPage", "severity": "page", **obj}},
            {"labels": {"alertname": "SyntheticWarning", "severity": "warning", **obj}},
            {"labels": {"alertname": "OtherWarning", "severity": "warning", **obj, "name": "another"}},
        ]
    )
    states = {
        a["labels"]["alertname"]: a["status"]["state"] for a in story.alertmanager.alerts(exported_namespace="team-999")
    }
    assert states == {"SyntheticPage": "active", "SyntheticWarning": "suppressed", "OtherWarning": "active"}


def test_the_charts_info_inhibitor_pattern_still_holds(story):
    story.alertmanager.post(
        [
            {"labels": {"alertname": "InfoInhibitor", "severity": "none", "namespace": "apps"}},
            {"labels": {"alertname": "SomethingInfo", "severity": "info", "namespace": "apps"}},
        ]
    )
    states = {a["labels"]["alertname"]: a["status"]["state"] for a in story.alertmanager.alerts(namespace="apps")}
    assert states["SomethingInfo"] == "suppressed"


def test_the_story_is_quick(story):
    assert story.seconds < 90


def test_an_alert_flux_sends_expires_after_the_resolve_timeout_and_reaches_its_tenant(story):
    # As notification-controller's alertmanager provider posts an error event (internal/notifier/
    # alertmanager.go, main 2e46958a67f3): firing, startsAt only, the object's namespace as namespace.
    labels = {
        "alertname": "FluxKustomizationReconciliationFailed",
        "severity": "error",
        "reason": "ReconciliationFailed",
        "kind": "Kustomization",
        "name": "apps",
        "namespace": "team-000",
        "reportingcontroller": "kustomize-controller",
    }
    story.alertmanager.post(
        [
            {
                "labels": labels,
                "annotations": {"message": "kustomize build failed"},
                "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        ]
    )
    [alert] = story.alertmanager.alerts(alertname="FluxKustomizationReconciliationFailed")
    starts, ends = (time.mktime(time.strptime(alert[key][:19], "%Y-%m-%dT%H:%M:%S")) for key in ("updatedAt", "endsAt"))
    assert 3600 - 5 <= ends - starts <= 3600 + 5  # RESOLVE_TIMEOUT: it does not stay forever
    assert {r["name"] for r in alert["receivers"]} == {"team-a", "platform"}


def test_messages_say_what_and_where_with_the_ready_reason_and_a_filtered_dashboard_link(story):
    [text] = [
        t
        for t in story.inbox.slack_texts
        if f"{WARNING_GITREPOSITORY[1]}/{WARNING_GITREPOSITORY[2]}" in t and "fetch" in t
    ][:1]
    assert f"GitRepository {WARNING_GITREPOSITORY[1]}/{WARNING_GITREPOSITORY[2]}" in text
    assert "Reason: GitOperationFailed" in text  # the Ready reason kube-state-metrics reports (tests/flux_fleet.py)
    assert f"Dashboard: {DASHBOARD}?var-exported_namespace={WARNING_GITREPOSITORY[1]}" in text
    assert "Runbook: docs/runbooks.md#fluxsourcefailure" in text
