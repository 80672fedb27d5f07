"""Undoing a migration on D1, which has no rollback: the Time Travel runbook, and the
compensating migrations teams write by hand, verified on an export.

Cloudflare's Rules of D1: capture a Time Travel bookmark before a destructive migration. A
restore is in place and undoes every write since the bookmark, the application's too, so the
runbook takes the bookmark immediately before `migrations apply` and says what a restore costs.
Time Travel keeps 30 days of history on the paid plan, 7 on the free one.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import TOP_LEVEL_ENV, D1Binding
from .diff import compare_tables, records
from .display import code_html, printable, text_html
from .engine import D1Engine
from .history import History, load_history, status_frame
from .impact import Impact, verdict_table
from .migrations import MigrationDir, MigrationFile
from .replay import replay
from .scratch import scratch_folder
from .snapshots import (
    WORKING_SUFFIX,
    Snapshot,
    load_snapshot,
    load_sqlite,
    mark_working_copy,
    remove_working_copy,
)


@dataclass
class Step:
    """One environment's bookmark and restore commands, and the migrations they cover."""

    service: str
    environment: str
    covers: str
    info: str
    restore: str


@dataclass
class Runbook:
    """The commands to bookmark before, and restore after, the risky migrations."""

    steps: list[Step]
    note: str

    def text(self) -> str:
        parts = [
            f"{s.service} · {s.environment}: {s.covers}\n"
            f"  before `wrangler d1 migrations apply`, bookmark (keep what it prints):\n"
            f"    {s.info}\n  to undo, restore it (every write since is undone):\n"
            f"    {s.restore}"
            for s in self.steps
        ]
        return "\n\n".join([*parts, self.note])

    def _repr_html_(self) -> str:
        steps = "".join(
            f"<h3>{text_html(f'{s.service} · {s.environment}')}</h3><p>{text_html(s.covers)}</p>"
            "<p>Before <code>wrangler d1 migrations apply</code>, take a bookmark and keep what "
            f"it prints:</p>{code_html(s.info, 'sh')}<p>To undo, restore it (every write "
            f"since, the application's too, is undone):</p>{code_html(s.restore, 'sh')}"
            for s in self.steps
        )
        return f'<div class="d1nb-runbook">{steps}<p>{text_html(self.note)}</p></div>'

    def __repr__(self) -> str:
        return printable(self.text())


def _wrangler(command: str, binding: D1Binding, history: History, extra: str = "") -> str:
    """The wrangler command line, each value shell-quoted (names may hold spaces, quotes)."""
    words = [
        *("npx", "wrangler", "d1", "time-travel", command, binding.database_name),
        *("--config", history.project.relpath(binding.config_path)),
    ]
    if binding.environment != TOP_LEVEL_ENV:
        words += ["--env", binding.environment]
    return shlex.join(words) + extra


def _what(row) -> str:
    return row.verdict if row.verdict != "safe" else f"rewrites {row.rows_changed:,} rows"


def time_travel_runbook(
    project: str | Path, impacts: dict[str, Impact], env: str | None = None
) -> Runbook:
    """For each service with a pending migration that loses or rewrites data: the bookmark to
    take before `migrations apply` in each environment where it is pending (or in `env`), and
    the restore."""
    history = load_history(project, use_git=False)
    table = verdict_table(impacts) if impacts else None
    if table is None or table.empty:
        return Runbook([], "No pending migration on the exports given: nothing to bookmark.")
    risky = table[(table["verdict"] != "safe") | (table["rows_changed"] > 0)]
    if risky.empty:
        return Runbook([], "No pending migration loses or rewrites data: no bookmark is needed.")
    status = status_frame(history)
    steps = []
    for service, part in risky.groupby("service", sort=True):
        pending = status[
            (status["service"] == service)
            & (status["status"] == "pending")
            & status["name"].isin(part["file"])
        ]
        envs = [env] if env else sorted(set(pending["environment"])) or ["production"]
        for e in envs:
            here = part[part["file"].isin(pending[pending["environment"] == e]["name"])]
            here = part if here.empty else here
            files = ", ".join(f"{r.file} ({_what(r)})" for r in here.itertuples())
            try:
                binding = history.binding(service, e)
            except KeyError:
                continue
            steps.append(
                Step(
                    service,
                    e,
                    files,
                    _wrangler("info", binding, history),
                    _wrangler("restore", binding, history, " --bookmark=BOOKMARK"),
                )
            )
    if not steps:
        return Runbook([], "The risky migrations are pending in no environment with a D1 binding.")
    return Runbook(
        steps,
        "Time Travel keeps 30 days of history on the paid plan and 7 on the free one; a restore "
        "is in place and cannot be previewed, so export first (`wrangler d1 export … --remote`) "
        "if the writes since the bookmark matter.",
    )


