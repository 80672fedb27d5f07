"""Loading an export of any kind into a verified working copy: dumps (`dumploader`), SQLite
files and local-state folders (copied with their WAL, never opened in place), `--json` output,
CSV and Parquet; `load_snapshot` picks the loader from what the path is."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import apsw
import duckdb

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.config import TOP_LEVEL_ENV, load_project
from d1nb.formats.sql.text import quote_ident
from d1nb.formats.wrangler_output import (
    local_state_databases,
    local_state_file,
    printed_blob,
    wrangler_json_rows,
)
from d1nb.inputs import jsrounding
from d1nb.inputs.duckcopy import affinity, connect_duckdb
from d1nb.inputs.dumploader import load_dump
from d1nb.inputs.workingcopy import (
    SchemaSource,
    Snapshot,
    count_rows,
    create_later,
    create_schema,
    fresh_working_copy,
    mark_working_copy,
    virtual_tables,
)
from d1nb.problems import InputError

# -- writing ----------------------------------------------------------------------------------


# -- reading ----------------------------------------------------------------------------------


# -- loading ----------------------------------------------------------------------------------


_CONSTRAINT_REPORT = re.compile(r"CHECK constraint failed in |NULL value in ")
"""quick_check lines about rows breaking CHECK / NOT NULL: d1nb.analyses.checks reports those."""


def _whose(folder: Path, files: list[Path]) -> str:
    """Which binding of the wrangler config beside `.wrangler` each local database is: the
    files are named by a hash of the database's id, so the folder alone cannot say."""
    home = next((p.parent for p in [folder, *folder.parents] if p.name == ".wrangler"), None)
    if home is None:
        return ""
    named = {}
    bindings = load_project(home).bindings  # with migrations or not: any binding's copy
    real = any(not b.is_template for b in bindings if b.config_path.parent == home)
    for b in bindings:  # a template config only when it is the only one (wrangler -c …)
        if b.config_path.parent == home and not (b.is_template and real):
            label = b.binding + (
                f" (--env {b.environment})" if b.environment != TOP_LEVEL_ENV else ""
            )
            labels = named.setdefault(local_state_file(folder, b.local_id), [])
            if label not in labels:
                labels.append(label)
    found = [f"{f.name} is {' or '.join(named[f])}" for f in files if f in named]
    return f" ({'; '.join(found)})" if found else ""


