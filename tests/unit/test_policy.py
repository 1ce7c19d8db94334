"""The production policy pack, run against what whole-program mock runs register.

The shipped prod stack passes every policy; a deliberately weakened copy fails each one with
its message. Policies are evaluated through their real ``validate`` with the arguments the
pack's servicer would build (props wrapped in the SDK's unknown-checking proxy), without
starting the pack.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from flux_monitoring.contract import KNOWN_DEFAULT_PASSWORDS
from flux_monitoring.manifests.gitops import STACK_KUSTOMIZATION
from tests.conftest import PASSWORD_KEY, PROD_PASSWORD, run_stack
from tests.support.gitops_stacks import GITOPS_OVERRIDES
from tests.support.pulumi_harness import ProgramRun, Registered, stack_config

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
sys.path.insert(0, str(POLICY_DIR))
import flux_policies  # noqa: E402  (the name policy/__main__.py imports it by)

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
POLICIES = {policy.name: policy for policy in flux_policies.POLICIES}
PROD_PROMETHEUS = json.loads(stack_config("prod")["flux-monitoring:prometheus"])
PROD_GRAFANA = json.loads(stack_config("prod")["flux-monitoring:grafana"])
GITOPS = {"flux-monitoring:delivery": "gitops"}


class NotApplicable(Exception):
    pass


def _options(resource: Registered) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        resource.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent or None
    )


def evaluate(
    policy_name: str,
    run: ProgramRun,
    monkeypatch,
    stack: str = "prod",
    policy_config: dict | None = None,
    config: dict[str, str] | None = None,
    secret_keys: tuple[str, ...] = (),
) -> list[str]:
    """The violations one policy reports for a run, as `pulumi preview -s <stack>` would see them.

    ``config`` and ``secret_keys`` are the stack config the CLI hands the pack (PULUMI_CONFIG,
    PULUMI_CONFIG_SECRET_KEYS); ``config`` defaults to the shipped stack file's.

    Raises NotApplicable when the policy declares itself not applicable.
    """
    policy = POLICIES[policy_name]
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    with monkeypatch.context() as patch:
        patch.setenv("PULUMI_STACK", stack)
        patch.setenv("PULUMI_CONFIG", json.dumps(config if config is not None else stack_config(stack)))
        patch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(list(secret_keys)))
        try:
            if isinstance(policy, ResourceValidationPolicy):
                for resource in run.resources:
                    if resource.custom:
                        props = unknown_checking_proxy(copy.deepcopy(resource.inputs))
                        policy.validate(
                            ResourceValidationArgs(
                                resource.type,
                                props,
                                resource.urn,
                                resource.name,
                                _options(resource),
                                None,
                                policy_config,
                            ),
                            report,
                        )
            else:
                resources = [
                    PolicyResource(
                        r.type,
                        unknown_checking_proxy(copy.deepcopy(r.inputs)),
                        r.urn,
                        r.name,
                        _options(r),
                        None,
                        None,
                        [],
                        {},
                    )
                    for r in run.resources
                    if r.custom
                ]
                policy.validate(StackValidationArgs(resources, policy_config), report)
        except Exception as error:  # the SDK's private not-applicable signal
            if type(error).__name__ == "_NotApplicableError":
                raise NotApplicable(getattr(error, "reason", "")) from error
            raise
    return messages


def prod(overrides: dict[str, str] | None = None, password: str | None = PROD_PASSWORD) -> ProgramRun:
    return run_stack("prod", overrides, password=password)


def gitops_prod(overrides: dict[str, str] | None = None) -> tuple[ProgramRun, dict[str, str]]:
    """The prod stack delivered by Flux, and the config the CLI hands the pack for it.

    gitops delivery registers no Helm Release: the pack can only judge what Prometheus and
    Grafana will run from that config.
    """
    overrides = {**GITOPS_OVERRIDES, **(overrides or {})}
    run = prod(overrides)
    assert not run.of_type(RELEASE)
    assert run.one("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization", STACK_KUSTOMIZATION)
    return run, {**stack_config("prod"), **overrides, PASSWORD_KEY: PROD_PASSWORD}


def prometheus(**changes) -> dict[str, str]:
    value = {key: v for key, v in {**PROD_PROMETHEUS, **changes}.items() if v is not None}
    return {"flux-monitoring:prometheus": json.dumps(value)}


def _release(run: ProgramRun) -> Registered:
    return run.one(RELEASE)


def _admin_secret(run: ProgramRun) -> Registered:
    return run.one(SECRET, "grafana-admin")


# -- the shipped prod stack --------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_run_for_policies() -> ProgramRun:
    return prod()


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_the_shipped_prod_stack_passes(policy_name, prod_run_for_policies, monkeypatch):
    assert evaluate(policy_name, prod_run_for_policies, monkeypatch) == []


def test_the_shipped_prod_stack_passes_in_gitops_delivery_pinned_to_a_tag(monkeypatch):
    run, config = gitops_prod()
    assert any(flux_policies.is_git_repository(r.type) for r in run.resources)
    assert {
        name: evaluate(name, run, monkeypatch, config=config, secret_keys=(PASSWORD_KEY,)) for name in POLICIES
    } == {name: [] for name in POLICIES}


# -- weakened copies: one per policy -----------------------------------------------------------


def test_a_generated_password_fails(monkeypatch):
    run = prod({"flux-monitoring:requireGrafanaAdminPassword": "false"}, password=None)
    config = {**stack_config("prod"), "flux-monitoring:requireGrafanaAdminPassword": "false"}
    assert evaluate("grafana-admin-password-configured", run, monkeypatch, config=config) == [
        "flux-monitoring:requireGrafanaAdminPassword is not true: without it the program may generate the "
        "Grafana admin password instead of refusing to run without a secret one",
        "the Grafana admin password is generated by random:index/randomPassword:RandomPassword "
        "grafana-admin-password: set it with pulumi config set --secret grafanaAdminPassword",
    ]


def test_a_password_copied_into_helm_values_fails_without_quoting_it(monkeypatch):
    run = prod()
    _release(run).inputs["values"]["grafana"]["adminPassword"] = PROD_PASSWORD
    messages = evaluate("grafana-admin-password-configured", run, monkeypatch)
    assert messages == [
        f"the Grafana admin password appears in the inputs of {RELEASE} kube-prometheus-stack "
        "at values.grafana.adminPassword: it belongs only in the grafana-admin Secret"
    ]
    assert PROD_PASSWORD not in "".join(messages)


def test_the_admin_password_in_the_flux_grafana_provider_secret_fails(monkeypatch):
    run = prod()
    flux_grafana = run.one(SECRET, "flux-grafana-credentials")
    assert PROD_PASSWORD not in str(flux_grafana.inputs)  # Flux logs in as its own user
    flux_grafana.inputs["stringData"]["password"] = PROD_PASSWORD
    assert evaluate("grafana-admin-password-configured", run, monkeypatch) == [
        "the Grafana admin password appears in the inputs of kubernetes:core/v1:Secret flux-grafana-credentials "
        "at stringData.password: it belongs only in the grafana-admin Secret"
    ]


def test_the_generated_password_of_flux_s_grafana_user_passes(monkeypatch):
    run = prod()
    assert run.one("random:index/randomPassword:RandomPassword", "flux-grafana-password")
    assert evaluate("grafana-admin-password-configured", run, monkeypatch) == []


def test_a_stack_without_the_admin_secret_fails(monkeypatch):
    run = prod()
    run.resources.remove(_admin_secret(run))
    assert evaluate("grafana-admin-password-configured", run, monkeypatch) == [
        "no grafana-admin Secret holds the Grafana admin password"
    ]


@pytest.mark.parametrize("password", [*sorted(KNOWN_DEFAULT_PASSWORDS), "Prom-Operator"])
def test_a_known_default_password_fails(password, monkeypatch):
    # The program refuses these itself; the policy stands guard if that check ever regresses.
    run = prod()
    _admin_secret(run).inputs["stringData"]["admin-password"] = password
    assert evaluate("grafana-admin-password-not-default", run, monkeypatch) == [
        "the Grafana admin password is a well-known default: "
        "set another with pulumi config set --secret grafanaAdminPassword"
    ]


def test_a_short_password_in_base64_data_fails(monkeypatch):
    run = prod()
    secret = _admin_secret(run).inputs
    del secret["stringData"]["admin-password"]
    secret["data"] = {"admin-password": base64.b64encode(b"short-one").decode()}
    assert evaluate("grafana-admin-password-not-default", run, monkeypatch) == [
        "the Grafana admin password is shorter than 12 characters: "
        "set a longer one with pulumi config set --secret grafanaAdminPassword"
    ]


def test_prometheus_without_persistent_storage_fails(monkeypatch):
    run = prod(prometheus(storageSize=None, storageClassName=None))
    assert evaluate("prometheus-persistent-storage", run, monkeypatch) == [
        "Prometheus has no persistent storage (values prometheus.prometheusSpec.storageSpec): "
        "set prometheus.storageSize, such as 100Gi"
    ]


def test_prometheus_retention_below_the_minimum_fails(monkeypatch):
    run = prod(prometheus(retention="7d"))
    assert evaluate("prometheus-minimum-retention", run, monkeypatch) == [
        "Prometheus retention '7d' is shorter than the production minimum 15d: set prometheus.retention to at least 15d"
    ]


def test_the_minimum_retention_is_policy_config(prod_run_for_policies, monkeypatch):
    assert evaluate(
        "prometheus-minimum-retention", prod_run_for_policies, monkeypatch, policy_config={"minimumRetention": "60d"}
    ) == [
        "Prometheus retention '30d' is shorter than the production minimum 60d: "
        "set prometheus.retention to at least 60d"
    ]
    assert (
        evaluate(
            "prometheus-minimum-retention",
            prod_run_for_policies,
            monkeypatch,
            policy_config={"minimumRetention": "4w2d"},
        )
        == []
    )


def test_a_single_prometheus_replica_fails(monkeypatch):
    run = prod(prometheus(replicas=1))
    assert evaluate("prometheus-replicated", run, monkeypatch) == [
        "Prometheus runs 1 replica(s): set prometheus.replicas to at least 2"
    ]


def test_prometheus_without_a_cpu_request_fails(monkeypatch):
    run = prod(prometheus(resources={"requests": {"memory": "4Gi"}, "limits": {"memory": "8Gi"}}))
    assert evaluate("prometheus-resource-requests", run, monkeypatch) == [
        "Prometheus has no cpu request: set prometheus.resources.requests.cpu"
    ]


def test_prometheus_without_any_request_fails(monkeypatch):
    run = prod(prometheus(resources=None))
    assert evaluate("prometheus-resource-requests", run, monkeypatch) == [
        "Prometheus has no cpu or memory request: set prometheus.resources.requests.cpu and .memory"
    ]


@pytest.mark.parametrize("version", ["^88.5.0", "88.x", "latest", "", None])
def test_an_unpinned_chart_version_fails(version, monkeypatch):
    # chartVersion is validated by the program too; the policy also covers releases edited by hand.
    run = prod()
    if version is None:
        del _release(run).inputs["version"]
    else:
        _release(run).inputs["version"] = version
    [message] = evaluate("chart-version-pinned", run, monkeypatch)
    assert message.endswith("pin chartVersion to an exact version such as 88.5.3 (no ranges, no 'latest')")


def test_gitops_following_a_branch_fails(monkeypatch):
    run = prod(
        {**GITOPS, "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", "branch": "main"})}
    )
    assert evaluate("gitops-source-pinned", run, monkeypatch) == [
        "the GitRepository follows branch 'main': pin gitops to a tag, a semver range or a commit"
    ]


@pytest.mark.parametrize("ref", [{"semver": ">=1.2.0 <2.0.0"}, {"commit": "a" * 40}])
def test_gitops_pinned_to_a_semver_range_or_commit_passes(ref, monkeypatch):
    run = prod({**GITOPS, "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", **ref})})
    assert evaluate("gitops-source-pinned", run, monkeypatch) == []


@pytest.mark.parametrize(
    "ref, message",
    [
        ({}, "the GitRepository follows the default branch: pin gitops to a tag, a semver range or a commit"),
        (
            {"name": "refs/heads/main"},
            "the GitRepository follows the default branch: pin gitops to a tag, a semver range or a commit",
        ),
        ({"commit": "abc123"}, "the GitRepository ref commit 'abc123' is not a full lower-case hex commit SHA"),
    ],
)
def test_git_repositories_edited_by_hand_are_checked_too(ref, message):
    props = {"spec": {"url": "https://github.com/example/fleet", "ref": ref}}
    assert flux_policies.git_source_violations("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository", props) == [
        message
    ]


def test_grafana_ingress_without_tls_fails(monkeypatch):
    grafana = {**PROD_GRAFANA, "ingress": {"host": "grafana.example.com", "className": "nginx"}}
    run = prod({"flux-monitoring:grafana": json.dumps(grafana)})
    assert evaluate("grafana-ingress-tls", run, monkeypatch) == [
        "Grafana's ingress serves grafana.example.com without TLS: set grafana.ingress.tlsSecretName"
    ]


def test_grafana_without_ingress_passes(monkeypatch):
    grafana = {key: value for key, value in PROD_GRAFANA.items() if key != "ingress"}
    run = prod({"flux-monitoring:grafana": json.dumps(grafana)})
    assert evaluate("grafana-ingress-tls", run, monkeypatch) == []


# -- gitops delivery: the same checks, on the stack config ----------------------------------------

GITOPS_STORAGE_MESSAGE = (
    "Prometheus has no persistent storage (stack config flux-monitoring:prometheus.storageSize): "
    "set prometheus.storageSize, such as 100Gi"
)
# The review's example: one replica, a day of retention, no volume (and so no requests either).
WEAK_PROMETHEUS = {"flux-monitoring:prometheus": json.dumps({"replicas": 1, "retention": "1d"})}
WEAK_PROMETHEUS_MESSAGES = {
    "prometheus-persistent-storage": [GITOPS_STORAGE_MESSAGE],
    "prometheus-minimum-retention": [
        "Prometheus retention '1d' is shorter than the production minimum 15d: set prometheus.retention to at least 15d"
    ],
    "prometheus-replicated": ["Prometheus runs 1 replica(s): set prometheus.replicas to at least 2"],
    "prometheus-resource-requests": [
        "Prometheus has no cpu or memory request: set prometheus.resources.requests.cpu and .memory"
    ],
}


@pytest.fixture(scope="module")
def weak_gitops_prod() -> tuple[ProgramRun, dict[str, str]]:
    return gitops_prod(WEAK_PROMETHEUS)


@pytest.mark.parametrize("policy_name", sorted(WEAK_PROMETHEUS_MESSAGES))
def test_a_weak_prometheus_in_gitops_delivery_fails_once_at_the_stack_kustomization(
    policy_name, weak_gitops_prod, monkeypatch
):
    run, config = weak_gitops_prod
    assert evaluate(policy_name, run, monkeypatch, config=config) == WEAK_PROMETHEUS_MESSAGES[policy_name]


@pytest.mark.parametrize(
    "overrides, policy_name, message",
    [
        (prometheus(storageSize=None, storageClassName=None), "prometheus-persistent-storage", GITOPS_STORAGE_MESSAGE),
        (
            prometheus(retention="7d"),
            "prometheus-minimum-retention",
            "Prometheus retention '7d' is shorter than the production minimum 15d: "
            "set prometheus.retention to at least 15d",
        ),
        (
            prometheus(retention=None),
            "prometheus-minimum-retention",
            "Prometheus retention the program's default is shorter than the production minimum 15d: "
            "set prometheus.retention to at least 15d",
        ),
        (
            prometheus(replicas=None),
            "prometheus-replicated",
            "Prometheus runs the program's default of 1 replica(s): set prometheus.replicas to at least 2",
        ),
        (
            prometheus(resources={"requests": {"memory": "4Gi"}}),
            "prometheus-resource-requests",
            "Prometheus has no cpu request: set prometheus.resources.requests.cpu",
        ),
        (
            {"flux-monitoring:grafana": json.dumps({**PROD_GRAFANA, "ingress": {"host": "grafana.example.com"}})},
            "grafana-ingress-tls",
            "Grafana's ingress serves grafana.example.com without TLS: set grafana.ingress.tlsSecretName",
        ),
    ],
    ids=["storage", "retention", "retention-unset", "replicas-unset", "requests", "ingress-tls"],
)
def test_a_weakened_gitops_prod_stack_fails(overrides, policy_name, message, monkeypatch):
    run, config = gitops_prod(overrides)
    assert evaluate(policy_name, run, monkeypatch, config=config) == [message]


def test_gitops_grafana_without_ingress_passes(monkeypatch):
    grafana = {key: value for key, value in PROD_GRAFANA.items() if key != "ingress"}
    run, config = gitops_prod({"flux-monitoring:grafana": json.dumps(grafana)})
    assert evaluate("grafana-ingress-tls", run, monkeypatch, config=config) == []


def test_both_deliveries_judge_the_same_config_alike(weak_gitops_prod, monkeypatch):
    """One set of checks: the Release's values and the config they come from give the same verdicts."""
    grafana = {"flux-monitoring:grafana": json.dumps({**PROD_GRAFANA, "ingress": {"host": "grafana.example.com"}})}
    direct = prod({**WEAK_PROMETHEUS, **grafana})
    gitops, config = gitops_prod({**WEAK_PROMETHEUS, **grafana})
    for name in [*WEAK_PROMETHEUS_MESSAGES, "grafana-ingress-tls"]:
        from_release = evaluate(name, direct, monkeypatch, config={**stack_config("prod"), **WEAK_PROMETHEUS})
        from_config = evaluate(name, gitops, monkeypatch, config=config)
        assert len(from_release) == len(from_config) == 1, name
        assert from_release[0].replace("values prometheus.prometheusSpec.storageSpec", "") == from_config[0].replace(
            "stack config flux-monitoring:prometheus.storageSize", ""
        ), name


