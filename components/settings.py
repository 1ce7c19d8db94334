"""Stack configuration, read in one place and validated into typed settings.

Pulumi hands every config value to the program as text (objects as JSON) under
``flux-monitoring:<key>``. ``load_settings`` takes those texts and either returns a
``Settings`` or raises one ``SettingsError`` that lists every problem at once, each
with the key, the value given and the form expected, before any resource exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

PROJECT = "flux-monitoring"

DEFAULT_CHART_VERSION = "88.5.3"
HELM_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE_NAME = "kube-prometheus-stack"

# Forms the Kubernetes API, Prometheus and Flux accept; error messages quote the examples.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_EXACT_SEMVER = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_PROMETHEUS_DURATION = re.compile(r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$")
_PROMETHEUS_BYTES = re.compile(r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$")
_FLUX_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_QUANTITY = re.compile(
    r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# https without user info (credentials belong in the secretRef Secret, not in state or git);
# ssh with an optional user name such as git@.
_GIT_URL = re.compile(r"^(https://|ssh://([^\s/@:]+@)?)[^\s/@:]+(:[0-9]+)?/\S+$")
_URL_USER_INFO = re.compile(r"(?<=://)[^\s/@]*@")
_GIT_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

DELIVERY_MODES = ("direct", "gitops")
FLUX_METRICS_GENERATIONS = ("resource-info", "legacy")
# Never echoed in an error, whether or not the stack holds them as secrets.
SECRET_KEYS = frozenset({"grafanaAdminPassword"})
# The chart's old default (prom-operator) and the usual suspects; compared case-insensitively.
KNOWN_DEFAULT_PASSWORDS = frozenset({
    "admin", "prom-operator", "password", "changeme", "grafana", "secret", "123456",
    "12345678", "123456789", "1234567890", "admin123", "password123", "letmein", "qwerty",
    "administrator", "changeme123", "default",
})

PROMETHEUS_DURATION = "a Prometheus duration such as 15d, 12h30m or 1y"
KUBERNETES_QUANTITY = "a Kubernetes quantity such as 50Gi, 500Mi, 1Ti, 500m or 0.5"


class SettingsError(ValueError):
    """Every problem found in a stack's configuration, reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


class Secret(str):
    """A secret config value: a str whose repr never shows it, so logs and errors cannot echo it."""

    def __repr__(self) -> str:
        return "Secret('[secret]')"


@dataclass(frozen=True)
class Ingress:
    host: str
    class_name: str | None = None
    tls_secret_name: str | None = None


@dataclass(frozen=True)
class GrafanaSettings:
    admin_user: str = "admin"
    ingress: Ingress | None = None
    persistence_size: str | None = None


@dataclass(frozen=True)
class ComputeResources:
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PrometheusSettings:
    replicas: int = 1
    retention: str = "10d"
    retention_size: str | None = None
    storage_size: str | None = None
    storage_class_name: str | None = None
    resources: ComputeResources = field(default_factory=ComputeResources)


@dataclass(frozen=True)
class AlertmanagerSettings:
    enabled: bool = True


@dataclass(frozen=True)
class AlertRule:
    """When one alert fires: after ``for_`` at ``severity``, past ``threshold`` where it has one."""

    for_: str
    severity: str
    threshold: float | None = None


# The bucket bounds of gotk_reconcile_duration_seconds, as the Flux controllers export it
# (fluxcd/pkg runtime/metrics: ExponentialBuckets(10e-9, 10, 10)). No bucket lies above 10s, so
# histogram_quantile never returns more than 10: a p99 threshold above that could never fire.
FLUX_DURATION_BUCKETS = (1e-08, 1e-07, 1e-06, 1e-05, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)


@dataclass(frozen=True)
class AlertSettings:
    reconciliation_failure: AlertRule = AlertRule("10m", "page")
    suspended: AlertRule = AlertRule("24h", "warning")
    controller_down: AlertRule = AlertRule("5m", "page")
    # p99 reconcile duration, in seconds. At 10 it fires once more than 1% of an object's
    # reconciliations take longer than Flux's largest bucket; 30m outlasts one slow Helm upgrade.
    reconcile_duration: AlertRule = AlertRule("30m", "warning", FLUX_DURATION_BUCKETS[-1])
    source_failure: AlertRule = AlertRule("15m", "warning")
    # work queue depth, in items
    workqueue: AlertRule = AlertRule("15m", "warning", 100.0)


