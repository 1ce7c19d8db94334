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
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

from flux_monitoring.config.types import FORM_ERROR

# Errors pydantic raises for a value that should have been an object (a model).
_NOT_AN_OBJECT = ("model_type", "model_attributes_type", "dict_type")
# Errors of a tagged union (alerting receivers): the ``type`` is unknown or missing.
_UNION_TAG = ("union_tag_invalid", "union_tag_not_found")


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
    return next(
        (member for member in _members(annotation) if isinstance(member, type) and issubclass(member, BaseModel)), None
    )


def items_model_of(annotation: Any) -> type[BaseModel] | None:
    """The model of the items of a list key (``tuple[Model, ...]``), None for other keys."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (tuple, list):
        return model_of(typing.get_args(annotation)[0])
    return None


def structured_keys(model: type[BaseModel]) -> frozenset[str]:
    """The keys of ``model`` whose values are objects or lists of them: Pulumi hands those over as JSON text."""
    return frozenset(
        field.alias or name
        for name, field in model.model_fields.items()
        if model_of(field.annotation) is not None or items_model_of(field.annotation) is not None
    )


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _map_values(annotation: Any) -> tuple[type[BaseModel], ...]:
    """The models a ``dict[str, Model]`` (or a map of a tagged union of models) holds as values."""
    if typing.get_origin(annotation) is not dict:
        return ()
    value = typing.get_args(annotation)[1]
    if typing.get_origin(value) is typing.Annotated:
        value = typing.get_args(value)[0]
    return tuple(m for m in _members(value) if isinstance(m, type) and issubclass(m, BaseModel))


def _tagged(models: tuple[type[BaseModel], ...], tag: str) -> type[BaseModel] | None:
    """The member of a union tagged by its ``type`` literal (pydantic puts the tag in the error's loc)."""
    return next(
        (m for m in models if "type" in m.model_fields and tag in typing.get_args(m.model_fields["type"].annotation)),
        None,
    )


def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(a) for a in typing.get_args(annotation))


def _resolve(model: type[BaseModel], loc: Iterable[Any]) -> tuple[list[str], type[BaseModel] | None, bool]:
    """The key path as the stack file names it, the model that holds the last key's value (None
    when it is not an object), and whether the last key is a credential (a SecretStr field)."""
    path: list[str] = []
    current: type[BaseModel] | None = model
    values: tuple[type[BaseModel], ...] = ()  # set while the next part is a key of a map of models
    union: tuple[type[BaseModel], ...] = ()  # set while the next part may be a union's tag
    secret = False
    items: type[BaseModel] | None = None  # set while the next part is an index of a list of models
    for part in loc:
        if isinstance(part, int) and path:  # an item of a list key: remoteWrite[0]
            path[-1] += f"[{part}]"
            current, items = items, None
            continue
        part = str(part)
        if part == "[key]":  # pydantic's marker for a map key that is itself wrong
            continue
        if values:  # a map key (a receiver's name): then its model, or the union the tag picks from
            path.append(part)
            current = values[0] if len(values) == 1 else None
            union, values, secret = (values if len(values) > 1 else ()), (), False
            continue
        if current is None and union and (picked := _tagged(union, part)) is not None:
            current, union = picked, ()
            continue
        field = None
        if current is not None:
            field = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
        path.append(field.alias or part if field is not None else part)
        secret = field is not None and _holds_secret(field.annotation)
        values = _map_values(field.annotation) if field is not None else ()
        current = model_of(field.annotation) if field is not None else None
        items = items_model_of(field.annotation) if field is not None else None
    return path, current, secret


def _declares_secrets(model: type[BaseModel], seen: frozenset = frozenset()) -> bool:
    """Whether ``model`` (or any model below it) has credential fields of its own."""
    if model in seen:
        return False
    for field in model.model_fields.values():
        if _holds_secret(field.annotation):
            return True
        below = [m for m in (model_of(field.annotation), *_map_values(field.annotation)) if m is not None]
        if any(_declares_secrets(m, seen | {model}) for m in below):
            return True
    return False


def _shown(
    value: Any, key_path: list[str], secret_keys: frozenset[str], model: type[BaseModel], credential: bool
) -> str:
    """The value as the problem shows it. A secret key whose model declares its credentials
    (``alerting``) shows those as [secret] and its other fields plainly; any other secret key
    shows nothing."""
    if value is None:
        return "null"
    if isinstance(value, SecretStr) or credential:
        return "[secret]"
    top_key = key_path[0].split("[")[0] if key_path else None  # remoteWrite[0] -> remoteWrite
    if top_key in secret_keys:
        top = next((f for n, f in model.model_fields.items() if (f.alias or n) == top_key), None)
        top_model = model_of(top.annotation) if top is not None else None
        if top_model is None or not _declares_secrets(top_model) or _mentions_credentials(value):
            return "[secret]"
    return json.dumps(value)


def _mentions_credentials(value: Any) -> bool:
    """An object or list value may hold credentials below it: never shown from a secret key."""
    return isinstance(value, (dict, list))


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
                loc.extend(str(context["key"]).split("."))
                value = context.get("value")
            elif "value" in context:  # what may be shown of the value (a URL's credentials redacted)
                value = context["value"]
            path, _, credential = _resolve(model, loc)
        elif error["type"] == "extra_forbidden":
            path, _, credential = _resolve(model, loc)
            parent_path, parent, _ = _resolve(model, loc[:-1])
            where = f"of {'.'.join(parent_path)} " if parent_path else ""
            expected = f"no such key; valid keys {where}are {', '.join(_valid_keys(parent, model))}"
        elif error["type"] in _NOT_AN_OBJECT:
            path, holder, credential = _resolve(model, loc)
            expected = f"an object with keys {', '.join(_keys(holder))}" if holder else "an object"
        elif error["type"] in _UNION_TAG:
            path, _, credential = _resolve(model, loc)
            path, value = [*path, "type"], value.get("type") if isinstance(value, dict) else value
            expected = f"one of {', '.join(context.get('expected_tags', '').replace(chr(39), '').split(', '))}"
        else:  # not reached by the declared forms, each of which raises a FormError
            path, _, credential = _resolve(model, loc)
            expected = error["msg"]
        # A form may quote the key itself ({key}), e.g. in the command that sets it.
        expected = expected.replace("{key}", ".".join(path))
        problems.append(
            f"{'.'.join(path)}: got {_shown(value, path, secret_keys, model, credential)}; expected {expected}"
        )
    return problems


def _valid_keys(parent: type[BaseModel] | None, root: type[BaseModel]) -> list[str]:
    # The top level also holds kubernetes:context, which is not a key of the project's namespace.
    keys = _keys(parent) if parent is not None else []
    return [key for key in keys if ":" not in key] if parent is root else keys
