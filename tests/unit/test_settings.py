"""The stack-config contract: defaults, accepted forms and the errors for bad values."""

from __future__ import annotations

import json

import pytest

from flux_monitoring.config.settings import Ingress, SettingsError, load_settings


def load(secret_keys: frozenset[str] = frozenset(), **raw) -> object:
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}
    return load_settings(texts, secret_keys=secret_keys, kube_context="test-cluster")


def problems(**raw) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(**raw)
    return caught.value.problems


def test_defaults_follow_the_flux_guide():
    settings = load()
    assert settings.namespace == "monitoring"
    assert settings.flux_namespace == "flux-system"
    assert settings.delivery == "direct"
    assert settings.chart_version == "88.5.3"
    assert settings.flux_metrics == "resource-info"
    assert settings.grafana.admin_user == "admin"
    assert settings.prometheus.replicas == 1
    assert settings.prometheus.storage_size is None
    assert settings.alertmanager.enabled is True
    assert settings.protect is False
    assert settings.grafana_admin_password is None


def test_kubernetes_context_is_required_so_no_stack_follows_the_current_context():
    with pytest.raises(SettingsError) as caught:
        load_settings({}, kube_context=None)
    assert caught.value.problems[0].startswith("kubernetes:context: got null; expected")


@pytest.mark.parametrize("retention", ["1y", "90d", "12h30m", "15d", "2w", "36h", "0"])
def test_prometheus_retention_accepts_every_prometheus_duration(retention):
    assert load(prometheus={"retention": retention}).prometheus.retention == retention


@pytest.mark.parametrize("retention", ["15 days", "1.5d", "d", "", "15D", "-1d", 15])
def test_prometheus_retention_rejects_what_prometheus_rejects(retention):
    assert problems(prometheus={"retention": retention}) == [
        f"prometheus.retention: got {json.dumps(retention)}; expected a Prometheus duration such as 15d, 12h30m or 1y"
    ]


@pytest.mark.parametrize("size", ["1Ti", "500Mi", "50Gi", "0.5", "100G", "1e3", ".5", "128974848", 2])
def test_storage_size_accepts_every_kubernetes_quantity(size):
    assert load(prometheus={"storageSize": size}).prometheus.storage_size == str(size)


@pytest.mark.parametrize("size", ["50GB", "fifty", "-1Gi", "1 Gi", "", "1Zi", True])
def test_storage_size_rejects_what_is_not_a_quantity(size):
    [problem] = problems(prometheus={"storageSize": size})
    assert problem.startswith(f"prometheus.storageSize: got {json.dumps(size)}; expected a Kubernetes quantity")


@pytest.mark.parametrize("size", ["45GB", "512MB", "1.5TiB", "0"])
def test_retention_size_accepts_prometheus_byte_sizes(size):
    assert load(prometheus={"retentionSize": size}).prometheus.retention_size == size


def test_retention_size_rejects_kubernetes_quantities():
    [problem] = problems(prometheus={"retentionSize": "45Gi"})
    assert problem.startswith('prometheus.retentionSize: got "45Gi"; expected a Prometheus byte size')


@pytest.mark.parametrize("replicas", [0, -1, 1.5, "two", True, 11])
def test_replicas_must_be_a_whole_number_of_at_least_one(replicas):
    assert problems(prometheus={"replicas": replicas}) == [
        f"prometheus.replicas: got {json.dumps(replicas)}; expected a whole number from 1 to 10"
    ]


def test_resources_take_cpu_and_memory_quantities():
    resources = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi", "cpu": 0.5}}
    settings = load(prometheus={"resources": resources})
    assert settings.prometheus.resources.requests.as_dict() == {"cpu": "500m", "memory": "2Gi"}
    assert settings.prometheus.resources.limits.as_dict() == {"memory": "4Gi", "cpu": "0.5"}


def test_resources_reject_unknown_resource_names():
    [problem] = problems(prometheus={"resources": {"requests": {"gpu": "1"}}})
    assert problem == (
        'prometheus.resources.requests.gpu: got "1"; expected no such key; '
        "valid keys of prometheus.resources.requests are cpu, memory"
    )


def test_a_typo_inside_an_object_is_reported_with_the_valid_keys():
    [problem] = problems(prometheus={"retension": "15d"})
    assert problem.startswith('prometheus.retension: got "15d"; expected no such key; valid keys of prometheus are')
    assert "retention, retentionSize" in problem


def test_a_misspelt_top_level_key_is_reported():
    [problem] = problems(namepsace="monitoring")
    assert problem.startswith('namepsace: got "monitoring"; expected no such key; valid keys are namespace,')


