"""The Pulumi ComponentResources: each registers the objects a pure builder of ``manifests`` made."""
