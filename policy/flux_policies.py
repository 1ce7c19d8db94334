"""The production guardrails of flux-monitoring: pure checks and the policies that run them.

Importing this module starts nothing: only ``__main__.py`` builds the ``PolicyPack`` (whose
constructor serves the pack over gRPC and blocks). Each check is a pure function of a
resource's type and input properties (as a policy sees them: the provider's camelCase names,
secrets already decrypted) and returns the violation messages, so tests can feed it the
registrations of a whole-program mock run.

What Prometheus and Grafana will run: direct delivery registers the Helm Release, whose values
the checks read. gitops delivery registers no Release (Flux installs the chart from git, with
the values rendered from the same stack config), so there the storage, retention, replica,
request and ingress-TLS checks read the stack's config as the CLI hands it to the pack
(``PULUMI_CONFIG``, the same variable a program reads), at the Flux Kustomization that syncs
the stack, which they can therefore block. Both sources feed the same check functions.

Which stacks are production: a policy applies when the stack's name (``PULUMI_STACK``, set by
the CLI for the pack) is listed in the policy's ``productionStacks`` config (default
``["prod"]``); on any other stack it reports itself not applicable.

What the pack shares with the program (names, limits, patterns, the duration parser and the
config paths it reads) comes from flux_contract.py, a generated copy of flux_monitoring/contract:
the pack runs in its own environment, without flux_monitoring.

Secrets: policies receive secret values decrypted and unmarked (pulumi-policy#241), so no
policy can ask "is this value a Pulumi secret?". The pack therefore checks what makes the
password a secret instead: the stack sets ``requireGrafanaAdminPassword`` (with it, the program
refuses a password not set with ``pulumi config set --secret`` and never generates one), no
RandomPassword exists, and the password's text appears in no resource input other than the
grafana-admin Secret's data (and the basic-auth data of Flux's Grafana Provider Secret), which
the Kubernetes provider always stores as a secret. No
message ever quotes the password.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flux_contract import (
    CHART_VERSION,
    EXACT_SEMVER,
    GIT_COMMIT,
    GITOPS,
    GRAFANA,
    GRAFANA_ADMIN_PASSWORD,
    GRAFANA_ADMIN_PASSWORD_KEY,
    GRAFANA_ADMIN_PASSWORD_RESOURCE,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_INGRESS,
    GRAFANA_INGRESS_HOST,
    GRAFANA_INGRESS_TLS_SECRET,
    MINIMUM_PASSWORD_LENGTH,
    PROJECT,
    PROMETHEUS,
    PROMETHEUS_REPLICAS,
    PROMETHEUS_REQUESTED,
    PROMETHEUS_REQUESTS,
    PROMETHEUS_RETENTION,
    PROMETHEUS_STORAGE_SIZE,
    PROTECT,
    REQUIRE_GRAFANA_ADMIN_PASSWORD,
    STACK_KUSTOMIZATION,
    config_key,
    duration_seconds,
    is_known_default_password,
)
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "flux-monitoring-production"

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
PROMETHEUS_CONFIG = config_key(PROMETHEUS)
GRAFANA_CONFIG = config_key(GRAFANA)

DEFAULT_PRODUCTION_STACKS = ("prod",)
DEFAULT_MINIMUM_RETENTION = "15d"
MINIMUM_PROMETHEUS_REPLICAS = 2

_EXACT_SEMVER = re.compile(EXACT_SEMVER)
_GIT_COMMIT = re.compile(GIT_COMMIT)
# How a message tells the user to set the password as the stack's secret.
_SET_PASSWORD = f"pulumi config set --secret {GRAFANA_ADMIN_PASSWORD}"


# -- reading props -----------------------------------------------------------------------


def _get(value: Any, *path: str) -> Any:
    """The value at ``path`` inside nested mappings, or None."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside ``value``, with its dotted path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key in value:
            yield from _strings(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _prometheus_spec(props: Mapping[str, Any]) -> Any:
    return _get(props, "values", "prometheus", "prometheusSpec")


def _is_flux(resource_type: str, group: str, kind: str) -> bool:
    return resource_type.startswith(f"kubernetes:{group}/") and resource_type.endswith(f":{kind}")


def is_git_repository(resource_type: str) -> bool:
    return _is_flux(resource_type, "source.toolkit.fluxcd.io", "GitRepository")


def is_kustomization(resource_type: str) -> bool:
    return _is_flux(resource_type, "kustomize.toolkit.fluxcd.io", "Kustomization")


def is_helm_release(resource_type: str) -> bool:
    return _is_flux(resource_type, "helm.toolkit.fluxcd.io", "HelmRelease")


def is_production(stack: str, config: Mapping[str, Any]) -> bool:
    """Whether ``stack`` (a plain or org/project/stack name) is listed as production."""
    production = config.get("productionStacks") or list(DEFAULT_PRODUCTION_STACKS)
    return stack.split("/")[-1] in production


def grafana_admin_password(props: Mapping[str, Any]) -> str | None:
    """The password held by a grafana-admin Secret, from stringData or base64 data."""
    password = _get(props, "stringData", GRAFANA_ADMIN_PASSWORD_KEY)
    if isinstance(password, str):
        return password
    encoded = _get(props, "data", GRAFANA_ADMIN_PASSWORD_KEY)
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _is_admin_secret(resource_type: str, props: Mapping[str, Any]) -> bool:
    return resource_type == SECRET and _get(props, "metadata", "name") == GRAFANA_ADMIN_SECRET


# -- checks: each returns the violation messages -------------------------------------------


def grafana_admin_password_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The grafana-admin Secret holds a password that is long and not a well-known default."""
    if not _is_admin_secret(resource_type, props):
        return []
    password = grafana_admin_password(props)
    if password is None:
        return [f"the {GRAFANA_ADMIN_SECRET} Secret has no {GRAFANA_ADMIN_PASSWORD_KEY}: set one with {_SET_PASSWORD}"]
    if is_known_default_password(password):
        return [f"the Grafana admin password is a well-known default: set another with {_SET_PASSWORD}"]
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        return [
            f"the Grafana admin password is shorter than {MINIMUM_PASSWORD_LENGTH} characters: "
            f"set a longer one with {_SET_PASSWORD}"
        ]
    return []


def grafana_admin_password_configuration_violations(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]], stack_config: Mapping[str, str]
) -> list[str]:
    """The password is the stack's own secret: required by config, never generated, nowhere else.

    ``resources`` are (type, name, props) triples; ``stack_config`` the stack's config texts.
    """
    resources = list(resources)
    problems = []
    if str(stack_config.get(config_key(REQUIRE_GRAFANA_ADMIN_PASSWORD), "")).lower() != "true":
        problems.append(
            f"{config_key(REQUIRE_GRAFANA_ADMIN_PASSWORD)} is not true: without it the program may "
            "generate the Grafana admin password instead of refusing to run without a secret one"
        )
    for resource_type, name, _ in resources:
        # Not Flux's Grafana user's (FLUX_GRAFANA_PASSWORD_RESOURCE): Pulumi generates that one by design.
        if resource_type == RANDOM_PASSWORD and name == GRAFANA_ADMIN_PASSWORD_RESOURCE:
            problems.append(
                f"the Grafana admin password is generated by {RANDOM_PASSWORD} {name}: set it with {_SET_PASSWORD}"
            )
    passwords = {p for t, _, props in resources if _is_admin_secret(t, props) and (p := grafana_admin_password(props))}
    if not any(_is_admin_secret(t, props) for t, _, props in resources):
        problems.append(f"no {GRAFANA_ADMIN_SECRET} Secret holds the Grafana admin password")
    for resource_type, name, props in resources:
        if _is_admin_secret(resource_type, props):
            continue
        for path, text in _strings(props):
            if any(password in text for password in passwords):
                problems.append(
                    f"the Grafana admin password appears in the inputs of {resource_type} {name} "
                    f"at {path}: it belongs only in the {GRAFANA_ADMIN_SECRET} Secret"
                )
    return problems


# -- what Prometheus and Grafana will run, from the Helm Release or from the stack config ---------
#
# Direct delivery registers the Helm Release, whose values say what the chart installs. gitops
# delivery registers no Release: Flux installs the chart with the values rendered from the same
# stack config, so there the checks read that config (as the CLI hands it to the pack), at the
# Kustomization that syncs the stack. Both sources are read into the same records and judged by
# the same functions, so the two deliveries cannot drift apart.


@dataclass(frozen=True)
class PrometheusValues:
    """What the production checks read about Prometheus; None where nothing is set."""

    replicas: Any
    retention: Any
    storage: Any
    requests: Any
    storage_source: str  # where the storage would be set, for the message
    unset: str  # what applies when a value is not set
    secret: bool = False  # read from a config value held as a secret: messages quote none of it


@dataclass(frozen=True)
class IngressValues:
    """An ingress that serves Grafana: its hosts and its TLS entries (secretName, hosts)."""

    where: str
    hosts: list[Any]
    tls: list[Any]
    secret: bool = False  # read from a config value held as a secret: messages quote no host


def prometheus_values_of_release(props: Mapping[str, Any]) -> PrometheusValues:
    spec = _prometheus_spec(props)
    return PrometheusValues(
        replicas=_get(spec, "replicas"),
        retention=_get(spec, "retention"),
        storage=_get(spec, "storageSpec", "volumeClaimTemplate", "spec", "resources", "requests", "storage"),
        requests=_get(spec, "resources", "requests"),
        storage_source="values prometheus.prometheusSpec.storageSpec",
        unset="the chart default",
    )


def config_object(stack_config: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    """A structured config value (JSON text, as the CLI passes it); {} when unset or not an object."""
    value = (stack_config or {}).get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def config_value(stack_config: Mapping[str, Any] | None, path: str) -> Any:
    """The value at ``path`` (below a structured key, such as prometheus.retention); None when unset."""
    return _get(config_object(stack_config, config_key(path)), *path.split(".")[1:])


def prometheus_values_of_config(
    stack_config: Mapping[str, Any] | None, secret_keys: Iterable[str] = ()
) -> PrometheusValues:
    return PrometheusValues(
        replicas=config_value(stack_config, PROMETHEUS_REPLICAS),
        retention=config_value(stack_config, PROMETHEUS_RETENTION),
        storage=config_value(stack_config, PROMETHEUS_STORAGE_SIZE),
        requests=config_value(stack_config, PROMETHEUS_REQUESTS),
        storage_source=f"stack config {PROJECT}:{PROMETHEUS_STORAGE_SIZE}",
        unset="the program's default",
        secret=PROMETHEUS_CONFIG in set(secret_keys),
    )


def grafana_ingress_of_release(props: Mapping[str, Any]) -> IngressValues | None:
    ingress = _get(props, "values", "grafana", "ingress")
    if not isinstance(ingress, Mapping) or not ingress.get("enabled"):
        return None
    return IngressValues("Grafana's ingress", list(ingress.get("hosts") or []), list(ingress.get("tls") or []))


def grafana_ingress_of_config(
    stack_config: Mapping[str, Any] | None, secret_keys: Iterable[str] = ()
) -> IngressValues | None:
    if not isinstance(config_value(stack_config, GRAFANA_INGRESS), Mapping):
        return None
    host = config_value(stack_config, GRAFANA_INGRESS_HOST)
    hosts = [host] if host else []
    secret = config_value(stack_config, GRAFANA_INGRESS_TLS_SECRET)
    return IngressValues(
        "Grafana's ingress",
        hosts,
        [{"secretName": secret, "hosts": hosts}] if secret else [],
        secret=GRAFANA_CONFIG in set(secret_keys),
    )


def delivers_the_chart_by_gitops(resource_type: str, props: Mapping[str, Any]) -> bool:
    """Whether this is the Flux Kustomization that installs kube-prometheus-stack (gitops delivery)."""
    return is_kustomization(resource_type) and _get(props, "metadata", "name") == STACK_KUSTOMIZATION


def prometheus_values(
    resource_type: str,
    props: Mapping[str, Any],
    stack_config: Mapping[str, Any] | None,
    secret_keys: Iterable[str] = (),
) -> PrometheusValues | None:
    """What Prometheus will run, as this resource delivers it; None for other resources."""
    if resource_type == RELEASE:
        return prometheus_values_of_release(props)
    if delivers_the_chart_by_gitops(resource_type, props):
        return prometheus_values_of_config(stack_config, secret_keys)
    return None


# -- checks on what Prometheus and Grafana will run ------------------------------------------------


def prometheus_storage_problems(prometheus: PrometheusValues) -> list[str]:
    """Prometheus keeps its data on a persistent volume."""
    if not prometheus.storage:
        return [
            f"Prometheus has no persistent storage ({prometheus.storage_source}): "
            f"set {PROMETHEUS_STORAGE_SIZE}, such as 100Gi"
        ]
    return []


def prometheus_retention_problems(prometheus: PrometheusValues, minimum: str = DEFAULT_MINIMUM_RETENTION) -> list[str]:
    """Prometheus keeps at least ``minimum`` of data."""
    retention = prometheus.retention
    seconds = duration_seconds(retention)
    minimum_seconds = duration_seconds(minimum)
    if minimum_seconds is None:
        return [f"the policy's minimumRetention {minimum!r} is not a Prometheus duration such as 15d"]
    if seconds is None or seconds < minimum_seconds:
        shown = prometheus.unset if retention is None else "[secret]" if prometheus.secret else repr(retention)
        return [
            f"Prometheus retention {shown} is shorter than the production minimum {minimum}: "
            f"set {PROMETHEUS_RETENTION} to at least {minimum}"
        ]
    return []


def prometheus_replica_problems(prometheus: PrometheusValues) -> list[str]:
    """Prometheus runs at least two replicas."""
    replicas = prometheus.replicas
    if not isinstance(replicas, (int, float)) or isinstance(replicas, bool) or replicas < MINIMUM_PROMETHEUS_REPLICAS:
        shown = (
            f"{prometheus.unset} of 1"
            if replicas is None
            else "[secret]"
            if prometheus.secret
            else f"{replicas:g}"
            if isinstance(replicas, (int, float))
            else repr(replicas)
        )
        return [
            f"Prometheus runs {shown} replica(s): set {PROMETHEUS_REPLICAS} to at least {MINIMUM_PROMETHEUS_REPLICAS}"
        ]
    return []


def prometheus_request_problems(prometheus: PrometheusValues) -> list[str]:
    """Prometheus requests CPU and memory, so the scheduler reserves them."""
    missing = [name for name in PROMETHEUS_REQUESTED if not _get(prometheus.requests, name)]
    if missing:
        return [f"Prometheus has no {' or '.join(missing)} request: set {PROMETHEUS_REQUESTS}.{' and .'.join(missing)}"]
    return []


def ingress_tls_problems(ingress: IngressValues) -> list[str]:
    """An ingress serves every one of its hosts over TLS."""
    covered = {
        host
        for entry in ingress.tls
        if isinstance(entry, Mapping) and entry.get("secretName")
        for host in (entry.get("hosts") or [])
    }
    uncovered = [host for host in ingress.hosts if host not in covered]
    if not ingress.tls or uncovered:
        hosts = "[secret]" if ingress.secret else ", ".join(map(str, uncovered or ingress.hosts))
        return [f"{ingress.where} serves {hosts or 'its hosts'} without TLS: set {GRAFANA_INGRESS_TLS_SECRET}"]
    return []


# -- the same checks, as a policy applies them to one resource -------------------------------------
# ``stack_config`` (config texts) and ``secret_keys`` (the keys held as secrets) are only read for
# the gitops Kustomization; None reads as an empty config.


def _on_what_prometheus_runs(
    problems: Callable[[PrometheusValues], list[str]],
) -> Callable[[str, Mapping[str, Any], Mapping[str, Any] | None, Iterable[str]], list[str]]:
    """``problems`` as a policy applies it to one resource: to what Prometheus will run, as that
    resource delivers it (nothing for other resources)."""

    def violations(
        resource_type: str,
        props: Mapping[str, Any],
        stack_config: Mapping[str, Any] | None = None,
        secret_keys: Iterable[str] = (),
    ) -> list[str]:
        prometheus = prometheus_values(resource_type, props, stack_config, secret_keys)
        return problems(prometheus) if prometheus else []

    return violations


prometheus_storage_violations = _on_what_prometheus_runs(prometheus_storage_problems)
prometheus_replica_violations = _on_what_prometheus_runs(prometheus_replica_problems)
prometheus_request_violations = _on_what_prometheus_runs(prometheus_request_problems)


def prometheus_retention_violations(
    resource_type: str,
    props: Mapping[str, Any],
    minimum: str = DEFAULT_MINIMUM_RETENTION,
    stack_config: Mapping[str, Any] | None = None,
    secret_keys: Iterable[str] = (),
) -> list[str]:
    check = _on_what_prometheus_runs(lambda prometheus: prometheus_retention_problems(prometheus, minimum))
    return check(resource_type, props, stack_config, secret_keys)


def chart_version_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The kube-prometheus-stack chart is pinned to one exact version."""
    if resource_type == RELEASE:
        version = props.get("version")
    elif is_helm_release(resource_type):
        version = _get(props, "spec", "chart", "spec", "version")
    else:
        return []
    if not isinstance(version, str) or not _EXACT_SEMVER.match(version):
        shown = "no version" if version is None else f"version {version!r}"
        return [
            f"the chart has {shown}: pin {CHART_VERSION} to an exact version such as 88.5.3 (no ranges, no 'latest')"
        ]
    return []


def git_source_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A Flux GitRepository follows a tag, a semver range or a commit, never a branch."""
    if not is_git_repository(resource_type):
        return []
    ref = _get(props, "spec", "ref")
    if not isinstance(ref, Mapping):
        ref = {}
    commit = ref.get("commit")
    if commit is not None and not (isinstance(commit, str) and _GIT_COMMIT.match(commit)):
        return [f"the GitRepository ref commit {commit!r} is not a full lower-case hex commit SHA"]
    if any(ref.get(key) for key in ("tag", "semver", "commit")):
        return []
    name = ref.get("name")
    if isinstance(name, str) and name.startswith("refs/tags/"):
        return []
    followed = f"branch {ref['branch']!r}" if ref.get("branch") else "the default branch"
    return [f"the GitRepository follows {followed}: pin {GITOPS} to a tag, a semver range or a commit"]


def grafana_ingress_tls_violations(
    resource_type: str,
    props: Mapping[str, Any],
    stack_config: Mapping[str, Any] | None = None,
    secret_keys: Iterable[str] = (),
) -> list[str]:
    """Grafana is exposed only over TLS, for every host."""
    if resource_type == RELEASE:
        ingress = grafana_ingress_of_release(props)
    elif delivers_the_chart_by_gitops(resource_type, props):
        ingress = grafana_ingress_of_config(stack_config, secret_keys)
    elif resource_type == INGRESS:
        rules = _get(props, "spec", "rules") or []
        ingress = IngressValues(
            f"Ingress {_get(props, 'metadata', 'name')}",
            [rule.get("host") for rule in rules if isinstance(rule, Mapping) and rule.get("host")],
            list(_get(props, "spec", "tls") or []),
        )
    else:
        return []
    return ingress_tls_problems(ingress) if ingress else []


def protect_violations(resource_type: str, props: Mapping[str, Any], protect: bool) -> list[str]:
    """What deleting would take the monitoring stack down with is protected."""
    guarded = (
        resource_type in (NAMESPACE, RELEASE) or is_git_repository(resource_type) or is_kustomization(resource_type)
    )
    if guarded and not protect:
        name = _get(props, "metadata", "name") or props.get("name") or ""
        return [f"{resource_type} {name} is not protected: set {PROTECT}: true in the production stack"]
    return []


# -- policies --------------------------------------------------------------------------------


def current_stack() -> str:
    """The stack under preview or update: the CLI sets PULUMI_STACK for the pack's process."""
    stack = os.environ.get("PULUMI_STACK")
    if stack:
        return stack
    import pulumi

    try:
        return pulumi.get_stack()
    except Exception:
        return ""


def stack_config() -> dict[str, str]:
    """The stack's config texts, as the CLI passes them to the pack (PULUMI_CONFIG)."""
    from pulumi.runtime import get_config_env

    return dict(get_config_env())


def stack_secret_keys() -> frozenset[str]:
    """The config keys the stack holds as secrets (PULUMI_CONFIG_SECRET_KEYS)."""
    from pulumi.runtime.config import get_config_secret_keys_env

    return frozenset(get_config_secret_keys_env())


def _stack_config() -> tuple[dict[str, str], frozenset[str]]:
    return stack_config(), stack_secret_keys()


_PRODUCTION_SCHEMA = {
    "productionStacks": {
        "type": "array",
        "items": {"type": "string"},
        "default": list(DEFAULT_PRODUCTION_STACKS),
        "description": "Names of the stacks this policy applies to; it is not applicable on any other.",
    },
}


def _not_production(args: ResourceValidationArgs | StackValidationArgs) -> bool:
    config = args.get_config() or {}
    if is_production(current_stack(), config):
        return False
    args.not_applicable(f"stack {current_stack()!r} is not one of productionStacks")
    return True


def _resource_policy(
    name: str,
    description: str,
    check: Callable[[ResourceValidationArgs], list[str]],
    extra_schema: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if _not_production(args):
            return
        for message in check(args):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={**_PRODUCTION_SCHEMA, **(extra_schema or {})}),
    )


