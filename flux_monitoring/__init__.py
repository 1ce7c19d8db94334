"""flux-monitoring: production monitoring of the Flux controllers, as one Pulumi program.

The packages are the architecture; each imports only from those before it:

    flux       the upstream Flux releases (controllers, kinds, API versions, buckets) and the target
    config     the stack configuration: pydantic models, value forms, error translation, schema, names
    signals    what is scraped and watched, every query, the alert and recording rules, the dashboards
    manifests  pure builders of Kubernetes objects, Helm values and configs from validated settings
    resources  the Pulumi ComponentResources: the only package that imports pulumi

``tests/unit/test_architecture.py`` fails on an import against that order or on any circle;
docs/decisions/ says why the Flux release model sits beneath the configuration.
"""
