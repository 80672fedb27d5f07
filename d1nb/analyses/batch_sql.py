"""The SQL of a batch: a large UPDATE or DELETE rewritten to touch `rowid IN (… LIMIT n)` (so a
batch excludes itself once done) or a rowid range; an INSERT … SELECT taken apart and rewritten
to copy one range of its source's rowids, skipping rows already copied."""

from __future__ import annotations

from dataclasses import dataclass

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    dml_condition,
    insert_select,
    update_from_rows_query,
    update_from_target,
    with_condition,
    written_columns,
)
from d1nb.formats.sql.text import SqlTokenError, quote_ident, unused_name
from d1nb.problems import InputError


def _where_and_head(s: Statement) -> tuple[str, str]:
    """(statement without its WHERE, WHERE condition or '1') for UPDATE and DELETE, both with
    comments removed so that nothing appended to them can fall inside a comment."""
    try:
        parts = dml_condition(s.sql)
    except SqlTokenError as exc:
        raise InputError("", s.line, f"cannot batch a statement d1nb cannot read: {exc}") from exc
    if parts.trailing:
        raise InputError("", s.line, f"cannot batch a statement with {parts.trailing[0]}")
    return parts.head, parts.condition or "1"


@dataclass(frozen=True)
class InsertSelect:
    """An INSERT … SELECT taken apart for batching by ranges of its source table's rowids."""

    head: str
    """The statement up to its SELECT, as written (`INSERT OR IGNORE INTO t (a, b)`)."""
    select: str
    """The SELECT, as written, without the final semicolon."""
    target: str
    columns: tuple[str, ...]
    """The target columns the SELECT fills, in order."""
    key: tuple[str, ...]
    """Target columns of a primary key or unique index among `columns`: what makes a batch
    safe to re-run (rows whose key is there already are skipped)."""
    source: str
    qualifier: str
    """How the SELECT names its source table (alias or name), to qualify `rowid`."""

    @property
    def into_itself(self) -> bool:
        """Whether the rows are selected from the table they are inserted into."""
        return self.source.lower() == self.target.lower()

    def fanout_sql(self) -> str:
        """A query of how many rows the SELECT yields in all and the most one source row
        yields (a join, a json_each: a batch of n source rows may insert far more than n)."""
        r = quote_ident(unused_name("_d1nb_r", list(self.columns)))
        rest = self.select[len("SELECT") :]
        return (
            f"SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT count(*) AS n "
            f"FROM (SELECT {quote_ident(self.qualifier)}.rowid AS {r},{rest}) GROUP BY {r})"
        )

    def batch(self, low: int | str | None, high: int | str | None) -> str:
        """The rows of source rowids in (low, high], minus those the target already holds."""
        bounds = [f"{quote_ident(self.qualifier)}.rowid > {low}"] if low is not None else []
        bounds += [f"{quote_ident(self.qualifier)}.rowid <= {high}"] if high is not None else []
        select = with_condition(self.select, " AND ".join(bounds)) if bounds else self.select
        cte_columns = ", ".join(quote_ident(c) for c in self.columns)
        absent = " AND ".join(
            f"{quote_ident(self.target)}.{quote_ident(k)} IS d1nb_batch.{quote_ident(k)}"
            for k in self.key
        )
        return (
            f"WITH d1nb_batch({cte_columns}) AS ({select}) {self.head} "
            f"SELECT {cte_columns} FROM d1nb_batch "
            f"WHERE NOT EXISTS (SELECT 1 FROM {quote_ident(self.target)} WHERE {absent});"
        )


def parse_insert_select(engine: D1Engine, s: Statement) -> InsertSelect:
    """Take an INSERT … SELECT apart for batching, or say why it cannot be batched."""

    def refuse(why: str) -> InputError:
        return InputError("", s.line, f"cannot batch this INSERT … SELECT: {why}")

    parts = insert_select(s.sql)
    if isinstance(parts, str):
        raise refuse(parts)
    columns = parts.columns or tuple(c[1] for c in engine.columns(parts.target))
    try:
        engine.conn.execute(f"SELECT rowid FROM {quote_ident(parts.source)} LIMIT 1").fetchall()
    except Exception as exc:
        raise refuse(f"its source {parts.source} has no rowid (WITHOUT ROWID)") from exc
    key = _insert_key(engine, parts.target, list(columns))
    if not key:
        raise refuse(
            f"{parts.target} has no primary key or unique index among the inserted columns, so "
            "a batch run twice would insert its rows twice"
        )
    return InsertSelect(
        parts.head, parts.select, parts.target, columns, key, parts.source, parts.qualifier
    )