def test_every_problem_is_reported_at_once():
    found = problems(
        namespace="Monitoring",
        chartVersion="latest",
        prometheus={"replicas": 0},
        grafana={"ingress": {"host": "not a host"}},
    )
    assert [p.split(":")[0] for p in found] == [
        "namespace",
        "chartVersion",
        "grafana.ingress.host",
        "prometheus.replicas",
    ]


@pytest.mark.parametrize("version", ["latest", "88.x", "^88.5.0", ">=88.0.0", "88.5", "v88.5.3", "88.5.3 "])
def test_chart_version_must_be_exact(version):
    [problem] = problems(chartVersion=version)
    assert problem.startswith(f"chartVersion: got {json.dumps(version)}; expected an exact kube-prometheus-stack")


@pytest.mark.parametrize("version", ["88.5.3", "89.0.0", "90.1.0-rc.1"])
def test_chart_version_accepts_exact_semver(version):
    # A version outside the CRD table needs its prometheus-operator-crds version (tests/unit/test_operator_crds.py).
    assert load(chartVersion=version, operatorCrdsVersion="31.0.1").chart_version == version


@pytest.mark.parametrize("key", ["namespace", "fluxNamespace", "nodeExporterNamespace"])
@pytest.mark.parametrize("name", ["Monitoring", "-monitoring", "mon_itoring", "a" * 64, "", "my.ns"])
def test_namespaces_must_be_dns_labels(key, name):
    [problem] = problems(**{key: name})
    assert problem.startswith(f"{key}: got {json.dumps(name)}; expected a DNS-1123 label")


def test_the_monitoring_namespace_is_not_the_flux_namespace():
    [problem] = problems(namespace="flux-system")
    assert problem.startswith('fluxNamespace: got "flux-system"; expected a namespace other than')


@pytest.mark.parametrize("namespace", ["monitoring", "flux-system"])
def test_node_exporter_has_a_namespace_of_its_own(namespace):
    [problem] = problems(nodeExporterNamespace=namespace)
    assert problem.startswith(f'nodeExporterNamespace: got "{namespace}"; expected a namespace of its own')


def test_delivery_is_direct_or_gitops():
    [problem] = problems(delivery="helm")
    assert problem == 'delivery: got "helm"; expected direct or gitops'


def test_flux_metrics_names_a_source():
    assert load(fluxMetrics="legacy", fluxVersion="2.4").flux_metrics == "legacy"
    assert load(fluxMetrics="flux-operator").flux_metrics == "flux-operator"
    [problem] = problems(fluxMetrics="v2")
    assert problem.startswith('fluxMetrics: got "v2"; expected resource-info')


def test_flux_defaults_to_the_newest_release_and_its_default_controllers():
    flux = load().flux
    assert (flux.release.minor, flux.metrics) == ("2.9", "resource-info")
    assert flux.components == (
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    )
    assert flux.warnings == ()


def test_flux_version_newer_than_known_is_monitored_as_the_newest_with_a_warning():
    flux = load(fluxVersion="2.12").flux
    assert flux.release.minor == "2.9"
    [warning] = flux.warnings
    assert "2.12 is newer than the newest Flux release flux-monitoring knows (2.9)" in warning


def test_legacy_on_a_release_that_dropped_some_gauges_warns_naming_the_missing_kinds():
    # Every kind of the release is watched whatever fluxComponents lists, so every missing one is named.
    [warning] = load(fluxVersion="2.4", fluxMetrics="legacy").flux.warnings
    assert "Flux 2.4" in warning and "for HelmRelease, ImageUpdateAutomation;" in warning
    [warning] = load(fluxVersion="2.2", fluxMetrics="legacy", fluxComponents=["source-controller"]).flux.warnings
    assert "for HelmRelease;" in warning
    assert load(fluxVersion="2.1", fluxMetrics="legacy").flux.warnings == ()


def test_flux_operator_before_the_releases_it_installs_warns():
    [warning] = load(fluxVersion="2.1", fluxMetrics="flux-operator").flux.warnings
    assert "the Flux Operator installs Flux 2.2.3 and later" in warning
    assert load(fluxVersion="2.2", fluxMetrics="flux-operator").flux.warnings == ()


SLACK = {"receivers": {"platform": {"type": "slack", "apiURL": "https://hooks.slack.com/services/T/B/x"}}}


def test_alerts_that_reach_no_one_are_a_warning_naming_the_null_receiver():
    [warning] = load().warnings
    assert warning.startswith("alerting: no receiver is configured:")
    assert "receiver 'null', so alerts reach no one; add alerting.receivers" in warning


def test_alerts_without_alertmanager_are_a_warning_too():
    [warning] = load(alertmanager={"enabled": False}).warnings
    assert warning.startswith("alertmanager.enabled is false:") and "alerts reach no one" in warning