# config key of each alert -> (AlertSettings field, name of its threshold key or None)
ALERT_KEYS: dict[str, tuple[str, str | None]] = {
    "reconciliationFailure": ("reconciliation_failure", None),
    "suspended": ("suspended", None),
    "controllerDown": ("controller_down", None),
    "reconcileDuration": ("reconcile_duration", "p99Seconds"),
    "sourceFailure": ("source_failure", None),
    "workqueue": ("workqueue", "depth"),
}

THRESHOLD_MAXIMUMS = {
    "p99Seconds": (FLUX_DURATION_BUCKETS[-1], "Flux's reconcile-duration histogram has no bucket above 10s"),
}

GIT_REF_KEYS = ("branch", "tag", "semver", "commit")


@dataclass(frozen=True)
class GitOpsSettings:
    url: str
    ref_kind: str
    ref_value: str
    interval: str = "30m"
    stack_path: str = "./manifests/monitoring/kube-prometheus-stack"
    config_path: str = "./manifests/monitoring/monitoring-config"
    secret_ref: str | None = None
    timeout: str = "10m"


@dataclass(frozen=True)
class Settings:
    kube_context: str
    namespace: str = "monitoring"
    flux_namespace: str = "flux-system"
    delivery: str = "direct"
    chart_version: str = DEFAULT_CHART_VERSION
    grafana_admin_password: Secret | None = None
    require_grafana_admin_password: bool = False
    grafana: GrafanaSettings = field(default_factory=GrafanaSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    alertmanager: AlertmanagerSettings = field(default_factory=AlertmanagerSettings)
    protect: bool = False
    flux_metrics: str = "resource-info"
    drop_unused_metrics: bool = True
    alerts: AlertSettings = field(default_factory=AlertSettings)
    gitops: GitOpsSettings | None = None


# Every key of the stack config, in the project's namespace.
CONFIG_KEYS = ("namespace", "fluxNamespace", "delivery", "chartVersion", "grafanaAdminPassword",
               "requireGrafanaAdminPassword", "grafana", "prometheus", "alertmanager", "protect",
               "fluxMetrics", "dropUnusedMetrics", "alerts", "gitops")

# The defaults of every setting, where the dataclasses declare them.
_DEFAULTS = Settings(kube_context="")
_GITOPS_DEFAULTS = GitOpsSettings(url="", ref_kind="", ref_value="")


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, raw: Mapping[str, str], secret_keys: frozenset[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[str] = []

    def problem(self, key: str, value: Any, expected: str) -> None:
        secret = key.split(".")[0] in self.secret_keys | SECRET_KEYS
        shown = "[secret]" if secret and value is not None else json.dumps(value)
        self.problems.append(f"{key}: got {shown}; expected {expected}")

    # -- top-level texts ---------------------------------------------------------------

    def string(self, key: str, default: str | None, pattern: re.Pattern | None = None,
               expected: str = "a non-empty string") -> str | None:
        value = self.raw.get(key)
        if value is None:
            return default
        return self.check_string(key, value, pattern, expected, default)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if value in ("true", "false"):
            return value == "true"
        self.problem(key, value, "true or false")
        return default

    def obj(self, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = self.raw.get(key)
        if value is None:
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        return self.check_object(key, parsed, allowed)

    # -- checks on parsed values -------------------------------------------------------

    def check_object(self, key: str, value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(key, value, f"an object with keys {', '.join(allowed)}")
            return {}
        for unknown in sorted(set(value) - set(allowed)):
            self.problem(f"{key}.{unknown}", value[unknown],
                         f"no such key; valid keys of {key} are {', '.join(allowed)}")
        return {k: v for k, v in value.items() if k in allowed}

    def check_string(self, key: str, value: Any, pattern: re.Pattern | None, expected: str,
                     default: str | None = None, max_length: int = 253) -> str | None:
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            self.problem(key, value, expected)
            return default
        if value != value.strip() or (pattern is not None and not pattern.match(value)):
            self.problem(key, value, expected)
            return default
        return value

    def check_bool(self, key: str, value: Any, default: bool) -> bool:
        if isinstance(value, bool):
            return value
        self.problem(key, value, "true or false")
        return default

    def check_int(self, key: str, value: Any, default: int, minimum: int, maximum: int) -> int:
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum:
            return value
        self.problem(key, value, f"a whole number from {minimum} to {maximum}")
        return default

    def check_number(self, key: str, value: Any, default: float | None,
                     maximum: tuple[float, str] | None = None) -> float | None:
        """A number above 0; ``maximum`` is (largest allowed, why) where there is one."""
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        largest, why = maximum or (float("inf"), "")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= largest \
                and value < float("inf"):
            return float(value)
        expected = f"a number greater than 0 and at most {largest:g} ({why})" if maximum else "a number greater than 0"
        self.problem(key, value, expected)
        return default

    def optional(self, obj: Mapping[str, Any], key: str, prefix: str,
                 check: Callable[[str, Any], Any]) -> Any:
        return check(f"{prefix}.{key}", obj[key]) if key in obj else None


def _label(r: _Reader, key: str, value: Any, default: str | None = None) -> str | None:
    return r.check_string(key, value, _DNS1123_LABEL,
                          "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, "
                          "such as monitoring", default, max_length=63)


def _subdomain(r: _Reader, key: str, value: Any, expected: str) -> str | None:
    return r.check_string(key, value, _DNS1123_SUBDOMAIN, expected)


def _quantity(r: _Reader, key: str, value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        value = str(value)
    return r.check_string(key, value, _QUANTITY, KUBERNETES_QUANTITY)


def _read_grafana(r: _Reader) -> GrafanaSettings:
    raw = r.obj("grafana", ("adminUser", "ingress", "persistenceSize"))
    admin_user = GrafanaSettings.admin_user
    if "adminUser" in raw:
        admin_user = r.check_string("grafana.adminUser", raw["adminUser"], re.compile(r"^[^\s:]+$"),
                                    "a user name without spaces or ':', such as admin", "admin")
    ingress = None
    if "ingress" in raw:
        fields = r.check_object("grafana.ingress", raw["ingress"], ("host", "className", "tlsSecretName"))
        if fields or isinstance(raw["ingress"], dict):
            if "host" not in fields:
                r.problem("grafana.ingress.host", None, "a DNS name such as grafana.example.com (required with ingress)")
            host = r.optional(fields, "host", "grafana.ingress", lambda k, v: _subdomain(
                r, k, v, "a DNS name such as grafana.example.com"))
            class_name = r.optional(fields, "className", "grafana.ingress", lambda k, v: _subdomain(
                r, k, v, "an IngressClass name such as nginx"))
            tls = r.optional(fields, "tlsSecretName", "grafana.ingress", lambda k, v: _subdomain(
                r, k, v, "the name of a TLS Secret in the monitoring namespace, such as grafana-tls"))
            if host:
                ingress = Ingress(host=host, class_name=class_name, tls_secret_name=tls)
    persistence = r.optional(raw, "persistenceSize", "grafana", lambda k, v: _quantity(r, k, v))
    return GrafanaSettings(admin_user=admin_user, ingress=ingress, persistence_size=persistence)


def _read_resources(r: _Reader, key: str, value: Any) -> ComputeResources:
    fields = r.check_object(key, value, ("requests", "limits"))
    parts: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        amounts = r.check_object(f"{key}.{part}", fields.get(part, {}), ("cpu", "memory"))
        parts[part] = {name: q for name, amount in amounts.items()
                       if (q := _quantity(r, f"{key}.{part}.{name}", amount)) is not None}
    return ComputeResources(requests=parts["requests"], limits=parts["limits"])


def _read_prometheus(r: _Reader) -> PrometheusSettings:
    raw = r.obj("prometheus", ("replicas", "retention", "retentionSize", "storageSize",
                               "storageClassName", "resources"))
    defaults = PrometheusSettings()
    p = "prometheus"
    return PrometheusSettings(
        replicas=r.check_int(f"{p}.replicas", raw["replicas"], defaults.replicas, 1, 10)
        if "replicas" in raw else defaults.replicas,
        retention=r.check_string(f"{p}.retention", raw["retention"], _PROMETHEUS_DURATION,
                                 PROMETHEUS_DURATION, defaults.retention)
        if "retention" in raw else defaults.retention,
        retention_size=r.optional(raw, "retentionSize", p, lambda k, v: r.check_string(
            k, v, _PROMETHEUS_BYTES, "a Prometheus byte size such as 45GB, 512MB or 1.5TiB")),
        storage_size=r.optional(raw, "storageSize", p, lambda k, v: _quantity(r, k, v)),
        storage_class_name=r.optional(raw, "storageClassName", p, lambda k, v: _subdomain(
            r, k, v, "a StorageClass name such as standard or gp3")),
        resources=_read_resources(r, f"{p}.resources", raw["resources"])
        if "resources" in raw else ComputeResources(),
    )


def _read_alerts(r: _Reader) -> AlertSettings:
    raw = r.obj("alerts", tuple(ALERT_KEYS))
    defaults = AlertSettings()
    chosen: dict[str, AlertRule] = {}
    for key, (attr, threshold_key) in ALERT_KEYS.items():
        default: AlertRule = getattr(defaults, attr)
        if key not in raw:
            continue
        prefix = f"alerts.{key}"
        allowed = ("for", "severity") + ((threshold_key,) if threshold_key else ())
        fields = r.check_object(prefix, raw[key], allowed)
        for_ = default.for_
        if "for" in fields:
            for_ = r.check_string(f"{prefix}.for", fields["for"], _PROMETHEUS_DURATION,
                                  PROMETHEUS_DURATION, default.for_)
        severity = default.severity
        if "severity" in fields:
            severity = r.check_string(f"{prefix}.severity", fields["severity"], _LABEL_VALUE,
                                      "a label value such as page, critical, warning or info",
                                      default.severity, max_length=63)
        threshold = default.threshold
        if threshold_key and threshold_key in fields:
            threshold = r.check_number(f"{prefix}.{threshold_key}", fields[threshold_key], default.threshold,
                                       THRESHOLD_MAXIMUMS.get(threshold_key))
        chosen[attr] = AlertRule(for_=for_, severity=severity, threshold=threshold)
    return AlertSettings(**chosen)


def _read_gitops(r: _Reader, required: bool) -> GitOpsSettings | None:
    allowed = ("url",) + GIT_REF_KEYS + ("interval", "stackPath", "configPath", "secretRef", "timeout")
    raw = r.obj("gitops", allowed)
    if not required:
        return None
    p = "gitops"
    url = raw.get("url")
    if isinstance(url, str) and url.startswith("https://") and _URL_USER_INFO.search(url):
        # Never echo the credentials the URL carries.
        r.problem(f"{p}.url", _URL_USER_INFO.sub("[redacted]@", url),
                  "an https:// URL without credentials: put them in a Secret in the Flux namespace "
                  "and name it in gitops.secretRef")
        url = None
    else:
        url = r.check_string(f"{p}.url", url, _GIT_URL,
                             "an https:// or ssh:// git URL such as https://github.com/fluxcd/flux2 "
                             "or ssh://git@github.com/org/repo (required when delivery is gitops)")
    refs = [key for key in GIT_REF_KEYS if key in raw]
    ref_kind, ref_value = "branch", None
    if len(refs) != 1:
        given = {key: raw[key] for key in refs} or None
        r.problem(f"{p}.branch|tag|semver|commit", given, "exactly one of branch, tag, semver or commit")
    else:
        ref_kind = refs[0]
        pattern = _GIT_COMMIT if ref_kind == "commit" else re.compile(r"^\S+$")
        expected = ("a full 40 (or 64) character lower-case hex commit SHA" if ref_kind == "commit"
                    else f"a git {ref_kind} name without spaces")
        if ref_kind == "semver":
            # Flux takes semver constraints, whose clauses are separated by spaces or commas.
            pattern, expected = re.compile(r"^[0-9A-Za-z.*^~=<>!|, +-]+$"), \
                "a semver range such as 1.x, ^1.2.0 or >=1.2.0 <2.0.0"
        ref_value = r.check_string(f"{p}.{ref_kind}", raw[ref_kind], pattern, expected)
    defaults = _GITOPS_DEFAULTS

    def duration(key: str, default: str) -> str:
        if key not in raw:
            return default
        return r.check_string(f"{p}.{key}", raw[key], _FLUX_DURATION,
                              "a Flux duration such as 30m, 1h or 1h30m", default)

    def path(key: str, default: str) -> str:
        if key not in raw:
            return default
        return r.check_string(f"{p}.{key}", raw[key], re.compile(r"^\./[^\s]*$"),
                              "a path inside the repository starting with ./", default)

    secret_ref = r.optional(raw, "secretRef", p, lambda k, v: _subdomain(
        r, k, v, "the name of a Secret in the Flux namespace, such as monitoring-git-auth"))
    if url is None or ref_value is None:
        return None
    return GitOpsSettings(url=url, ref_kind=ref_kind, ref_value=ref_value,
                          interval=duration("interval", defaults.interval),
                          stack_path=path("stackPath", defaults.stack_path),
                          config_path=path("configPath", defaults.config_path),
                          secret_ref=secret_ref, timeout=duration("timeout", defaults.timeout))


def load_settings(raw: Mapping[str, str], secret_keys: frozenset[str] | set[str] = frozenset(),
                  kube_context: str | None = None) -> Settings:
    """Validate the stack's config texts (keys without the project prefix) into ``Settings``.

    ``secret_keys`` names the keys that Pulumi holds as secrets; ``kube_context`` is the
    ``kubernetes:context`` of the stack.
    """
    r = _Reader(raw, frozenset(secret_keys))
    for unknown in sorted(set(raw) - set(CONFIG_KEYS)):
        r.problem(unknown, raw[unknown], f"no such key; valid keys are {', '.join(CONFIG_KEYS)}")

    if not kube_context:
        r.problem("kubernetes:context", kube_context,
                  "the kubeconfig context of this stack's cluster, set per stack "
                  "(pulumi config set kubernetes:context NAME) so no stack follows the current context")

    defaults = _DEFAULTS
    namespace = _label(r, "namespace", raw.get("namespace", defaults.namespace), defaults.namespace)
    flux_namespace = _label(r, "fluxNamespace", raw.get("fluxNamespace", defaults.flux_namespace),
                            defaults.flux_namespace)
    if namespace == flux_namespace:
        r.problem("fluxNamespace", flux_namespace, "a namespace other than the monitoring namespace")
    delivery = r.string("delivery", defaults.delivery, re.compile(f"^({'|'.join(DELIVERY_MODES)})$"),
                        "direct or gitops")
    chart_version = r.string("chartVersion", defaults.chart_version, _EXACT_SEMVER,
                             "an exact kube-prometheus-stack chart version such as 88.5.3 "
                             "(no 'latest', no ranges)")
    flux_metrics = r.string("fluxMetrics", defaults.flux_metrics,
                            re.compile(f"^({'|'.join(FLUX_METRICS_GENERATIONS)})$"),
                            "resource-info (Flux 2.1 and later) or legacy (Flux before 2.5)")

    password = raw.get("grafanaAdminPassword")
    require_password = r.boolean("requireGrafanaAdminPassword", defaults.require_grafana_admin_password)
    if password is not None:
        if "grafanaAdminPassword" not in r.secret_keys:
            r.problem("grafanaAdminPassword", password,
                      "a secret: set it with pulumi config set --secret grafanaAdminPassword")
        elif len(password) < 12 or password.lower() in KNOWN_DEFAULT_PASSWORDS:
            r.problem("grafanaAdminPassword", password,
                      "at least 12 characters and not a well-known default password")
    elif require_password:
        r.problem("grafanaAdminPassword", None,
                  "a secret, required by requireGrafanaAdminPassword: "
                  "pulumi config set --secret grafanaAdminPassword")

    alertmanager_raw = r.obj("alertmanager", ("enabled",))
    alertmanager = AlertmanagerSettings(
        enabled=r.check_bool("alertmanager.enabled", alertmanager_raw["enabled"], defaults.alertmanager.enabled)
        if "enabled" in alertmanager_raw else defaults.alertmanager.enabled)

    settings = dict(
        kube_context=kube_context or "",
        namespace=namespace,
        flux_namespace=flux_namespace,
        delivery=delivery,
        chart_version=chart_version,
        grafana_admin_password=Secret(password) if password is not None else None,
        require_grafana_admin_password=require_password,
        grafana=_read_grafana(r),
        prometheus=_read_prometheus(r),
        alertmanager=alertmanager,
        protect=r.boolean("protect", defaults.protect),
        flux_metrics=flux_metrics,
        drop_unused_metrics=r.boolean("dropUnusedMetrics", defaults.drop_unused_metrics),
        alerts=_read_alerts(r),
        gitops=_read_gitops(r, required=delivery == "gitops"),
    )
    if r.problems:
        raise SettingsError(r.problems)
    return Settings(**settings)
