"""What the triggers a statement fires cost in D1: the rows their statements read per firing,
the firings (the rows written, those a WHEN's terms on NEW keep), and the index entries of the
rows they insert into one table (fitted on Miniflare, docs/metering.md). A part of the Meter
(d1nb.analyses.metering), kept apart like its foreign-key reads.
"""

from __future__ import annotations

import contextlib

import apsw

from d1nb.analyses.query_plan import EQUAL_KEYS, INDEX_NAME, PLAN_TABLE
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    TriggerParts,
    and_terms,
    classify,
    row_values,
    trigger_parts,
    written_columns,
)
from d1nb.formats.sql.text import quote_ident


class TriggerCosts:
    """The Meter's trigger costs. Expects the Meter's state (the engine, the triggers taken
    apart per table, those the statement fires) and its lookups `_count`, `indexes`,
    `_rows_per_key`, `_mark_written_rows` and `_written_rows`."""

    engine: D1Engine
    triggers: list[tuple[TriggerParts, int]]
    _triggers: dict[str, list[TriggerParts]]

    def _triggers_fired(self, s: Statement) -> list[tuple[TriggerParts, int]]:
        """The triggers a DML statement fires on its own table, each with the rows one firing
        reads: its body's statements planned outside the trigger (NEW and OLD read as NULL): a
        search by rowid 1, through an index the rows per key + 1, a scan the table; an
        INSERT … VALUES none, an upsert 1. Those with a WHEN get their rows marked."""
        fired = []
        for parts in self._triggers_firing(s):
            per_firing = sum(self._trigger_statement_reads(stmt) for stmt in parts.body)
            if parts.when is not None:
                self._mark_written_rows(s)
            fired.append((parts, per_firing))
        return fired

    def _triggers_firing(self, s: Statement) -> list[TriggerParts]:
        """The triggers a DML statement fires on its own table: those of its event, and of an
        UPDATE OF columns only when it sets one of them."""
        event = {"insert": "INSERT", "insert_select": "INSERT", "update": "UPDATE"}.get(
            s.kind, "DELETE" if s.kind == "delete" else None
        )
        if event is None or not s.table:
            return []
        written = {c.lower() for c in written_columns(s.sql) or []}
        return [
            parts
            for parts in self._table_triggers(s.table)
            if parts.event == event
            and (not parts.columns or {c.lower() for c in parts.columns} & written)
        ]

    def _table_triggers(self, table: str) -> list[TriggerParts]:
        """The triggers on `table`, taken apart (kept until the schema changes)."""
        if table not in self._triggers:
            rows = self.engine.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = ? COLLATE NOCASE",
                (table,),
            ).fetchall()
            self._triggers[table] = [p for (sql,) in rows if (p := trigger_parts(sql or ""))]
        return self._triggers[table]

    def _trigger_statement_reads(self, stmt: str) -> int:
        kind, _table, flags, _detail = classify(stmt)
        if kind == "insert":
            return 1 if "upsert" in flags else 0
        if kind not in ("update", "delete", "insert_select", "select"):
            return 0
        planned, _old = row_values(stmt)
        try:
            lines = [r[3] for r in self.engine.conn.execute("EXPLAIN QUERY PLAN " + planned)]
        except apsw.Error:
            return 1
        reads = 0
        for line in lines:
            match = PLAN_TABLE.match(line)
            if not match or not self.engine.conn.table_exists(None, match.group(2)):
                continue
            how, name, _using = match.groups()
            keys = EQUAL_KEYS.search(line)
            if how == "SCAN":
                reads += max(self._count(name), 1)
            elif keys and self._unique_search(name, _using or "", keys.group(1)):
                reads += 1  # one row at most: no step past it (fitted on Miniflare)
            elif keys:
                reads += round(self._rows_per_key(name, keys.group(1))) + 1
            else:
                reads += 1
        return reads

    def _unique_search(self, table: str, using: str, keys: str) -> bool:
        """Whether a plan's search through an index (`INDEX name (a=? AND b=?)`) names every
        column of a UNIQUE index: it finds one row at most."""
        found = INDEX_NAME.match(using)
        if not found:
            return False
        unique = self.engine.conn.execute(
            'SELECT "unique" FROM pragma_index_list(?) WHERE name = ? COLLATE NOCASE',
            (table, found.group(1)),
        ).fetchall()
        if not unique or not unique[0][0]:
            return False
        columns = self.engine.conn.execute(
            "SELECT count(*) FROM pragma_index_info(?)", (found.group(1),)
        ).fetchall()[0][0]
        return columns == len(keys.split(" AND "))

    def _trigger_reads(self, s: Statement, changes: int) -> int:
        """Rows the statement's triggers read: per trigger, its firings (the rows written,
        those its WHEN keeps when the rows can be told apart: over an UPDATE's rows kept
        with their values before, the whole WHEN, else its terms on NEW) times a firing's
        reads (`_triggers_fired`); and, with any BEFORE trigger, each row sought again."""
        reads = 0
        table = s.table or ""
        if (
            s.kind in ("update", "delete")
            and any(parts.timing == "BEFORE" for parts, _per_firing in self.triggers)
            and not self.engine.without_rowid(table)
        ):
            # after its BEFORE triggers ran, SQLite seeks each row again (they may have
            # changed or deleted it): once per row however many there are, a WHEN false or not
            reads += changes
        for parts, per_firing in self.triggers:
            if not per_firing or not changes:
                continue
            firings = changes
            rows = self._written_rows(table, changes) if parts.when is not None else None
            query = None
            if parts.when and self.engine.conn.table_exists("temp", "_d1nb_updated"):
                # an UPDATE's rows kept with their values before: the whole WHEN, OLD too
                when, _old = row_values(parts.when, aliases=("n", "o"))
                query = (
                    f"SELECT count(*) FROM main.{quote_ident(table)} AS n JOIN "
                    f"temp._d1nb_updated AS o ON o._d1nb_r = n.rowid WHERE ({when})"
                )
            elif rows is not None:
                # the terms that read only NEW can be counted over the rows written; those
                # that read OLD are taken as true (an upper bound)
                terms = [row_values(t, new_as_columns=True) for t in and_terms(parts.when or "")]
                condition = " AND ".join(f"({t})" for t, old in terms if not old)
                if condition:
                    query = (
                        f"SELECT count(*) FROM main.{quote_ident(table)} WHERE {rows} "
                        f"AND ({condition})"
                    )
            if query:
                with contextlib.suppress(apsw.Error):
                    firings = self.engine.conn.execute(query).fetchall()[0][0]
            reads += firings * per_firing
        return reads

    def _trigger_insert_indexes(self) -> int:
        """The index entries each row the fired triggers wrote adds, when their statements
        all insert into one table (an audit log, the table under an INSTEAD OF view): its
        indexes, partial ones left out (whose entries depend on the row). 0 otherwise: the
        rows are then counted without their indexes."""
        targets = set()
        for parts, _per_firing in self.triggers:
            for stmt in parts.body:
                kind, table, flags, _detail = classify(stmt)
                if kind not in ("insert", "insert_select") or {"upsert", "or_replace"} & set(flags):
                    return 0
                targets.add(table)
        if len(targets) != 1:
            return 0
        (table,) = targets
        if not table or not self.engine.conn.table_exists(None, table):
            return 0
        return sum(1 for _cols, where in self.indexes(table) if where is None)
