"""Render a stack's desired state as the tree that `gitops` delivery syncs, offline.

    python render.py --stack prod --out manifests/monitoring

Writes OUT/kube-prometheus-stack/ (HelmRepository and HelmRelease, with the Namespace unless
Pulumi owns it), OUT/monitoring-config/ (PodMonitor, dashboards, rules) and, for a stack in
gitops mode, OUT/flux/ (the GitRepository and Kustomizations Pulumi creates), each with a
kustomization.yaml. No Pulumi CLI, cluster or secret is needed: secrets never go to git.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from flux_monitoring.config.alerting import ALERTING_KEY
from flux_monitoring.config.settings import Settings, SettingsError, load_settings
from flux_monitoring.config.stack_files import ROOT, UnknownStackError, stack_config
from flux_monitoring.contract import PROJECT, REQUIRE_GRAFANA_ADMIN_PASSWORD
from flux_monitoring.manifests.flux_events import flux_event_manifests
from flux_monitoring.manifests.gitops import flux_sync_manifests, helm_release, helm_repository
from flux_monitoring.manifests.grafana_rbac import grafana_sidecar_roles
from flux_monitoring.manifests.namespace import namespace_manifest, node_exporter_namespace_manifest
from flux_monitoring.signals.dashboards import dashboard_config_maps
from flux_monitoring.signals.podmonitor import flux_pod_monitors
from flux_monitoring.signals.rules import flux_prometheus_rule

STACK_DIR = "kube-prometheus-stack"
CONFIG_DIR = "monitoring-config"
FLUX_DIR = "flux"
# Marks the files the render owns: only these are replaced on a re-render.
HEADER_PREFIX = "# Rendered by render.py"
HEADER = HEADER_PREFIX + " from stacks/Pulumi.{stack}.yaml: change the stack, then re-render.\n"


def _encrypted_paths(value: Any, path: str) -> list[str]:
    """Where ``value`` holds ciphertext: `pulumi config set --secret` (with --path, at any depth)
    stores {"secure": "<ciphertext>"} in the stack file."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return [path]
        return [found for key, item in value.items() for found in _encrypted_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _encrypted_paths(item, f"{path}[{index}]")]
    return []


# Fleet credentials: the rendered values reference them in Secrets that `pulumi up` creates, so the
# render validates their objects with a stand-in for each ciphertext and never reads or writes them.
_CREDENTIAL_PATH = re.compile(r"^(remoteWrite\[\d+\]|grafana\.datasources\[\d+\])\.(basicAuth\.password|bearerToken)$")
_NOT_DECRYPTED = "not-decrypted-by-the-render"


def _without_ciphertext(value: Any) -> Any:
    if isinstance(value, dict):
        return _NOT_DECRYPTED if set(value) == {"secure"} else {k: _without_ciphertext(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_ciphertext(item) for item in value]
    return value


def _encrypted(text: str) -> list[str]:
    try:
        return _encrypted_paths(json.loads(text), "")
    except json.JSONDecodeError:
        return []


def _without_encrypted(value: Any) -> Any:
    """``value`` without its {"secure": ...} leaves."""
    if isinstance(value, dict):
        return {
            key: _without_encrypted(item)
            for key, item in value.items()
            if not (isinstance(item, dict) and set(item) == {"secure"})
        }
    return value


def offline_settings(stack: str, root: Path = ROOT) -> Settings:
    """The stack's validated settings, without its secrets.

    The rendered files never hold a secret, so the render does not need one: encrypted values
    are left out, and so is requireGrafanaAdminPassword, which only `pulumi up` (the one
    that can decrypt) can check. The alerting credentials go only into the Alertmanager
    configuration Secret, which Pulumi creates in both delivery modes: the render leaves them
    out too. Everything else is validated as the program validates it.
    """
    config = stack_config(stack, root)
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    if ALERTING_KEY in raw and _encrypted(raw[ALERTING_KEY]):
        raw[ALERTING_KEY] = json.dumps(_without_encrypted(json.loads(raw[ALERTING_KEY])))
    encrypted = {key: paths for key, value in raw.items() if (paths := _encrypted(value))}
    # Any other secret inside an object (set with --path) would have to be written into the tree.
    nested = [
        f"{key}{path}: encrypted; the render writes no secrets, so this value cannot be rendered "
        f"(keep secrets in Secrets referenced by name, such as gitops.secretRef)"
        for key, paths in encrypted.items()
        for path in paths
        if path and not _CREDENTIAL_PATH.match(f"{key}{path}")
    ]
    if nested:
        raise SettingsError(nested)
    credentials = {key for key, paths in encrypted.items() if all(path for path in paths)}
    raw = {
        key: json.dumps(_without_ciphertext(json.loads(value))) if key in credentials else value
        for key, value in raw.items()
        if key not in encrypted or key in credentials
    }
    raw.pop(REQUIRE_GRAFANA_ADMIN_PASSWORD, None)
    raw.setdefault("cluster", stack)
    return load_settings(
        raw, secret_keys=credentials, kube_context=config.get("kubernetes:context"), without_credentials=True
    )


def rendered_tree(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Directory name -> the objects it holds, in a fixed order."""
    # In gitops mode Pulumi creates the monitoring Namespace (the Grafana Secret lives in it): not Flux too.
    namespace = [namespace_manifest(settings)] if settings.delivery == "direct" else []
    tree = {
        STACK_DIR: [
            *namespace,
            node_exporter_namespace_manifest(settings),
            *grafana_sidecar_roles(settings),
            helm_repository(settings),
            helm_release(settings),
        ],
        CONFIG_DIR: [
            *flux_pod_monitors(settings),
            *dashboard_config_maps(settings),
            flux_prometheus_rule(settings),
            *flux_event_manifests(settings),
        ],
    }
    if settings.delivery == "gitops":
        tree[FLUX_DIR] = flux_sync_manifests(settings)
    return tree


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (dashboards) as literal blocks, so their git diffs read line by line."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def _dump(header: str, document: dict[str, Any]) -> str:
    return header + yaml.dump(
        document, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120
    )


def file_name(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


def write_tree(tree: dict[str, list[dict[str, Any]]], out: Path, stack: str) -> list[Path]:
    """Write each directory with its kustomization.yaml; returns the files written."""
    header = HEADER.format(stack=stack)
    for directory in (STACK_DIR, CONFIG_DIR, FLUX_DIR):
        for old in sorted((out / directory).glob("*.yaml")):
            if old.read_text().startswith(HEADER_PREFIX):
                old.unlink()
    written = []
    for directory, manifests in tree.items():
        (out / directory).mkdir(parents=True, exist_ok=True)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [file_name(m) for m in manifests],
        }
        for name, document in [*((file_name(m), m) for m in manifests), ("kustomization.yaml", kustomization)]:
            path = out / directory / name
            path.write_text(_dump(header, document))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="directory to write the tree into")
    parser.add_argument("--project", type=Path, default=ROOT, help="Pulumi project directory (default: this one)")
    args = parser.parse_args(argv)
    try:
        settings = offline_settings(args.stack, args.project)
    except (UnknownStackError, SettingsError) as error:
        print(f"render: stack {args.stack!r}: {error}", file=sys.stderr)
        return 1
    written = write_tree(rendered_tree(settings), args.out, args.stack)
    print(f"render: wrote {len(written)} files for stack {args.stack!r} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