def test_a_receiver_silences_the_warning_and_the_flux_warnings_stay():
    alerting = {**SLACK, "route": {"default": "platform"}}  # the webhook URL set with --secret
    assert load(frozenset({"alerting"}), alerting=alerting).warnings == ()
    [warning] = load(frozenset({"alerting"}), alerting=alerting, fluxVersion="2.12").warnings
    assert warning == load(fluxVersion="2.12").flux.warnings[0]


def test_legacy_on_flux_2_5_or_later_is_an_error_saying_why_and_what_to_use():
    [problem] = problems(fluxVersion="2.5", fluxMetrics="legacy")
    assert problem.startswith('fluxMetrics: got "legacy"; expected resource-info or flux-operator for Flux 2.5')
    assert "no longer export gotk_reconcile_condition and gotk_suspend_status" in problem


def test_flux_components_are_kept_in_the_releases_order():
    flux = load(fluxComponents=["source-watcher", "kustomize-controller", "source-controller"]).flux
    assert flux.components == ("source-controller", "kustomize-controller", "source-watcher")


def test_flux_components_name_shards_as_their_pods_app_label_each_after_its_controller():
    flux = load(fluxComponents=["kustomize-controller-shard2", "source-controller", "kustomize-controller"]).flux
    assert flux.components == ("source-controller", "kustomize-controller", "kustomize-controller-shard2")
    assert flux.required == (
        ("source-controller", None),
        ("kustomize-controller", None),
        ("kustomize-controller", "shard2"),
    )


def test_source_watcher_shards_exist_from_flux_2_9_as_the_flux_operator_makes_them():
    assert load(fluxVersion="2.9", fluxComponents=["source-watcher-shard1"]).flux.required == (
        ("source-watcher", "shard1"),
    )
    [problem] = problems(fluxVersion="2.8", fluxComponents=["source-watcher-shard1"])
    assert problem.startswith('fluxComponents: got ["source-watcher-shard1"]')


def test_drop_unused_metrics_is_on_unless_turned_off():
    assert load().drop_unused_metrics is True
    assert load(dropUnusedMetrics="false").drop_unused_metrics is False
    assert problems(dropUnusedMetrics="no") == ['dropUnusedMetrics: got "no"; expected true or false']


@pytest.mark.parametrize("value", ["yes", "1", "True"])
def test_booleans_are_true_or_false(value):
    assert problems(protect=value) == [f"protect: got {json.dumps(value)}; expected true or false"]


def test_grafana_ingress_is_typed():
    settings = load(
        grafana={"ingress": {"host": "grafana.example.com", "className": "nginx", "tlsSecretName": "grafana-tls"}}
    )
    assert settings.grafana.ingress == Ingress(
        host="grafana.example.com", className="nginx", tlsSecretName="grafana-tls"
    )


def test_grafana_ingress_needs_a_host():
    [problem] = problems(grafana={"ingress": {"className": "nginx"}})
    assert problem.startswith("grafana.ingress.host: got null; expected a DNS name")


@pytest.mark.parametrize(
    "host", ["https://grafana.example.com", "Grafana.example.com", "*.example.com", "grafana example.com", ""]
)
def test_grafana_ingress_host_is_a_dns_name(host):
    [problem] = problems(grafana={"ingress": {"host": host}})
    assert problem.startswith(f"grafana.ingress.host: got {json.dumps(host)}; expected a DNS name")


def test_grafana_admin_user_has_no_spaces():
    [problem] = problems(grafana={"adminUser": "the admin"})
    assert problem.startswith('grafana.adminUser: got "the admin"; expected a user name')


def test_an_object_key_given_a_scalar_is_reported():
    [problem] = problems(prometheus="big")
    assert problem.startswith('prometheus: got "big"; expected an object with keys replicas,')


def test_alerts_override_for_severity_and_threshold():
    settings = load(
        alerts={
            "reconcileDuration": {"for": "1h", "severity": "critical", "p99Seconds": 8.31},
            "workqueue": {"depth": 50},
        }
    )
    assert settings.alerts.reconcile_duration.for_ == "1h"
    assert settings.alerts.reconcile_duration.severity == "critical"
    assert settings.alerts.reconcile_duration.threshold == 8.31
    assert settings.alerts.workqueue.threshold == 50
    assert settings.alerts.workqueue.for_ == "15m"
    assert settings.alerts.reconciliation_failure.for_ == "10m"


def test_alert_thresholds_belong_to_their_alert():
    [problem] = problems(alerts={"suspended": {"p99Seconds": 10}})
    assert problem.startswith("alerts.suspended.p99Seconds: got 10; expected no such key")


def test_secret_password_is_kept_but_never_shown():
    settings = load_settings(
        {"grafanaAdminPassword": "correct-horse-battery"}, secret_keys={"grafanaAdminPassword"}, kube_context="c"
    )
    assert settings.grafana_admin_password.get_secret_value() == "correct-horse-battery"
    assert "correct-horse-battery" not in repr(settings)


