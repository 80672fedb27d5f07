"""Backfill impact: what pending migrations do to real data, what they cost, and a verdict.

Runs the replay engine with an `ImpactMeter` (impact_meter.py), which keeps what each statement
did to the data, and judges each migration from it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from d1nb import d1
from d1nb.analyses.impact_meter import Dropped, ImpactMeter
from d1nb.analyses.replay import ReplayResult, replay
from d1nb.engine.evolution import schema_evolution
from d1nb.formats.migrations import MigrationDir
from d1nb.formats.sql.shapes import columns_read
from d1nb.formats.sql.text import shown
from d1nb.inputs.workingcopy import Snapshot

DEFAULT_BUDGET_MS = 1000.0
"""How long one statement may hold the database (D1 runs one query at a time)."""

TRANSITION_COLUMNS = ["file", "line", "table", "column", "path", "before", "after", "rows"]

VERDICTS = ("safe", "needs batching", "loses data", "fails")


MIGRATION_COLUMNS = [
    "file",
    "verdict",
    "reason",
    "rows_changed",
    "cascaded",
    "rows_read",
    "rows_written",
    "cost_usd",
    "duration_ms",
    "fails_only_on_data",
]


@dataclass
class Impact:
    """What pending migrations do to a snapshot: per statement, transitions, verdicts."""

    result: ReplayResult
    statements: pd.DataFrame
    transitions: pd.DataFrame
    migrations: pd.DataFrame
    budget_ms: float
    notes: list[str] = field(default_factory=list)

    def verdicts(self) -> pd.DataFrame:
        """One row per migration: verdict and why."""
        return self.migrations[["file", "verdict", "reason"]]


def _failing_only_on_data(mdir: MigrationDir, result: ReplayResult) -> set[str]:
    """Files that fail on the snapshot but pass when the history is replayed from empty."""
    failed = {o.name for o in result.outcomes if not o.ok}
    if not failed:
        return set()
    from_empty = schema_evolution(mdir)
    return {o.name for o in from_empty.outcomes if o.ok and o.name in failed}


def analyse_impact(
    snapshot: Snapshot,
    mdir: MigrationDir,
    names: list[str] | None = None,
    *,
    budget_ms: float = DEFAULT_BUDGET_MS,
    ledger_table: str = "d1_migrations",
    workdir: str | Path | None = None,
    service: str = "",
    via: str = "apply",
) -> Impact:
    """Replay `names` (default: what the snapshot's ledger lacks) and judge each migration.

    Verdicts, worst first: **fails** (a statement errors on this data), **loses data** (rows
    deleted or nulled by cascade, or a table or column dropped with values that no earlier
    statement copied), **needs batching** (a statement held the database longer than
    `budget_ms`, or risks D1's 30 s limit), **safe**.
    """
    last_meters: list[ImpactMeter] = []

    class _Recorder(ImpactMeter):
        def __init__(self, engine):
            super().__init__(engine)
            last_meters.append(self)

    result = replay(
        snapshot,
        mdir,
        names,
        workdir=workdir,
        ledger_table=ledger_table,
        service=service,
        keep_going=True,
        meter=_Recorder,
        via=via,
    )
    statements = result.statements.copy()
    changed, transitions = [], []
    meter_of = {o.name: m for o, m in zip(result.outcomes, last_meters, strict=True)}
    drops = {name: m.dropped for name, m in meter_of.items()}
    order = {
        (f, i): n
        for n, (f, i) in enumerate(zip(statements["file"], statements["index"], strict=True))
    }
    applied = [o.name for o in result.outcomes if o.ok]  # a failing file is rolled back whole
    carriers = statements[statements["kind"].isin(CARRIER_KINDS) & statements["file"].isin(applied)]

    def carriers_before(name: str, index: int) -> list[str]:
        """The statements replayed before this one that could have copied data elsewhere."""
        at = order[(name, index)]
        return [
            sql
            for f, i, sql in zip(carriers["file"], carriers["index"], carriers["sql"], strict=True)
            if order[(f, i)] < at
        ]

    for outcome, meter in zip(result.outcomes, last_meters, strict=True):
        outcome.notes += meter.untracked.values()
        transitions += [{"file": outcome.name, **t} for t in meter.transitions]
        changed += [
            meter.changed_rows.get(i)
            for i in statements[statements["file"] == outcome.name]["index"]
        ]
    statements["rows_changed"] = changed
    before_counts = snapshot.row_counts
    statements["table_rows"] = [before_counts.get(t) if t else None for t in statements["table"]]
    statements["pct_of_table"] = [
        round(100 * c / n, 2) if n else None
        for c, n in zip(statements["changes"], statements["table_rows"], strict=True)
    ]
    statements["cost_usd"] = [
        d1.price_usd(r, w)
        for r, w in zip(statements["rows_read"], statements["rows_written"], strict=True)
    ]
    statements["over_budget"] = statements["duration_ms"] > budget_ms
    statements["risks_timeout"] = statements["duration_ms"] > 0.5 * d1.QUERY_TIMEOUT_S * 1000
    only_on_data = _failing_only_on_data(mdir, result)
    stopped_at = None  # the first failing file: wrangler applies nothing after it
    rows = []
    for o in result.outcomes:
        part = statements[statements["file"] == o.name]
        lost = sum(sum(d.values()) for d in part["cascade_deleted"]) + sum(
            sum(d.values()) for d in part["cascade_updated"]
        )
        followed = Counter()  # rows whose keys ON UPDATE CASCADE rewrote: nothing lost
        for d in part["cascade_rewritten"]:
            followed.update(d)
        cascaded = lost + sum(followed.values())
        # rows whose values moved: an UPDATE's rows rewritten with the values they had are
        # SQLite changes (and D1 rows written), not rows changed
        changed = meter_of[o.name].rows_changed
        rewritten = int(part["changes"].sum() - part["rows_changed"].fillna(part["changes"]).sum())
        lost_drops = [
            text
            for index, drop in drops[o.name].items()
            for text in _lost(drop, carriers_before(o.name, index))
        ] + [
            f"{n:,} {child} rows left pointing at {parent} rows that are gone (PRAGMA "
            f"defer_foreign_keys = off at line {line} forgets the check, unchecked)"
            for line, child, parent, n in meter_of[o.name].forgotten
        ]
        if not o.ok:
            verdict = "fails"
            reason = o.failure + (
                f" (a knock-on: {o.knock_on_of} failed before it)"
                if o.knock_on_of
                else " (passes on an empty database: only real data makes it fail)"
                if o.name in only_on_data
                else ""
            )
        elif lost or lost_drops:
            verdict = "loses data"
            parts = [
                f"{n:,} {child} row{'' if n == 1 else 's'} {how} by cascade"
                for r in part.itertuples()
                for how, d in (("deleted", r.cascade_deleted), ("nulled", r.cascade_updated))
                for child, n in d.items()
            ]
            reason = "; ".join(parts + lost_drops)
        elif part["over_budget"].any() or part["risks_timeout"].any():
            slow = part[part["over_budget"]].iloc[0]
            verdict = "needs batching"
            reason = (
                f"line {slow.line} held the database {slow.duration_ms:.0f} ms here "
                f"(budget {budget_ms:.0f} ms); D1 is not faster"
            )
        else:
            verdict, reason = "safe", f"{changed:,} rows changed, no cascade"
            if followed:
                tables = ", ".join(f"{child} {n}" for child, n in sorted(followed.items()))
                reason = (
                    f"{changed:,} rows changed, {sum(followed.values()):,} of them by ON UPDATE "
                    f"CASCADE ({tables}: their keys follow the parent), none deleted or nulled"
                )
            if rewritten:
                reason += f" ({rewritten:,} more rewritten with the values they had)"
            for text in [t for drop in drops[o.name].values() for t in _kept_transformed(drop)]:
                reason += f"; {text}"
        if o.ok:
            # a DELETE is meant, but a verdict that says "rows changed" should not hide it
            for r in part[(part["kind"] == "delete") & (part["changes"] > 0)].itertuples():
                n = int(r.changes)
                reason += f"; line {r.line} deletes {n:,} {r.table} row{'' if n == 1 else 's'}"
            for table, (seq, top) in meter_of[o.name].counters_lowered.items():
                reason += (
                    f"; {table}'s AUTOINCREMENT counter falls from {seq:,} to {top:,}: ids "
                    f"{top + 1:,}–{seq:,}, given to rows since deleted, will be given again"
                )
        over = free_plan_excess(
            int(part["rows_read"].sum()), int(part["rows_written"].sum()), fails=not o.ok
        )
        if over:
            reason += f"; {over}"
        if stopped_at:
            reason += (
                f" (not reached: wrangler stops at {stopped_at}; judged on the export without it)"
            )
        elif not o.ok:
            stopped_at = o.name
        rows.append(
            {
                "file": o.name,
                "verdict": verdict,
                "reason": reason,
                "rows_changed": changed,
                "cascaded": int(cascaded),
                "rows_read": int(part["rows_read"].sum()),
                "rows_written": int(part["rows_written"].sum()),
                "cost_usd": round(float(part["cost_usd"].sum()), 6),
                "duration_ms": round(float(part["duration_ms"].sum()), 3),
                "fails_only_on_data": o.name in only_on_data and not o.knock_on_of,
            }
        )
    migrations = pd.DataFrame(rows, columns=MIGRATION_COLUMNS)  # columns even with none pending
    return Impact(
        result,
        statements,
        pd.DataFrame(transitions, columns=TRANSITION_COLUMNS),
        migrations,
        budget_ms,
    )


CARRIER_KINDS = ("insert_select", "insert", "update", "create_table")
"""Statements that may copy a table's values somewhere else before it or its column goes."""


def _lost(drop: Dropped, carriers: list[str]) -> list[str]:
    """What a DROP takes for good, in words: the table's rows when no earlier statement of the
    replay read it, else the rows its copies left behind (a rebuild that filtered or ignored
    some) and each column with values that none of them read (a rebuild that leaves a column
    out, a column dropped that was never copied)."""
    left = []
    if drop.not_copied:
        left = [
            f"drop table {drop.table}: {drop.not_copied:,} of its {drop.rows:,} rows not copied "
            f"to {', '.join(drop.copied_to)}"
        ]
    read: set[str] = set()
    for sql in carriers:
        columns = columns_read(sql, drop.table)
        if columns is None:  # every column read
            return left
        read |= columns
    if drop.kind == "drop_table" and not read and drop.rows:
        return [f"drop table {shown(drop.table)} ({drop.rows:,} rows)"]
    merged = [
        f"drop column {shown(drop.table, column)}: {distinct - kept:,} of its {distinct:,} "
        f"distinct values cannot be told apart in {', '.join(into)}"
        for column, (_n, distinct, kept, into) in drop.transformed.items()
        if kept < distinct
    ]
    return (
        left
        + [
            f"drop column {shown(drop.table, column)} ({n:,} values)"
            for column, n in drop.values.items()
            if n and column.lower() not in read
        ]
        + merged
    )


def _kept_transformed(drop: Dropped) -> list[str]:
    """A dropped column's values that survive only transformed (each distinct value still
    told apart), in words: not lost, but not kept as they were either."""
    return [
        f"drop column {shown(drop.table, column)}: {changed:,} values kept only as transformed "
        f"into {', '.join(into)}"
        for column, (changed, distinct, kept, into) in drop.transformed.items()
        if kept >= distinct
    ]


def free_plan_excess(rows_read: int, rows_written: int, fails: bool = False) -> str | None:
    """What a migration's rows exceed of the Free plan's daily allowance, or None. Since
    2026-09-01 D1 fails the queries past it until midnight UTC: the migration fails part-way.
    For a migration that `fails` anyway, only the figure (its statements before the failure)."""
    over = [
        f"{n:,} rows {what} exceed the daily {limit:,}"
        for n, what, limit in (
            (rows_written, "written", d1.FREE_ROWS_WRITTEN_PER_DAY),
            (rows_read, "read", d1.FREE_ROWS_READ_PER_DAY),
        )
        if n > limit
    ]
    if not over:
        return None
    if fails:
        return "before it fails, on the Free plan " + " and ".join(over)
    return "on the Free plan " + " and ".join(over) + " (it fails part-way; batch it across days)"


def verdict_table(impacts: dict[str, Impact]) -> pd.DataFrame:
    """Every migration of every service with its verdict, reason, rows and D1 cost."""
    frames = [i.migrations.assign(service=s) for s, i in impacts.items()]
    frame = pd.concat(frames, ignore_index=True)
    return frame[
        [
            "service",
            "file",
            "verdict",
            "reason",
            "rows_changed",
            "cascaded",
            "rows_read",
            "rows_written",
            "cost_usd",
        ]
    ]


def statement_costs(impact: Impact) -> pd.DataFrame:
    """Per statement: rows touched, share of the table, cascades, D1 rows and price."""
    s = impact.statements
    return s[
        [
            "file",
            "line",
            "kind",
            "table",
            "changes",
            "rows_changed",
            "pct_of_table",
            "rows_read",
            "rows_written",
            "cost_usd",
            "error",
        ]
    ].reset_index(drop=True)
