"""The fleet builders: the Prometheus spec fragment, the credential Secrets and Grafana's fleet data sources."""

from __future__ import annotations

import json
import re

import pytest

from flux_monitoring.config.settings import load_settings
from flux_monitoring.manifests.fleet import (
    GRAFANA_DATASOURCE_SECRET,
    REMOTE_WRITE_SECRET,
    fleet_metric_names,
    fleet_prometheus_spec,
    grafana_datasource_secret_data,
    grafana_fleet_values,
    metric_names,
    remote_write_secret_data,
)
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values
from tests.support.chart_defaults import load_chart_defaults, unknown_paths

PASSWORD = "rw-password-for-tests-0b7c"
TOKEN = "rw-token-for-tests-93fa"
DS_PASSWORD = "ds-password-for-tests-77e1"

MIMIR = {
    "name": "mimir",
    "url": "https://mimir.example.com/api/v1/push",
    "headers": {"X-Scope-OrgID": "platform"},
    "basicAuth": {"username": "fleet", "password": PASSWORD},
    "queue": {"maxShards": 10, "batchSendDeadline": "5s"},
}
VICTORIA = {"name": "vm", "url": "https://vm.example.com/api/v1/write", "bearerToken": TOKEN, "fluxOnly": False}
HUB = {
    "name": "fleet",
    "url": "https://mimir.example.com/prometheus",
    "basicAuth": {"username": "reader", "password": DS_PASSWORD},
    "headers": {"X-Scope-OrgID": "platform"},
    "default": True,
}


def settings(*targets: dict, datasources: tuple[dict, ...] = (), **raw: str):
    config = {
        "cluster": "eu-west-prod",
        "remoteWrite": json.dumps(list(targets)),
        "grafana": json.dumps({"datasources": list(datasources)}),
        **raw,
    }
    return load_settings(config, secret_keys={"remoteWrite", "grafana"}, kube_context="test")


SETTINGS = settings()
LEGACY = settings(fluxMetrics="legacy", fluxVersion="2.4")


def spec(*targets: dict, **raw: str) -> dict:
    return fleet_prometheus_spec(settings(*targets, **raw))


def datasources(*sources: dict):
    return settings(datasources=sources).grafana.datasources


def test_every_series_leaving_prometheus_carries_the_cluster_external_label():
    assert spec()["externalLabels"] == {"cluster": "eu-west-prod"}


def test_the_replica_label_is_the_operators_default_set_explicitly():
    assert spec()["replicaExternalLabelName"] == "prometheus_replica"


def test_no_remote_write_without_targets():
    assert "remoteWrite" not in spec()


def test_without_a_cluster_name_there_is_no_cluster_label():
    assert "externalLabels" not in fleet_prometheus_spec(load_settings({}, kube_context="test"))


def test_the_fleet_fragment_is_in_the_prometheus_spec_of_the_helm_values():
    values = kube_prometheus_stack_values(settings(MIMIR, datasources=(HUB,)))
    prometheus = values["prometheus"]["prometheusSpec"]
    assert prometheus["externalLabels"] == {"cluster": "eu-west-prod"}
    assert [target["name"] for target in prometheus["remoteWrite"]] == ["mimir"]
    assert values["grafana"]["sidecar"]["dashboards"]["enabled"] is True  # merged, not replaced
    # Merged with the sidecar's ConfigMaps-only settings (grafana_rbac.py), not replacing them.
    assert values["grafana"]["sidecar"]["datasources"] == {
        "resource": "configmap",
        "searchNamespace": ["monitoring"],
        "isDefaultDatasource": False,
    }
    assert PASSWORD not in json.dumps(values) and DS_PASSWORD not in json.dumps(values)


def test_remote_write_credentials_are_secret_key_references_never_values():
    mimir, vm = spec(MIMIR, VICTORIA)["remoteWrite"]
    assert mimir["basicAuth"] == {
        "username": {"name": REMOTE_WRITE_SECRET, "key": "mimir-username"},
        "password": {"name": REMOTE_WRITE_SECRET, "key": "mimir-password"},
    }
    assert vm["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": REMOTE_WRITE_SECRET, "key": "vm-bearer-token"},
    }
    text = json.dumps(spec(MIMIR, VICTORIA))
    assert PASSWORD not in text and TOKEN not in text


def test_the_secret_holds_each_referenced_key():
    data = remote_write_secret_data(settings(MIMIR, VICTORIA).remote_write)
    assert data == {"mimir-username": "fleet", "mimir-password": PASSWORD, "vm-bearer-token": TOKEN}
    refs = re.findall(r'"key": "([^"]+)"', json.dumps(spec(MIMIR, VICTORIA)))
    assert sorted(refs) == sorted(data)


