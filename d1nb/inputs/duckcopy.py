"""SQLite → DuckDB: a working copy's tables copied through Arrow in bounded memory, typed by
the declared SQLite type's affinity (a UNION where storage classes mix), counts verified."""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

from d1nb.engine.d1engine import D1Engine
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.dumpformat import sql_literal
from d1nb.formats.sql.text import quote_ident, quote_literal
from d1nb.problems import InputError

_BATCH_ROWS = 100_000


def affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (sqlite.org/datatype3.html, 3.1)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


_DUCK_BY_CLASS = {"integer": "BIGINT", "real": "DOUBLE", "text": "VARCHAR", "blob": "BLOB"}


_DUCK_BY_AFFINITY = {
    "INTEGER": "BIGINT",
    "TEXT": "VARCHAR",
    "BLOB": "BLOB",
    "REAL": "DOUBLE",
    "NUMERIC": "DOUBLE",
}


_ARROW_BY_DUCK = {
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BLOB": pa.binary(),
}


MIXED_TYPE = 'UNION("integer" BIGINT, "real" DOUBLE, "text" VARCHAR, "blob" BLOB)'


CLASS_OF_AFFINITY = {"INTEGER": "integer", "TEXT": "text", "REAL": "real"}


def _storage_classes(
    engine: D1Engine, table: str, columns: list[str], declared: list[str]
) -> list[dict[str, int]]:
    """Per column, the storage classes its values have (with counts where they disagree).

    A first scan only asks, per column, whether any value breaks its declared affinity; the
    per-class counts are gathered in a second scan for those columns and for columns without
    a definite class (NUMERIC, untyped, BLOB), which is rare and small.
    """
    if not columns:
        return []
    expected = [CLASS_OF_AFFINITY.get(affinity(d)) for d in declared]
    checks = [
        f"max(typeof({quote_ident(c)}) NOT IN ('null', '{k}'))"
        for c, k in zip(columns, expected, strict=True)
        if k
    ]
    flags = iter(
        engine.conn.execute(f"SELECT {', '.join(checks)} FROM {quote_ident(table)}").fetchall()[0]
        if checks
        else ()
    )
    result: list[dict[str, int]] = []
    detail = []
    for i, k in enumerate(expected):
        if k and not next(flags):
            result.append({k: 1})  # only its own class (or NULL): the count is not needed
        else:
            result.append({})
            detail.append(i)
    if detail:
        parts = [
            f"sum(typeof({quote_ident(columns[i])}) = '{k}')"
            for i in detail
            for k in _DUCK_BY_CLASS
        ]
        row = engine.conn.execute(
            f"SELECT {', '.join(parts)} FROM {quote_ident(table)}"
        ).fetchall()[0]
        per = len(_DUCK_BY_CLASS)
        for n, i in enumerate(detail):
            result[i] = {k: int(row[n * per + j] or 0) for j, k in enumerate(_DUCK_BY_CLASS)}
    return result


def storage_text(classes: dict[str, int]) -> str:
    """The storage classes a column holds, as type notes show them: the class alone when
    there is one, with counts when there are several."""
    present = [(k, n) for k, n in classes.items() if n]
    if len(present) == 1:
        return present[0][0]
    return ", ".join(f"{k} {n}" for k, n in present)


def duck_type(declared: str, classes: dict[str, int]) -> tuple[str, str]:
    """(DuckDB type, note) for a column from its declared type and the values it holds."""
    present = [k for k, n in classes.items() if n]
    by_affinity = _DUCK_BY_AFFINITY[affinity(declared)]
    if not present:
        return by_affinity, ""
    if len(present) == 1:
        duck = _DUCK_BY_CLASS[present[0]]
        # a column declared without a type takes any one class: nothing disagrees there
        if (
            declared.strip()
            and duck != by_affinity
            and not (by_affinity == "DOUBLE" and duck == "BIGINT")
        ):
            return duck, f"declared {declared} but every value is {present[0]}"
        return duck, ""
    if set(present) == {"integer", "real"} and affinity(declared) in ("REAL", "NUMERIC"):
        return "DOUBLE", ""
    return MIXED_TYPE, "values of several storage classes: kept as a UNION, one member each"


