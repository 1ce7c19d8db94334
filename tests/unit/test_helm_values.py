"""The Helm values: what each setting turns into, and that the chart knows every key."""

from __future__ import annotations

import json

import pytest

from flux_monitoring.config.names import PROMETHEUS_SELECTOR_LABELS
from flux_monitoring.config.settings import load_settings
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values, with_admin_checksum, without_chart_crds
from tests.conftest import PROD_PASSWORD
from tests.support.chart_defaults import deep_merge, load_chart_defaults, unknown_paths
from tests.support.pulumi_harness import stack_settings

# Every optional setting switched on, so every key path the program can set is checked.
EVERYTHING = {
    "grafana": {
        "adminUser": "ops",
        "persistenceSize": "10Gi",
        "ingress": {"host": "grafana.example.com", "className": "nginx", "tlsSecretName": "tls"},
    },
    "prometheus": {
        "replicas": 2,
        "retention": "30d",
        "retentionSize": "90GB",
        "storageSize": "100Gi",
        "storageClassName": "standard",
        "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
    },
    "alertmanager": {"enabled": True},
}


def texts_values(**texts: str):
    """The values of scalar keys given as the texts Pulumi hands over."""
    return kube_prometheus_stack_values(load_settings(texts, kube_context="test"))


def values_for(**raw):
    return kube_prometheus_stack_values(
        load_settings({key: json.dumps(value) for key, value in raw.items()}, kube_context="test")
    )


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(lambda: kube_prometheus_stack_values(stack_settings("staging")), id="staging"),
        pytest.param(lambda: kube_prometheus_stack_values(stack_settings("prod", PROD_PASSWORD)), id="prod"),
        pytest.param(lambda: kube_prometheus_stack_values(stack_settings("spoke")), id="spoke"),
        pytest.param(lambda: values_for(**EVERYTHING), id="every-option"),
        pytest.param(
            lambda: without_chart_crds(with_admin_checksum(values_for(**EVERYTHING), "hmac-sha256:00")),
            id="direct-with-checksum",
        ),
    ],
)
def test_every_key_path_exists_in_the_chart_defaults(values, shared_upstream):
    charts = shared_upstream / "charts"
    defaults = load_chart_defaults(charts, "88.5.3")
    assert unknown_paths(values(), defaults, charts) == []


def test_the_key_path_check_catches_a_mistyped_key(shared_upstream):
    charts = shared_upstream / "charts"
    defaults = load_chart_defaults(charts, "88.5.3")
    mistyped = {"prometheus": {"prometheusSpec": {"retension": "1d", "resources": {"requests": {}}}}}
    assert unknown_paths(mistyped, defaults, charts) == ["prometheus.prometheusSpec.retension"]


def test_subchart_defaults_the_parent_chart_leaves_out_are_known(shared_upstream):
    charts = shared_upstream / "charts"
    defaults = load_chart_defaults(charts, "88.5.3")
    # sidecar.dashboards.folder exists only in the grafana chart; the parent sets other sidecar keys.
    assert unknown_paths({"grafana": {"sidecar": {"dashboards": {"folder": "/tmp/x"}}}}, defaults, charts) == []


