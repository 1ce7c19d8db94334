"""Finding the real Prometheus tools the signal tests run."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of ``name``; skips the test when it is missing, except in CI, where that fails it."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (Debian package: prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it")
    pytest.skip(reason)
