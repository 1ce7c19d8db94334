"""The Flux 2.x releases this program knows, as a monitoring tool sees them.

One table, per Flux minor release 2.0 to 2.9: the controllers (installed by default or extra),
the kinds that exist with the API version kube-state-metrics must watch (the storage version the
release serves), which kinds the controllers still export the legacy state gauges for, whether a
deleted object keeps a ``status="Deleted"`` series, and the reconcile duration histogram's bounds;
and what the program writes for it: each kind's apiVersion (the same storage version) and which
fields of the objects it writes that release's CRDs have.

Every fact was read from the upstream repositories; the comments cite the sections of the checked
release matrix (``../shared/upstream/flux/MATRIX.md``) that name the commit or tag it comes from.
tests/test_flux_release.py checks this table against ``matrix.yaml`` for every release.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TypeVar

_T = TypeVar("_T")

# Minor releases, oldest first. Newest known: v2.9.4 (2026-08-07, flux2 889be9d6cc8a; MATRIX §0).
MINORS = ("2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9")
NEWEST = MINORS[-1]


def minor_key(minor: str) -> tuple[int, int]:
    major, number = minor.split(".")
    return int(major), int(number)


def _since(minor: str, first: str) -> bool:
    return minor_key(minor) >= minor_key(first)


def _until(minor: str, last: str | None) -> bool:
    """``minor`` is ``last`` or older; None: never."""
    return last is not None and minor_key(minor) <= minor_key(last)


# -- controllers (MATRIX §1a, §2.2: flux2 pkg/manifestgen/install/options.go at every tag) ---------

SOURCE_CONTROLLER = "source-controller"
KUSTOMIZE_CONTROLLER = "kustomize-controller"
HELM_CONTROLLER = "helm-controller"
NOTIFICATION_CONTROLLER = "notification-controller"
IMAGE_REFLECTOR_CONTROLLER = "image-reflector-controller"
IMAGE_AUTOMATION_CONTROLLER = "image-automation-controller"
SOURCE_WATCHER = "source-watcher"

# `flux install` / `flux bootstrap` --components, unchanged from v2.0.0 to v2.9.4.
DEFAULT_CONTROLLERS = (SOURCE_CONTROLLER, KUSTOMIZE_CONTROLLER, HELM_CONTROLLER, NOTIFICATION_CONTROLLER)
# --components-extra, with the release that first ships each: source-watcher from v2.7.0
# (flux2 0a87ed5a "Add source-watcher to manifests").
# The first release whose helm-controller watches labelled valuesFrom Secrets (FluxRelease.watches_labelled_values).
WATCHED_VALUES_SINCE = "2.7"
EXTRA_CONTROLLERS = ((IMAGE_REFLECTOR_CONTROLLER, "2.0"), (IMAGE_AUTOMATION_CONTROLLER, "2.0"), (SOURCE_WATCHER, "2.7"))

# Each controller's release line (the major.minor of its image tag, ghcr.io/fluxcd/<controller>:v<line>.<patch>)
# in each Flux minor, MINORS order, None before it ships. Every patch of a Flux minor ships one line of each
# controller and no line spans two Flux minors, so any one controller's tag names the Flux minor running
# (flux2 manifests/bases/<controller>/kustomization.yaml at every tag v2.0.0 to v2.9.4, tabulated in
# ../shared/upstream/crds/flux/PROVENANCE.txt "Controller images per Flux release"; the Flux Operator's
# source-controller v1.2.5 for Flux 2.2.3 is on the 2.2 line too). tests/unit/test_flux_release.py
# checks every row of that table against this one.
CONTROLLER_LINES = {
    SOURCE_CONTROLLER: tuple(f"1.{n}" for n in range(10)),
    KUSTOMIZE_CONTROLLER: tuple(f"1.{n}" for n in range(10)),
    HELM_CONTROLLER: ("0.35", "0.36", "0.37", *(f"1.{n}" for n in range(7))),
    NOTIFICATION_CONTROLLER: tuple(f"1.{n}" for n in range(10)),
    IMAGE_REFLECTOR_CONTROLLER: (*(f"0.{n}" for n in range(29, 36)), "1.0", "1.1", "1.2"),
    IMAGE_AUTOMATION_CONTROLLER: (*(f"0.{n}" for n in range(35, 42)), "1.0", "1.1", "1.2"),
    SOURCE_WATCHER: (None,) * 7 + ("2.0", "2.1", "2.2"),
}

# Every controller's pod: label app=<controller>, metrics on container port http-prom (8080), no
# Service exposing it, unchanged in 2.0.0-2.9.4 (MATRIX §1a, §2.3: config/manager/deployment.yaml).
CONTROLLER_POD_LABEL = "app"
CONTROLLER_METRICS_PORT = "http-prom"

# Shards: a controller deployed again per shard, its pods labelled app=<controller>-<shard> (the Flux
# sharding guide: fluxcd/website content/en/flux/installation/configuration/sharding.md @ 6da0f383,
# kustomize nameSuffix "-shard1" and patches of spec/template/metadata/labels/app; the Flux Operator's
# spec.sharding: controlplaneio-fluxcd/flux-operator internal/builder/templates.go @ 17c6aea, value
# <controller>-{{.ShardName}}). The operator shards these five, and source-watcher from Flux 2.9
# (its `ge .VersionInfo.Minor 9` branch); notification-controller is never sharded.
SHARDED_CONTROLLERS = (
    SOURCE_CONTROLLER,
    KUSTOMIZE_CONTROLLER,
    HELM_CONTROLLER,
    IMAGE_REFLECTOR_CONTROLLER,
    IMAGE_AUTOMATION_CONTROLLER,
)
SOURCE_WATCHER_SHARDED_FROM = "2.9"
# A shard name as kustomize's nameSuffix or the operator appends it: a DNS label's characters.
SHARD_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


# -- kinds (MATRIX §1c: config/crd/bases at each controller tag; storage only changes at x.y.0) ---


@dataclass(frozen=True)
class FluxKind:
    """A Flux custom resource kind across releases.

    ``storage`` maps the first minor of each storage version to it; ``legacy_gauges_until`` is the
    last minor whose controller exports gotk_reconcile_condition/gotk_suspend_status for it;
    ``ready_until`` the last minor in which it has a Ready condition (None: always has one).
    ``revision`` maps the first minor of each place its revision is kept (a path in the object,
    for kube-state-metrics) to that path.
    """

    kind: str
    group: str
    plural: str
    controller: str
    storage: tuple[tuple[str, str], ...]
    legacy_gauges_until: str | None
    ready_until: str | None = None
    revision: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Recorded in gotk_reconcile_duration_seconds (MATRIX §1d): never for the 2.7 kinds.
    records_duration: bool = True
    # The first minor whose watched version has spec.suspend (None: never; ArtifactGenerator is
    # suspended by an annotation, ExternalArtifact not at all).
    suspend_from: str | None = "2.0"

    def storage_version(self, minor: str) -> str | None:
        """The version the release stores (and serves); None if the kind does not exist in it."""
        return _as_of(self.storage, minor)

    def revision_path(self, minor: str) -> tuple[str, ...] | None:
        return _as_of(self.revision, minor)


def _as_of(firsts: tuple[tuple[str, _T], ...], minor: str) -> _T | None:
    """The value of ``firsts`` (first minor, value; oldest first) in force in ``minor``."""
    found = None
    for first, value in firsts:
        if _since(minor, first):
            found = value
    return found


_ARTIFACT_REVISION = (("2.0", ("status", "artifact", "revision")),)
_SOURCE = "source.toolkit.fluxcd.io"
_NOTIFICATION = "notification.toolkit.fluxcd.io"
_IMAGE = "image.toolkit.fluxcd.io"

# Legacy gauges (MATRIX §1d, §2.4, call sites of RecordReadiness/RecordSuspend at each tag):
# helm-controller stopped in v0.37.0 (Flux 2.2, 0919fb4c), image-automation in v0.38.0 (Flux 2.3),
# the others in Flux 2.5 (fluxcd/flux2#5083); Alert and Provider became static objects without
# status in notification-controller v1.2.0 (Flux 2.2), so their gauges and Ready condition end in 2.1.
KINDS = (
    FluxKind(
        "Kustomization",
        "kustomize.toolkit.fluxcd.io",
        "kustomizations",
        KUSTOMIZE_CONTROLLER,
        (("2.0", "v1"),),
        "2.4",
        revision=(("2.0", ("status", "lastAppliedRevision")),),
    ),
    FluxKind(
        "HelmRelease",
        "helm.toolkit.fluxcd.io",
        "helmreleases",
        HELM_CONTROLLER,
        (("2.0", "v2beta1"), ("2.2", "v2beta2"), ("2.3", "v2")),
        "2.1",
        # The chart version applied. v2beta1 (Flux 2.0, 2.1) has no status.history: its
        # lastAppliedRevision is the chart version of the last successful release (helm-controller
        # v0.35.0 internal/controller/helmrelease_controller.go reconcileRelease: revision :=
        # chart.Metadata.Version; api/v2beta1/helmrelease_types.go HelmReleaseReady). From v2beta2
        # (Flux 2.2) status.history[0] is the current release and lastAppliedRevision is deprecated
        # (../shared/upstream/crds/flux/2.2/helm.toolkit.fluxcd.io_helmreleases.yaml, v0.37.4), and v2
        # has no lastAppliedRevision (crds/flux/2.3, v1.0.1).
        revision=(("2.0", ("status", "lastAppliedRevision")), ("2.2", ("status", "history", "0", "chartVersion"))),
    ),
    FluxKind(
        "GitRepository",
        _SOURCE,
        "gitrepositories",
        SOURCE_CONTROLLER,
        (("2.0", "v1"),),
        "2.4",
        revision=_ARTIFACT_REVISION,
    ),
    FluxKind(
        "OCIRepository",
        _SOURCE,
        "ocirepositories",
        SOURCE_CONTROLLER,
        (("2.0", "v1beta2"), ("2.6", "v1")),
        "2.4",
        revision=_ARTIFACT_REVISION,
    ),
    FluxKind(
        "HelmRepository",
        _SOURCE,
        "helmrepositories",
        SOURCE_CONTROLLER,
        (("2.0", "v1beta2"), ("2.3", "v1")),
        "2.4",
        revision=_ARTIFACT_REVISION,
    ),
    FluxKind(
        "HelmChart",
        _SOURCE,
        "helmcharts",
        SOURCE_CONTROLLER,
        (("2.0", "v1beta2"), ("2.3", "v1")),
        "2.4",
        revision=_ARTIFACT_REVISION,
    ),
    FluxKind(
        "Bucket",
        _SOURCE,
        "buckets",
        SOURCE_CONTROLLER,
        (("2.0", "v1beta2"), ("2.4", "v1")),
        "2.4",
        revision=_ARTIFACT_REVISION,
    ),
    # New in 2.7 (source-controller v1.7.0, CRD shipped regardless of source-watcher): a status with
    # conditions and an artifact (api/v1/externalartifact_types.go @ source-controller 39b711b1,
    # 2026-07-02), no spec.suspend, no controller metrics.
    FluxKind(
        "ExternalArtifact",
        _SOURCE,
        "externalartifacts",
        SOURCE_CONTROLLER,
        (("2.7", "v1"),),
        None,
        revision=_ARTIFACT_REVISION,
        records_duration=False,
        suspend_from=None,
    ),
    # source-watcher's kind, in its own group; suspended by annotation, no gotk_* metrics (MATRIX §1c, §1e).
    FluxKind(
        "ArtifactGenerator",
        "source.extensions.fluxcd.io",
        "artifactgenerators",
        SOURCE_WATCHER,
        (("2.7", "v1beta1"),),
        None,
        records_duration=False,
        suspend_from=None,
    ),
    FluxKind(
        "Alert",
        _NOTIFICATION,
        "alerts",
        NOTIFICATION_CONTROLLER,
        (("2.0", "v1beta2"), ("2.2", "v1beta3")),
        "2.1",
        ready_until="2.1",
    ),
    FluxKind(
        "Provider",
        _NOTIFICATION,
        "providers",
        NOTIFICATION_CONTROLLER,
        (("2.0", "v1beta2"), ("2.2", "v1beta3")),
        "2.1",
        ready_until="2.1",
    ),
    FluxKind("Receiver", _NOTIFICATION, "receivers", NOTIFICATION_CONTROLLER, (("2.0", "v1"),), "2.4"),
    FluxKind(
        "ImageRepository",
        _IMAGE,
        "imagerepositories",
        IMAGE_REFLECTOR_CONTROLLER,
        (("2.0", "v1beta2"), ("2.7", "v1")),
        "2.4",
    ),
    FluxKind(
        "ImagePolicy",
        _IMAGE,
        "imagepolicies",
        IMAGE_REFLECTOR_CONTROLLER,
        (("2.0", "v1beta2"), ("2.7", "v1")),
        "2.4",
        # v1beta2 has no spec.suspend (crds/flux/2.0 to 2.6, image-reflector-controller v0.29.1 to
        # v0.35.2); v1 has (crds/flux/2.7, v1.0.4).
        suspend_from="2.7",
    ),
    FluxKind(
        "ImageUpdateAutomation",
        _IMAGE,
        "imageupdateautomations",
        IMAGE_AUTOMATION_CONTROLLER,
        (("2.0", "v1beta1"), ("2.3", "v1beta2"), ("2.7", "v1")),
        "2.2",
    ),
)

# -- gotk_reconcile_duration_seconds (MATRIX §1d, §2.6, Appendix B) ------------------------------
#
# fluxcd/pkg runtime/metrics: prometheus.ExponentialBucketsRange(10e-3, 1800, 10) in every Flux
# release from v2.0.0-rc.1 (pkg d19ab656, runtime/v0.33.0). The `le` texts are the controllers'
# exposition (strconv.FormatFloat 'g' -1); repr() of each float gives the same text. The top
# finite bound is 1799.9999999999986, not 1800.
DURATION_BUCKET_LE = (
    "0.01",
    "0.038363583488692544",
    "0.1471764538093883",
    "0.5646216173286169",
    "2.166090855590701",
    "8.309900738254731",
    "31.879757075478317",
    "122.30217221643493",
    "469.19495946736544",
    "1799.9999999999986",
)
DURATION_BUCKETS = tuple(float(le) for le in DURATION_BUCKET_LE)


def bound_text(bound: float) -> str:
    """A bucket bound as people read it, four significant digits: 122.3, 469.2, 1800."""
    return f"{bound:.4g}"


# What a ten-bucket histogram can say about an object: the share of its reconciles that took longer
# than a bound (1 - bucket{le=bound} / count) exactly; how long any took between two bounds, not at
# all (histogram_quantile interpolates a guess). So duration thresholds are bounds, named as people
# read them (bound_text) and mapped to the exact bound.
DURATION_THRESHOLDS = {float(bound_text(bound)): bound for bound in DURATION_BUCKETS}


def format_bound(value: float) -> str:
    """A float as Prometheus and the Go client write it, exactly (1799.9999999999986, not 1800)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class ReleaseKind:
    """A kind as one release has it."""

    kind: str
    group: str
    plural: str
    controller: str
    # The storage version: what kube-state-metrics must list and watch, and what the program writes
    # (for every kind it writes, the newest version the release serves and does not deprecate:
    # tests/unit/test_flux_objects.py reads that from each release's CRDs).
    version: str
    legacy_gauges: bool
    has_ready: bool
    records_duration: bool
    has_suspend: bool
    revision: tuple[str, ...] | None

    @property
    def api_version(self) -> str:
        """The apiVersion an object of this kind is written with in this release."""
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class FluxRelease:
    """One Flux minor release."""

    minor: str
    default_controllers: tuple[str, ...]
    extra_controllers: tuple[str, ...]
    kinds: tuple[ReleaseKind, ...]
    # A deleted object's condition series stay with status="Deleted" at 1 (runtime <= v0.41.0);
    # from 2.1 they are removed (pkg 60a95d81, runtime/v0.42.0). MATRIX §2.5.
    deleted_status: bool
    # helm-controller reconciles a HelmRelease as soon as a valuesFrom Secret or ConfigMap labelled
    # reconcile.fluxcd.io/watch: Enabled changes, from v1.4.0 (Flux 2.7): fluxcd/helm-controller main.go
    # GetWatchConfigsPredicate, docs/spec/v2/helmreleases.md "Reacting immediately to configuration
    # dependencies", v1.4.0 at 3db605b; neither at v1.3.0 (Flux 2.6, e47f47f). Before, a changed
    # Secret waits for the HelmRelease's interval.
    watches_labelled_values: bool
    # Fields of the objects the program writes that not every release's CRD has (below).
    health_check_exprs: bool
    drift_detection: bool

    # The controllers that can run as shards in this release (SHARDED_CONTROLLERS).
    sharded_controllers: tuple[str, ...] = ()

    def controller_lines(self) -> dict[str, str]:
        """controller -> the release line of its image tag in this release (CONTROLLER_LINES)."""
        index = MINORS.index(self.minor)
        return {c: CONTROLLER_LINES[c][index] for c in self.controllers}

    @property
    def controllers(self) -> tuple[str, ...]:
        return self.default_controllers + self.extra_controllers

    @property
    def exports_legacy_gauges(self) -> bool:
        return any(k.legacy_gauges for k in self.kinds)

    def kind(self, name: str) -> ReleaseKind:
        (found,) = [k for k in self.kinds if k.kind == name]
        return found

    def api_version(self, kind: str) -> str:
        """The apiVersion the program writes ``kind`` with for this release."""
        return self.kind(kind).api_version

    def kinds_of(self, controllers: tuple[str, ...] | list[str]) -> tuple[ReleaseKind, ...]:
        """The kinds whose CRDs the given controllers install."""
        return tuple(k for k in self.kinds if k.controller in controllers)


