"""The stack configuration, declared as pydantic models: every key, its form, default and meaning.

Pulumi hands every config value to the program as text (objects as JSON) under
``flux-monitoring:<key>``. ``load_settings`` parses those texts and validates them into a
frozen ``Settings``, or raises one ``SettingsError`` listing every problem at once, each with
the key, the value given (``[secret]`` for secrets) and the form expected, before any resource
exists. The same models publish the JSON Schema of the stack file (``flux_monitoring.config.schema``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from flux_monitoring.config.alerting import NULL_RECEIVER, AlertingSettings, FluxEventsSettings, duration_seconds
from flux_monitoring.config.alerts import CONFIGURABLE, RUNBOOKS_PATH, Alert
from flux_monitoring.config.errors import SettingsError, structured_keys, translate
from flux_monitoring.config.fields import Model as _Model
from flux_monitoring.config.fields import field as _field
from flux_monitoring.config.fields import required as _required
from flux_monitoring.config.operator_crds import CRDS_CHART, KNOWN_RANGE, crds_chart_version
from flux_monitoring.config.slo import MINIMUM_WINDOW, lowest_objective
from flux_monitoring.config.types import (
    DNS1123_LABEL,
    EXACT_SEMVER,
    LABEL_KEY,
    LABEL_KEY_TEXT,
    Boolean,
    DnsLabel,
    ExactSemver,
    FluxDuration,
    GitUrl,
    LabelKey,
    LabelValue,
    PrometheusBytes,
    PrometheusDuration,
    Quantity,
    RepositoryPath,
    Secret,
    form_error,
    http_url,
    object_label_name,
    one_of,
    subdomain,
    text,
    whole_number,
)
from flux_monitoring.contract import (
    GIT_COMMIT,
    MINIMUM_PASSWORD_LENGTH,
    is_known_default_password,
)
from flux_monitoring.flux.release import MINORS, NEWEST, SHARD_PATTERN, flux_release
from flux_monitoring.flux.target import (
    FLUX_OPERATOR,
    LEGACY,
    METRIC_SOURCES,
    METRICS_EXPECTED,
    VERSION_EXPECTED,
    VERSION_PATTERN,
    FluxTarget,
    FluxTargetError,
    resolve_flux_target,
)

DEFAULT_CHART_VERSION = "88.5.3"
HELM_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE_NAME = "kube-prometheus-stack"

DELIVERY_MODES = ("direct", "gitops")
# Never echoed in an error, whether or not the stack holds them as secrets.
SECRET_KEYS = frozenset({"grafanaAdminPassword"})

GIT_REF_KEYS = ("branch", "tag", "semver", "commit")


# The forms of this program's keys (flux_monitoring.config.types has the shared ones).
KubeContext = text(
    r"^\S+$",
    "the kubeconfig context of this stack's cluster, set per stack "
    "(pulumi config set kubernetes:context NAME) so no stack follows the current context",
)
Delivery = one_of(*DELIVERY_MODES, expected="direct or gitops")
FluxMetrics = one_of(*METRIC_SOURCES, expected=METRICS_EXPECTED)
FluxVersion = text(VERSION_PATTERN, VERSION_EXPECTED)
# Every controller of any known release: which of them a release has is checked with fluxVersion.
_CONTROLLERS = tuple(dict.fromkeys(c for minor in MINORS for c in flux_release(minor).controllers))
_SHARDED = tuple(dict.fromkeys(c for minor in MINORS for c in flux_release(minor).sharded_controllers))
_COMPONENTS_TEXT = (
    f"a list of the Flux controllers (or shards, <controller>-<shard>) that must be running, each once, such as "
    f"{json.dumps(list(flux_release(NEWEST).default_controllers))}"
)


def _controller_names(value: Any) -> tuple[str, ...]:
    # Pulumi hands a list over as JSON text.
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(name, str) for name in value):
        return tuple(value)
    raise form_error(_COMPONENTS_TEXT, value=value)


FluxComponents = Annotated[
    tuple[str, ...],
    BeforeValidator(_controller_names),
    WithJsonSchema(
        {
            "type": "array",
            "items": {
                "anyOf": [
                    {"type": "string", "enum": list(_CONTROLLERS)},
                    {"type": "string", "pattern": f"^({'|'.join(_SHARDED)})-{SHARD_PATTERN}$"},
                ]
            },
            "minItems": 1,
            "uniqueItems": True,
        }
    ),
]
CrdsVersion = text(EXACT_SEMVER, f"an exact {CRDS_CHART} chart version such as 31.0.1")
_OBJECT_LABELS_TEXT = 'a list of Kubernetes label keys of the Flux objects, such as ["team"]'


def _label_keys(value: Any) -> tuple[str, ...]:
    # Pulumi hands a list over as JSON text.
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if isinstance(value, (list, tuple)) and all(isinstance(key, str) for key in value):
        return tuple(value)
    raise form_error(_OBJECT_LABELS_TEXT, value=value)


def _distinct_prometheus_names(keys: tuple[str, ...]) -> tuple[str, ...]:
    names: dict[str, str] = {}
    for key in keys:
        if len(key.partition("/")[0]) > 253 and "/" in key:
            raise form_error(f"{LABEL_KEY_TEXT} (a prefix of at most 253 characters)", value=key)
        if (name := object_label_name(key)) in names:
            raise form_error(
                f"label keys whose Prometheus names differ: {names[name]} and {key} are both {name}", value=list(keys)
            )
        names[name] = key
    return keys


ObjectLabels = Annotated[
    tuple[LabelKey, ...],
    BeforeValidator(_label_keys),
    AfterValidator(_distinct_prometheus_names),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": LABEL_KEY, "maxLength": 317}, "uniqueItems": True}
    ),
]
# Why a metric source cannot carry the objects' own labels (kube-state-metrics copies them from
# metadata.labels; these sources' series have fixed label sets).
WITHOUT_OBJECT_LABELS = {
    FLUX_OPERATOR: "the Flux Operator's flux_resource_info has a fixed set of labels",
    LEGACY: "the controllers' gotk_reconcile_condition has a fixed set of labels",
}
UserName = text(r"^[^\s:]+$", "a user name without spaces or ':', such as admin")
IngressHost = subdomain(
    "a DNS name such as grafana.example.com", missing="a DNS name such as grafana.example.com (required with ingress)"
)
IngressClassName = subdomain("an IngressClass name such as nginx")
TlsSecretName = subdomain("the name of a TLS Secret in the monitoring namespace, such as grafana-tls")
StorageClassName = subdomain("a StorageClass name such as standard or gp3")
Replicas = whole_number(1, 10)
GitBranch = text(r"^\S+$", "a git branch name without spaces")
GitTag = text(r"^\S+$", "a git tag name without spaces")
# Flux takes semver constraints, whose clauses are separated by spaces or commas.
SemverRange = text(r"^[0-9A-Za-z.*^~=<>!|, +-]+$", "a semver range such as 1.x, ^1.2.0 or >=1.2.0 <2.0.0")
GitCommit = text(GIT_COMMIT, "a full 40 (or 64) character lower-case hex commit SHA")
# https only: a runbook is opened from a notification, often outside the cluster's network; the
# alert's anchor is appended, so the URL has none.
RunbookUrl = text(
    r"^https://[^\s/@#]+(/[^\s#]*)?$",
    "an https:// URL without #fragment, such as https://github.com/acme/flux-monitoring/blob/main/docs/runbooks.md",
    max_length=2048,
)
SecretName = subdomain("the name of a Secret in the Flux namespace, such as monitoring-git-auth")


# -- fleet: remote write targets and Grafana data sources -------------------------------------

# Go's time.ParseDuration as Prometheus' remote write queue takes it.
QUEUE_DURATION = r"^([0-9]+(ms|s|m|h))+$"
# Prometheus sets these itself on remote write (prometheus storage/remote/client.go); credentials in
# a header would land in the Helm values: they go in basicAuth or bearerToken.
RESERVED_HEADERS = (
    "Authorization",
    "Content-Encoding",
    "Content-Type",
    "User-Agent",
    "X-Prometheus-Remote-Write-Version",
    "Host",
)
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an HTTP token (RFC 9110)

HttpUrl = http_url("https://mimir.example.com/api/v1/push", "basicAuth or bearerToken (secrets)")
ClusterName = text(
    DNS1123_LABEL,
    "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, such as eu-west-prod",
    max_length=63,
)
TargetName = text(
    DNS1123_LABEL,
    "a DNS-1123 label such as mimir (names the queue and its credential keys)",
    max_length=63,
    missing="a DNS-1123 label such as mimir (required)",
)
QueueDuration = text(QUEUE_DURATION, "a duration such as 5s, 100ms or 1m30s")
Count = whole_number(1, 1_000_000)
CredentialUser = text(
    r"^[^\s:]+$",
    "a user name without spaces or ':', such as fleet-writer",
    missing="a user name (required with basicAuth)",
)
DatasourceName = text(
    r"^\S(.*\S)?$",
    "a data source name such as fleet",
    max_length=190,
    missing="a data source name such as fleet (required)",
)
HEADERS_EXPECTED = (
    f'an object of HTTP header names to values, such as {{"X-Scope-OrgID": "platform"}}, '
    f"naming none of {', '.join(RESERVED_HEADERS)} (credentials go in basicAuth or bearerToken)"
)
# Shown as [secret] in a problem: a value that may hold a credential.
HIDDEN = SecretStr("[secret]")


def _list_of(model: type[BaseModel], expected: str) -> Any:
    """A list of ``model`` objects (given in the stack file as a YAML list)."""

    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise form_error(expected)
        return value

    return Annotated[tuple[model, ...], BeforeValidator(check)]


def _valid_headers(value: Any) -> bool:
    reserved = {name.lower() for name in RESERVED_HEADERS}
    return isinstance(value, dict) and all(
        isinstance(k, str)
        and re.match(HEADER_NAME, k)
        and k.lower() not in reserved
        and isinstance(v, str)
        and v
        and v == v.strip()
        for k, v in value.items()
    )


# The reserved names in any letter case, for the schema (its regexes have no case-insensitive flag).
_RESERVED_HEADER_PATTERN = (
    "^(?!("
    + "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in name) for name in RESERVED_HEADERS
    )
    + ")$)"
)
Headers = Annotated[
    dict[str, str],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"allOf": [{"pattern": HEADER_NAME}, {"pattern": _RESERVED_HEADER_PATTERN}]},
            "additionalProperties": {"type": "string", "minLength": 1},
        }
    ),
]


class BasicAuth(_Model):
    username: CredentialUser = _required(None, "User name (kept in a Kubernetes Secret).", "fleet-writer")
    password: Secret = _required(
        None, "Password; secret only (pulumi config set --secret --path).", {"secure": "v1:..."}
    )


class _Endpoint(_Model):
    """An HTTP endpoint with at most one credential, and extra headers."""

    basic_auth: BasicAuth | None = _field(
        None, "basicAuth", "HTTP basic authentication.", {"username": "fleet-writer", "password": {"secure": "v1:..."}}
    )
    bearer_token: Secret | None = _field(None, "bearerToken", "Bearer token; secret only.", {"secure": "v1:..."})
    headers: Headers = _field(
        {}, None, "Extra HTTP headers, such as a Mimir tenant (not for credentials).", {"X-Scope-OrgID": "platform"}
    )

    @model_validator(mode="before")
    @classmethod
    def _headers_carry_no_credentials(cls, value: Any) -> Any:
        if isinstance(value, dict) and "headers" in value and not _valid_headers(value["headers"]):
            # A header may hold a credential: the value is never shown.
            raise form_error(HEADERS_EXPECTED, key="headers", value=HIDDEN)
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> Any:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise form_error("basicAuth or bearerToken, not both", key="bearerToken", value=HIDDEN)
        return self


class RemoteWriteQueue(_Model):
    """Tuning of Prometheus' remote write queue (the Prometheus Operator's QueueConfig)."""

    capacity: Count | None = _field(None, None, "Samples buffered per shard.", 10000)
    min_shards: Count | None = _field(None, "minShards", "Fewest parallel senders.", 1)
    max_shards: Count | None = _field(None, "maxShards", "Most parallel senders.", 50)
    max_samples_per_send: Count | None = _field(None, "maxSamplesPerSend", "Samples per request.", 2000)
    batch_send_deadline: QueueDuration | None = _field(
        None, "batchSendDeadline", "Longest wait before a batch is sent.", "5s"
    )
    min_backoff: QueueDuration | None = _field(None, "minBackoff", "First retry delay.", "30ms")
    max_backoff: QueueDuration | None = _field(None, "maxBackoff", "Longest retry delay.", "5s")
    retry_on_rate_limit: Boolean | None = _field(None, "retryOnRateLimit", "Retry on HTTP 429.", True)


class RemoteWrite(_Endpoint):
    """One remote write target of this cluster's Prometheus, such as the fleet's central store."""

    url: HttpUrl = _required(None, "Remote write endpoint.", "https://mimir.example.com/api/v1/push")
    name: TargetName = _required(
        None,
        "Unique name: the queue's name in Prometheus' metrics and the prefix of "
        "its credential keys in the remote-write-credentials Secret.",
        "mimir",
    )
    flux_only: Boolean = _field(
        True,
        "fluxOnly",
        "Send only the series the Flux dashboards, alerts and recording "
        "rules read (write relabeling); false sends every series.",
        False,
    )
    queue: RemoteWriteQueue | None = _field(
        None, None, "Queue tuning; Prometheus' defaults when unset.", {"maxShards": 10, "batchSendDeadline": "5s"}
    )


class GrafanaDatasource(_Endpoint):
    """An extra Prometheus-compatible data source of Grafana, such as the fleet's central store."""

    name: DatasourceName = _required(None, "Data source name shown in Grafana.", "fleet")
    url: HttpUrl = _required(None, "Prometheus-compatible query URL.", "https://mimir.example.com/prometheus")
    default: Boolean = _field(False, None, "Make it Grafana's default data source.", True)


