"""Loading a `wrangler d1 export` dump into a working copy, fast and exact: runs of one-line
INSERTs joined into multi-row INSERTs on a writer thread, every line's row checked, and the
whole dump loaded again line by line (the path that names the failing line) at anything
unusual."""

from __future__ import annotations

import contextlib
import errno
import queue
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import apsw
import duckdb
from tqdm import tqdm

from d1nb import d1
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import D1Error
from d1nb.formats.dumpformat import TriggersBeforeViews, nul_message
from d1nb.formats.migrations import MigrationDir, Statement
from d1nb.formats.sql.shapes import classify, schema_row
from d1nb.formats.sql.text import quote_ident, split_statements
from d1nb.inputs import jsrounding
from d1nb.inputs.workingcopy import (
    WORKING_SUFFIX,
    SchemaSource,
    Snapshot,
    count_rows,
    create_later,
    create_schema,
    fresh_working_copy,
    mark_working_copy,
    remove_working_copy,
    unlisted_rows,
    virtual_tables,
)
from d1nb.problems import InputError

_BATCH_STATEMENTS = 500


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
            if (nul := chunk.find(b"\0")) >= 0:
                at = lineno + chunk.count(b"\n", 0, nul)
                raise InputError(path, at, nul_message(chunk, nul))
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
                if (
                    head_end
                    and complete(text)
                    and not _ROW_SEPARATOR.search(text, head_end)
                    and not _ends_a_statement_early(text)
                ):
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
                    yield from _statements(path, start, sql)
                    pending = []
    if rows:
        yield _Work("rows", rows[0][0], prefix, table, rows)
    # statements a comment after their `;` kept waiting, if any
    yield from _statements(path, start, "\n".join(pending))


def _statements(path: Path, start: int, sql: str) -> Iterator[_Work]:
    """Each statement of `sql` (lines from `start` on) as work of its own, as wrangler splits
    them; an unfinished one is a truncated dump."""
    for offset, _end, statement, whole in split_statements(sql):
        line = start + sql.count("\n", 0, offset)
        if not whole:
            raise InputError(path, line, "truncated dump: the last statement has no closing ';'")
        yield _Work("sql", line, statement)


