"""Stack config of alert delivery (`alerting`) and of Flux's own events (`fluxEvents`).

Receivers follow the Prometheus Operator's AlertmanagerConfig CRD field names in camelCase
(prometheus-operator/prometheus-operator pkg/apis/monitoring/v1alpha1/alertmanager_config_types.go,
v0.93.0). Credentials are ``SecretStr``. Pulumi hands `alerting` over as one secret whole when any
of its paths was set with ``--secret``; a credential is accepted only then, so none is ever
written in plain text in a stack file, and errors show ``[secret]`` for credentials only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from flux_monitoring.config.fields import Model as _Model
from flux_monitoring.config.fields import field as _field
from flux_monitoring.config.fields import required as _required
from flux_monitoring.config.types import (
    DNS1123_LABEL,
    HTTP_URL,
    HTTP_URL_TEXT,
    LABEL_KEY,
    LABEL_VALUE,
    SECRET_SCHEMA,
    Boolean,
    DnsLabel,
    LabelKey,
    LabelValue,
    form_error,
    http_url,
    text,
)
from flux_monitoring.contract import PROMETHEUS_DURATION, duration_seconds

ALERTING_KEY = "alerting"
# The chart's own name for the receiver that discards (kube-prometheus-stack values.yaml
# alertmanager.config, 88.5.3).
NULL_RECEIVER = "null"

ALERTMANAGER_DURATION_TEXT = "an Alertmanager duration above 0 such as 30s, 5m, 4h or 1h30m"
RECEIVER_NAME_TEXT = "a receiver name: lower-case letters, digits and '-', such as oncall (not null)"


def _above_zero(value: str) -> str:
    if not duration_seconds(value):
        raise form_error(ALERTMANAGER_DURATION_TEXT)
    return value


def _not_null(value: str) -> str:
    if value == NULL_RECEIVER:
        raise form_error(RECEIVER_NAME_TEXT)
    return value


AlertmanagerDuration = Annotated[text(PROMETHEUS_DURATION, ALERTMANAGER_DURATION_TEXT), AfterValidator(_above_zero)]
ReceiverName = Annotated[
    text(DNS1123_LABEL, RECEIVER_NAME_TEXT, max_length=63, missing=f"{RECEIVER_NAME_TEXT} (required)"),
    AfterValidator(_not_null),
]
_EMAIL_TEXT = "an email address such as platform@example.com"
Email = text(r"^[^\s@,]+@[^\s@,]+$", _EMAIL_TEXT, missing=f"{_EMAIL_TEXT} (required)")
_HOST_PORT_TEXT = "an SMTP server as host:port such as smtp.example.com:587"
HostPort = text(r"^[^\s:/]+:[0-9]{1,5}$", _HOST_PORT_TEXT, missing=f"{_HOST_PORT_TEXT} (required)")


def credential(expected: str, pattern: str = r"^\S+$") -> Any:
    """A credential: ``expected`` form, and only from a secret `alerting` key (never plain text in a
    stack file, where `pulumi config set --secret --path` writes it as {secure: <ciphertext>})."""
    compiled = re.compile(pattern)

    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None or isinstance(value, SecretStr):
            return value
        if not isinstance(value, str) or not compiled.match(value):
            raise form_error(f"{expected}, set as a secret")
        if ALERTING_KEY not in (info.context or {}).get("secret_keys", ()):
            raise form_error("a secret: set it with pulumi config set --secret --path {key} VALUE")
        return value

    return Annotated[SecretStr | None, BeforeValidator(check), WithJsonSchema(SECRET_SCHEMA)]


# How a credential looks in the stack file once set with `pulumi config set --secret --path`.
ENCRYPTED = {"secure": "v1:..."}


def _keys_matching(pattern: str, max_length: int) -> dict[str, Any]:
    """A map's JSON Schema rule for its keys (pydantic states only their length)."""
    return {"json_schema_extra": {"propertyNames": {"pattern": pattern, "maxLength": max_length}}}


class _Receiver(_Model):
    """A receiver; ``_credentials`` names its required credential fields and their forms."""

    _credentials: ClassVar[dict[str, str]] = {}

    @model_validator(mode="after")
    def _credentials_given(self, info: ValidationInfo) -> Any:
        # Required to run, but absent from the stack file until set with --secret --path, and
        # unreadable offline (the render, which writes no credential).
        if not (info.context or {}).get("without_credentials"):
            for attr, expected in self._credentials.items():
                if getattr(self, attr) is None:
                    raise form_error(
                        f"{expected}, set as a secret (required)", key=type(self).model_fields[attr].alias, value=None
                    )
        return self


