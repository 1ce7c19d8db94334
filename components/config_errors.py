"""pydantic's validation errors, told to the user in the stack config's own words.

The one place that turns them into problems of the form
``<key.path>: got <value as JSON, or [secret]>; expected <form, with an example>``: keys are
named as the stack file names them (camelCase aliases), unknown keys list the valid ones, and
pydantic's own wording never reaches the user.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Iterable

from pydantic import BaseModel, SecretStr

from components.config_types import FORM_ERROR

# Errors pydantic raises for a value that should have been an object (a model).
_NOT_AN_OBJECT = ("model_type", "model_attributes_type", "dict_type")


class SettingsError(ValueError):
    """Every problem found in a stack's configuration, reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation admits (``X | None`` -> X, None)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def model_of(annotation: Any) -> type[BaseModel] | None:
    return next((member for member in _members(annotation)
                 if isinstance(member, type) and issubclass(member, BaseModel)), None)


def structured_keys(model: type[BaseModel]) -> frozenset[str]:
    """The keys of ``model`` whose values are objects: Pulumi hands those over as JSON text."""
    return frozenset(field.alias or name for name, field in model.model_fields.items()
                     if model_of(field.annotation) is not None)


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _resolve(model: type[BaseModel], loc: Iterable[Any]) -> tuple[list[str], type[BaseModel] | None]:
    """The key path as the stack file names it, and the model that holds the last key's value
    (None when it is not an object)."""
    path: list[str] = []
    current: type[BaseModel] | None = model
    for part in loc:
        part = str(part)
        field = None
        if current is not None:
            field = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
        path.append(field.alias or part if field is not None else part)
        current = model_of(field.annotation) if field is not None else None
    return path, current


def _shown(value: Any, key_path: list[str], secret_keys: frozenset[str]) -> str:
    if value is None:
        return "null"
    if isinstance(value, SecretStr) or (key_path and key_path[0] in secret_keys):
        return "[secret]"
    return json.dumps(value)


def translate(errors: list[dict[str, Any]], model: type[BaseModel], secret_keys: frozenset[str]) -> list[str]:
    """One problem per pydantic error, in the order pydantic found them.

    ``secret_keys``: top-level keys whose values are never shown.
    """
    problems = []
    for error in errors:
        context = error.get("ctx") or {}
        loc = list(error["loc"])
        value = error.get("input")
        if error["type"] == FORM_ERROR:
            expected = context["expected"]
            if "key" in context:  # a check across fields names the key it is about
                loc.append(context["key"])
                value = context.get("value")
            elif "value" in context:  # what may be shown of the value (a URL's credentials redacted)
                value = context["value"]
            path, _ = _resolve(model, loc)
        elif error["type"] == "extra_forbidden":
            path, _ = _resolve(model, loc)
            parent_path, parent = _resolve(model, loc[:-1])
            where = f"of {'.'.join(parent_path)} " if parent_path else ""
            expected = f"no such key; valid keys {where}are {', '.join(_valid_keys(parent, model))}"
        elif error["type"] in _NOT_AN_OBJECT:
            path, holder = _resolve(model, loc)
            expected = f"an object with keys {', '.join(_keys(holder))}" if holder else "an object"
        else:  # not reached by the declared forms, each of which raises a FormError
            path, _ = _resolve(model, loc)
            expected = error["msg"]
        problems.append(f"{'.'.join(path)}: got {_shown(value, path, secret_keys)}; expected {expected}")
    return problems


def _valid_keys(parent: type[BaseModel] | None, root: type[BaseModel]) -> list[str]:
    # The top level also holds kubernetes:context, which is not a key of the project's namespace.
    keys = _keys(parent) if parent is not None else []
    return [key for key in keys if ":" not in key] if parent is root else keys
