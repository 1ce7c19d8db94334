"""Alerting configs the tests share, modelled on the receivers' documented forms (never on the builder).

Credentials are test-only markers, distinctive enough that a scan for them finds every leak.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from flux_monitoring.config.alerting import AlertingSettings
from flux_monitoring.config.settings import load_settings
from tests.support.flux_fleet import free_port, stop
from tests.support.signals_tools import require_tool

DASHBOARD = "https://grafana.example.com/d/flux-cluster"

# One credential per secret field, each unique, so a leak names its source.
CREDENTIALS = {
    "slack": "https://hooks.slack.com/services/T0TEST/B0TEST/slack-cred-4f1e",
    "pagerduty": "pd-routing-cred-8c2a",
    "msteams": "https://prod-00.westeurope.logic.azure.com/workflows/msteams-cred-1b7d",
    "webhook": "https://hc-ping.com/webhook-cred-5e9f",
    "email": "smtp-password-cred-3a6c",
    "opsgenie": "opsgenie-key-cred-9d0b",
}

EVERY_RECEIVER_TYPE = {
    "receivers": {
        "platform": {"type": "slack", "apiURL": CREDENTIALS["slack"], "channel": "#flux"},
        "oncall": {
            "type": "pagerduty",
            "routingKey": CREDENTIALS["pagerduty"],
            "url": "https://events.eu.pagerduty.com/v2/enqueue",
        },
        "team-a": {"type": "msteams", "webhookUrl": CREDENTIALS["msteams"]},
        "deadman": {"type": "webhook", "url": CREDENTIALS["webhook"], "sendResolved": False},
        "team-b": {
            "type": "email",
            "to": "team-b@example.com",
            "from": "alertmanager@example.com",
            "smarthost": "smtp.example.com:587",
            "authUsername": "alertmanager",
            "authPassword": CREDENTIALS["email"],
        },
        "team-c": {"type": "opsgenie", "apiKey": CREDENTIALS["opsgenie"], "apiURL": "https://api.eu.opsgenie.com/"},
    },
    "route": {
        "default": "platform",
        "bySeverity": {"page": "oncall"},
        "byNamespace": {"team-a": "team-a", "team-b": "team-b", "team-c": "team-c"},
        "byObjectLabel": {"team": {"payments": "team-c"}},
        "groupWait": "30s",
        "groupInterval": "5m",
        "repeatInterval": "4h",
    },
    "heartbeat": {"receiver": "deadman", "interval": "1m"},
}


# Where each receiver type keeps its credential.
CREDENTIAL_KEYS = {
    "slack": "apiURL",
    "pagerduty": "routingKey",
    "msteams": "webhookUrl",
    "webhook": "url",
    "opsgenie": "apiKey",
}


def with_credentials(alerting_text: str) -> str:
    """A shipped stack's `alerting` as Pulumi hands it over once the README's
    `pulumi config set --secret --path ...` commands have been run: every credential present."""
    raw = json.loads(alerting_text)
    for receiver in raw.get("receivers", {}).values():
        key = CREDENTIAL_KEYS.get(receiver["type"])
        if key is not None:
            receiver.setdefault(key, CREDENTIALS[receiver["type"]])
    return json.dumps(raw)


def alerting_settings(raw: dict) -> AlertingSettings:
    """``raw`` as the program reads it: the `alerting` key held as a secret (set with --secret --path),
    with objectLabels listing the keys its routes name."""
    keys = sorted((raw.get("route") or {}).get("byObjectLabel", {}))
    config = {"alerting": json.dumps(raw), "objectLabels": json.dumps(keys)}
    return load_settings(config, secret_keys={"alerting"}, kube_context="test").alerting


def every_receiver_type() -> AlertingSettings:
    return alerting_settings(EVERY_RECEIVER_TYPE)


def alertmanager_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    major, minor = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr).groups()
    return int(major), int(minor)


# Microsoft Teams Workflows (msteamsv2_configs) arrived in Alertmanager 0.28.0
# (prometheus/alertmanager d4009f5e9, #4024); Debian bookworm ships 0.25.
MSTEAMSV2_SINCE = (0, 28)


def amtool() -> str:
    return require_tool("amtool", package="prometheus-alertmanager")


def check_config(text: str, workdir: Path) -> subprocess.CompletedProcess:
    path = workdir / "alertmanager.yaml"
    path.write_text(text)
    return subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)


def msteams_supported() -> bool:
    return alertmanager_version(amtool()) >= MSTEAMSV2_SINCE


def skip_without_msteams() -> None:
    if not msteams_supported():
        pytest.skip("this amtool/Alertmanager predates msteamsv2_configs (0.28); see README Alerting")


# -- a real Alertmanager on 127.0.0.1 -----------------------------------------------------------------


class Alertmanager:
    """The HTTP API (v2) of a running Alertmanager."""

    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def alerts(self, **filters: str) -> list[dict]:
        matchers = [f'{k}="{v}"' for k, v in filters.items()]
        response = requests.get(f"{self.url}/api/v2/alerts", params={"filter": matchers}, timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, alerts: list[dict]) -> None:
        requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()


@contextmanager
def start_alertmanager(config_text: str, workdir: Path, startup: float = 30.0) -> Iterator[Alertmanager]:
    """``prometheus-alertmanager`` on 127.0.0.1 at a free port, running ``config_text``; stopped after.

    Clustering is off (no gossip port): a single instance, like a test needs.
    """
    binary = require_tool("prometheus-alertmanager", package="prometheus-alertmanager")
    port = free_port()
    (workdir / "alertmanager.yaml").write_text(config_text)
    with (workdir / "alertmanager.log").open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'alertmanager.yaml'}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            alertmanager = Alertmanager(f"http://127.0.0.1:{port}", process)
            deadline = time.monotonic() + startup
            while True:
                if process.poll() is not None:
                    raise AssertionError(
                        f"alertmanager exited with {process.returncode}: {(workdir / 'alertmanager.log').read_text()}"
                    )
                try:
                    if requests.get(f"{alertmanager.url}/-/ready", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("timed out waiting for alertmanager to start")
                time.sleep(0.2)
            yield alertmanager
        finally:
            stop(process)
