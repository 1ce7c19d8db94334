"""The complete Alertmanager configuration (alertmanager.yaml), as a pure function of the settings.

It reaches the cluster as the Secret ``ALERTMANAGER_CONFIG_SECRET`` that the chart names in
``alertmanager.alertmanagerSpec.configSecret`` (helm_values.py); the tests run this same text
through a real Alertmanager and ``amtool check-config``.

Routing (docs/alerting.md):
- Watchdog goes to the heartbeat receiver only; InfoInhibitor to nobody (the chart's pattern).
- An alert about a Flux object in a namespace of ``route.byNamespace``, or whose own label has a value
  of ``route.byObjectLabel``, also goes to that tenant's receiver (``continue: true``), then on to
  the platform's routes below.
- ``route.bySeverity`` picks the platform receiver by the ``severity`` label, else ``route.default``.
Each notification is about one Flux object: groups are per alert name, kind, object namespace and
name (and ``cluster``, where external labels add it), never per controller pod.
"""

from __future__ import annotations

from typing import Any

import yaml

from flux_monitoring.config.alerting import (
    NULL_RECEIVER,
    AlertingSettings,
    EmailReceiver,
    MSTeamsReceiver,
    OpsgenieReceiver,
    PagerDutyReceiver,
    RouteSettings,
    SlackReceiver,
    WebhookReceiver,
)
from flux_monitoring.config.types import object_label_name
from flux_monitoring.contract import duration_seconds
from flux_monitoring.flux.release import NEWEST, flux_release
from flux_monitoring.signals.sources import SHARD_LABEL

ALERTMANAGER_CONFIG_SECRET = "alertmanager-flux-monitoring"
# The key the Prometheus Operator reads from the config Secret (pkg/alertmanager/operator.go
# alertmanagerConfigFile, prometheus-operator v0.93.0).
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"

# One notification per Flux object. Object alerts carry the object's namespace as
# exported_namespace; Flux's own events (notification-controller's alertmanager provider) carry it
# as namespace. ``cluster`` is absent on a single cluster, which groups like an empty label.
GROUP_BY = ("alertname", "cluster", "kind", "namespace", "exported_namespace", "name")

# Alerts that Flux sends (Provider type alertmanager) have no endsAt: the Flux docs
# (fluxcd/notification-controller docs/spec/v1beta3/providers.md, "Prometheus Alertmanager",
# main 2e46958a67f3) recommend a global resolve_timeout long enough for the events to recur.
# Prometheus always sets endsAt, so this affects only Flux's alerts.
RESOLVE_TIMEOUT = "1h"

# The object alerts of rules.py.
OBJECT_ALERTS = ("ReconciliationFailure", "FluxSourceFailure", "FluxReconcileDurationHigh")
CONTROLLER_DOWN_ALERT = "FluxControllerDown"
# Which Flux controller reconciles each kind, from the release model (flux_monitoring/flux/release.py):
# no kind ever moved between controllers, so the newest release's mapping covers every release.
KINDS_BY_CONTROLLER = {
    controller: kinds
    for controller in flux_release(NEWEST).controllers
    if (kinds := tuple(k.kind for k in flux_release(NEWEST).kinds if k.controller == controller))
}
# The severity levels of the alerts (settings.alerts.*.severity defaults): a page silences the
# warning (and info) about the same object.
PAGE, LOWER_SEVERITIES = "page", ("warning", "info")
OBJECT_MATCHERS = ('kind=~".+"', 'exported_namespace=~".+"', 'name=~".+"')

# The chart's default inhibition rules (kube-prometheus-stack values.yaml alertmanager.config,
# 88.5.3), kept for its own rules, with the InfoInhibitor pattern: InfoInhibitor silences the
# info alerts of its namespace, and is itself never delivered.
CHART_INHIBIT_RULES = [
    {
        "source_matchers": ["severity = critical"],
        "target_matchers": ["severity =~ warning|info"],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ["severity = warning"],
        "target_matchers": ["severity = info"],
        "equal": ["namespace", "alertname"],
    },
    {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"], "equal": ["namespace"]},
    {"target_matchers": ["alertname = InfoInhibitor"]},
]

# Message templates (Alertmanager notification template language). Flux's own events have a
# ``message`` annotation and the object's namespace in ``namespace``.
TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }}"
    "{{ with .CommonLabels.kind }} {{ . }}{{ end }}"
    "{{ with or .CommonLabels.exported_namespace .CommonLabels.namespace }} {{ . }}"
    "{{ with $.CommonLabels.name }}/{{ . }}{{ end }}{{ end }}"
    "{{ with .CommonLabels.cluster }} ({{ . }}){{ end }}"
)


