"""The bad-input catalogue: every config key, broken on purpose, fails alone and early.

Each bad stack config runs the whole program and must fail with exactly one problem that
names the key, the value given and the form expected, before any resource (Kubernetes or
otherwise) is registered. The legal edge cases after it must be accepted: validation may
not be stricter than Kubernetes, Prometheus and Flux are.
"""

from __future__ import annotations

import json

import pytest

from flux_monitoring.config.settings import SettingsError
from tests.conftest import run_stack
from tests.support.pulumi_harness import ProgramRun

DNS_LABEL = "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, such as monitoring"
QUANTITY = "a Kubernetes quantity such as 50Gi, 500Mi, 1Ti, 500m or 0.5"
DURATION = "a Prometheus duration such as 15d, 12h30m or 1y"
FLUX_DURATION = "a Flux duration such as 30m, 1h or 1h30m"
GITOPS_KEYS = "url, branch, tag, semver, commit, interval, stackPath, configPath, secretRef, timeout"
REPO = "https://github.com/example/fleet"
AM_DURATION = "an Alertmanager duration above 0 such as 30s, 5m, 4h or 1h30m"
SLACK_URL = "https://hooks.slack.com/services/T0/B0/plain-text-by-mistake"
PUSH = "https://mimir.example.com/api/v1/push"
QUERY = "https://mimir.example.com/prometheus"


def target(**fields) -> dict:
    """A remote write target without credentials (so the key need not be a secret), with ``fields``."""
    return {"name": "mimir", "url": PUSH, **fields}


def gitops(**fields) -> dict[str, str]:
    return {"delivery": "gitops", "gitops": {"url": REPO, "tag": "v1.0.0", **fields}}


