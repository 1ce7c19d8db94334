"""The stack configuration: what each key means, its form and default, and how it is read."""
