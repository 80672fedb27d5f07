"""Replaying pending migration files on a copy of an export with D1's semantics, measuring
each statement (rows changed, cascades, D1's rows read and written); and the per-project
tables of the schema evolution (d1nb.engine.evolution) that the notebooks show.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pandas as pd
from tqdm import tqdm

from d1nb import d1
from d1nb.analyses.metering import Meter
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.evolution import (
    mark_knock_ons,
    unreadable_outcome,
)
from d1nb.engine.outcomes import MigrationOutcome
from d1nb.formats.migrations import MigrationDir
from d1nb.formats.sql.text import quote_ident, quote_literal
from d1nb.inputs.workingcopy import WORKING_SUFFIX, Snapshot, mark_working_copy, remove_working_copy

# -- replaying on a snapshot, with D1 metering ---------------------------------------------------

STATEMENT_COLUMNS = [
    "file",
    "index",
    "line",
    "kind",
    "table",
    "ok",
    "error",
    "changes",
    "cascade_deleted",
    "cascade_updated",
    "cascade_rewritten",
    "rows_read",
    "rows_written",
    "duration_ms",
    "plan",
    "sql",
]


@dataclass
class ReplayResult:
    """What replaying migrations on a snapshot did: per statement, per migration, after."""

    service: str
    before: Snapshot
    after: Snapshot
    outcomes: list[MigrationOutcome] = field(default_factory=list)
    statements: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=STATEMENT_COLUMNS)
    )
    schema_after: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)
    stopped_at: str | None = None
    ledger_table: str = d1.DEFAULT_MIGRATIONS_TABLE
    via: str = "apply"

    def migrations(self) -> pd.DataFrame:
        """Per migration: outcome, statements, rows changed, cascades, D1 rows, time."""
        rows = []
        for o in self.outcomes:
            part = self.statements[self.statements["file"] == o.name]
            cascades = sum(sum(d.values()) for d in part["cascade_deleted"])
            rows.append(
                {
                    "file": o.name,
                    "ok": o.ok,
                    "error": o.error,
                    "error_line": o.error_line or None,
                    "statements": len(part),
                    "changes": int(part["changes"].sum()),
                    "cascade_deleted": cascades,
                    "rows_read": int(part["rows_read"].sum()),
                    "rows_written": int(part["rows_written"].sum()),
                    "duration_ms": round(float(part["duration_ms"].sum()), 3),
                    "notes": "; ".join(o.notes),
                }
            )
        table = pd.DataFrame(
            rows,
            columns=[
                "file",
                "ok",
                "error",
                "error_line",
                "statements",
                "changes",
                "cascade_deleted",
                "rows_read",
                "rows_written",
                "duration_ms",
                "notes",
            ],
        )
        # a line number, blank where nothing failed (not a float column of 1.0, 2.0 …)
        return table.astype({"error_line": "Int64"})

    def cascades(self) -> pd.DataFrame:
        """Rows deleted, nulled or rewritten in other tables by foreign-key actions (ON DELETE,
        ON UPDATE), per statement."""
        rows = []
        for r in self.statements.itertuples():
            for child, n in r.cascade_deleted.items():
                rows.append(
                    {
                        "file": r.file,
                        "line": r.line,
                        "table": r.table,
                        "child": child,
                        "action": "deleted",
                        "rows": n,
                    }
                )
            for action, counts in (
                ("set null", r.cascade_updated),
                ("keys rewritten", r.cascade_rewritten),
            ):
                for child, n in counts.items():
                    rows.append(
                        {
                            "file": r.file,
                            "line": r.line,
                            "table": r.table,
                            "child": child,
                            "action": action,
                            "rows": n,
                        }
                    )
        return pd.DataFrame(rows, columns=["file", "line", "table", "child", "action", "rows"])

    def exact_metering(self) -> pd.DataFrame:
        """The same replay run through Miniflare: D1's own rows_read / rows_written beside the
        estimates, per statement (needs Node and `make node`)."""
        from d1nb.engine.miniflare import run_batches
        from d1nb.formats.dumpformat import dump_statements

        conn = apsw.Connection(str(self.before.path))
        try:
            setup_sql = [
                s for s in dump_statements(conn, loadable=True) if not s.startswith("PRAGMA")
            ]
            ledger = conn.table_exists("main", self.ledger_table)
        finally:
            conn.close()
        if self.via == "apply" and not ledger:
            # wrangler creates the ledger before it applies anything, and the replay's copy
            # has it: without it, D1 read 8 rows fewer and wrote 1 fewer for a RENAME
            setup_sql.insert(0, d1.LEDGER_DDL.format(table=quote_ident(self.ledger_table)))
        setup = [setup_sql[i : i + 500] for i in range(0, len(setup_sql), 500)]
        # wrangler appends each file's ledger row to its batch: an AUTOINCREMENT ledger
        # keeps a sqlite_sequence row that later schema scans read
        ledger_row = f"INSERT INTO {quote_ident(self.ledger_table)} (name) VALUES ({{}})"
        batches = [
            self.statements[self.statements["file"] == o.name]["sql"].tolist()
            + ([ledger_row.format(quote_literal(o.name))] if self.via == "apply" else [])
            for o in self.outcomes
        ]
        exact = run_batches(setup, batches)
        rows = []
        for outcome, measured in zip(self.outcomes, exact, strict=True):
            part = self.statements[self.statements["file"] == outcome.name]
            for est, d1_row in zip(part.itertuples(), measured, strict=False):
                rows.append(
                    {
                        "file": outcome.name,
                        "line": est.line,
                        "kind": est.kind,
                        "rows_read": est.rows_read,
                        "d1_rows_read": d1_row["rows_read"],
                        "rows_written": est.rows_written,
                        "d1_rows_written": d1_row["rows_written"],
                        "d1_error": d1_row["error"],
                    }
                )
        return pd.DataFrame(rows)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def _not_in_ledger(
    engine: D1Engine, mdir: MigrationDir, ledger_table: str, source: Path | None = None
) -> list[str]:
    applied = {r[1] for r in engine.applied_migrations(ledger_table, source)}
    return [f.name for f in mdir.files if f.name not in applied]


def pending_on(snapshot: Snapshot, mdir: MigrationDir, ledger_table: str) -> list[str]:
    """The files of `mdir` the snapshot's own ledger lacks, in wrangler's order: what
    `migrations apply` would run on that database."""
    with D1Engine(snapshot.path) as engine:
        return _not_in_ledger(engine, mdir, ledger_table, snapshot.source)


def replay(
    snapshot: Snapshot,
    mdir: MigrationDir,
    names: list[str] | None = None,
    *,
    workdir: str | Path | None = None,
    ledger_table: str = "d1_migrations",
    service: str = "",
    keep_going: bool = False,
    applied_at: str | None = None,
    meter: type[Meter] | None = None,
    via: str = "apply",
) -> ReplayResult:
    """Apply migration files to a copy of `snapshot` with D1's semantics, measuring each one.

    `names` picks the files (default: those not in the snapshot's own ledger, as `wrangler d1
    migrations apply` would). A failing file is rolled back and stops the replay, as wrangler
    does, unless `keep_going`. The snapshot itself is never modified. `via` is the path the
    files take to D1: "apply" (`migrations apply`) or "execute-file" (`execute --file`; see
    `D1Engine.apply_migration`).
    """
    workdir = Path(workdir) if workdir else snapshot.path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    stem = snapshot.path.name.removesuffix(WORKING_SUFFIX).removesuffix(".sqlite")
    copy = workdir / f"{stem}.replayed{WORKING_SUFFIX}"
    remove_working_copy(copy)
    shutil.copyfile(snapshot.path, copy)
    files = {f.name: f for f in mdir.files}
    rows: list[dict] = []
    result = ReplayResult(service, snapshot, snapshot, ledger_table=ledger_table, via=via)
    with D1Engine(copy) as engine:
        mark_working_copy(engine)
        if names is None:
            names = _not_in_ledger(engine, mdir, ledger_table, snapshot.source)
        # a bar on a terminal only (disable=None): a replay of a large export can take minutes
        for name in tqdm(names, desc="replaying", unit="file", disable=None, leave=False):
            f = files[name]
            file_meter = (meter or Meter)(engine)
            if f.text is None:
                outcome = unreadable_outcome(f)
            else:
                outcome = engine.apply_migration(
                    name,
                    f.statements,
                    ledger_table=ledger_table,
                    applied_at=applied_at,
                    meter=file_meter,
                    via=via,
                )
            rows += [{"file": name, **r} for r in file_meter.rows]
            result.outcomes.append(outcome)
            result.schema_after[name] = engine.schema()
            if not outcome.ok and not keep_going:
                result.stopped_at = name
                break
        mark_knock_ons(files, result.outcomes)
        counts = {
            t: engine.conn.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchall()[0][0]
            for t in engine.tables()
        }
    frame = pd.DataFrame(rows, columns=STATEMENT_COLUMNS)
    result.statements = frame
    result.after = Snapshot(
        snapshot.source, copy, counts, notes=[f"after replaying {', '.join(names)}"]
    )
    return result