# (config overrides on the staging stack, key named in the error, value as shown, expected form)
CATALOGUE = [
    # top-level scalars
    ({"namespace": "Monitoring"}, "namespace", '"Monitoring"', DNS_LABEL),
    ({"namespace": ""}, "namespace", '""', DNS_LABEL),
    ({"namespace": "a" * 64}, "namespace", json.dumps("a" * 64), DNS_LABEL),
    ({"namespace": "monitoring-"}, "namespace", '"monitoring-"', DNS_LABEL),
    ({"fluxNamespace": "flux_system"}, "fluxNamespace", '"flux_system"', DNS_LABEL),
    (
        {"fluxNamespace": "monitoring"},
        "fluxNamespace",
        '"monitoring"',
        "a namespace other than the monitoring namespace",
    ),
    ({"delivery": "helm"}, "delivery", '"helm"', "direct or gitops"),
    ({"chartVersion": "88.5"}, "chartVersion", '"88.5"', "an exact kube-prometheus-stack chart version"),
    ({"chartVersion": "latest"}, "chartVersion", '"latest"', "an exact kube-prometheus-stack chart version"),
    ({"chartVersion": "^88.5.3"}, "chartVersion", '"^88.5.3"', "(no 'latest', no ranges)"),
    (
        {"fluxMetrics": "v2"},
        "fluxMetrics",
        '"v2"',
        "resource-info (kube-state-metrics), flux-operator (the Flux Operator's metrics) or legacy",
    ),
    (
        {"fluxMetrics": "legacy", "fluxVersion": "2.5"},
        "fluxMetrics",
        '"legacy"',
        "resource-info or flux-operator for Flux 2.5: its controllers no longer export gotk_reconcile_condition",
    ),
    ({"fluxMetrics": "legacy"}, "fluxMetrics", '"legacy"', "resource-info or flux-operator for Flux 2.9"),
    ({"fluxVersion": "3.0"}, "fluxVersion", '"3.0"', "a Flux release from 2.0 to 2.9, such as 2.9"),
    ({"fluxVersion": "2.x"}, "fluxVersion", '"2.x"', "a Flux release from 2.0 to 2.9"),
    ({"fluxVersion": "0.41"}, "fluxVersion", '"0.41"', "a Flux release from 2.0 to 2.9"),
    (
        {"fluxComponents": ["source-controller", "helm-controler"]},
        "fluxComponents",
        '["source-controller", "helm-controler"]',
        "a list of the Flux 2.9 controllers that must be running, each once, from "
        "source-controller, kustomize-controller, helm-controller, notification-controller, "
        "image-reflector-controller, image-automation-controller, source-watcher, or a shard of "
        "source-controller, kustomize-controller, helm-controller, image-reflector-controller, "
        "image-automation-controller, source-watcher named as its pods' app label",
    ),
    (
        {"fluxComponents": ["notification-controller-shard1"]},
        "fluxComponents",
        '["notification-controller-shard1"]',
        "or a shard of source-controller, kustomize-controller, helm-controller, image-reflector-controller",
    ),
    (
        {"fluxComponents": "source-controller"},
        "fluxComponents",
        '"source-controller"',
        "a list of the Flux controllers (or shards, <controller>-<shard>) that must be running, each once",
    ),
    ({"fluxComponents": []}, "fluxComponents", "[]", "a list of the Flux controllers (or shards"),
    (
        {"fluxComponents": ["source-controller", "source-controller"]},
        "fluxComponents",
        '["source-controller", "source-controller"]',
        "each once",
    ),
    (
        {"fluxVersion": "2.6", "fluxComponents": ["source-controller", "source-watcher"]},
        "fluxComponents",
        '["source-controller", "source-watcher"]',
        "source-watcher ships from Flux 2.7",
    ),
    ({"protect": "1"}, "protect", '"1"', "true or false"),
    ({"adoptExistingObjects": "yes"}, "adoptExistingObjects", '"yes"', "true or false"),
    ({"nodeExporterNamespace": "Node_Exporter"}, "nodeExporterNamespace", '"Node_Exporter"', DNS_LABEL),
    (
        {"nodeExporterNamespace": "monitoring"},
        "nodeExporterNamespace",
        '"monitoring"',
        "a namespace of its own, neither the monitoring nor the Flux namespace",
    ),
    ({"operatorCrdsVersion": "31"}, "operatorCrdsVersion", '"31"', "an exact prometheus-operator-crds chart version"),
    (
        {"chartVersion": "89.0.0"},
        "chartVersion",
        '"89.0.0"',
        "a kube-prometheus-stack version from 74.0.0 to 88.5.3, whose Prometheus Operator CRDs chart is known",
    ),
    ({"dropUnusedMetrics": "on"}, "dropUnusedMetrics", '"on"', "true or false"),
    ({"requireGrafanaAdminPassword": "yes"}, "requireGrafanaAdminPassword", '"yes"', "true or false"),
    ({"kubernetes:context": ""}, "kubernetes:context", '""', "the kubeconfig context of this stack's cluster"),
    (
        {"monitoringNamespace": "observability"},
        "monitoringNamespace",
        '"observability"',
        "no such key; valid keys are namespace, fluxNamespace, nodeExporterNamespace, delivery",
    ),
    # grafana
    ({"grafana": "big"}, "grafana", '"big"', "an object with keys adminUser, ingress, persistenceSize"),
    ({"grafana": {"adminUser": "ad min"}}, "grafana.adminUser", '"ad min"', "a user name without spaces or ':'"),
    ({"grafana": {"adminUser": ""}}, "grafana.adminUser", '""', "a user name without spaces or ':'"),
    (
        {"grafana": {"ingres": {"host": "grafana.example.com"}}},
        "grafana.ingres",
        '{"host": "grafana.example.com"}',
        "no such key; valid keys of grafana are adminUser, ingress, persistenceSize",
    ),
    (
        {"grafana": {"ingress": {"host": "https://grafana.example.com"}}},
        "grafana.ingress.host",
        '"https://grafana.example.com"',
        "a DNS name such as grafana.example.com",
    ),
    (
        {"grafana": {"ingress": {"className": "nginx"}}},
        "grafana.ingress.host",
        "null",
        "a DNS name such as grafana.example.com (required with ingress)",
    ),
    (
        {"grafana": {"ingress": {"host": "grafana.example.com", "className": "Nginx_Class"}}},
        "grafana.ingress.className",
        '"Nginx_Class"',
        "an IngressClass name such as nginx",
    ),
    (
        {"grafana": {"ingress": {"host": "grafana.example.com", "tlsSecret": "grafana-tls"}}},
        "grafana.ingress.tlsSecret",
        '"grafana-tls"',
        "no such key; valid keys of grafana.ingress are host, className",
    ),
    ({"grafana": {"persistenceSize": "10GB"}}, "grafana.persistenceSize", '"10GB"', QUANTITY),
    # prometheus
    ({"prometheus": [1, 2]}, "prometheus", "[1, 2]", "an object with keys replicas, retention"),
    ({"prometheus": {"replicas": "two"}}, "prometheus.replicas", '"two"', "a whole number from 1 to 10"),
    ({"prometheus": {"replicas": 0}}, "prometheus.replicas", "0", "a whole number from 1 to 10"),
    ({"prometheus": {"replicas": 11}}, "prometheus.replicas", "11", "a whole number from 1 to 10"),
    ({"prometheus": {"replicas": 1.5}}, "prometheus.replicas", "1.5", "a whole number from 1 to 10"),
    ({"prometheus": {"retention": "30 days"}}, "prometheus.retention", '"30 days"', DURATION),
    ({"prometheus": {"retention": "1.5d"}}, "prometheus.retention", '"1.5d"', DURATION),
    (
        {"prometheus": {"retentionSize": "90Gi"}},
        "prometheus.retentionSize",
        '"90Gi"',
        "a Prometheus byte size such as 45GB, 512MB or 1.5TiB",
    ),
    ({"prometheus": {"storageSize": "100 Gi"}}, "prometheus.storageSize", '"100 Gi"', QUANTITY),
    ({"prometheus": {"storageSize": "-1Gi"}}, "prometheus.storageSize", '"-1Gi"', QUANTITY),
    (
        {"prometheus": {"storageClassName": "Fast_SSD"}},
        "prometheus.storageClassName",
        '"Fast_SSD"',
        "a StorageClass name such as standard or gp3",
    ),
    (
        {"prometheus": {"resources": {"requests": {"cpu": "1 core"}}}},
        "prometheus.resources.requests.cpu",
        '"1 core"',
        QUANTITY,
    ),
    (
        {"prometheus": {"resources": {"requests": {"memory": "4GiB"}}}},
        "prometheus.resources.requests.memory",
        '"4GiB"',
        QUANTITY,
    ),
    (
        {"prometheus": {"resources": {"request": {"cpu": "1"}}}},
        "prometheus.resources.request",
        '{"cpu": "1"}',
        "no such key; valid keys of prometheus.resources are requests, limits",
    ),
    (
        {"prometheus": {"resources": {"limits": {"gpu": "1"}}}},
        "prometheus.resources.limits.gpu",
        '"1"',
        "no such key; valid keys of prometheus.resources.limits are cpu, memory",
    ),
    (
        {"prometheus": {"retension": "30d"}},
        "prometheus.retension",
        '"30d"',
        "no such key; valid keys of prometheus are replicas, retention",
    ),
    # alertmanager
    ({"alertmanager": {"enabled": "yes"}}, "alertmanager.enabled", '"yes"', "true or false"),
    (
        {"alertmanager": {"enable": True}},
        "alertmanager.enable",
        "true",
        "no such key; valid keys of alertmanager are enabled",
    ),
    # alerts
    ({"alerts": 5}, "alerts", "5", "an object with keys reconciliationFailure, sourceFailure, suspended"),
    ({"alerts": {"controllerDown": {"for": "5 minutes"}}}, "alerts.controllerDown.for", '"5 minutes"', DURATION),
    (
        {"alerts": {"suspended": {"severity": ""}}},
        "alerts.suspended.severity",
        '""',
        "a label value such as page, critical, warning or info",
    ),
    ({"alerts": {"workqueue": {"depth": -5}}}, "alerts.workqueue.depth", "-5", "a number greater than 0"),
    (
        {"alerts": {"reconcileDuration": {"p99Seconds": "slow"}}},
        "alerts.reconcileDuration.p99Seconds",
        '"slow"',
        "a bound of Flux's reconcile duration buckets, in seconds: 0.01, 0.03836,",
    ),
    (
        {"alerts": {"reconcileDuration": {"p99Seconds": 300}}},
        "alerts.reconcileDuration.p99Seconds",
        "300",
        "8.31, 31.88, 122.3, 469.2 or 1800",
    ),
    (
        {"alerts": {"controlerDown": {"for": "5m"}}},
        "alerts.controlerDown",
        '{"for": "5m"}',
        "no such key; valid keys of alerts are reconciliationFailure",
    ),
    (
        {"alerts": {"suspended": {"threshold": 3}}},
        "alerts.suspended.threshold",
        "3",
        "no such key; valid keys of alerts.suspended are for, severity",
    ),
    # objectLabels
    ({"objectLabels": ["a.b", "a_b"]}, "objectLabels", '["a.b", "a_b"]', "label keys whose Prometheus names differ"),
    # slo
    ({"slo": {"objective": 101}}, "slo.objective", "101", "a percentage above 0 and below 100"),
    # runbookBaseUrl
    (
        {"runbookBaseUrl": "http://wiki.example.com/flux"},
        "runbookBaseUrl",
        '"http://wiki.example.com/flux"',
        "an https:// URL without #fragment",
    ),
    # gitops
    (
        {"delivery": "gitops", "gitops": {"url": REPO, "branch": "main", "tag": "v1.0.0"}},
        "gitops.branch|tag|semver|commit",
        '{"branch": "main", "tag": "v1.0.0"}',
        "exactly one of branch, tag, semver or commit",
    ),
    (
        {"delivery": "gitops", "gitops": {"url": REPO}},
        "gitops.branch|tag|semver|commit",
        "null",
        "exactly one of branch, tag, semver or commit",
    ),
    (
        {"delivery": "gitops", "gitops": {"url": "git@github.com:example/fleet.git", "tag": "v1.0.0"}},
        "gitops.url",
        '"git@github.com:example/fleet.git"',
        "an https:// or ssh:// git URL",
    ),
    ({"delivery": "gitops", "gitops": {"tag": "v1.0.0"}}, "gitops.url", "null", "(required when delivery is gitops)"),
    (gitops(tag="v1 final"), "gitops.tag", '"v1 final"', "a git tag name without spaces"),
    (
        {"delivery": "gitops", "gitops": {"url": REPO, "commit": "abc123"}},
        "gitops.commit",
        '"abc123"',
        "a full 40 (or 64) character lower-case hex commit SHA",
    ),
    (gitops(interval="30 minutes"), "gitops.interval", '"30 minutes"', FLUX_DURATION),
    (gitops(timeout="1d"), "gitops.timeout", '"1d"', FLUX_DURATION),
    (
        gitops(stackPath="manifests/monitoring"),
        "gitops.stackPath",
        '"manifests/monitoring"',
        "a path inside the repository starting with ./",
    ),
    (gitops(configPath=""), "gitops.configPath", '""', "a path inside the repository starting with ./"),
    (gitops(secretRef="Git_Auth"), "gitops.secretRef", '"Git_Auth"', "the name of a Secret in the Flux namespace"),
    (gitops(timout="5m"), "gitops.timout", '"5m"', f"no such key; valid keys of gitops are {GITOPS_KEYS}"),
    # alerting (credentials are never shown, and only accepted from a secret key: tests/test_secrets.py)
    ({"alerting": 5}, "alerting", "5", "an object with keys receivers, route, heartbeat"),
    (
        {
            "alerting": {
                "receivers": {"platform": {"type": "slack", "apiURL": SLACK_URL}},
                "route": {"default": "platform"},
            }
        },
        "alerting.receivers.platform.apiURL",
        "[secret]",
        "a secret: set it with pulumi config set --secret --path alerting.receivers.platform.apiURL VALUE",
    ),
    (
        {"alerting": {"receivers": {"teams": {"type": "teams"}}, "route": {"default": "teams"}}},
        "alerting.receivers.teams.type",
        '"teams"',
        "one of slack, pagerduty, msteams, webhook, email, opsgenie",
    ),
    (
        {"alerting": {"receivers": {}, "route": {"default": "oncall"}}},
        "alerting.route.default",
        '"oncall"',
        "a receiver defined under alerting.receivers (none yet)",
    ),
    (
        {"alerting": {"heartbeat": {"receiver": "deadman", "interval": "1 minute"}}},
        "alerting.heartbeat.interval",
        '"1 minute"',
        AM_DURATION,
    ),
    (
        {"alerting": {"receivers": {}, "route": {"default": "oncall", "groupWait": 30}}},
        "alerting.route.groupWait",
        "30",
        AM_DURATION,
    ),
    (
        {"alerting": {"route": {"default": "oncall", "byNamespace": {"Team_A": "oncall"}}}},
        "alerting.route.byNamespace.Team_A",
        '"Team_A"',
        DNS_LABEL,
    ),
    (
        {"alerting": {"recievers": {}}},
        "alerting.recievers",
        "{}",
        "no such key; valid keys of alerting are receivers, route, heartbeat",
    ),
    # fluxEvents
    ({"fluxEvents": {"grafanaAnnotations": "yes"}}, "fluxEvents.grafanaAnnotations", '"yes"', "true or false"),
    (
        {"fluxEvents": {"errors": True}},
        "fluxEvents.errors",
        "true",
        "no such key; valid keys of fluxEvents are grafanaAnnotations, alertmanager",
    ),
    (
        {"fluxEvents": {"alertmanager": True}, "alertmanager": {"enabled": False}, "alerting": {}},
        "alertmanager.enabled",
        "false",
        "true: fluxEvents.alertmanager sends Flux's error events to Alertmanager",
    ),
    # fleet
    ({"cluster": "EU_West"}, "cluster", '"EU_West"', "a DNS-1123 label"),
    ({"cluster": "a" * 64}, "cluster", json.dumps("a" * 64), "a DNS-1123 label"),
    (
        {"remoteWrite": {"name": "mimir", "url": PUSH}},
        "remoteWrite",
        json.dumps({"name": "mimir", "url": PUSH}),
        "a list of remote write targets, each with name and url",
    ),
    ({"remoteWrite": [{"name": "mimir"}]}, "remoteWrite[0].url", "null", "an http:// or https:// URL (required)"),
    ({"remoteWrite": [{"url": PUSH}]}, "remoteWrite[0].name", "null", "a DNS-1123 label such as mimir (required)"),
    (
        {"remoteWrite": [target(url="mimir.example.com/push")]},
        "remoteWrite[0].url",
        '"mimir.example.com/push"',
        "an http:// or https:// URL such as",
    ),
    (
        {"remoteWrite": [target(url="https://fleet:hunter22@mimir.example.com/push")]},
        "remoteWrite[0].url",
        '"https://[redacted]@mimir.example.com/push"',
        "a URL without credentials",
    ),
    ({"remoteWrite": [target(name="Mimir")]}, "remoteWrite[0].name", '"Mimir"', "a DNS-1123 label such as mimir"),
    (
        {"remoteWrite": [target(), target()]},
        "remoteWrite",
        '["mimir", "mimir"]',
        "remote write targets with distinct names",
    ),
    ({"remoteWrite": [target(fluxOnly="yes")]}, "remoteWrite[0].fluxOnly", '"yes"', "true or false"),
    (
        {"remoteWrite": [target(headers={"Authorization": "Bearer abc"})]},
        "remoteWrite[0].headers",
        "[secret]",
        "naming none of Authorization",
    ),
    (
        {"remoteWrite": [target(headers=["X-Scope-OrgID"])]},
        "remoteWrite[0].headers",
        "[secret]",
        "an object of HTTP header names to values",
    ),
    (
        {"remoteWrite": [target(basicAuth={"username": "fleet"})]},
        "remoteWrite[0].basicAuth.password",
        "null",
        "a secret text",
    ),
    (
        {"remoteWrite": [target(queue={"maxShards": 0})]},
        "remoteWrite[0].queue.maxShards",
        "0",
        "a whole number from 1 to 1000000",
    ),
    (
        {"remoteWrite": [target(queue={"batchSendDeadline": "soon"})]},
        "remoteWrite[0].queue.batchSendDeadline",
        '"soon"',
        "a duration such as 5s, 100ms or 1m30s",
    ),
    (
        {"remoteWrite": [target(queue={"maxShard": 5})]},
        "remoteWrite[0].queue.maxShard",
        "5",
        "no such key; valid keys of remoteWrite[0].queue are capacity, minShards, maxShards",
    ),
    (
        {"remoteWrite": [target(fluxonly=False)]},
        "remoteWrite[0].fluxonly",
        "false",
        "no such key; valid keys of remoteWrite[0] are basicAuth, bearerToken, headers, url, name, fluxOnly, queue",
    ),
    (
        {"grafana": {"datasources": {"name": "fleet"}}},
        "grafana.datasources",
        '{"name": "fleet"}',
        "a list of data sources, each with name and url",
    ),
    (
        {"grafana": {"datasources": [{"name": "fleet"}]}},
        "grafana.datasources[0].url",
        "null",
        "an http:// or https:// URL (required)",
    ),
    (
        {
            "grafana": {
                "datasources": [
                    {"name": "a", "url": QUERY, "default": True},
                    {"name": "b", "url": QUERY, "default": True},
                ]
            }
        },
        "grafana.datasources",
        '["a", "b"]',
        "at most one data source with default: true",
    ),
    (
        {"grafana": {"datasources": [{"name": "a", "url": QUERY}, {"name": "a", "url": QUERY}]}},
        "grafana.datasources",
        '["a", "a"]',
        "data sources with distinct names",
    ),
]


