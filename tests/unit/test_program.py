"""Whole-program runs of the shipped stacks: what `pulumi up -s <stack>` would create and export."""

from __future__ import annotations

import pytest
import yaml

from flux_monitoring.config.settings import SettingsError
from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values, with_admin_checksum, without_chart_crds
from flux_monitoring.resources.grafana_admin import admin_checksum
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.gitops_stacks import STACKS
from tests.support.pulumi_harness import (
    ProgramRun,
    mock_random_bytes,
    mock_random_password,
    stack_config,
    stack_settings,
)
from tests.support.schemas import is_patch

NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"

EXPORTS = {
    "namespace",
    "grafanaUrl",
    "grafanaPortForward",
    "grafanaAdminUser",
    "grafanaAdminPassword",
    "prometheusUrl",
    "dashboards",
}


def resource_names(run) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in run.resources}


# What `pulumi up` creates in direct delivery, components included.
DIRECT_RESOURCES = {
    ("flux-monitoring:flux_monitoring:FluxMonitoring", "flux-monitoring"),
    ("flux-monitoring:namespace:MonitoringNamespace", "monitoring"),
    ("flux-monitoring:grafana_admin:GrafanaAdmin", "grafana"),
    ("flux-monitoring:kube_prometheus_stack:KubePrometheusStack", "kube-prometheus-stack"),
    ("flux-monitoring:flux_signals:FluxSignals", "flux-signals"),
    (PROVIDER, "cluster"),
    (NAMESPACE, "namespace"),
    (NAMESPACE, "node-exporter-namespace"),
    # What Grafana's sidecars may read (tests/unit/test_least_privilege.py).
    ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kube-prometheus-stack-grafana-sidecar-monitoring"),
    (SECRET, "grafana-admin"),
    # The key of the credentials' checksum (tests/test_grafana_admin.py).
    ("random:index/randomBytes:RandomBytes", "grafana-admin-checksum-key"),
    (RELEASE, "kube-prometheus-stack"),
    # The Prometheus Operator CRDs, applied first through a provider of their own (tests/unit/test_operator_crds.py).
    ("kubernetes:helm.sh/v4:Chart", "prometheus-operator-crds"),
    (PROVIDER, "operator-crds"),
    ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "flux-system"),
    ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "flux-monitoring"),
    ("kubernetes:core/v1:ConfigMap", "flux-control-plane"),
    ("kubernetes:core/v1:ConfigMap", "flux-cluster"),
    # Awaited until Prometheus and Alertmanager are available (tests/test_readiness.py).
    ("kubernetes:monitoring.coreos.com/v1:PrometheusPatch", "kube-prometheus-stack-prometheus"),
    ("kubernetes:monitoring.coreos.com/v1:AlertmanagerPatch", "kube-prometheus-stack-alertmanager"),
    ("flux-monitoring:alert_delivery:AlertDelivery", "alert-delivery"),
    (SECRET, "alertmanager-config"),
    # both shipped stacks send Flux's events to Grafana as annotations, as Flux's own Grafana user
    (SECRET, "flux-grafana-credentials"),
    (RANDOM_PASSWORD, "flux-grafana-password"),
    ("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider", "flux-monitoring-grafana"),
    ("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Alert", "flux-monitoring-grafana"),
}
# prod also sends Flux's error events to Alertmanager
PROD_ONLY = {
    ("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider", "flux-monitoring-alertmanager"),
    ("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Alert", "flux-monitoring-alertmanager"),
}


def test_staging_creates_exactly_the_direct_resources_and_a_generated_password(staging_run):
    # staging runs no Alertmanager
    assert resource_names(staging_run) == DIRECT_RESOURCES | {(RANDOM_PASSWORD, "grafana-admin-password")}


def test_dev_creates_exactly_the_direct_resources_and_a_generated_password_with_no_secret_set():
    config = stack_config("dev")
    assert not [key for key, text in config.items() if "secure" in text]  # nothing encrypted to provide
    run = run_stack("dev")  # no password, no alerting credential
    assert resource_names(run) == DIRECT_RESOURCES | {(RANDOM_PASSWORD, "grafana-admin-password")}
    assert run.one(PROVIDER, "cluster").inputs["context"] == "kind-kind"  # what `kind create cluster` names it


