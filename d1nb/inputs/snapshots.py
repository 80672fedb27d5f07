"""Table exports: writing and reading `wrangler d1 export` dumps, loading them into a working copy.

The dump format follows Miniflare's `dumpSql` (workers-sdk, packages/miniflare/src/workers/d1/
dumpSql.ts), which D1 itself shares: `PRAGMA defer_foreign_keys=TRUE;`, each table's `CREATE`
then one `INSERT INTO "t" VALUES(…);` per row, `DELETE FROM sqlite_sequence;` and its rows,
then indexes, triggers and views; statements joined by newlines, no trailing newline. The
compatibility suite checks byte for byte against the pinned wrangler's `d1 export`. Dumps whose
INSERTs name their columns are read too.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import itertools
import json
import math
import os
import queue
import re
import shutil
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, TypeAlias

import apsw
import duckdb
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from d1nb import d1
from d1nb.engine.d1engine import D1Engine, D1Error
from d1nb.engine.evolution import schema_evolution
from d1nb.formats.migrations import MigrationDir, Statement
from d1nb.formats.sql import classify, quote_ident, schema_row
from d1nb.problems import InputError

SchemaSource: TypeAlias = MigrationDir | dict[str, str]
"""Where tables come from when an export has no schema: migrations replayed, or CREATE SQL."""

# -- writing ----------------------------------------------------------------------------------


def _js_number(value: int | float) -> str:
    """A number as JavaScript's String() prints it, which is what the export contains."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def _unused(value: str, primary: str, secondary: str) -> str:
    if primary not in value:
        return primary
    if secondary not in value:
        return secondary
    suffix = 0
    while f"({primary}{suffix})" in value:
        suffix += 1
    return f"({primary}{suffix})"


def _quote_text(value: str) -> str:
    """SQLite shell's quoted string, with newlines written as replace(…, char(10))."""
    has_nl, has_cr = "\n" in value, "\r" in value
    if not has_nl and not has_cr:
        return "'" + value.replace("'", "''") + "'"
    nl = _unused(value, "\\n", "\\012")
    cr = _unused(value, "\\r", "\\015")
    out = "'" + value.replace("'", "''").replace("\n", nl).replace("\r", cr) + "'"
    if has_cr:
        out = f"replace({out},'{cr}',char(13))"
    if has_nl:
        out = f"replace({out},'{nl}',char(10))"
    return out


def sql_literal(value: object) -> str:
    """A Python value from SQLite as it appears in a wrangler export."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return _js_number(value)
    if isinstance(value, str):
        return _quote_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "X'" + bytes(value).hex() + "'"
    raise TypeError(f"unexpected value type {type(value).__name__}")


def dump_statements(
    conn: apsw.Connection,
    tables: Iterable[str] = (),
    no_schema: bool = False,
    no_data: bool = False,
) -> Iterator[str]:
    """The statements of `wrangler d1 export` for a database, in its order."""
    wanted = set(tables)
    yield "PRAGMA defer_foreign_keys=TRUE;"
    rows = conn.execute(
        "SELECT name, type, sql FROM sqlite_schema AS o WHERE (true) AND type=='table' "
        "AND sql NOT NULL ORDER BY tbl_name='sqlite_sequence', rowid"
    ).fetchall()
    for name, _type, sql in rows:
        if wanted and name not in wanted:
            continue
        if name == "sqlite_sequence":
            if not no_schema:
                yield "DELETE FROM sqlite_sequence;"
        elif name.startswith("sqlite_stat"):
            if not no_schema:
                yield "ANALYZE sqlite_schema;"
        elif sql.startswith("CREATE VIRTUAL TABLE"):
            raise ValueError("D1 Export error: cannot export databases with Virtual Tables (fts5)")
        elif name.startswith(d1.INTERNAL_TABLE_PREFIXES):
            continue
        elif not no_schema:
            if re.match(r"CREATE TABLE ['\"]", sql):
                yield f"CREATE TABLE IF NOT EXISTS {sql[13:]};"
            else:
                yield f"{sql};"
        if no_data:
            continue
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info={quote_ident(name)}")]
        select = f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {quote_ident(name)}"
        # wrangler 4.94 on names the columns of every INSERT (Miniflare's dumpSql.ts)
        names = ",".join(quote_ident(c) for c in columns)
        prefix = f"INSERT INTO {quote_ident(name)} ({names}) VALUES("
        for row in conn.execute(select):
            yield prefix + ",".join(sql_literal(v) for v in row) + ");"
    if not no_schema:
        rest = conn.execute(
            "SELECT name, sql FROM sqlite_schema AS o WHERE (true) AND sql NOT NULL "
            "AND type IN ('index', 'trigger', 'view') ORDER BY type COLLATE NOCASE"
        ).fetchall()
        for name, sql in rest:
            if wanted and name not in wanted:
                continue
            yield f"{sql};"


def write_dump(conn: apsw.Connection, out: str | Path, **options: object) -> Path:
    """Write a database as `wrangler d1 export` does (no trailing newline)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        first = True
        for statement in dump_statements(conn, **options):
            if not first:
                fh.write("\n")
            fh.write(statement)
            first = False
    return out


