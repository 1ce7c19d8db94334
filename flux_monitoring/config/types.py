"""The value forms of the stack config, as reusable annotated types for the pydantic settings models.

Each form accepts exactly what Kubernetes, Prometheus or Flux accept, states in one "expected"
text what it takes (with an example; error messages quote it), and publishes the same rule in
the JSON Schema of the stack file. A value of the wrong form raises a ``FormError``, which
``flux_monitoring.config.errors`` turns into the user's one-line problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from flux_monitoring.contract import EXACT_SEMVER, FLUX_DURATION, PROMETHEUS_DURATION

# pydantic's error type for a value that is not of its form; its context holds the expected text.
FORM_ERROR = "form"


def form_error(expected: str, **context: Any) -> PydanticCustomError:
    """A value not of the expected form. ``context`` may name a ``key`` below the model the
    check ran on, and the ``value`` found there, for checks that span several fields."""
    return PydanticCustomError(FORM_ERROR, "expected {expected}", {"expected": expected, **context})


def _validated(check: Callable[[Any], Any], schema: dict[str, Any]) -> tuple[BeforeValidator, WithJsonSchema]:
    return BeforeValidator(check), WithJsonSchema(schema)


def text(pattern: str, expected: str, max_length: int = 253, missing: str | None = None) -> Any:
    """A string matching ``pattern``, without surrounding space, of at most ``max_length``.

    ``missing`` is the expected text when no value is given, for a key that is required
    (a key declared with a default of None and validate_default).
    """
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        if value is None:
            raise form_error(missing or expected)
        if (
            not isinstance(value, str)
            or not value.strip()
            or len(value) > max_length
            or value != value.strip()
            or not compiled.match(value)
        ):
            raise form_error(expected)
        return value

    return Annotated[str, *_validated(check, {"type": "string", "pattern": pattern, "maxLength": max_length})]


def one_of(*choices: str, expected: str) -> Any:
    """One of ``choices``, exactly."""

    def check(value: Any) -> str:
        if value not in choices:
            raise form_error(expected)
        return value

    return Annotated[str, *_validated(check, {"type": "string", "enum": list(choices)})]


def _boolean(value: Any) -> bool:
    # Pulumi hands top-level booleans over as the texts "true" and "false"; nothing else
    # ("yes", "1", "True") is taken for one, unlike pydantic's lax booleans.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise form_error("true or false")


Boolean = Annotated[bool, *_validated(_boolean, {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]})]


def whole_number(minimum: int, maximum: int) -> Any:
    """A whole number from ``minimum`` to ``maximum``, also as its digits (``"3"``)."""
    expected = f"a whole number from {minimum} to {maximum}"

    def check(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum:
            return value
        raise form_error(expected)

    schema = {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": "^[0-9]+$"},
        ]
    }
    return Annotated[int, *_validated(check, schema)]


def _exact(number: float) -> str:
    """A number as short as it reads back exactly: 10, 0.5, 1799.9999999999986 (never rounded to 1800)."""
    short = f"{number:g}"
    return short if float(short) == number else repr(number)


def positive_number(maximum: float | None = None, why: str = "") -> Any:
    """A number above 0 (also as text), at most ``maximum`` where there is one (``why`` says why)."""
    expected = (
        f"a number greater than 0 and at most {_exact(maximum)} ({why})"
        if maximum is not None
        else "a number greater than 0"
    )

    def check(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise form_error(expected) from None
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 < value <= (maximum if maximum is not None else math.inf)
        ):
            return float(value)
        raise form_error(expected)

    number: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
    if maximum is not None:
        number["maximum"] = maximum
    numeral = {"type": "string", "pattern": r"^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"}
    return Annotated[float, *_validated(check, {"anyOf": [number, numeral]})]


def one_of_numbers(choices: tuple[float, ...], expected: str) -> Any:
    """One of the numbers ``choices`` exactly (also as text, such as "469.2")."""

    def check(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise form_error(expected) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value in choices:
            return float(value)
        raise form_error(expected)

    schema = {
        "anyOf": [{"type": "number", "enum": list(choices)}, {"type": "string", "enum": [_exact(c) for c in choices]}]
    }
    return Annotated[float, *_validated(check, schema)]


# -- the forms -------------------------------------------------------------------------------

# Kubernetes: k8s.io/apimachinery validation (IsDNS1123Label, IsDNS1123Subdomain) and
# resource.Quantity's grammar.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = (
    r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
LABEL_VALUE = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
# A label key: an optional DNS-1123 subdomain prefix (at most 253 characters) and '/', then a name
# (k8s.io/apimachinery pkg/util/validation IsQualifiedName).
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_KEY_TEXT = "a Kubernetes label key such as team or example.com/team"
# Prometheus: units.ParseBase2Bytes-style sizes of --storage.tsdb.retention.size (durations: the contract).
PROMETHEUS_BYTES = r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$"
# https without user info (credentials belong in the secretRef Secret, not in state or git);
# ssh with an optional user name such as git@.
GIT_URL = r"^(https://|ssh://([^\s/@:]+@)?)[^\s/@:]+(:[0-9]+)?/\S+$"

DNS_LABEL_TEXT = "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, such as monitoring"
QUANTITY_TEXT = "a Kubernetes quantity such as 50Gi, 500Mi, 1Ti, 500m or 0.5"
PROMETHEUS_DURATION_TEXT = "a Prometheus duration such as 15d, 12h30m or 1y"
FLUX_DURATION_TEXT = "a Flux duration such as 30m, 1h or 1h30m"

DnsLabel = text(DNS1123_LABEL, DNS_LABEL_TEXT, max_length=63)
PrometheusDuration = text(PROMETHEUS_DURATION, PROMETHEUS_DURATION_TEXT)
PrometheusBytes = text(PROMETHEUS_BYTES, "a Prometheus byte size such as 45GB, 512MB or 1.5TiB")
FluxDuration = text(FLUX_DURATION, FLUX_DURATION_TEXT)
ExactSemver = text(EXACT_SEMVER, "an exact kube-prometheus-stack chart version such as 88.5.3 (no 'latest', no ranges)")
LabelValue = text(LABEL_VALUE, "a label value such as page, critical, warning or info", max_length=63)
LabelKey = text(LABEL_KEY, LABEL_KEY_TEXT, max_length=253 + 1 + 63)
RepositoryPath = text(r"^\./\S*$", "a path inside the repository starting with ./")


# How an object's label reaches Prometheus: kube-state-metrics writes a label named as its
# labelsFromPath key, with every character outside [a-zA-Z0-9_] replaced by '_'
# (kubernetes/kube-state-metrics pkg/customresourcestate/registry_factory.go addPathLabels and
# internal/store/utils.go SanitizeLabelName, c92fe0c5, v2.20.0+11), and names its own copies of
# Kubernetes labels label_<key> (kube_<resource>_labels, internal/store/utils.go mapToPrometheusLabels).
# The program gives the key in that label_ form: no label the queries use starts with it.
OBJECT_LABEL_PREFIX = "label_"


def object_label_name(key: str) -> str:
    """The Prometheus label name of the Flux objects' Kubernetes label ``key``."""
    return OBJECT_LABEL_PREFIX + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def subdomain(expected: str, missing: str | None = None) -> Any:
    """A DNS-1123 subdomain (Kubernetes object names, host names) described as ``expected``."""
    return text(DNS1123_SUBDOMAIN, expected, missing=missing)