def test_headers_name_and_queue_pass_through():
    (mimir,) = spec(MIMIR)["remoteWrite"]
    assert (mimir["url"], mimir["name"], mimir["headers"]) == (MIMIR["url"], "mimir", {"X-Scope-OrgID": "platform"})
    assert mimir["queueConfig"] == {"maxShards": 10, "batchSendDeadline": "5s"}


def kept_by(relabelings: list[dict], name: str) -> bool:
    (rule,) = relabelings
    assert (rule["sourceLabels"], rule["action"]) == (["__name__"], "keep")
    return re.fullmatch(rule["regex"], name) is not None


@pytest.mark.parametrize(
    "source",
    [
        {"fluxMetrics": "resource-info"},
        {"fluxMetrics": "flux-operator"},
        {"fluxMetrics": "legacy", "fluxVersion": "2.4"},
    ],
    ids=lambda s: s["fluxMetrics"],
)
def test_flux_only_keeps_every_series_the_signals_read_and_nothing_else(source):
    (target,) = spec(MIMIR, **source)["remoteWrite"]
    names = fleet_metric_names(settings(**source))
    assert all(kept_by(target["writeRelabelConfigs"], name) for name in names)
    for other in (
        "node_cpu_seconds_total",
        "go_memstats_heap_alloc_bytes",
        "kube_pod_info",
        "prometheus_tsdb_head_series",
        "flux:unknown",
    ):
        assert not kept_by(target["writeRelabelConfigs"], other)


def test_the_flux_series_are_derived_from_the_signal_queries():
    assert {
        "gotk_resource_info",
        "gotk_reconcile_duration_seconds_bucket",
        "up",
        "workqueue_depth",
        "flux:gotk_objects:count",
        "flux:heartbeat:timestamp",
    } <= set(fleet_metric_names(SETTINGS))
    assert "gotk_reconcile_condition" in fleet_metric_names(LEGACY)
    assert "gotk_reconcile_condition" not in fleet_metric_names(SETTINGS)


def test_metric_names_come_from_selectors_ranges_and_label_values():
    assert metric_names('sum(rate(a_total{x="1"}[5m])) / b {} + label_values(c_info, ns)') == {"a_total", "b", "c_info"}


def test_flux_only_false_sends_everything():
    (vm,) = spec(VICTORIA)["remoteWrite"]
    assert "writeRelabelConfigs" not in vm


def test_grafana_reads_data_source_credentials_from_its_environment_filled_from_a_secret():
    values = grafana_fleet_values(datasources(HUB))
    (source,) = values["additionalDataSources"]
    assert source["basicAuthUser"] == "${FLUX_MONITORING_DATASOURCE_0_USERNAME}"
    assert source["secureJsonData"]["basicAuthPassword"] == "${FLUX_MONITORING_DATASOURCE_0_PASSWORD}"
    assert values["envFromSecrets"] == [{"name": GRAFANA_DATASOURCE_SECRET}]
    assert set(grafana_datasource_secret_data(datasources(HUB))) == {
        "FLUX_MONITORING_DATASOURCE_0_USERNAME",
        "FLUX_MONITORING_DATASOURCE_0_PASSWORD",
    }
    assert DS_PASSWORD not in json.dumps(values)


def test_a_data_source_bearer_token_and_tenant_header_are_sent_as_headers():
    token = {
        "name": "vm",
        "url": "https://vm.example.com",
        "bearerToken": TOKEN,
        "headers": {"X-Scope-OrgID": "platform"},
    }
    (source,) = grafana_fleet_values(datasources(token))["additionalDataSources"]
    assert source["jsonData"] == {"httpHeaderName1": "Authorization", "httpHeaderName2": "X-Scope-OrgID"}
    assert source["secureJsonData"] == {
        "httpHeaderValue1": "Bearer ${FLUX_MONITORING_DATASOURCE_0_BEARER_TOKEN}",
        "httpHeaderValue2": "platform",
    }


def test_a_default_fleet_data_source_takes_over_from_the_charts_default():
    assert grafana_fleet_values(datasources(HUB))["sidecar"] == {"datasources": {"isDefaultDatasource": False}}
    assert "sidecar" not in grafana_fleet_values(datasources({"name": "fleet", "url": "http://vm:8428"}))
    assert grafana_fleet_values(()) == {}


def test_every_fleet_key_path_exists_in_the_chart_defaults(shared_upstream):
    charts = shared_upstream / "charts"
    values = {
        "prometheus": {"prometheusSpec": spec(MIMIR, VICTORIA)},
        "grafana": grafana_fleet_values(datasources(HUB)),
    }
    assert unknown_paths(values, load_chart_defaults(charts, "88.5.3"), charts) == []