# -- compensating migrations: found beside the migration, verified on an export ----------------

ROLLBACK_CONVENTIONS = (
    "{name}.rollback",
    "rollback/{stem}.sql",
    "rollback/{stem}.down.sql",
    "down/{stem}.sql",
    "down/{stem}.down.sql",
)
"""Where teams keep the compensating migration of `NAME.sql` (stem `NAME`), relative to the
migrations folder and, for the two subfolders, to the folder above it too. A `NAME.down.sql`
beside the migrations is not one: wrangler applies every `*.sql` there as a migration, so it
runs right after `NAME.sql` (d1nb replays it as the migration it is)."""

VERDICTS = ("restores everything", "schema differs", "loses data", "fails", "no rollback")


def find_rollback(mdir: MigrationDir, f: MigrationFile) -> Path | None:
    """The compensating migration of `f` by the conventions above, or None."""
    name = f.name.split("/")[-1]
    stem = name.removesuffix(".sql")
    folder = f.path.parent
    for pattern in ROLLBACK_CONVENTIONS:
        rel = pattern.format(name=name, stem=stem)
        for base in (folder, folder.parent) if "/" in rel else (folder,):
            candidate = base / rel
            if candidate.is_file() and candidate.resolve().is_relative_to(
                mdir.path.resolve().parent
            ):
                return candidate
    return None


@dataclass
class RollbackCheck:
    """One migration replayed on an export, then its compensating migration: what came back."""

    file: str
    rollback: str | None
    verdict: str
    reason: str
    tables: pd.DataFrame = field(default_factory=pd.DataFrame)
    columns: pd.DataFrame = field(default_factory=pd.DataFrame)
    schema: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rollback": self.rollback,
            "verdict": self.verdict,
            "reason": self.reason,
            "tables": records(self.tables),
            "columns": records(self.columns),
            "schema": records(self.schema),
        }


def _apply_file(snapshot: Snapshot, path: Path, workdir: Path) -> tuple[Snapshot, str | None]:
    """A copy of `snapshot` with the SQL file at `path` run on it as a migration (foreign keys
    on, one transaction, no ledger row): the snapshot after, or the error."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / f"rolled-back{WORKING_SUFFIX}"
    remove_working_copy(copy)
    shutil.copyfile(snapshot.path, copy)
    with D1Engine(copy) as engine:
        mark_working_copy(engine)
        text = path.read_text(encoding="utf-8", errors="replace")
        outcome = engine.apply_migration(path.name, text, record=False)
    if not outcome.ok:
        return snapshot, f"line {outcome.error_line}: {outcome.error}"
    return load_sqlite(copy, workdir / "after"), None


def compare_restored(
    before: Snapshot, restored: Snapshot, ledger: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per table, per column, schema left) of `restored` against the state `before`: rows
    restored, lost and added, values not restored; the ledger table left out."""
    tables = sorted(t for t in before.row_counts if t != ledger)
    common = [t for t in tables if t in restored.row_counts]
    diff = compare_tables(before, restored, tables=common)
    rows = []
    for t in tables:
        n = before.row_counts[t]
        if t not in restored.row_counts:
            rows.append({"table": t, "rows": n, "restored": 0, "lost": n, "added": 0, "changed": 0})
            continue
        d = diff.tables[t]
        rows.append(
            {
                "table": t,
                "rows": n,
                "restored": d.unchanged,
                "lost": d.removed,
                "added": d.added,
                "changed": d.changed,
            }
        )
    for t in sorted(set(restored.row_counts) - set(before.row_counts) - {ledger}):
        n = restored.row_counts[t]
        rows.append({"table": t, "rows": 0, "restored": 0, "lost": 0, "added": n, "changed": 0})
    columns = diff.changed_columns()
    if not columns.empty:
        columns = columns.assign(
            values_not_restored=[
                int(before.row_counts.get(r.table, 0))
                if r.present == "before only"
                else int(r.changed if pd.notna(r.changed) else (r.nulls_gained or 0))
                for r in columns.itertuples()
            ]
        )[["table", "column", "present", "values_not_restored"]]
        columns = columns[(columns["values_not_restored"] > 0) | (columns["present"] != "both")]
    schema = diff.schema
    if not schema.empty:
        schema = schema[schema["name"] != ledger].reset_index(drop=True)
    return pd.DataFrame(rows), columns.reset_index(drop=True), schema


