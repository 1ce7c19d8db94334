"""This cluster as a member of a fleet: external labels, remote write and Grafana's fleet data sources.

Pure builders: the Prometheus spec fragment (Helm values), the credential Secrets' data and the
Grafana data sources. Credentials never enter the Helm values: Prometheus reads them through the
Secret key references the Prometheus Operator supports, Grafana from environment variables that
its provisioning expands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flux_monitoring.config.settings import GrafanaDatasource, RemoteWrite, Settings
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard
from flux_monitoring.signals.rules import flux_rule_groups

# The external label naming this cluster in the fleet: Mimir's HA tracker reads it by default
# (grafana/mimir docs "Configure high-availability deduplication": ha_cluster_label "cluster").
CLUSTER_LABEL = "cluster"
# The label the Prometheus Operator adds to every series and alert leaving a replica, valued with
# the pod's name (prometheus-operator pkg/prometheus/promcfg.go defaultReplicaExternalLabelName,
# 6adcebc 2026-08-08; kube-prometheus-stack 88.5.3 leaves replicaExternalLabelName at "", i.e. the
# default). Set explicitly so the dedup settings in docs/fleet.md cannot drift from it.
REPLICA_LABEL = "prometheus_replica"

REMOTE_WRITE_SECRET = "remote-write-credentials"
GRAFANA_DATASOURCE_SECRET = "grafana-datasource-credentials"


_METRIC_BEFORE_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]")
_LABEL_VALUES_METRIC = re.compile(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana label_values query) reads.

    The signal builders always give a metric a selector, ``{...}`` (possibly empty) or a range.
    """
    return set(_METRIC_BEFORE_SELECTOR.findall(expr)) | set(_LABEL_VALUES_METRIC.findall(expr))


def fleet_metric_names(settings: Settings) -> list[str]:
    """Every series the Flux dashboards, alerts and recording rules read, scraped or recorded."""

    rules = [rule for group in flux_rule_groups(settings) for rule in group["rules"]]
    exprs = [rule["expr"] for rule in rules]
    for model in (control_plane_dashboard(settings), cluster_dashboard(settings)):
        exprs += [target["expr"] for panel in model["panels"] for target in panel.get("targets", [])]
        exprs += [variable["query"] for variable in model["templating"]["list"] if variable["type"] == "query"]
    names = {name for expr in exprs for name in metric_names(expr)}
    names |= {rule["record"] for rule in rules if "record" in rule}
    return sorted(names)


def flux_only_relabelings(settings: Settings) -> list[dict[str, Any]]:
    """writeRelabelConfigs keeping only the series the Flux signals read."""
    return [
        {
            "sourceLabels": ["__name__"],
            "action": "keep",
            "regex": "|".join(re.escape(name) for name in fleet_metric_names(settings)),
        }
    ]


def _secret_key(target: str, field: str) -> str:
    return f"{target}-{field}"


def _secret_ref(secret: str, key: str) -> dict[str, str]:
    return {"name": secret, "key": key}


def _queue_config(target: RemoteWrite) -> dict[str, Any]:
    return target.queue.model_dump(by_alias=True, exclude_none=True) if target.queue else {}


def remote_write_spec(settings: Settings, target: RemoteWrite) -> dict[str, Any]:
    """One monitoring.coreos.com/v1 RemoteWriteSpec; credentials as references to REMOTE_WRITE_SECRET."""
    spec: dict[str, Any] = {"url": target.url, "name": target.name}
    if target.headers:
        spec["headers"] = dict(target.headers)
    if target.flux_only:
        spec["writeRelabelConfigs"] = flux_only_relabelings(settings)
    if target.basic_auth is not None:
        spec["basicAuth"] = {
            field: _secret_ref(REMOTE_WRITE_SECRET, _secret_key(target.name, field))
            for field in ("username", "password")
        }
    if target.bearer_token is not None:
        spec["authorization"] = {
            "type": "Bearer",
            "credentials": _secret_ref(REMOTE_WRITE_SECRET, _secret_key(target.name, "bearer-token")),
        }
    if queue := _queue_config(target):
        spec["queueConfig"] = queue
    return spec


