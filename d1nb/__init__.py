"""d1nb: analyse Cloudflare D1 migrations in notebooks — histories, replays, impact, checks.

The public API is what `__all__` lists; everything else may change. Names are imported on
first use (PEP 562), so `d1nb --help` and `import d1nb` load neither pandas nor DuckDB.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "d1nb.version": ("__version__",),
    "d1nb.problems": (
        "InputError",
        "Problem",
    ),
    "d1nb.text": (
        "Note",
        "SQL",
    ),
    "d1nb.formats.config": (
        "Project",
        "bindings_frame",
        "load_project",
    ),
    "d1nb.formats.migrations": (
        "MigrationDir",
        "load_migration_dir",
        "migrations_frame",
        "parse_statements",
        "statements_frame",
    ),
    "d1nb.engine.d1engine": ("D1Engine",),
    "d1nb.engine.outcomes": (
        "D1Error",
        "MigrationOutcome",
    ),
    "d1nb.engine.evolution": (
        "SchemaEvolution",
        "schema_evolution",
    ),
    "d1nb.engine.scratch": ("scratch_folder",),
    "d1nb.formats.dumpformat": ("write_dump",),
    "d1nb.inputs.workingcopy": ("Snapshot",),
    "d1nb.inputs.dumploader": ("load_dump",),
    "d1nb.inputs.snapshots": ("load_snapshot",),
    "d1nb.inputs.ledgers": ("read_ledger",),
    "d1nb.inputs.history": (
        "History",
        "drift_frame",
        "load_history",
        "pending_frame",
        "pending_in",
        "project_migrations_frame",
        "project_statements_frame",
        "status_frame",
        "summary_frame",
        "history_to_duckdb",
        "write_lock",
    ),
    "d1nb.analyses.replay": (
        "ReplayResult",
        "replay",
    ),
    "d1nb.analyses.impact": (
        "Impact",
        "analyse_impact",
        "verdict_table",
    ),
    "d1nb.analyses.batch_files": ("batch_migration", "write_batches"),
    "d1nb.analyses.batching": (
        "BatchPlan",
        "plan_batches",
        "scale_table",
    ),
    "d1nb.analyses.diff": (
        "Diff",
        "compare_tables",
    ),
    "d1nb.analyses.checks": (
        "Audit",
        "audit",
        "check_snapshot",
    ),
    "d1nb.analyses.expectations": (
        "Expectation",
        "Invariants",
        "expect",
    ),
    "d1nb.analyses.lint": (
        "RULES",
        "lint",
        "lint_table",
    ),
    "d1nb.analyses.rollback": (
        "RollbackCheck",
        "Runbook",
        "time_travel_runbook",
        "verify_rollbacks",
    ),
    "d1nb.analyses.rollback_draft": ("draft_rollback",),
    "d1nb.presentation.project": (
        "Backfill",
        "audit_exports",
        "audit_replay",
        "draft_sql",
        "pick_service",
        "plan_backfill",
        "problems_frame",
        "project_cascades",
        "project_drafts",
        "project_durations",
        "project_failures",
        "project_failures_from_empty",
        "project_impacts",
        "project_notes",
        "project_rollback_losses",
        "project_rollback_table",
        "project_rollback_values",
        "project_rollbacks",
        "project_schema_changes",
        "project_statement_costs",
        "project_table_columns",
        "project_transitions",
        "service_export",
    ),
    "d1nb.presentation.report_inputs": (
        "MissingInputError",
        "ReportInputs",
        "report_inputs",
    ),
    "d1nb.presentation.display": (
        "Verdict",
        "setup_display",
    ),
    "d1nb.presentation.verdicts": (
        "audit_verdict",
        "backfill_verdict",
        "history_verdict",
        "impact_verdict",
        "rollback_verdict",
    ),
    "d1nb.presentation.plots": (
        "applied_timeline",
        "batch_curve",
        "column_changes_bar",
        "distribution_bars",
        "transitions_bar",
    ),
}
"""Each public name, by the module that defines it."""

_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'd1nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
