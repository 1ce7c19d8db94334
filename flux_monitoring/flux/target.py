"""Which Flux the stack monitors and how its object metrics are collected.

``resolve_flux_target`` turns the raw config values ``fluxVersion``, ``fluxMetrics`` and
``fluxComponents`` into a ``FluxTarget`` (the release model, the metric source, the controllers
installed) and the warnings a user should see, or reports every problem as
(key, value given, form expected), the shape of the settings' errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flux_monitoring.flux.release import (
    MINORS,
    NEWEST,
    SHARD_PATTERN,
    FluxRelease,
    ReleaseKind,
    flux_release,
    minor_key,
)

RESOURCE_INFO = "resource-info"
FLUX_OPERATOR = "flux-operator"
LEGACY = "legacy"
METRIC_SOURCES = (RESOURCE_INFO, FLUX_OPERATOR, LEGACY)
DEFAULT_METRIC_SOURCE = RESOURCE_INFO
# The controllers stopped exporting the legacy gauges in Flux 2.5 (fluxcd/flux2#5083; MATRIX §2.4).
LEGACY_REMOVED_IN = "2.5"
# The oldest Flux the Flux Operator ships manifests for: 2.2.3 (flux-operator config/data/flux @ v0.58.1; MATRIX §2.1).
OPERATOR_FIRST_FLUX = "2.2"

# A Flux 2 minor ("2.9"), or a patch release of one ("2.9.4", "v2.9.4").
VERSION_PATTERN = r"^v?2\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$"
_VERSION = re.compile(VERSION_PATTERN)

VERSION_EXPECTED = (
    f"a Flux release from {MINORS[0]} to {NEWEST}, such as {NEWEST} "
    f"(a patch release such as {NEWEST}.4 is read as its minor; a newer 2.x is monitored as {NEWEST})"
)
METRICS_EXPECTED = (
    f"{RESOURCE_INFO} (kube-state-metrics), {FLUX_OPERATOR} (the Flux Operator's metrics) "
    f"or {LEGACY} (the controllers' gauges, Flux before {LEGACY_REMOVED_IN})"
)


class FluxTargetError(ValueError):
    """The problems found, each (config key, value given, form expected)."""

    def __init__(self, problems: list[tuple[str, Any, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{key}: {expected}" for key, _, expected in problems))


_SHARD = re.compile(f"^{SHARD_PATTERN}$")


def split_component(name: str, release: FluxRelease) -> tuple[str, str | None] | None:
    """(controller, shard) of a fluxComponents entry: a controller of ``release`` (shard None) or a
    shard of one, ``<controller>-<shard>`` as its pods' app label; None for neither."""
    if name in release.controllers:
        return name, None
    for controller in release.sharded_controllers:
        shard = name.removeprefix(f"{controller}-")
        if shard != name and _SHARD.match(shard):
            return controller, shard
    return None


@dataclass(frozen=True)
class FluxTarget:
    """The Flux a stack monitors: its release, the metric source and the controllers (and shards)
    that must be running.

    Every controller and shard of the release is scraped and every kind of the release watched,
    whatever ``components`` says: ``components`` only decides which ones FluxControllerDown
    expects to find.
    """

    release: FluxRelease
    metrics: str
    components: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[ReleaseKind, ...]:
        """Every kind of the release: a kind whose CRD is absent costs nothing to watch."""
        return self.release.kinds

    @property
    def required(self) -> tuple[tuple[str, str | None], ...]:
        """(controller, shard or None) of each entry of ``components``."""
        return tuple(split_component(name, self.release) for name in self.components)

    @property
    def invisible_kinds(self) -> tuple[str, ...]:
        """Kinds with a Ready condition whose state the legacy gauges no longer carry in this release."""
        if self.metrics != LEGACY:
            return ()
        return tuple(k.kind for k in self.kinds if k.has_ready and not k.legacy_gauges)