def test_direct_delivery_judges_the_release_not_the_config(prod_run_for_policies, monkeypatch):
    # The Release is what Helm installs: a config the program did not use cannot fail or pass it.
    config = {**stack_config("prod"), **WEAK_PROMETHEUS}
    for name in WEAK_PROMETHEUS_MESSAGES:
        assert evaluate(name, prod_run_for_policies, monkeypatch, config=config) == [], name


def test_gitops_messages_quote_no_config_value_held_as_a_secret():
    config = {**WEAK_PROMETHEUS, "flux-monitoring:grafana": json.dumps({"ingress": {"host": "grafana.internal"}})}
    secret = ("flux-monitoring:prometheus", "flux-monitoring:grafana")
    props = {"metadata": {"name": STACK_KUSTOMIZATION}}
    kustomization = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
    messages = [
        *flux_policies.prometheus_retention_violations(kustomization, props, "15d", config, secret),
        *flux_policies.prometheus_replica_violations(kustomization, props, config, secret),
        *flux_policies.grafana_ingress_tls_violations(kustomization, props, config, secret),
    ]
    assert messages == [
        "Prometheus retention [secret] is shorter than the production minimum 15d: "
        "set prometheus.retention to at least 15d",
        "Prometheus runs [secret] replica(s): set prometheus.replicas to at least 2",
        "Grafana's ingress serves [secret] without TLS: set grafana.ingress.tlsSecretName",
    ]
    assert "1d" not in "".join(messages) and "grafana.internal" not in "".join(messages)


