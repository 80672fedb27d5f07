"""D1's metering of one statement, estimated on a SQLite copy: the rows it reads and writes
by the counters of workerd's SQLite patch (docs/metering.md), from what a replay can observe
(rows changed, the query plan and bytecode, table and child sizes before and after).
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import replace

import apsw

from d1nb import d1
from d1nb.analyses.cascade_reads import CascadeReads
from d1nb.analyses.index_costs import IndexCosts
from d1nb.analyses.query_plan import (
    EQUAL_KEYS,
    INDEX_IN_OPERATOR,
    INDEX_KEYS,
    INDEX_NAME,
    PLAN_TABLE,
    PLAN_VIRTUAL,
    PRIMARY_KEYS,
    ROWID_IN_OPERATOR,
    SORTED,
    filled_once,
    lines_under,
    subquery_in,
    subquery_numbers,
)
from d1nb.analyses.trigger_costs import TriggerCosts
from d1nb.analyses.update_actions import KeyScans, UpdateActions
from d1nb.engine.d1engine import D1Engine, cascade_edges
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    CorrelatedSearch,
    FromItem,
    InTest,
    TriggerParts,
    added_column,
    and_terms,
    check_constraints,
    conflict_update_columns,
    correlated_searches,
    create_as_parts,
    dml_condition,
    exists_searches,
    first_row_searches,
    in_list_values,
    in_lists,
    in_subquery_column,
    in_subquery_counts,
    in_subquery_fed_counts,
    in_tests,
    index_where,
    json_each_sources,
    names_in,
    not_in_list_columns,
    not_in_tests_query,
    old_columns,
    rows_fed_query,
    rows_offered_query,
    search_visits_query,
    select_join_terms,
    selects_before_where,
    subquery_counts,
    subquery_sorter_feeds,
    table_aliases,
    table_parts,
    top_level_offset,
    update_from_items,
    update_from_names,
    update_from_rows_query,
    update_from_target,
    window_reads_queries,
    written_columns,
)
from d1nb.formats.sql.text import ROWID_NAMES, SqlTokenError, blobs_emptied, quote_ident

_DML = {"insert", "insert_select", "update", "delete"}


_NULL_GUARDS = re.compile(r"\b(?:IS|ISNULL|NOTNULL|COALESCE|IFNULL|CASE|IIF)\b", re.I)
"""Words by which a CHECK may keep a NULL from its IN list."""


class _VirtualTableWrites:
    """Rows written by the statements a virtual table runs on its own shadow tables (FTS5's
    `_data`, `_idx`, `_docsize` …): SQLite's `total_changes()` counts them, D1 counts the
    virtual-table update alone. A trace: the changes up to the end of each statement that is
    not the migration's own (nor one of its triggers')."""

    def __init__(self, conn: apsw.Connection, sql: str):
        self.sql = sql.strip()
        self.own: int | None = None
        """The measured statement's id, known by its text: a virtual table's own statements
        run at the top level too (FTS5 reads its config while the statement is prepared),
        and ids are addresses, reused once a statement is finalized."""
        self.last = conn.total_changes()
        self.rows = 0

    def event(self, event: dict) -> None:
        total = event["total_changes"]
        if (
            event["code"] == apsw.SQLITE_TRACE_STMT
            and not event["trigger"]
            and event["sql"].strip() == self.sql
        ):
            self.own = event["id"]
        elif event["code"] == apsw.SQLITE_TRACE_PROFILE and event["id"] != self.own:
            self.rows += total - self.last
        self.last = total


def spelled_plan(lines: list[str], tables: list[str]) -> list[str]:
    """Query plan lines with each scanned or searched table named as the schema spells it.
    The plan names a table as the statement wrote it (`SCAN SCORES` for `UPDATE SCORES` of
    table `scores`), and the model compares those names with the schema's (#21). A SEARCH
    through nothing (`SEARCH e`: min() or max() with no index to take it) is the scan it is:
    each run reads the table whole (Miniflare: 1,240 where the model read 80)."""
    by_length = sorted(tables, key=len, reverse=True)
    out = []
    for line in lines:
        verb, _, rest = line.partition(" ")
        if verb == "SEARCH" and " USING " not in rest and "VIRTUAL TABLE" not in rest:
            verb = "SCAN"
            line = f"SCAN {rest}"
        if verb in ("SCAN", "SEARCH"):
            for name in by_length:
                head, tail = rest[: len(name)], rest[len(name) :]
                if head.lower() == name.lower() and tail[:1] in ("", " "):
                    line = f"{verb} {name}{rest[len(name) :]}"
                    break
        out.append(line)
    return out


def flush_virtual_tables(conn: apsw.Connection) -> None:
    """Make FTS5 write the terms it holds in memory (it does at each savepoint): done on both
    sides of a measured statement on a database with virtual tables, its shadow-table writes
    all fall inside the measurement, whenever FTS5 would have made them."""
    conn.execute("SAVEPOINT d1nb_flush; RELEASE d1nb_flush")


def shadow_table_rows(engine: D1Engine, sql: str) -> int:
    """The rows `sql` would write to shadow tables, from a run under the trace that is then
    undone: a trace slows a statement tenfold, and the run D1's timings come from must not
    carry it. 0 when the trial run fails (the measured run fails the same way)."""
    conn = engine.conn
    conn.execute("SAVEPOINT d1nb_shadow")
    counter = _VirtualTableWrites(conn, sql)
    conn.trace_v2(apsw.SQLITE_TRACE_STMT | apsw.SQLITE_TRACE_PROFILE, counter.event)
    try:
        with engine.time_limit():
            conn.execute(sql).fetchall()
        flush_virtual_tables(conn)
    except apsw.Error:
        counter.rows = 0
    finally:
        conn.trace_v2(0, None)
        conn.execute("ROLLBACK TO d1nb_shadow")
        conn.execute("RELEASE d1nb_shadow")
    return counter.rows


class Meter(CascadeReads, IndexCosts, TriggerCosts):
    """Measures each statement of a replay: rows changed, cascades, D1's rows read and written.

    rows_written follows the counters of workerd's SQLite patch (one per table row inserted,
    updated or deleted, one per index entry inserted; see docs/metering.md); rows_read is an
    estimate from the query plan and table sizes. Both are checked against Miniflare's exact
    counts by the tests.
    """

    def __init__(self, engine: D1Engine):
        self.engine = engine
        self.rows: list[dict] = []
        self._indexes: dict[str, list[tuple[frozenset[str] | None, str | None]]] = {}
        self._fks: list[tuple] | None = None
        self._on_update: list[tuple[str, str, str, str, str]] | None = None
        self._lookups: dict[tuple[str, str], str | None] = {}
        self._virtual: bool | None = None
        self._averages: dict[tuple[str, str], float | tuple[float, float] | None] = {}
        """(table, what) → a per-row mean a probe took (rows per key, JSON elements), kept
        until rows of that table come, go or change, or the schema changes: a file of many small
        statements probes once."""
        self._checks: dict[str, list[set[str]]] = {}
        self._generated: dict[str, dict[str, set[str]]] = {}
        self._autoincrements: dict[str, bool] = {}
        self._triggers: dict[str, list[TriggerParts]] = {}
        self._expressions: dict[str, list[list[str]]] = {}
        """Per table, its CHECK IN lists and its triggers taken apart, until the schema
        changes."""

    # schema facts, cached until DDL runs
    def _count(self, table: str) -> int:
        return self.engine.conn.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()[0][
            0
        ]

    def _foreign_keys(self) -> list[tuple]:
        if self._fks is None:
            self._fks = self.engine.foreign_keys(whole_keys=True)  # one edge per key
        return self._fks

    def children(self, table: str) -> list[tuple[str, str, str]]:
        """(child table, child column, ON DELETE action) of foreign keys to `table`."""
        return [(c, col, a.upper()) for c, col, p, _pc, a in self._foreign_keys() if p == table]

    def descendants(self, table: str) -> list[tuple[str, str, str, str]]:
        """(parent, child, child column, ON DELETE action) of every foreign key a delete in
        `table` reaches through cascades (`cascade_edges`)."""
        return cascade_edges(self._foreign_keys(), table)

    def _not_in_list_probes(self, s: Statement) -> int:
        """Reads of the NOT IN (1, 2, 3) literal lists of an UPDATE or DELETE, counted before
        it runs: SQLite keeps a list of 3 or more values in an ephemeral table, looked up
        once per row reaching the test, and once more for a NULL (is the list empty?); 1 or
        2 values are compared in place, no read
        (`email NOT IN ('a', 'b')` read 4,000 by the model against 2,000 in D1 before)."""
        tests = [
            t
            for t in in_tests(s.sql)
            if t.negated and t.values is not None and t.values >= 3 and t.column
        ]
        if not tests or not s.table:
            return 0
        try:
            terms = and_terms(dml_condition(s.sql).condition or "")
        except SqlTokenError:
            return 0
        # the rows reaching a list's test: those the AND terms written before it keep (SQLite
        # tests them in order), and the terms after it that its own search takes
        loops = [m for _i, m in self._own_loops() if m.group(2) == s.table]
        search = loops[0] if loops and loops[0].group(1) == "SEARCH" else None
        searched = (self._searched_columns(s.table, search.group(3)) if search else None) or set()
        listing = [[x for x in in_tests(term) if x.negated and x.values] for term in terms]
        columns = {c[1].lower() for c in self.engine.columns(s.table)}
        own = f"main.{quote_ident(s.table)}"
        probes = 0
        for test in tests:
            at = next((i for i, found in enumerate(listing) if test in found), len(terms))
            taken = [term for term in terms[at + 1 :] if names_in(term) & searched]
            reached = self._count_where(own, terms[:at] + taken)
            if reached is None or test.column not in columns:
                return 0  # an UPDATE … FROM's column, a term SQLite alone can run
            is_null = f"{quote_ident(test.column)} IS NULL"
            nulls = self._count_where(own, [*terms[:at], *taken, is_null])
            probes += reached + (nulls or 0)
        return probes

    def _lists_in_place(self, s: Statement) -> int:
        """The literal IN lists SQLite compares in place, no ephemeral table for them: 1 or 2
        values that drive no search (`email NOT IN ('a', 'b')`; `email IN ('a', 'b')` over a
        UNIQUE index on email is sought value by value from one). An UPDATE seen as one pass
        for want of its ephemeral table read 11,100 by the model against 12,596 in D1."""
        keys = set()
        for line in self.plan:
            if found := EQUAL_KEYS.search(line) or PRIMARY_KEYS.search(line):
                keys |= {
                    term.split("=")[0].strip().lower() for term in found.group(1).split(" AND ")
                }
            if "(rowid=?)" in line and (loop := PLAN_TABLE.match(line)):
                table = self.aliased.get(loop.group(2), loop.group(2))
                with contextlib.suppress(apsw.Error):
                    keys |= {*ROWID_NAMES, (self._rowid_column(table) or "").lower()}
        return sum(
            1
            for t in in_tests(s.sql)
            if t.values is not None
            and t.values <= 2
            and t.column is not None
            and (t.negated or t.column not in keys)
        )

    def _list_values(self, test: InTest) -> int:
        """The values of an IN (…) list: a literal list's, or a subquery's distinct ones (0
        for a correlated subquery, which does not run alone)."""
        if test.distinct_query is None:
            return test.values or 0
        try:
            return self.engine.conn.execute(test.distinct_query).fetchall()[0][0]
        except apsw.Error:
            return 0

    def _driving_values(self, s: Statement, using: str, line: str) -> int:
        """The values of the statement's IN lists that drive its own table's search on equal
        keys, each sought once: not a NOT IN, nor a list on a column the search does not
        take (`email IS NULL AND pid NOT IN (…)` searched by email read 7,852 by the model
        against 6,152 in D1 before, the list's 1,700 values counted as probes)."""
        if not self.list_values and not in_list_values(s.sql):
            return 0
        tests = self.list_values or [(t, t.values or 0) for t in in_tests(s.sql)]
        keys = EQUAL_KEYS.search(line) or PRIMARY_KEYS.search(line)
        searched = (
            {k.split("=")[0].strip().lower() for k in keys.group(1).split(" AND ")}
            if keys
            else set()
        )
        if "(rowid=?)" in using or "rowid" in searched:
            searched |= set(ROWID_NAMES) | {(self._rowid_column(s.table or "") or "").lower()}
        return sum(
            n for t, n in tests if not t.negated and (t.column is None or t.column in searched)
        )

    def _rowid_column(self, table: str) -> str | None:
        pks = [c for c in self.engine.columns(table) if c[5]]
        if len(pks) == 1 and pks[0][2].upper() == "INTEGER":
            return pks[0][1]
        return None

    def _parent_is_rowid(self, parent: str, column: str | None) -> bool:
        """Whether a foreign key's parent key is the parent table's rowid (its INTEGER PRIMARY
        KEY, named or implied by a REFERENCES clause without a column)."""
        if not self.engine.conn.table_exists(None, parent) or self.engine.without_rowid(parent):
            return False
        rowid = self._rowid_column(parent)
        return rowid is not None and (column is None or column == rowid)

    def _autoincrement(self, table: str) -> bool:
        if table not in self._autoincrements:  # asked twice per insert: kept per schema
            rows = self.engine.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                (table,),
            ).fetchall()
            self._autoincrements[table] = (
                bool(rows) and "AUTOINCREMENT" in (rows[0][0] or "").upper()
            )
        return self._autoincrements[table]

    def _one_child_edge(self, table: str) -> bool:
        """Whether exactly one foreign key points at `table` among the statement's edges."""
        return sum(1 for e in self.edges if e[0] == table) == 1

    def _alter_cost(self, s: Statement, table: str) -> tuple[int, int]:
        """ALTER TABLE rewrites rows of sqlite_master (and, for DROP COLUMN, the table).

        Mirrors the UPDATEs SQLite's alter.c runs; D1 databases hold one internal table of
        their own (`_cf_KV`) that these statements also rewrite. Reads are fitted to D1's
        counters for RENAME TO, approximate for the others.
        """
        master = (
            self.engine.conn.execute("SELECT count(*) FROM sqlite_master").fetchall()[0][0]
            + d1.INTERNAL_SCHEMA_ROWS
        )
        if s.kind == "add_column":
            # a column with a CHECK is checked against the rows there (pragma_quick_check of
            # the table): 1 read however many rows (Miniflare: 8 against 7, 0 to 300 rows)
            added = added_column(s.sql)
            return master + 2 + bool(added and added.checks), 1
        # its own indexes are rewritten too: after a RENAME they go by the new name
        own_name = s.detail if s.kind == "rename_table" else table
        rewritten = self.engine.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND (type != 'index' OR tbl_name = ? COLLATE NOCASE)",
            (own_name,),
        ).fetchall()[0][0]
        rewritten += d1.INTERNAL_SCHEMA_ROWS
        if s.kind == "rename_table":
            own = self.engine.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE tbl_name = ? COLLATE NOCASE AND type IN "
                "('table', 'index', 'trigger')",
                (s.detail,),
            ).fetchall()[0][0]
            has_sequence = self._has_sequence()
            sequence = (
                has_sequence
                and self.engine.conn.execute(
                    "SELECT count(*) FROM sqlite_sequence WHERE name = ? COLLATE NOCASE",
                    (s.detail,),
                ).fetchall()[0][0]
            )
            # sqlite_sequence is scanned for the table's row whenever it exists, and a row found
            # there is read once more to be renamed (Miniflare: 3 more for a table without a
            # row among 3 others', none for an empty sqlite_sequence)
            scanned = (self._count("sqlite_sequence") if has_sequence else 0) + bool(sequence)
            # reads fitted to D1's counters (a rename reads its own rows again by the new name)
            return 3 * master + 2 * (rewritten + own) + 4 + scanned, rewritten + own + sequence
        if s.kind == "rename_column":
            return 7 * master, 2 * rewritten
        return self.table_rows + 8 * master, self.table_rows + rewritten + 1

    def _after_update_actions(self, s: Statement, kept: UpdateActions) -> None:
        """After an UPDATE whose ON UPDATE actions may have rewritten rows of other tables,
        while their old keys are still kept: nothing here (the impact meter looks at them)."""

    # measurement
    def _update_actions(self, s: Statement) -> list[tuple[str, str, str]]:
        """(child, column, action) of each foreign key whose ON UPDATE action (CASCADE, SET
        NULL, SET DEFAULT, RESTRICT) an UPDATE of `s.table` runs: it sets the parent column
        the key refers to."""
        if s.kind != "update" or not s.table or not self.engine.conn.table_exists(None, s.table):
            return []
        keys = [fk for fk in self._update_fks() if fk[2].lower() == s.table.lower()]
        if not keys:
            return []
        sets = {c.lower() for c in written_columns(s.sql) or []}
        pk = [c[1] for c in sorted(self.engine.columns(s.table), key=lambda c: c[5]) if c[5]]
        return [
            (child, col, action)
            for child, col, _parent, refers, action, seq in keys
            if (refers or (pk[seq] if seq < len(pk) else "")).lower() in sets
        ]

    def _update_fks(self) -> list[tuple]:
        """(child, column, parent, parent column or None, ON UPDATE action, position in the
        key) of every foreign key with an ON UPDATE action; cached until DDL runs."""
        if self._on_update is None:
            self._on_update = [
                (child, col, parent, to, on_update.upper(), seq)
                for child in self.engine.tables()
                for _id, seq, parent, col, to, on_update, *_ in self.engine.conn.execute(
                    "SELECT * FROM pragma_foreign_key_list(?)", (child,)
                ).fetchall()
                if on_update.upper() != "NO ACTION"
            ]
        return self._on_update

    def before(self, s: Statement) -> None:
        conn = self.engine.conn
        parts = create_as_parts(s.sql) if "as_select" in s.flags else None
        if parts and s.table and not conn.table_exists(None, s.table):
            # CREATE TABLE … AS SELECT is metered as the INSERT … SELECT it amounts to, looked
            # at with its table there (empty), then taken away again
            name, select = parts
            as_insert = replace(
                s, sql=f"INSERT INTO {name} {select}", kind="insert_select", flags=()
            )
            conn.execute("SAVEPOINT d1nb_create_as")
            try:
                conn.execute(f"CREATE TABLE {name} AS SELECT * FROM ({select}) LIMIT 0")
                self.before(as_insert)
            finally:
                conn.execute("ROLLBACK TO d1nb_create_as")
                conn.execute("RELEASE d1nb_create_as")
            self.as_insert = as_insert
            return
        self.as_insert: Statement | None = None
        created = s.detail if s.kind in ("create_index", "create_trigger") else s.table
        self.existed = (
            s.kind.startswith("create_")
            and "if_not_exists" in s.flags
            and self.engine.has_object(created)
        )
        """CREATE … IF NOT EXISTS of what is there: it does nothing, and D1 counts nothing."""
        self.update_actions = self._update_actions(s)
        self.rewrites = UpdateActions(self.engine, self.update_actions)
        self.key_scans = None
        self.last_rowid: int | None = None
        self.null_checks = self._null_checks(s)
        self.null_checked = 0
        """What the NULLs the statement wrote to columns its CHECK IN lists test add to the
        lists' reads."""
        referred = {fk[2].lower() for fk in self._foreign_keys()}  # parents, cached until DDL
        if s.kind == "update" and (s.table or "").lower() in referred:
            sets = {c.lower() for c in written_columns(s.sql) or []}
            self.key_scans = KeyScans(self.engine, s.table, sets, lambda: self._updated_rowids(s))
        self.shadow_rows = 0
        self.flushing = self._has_virtual_tables() and (s.kind in _DML or s.kind == "drop_table")
        if self.flushing:
            flush_virtual_tables(conn)
            self.shadow_rows = shadow_table_rows(self.engine, s.sql)
        self.total_before = conn.total_changes()
        self.plan: list[str] = []
        self.scanned: dict[str, int] = {}
        self.opcodes: set[str] = set()
        self.ephemerals = 0
        self.correlated: list[bool] = []
        self.part: list[bool | None] = []
        """Per plan line in a correlated subquery of an UPDATE: whether it is in the WHERE
        (True) or before it, in the SET (False); None when that is not known."""
        self.scalar: list[bool] = []
        self.filled_once: list[bool] = []
        """Per plan line: inside a subquery or CTE an automatic index is filled from once."""
        """Per plan line: inside a correlated scalar subquery (or EXISTS), which stops at its
        first row."""
        self.listed: list[bool] = []
        self.in_subquery: list[str | None] = []
        """Per plan line: the subquery or CTE in FROM (materialized or a co-routine) that it
        lies in, if any."""
        self.top_level: list[bool] = []
        """Per plan line: whether it is one of the statement's own, in no subquery."""
        self.subquery_sorts: dict[int, int] = {}
        """Per plan line of a sorter in a subquery of an UPDATE … FROM or an INSERT's SELECT:
        the rows it is fed, each read back (3,429 by the model against 8,686 in D1 before;
        an INSERT … SELECT from a grouped subquery counted the rows the SELECT yields)."""
        self.list_rows = 0
        self.list_values: list[tuple[InTest, int]] = []
        """Per IN (…) of a statement with IN (SELECT …) lists, counted before it runs: its
        values, a subquery's distinct and NULL left out (each is sought once)."""
        self.per_key: dict[str, float] = {}
        self.search_reads: dict[int, int] = {}
        """Per plan line of a correlated aggregate or EXISTS subquery's search by equal index
        keys: its reads over all its runs, counted before the statement
        (`_correlated_search_reads`, `_exists_search_reads`)."""
        self.aliased: dict[str, str] = {}
        self.json_elements: dict[str, float] = {}
        self.json_sorted: float | None = None
        """Per run of a correlated subquery over a json_each, its elements or 1 if none: what
        a sorter in it reads back (SQLite's rewind of an empty sorter is a read too)."""
        if s.kind in _DML or s.kind == "select":
            try:
                tree = conn.execute("EXPLAIN QUERY PLAN " + s.sql).fetchall()
                self.plan = spelled_plan([r[3] for r in tree], self.engine.tables())
                target = update_from_target(s.sql) if s.kind == "update" else None
                if target and s.table and target.strip('"') != s.table:
                    # an UPDATE … FROM's own table under an alias: named by its name here,
                    # as without one (another alias of the same table stays what it is)
                    alias = target.strip('"').replace('""', '"')
                    own = re.compile(rf"^((?:SCAN|SEARCH) ){re.escape(alias)}( |$)")
                    self.plan = [own.sub(rf"\g<1>{s.table}\2", line) for line in self.plan]
                once = self.filled_once = filled_once(tree)
                self.correlated = [
                    c and not o for c, o in zip(lines_under(tree, "CORRELATED "), once, strict=True)
                ]
                self.scalar = [
                    c and not o
                    for c, o in zip(
                        lines_under(tree, "CORRELATED SCALAR SUBQUERY"), once, strict=True
                    )
                ]
                self.listed = lines_under(tree, "LIST SUBQUERY")
                numbers = subquery_numbers(tree)
                before_where = selects_before_where(s.sql) if s.kind == "update" else None
                self.part = [
                    None if n is None or before_where is None else n > before_where for n in numbers
                ]
                self.in_subquery = subquery_in(tree)
                self.top_level = [r[1] == 0 for r in tree]
                listing = conn.execute("EXPLAIN " + blobs_emptied(s.sql)).fetchall()
                # the statement's own program: the listing goes on with those of its
                # foreign-key actions and triggers, each numbered from 0 again
                ends = [i for i in range(1, len(listing)) if listing[i][0] < listing[i - 1][0]]
                own = [r[1] for r in listing[: ends[0] if ends else len(listing)]]
                self.opcodes = set(own)
                # an IN list or subquery keeps its values in an ephemeral table too
                self.ephemerals = own.count("OpenEphemeral")
            except apsw.Error:
                self.plan = []
            named = [m.group(2) for line in self.plan if (m := PLAN_TABLE.match(line))]
            # a plan names a table by its alias: a correlated subquery's, an UPDATE … FROM's
            aliases = (
                table_aliases(s.sql)
                if any(self.correlated) or not all(conn.table_exists(None, n) for n in named)
                else {}
            )
            for line in self.plan:
                match = PLAN_TABLE.match(line)
                if not match:
                    continue
                name = match.group(2)
                real = name if conn.table_exists(None, name) else aliases.get(name.lower())
                if real and conn.table_exists(None, real):
                    self.scanned[name] = self._count(real)
                    self.aliased[name] = real
                    if match.group(1) == "SCAN" and (using := match.group(3) or ""):
                        # a scan of a partial index reads only the rows its WHERE keeps
                        index = using.split("INDEX ", 1)[1] if "INDEX " in using else ""
                        where = self._partial_where(index) if index else None
                        if where is not None:
                            self.scanned[name] = self._rows_where(real, where)
            if any(line.startswith("MATERIALIZE ") for line in self.plan):
                # a subquery in FROM, materialized: a scan of it reads its rows
                # (outside any subquery, an alias that is also a table's name is the subquery:
                # `FROM (SELECT owner … GROUP BY owner) AS t` beside a table t)
                counts = subquery_counts(s.sql)
                for line, inside in zip(self.plan, self.in_subquery, strict=True):
                    match = PLAN_TABLE.match(line)
                    name = match.group(2) if match else ""
                    shadowed = inside is None and name in self.aliased and name != s.table
                    if name.lower() in counts and (name not in self.scanned or shadowed):
                        self.aliased.pop(name, None)
                        with contextlib.suppress(apsw.Error):
                            self.scanned[name] = conn.execute(counts[name.lower()]).fetchall()[0][0]
            own_sorts = s.kind in ("select", "insert_select") and any(
                SORTED.match(line)
                for line, top in zip(self.plan, self.top_level, strict=True)
                if top
            )
            if (s.kind in ("update", "insert_select") and any(self.in_subquery)) or own_sorts:
                feeds = subquery_sorter_feeds(s.sql)
                for i, (line, inside) in enumerate(zip(self.plan, self.in_subquery, strict=True)):
                    sorter = SORTED.match(line)
                    kind = "GROUP BY" if sorter and sorter.group(1) == "GROUP BY" else "ORDER BY"
                    name = inside or ("" if self.top_level[i] else None)
                    query = feeds.get(name, {}).get(kind) if sorter and name is not None else None
                    if query:
                        with contextlib.suppress(apsw.Error):
                            self.subquery_sorts[i] = conn.execute(query).fetchall()[0][0]
        self.fed = self._rows_fed(s)
        self.list_fed = 0  # the rows IN (SELECT …) lists read before their GROUP BY
        if s.kind in ("update", "delete") and any(self.listed):
            for query in in_subquery_fed_counts(s.sql):
                with contextlib.suppress(apsw.Error):  # a correlated one does not run alone
                    self.list_fed += conn.execute(query).fetchall()[0][0]
        self.not_in_list_probes = (
            self._not_in_list_probes(s)
            if s.kind in ("update", "delete") and " not in (" in s.sql.lower()
            else 0
        )
        """Reads of its NOT IN (1, 2, 3) literal lists' look-ups."""
        self.not_in_tests: tuple[int, int, int] | None = None
        """Of a NOT IN (SELECT …) test: the rows it is reached on, those whose value is NULL,
        and those whose value the list does not hold (`not_in_tests_query`)."""
        query = not_in_tests_query(s.sql) if s.kind in ("update", "delete") else None
        if query:
            with contextlib.suppress(apsw.Error):
                self.not_in_tests = tuple(conn.execute(query).fetchall()[0])
        self.in_index = any(INDEX_IN_OPERATOR.match(line) for line in self.plan)
        self.window_rows, self.window_buffers, self.window_reads = 0, 0, 0
        for query, windows, peeks, partitions in (
            window_reads_queries(s.sql) if s.kind in _DML else []
        ):
            with contextlib.suppress(apsw.Error):  # a correlated one does not run alone
                rows = conn.execute(query).fetchall()[0][0]
                self.window_rows = max(self.window_rows, rows)
                self.window_buffers += windows
                self.window_reads += rows * (2 * windows + peeks)
                for counted in partitions:
                    self.window_reads += conn.execute(counted).fetchall()[0][0]
        self.set_subqueries_only = False
        """An UPDATE whose correlated subqueries are all in its SET (none in its WHERE)."""
        if s.kind == "update" and any(self.correlated):
            with contextlib.suppress(SqlTokenError):
                condition = dml_condition(s.sql).condition or ""
                self.set_subqueries_only = "select" not in names_in(condition)
        self.json_loops = (
            set(json_each_sources(s.sql))
            if s.kind == "insert_select" and "VIRTUAL TABLE" in str(self.plan)
            else set()
        )
        """The json_each / json_tree loops an INSERT … SELECT joins, by their plan names."""
        self.json_steps = self._json_loop_steps(s) if self.json_loops else {}
        """Per such loop after one over its table: the elements it steps through."""
        self.index_visits = self._own_index_visits(s)
        self.search_end = self._own_search_end(s)
        self.search_visits = self._source_search_visits(s)
        self.in_operator_probes = self._in_operator_probes(s)
        self.partner_found: dict[int, int] = {}
        """Per plan line of an UPDATE … FROM seeking a table it joins by equal keys: its reads
        (`_update_from_searches`)."""
        self.joined = self._rows_joined(s)
        self.list_joins = False
        """Whether `loop_rows` are those of an IN (SELECT …) list's join."""
        self.loop_rows = self._inner_loop_rows(s)
        self._update_from_searches(s)
        self.offered: int | None = None  # rows an INSERT OR IGNORE or upsert … SELECT offers
        if s.kind == "insert_select" and {"or_ignore", "upsert", "do_nothing"} & set(s.flags):
            # each row the SELECT yields is looked up, inserted or not
            query = rows_offered_query(s.sql)
            if query:
                with contextlib.suppress(apsw.Error):
                    self.offered = conn.execute(query).fetchall()[0][0]
            if self.offered is None:
                self.offered = self.fed
        # an insert into an AUTOINCREMENT table seeks its counter by scanning sqlite_sequence
        # up to the table's row, or to the end when it has none yet
        self.sequence_row, self.sequence_scan = False, 1
        if (
            s.kind in ("insert", "insert_select")
            and self._has_sequence()
            and self._autoincrement(s.table or "")
        ):
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_sequence ORDER BY rowid")]
            found = [i for i, n in enumerate(names, 1) if n.lower() == (s.table or "").lower()]
            self.sequence_row = bool(found)
            self.sequence_scan = found[0] if found else max(len(names), 1)
        if any(self.listed):  # the rows IN (SELECT …) lists are built from, their values
            for query in in_subquery_counts(s.sql):
                with contextlib.suppress(apsw.Error):  # a correlated one does not run alone
                    self.list_rows += conn.execute(query).fetchall()[0][0]
            self.list_values = [(test, self._list_values(test)) for test in in_tests(s.sql)]
        json_sources = (
            json_each_sources(s.sql)
            if any(self.correlated) and "VIRTUAL TABLE" in str(self.plan)
            else {}
        )
        for i, (line, inside) in enumerate(zip(self.plan, self.correlated, strict=False)):
            virtual = PLAN_VIRTUAL.match(line)
            if virtual and inside and virtual.group(1).lower() in json_sources and s.table:
                source = json_sources[virtual.group(1).lower()]
                where = self._run_condition(s) if self.set_subqueries_only else None
                key = (s.table, repr((source, where)))
                if key not in self._averages:
                    self._averages[key] = self._json_elements(s.table, source, where)
                found = self._averages[key]
                if found is not None:
                    self.json_elements[line], self.json_sorted = found
            match = PLAN_TABLE.match(line)
            keys = EQUAL_KEYS.search(line) if match and inside else None
            prefix = PRIMARY_KEYS.search(line) if match and inside and not keys else None
            if prefix and match.group(2) in self.aliased:  # a range of the key: like an index
                columns = self.engine.columns(self.aliased[match.group(2)])
                if len(prefix.group(1).split(" AND ")) < sum(1 for c in columns if c[5]):
                    keys = prefix
            if keys and match.group(1) == "SEARCH" and match.group(2) in self.aliased:
                self.per_key[line] = self._rows_per_key(self.aliased[match.group(2)], keys.group(1))
                # whether the subquery lies in an UPDATE's WHERE (True) or SET (False), by its
                # number, when the plan says: two searches of one table then stay apart
                in_where = self.part[i] if i < len(self.part) else None
                found = self._correlated_search_reads(s, match.group(2), line, in_where)
                if found is None and in_where is not False and not self.set_subqueries_only:
                    found = self._exists_search_reads(
                        s, match.group(2), keys.group(1), in_where, line
                    )
                if found is None and (
                    in_where is False or (in_where is None and self.set_subqueries_only)
                ):
                    found = self._first_row_search_reads(s, match.group(2), keys.group(1))
                if found is not None:
                    self.search_reads[i] = found
        self.children_before: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.nulls_kept: dict[tuple[str, str, str], int] = {}
        """Per SET NULL child, column and partial index on it: `_count_nulls_kept` before."""
        self.holders: dict[str, int] = {}
        """Per child: the parents its deleted or nulled rows pointed at (by its last key)."""
        self.edge_holders: dict[tuple[str, str], int] = {}
        """The same per child and key column."""
        self.edge_nulled: dict[tuple[str, str], int] = {}
        """Per child and key column: the rows that key's SET NULL or SET DEFAULT changed."""
        self.edge_kept: dict[tuple[str, str, str], int] = {}
        """CASCADE edges into a child that several of them reach: the temp table
        (`_d1nb_edge<i>`) keeping the keys its rows held, to tell which key deleted them."""
        self.edge_deleted: dict[tuple[str, str, str], int] = {}
        """The rows each of those edges deleted."""
        self.edge_checked: dict[tuple[str, str, str], int] = {}
        """NO ACTION edges into a child that other edges reach: the temp table
        (`_d1nb_check<i>`) keeping its keys, to count the parents gone that held rows."""
        self.child_rows: dict[str, int] = {}
        self.edges: list[tuple[str, str, str, str]] = []
        self.rowid_keyed: set[tuple[str, str, str]] = set()
        """The edges whose parent key is the parent's rowid (told before a DROP TABLE)."""
        self.mixed: dict[tuple[str, str], int] = {}
        """SET NULL / SET DEFAULT edges into a child the statement also deletes from: the
        temp table (`_d1nb_set<i>`) keeping the keys its rows held, to tell nulled from
        deleted."""
        self.cascade_mixed: set[tuple[str, str]] = set()
        """Those of `mixed` whose child a CASCADE reaches (not only its own rows)."""
        self.null_orders: dict[tuple[str, str], int] = {}
        """Those of `cascade_mixed` whose parents' order `_keep_parent_order` kept."""
        self.statement_table = s.table if s.kind in ("delete", "drop_table") else None
        """The table whose rows the statement deletes (DELETE, DROP TABLE), else None."""
        self.table_rows = 0
        self.master_rows = 0
        self.dropped_indexes = 0
        self.had_sequence = self._has_sequence()
        self.deletes = s.kind in ("delete", "drop_table") or "or_replace" in s.flags
        if s.table and conn.table_exists(None, s.table):
            if s.kind in ("delete", "drop_table", "update", "insert", "insert_select"):
                self.edges = self.descendants(s.table)
                for parent, child, col, action in self.edges:
                    self.children_before[(child, col)] = self._child_state(child, col, action)
                    if action == "SET NULL":
                        for where, count in self._count_nulls_kept(child, col).items():
                            self.nulls_kept[(child, col, where)] = count
                    self.child_rows[child] = self.children_before[(child, col)][0]
                    if self._parent_is_rowid(parent, self._parent_column(parent, child, col)):
                        self.rowid_keyed.add((parent, child, col))
                self._keep_set_keys()
                self._keep_edge_keys()
            if s.kind in ("drop_table", "create_index", "drop_column"):
                self.table_rows = self._count(s.table)
            if s.kind == "drop_table":  # it scans the schema for what goes with the table
                self.master_rows = self._count("sqlite_master") + d1.INTERNAL_SCHEMA_ROWS
                self.dropped_indexes = len(self.indexes(s.table))
                if self._autoincrement(s.table) and self._has_sequence():
                    # and sqlite_sequence for its row (deleted, not counted as written)
                    self.master_rows += self._count("sqlite_sequence")
            if {"upsert", "or_replace"} & set(s.flags):  # rows updated, or deleted, in place
                self.rows_before = self._count(s.table)
        name = s.table if s.kind == "drop_view" else s.detail
        if s.kind in ("drop_view", "drop_index", "drop_trigger") and self.engine.has_object(
            name
        ):  # it scans the schema for the object (none when IF EXISTS finds none)
            self.master_rows = self._count("sqlite_master") + d1.INTERNAL_SCHEMA_ROWS
        self.rank_probes = self._probe_scanned_cascades(s)
        self.partial_before = self._probe_partial_entries(s)
        self.expression_keys = self._keep_expression_keys(s)
        self.triggers = self._triggers_fired(s) if s.kind in _DML else []
        self.total_before = conn.total_changes()  # the probes' own rows are not the statement's
        self.stats_before = self._stat_rows(self._analyzed(s)) if s.detail == "ANALYZE" else 0
        self.early_exit = self._early_exit_scan(s)
        self.fullscan_steps: list[int] | None = None
        if self.early_exit is not None:  # SQLite's own count of the steps its scans take
            steps: list[int] = []
            self.fullscan_steps = steps
            conn.trace_v2(
                apsw.SQLITE_TRACE_PROFILE,
                lambda event: steps.append(event["stmt_status"]["SQLITE_STMTSTATUS_FULLSCAN_STEP"]),
            )
        self.t0 = time.perf_counter()

    def _early_exit_scan(self, s: Statement) -> int | None:
        """The plan line of a scan in a correlated scalar subquery (or EXISTS) that stops at
        its first row found, when it is the statement's only correlated scan and no trigger or
        foreign-key action scans anything besides: its reads are then told by SQLite's count
        of full-scan steps (`after`), not by the table's size per run."""
        if (
            s.kind not in ("update", "delete", "insert_select", "select")
            or self.triggers
            or self.edges
        ):
            return None
        scans = [
            i
            for i, (line, inside) in enumerate(zip(self.plan, self.correlated, strict=False))
            if inside
            and line.startswith("SCAN ")
            and (m := PLAN_TABLE.match(line))
            and m.group(2) in self.scanned
        ]
        if len(scans) == 1 and self.scalar[scans[0]]:
            return scans[0]
        return self._limited_list_scan(s)

    def _list_ordered(self, listed: list[bool]) -> bool:
        """Whether an IN (SELECT …) list is sorted for an ORDER BY (Miniflare: its search's
        rows are read, the sorter's are not read again)."""
        return any(
            inside and line.startswith("USE TEMP B-TREE FOR") and "ORDER BY" in line
            for line, inside in zip(self.plan, listed, strict=True)
        )

    def _limited_list_scan(self, s: Statement) -> int | None:
        """The plan line of the one scan of an UPDATE or DELETE when it builds an
        `IN (SELECT … LIMIT n)` list (as `… LIMIT n` itself runs, `d1_build`) and nothing
        sorts: it stops once the list is full, so SQLite's count of its steps tells its
        reads, where the table's size would count every row."""
        if s.kind not in ("update", "delete") or "LIMIT" not in s.sql.upper():
            return None
        if any("TEMP B-TREE" in line for line in self.plan):
            return None
        scans = [
            i
            for i, line in enumerate(self.plan)
            if line.startswith("SCAN ")
            and (m := PLAN_TABLE.match(line))
            and m.group(2) in self.scanned
        ]
        if len(scans) != 1 or not self.listed[scans[0]] or self.correlated[scans[0]]:
            return None
        return scans[0]

    def _keep_keys(self, name: str, table: str, col: str, set_only: bool = False) -> None:
        """Keep `col` of every row of `table` (those where it is set, with `set_only`) by
        rowid in temp table `name`, to count afterwards the rows whose key moved."""
        c = quote_ident(col)
        where = f" WHERE {c} IS NOT NULL" if set_only else ""
        self.engine.conn.execute(
            f"CREATE TEMP TABLE {name} AS SELECT rowid AS r, {c} AS v "
            f"FROM main.{quote_ident(table)}{where}"
        )

    def _keys_moved(self, name: str, table: str, col: str) -> int:
        """The rows of `table` still there whose `col` is not what `_keep_keys` kept."""
        return self.engine.conn.execute(
            f"SELECT count(*) FROM temp.{name} k JOIN main.{quote_ident(table)} t "
            f"ON t.rowid = k.r WHERE t.{quote_ident(col)} IS NOT k.v"
        ).fetchall()[0][0]

    def _keep_set_keys(self) -> None:
        """Before a statement whose cascades both delete from and null rows of one child, or
        that deletes from a table whose rows point at each other (posts replying to posts):
        the keys its SET NULL / SET DEFAULT column held, by rowid, so the rows nulled are
        counted apart from those deleted (a deleted row's own key is no row nulled)."""
        cascaded = {child for _p, child, _c, action in self.edges if action == "CASCADE"}
        for parent, child, col, action in self.edges:
            if action not in ("SET NULL", "SET DEFAULT") or child not in cascaded | {parent}:
                continue  # (a table whose rows point at each other loses rows and nulls some)
            if (child, col) in self.mixed or self.engine.without_rowid(child):
                continue
            i = len(self.mixed)
            self._keep_keys(f"_d1nb_set{i}", child, col, set_only=True)
            self.mixed[(child, col)] = i
            if child in cascaded:
                self.cascade_mixed.add((child, col))
                self._keep_parent_order(i, parent, child, col)

    def _keep_parent_order(self, i: int, parent: str, child: str, col: str) -> None:
        """For a child whose rows one key nulls and another deletes, both keys to the
        statement's own rowid table: per row, the rowids of the two parents, kept in temp
        table `_d1nb_order<i>`. A row whose SET parent is deleted before its CASCADE parent
        (the statement goes in rowid order; for one parent, the key declared last acts
        first) is nulled, then deleted: written twice (Miniflare)."""
        if parent != self.statement_table or self.engine.without_rowid(parent):
            return
        cascade = next(
            (k for p, c, k, a in self.edges if (p, c, a) == (parent, child, "CASCADE")), None
        )
        keys = [self._parent_column(parent, child, k) for k in (col, cascade)]
        if cascade is None or None in keys:
            return
        # one parent's actions run from the key declared last (pragma_foreign_key_list's 0)
        ids = dict(
            self.engine.conn.execute(
                'SELECT lower("from"), id FROM pragma_foreign_key_list(?) WHERE seq = 0', (child,)
            ).fetchall()
        )
        first = "<=" if ids.get(col.lower(), 0) < ids.get(cascade.lower(), 0) else "<"
        p, c = quote_ident(parent), quote_ident(child)
        self.engine.conn.execute(
            f"CREATE TEMP TABLE _d1nb_order{i} AS SELECT c.rowid AS r, s.rowid AS s, "
            f"d.rowid AS d FROM main.{c} c JOIN main.{p} s ON s.{quote_ident(keys[0])} = "
            f"c.{quote_ident(col)} JOIN main.{p} d ON d.{quote_ident(keys[1])} = "
            f"c.{quote_ident(cascade)} WHERE s.rowid {first} d.rowid"
        )
        self.null_orders[(child, col)] = i

    def _nulled_then_deleted(self, child: str, col: str) -> int:
        """After the statement: the rows of `_keep_parent_order` nulled, then deleted."""
        if (child, col) not in self.null_orders:
            return 0
        i, parent = self.null_orders[(child, col)], quote_ident(self.statement_table or "")
        return self.engine.conn.execute(
            f"SELECT count(*) FROM temp._d1nb_order{i} o WHERE NOT EXISTS (SELECT 1 FROM "
            f"main.{quote_ident(child)} WHERE rowid = o.r) AND NOT EXISTS (SELECT 1 FROM "
            f"main.{parent} WHERE rowid = o.s) AND NOT EXISTS (SELECT 1 FROM main.{parent} "
            "WHERE rowid = o.d)"
        ).fetchall()[0][0]

    def _json_elements(
        self, table: str, source: tuple[str, str, str | None], where: str | None = None
    ) -> tuple[float, float] | None:
        """The elements a json_each (json_tree) over a column of `table` steps through per
        row, on average over the table (or the rows `where` keeps), and the same with a row
        without any counted as 1 (what a sorter fed them reads back); None when its argument
        is not `table`'s."""
        function, argument, qualifier = source
        alias = ""
        if qualifier and qualifier.lower() != table.lower():
            alias = f" AS {quote_ident(qualifier)}"
        try:
            elements, sorted_back = self.engine.conn.execute(
                f"SELECT avg(n), avg(max(n, 1)) FROM (SELECT (SELECT count(*) FROM "
                f"{function}({argument})) AS n FROM main.{quote_ident(table)}{alias}"
                + (f" WHERE {where})" if where else ")")
            ).fetchall()[0]
        except apsw.Error:
            return None
        return float(elements or 0.0), float(sorted_back or 0.0)

    def _lists_never_null(self, s: Statement) -> bool:
        """Whether every NOT IN (SELECT …) list of `s` holds a column that cannot be NULL (NOT
        NULL, or the rowid): SQLite then reads the list only for the rows not in it."""
        lists = not_in_list_columns(s.sql)
        for found in lists:
            if found is None or not self.engine.conn.table_exists(None, found[0]):
                return False
            table, column = found
            if column.lower() in ("rowid", "oid", "_rowid_") or column == self._rowid_column(table):
                continue
            if not any(c[1].lower() == column.lower() and c[3] for c in self.engine.columns(table)):
                return False
        return bool(lists)

    def _sorts(self, line: str) -> bool:
        """Whether a plan line is a sorter: GROUP BY, ORDER BY, or a DISTINCT with an ORDER BY
        of the same columns, which SQLite turns into a GROUP BY's sorter (SorterOpen in the
        program) though its plan still shows the DISTINCT."""
        return bool(SORTED.match(line)) or ("FOR DISTINCT" in line and "SorterOpen" in self.opcodes)

    @staticmethod
    def _run_condition(s: Statement) -> str | None:
        """An UPDATE's WHERE: the rows whose new values its SET subqueries compute."""
        try:
            return dml_condition(s.sql).condition
        except SqlTokenError:
            return None

    def _with_generated(self, table: str, columns: set[str]) -> set[str]:
        """`columns` and the generated columns computed from them, at any depth: an UPDATE
        of qty rewrites an index on `total AS (qty * price)` too (stranger's project #8:
        16 written by the model against 32)."""
        if table not in self._generated:
            self._generated[table] = {}
            plain = {c[1] for c in self.engine.columns(table)}
            rows = self.engine.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                (table,),
            ).fetchall()
            parts = table_parts(rows[0][0] or "") if rows else []
            for cid, name, *_rest in self.engine.columns(table, generated=True):
                if name not in plain and cid < len(parts):
                    self._generated[table][name] = names_in(parts[cid]) - {name.lower()}
        found = set(columns)
        while True:
            lower = {c.lower() for c in found}
            more = {g for g, uses in self._generated[table].items() if uses & lower} - found
            if not more:
                return found
            found |= more

    def _check_lists(self, table: str) -> list[tuple[set[str], str | None, bool, bool]]:
        """Per IN list of 3 or more values in a CHECK of `table` (SQLite keeps such a list in
        an ephemeral index and probes it, 1 read a row): the names the CHECK reads, the
        column the list tests (if a plain one), whether the CHECK may keep a NULL from the
        list (`k IS NULL OR k IN …`: a NULL reads none; one that reaches it reads 1 more,
        SQLite looking whether the list is empty), and whether it is a NOT IN, which reads
        nothing (Miniflare's counters)."""
        if table not in self._checks:
            rows = self.engine.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                (table,),
            ).fetchall()
            found = []
            for column, expr in check_constraints(rows[0][0] or "") if rows else []:
                names = names_in(expr) | ({column.lower()} if column else set())
                guarded = bool(_NULL_GUARDS.search(expr))
                for test in in_tests(f"SELECT 1 WHERE {expr}"):
                    if test.values is not None and test.values >= 3:
                        found.append((names, test.column, guarded, test.negated))
            self._checks[table] = found
        return self._checks[table]

    def _null_checks(self, s: Statement) -> list[tuple[str, int]]:
        """Per CHECK IN list an INSERT or UPDATE probes: the column it tests and what a NULL
        written there adds to the probe's 1 read, +1 or -1 (`_check_lists`; stranger's
        project #24: 8,740 by the model against 9,290, for 550 rows inserted with a NULL
        status); the rows written are marked, to count their NULLs after."""
        if s.kind not in ("insert", "insert_select", "update") or not s.table:
            return []
        if not self.engine.conn.table_exists(None, s.table):
            return []
        written = {c.lower() for c in written_columns(s.sql) or []}
        columns = [
            (c, -1 if guarded else 1)
            for _names, c, guarded, negated in self._check_lists(s.table)
            if c and not negated and (s.kind != "update" or c in written)
        ]
        return columns if columns and self._mark_written_rows(s) else []

    def _rows_per_key(self, table: str, columns: str) -> float:
        """Rows of `table` per distinct value of `columns` (`a=? AND b=?` as a plan writes
        them): what a search by those keys finds on average (kept in `_averages`)."""
        if (table, columns) not in self._averages:
            cols = [c.split("=")[0].strip() for c in columns.split(" AND ")]
            known = {r[1].lower() for r in self.engine.columns(table)}
            if not all(c.lower() in known or c == "rowid" for c in cols):
                return 1.0
            listed = ", ".join(c if c == "rowid" else quote_ident(c) for c in cols)
            rows, keys = self.engine.conn.execute(
                f"SELECT (SELECT count(*) FROM {quote_ident(table)}), (SELECT count(*) FROM "
                f"(SELECT DISTINCT {listed} FROM {quote_ident(table)}))"
            ).fetchall()[0]
            self._averages[(table, columns)] = rows / keys if keys else 0.0
        return self._averages[(table, columns)] or 0.0

    def _outer_rows(self, table: str, changes: int) -> int:
        """How many times a correlated subquery runs: once per row the statement's own loop
        visits (its table scanned whole, else the rows it changes or an INSERT's SELECT
        yields); once per row written when they are all in an UPDATE's SET."""
        own = [
            m.group(1)
            for line, inside in zip(self.plan, self.correlated, strict=False)
            if not inside and (m := PLAN_TABLE.match(line)) and m.group(2) == table
        ]
        if self.set_subqueries_only:  # they compute the new values of the rows written
            return changes
        if own == ["SCAN"]:
            return self.scanned.get(table, changes)
        if own == ["SEARCH"] and self.index_visits is not None:
            return self.index_visits  # a search that filters further: every row it visits
        return self.fed if self.fed is not None else changes

    def _in_operator_probes(self, s: Statement) -> int | None:
        """Before the statement runs: the rowid lookups of an IN (SELECT rowid …) sought in
        place (ROWID_IN_OPERATOR), one per row of the statement's own scan that the WHERE's
        other AND terms keep (SQLite tests the IN last; a search's own terms are among them).
        None when there is none, or no one loop of its own (then `_outer_rows`)."""
        table = s.table or ""
        if s.kind not in ("update", "delete") or not any(
            ROWID_IN_OPERATOR.match(line) for line in self.plan
        ):
            return None
        own = [m.group(1) for _i, m in self._own_loops() if m.group(2) == table]
        if len(own) != 1:
            return None
        if self.not_in_tests is not None:  # a NOT IN: sought where its test is reached
            return self.not_in_tests[0]
        try:
            condition = dml_condition(s.sql).condition
        except SqlTokenError:
            return None
        kept = [t for t in and_terms(condition or "") if "select" not in names_in(t)]
        return self._count_where(f"main.{quote_ident(table)}", kept)

    def _correlated_reads(
        self, i: int, line: str, how: str, name: str, using: str | None, runs: int
    ) -> int:
        """Reads of one loop (plan line `i`) of a correlated subquery over all its runs: a
        scan reads its table each time (an empty one 1); a search by rowid 1, through a UNIQUE
        index on all its columns 1; a search by other index keys the rows they find plus 1,
        the rows found at most the table's (fitted on Miniflare)."""
        rows = self.scanned[name]
        if how == "SCAN":
            return runs * max(rows, 1)
        if line in self.per_key:
            keys = EQUAL_KEYS.search(line)
            table = self.aliased.get(name, name)
            if keys and self._unique_search(table, using or "", keys.group(1)):
                return runs  # one row at most: no step past it (stranger's project #16)
            if i in self.search_reads:
                return self.search_reads[i]
            return min(rows, round(runs * self.per_key[line])) + runs
        return runs

    def _correlated_search_reads(
        self, s: Statement, name: str, line: str, in_where: bool | None = None
    ) -> int | None:
        """The reads of an aggregate subquery that searches a full index (or a WITHOUT ROWID
        table's key) by equal keys, over all its runs (in an UPDATE's SET one per row the
        WHERE keeps, in an AND term of the WHERE one per row the other terms keep): per run
        the entries its keys find, + 1 for the entry after them if there is one; a search
        that finds none reads none. max() of the index's next column reads 1 a run that finds
        any; min() 1 when a non-NULL value is found, else 2, and none for a NULL key
        (Miniflare's counters; stranger's project #24: 7,243 by the mean rows per key against
        6,310). None when the keys are not all set equal to the outer row's values or
        constants in its WHERE."""
        found = {
            c
            for c in correlated_searches(s.sql)
            if c.name == name.lower() and in_where in (None, c.in_where)
        }
        if len(found) != 1 or not s.table:
            return None
        search = found.pop()
        where = self._subquery_runs(s) if search.in_where else self._run_condition(s)
        # a SET's search runs once per row the whole WHERE keeps, its subqueries too; told
        # from the WHERE's own searches by the plan (`in_where`) or when it has none
        known = search.in_where or self.set_subqueries_only or in_where is False
        if (where is None and search.in_where) or not known:
            return None
        index = re.search(r" USING (?:COVERING )?INDEX (.+?) \((.+)\)$", line)
        if index and self._partial_where(index.group(1)) is None:
            searched = index.group(2)
            indexed = self.engine.index_columns(index.group(1))
        elif key := PRIMARY_KEYS.search(line):
            searched = key.group(1)
            indexed = [
                c[1].lower()
                for c in sorted(self.engine.columns(search.table), key=lambda c: c[5])
                if c[5]
            ]
        else:
            return None
        equal = dict(search.equal)
        keys = [part.rsplit("=", 1)[0] for part in searched.split(" AND ")]
        if not indexed or any(not k.endswith("=?") for k in searched.split(" AND ")):
            return None
        if any(k.lower() not in equal for k in keys):
            return None
        after = indexed[len(keys)] if len(indexed) > len(keys) else None
        ref, source, updated = self._search_sources(s, search)
        columns = ", ".join(f"{ref}.{quote_ident(k)}" for k in keys)
        values = ", ".join(f"_d1nb_k{i}" for i in range(len(keys)))
        picked = "".join(f", {equal[k.lower()]} AS _d1nb_k{i}" for i, k in enumerate(keys))
        matched = " AND ".join(f"{ref}.{quote_ident(k)} = {equal[k.lower()]}" for k in keys)
        found = f"(SELECT count(*) FROM {source} WHERE {matched})"
        if after in search.maximum:  # the one row at the end of the range, if any
            run = "_d1nb_m > 0"
        elif after in search.minimum:  # the first row past the NULLs; 2 when there is none
            run = "_d1nb_m + 0"
            found = (
                f"CASE WHEN {' OR '.join(f'{v} IS NULL' for v in equal.values())} THEN 0 "
                f"WHEN EXISTS (SELECT 1 FROM {source} WHERE {matched} AND "
                f"{ref}.{quote_ident(after)} IS NOT NULL) THEN 1 ELSE 2 END"
            )
        else:
            run = (
                f"_d1nb_m + (_d1nb_m > 0 AND EXISTS (SELECT 1 FROM {source} "
                f"WHERE ({columns}) > ({values})))"
            )
        query = f"SELECT sum({run}) FROM (SELECT {found} AS _d1nb_m{picked} FROM {updated}" + (
            f" WHERE {where})" if where else ")"
        )
        try:
            return self.engine.conn.execute(query).fetchall()[0][0] or 0
        except apsw.Error:
            return None

    def _exists_search_reads(
        self, s: Statement, name: str, keys: str, in_where: bool | None = None, line: str = ""
    ) -> int | None:
        """The reads of a `[NOT] EXISTS` term of an UPDATE's or DELETE's WHERE that searches
        by equal keys only: 1 a run that finds a row (it stops there), none otherwise. It runs
        for the rows the WHERE's other terms keep, SQLite testing terms with subqueries last
        (Miniflare's counters: an orphan clean-up, `DELETE … WHERE st = 'x' AND NOT EXISTS
        (…)`, read 2,839 by the model against 1,250). None for any other shape, or when
        another term holds a subquery too, or the search's keys (`a=? AND b=?`, as the plan
        writes them) are not all its WHERE's terms."""
        plain = self._subquery_runs(s)
        if plain is None or in_where is False:
            return None
        return self._runs_finding_a_row(s, exists_searches(s.sql), name, keys, plain, line)

    def _first_row_search_reads(self, s: Statement, name: str, keys: str) -> int | None:
        """The reads of a scalar subquery in an UPDATE's SET that searches by equal keys
        only and yields a plain column: 1 a run that finds a row (its value is the first),
        none otherwise, one run per row the WHERE keeps (Miniflare's counters: a backfill
        `SET x = (SELECT v FROM e WHERE e.tid = t.id)` read 110 by the rows per key against
        47). None for any other shape."""
        searches = first_row_searches(s.sql)
        return self._runs_finding_a_row(s, searches, name, keys, self._run_condition(s))

    def _runs_finding_a_row(
        self,
        s: Statement,
        searches: tuple[CorrelatedSearch, ...],
        name: str,
        keys: str,
        runs: str | None,
        line: str = "",
    ) -> int | None:
        """How many of the runs of the one search in `searches` that the plan names `name`
        (on plan line `line`) find a row: the rows of the statement's table that `runs` (a
        condition, or none for all) keeps and whose keys the search's table holds (an EXISTS
        with other terms: `_filtered_search_reads`). None when the search is not one of
        them, or the plan's keys (`a=? AND b=?`) are not all its WHERE's equal terms."""
        found = [c for c in searches if c.name == name.lower()]
        if len(found) != 1 or not s.table:
            return None
        search = found[0]
        searched = {part.rsplit("=", 1)[0].lower() for part in keys.split(" AND ")}
        ref, source, updated = self._search_sources(s, search)
        if search.in_where and searched < {c for c, _e in search.equal}:
            # an EXISTS's equal terms the index does not hold filter like its other terms
            unheld = [(c, e) for c, e in search.equal if c not in searched]
            rest = " AND ".join(f"({ref}.{quote_ident(c)} = {e})" for c, e in unheld)
            search = replace(
                search,
                equal=tuple((c, e) for c, e in search.equal if c in searched),
                rest=" AND ".join(r for r in (rest, search.rest) if r),
            )
        if searched != {c for c, _e in search.equal} or len(search.equal) != len(searched):
            return None  # a term the index does not hold filters the rows it steps through
        matched = " AND ".join(f"{ref}.{quote_ident(c)} = {e}" for c, e in search.equal)
        if search.rest:
            return self._filtered_search_reads(search, line, ref, source, updated, matched, runs)
        return self._count_where(
            updated,
            ([runs] if runs else []) + [f"EXISTS (SELECT 1 FROM {source} WHERE {matched})"],
        )

    def _filtered_search_reads(
        self,
        search: CorrelatedSearch,
        line: str,
        ref: str,
        source: str,
        updated: str,
        matched: str,
        runs: str | None,
    ) -> int | None:
        """An EXISTS whose keys an index holds, with terms it does not (`… AND p.qty > 2`):
        each run steps through the keys' entries in the index's order (by rowid, when the
        index holds the keys alone) up to the first row that passes, 1 read each; when none
        does, all of them and the entry after (Miniflare's counters: 2,640 by the model
        against 2,159 before). None for a search through another index, or of a WITHOUT
        ROWID table."""
        index = re.search(r" USING (?:COVERING )?INDEX (.+?) \(", line)
        if index is None or self.engine.without_rowid(search.table):
            return None
        indexed = self.engine.index_columns(index.group(1))
        if sorted(indexed) != sorted(c for c, _e in search.equal):
            return None
        first = f"(SELECT min({ref}.rowid) FROM {source} WHERE {matched} AND {search.rest})"
        entries = f"(SELECT count(*) FROM {source} WHERE {matched}"
        run = "CASE WHEN _d1nb_p > 0 THEN _d1nb_p WHEN _d1nb_n > 0 THEN _d1nb_n + 1 ELSE 0 END"
        query = (
            f"SELECT sum({run}) FROM (SELECT {entries} AND {ref}.rowid <= {first}) AS _d1nb_p, "
            f"{entries}) AS _d1nb_n FROM {updated}" + (f" WHERE {runs})" if runs else ")")
        )
        try:
            return self.engine.conn.execute(query).fetchall()[0][0] or 0
        except apsw.Error:
            return None

    @staticmethod
    def _search_sources(s: Statement, search: CorrelatedSearch) -> tuple[str, str, str]:
        """How the counting queries name a correlated search's table (its alias or name),
        read it (`main.t AS a`), and read the statement's own table, under their aliases."""
        source = f"main.{quote_ident(search.table)}" + (
            f" AS {quote_ident(search.alias)}" if search.alias else ""
        )
        updated = f"main.{quote_ident(s.table or '')}" + (
            f" AS {quote_ident(search.updated_as)}" if search.updated_as else ""
        )
        return quote_ident(search.alias or search.table), source, updated

    @staticmethod
    def _subquery_runs(s: Statement) -> str | None:
        """For an UPDATE or DELETE whose WHERE holds one AND term with a subquery: the AND of
        its other terms ("" for none), the rows that term is tested for (SQLite tests terms
        with subqueries last); None otherwise."""
        try:
            cut = dml_condition(s.sql)
        except SqlTokenError:
            return None
        terms = and_terms(cut.condition or "")
        plain = [t for t in terms if "select" not in names_in(t)]
        if cut.trailing or len(terms) - len(plain) != 1:
            return None
        return " AND ".join(f"({t})" for t in plain)

    def _own_loops(self) -> list[tuple[int, re.Match]]:
        """The plan's loops over tables outside correlated subqueries and IN lists: the
        statement's own, in join order (plan line, match of PLAN_TABLE)."""
        correlated = self.correlated or [False] * len(self.plan)
        listed = self.listed or [False] * len(self.plan)
        return [
            (i, m)
            for i, line in enumerate(self.plan)
            if not correlated[i] and not listed[i] and (m := PLAN_TABLE.match(line))
        ]

    def _json_loop_steps(self, s: Statement) -> dict[str, int]:
        """For an INSERT … SELECT joining `json_each(t.col)` (or json_tree) in a loop after
        the one over t, and no other: per loop name, the elements it steps through, each a
        row read. It runs for the rows of t that the terms on t alone keep, and steps through
        all their elements before its own terms filter them (stranger's project #37: 40 read
        by the model against 113 in D1, the elements left uncounted without a sorter)."""
        terms = select_join_terms(s.sql) or []
        loops = self._own_loops()
        steps = {}
        for name, (function, argument, qualifier) in json_each_sources(s.sql).items():
            line = next(
                (
                    i
                    for i, found in enumerate(self.plan)
                    if (v := PLAN_VIRTUAL.match(found)) and v.group(1).lower() == name
                ),
                len(self.plan),
            )
            before = [m.group(2) for i, m in loops if i < line]
            real = [n for n in before if not PLAN_VIRTUAL.match(f"SCAN {n}")]
            if len(before) != 1 or len(real) != 1:
                continue
            outer = real[0]
            table = self.aliased.get(outer, outer)
            names = {outer.lower(), table.lower()}
            if qualifier and qualifier.lower() not in names:
                continue
            columns = {c[1].lower() for c in self.engine.columns(table)}
            kept = [t for t, q, bare in terms if (q or bare) and q <= names and bare <= columns]
            alias = f" AS {quote_ident(outer)}" if outer.lower() != table.lower() else ""
            source = f"main.{quote_ident(table)}{alias}"
            where = " WHERE " + " AND ".join(f"({t})" for t in kept) if kept else ""
            query = f"SELECT sum((SELECT count(*) FROM {function}({argument}))) FROM {source}"
            with contextlib.suppress(apsw.Error):
                steps[name] = self.engine.conn.execute(query + where).fetchall()[0][0] or 0
        return steps

    def _count_where(self, source: str, terms: list[str], with_: str = "") -> int | None:
        """count(*) of `source` (a FROM list) under the AND of `terms`, after `with_` (a WITH
        clause and a space, for a source naming its CTEs); None when SQLite cannot run it."""
        where = " WHERE " + " AND ".join(f"({t})" for t in terms) if terms else ""
        query = f"{with_}SELECT count(*) FROM {source}{where}"
        try:
            return self.engine.conn.execute(query).fetchall()[0][0]
        except apsw.Error:
            return None

    def _own_search_end(self, s: Statement) -> int:
        """For an UPDATE or DELETE that searches its own table by a range or by keys an index
        does not hold once only: 1 for where the search ends, the entry after its last one
        (read, then left), or its start when it finds none; 0 when it runs to the end of
        the table (Miniflare's counters: `WHERE id <= 99` of 400 rows read 100, `WHERE id <=
        1000` 400, `WHERE x = 10` through an index 9 for 8 rows, `WHERE id > 500` of 400
        rows 1, of none 0). 0 for any other search: a key found once (the rowid, a UNIQUE
        index on all its columns), an index on an expression, in descending order or another
        collation."""
        if s.kind not in ("update", "delete") or not s.table:
            return 0
        own = [m for _i, m in self._own_loops() if m.group(2) == s.table]
        if len(own) != 1 or own[0].group(1) != "SEARCH" or not own[0].group(3):
            return 0
        using = own[0].group(3)
        keys = EQUAL_KEYS.search(f"USING {using}")
        if "(rowid=?)" in using or (keys and self._unique_search(s.table, using, keys.group(1))):
            return 0
        order = self._search_order(s.table, using)
        searched = self._searched_columns(s.table, using)
        if not order or searched is None:
            return 0
        try:
            condition = dml_condition(s.sql).condition
        except SqlTokenError:
            return 0
        columns = {c[1].lower() for c in self.engine.columns(s.table)} | {"rowid"}
        kept = [
            term
            for term in and_terms(condition or "")
            if (on := names_in(term) & columns)
            and on <= searched
            and "select" not in names_in(term)
        ]
        if not kept:
            return 0
        table = f"main.{quote_ident(s.table)}"
        cols = ", ".join(order)
        where = " AND ".join(f"({t})" for t in kept)
        try:
            last = self.engine.conn.execute(
                f"SELECT {cols} FROM {table} WHERE {where} "
                f"ORDER BY {', '.join(f'{c} DESC' for c in order)} LIMIT 1"
            ).fetchall()
            if not last:  # it starts on an entry it leaves, or on none in an empty table
                return self._count(s.table) > 0
            marks = ", ".join("?" for _ in order)
            after = self.engine.conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM {table} WHERE ({cols}) > ({marks}))", last[0]
            ).fetchall()[0][0]
        except apsw.Error:
            return 0
        return int(bool(after))

    def _search_order(self, table: str, using: str) -> list[str] | None:
        """The columns (quoted) a search goes through its table in: the rowid, or an index's
        columns then the rowid; None for an order SQL cannot compare as the index does (an
        expression, DESC, a collation other than BINARY, a WITHOUT ROWID table)."""
        if self.engine.without_rowid(table):
            return None
        if using.startswith("INTEGER PRIMARY KEY"):
            return ["rowid"]
        named = INDEX_NAME.match(using)
        if not named:
            return None
        info = self.engine.conn.execute(
            "SELECT name, desc, coll, key FROM pragma_index_xinfo(?) ORDER BY seqno",
            (named.group(1),),
        ).fetchall()
        keys = [r for r in info if r[3]]
        if not keys or any(n is None or d or (c or "BINARY") != "BINARY" for n, d, c, _k in keys):
            return None
        return [quote_ident(n) for n, _d, _c, _k in keys] + ["rowid"]

    def _own_index_visits(self, s: Statement) -> int | None:
        """For an UPDATE or DELETE that searches its own table through an index (or its
        primary key) and filters further (`kind IS NOT NULL AND json_valid(payload)`): the rows
        the search visits, those the WHERE's terms on the index's columns keep (D1 reads each,
        written or not; stranger's project #8: 727 by the model against 1,502). None
        otherwise: the rows visited are the rows changed."""
        if s.kind not in ("update", "delete") or not s.table:
            return None
        own = [m for _i, m in self._own_loops() if m.group(1) == "SEARCH" and m.group(2) == s.table]
        searched = self._searched_columns(s.table, own[0].group(3)) if len(own) == 1 else None
        if searched is None:
            return None
        try:
            condition = dml_condition(s.sql).condition
        except SqlTokenError:
            return None
        columns = {c[1].lower() for c in self.engine.columns(s.table)}
        terms = and_terms(condition or "")
        kept = []
        for term in terms:
            named = names_in(term)
            on = named & columns
            if on and on <= searched and "select" not in named:
                kept.append(term)
            elif "select" in named and in_subquery_column(term) in searched:
                kept.append(term)  # `product_id IN (SELECT …)`: the list drives the search
        if not kept or len(kept) == len(terms):
            return None
        return self._count_where(f"main.{quote_ident(s.table)}", kept)

    def _searched_columns(self, table: str, using: str | None) -> set[str] | None:
        """The columns (lower-cased) a plan's search of `table` through an index or a primary
        key compares (`(plan=? AND rowid>?)`, `(rowid<?)`: the rowid's alias too); None for a
        search through neither."""
        using = using or ""
        keys = INDEX_KEYS.search(using) if "INDEX" in using or "PRIMARY KEY" in using else None
        if keys is None:
            return None
        searched = {re.split(r"[=<>]", k)[0].strip().lower() for k in keys.group(1).split(" AND ")}
        if "rowid" in searched and (alias := self._rowid_column(table)):
            searched.add(alias.lower())
        return searched

    def _source_search_visits(self, s: Statement) -> tuple[int, int] | None:
        """For an INSERT … SELECT from one table that it searches through an index and
        filters further (`kind = 'invite' AND org_id IN (SELECT …)`): (plan line, rows the
        search visits), those the WHERE's terms on the index's columns keep (stranger's
        project #9's second run: 976 by the model against 2,441 in D1). None otherwise: the
        search finds the rows the SELECT yields."""
        if s.kind != "insert_select":
            return None
        loops = self._own_loops()
        if len(loops) != 1 or loops[0][1].group(1) != "SEARCH":
            return None
        line, match = loops[0]
        if match.group(2) not in self.aliased:
            return None
        searched = self._searched_columns(self.aliased[match.group(2)], match.group(3))
        query = search_visits_query(s.sql, searched) if searched is not None else None
        if query is None:
            return None
        try:
            return line, self.engine.conn.execute(query).fetchall()[0][0]
        except apsw.Error:
            return None

    def _rows_joined(self, s: Statement) -> int | None:
        """For an UPDATE … FROM whose own table is scanned first: the rows of it that reach
        the join, those the WHERE's terms on it alone keep; each seeks its partner (3,396 by
        the model against 3,996 in D1 before, where a seek counted once). None otherwise."""
        self.own_sought = None
        self.searched_first: int | None = None
        """For an UPDATE … FROM that searches its own table first (`pay.id < 500`): the rows
        the search visits that the terms on it alone keep, each seeking its partner (-1: no
        term on its columns, the search's range carried over from the partner's; the rows
        changed). 1,498 by the model against 1,997 in D1 before, a seek counted once."""
        loops = self._own_loops() if s.kind == "update" and s.table else []
        if len(loops) < 2:
            return None  # no join
        others = update_from_names(s.sql) - {s.table.lower()}
        try:
            condition = dml_condition(s.sql).condition
        except SqlTokenError:
            return None
        own = quote_ident(s.table)
        ref = update_from_target(s.sql) or own
        if loops[0][1].group(2) != s.table:
            own_loop = next(((i, m) for i, m in loops[1:] if m.group(2) == s.table), None)
            parts = self._update_from_parts(s)
            if own_loop is None or "(rowid=?)" not in (own_loop[1].group(3) or "") or not parts:
                return None
            # its own table sought by rowid per row of the loops before it: those rows, kept
            # by the WHERE's and ONs' terms that name neither it, a later loop nor a subquery
            # (a second subquery searched after it read 1,449,201 by the model against
            # 19,600 in D1, the two counted as one cross product)
            prefix, (target, *joined), where_terms = parts
            before = {m.group(2).lower() for i, m in loops if i < own_loop[0]}
            reaching = [item for item in joined if item[0] & before] or joined[:1]
            later = set().union(*(item[0] for item in joined if item not in reaching))
            shut_out = target[0] | later
            terms = where_terms + [t for item in reaching for t in item[2]]
            kept = [
                t
                for t in terms
                if not (named := names_in(t)) & shut_out and "select" not in named and named
            ]
            source = ", ".join(item[1] for item in reaching)
            self.own_sought = self._count_where(source, kept, prefix)
            return None
        if not others:
            return None
        columns = {c[1].lower() for c in self.engine.columns(s.table)}
        kept = [
            t
            for t in and_terms(condition or "")
            if (named := names_in(t)) & columns and not named & others and "select" not in named
        ]
        if loops[0][1].group(1) == "SCAN":
            return self._count_where(f"main.{own} AS {ref}", kept)
        if self.index_visits is None:
            self.searched_first = -1
        else:
            self.searched_first = self._count_where(f"main.{own} AS {ref}", kept)
        return None

    def _update_from_searches(self, s: Statement) -> None:
        """For an UPDATE … FROM: per plan line searching an automatic index on its own table
        or one it joins, the rows the searches find plus the rows reaching it that find one,
        into `automatic_found` (stranger's project #22's backfill, a GROUP BY subquery so
        searched: 6,134 by the model against 8,882 in D1 before, counted as 1); per plan line
        seeking a table it joins by equal keys, the rows found, plus those finding one when
        the keys are not unique, into `partner_found` (1,901 against 2,450 before)."""
        parts = self._update_from_parts(s)
        if not parts:
            return
        prefix, items, where_terms = parts
        own = items[0][:2]
        everything = [(names, source) for names, source, _on in items]
        terms = where_terms + [t for _n, _s, on in items for t in on]

        def on_only(chosen: list[tuple[frozenset[str], str]]) -> list[str]:
            """The terms naming nothing but the `chosen` tables and subqueries (no subquery)."""
            others = set().union(*(names for names, _s in everything if (names, _s) not in chosen))
            return [
                t
                for t in terms
                if (named := names_in(t)) and "select" not in named and not named & others
            ]

        loops = self._own_loops()
        for i, match in loops:
            line, name = self.plan[i], match.group(2).lower()
            searched = next((item for item in everything if name in item[0]), None)
            reached = {m.group(2).lower() for j, m in loops if j < i}
            before = [item for item in everything if item[0] & reached and item != searched]
            automatic = "AUTOMATIC" in line
            keys = EQUAL_KEYS.search(line) or PRIMARY_KEYS.search(line)
            if not (automatic or keys) or searched in (None, own) or not before:
                continue
            outer = on_only(before)
            # the terms the search takes (a partial automatic index's own ones too); the
            # searched table's other terms filter the rows it finds
            reaching = set().union(*(names for names, _s in before))
            linking = [
                t
                for t in on_only([*before, searched])
                if t not in outer and (names_in(t) & reaching or "PARTIAL" in line)
            ]
            sources = ", ".join(source for _n, source in before)
            found = self._count_where(f"{sources}, {searched[1]}", outer + linking, prefix)
            where = " WHERE " + " AND ".join(f"({t})" for t in linking) if linking else ""
            exists = f"EXISTS (SELECT 1 FROM {searched[1]}{where})"
            matched = self._count_where(sources, [*outer, exists], prefix)
            if found is None or matched is None:
                continue
            if automatic:
                self.automatic_found[i] = found + matched
            elif self._one_row_per_key(match.group(2), line):
                self.partner_found[i] = found  # one row at most: no step past it
            else:
                self.partner_found[i] = found + matched

    def _update_from_parts(self, s: Statement) -> tuple[str, list[FromItem], list[str]] | None:
        """For an UPDATE … FROM: its WITH clause ('' without one), its own table (as the
        statement names it, with no ON terms) then each table or subquery it joins, and its
        WHERE's AND terms. None for any other statement, or text sqlglot cannot read."""
        items = update_from_items(s.sql) if s.kind == "update" and s.table else None
        if not items:
            return None
        try:
            condition = dml_condition(s.sql).condition
        except SqlTokenError:
            return None
        prefix, joined = items
        ref = update_from_target(s.sql) or quote_ident(s.table)
        names = frozenset({ref.strip('"').lower(), s.table.lower()})
        target = (names, f"main.{quote_ident(s.table)} AS {ref}", ())
        return prefix, [target, *joined], and_terms(condition or "")

    def _one_row_per_key(self, name: str, line: str) -> bool:
        """Whether a plan line's search by equal keys finds one row at most: on every column
        of a WITHOUT ROWID table's primary key, or of a UNIQUE index."""
        table = self.aliased.get(name, name)
        if keys := PRIMARY_KEYS.search(line):
            primary = sum(1 for c in self.engine.columns(table) if c[5])
            return len(keys.group(1).split(" AND ")) == primary
        keys = EQUAL_KEYS.search(line)
        using = PLAN_TABLE.match(line)
        return bool(keys and using) and self._unique_search(table, using.group(3), keys.group(1))

    def _inner_loop_rows(self, s: Statement) -> dict[int, int]:
        """For an INSERT … SELECT or a SELECT that joins, or an UPDATE or DELETE whose one IN
        (SELECT …) list joins: per plan line of an inner loop, the rows that reach it, those of
        the loops before it (joined) that the terms on their tables alone keep; each runs once
        per such row (668 by the model against 1,670 in D1 before, when a join's search counted
        as finding the rows the SELECT yields; a DELETE … IN (SELECT … JOIN … JOIN …) of
        stranger's project #9 read 11,762 against 22,440). {} otherwise."""
        self.list_joins = False
        self.automatic_found: dict[int, int] = {}
        """Per plan line searching an automatic index: the rows it finds, plus the rows of
        the loops before it that find one."""
        if s.kind not in ("insert_select", "select", "update", "delete"):
            return {}
        loops = [(i, m.group(2)) for i, m in self._own_loops()]
        if (
            s.kind != "insert_select"
            and (len(loops) < 2 or s.kind != "select")
            and sum("LIST SUBQUERY" in line for line in self.plan) == 1
        ):
            correlated = self.correlated or [False] * len(self.plan)
            loops = [
                (i, m.group(2))
                for i, line in enumerate(self.plan)
                if self.listed[i] and not correlated[i] and (m := PLAN_TABLE.match(line))
            ]
            self.list_joins = True
        elif s.kind in ("update", "delete"):
            return {}
        if len(loops) < 2 or any(name not in self.aliased for _i, name in loops):
            return {}
        terms = select_join_terms(s.sql)
        if terms is None:  # a second loop that is no join: a foreign key's parent check
            return {}
        columns = {
            n: {c[1].lower() for c in self.engine.columns(self.aliased[n])} for _i, n in loops
        }
        reaching = {}
        for k in range(1, len(loops) + 1):
            before = [name for _i, name in loops[:k]]
            names = {n.lower() for n in before} | {self.aliased[n].lower() for n in before}
            own = set().union(*(columns[n] for n in before))
            later = set().union(*(columns[n] for _i, n in loops[k:])) - own
            kept = [
                term
                for term, qualifiers, bare in terms
                if (qualifiers or bare) and qualifiers <= names and bare <= own - later
            ]
            source = ", ".join(
                f"main.{quote_ident(self.aliased[n])} AS {quote_ident(n)}" for n in before
            )
            line = loops[k - 1][0]
            if k > 1 and "AUTOMATIC" in self.plan[line]:
                # an automatic index is searched: the rows it finds, and the rows of the loops
                # before it that find one (a search that finds none reads nothing)
                outer = ", ".join(f"{quote_ident(n)}.rowid" for n in before[:-1])
                found, matched = self._count_where(source, kept), None
                where = " WHERE " + " AND ".join(f"({t})" for t in kept) if kept else ""
                with contextlib.suppress(apsw.Error):  # a WITHOUT ROWID table: no rowid
                    matched = self.engine.conn.execute(
                        f"SELECT count(*) FROM (SELECT DISTINCT {outer} FROM {source}{where})"
                    ).fetchall()[0][0]
                if found is not None and matched is not None:
                    self.automatic_found[line] = found + matched
            if k == len(loops):
                break
            rows = self._count_where(source, kept)
            if rows is None:
                return {}
            reaching[loops[k][0]] = rows
        return reaching

    def _rows_fed(self, s: Statement) -> int | None:
        """For an INSERT … SELECT or a SELECT that searches a table or sorts: the rows its
        SELECT's FROM and WHERE yield (what its searches find and its sorter is fed); else
        None."""
        if s.kind not in ("insert_select", "select"):
            return None
        named = names_in(s.sql)
        children = {c for c, _col, _a in self.children(s.table or "")}
        searches = any(
            (m := PLAN_TABLE.match(line))
            and m.group(1) == "SEARCH"
            and m.group(2) != s.table
            and not (m.group(2) in children and m.group(2).lower() not in named)
            for line in self.plan
        )
        if not searches and not any(SORTED.match(line) for line in self.plan):
            return None
        query = rows_fed_query(s.sql)
        if query is None:
            return None
        try:
            return self.engine.conn.execute(query).fetchall()[0][0]
        except apsw.Error:
            return None

    def _rows_where(self, table: str, where: str | None) -> int:
        """Rows of `table` a partial index's WHERE keeps (all of them without one)."""
        condition = f" WHERE {where}" if where else ""
        return self.engine.conn.execute(
            f"SELECT count(*) FROM {quote_ident(table)}{condition}"
        ).fetchall()[0][0]

    def _has_sequence(self) -> bool:
        return self.engine.conn.table_exists(None, "sqlite_sequence")

    def _stat_rows(self, tables: list[str]) -> int:
        """Rows of sqlite_stat1 about `tables`; -1 when there is no sqlite_stat1."""
        if not self.engine.conn.table_exists(None, "sqlite_stat1"):
            return -1
        marks = ", ".join("?" * len(tables))
        return self.engine.conn.execute(
            f"SELECT count(*) FROM sqlite_stat1 WHERE tbl IN ({marks})", tables
        ).fetchall()[0][0]

    def _analyzed(self, s: Statement) -> list[str]:
        """The tables an ANALYZE statement analyses: all, or the one it names."""
        if s.table and self.engine.conn.table_exists(None, s.table):
            return [s.table]
        return self.engine.tables()

    def _analyze_cost(self, s: Statement) -> tuple[int, int]:
        """ANALYZE reads every index entry twice and counts the rows of each table with no
        full index; it writes each sqlite_stat1 row it makes, and 2 when it creates
        sqlite_stat1 (calibrated on Miniflare; reads approximate)."""
        conn = self.engine.conn
        tables = self._analyzed(s)
        reads = 2 + (self.stats_before < 0)
        for table in tables:
            entries, full = 0, False
            for name, partial in conn.execute(
                "SELECT name, partial FROM pragma_index_list(?)", (table,)
            ).fetchall():
                if partial:
                    sql = conn.execute(
                        "SELECT sql FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
                    ).fetchall()[0][0]
                    entries += self._rows_where(table, index_where(sql or ""))
                else:
                    entries += self._count(table)
                    full = True
            reads += 2 * entries + (0 if full else self._count(table))
        return reads, self._stat_rows(tables) + (2 if self.stats_before < 0 else 0)

    def _returns(self, s: Statement) -> bool:
        """Whether a statement has a RETURNING clause (tokenized only when the word is there)."""
        if "returning" not in s.sql.lower():
            return False
        try:
            return top_level_offset(s.sql, "RETURNING") is not None
        except SqlTokenError:
            return False

    def _mark_written_rows(self, s: Statement) -> bool:
        """Make the rows an INSERT or UPDATE of a rowid table writes tell-apart afterwards, by
        rowid and cheap on a large table: for an INSERT the largest rowid before it (new rows
        lie past it), for an UPDATE the rowids its WHERE finds, set aside in a temp table.
        False when it cannot (a WITHOUT ROWID table, a WHERE that does not run alone)."""
        table, conn = s.table, self.engine.conn
        if self.last_rowid is not None or conn.table_exists("temp", "_d1nb_updated"):
            return True
        if s.kind not in ("insert", "insert_select", "update") or not table:
            return False
        if not conn.table_exists(None, table) or self.engine.without_rowid(table):
            return False
        if s.kind != "update":
            last = conn.execute(f"SELECT max(rowid) FROM main.{quote_ident(table)}").fetchall()
            self.last_rowid = last[0][0] or 0
            return True
        try:
            cut = dml_condition(s.sql)
        except SqlTokenError:
            return False
        if cut.trailing:
            return False
        # and the values its triggers' WHEN read as OLD
        columns = {c[1].lower(): c[1] for c in self.engine.columns(table, generated=True)}
        read = {c for t in self._table_triggers(table) for c in old_columns(t.when or "")}
        kept = [columns[c] for c in sorted(read) if c in columns]
        if " FROM " in f" {cut.head.upper()} ":  # UPDATE … FROM: the target rows it joins
            query = update_from_rows_query(s.sql, kept)
            if query is None:
                return False
        else:
            where = f" WHERE {cut.condition}" if cut.condition else ""
            query = (
                f"SELECT rowid AS _d1nb_r{''.join(f', {quote_ident(c)}' for c in kept)} "
                f"FROM main.{quote_ident(table)}{where}"
            )
        try:
            conn.execute(f"CREATE TEMP TABLE _d1nb_updated AS {query}")
        except apsw.Error:  # a WHERE that cannot run alone (a correlated name)
            return False
        return True

    def _updated_rowids(self, s: Statement) -> str | None:
        """A query of the rowids an UPDATE is about to write, or None when they cannot be
        told apart (`_mark_written_rows`)."""
        if self._mark_written_rows(s) and self.engine.conn.table_exists("temp", "_d1nb_updated"):
            return "SELECT _d1nb_r FROM temp._d1nb_updated"
        return None

    def _written_rows(self, table: str, changes: int) -> str | None:
        """A condition on `table` naming the rows the statement wrote (`_mark_written_rows`),
        or None when they cannot be told apart."""
        conn = self.engine.conn
        if conn.table_exists("temp", "_d1nb_updated"):
            return "rowid IN (SELECT _d1nb_r FROM temp._d1nb_updated)"
        if self.last_rowid is None:
            return None
        rows = f"rowid > {int(self.last_rowid)}"
        t = f"main.{quote_ident(table)}"
        (new,) = conn.execute(f"SELECT count(*) FROM {t} WHERE {rows}").fetchall()[0]
        return rows if new == changes else None  # rows put below the largest rowid: unknown

    def _has_virtual_tables(self) -> bool:
        if self._virtual is None:
            self._virtual = bool(
                self.engine.conn.execute(
                    "SELECT 1 FROM pragma_table_list WHERE schema = 'main' AND type = 'virtual' "
                    "LIMIT 1"
                ).fetchall()
            )
        return self._virtual

    def after(self, s: Statement, changes: int, error: str | None) -> None:
        duration = (time.perf_counter() - self.t0) * 1000
        if self.fullscan_steps is not None:
            self.engine.conn.trace_v2(0, None)
        if self.flushing and error is None:
            flush_virtual_tables(self.engine.conn)
        deleted: dict[str, int] = {}
        nulled: dict[str, int] = {}
        if error is None:
            for (child, col), (rows0, set0, parents0) in self.children_before.items():
                if not self.engine.conn.table_exists(None, child):
                    continue
                action = next(a for _p, ch, c, a in self.edges if (ch, c) == (child, col))
                rows1, set1, parents1 = self._child_state(child, col, action)
                self.holders[child] = max(0, parents0 - parents1)  # the last edge's (fitted)
                self.edge_holders[(child, col)] = self.holders[child]
                gone = rows0 - rows1
                if child == s.table and s.kind == "delete":
                    gone -= changes  # the statement's own rows are not a cascade
                if (child, col) in self.mixed:  # rows deleted and rows nulled, told apart
                    if gone > 0:
                        deleted[child] = max(gone, deleted.get(child, 0))
                    moved = self._keys_moved(f"_d1nb_set{self.mixed[(child, col)]}", child, col)
                    if moved:
                        self.edge_nulled[(child, col)] = moved
                    moved += self._nulled_then_deleted(child, col)  # written, not read again
                    if moved:
                        nulled[child] = nulled.get(child, 0) + moved
                elif gone > 0:
                    deleted[child] = gone
                elif set0 - set1 > 0:
                    nulled[child] = nulled.get(child, 0) + set0 - set1
                    self.edge_nulled[(child, col)] = set0 - set1
        self.edge_deleted = {} if error else self._edge_deleted(deleted)
        self.rank_sums = {} if error else self._rank_sums()
        if self.as_insert is not None and error is None:  # its CREATE TABLE, then its rows
            rows = self._count(s.table or "")
            reads, writes = self._estimate(self.as_insert, rows, {}, {})
            reads, writes = reads + 1, writes + 2
        else:
            nothing = error or self.existed
            written = self._written_rows(s.table or "", changes) if self.null_checks else None
            if not nothing and written:
                self.null_checked = sum(
                    sign
                    * self.engine.conn.execute(
                        f"SELECT count(*) FROM main.{quote_ident(s.table or '')} "
                        f"WHERE {written} AND {quote_ident(c)} IS NULL"
                    ).fetchall()[0][0]
                    for c, sign in self.null_checks
                )
            reads, writes = (0, 0) if nothing else self._estimate(s, changes, deleted, nulled)
        if error is None and (s.kind in _DML or s.kind == "drop_table"):
            # rows its triggers (and ON UPDATE actions) inserted, updated or deleted: one write
            # each, and the index entries of rows they inserted into one table (a DROP TABLE
            # deletes its rows first: their cascades fire triggers too)
            own = self.table_rows if s.kind == "drop_table" else changes
            others = self.engine.conn.total_changes() - self.total_before - own - self.shadow_rows
            made = max(0, others - sum(deleted.values()) - sum(nulled.values()))
            writes += made + made * self._trigger_insert_indexes()
            writes += self._cascaded_index_writes()
        if self.key_scans is not None:  # the foreign-key searches of an UPDATE of a parent key
            reads += 0 if error else self.key_scans.reads()
            self.key_scans.drop()
        rewritten: dict[str, int] = {}
        if error is None:  # rows ON UPDATE actions rewrote, after their writes are counted
            rewritten, cut = self.rewrites.moved()
            for child, n in cut.items():
                nulled[child] = max(nulled.get(child, 0), n)
            self._after_update_actions(s, self.rewrites)
        self.rewrites.drop()
        for i in self.mixed.values():
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_set{i}")
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_order{i}")
        for i in self.edge_kept.values():
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_edge{i}")
        for i in self.edge_checked.values():
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_check{i}")
        self.engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_updated")
        self.engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_exprkeys")
        self._drop_rank_probes()
        self.rows.append(
            {
                "index": s.index,
                "line": s.line,
                "kind": s.kind,
                "table": s.table,
                "ok": error is None,
                "error": error,
                "changes": changes,
                "cascade_deleted": deleted,
                "cascade_updated": nulled,
                "cascade_rewritten": rewritten,
                "rows_read": reads,
                "rows_written": writes,
                "duration_ms": round(duration, 3),
                "plan": "; ".join(self.plan),
                "sql": s.written or s.sql,
            }
        )
        if s.table and s.kind in _DML:  # rows came, went or changed: keys and JSON elements
            self._averages = {k: v for k, v in self._averages.items() if k[0] != s.table}
        if s.kind not in _DML and s.kind not in ("select", "pragma"):
            self._indexes.clear()
            self._lookups.clear()
            self._averages.clear()
            self._checks.clear()
            self._generated.clear()
            self._autoincrements.clear()
            self._expressions.clear()
            self._triggers.clear()
            self._virtual = None
            self._fks = None
            self._on_update = None

    def _estimate(
        self, s: Statement, changes: int, deleted: dict[str, int], nulled: dict[str, int]
    ) -> tuple[int, int]:
        """(rows_read, rows_written) by D1's counting rules (docs/metering.md)."""
        table = s.table or ""
        reads = writes = 0
        text = s.sql.lower()
        named: set[str] | None = None  # the statement's names, tokenized only if need be
        scanned_rows = 0
        runs = self._outer_rows(table, changes)
        correlated = self.correlated or [False] * len(self.plan)
        listed = self.listed or [False] * len(self.plan)
        for i, (line, inside) in enumerate(zip(self.plan, correlated, strict=True)):
            if inside and line in self.json_elements:  # each run steps through its elements
                reads += round(runs * self.json_elements[line])
                continue
            if inside and self._sorts(line) and self.json_sorted is not None:
                # a sorter in the subquery is fed its elements and reads them back, each run
                reads += round(runs * self.json_sorted)
                continue
            if (
                not inside
                and not listed[i]
                and s.kind == "insert_select"
                and (virtual := PLAN_VIRTUAL.match(line))
                and (loop := virtual.group(1).lower()) in self.json_loops
                and (loop in self.json_steps or self.fed is not None)
            ):  # FROM t, json_each(t.col): each element stepped through a row read
                reads += self.json_steps.get(loop, self.fed)
                continue
            if self.window_rows and listed[i] and line.startswith("SCAN (subquery-"):
                if not any(
                    later.startswith("SCAN (subquery-")
                    for later, inside in zip(self.plan[i + 1 :], listed[i + 1 :], strict=True)
                    if inside
                ):  # the list's values, yielded by the outermost query over a window's
                    reads += self.list_rows + 1
                continue
            if not inside and ROWID_IN_OPERATOR.match(line):
                probes = self.in_operator_probes
                reads += self._outer_rows(table, changes) if probes is None else probes
                continue
            match = PLAN_TABLE.match(line)
            if not match or match.group(2) not in self.scanned:
                continue
            how, name, using = match.groups()
            written_as = {name.lower(), name.lower().replace('"', '""')}
            checked = name in self.child_rows and not any(w in text for w in written_as)
            if name in self.child_rows and not checked:  # its text is there: named, or a word
                named = names_in(s.sql) if named is None else named
                checked = name.lower() not in named
            searched_keys = self.key_scans.children if self.key_scans else set()
            if checked and (
                how == "SCAN"
                or s.kind in ("insert", "insert_select")
                or (s.kind == "delete" and self._one_child_edge(table))
                or name in searched_keys
            ):
                # a foreign key's look at a child: `_cascade_reads` counts a delete's scans,
                # and its search when one foreign key points at the table (with several, 1
                # more each: fitted on Miniflare); the key scans an UPDATE of a parent key's;
                # an insert's checks are skipped while no deferred violation is pending
                continue
            if listed[i] and not inside and i == self.early_exit and self.fullscan_steps:
                # a list filled up to its LIMIT: the rows its scan stepped through, and the first
                reads += sum(self.fullscan_steps) + 1
                scanned_rows += sum(self.fullscan_steps) + 1
                continue
            if inside and i == self.early_exit and self.fullscan_steps:
                # the steps SQLite took, less those of the scans that run once; each run
                # starts the scan again (1 read)
                once = sum(
                    max(self.scanned[m.group(2)] - 1, 0)
                    for j, (other, within) in enumerate(zip(self.plan, correlated, strict=True))
                    if j != i
                    and not within
                    and other.startswith("SCAN ")
                    and (m := PLAN_TABLE.match(other))
                    and m.group(2) in self.scanned
                )
                reads += max(sum(self.fullscan_steps) - once, 0) + runs
            elif inside:  # a correlated subquery runs once per row of the statement's own loop
                reads += self._correlated_reads(i, line, how, name, using, runs)
            elif how == "SCAN" and i in self.loop_rows:
                # a join's inner loop without an index: scanned whole once per row reaching it
                reads += self.loop_rows[i] * max(self.scanned[name], 1)
                scanned_rows += self.scanned[name]
            elif how == "SCAN":
                # a CTE an automatic index is filled from, scanned through an index that does
                # not cover what it reads: each entry, then its row (a deferred seek, counted;
                # 1,434 in D1 where the model read 717, stranger's project #20). A statement's
                # own scan through such an index reads its rows once (fitted on Miniflare).
                seeks = (
                    i < len(self.filled_once)
                    and self.filled_once[i]
                    and "INDEX" in (using or "")
                    and "COVERING" not in (using or "")
                    and "DeferredSeek" in self.opcodes
                )
                # a scan of an empty table reads 1 (its rewind), a count(*) by OP_Count none
                empty = 0 if "Count" in self.opcodes else 1
                reads += max(self.scanned[name], empty) * (2 if seeks else 1)
                scanned_rows += self.scanned[name]
            elif i in self.automatic_found:
                # an automatic index: its table read once to build it, then what it finds
                reads += (
                    self._count(self.aliased[name])
                    if name in self.aliased
                    else self.scanned.get(name, 0)
                )
                reads += self.automatic_found[i]
            elif i in self.partner_found:  # UPDATE … FROM: a joined table sought by keys
                reads += self.partner_found[i]
            elif i in self.loop_rows:  # a join's inner loop, once per row reaching it
                keys = EQUAL_KEYS.search(line)
                per_key = self._rows_per_key(self.aliased[name], keys.group(1)) if keys else 0
                reads += round(self.loop_rows[i] * (per_key + 1))
            elif self.loop_rows and listed[i] == self.list_joins:
                # a join's first loop: it finds the rows reaching the next
                reads += next(iter(self.loop_rows.values())) + ("INDEX" in (using or ""))
            elif listed[i] and how == "SEARCH" and self._list_ordered(listed):
                # a list sorted for its ORDER BY … LIMIT: every row the search finds is read
                # (and its table row, for what the sort needs), sorted, then cut to the LIMIT
                reads += self.list_fed * (
                    2 if "INDEX" in (using or "") and "COVERING" not in using else 1
                )
            elif listed[i] and how == "SEARCH":  # an IN (SELECT …) list's rows, found once
                reads += self.list_rows + 1
            elif self.search_visits is not None and i == self.search_visits[0]:
                # an INSERT's SELECT searching through an index and filtering further: every
                # row the search visits; 2 per value of an IN list that drives it
                driven = any(listed) and EQUAL_KEYS.search(line) is not None
                reads += self.search_visits[1] + (2 * self.list_rows if driven else 1)
            elif name == table and self.own_sought is not None and "(rowid=?)" in (using or ""):
                reads += self.own_sought  # UPDATE … FROM: sought per row of what it joins
            elif name == table:
                # an IN list's values are sought one by one when the search is on equal keys;
                # a range search only filters by them
                equal = "(rowid=?)" in (using or "") or bool(
                    EQUAL_KEYS.search(line) or PRIMARY_KEYS.search(line)
                )
                values = self._driving_values(s, using or "", line) if equal else 0
                visited = changes if self.index_visits is None else self.index_visits
                if not values:
                    reads += self.search_end
                keys = EQUAL_KEYS.search(line)
                if "(rowid=?)" in (using or "") and values:
                    reads += 2 * values
                elif keys and "rowid=?" in keys.group(1):
                    # an index searched on its columns and the rowid: a value not found
                    # reads 1, one found 2 (each finds one row at most: the rows visited)
                    reads += visited + values + min(visited, values)
                elif keys and self._unique_search(name, using or "", keys.group(1)):
                    reads += visited + values  # one row at most: no step past it (Miniflare)
                else:
                    reads += visited + 2 * values
            elif self.fed is not None:  # a SELECT's search finds the rows it yields
                reads += self.fed + ("INDEX" in (using or ""))
            elif self.joined is not None and "(rowid=?)" in (using or ""):
                reads += self.joined  # UPDATE … FROM: sought once per row reaching it
            elif self.searched_first is not None and "(rowid=?)" in (using or ""):
                reads += changes if self.searched_first < 0 else self.searched_first
            else:
                reads += 1
        # a CHECK's IN list of 3 or more values is probed once per row it checks: every row
        # an INSERT writes, the rows of an UPDATE that sets a column it names
        written = {c.lower() for c in written_columns(s.sql) or []}
        checking = [
            negated
            for names, _column, _guarded, negated in self._check_lists(table)
            if s.kind in ("insert", "insert_select") or (s.kind == "update" and names & written)
        ]
        reads += changes * checking.count(False) + self.null_checked
        # the ephemeral tables of IN lists, IN subqueries and those CHECKs (what is left is a
        # second pass); read only for the kinds that use it: tokenizing a seed INSERT's VALUES
        # costs more than its replay
        lists = 0
        if s.kind in ("update", "insert_select"):
            literal = len(in_lists(s.sql))
            lists = literal - (self._lists_in_place(s) if literal else 0) + len(checking)
            lists += sum(1 for line in self.plan if "LIST SUBQUERY" in line)
        if s.kind == "insert_select":
            fed = scanned_rows if self.fed is None else self.fed
            # each sorter's rows are read back once each (a window function sorts its own)
            # (one in a subquery is fed that subquery's rows: `subquery_sorts`)
            reads += fed * sum(
                1
                for i, line in enumerate(self.plan)
                if self._sorts(line) and i not in self.subquery_sorts
            )
            # the SELECT's rows kept aside first, then read (it reads its own table, or the
            # target has triggers): an ephemeral table besides those of lists and DISTINCT
            distinct = sum(1 for line in self.plan if "FOR DISTINCT" in line)
            if self.ephemerals - lists - distinct - self.window_buffers > 0:
                reads += changes
        # window functions: each window's rows kept in its buffer (an ephemeral table) and
        # read back as its co-routine yields them, again by lag() and its kind, and sorted
        # inside an IN (SELECT …) list (an INSERT's SELECT counts its sorters above), or in a
        # CTE an automatic index is filled from once (an UPDATE's lookup of each row's rank)
        reads += self.window_reads
        reads += sum(self.subquery_sorts.values())
        if s.kind != "insert_select" and self.window_rows:
            reads += self.window_rows * sum(
                1
                for line, once in zip(self.plan, self.filled_once, strict=False)
                if once and self._sorts(line)
            )
        sorted_in_lists = sum(
            1
            for line, inside in zip(self.plan, listed, strict=True)
            if inside and SORTED.match(line)
        )
        if s.kind != "insert_select" and self.window_rows:
            reads += self.window_rows * sorted_in_lists
        elif s.kind in ("update", "delete") and sorted_in_lists and not self._list_ordered(listed):
            reads += self.list_fed  # an IN (SELECT … GROUP BY …) list's sorter is fed these
        not_in = (
            s.kind in ("update", "delete")
            and any(listed)
            and " not in " in text
            and any(t.negated and t.distinct_query for t in in_tests(s.sql))
        )
        if not_in:
            # NOT IN (SELECT …), a dedupe's `rowid NOT IN (SELECT min(rowid) … GROUP BY …)`:
            # each row tested looks its value up in the list, 1 read (an IN list's look-ups
            # are not counted)
            own = [
                m.group(1)
                for line, inside, in_list in zip(self.plan, correlated, listed, strict=True)
                if not inside
                and not in_list
                and (m := PLAN_TABLE.match(line))
                and m.group(2) == table
            ]
            never_null = self._lists_never_null(s)
            if never_null and self.not_in_tests is not None:
                _, nulls, absent = self.not_in_tests
                reads += absent + nulls  # looked up only where the value is not there
            elif never_null:
                reads += changes  # looked up only where the value is not there (fitted)
            elif own == ["SCAN"] and self.not_in_tests is not None:
                reached, nulls, _ = self.not_in_tests
                reads += reached + nulls  # a NULL asks whether the list is empty too
            elif own == ["SCAN"]:
                reads += max(self.scanned.get(table, changes), 1)
            else:
                reads += changes if self.index_visits is None else self.index_visits
        if self.in_index and self.not_in_tests is not None:
            # NOT IN (SELECT key …) sought in an index in place: a NULL asks whether the index
            # is empty, 1 read; a value not found, 1 when the key cannot be NULL, else the
            # index is asked once whether it holds a NULL (fitted on Miniflare)
            _, nulls, absent = self.not_in_tests
            reads += nulls + (absent if self._lists_never_null(s) else 1)
        if self.in_operator_probes is None:
            reads += self.not_in_list_probes
        reads += self._trigger_reads(s, changes)
        subquery_distinct = sum(
            1
            for line, inside in zip(self.plan, correlated, strict=True)
            if inside and "FOR DISTINCT" in line
        )  # a DISTINCT inside a subquery keeps its values in an ephemeral table of its own
        if s.kind == "update" and self.ephemerals - self.window_buffers - subquery_distinct > lists:
            # two passes: the rows found are kept aside, then read again (and re-sought when
            # only their rowids were kept)
            # (an UPDATE … FROM's SeekRowid is its partner's seek: a WITHOUT ROWID target is
            # re-sought by key, not counted)
            resought = "NotExists" in self.opcodes or (
                "SeekRowid" in self.opcodes and self.joined is None
            )
            reads += changes * (2 if resought else 1)
        if s.kind == "delete" and not_in:
            # each row found is kept aside by rowid, then sought: the look-up of a child, if
            # the table is a parent, is that read (fitted on Miniflare)
            if not any(e[0] == table for e in self.edges):
                reads += changes
        elif (
            s.kind == "delete"
            and not self.window_rows  # fitted: a dedupe by row_number() reads none more
            and not any(e[0] == table for e in self.edges)
            and (any(fk[0] == table for fk in self._foreign_keys()) or "RowSetAdd" in self.opcodes)
        ):
            # a child's row: 1 more each, in one pass or two (Miniflare); any other row
            # deleted in two passes (a subquery in the WHERE, a trigger): kept aside by rowid,
            # then sought again
            reads += changes
        if self._returns(s):  # the rows it returns are kept aside, then read back: 1 each
            reads += changes
        if s.kind in ("insert", "insert_select"):
            indexes = self.indexes(table)
            writes += changes * (1 + len(indexes))
            if not {"upsert", "or_replace"} & set(s.flags):
                writes -= self._rows_left_out(table, changes, indexes)
            if "or_replace" in s.flags and self._unique_keys(table):
                # a row replaced through a UNIQUE key (not its rowid) is found by the index,
                # then sought by rowid to be deleted: 1 read each
                reads += max(0, self.rows_before + changes - self._count(table))
            if "upsert" in s.flags:  # the rows it updated rewrite only the indexes they touch
                inserted = max(0, self._count(table) - self.rows_before)
                updated = set(conflict_update_columns(s.sql))
                touched = [i for i in indexes if i[0] is None or i[0] & updated]
                writes -= (changes - inserted) * (len(indexes) - len(touched))
            columns = written_columns(s.sql)
            rowid = self._rowid_column(table)
            own = {c[1].lower() for c in self.engine.columns(table)}
            named = columns is not None and any(
                c.lower() in ROWID_NAMES and c.lower() not in own for c in columns
            )  # `INSERT INTO t (rowid, …)`: the rowid given by one of its own names
            if (rowid and (columns is None or rowid in columns)) or named:
                # the rowid is looked up before each row is inserted, or ignored
                reads += changes if self.offered is None else self.offered
            # the parent of each foreign key is sought by rowid (1 read); through an index,
            # SQLite's probe is not among D1's counted reads
            by_rowid = [
                fk
                for fk in self._foreign_keys()
                if fk[0] == table and self._parent_is_rowid(fk[2], fk[3])
            ]
            for fk in by_rowid:
                if "upsert" not in s.flags:
                    reads += changes
                    continue
                # a row DO UPDATE rewrote seeks its parent only when it sets the key
                inserted = max(0, self._count(table) - self.rows_before)
                sets = {c.lower() for c in conflict_update_columns(s.sql)}
                reads += changes if fk[1].lower() in sets else inserted
            if self._autoincrement(table):
                # sqlite_sequence is read at every insert, written when rows came or its row
                # for the table is new (an INSERT … SELECT of no row writes it the first time)
                reads += self.sequence_scan
                writes += 1 if changes or not self.sequence_row else 0
        elif s.kind == "update":
            columns = self._with_generated(table, set(written_columns(s.sql) or []))
            affected = self.updated_indexes(table, columns)
            if self.update_actions:  # SQLite then rewrites every index of the parent
                affected = self.indexes(table)
            writes += changes * (1 + len(affected)) - self._rows_left_out(table, changes, affected)
            if not self.update_actions:
                writes -= self._unchanged_expression_entries(table)
        elif s.kind == "delete":
            writes += changes
        elif s.kind == "drop_table":
            # SQLite deletes the rows first only from a table a foreign key points at (its
            # actions must fire); any other table goes with its pages, no row read or written
            # 1 more, and 1 per index that goes with it (fitted on Miniflare)
            reads += self.master_rows + 1 + self.dropped_indexes
            if any(e[0] == table for e in self.edges):
                writes += self.table_rows
                reads += max(self.table_rows, 1)  # an empty table's scan reads 1 (its rewind)
        elif s.kind == "create_table":
            # its sqlite_master row twice, one row per automatic index (UNIQUE, a PRIMARY KEY
            # that is not the rowid), and sqlite_sequence's own when this creates it
            autoindexes = self.engine.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = ? COLLATE NOCASE AND sql IS NULL",
                (table,),
            ).fetchall()[0][0]
            created_sequence = not self.had_sequence and self._has_sequence()
            reads, writes = 1 + created_sequence, 2 + autoindexes + 2 * created_sequence
        elif s.kind in ("drop_view", "drop_trigger"):  # its schema scan, as a DROP TABLE's
            reads = self.master_rows
        elif s.kind == "drop_index":
            reads = self.master_rows + 1 if self.master_rows else 0
        elif s.kind == "create_view":
            reads, writes = 1, 2
        elif s.kind == "create_trigger":
            writes = 1
        elif s.kind == "create_index":
            entries = self.table_rows
            where = index_where(s.sql) if "partial" in s.flags else None
            if where is not None:
                entries = self._rows_where(table, where)
            reads = self.table_rows + (entries + 2 if entries or not self.table_rows else 1)
            writes = entries + 1
        elif s.kind == "other" and s.detail == "ANALYZE":
            reads, writes = self._analyze_cost(s)
        elif s.kind in ("add_column", "rename_column", "rename_table", "drop_column"):
            reads, writes = self._alter_cost(s, table)
        own_deleted = changes if s.kind == "delete" else self.table_rows
        if "or_replace" in s.flags and s.kind in ("insert", "insert_select"):
            # each row it replaces is deleted first, with its foreign-key actions
            own_deleted = max(0, self.rows_before + changes - self._count(table))
        writes += sum(deleted.values())
        reads += self._cascade_reads(s, own_deleted, deleted, nulled)
        for child, n in nulled.items():
            setting = list(
                dict.fromkeys(
                    (p, c) for p, ch, c, a in self.edges if ch == child and a[:4] == "SET "
                )
            )
            parent, col = setting[0] if setting else ("", "")
            if parent == child and (child, col) in self.cascade_mixed:
                # a table nulling its own rows while a cascade deletes from it rewrites every
                # index of the rows it nulls (fitted on Miniflare: 3 a row with two indexes)
                writes += n * (1 + len(self.indexes(child)))
                continue
            if len(setting) > 1:  # several keys nulling its rows: each key's own indexes
                for _parent, col in setting:
                    writes += self._nulled_index_writes(
                        child, col, self.edge_nulled.get((child, col), 0)
                    )
            elif setting:
                writes += self._nulled_index_writes(child, col, n)
            writes += n
        return reads, writes

    def _nulled_index_writes(self, child: str, col: str, n: int) -> int:
        """Index entries rewritten for `n` rows of `child` whose `col` a SET NULL or SET
        DEFAULT changed: one per index holding `col`, but a partial index gets an entry only
        for a row its WHERE keeps once nulled (`WHERE key IS NOT NULL`, none: #38 wrote 83 in
        D1 against 164)."""
        writes = 0
        kept = self._count_nulls_kept(child, col) if n else {}
        for columns, where in self.indexes(child):
            if not columns or col not in columns:
                continue
            before = self.nulls_kept.get((child, col, where or ""))
            if where is None or before is None or where not in kept:
                writes += n  # a full index, or a SET DEFAULT: every row's entry
            else:
                writes += max(0, min(n, kept[where] - before))
        return writes

    def _count_nulls_kept(self, child: str, col: str) -> dict[str, int]:
        """Per partial index of `child` on `col`: the rows whose `col` is NULL that its WHERE
        keeps. Counted before a statement (kept in `nulls_kept`) and after it: the rows it
        nulled that the index holds are the difference."""
        counts = {}
        for columns, where in self.indexes(child):
            if where is not None and columns and col in columns:
                counts[where] = self.engine.conn.execute(
                    f"SELECT count(*) FROM main.{quote_ident(child)} "
                    f"WHERE {quote_ident(col)} IS NULL AND ({where})"
                ).fetchall()[0][0]
        return counts
