"""Checks Kubernetes objects against the schemas an API server would check them against.

Core types with kubernetes-validate (strict: unknown fields are errors), pinned to one
Kubernetes minor; custom resources with jsonschema against the ``openAPIV3Schema`` of the
upstream CRDs in ../shared/upstream/crds/ (the newest), or of one Flux release's CRDs in
../shared/upstream/crds/flux/<minor>/ (release_crd_schemas). CEL rules (``x-kubernetes-validations``)
are not evaluated: no CEL interpreter here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support.pulumi_harness import ProgramRun

# The oldest minor kubernetes-validate 1.37.0 ships schemas for: clusters lag behind releases.
KUBERNETES_VERSION = "1.34"

# Helm releases are not Kubernetes objects: Helm renders them in the cluster.
NOT_OBJECTS = ("kubernetes:helm.sh/",)

CrdSchemas = dict[tuple[str, str], tuple[dict[str, Any], bool]]


def is_patch(resource_type: str) -> bool:
    """A pulumi-kubernetes patch (`<Kind>Patch`): fields added by server-side apply to an object
    someone else owns (the chart's Prometheus, say), not an object of the program's own."""
    return resource_type.startswith("kubernetes:") and resource_type.endswith("Patch")


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A structural openAPIV3Schema as JSON Schema, as strict as the API server."""
    out = dict(schema)
    if "properties" in schema:
        out["properties"] = {name: _json_schema(sub) for name, sub in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _json_schema(schema["additionalProperties"])
    elif ("properties" in schema or schema.get("type") == "object") and not schema.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        # The API server prunes a field its structural schema does not specify (an object without
        # properties keeps none): a mistyped or unknown one would vanish silently.
        out.setdefault("additionalProperties", False)
    if "items" in schema:
        out["items"] = _json_schema(schema["items"])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema:
            out[key] = [_json_schema(sub) for sub in schema[key]]
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    return out


def object_schema(open_api: dict[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as JSON Schema; ``metadata`` left to the ObjectMeta check."""
    schema = _json_schema(open_api)
    schema["properties"] = {**schema["properties"], "metadata": {"type": "object"}}
    return schema


@cache
def load_crd(path: Path) -> dict[str, Any]:
    """One CRD file, parsed once (libyaml: the CRDs of ten releases are 5 MB)."""
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def _schemas(paths: list[Path]) -> CrdSchemas:
    schemas: CrdSchemas = {}
    for spec in (load_crd(path)["spec"] for path in paths):
        for version in spec["versions"]:
            if version.get("served"):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schemas[key] = (object_schema(version["schema"]["openAPIV3Schema"]), spec["scope"] == "Namespaced")
    return schemas


def crd_schemas(upstream: Path) -> CrdSchemas:
    """(apiVersion, kind) -> (JSON Schema, namespaced) for every served version of the upstream CRDs."""
    return _schemas(sorted((upstream / "crds").glob("*.yaml")))


@cache
def release_crd_schemas(upstream: Path, minor: str) -> CrdSchemas:
    """The same for the Flux CRDs of release ``minor`` exactly as shipped (crds/flux/PROVENANCE.txt)."""
    paths = sorted((upstream / "crds" / "flux" / minor).glob("*.yaml"))
    assert paths, f"no CRDs of Flux {minor} under {upstream}"
    return _schemas(paths)


def validate(manifest: dict[str, Any], crds: CrdSchemas) -> None:
    """Raise a jsonschema ValidationError (or SchemaNotFoundError) unless the API would accept it."""
    key = (manifest["apiVersion"], manifest["kind"])
    if key not in crds:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        return
    schema, namespaced = crds[key]
    jsonschema.Draft202012Validator(schema).validate(manifest)
    # The CRD schema leaves metadata open; check it as the ObjectMeta it is.
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifest["metadata"]}, KUBERNETES_VERSION, strict=True
    )
    if namespaced and not manifest["metadata"].get("namespace"):
        raise jsonschema.ValidationError(f"{manifest['kind']} {manifest['metadata']['name']} needs a namespace")


def kubernetes_objects(run: ProgramRun) -> list[dict[str, Any]]:
    """Every Kubernetes object a program run registers, as the manifest the provider applies."""
    return [
        r.inputs
        for r in run.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith(NOT_OBJECTS) and not is_patch(r.type)
    ]


def object_key(manifest: dict[str, Any]) -> tuple[str, str, str]:
    """What identifies an object in a cluster (the API group version aside)."""
    metadata = manifest["metadata"]
    return manifest["kind"], metadata.get("namespace", ""), metadata["name"]