# -- fields the program writes that a release may lack (../shared/upstream/crds/flux/<minor>/) ----
#
# Kustomization v1 .spec.healthCheckExprs: first in kustomize-controller v1.5.x (crds/flux/2.5,
# v1.5.1 of Flux v2.5.1); absent from crds/flux/2.0 to 2.4 (v1.0.1 to v1.4.0).
HEALTH_CHECK_EXPRS_FROM = "2.5"
# HelmRelease .spec.driftDetection: first in v2beta2 (crds/flux/2.2, helm-controller v0.37.4 of Flux
# v2.2.3), and in v2; v2beta1, the only version of Flux 2.0 and 2.1 (v0.35.0, v0.36.2), lacks it.
DRIFT_DETECTION_FROM = "2.2"


def written_api_versions(kind: str) -> tuple[str, ...]:
    """Every apiVersion some release writes the Flux kind ``kind`` with, oldest first (none for another kind)."""
    return tuple(f"{k.group}/{version}" for k in KINDS if k.kind == kind for _, version in k.storage)


@cache
def flux_release(minor: str) -> FluxRelease:
    """The release ``minor`` ("2.0" to NEWEST); KeyError for another."""
    if minor not in MINORS:
        raise KeyError(minor)
    kinds = tuple(
        ReleaseKind(
            kind=k.kind,
            group=k.group,
            plural=k.plural,
            controller=k.controller,
            version=version,
            legacy_gauges=_until(minor, k.legacy_gauges_until),
            has_ready=k.ready_until is None or _until(minor, k.ready_until),
            records_duration=k.records_duration,
            has_suspend=k.suspend_from is not None and _since(minor, k.suspend_from),
            revision=k.revision_path(minor),
        )
        for k in KINDS
        if (version := k.storage_version(minor)) is not None
    )
    return FluxRelease(
        minor=minor,
        default_controllers=DEFAULT_CONTROLLERS,
        extra_controllers=tuple(name for name, first in EXTRA_CONTROLLERS if _since(minor, first)),
        kinds=kinds,
        deleted_status=minor == "2.0",
        sharded_controllers=SHARDED_CONTROLLERS
        + ((SOURCE_WATCHER,) if _since(minor, SOURCE_WATCHER_SHARDED_FROM) else ()),
        watches_labelled_values=_since(minor, WATCHED_VALUES_SINCE),
        health_check_exprs=_since(minor, HEALTH_CHECK_EXPRS_FROM),
        drift_detection=_since(minor, DRIFT_DETECTION_FROM),
    )
