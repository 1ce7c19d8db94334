"""The Grafana admin password reaches the cluster only as Secret data and leaves only as a secret."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.gitops_stacks import STACKS

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


@pytest.mark.parametrize("stack", STACKS)
def test_configured_password_appears_only_in_secret_data(stack):
    run = run_stack(stack, password=PROD_PASSWORD)
    assert places_holding(run, PROD_PASSWORD) == []
    assert run.one(SECRET, "grafana-admin").inputs["stringData"]["admin-password"] == PROD_PASSWORD


def test_generated_password_appears_only_in_secret_data():
    run = run_stack("staging")
    generated = run.exports["grafanaAdminPassword"]
    assert len(generated) == 32
    assert places_holding(run, generated) == []
    assert run.one(SECRET, "grafana-admin").inputs["stringData"]["admin-password"] == generated


def test_generated_password_is_long_and_kept_in_state():
    generator = run_stack("staging").one("random:index/randomPassword:RandomPassword", "grafana-admin-password").inputs
    assert generator["length"] >= 24
    # No keepers or triggers: nothing replaces it once generated.
    assert "keepers" not in generator


def unkeyed_hashes(password: str) -> list[str]:
    """Digests anyone could test guessed passwords against."""
    return [hashlib.new(name, password.encode()).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")]


@pytest.mark.parametrize("stack", STACKS)
def test_no_unkeyed_hash_of_the_password_appears_anywhere(stack):
    # The rotation checksum on Grafana's pod template is keyed (HMAC with a secret random key).
    run = run_stack(stack, password=PROD_PASSWORD)
    assert "checksum/grafana-admin" in json.dumps(run.one("kubernetes:helm.sh/v3:Release").inputs["values"])
    for digest in unkeyed_hashes(PROD_PASSWORD):
        assert places_holding(run, digest) == []


def test_the_scan_finds_a_password_leaked_into_helm_values():
    run = run_stack("staging", password=PROD_PASSWORD)
    release = next(r for r in run.resources if r.type == "kubernetes:helm.sh/v3:Release")
    release.inputs["values"]["grafana"]["adminPassword"] = PROD_PASSWORD
    assert places_holding(run, PROD_PASSWORD) == ["kubernetes:helm.sh/v3:Release kube-prometheus-stack: values"]


# -- secrets discipline beyond the password scan -------------------------------------------------

import logging  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from flux_monitoring.config.settings import SettingsError  # noqa: E402
from tests.conftest import ALERTING_KEY, PASSWORD_KEY  # noqa: E402
from tests.support.alerting_examples import with_credentials  # noqa: E402
from tests.support.pulumi_harness import ROOT, ProgramRun, run_program, stack_config  # noqa: E402

GITOPS_PROD = {
    "flux-monitoring:delivery": "gitops",
    "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", "tag": "v1.0.0"}),
}


def test_in_gitops_delivery_the_password_appears_only_in_secret_data_and_the_secret_export():
    run = run_stack("prod", GITOPS_PROD, password=PROD_PASSWORD)
    assert any(r.type.endswith(":GitRepository") for r in run.resources)
    assert places_holding(run, PROD_PASSWORD) == []
    assert run.secret_exports == {"grafanaAdminPassword"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_secret_input_is_secret_data_of_a_secret(stack):
    # Anything the program marks secret is Secret data: nothing else carries a secret to the cluster.
    run = run_stack(stack, password=PROD_PASSWORD)
    secret_places = {(r.type, path) for r in run.resources for path in r.secret_inputs}
    assert secret_places == {(SECRET, "stringData")}


def test_a_successful_run_logs_no_secret(caplog):
    with caplog.at_level(logging.DEBUG):
        run_stack("prod", password=PROD_PASSWORD)
    assert PROD_PASSWORD not in caplog.text


def prod_config() -> dict[str, str]:
    """The shipped prod stack's config with its alerting credentials set (held as a secret)."""
    config = stack_config("prod")
    config[ALERTING_KEY] = with_credentials(config[ALERTING_KEY])
    return config


def _fails_quietly(config: dict[str, str], secret_keys: tuple[str, ...], secret: str, caplog) -> SettingsError:
    """Runs a bad config holding ``secret``; the error and every log line must not show it."""
    secret_keys = (*secret_keys, ALERTING_KEY)
    run = ProgramRun()
    with caplog.at_level(logging.DEBUG), pytest.raises(SettingsError) as caught:
        run_program(config, secret_keys, stack="prod", run=run)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert secret not in caplog.text
    assert run.resources == []
    return caught.value