def overrides(config: dict) -> dict[str, str]:
    return {
        (key if ":" in key else f"flux-monitoring:{key}"): value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
    }


def catalogue_id(case) -> str:
    return f"{case[1]}={case[2][:40]}"


def test_the_catalogue_covers_every_config_key():
    from flux_monitoring.config.settings import CONFIG_KEYS, GIT_REF_KEYS

    # The password's cases are below: they must not show the value, so they differ in form.
    keys = set(CONFIG_KEYS) - {"grafanaAdminPassword"} | {"kubernetes:context"}
    named = {key.split(".")[0] for _, key, _, _ in CATALOGUE}
    assert keys <= named
    nested = {key for _, key, _, _ in CATALOGUE if "." in key}
    for field in ("adminUser", "ingress.host", "ingress.className", "persistenceSize"):
        assert f"grafana.{field}" in nested
    for field in (
        "replicas",
        "retention",
        "retentionSize",
        "storageSize",
        "storageClassName",
        "resources.requests.cpu",
        "resources.requests.memory",
    ):
        assert f"prometheus.{field}" in nested
    for field in ("url", "interval", "timeout", "stackPath", "configPath", "secretRef", "commit", "tag"):
        assert f"gitops.{field}" in nested
    assert "gitops.branch|tag|semver|commit" in nested and len(GIT_REF_KEYS) == 4
    assert len(CATALOGUE) >= 30


