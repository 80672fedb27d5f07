"""Formats: what a project and wrangler hand over, read as text and never run (SQL, configs,
migration files, the export format, wrangler's other output, the lock file)."""