def _release_of(version: Any, problems: list, warnings: list) -> FluxRelease:
    if version is None:
        return flux_release(NEWEST)
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        problems.append(("fluxVersion", version, VERSION_EXPECTED))
        return flux_release(NEWEST)
    minor = f"2.{match.group(1)}"
    if minor_key(minor) > minor_key(NEWEST):
        warnings.append(
            f"fluxVersion {version} is newer than the newest Flux release flux-monitoring knows "
            f"({NEWEST}): it is monitored as Flux {NEWEST}; kinds or metrics added since are not"
        )
        return flux_release(NEWEST)
    return flux_release(minor)


def _components_of(components: Any, release: FluxRelease, problems: list) -> tuple[str, ...]:
    if components is None:
        return release.default_controllers
    known = release.controllers
    expected = (
        f"a list of the Flux {release.minor} controllers that must be running, each once, from {', '.join(known)}, "
        f"or a shard of {', '.join(release.sharded_controllers)} named as its pods' app label "
        f"(<controller>-<shard>, such as {release.sharded_controllers[1]}-shard1), "
        f"such as {json.dumps(list(release.default_controllers))}"
    )
    if not isinstance(components, list) or not components or not all(isinstance(c, str) for c in components):
        problems.append(("fluxComponents", components, expected))
        return release.default_controllers
    unknown = [c for c in components if split_component(c, release) is None]
    if unknown or len(set(components)) != len(components):
        later = [c for c in unknown if any(c in flux_release(m).controllers for m in MINORS)]
        if later:
            first = {c: next(m for m in MINORS if c in flux_release(m).controllers) for c in later}
            expected += "; " + ", ".join(f"{c} ships from Flux {m}" for c, m in first.items())
        problems.append(("fluxComponents", components, expected))
        return release.default_controllers
    # In the release's order, each controller's shards after it, so the same set always builds the same objects.
    return tuple(sorted(components, key=lambda c: (known.index(split_component(c, release)[0]), c)))


def resolve_flux_target(version: Any = None, metrics: Any = None, components: Any = None) -> FluxTarget:
    """The target for the config values (None: not set); raises FluxTargetError with every problem.

    ``components`` is the parsed fluxComponents value (a list of controller names).
    """
    problems: list[tuple[str, Any, str]] = []
    warnings: list[str] = []
    release = _release_of(version, problems, warnings)
    chosen = _components_of(components, release, problems)
    source = DEFAULT_METRIC_SOURCE if metrics is None else metrics
    if source not in METRIC_SOURCES:
        problems.append(("fluxMetrics", metrics, METRICS_EXPECTED))
        source = DEFAULT_METRIC_SOURCE
    elif source == LEGACY and minor_key(release.minor) >= minor_key(LEGACY_REMOVED_IN):
        problems.append(
            (
                "fluxMetrics",
                metrics,
                f"{RESOURCE_INFO} or {FLUX_OPERATOR} for Flux {release.minor}: its controllers no longer "
                f"export gotk_reconcile_condition and gotk_suspend_status (removed in Flux "
                f"{LEGACY_REMOVED_IN}), so {LEGACY} would show no object at all",
            )
        )
    if problems:
        raise FluxTargetError(problems)
    target = FluxTarget(release=release, metrics=source, components=chosen)
    if source == FLUX_OPERATOR and minor_key(release.minor) < minor_key(OPERATOR_FIRST_FLUX):
        warnings.append(
            f"fluxMetrics {FLUX_OPERATOR} on Flux {release.minor}: the Flux Operator installs Flux "
            f"{OPERATOR_FIRST_FLUX}.3 and later and reports the CRDs labelled "
            f"app.kubernetes.io/part-of=flux; objects of other CRDs are missing"
        )
    if missing := target.invisible_kinds:
        warnings.append(
            f"fluxMetrics {LEGACY} on Flux {release.minor}: the controllers no longer export "
            f"gotk_reconcile_condition and gotk_suspend_status for {', '.join(missing)}; their failures "
            f"and suspensions are missing from the dashboards and alerts. Use {RESOURCE_INFO} or "
            f"{FLUX_OPERATOR} to see them"
        )
    return FluxTarget(release=release, metrics=source, components=chosen, warnings=tuple(warnings))