def _text(dashboard: str) -> str:
    """What and where, per alert: summary, description, the Ready reason when the metric source has
    it, the alert's runbook, and the flux-cluster dashboard filtered to the object's namespace."""
    return (
        "{{ range .Alerts }}"
        "{{ or .Annotations.summary .Annotations.message }}\n"
        "{{ with .Annotations.description }}{{ . }}\n{{ end }}"
        "{{ with .Labels.reason }}Reason: {{ . }}\n{{ end }}"
        "{{ with .Annotations.runbook_url }}Runbook: {{ . }}\n{{ end }}"
        "{{ with or .Labels.exported_namespace .Labels.namespace }}"
        f"Dashboard: {dashboard}?var-exported_namespace={{{{ . }}}}\n{{{{ end }}}}"
        "{{ end }}"
    )


def _receiver(name: str, receiver: Any, dashboard: str) -> dict[str, Any]:
    """One Alertmanager receiver; credentials are revealed here, into Secret data only."""
    text = _text(dashboard)
    resolved = {"send_resolved": receiver.send_resolved}
    if isinstance(receiver, SlackReceiver):
        config = {**resolved, "api_url": receiver.api_url.get_secret_value(), "title": TITLE, "text": text}
        if receiver.channel:
            config["channel"] = receiver.channel
        return {"name": name, "slack_configs": [config]}
    if isinstance(receiver, PagerDutyReceiver):
        config = {
            **resolved,
            "routing_key": receiver.routing_key.get_secret_value(),
            "description": TITLE,
            "details": {"alerts": text},
        }
        if receiver.url:
            config["url"] = receiver.url
        return {"name": name, "pagerduty_configs": [config]}
    if isinstance(receiver, MSTeamsReceiver):
        # msteamsv2 (Teams Workflows, Alertmanager 0.28+): Microsoft retired the Office 365
        # connectors that msteams_configs posts to (prometheus/alertmanager docs/configuration.md, v0.34.0).
        return {
            "name": name,
            "msteamsv2_configs": [
                {**resolved, "webhook_url": receiver.webhook_url.get_secret_value(), "title": TITLE, "text": text}
            ],
        }
    if isinstance(receiver, WebhookReceiver):
        return {"name": name, "webhook_configs": [{**resolved, "url": receiver.url.get_secret_value()}]}
    if isinstance(receiver, EmailReceiver):
        config = {
            **resolved,
            "to": receiver.to,
            "from": receiver.from_,
            "smarthost": receiver.smarthost,
            "require_tls": receiver.require_tls,
            "headers": {"Subject": TITLE},
            "text": text,
        }
        if receiver.auth_username is not None:
            config["auth_username"] = receiver.auth_username
            config["auth_password"] = receiver.auth_password.get_secret_value()
        return {"name": name, "email_configs": [config]}
    if isinstance(receiver, OpsgenieReceiver):
        config = {**resolved, "api_key": receiver.api_key.get_secret_value(), "message": TITLE, "description": text}
        if receiver.api_url:
            config["api_url"] = receiver.api_url
        return {"name": name, "opsgenie_configs": [config]}
    raise TypeError(f"unknown receiver {type(receiver).__name__}")


