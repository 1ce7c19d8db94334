"""The shipped stacks in either delivery mode, for tests that cover both.

gitops mode points at the Flux guide's own repository, at the last release that still has
manifests/monitoring (removed in Flux 2.3).
"""

from __future__ import annotations

import json

from flux_monitoring.config.settings import Settings
from tests.conftest import PROD_PASSWORD, run_stack
from tests.support.pulumi_harness import ProgramRun, stack_settings

GUIDE_URL = "https://github.com/fluxcd/flux2"
GUIDE_TAG = "v2.2.3"
GITOPS_CONFIG = {"url": GUIDE_URL, "tag": GUIDE_TAG}
GITOPS_OVERRIDES = {"flux-monitoring:delivery": "gitops", "flux-monitoring:gitops": json.dumps(GITOPS_CONFIG)}

# The shipped stacks but the spoke (tests of the fleet cover it).
STACKS = ("dev", "staging", "prod")
MODES = ("direct", "gitops")
MODES_AND_STACKS = [(mode, stack) for mode in MODES for stack in STACKS]


def password(stack: str) -> str | None:
    return PROD_PASSWORD if stack == "prod" else None


def _mode_overrides(mode: str, overrides: dict[str, str] | None) -> dict[str, str]:
    return {**(GITOPS_OVERRIDES if mode == "gitops" else {}), **(overrides or {})}


def run_mode(stack: str, mode: str, overrides: dict[str, str] | None = None) -> ProgramRun:
    """`pulumi up` of a shipped stack in ``mode``, with further config ``overrides``."""
    return run_stack(stack, _mode_overrides(mode, overrides), password=password(stack))


def settings_of(stack: str, mode: str, overrides: dict[str, str] | None = None) -> Settings:
    """The settings ``run_mode(stack, mode, overrides)`` runs with."""
    return stack_settings(stack, password(stack), _mode_overrides(mode, overrides))