def test_dev_registers_no_receiver_but_the_null_one():
    text = run_stack("dev").one(SECRET, "alertmanager-config").inputs["stringData"]["alertmanager.yaml"]
    configuration = yaml.safe_load(text)
    assert configuration["receivers"] == [{"name": "null"}]
    assert configuration["route"]["receiver"] == "null"


def test_dev_warns_that_alerts_reach_no_one(monkeypatch):
    import pulumi

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    run_stack("dev")
    assert warnings == [
        "alerting: no receiver is configured: Alertmanager delivers every alert to its receiver 'null', so "
        "alerts reach no one; add alerting.receivers and alerting.route (docs/alerting.md)"
    ]


def test_prod_creates_exactly_the_direct_resources_with_the_configured_password(prod_run):
    assert resource_names(prod_run) == DIRECT_RESOURCES | PROD_ONLY


def test_prod_exports_the_configured_password(prod_run):
    assert prod_run.exports["grafanaAdminPassword"] == PROD_PASSWORD


def test_every_component_has_a_flux_monitoring_type_token(staging_run):
    # helm.v4.Chart (the Prometheus Operator CRDs) is a component of pulumi-kubernetes', not of this program.
    components = [r for r in staging_run.resources if not r.custom and not r.type.startswith("kubernetes:")]
    assert components and all(r.type.startswith("flux-monitoring:") for r in components)
    assert all(
        r.type.split(":")[1]
        in {
            "flux_monitoring",
            "namespace",
            "grafana_admin",
            "kube_prometheus_stack",
            "flux_signals",
            "gitops",
            "alert_delivery",
        }
        for r in components
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_resource_targets_the_stacks_own_context(stack):
    run = run_stack(stack, password=PROD_PASSWORD if stack == "prod" else None)
    providers = run.of_type(PROVIDER)
    context = stack_config(stack)["kubernetes:context"]
    assert providers and all(provider.inputs["context"] == context for provider in providers)
    kubernetes = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert kubernetes and all(any(r.provider.startswith(p.urn + "::") for p in providers) for r in kubernetes)


def test_only_node_exporters_namespace_allows_privileged_pods(staging_run):
    enforced = {
        n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for n in staging_run.of_type(NAMESPACE)
    }
    assert enforced == {"monitoring": "baseline", "node-exporter": "privileged"}


def test_release_is_the_pinned_chart_under_its_exact_name(staging_run):
    release = staging_run.one(RELEASE).inputs
    assert release["name"] == "kube-prometheus-stack"
    assert release["chart"] == "kube-prometheus-stack"
    assert release["version"] == "88.5.3"
    assert release["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert release["namespace"] == "monitoring"


def test_release_is_atomic_bounded_and_cleans_up(staging_run):
    release = staging_run.one(RELEASE).inputs
    assert release["atomic"] is True
    assert release["cleanupOnFail"] is True
    assert 600 <= release["timeout"] <= 1800
    assert release["maxHistory"] == 10


@pytest.mark.parametrize("stack", [*STACKS, "spoke"])
def test_release_values_are_the_pure_values_of_the_stack_settings(stack):
    password = PROD_PASSWORD if stack == "prod" else None
    run = run_stack(stack, password=password)
    # Plus the credentials' checksum, which only `pulumi up` can compute (it needs the password).
    checksum = run.one(SECRET, "grafana-admin").inputs["stringData"]["admin-checksum"]
    # And the chart's CRDs off: Pulumi applies them (tests/unit/test_operator_crds.py).
    assert run.one(RELEASE).inputs["values"] == without_chart_crds(
        with_admin_checksum(kube_prometheus_stack_values(stack_settings(stack, password)), checksum)
    )


def test_staging_is_small_and_cheap(staging_run):
    values = staging_run.one(RELEASE).inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 1
    assert spec["retention"] == "3d"
    assert "storageSpec" not in spec
    assert values["alertmanager"]["enabled"] is True  # one Slack channel for everything


def test_prod_is_replicated_persistent_and_alerting(prod_run):
    values = prod_run.one(RELEASE).inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 2
    assert spec["retention"] == "30d"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert values["alertmanager"]["enabled"] is True
    assert values["grafana"]["ingress"]["tls"] == [{"secretName": "grafana-tls", "hosts": ["grafana.example.com"]}]


def test_prod_protects_namespace_and_release(prod_run):
    assert all(n.protect for n in prod_run.of_type(NAMESPACE)) and prod_run.one(RELEASE).protect


def test_staging_protects_nothing(staging_run):
    assert not any(r.protect for r in staging_run.resources)


def test_release_waits_for_the_namespace_the_admin_secret_and_the_alertmanager_configuration(staging_run):
    release = staging_run.one(RELEASE)
    assert staging_run.one(SECRET, "grafana-admin").urn in release.dependencies
    assert staging_run.one(SECRET, "alertmanager-config").urn in release.dependencies
    assert staging_run.one(NAMESPACE, "namespace").urn in release.dependencies


def test_admin_secret_holds_user_and_password_in_the_monitoring_namespace(prod_run):
    secret = prod_run.one(SECRET, "grafana-admin").inputs
    assert secret["metadata"] == {
        "name": "grafana-admin",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/part-of": "flux-monitoring"},
    }
    flux_password = mock_random_password("flux-grafana-password", 32)
    assert secret["stringData"] == {
        "admin-user": "admin",
        "admin-password": PROD_PASSWORD,
        "admin-checksum": admin_checksum(mock_random_bytes(32).hex(), "admin", PROD_PASSWORD, {}, flux_password),
        "flux-annotations-password": flux_password,
    }
    assert "stringData" in prod_run.one(SECRET, "grafana-admin").secret_inputs


@pytest.mark.parametrize("stack", STACKS)
def test_exports_are_complete_and_only_the_password_is_secret(stack):
    run = run_stack(stack, password=PROD_PASSWORD if stack == "prod" else None)
    assert set(run.exports) == EXPORTS
    assert run.secret_exports == {"grafanaAdminPassword"}


def test_staging_exports_in_cluster_endpoints(staging_run):
    assert staging_run.exports["grafanaUrl"] == "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local"
    assert staging_run.exports["grafanaPortForward"] == (
        "kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80"
    )
    assert staging_run.exports["prometheusUrl"] == (
        "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    )
    assert staging_run.exports["namespace"] == "monitoring"
    assert staging_run.exports["grafanaAdminUser"] == "admin"


def test_prod_exports_the_ingress_url_and_dashboard_links(prod_run):
    assert prod_run.exports["grafanaUrl"] == "https://grafana.example.com"
    assert prod_run.exports["dashboards"] == {
        "flux-control-plane": "https://grafana.example.com/d/flux-control-plane",
        "flux-cluster": "https://grafana.example.com/d/flux-cluster",
    }


def test_port_forward_names_the_configured_namespace():
    run = run_stack("staging", {"flux-monitoring:namespace": "observability"})
    assert run.exports["grafanaPortForward"] == (
        "kubectl -n observability port-forward svc/kube-prometheus-stack-grafana 3000:80"
    )


def test_prod_without_a_password_fails_before_creating_anything():
    run = ProgramRun()
    with pytest.raises(SettingsError, match="grafanaAdminPassword: got null; expected a secret, required"):
        run_stack("prod", run=run)
    assert run.resources == []


def test_invalid_config_fails_before_any_resource_is_registered():
    run = ProgramRun()
    with pytest.raises(SettingsError) as caught:
        run_stack(
            "staging", {"flux-monitoring:prometheus": '{"retention": "forever"}', "kubernetes:context": ""}, run=run
        )
    assert [p.split(":")[0] for p in caught.value.problems] == ["kubernetes", "prometheus.retention"]
    assert run.resources == []


def test_direct_delivery_creates_the_flux_signals_after_the_release(staging_run):
    release = staging_run.one(RELEASE)
    signals = {
        (r.type, r.name)
        for r in staging_run.resources
        if r.type.startswith("kubernetes:") and release.urn in r.dependencies and not is_patch(r.type)
    }
    assert signals == {
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "flux-system"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "flux-monitoring"),
        ("kubernetes:core/v1:ConfigMap", "flux-control-plane"),
        ("kubernetes:core/v1:ConfigMap", "flux-cluster"),
    }


def test_dashboards_are_labelled_for_the_grafana_sidecar(staging_run):
    for name in ("flux-control-plane", "flux-cluster"):
        config_map = staging_run.one("kubernetes:core/v1:ConfigMap", name).inputs
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert list(config_map["data"]) == [f"{name}.json"]


def test_resource_info_generation_configures_kube_state_metrics(staging_run):
    values = staging_run.one(RELEASE).inputs["values"]
    assert values["kube-state-metrics"]["customResourceState"]["enabled"] is True


def test_legacy_generation_leaves_kube_state_metrics_alone():
    run = run_stack("staging", {"flux-monitoring:fluxMetrics": "legacy", "flux-monitoring:fluxVersion": "2.4"})
    assert "kube-state-metrics" not in run.one(RELEASE).inputs["values"]


def test_the_program_warns_about_what_it_cannot_see_of_the_chosen_flux(monkeypatch):
    import pulumi

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    run_stack("staging", {"flux-monitoring:fluxMetrics": "legacy", "flux-monitoring:fluxVersion": "2.4"})
    assert len(warnings) == 1 and "for HelmRelease, ImageUpdateAutomation;" in warnings[0]
    warnings.clear()
    run_stack("staging", {"flux-monitoring:fluxVersion": "2.10"})
    assert len(warnings) == 1 and "monitored as Flux 2.9" in warnings[0]
    warnings.clear()
    run_stack("staging")
    assert warnings == []


def test_flux_operator_source_scrapes_the_operator_and_leaves_kube_state_metrics_alone():
    run = run_stack("staging", {"flux-monitoring:fluxMetrics": "flux-operator"})
    monitor = run.one("kubernetes:monitoring.coreos.com/v1:PodMonitor", "flux-operator").inputs
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http-metrics"
    assert "kube-state-metrics" not in run.one(RELEASE).inputs["values"]


def test_only_the_flux_operator_source_has_an_operator_pod_monitor(staging_run):
    monitors = [r.name for r in staging_run.resources if r.type == "kubernetes:monitoring.coreos.com/v1:PodMonitor"]
    assert monitors == ["flux-system"]


# -- fleet ---------------------------------------------------------------------------------------


def prometheus_spec(run) -> dict:
    return run.one("kubernetes:helm.sh/v3:Release").inputs["values"]["prometheus"]["prometheusSpec"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_cluster_label_defaults_to_the_stack_name(stack):
    run = run_stack(stack, password=PROD_PASSWORD)
    assert prometheus_spec(run)["externalLabels"] == {"cluster": stack}


def test_the_spoke_remote_writes_the_flux_series_to_the_central_store_as_its_cluster():
    run = run_stack("spoke")
    assert run.one(PROVIDER, "cluster").inputs["context"] == "eu-west-1"
    spec = prometheus_spec(run)
    assert spec["externalLabels"] == {"cluster": "eu-west-1"}
    assert spec["replicaExternalLabelName"] == "prometheus_replica"
    (target,) = spec["remoteWrite"]
    assert (target["name"], target["headers"]) == ("mimir", {"X-Scope-OrgID": "platform"})
    assert target["writeRelabelConfigs"][0]["action"] == "keep"
    # No credentials configured in the shipped file: no credential Secret, no reference.
    assert "basicAuth" not in target
    assert not {"remote-write-credentials", "grafana-datasource-credentials"} & {
        r.name for r in run.of_type("kubernetes:core/v1:Secret")
    }
