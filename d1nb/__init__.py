"""d1nb: analyse Cloudflare D1 migrations in notebooks — histories, replays, impact, checks.

The public API is what `__all__` lists; everything else may change.
"""

from importlib.metadata import PackageNotFoundError, version

from d1nb.analyses.backfill import Backfill, plan_backfill
from d1nb.analyses.batching import (
    BatchPlan,
    batch_migration,
    plan_batches,
    scale_table,
    write_batches,
)
from d1nb.analyses.checks import Audit, Expectation, Rules, audit, check_snapshot, expect
from d1nb.analyses.diff import Diff, compare_tables
from d1nb.analyses.impact import Impact, analyse_impact
from d1nb.analyses.lint import RULES, lint, lint_table
from d1nb.analyses.replay import ReplayResult, replay
from d1nb.analyses.rollback import (
    RollbackCheck,
    Runbook,
    draft_rollback,
    project_rollbacks,
    time_travel_runbook,
    verify_rollbacks,
)
from d1nb.engine.d1engine import D1Engine, D1Error, MigrationOutcome
from d1nb.engine.evolution import SchemaEvolution, schema_evolution
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.config import Project, bindings_frame, load_project
from d1nb.formats.migrations import (
    MigrationDir,
    load_migration_dir,
    migrations_frame,
    parse_statements,
    statements_frame,
)
from d1nb.inputs.history import (
    History,
    load_history,
    read_ledger,
    status_frame,
    summary_frame,
    to_duckdb,
    write_lock,
)
from d1nb.inputs.snapshots import Snapshot, load_dump, load_snapshot, write_dump
from d1nb.presentation.report_inputs import MissingInputError, ReportInputs, report_inputs
from d1nb.problems import InputError, Problem, problems_frame

try:
    __version__ = version("d1nb")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"

__all__ = [
    "RULES",
    "Audit",
    "Backfill",
    "BatchPlan",
    "D1Engine",
    "D1Error",
    "Diff",
    "Expectation",
    "History",
    "Impact",
    "InputError",
    "MigrationDir",
    "MigrationOutcome",
    "MissingInputError",
    "Problem",
    "Project",
    "ReplayResult",
    "ReportInputs",
    "RollbackCheck",
    "Rules",
    "Runbook",
    "SchemaEvolution",
    "Snapshot",
    "__version__",
    "analyse_impact",
    "audit",
    "batch_migration",
    "bindings_frame",
    "check_snapshot",
    "compare_tables",
    "draft_rollback",
    "expect",
    "lint",
    "lint_table",
    "load_dump",
    "load_history",
    "load_migration_dir",
    "load_project",
    "load_snapshot",
    "migrations_frame",
    "parse_statements",
    "plan_backfill",
    "plan_batches",
    "problems_frame",
    "project_rollbacks",
    "read_ledger",
    "replay",
    "report_inputs",
    "scale_table",
    "schema_evolution",
    "scratch_folder",
    "statements_frame",
    "status_frame",
    "summary_frame",
    "time_travel_runbook",
    "to_duckdb",
    "verify_rollbacks",
    "write_batches",
    "write_dump",
    "write_lock",
]
