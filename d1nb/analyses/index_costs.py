"""What a statement's writes cost in index entries in D1: the indexes an INSERT or UPDATE
maintains, the partial ones' entries its rows leave out, the entries an index on an
expression or a VIRTUAL generated column keeps when its key does not change, and those ON
UPDATE CASCADE rewrites (fitted on Miniflare, docs/metering.md). A part of the Meter
(d1nb.analyses.metering), kept apart like its trigger costs and foreign-key reads.
"""

from __future__ import annotations

import apsw

from d1nb.analyses.update_actions import UpdateActions
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    dml_condition,
    index_keys,
    index_where,
    names_in,
    top_level_offset,
    update_from_rows_query,
)
from d1nb.formats.sql.text import SqlTokenError, quote_ident


def _joined_keys(keys: list[str]) -> str:
    """An index's key expressions as one comparable value: each quote()d, joined by a unit
    separator (the expressions name the table's columns bare)."""
    return " || char(31) || ".join(f"quote({k})" for k in keys)


class IndexCosts:
    """The Meter's index costs. Expects the Meter's state (the engine, its caches of indexes
    and expression keys, the partial indexes probed before the statement, the children
    ON UPDATE actions may rewrite, kept aside) and its `_mark_written_rows` and `_written_rows`."""

    engine: D1Engine
    _indexes: dict[str, list[tuple[frozenset[str] | None, str | None]]]
    _expressions: dict[str, list[list[str]]]
    partial_before: list[str]
    rewrites: UpdateActions

    def indexes(self, table: str) -> list[tuple[frozenset[str] | None, str | None]]:
        """(columns, WHERE) of each index of `table`: columns None for an expression index,
        WHERE the condition of a partial index, else None. The PRIMARY KEY of a WITHOUT ROWID
        table is the table itself, not an index."""
        if table not in self._indexes:
            found = []
            without_rowid = self.engine.without_rowid(table)
            for name, partial, origin in self.engine.conn.execute(
                "SELECT name, partial, origin FROM pragma_index_list(?)", (table,)
            ).fetchall():
                if without_rowid and origin == "pk":
                    continue
                cols = [
                    r[0]
                    for r in self.engine.conn.execute(
                        "SELECT name FROM pragma_index_info(?)", (name,)
                    ).fetchall()
                ]
                where = None
                if partial:
                    (sql,) = self.engine.conn.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' "
                        "AND name = ? COLLATE NOCASE",
                        (name,),
                    ).fetchall()[0]
                    where = index_where(sql or "") or "1"
                found.append((None if None in cols else frozenset(cols), where))
            self._indexes[table] = found
        return self._indexes[table]

    def updated_indexes(
        self, table: str, columns: set[str]
    ) -> list[tuple[frozenset[str] | None, str | None]]:
        """The indexes SQLite maintains when an UPDATE sets `columns`: those holding one of
        them, expression indexes, and partial indexes whose WHERE reads one of them."""
        named = {c.lower() for c in columns}
        return [
            i
            for i in self.indexes(table)
            if i[0] is None or i[0] & columns or (i[1] is not None and names_in(i[1]) & named)
        ]

    def _partial_where(self, index: str) -> str | None:
        """The WHERE of a partial index named `index`; None for a full one (or no index)."""
        return self.engine.partial_where(index)

    def _unique_keys(self, table: str) -> int:
        """How many UNIQUE indexes `table` has besides its rowid (a text PRIMARY KEY's own)."""
        return self.engine.conn.execute(
            "SELECT count(*) FROM pragma_index_list(?) WHERE \"unique\" AND origin != 'pk' "
            "OR (origin = 'pk' AND NOT ?)",
            (table, self.engine.without_rowid(table)),
        ).fetchall()[0][0]

    def _expression_indexes(self, table: str) -> list[list[str]]:
        """The key expressions of each full index of `table` on expressions (`lower(slug)`)
        or on VIRTUAL generated columns (a STORED one's index is rewritten whenever what it
        is computed from is set, like a column's), kept until the schema changes."""
        if table not in self._expressions:
            conn, found = self.engine.conn, []
            generated = {
                r[0]
                for r in conn.execute(
                    "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 2", (table,)
                )
            }
            for name, sql in conn.execute(
                "SELECT m.name, m.sql FROM sqlite_master m JOIN pragma_index_list(?) l "
                "ON l.name = m.name WHERE m.type = 'index' AND m.sql IS NOT NULL AND NOT l.partial",
                (table,),
            ).fetchall():
                key = conn.execute(
                    "SELECT cid, name FROM pragma_index_xinfo(?) WHERE key", (name,)
                ).fetchall()
                if any(cid == -2 for cid, _name in key) and (keys := index_keys(sql)):
                    found.append(keys)
                elif generated & {n for _cid, n in key}:  # on a VIRTUAL generated column
                    found.append([quote_ident(n) for _cid, n in key])
            self._expressions[table] = found
        return self._expressions[table]

    def _keep_expression_keys(self, s: Statement) -> int:
        """Before an UPDATE of a rowid table with indexes on expressions: each such index's
        key of every row its WHERE finds, set aside (SQLite rewrites an expression index's
        entry only when its key changes: `SET slug = upper(slug)` under `lower(slug)` writes
        1 a row in D1, not 2). The number of such indexes (0 when none, or it cannot)."""
        table, conn = s.table, self.engine.conn
        if s.kind != "update" or not table or not conn.table_exists(None, table):
            return 0
        if self.engine.without_rowid(table):
            return 0
        indexes = self._expression_indexes(table)
        if not indexes:
            return 0
        try:
            cut = dml_condition(s.sql)
            joined = top_level_offset(cut.head, "FROM") is not None  # UPDATE … FROM
        except SqlTokenError:
            return 0
        if cut.trailing:
            return 0
        where = f" WHERE {cut.condition}" if cut.condition else ""
        if joined:  # UPDATE … FROM: the target rows it joins, by rowid
            rows = update_from_rows_query(s.sql, [])
            if rows is None:
                return 0
            where = f" WHERE rowid IN (SELECT _d1nb_r FROM ({rows}))"
        keys = ", ".join(f"{_joined_keys(k)} AS k{i}" for i, k in enumerate(indexes))
        try:
            conn.execute(
                f"CREATE TEMP TABLE _d1nb_exprkeys AS SELECT rowid AS r, {keys} "
                f"FROM main.{quote_ident(table)}{where}"
            )
        except apsw.Error:  # a WHERE that does not run alone, an expression sqlglot rewrote
            return 0
        self._expression_sql = indexes
        return len(indexes)

    def _unchanged_expression_entries(self, table: str) -> int:
        """Entries of expression indexes the UPDATE did not rewrite: per index, the rows it
        wrote whose key is what it was (`_keep_expression_keys`)."""
        if not self.expression_keys:
            return 0
        t = f"main.{quote_ident(table)}"
        unchanged = " + ".join(  # the keys now, read in a subquery of the table alone
            f"count(*) FILTER (WHERE k.k{i} IS (SELECT {_joined_keys(k)} FROM {t} "
            "WHERE rowid = k.r))"
            for i, k in enumerate(self._expression_sql)
        )
        try:
            return (
                self.engine.conn.execute(
                    f"SELECT {unchanged} FROM temp._d1nb_exprkeys k"
                ).fetchall()[0][0]
                or 0
            )
        except apsw.Error:
            return 0

    def _probe_partial_entries(self, s: Statement) -> list[str]:
        """The WHEREs of the partial indexes of the table an INSERT or UPDATE writes, when
        its rows can be told apart afterwards; else none, and every row counts as an entry
        (an upper bound)."""
        if s.kind not in ("insert", "insert_select", "update") or not s.table:
            return []
        if not self.engine.conn.table_exists(None, s.table):
            return []
        partial = [w for _c, w in self.indexes(s.table) if w is not None]
        return partial if partial and self._mark_written_rows(s) else []

    def _rows_left_out(
        self, table: str, changes: int, written: list[tuple[frozenset[str] | None, str | None]]
    ) -> int:
        """Index entries an INSERT or UPDATE did not write: per partial index among those it
        `written`, its new or updated rows that the index's WHERE leaves out (a row is an
        entry only if the WHERE keeps it)."""
        wheres = [w for _c, w in written if w is not None and w in self.partial_before]
        if not changes or not wheres:
            return 0
        rows = self._written_rows(table, changes)
        if rows is None:
            return 0
        left_out = 0
        for where in wheres:
            query = f"SELECT count(*) FROM main.{quote_ident(table)} WHERE {rows} AND ({where})"
            (kept,) = self.engine.conn.execute(query).fetchall()[0]
            left_out += changes - min(changes, kept)
        return left_out

    def _cascaded_index_writes(self) -> int:
        """The index entries ON UPDATE actions rewrite (CASCADE, SET NULL, SET DEFAULT): per
        child row whose key one changed, one per index of the child holding a column it
        changed, a partial index only where its WHERE keeps the row afterwards (the row
        itself is among the trigger-made changes; fitted on Miniflare)."""
        writes = 0
        for kept in self.rewrites.children:
            acted = set(kept.actions)
            if not acted or self.engine.without_rowid(kept.table):
                continue
            for cols, where in self.indexes(kept.table):
                held = {c for c in acted if cols and c.lower() in {k.lower() for k in cols}}
                if held:
                    writes += self.rewrites.rows_moved(kept, held, where)
        return writes