def test_a_bad_config_that_includes_the_secret_does_not_echo_it(caplog):
    config = {**prod_config(), PASSWORD_KEY: PROD_PASSWORD, "flux-monitoring:namespace": "Bad_Namespace"}
    error = _fails_quietly(config, (PASSWORD_KEY,), PROD_PASSWORD, caplog)
    assert [p.split(":")[0] for p in error.problems] == ["namespace"]


def test_a_weak_secret_password_is_refused_without_echoing_it(caplog):
    weak = "Sh0rt-pw"
    config = {**prod_config(), PASSWORD_KEY: weak}
    error = _fails_quietly(config, (PASSWORD_KEY,), weak, caplog)
    assert error.problems == [
        "grafanaAdminPassword: got [secret]; expected at least 12 characters and not a well-known default password"
    ]


def test_a_password_set_in_plain_text_is_refused_without_echoing_it(caplog):
    config = {**prod_config(), PASSWORD_KEY: PROD_PASSWORD}
    error = _fails_quietly(config, (), PROD_PASSWORD, caplog)
    assert error.problems == [
        "grafanaAdminPassword: got [secret]; expected a secret: "
        "set it with pulumi config set --secret grafanaAdminPassword"
    ]


def test_a_misspelt_secret_key_is_refused_without_echoing_its_value(caplog):
    misspelt = "flux-monitoring:grafanaAdminPasword"
    config = {**prod_config(), PASSWORD_KEY: PROD_PASSWORD, misspelt: "An0ther-secret-value"}
    error = _fails_quietly(config, (PASSWORD_KEY, misspelt), "An0ther-secret-value", caplog)
    assert error.problems[0].startswith("grafanaAdminPasword: got [secret]; expected no such key")


def test_a_secret_structured_value_is_refused_without_echoing_it(caplog):
    # e.g. `pulumi config set --secret gitops '{...}'` with credentials in the URL
    token_url = "https://user:tok3n-value@github.com/example/fleet"
    config = {
        **prod_config(),
        PASSWORD_KEY: PROD_PASSWORD,
        "flux-monitoring:delivery": "gitops",
        "flux-monitoring:gitops": json.dumps({"url": token_url, "tag": "v1 bad"}),
    }
    error = _fails_quietly(config, (PASSWORD_KEY, "flux-monitoring:gitops"), "tok3n-value", caplog)
    assert [p.split(":")[0] for p in error.problems] == ["gitops.url", "gitops.tag"]


def test_a_render_of_a_stack_holding_a_plain_text_password_fails_without_echoing_it_or_writing(tmp_path):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    config[PASSWORD_KEY] = PROD_PASSWORD  # a mistake: not set with --secret
    (project / "stacks" / "Pulumi.leaky.yaml").write_text(yaml.safe_dump({"config": config}))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "render.py"), "--stack", "leaky", "--out", str(out), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "grafanaAdminPassword: got [secret]" in done.stderr
    assert PROD_PASSWORD not in done.stdout + done.stderr
    assert not Path(out).exists() or not any(Path(out).rglob("*.yaml"))


# -- alerting credentials: the same discipline ----------------------------------------------------

from tests.support.alerting_examples import CREDENTIALS  # noqa: E402

ALERTMANAGER_SECRET = "alertmanager-config"


def credentials_of(stack: str) -> list[str]:
    """The test credentials the stack's receivers hold once set (see tests/alerting_examples.py)."""
    receivers = json.loads(stack_config(stack)[ALERTING_KEY])["receivers"]
    return [CREDENTIALS[receiver["type"]] for receiver in receivers.values()]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_alerting_credentials_appear_only_in_the_alertmanager_configuration_secret(stack):
    run = run_stack(stack, password=PROD_PASSWORD)
    configuration = run.one(SECRET, ALERTMANAGER_SECRET)
    assert "stringData" in configuration.secret_inputs
    for credential in credentials_of(stack):
        assert places_holding(run, credential) == []
        assert credential in configuration.inputs["stringData"]["alertmanager.yaml"]
        assert not [r.name for r in run.resources if credential in json.dumps(r.inputs) and r is not configuration]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_successful_run_logs_no_alerting_credential(stack, caplog):
    with caplog.at_level(logging.DEBUG):
        run_stack(stack, password=PROD_PASSWORD)
    assert not [c for c in credentials_of(stack) if c in caplog.text]


def test_the_scan_finds_a_credential_leaked_into_helm_values():
    run = run_stack("prod", password=PROD_PASSWORD)
    run.one("kubernetes:helm.sh/v3:Release").inputs["values"]["alertmanager"]["note"] = CREDENTIALS["pagerduty"]
    assert places_holding(run, CREDENTIALS["pagerduty"]) == [
        "kubernetes:helm.sh/v3:Release kube-prometheus-stack: values"
    ]


