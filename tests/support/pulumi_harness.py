"""Runs the Pulumi program under mocks and records what `pulumi up` would create.

Config is handed over as the Pulumi CLI hands it: the project defaults from Pulumi.yaml,
then the stack file, every value as text (objects as JSON) under ``<project>:<key>``.
"""

from __future__ import annotations

import base64
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import set_root_resource

from flux_monitoring.config.stack_files import stack_config

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]


@dataclass
class Registered:
    """One resource registration, as the engine would receive it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    secret_inputs: set[str]  # dotted paths of the inputs sent as Pulumi secrets
    parent: str
    dependencies: list[str]
    protect: bool
    provider: str
    custom: bool
    alias_types: list[str] = field(default_factory=list)  # the types of its aliases (pulumi.Alias(type_=...))


@dataclass
class ProgramRun:
    resources: list[Registered] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


def mock_random_bytes(length: int) -> bytes:
    """What the mocked random.RandomBytes generates: fixed, so runs are repeatable."""
    return bytes(range(length))


def mock_random_password(name: str, length: int) -> str:
    """What the mocked random.RandomPassword ``name`` generates: its length, its own for each resource."""
    return f"Mock{name.replace('-', '')}{'x' * length}"[:length]


class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs back as outputs, the way a provider that accepts them would."""

    # The Helm revision a Release reports after `pulumi up`.
    release_revision = 1

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = mock_random_password(args.name, int(args.inputs.get("length", 32)))
        if args.typ == "random:index/randomBytes:RandomBytes":
            generated = mock_random_bytes(int(args.inputs["length"]))
            outputs["hex"], outputs["base64"] = generated.hex(), base64.b64encode(generated).decode()
        if args.typ == "kubernetes:helm.sh/v3:Release":
            # What the provider reports after an install (pulumi-kubernetes ReleaseStatus).
            outputs["status"] = {
                "name": args.inputs.get("name"),
                "namespace": args.inputs.get("namespace"),
                "revision": self.release_revision,
                "status": "deployed",
                "version": args.inputs.get("version"),
            }
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _unwrap_secrets(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Plain values, with the paths of the ones that arrived wrapped as secrets."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            secret_paths.add(path)
            return _unwrap_secrets(value["value"], path, secret_paths)
        return {k: _unwrap_secrets(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps each registration's options (parent, dependencies, protect, provider) for the tests."""

    def __init__(self, mocks: RecordingMocks, run: ProgramRun):
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            secret_paths: set[str] = set()
            inputs = _unwrap_secrets(rpc.deserialize_properties(request.object), "", secret_paths)
            self.run.resources.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=inputs,
                    secret_inputs=secret_paths,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    protect=request.protect,
                    provider=request.provider,
                    custom=request.custom,
                    alias_types=[alias.spec.type for alias in request.aliases if alias.HasField("spec")],
                )
            )
        return response


def run_program(
    config: dict[str, str], secret_keys: tuple[str, ...] = (), stack: str = "test", run: ProgramRun | None = None
) -> ProgramRun:
    """Evaluate __main__.py as `pulumi up` would and return what it registered and exported.

    Pass ``run`` to see what was registered even when the program raises.
    """
    run = run if run is not None else ProgramRun()
    mocks = RecordingMocks()
    set_root_resource(None)  # a fresh Stack for each run: set_mocks is process-global
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks, run))
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))

    @pulumi.runtime.test
    def evaluate():
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        outputs: dict[str, pulumi.Output] = pulumi.runtime.get_root_resource().outputs

        def record(values: list[Any]) -> None:
            names = list(outputs)
            run.exports.update(zip(names, values[: len(names)], strict=False))
            run.secret_exports.update(n for n, secret in zip(names, values[len(names) :], strict=False) if secret)

        exported = [pulumi.Output.from_input(value) for value in outputs.values()]
        secret_flags = [pulumi.Output.from_input(o.is_secret()) for o in exported]
        return pulumi.Output.all(*exported, *secret_flags).apply(record)

    evaluate()
    return run


def stack_settings(stack: str, password: str | None = None, overrides: dict[str, str] | None = None):
    """The validated settings of a shipped stack, as the program would read them, with further
    config ``overrides`` (``<project>:<key>`` -> text, as for run_program)."""
    from flux_monitoring.config.settings import load_settings
    from tests.support.alerting_examples import with_credentials

    config = {**stack_config(stack), **(overrides or {})}
    raw = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}
    raw.setdefault("cluster", stack)  # as the program does: the stack name
    secret_keys = set()
    if "alerting" in raw:  # as after the README's `pulumi config set --secret --path` commands
        raw["alerting"] = with_credentials(raw["alerting"])
        secret_keys.add("alerting")
    if password is not None:
        raw["grafanaAdminPassword"] = password
        secret_keys.add("grafanaAdminPassword")
    return load_settings(raw, secret_keys=secret_keys, kube_context=config.get("kubernetes:context"))