def fleet_prometheus_spec(settings: Settings) -> dict[str, Any]:
    """The prometheus.prometheusSpec fragment that makes this Prometheus a member of the fleet."""
    spec: dict[str, Any] = {"replicaExternalLabelName": REPLICA_LABEL}
    if settings.cluster:
        spec["externalLabels"] = {CLUSTER_LABEL: settings.cluster}
    if settings.remote_write:
        spec["remoteWrite"] = [remote_write_spec(settings, target) for target in settings.remote_write]
    return spec


def remote_write_secret_data(remote_write: Sequence[RemoteWrite]) -> dict[str, str]:
    """The REMOTE_WRITE_SECRET's string data: each target's credentials under its own keys."""
    data: dict[str, str] = {}
    for target in remote_write:
        if target.basic_auth is not None:
            data[_secret_key(target.name, "username")] = target.basic_auth.username
            data[_secret_key(target.name, "password")] = target.basic_auth.password.get_secret_value()
        if target.bearer_token is not None:
            data[_secret_key(target.name, "bearer-token")] = target.bearer_token.get_secret_value()
    return data


def _env_name(index: int, field: str) -> str:
    return f"FLUX_MONITORING_DATASOURCE_{index}_{field}"


def grafana_datasources(datasources: Sequence[GrafanaDatasource]) -> list[dict[str, Any]]:
    """grafana.additionalDataSources entries; credentials as ${VARIABLE}s that Grafana's provisioning
    expands from the environment (grafana docs "Provision Grafana": "Using environment variables"),
    filled from GRAFANA_DATASOURCE_SECRET through the chart's envFromSecrets."""
    entries = []
    for index, source in enumerate(datasources):
        entry: dict[str, Any] = {
            "name": source.name,
            "type": "prometheus",
            "access": "proxy",
            "url": source.url,
            "isDefault": source.default,
            "editable": False,
        }
        json_data: dict[str, Any] = {}
        secure: dict[str, str] = {}
        headers = dict(source.headers)
        if source.basic_auth is not None:
            entry["basicAuth"] = True
            entry["basicAuthUser"] = f"${{{_env_name(index, 'USERNAME')}}}"
            secure["basicAuthPassword"] = f"${{{_env_name(index, 'PASSWORD')}}}"
        if source.bearer_token is not None:
            headers["Authorization"] = f"Bearer ${{{_env_name(index, 'BEARER_TOKEN')}}}"
        for number, (name, value) in enumerate(sorted(headers.items()), start=1):
            json_data[f"httpHeaderName{number}"] = name
            secure[f"httpHeaderValue{number}"] = value
        if json_data:
            entry["jsonData"] = json_data
        if secure:
            entry["secureJsonData"] = secure
        entries.append(entry)
    return entries


def grafana_datasource_secret_data(datasources: Sequence[GrafanaDatasource]) -> dict[str, str]:
    """GRAFANA_DATASOURCE_SECRET's string data: the environment variables the data sources name."""
    data: dict[str, str] = {}
    for index, source in enumerate(datasources):
        if source.basic_auth is not None:
            data[_env_name(index, "USERNAME")] = source.basic_auth.username
            data[_env_name(index, "PASSWORD")] = source.basic_auth.password.get_secret_value()
        if source.bearer_token is not None:
            data[_env_name(index, "BEARER_TOKEN")] = source.bearer_token.get_secret_value()
    return data


def grafana_fleet_values(datasources: Sequence[GrafanaDatasource]) -> dict[str, Any]:
    """The grafana values fragment adding the fleet data sources (empty without any)."""
    if not datasources:
        return {}
    values: dict[str, Any] = {"additionalDataSources": grafana_datasources(datasources)}
    if grafana_datasource_secret_data(datasources):
        values["envFromSecrets"] = [{"name": GRAFANA_DATASOURCE_SECRET}]
    if any(source.default for source in datasources):
        # Grafana refuses two default data sources; the chart's own one gives way.
        values["sidecar"] = {"datasources": {"isDefaultDatasource": False}}
    return values


def fleet_secrets(settings: Settings) -> dict[str, dict[str, str]]:
    """Secret name -> string data of the fleet credentials the stack has (none without credentials)."""
    secrets = {
        REMOTE_WRITE_SECRET: remote_write_secret_data(settings.remote_write),
        GRAFANA_DATASOURCE_SECRET: grafana_datasource_secret_data(settings.grafana.datasources),
    }
    return {name: data for name, data in secrets.items() if data}