# -- reading ----------------------------------------------------------------------------------


def iter_dump(path: str | Path) -> Iterator[tuple[int, str]]:
    """Stream the statements of a SQL dump as (1-based start line, text), in bounded memory.

    Raises InputError naming the line for invalid UTF-8 and for a truncated last statement.
    """
    path = Path(path)
    buffer: list[str] = []
    start = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _decode(path, lineno, raw)
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not buffer:
                if not line.strip():
                    continue
                start = lineno
            buffer.append(line)
            if line.rstrip().endswith(";"):
                text = "".join(buffer)
                if apsw.complete(text):
                    yield start, text.strip()
                    buffer = []
    if buffer and "".join(buffer).strip():
        text = "".join(buffer).strip()
        if not re.fullmatch(r"(?:--[^\n]*\n?|\s)*", text):
            raise InputError(path, start, "truncated dump: the last statement has no closing ';'")


@dataclass
class Snapshot:
    """A loaded export: a SQLite working copy on disk and what was verified about it.

    The working copy is d1nb's own file, never the input; `duckdb()` copies its tables into
    DuckDB with types from the declared SQLite types.
    """

    source: Path
    path: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    type_notes: list[dict] = field(default_factory=list)

    def connect(self) -> D1Engine:
        """A D1 engine on the working copy."""
        return D1Engine(self.path)

    def counts_frame(self) -> pd.DataFrame:
        """Tables and their row counts (verified at load)."""
        return pd.DataFrame(sorted(self.row_counts.items()), columns=["table", "rows"])

    def types_frame(self) -> pd.DataFrame:
        """Columns whose stored values disagree with their declared type, or mix types."""
        return pd.DataFrame(
            self.type_notes, columns=["table", "column", "declared", "duckdb", "storage", "note"]
        )

    def duckdb(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        schema: str = "main",
        progress: bool = False,
    ) -> duckdb.DuckDBPyConnection:
        """Copy every table into DuckDB (schema `schema`), row counts verified."""
        return to_duckdb(self, con, schema, progress)


# -- loading ----------------------------------------------------------------------------------

_BATCH_STATEMENTS = 500
_BATCH_ROWS = 100_000


WORKING_COPY_ID = 0x64316E62
"""SQLite `application_id` of every working copy d1nb makes ("d1nb"): the mark that lets it
replace a copy of its own, and refuse to remove any file it did not create."""
WORKING_SUFFIX = ".d1nb.sqlite"
"""Working copies are `<stem>.d1nb.sqlite`: a name no export or local state has."""


def is_working_copy(path: Path) -> bool:
    """Whether `path` is a SQLite file d1nb made (its application_id says so)."""
    try:
        with path.open("rb") as f:
            header = f.read(72)
    except OSError:
        return False
    return header.startswith(b"SQLite format 3") and header[68:72] == WORKING_COPY_ID.to_bytes(
        4, "big"
    )


def mark_working_copy(engine: D1Engine) -> None:
    engine.internal(f"PRAGMA application_id = {WORKING_COPY_ID}")


def remove_working_copy(target: Path) -> None:
    """Remove a working copy and its journal files; refuse any file d1nb did not make."""
    if target.exists() and not is_working_copy(target):
        raise InputError(
            target,
            0,
            "not a working copy of d1nb's: refusing to replace it (choose another --workdir)",
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)


def _fresh_target(workdir: str | Path, stem: str) -> Path:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"{stem}{WORKING_SUFFIX}"
    remove_working_copy(target)
    # A DuckDB snapshot left from an earlier load would be opened and grown, not replaced;
    # it is removed only beside a working copy of d1nb's (just checked, or absent).
    for stale in (target.with_suffix(".duckdb"), target.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    with D1Engine(target) as engine:
        mark_working_copy(engine)
    return target


def _shadow_rows(snapshot: Snapshot, table: str) -> int | None:
    """Rows of a shadow table of a virtual table in the working copy (None if there is none)."""
    with D1Engine(snapshot.path, statement_limit=0) as engine:
        found = engine.conn.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow' "
            "AND lower(name) = ?",
            (table,),
        ).fetchall()
        if not found:
            return None
        return engine.conn.execute(f"SELECT count(*) FROM {quote_ident(found[0][0])}").fetchall()[
            0
        ][0]


