from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.alerting_examples import with_credentials
from tests.support.pulumi_harness import PROJECT, ProgramRun, run_program, stack_config

TESTS = Path(__file__).resolve().parent
SHARED_UPSTREAM = TESTS.parent.parent / "shared" / "upstream"
# The tiers, by folder (tests/README.md); the markers are registered in pyproject.toml.
TIERS = ("unit", "servers")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.path).relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in one of tests/{{{','.join(TIERS)}}}/")
        item.add_marker(tier)


# A password as a stack would hold it: set with `pulumi config set --secret`.
PROD_PASSWORD = "S3cret-for-tests-only-7f3a9c"
PASSWORD_KEY = f"{PROJECT}:grafanaAdminPassword"


@pytest.fixture(scope="session")
def shared_upstream() -> Path:
    """../shared/upstream: upstream CRDs and chart defaults, beside the checkout."""
    if not SHARED_UPSTREAM.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_UPSTREAM} is missing; CI must provide ../shared beside the checkout")
        pytest.skip(
            f"{SHARED_UPSTREAM} is absent (a user's clone has no ../shared): "
            "upstream schema and chart-default checks skipped"
        )
    return SHARED_UPSTREAM


ALERTING_KEY = f"{PROJECT}:alerting"


def run_stack(
    stack: str,
    overrides: dict[str, str] | None = None,
    password: str | None = None,
    run: ProgramRun | None = None,
    secret: tuple[str, ...] = (),
) -> ProgramRun:
    """Evaluate the program for a shipped stack file, optionally with config overrides.

    The stack's alerting credentials are there, as after the README's `pulumi config set --secret
    --path` commands (so `alerting` is a secret key); ``secret`` names overrides held as secrets.
    """
    config = stack_config(stack)
    secret_keys = list(secret)
    if ALERTING_KEY in config:
        config[ALERTING_KEY] = with_credentials(config[ALERTING_KEY])
        if ALERTING_KEY not in (overrides or {}):
            secret_keys.append(ALERTING_KEY)
    config.update(overrides or {})
    if password is not None:
        config[PASSWORD_KEY] = password
        secret_keys.append(PASSWORD_KEY)
    return run_program(config, tuple(secret_keys), stack=stack, run=run)


@pytest.fixture
def staging_run() -> ProgramRun:
    return run_stack("staging")


@pytest.fixture
def prod_run() -> ProgramRun:
    return run_stack("prod", password=PROD_PASSWORD)
