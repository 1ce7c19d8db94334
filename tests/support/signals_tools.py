"""Finding the real Prometheus tools the signal tests run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_tool(name: str, package: str = "prometheus") -> str:
    """Path of ``name``; skips the test when it is missing, except in CI, where that fails it."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (Debian package: {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it")
    pytest.skip(reason)


UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "upstream"


def upstream_file(relative: str) -> Path:
    """A file of ../shared/upstream (reference CRDs and chart defaults); skips when absent, except in CI."""
    path = UPSTREAM / relative
    if path.is_file():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{path} is missing; CI must provide ../shared beside the checkout")
    pytest.skip(f"{path} is absent: upstream reference checks skipped")
