"""d1nb: analyse Cloudflare D1 migrations in notebooks — histories, replays, impact, checks.

The public API is what `__all__` lists; everything else may change.
"""

from importlib.metadata import PackageNotFoundError, version

from .backfill import Backfill, plan_backfill
from .batching import BatchPlan, batch_migration, plan_batches, scale_table, write_batches
from .checks import Audit, Expectation, Rules, audit, check_snapshot, expect
from .config import Project, bindings_frame, load_project
from .diff import Diff, compare_tables
from .engine import D1Engine, D1Error, MigrationOutcome
from .evolution import SchemaEvolution, schema_evolution
from .history import (
    History,
    load_history,
    read_ledger,
    status_frame,
    summary_frame,
    to_duckdb,
    write_lock,
)
from .impact import Impact, analyse_impact
from .lint import RULES, lint, lint_table
from .migrations import (
    MigrationDir,
    load_migration_dir,
    migrations_frame,
    parse_statements,
    statements_frame,
)
from .problems import InputError, Problem, problems_frame
from .replay import ReplayResult, replay
from .report_inputs import MissingInputError, ReportInputs, report_inputs
from .rollback import (
    RollbackCheck,
    Runbook,
    draft_rollback,
    project_rollbacks,
    time_travel_runbook,
    verify_rollbacks,
)
from .scratch import scratch_folder
from .snapshots import Snapshot, load_dump, load_snapshot, write_dump

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