def _arrow_batch(rows: list[tuple], types: list[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in types]
    arrays, names = [], []
    for i, (values, duck) in enumerate(zip(columns, types, strict=True)):
        if duck == MIXED_TYPE:
            tags = [
                None
                if v is None
                else (
                    "integer"
                    if isinstance(v, int)
                    else "real"
                    if isinstance(v, float)
                    else "text"
                    if isinstance(v, str)
                    else "blob"
                )
                for v in values
            ]
            arrays += [
                pa.array(tags, pa.string()),
                pa.array(
                    [v if t == "integer" else None for v, t in zip(values, tags, strict=True)],
                    pa.int64(),
                ),
                pa.array(
                    [v if t == "real" else None for v, t in zip(values, tags, strict=True)],
                    pa.float64(),
                ),
                pa.array(
                    [v if t == "text" else None for v, t in zip(values, tags, strict=True)],
                    pa.string(),
                ),
                pa.array(
                    [v if t == "blob" else None for v, t in zip(values, tags, strict=True)],
                    pa.binary(),
                ),
            ]
            names += [f"c{i}_tag", f"c{i}_i", f"c{i}_r", f"c{i}_t", f"c{i}_b"]
        else:
            if duck == "DOUBLE":
                values = [float(v) if isinstance(v, int) else v for v in values]
            arrays.append(pa.array(values, _ARROW_BY_DUCK[duck]))
            names.append(f"c{i}")
    return pa.Table.from_arrays(arrays, names=names)


def _select_from_batch(types: list[str]) -> str:
    parts = []
    for i, duck in enumerate(types):
        if duck == MIXED_TYPE:
            parts.append(
                f"CASE c{i}_tag WHEN 'integer' THEN union_value(\"integer\" := c{i}_i) "
                f"WHEN 'real' THEN union_value(\"real\" := c{i}_r) "
                f"WHEN 'text' THEN union_value(\"text\" := c{i}_t) "
                f"WHEN 'blob' THEN union_value(\"blob\" := c{i}_b) END"
            )
        else:
            parts.append(f"c{i}")
    return ", ".join(parts)


IN_MEMORY_DUCKDB_BYTES = 512 * 1024**2
"""Working copies larger than this get a DuckDB file beside them (bounded memory), not RAM."""


ON_DISK_DUCKDB_MEMORY = "512MB"
"""DuckDB's memory limit for such a file-backed snapshot."""


_SENTINELS = {"BIGINT": "0", "DOUBLE": "0.0", "VARCHAR": "''", "BLOB": "X''"}


_RANGE_BYTES = 16 * 1024**2
"""About how much of a table one reader thread turns into Arrow at a time."""


COPY_THREADS = min(4, os.cpu_count() or 1)
"""Threads reading the working copy into Arrow while DuckDB appends, in table order."""


def _rowid_ranges(
    engine: D1Engine, table: str, names: list[str], rows: int, row_bytes: float
) -> list[str]:
    """WHERE clauses cutting a rowid table into consecutive ranges of about _RANGE_BYTES,
    found in one walk of the rowid b-tree; [""] for a WITHOUT ROWID table or a small one."""
    per_range = int(min(max(_RANGE_BYTES / max(row_bytes, 1.0), 1024), 1_000_000))
    if rows <= per_range:
        return [""]
    kind = engine.internal(f"SELECT wr FROM pragma_table_list({sql_literal(table)})")
    columns = {n.lower() for n in names}
    rowid = next((r for r in ("rowid", "_rowid_", "oid") if r not in columns), None)
    if not kind or kind[0][0] or rowid is None:
        return [""]
    bounds: list[int] = []
    while True:
        after = f"WHERE {rowid} > {bounds[-1]} " if bounds else ""
        found = engine.conn.execute(
            f"SELECT {rowid} FROM {quote_ident(table)} {after}ORDER BY {rowid} "
            f"LIMIT 1 OFFSET {per_range - 1}"
        ).fetchall()
        if not found:
            break
        bounds.append(found[0][0])
    lows = [None, *bounds]
    highs = [*bounds, None]
    return [
        "WHERE "
        + " AND ".join(
            ([f"{rowid} > {lo}"] if lo is not None else [])
            + ([f"{rowid} <= {hi}"] if hi is not None else [])
        )
        for lo, hi in zip(lows, highs, strict=True)
    ]


def _copy_table_adbc(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    table: str,
    target: str,
    names: list[str],
    types: list[str],
    classes: list[str],
    ranges: list[str],
) -> None:
    """Read a table through ADBC's Arrow reader, expecting one storage class per column.

    Ranges of rowids are read into Arrow by COPY_THREADS threads at once (the SQLite reading
    is most of the cost, and ADBC runs it without the GIL) and appended to DuckDB in order.
    ADBC infers each column's Arrow type from the first rows it reads, so every query starts
    with one sentinel row of the planned types (dropped again in DuckDB). Rows holding a value
    of another class are flagged by SQLite in the same pass and left out, so the caller's row
    count check sees them and falls back to the exact path.
    """
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    first = ", ".join(
        [f"{_SENTINELS[t]} AS {quote_ident(n)}" for n, t in zip(names, types, strict=True)]
        + ["0 AS __d1nb_row"]
    )
    checks = (
        " OR ".join(
            f"typeof({quote_ident(n)}) NOT IN ('null', '{k}')"
            for n, k in zip(names, classes, strict=True)
        )
        or "0"
    )
    rest = ", ".join([quote_ident(n) for n in names] + [f"CASE WHEN {checks} THEN 2 ELSE 1 END"])
    local = threading.local()

    def read(where: str) -> pa.Table:
        if not hasattr(local, "conn"):
            local.conn = adbc_sqlite.connect(str(path))
            opened.append(local.conn)
        cursor = local.conn.cursor()
        try:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
            cursor.execute(
                f"SELECT {first} UNION ALL SELECT {rest} FROM {quote_ident(table)} {where}"
            )
            return cursor.fetch_arrow_table()
        finally:
            cursor.close()

    insert = (
        f"INSERT INTO {target} SELECT {', '.join(quote_ident(n) for n in names)} "
        "FROM batch WHERE __d1nb_row = 1"  # 0 is the sentinel, 2 a row to redo
    )
    opened: list = []
    try:
        with ThreadPoolExecutor(max_workers=COPY_THREADS) as pool:
            pending: deque[Future] = deque()
            todo = iter(ranges)
            for where in itertools.islice(todo, COPY_THREADS + 1):
                pending.append(pool.submit(read, where))
            while pending:
                batch = pending.popleft().result()  # DuckDB reads it by its name
                if (where := next(todo, None)) is not None:
                    pending.append(pool.submit(read, where))
                con.execute(insert)
                del batch
    finally:
        for conn in opened:
            conn.close()


def _expected_classes(
    engine: D1Engine, table: str, names: list[str], declared: list[str]
) -> list[str]:
    """The storage class each column should hold: from its affinity, or (NUMERIC, BLOB and
    untyped columns, which convert nothing) from its first non-NULL value."""
    classes = []
    for name, decl in zip(names, declared, strict=True):
        cls = CLASS_OF_AFFINITY.get(affinity(decl))
        if cls is None:
            first = engine.conn.execute(
                f"SELECT typeof({quote_ident(name)}) FROM {quote_ident(table)} "
                f"WHERE {quote_ident(name)} IS NOT NULL LIMIT 1"
            ).fetchall()
            cls = first[0][0] if first else {"BLOB": "blob"}.get(affinity(decl), "real")
        classes.append(cls)
    return classes


def _copy_table_python(
    engine: D1Engine,
    con: duckdb.DuckDBPyConnection,
    table: str,
    target: str,
    names: list[str],
    types: list[str],
) -> None:
    """Copy a table with mixed-type columns batch by batch, building its UNION values."""
    cursor = engine.conn.execute(
        f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {quote_ident(table)}"
    )
    select = _select_from_batch(types)
    while True:
        rows = list(itertools.islice(cursor, _BATCH_ROWS))
        if not rows:
            break
        batch = _arrow_batch(rows, types)  # noqa: F841 (read by DuckDB by name)
        con.execute(f"INSERT INTO {target} SELECT {select} FROM batch")


def _create_duck_table(
    con: duckdb.DuckDBPyConnection, target: str, names: list[str], types: list[str]
) -> None:
    columns = ", ".join(f"{quote_ident(n)} {t}" for n, t in zip(names, types, strict=True))
    con.execute(f"CREATE OR REPLACE TABLE {target} ({columns})")


def _duck_count(con: duckdb.DuckDBPyConnection, target: str) -> int:
    return con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]