def verify_rollbacks(
    project: str | Path,
    service: str,
    snapshot: str | Path | Snapshot,
    names: list[str] | None = None,
    workdir: str | Path | None = None,
) -> list[RollbackCheck]:
    """For each file of `names` (default: what the export's own ledger lacks; `snapshot` is a
    path relative to `project` or a loaded Snapshot), in order: the
    export brought to the state just before it, the file applied, then its compensating
    migration; the result compared with that state. Verdict per file: restores everything,
    schema differs (every row and value back), loses data (rows or values not back), fails
    (the migration or its rollback errors on this data), no rollback (none found)."""
    project = Path(project)
    history = load_history(project, use_git=False)
    mdir = history.migration_dirs[service]
    binding = history.binding(service)
    ledger = binding.migrations_table
    workdir = Path(workdir or scratch_folder("d1nb-rollback-"))
    export = (
        snapshot
        if isinstance(snapshot, Snapshot)
        else load_snapshot(project / snapshot, workdir / "export", schema=mdir)
    )
    with D1Engine(export.path) as engine:
        applied = {r[1] for r in engine.applied_migrations(ledger)}
    pending = [f.name for f in mdir.files if f.name not in applied]
    names = pending if names is None else names
    files = {f.name: f for f in mdir.files}
    checks = []
    state = export
    done: list[str] = []
    for name in names:
        f = files[name]
        step = workdir / f"{len(done):03d}"
        applied_run = replay(state, mdir, [name], workdir=step / "apply", ledger_table=ledger)
        found = find_rollback(mdir, f)
        shown = history.project.relpath(found) if found else None
        if not applied_run.ok:
            outcome = applied_run.outcomes[0]
            checks.append(
                RollbackCheck(
                    name,
                    shown,
                    "fails",
                    f"the migration fails here: line {outcome.error_line}: {outcome.error}",
                )
            )
            break  # wrangler stops here too
        if found is None:
            checks.append(
                RollbackCheck(
                    name,
                    None,
                    "no rollback",
                    "no compensating migration found (" + ", ".join(ROLLBACK_CONVENTIONS) + ")",
                )
            )
        else:
            restored, error = _apply_file(applied_run.after, found, step / "rollback")
            if error:
                checks.append(RollbackCheck(name, shown, "fails", f"the rollback fails: {error}"))
            else:
                tables, columns, schema = compare_restored(state, restored, ledger)
                lost = int(tables["lost"].sum() + tables["changed"].sum())
                values = int(columns["values_not_restored"].sum()) if not columns.empty else 0
                if lost or values or tables["added"].sum():
                    verdict = "loses data"
                    reason = (
                        f"{int(tables['lost'].sum()):,} rows not restored, "
                        f"{int(tables['changed'].sum()):,} rows left changed, "
                        f"{values:,} values not restored, {int(tables['added'].sum()):,} rows "
                        "left over"
                    )
                elif not schema.empty:
                    verdict, reason = (
                        "schema differs",
                        (
                            "every row and value is back, but the schema is not: "
                            + "; ".join(
                                f"{r.object} {r.name} {r.change}" for r in schema.itertuples()
                            )
                        ),
                    )
                else:
                    verdict, reason = "restores everything", "every row, value and object is back"
                reason += (
                    f" (the ledger still lists {name}: delete its row, or `migrations apply` "
                    "considers it applied)"
                )
                checks.append(RollbackCheck(name, shown, verdict, reason, tables, columns, schema))
        state = applied_run.after
        done.append(name)
    return checks


def rollback_table(checks: list[RollbackCheck]) -> pd.DataFrame:
    """One row per migration: its compensating migration, verdict and why."""
    return pd.DataFrame(
        [
            {"file": c.file, "rollback": c.rollback, "verdict": c.verdict, "reason": c.reason}
            for c in checks
        ],
        columns=["file", "rollback", "verdict", "reason"],
    )