def _type(name: str) -> Any:
    return Field(description=f"The receiver's type: {name}.", examples=[name])


def _send_resolved() -> Any:
    return _field(True, "sendResolved", "Also notify when the alert resolves.", False)


class SlackReceiver(_Receiver):
    _credentials: ClassVar[dict[str, str]] = {"api_url": "a Slack incoming webhook URL"}
    type: Literal["slack"] = _type("slack")
    api_url: credential("a Slack incoming webhook URL", HTTP_URL) = _field(
        None, "apiURL", "Slack incoming webhook URL (secret).", ENCRYPTED
    )
    channel: text(r"^\S+$", "a Slack channel such as #flux-alerts") | None = _field(
        None, None, "Channel to post to; the webhook's own when unset.", "#flux-alerts"
    )
    send_resolved: Boolean = _send_resolved()


class PagerDutyReceiver(_Receiver):
    _credentials: ClassVar[dict[str, str]] = {"routing_key": "a PagerDuty Events API v2 integration key"}
    type: Literal["pagerduty"] = _type("pagerduty")
    routing_key: credential("a PagerDuty Events API v2 integration key") = _field(
        None, "routingKey", "PagerDuty Events API v2 integration (routing) key (secret).", ENCRYPTED
    )
    url: http_url("https://events.eu.pagerduty.com/v2/enqueue", "routingKey (a secret)") | None = _field(
        None, None, "Events API URL; PagerDuty's own when unset.", "https://events.eu.pagerduty.com/v2/enqueue"
    )
    send_resolved: Boolean = _send_resolved()


class MSTeamsReceiver(_Receiver):
    _credentials: ClassVar[dict[str, str]] = {"webhook_url": "a Teams Workflows webhook URL"}
    type: Literal["msteams"] = _type("msteams")
    webhook_url: credential("a Teams Workflows webhook URL", HTTP_URL) = _field(
        None, "webhookUrl", "Teams Workflows webhook URL (secret); needs Alertmanager 0.28 or later.", ENCRYPTED
    )
    send_resolved: Boolean = _send_resolved()


class WebhookReceiver(_Receiver):
    _credentials: ClassVar[dict[str, str]] = {"url": HTTP_URL_TEXT}
    type: Literal["webhook"] = _type("webhook")
    url: credential(HTTP_URL_TEXT, HTTP_URL) = _field(
        None, None, "URL Alertmanager POSTs its webhook payload to (secret).", ENCRYPTED
    )
    send_resolved: Boolean = _send_resolved()


class EmailReceiver(_Receiver):
    type: Literal["email"] = _type("email")
    to: Email = _required(None, "Recipient address.", "platform@example.com")
    from_: Email = _required("from", "Sender address.", "alertmanager@example.com")
    smarthost: HostPort = _required(None, "SMTP server as host:port.", "smtp.example.com:587")
    auth_username: text(r"^\S+$", "an SMTP user name") | None = _field(
        None, "authUsername", "SMTP user name (with authPassword).", "alertmanager"
    )
    auth_password: credential("an SMTP password") = _field(
        None, "authPassword", "SMTP password (secret, with authUsername).", ENCRYPTED
    )
    require_tls: Boolean = _field(True, "requireTLS", "Require STARTTLS (Alertmanager's default).", False)
    send_resolved: Boolean = _send_resolved()

    @model_validator(mode="after")
    def _username_with_password(self) -> EmailReceiver:
        if (self.auth_username is None) != (self.auth_password is None):
            raise form_error(
                "authUsername and authPassword together, or neither",
                key="authPassword" if self.auth_password is None else "authUsername",
                value=None,
            )
        return self


class OpsgenieReceiver(_Receiver):
    _credentials: ClassVar[dict[str, str]] = {"api_key": "an Opsgenie API integration key"}
    type: Literal["opsgenie"] = _type("opsgenie")
    api_key: credential("an Opsgenie API integration key") = _field(
        None, "apiKey", "Opsgenie API integration key (secret).", ENCRYPTED
    )
    api_url: http_url("https://api.eu.opsgenie.com/", "apiKey (a secret)") | None = _field(
        None, "apiURL", "Opsgenie API URL; Opsgenie's own when unset.", "https://api.eu.opsgenie.com/"
    )
    send_resolved: Boolean = _send_resolved()