@pytest.mark.parametrize("text", [None, "", "not json", "[1, 2]", "7"])
def test_an_unreadable_prometheus_config_reads_as_nothing_set(text):
    config = {} if text is None else {"flux-monitoring:prometheus": text}
    props = {"metadata": {"name": STACK_KUSTOMIZATION}}
    kustomization = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
    assert flux_policies.prometheus_storage_violations(kustomization, props, config) == [GITOPS_STORAGE_MESSAGE]


def test_only_the_kustomization_that_syncs_the_stack_is_judged_on_the_config():
    kustomization = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
    assert flux_policies.STACK_KUSTOMIZATION == STACK_KUSTOMIZATION
    assert (
        flux_policies.prometheus_storage_violations(kustomization, {"metadata": {"name": "monitoring-config"}}, {})
        == []
    )
    assert (
        flux_policies.prometheus_storage_violations(
            "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository", {"metadata": {"name": "monitoring"}}, {}
        )
        == []
    )


def test_an_unprotected_prod_stack_fails(monkeypatch):
    run = prod({"flux-monitoring:protect": "false"})
    # In the order the resources registered, which the two namespaces may do either way round.
    assert sorted(evaluate("protected-from-deletion", run, monkeypatch)) == [
        "kubernetes:core/v1:Namespace monitoring is not protected: set protect: true in the production stack",
        "kubernetes:core/v1:Namespace node-exporter is not protected: set protect: true in the production stack",
        f"{RELEASE} kube-prometheus-stack is not protected: set protect: true in the production stack",
    ]


