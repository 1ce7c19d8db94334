"""How a settings model declares its keys: one base model and one way to declare a key, for every
model of the stack config (settings.py, alerting.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """A part of the stack config: unknown keys are errors, values are frozen, keys are read by
    their stack-file name (alias) or their Python name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def field(default: Any, alias: str | None, description: str, *examples: Any, **options: Any) -> Any:
    """A config key: its default, its name in the stack file, what it means and examples of it."""
    return Field(default, alias=alias, description=description, examples=list(examples), **options)


def required(alias: str | None, description: str, *examples: Any) -> Any:
    """A key that must be given: its form's ``missing`` text says so when it is not."""
    return field(None, alias, description, *examples, validate_default=True)