def has_credentials(endpoint: _Endpoint) -> bool:
    return endpoint.basic_auth is not None or endpoint.bearer_token is not None


# -- grafana ----------------------------------------------------------------------------------


class Ingress(_Model):
    host: IngressHost = _required(None, "DNS name Grafana is served on.", "grafana.example.com")
    class_name: IngressClassName | None = _field(
        None, "className", "IngressClass of the ingress; the cluster default when unset.", "nginx"
    )
    tls_secret_name: TlsSecretName | None = _field(
        None, "tlsSecretName", "TLS Secret in the monitoring namespace; makes grafanaUrl https.", "grafana-tls"
    )


class GrafanaSettings(_Model):
    admin_user: UserName = _field(
        "admin",
        "adminUser",
        "Grafana admin user name; applied when Grafana creates its database "
        "(docs/secrets.md: rename an existing admin in Grafana first).",
        "admin",
    )
    ingress: Ingress | None = _field(
        None,
        None,
        "Serve Grafana behind an ingress (no ingress when unset).",
        {"host": "grafana.example.com", "className": "nginx", "tlsSecretName": "grafana-tls"},
    )
    persistence_size: Quantity | None = _field(
        None, "persistenceSize", "Size of Grafana's persistent volume (no volume when unset).", "10Gi"
    )
    datasources: _list_of(GrafanaDatasource, "a list of data sources, each with name and url") = _field(
        (),
        None,
        "Extra Prometheus-compatible data sources, such as the fleet's central store on a hub cluster; "
        "credentials secret only.",
        [
            {
                "name": "fleet",
                "url": "https://mimir.example.com/prometheus",
                "headers": {"X-Scope-OrgID": "platform"},
                "default": True,
            }
        ],
    )

    @model_validator(mode="after")
    def _one_default_and_unique_names(self) -> GrafanaSettings:
        names = [source.name for source in self.datasources]
        if len(set(names)) != len(names):
            raise form_error("data sources with distinct names", key="datasources", value=names)
        if sum(source.default for source in self.datasources) > 1:
            raise form_error("at most one data source with default: true", key="datasources", value=names)
        return self


