"""The deterministic sample monorepo of data/sample and larger generated tables."""
