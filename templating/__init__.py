"""Chat template registry (see templating.registry)."""