# -- prometheus -------------------------------------------------------------------------------


class ResourceAmounts(_Model):
    cpu: Quantity | None = _field(None, None, "CPU, in cores or millicores.", "500m", "2")
    memory: Quantity | None = _field(None, None, "Memory, in bytes with a unit.", "4Gi")

    def as_dict(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


class ComputeResources(_Model):
    requests: ResourceAmounts = _field(
        ResourceAmounts(), None, "What the scheduler reserves for Prometheus.", {"cpu": "500m", "memory": "4Gi"}
    )
    limits: ResourceAmounts = _field(ResourceAmounts(), None, "The most Prometheus may use.", {"memory": "8Gi"})


class PrometheusSettings(_Model):
    replicas: Replicas = _field(1, None, "Prometheus replicas, 1 to 10; more than one adds a PodDisruptionBudget.", 2)
    retention: PrometheusDuration = _field("10d", None, "How long Prometheus keeps samples.", "30d", "12h30m")
    retention_size: PrometheusBytes | None = _field(
        None, "retentionSize", "Most disk space the samples may take (no limit when unset).", "45GB"
    )
    storage_size: Quantity | None = _field(
        None, "storageSize", "Size of each replica's persistent volume (no volume when unset).", "100Gi"
    )
    storage_class_name: StorageClassName | None = _field(
        None, "storageClassName", "StorageClass of the volume; the cluster default when unset.", "gp3"
    )
    resources: ComputeResources = _field(
        ComputeResources(), None, "CPU and memory requests and limits.", {"requests": {"cpu": "500m", "memory": "4Gi"}}
    )


class AlertmanagerSettings(_Model):
    enabled: Boolean = _field(True, None, "Run Alertmanager.", False)


# -- alerts -----------------------------------------------------------------------------------


class AlertRule(_Model):
    """When one alert fires (after ``for_``) and its ``severity`` label; some also have a ``threshold``."""

    for_: PrometheusDuration
    severity: LabelValue


def _alert_rule(alert: Alert) -> type[AlertRule]:
    """The model of ``alert``'s key under ``alerts``, with its catalogue defaults."""
    fields: dict[str, Any] = {
        "for_": (
            PrometheusDuration,
            _field(alert.for_, "for", f"How long {alert.fires} before the alert fires.", alert.for_),
        ),
        "severity": (LabelValue, _field(alert.severity, None, "The alert's severity label.", alert.severity)),
    }
    if alert.threshold:
        threshold = alert.threshold
        fields["threshold"] = (
            threshold.form,
            _field(threshold.default, threshold.key, threshold.meaning, threshold.default),
        )
    name = f"{alert.key[0].upper()}{alert.key[1:]}Rule"
    return create_model(name, __base__=AlertRule, __doc__=f"When {alert.fires}.", **fields)


def _alert_settings() -> type[_Model]:
    fields: dict[str, Any] = {}
    for alert in CONFIGURABLE:
        model = _alert_rule(alert)
        fields[alert.field] = (
            model,
            _field(
                model(),
                None if alert.key == alert.field else alert.key,
                f"{alert.name}: {alert.meaning}",
                alert.example,
            ),
        )
    return create_model(
        "AlertSettings",
        __base__=_Model,
        __doc__="Each alert's key; an alert given in part keeps its own defaults for the rest.",
        **fields,
    )


AlertSettings = _alert_settings()


# -- delivery SLOs --------------------------------------------------------------------------------------


def _objective(value: Any) -> float:
    expected = "a percentage above 0 and below 100, such as 99.5"
    if value is None:
        raise form_error(f"{expected} (required)")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 100:
        return float(value)
    raise form_error(expected)


Objective = Annotated[
    float,
    BeforeValidator(_objective),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100}),
]