def load_sqlite(path: str | Path, workdir: str | Path, name: str | None = None) -> Snapshot:
    """Load a SQLite file, or the one database of a wrangler local-state folder, WAL included.

    The file and its WAL are copied first and only the copy is opened; D1's internal tables
    (`_cf_*`) stay out of the snapshot's tables.
    """
    path = Path(path)
    if path.is_dir():
        found = local_state_databases(path)
        if len(found) != 1:
            raise InputError(
                path,
                0,
                f"{len(found)} databases in this folder; name the .sqlite file of the one to "
                f"load{_whose(path, found)}",
            )
        path = found[0]
    with path.open("rb") as fh:
        if not fh.read(16).startswith(b"SQLite format 3"):
            raise InputError(path, 0, "not a SQLite database file")
    target = fresh_working_copy(workdir, name or path.stem)
    shutil.copyfile(path, target)
    wal = Path(str(path) + "-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(str(target) + "-wal"))
    with D1Engine(target, statement_limit=0) as engine:
        try:
            if wal.exists():
                engine.internal("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.internal("PRAGMA journal_mode=DELETE")
            mark_working_copy(engine)
            damage = [
                r[0]
                for r in engine.internal("PRAGMA quick_check(20)")
                if r[0] != "ok" and not _CONSTRAINT_REPORT.match(r[0])  # data, not damage
            ][:5]
        except apsw.Error as exc:
            damage = [str(exc)]
        if damage:
            found = "; ".join(" ".join(d.split()) for d in damage)
            raise InputError(path, 0, f"damaged SQLite file (truncated or corrupt): {found}")
        counts = count_rows(engine)
    Path(str(target) + "-wal").unlink(missing_ok=True)  # checkpointed: all in the copy now
    snapshot = Snapshot(path, target, counts)
    virtual_tables(snapshot)
    return snapshot


def _insert_rows(
    engine: D1Engine,
    path: Path,
    table: str,
    columns: list[str],
    rows: Iterable,
    schema: SchemaSource | None,
    where: Callable[[int], tuple[int, str]],
) -> None:
    """Insert `rows`; a row the schema refuses is named by `where(its index)`: the file's
    line (0 when the format has none) and how to find it (`row 7`)."""
    if not engine.conn.table_exists(None, table):
        if schema is not None:
            raise InputError(path, 0, f"table {table} is not created by the given schema")
        engine.conn.execute(
            f"CREATE TABLE {quote_ident(table)} ("
            + ", ".join(quote_ident(c) for c in columns)
            + ")"
        )
    marks = ", ".join("?" for _ in columns)
    sql = (
        f"INSERT INTO {quote_ident(table)} ("
        + ", ".join(quote_ident(c) for c in columns)
        + f") VALUES ({marks})"
    )
    last = -1

    def counted() -> Iterable:
        nonlocal last
        for index, row in enumerate(rows):
            last = index  # the row being inserted when the schema refuses one
            yield row

    try:
        engine.conn.executemany(sql, counted())
    except apsw.Error as exc:
        line, found = where(last)
        raise InputError(path, line, f"table {table}, {found}: {exc}") from exc


def _load_rows(
    path: Path,
    workdir: str | Path,
    table: str,
    schema: SchemaSource | None,
    read: Callable[[], tuple[list[str], list[tuple]]],
    name: str | None,
    through_javascript: bool = False,
    where: Callable[[int], tuple[int, str]] | None = None,
) -> Snapshot:
    """A working copy of one table's rows; `through_javascript` for rows whose numbers a
    JavaScript program wrote (its integers past 2^53 rounded: a note says so); `where`
    names a row by its index (default: `row N`, counted from 1)."""
    target = fresh_working_copy(workdir, name or path.stem)
    notes = []
    with D1Engine(target, statement_limit=0) as engine:
        engine.internal("PRAGMA foreign_keys=OFF")  # one table of many: parents may be absent
        engine.conn.execute("BEGIN")
        later = create_schema(engine, schema)
        columns, rows = read()
        if through_javascript:
            rows, printed = _printed_blobs(engine, table, columns, rows)
            notes += printed
        _insert_rows(
            engine, path, table, columns, rows, schema, where or (lambda i: (0, f"row {i + 1}"))
        )
        create_later(engine, later)
        engine.conn.execute("COMMIT")
        counts = count_rows(engine)
        rounded, rounded_columns = (
            jsrounding.rounding_in_working_copy(engine) if through_javascript else (None, [])
        )
        notes += [rounded] if rounded else []
    if counts.get(table) != len(rows):
        raise InputError(
            path, 0, f"table {table}: {len(rows)} rows read, {counts.get(table)} loaded"
        )
    # The migrations' other tables stay in the working copy (a replay's triggers and views
    # need them) but are none of the input's: empty there, they would read as tables emptied
    counts = {t: n for t, n in counts.items() if t == table}
    return Snapshot(
        path,
        target,
        counts,
        notes=notes,
        rounded_columns=rounded_columns,
        only_tables=frozenset(counts),
    )


def _printed_blobs(
    engine: D1Engine, table: str, columns: list[str], rows: list[tuple]
) -> tuple[list[tuple], list[str]]:
    """Rows of local `--json` output with the BLOBs wrangler printed as text (`[0, 255, 0]`)
    read back as BLOBs in the columns the schema declares with BLOB affinity (BLOB or no
    type); elsewhere such text stays text, and a note says which reading was taken."""
    declared = (
        {c[1]: c[2] for c in engine.columns(table)} if engine.conn.table_exists(None, table) else {}
    )
    notes, converted = [], set()
    for i, column in enumerate(columns):
        shaped = [r[i] for r in rows if printed_blob(r[i]) is not None]
        if not any(len(v) > 2 for v in shaped):  # only "[]": an empty JSON array as often
            continue
        example = next(v for v in shaped if len(v) > 2)
        if column in declared and affinity(declared[column]) == "BLOB":
            converted.add(i)
            notes.append(
                f"{len(shaped):,} value(s) of {table}.{column}, e.g. {example}, read as BLOBs: "
                "local `wrangler d1 execute --json` prints a BLOB as the text of its bytes, "
                f"and the column is declared {declared[column] or 'without a type'}"
            )
        else:
            notes.append(
                f"{len(shaped):,} value(s) of {table}.{column}, e.g. {example}, are text shaped "
                "as local `wrangler d1 execute --json` prints a BLOB: kept as text, which they "
                + (
                    f"may not be (the column is declared {declared[column]})"
                    if column in declared
                    else "may not be (give the migrations with --schema: a column declared "
                    "BLOB reads them as BLOBs)"
                )
            )
    if not converted:
        return rows, notes

    def value(i: int, v: object) -> object:
        blob = printed_blob(v) if i in converted else None
        return v if blob is None else blob

    return [tuple(value(i, v) for i, v in enumerate(row)) for row in rows], notes


def load_json(
    path: str | Path,
    workdir: str | Path,
    table: str,
    schema: SchemaSource | None = None,
    name: str | None = None,
) -> Snapshot:
    """Load the rows of `wrangler d1 execute --json` output as `table` (typed by `schema`)."""
    path = Path(path)

    def read() -> tuple[list[str], list[tuple]]:
        rows = wrangler_json_rows(path)
        for n, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise InputError(path, 0, f"result row {n} is {type(row).__name__}, not an object")
        columns = list(dict.fromkeys(k for row in rows for k in row))
        return columns, [
            tuple(_json_value(path, n, c, row.get(c)) for c in columns)
            for n, row in enumerate(rows, 1)
        ]

    return _load_rows(
        path,
        workdir,
        table,
        schema,
        read,
        name,
        through_javascript=True,
        where=lambda i: (0, f"result row {i + 1}"),
    )


def _json_value(path: Path, row: int, column: str, value: object) -> object:
    """A value of `--json` output as SQLite would read the same literal: a blob's byte list
    as bytes, an integer past 64 bits (JavaScript writes 2^63 - 1 as 9223372036854776000) as
    the REAL it would be. What D1 never returns (an object, a list of non-bytes) is refused."""
    if isinstance(value, list):
        if all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value):
            return bytes(value)
    elif isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    elif value is None or isinstance(value, int | float | str):
        return value
    raise InputError(
        path, 0, f"result row {row}, column {column}: {str(value)[:40]} is not a value D1 returns"
    )


def load_csv(
    path: str | Path,
    workdir: str | Path,
    table: str | None = None,
    schema: SchemaSource | None = None,
    name: str | None = None,
) -> Snapshot:
    """Load a CSV file (header row) as `table`, typed by `schema`: an empty field is NULL, a
    quoted one (`""`) the empty string, as the sqlite3 shell, DuckDB and PostgreSQL write them.

    Values go in as text and take the declared column's affinity, as `sqlite3 .import` does.
    """
    path = Path(path)
    first_lines: list[int] = []  # each row's first line in the file (a value may span lines)

    def read() -> tuple[list[str], list[tuple]]:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(path, 1, "empty CSV file (no header row)") from None
            except UnicodeDecodeError as exc:
                raise InputError(path, 1, "not valid UTF-8") from exc
            _check_header(path, header)
            rows = []
            blank = 0  # a blank line seen (its number): only more blank lines may follow
            try:
                ended = reader.line_num
                for row in reader:
                    if not row and len(header) > 1:  # an empty line at the end of the file
                        blank, ended = blank or reader.line_num, reader.line_num
                        continue
                    if blank:
                        raise InputError(path, blank, f"0 fields, header has {len(header)}")
                    row = row or [""]  # one column: the shell writes its NULL as a blank line
                    first_lines.append(ended + 1)
                    ended = reader.line_num
                    if len(row) != len(header):
                        raise InputError(
                            path, reader.line_num, f"{len(row)} fields, header has {len(header)}"
                        )
                    rows.append(tuple(v if v != "" else None for v in row))
            except UnicodeDecodeError as exc:
                raise InputError(
                    path,
                    reader.line_num + 1,
                    f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})",
                ) from exc
            except csv.Error as exc:
                raise InputError(path, reader.line_num, f"malformed CSV: {exc}") from exc
        if any(None in row for row in rows):
            rows = _quoted_empties(path, len(header), rows)
        return header, rows

    return _load_rows(
        path,
        workdir,
        table or path.stem,
        schema,
        read,
        name,
        where=lambda i: (first_lines[i], f"row {i + 1}"),
    )


