"""Central metric stores on 127.0.0.1 for the fleet tests, and the Prometheus Operator's translation of
the program's remote write settings into a Prometheus config.

- ``start_victoria_metrics``: single-node VictoriaMetrics (Debian ``victoria-metrics``), a real remote
  write receiver with a Prometheus-compatible query API, configured as the README tells fleet users:
  ``-dedup.minScrapeInterval`` at the scrape interval and the replica label dropped on ingestion.
- a central Prometheus with ``--web.enable-remote-write-receiver`` (flux_fleet.start_prometheus): it
  stores what it receives and runs exact PromQL, as Mimir and Thanos do.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from flux_monitoring.manifests.fleet import CLUSTER_LABEL, REPLICA_LABEL
from tests.support.flux_fleet import MONITORING_NAMESPACE, Prometheus, stop, wait_until_answering

# What the Prometheus Operator adds to external_labels (prometheus-operator pkg/prometheus/promcfg.go
# buildExternalLabels, 6adcebc 2026-08-08): "prometheus" = <namespace>/<Prometheus name>, the replica
# label = the pod name of the StatefulSet prometheus-<Prometheus name>.
PROMETHEUS_NAME = "kube-prometheus-stack-prometheus"


def operator_external_labels(cluster: str, replica: int) -> dict[str, str]:
    return {
        CLUSTER_LABEL: cluster,
        "prometheus": f"{MONITORING_NAMESPACE}/{PROMETHEUS_NAME}",
        REPLICA_LABEL: f"prometheus-{PROMETHEUS_NAME}-{replica}",
    }


_RELABEL_KEYS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "replacement": "replacement",
    "action": "action",
}
_QUEUE_KEYS = {
    "capacity": "capacity",
    "minShards": "min_shards",
    "maxShards": "max_shards",
    "maxSamplesPerSend": "max_samples_per_send",
    "batchSendDeadline": "batch_send_deadline",
    "minBackoff": "min_backoff",
    "maxBackoff": "max_backoff",
    "retryOnRateLimit": "retry_on_http_429",
}


def _secret(data: dict[str, str], ref: dict[str, str], secret_name: str) -> str:
    assert ref["name"] == secret_name, ref
    return data[ref["key"]]


def remote_write_config(spec: dict[str, Any], secret_name: str, secret_data: dict[str, str]) -> dict[str, Any]:
    """A RemoteWriteSpec as the operator writes it into prometheus.yml, for the fields the program sets
    (prometheus-operator pkg/prometheus/promcfg.go GenerateRemoteWriteConfig, addBasicAuthToYaml,
    addSafeAuthorizationToYaml: Secret key references are resolved into the generated config)."""
    known = {"url", "name", "headers", "writeRelabelConfigs", "basicAuth", "authorization", "queueConfig"}
    assert set(spec) <= known, f"translate {set(spec) - known} too"
    config: dict[str, Any] = {"url": spec["url"]}
    if "headers" in spec:
        config["headers"] = dict(spec["headers"])
    config["name"] = spec["name"]
    if "writeRelabelConfigs" in spec:
        config["write_relabel_configs"] = [
            {_RELABEL_KEYS[k]: (v.lower() if k == "action" else v) for k, v in rule.items()}
            for rule in spec["writeRelabelConfigs"]
        ]
    if "basicAuth" in spec:
        config["basic_auth"] = {
            field: _secret(secret_data, spec["basicAuth"][field], secret_name) for field in ("username", "password")
        }
    if "authorization" in spec:
        auth = spec["authorization"]
        config["authorization"] = {
            "type": auth["type"],
            "credentials": _secret(secret_data, auth["credentials"], secret_name),
        }
    if "queueConfig" in spec:
        config["queue_config"] = {_QUEUE_KEYS[k]: v for k, v in spec["queueConfig"].items()}
    return config


class Store(Prometheus):
    """The query API of a central store (optionally behind basic auth)."""

    def __init__(self, url: str, process: subprocess.Popen, auth: tuple[str, str] | None = None):
        super().__init__(url, process)
        self.auth = auth

    def query(self, expr: str, timeout: float = 30, at: float | None = None) -> list[dict]:
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        body = requests.get(f"{self.url}/api/v1/query", params=params, auth=self.auth, timeout=timeout).json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def value_at(self, expr: str, at: float) -> float | None:
        """The single number ``expr`` returns at time ``at``, None when it returns nothing."""
        result = self.query(expr, at=at)
        return float(result[0]["value"][1]) if result else None


@contextmanager
def start_victoria_metrics(
    binary: str, workdir: Path, port: int, dedup_interval: str, auth: tuple[str, str], startup: float = 30.0
) -> Iterator[Store]:
    """Single-node VictoriaMetrics at 127.0.0.1:``port`` with its data in ``workdir``; stopped after.

    Deduplicates as docs.victoriametrics.com "Deduplication" says (VictoriaMetrics docs/victoriametrics/
    README.md, b7ef6cc 2026-08-21): one sample per ``-dedup.minScrapeInterval`` of series with identical
    labels, so the replica label is dropped on ingestion (``-relabelConfig``, as in its OpenShift guide).
    """
    relabel = workdir / "relabel.yml"
    relabel.write_text(yaml.safe_dump([{"action": "labeldrop", "regex": REPLICA_LABEL}]))
    with (workdir / "victoria-metrics.log").open("a") as log:
        process = subprocess.Popen(
            [
                binary,
                f"-storageDataPath={workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                f"-dedup.minScrapeInterval={dedup_interval}",
                f"-relabelConfig={relabel}",
                f"-httpAuth.username={auth[0]}",
                f"-httpAuth.password={auth[1]}",
                # Show samples at once (default: 30s behind) and never answer from a cache.
                "-search.latencyOffset=0s",
                "-search.disableCache",
                # A series counts as current for 30s after its last sample, however short the test's
                # scrape interval (1s; by default the staleness interval follows it, and a busy
                # machine's remote write lag would make live series look stale).
                "-search.minStalenessInterval=30s",
                "-loggerLevel=WARN",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            store = Store(f"http://127.0.0.1:{port}", process, auth)
            wait_until_answering(store, "/health", startup, auth)
            yield store
        finally:
            stop(process)