class SloSettings(_Model):
    """A delivery objective for every namespace's Kustomizations and HelmReleases (config/slo.py)."""

    objective: Objective = _required(
        None,
        "Percent of object-time each namespace's Kustomizations and HelmReleases are not failing "
        "(reconciling is not failing).",
        99.5,
    )
    window: PrometheusDuration = _field(
        "30d", None, "The window the objective and its error budget are over; at most prometheus.retention.", "28d"
    )

    @model_validator(mode="after")
    def _burn_rates_can_fire(self) -> SloSettings:
        if duration_seconds(self.window) < duration_seconds(MINIMUM_WINDOW):
            raise form_error(
                f"a Prometheus duration of at least {MINIMUM_WINDOW}, such as 30d or 28d",
                key="window",
                value=self.window,
            )
        if self.objective <= (lowest := lowest_objective(self.window)):
            raise form_error(
                f"a percentage above {lowest:.2f} and below 100 with window {self.window}: a lower objective's "
                "fast-burn threshold is above 100% failing, so it could never page",
                key="objective",
                value=int(self.objective) if self.objective.is_integer() else self.objective,
            )
        return self


# -- gitops -----------------------------------------------------------------------------------


class GitOpsSettings(_Model):
    url: GitUrl = _required(
        None, "The monitoring repository, https:// (no credentials) or ssh://.", "https://github.com/example/monitoring"
    )
    branch: GitBranch | None = _field(None, None, "Follow a branch (one of branch, tag, semver, commit).", "main")
    tag: GitTag | None = _field(None, None, "Check out a tag (one of branch, tag, semver, commit).", "v1.0.0")
    semver: SemverRange | None = _field(
        None, None, "Check out the newest tag in a semver range (one of branch, tag, semver, commit).", "1.x"
    )
    commit: GitCommit | None = _field(None, None, "Check out a commit (one of branch, tag, semver, commit).", "0" * 40)
    interval: FluxDuration = _field("30m", None, "How often Flux fetches the repository.", "30m")
    stack_path: RepositoryPath = _field(
        "./manifests/monitoring/kube-prometheus-stack",
        "stackPath",
        "Path of the stack tree in the repository.",
        "./monitoring/stack",
    )
    config_path: RepositoryPath = _field(
        "./manifests/monitoring/monitoring-config",
        "configPath",
        "Path of the config tree in the repository.",
        "./monitoring/config",
    )
    secret_ref: SecretName | None = _field(
        None,
        "secretRef",
        "Secret in the Flux namespace with the git credentials (public repository when unset).",
        "monitoring-git-auth",
    )
    timeout: FluxDuration = _field(
        "10m",
        None,
        "Flux's apply and health-check timeout of monitoring-config, and of monitoring-stack unless "
        "shorter than the HelmRelease's Helm timeout plus 5 minutes (then 20m).",
        "10m",
    )

    @model_validator(mode="after")
    def _exactly_one_ref(self) -> GitOpsSettings:
        given = {key: getattr(self, key) for key in GIT_REF_KEYS if getattr(self, key) is not None}
        if len(given) != 1:
            raise form_error(
                "exactly one of branch, tag, semver or commit", key="|".join(GIT_REF_KEYS), value=given or None
            )
        return self

    @property
    def ref_kind(self) -> str:
        return next(key for key in GIT_REF_KEYS if getattr(self, key) is not None)

    @property
    def ref_value(self) -> str:
        return getattr(self, self.ref_kind)


