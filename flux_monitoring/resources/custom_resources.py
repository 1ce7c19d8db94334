"""Registers a custom resource from its manifest, as built by the pure manifest functions."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from flux_monitoring.flux.release import written_api_versions


def custom_resource(
    manifest: dict[str, Any], opts: pulumi.ResourceOptions, annotations: dict[str, str] | None = None
) -> k8s.apiextensions.CustomResource:
    """The manifest as a Pulumi resource named after it; ``annotations`` are added to its own."""
    metadata = dict(manifest["metadata"])
    if annotations:
        metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}
    # The type token names the apiVersion, which for some Flux kinds changes with fluxVersion (Alert
    # and Provider v1beta2 -> v1beta3 at Flux 2.2): aliased, it stays the same resource and is updated
    # in place, as pulumi-kubernetes' own types alias their older apiVersions (apps/v1 Deployment).
    kind = manifest["kind"]
    aliases = [
        pulumi.Alias(type_=f"kubernetes:{version}:{kind}")
        for version in written_api_versions(kind)
        if version != manifest["apiVersion"]
    ]
    return k8s.apiextensions.CustomResource(
        metadata["name"],
        api_version=manifest["apiVersion"],
        kind=kind,
        metadata=metadata,
        spec=manifest["spec"],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases)) if aliases else opts,
    )
