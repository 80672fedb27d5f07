"""The impact meter: a replay's Meter that also keeps what each statement did to the data.

For every statement that changes rows in place (UPDATE, upsert, INSERT OR REPLACE) it keeps
the values of the columns it sets before it runs and compares them after: value transitions
per column, and per JSON path for JSON documents (`$.mood`: 'Happy' → 'happy'); the rows the
file changed, each once; the rows ON UPDATE actions rewrote in other tables; what a DROP takes
away; the references a `PRAGMA defer_foreign_keys = off` leaves broken.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import apsw

from d1nb.analyses.kept_rows import KeptRows, identity_value
from d1nb.analyses.metering import Meter
from d1nb.analyses.update_actions import UpdateActions
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    classify,
    columns_read,
    conflict_update_columns,
    pragma_switch,
    written_columns,
)
from d1nb.formats.sql.text import quote_ident
from d1nb.problems import InputError

MAX_TRIGGER_TARGET_ROWS = 200_000
"""Rows of a table that triggers write kept aside to tell which rows they changed; a larger
table is left out (its rows are still billed in rows_written, not counted as rows changed)."""
TOP_TRANSITIONS = 10
"""Transitions listed per column (and JSON path); the rest are summed as 'other'."""
MAX_JSON_ROWS = 200_000
"""Changed rows whose JSON documents are compared path by path (the rest are counted only)."""
_MISSING = "(absent)"


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
        self.untracked: dict[str, str] = {}
        """Tables whose rows cannot be told apart (no name reaches their rowid) → why: each
        row written there counts as changed, with no transitions."""
        self._counters_at_start = engine.autoincrement_counters()
        self.counters_lowered: dict[str, tuple[int, int]] = {}
        """AUTOINCREMENT tables whose next id the file brings down (a rebuild copies the
        largest id left, not the counter): table → (counter before, largest id after). Ids
        between, once given to rows since deleted, are given again."""
        self.forgotten: list[tuple[int, str, str, int]] = []
        """(line of a `PRAGMA defer_foreign_keys = off`, child, parent, rows): references
        broken since the pragma was turned on, which turning it off commits unchecked."""

    def _identity(self, table: str) -> list[str] | None:
        """`D1Engine.row_identity` of `table`, or None (kept in `untracked`) when no name
        reaches its rowid: its rows are then counted by SQLite's changes, not followed."""
        try:
            return self.engine.row_identity(table)
        except InputError:
            self.untracked[table] = (
                f"rows of {table} are not followed one by one (columns named rowid, _rowid_ "
                "and oid hide its rowid, and it has no INTEGER PRIMARY KEY): each row a "
                "statement writes there counts as changed, and no value transitions are shown"
            )
            return None

    def _watched(self, s: Statement) -> list[str]:
        """The columns whose values a statement may change, compared row by row.

        An UPDATE's SET list, an upsert's DO UPDATE SET list, or what an INSERT OR REPLACE
        writes (a replaced row that keeps its identity shows its old and new values). A row is
        its rowid, or a WITHOUT ROWID table's primary key; an UPDATE that sets it (or the
        INTEGER PRIMARY KEY that is the rowid) moves rows it cannot follow: none watched, each
        row written counts as changed.
        """
        conn = self.engine.conn
        if not s.table or not conn.table_exists(None, s.table):
            return []
        if s.kind == "update":
            named = written_columns(s.sql) or []
        elif "upsert" in s.flags:
            named = conflict_update_columns(s.sql)
        elif "or_replace" in s.flags:
            named = written_columns(s.sql) or [c[1] for c in self.engine.columns(s.table)]
        else:
            return []
        by_name = {c[1].lower(): c[1] for c in self.engine.columns(s.table)}
        identity = self._identity(s.table)
        if identity is None:
            return []
        keys = {k.lower() for k in identity} | {(self.engine.rowid_alias(s.table) or "").lower()}
        if s.kind == "update" and keys & {c.lower() for c in named}:
            return []  # it moves rows to new keys: each row it writes counts as changed
        watch = [by_name[c.lower()] for c in named if c.lower() in by_name]
        return [c for c in dict.fromkeys(watch) if c.lower() not in keys]

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
            key, targets = self._copies_of(s.table)
            self._rows_not_copied(self.dropped[s.index], key, targets)
            self._copied_transitions(s, key, targets)
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

    def _copies_of(self, table: str) -> tuple[list[str], list[str]]:
        """The primary key of a table about to be dropped, and the tables earlier INSERT …
        SELECTs of the file copied it into that hold that key (a rebuild's new table)."""
        conn = self.engine.conn
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
        return key, targets

    def _rows_not_copied(self, drop: Dropped, key: list[str], targets: list[str]) -> None:
        """The rows of a table about to be dropped whose key is in none of the tables that
        earlier INSERT … SELECTs of the file copied it into. Claimed only when some rows are
        there and some are not: a key that the copy transforms matches none."""
        conn, table = self.engine.conn, drop.table
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

    def _copied_transitions(self, s: Statement, key: list[str], targets: list[str]) -> None:
        """The values a rebuild's copy changed on the way (`lower(kind)` in its INSERT …
        SELECT), row by row on the key, shown under the table's own name at its DROP TABLE."""
        here = {c[1].lower() for c in self.engine.columns(s.table)}
        for target in targets:
            held = {c[1].lower(): c[1] for c in self.engine.columns(target)}
            on = " AND ".join(f"a.{quote_ident(k)} IS b.{quote_ident(k)}" for k in key)
            join = f"FROM main.{quote_ident(s.table)} b JOIN main.{quote_ident(target)} a ON {on}"
            keys = {k.lower() for k in key}
            for col in [c[1] for c in self.engine.columns(s.table)]:
                if col.lower() in held and col.lower() in here and col.lower() not in keys:
                    self._column_transitions(s, s.table, held[col.lower()], join)

    def _broken_references(self) -> dict[tuple[str, str], int]:
        """Rows pointing at a parent row that is not there, per (child, parent); none told
        while a foreign key names a parent key no index backs (SQLite's "mismatch")."""
        try:
            return self.engine.broken_references()
        except apsw.SQLError:
            return {}

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
        self._current = s
        self._watch_deferral(s)
        if s.kind == "rename_table" and s.table and s.detail:
            self._renamed[s.detail.lower()] = self._renamed.get(s.table.lower(), s.table.lower())
        if s.kind in ("drop_table", "drop_column") and s.table:
            self._record_drop(s)
        self._keep_trigger_targets(s)
        self.watch = self._watched(s)
        self.before_rows = (
            KeptRows.keep(self.engine, s.table, self.watch, "_d1nb_before") if self.watch else None
        )
        super().before(s)

    def after(self, s: Statement, changes: int, error: str | None) -> None:
        self._children_transitions: list[dict] = []
        super().after(s, changes, error)
        if error is None and (
            s.kind in ("drop_table", "rename_table") or (s.table or "").lower() == "sqlite_sequence"
        ):
            self._watch_counters()
        try:
            self._after_own(s, changes, error)
        finally:  # the statement's own table first, then the tables its keys reach
            self.transitions += self._children_transitions
            self._record_trigger_targets(error)

    def _watch_counters(self) -> None:
        """After a statement that may take a table's counter away: the counters below what
        they were when the file began (a table that lost AUTOINCREMENT counts by its largest
        rowid); a dropped table is judged by its drop."""
        now = self.engine.autoincrement_counters()
        tables = {t.lower(): t for t in self.engine.tables()}
        self.counters_lowered = {}
        for table, seq in self._counters_at_start.items():
            if table in now:
                top = now[table]
            elif table in tables:
                try:
                    rowid = self.engine.rowid_name(tables[table])
                except InputError:
                    continue
                (top,) = self.engine.conn.execute(
                    f"SELECT coalesce(max({rowid}), 0) FROM main.{quote_ident(tables[table])}"
                ).fetchall()[0]
            else:
                continue
            if isinstance(top, int) and top < seq:
                self.counters_lowered[tables.get(table, table)] = (seq, top)

    def _keep_trigger_targets(self, s: Statement) -> None:
        """Before a statement that fires triggers writing other tables (a counter kept in a
        parent, an audit log): those tables' rows, kept aside — up to MAX_TRIGGER_TARGET_ROWS
        rows each (a larger one is left out: its rows changed are not counted)."""
        self._trigger_kept: list[KeptRows] = []
        if not s.table or not self.engine.conn.table_exists(None, s.table):
            return
        targets: dict[str, None] = {}
        for parts in self._triggers_firing(s):
            for body in parts.body:
                kind, table, *_ = classify(body)
                if kind in ("insert", "insert_select", "update", "delete") and table:
                    targets[table.lower()] = None
        tables = {t.lower(): t for t in self.engine.tables()}  # virtual tables left out
        for table in [tables[t] for t in targets if t in tables and t != s.table.lower()]:
            if self._count(table) > MAX_TRIGGER_TARGET_ROWS:
                continue
            identity = self._identity(table)
            if identity is None:
                continue
            columns = [c[1] for c in self.engine.columns(table) if c[1] not in identity]
            temp = f"_d1nb_trig{len(self._trigger_kept)}"
            self._trigger_kept.append(KeptRows.keep(self.engine, table, columns, temp))

    def _record_trigger_targets(self, error: str | None) -> None:
        """After the statement: the rows its triggers inserted, deleted or changed in the tables
        kept aside are rows the file changed (each once), their values' transitions shown."""
        for kept in self._trigger_kept:
            if error is None:
                self._record_rows(self._current, kept, kept.columns)
                self._count_changed(kept.table, kept.arrived())  # rows the triggers inserted
                self._count_changed(kept.table, kept.departed())  # and those they deleted
            kept.drop(self.engine)
        self._trigger_kept = []

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
        self.before_rows.drop(self.engine)

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
        identity = self._identity(s.table)
        if identity is None:
            return 0
        rows = f"SELECT {identity_value(identity)} FROM main.{quote_ident(s.table)}"
        gone = f"tbl = ? AND k NOT IN ({rows})"
        (count,) = conn.execute(
            f"SELECT count(*) FROM temp._d1nb_changed WHERE {gone}", (table,)
        ).fetchall()[0]
        conn.execute(f"DELETE FROM temp._d1nb_changed WHERE {gone}", (table,))
        return count

    def _record(self, s: Statement) -> None:
        kept = self.before_rows
        moved = self._record_rows(s, kept, kept.columns)
        if s.kind != "update":  # an upsert's or a REPLACE's new rows (a new identity) too
            moved += self._count_changed(s.table, kept.arrived())
        self.changed_rows[s.index] = moved

    def _after_update_actions(self, s: Statement, kept: UpdateActions) -> None:
        """The rows of other tables an UPDATE's ON UPDATE actions rewrote are rows the file
        changed: counted once each, their keys' transitions shown under their own table."""
        own, self.transitions = self.transitions, []
        for child in kept.children:
            self._record_rows(s, child, list(child.actions))
            if not child.by_rowid:  # rows found under a new key only
                self._count_changed(child.table, child.arrived())
        self._children_transitions, self.transitions = self.transitions, own

    def _record_rows(self, s: Statement, kept: KeptRows, watch: list[str]) -> int:
        """The kept rows whose `watch` columns moved: added to the file's changed rows, their
        values' transitions recorded; returns how many."""
        table, join = kept.table, kept.join()
        count = self._count_changed(
            table,
            f"SELECT {identity_value(kept.identity, 'a.')} AS k {join} WHERE {kept.differs(watch)}",
        )
        for col in watch:
            self._column_transitions(s, table, col, join)
        return count

    def _column_transitions(self, s: Statement, table: str, col: str, join: str) -> None:
        """The transitions of `col` between the rows `join` pairs (`b` before, `a` after):
        by JSON path when every changed value is a JSON document, else value by value."""
        conn = self.engine.conn
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
            return
        pairs = conn.execute(
            f"SELECT b.{c}, a.{c}, count(*) {join} {changed} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
        ).fetchall()
        self._add(s, table, col, "", [(_show(b), _show(a), n) for b, a, n in pairs])
        if documents:
            self._json_paths(s, table, col, documents)

    def _count_changed(self, table: str, rows: str) -> int:
        """The rows `rows` (a SELECT of identities `k`) names, added to the file's set of
        changed rows (those not there yet counted in `rows_changed`); returns how many."""
        conn = self.engine.conn
        conn.execute(f"CREATE TEMP TABLE _d1nb_moved AS {rows}")
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
