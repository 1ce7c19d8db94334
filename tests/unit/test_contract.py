"""One contract for the program and the policy pack (flux_monitoring/contract).

The pack reads a generated copy, so the copy must be the contract word for word; the contract
imports nothing the pack's environment lacks; the duration parser reads each form exactly as
its consumer does; and every config path the pack reads is a key of the settings models.
"""

from __future__ import annotations

import ast
import re
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from flux_monitoring import contract
from flux_monitoring.config.settings import Settings
from flux_monitoring.contract.__main__ import POLICY_COPY, SOURCE, policy_copy
from tests.support.source_strings import string_literals

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_policy_pack_copy_is_the_contract_word_for_word():
    assert POLICY_COPY.read_text() == policy_copy(), (
        "policy/flux_contract.py differs from flux_monitoring/contract/__init__.py: "
        "run python -m flux_monitoring.contract --write-policy-copy"
    )
    assert policy_copy().endswith(SOURCE.read_text())


def test_the_contract_needs_only_the_standard_library():
    assert _imported(SOURCE) <= set(sys.stdlib_module_names) | {"__future__"}


def test_the_policy_pack_imports_nothing_of_the_program():
    for path in POLICY_DIR.glob("*.py"):
        assert "flux_monitoring" not in _imported(path), path.name


def test_the_program_and_the_pack_read_the_same_contract():
    sys.path.insert(0, str(POLICY_DIR))
    try:
        import flux_contract

        import flux_policies
    finally:
        sys.path.remove(str(POLICY_DIR))
    names = [name for name in vars(contract) if name.isupper()]
    assert names and all(getattr(flux_contract, name) == getattr(contract, name) for name in names)
    assert flux_policies.duration_seconds is flux_contract.duration_seconds
    assert flux_policies.STACK_KUSTOMIZATION == contract.STACK_KUSTOMIZATION


# -- the one duration parser ------------------------------------------------------------------------

PROMETHEUS_DURATIONS = [
    ("30d", 30 * 86400),
    ("1y", 365 * 86400),
    ("2w", 14 * 86400),
    ("12h30m", 45000),
    ("1h30m", 5400),
    ("5m", 300),
    ("100ms", 0.1),
    ("1m30s500ms", 90.5),
    ("0", 0),
    ("0s", 0),
]
# Prometheus' model.ParseDuration refuses these: fractions, upper case, no amount, units out of
# order or repeated, Go units it lacks, space.
NOT_PROMETHEUS_DURATIONS = ["1.5d", "15D", "", "d", "30m1h", "1h1h", "1us", " 5m", "5m ", "-5m"]
FLUX_DURATIONS = [("10m", 600), ("1h30m", 5400), ("1.5h", 5400), ("90s", 90), ("1m500ms", 60.5), ("30m1h", 5400)]
# Flux's CRD pattern: units up to hours, an amount before each.
NOT_FLUX_DURATIONS = ["1d", "1w", "", "0", "h", "1.h", "10 m"]


@pytest.mark.parametrize("text, seconds", PROMETHEUS_DURATIONS)
def test_a_prometheus_duration_reads_as_prometheus_reads_it(text, seconds):
    assert contract.duration_seconds(text) == pytest.approx(seconds)
    assert re.match(contract.PROMETHEUS_DURATION, text)


@pytest.mark.parametrize("text", NOT_PROMETHEUS_DURATIONS)
def test_what_prometheus_refuses_is_no_prometheus_duration(text):
    assert contract.duration_seconds(text) is None


@pytest.mark.parametrize("text, seconds", FLUX_DURATIONS)
def test_a_flux_duration_reads_as_go_reads_it(text, seconds):
    assert contract.duration_seconds(text, contract.FLUX_DURATION) == pytest.approx(seconds)


@pytest.mark.parametrize("text", NOT_FLUX_DURATIONS)
def test_what_flux_refuses_is_no_flux_duration(text):
    assert contract.duration_seconds(text, contract.FLUX_DURATION) is None


@pytest.mark.parametrize("value", [None, 30, 1.5, ["5m"]])
def test_a_value_that_is_not_text_is_no_duration(value):
    assert contract.duration_seconds(value) is None


# -- the config paths the pack reads ----------------------------------------------------------------


def _models(annotation: typing.Any) -> list[type[BaseModel]]:
    """The settings models a field's annotation holds (through Optional, unions and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models(argument)]


def _alias_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key path of ``model`` in the stack file's spelling, such as prometheus.retention."""
    paths = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        paths.add(path)
        for inner in _models(field.annotation):
            paths |= _alias_paths(inner, f"{path}.")
    return paths


CONFIG_PATHS = _alias_paths(Settings)


@pytest.mark.parametrize("path", contract.POLICY_CONFIG_PATHS)
def test_every_config_path_the_pack_reads_is_a_settings_key(path):
    assert path in CONFIG_PATHS


def test_an_unknown_or_misspelt_path_is_no_settings_key():
    assert {"prometheus.storage_size", "prometheus.storagesize", "grafana.ingress.tls", "grafanaPassword"}.isdisjoint(
        CONFIG_PATHS
    )


def _spelled_paths(source: str) -> list[str]:
    """Config paths written out in ``source``'s string literals: dotted key paths, and camelCase keys
    (snake_case, lower-case words and Helm-value keys are left to the reader)."""
    dotted = {path for path in CONFIG_PATHS if "." in path}
    camel = {key for path in CONFIG_PATHS for key in path.split(".") if re.search("[a-z][A-Z]", key)}
    found = []
    for node in string_literals(source):
        words = set(re.findall(r"[A-Za-z][A-Za-z.]*[A-Za-z]", node.value))
        found += sorted(words & (dotted | camel))
    return found


def test_the_pack_spells_no_config_path_itself():
    assert _spelled_paths((POLICY_DIR / "flux_policies.py").read_text()) == []


def test_a_config_path_spelled_in_the_pack_is_found():
    source = (
        '"""Reads prometheus.retention."""\n'
        'MESSAGE = "set prometheus.storageSize, such as 100Gi"\n'
        'KEY = "tlsSecretName"\n'
    )
    assert _spelled_paths(source) == ["prometheus.storageSize", "tlsSecretName"]