def test_grafana_reads_its_admin_credentials_from_the_secret_not_from_values():
    grafana = values_for()["grafana"]
    assert grafana["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert "adminPassword" not in grafana


def test_grafana_loads_labelled_dashboard_config_maps_from_the_monitoring_namespace_only():
    assert texts_values(namespace="observability")["grafana"]["sidecar"]["dashboards"] == {
        "enabled": True,
        "label": "grafana_dashboard",
        "labelValue": "1",
        "resource": "configmap",
        "searchNamespace": ["observability"],
    }


def test_grafana_loads_data_source_config_maps_from_the_monitoring_namespace_only():
    datasources = texts_values(namespace="observability")["grafana"]["sidecar"]["datasources"]
    assert datasources == {"resource": "configmap", "searchNamespace": ["observability"]}


def test_grafana_binds_the_programs_role_instead_of_the_charts_cluster_role():
    assert values_for()["grafana"]["rbac"] == {
        "create": True,
        "namespaced": True,
        "useExistingRole": "kube-prometheus-stack-grafana-sidecar",
        "namespaces": [],
    }


def test_a_default_fleet_data_source_keeps_the_sidecar_on_config_maps():
    grafana = values_for(grafana={"datasources": [{"name": "fleet", "url": "https://m.example.com", "default": True}]})[
        "grafana"
    ]
    assert grafana["sidecar"]["datasources"] == {
        "resource": "configmap",
        "searchNamespace": ["monitoring"],
        "isDefaultDatasource": False,
    }


def test_with_the_chart_defaults_the_sidecars_still_load_the_charts_dashboards_and_prometheus_data_source(
    shared_upstream,
):
    # The chart's dashboards and Prometheus data source are ConfigMaps in the release namespace
    # (kube-prometheus-stack templates/grafana/configmaps-datasources.yaml, dashboards-1.14/), labelled
    # with its sidecar labels: the sidecars, merged with the defaults, must still be on and look there.
    charts = shared_upstream / "charts"
    defaults = load_chart_defaults(charts, "88.5.3")
    sidecar = deep_merge(defaults, values_for())["grafana"]["sidecar"]
    for kind, label in (("dashboards", "grafana_dashboard"), ("datasources", "grafana_datasource")):
        assert sidecar[kind]["enabled"] is True
        assert (sidecar[kind]["label"], sidecar[kind]["labelValue"]) == (label, "1")
        assert sidecar[kind]["resource"] == "configmap"
        assert sidecar[kind]["searchNamespace"] == ["monitoring"]
    assert sidecar["datasources"]["defaultDatasourceEnabled"] is True
    # No other sidecar is on: the Role grants the dashboards and data sources sidecars all they need.
    assert not any(sidecar[kind]["enabled"] for kind in ("alerts", "notifiers", "plugins"))


def test_node_exporter_runs_in_its_own_namespace():
    values = texts_values(nodeExporterNamespace="host-metrics")
    assert values["prometheus-node-exporter"] == {"namespaceOverride": "host-metrics"}


def test_prometheus_selects_monitors_and_rules_by_the_program_labels():
    spec = values_for()["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelector"] == {"matchLabels": PROMETHEUS_SELECTOR_LABELS}
    assert spec["ruleSelector"] == {"matchLabels": PROMETHEUS_SELECTOR_LABELS}


def test_prometheus_has_no_volume_unless_a_storage_size_is_set():
    assert "storageSpec" not in values_for()["prometheus"]["prometheusSpec"]


def test_prometheus_storage_claim_has_size_and_class():
    spec = values_for(prometheus={"storageSize": "50Gi", "storageClassName": "gp3"})["prometheus"]["prometheusSpec"]
    assert spec["storageSpec"] == {
        "volumeClaimTemplate": {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "50Gi"}},
                "storageClassName": "gp3",
            }
        }
    }


def test_prometheus_retention_replicas_and_resources_pass_through():
    spec = values_for(**EVERYTHING)["prometheus"]["prometheusSpec"]
    assert (spec["replicas"], spec["retention"], spec["retentionSize"]) == (2, "30d", "90GB")
    assert spec["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}}


def test_replicated_prometheus_gets_a_disruption_budget():
    assert values_for(prometheus={"replicas": 2})["prometheus"]["podDisruptionBudget"] == {
        "enabled": True,
        "minAvailable": 1,
    }
    assert "podDisruptionBudget" not in values_for()["prometheus"]


def test_grafana_ingress_carries_host_class_and_tls():
    ingress = values_for(**EVERYTHING)["grafana"]["ingress"]
    assert ingress == {
        "enabled": True,
        "hosts": ["grafana.example.com"],
        "path": "/",
        "ingressClassName": "nginx",
        "tls": [{"secretName": "tls", "hosts": ["grafana.example.com"]}],
    }


def test_grafana_persistence_only_when_sized():
    assert values_for(**EVERYTHING)["grafana"]["persistence"] == {"enabled": True, "size": "10Gi"}
    assert "persistence" not in values_for()["grafana"]


def test_alertmanager_follows_its_setting():
    assert values_for(alertmanager={"enabled": False})["alertmanager"] == {"enabled": False}
    assert values_for(alertmanager={"enabled": True})["alertmanager"]["enabled"] is True


def test_alertmanager_reads_the_programs_configuration_secret_and_the_chart_renders_none():
    spec = values_for(alertmanager={"enabled": True})["alertmanager"]["alertmanagerSpec"]
    assert spec == {"useExistingSecret": True, "configSecret": "alertmanager-flux-monitoring"}


def test_grafana_with_a_volume_is_recreated_so_the_new_pod_can_attach_it():
    # A RollingUpdate would start the new pod while the old one holds the ReadWriteOnce volume.
    assert values_for(**EVERYTHING)["grafana"]["deploymentStrategy"] == {"type": "Recreate"}


def test_grafana_without_a_volume_keeps_the_chart_rolling_update():
    assert "deploymentStrategy" not in values_for()["grafana"]


def test_the_chart_default_that_deadlocks_is_what_the_strategy_overrides(shared_upstream):
    charts = shared_upstream / "charts"
    defaults = load_chart_defaults(charts, "88.5.3")["grafana"]
    # The chart's defaults: a rolling Deployment and a single-node volume ...
    assert defaults["deploymentStrategy"] == {"type": "RollingUpdate"}
    assert defaults["persistence"]["accessModes"] == ["ReadWriteOnce"]
    assert defaults["persistence"]["type"] == "pvc" and defaults["useStatefulSet"] is False  # a Deployment
    # ... and Helm's merge of ours leaves a valid Recreate strategy (no rollingUpdate parameters).
    merged = deep_merge(defaults, values_for(**EVERYTHING)["grafana"])
    assert merged["deploymentStrategy"] == {"type": "Recreate"}
