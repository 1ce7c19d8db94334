"""A stack's config read from the project's files, as `pulumi up -s <stack>` hands it over.

Project defaults from Pulumi.yaml, then stacks/Pulumi.<stack>.yaml, every value as text
(objects as JSON) under ``<project>:<key>``. Works offline, without the Pulumi CLI, so the
render and the tests see the same config as the program.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


class UnknownStackError(ValueError):
    pass


def config_text(value: Any) -> str:
    """A config value as the CLI passes it to the program."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in (root / "stacks").glob("Pulumi.*.yaml"))


def stack_config(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The config texts of ``stack``, as written in its files (secrets stay encrypted there)."""
    stack_file = root / "stacks" / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise UnknownStackError(
            f"no such stack: {stack_file} does not exist (stacks: {', '.join(stack_names(root)) or 'none'})"
        )
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    name = project["name"]
    config = {
        f"{name}:{key}": config_text(spec["default"])
        for key, spec in (project.get("config") or {}).items()
        if "default" in spec
    }
    for key, value in (yaml.safe_load(stack_file.read_text()).get("config") or {}).items():
        config[key if ":" in key else f"{name}:{key}"] = config_text(value)
    return config