# -- the stack --------------------------------------------------------------------------------

KUBE_CONTEXT = "kubernetes:context"


class Settings(_Model):
    """The whole stack config. Field order is the order problems are reported in."""

    kube_context: KubeContext = _required(
        KUBE_CONTEXT,
        "kubeconfig context of the stack's cluster; the program uses an explicit provider "
        "on it, never the current context.",
        "prod",
    )
    namespace: DnsLabel = _field("monitoring", None, "Namespace of the monitoring stack.", "monitoring")
    flux_namespace: DnsLabel = _field(
        "flux-system", "fluxNamespace", "Namespace of the Flux controllers.", "flux-system"
    )
    node_exporter_namespace: DnsLabel = _field(
        "node-exporter",
        "nodeExporterNamespace",
        "Namespace of node-exporter, the one component that needs privileged pod security (host network, PID "
        "and paths); created by the program, so the monitoring namespace can enforce baseline.",
        "node-exporter",
    )
    delivery: Delivery = _field(
        "direct", None, "direct: Pulumi installs everything; gitops: Flux syncs it from git.", "gitops"
    )
    chart_version: ExactSemver = _field(
        DEFAULT_CHART_VERSION, "chartVersion", "Exact kube-prometheus-stack version.", DEFAULT_CHART_VERSION
    )
    operator_crds_version: CrdsVersion | None = _field(
        None,
        "operatorCrdsVersion",
        f"Exact {CRDS_CHART} chart version direct delivery applies before kube-prometheus-stack (its own "
        f"CRDs off); when unset, the one with the Prometheus Operator release of chartVersion (known for "
        f"kube-prometheus-stack {KNOWN_RANGE}). Set it only for a chartVersion outside that range.",
        "31.0.1",
    )
    flux_version: FluxVersion = _field(
        NEWEST,
        "fluxVersion",
        f"The Flux minor release the cluster runs, {MINORS[0]} to {NEWEST}; a newer 2.x is "
        f"monitored as {NEWEST}, with a warning.",
        NEWEST,
        "2.4",
    )
    flux_metrics: FluxMetrics = _field(
        "resource-info",
        "fluxMetrics",
        "Where Flux objects' state comes from: resource-info (gotk_resource_info via "
        "kube-state-metrics), flux-operator (the Flux Operator's flux_resource_info) or legacy (the controllers' "
        "gotk_reconcile_condition, Flux before 2.5).",
        "flux-operator",
    )
    flux_components: FluxComponents | None = _field(
        None,
        "fluxComponents",
        "The Flux controllers, and shards (<controller>-<shard>, their pods' app label), that must be running: "
        "FluxControllerDown fires for one without a target. Every controller and shard of the release is "
        "scraped and every kind watched whether listed or not. The release's `flux install` defaults when unset.",
        [
            "source-controller",
            "kustomize-controller",
            "kustomize-controller-shard1",
            "helm-controller",
            "notification-controller",
            "image-reflector-controller",
            "image-automation-controller",
        ],
    )
    object_labels: ObjectLabels = _field(
        (),
        "objectLabels",
        "Kubernetes label keys of the Flux objects that kube-state-metrics copies onto their state series "
        "(as label_<key>, characters outside [a-zA-Z0-9_] as _): object alerts carry them, "
        "alerting.route.byObjectLabel routes by them, the dashboards filter by them. resource-info only.",
        ["team"],
    )
    drop_unused_metrics: Boolean = _field(
        True,
        "dropUnusedMetrics",
        "Drop the Flux controller series no dashboard, alert or recording rule uses (PodMonitor metricRelabelings).",
        False,
    )
    grafana_admin_password: Secret | None = _field(
        None,
        "grafanaAdminPassword",
        f"Grafana admin password, secret only (pulumi config set --secret); at least "
        f"{MINIMUM_PASSWORD_LENGTH} characters, no well-known default. Generated when unset.",
        {"secure": "v1:..."},
    )
    require_grafana_admin_password: Boolean = _field(
        False, "requireGrafanaAdminPassword", "Refuse to generate a password: grafanaAdminPassword must be set.", True
    )
    protect: Boolean = _field(
        False, None, "Protect the namespace, the Helm release and the Flux objects from deletion.", True
    )
    adopt_existing_objects: Boolean = _field(
        False,
        "adoptExistingObjects",
        "Take over objects that already exist under the names this program creates (the monitoring namespace, "
        "Secrets, dashboards of a cluster that followed the Flux guide) instead of failing with AlreadyExists; "
        "for a first `pulumi up` on such a cluster only (docs/migration.md).",
        True,
    )
    grafana: GrafanaSettings = _field(GrafanaSettings(), None, "Grafana.", {"adminUser": "admin"})
    prometheus: PrometheusSettings = _field(
        PrometheusSettings(), None, "Prometheus.", {"replicas": 2, "retention": "30d", "storageSize": "100Gi"}
    )
    alertmanager: AlertmanagerSettings = _field(
        AlertmanagerSettings(),
        None,
        "Alertmanager (needed by alerting.receivers and fluxEvents.alertmanager).",
        {"enabled": True},
    )
    alerts: AlertSettings = _field(
        AlertSettings(),
        None,
        "When each Flux alert fires and its severity.",
        {"reconciliationFailure": {"for": "15m", "severity": "page"}},
    )
    runbook_base_url: RunbookUrl | None = _field(
        None,
        "runbookBaseUrl",
        f"Where the runbooks are: every alert's runbook_url is this URL and #<alert name in lower case>. "
        f"Unset: {RUNBOOKS_PATH}, their path in this project's repository; point it at your fork's page or your wiki.",
        "https://github.com/acme/flux-monitoring/blob/main/docs/runbooks.md",
    )
    slo: SloSettings | None = _field(
        None,
        None,
        "Delivery SLO per namespace: recording rules of the fraction of object-time its Kustomizations and "
        "HelmReleases are not failing, burn-rate alerts (FluxDeliveryBudgetFastBurn, FluxDeliveryBudgetSlowBurn) "
        "routed like object alerts, the error budget left on the flux-cluster dashboard. Off when unset.",
        {"objective": 99.5, "window": "30d"},
    )
    gitops: GitOpsSettings | None = _field(
        None,
        None,
        "Where Flux syncs the stack from (required when delivery is gitops).",
        {"url": "https://github.com/example/monitoring", "tag": "v1.0.0"},
    )
    alerting: AlertingSettings = _field(
        AlertingSettings(),
        None,
        "Alertmanager receivers and routes; credentials set with --secret --path.",
        {"receivers": {"oncall": {"type": "pagerduty", "routingKey": "[secret]"}}, "route": {"default": "oncall"}},
    )
    flux_events: FluxEventsSettings = _field(
        FluxEventsSettings(),
        "fluxEvents",
        "Flux's own events to Grafana annotations and Alertmanager.",
        {"grafanaAnnotations": True, "alertmanager": True},
    )
    cluster: ClusterName | None = _field(
        None,
        None,
        "This cluster's name in the fleet: the cluster external label of every series, recorded "
        "series and alert leaving Prometheus. Defaults to the stack name.",
        "eu-west-prod",
    )
    remote_write: _list_of(RemoteWrite, "a list of remote write targets, each with name and url") = _field(
        (),
        "remoteWrite",
        "Where Prometheus remote writes, such as the fleet's central store (Mimir, Thanos "
        "Receive, VictoriaMetrics); credentials secret only.",
        [
            {
                "name": "mimir",
                "url": "https://mimir.example.com/api/v1/push",
                "headers": {"X-Scope-OrgID": "platform"},
                "basicAuth": {"username": "fleet-writer", "password": {"secure": "v1:..."}},
            }
        ],
    )

    @property
    def crds_version(self) -> str | None:
        """The prometheus-operator-crds version direct delivery applies (flux_monitoring.config.operator_crds)."""
        return self.operator_crds_version or crds_chart_version(self.chart_version)

    @field_validator("grafana_admin_password", mode="before")
    @classmethod
    def _password_is_a_strong_secret(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        if "grafanaAdminPassword" not in (info.context or {}).get("secret_keys", ()):
            raise form_error("a secret: set it with pulumi config set --secret grafanaAdminPassword")
        if not isinstance(value, str) or len(value) < MINIMUM_PASSWORD_LENGTH or is_known_default_password(value):
            raise form_error(f"at least {MINIMUM_PASSWORD_LENGTH} characters and not a well-known default password")
        return value

    @model_validator(mode="after")
    def _credentials_are_secrets(self, info: ValidationInfo) -> Settings:
        # Pulumi hands over a key holding any secret as a secret whole: a key with credentials that
        # is not one had them written in plain text into the stack file. Their values are not shown.
        secret_keys = (info.context or {}).get("secret_keys", ())
        for key, path, endpoints in (
            ("remoteWrite", "remoteWrite[0]", self.remote_write),
            ("grafana", "grafana.datasources[0]", self.grafana.datasources),
        ):
            if key not in secret_keys and any(has_credentials(endpoint) for endpoint in endpoints):
                raise form_error(
                    f"credentials set as secrets: pulumi config set --secret --path "
                    f"'{path}.basicAuth.password' (or .bearerToken)",
                    key=key,
                    value=HIDDEN,
                )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.namespace == self.flux_namespace:
            raise form_error(
                "a namespace other than the monitoring namespace", key="fluxNamespace", value=self.flux_namespace
            )
        if self.node_exporter_namespace in (self.namespace, self.flux_namespace):
            raise form_error(
                "a namespace of its own, neither the monitoring nor the Flux namespace: only node-exporter runs "
                "privileged",
                key="nodeExporterNamespace",
                value=self.node_exporter_namespace,
            )
        if self.require_grafana_admin_password and self.grafana_admin_password is None:
            raise form_error(
                "a secret, required by requireGrafanaAdminPassword: pulumi config set --secret grafanaAdminPassword",
                key="grafanaAdminPassword",
            )
        if not self.alertmanager.enabled and self.alerting.receivers:
            raise form_error(
                "true: alerting.receivers are set, and only Alertmanager delivers to them",
                key="alertmanager.enabled",
                value=False,
            )
        if not self.alertmanager.enabled and self.flux_events.alertmanager:
            raise form_error(
                "true: fluxEvents.alertmanager sends Flux's error events to Alertmanager",
                key="alertmanager.enabled",
                value=False,
            )
        names = [target.name for target in self.remote_write]
        if len(set(names)) != len(names):
            raise form_error("remote write targets with distinct names", key="remoteWrite", value=names)
        if self.delivery == "direct" and self.crds_version is None:
            raise form_error(
                f"a kube-prometheus-stack version from {KNOWN_RANGE}, whose Prometheus Operator CRDs chart "
                f"is known; for another, set operatorCrdsVersion to the {CRDS_CHART} version with the same "
                f"appVersion (prometheus-community/helm-charts)",
                key="chartVersion",
                value=self.chart_version,
            )
        if self.delivery == "gitops" and self.gitops is None:
            raise form_error(
                "an object with url and one of branch, tag, semver or commit (required when delivery is gitops)",
                key="gitops",
            )
        if self.object_labels and (why := WITHOUT_OBJECT_LABELS.get(self.flux_metrics)):
            raise form_error(
                f"no objectLabels with fluxMetrics {self.flux_metrics} ({why}): objectLabels needs "
                "fluxMetrics resource-info, whose kube-state-metrics copies the objects' labels",
                key="objectLabels",
                value=list(self.object_labels),
            )
        retention = duration_seconds(self.prometheus.retention)
        if self.slo is not None and retention and duration_seconds(self.slo.window) > retention:
            raise form_error(
                f"at most prometheus.retention ({self.prometheus.retention}): the budget is computed from the "
                "window's samples; raise prometheus.retention or shorten the window",
                key="slo.window",
                value=self.slo.window,
            )
        route = self.alerting.route
        for key in route.by_object_label if route is not None else ():
            if key not in self.object_labels:
                raise form_error(
                    f"a label key listed in objectLabels ({', '.join(self.object_labels) or 'none yet'})",
                    key=f"alerting.route.byObjectLabel.{key}",
                    value=key,
                )
        try:
            _ = self.flux  # resolving the target is what checks it
        except FluxTargetError as error:
            # The release decides which controllers exist and whether legacy still has gauges.
            key, value, expected = error.problems[0]
            raise form_error(expected, key=key, value=value) from None
        return self

    @property
    def flux(self) -> FluxTarget:
        """The Flux release, metric source and controllers monitored (flux_monitoring/flux/target.py),
        with the warnings to show the user."""
        components = list(self.flux_components) if self.flux_components is not None else None
        return resolve_flux_target(self.flux_version, self.flux_metrics, components)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user should hear before anything is created: what the chosen Flux cannot show, and
        alerts that reach no one (a legal config, the dev stack's: no receiver to set up)."""
        if self.alerting.receivers:
            return self.flux.warnings
        if self.alertmanager.enabled:
            unheard = (
                "alerting: no receiver is configured: Alertmanager delivers every alert to its receiver "
                f"'{NULL_RECEIVER}', so alerts reach no one; add alerting.receivers and alerting.route"
            )
        else:
            unheard = (
                "alertmanager.enabled is false: Prometheus evaluates the alerts and sends them nowhere, so "
                "alerts reach no one; enable it and add alerting.receivers and alerting.route"
            )
        return (*self.flux.warnings, f"{unheard} (docs/alerting.md)")


# Every key of the stack config, in the project's namespace.
CONFIG_KEYS = tuple(field.alias or name for name, field in Settings.model_fields.items() if field.alias != KUBE_CONTEXT)


def load_settings(
    raw: Mapping[str, str],
    secret_keys: frozenset[str] | set[str] = frozenset(),
    kube_context: str | None = None,
    *,
    without_credentials: bool = False,
) -> Settings:
    """Validate the stack's config texts (keys without the project prefix) into ``Settings``.

    ``secret_keys`` names the keys that Pulumi holds as secrets; ``kube_context`` is the
    ``kubernetes:context`` of the stack. ``without_credentials`` (the offline render, which
    cannot decrypt) lets the alerting credentials be absent.
    """
    objects = structured_keys(Settings)
    values = {key: _parsed(text_value) if key in objects else text_value for key, text_value in raw.items()}
    if kube_context is not None:
        values[KUBE_CONTEXT] = kube_context
    shown_as_secret = frozenset(secret_keys) | SECRET_KEYS
    try:
        return Settings.model_validate(
            values, context={"secret_keys": frozenset(secret_keys), "without_credentials": without_credentials}
        )
    except ValidationError as error:
        errors = error.errors(include_url=False)
    # Raised outside the except block: pydantic's own error, which quotes input values, is not chained.
    raise SettingsError(translate(errors, Settings, shown_as_secret))


def _parsed(text_value: str) -> Any:
    """An object key's JSON text; a text that is not JSON stays text (and fails as not an object)."""
    try:
        return json.loads(text_value)
    except json.JSONDecodeError:
        return text_value