def _virtual_tables(snapshot: Snapshot) -> dict[str, int]:
    """Rows of each virtual table (FTS5, R*Tree) of the working copy, with a note on the
    snapshot for each: they stay in the SQLite copy, where replays use them, and are not
    copied to DuckDB, where their rows (derived from other tables) mean nothing."""
    found = {}
    with D1Engine(snapshot.path, statement_limit=0) as engine:
        rows = engine.conn.execute(
            "SELECT l.name, m.sql FROM pragma_table_list AS l JOIN sqlite_master AS m "
            "ON m.name = l.name WHERE l.schema = 'main' AND l.type = 'virtual' ORDER BY 1"
        ).fetchall()
        for name, sql in rows:
            try:
                found[name] = engine.conn.execute(
                    f"SELECT count(*) FROM {quote_ident(name)}"
                ).fetchall()[0][0]
            except apsw.Error as exc:
                snapshot.notes.append(f"virtual table {name} cannot be read here: {exc}")
                continue
            module = (classify(sql)[3] or "?") if sql else "?"
            snapshot.notes.append(
                f"virtual table {name} (USING {module}, {found[name]} rows) is kept in the "
                "SQLite working copy, not in DuckDB"
            )
    return found


def _counts(engine: D1Engine) -> dict[str, int]:
    return {
        t: engine.conn.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchall()[0][0]
        for t in engine.tables()
    }


def _create_schema(
    engine: D1Engine, schema: SchemaSource | None, applied: set[str] | None = None
) -> None:
    """Create the tables of `schema`: CREATE SQL, or a migrations folder replayed from empty
    (only the files in `applied`, when given: the schema the exported database had)."""
    if schema is None:
        return
    if isinstance(schema, dict):
        statements = list(schema.values())
    else:
        if applied is not None:
            schema = replace(schema, files=[f for f in schema.files if f.name in applied])
        final = schema_evolution(schema)
        statements = [sql for _name, sql in final.final_sql]
    for sql in statements:
        engine.conn.execute(sql)


_LEDGER_ROW = re.compile(r"INSERT INTO \"?(\w+)\"?(?: \([^)]*\))? VALUES\(\d+,'((?:[^']|'')*)',")
"""A ledger row of a dump, with the column list wrangler writes since 4.94 or without it."""


def _ledger_in_dump(path: Path, mdir: MigrationDir) -> tuple[str, set[str]] | None:
    """(ledger table, names it lists) of a dump, found as the table whose rows name the most
    files of `mdir` (the ledger may have any name); None when no table does."""
    known = {f.name for f in mdir.files}
    found: dict[str, set[str]] = {}
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.startswith(b"INSERT INTO "):
                continue
            match = _LEDGER_ROW.match(raw.decode("utf-8", "replace"))
            if match and match.group(2).replace("''", "'") in known:
                found.setdefault(match.group(1), set()).add(match.group(2).replace("''", "'"))
    if not found:
        return None
    return max(found.items(), key=lambda item: len(item[1]))


_FAST_INSERT = re.compile(r'INSERT INTO (?:"((?:[^"]|"")+)"|(\w+))(?: \([^)]*\))? VALUES(?=\()')