def _check_header(path: Path, header: list[str]) -> None:
    """A CSV header names each column once (as SQLite compares names: case aside)."""
    seen: dict[str, int] = {}
    for n, name in enumerate(header, 1):
        if not name.strip():
            raise InputError(path, 1, f"column {n} of the header has no name")
        if name.lower() in seen:
            raise InputError(
                path, 1, f"column {n} of the header, {name!r}, repeats column {seen[name.lower()]}"
            )
        seen[name.lower()] = n


def _quoted_empties(path: Path, width: int, rows: list[tuple]) -> list[tuple]:
    """`rows` with each empty field that the file quotes (`""`) as the empty string. Python's
    csv module (3.11) reads both as ''; DuckDB's reader tells them apart, and is trusted only
    where it read the same rows."""
    columns = {f"c{i}": "VARCHAR" for i in range(width)}
    try:
        with connect_duckdb() as con:  # no progress bar in a notebook's stderr
            read = con.execute(
                "SELECT * FROM read_csv(?, header = true, columns = ?, delim = ',', "
                "quote = '\"', escape = '\"', allow_quoted_nulls = false, auto_detect = false, "
                "strict_mode = true)",
                [str(path), columns],
            ).fetchall()
    except duckdb.Error:
        return rows
    if len(read) != len(rows) or any(
        a != b
        for row, other in zip(rows, read, strict=True)
        for a, b in zip(row, other, strict=True)
        if a is not None
    ):
        return rows  # not the same reading: empty fields stay NULL
    return [
        tuple(d if r is None else r for r, d in zip(row, other, strict=True))
        for row, other in zip(rows, read, strict=True)
    ]