def test_a_bad_alerting_config_does_not_echo_its_credentials(caplog):
    config = prod_config()
    alerting = json.loads(config[ALERTING_KEY])
    alerting["receivers"]["oncall"]["url"] = "not a url"
    alerting["receivers"]["platform"]["apiURL"] = "hooks.slack.com/" + CREDENTIALS["slack"]  # no scheme
    config[ALERTING_KEY] = json.dumps(alerting)
    error = _fails_quietly({**config, PASSWORD_KEY: PROD_PASSWORD}, (PASSWORD_KEY,), CREDENTIALS["slack"], caplog)
    assert [p.split(": got ")[0] for p in error.problems] == [
        "alerting.receivers.oncall.url",
        "alerting.receivers.platform.apiURL",
    ]
    assert CREDENTIALS["pagerduty"] not in str(error)
    assert 'alerting.receivers.oncall.url: got "not a url"' in error.problems[0]  # not a credential: shown


def test_alerting_credentials_in_plain_text_are_refused_without_echoing_them(caplog):
    config = {**prod_config(), PASSWORD_KEY: PROD_PASSWORD}
    run = ProgramRun()
    with caplog.at_level(logging.DEBUG), pytest.raises(SettingsError) as caught:
        run_program(config, (PASSWORD_KEY,), stack="prod", run=run)  # alerting not held as a secret
    assert [p.split(": got ")[0] for p in caught.value.problems] == [
        "alerting.receivers.oncall.routingKey",
        "alerting.receivers.platform.apiURL",
        "alerting.receivers.deadman.url",
    ]
    for credential in credentials_of("prod"):
        assert credential not in str(caught.value) and credential not in caplog.text
    assert run.resources == []


# -- fleet credentials: remote write targets and Grafana data sources -----------------------------

RW_PASSWORD = "rw-password-for-tests-2c9d"
RW_TOKEN = "rw-token-for-tests-8a41"
DS_PASSWORD = "ds-password-for-tests-5e0f"
FLEET_CREDENTIALS = (RW_PASSWORD, RW_TOKEN, DS_PASSWORD)
REMOTE_WRITE_KEY = "flux-monitoring:remoteWrite"
GRAFANA_KEY = "flux-monitoring:grafana"
FLEET = {
    REMOTE_WRITE_KEY: json.dumps(
        [
            {
                "name": "mimir",
                "url": "https://mimir.example.com/api/v1/push",
                "headers": {"X-Scope-OrgID": "platform"},
                "basicAuth": {"username": "fleet-writer", "password": RW_PASSWORD},
            },
            {"name": "vm", "url": "https://vm.example.com/api/v1/write", "bearerToken": RW_TOKEN},
        ]
    ),
    GRAFANA_KEY: json.dumps(
        {
            "adminUser": "admin",
            "datasources": [
                {
                    "name": "fleet",
                    "url": "https://mimir.example.com/prometheus",
                    "default": True,
                    "basicAuth": {"username": "reader", "password": DS_PASSWORD},
                }
            ],
        }
    ),
}


def prod_with_fleet() -> dict[str, str]:
    """The prod stack with its alerting credentials (as run_stack sets them), its password and FLEET."""
    return {**prod_config(), PASSWORD_KEY: PROD_PASSWORD, **FLEET}


FLEET_SECRET_KEYS = (PASSWORD_KEY, ALERTING_KEY, REMOTE_WRITE_KEY, GRAFANA_KEY)


def fleet_run(overrides: dict[str, str] | None = None) -> ProgramRun:
    return run_program({**prod_with_fleet(), **(overrides or {})}, FLEET_SECRET_KEYS, stack="prod")


@pytest.mark.parametrize("overrides", [{}, GITOPS_PROD], ids=["direct", "gitops"])
def test_fleet_credentials_appear_only_in_secret_data(overrides):
    run = fleet_run(overrides)
    for credential in FLEET_CREDENTIALS:
        assert places_holding(run, credential) == []
    secrets = {r.name: r.inputs["stringData"] for r in run.of_type(SECRET)}
    assert secrets["remote-write-credentials"] == {
        "mimir-username": "fleet-writer",
        "mimir-password": RW_PASSWORD,
        "vm-bearer-token": RW_TOKEN,
    }
    assert secrets["grafana-datasource-credentials"]["FLUX_MONITORING_DATASOURCE_0_PASSWORD"] == DS_PASSWORD
    assert run.secret_exports == {"grafanaAdminPassword"}


