"""Flux's own Grafana user for annotations: the container in Grafana's pod that keeps it.

With ``fluxEvents.grafanaAnnotations``, Flux's grafana Provider logs in as FLUX_GRAFANA_USER, an
Editor, never as the admin (docs/decisions/0001-flux-grafana-credential.md). The container runs
in_pod/grafana_flux_user.py with the chart's own sidecar image, which is a Python one
(kiwigrid/k8s-sidecar Dockerfile at 2.10.1: python alpine, ``python`` on PATH, user 65534; the
grafana chart's sidecar.image, 12.11.1). It reads the admin credentials and the user's password
from the admin Secret, so the admin password stays in the monitoring namespace. The container has
started, and the pod is ready, only once the user logs in with that password (its startup probe reads
the file the program marks), so every rollout, ``pulumi up`` and a rotation included, waits for it;
later, Grafana stays in service whatever happens to the user, and the container's log says why.

The grafana chart passes ``extraContainers`` (a string) and ``extraContainerVolumes`` through
``tpl`` (grafana-community/helm-charts charts/grafana/templates/_pod.tpl, 12.11.1 at 3386a11):
the image is written as the chart writes its sidecars' (global.imageRegistry, sidecar.image.*),
and nothing else here may hold a template's braces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flux_monitoring.contract import (
    FLUX_GRAFANA_USER,
    GRAFANA_ADMIN_PASSWORD_KEY,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER_KEY,
    GRAFANA_FLUX_PASSWORD_KEY,
)

PROGRAM = Path(__file__).with_name("in_pod") / "grafana_flux_user.py"
CONTAINER = "flux-grafana-user"
_RUN_DIR = "/run/flux-grafana-user"
READY_FILE = f"{_RUN_DIR}/ready"
# Grafana's own http_port (grafana/grafana conf/defaults.ini: 3000), which the chart does not change.
GRAFANA_LOCAL_URL = "http://127.0.0.1:3000"
SIDECAR_IMAGE = (
    "{{ .Values.global.imageRegistry | default .Values.sidecar.image.registry }}/"
    "{{ .Values.sidecar.image.repository }}:{{ .Values.sidecar.image.tag }}"
    "{{ with .Values.sidecar.image.sha }}@sha256:{{ . }}{{ end }}"
)
_READY = f"import os, sys; sys.exit(0 if os.path.exists({READY_FILE!r}) else 1)"


def _from_admin_secret(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": GRAFANA_ADMIN_SECRET, "key": key}}}


def flux_user_container() -> dict[str, Any]:
    """The container that keeps Flux's Grafana user (in_pod/grafana_flux_user.py)."""
    return {
        "name": CONTAINER,
        "image": SIDECAR_IMAGE,
        "imagePullPolicy": "{{ .Values.sidecar.imagePullPolicy }}",
        "command": ["python", "-u", "-c", PROGRAM.read_text()],
        "env": [
            {"name": "GRAFANA_URL", "value": GRAFANA_LOCAL_URL},
            _from_admin_secret("GF_SECURITY_ADMIN_USER", GRAFANA_ADMIN_USER_KEY),
            _from_admin_secret("GF_SECURITY_ADMIN_PASSWORD", GRAFANA_ADMIN_PASSWORD_KEY),
            {"name": "FLUX_GRAFANA_USER", "value": FLUX_GRAFANA_USER},
            _from_admin_secret("FLUX_GRAFANA_PASSWORD", GRAFANA_FLUX_PASSWORD_KEY),
            {"name": "FLUX_GRAFANA_READY_FILE", "value": READY_FILE},
        ],
        # A file, not a login: a probe never counts against Grafana's brute-force protection. Five
        # minutes for Grafana to start and the user to be made; then the kubelet restarts the container.
        "startupProbe": {"exec": {"command": ["python", "-c", _READY]}, "periodSeconds": 5, "failureThreshold": 60},
        "resources": {"requests": {"cpu": "5m", "memory": "24Mi"}, "limits": {"memory": "64Mi"}},
        # The chart's sidecars' securityContext (grafana 12.11.1 values.yaml sidecar.securityContext),
        # on a read-only root: the readiness file is on its own volume.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"name": CONTAINER, "mountPath": _RUN_DIR}],
    }


def flux_user_values() -> dict[str, Any]:
    """The grafana chart values adding the container and its volume."""
    return {
        "extraContainers": yaml.safe_dump([flux_user_container()], sort_keys=False, width=1_000_000),
        "extraContainerVolumes": [{"name": CONTAINER, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
    }