def _insert_key(engine: D1Engine, table: str, columns: list[str]) -> tuple[str, ...]:
    """The columns of the target's primary key or of a unique index, all among `columns`."""
    info = engine.columns(table)
    primary = tuple(c[1] for c in sorted(info, key=lambda c: c[5]) if c[5])
    candidates = [primary] if primary else []
    for _seq, name, unique, _origin, partial in engine.conn.execute(
        f"PRAGMA index_list({quote_ident(table)})"
    ):
        if unique and not partial:
            cols = tuple(
                r[2] for r in engine.conn.execute(f"PRAGMA index_info({quote_ident(name)})")
            )
            if None not in cols:
                candidates.append(cols)
    wanted = {c.lower() for c in columns}
    return next((k for k in candidates if k and {c.lower() for c in k} <= wanted), ())


def matched_rowids(s: Statement) -> str:
    """A query yielding, as `r`, the rowid of each row an UPDATE or DELETE matches: its
    table's rows its WHERE keeps, or for an UPDATE … FROM each target row the join meets."""
    _head, condition = _where_and_head(s)
    if s.kind == "update" and update_from_target(s.sql):
        rows = update_from_rows_query(s.sql, [])
        if rows is None:
            raise InputError("", s.line, "cannot batch an UPDATE … FROM d1nb cannot read")
        return f"SELECT _d1nb_r AS r FROM ({rows})"
    return f"SELECT rowid AS r FROM {quote_ident(s.table or '')} WHERE {condition}"


def _rowid(s: Statement) -> str:
    """`rowid`, qualified by the target's name or alias in an UPDATE … FROM (whose FROM
    tables have rowids of their own)."""
    target = update_from_target(s.sql) if s.kind == "update" else None
    return f"{target}.rowid" if target else "rowid"


def batch_sql(
    s: Statement,
    size: int,
    mode: str,
    low: int | str | None = None,
    high: int | str | None = None,
    insert: InsertSelect | None = None,
) -> str:
    """One batch of `s`: `rowid IN (… LIMIT size)` (self-excluding statements) or a rowid range
    (of the rows it matches; of its source table's rows for an INSERT … SELECT). A bound is a
    rowid, or a placeholder the driver fills in."""
    if insert is not None:
        return insert.batch(low, high)
    head, condition = _where_and_head(s)
    table = quote_ident(s.table or "")
    rowid = _rowid(s)
    if mode == "limit" and rowid != "rowid":  # UPDATE … FROM: its join stays in its WHERE
        return (
            f"{head} WHERE ({condition}) AND {rowid} IN "
            f"(SELECT r FROM ({matched_rowids(s)}) LIMIT {size});"
        )
    if mode == "limit":
        return f"{head} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT {size});"
    bounds = [f"{rowid} > {low}"] if low is not None else []
    bounds += [f"{rowid} <= {high}"] if high is not None else []
    return f"{head} WHERE ({condition}) AND {' AND '.join(bounds) or '1'};"


def _matching(engine: D1Engine, s: Statement, insert: InsertSelect | None = None) -> int:
    """Rows to go through: those the statement matches, or its source table's rows."""
    if insert is not None:
        return engine.conn.execute(f"SELECT count(*) FROM {quote_ident(insert.source)}").fetchall()[
            0
        ][0]
    return engine.conn.execute(f"SELECT count(*) FROM ({matched_rowids(s)})").fetchall()[0][0]


def _self_excluding(engine: D1Engine, s: Statement) -> bool:
    """Whether rows the statement changed stop matching its WHERE (so LIMIT batches end)."""
    engine.conn.execute("SAVEPOINT d1nb_probe")
    try:
        engine.run_statement(s)
        return _matching(engine, s) == 0 if s.kind == "update" else True
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_probe")
        engine.conn.execute("RELEASE d1nb_probe")


def _writes_per_row(engine: D1Engine, s: Statement) -> int:
    """D1 rows written per row changed: the row, plus one per index an UPDATE rewrites."""
    if s.kind == "delete":
        return 1
    from d1nb.analyses.metering import Meter

    if s.kind == "insert_select":  # a new row writes every index of its table
        return 1 + len(Meter(engine).indexes(s.table or ""))
    columns = set(written_columns(s.sql) or [])
    return 1 + len(Meter(engine).updated_indexes(s.table or "", columns))
