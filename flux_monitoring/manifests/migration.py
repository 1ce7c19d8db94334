"""Whether a first `pulumi up` would collide with a kube-prometheus-stack someone else installed.

A cluster that followed the Flux guide (fluxcd/flux2-monitoring-example, monitoring/controllers/
kube-prometheus-stack/release.yaml at 7ab65dc) runs a Flux HelmRelease ``kube-prometheus-stack`` in
``monitoring``, whose Helm release has this program's release name. Direct delivery's Helm install
would fail on it ("cannot re-use a name that is still in use") after the namespace and Secrets were
already changed, and helm-controller would fight any upgrade. So the program looks first and stops,
naming the object and what to do (docs/migration.md). gitops delivery needs no stop: its rendered
HelmRelease has the same name and namespace, and helm-controller upgrades the existing release in place.

Helm keeps each revision of a release in a Secret labelled owner=helm, name=<release>, its
``release`` key the base64 of the gzipped JSON release, whose ``config`` holds the values given
(helm/helm pkg/storage/driver/secrets.go and util.go encodeRelease). A release this program made
carries its Grafana checksum annotation in those values, in either delivery.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

from flux_monitoring.config.settings import RELEASE_NAME, Settings
from flux_monitoring.manifests.helm_values import GRAFANA_ADMIN_CHECKSUM_ANNOTATION

HELM_STORAGE_SELECTOR = f"owner=helm,name={RELEASE_NAME}"
MIGRATION_DOC = "docs/migration.md"


@dataclass(frozen=True)
class ExistingRelease:
    """What the cluster holds under the release name, in the monitoring namespace."""

    flux_helm_release: bool  # a helm.toolkit.fluxcd.io HelmRelease of that name
    revisions: tuple[dict[str, Any], ...]  # the decoded Helm release of each storage Secret


def decode_helm_release(secret_data_release: str) -> dict[str, Any]:
    """A Helm storage Secret's ``data.release`` (base64 of Helm's own base64 of gzipped JSON)."""
    helm_encoded = base64.b64decode(secret_data_release)
    return json.loads(gzip.decompress(base64.b64decode(helm_encoded)))


def _made_here(release: dict[str, Any]) -> bool:
    annotations = ((release.get("config") or {}).get("grafana") or {}).get("podAnnotations") or {}
    return GRAFANA_ADMIN_CHECKSUM_ANNOTATION in annotations


def release_conflict(settings: Settings, existing: ExistingRelease) -> str | None:
    """Why `pulumi up` must not go on (None: nothing in the way)."""
    if settings.delivery != "direct":
        return None
    where = f"{settings.namespace}/{RELEASE_NAME}"
    if existing.flux_helm_release:
        return (
            f"a Flux HelmRelease {where} exists (the Flux guide's monitoring/controllers?): its helm-controller owns "
            f"the Helm release this program's direct delivery would install. Nothing was changed. Either set "
            f"delivery: gitops (the rendered HelmRelease takes it over in place), or remove the guide's "
            f"Kustomizations as {MIGRATION_DOC} describes, so Flux uninstalls it, then run `pulumi up` again."
        )
    foreign = [release for release in existing.revisions if not _made_here(release)]
    if foreign:
        newest = max(foreign, key=lambda release: release.get("version", 0))
        chart = ((newest.get("chart") or {}).get("metadata") or {}).get("version", "?")
        return (
            f"a Helm release {where} exists that this program did not install (revision {newest.get('version', '?')}, "
            f"chart {chart}). Nothing was changed. Uninstall it (`helm uninstall {RELEASE_NAME} "
            f"-n {settings.namespace}`; its CRDs stay) and run `pulumi up` again: {MIGRATION_DOC}."
        )
    return None