def _decode(path: Path, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            path, lineno, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from exc


def _insert_table(match: re.Match) -> str:
    """The table an INSERT matched by _FAST_INSERT fills."""
    return (match.group(1) or "").replace('""', '"') or match.group(2)


_CHUNK_BYTES = 1 << 20


def _dump_chunks(path: Path, bar: tqdm) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) of about 1 MB of whole lines at a time."""
    lineno, tail = 1, b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(_CHUNK_BYTES)
            bar.update(len(block))
            data = tail + block
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, tail = data[:cut], data[cut:]
            if not chunk:
                continue
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = lineno + chunk.count(b"\n", 0, exc.start)
                column = exc.start - (chunk.rfind(b"\n", 0, exc.start) + 1) + 1
                raise InputError(
                    path, at, f"not valid UTF-8 (byte 0x{chunk[exc.start]:02x} at column {column})"
                ) from exc
            yield lineno, text.removeprefix("\ufeff") if lineno == 1 else text
            lineno += chunk.count(b"\n")
            if not block:
                return


class _Work(NamedTuple):
    """One unit of a dump for the writer thread.

    kind "sql": one statement; "rows": single-line INSERTs into one table, `rows` their
    (line, "(values)"); "block": whole lines of such INSERTs, `sql` already joined into one
    multi-row INSERT of `count` rows and `text` the lines themselves (to measure them).
    """

    kind: str
    line: int
    sql: str
    table: str = ""
    rows: tuple[tuple[int, str], ...] | list[tuple[int, str]] = ()
    count: int = 0
    text: str = ""


_ROW_SEPARATOR = re.compile(r"\)\s*,\s*\(")
"""What separates the rows of a multi-row INSERT (or stands inside a string): where it
appears, a line is not known to be one row, and the line goes the exact way, statement by
statement, counted by the rows SQLite inserted."""


def _insert_block(first: int, text: str) -> _Work | None:
    """`text` as one multi-row INSERT when each of its lines is a one-line INSERT into the
    same table (wrangler's format); None otherwise.

    A string value holding a newline and the next line's prefix would be joined wrongly, but
    then the INSERT adds fewer rows than `text` has lines, which _run_block checks.
    """
    match = _FAST_INSERT.match(text)
    if match is None or not text.endswith(");\n") or _ROW_SEPARATOR.search(text):
        return None  # a line may hold several rows: counting lines would prove nothing
    prefix = match.group(0)
    joint = ");\n" + prefix + "("
    lines = text.count("\n")
    if text.count(joint) != lines - 1:
        return None
    table = _insert_table(match)
    sql = prefix + text[len(prefix) : -2].replace(joint, "),(") + ";"
    return _Work("block", first, sql, table, count=lines, text=text)


def _scan_dump(path: Path, bar: tqdm, blocks: bool = True) -> Iterator[_Work]:
    """The dump as work for the writer: blocks of wrangler's one-line INSERTs where a whole
    chunk is made of them, runs of one-line INSERTs into one table, and other statements
    split by SQLite's completeness rule as in iter_dump.
    """
    prefix, table, rows, size, pending, start = "", "", [], 0, [], 0
    complete = apsw.complete
    for first, chunk in _dump_chunks(path, bar):
        if blocks and not pending and (block := _insert_block(first, chunk)) is not None:
            if rows:
                yield _Work("rows", rows[0][0], prefix, table, rows)
                prefix, rows, size = "", [], 0
            yield block
            continue
        lines = chunk.split("\n")
        if lines[-1] == "":
            lines.pop()
        for lineno, line in enumerate(lines, start=first):
            text = line.rstrip("\r")
            if not pending and text.endswith(");"):
                if prefix and text.startswith(prefix) and text[len(prefix)] == "(":
                    head_end = len(prefix)
                else:
                    match = _FAST_INSERT.match(text)
                    head_end = match.end() if match else 0
                if head_end and complete(text) and not _ROW_SEPARATOR.search(text, head_end):
                    head = text[:head_end]
                    if head != prefix or len(rows) >= _BATCH_STATEMENTS or size > 4_000_000:
                        if rows:
                            yield _Work("rows", rows[0][0], prefix, table, rows)
                        if head != prefix:
                            table = _insert_table(_FAST_INSERT.match(text))
                        prefix, rows, size = head, [], 0
                    values = text[head_end:-1]
                    rows.append((lineno, values))
                    size += len(values)
                    continue
            if rows:
                yield _Work("rows", rows[0][0], prefix, table, rows)
                prefix, rows, size = "", [], 0
            if not pending:
                if not text.strip():
                    continue
                start = lineno
            pending.append(line)
            if text.rstrip().endswith(";"):
                sql = "\n".join(pending)
                if complete(sql):
                    yield _Work("sql", start, sql.strip())
                    pending = []
    if rows:
        yield _Work("rows", rows[0][0], prefix, table, rows)
    if pending and not re.fullmatch(r"(?:--[^\n]*\n?|\s)*", "\n".join(pending)):
        raise InputError(path, start, "truncated dump: the last statement has no closing ';'")


def _oversized(work: _Work) -> int:
    """How many of the dump's INSERT statements in `work` exceed D1's statement size."""
    limit = d1.MAX_STATEMENT_BYTES
    if work.kind == "rows":
        return sum(len(work.sql) + len(v) > limit for _, v in work.rows)
    if work.kind == "block" and len(work.text) > limit:
        return sum(len(line) > limit for line in work.text.split("\n"))
    return 0


def _run_inserts(engine: D1Engine, path: Path, prefix: str, rows: list[tuple[int, str]]) -> None:
    """Run a run of single-row INSERTs as one multi-row INSERT; on error, name the failing line."""
    engine.conn.execute("SAVEPOINT d1nb_batch")
    try:
        with engine.time_limit():
            engine.conn.execute(prefix + ",".join(v for _, v in rows) + ";")
    except apsw.InterruptError as exc:  # SQLite has rolled the whole load back
        first, last = rows[0][0], rows[-1][0]
        where = f"line {first}" if first == last else f"lines {first}–{last}"
        raise InputError(path, first, f"{engine.timeout_message()} ({where})") from exc
    except apsw.Error:
        engine.conn.execute("ROLLBACK TO d1nb_batch")
        for index, (line, values) in enumerate(rows):
            sql = f"{prefix}{values};"
            try:
                engine.run_statement(Statement(index, line, line, sql, "insert", None), str(path))
            except D1Error as exc:
                raise InputError(path, line, exc.reason) from exc
        raise
    engine.conn.execute("RELEASE d1nb_batch")


def _run_block(engine: D1Engine, work: _Work) -> None:
    """Run a block as its one multi-row INSERT, or raise _BlockRefusedError.

    Refused when SQLite raises, when the text holds more than one statement, or when it adds
    other than one row per line (a value holding a newline): the caller then loads the dump
    again line by line, which names the line of an error.
    """
    statements = 0

    def one_statement(_cursor: apsw.Cursor, _sql: str, _bindings: object) -> bool:
        nonlocal statements
        statements += 1
        return statements == 1

    before = engine.conn.total_changes()
    cursor = engine.conn.cursor()
    cursor.exec_trace = one_statement
    try:
        with engine.time_limit():
            cursor.execute(work.sql)
    except (apsw.Error, apsw.ExecTraceAbort) as exc:
        raise _BlockRefusedError(work.line, str(exc)) from exc
    finally:
        cursor.close()
    if engine.conn.total_changes() - before != work.count:
        raise _BlockRefusedError(work.line, "rows added differ from lines")


def _frames_a_cli_dump(kind: str, detail: str) -> str | None:
    """ "BEGIN" or "COMMIT" for a transaction line (END is COMMIT), "writable_schema" for that
    PRAGMA: the frame sqlite3 .dump wraps its output in. wrangler strips one BEGIN/COMMIT
    pair; a second one runs, and fails, as on D1."""
    if kind == "transaction" and detail.upper() in ("BEGIN", "COMMIT", "END"):
        return "COMMIT" if detail.upper() == "END" else detail.upper()
    if kind == "pragma" and detail.lower().replace(" ", "").startswith("writable_schema="):
        return "writable_schema"
    return None


class _BlockRefusedError(Exception):
    """A block of one-line INSERTs did not load as one statement; load line by line."""


class _DumpWriter(threading.Thread):
    """Runs a dump's statements on the working copy in a thread of its own.

    APSW releases the GIL while SQLite works, so parsing the next batch (Python, in the
    caller's thread) overlaps with inserting this one. The queue is bounded, so memory is.
    """

    def __init__(self, engine: D1Engine, path: Path, schema: SchemaSource | None):
        super().__init__(daemon=True)
        self.engine, self.path, self.schema = engine, path, schema
        self.work: queue.Queue = queue.Queue(maxsize=8)
        self.expected: Counter[str] = Counter()
        self.notes: list[str] = []
        self.error: BaseException | None = None
        self.stop = False
        self.cli_dump = False
        self.frame = {"BEGIN", "COMMIT", "writable_schema"}  # what a load may strip, once each

    def put(self, item: _Work | None) -> None:
        while self.error is None:
            try:
                self.work.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise self.error

    def run(self) -> None:
        try:
            while (item := self.work.get()) is not None:
                if not self.stop:
                    self._apply(item)
        except BaseException as exc:  # handed to the caller's thread by put() and finish()
            self.error = exc

    def _apply(self, work: _Work) -> None:
        line, sql = work.line, work.sql
        if work.kind in ("rows", "block"):
            if self.schema is not None and not self.engine.conn.table_exists(None, work.table):
                self._create_tables()  # a --no-schema dump: tables first
            if work.kind == "block":
                self.expected[work.table] += work.count
                _run_block(self.engine, work)
            else:
                self.expected[work.table] += len(work.rows)
                _run_inserts(self.engine, self.path, sql, work.rows)
            return
        kind, table, flags, detail = classify(sql)
        frame = _frames_a_cli_dump(kind, detail)
        if frame and frame in self.frame:
            if frame != "writable_schema":  # one BEGIN and one COMMIT, as wrangler strips
                self.frame.discard(frame)
            if not self.cli_dump:
                self.cli_dump = True
                self.notes.append(
                    "a sqlite3 .dump (wrangler d1 export --compatibility sqlite3_cli_only): its "
                    "BEGIN/COMMIT and writable_schema lines are the loader's own work here"
                )
            return
        if kind == "transaction":
            raise InputError(
                self.path,
                line,
                f"{detail} beyond the one BEGIN/COMMIT pair wrangler strips: D1 runs the file "
                "as one transaction and refuses it",
            )
        if kind == "insert" and (table or "").lower() in ("sqlite_schema", "sqlite_master"):
            self._declare_virtual_table(line, sql)
            return
        if self.schema is not None and kind.startswith("create_"):
            name = table if kind in ("create_table", "create_view") else detail
            exists = self.engine.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = ?", (name,)
            ).fetchall()[0][0]
            if exists:
                return  # the migrations created it already
        try:
            changed = self.engine.run_statement(
                Statement(0, line, line, sql, kind, table, flags, detail), str(self.path)
            )
        except D1Error as exc:
            raise InputError(self.path, line, exc.reason) from exc
        if kind in ("insert", "insert_select"):
            self.expected[table] += changed

    def _declare_virtual_table(self, line: int, sql: str) -> None:
        """sqlite3 .dump declares a virtual table by writing its sqlite_schema row, then fills
        its shadow tables row by row. Here the declaration runs as the CREATE VIRTUAL TABLE it
        holds (through the engine: only modules D1 has), and the shadow tables that creates are
        emptied, so the dump's rows fill them exactly as they were."""
        row = schema_row(sql)
        if row is None or not row.get("sql", "").upper().startswith("CREATE VIRTUAL TABLE"):
            raise InputError(
                self.path,
                line,
                "writes sqlite_schema directly: only sqlite3 .dump's virtual-table "
                "declarations are read",
            )
        conn = self.engine.conn
        existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        create = row["sql"]
        kind, table, flags, detail = classify(create)
        try:
            self.engine.run_statement(
                Statement(0, line, line, create, kind, table, flags, detail), str(self.path)
            )
        except D1Error as exc:
            raise InputError(self.path, line, exc.reason) from exc
        for (shadow,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            if shadow not in existing and shadow != row.get("name"):
                conn.execute(f"DELETE FROM {quote_ident(shadow)}")

    def _create_tables(self) -> None:
        """The tables of a --no-schema dump, as the exported database had them: the migrations
        its own ledger lists, replayed from empty (all of them when it has no ledger)."""
        applied = None
        if isinstance(self.schema, MigrationDir):
            ledger = _ledger_in_dump(self.path, self.schema)
            if ledger is None:
                self.notes.append(
                    "no schema and no ledger rows in the dump: tables from every migration file"
                )
            else:
                applied = ledger[1]
                self.notes.append(
                    f"no schema in the dump: tables from the {len(applied)} migration file(s) "
                    f"its {ledger[0]} table lists"
                )
        _create_schema(self.engine, self.schema, applied)
        self.schema = None

    def abandon(self) -> None:
        """Stop after the current item: the caller is rolling back."""
        self.stop = True
        self.work.put(None)
        self.join()

    def finish(self) -> None:
        self.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _run_dump(
    path: Path, target: Path, schema: SchemaSource | None, bar: tqdm, blocks: bool
) -> tuple[Snapshot, _DumpWriter, int]:
    """Run a dump into a fresh working copy in one transaction; remove it on any error."""
    engine = D1Engine(target, statement_limit=0)
    mark_working_copy(engine)  # made again after a first attempt's copy was removed
    writer = _DumpWriter(engine, path, schema)
    oversized = 0
    try:
        # A scratch copy: journal in memory (new pages need none), no fsync, a large page cache.
        engine.internal("PRAGMA journal_mode=MEMORY")
        engine.internal("PRAGMA synchronous=OFF")
        engine.internal("PRAGMA cache_size=-262144")
        # A snapshot is data as it was, not a migration: partial (--table) exports name parents
        # they do not contain, and old rows may predate enforcement. Replays turn keys back on.
        engine.internal("PRAGMA foreign_keys=OFF")
        engine.conn.execute("BEGIN")
        writer.start()
        for work in _scan_dump(path, bar, blocks):
            oversized += _oversized(work)
            writer.put(work)
        writer.finish()
        engine.conn.execute("COMMIT")
        snapshot = Snapshot(path, target, _counts(engine), notes=writer.notes)
    except BaseException:
        if writer.is_alive():
            writer.abandon()
        if not engine.conn.get_autocommit():
            engine.conn.execute("ROLLBACK")
        engine.close()
        remove_working_copy(target)
        raise
    engine.close()
    return snapshot, writer, oversized


def load_dump(
    path: str | Path,
    workdir: str | Path,
    name: str | None = None,
    schema: SchemaSource | None = None,
    progress: bool = False,
) -> Snapshot:
    """Load a `wrangler d1 export` dump into a new SQLite working copy under `workdir`.

    Handles whole exports and `--table`, `--no-data` and `--no-schema` ones (give `schema`, the
    service's migrations, to create the tables a `--no-schema` dump fills). The dump runs
    through the D1 engine (hostile SQL is refused) in one transaction; rows per table are
    checked against the INSERT statements the dump holds. Nothing is left behind on error.
    """
    path = Path(path)
    with path.open("rb") as f:
        if not f.read(1 << 16).strip():
            raise InputError(
                path,
                0,
                "empty file: not a wrangler d1 export (an empty database exports as "
                "'PRAGMA defer_foreign_keys=TRUE;')",
            )
    target = _fresh_target(workdir, name or path.stem)
    bar = tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        disable=not progress,
        desc=f"loading {path.name}",
    )
    try:
        try:
            snapshot, writer, oversized = _run_dump(path, target, schema, bar, blocks=True)
        except _BlockRefusedError:  # unusual lines: again line by line, naming any failing one
            bar.reset()
            snapshot, writer, oversized = _run_dump(path, target, schema, bar, blocks=False)
    except (apsw.FullError, apsw.IOError) as exc:  # the working copy's folder, not the dump
        with contextlib.suppress(InputError, OSError):
            remove_working_copy(target)
        raise OSError(errno.ENOSPC, f"cannot write the working copy: {exc}", str(target)) from exc
    finally:
        bar.close()
    if oversized:
        snapshot.notes.append(
            f"{oversized} INSERT statement(s) over D1's {d1.MAX_STATEMENT_BYTES}-byte limit: "
            "`wrangler d1 execute --file` would refuse this dump"
        )
    expected: dict[str, int] = defaultdict(int)
    for table, n in writer.expected.items():  # SQLite's names are case-insensitive
        expected[table.lower()] += n
    virtual = _virtual_tables(snapshot)
    loaded = {t.lower(): n for t, n in {**snapshot.row_counts, **virtual}.items()}
    for table, n in expected.items():
        if table == "sqlite_sequence":
            continue
        got = loaded.get(table)
        if got is None:  # a virtual table's shadow table, kept out of the snapshot's tables
            got = _shadow_rows(snapshot, table)
        if got != n:
            target.unlink(missing_ok=True)
            raise InputError(path, 0, f"table {table}: dump has {n} INSERTs but {got} rows loaded")
    return snapshot


_CONSTRAINT_REPORT = re.compile(r"CHECK constraint failed in |NULL value in ")
"""quick_check lines about rows breaking CHECK / NOT NULL: d1nb.analyses.checks reports those."""


def local_state_databases(folder: Path) -> list[Path]:
    """SQLite files of a wrangler local-state folder (`.wrangler/state/v3/d1/...`)."""
    return sorted(
        p for p in folder.rglob("*.sqlite") if p.name != "metadata.sqlite" and p.is_file()
    )


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
                f"{len(found)} databases in this folder; name the .sqlite file of the one to load",
            )
        path = found[0]
    with path.open("rb") as fh:
        if not fh.read(16).startswith(b"SQLite format 3"):
            raise InputError(path, 0, "not a SQLite database file")
    target = _fresh_target(workdir, name or path.stem)
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
        counts = _counts(engine)
    Path(str(target) + "-wal").unlink(missing_ok=True)  # checkpointed: all in the copy now
    snapshot = Snapshot(path, target, counts)
    _virtual_tables(snapshot)
    return snapshot


def wrangler_json_rows(path: Path) -> list[dict]:
    """The result rows of `wrangler d1 execute --json` output, every statement's in order."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            path, exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})"
        ) from exc
    results = data if isinstance(data, list) else [data]
    for result in results:
        if isinstance(result, dict) and "error" in result:
            raise InputError(path, 0, f"wrangler reported an error: {result['error']}")
        if isinstance(result, dict) and result.get("success") is False:
            raise InputError(path, 0, "wrangler reported success: false")
    if not all(isinstance(r, dict) and "results" in r for r in results):
        raise InputError(path, 1, "not `wrangler d1 execute --json` output (no 'results')")
    return [row for r in results for row in r["results"] or []]


def _insert_rows(
    engine: D1Engine,
    path: Path,
    table: str,
    columns: list[str],
    rows: Iterable,
    schema: SchemaSource | None,
) -> None:
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
    try:
        engine.conn.executemany(sql, rows)
    except apsw.Error as exc:
        raise InputError(path, 0, f"table {table}: {exc}") from exc


def _load_rows(
    path: Path,
    workdir: str | Path,
    table: str,
    schema: SchemaSource | None,
    read: Callable[[], tuple[list[str], list[tuple]]],
    name: str | None,
) -> Snapshot:
    target = _fresh_target(workdir, name or path.stem)
    with D1Engine(target, statement_limit=0) as engine:
        engine.internal("PRAGMA foreign_keys=OFF")  # one table of many: parents may be absent
        engine.conn.execute("BEGIN")
        _create_schema(engine, schema)
        columns, rows = read()
        _insert_rows(engine, path, table, columns, rows, schema)
        engine.conn.execute("COMMIT")
        counts = _counts(engine)
    if counts.get(table) != len(rows):
        raise InputError(
            path, 0, f"table {table}: {len(rows)} rows read, {counts.get(table)} loaded"
        )
    return Snapshot(path, target, counts)


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
        columns = list(dict.fromkeys(k for row in rows for k in row))
        convert = [lambda v: bytes(v) if isinstance(v, list) else v for _ in columns]
        return columns, [
            tuple(f(row.get(c)) for f, c in zip(convert, columns, strict=True)) for row in rows
        ]

    return _load_rows(path, workdir, table, schema, read, name)


def load_csv(
    path: str | Path,
    workdir: str | Path,
    table: str | None = None,
    schema: SchemaSource | None = None,
    name: str | None = None,
) -> Snapshot:
    """Load a CSV file (header row; empty fields are NULL) as `table`, typed by `schema`.

    Values go in as text and take the declared column's affinity, as `sqlite3 .import` does.
    """
    path = Path(path)

    def read() -> tuple[list[str], list[tuple]]:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(path, 1, "empty CSV file (no header row)") from None
            except UnicodeDecodeError as exc:
                raise InputError(path, 1, "not valid UTF-8") from exc
            rows = []
            try:
                for row in reader:
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
        return header, rows

    return _load_rows(path, workdir, table or path.stem, schema, read, name)


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
        values = [data.column(c).to_pylist() for c in columns]
        return columns, list(zip(*values, strict=True))

    return _load_rows(path, workdir, table or path.stem, schema, read, name)


def load_snapshot(
    source: str | Path,
    workdir: str | Path,
    *,
    table: str | None = None,
    schema: SchemaSource | None = None,
    name: str | None = None,
    progress: bool = False,
) -> Snapshot:
    """Load any export d1nb reads, chosen by what `source` is.

    A SQL dump, a SQLite file or wrangler local-state folder, `--json` output (needs `table`),
    CSV or Parquet (table named by `table` or the file name; typed by `schema`).
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
        return load_dump(source, workdir, name, schema, progress)
    if suffix == ".json":
        if not table:
            raise InputError(source, 0, "--json output does not name its table: give table=")
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


# -- DuckDB -----------------------------------------------------------------------------------


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


_CLASS_OF_AFFINITY = {"INTEGER": "integer", "TEXT": "text", "REAL": "real"}


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
    expected = [_CLASS_OF_AFFINITY.get(affinity(d)) for d in declared]
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


def _duck_type(declared: str, classes: dict[str, int]) -> tuple[str, str]:
    """(DuckDB type, note) for a column from its declared type and the values it holds."""
    present = [k for k, n in classes.items() if n]
    by_affinity = _DUCK_BY_AFFINITY[affinity(declared)]
    if not present:
        return by_affinity, ""
    if len(present) == 1:
        duck = _DUCK_BY_CLASS[present[0]]
        if duck != by_affinity and not (by_affinity == "DOUBLE" and duck == "BIGINT"):
            return duck, f"declared {declared or '(none)'} but every value is {present[0]}"
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
        cls = _CLASS_OF_AFFINITY.get(affinity(decl))
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
    """A DuckDB connection without the progress bar (it would write to a notebook's stderr)."""
    con = duckdb.connect(database)
    # Inside Jupyter without ipywidgets DuckDB starts with the bar off and refuses any change.
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]:
        con.execute("SET enable_progress_bar = false")
    return con


