"""Typed stack config of alert delivery (`alerting`) and of Flux's own events (`fluxEvents`).

Receivers follow the Prometheus Operator's AlertmanagerConfig CRD field names in camelCase
(prometheus-operator/prometheus-operator pkg/apis/monitoring/v1alpha1/alertmanager_config_types.go,
v0.93.0). Credentials are ``SecretStr``: they reach the cluster only as Secret data, and
``load_alerting`` refuses them unless Pulumi holds the ``alerting`` key as a secret.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator,
)
from pydantic_core import PydanticCustomError

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

# Alertmanager durations (prometheus/common model.ParseDuration): 30s, 5m, 4h, 1h30m, 500ms.
_DURATION = re.compile(r"^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$")
_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_RECEIVER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = _RECEIVER_NAME
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_HOST_PORT = re.compile(r"^[^\s:]+:[0-9]{1,5}$")
_EMAIL = re.compile(r"^[^\s@,]+@[^\s@,]+$")

DURATION_EXPECTED = "an Alertmanager duration above 0 such as 30s, 5m, 4h or 1h30m"
RECEIVER_NAME_EXPECTED = ("a receiver name: lower-case letters, digits and '-', such as oncall "
                          "(null is reserved for the receiver that discards)")
# The chart's own name for the receiver that discards (kube-prometheus-stack values.yaml alertmanager.config).
NULL_RECEIVER = "null"


def duration_seconds(text: str) -> float:
    """Seconds in an Alertmanager duration such as 1h30m."""
    return sum(int(amount) * _DURATION_UNITS[unit] for amount, unit in re.findall(r"([0-9]+)(ms|[ywdhms])", text))


def _check(pattern: re.Pattern, expected: str, code: str):
    def check(value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not pattern.match(text) or (code == "duration" and duration_seconds(text) <= 0):
            raise PydanticCustomError(code, expected)
        return value
    return AfterValidator(check)


Duration = Annotated[str, _check(_DURATION, DURATION_EXPECTED, "duration")]
ReceiverName = Annotated[str, _check(_RECEIVER_NAME, RECEIVER_NAME_EXPECTED, "receiver_name")]
SecretURL = Annotated[SecretStr, _check(_HTTP_URL, "an http(s) URL", "url")]
PlainURL = Annotated[str, _check(_HTTP_URL, "an http(s) URL", "url")]
SecretText = Annotated[SecretStr, Field(min_length=1)]


def _field(default: Any = ..., *, alias: str, description: str, example: Any, expected: str) -> Any:
    """A config field: camelCase alias, description, example, and the form its errors quote."""
    return Field(default, alias=alias, description=description, examples=[example],
                 json_schema_extra={"expected": expected})


def _send_resolved() -> Any:
    return _field(True, alias="sendResolved", description="Also notify when the alert resolves.",
                  example=True, expected="true or false")


class SlackReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["slack"]
    api_url: SecretURL = _field(alias="apiURL", description="Slack incoming webhook URL (secret).",
                                example="https://hooks.slack.com/services/T000/B000/XXXX",
                                expected="a Slack incoming webhook URL, set as a secret")
    channel: str | None = _field(None, alias="channel", description="Channel to post to; the webhook's own when absent.",
                                 example="#flux-alerts", expected="a channel such as #flux-alerts")
    send_resolved: bool = _send_resolved()


class PagerDutyReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["pagerduty"]
    routing_key: SecretText = _field(alias="routingKey", description="PagerDuty Events API v2 integration key (secret).",
                                     example="R0ut1ngK3y", expected="a PagerDuty integration key, set as a secret")
    url: PlainURL | None = _field(None, alias="url", description="Events API URL; PagerDuty's own when absent.",
                                  example="https://events.eu.pagerduty.com/v2/enqueue", expected="an http(s) URL")
    send_resolved: bool = _send_resolved()


class MSTeamsReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["msteams"]
    webhook_url: SecretURL = _field(alias="webhookUrl",
                                    description="Teams Workflows webhook URL (secret); Alertmanager 0.28 or later.",
                                    example="https://prod-00.westeurope.logic.azure.com/workflows/...",
                                    expected="a Teams Workflows webhook URL, set as a secret")
    send_resolved: bool = _send_resolved()


class WebhookReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["webhook"]
    url: SecretURL = _field(alias="url", description="URL Alertmanager POSTs its webhook payload to (secret).",
                            example="https://hc-ping.com/0000-uuid", expected="an http(s) URL, set as a secret")
    send_resolved: bool = _send_resolved()


class EmailReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["email"]
    to: Annotated[str, _check(_EMAIL, "an email address", "email")] = _field(
        alias="to", description="Recipient address.", example="platform@example.com", expected="an email address")
    from_: Annotated[str, _check(_EMAIL, "an email address", "email")] = _field(
        alias="from", description="Sender address.", example="alertmanager@example.com", expected="an email address")
    smarthost: Annotated[str, _check(_HOST_PORT, "host:port", "host_port")] = _field(
        alias="smarthost", description="SMTP server as host:port.", example="smtp.example.com:587",
        expected="an SMTP server as host:port such as smtp.example.com:587")
    auth_username: str | None = _field(None, alias="authUsername", description="SMTP user name.",
                                       example="alertmanager", expected="an SMTP user name")
    auth_password: SecretText | None = _field(None, alias="authPassword", description="SMTP password (secret).",
                                              example="Sm7p-pa55", expected="an SMTP password, set as a secret")
    require_tls: bool = _field(True, alias="requireTLS", description="Require STARTTLS (Alertmanager's default).",
                               example=True, expected="true or false")
    send_resolved: bool = _send_resolved()

    @model_validator(mode="after")
    def _username_with_password(self) -> "EmailReceiver":
        if (self.auth_username is None) != (self.auth_password is None):
            raise PydanticCustomError("auth_pair", "authUsername and authPassword together, or neither")
        return self


class OpsgenieReceiver(BaseModel):
    model_config = _MODEL_CONFIG
    type: Literal["opsgenie"]
    api_key: SecretText = _field(alias="apiKey", description="Opsgenie API integration key (secret).",
                                 example="0psg3n1e-k3y", expected="an Opsgenie API key, set as a secret")
    api_url: PlainURL | None = _field(None, alias="apiURL", description="Opsgenie API URL; Opsgenie's own when absent.",
                                      example="https://api.eu.opsgenie.com/", expected="an http(s) URL")
    send_resolved: bool = _send_resolved()


RECEIVER_MODELS = (SlackReceiver, PagerDutyReceiver, MSTeamsReceiver, WebhookReceiver, EmailReceiver, OpsgenieReceiver)
RECEIVER_UNION = "receiver"  # marks, while describing an error, that the next key is a receiver's type tag
Receiver = Annotated[Union[RECEIVER_MODELS], Field(discriminator="type")]
RECEIVER_TYPES = ("slack", "pagerduty", "msteams", "webhook", "email", "opsgenie")
# Config keys that hold credentials, in any receiver type: errors never show them.
SECRET_FIELDS = frozenset({"apiURL", "routingKey", "webhookUrl", "url", "apiKey", "authPassword"})


class RouteSettings(BaseModel):
    model_config = _MODEL_CONFIG
    default: ReceiverName = _field(alias="default", description="Receiver of every alert not routed elsewhere.",
                                   example="platform", expected=RECEIVER_NAME_EXPECTED)
    by_severity: dict[Annotated[str, _check(_LABEL_VALUE, "a label value such as page", "label_value")],
                      ReceiverName] = _field(
        {}, alias="bySeverity", description="severity label value -> receiver, instead of the default.",
        example={"page": "oncall"}, expected="a map from severity (such as page) to a receiver name")
    by_namespace: dict[Annotated[str, _check(_DNS1123_LABEL, "a namespace (DNS-1123 label)", "namespace")],
                       ReceiverName] = _field(
        {}, alias="byNamespace",
        description="A Flux object's namespace -> receiver that also gets its alerts (the platform's still do).",
        example={"team-a": "team-a-slack"}, expected="a map from namespace to a receiver name")
    # Alertmanager's own defaults for group_wait and group_interval (prometheus/alertmanager
    # config/config.go DefaultRouteOpts, v0.34.0), and its repeat_interval of 4h.
    group_wait: Duration = _field("30s", alias="groupWait", description="Wait before the first notification of a group.",
                                  example="30s", expected=DURATION_EXPECTED)
    group_interval: Duration = _field("5m", alias="groupInterval",
                                      description="Wait before notifying about changes to a notified group.",
                                      example="5m", expected=DURATION_EXPECTED)
    repeat_interval: Duration = _field("4h", alias="repeatInterval",
                                       description="Wait before notifying again about a still-firing group.",
                                       example="4h", expected=DURATION_EXPECTED)


class HeartbeatSettings(BaseModel):
    model_config = _MODEL_CONFIG
    receiver: ReceiverName = _field(alias="receiver", description="Dead man's switch receiver of the Watchdog alert.",
                                    example="deadman", expected=RECEIVER_NAME_EXPECTED)
    interval: Duration = _field("1m", alias="interval", description="How often the heartbeat is sent.",
                                example="1m", expected=DURATION_EXPECTED)


class AlertingSettings(BaseModel):
    """Where alerts go. Without receivers they go nowhere, as with the chart's default."""

    model_config = _MODEL_CONFIG
    receivers: dict[ReceiverName, Receiver] = _field(
        {}, alias="receivers", description="Receiver name -> {type, ...}.",
        example={"oncall": {"type": "pagerduty"}},
        expected=f"a map from receiver name to an object with type {', '.join(RECEIVER_TYPES)}")
    route: RouteSettings | None = _field(None, alias="route", description="Which receiver gets which alert.",
                                         example={"default": "platform"},
                                         expected="an object with default, bySeverity, byNamespace, groupWait, "
                                                  "groupInterval, repeatInterval")
    heartbeat: HeartbeatSettings | None = _field(None, alias="heartbeat",
                                                 description="The Watchdog alert's dead man's switch.",
                                                 example={"receiver": "deadman", "interval": "1m"},
                                                 expected="an object with receiver and interval")

    @model_validator(mode="after")
    def _routes_name_known_receivers(self) -> "AlertingSettings":
        if self.receivers and self.route is None:
            raise PydanticCustomError("route_required", "a route with a default receiver when receivers are given")
        return self