def test_fleet_credentials_are_secret_inputs_and_the_release_waits_for_their_secrets():
    run = fleet_run()
    assert {(r.type, path) for r in run.resources for path in r.secret_inputs} == {(SECRET, "stringData")}
    release = run.one("kubernetes:helm.sh/v3:Release")
    fleet_secrets = {
        r.urn for r in run.of_type(SECRET) if r.name in ("remote-write-credentials", "grafana-datasource-credentials")
    }
    assert len(fleet_secrets) == 2 and fleet_secrets <= set(release.dependencies)


def test_a_fleet_run_logs_no_credential(caplog):
    with caplog.at_level(logging.DEBUG):
        fleet_run()
    assert not [credential for credential in FLEET_CREDENTIALS if credential in caplog.text]


def test_a_bad_fleet_config_does_not_echo_its_credentials(caplog):
    config = {**prod_with_fleet(), REMOTE_WRITE_KEY: FLEET[REMOTE_WRITE_KEY].replace('"mimir"', '"Mimir"')}
    error = _fails_quietly(config, FLEET_SECRET_KEYS, RW_PASSWORD, caplog)
    assert error.problems == [
        "remoteWrite[0].name: got [secret]; expected a DNS-1123 label such as mimir "
        "(names the queue and its credential keys)"
    ]


@pytest.mark.parametrize("key, credential", [(REMOTE_WRITE_KEY, RW_PASSWORD), (GRAFANA_KEY, DS_PASSWORD)])
def test_fleet_credentials_set_in_plain_text_are_refused_without_echoing_them(caplog, key, credential):
    others = tuple(k for k in FLEET_SECRET_KEYS if k != key)
    error = _fails_quietly(prod_with_fleet(), others, credential, caplog)
    assert [p.split(":")[0] for p in error.problems] == [key.split(":")[1]]
    assert "expected credentials set as secrets" in error.problems[0]


def render_edited(tmp_path: Path, stack: str, edit) -> tuple[subprocess.CompletedProcess, Path]:
    """Renders a copy of a shipped stack whose config ``edit`` changed (in place); returns the run and OUT."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    edit(config)
    (project / "stacks" / "Pulumi.edited.yaml").write_text(yaml.safe_dump({"config": config}))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "render.py"), "--stack", "edited", "--out", str(out), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, out


def test_a_render_of_a_stack_with_encrypted_credentials_writes_everything_but_them(tmp_path):
    ciphertext = "v1:YWxlcnRpbmctY2lwaGVydGV4dC1mb3ItdGVzdHM="

    def encrypt(config: dict) -> None:
        for receiver, key in (("oncall", "routingKey"), ("platform", "apiURL"), ("deadman", "url")):
            config[ALERTING_KEY]["receivers"][receiver][key] = {"secure": ciphertext}

    done, out = render_edited(tmp_path, "prod", encrypt)
    assert done.returncode == 0, done.stderr
    texts = [path.read_text() for path in out.rglob("*.yaml")]
    kinds = {yaml.safe_load(text).get("kind") for text in texts}
    assert "Provider" in kinds and "Secret" not in kinds
    assert not [t for t in texts if ciphertext in t or "routing_key" in t or "api_url" in t]


def test_a_render_of_a_plain_text_credential_fails_without_echoing_it(tmp_path):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    config[ALERTING_KEY]["receivers"]["oncall"]["routingKey"] = CREDENTIALS["pagerduty"]  # not --secret
    (project / "stacks" / "Pulumi.leaky.yaml").write_text(yaml.safe_dump({"config": config}))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "render.py"), "--stack", "leaky", "--out", str(out), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "alerting.receivers.oncall.routingKey: got [secret]; expected a secret" in done.stderr
    assert CREDENTIALS["pagerduty"] not in done.stdout + done.stderr
    assert not out.exists() or not any(out.rglob("*.yaml"))


def test_a_render_of_a_stack_with_encrypted_fleet_credentials_writes_only_references(tmp_path):
    ciphertext = "v1:Zm9yLXRlc3RzLW9ubHk=:c2VjcmV0LWNpcGhlcnRleHQ="

    def encrypt(config: dict) -> None:
        config[REMOTE_WRITE_KEY][0]["basicAuth"] = {"username": "fleet-writer", "password": {"secure": ciphertext}}

    done, out = render_edited(tmp_path, "spoke", encrypt)
    assert done.returncode == 0, done.stderr
    rendered = "".join(path.read_text() for path in out.rglob("*.yaml"))
    assert "remote-write-credentials" in rendered
    assert ciphertext not in rendered and "not-decrypted" not in rendered