def _validate_password_configuration(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if _not_production(args):
        return
    resources = [(r.resource_type, r.name, r.props) for r in args.resources]
    for message in grafana_admin_password_configuration_violations(resources, stack_config()):
        report_violation(message, None)


POLICIES = [
    StackValidationPolicy(
        name="grafana-admin-password-configured",
        description="The Grafana admin password is the stack's own secret: required, never generated, "
        "and in no resource other than the grafana-admin Secret.",
        validate=_validate_password_configuration,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties=dict(_PRODUCTION_SCHEMA)),
    ),
    _resource_policy(
        "grafana-admin-password-not-default",
        "The Grafana admin password is at least 12 characters and not a well-known default.",
        lambda args: grafana_admin_password_violations(args.resource_type, args.props),
    ),
    _resource_policy(
        "prometheus-persistent-storage",
        "Prometheus keeps its data on a persistent volume.",
        lambda args: prometheus_storage_violations(args.resource_type, args.props, *_stack_config()),
    ),
    _resource_policy(
        "prometheus-minimum-retention",
        "Prometheus retains at least the configured minimum of data.",
        lambda args: prometheus_retention_violations(
            args.resource_type,
            args.props,
            (args.get_config() or {}).get("minimumRetention") or DEFAULT_MINIMUM_RETENTION,
            *_stack_config(),
        ),
        {
            "minimumRetention": {
                "type": "string",
                "default": DEFAULT_MINIMUM_RETENTION,
                "description": "Shortest Prometheus retention allowed, as a Prometheus duration.",
            }
        },
    ),
    _resource_policy(
        "prometheus-replicated",
        "Prometheus runs at least two replicas.",
        lambda args: prometheus_replica_violations(args.resource_type, args.props, *_stack_config()),
    ),
    _resource_policy(
        "prometheus-resource-requests",
        "Prometheus requests CPU and memory.",
        lambda args: prometheus_request_violations(args.resource_type, args.props, *_stack_config()),
    ),
    _resource_policy(
        "chart-version-pinned",
        "The kube-prometheus-stack chart version is pinned exactly.",
        lambda args: chart_version_violations(args.resource_type, args.props),
    ),
    _resource_policy(
        "gitops-source-pinned",
        "In gitops delivery, the GitRepository follows a tag, semver range or commit, not a branch.",
        lambda args: git_source_violations(args.resource_type, args.props),
    ),
    _resource_policy(
        "grafana-ingress-tls",
        "Grafana's ingress serves every host over TLS.",
        lambda args: grafana_ingress_tls_violations(args.resource_type, args.props, *_stack_config()),
    ),
    _resource_policy(
        "protected-from-deletion",
        "The namespace, the Helm release and the Flux source and Kustomizations are protected.",
        lambda args: protect_violations(args.resource_type, args.props, bool(args.opts.protect)),
    ),
]
