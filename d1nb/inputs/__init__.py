"""Inputs: exports loaded into verified working copies and DuckDB, and a project's migration
history (configs, files, ledgers of every environment) as one `History`."""
