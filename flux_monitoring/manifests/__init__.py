"""Pure builders: Kubernetes objects, Helm values and configuration files from validated settings."""