RECEIVER_MODELS = (SlackReceiver, PagerDutyReceiver, MSTeamsReceiver, WebhookReceiver, EmailReceiver, OpsgenieReceiver)
RECEIVER_TYPES = tuple(model.model_fields["type"].annotation.__args__[0] for model in RECEIVER_MODELS)
Receiver = Annotated[Union[RECEIVER_MODELS], Field(discriminator="type")]  # noqa: UP007 (a tuple of models)


class RouteSettings(_Model):
    default: ReceiverName = _required(None, "Receiver of every alert not routed elsewhere.", "platform")
    by_severity: dict[LabelValue, ReceiverName] = _field(
        {},
        "bySeverity",
        "severity label value -> the platform receiver for it, instead of the default.",
        {"page": "oncall"},
        **_keys_matching(LABEL_VALUE, 63),
    )
    by_namespace: dict[DnsLabel, ReceiverName] = _field(
        {},
        "byNamespace",
        "A Flux object's namespace -> a receiver that also gets its alerts (the platform receivers still do).",
        {"team-a": "team-a-slack"},
        **_keys_matching(DNS1123_LABEL, 63),
    )
    by_object_label: dict[LabelKey, dict[LabelValue, ReceiverName]] = _field(
        {},
        "byObjectLabel",
        "A label key of objectLabels -> the Flux object's value of it -> a receiver that also gets the object's "
        "alerts (the platform receivers still do).",
        {"team": {"payments": "payments-oncall"}},
        **_keys_matching(LABEL_KEY, 317),
    )
    # Alertmanager's own defaults (prometheus/alertmanager config/config.go DefaultRouteOpts and
    # docs/configuration.md, v0.34.0).
    group_wait: AlertmanagerDuration = _field(
        "30s", "groupWait", "Wait before the first notification of a group.", "30s"
    )
    group_interval: AlertmanagerDuration = _field(
        "5m", "groupInterval", "Wait before notifying about changes to a notified group.", "5m"
    )
    repeat_interval: AlertmanagerDuration = _field(
        "4h", "repeatInterval", "Wait before notifying again about a group still firing.", "4h"
    )


class HeartbeatSettings(_Model):
    receiver: ReceiverName = _required(
        None, "Dead man's switch receiver of the always-firing Watchdog alert.", "deadman"
    )
    interval: AlertmanagerDuration = _field("1m", None, "How often the heartbeat is sent.", "1m")


class AlertingSettings(_Model):
    """Where alerts go. Without receivers they go nowhere, as with the chart's default."""

    receivers: dict[ReceiverName, Receiver] = _field(
        {},
        None,
        f"Receiver name -> {{type, ...}}; types {', '.join(RECEIVER_TYPES)}.",
        {"oncall": {"type": "pagerduty", "routingKey": ENCRYPTED}},
        **_keys_matching(DNS1123_LABEL, 63),
    )
    route: RouteSettings | None = _field(
        None, None, "Which receiver gets which alert.", {"default": "platform", "bySeverity": {"page": "oncall"}}
    )
    heartbeat: HeartbeatSettings | None = _field(
        None, None, "The Watchdog alert's dead man's switch.", {"receiver": "deadman", "interval": "1m"}
    )

    @model_validator(mode="after")
    def _routes_name_defined_receivers(self) -> AlertingSettings:
        if self.receivers and self.route is None:
            raise form_error("an object with default (a receiver name), required with receivers", key="route")
        named = []
        if self.route is not None:
            named += [("route.default", self.route.default)]
            named += [(f"route.bySeverity.{k}", v) for k, v in self.route.by_severity.items()]
            named += [(f"route.byNamespace.{k}", v) for k, v in self.route.by_namespace.items()]
            named += [
                (f"route.byObjectLabel.{key}.{value}", receiver)
                for key, values in self.route.by_object_label.items()
                for value, receiver in values.items()
            ]
        if self.heartbeat is not None:
            named.append(("heartbeat.receiver", self.heartbeat.receiver))
        for key, name in named:
            if name not in self.receivers:
                defined = ", ".join(sorted(self.receivers)) or "none yet"
                raise form_error(f"a receiver defined under alerting.receivers ({defined})", key=key, value=name)
        return self


class FluxEventsSettings(_Model):
    """Flux's own events, sent by the notification-controller."""

    grafana_annotations: Boolean = _field(
        False,
        "grafanaAnnotations",
        "Send Flux's events to Grafana as annotations (tag flux), shown on the flux-cluster dashboard.",
        True,
    )
    alertmanager: Boolean = _field(False, None, "Send Flux's error events to Alertmanager as alerts.", True)
