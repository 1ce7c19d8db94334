"""What the program and the production policy pack both know: names, limits, patterns, durations.

The policy pack runs in its own environment (policy/requirements.txt), where flux_monitoring
cannot be imported; it reads this module's generated copy, policy/flux_contract.py, written by
``python -m flux_monitoring.contract --write-policy-copy`` (a test fails when the copy differs).
So this module imports nothing but the standard library, and nothing imports into it.
"""

from __future__ import annotations

import re
from typing import Any

PROJECT = "flux-monitoring"

# -- the Grafana admin password ------------------------------------------------------------------

MINIMUM_PASSWORD_LENGTH = 12
# The chart's old default (prom-operator) and the usual suspects; compared case-insensitively.
KNOWN_DEFAULT_PASSWORDS = frozenset(
    {
        "admin",
        "prom-operator",
        "password",
        "changeme",
        "grafana",
        "secret",
        "123456",
        "12345678",
        "123456789",
        "1234567890",
        "admin123",
        "password123",
        "letmein",
        "qwerty",
        "administrator",
        "changeme123",
        "default",
    }
)


def is_known_default_password(password: str) -> bool:
    return password.lower() in KNOWN_DEFAULT_PASSWORDS


# The Secret holding it (the chart reads it as grafana.admin.existingSecret), and the one other
# Secret the program puts it in: the basic-auth Secret of Flux's Grafana annotations Provider, in
# the Flux namespace (fluxEvents.grafanaAnnotations; fluxcd/notification-controller
# docs/spec/v1beta3/providers.md "Grafana": keys username and password).
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER_KEY = "admin-user"
GRAFANA_ADMIN_PASSWORD_KEY = "admin-password"
FLUX_GRAFANA_SECRET = "flux-monitoring-grafana"
FLUX_GRAFANA_USERNAME_KEY = "username"
FLUX_GRAFANA_PASSWORD_KEY = "password"

# -- objects --------------------------------------------------------------------------------------

# gitops delivery: the Flux Kustomization that syncs kube-prometheus-stack (no Helm Release exists).
STACK_KUSTOMIZATION = "monitoring-stack"

# -- patterns -------------------------------------------------------------------------------------

# semver.org's grammar without ranges: what `helm install --version` pins exactly.
EXACT_SEMVER = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
# A full SHA-1 (40) or SHA-256 (64) commit, lower-case hex, as Flux's GitRepository ref.commit.
GIT_COMMIT = r"^[0-9a-f]{40}([0-9a-f]{24})?$"

# -- durations ------------------------------------------------------------------------------------

# Prometheus and Alertmanager: prometheus/common model.ParseDuration (model/time.go durationRE,
# 06628cd): units from years to milliseconds, each at most once and in that order, whole amounts;
# "0" alone needs no unit. (Its regex also takes "", read as 0: refused here, as no duration.)
PROMETHEUS_DURATION = r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$"
# Flux: Go's time.ParseDuration units up to hours (the CRDs' duration pattern), fractions allowed.
FLUX_DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|[ywdhms])")
_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def duration_seconds(text: Any, form: str = PROMETHEUS_DURATION) -> float | None:
    """Seconds in ``text``, a duration of ``form`` (PROMETHEUS_DURATION or FLUX_DURATION), such as
    30d, 12h30m or 1.5h; None when it is not one."""
    if not isinstance(text, str) or not text or not re.match(form, text):
        return None
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


# -- stack config the policy pack reads ---------------------------------------------------------
#
# Paths below the project's keys, in the stack file's spelling (the settings models' aliases;
# tests/unit/test_contract.py finds each in them). The CLI hands the pack each top-level key as
# text under "<project>:<key>" (objects as JSON).

REQUIRE_GRAFANA_ADMIN_PASSWORD = "requireGrafanaAdminPassword"
GRAFANA_ADMIN_PASSWORD = "grafanaAdminPassword"
CHART_VERSION = "chartVersion"
GITOPS = "gitops"
PROTECT = "protect"
PROMETHEUS = "prometheus"
PROMETHEUS_REPLICAS = "prometheus.replicas"
PROMETHEUS_RETENTION = "prometheus.retention"
PROMETHEUS_STORAGE_SIZE = "prometheus.storageSize"
PROMETHEUS_REQUESTS = "prometheus.resources.requests"
PROMETHEUS_REQUESTED = ("cpu", "memory")  # the keys of PROMETHEUS_REQUESTS production needs
GRAFANA = "grafana"
GRAFANA_INGRESS = "grafana.ingress"
GRAFANA_INGRESS_HOST = "grafana.ingress.host"
GRAFANA_INGRESS_TLS_SECRET = "grafana.ingress.tlsSecretName"
POLICY_CONFIG_PATHS = (
    REQUIRE_GRAFANA_ADMIN_PASSWORD,
    GRAFANA_ADMIN_PASSWORD,
    CHART_VERSION,
    GITOPS,
    PROTECT,
    PROMETHEUS,
    PROMETHEUS_REPLICAS,
    PROMETHEUS_RETENTION,
    PROMETHEUS_STORAGE_SIZE,
    PROMETHEUS_REQUESTS,
    *(f"{PROMETHEUS_REQUESTS}.{name}" for name in PROMETHEUS_REQUESTED),
    GRAFANA,
    GRAFANA_INGRESS,
    GRAFANA_INGRESS_HOST,
    GRAFANA_INGRESS_TLS_SECRET,
)


def config_key(path: str) -> str:
    """The key the CLI hands over that holds ``path``: "<project>:<top-level key>"."""
    return f"{PROJECT}:{path.split('.')[0]}"