@pytest.mark.parametrize("config, key, shown, expected", CATALOGUE, ids=[catalogue_id(c) for c in CATALOGUE])
def test_a_bad_config_fails_with_one_problem_naming_key_value_and_form_before_any_resource(
    config, key, shown, expected
):
    run = ProgramRun()
    with pytest.raises(SettingsError) as caught:
        run_stack("staging", overrides(config), run=run)
    [problem] = caught.value.problems
    assert problem.startswith(f"{key}: got {shown}; expected ")
    assert expected in problem.split("; expected ", 1)[1]
    assert run.resources == []


def test_a_non_secret_password_fails_without_showing_it_and_registers_nothing():
    run = ProgramRun()
    with pytest.raises(SettingsError) as caught:
        run_stack("staging", {"flux-monitoring:grafanaAdminPassword": "plain-text-password-1"}, run=run)
    assert caught.value.problems == [
        "grafanaAdminPassword: got [secret]; expected a secret: set it with pulumi config set --secret "
        "grafanaAdminPassword"
    ]
    assert run.resources == []


def test_a_weak_secret_password_fails_without_showing_it_and_registers_nothing():
    run = ProgramRun()
    with pytest.raises(SettingsError) as caught:
        run_stack("staging", password="prom-operator", run=run)
    assert caught.value.problems == [
        "grafanaAdminPassword: got [secret]; expected at least 12 characters and not a well-known default password"
    ]
    assert run.resources == []


