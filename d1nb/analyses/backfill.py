"""Notebook 03's question on any project: which pending statement to batch, on what data, how.

The statement is the one named (a migration file) or else the pending UPDATE, DELETE or
INSERT … SELECT that writes the most D1 rows when the project's exports are replayed. It is
planned on a working copy of its service's export brought to the state just before its file
(the pending files before it replayed with D1's semantics), never on generated data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from d1nb.analyses.batching import BATCHABLE, FileBatches, batch_migration
from d1nb.analyses.impact import DEFAULT_BUDGET_MS, project_impacts
from d1nb.analyses.replay import pending_on, replay
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.migrations import MigrationFile
from d1nb.inputs.history import History, load_history
from d1nb.inputs.snapshots import load_snapshot
from d1nb.presentation.display import SQL, Note
from d1nb.presentation.report_inputs import missing_input
from d1nb.problems import InputError


@dataclass
class Backfill:
    """The batches planned for one migration file on its service's export."""

    service: str
    file: str
    export: str
    binding: str
    statements: list[FileBatches] = field(default_factory=list)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)
    blocked_by: str | None = None
    """A pending file before this one that fails on the export: `migrations apply` stops
    there, so this file cannot run until it is fixed (the plan is for the state before it)."""

    @property
    def main(self) -> FileBatches | None:
        """The planned statement with the most rows (the one the report draws)."""
        planned = [s for s in self.statements if s.plan is not None]
        return max(planned, key=lambda s: s.plan.rows, default=None)

    def table(self) -> pd.DataFrame:
        """Per batchable statement of the file: rows, how it is batched, or why it is not."""
        rows = []
        for s in self.statements:
            plan = s.plan
            rows.append(
                {
                    "line": s.statement.line,
                    "kind": s.statement.kind,
                    "table": plan.table if plan else s.statement.table,
                    "rows": plan.rows if plan else None,
                    "mode": plan.mode if plan else None,
                    "batch_size": plan.recommended if plan else None,
                    "batches": len(s.files) if s.files else None,
                    "predicted_p95_ms": round(plan.predicted_p95_ms(plan.recommended), 1)
                    if plan
                    else None,
                    "error": s.error or None,
                }
            )
        return pd.DataFrame(rows)

    def compare(self) -> pd.DataFrame:
        """The main statement's recommendation beside Cloudflare's fixed sizes."""
        return self.main.plan.compare() if self.main else pd.DataFrame()

    def statement_sql(self) -> SQL | Note:
        """The statement the report draws, as SQL."""
        if self.main is None:
            return Note("No statement was planned.")
        return SQL(self.main.statement.sql)

    def first_batch(self) -> SQL | Note:
        """The first batch file and the driver that runs them all, as the files hold them."""
        if self.main is None or not self.main.files:
            return Note("No batch file was written.")
        driver = self.main.files[0].parent / "run_batches.sh"
        parts = [f"-- {self.main.files[0].name}", self.main.files[0].read_text(encoding="utf-8")]
        if driver.is_file():
            parts += [f"# {driver.name}", driver.read_text(encoding="utf-8")]
        return SQL("\n".join(parts))


def _find_file(history: History, migration: str) -> tuple[str, MigrationFile]:
    target = (history.project.root / migration).resolve()
    for service, mdir in history.migration_dirs.items():
        for f in mdir.files:
            if f.path.resolve() == target:
                return service, f
    raise InputError(migration, 0, "not a migration file of any service of the project")


def _largest_pending(
    project: Path, snapshots: dict[str, str], budget_ms: float
) -> tuple[str, str] | None:
    """(service, file name) of the pending batchable statement writing the most rows."""
    impacts = project_impacts(project, snapshots, None, budget_ms)
    best = None
    for service, impact in impacts.items():
        part = impact.statements[impact.statements["kind"].isin(BATCHABLE)]
        for r in part.itertuples():
            key = (int(r.rows_written or 0), int(r.changes or 0))
            if key > (0, 0) and (best is None or key > best[0]):
                best = (key, service, r.file)
    return (best[1], best[2]) if best else None


def plan_backfill(
    project: str | Path,
    snapshots: dict[str, str],
    migration: str | None = None,
    *,
    scale_rows: int | None = None,
    budget_ms: float = DEFAULT_BUDGET_MS,
    margin: float = 0.5,
    out: str | Path | None = None,
) -> Backfill:
    """Plan batches for `migration` (a file relative to `project`) or, by default, for the
    pending file whose data statement writes the most rows on `snapshots` (service → export).
    With nothing pending that writes a row, a Backfill without statements says so. Batch files
    go to `out` (default: a scratch folder).
    """
    project = Path(project)
    history = load_history(project, use_git=False)
    if migration:
        service, f = _find_file(history, migration)
    else:
        if not snapshots:
            raise missing_input(
                project,
                "Batches are sized on real data: an export of each service's database.",
                "snapshots",
            )
        found = _largest_pending(project, snapshots, budget_ms)
        if found is None:
            return Backfill(
                "",
                "",
                "",
                "",
                notes=["no pending UPDATE, DELETE or INSERT … SELECT writes a row on the exports"],
            )
        service = found[0]
        f = next(x for x in history.migration_dirs[service].files if x.name == found[1])
    export = snapshots.get(service)
    if not export:
        raise missing_input(
            project,
            f"{f.name} is sized on an export of service {service}'s database, and none is given.",
            "snapshots",
        )
    mdir = history.migration_dirs[service]
    binding = history.binding(service)
    workdir = scratch_folder("d1nb-backfill-")
    snapshot = load_snapshot(project / export, workdir / "export", schema=mdir)
    pending = pending_on(snapshot, mdir, binding.migrations_table)
    if f.name not in pending:
        raise InputError(export, 0, f"the export already has {f.name}: give one from before it")
    before = pending[: pending.index(f.name)]
    result = replay(
        snapshot,
        mdir,
        before,
        workdir=workdir / "replay",
        ledger_table=binding.migrations_table,
        service=service,
    )
    notes = [f"{len(before)} pending file(s) before it replayed first: {', '.join(before)}"] * bool(
        before
    )
    if result.stopped_at:
        notes.append(f"the replay stopped at {result.stopped_at}: planned on the state before it")
    folder = Path(out) if out else workdir / "batches"
    statements = batch_migration(
        result.after.path,
        f.statements,
        folder,
        budget_ms=budget_ms,
        margin=margin,
        database_name=binding.binding,
        file=history.project.relpath(f.path),
        scale_to=scale_rows,
    )
    if not statements:
        notes.append("the file has no UPDATE, DELETE or INSERT … SELECT to batch")
    return Backfill(
        service,
        history.project.relpath(f.path),
        export,
        binding.binding,
        statements,
        folder,
        notes,
        result.stopped_at,
    )
