"""Presentation: how results look in notebooks and reports, the report runner, the CLI."""