def load_parquet(
    path: str | Path,
    workdir: str | Path,
    table: str | None = None,
    schema: SchemaSource | None = None,
    name: str | None = None,
) -> Snapshot:
    """Load a Parquet file as `table`, typed by `schema`."""
    import pyarrow.parquet as pq

    path = Path(path)

    def read() -> tuple[list[str], list[tuple]]:
        try:
            data = pq.read_table(path)
        except (OSError, ValueError) as exc:
            raise InputError(path, 0, f"not a readable Parquet file: {exc}") from exc
        columns = data.column_names
        for field in data.schema:
            _d1_storable(path, field)
        values = [data.column(c).to_pylist() for c in columns]
        for field, column in zip(data.schema, values, strict=True):
            if str(field.type) != "uint64":  # the one integer type that goes past SQLite's
                continue
            too_big = next((i for i, v in enumerate(column) if v is not None and v >= 2**63), None)
            if too_big is not None:
                raise InputError(
                    path,
                    0,
                    f"column {field.name}, row {too_big + 1}: {column[too_big]} is past "
                    "the largest INTEGER D1 stores (2^63 - 1)",
                )
        return columns, list(zip(*values, strict=True))

    return _load_rows(path, workdir, table or path.stem, schema, read, name)


def _d1_storable(path: Path, field) -> None:
    """A Parquet column d1nb loads as it is: one whose values are D1's (integers, floats,
    booleans as 0/1, text, bytes, NULL). A timestamp, date, decimal or nested value has no
    one way into INTEGER, REAL or TEXT, so it is refused rather than guessed."""
    import pyarrow.types as pt

    kind = field.type.value_type if pt.is_dictionary(field.type) else field.type
    checks = (pt.is_integer, pt.is_floating, pt.is_boolean, pt.is_string, pt.is_large_string)
    checks += (pt.is_binary, pt.is_large_binary, pt.is_fixed_size_binary, pt.is_null)
    if not any(check(kind) for check in checks):
        raise InputError(
            path,
            0,
            f"column {field.name} is Parquet {field.type}, which D1 does not store: cast it "
            "to what the table holds (TEXT, INTEGER, REAL or BLOB) when writing the file",
        )


def load_snapshot(
    source: str | Path,
    workdir: str | Path,
    *,
    table: str | None = None,
    schema: SchemaSource | None = None,
    name: str | None = None,
    progress: bool = False,
    into: tuple[duckdb.DuckDBPyConnection, str] | None = None,
) -> Snapshot:
    """Load any export d1nb reads, chosen by what `source` is.

    A SQL dump, a SQLite file or wrangler local-state folder, `--json` output (needs `table`),
    CSV or Parquet (table named by `table` or the file name; typed by `schema`). `into`, a
    DuckDB connection and schema, is where a dump read the direct way puts its tables (two
    exports loaded into one connection are compared without a copy).
    """
    source = Path(source)
    if not source.exists():
        raise InputError(source, 0, "export not found")
    if source.is_dir():
        return load_sqlite(source, workdir, name)
    with source.open("rb") as fh:
        head = fh.read(16)
    suffix = source.suffix.lower()
    if head.startswith(b"SQLite format 3"):
        return load_sqlite(source, workdir, name)
    if suffix == ".sql":
        return load_dump(source, workdir, name, schema, progress, into=into)
    if suffix == ".json":
        if not table:
            raise InputError(
                source, 0, "--json output does not name its table: give it (--table T, or table=T)"
            )
        return load_json(source, workdir, table, schema, name)
    if suffix == ".csv":
        return load_csv(source, workdir, table, schema, name)
    if suffix in (".parquet", ".pq"):
        return load_parquet(source, workdir, table, schema, name)
    raise InputError(
        source,
        0,
        "unknown export format (expected .sql, .sqlite, .json, .csv, "
        ".parquet or a local-state folder)",
    )