def _ends_a_statement_early(line: str) -> bool:
    """Whether a `;` before the line's last ends a statement (not one inside a string): two
    statements on a line, which D1 runs both of, are no row of an INSERT run."""
    at = line.find(";")
    while 0 <= at < len(line) - 1:
        if apsw.complete(line[: at + 1]):
            return True
        at = line.find(";", at + 1)
    return False


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
        self.held = TriggersBeforeViews()
        self.later: list[str] = []
        """A --no-schema dump's views and triggers, created after its rows."""
        self.counters_reset = schema is None  # a --no-schema dump's counters: see _apply

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
        if not self.counters_reset and work.table.lower() == "sqlite_sequence":
            # a --no-schema dump has no `DELETE FROM sqlite_sequence;` before the counters it
            # exported: the rows loaded so far made counters of their own, which would stay
            # beside them (two rows a table)
            self.engine.conn.execute("DELETE FROM sqlite_sequence")
            self.counters_reset = True
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
            if self.engine.has_object(name):
                return  # the migrations created it already
        if kind == "create_trigger" and "instead_of" in flags and not self.engine.has_object(table):
            self.held.hold(line, sql, detail, table or "")
            return
        self._run(line, sql, kind, table, flags, detail)
        if kind == "create_view":
            for held_line, held_sql in self.held.released(table or "", line):
                self._run(held_line, held_sql, *classify(held_sql))

    def _run(
        self, line: int, sql: str, kind: str, table: str | None, flags: tuple, detail: str
    ) -> None:
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
        # the dump's own rows for the shadow tables follow: writable while loading only (D1,
        # and every replay's engine, keep them read-only)
        conn.config(apsw.SQLITE_DBCONFIG_DEFENSIVE, 0)
        for (shadow,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            if shadow not in existing and shadow != row.get("name"):
                conn.execute(f"DELETE FROM {quote_ident(shadow)}")

    def _create_tables(self) -> None:
        """The tables of a --no-schema dump, as the exported database had them: the migrations
        its own ledger lists, replayed from empty (all of them when it has no ledger)."""
        applied = ledger = None
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
        # the ledger under the name the dump's rows give it (a config's migrations_table)
        self.later = create_schema(self.engine, self.schema, applied, ledger[0] if ledger else None)
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
        create_later(self.engine, self.later)
        self.held.check_none_left(self.path)
        self.notes += self.held.notes


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
        snapshot = Snapshot(path, target, count_rows(engine), notes=writer.notes)
        rounded, snapshot.rounded_columns = jsrounding.rounding_in_working_copy(engine)
        if rounded:
            snapshot.notes.append(rounded)
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


def _load_direct(
    path: Path,
    workdir: Path,
    stem: str,
    bar: tqdm,
    into: tuple[duckdb.DuckDBPyConnection, str] | None = None,
) -> Snapshot:
    """A Snapshot of the dump read the direct way into `into` (a connection and schema; by
    default a DuckDB of its own), its working copy not yet built; or NotProvable with
    nothing left behind."""
    from d1nb.inputs.dumpduck import duckdb_for_dump, dump_to_duckdb, remove_duckdb_file

    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"{stem}{WORKING_SUFFIX}"
    remove_working_copy(target)  # a stale copy of d1nb's goes; any other file is refused
    con, schema = into if into is not None else (duckdb_for_dump(path, workdir, stem), "main")
    try:
        rows = dump_to_duckdb(path, con, schema, bar)
    except BaseException:
        if into is None:
            con.close()
            remove_duckdb_file(workdir, stem)
        raise
    return Snapshot(
        path,
        target,
        rows.row_counts,
        notes=rows.notes,
        type_notes=rows.type_notes,
        rounded_columns=rows.rounded_columns,
        direct=rows,
        reader="direct",
    )


def load_dump(
    path: str | Path,
    workdir: str | Path,
    name: str | None = None,
    schema: SchemaSource | None = None,
    progress: bool = False,
    reader: str = "auto",
    into: tuple[duckdb.DuckDBPyConnection, str] | None = None,
) -> Snapshot:
    """Load a `wrangler d1 export` dump into a new SQLite working copy under `workdir`.

    `reader` "auto" first tries the direct path (`dumpduck`: rows straight into DuckDB, the
    working copy built only when asked for), which takes only dumps it proves it reads
    exactly; "exact" goes through SQLite at once; "direct" raises NotProvable instead.
    `into` (a DuckDB connection and schema) is where the direct path puts the tables.

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
    bar = tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        disable=not progress,
        desc=f"loading {path.name}",
    )
    with bar:
        snapshot = _load(path, Path(workdir), name or path.stem, schema, bar, reader, into)
    snapshot.notes += _absent_parents(snapshot)
    return snapshot


def _creates_before(path: Path, line: int) -> bool:
    """Whether a CREATE TABLE comes before `line` of a dump (read up to it only)."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, 1):
            if number >= line:
                return False
            if text.lstrip().upper().startswith("CREATE TABLE"):
                return True
    return False


def _line(path: Path, line: int) -> str:
    """Line `line` of a dump (read up to it only), "" past its end."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, 1):
            if number == line:
                return text
    return ""


def _absent_parents(snapshot: Snapshot) -> list[str]:
    """A note naming the foreign keys whose parent table the export does not hold (a
    `wrangler d1 export --table` of some tables): nothing checks or cascades through them."""
    with snapshot.schema_engine() as engine:
        tables = {t.lower() for t in engine.tables()}
        absent = sorted(
            {(c, col, p) for c, col, p, _pc, _a in engine.foreign_keys() if p.lower() not in tables}
        )
    if not absent:
        return []
    keys = ", ".join(f"{c}.{col} → {p}" for c, col, p in absent)
    return [
        f"foreign keys into tables this export does not hold ({keys}; a `--table` export?): "
        "rows pointing at them are not checked, and what deleting from them cascades is not seen"
    ]


def _load(
    path: Path,
    workdir: Path,
    stem: str,
    schema: SchemaSource | None,
    bar: tqdm,
    reader: str,
    into: tuple[duckdb.DuckDBPyConnection, str] | None,
) -> Snapshot:
    """load_dump's work, one progress bar throughout (reset when the exact path starts)."""
    how = "exact"
    if reader != "exact":
        if schema is not None:
            how = "exact (tables from the migrations: a --no-schema dump)"
        else:
            try:
                from d1nb.inputs.dumpduck import NotProvable
            except ImportError:  # built without a C compiler
                how = "exact (the native split, d1nb/formats/_insertrows.c, was not built)"
            else:
                try:
                    return _load_direct(path, workdir, stem, bar, into)
                except NotProvable as exc:
                    if reader == "direct":
                        raise
                    how = f"exact ({exc})"
                    bar.reset()
    target = fresh_working_copy(workdir, stem)
    try:
        try:
            snapshot, writer, oversized = _run_dump(path, target, schema, bar, blocks=True)
        except _BlockRefusedError:  # unusual lines: again line by line, naming any failing one
            bar.reset()
            snapshot, writer, oversized = _run_dump(path, target, schema, bar, blocks=False)
    except InputError as exc:
        problem = exc.problem
        if (
            schema is None
            and "no such table" in problem.message
            and not _creates_before(path, problem.line)
        ):
            raise InputError(
                path,
                problem.line,
                f"{problem.message} (no CREATE TABLE before it: a `wrangler d1 export "
                "--no-schema` dump? give the migrations that create its tables with --schema)",
            ) from exc
        if "UNIQUE constraint failed" in problem.message:
            rounded = jsrounding.collapsed_keys_note(_line(path, problem.line))
            if rounded:
                raise InputError(path, problem.line, f"{problem.message}: {rounded}") from exc
        raise
    except (apsw.FullError, apsw.IOError) as exc:  # the working copy's folder, not the dump
        with contextlib.suppress(InputError, OSError):
            remove_working_copy(target)
        raise OSError(errno.ENOSPC, f"cannot write the working copy: {exc}", str(target)) from exc
    if oversized:
        snapshot.notes.append(
            f"{oversized} INSERT statement(s) over D1's {d1.MAX_STATEMENT_BYTES}-byte limit: "
            "`wrangler d1 execute --file` would refuse this dump"
        )
    expected: dict[str, int] = defaultdict(int)
    for table, n in writer.expected.items():  # SQLite's names are case-insensitive
        expected[table.lower()] += n
    virtual = virtual_tables(snapshot)
    loaded = {t.lower(): n for t, n in {**snapshot.row_counts, **virtual}.items()}
    for table, n in expected.items():
        if table == "sqlite_sequence":
            continue
        got = loaded.get(table)
        if got is None:  # a shadow table or sqlite_stat1, kept out of the snapshot's tables
            got = unlisted_rows(snapshot, table)
        if got != n:
            target.unlink(missing_ok=True)
            raise InputError(path, 0, f"table {table}: dump has {n} INSERTs but {got} rows loaded")
    snapshot.reader = how
    return snapshot
