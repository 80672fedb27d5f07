"""Backfill impact: what pending migrations do to real data, what they cost, and a verdict.

Runs the replay engine with an `ImpactMeter`, which also keeps, for every UPDATE, the values
of the columns it sets before it runs, and compares them after: value transitions per column,
and per JSON path for JSON documents (`$.mood`: 'Happy' → 'happy').
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pandas as pd

from d1nb import d1
from d1nb.analyses.metering import Meter
from d1nb.analyses.replay import ReplayResult, replay
from d1nb.analyses.update_actions import UpdateActions
from d1nb.engine.evolution import schema_evolution
from d1nb.formats.migrations import MigrationDir, Statement
from d1nb.formats.sql.shapes import (
    columns_read,
    conflict_update_columns,
    pragma_switch,
    written_columns,
)
from d1nb.formats.sql.text import quote_ident
from d1nb.inputs.workingcopy import Snapshot

TOP_TRANSITIONS = 10
"""Transitions listed per column (and JSON path); the rest are summed as 'other'."""
MAX_JSON_ROWS = 200_000
"""Changed rows whose JSON documents are compared path by path (the rest are counted only)."""
DEFAULT_BUDGET_MS = 1000.0
"""How long one statement may hold the database (D1 runs one query at a time)."""
_MISSING = "(absent)"

TRANSITION_COLUMNS = ["file", "line", "table", "column", "path", "before", "after", "rows"]
VERDICTS = ("safe", "needs batching", "loses data", "fails")


def _show(value: object, width: int = 80) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _flatten(doc: object, path: str = "$") -> dict[str, object]:
    """Leaves of a JSON document by path ($.a.b, $.list[0])."""
    if isinstance(doc, dict):
        out: dict[str, object] = {}
        for key, value in doc.items():
            out.update(_flatten(value, f"{path}.{key}"))
        return out
    if isinstance(doc, list) and doc:
        out = {}
        for i, value in enumerate(doc):
            out.update(_flatten(value, f"{path}[{i}]"))
        return out
    return {path: doc}


def _json_leaf(value: object) -> str:
    return _MISSING if value is _MISSING else json.dumps(value, ensure_ascii=False)


@dataclass
class Dropped:
    """What a DROP TABLE or DROP COLUMN found: the table's rows, and per column it takes away
    (that held data when the file began) its non-NULL values."""

    kind: str
    table: str
    rows: int
    values: dict[str, int]
    not_copied: int = 0
    """Of a DROP TABLE whose rows earlier INSERT … SELECTs of the file copied into tables
    holding its key: the rows whose key none of those tables holds (a rebuild that filtered
    or ignored some)."""
    copied_to: tuple[str, ...] = ()
    transformed: dict[str, tuple[int, int, int, tuple[str, ...]]] = field(default_factory=dict)
    """Per column dropped that earlier UPDATEs of the file read into other columns of its
    table: (its values none of those columns holds as it was, its distinct values, the
    distinct values those columns hold for the same rows, the columns). Fewer distinct values
    kept than dropped: some are gone for good."""


class ImpactMeter(Meter):
    """A Meter that also records the value transitions of every statement that changes rows
    in place: UPDATEs, upserts and INSERT OR REPLACE."""

    def __init__(self, engine):
        super().__init__(engine)
        self.transitions: list[dict] = []
        self.changed_rows: dict[int, int] = {}
        """Per statement that changes rows in place: the rows whose values moved, and the
        rows an upsert or INSERT OR REPLACE added."""
        self.rows_changed = 0
        """Rows the file changed, each row once however many of its statements changed it
        (rows a statement changes in place are told apart by their identity)."""
        engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_changed")
        engine.conn.execute(
            "CREATE TEMP TABLE _d1nb_changed (tbl TEXT, k, PRIMARY KEY (tbl, k)) WITHOUT ROWID"
        )
        self.dropped: dict[int, Dropped] = {}
        self._columns_at_start = {
            t.lower(): {c[1].lower() for c in engine.columns(t)} for t in engine.tables()
        }
        self._renamed: dict[str, str] = {}
        """A table renamed in this file (lower-cased) → the name it had when the file began."""
        self._copies: list[tuple[str, str]] = []
        """(target, text) of the INSERT … SELECTs of this file that ran."""
        self._backfills: list[tuple[str, list[str], str]] = []
        """(table, columns set, text) of the UPDATEs of this file that ran."""
        self._broken_at_on: dict[tuple[str, str], int] | None = None
        self.forgotten: list[tuple[int, str, str, int]] = []
        """(line of a `PRAGMA defer_foreign_keys = off`, child, parent, rows): references
        broken since the pragma was turned on, which turning it off commits unchecked."""

    def _watched(self, s: Statement) -> tuple[list[str], list[str]]:
        """(columns whose values a statement may change, columns that identify a row).

        An UPDATE's SET list, an upsert's DO UPDATE SET list, or what an INSERT OR REPLACE
        writes (a replaced row that keeps its identity shows its old and new values). A row is
        its rowid, or a WITHOUT ROWID table's primary key (a row whose key changes is not
        followed)."""
        conn = self.engine.conn
        if not s.table or not conn.table_exists(None, s.table):
            return [], []
        if s.kind == "update":
            named = written_columns(s.sql) or []
        elif "upsert" in s.flags:
            named = conflict_update_columns(s.sql)
        elif "or_replace" in s.flags:
            named = written_columns(s.sql) or [c[1] for c in self.engine.columns(s.table)]
        else:
            return [], []
        by_name = {c[1].lower(): c[1] for c in self.engine.columns(s.table)}
        identity = self._identity(s.table)
        keys = {k.lower() for k in identity}
        watch = [by_name[c.lower()] for c in named if c.lower() in by_name]
        return [c for c in dict.fromkeys(watch) if c.lower() not in keys], identity

    def _identity(self, table: str) -> list[str]:
        """The columns that identify a row of `table`: its rowid, or a WITHOUT ROWID table's
        primary key."""
        if not self.engine.without_rowid(table):
            return ["rowid"]
        columns = sorted(self.engine.columns(table), key=lambda c: c[5])
        return [c[1] for c in columns if c[5]]

    @staticmethod
    def _identity_value(identity: list[str], alias: str = "") -> str:
        """A row's identity as one value, as the file's set of changed rows keeps it: a rowid
        as it is, a key of several columns joined."""
        if identity == ["rowid"]:
            return f"{alias}rowid"
        return " || char(31) || ".join(f"quote({alias}{quote_ident(k)})" for k in identity)

    def _record_drop(self, s: Statement) -> None:
        """Before a DROP TABLE or DROP COLUMN: the values it takes away that were there when
        the file began (a table or column the file itself made holds nothing of the past)."""
        if not self.engine.conn.table_exists(None, s.table):
            return
        at_start = self._columns_at_start.get(self._renamed.get(s.table.lower(), s.table.lower()))
        if at_start is None:
            return
        dropped = {c[1] for c in self.engine.columns(s.table)}  # ordinary: not generated
        if s.kind == "drop_column":
            dropped = {c for c in dropped if c.lower() == s.detail.lower()}
        dropped = sorted(c for c in dropped if c.lower() in at_start)
        counts = ", ".join(["count(*)"] + [f"count({quote_ident(c)})" for c in dropped])
        rows, *values = self.engine.conn.execute(
            f"SELECT {counts} FROM main.{quote_ident(s.table)}"
        ).fetchall()[0]
        self.dropped[s.index] = Dropped(
            s.kind, s.table, rows, dict(zip(dropped, values, strict=True))
        )
        if s.kind == "drop_table" and rows:
            self._rows_not_copied(self.dropped[s.index])
        for column in dropped if s.kind == "drop_column" else []:
            self._kept_transformed(self.dropped[s.index], column)

    def _kept_transformed(self, drop: Dropped, column: str) -> None:
        """For a column about to be dropped that earlier UPDATEs of the file read into other
        columns of its table (add, backfill, drop): how many of its values those columns do
        not hold as they were, and whether they tell its distinct values apart."""
        here = {c[1].lower(): c[1] for c in self.engine.columns(drop.table, generated=True)}
        into = []
        for table, sets, sql in self._backfills:
            read = columns_read(sql, table)
            if table.lower() == drop.table.lower() and (read is None or column.lower() in read):
                into += [here[c.lower()] for c in sets if c.lower() in here]
        into = [c for c in dict.fromkeys(into) if c.lower() != column.lower()]
        if not into:
            return
        t, col = f"main.{quote_ident(drop.table)}", quote_ident(column)
        held = " OR ".join(f"{col} IS {quote_ident(c)}" for c in into)
        keep = ", ".join(quote_ident(c) for c in into)
        changed, distinct = self.engine.conn.execute(
            f"SELECT count(*) FILTER (WHERE NOT ({held})), count(DISTINCT {col}) "
            f"FROM {t} WHERE {col} IS NOT NULL"
        ).fetchall()[0]
        (kept,) = self.engine.conn.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT {keep} FROM {t} WHERE {col} IS NOT NULL)"
        ).fetchall()[0]
        if changed:
            drop.transformed[column] = (changed, distinct, kept, tuple(into))

    def _rows_not_copied(self, drop: Dropped) -> None:
        """The rows of a table about to be dropped whose key is in none of the tables that
        earlier INSERT … SELECTs of the file copied it into. Claimed only when some rows are
        there and some are not: a key that the copy transforms matches none."""
        conn, table = self.engine.conn, drop.table
        columns = self.engine.columns(table)
        key = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]]
        targets = []
        for target, sql in self._copies:
            if target.lower() == table.lower() or not conn.table_exists(None, target):
                continue
            if columns_read(sql, table) == set():
                continue
            held = {c[1].lower() for c in self.engine.columns(target, generated=True)}
            if key and all(k.lower() in held for k in key):
                targets.append(target)
        if not targets:
            return
        absent = " AND ".join(
            f"NOT EXISTS (SELECT 1 FROM main.{quote_ident(t)} c WHERE "
            + " AND ".join(f"c.{quote_ident(k)} IS o.{quote_ident(k)}" for k in key)
            + ")"
            for t in targets
        )
        (missing,) = conn.execute(
            f"SELECT count(*) FROM main.{quote_ident(table)} o WHERE {absent}"
        ).fetchall()[0]
        if 0 < missing < drop.rows:
            drop.not_copied, drop.copied_to = missing, tuple(targets)

    def _broken_references(self) -> dict[tuple[str, str], int]:
        """Rows pointing at a parent row that is not there, per (child, parent); none told
        while a foreign key names a parent key no index backs (SQLite's "mismatch")."""
        try:
            rows = self.engine.conn.execute(
                'SELECT "table", parent, count(*) FROM pragma_foreign_key_check GROUP BY 1, 2'
            ).fetchall()
        except apsw.SQLError:
            return {}
        return {(child, parent): n for child, parent, n in rows}

    def _watch_deferral(self, s: Statement) -> None:
        """At `PRAGMA defer_foreign_keys = on`, the references already broken; at `= off`,
        those broken since: SQLite forgets them unchecked, and they commit."""
        switch = pragma_switch(s.detail, "defer_foreign_keys") if s.kind == "pragma" else None
        if switch and self._broken_at_on is None:
            self._broken_at_on = self._broken_references()
        elif switch is False and self._broken_at_on is not None:
            for (child, parent), n in sorted(self._broken_references().items()):
                if n > self._broken_at_on.get((child, parent), 0):
                    new = n - self._broken_at_on.get((child, parent), 0)
                    self.forgotten.append((s.line, child, parent, new))
            self._broken_at_on = None

    def before(self, s: Statement) -> None:
        self._watch_deferral(s)
        if s.kind == "rename_table" and s.table and s.detail:
            self._renamed[s.detail.lower()] = self._renamed.get(s.table.lower(), s.table.lower())
        if s.kind in ("drop_table", "drop_column") and s.table:
            self._record_drop(s)
        self.watch, self.identity = self._watched(s)
        if self.watch:
            ids = ", ".join(f"{quote_ident(k)} AS _k{i}" for i, k in enumerate(self.identity))
            cols = ", ".join(f"{quote_ident(c)}" for c in self.watch)
            self.engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_before")
            self.engine.conn.execute(
                f"CREATE TEMP TABLE _d1nb_before AS SELECT {ids}, {cols} "
                f"FROM main.{quote_ident(s.table)}"
            )
        super().before(s)

    def after(self, s: Statement, changes: int, error: str | None) -> None:
        self._children_transitions: list[dict] = []
        super().after(s, changes, error)
        try:
            self._after_own(s, changes, error)
        finally:  # the statement's own table first, then the tables its keys reach
            self.transitions += self._children_transitions

    def _after_own(self, s: Statement, changes: int, error: str | None) -> None:
        if s.kind == "insert_select" and s.table and error is None:
            self._copies.append((s.table, s.sql))
        if s.kind == "update" and s.table and error is None:
            self._backfills.append((s.table, written_columns(s.sql) or [], s.sql))
        if not self.watch:
            if error is None:
                self.rows_changed += changes - self._changed_then_deleted(s)
            return
        if error is None:
            self._record(s)
        self.engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_before")

    def _changed_then_deleted(self, s: Statement) -> int:
        """After a DELETE: the rows it deleted that earlier statements of the file changed
        (counted then), taken off the file's set so that each row counts once."""
        conn = self.engine.conn
        if s.kind != "delete" or not s.table or not conn.table_exists(None, s.table):
            return 0
        table = s.table.lower()
        if not conn.execute(
            "SELECT 1 FROM temp._d1nb_changed WHERE tbl = ? LIMIT 1", (table,)
        ).fetchall():
            return 0
        identity = self._identity_value(self._identity(s.table))
        gone = f"tbl = ? AND k NOT IN (SELECT {identity} FROM main.{quote_ident(s.table)})"
        (count,) = conn.execute(
            f"SELECT count(*) FROM temp._d1nb_changed WHERE {gone}", (table,)
        ).fetchall()[0]
        conn.execute(f"DELETE FROM temp._d1nb_changed WHERE {gone}", (table,))
        return count

    def _record(self, s: Statement) -> None:
        conn = self.engine.conn
        same_row = " AND ".join(
            f"a.{quote_ident(k)} = b._k{i}" for i, k in enumerate(self.identity)
        )
        join = f"FROM temp._d1nb_before b JOIN main.{quote_ident(s.table)} a ON {same_row}"
        differs = " OR ".join(f"b.{quote_ident(c)} IS NOT a.{quote_ident(c)}" for c in self.watch)
        moved = self._record_rows(s, s.table, self.identity, self.watch, join, differs)
        if s.kind != "update":  # an upsert's or a REPLACE's new rows (a new identity) too
            identity = self._identity_value(self.identity, "a.")
            conn.execute(
                f"CREATE TEMP TABLE _d1nb_moved AS SELECT {identity} AS k "
                f"FROM main.{quote_ident(s.table)} a "
                f"WHERE NOT EXISTS (SELECT 1 FROM temp._d1nb_before b WHERE {same_row})"
            )
            moved += self._count_changed(s.table)
        self.changed_rows[s.index] = moved

    def _after_update_actions(self, s: Statement, kept: UpdateActions) -> None:
        """The rows of other tables an UPDATE's ON UPDATE actions rewrote are rows the file
        changed: counted once each, their keys' transitions shown under their own table."""
        own, self.transitions = self.transitions, []
        for child in kept.children:
            self._record_rows(
                s, child.table, child.identity, list(child.actions), child.join(), child.differs()
            )
            if child.identity != ["rowid"]:  # rows found under a new key only
                identity = self._identity_value(child.identity, "a.")
                self.engine.conn.execute(
                    f"CREATE TEMP TABLE _d1nb_moved AS SELECT {identity} AS k {child.arrived()}"
                )
                self._count_changed(child.table)
        self._children_transitions, self.transitions = self.transitions, own

    def _record_rows(
        self,
        s: Statement,
        table: str,
        identity: list[str],
        watch: list[str],
        join: str,
        differs: str,
    ) -> int:
        """The rows of `table` whose `watch` columns moved (kept rows `b` joined to the rows
        now there `a` by `join`): added to the file's changed rows, their values' transitions
        recorded; returns how many."""
        conn = self.engine.conn
        moved = f"SELECT {self._identity_value(identity, 'a.')} AS k {join} WHERE {differs}"
        conn.execute(f"CREATE TEMP TABLE _d1nb_moved AS {moved}")  # the join once
        count = self._count_changed(table)
        for col in watch:
            c = quote_ident(col)
            changed = f"WHERE b.{c} IS NOT a.{c}"
            documents = conn.execute(
                f"SELECT b.{c}, a.{c} {join} {changed} AND json_valid(b.{c}) "
                f"AND json_valid(a.{c}) AND json_type(b.{c}) IN ('object', 'array') "
                f"LIMIT {MAX_JSON_ROWS}"
            ).fetchall()
            total = conn.execute(f"SELECT count(*) {join} {changed}").fetchall()[0][0]
            if documents and len(documents) == total:  # JSON documents: compare by path
                self._json_paths(s, table, col, documents)
                continue
            pairs = conn.execute(
                f"SELECT b.{c}, a.{c}, count(*) {join} {changed} "
                "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
            ).fetchall()
            self._add(s, table, col, "", [(_show(b), _show(a), n) for b, a, n in pairs])
            if documents:
                self._json_paths(s, table, col, documents)
        return count

    def _count_changed(self, table: str) -> int:
        """The rows in temp `_d1nb_moved` (dropped after): added to the file's set of changed
        rows (those not there yet counted in `rows_changed`); returns how many there were."""
        conn = self.engine.conn
        (count,) = conn.execute("SELECT count(*) FROM temp._d1nb_moved").fetchall()[0]
        conn.execute(
            "INSERT OR IGNORE INTO temp._d1nb_changed SELECT ?, k FROM temp._d1nb_moved",
            (table.lower(),),
        )
        self.rows_changed += conn.changes()
        conn.execute("DROP TABLE temp._d1nb_moved")
        return count

    def _json_paths(self, s: Statement, table: str, col: str, documents: list[tuple]) -> None:
        by_path: dict[str, Counter] = {}
        for before, after in documents:
            old, new = _flatten(json.loads(before)), _flatten(json.loads(after))
            for path in old.keys() | new.keys():
                a, b = old.get(path, _MISSING), new.get(path, _MISSING)
                if a != b or type(a) is not type(b):
                    by_path.setdefault(path, Counter())[(_json_leaf(a), _json_leaf(b))] += 1
        for path in sorted(by_path):
            pairs = sorted(by_path[path].items(), key=lambda kv: (-kv[1], kv[0]))
            self._add(s, table, col, path, [(a, b, n) for (a, b), n in pairs])

    def _add(
        self, s: Statement, table: str, col: str, path: str, pairs: list[tuple[str, str, int]]
    ) -> None:
        rest = sum(n for _, _, n in pairs[TOP_TRANSITIONS:])
        shown = pairs[:TOP_TRANSITIONS] + ([("other", "other", rest)] if rest else [])
        for before, after, n in shown:
            self.transitions.append(
                {
                    "index": s.index,
                    "line": s.line,
                    "table": table,
                    "column": col,
                    "path": path,
                    "before": before,
                    "after": after,
                    "rows": n,
                }
            )


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
            f"{n} {child} rows left pointing at {parent} rows that are gone (PRAGMA "
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
                f"{n} {child} rows {how} by cascade"
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
            verdict, reason = "safe", f"{changed} rows changed, no cascade"
            if followed:
                tables = ", ".join(f"{child} {n}" for child, n in sorted(followed.items()))
                reason = (
                    f"{changed} rows changed, {sum(followed.values())} of them by ON UPDATE "
                    f"CASCADE ({tables}: their keys follow the parent), none deleted or nulled"
                )
            if rewritten:
                reason += f" ({rewritten} more rewritten with the values they had)"
            for text in [t for drop in drops[o.name].values() for t in _kept_transformed(drop)]:
                reason += f"; {text}"
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
            f"drop table {drop.table}: {drop.not_copied} of its {drop.rows} rows not copied "
            f"to {', '.join(drop.copied_to)}"
        ]
    read: set[str] = set()
    for sql in carriers:
        columns = columns_read(sql, drop.table)
        if columns is None:  # every column read
            return left
        read |= columns
    if drop.kind == "drop_table" and not read and drop.rows:
        return [f"drop table {drop.table} ({drop.rows} rows)"]
    merged = [
        f"drop column {drop.table}.{column}: {distinct - kept} of its {distinct} distinct "
        f"values cannot be told apart in {', '.join(into)}"
        for column, (_n, distinct, kept, into) in drop.transformed.items()
        if kept < distinct
    ]
    return (
        left
        + [
            f"drop column {drop.table}.{column} ({n} values)"
            for column, n in drop.values.items()
            if n and column.lower() not in read
        ]
        + merged
    )


def _kept_transformed(drop: Dropped) -> list[str]:
    """A dropped column's values that survive only transformed (each distinct value still
    told apart), in words: not lost, but not kept as they were either."""
    return [
        f"drop column {drop.table}.{column}: {changed} values kept only as transformed into "
        f"{', '.join(into)}"
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
