"""objectLabels: the Flux objects' own Kubernetes labels, copied by kube-state-metrics onto their
state series, carried by their alerts, routed on (alerting.route.byObjectLabel) and filtered on."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from flux_monitoring.config.settings import SettingsError, load_settings
from flux_monitoring.config.types import OBJECT_LABEL_PREFIX
from flux_monitoring.signals.dashboards import cluster_dashboard
from flux_monitoring.signals.kube_state_metrics import kube_state_metrics_values
from flux_monitoring.signals.promql import recording_rules
from flux_monitoring.signals.rules import flux_rule_groups
from tests.support.flux_fleet import Fleet, FleetMetrics, FluxObject, MatrixRelease
from tests.support.signals_tools import upstream_file

RECEIVERS = {"platform": {"type": "webhook", "url": "https://hooks.example.com/p"}}


def load(secret: bool = False, **raw):
    texts = {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}
    return load_settings(texts, kube_context="test", secret_keys={"alerting"} if secret else set())


def problem(**raw) -> str:
    with pytest.raises(SettingsError) as caught:
        load(secret=True, **raw)
    [found] = caught.value.problems
    return found


def test_object_labels_are_off_by_default():
    assert load().object_labels == ()


def test_object_labels_take_label_keys_with_and_without_a_prefix():
    assert load(objectLabels=["team", "example.com/tier"]).object_labels == ("team", "example.com/tier")


@pytest.mark.parametrize("key", ["Team!", "-team", "team/", "Example.com/team", "a" * 64])
def test_a_key_that_is_not_a_kubernetes_label_key_is_refused(key):
    assert problem(objectLabels=[key]).startswith(f'objectLabels[0]: got "{key}"; expected a Kubernetes label key')


def test_keys_whose_prometheus_names_collide_are_refused_naming_both():
    found = problem(objectLabels=["example.com/team", "example_com_team"])
    assert found.startswith("objectLabels: got ")
    assert "example.com/team and example_com_team are both label_example_com_team" in found


def test_a_key_given_as_text_not_a_list_is_refused():
    assert problem(objectLabels="team").startswith('objectLabels: got "team"; expected a list of Kubernetes label keys')


@pytest.mark.parametrize(
    "source, why",
    [
        ({"fluxMetrics": "flux-operator"}, "flux_resource_info has a fixed set of labels"),
        ({"fluxMetrics": "legacy", "fluxVersion": "2.4"}, "gotk_reconcile_condition has a fixed set of labels"),
    ],
)
def test_a_source_that_cannot_carry_object_labels_is_refused_naming_object_labels_and_why(source, why):
    found = problem(objectLabels=["team"], **source)
    assert found.startswith('objectLabels: got ["team"]; expected no objectLabels with fluxMetrics ')
    assert why in found and "needs fluxMetrics resource-info" in found


def test_routes_by_object_label_name_a_key_of_object_labels():
    alerting = {"receivers": RECEIVERS, "route": {"default": "platform", "byObjectLabel": {"team": {"a": "platform"}}}}
    found = problem(alerting=alerting, objectLabels=["owner"])
    assert found == 'alerting.route.byObjectLabel.team: got "team"; expected a label key listed in objectLabels (owner)'


def test_routes_by_object_label_name_defined_receivers():
    route = {"default": "platform", "byObjectLabel": {"team": {"payments": "payments-oncall"}}}
    found = problem(alerting={"receivers": RECEIVERS, "route": route}, objectLabels=["team"])
    assert found.startswith('alerting.route.byObjectLabel.team.payments: got "payments-oncall"; expected a receiver')


def test_kube_state_metrics_copies_each_key_from_metadata_labels_under_its_prometheus_name():
    values = kube_state_metrics_values(load(objectLabels=["team", "example.com/tier"]))
    for resource in values["customResourceState"]["config"]["spec"]["resources"]:
        paths = resource["metrics"][0]["labelsFromPath"]
        assert paths["label_team"] == ["metadata", "labels", "team"]
        assert paths["label_example_com_tier"] == ["metadata", "labels", "example.com/tier"]


def test_the_program_config_followed_like_kube_state_metrics_renders_the_same_series_as_the_fleet_model():
    """The fleet's hand-written gotk_resource_info (modelled on the release matrix) and the program's
    kube-state-metrics config followed path by path agree, for every kind and state."""
    release = MatrixRelease.of(_matrix(), "2.9")
    objects = [
        FluxObject("Kustomization", "apps", "a", "False", False, "r", 1.0, suspend_set=True),
        FluxObject("HelmRelease", "apps", "b", "True", True, "r", 1.0, suspend_set=True),
        FluxObject("GitRepository", "apps", "c", "Unknown", False, "r", 1.0),
    ]
    settings = load()
    spec = kube_state_metrics_values(settings)["customResourceState"]["config"]["spec"]
    controllers = ("source-controller", "kustomize-controller", "helm-controller")
    by_hand = FleetMetrics(Fleet(release=release, objects=objects, controllers=controllers)).kube_state_metrics()
    by_config = FleetMetrics(
        Fleet(release=release, objects=objects, controllers=controllers, custom_resource_state=spec)
    ).kube_state_metrics()
    # The fleet model has no revision paths: compare without the revision label.
    assert _series(by_config) == {s - {("revision", "r")} for s in _series(by_hand)}


def test_a_labelled_object_gets_its_labels_and_an_unlabelled_one_none():
    release = MatrixRelease.of(_matrix(), "2.9")
    objects = [
        FluxObject("Kustomization", "apps", "a", "False", False, "r", 1.0, labels=(("team", "payments"),)),
        FluxObject("Kustomization", "apps", "b", "False", False, "r", 1.0),
    ]
    spec = kube_state_metrics_values(load(objectLabels=["team"]))["customResourceState"]["config"]["spec"]
    fleet = Fleet(release=release, objects=objects, controllers=("kustomize-controller",), custom_resource_state=spec)
    teams = {dict(s).get("name"): dict(s).get("label_team") for s in _series(FleetMetrics(fleet).kube_state_metrics())}
    assert teams == {"a": "payments", "b": None}


def test_no_label_the_queries_use_starts_with_the_object_label_prefix():
    settings = load()
    exprs = [r["expr"] for r in recording_rules(settings)]
    exprs += [r["expr"] for g in flux_rule_groups(settings) for r in g["rules"]]
    dashboard = json.dumps(cluster_dashboard(settings))
    used = {
        name for text in [*exprs, dashboard] for name in re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"", text)
    }
    used |= {name for e in exprs for group in re.findall(r"(?:by|on) \(([^)]*)\)", e) for name in group.split(", ")}
    assert used and not {name for name in used if name.startswith(OBJECT_LABEL_PREFIX)}


def test_the_failing_and_suspended_tables_filter_on_a_variable_per_object_label():
    board = cluster_dashboard(load(objectLabels=["team"]))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["label_team"]["query"] == 'label_values(gotk_resource_info{cluster=~"$cluster"}, label_team)'
    assert variables["label_team"]["label"] == "team" and variables["label_team"]["allValue"] == ".*"
    tables = {p["title"]: p["targets"][0]["expr"] for p in board["panels"] if p["type"] == "table"}
    for title in ("Failing objects", "Suspended objects"):
        assert 'label_team=~"$label_team"' in tables[title]


def _matrix() -> dict:
    return yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())


def _series(text: str) -> set[frozenset]:
    """The label sets of the gotk_resource_info series of an exposition (not the pods' containers)."""
    found = set()
    for line in text.splitlines():
        if not line.startswith("gotk_resource_info{"):
            continue
        labels = line[line.index("{") + 1 : line.rindex("}")]
        found.add(frozenset(re.findall(r'(\w+)="([^"]*)"', labels)))
    return found