def _quantity(value: Any) -> str:
    # A YAML number (2, 0.5) is a quantity too: Pulumi hands it over as a JSON number.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if isinstance(value, str) and value == value.strip() and len(value) <= 253 and re.match(QUANTITY, value):
        return value
    raise form_error(QUANTITY_TEXT)


Quantity = Annotated[
    str,
    *_validated(
        _quantity, {"anyOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number", "exclusiveMinimum": 0}]}
    ),
]


def _secret(value: Any) -> Any:
    if isinstance(value, (str, SecretStr)):
        return value
    raise form_error("a secret text, set with pulumi config set --secret")


# A secret: never shown by repr, str or an error. In the stack file `pulumi config set --secret`
# writes it as {secure: <ciphertext>}, which is what the stack file's schema describes.
SECRET_SCHEMA = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}
Secret = Annotated[SecretStr, *_validated(_secret, SECRET_SCHEMA)]


# User info in a URL: what follows the scheme up to an @ before the first /.
_USER_INFO = r"(?<=://)[^\s/@]*@"
_URL_USER_INFO = re.compile(_USER_INFO)
_GIT_URL_TEXT = "an https:// or ssh:// git URL such as https://github.com/fluxcd/flux2 or ssh://git@github.com/org/repo"


def url_without_credentials(schemes: tuple[str, ...], expected: str) -> BeforeValidator:
    """Refuses a URL of ``schemes`` carrying user info, showing it redacted, never the credentials."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(schemes) and _URL_USER_INFO.search(value):
            raise form_error(expected, value=_URL_USER_INFO.sub("[redacted]@", value))
        return value

    return BeforeValidator(check)


# An http:// or https:// URL: a host, then an optional path; one form for every http(s) URL of the
# stack config. Where the URL is written in plain text (stack file, Helm values, Pulumi state) it
# carries no credentials: ``http_url`` refuses user info and shows it redacted. A URL that is itself
# a secret (a webhook's, checked with HTTP_URL alone) may carry them: it is never in plain text.
HTTP_URL = r"^https?://[^\s/]+(/\S*)?$"
HTTP_URL_TEXT = "an http:// or https:// URL"
_URL_LENGTH = 2048


def http_url(example: str, credentials: str) -> Any:
    """A plain-text http(s) URL such as ``example``, without credentials (``credentials`` says where
    they go instead)."""
    schema = {"type": "string", "pattern": HTTP_URL, "maxLength": _URL_LENGTH, "not": {"pattern": _USER_INFO}}
    return Annotated[
        text(HTTP_URL, f"{HTTP_URL_TEXT} such as {example}", _URL_LENGTH, missing=f"{HTTP_URL_TEXT} (required)"),
        url_without_credentials(("http://", "https://"), f"a URL without credentials: put them in {credentials}"),
        WithJsonSchema(schema),
    ]


# A git URL Flux can fetch, without credentials (they belong in a Secret, not in state or git).
GitUrl = Annotated[
    text(GIT_URL, _GIT_URL_TEXT, missing=f"{_GIT_URL_TEXT} (required when delivery is gitops)"),
    url_without_credentials(
        ("https://",),
        "an https:// URL without credentials: put them in a Secret in "
        "the Flux namespace and name it in gitops.secretRef",
    ),
]
# (the before-validator runs first: before-validators run last to first)
