"""The PodMonitor that has Prometheus scrape the Flux controllers."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from components.settings import load_settings
from components.signals.podmonitor import flux_pod_monitor
from components.signals.rules import flux_prometheus_rule
from tests.signals_tools import upstream_file

SETTINGS = load_settings({"namespace": "observability", "fluxNamespace": "gitops"}, kube_context="test")
CONTROLLERS = {"source-controller", "kustomize-controller", "helm-controller", "notification-controller",
               "image-reflector-controller", "image-automation-controller"}


def strict(schema: Any) -> Any:
    """The schema with unknown fields rejected: the API server would silently prune them."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


def crd_schema(file: str) -> jsonschema.Draft7Validator:
    """A validator for the CRD's v1 schema (not checked against the metaschema: Go regexes)."""
    crd = yaml.safe_load(upstream_file(f"crds/{file}").read_text())
    return jsonschema.Draft7Validator(
        strict(next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]))


def test_pod_monitor_is_valid_against_the_prometheus_operator_crd():
    crd_schema("monitoring.coreos.com_podmonitors.yaml").validate(flux_pod_monitor(SETTINGS))


def test_prometheus_rule_is_valid_against_the_prometheus_operator_crd():
    crd_schema("monitoring.coreos.com_prometheusrules.yaml").validate(flux_prometheus_rule(SETTINGS))


def test_pod_monitor_lives_in_the_monitoring_namespace_and_is_selected_by_prometheus():
    metadata = flux_pod_monitor(SETTINGS)["metadata"]
    assert metadata["namespace"] == "observability"
    assert metadata["labels"]["release"] == "kube-prometheus-stack"


def test_pod_monitor_selects_the_flux_controller_pods_in_the_flux_namespace():
    spec = flux_pod_monitor(SETTINGS)["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["gitops"]}
    (expression,) = spec["selector"]["matchExpressions"]
    assert (expression["key"], expression["operator"], set(expression["values"])) == ("app", "In", CONTROLLERS)


def test_pod_monitor_scrapes_the_prometheus_port_of_running_pods_only():
    (endpoint,) = flux_pod_monitor(SETTINGS)["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-prom", "/metrics")
    assert {"sourceLabels": ["__meta_kubernetes_pod_phase"], "action": "keep", "regex": "Running"} \
        in endpoint["relabelings"]