def test_an_unprotected_gitops_prod_stack_fails_for_the_source_and_kustomizations(monkeypatch):
    run = prod(
        {
            **GITOPS,
            "flux-monitoring:protect": "false",
            "flux-monitoring:gitops": json.dumps({"url": "https://github.com/example/fleet", "tag": "v1.0.0"}),
        }
    )
    messages = evaluate("protected-from-deletion", run, monkeypatch)
    assert sorted(m.split(" is not protected")[0] for m in messages) == [
        "kubernetes:core/v1:Namespace monitoring",
        "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization monitoring-config",
        "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization monitoring-stack",
        "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository monitoring",
    ]


# -- which stacks the pack applies to ----------------------------------------------------------


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
@pytest.mark.parametrize("stack", ["staging", "dev"])
def test_policies_are_not_applicable_to_the_stacks_that_are_not_production(policy_name, stack, monkeypatch):
    # dev generates its password and keeps one replica without a volume: prod-only rules stay out.
    with pytest.raises(NotApplicable, match=f"stack '{stack}' is not one of productionStacks"):
        evaluate(policy_name, run_stack(stack), monkeypatch, stack=stack)


def test_production_stacks_are_policy_config(staging_run, monkeypatch):
    assert evaluate(
        "prometheus-persistent-storage",
        staging_run,
        monkeypatch,
        stack="staging",
        policy_config={"productionStacks": ["staging", "prod"]},
    ) == [
        "Prometheus has no persistent storage (values prometheus.prometheusSpec.storageSpec): "
        "set prometheus.storageSize, such as 100Gi"
    ]