# -- legal edge cases that must be accepted ------------------------------------------------------

ACCEPTED = [
    {"namespace": "a" * 63},
    {"namespace": "1monitoring"},
    {"namespace": "m"},
    {"fluxNamespace": "flux"},
    {"chartVersion": "88.5.3-rc.1", "operatorCrdsVersion": "31.0.1"},
    {"chartVersion": "88.5.3+build.7", "operatorCrdsVersion": "31.0.1"},
    {"grafana": {"adminUser": "ops@example.com"}},
    {
        "grafana": {
            "ingress": {"host": "grafana.internal", "className": "ingress.k8s.aws", "tlsSecretName": "grafana.tls"}
        }
    },
    {"grafana": {"persistenceSize": "512Mi"}},
    {"prometheus": {"replicas": 10}},
    {"prometheus": {"replicas": "3"}},
    {"prometheus": {"retention": "1y"}},
    {"prometheus": {"retention": "12h30m"}},
    {"prometheus": {"retention": "0"}},
    {"prometheus": {"retentionSize": "1.5TiB"}},
    {"prometheus": {"storageSize": "1e3"}},
    {"prometheus": {"storageSize": "0.5"}},
    {"prometheus": {"storageSize": "128974848"}},
    {"prometheus": {"storageSize": "100G"}},
    {"prometheus": {"storageClassName": "gp3.encrypted"}},
    {"prometheus": {"resources": {"requests": {"cpu": "500m", "memory": "4e9"}, "limits": {"cpu": 2}}}},
    {"alerts": {"workqueue": {"depth": 0.5}, "suspended": {"severity": "P3_low"}}},
    {"alerts": {"controllerDown": {"for": "90s"}}},
    {"alerts": {"reconcileDuration": {"p99Seconds": 1800}}},
    {"alerts": {"reconcileDuration": {"p99Seconds": "122.3"}}},
    {"fluxVersion": "2.0", "fluxMetrics": "legacy"},
    {"fluxVersion": "2.4", "fluxMetrics": "legacy"},
    {"fluxVersion": "v2.9.4", "fluxMetrics": "flux-operator"},
    {"fluxVersion": "2.12"},
    {"fluxComponents": ["source-controller", "kustomize-controller", "source-watcher"]},
    gitops(),
    {"delivery": "gitops", "gitops": {"url": "ssh://git@github.com:2222/example/fleet.git", "branch": "release/v1.2"}},
    {"delivery": "gitops", "gitops": {"url": REPO, "semver": ">=1.2.0 <2.0.0"}},
    {"delivery": "gitops", "gitops": {"url": REPO, "semver": "1.x"}},
    {"delivery": "gitops", "gitops": {"url": REPO, "commit": "0123456789abcdef" * 4}},
    gitops(interval="1.5h", timeout="90s", stackPath="./", secretRef="git.auth"),
    {"alerting": {}},
    {"alerting": {"receivers": {}}, "alertmanager": {"enabled": False}},
    {"fluxEvents": {"grafanaAnnotations": False, "alertmanager": True}},
    {"fluxEvents": {"grafanaAnnotations": "true"}},
]


@pytest.mark.parametrize("config", ACCEPTED, ids=[json.dumps(c)[:60] for c in ACCEPTED])
def test_a_legal_edge_case_is_accepted(config):
    run = run_stack("staging", overrides(config))
    assert any(r.type == "kubernetes:core/v1:Namespace" for r in run.resources)
