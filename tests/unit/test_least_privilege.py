"""Least privilege: what Grafana's service account may read and which pod security each namespace enforces,
in both deliveries (the Pulumi program under mocks and the offline render)."""

from __future__ import annotations

import pytest

from flux_monitoring.manifests.helm_values import kube_prometheus_stack_values
from render import STACK_DIR, rendered_tree
from tests.support.gitops_stacks import MODES, run_mode, settings_of

NAMESPACE = "kubernetes:core/v1:Namespace"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
RELEASE = "kubernetes:helm.sh/v3:Release"
ENFORCE = "pod-security.kubernetes.io/enforce"


def stack_objects(mode: str) -> list[dict]:
    """What either delivery puts in the cluster for the stack: Pulumi's objects, then the render's."""
    run = run_mode("staging", mode)
    pulumi_objects = [
        {"kind": r.type.rsplit(":", 1)[1], "metadata": r.inputs["metadata"], **r.inputs}
        for r in run.resources
        if r.type in (NAMESPACE, ROLE)
    ]
    rendered = rendered_tree(settings_of("staging", mode))[STACK_DIR] if mode == "gitops" else []
    return pulumi_objects + rendered


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("mode", MODES)
def test_grafanas_role_reads_config_maps_only(mode):
    (role,) = of_kind(stack_objects(mode), "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]


@pytest.mark.parametrize("mode", MODES)
def test_grafanas_role_is_the_one_the_chart_binds_in_the_namespace_the_sidecars_search(mode):
    (role,) = of_kind(stack_objects(mode), "Role")
    grafana = kube_prometheus_stack_values(settings_of("staging", mode))["grafana"]
    assert role["metadata"]["name"] == grafana["rbac"]["useExistingRole"]
    # The chart binds the Role in the release namespace and in rbac.namespaces (templates/rolebinding.yaml).
    bound = {"monitoring", *grafana["rbac"]["namespaces"]}
    assert {role["metadata"]["namespace"]} == bound
    for sidecar in ("dashboards", "datasources"):
        assert set(grafana["sidecar"][sidecar]["searchNamespace"]) <= bound


def test_no_cluster_role_or_secret_access_is_granted_anywhere():
    for mode in MODES:
        objects = stack_objects(mode)
        assert not of_kind(objects, "ClusterRole")
        assert all("secrets" not in rule["resources"] for role in of_kind(objects, "Role") for rule in role["rules"])


def test_the_direct_release_waits_for_grafanas_role():
    run = run_mode("staging", "direct")
    assert run.one(ROLE).urn in run.one(RELEASE).dependencies


@pytest.mark.parametrize("mode", MODES)
def test_the_monitoring_namespace_enforces_baseline_and_warns_at_restricted(mode):
    (monitoring,) = [n for n in of_kind(stack_objects(mode), "Namespace") if n["metadata"]["name"] == "monitoring"]
    labels = monitoring["metadata"]["labels"]
    assert labels[ENFORCE] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


@pytest.mark.parametrize("mode", MODES)
def test_node_exporter_gets_a_privileged_namespace_of_its_own_in_either_delivery(mode):
    namespaces = {
        n["metadata"]["name"]: n["metadata"]["labels"][ENFORCE] for n in of_kind(stack_objects(mode), "Namespace")
    }
    override = kube_prometheus_stack_values(settings_of("staging", mode))["prometheus-node-exporter"]
    assert namespaces == {"monitoring": "baseline", override["namespaceOverride"]: "privileged"}


def test_the_direct_release_waits_for_node_exporters_namespace():
    run = run_mode("staging", "direct")
    node_exporter = run.one(NAMESPACE, "node-exporter-namespace")
    assert node_exporter.urn in run.one(RELEASE).dependencies
