"""Pods as Kubernetes service discovery hands them to Prometheus, and a PodMonitor as the Prometheus
Operator turns it into a scrape job, so a target exists only for a pod the PodMonitor selects.

``relabel_configs`` follows prometheus-operator pkg/prometheus/promcfg.go generatePodMonitorConfig
@ 6adcebc5 (2026-08-08): the job-name meta label, the Running filter (drop Failed|Succeeded), one
keep (or drop) rule per selector term on ``__meta_kubernetes_pod_label_<key>`` /
``__meta_kubernetes_pod_labelpresent_<key>``, a keep on the endpoint's container port name, the
namespace/container/pod labels, the podTargetLabels, job ``<namespace>/<name>``, endpoint, then the
endpoint's own relabelings. The namespaceSelector is a discovery setting (only those namespaces'
pods are listed). Pod meta labels follow Prometheus' kubernetes_sd ``role: pod``: one target per
container port.

``relabel`` applies such rules as Prometheus does (regexes anchored, source values joined with
";", an empty replacement result removes the label) for the unit tests; the server tests give the
same rules to a real Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
# PodMonitor relabeling keys (camelCase) as Prometheus' relabel_config spells them.
_KEYS = {
    "sourceLabels": "source_labels",
    "targetLabel": "target_label",
    "action": "action",
    "regex": "regex",
    "separator": "separator",
    "replacement": "replacement",
}


def _sanitize(name: str) -> str:
    return _INVALID.sub("_", name)


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    ports: tuple[str, ...]  # container port names
    container: str = "manager"
    phase: str = "Running"
    extra: dict[str, str] = field(default_factory=dict)  # labels of every target (such as __metrics_path__)

    def targets(self) -> list[dict[str, str]]:
        """The pod's discovered targets, one per container port, with their meta labels."""
        base = {
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_pod_name": self.name,
            "__meta_kubernetes_pod_phase": self.phase,
            "__meta_kubernetes_pod_container_name": self.container,
        }
        for key, value in self.labels.items():
            base[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
            base[f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}"] = "true"
        return [{**base, "__meta_kubernetes_pod_container_port_name": port, **self.extra} for port in self.ports]


def job_of(monitor: dict) -> str:
    return f"{monitor['metadata']['namespace']}/{monitor['metadata']['name']}"


def _selector_rules(selector: dict) -> list[dict]:
    rules = []
    for key in sorted(selector.get("matchLabels", {})):
        name = _sanitize(key)
        rules.append(
            {
                "action": "keep",
                "source_labels": [f"__meta_kubernetes_pod_label_{name}", f"__meta_kubernetes_pod_labelpresent_{name}"],
                "regex": f"({selector['matchLabels'][key]});true",
            }
        )
    for expression in selector.get("matchExpressions", []):
        name = _sanitize(expression["key"])
        pair = [f"__meta_kubernetes_pod_label_{name}", f"__meta_kubernetes_pod_labelpresent_{name}"]
        values = "|".join(expression.get("values", []))
        rules.append(
            {
                "In": {"action": "keep", "source_labels": pair, "regex": f"({values});true"},
                "NotIn": {"action": "drop", "source_labels": pair, "regex": f"({values});true"},
                "Exists": {"action": "keep", "source_labels": [pair[1]], "regex": "true"},
                "DoesNotExist": {"action": "drop", "source_labels": [pair[1]], "regex": "true"},
            }[expression["operator"]]
        )
    return rules


def relabel_configs(monitor: dict) -> list[dict]:
    """The scrape job's relabel_configs for the PodMonitor's (single) endpoint."""
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    rules = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    if endpoint.get("filterRunning", True):
        rules.append(
            {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"}
        )
    rules += _selector_rules(monitor["spec"]["selector"])
    rules.append(
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": endpoint["port"]}
    )
    rules += [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    ]
    rules += [
        {
            "source_labels": [f"__meta_kubernetes_pod_label_{_sanitize(label)}"],
            "target_label": _sanitize(label),
            "regex": "(.+)",
            "replacement": "${1}",
        }
        for label in monitor["spec"].get("podTargetLabels", [])
    ]
    rules.append({"target_label": "job", "replacement": job_of(monitor)})
    rules.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    rules += [{_KEYS[k]: v for k, v in rule.items()} for rule in endpoint.get("relabelings", [])]
    return rules


def metric_relabel_configs(monitor: dict) -> list[dict]:
    """The PodMonitor's metricRelabelings as the Prometheus Operator writes them into the scrape config."""
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    return [{_KEYS[k]: v for k, v in rule.items()} for rule in endpoint.get("metricRelabelings", [])]


def listed(monitor: dict, pods: list[Pod]) -> list[Pod]:
    """The pods service discovery lists for the PodMonitor: those of its namespaceSelector's namespaces."""
    namespaces = monitor["spec"].get("namespaceSelector", {}).get("matchNames")
    return [pod for pod in pods if namespaces is None or pod.namespace in namespaces]


def _expand(template: str, match: re.Match) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: match.group(int(m.group(1))) or "", template)


def relabel(labels: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """The labels after Prometheus' relabeling (keep, drop, replace); None when the target is dropped."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            result = _expand(rule.get("replacement", "$1"), match)
            if result:
                labels[rule["target_label"]] = result
            else:
                labels.pop(rule["target_label"], None)
    return labels


def targets_of(monitor: dict, pods: list[Pod]) -> list[dict[str, str]]:
    """The target labels (meta labels gone) of every target the PodMonitor has among ``pods``."""
    rules = relabel_configs(monitor)
    kept = (relabel(target, rules) for pod in listed(monitor, pods) for target in pod.targets())
    return [{k: v for k, v in labels.items() if not k.startswith("__")} for labels in kept if labels is not None]
