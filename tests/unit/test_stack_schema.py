"""The JSON Schema of the stack file and the README's config reference: generated, current, and true.

Editors check stack files against ``schema/stack-config.schema.json`` while users type; it must
accept what the program accepts (the shipped stacks) and reject what the program rejects,
wherever a schema can state the rule.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from flux_monitoring.config import schema
from flux_monitoring.config.settings import CONFIG_KEYS, Settings
from flux_monitoring.contract import PROJECT
from tests.support.pulumi_harness import ROOT
from tests.unit.test_bad_inputs import ACCEPTED, CATALOGUE, catalogue_id

STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
COMMITTED = json.loads(schema.SCHEMA_PATH.read_text())

# Catalogue keys whose rule spans several keys or needs the program: the schema cannot state them.
PROGRAM_ONLY = {
    "fluxNamespace": "the monitoring and Flux namespaces differ (two keys)",
    "gitops.branch|tag|semver|commit": "exactly one git ref (a rule across four keys)",
    "gitops.url": "required only with delivery: gitops",
    "alerting.route.default": "a receiver defined under alerting.receivers (a rule across keys)",
    "alertmanager.enabled": "needed by fluxEvents.alertmanager and alerting.receivers (a rule across keys)",
}
# Catalogue rules across the items of a list, by their expected text: the schema cannot state them.
PROGRAM_ONLY_RULES = {
    "remote write targets with distinct names": "unique by one key of each item",
    "data sources with distinct names": "unique by one key of each item",
    "at most one data source with default: true": "a count across items",
    "label keys whose Prometheus names differ": "a rewrite of each item compared across items",
}


def stack_file(path) -> dict:
    return yaml.safe_load(path.read_text())


def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(COMMITTED)
    return jsonschema.Draft202012Validator(COMMITTED)


def with_config(config: dict) -> dict:
    """The staging stack file with ``config`` (catalogue form: keys without the project prefix) set."""
    document = stack_file(ROOT / "stacks" / "Pulumi.staging.yaml")
    for key, value in config.items():
        document["config"][key if ":" in key else f"{PROJECT}:{key}"] = value
    return document


def test_the_committed_schema_is_the_one_the_models_generate():
    assert schema.SCHEMA_PATH.read_text() == schema.schema_text(), "stale: run python -m flux_monitoring.config.schema"


def test_the_readme_config_reference_is_the_one_the_models_generate():
    readme = schema.REFERENCE_PATH.read_text()
    assert schema.readme_with_reference(readme) == readme, "stale: run python -m flux_monitoring.config.schema"


def test_the_readme_reference_names_every_key_with_its_default():
    reference = schema.config_reference()
    for key in (
        "`kubernetes:context` | (required)",
        "`prometheus.retention` | `10d`",
        "`alerts.reconcileDuration.p99Seconds` | `469.2`",
        "`gitops.timeout` | `10m`",
    ):
        assert key in reference


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_every_shipped_stack_file_validates_against_the_schema(path):
    validator().validate(stack_file(path))


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_every_shipped_stack_file_names_the_schema_for_editors(path):
    first_line = path.read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/stack-config.schema.json"
    assert (path.parent / "../schema/stack-config.schema.json").resolve() == schema.SCHEMA_PATH


def test_every_key_has_a_description_and_an_example():
    config = COMMITTED["properties"]["config"]["properties"]
    assert set(config) == {"kubernetes:context", *(f"{PROJECT}:{key}" for key in CONFIG_KEYS)}

    def fields(node: dict, where: str):
        for key, sub in node.get("properties", {}).items():
            yield f"{where}.{key}", sub

    checked = 0
    for name, definition in [("config", COMMITTED["properties"]["config"]), *COMMITTED["$defs"].items()]:
        for key, field in fields(definition, name):
            assert field.get("description"), key
            assert field.get("examples"), key
            checked += 1
    assert checked > 50


def test_a_typo_in_a_project_key_is_flagged_and_other_namespaces_are_left_alone():
    errors = list(validator().iter_errors(with_config({"namepsace": "monitoring"})))
    assert errors and "namepsace" in errors[0].message
    validator().validate(with_config({"kubernetes:enableServerSideApply": True}))


def test_a_secret_is_accepted_only_in_its_encrypted_form():
    validator().validate(with_config({"grafanaAdminPassword": {"secure": "v1:AAAA"}}))
    assert list(validator().iter_errors(with_config({"grafanaAdminPassword": "in-plain-text-123"})))


# Cases of keys the schema checks, broken by a rule across keys: (key, value shown) -> the rule.
PROGRAM_ONLY_CASES = {
    ("fluxMetrics", '"legacy"'): "legacy needs a Flux release before 2.5 (fluxMetrics and fluxVersion)",
    ("fluxComponents", '["source-controller", "source-watcher"]'): "the controllers a release has (fluxVersion)",
    ("nodeExporterNamespace", '"monitoring"'): "differs from namespace and fluxNamespace (three keys)",
    ("chartVersion", '"89.0.0"'): "a known CRD chart, or operatorCrdsVersion, in direct delivery (three keys)",
}
SCHEMA_CASES = [
    case
    for case in CATALOGUE
    if case[1] not in PROGRAM_ONLY
    and (case[1], case[2]) not in PROGRAM_ONLY_CASES
    and case[3] not in PROGRAM_ONLY_RULES
]


@pytest.mark.parametrize("config, key, shown, expected", SCHEMA_CASES, ids=[catalogue_id(c) for c in SCHEMA_CASES])
def test_a_bad_config_the_program_rejects_is_rejected_by_the_schema(config, key, shown, expected):
    errors = list(validator().iter_errors(with_config(config)))
    assert errors, f"the schema accepts {config}"


def test_the_schema_leaves_to_the_program_only_rules_across_keys():
    assert len(SCHEMA_CASES) >= len(CATALOGUE) - 14 - len(
        PROGRAM_ONLY_RULES
    )  # + alerting.route.default, alertmanager.enabled
    assert {case[1] for case in CATALOGUE} >= set(PROGRAM_ONLY)


@pytest.mark.parametrize("config", ACCEPTED, ids=[json.dumps(c)[:60] for c in ACCEPTED])
def test_a_legal_edge_case_is_accepted_by_the_schema(config):
    validator().validate(with_config(config))


def test_pulumi_yaml_declares_the_models_defaults():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    fields = {field.alias or name: field for name, field in Settings.model_fields.items()}
    for key, spec in declared.items():
        assert spec["default"] == fields[key].default, key