def test_a_fully_qualified_stack_name_is_recognised():
    assert flux_policies.is_production("acme/flux-monitoring/prod", {})
    assert not flux_policies.is_production("acme/flux-monitoring/prod-eu", {})


# -- the pack itself -------------------------------------------------------------------------------


def test_every_policy_is_mandatory_with_a_unique_name():
    names = [policy.name for policy in flux_policies.POLICIES]
    assert len(names) == len(set(names)) == 10
    assert {policy.enforcement_level.value for policy in flux_policies.POLICIES} == {"mandatory"}


def test_every_policy_lets_its_production_stacks_be_configured():
    assert all("productionStacks" in policy.config_schema.properties for policy in flux_policies.POLICIES)
    assert POLICIES["prometheus-minimum-retention"].config_schema.properties["minimumRetention"]["default"] == "15d"


def test_the_pack_knows_every_default_password_the_program_refuses():
    assert all(flux_policies.is_known_default_password(password.upper()) for password in KNOWN_DEFAULT_PASSWORDS)


def test_importing_the_policies_starts_no_pack():
    # Constructing a PolicyPack serves gRPC and blocks: only __main__.py may do it.
    done = subprocess.run(
        [sys.executable, "-c", "import flux_policies; print(len(flux_policies.POLICIES))"],
        cwd=POLICY_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "10")


def test_the_pack_is_a_python_pack_pinned_to_the_programs_sdk_versions():
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"

    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {
            name.lower().replace("_", "-"): version
            for name, _, version in (line.partition("==") for line in lines if line)
        }

    pack, program = pins(POLICY_DIR / "requirements.txt"), pins(POLICY_DIR.parent / "requirements.txt")
    assert set(pack) == {"pulumi", "pulumi-policy"}
    assert pack == {name: program[name] for name in pack}


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30d", 30 * 86400),
        ("1y", 365 * 86400),
        ("12h30m", 45000),
        ("2w", 14 * 86400),
        ("0", 0),
        ("1.5d", None),
        ("15D", None),
        ("", None),
        ("d", None),
    ],
)
def test_retention_is_read_as_prometheus_reads_durations(text, seconds):
    assert flux_policies.duration_seconds(text) == seconds