def test_password_in_plain_config_is_rejected_without_echoing_it():
    with pytest.raises(SettingsError) as caught:
        load_settings({"grafanaAdminPassword": "correct-horse-battery"}, kube_context="c")
    assert caught.value.problems == [
        "grafanaAdminPassword: got [secret]; expected a secret: "
        "set it with pulumi config set --secret grafanaAdminPassword"
    ]
    assert "correct-horse-battery" not in str(caught.value)


@pytest.mark.parametrize("password", ["prom-operator", "short"])
def test_weak_or_default_password_is_rejected_without_echoing_it(password):
    with pytest.raises(SettingsError) as caught:
        load_settings({"grafanaAdminPassword": password}, secret_keys={"grafanaAdminPassword"}, kube_context="c")
    assert caught.value.problems[0].startswith("grafanaAdminPassword: got [secret]; expected at least 12")
    assert password not in str(caught.value)


def test_required_password_must_be_set():
    [problem] = problems(requireGrafanaAdminPassword="true")
    assert problem.startswith("grafanaAdminPassword: got null; expected a secret, required by")


@pytest.mark.parametrize("bound", [0.01, 2.166, 122.3, "469.2", 1800])
def test_p99_threshold_is_one_of_fluxs_bucket_bounds_as_people_read_them(bound):
    assert load(alerts={"reconcileDuration": {"p99Seconds": bound}}).alerts.reconcile_duration.threshold == float(bound)


def test_the_default_p99_threshold_is_a_bucket_bound():
    assert load().alerts.reconcile_duration.threshold == 469.2


@pytest.mark.parametrize("between", [300, 60, 122.30217221643493, 1799.9999999999986, 2400])
def test_p99_threshold_between_bucket_bounds_is_refused_naming_the_bounds(between):
    [problem] = problems(alerts={"reconcileDuration": {"p99Seconds": between}})
    assert problem == (
        f"alerts.reconcileDuration.p99Seconds: got {between}; expected a bound of Flux's reconcile duration "
        "buckets, in seconds: 0.01, 0.03836, 0.1472, 0.5646, 2.166, 8.31, 31.88, 122.3, 469.2 or 1800 "
        "(the histogram tells exactly whether more than 1% of reconciles took longer than a bound, "
        "not how long between two)"
    )


def gitops(**fields):
    return load(delivery="gitops", gitops={"tag": "v1.0.0", **fields}).gitops


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/fluxcd/flux2",
        "ssh://git@github.com/org/fleet",
        "ssh://github.com:2222/org/fleet",
        "https://git.example.com:8443/org/fleet.git",
    ],
)
def test_gitops_url_accepts_https_and_ssh(url):
    assert gitops(url=url).url == url


def test_gitops_url_with_credentials_is_refused_without_echoing_them():
    [problem] = problems(delivery="gitops", gitops={"url": "https://me:tok3n@github.com/org/fleet", "tag": "v1"})
    assert problem == (
        'gitops.url: got "https://[redacted]@github.com/org/fleet"; expected an https:// URL '
        "without credentials: put them in a Secret in the Flux namespace and name it in "
        "gitops.secretRef"
    )


@pytest.mark.parametrize("url", ["http://github.com/org/fleet", "git@github.com:org/fleet", "github.com/org/fleet"])
def test_gitops_url_rejects_other_forms(url):
    [problem] = problems(delivery="gitops", gitops={"url": url, "tag": "v1"})
    assert problem.startswith(f"gitops.url: got {json.dumps(url)}; expected an https:// or ssh:// git URL")


def _every_key(model, prefix=()):
    """Every key path, objects and the keys inside them alike."""
    from flux_monitoring.config.errors import model_of

    for name, field in model.model_fields.items():
        key = (*prefix, field.alias or name)
        yield key
        nested = model_of(field.annotation)
        if nested is not None:
            yield from _every_key(nested, key)


def _nested(key: tuple[str, ...], value):
    for part in reversed(key[1:]):
        value = {part: value}
    return value


PYDANTIC_WORDING = ("Input should", "Field required", "Extra inputs", "valid dictionary", "String should")


@pytest.mark.parametrize("value", [[], {}, True, 1.5, None], ids=repr)
def test_no_value_of_any_key_shows_pydantic_wording(value):
    from flux_monitoring.config.settings import Settings

    keys = [key for key in _every_key(Settings) if key[0] != "kubernetes:context"]
    assert len(keys) > 60
    for key in keys:
        raw = {key[0]: json.dumps(_nested(key, value)) if len(key) > 1 else json.dumps(value)}
        try:
            load_settings(raw, kube_context="c")
        except SettingsError as error:
            assert not any(w in problem for problem in error.problems for w in PYDANTIC_WORDING), error.problems