def _seconds(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _routes(alerting: AlertingSettings) -> list[dict[str, Any]]:
    heartbeat = alerting.heartbeat
    if heartbeat is not None:
        # Notifications go out at group_interval ticks once repeat_interval has passed since the last
        # one, so a tick of a tenth of the interval sends the heartbeat every 1 to 1.1 intervals.
        interval = duration_seconds(heartbeat.interval)
        watchdog = {
            "receiver": heartbeat.receiver,
            "matchers": ['alertname = "Watchdog"'],
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": _seconds(interval / 10),
            "repeat_interval": heartbeat.interval,
        }
    else:
        watchdog = {"receiver": NULL_RECEIVER, "matchers": ['alertname = "Watchdog"']}
    routes = [watchdog, {"receiver": NULL_RECEIVER, "matchers": ['alertname = "InfoInhibitor"']}]
    route = alerting.route
    if route is None:
        return routes
    for namespace, receiver in sorted(route.by_namespace.items()):
        # Object alerts name the namespace as exported_namespace, Flux's events as namespace (with
        # the reporting controller beside it); the platform routes below still see both.
        routes.append({"receiver": receiver, "matchers": [f'exported_namespace = "{namespace}"'], "continue": True})
        routes.append(
            {
                "receiver": receiver,
                "continue": True,
                "matchers": ['reportingcontroller =~ ".+"', f'namespace = "{namespace}"'],
            }
        )
    # The object's own labels (objectLabels), which the object alerts carry as label_<key>; Flux's
    # events do not carry them.
    routes += [
        {"receiver": receiver, "matchers": [f'{object_label_name(key)} = "{value}"'], "continue": True}
        for key, values in sorted(route.by_object_label.items())
        for value, receiver in sorted(values.items())
    ]
    routes += [
        {"receiver": receiver, "matchers": [f'severity = "{severity}"']}
        for severity, receiver in sorted(route.by_severity.items())
    ]
    # Explicit: once a tenant route has matched, Alertmanager no longer falls back to the root's receiver.
    routes.append({"receiver": route.default})
    return routes


def _inhibit_rules() -> list[dict[str, Any]]:
    rules = list(CHART_INHIBIT_RULES)
    # A controller that is down stops reconciling (and reporting on) its kinds: its own alert says it all.
    # Not a shard: which objects are its own (label sharding.fluxcd.io/key) no metric says.
    rules += [
        {
            "source_matchers": [
                f'alertname = "{CONTROLLER_DOWN_ALERT}"',
                f'app = "{controller}"',
                f'{SHARD_LABEL} = ""',
            ],
            "target_matchers": [f'alertname =~ "{"|".join(OBJECT_ALERTS)}"', f'kind =~ "{"|".join(kinds)}"'],
            "equal": ["cluster"],
        }
        for controller, kinds in KINDS_BY_CONTROLLER.items()
    ]
    # The page about an object is enough: no warning about the same object beside it. The source
    # must name an object, else any page without object labels would silence every other warning.
    rules.append(
        {
            "source_matchers": [f'severity = "{PAGE}"', *OBJECT_MATCHERS],
            "target_matchers": [f'severity =~ "{"|".join(LOWER_SEVERITIES)}"'],
            "equal": ["cluster", "kind", "exported_namespace", "name"],
        }
    )
    return rules


def alertmanager_config(alerting: AlertingSettings, dashboard: str) -> dict[str, Any]:
    """The configuration; ``dashboard`` is the flux-cluster dashboard's URL, for the messages' links."""
    timing = alerting.route or RouteSettings.model_construct(default=NULL_RECEIVER)  # the defaults, to nobody
    receivers = [{"name": NULL_RECEIVER}]
    receivers += [_receiver(name, receiver, dashboard) for name, receiver in sorted(alerting.receivers.items())]
    return {
        "global": {"resolve_timeout": RESOLVE_TIMEOUT},
        "route": {
            "receiver": timing.default,
            "group_by": list(GROUP_BY),
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
            "routes": _routes(alerting),
        },
        "inhibit_rules": _inhibit_rules(),
        "receivers": receivers,
        "templates": [],
    }


def alertmanager_config_yaml(alerting: AlertingSettings, dashboard: str) -> str:
    """alertmanager.yaml as the Secret holds it: stable key order, so an unchanged config is unchanged text."""
    return yaml.safe_dump(
        alertmanager_config(alerting, dashboard),
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )


def alertmanager_values(enabled: bool) -> dict[str, Any]:
    """The chart's alertmanager values: Alertmanager reads ALERTMANAGER_CONFIG_SECRET.

    ``configSecret`` names the Secret the Prometheus Operator reads ``alertmanager.yaml`` from
    (pkg/alertmanager/operator.go loadConfigurationFromSecret, v0.93.0); ``useExistingSecret``
    stops the chart from rendering its own (templates/alertmanager/secret.yaml, 88.5.3), whose
    default configuration routes everything to a receiver called null.
    """
    if not enabled:
        return {"enabled": False}
    return {
        "enabled": True,
        "alertmanagerSpec": {"useExistingSecret": True, "configSecret": ALERTMANAGER_CONFIG_SECRET},
    }
