"""Registers a custom resource from its manifest, as built by the pure manifest functions."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def custom_resource(
    manifest: dict[str, Any], opts: pulumi.ResourceOptions, annotations: dict[str, str] | None = None
) -> k8s.apiextensions.CustomResource:
    """The manifest as a Pulumi resource named after it; ``annotations`` are added to its own."""
    metadata = dict(manifest["metadata"])
    if annotations:
        metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}
    return k8s.apiextensions.CustomResource(
        metadata["name"],
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=metadata,
        spec=manifest["spec"],
        opts=opts,
    )