def to_duckdb(
    snapshot: Snapshot,
    con: duckdb.DuckDBPyConnection | None = None,
    schema: str = "main",
    progress: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Copy the snapshot's tables into DuckDB through Arrow, in bounded memory.

    Column types come from the declared SQLite types by affinity; where the stored values
    disagree, from the values; a column mixing storage classes becomes a UNION and is
    reported in `snapshot.type_notes`. Row counts are verified per table.
    """
    if con is None:
        big = snapshot.path.stat().st_size > IN_MEMORY_DUCKDB_BYTES
        con = connect_duckdb(str(snapshot.path.with_suffix(".duckdb")) if big else ":memory:")
        if big:  # DuckDB would otherwise buffer up to 80% of RAM before spilling to its file
            con.execute(f"SET memory_limit = '{ON_DISK_DUCKDB_MEMORY}'")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    snapshot.type_notes = []
    engine = D1Engine(snapshot.path, statement_limit=0)
    total_rows = sum(snapshot.row_counts.values()) or 1
    row_bytes = snapshot.path.stat().st_size / total_rows
    bar = tqdm(
        total=len(snapshot.row_counts), unit="tables", disable=not progress, desc="to DuckDB"
    )
    try:
        for table in engine.tables():
            info = engine.columns(table, generated=True)
            names, declared = [c[1] for c in info], [c[2] for c in info]
            target = f"{quote_ident(schema)}.{quote_ident(table)}"
            expected_rows = snapshot.row_counts.get(table)
            classes = _expected_classes(engine, table, names, declared)
            types = [_duck_type(d, {k: 1})[0] for d, k in zip(declared, classes, strict=True)]
            notes = [_duck_type(d, {k: 1})[1] for d, k in zip(declared, classes, strict=True)]
            _create_duck_table(con, target, names, types)
            try:
                ranges = _rowid_ranges(engine, table, names, expected_rows or 0, row_bytes)
                _copy_table_adbc(snapshot.path, con, table, target, names, types, classes, ranges)
                complete = _duck_count(con, target) == expected_rows
            except Exception:  # ADBC refuses a batch whose types differ from the first one's
                complete = False
            if not complete:  # some value is of another class: count them all, copy exactly
                cls_counts = _storage_classes(engine, table, names, declared)
                planned = [_duck_type(d, c) for d, c in zip(declared, cls_counts, strict=True)]
                types, notes = [t for t, _ in planned], [n for _, n in planned]
                _create_duck_table(con, target, names, types)
                _copy_table_python(engine, con, table, target, names, types)
            else:
                cls_counts = [{k: 1} for k in classes]
            for name, decl, duck, note, cls in zip(
                names, declared, types, notes, cls_counts, strict=True
            ):
                if note:
                    storage = ", ".join(k if complete else f"{k} {n}" for k, n in cls.items() if n)
                    snapshot.type_notes.append(
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
            expected = snapshot.row_counts.get(table)
            if loaded != expected:
                raise InputError(
                    snapshot.source,
                    0,
                    f"table {table}: {expected} rows in the working copy, {loaded} in DuckDB",
                )
            bar.update(1)
    finally:
        bar.close()
        engine.close()
    return con