class FluxEventsSettings(BaseModel):
    """Flux's own events, sent by the notification-controller."""

    model_config = _MODEL_CONFIG
    grafana_annotations: bool = _field(False, alias="grafanaAnnotations",
                                       description="Send every Flux event to Grafana as an annotation (tag flux).",
                                       example=True, expected="true or false")
    alertmanager: bool = _field(False, alias="alertmanager",
                                description="Send Flux error events to Alertmanager as alerts.",
                                example=True, expected="true or false")


# -- loading, with errors in the project's form ------------------------------------------------


class AlertingConfigError(ValueError):
    """Problems in `alerting` / `fluxEvents`, one line each: ``<key>: got <value>; expected <form>``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[secret]" if k in SECRET_FIELDS else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _shown(value: Any, secret: bool) -> str:
    if secret and value is not None:
        return "[secret]"
    return json.dumps(_redacted(value), sort_keys=True)


def _model_field(model: type[BaseModel], alias: str):
    return next((f for f in model.model_fields.values() if f.alias == alias), None)


def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(a) for a in get_args(annotation))


def _is_secret(field) -> bool:
    return _holds_secret(field.annotation)


def _receiver_model(tag: str) -> type[BaseModel] | None:
    return next((m for m in RECEIVER_MODELS if m.model_fields["type"].annotation.__args__[0] == tag), None)


def _describe(loc: tuple, raw: Any) -> tuple[list[str], Any, str | None, bool]:
    """(key parts as written in the config, value given, expected text, whether it is a credential)."""
    model: Any = AlertingSettings
    parts: list[str] = []
    value: Any = raw
    expected, secret, in_map = None, False, False
    for item in (i for i in loc if i != "[key]"):
        field = _model_field(model, str(item)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if in_map or field is None:
            tagged = _receiver_model(str(item)) if not in_map and model is RECEIVER_UNION else None
            if tagged is not None:  # the receiver type the discriminator chose: not a key
                model = tagged
                continue
            parts.append(str(item))
            value = value.get(item) if isinstance(value, dict) else None
            in_map = False
            continue
        parts.append(str(item))
        value = value.get(item) if isinstance(value, dict) else None
        expected = (field.json_schema_extra or {}).get("expected")
        secret = _is_secret(field)
        annotation = field.annotation
        if getattr(annotation, "__origin__", None) is dict:
            model, in_map = RECEIVER_UNION if field.alias == "receivers" else None, True
        else:
            model = next((a for a in (annotation, *getattr(annotation, "__args__", ()))
                          if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return parts, value, expected, secret


# Error types whose message is already the form expected (raised by the validators above).
_OWN_MESSAGES = ("duration", "receiver_name", "email", "host_port", "label_value", "namespace", "auth_pair")


def _problems(error: ValidationError, raw: Any, prefix: str) -> list[str]:
    problems = []
    for e in error.errors():
        parts, value, expected, secret = _describe(tuple(e["loc"]), raw)
        if "[key]" in e["loc"]:  # a map key is wrong: show the key
            value, secret = parts[-1], False
        key = ".".join([prefix, *parts])
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            given = value.get("type") if isinstance(value, dict) else value
            problems.append(f"{key}.type: got {json.dumps(given)}; expected one of {', '.join(RECEIVER_TYPES)}")
        elif e["type"] == "route_required":
            problems.append(f"{prefix}.route: got null; expected {e['msg']}")
        elif e["type"] == "missing":
            problems.append(f"{key}: got null; expected {expected or 'a value'} (required)")
        elif e["type"] == "extra_forbidden":
            problems.append(f"{key}: got {_shown(value, secret)}; expected no such key")
        else:
            form = e["msg"] if e["type"] in _OWN_MESSAGES else (expected or e["msg"])
            problems.append(f"{key}: got {_shown(value, secret)}; expected {form}")
    return problems


def _secret_paths(settings: AlertingSettings) -> list[str]:
    """Dotted keys of the credentials the settings hold."""
    found = []
    for name, receiver in settings.receivers.items():
        found += [f"receivers.{name}.{field.alias}" for attr, field in type(receiver).model_fields.items()
                  if _is_secret(field) and getattr(receiver, attr) is not None]
    return found


def _cross_checks(settings: AlertingSettings, prefix: str) -> list[str]:
    problems = []
    known = set(settings.receivers)
    for name in known & {NULL_RECEIVER}:
        problems.append(f"{prefix}.receivers.{name}: got {json.dumps(name)}; expected {RECEIVER_NAME_EXPECTED}")
    named: list[tuple[str, str]] = []
    if settings.route is not None:
        named.append(("route.default", settings.route.default))
        named += [(f"route.bySeverity.{k}", v) for k, v in settings.route.by_severity.items()]
        named += [(f"route.byNamespace.{k}", v) for k, v in settings.route.by_namespace.items()]
    if settings.heartbeat is not None:
        named.append(("heartbeat.receiver", settings.heartbeat.receiver))
    for key, name in named:
        if name not in known:
            valid = ", ".join(sorted(known)) or "none (add alerting.receivers)"
            problems.append(f"{prefix}.{key}: got {json.dumps(name)}; expected a receiver defined under "
                            f"{prefix}.receivers ({valid})")
    return problems


def load_alerting(text: str | None, secret: bool, prefix: str = "alerting") -> AlertingSettings:
    """Validate the `alerting` config text (JSON); ``secret``: whether Pulumi holds the key as a secret.

    A credential is accepted only from a secret key (`pulumi config set --secret --path ...`).
    """
    if text is None:
        return AlertingSettings()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = text
    if not isinstance(raw, dict):
        raise AlertingConfigError([f"{prefix}: got {_shown(raw, secret)}; expected an object with keys "
                                   "receivers, route, heartbeat"])
    try:
        settings = AlertingSettings.model_validate(raw)
    except ValidationError as error:
        raise AlertingConfigError(_problems(error, raw, prefix)) from None
    problems = _cross_checks(settings, prefix)
    if not secret:
        problems += [f"{prefix}.{path}: got [secret]; expected a secret: set it with "
                     f"pulumi config set --secret --path {prefix}.{path} VALUE" for path in _secret_paths(settings)]
    if problems:
        raise AlertingConfigError(problems)
    return settings


def load_flux_events(text: str | None, prefix: str = "fluxEvents") -> FluxEventsSettings:
    if text is None:
        return FluxEventsSettings()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = text
    try:
        return FluxEventsSettings.model_validate(raw if isinstance(raw, dict) else {"": raw})
    except ValidationError as error:
        if not isinstance(raw, dict):
            raise AlertingConfigError([f"{prefix}: got {json.dumps(raw)}; expected an object with keys "
                                       "grafanaAnnotations, alertmanager"]) from None
        problems = []
        for e in error.errors():
            key = ".".join([prefix, *map(str, e["loc"])])
            value = raw.get(e["loc"][0]) if e["loc"] else raw
            form = "no such key; valid keys are grafanaAnnotations, alertmanager" \
                if e["type"] == "extra_forbidden" else "true or false"
            problems.append(f"{key}: got {json.dumps(value)}; expected {form}")
        raise AlertingConfigError(problems) from None

