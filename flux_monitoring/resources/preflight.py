"""Looks at the cluster before anything is registered: a kube-prometheus-stack installed by someone else
stops `pulumi preview` and `pulumi up` (flux_monitoring/manifests/migration.py).

Only with ``adoptExistingObjects``: without it, a cluster that followed the Flux guide stops `pulumi up` at
its first object, the monitoring Namespace the guide created (AlreadyExists, pulumi-kubernetes 4.29.0+),
which everything else in the cluster waits for. Adopting the namespace removes that stop, so this one
replaces it, before any resource is registered.

Through kubectl on the stack's own context, because a Pulumi read (``Resource.get``) of an object that may
not exist fails the program instead of answering. kubectl and that context are prerequisites already
(README); without kubectl, or when the cluster does not answer, the check is skipped with a warning and the
Helm install's own error ("cannot re-use a name") remains the stop.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pulumi

from flux_monitoring.config.settings import RELEASE_NAME, Settings
from flux_monitoring.manifests.migration import (
    HELM_STORAGE_SELECTOR,
    ExistingRelease,
    decode_helm_release,
    release_conflict,
)

KUBECTL_TIMEOUT_SECONDS = 30
FLUX_HELM_RELEASES = "helmreleases.helm.toolkit.fluxcd.io"


class ExistingReleaseError(Exception):
    """A kube-prometheus-stack that this program did not install is in the way."""


def _kubectl(settings: Settings, *args: str) -> str:
    command = ["kubectl", "--context", settings.kube_context, "--namespace", settings.namespace, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"kubectl exited {done.returncode}")
    return done.stdout


def existing_release(settings: Settings) -> ExistingRelease:
    storage = json.loads(_kubectl(settings, "get", "secrets", "--selector", HELM_STORAGE_SELECTOR, "--output", "json"))
    # A cluster without Flux's CRDs has no HelmRelease: kubectl fails on the unknown resource type.
    try:
        flux = _kubectl(settings, "get", FLUX_HELM_RELEASES, RELEASE_NAME, "--ignore-not-found", "--output", "name")
    except OSError:
        flux = ""
    return ExistingRelease(
        flux_helm_release=bool(flux.strip()),
        revisions=tuple(decode_helm_release(item["data"]["release"]) for item in storage.get("items", [])),
    )


def check_existing_release(settings: Settings) -> None:
    """Raise ExistingReleaseError naming what is in the way; warn when the cluster cannot be asked."""
    if settings.delivery != "direct" or not settings.adopt_existing_objects:
        return
    if shutil.which("kubectl") is None:
        pulumi.log.warn("kubectl not found: not checking for a kube-prometheus-stack installed by someone else")
        return
    try:
        existing = existing_release(settings)
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as error:
        pulumi.log.warn(f"could not check for an existing kube-prometheus-stack release: {error}")
        return
    problem = release_conflict(settings, existing)
    if problem:
        raise ExistingReleaseError(problem)