def connect_duckdb(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection without the progress bar (it would write to a notebook's stderr)
    that spills only into a folder of d1nb's own: an in-memory DuckDB would otherwise spill
    into `.tmp` under the current directory (a user's repository, or a read-only folder)."""
    con = duckdb.connect(database)
    if database == ":memory:":
        spill = quote_literal(str(scratch_folder("d1nb-duckdb-")))
        con.execute(f"SET temp_directory = {spill}")
    # Inside Jupyter without ipywidgets DuckDB starts with the bar off and refuses any change.
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]:
        con.execute("SET enable_progress_bar = false")
    return con


def copy_to_duckdb(
    path: Path,
    row_counts: dict[str, int],
    source: Path,
    con: duckdb.DuckDBPyConnection | None = None,
    schema: str = "main",
    progress: bool = False,
) -> tuple[duckdb.DuckDBPyConnection, list[dict]]:
    """Copy the tables of the working copy at `path` into DuckDB through Arrow, in bounded
    memory; the connection, and a note for each column whose type came from its values.

    Column types come from the declared SQLite types by affinity; where the stored values
    disagree, from the values; a column mixing storage classes becomes a UNION. Every table's
    row count is checked against `row_counts` (an InputError names `source` otherwise).
    """
    if con is None:
        big = path.stat().st_size > IN_MEMORY_DUCKDB_BYTES
        con = connect_duckdb(str(path.with_suffix(".duckdb")) if big else ":memory:")
        if big:  # DuckDB would otherwise buffer up to 80% of RAM before spilling to its file
            con.execute(f"SET memory_limit = '{ON_DISK_DUCKDB_MEMORY}'")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    type_notes: list[dict] = []
    engine = D1Engine(path, statement_limit=0)
    total_rows = sum(row_counts.values()) or 1
    row_bytes = path.stat().st_size / total_rows
    bar = tqdm(total=len(row_counts), unit="tables", disable=not progress, desc="to DuckDB")
    try:
        # only the tables whose rows were counted: a one-table input's other tables, made by
        # its migrations, are none of its data
        for table in [t for t in engine.tables() if t in row_counts]:
            info = engine.columns(table, generated=True)
            names, declared = [c[1] for c in info], [c[2] for c in info]
            if "" in names:
                raise InputError(
                    source,
                    0,
                    f'table {table}: column {names.index("") + 1} is named "", which SQLite '
                    "and D1 allow and DuckDB does not: rename it in a copy to analyse this table",
                )
            target = f"{quote_ident(schema)}.{quote_ident(table)}"
            expected_rows = row_counts.get(table)
            classes = _expected_classes(engine, table, names, declared)
            types = [duck_type(d, {k: 1})[0] for d, k in zip(declared, classes, strict=True)]
            notes = [duck_type(d, {k: 1})[1] for d, k in zip(declared, classes, strict=True)]
            _create_duck_table(con, target, names, types)
            try:
                ranges = _rowid_ranges(engine, table, names, expected_rows or 0, row_bytes)
                _copy_table_adbc(path, con, table, target, names, types, classes, ranges)
                complete = _duck_count(con, target) == expected_rows
            except Exception:  # ADBC refuses a batch whose types differ from the first one's
                complete = False
            if not complete:  # some value is of another class: count them all, copy exactly
                cls_counts = _storage_classes(engine, table, names, declared)
                planned = [duck_type(d, c) for d, c in zip(declared, cls_counts, strict=True)]
                types, notes = [t for t, _ in planned], [n for _, n in planned]
                _create_duck_table(con, target, names, types)
                _copy_table_python(engine, con, table, target, names, types)
            else:
                cls_counts = [{k: 1} for k in classes]
            for name, decl, duck, note, cls in zip(
                names, declared, types, notes, cls_counts, strict=True
            ):
                if note:
                    storage = storage_text(cls)
                    type_notes.append(
                        {
                            "table": table,
                            "column": name,
                            "declared": decl,
                            "duckdb": duck,
                            "storage": storage,
                            "note": note,
                        }
                    )
            loaded = con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]
            expected = row_counts.get(table)
            if loaded != expected:
                raise InputError(
                    source,
                    0,
                    f"table {table}: {expected} rows in the working copy, {loaded} in DuckDB",
                )
            bar.update(1)
    finally:
        bar.close()
        engine.close()
    return con, type_notes


def copy_between(
    source: duckdb.DuckDBPyConnection,
    source_schema: str,
    con: duckdb.DuckDBPyConnection,
    schema: str,
    tables: list[str],
    row_counts: dict[str, int],
) -> None:
    """Copy tables from one DuckDB database to another through Arrow batches, types kept and
    row counts checked."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    for table in tables:
        origin = f"{quote_ident(source_schema)}.{quote_ident(table)}"
        target = f"{quote_ident(schema)}.{quote_ident(table)}"
        columns = source.execute(f"DESCRIBE {origin}").fetchall()
        _create_duck_table(con, target, [c[0] for c in columns], [c[1] for c in columns])
        reader = source.sql(f"SELECT * FROM {origin}").to_arrow_reader(_BATCH_ROWS)
        con.register("_d1nb_copy", reader)
        try:
            con.execute(f"INSERT INTO {target} SELECT * FROM _d1nb_copy")
        finally:
            con.unregister("_d1nb_copy")
        if _duck_count(con, target) != row_counts.get(table):
            raise InputError(target, 0, f"table {table}: rows lost copying between DuckDBs")
