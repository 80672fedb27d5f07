"""The `wrangler d1 export` format: the writer (byte for byte as the pinned wrangler
writes it) and the streaming reader, statement by statement with line numbers.

The dump format follows Miniflare's `dumpSql` (workers-sdk, packages/miniflare/src/workers/d1/
dumpSql.ts), which D1 itself shares: `PRAGMA defer_foreign_keys=TRUE;`, each table's `CREATE`
then one `INSERT INTO "t" VALUES(…);` per row, `DELETE FROM sqlite_sequence;` and its rows,
then indexes, triggers and views; statements joined by newlines, no trailing newline. The
compatibility suite checks byte for byte against the pinned wrangler's `d1 export`. Dumps whose
INSERTs name their columns are read too."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import apsw

from d1nb import d1
from d1nb.formats.sql.shapes import virtual_table_content, virtual_table_module
from d1nb.formats.sql.text import quote_ident
from d1nb.problems import InputError


def _js_number(value: int | float) -> str:
    """A number as JavaScript's String() prints it, which is what the export contains; an
    infinity as 9e999 (Miniflare's dumpSql: SQLite reads it back as one, `Infinity` it does
    not)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "9e999" if value > 0 else "-9e999"
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


def quote_text(value: str) -> str:
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
        return quote_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "X'" + bytes(value).hex() + "'"
    raise TypeError(f"unexpected value type {type(value).__name__}")


def dump_statements(
    conn: apsw.Connection,
    tables: Iterable[str] = (),
    no_schema: bool = False,
    no_data: bool = False,
    loadable: bool = False,
) -> Iterator[str]:
    """The statements of `wrangler d1 export` for a database, in its order; `loadable` puts
    triggers after views, so that an INSTEAD OF trigger finds its view (wrangler's own order,
    triggers first, does not read back: see TriggersBeforeViews), and keeps virtual tables,
    which wrangler refuses: see `_virtual_table`."""
    wanted = set(tables)
    shadows = {
        r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
    }
    rebuilds = []
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
            if not loadable:
                raise ValueError(
                    "D1 Export error: cannot export databases with Virtual Tables (fts5)"
                )
            if not no_schema:
                yield f"{sql};"
            if not no_data:
                rows, rebuild = _virtual_table(conn, name, sql)
                yield from rows
                rebuilds += rebuild
            continue
        elif (loadable and name in shadows) or name.startswith(d1.INTERNAL_TABLE_PREFIXES):
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
    yield from rebuilds
    if not no_schema:
        rest = conn.execute(
            "SELECT name, sql FROM sqlite_schema AS o WHERE (true) AND sql NOT NULL "
            "AND type IN ('index', 'trigger', 'view') ORDER BY "
            + ("type = 'trigger', " if loadable else "")
            + "type COLLATE NOCASE"
        ).fetchall()
        for name, sql in rest:
            if wanted and name not in wanted:
                continue
            yield f"{sql};"


def _virtual_table(conn: apsw.Connection, name: str, sql: str) -> tuple[list[str], list[str]]:
    """How a virtual table's rows come back without its shadow tables, which D1 does not let
    SQL write: (INSERTs of the rows an FTS5 or R*Tree table keeps itself, the `'rebuild'` that
    indexes an external-content FTS5 table once its content table is loaded). A contentless
    FTS5 table keeps only its index, which no SQL can write back: ValueError naming it."""
    module = virtual_table_module(sql)
    if module not in ("fts5", "rtree", "rtree_i32"):
        return [], []  # fts5vocab and the like: views of other tables, nothing of their own
    q = quote_ident(name)
    content = virtual_table_content(sql) if module == "fts5" else None
    if content == "":
        raise ValueError(
            f"contentless FTS5 table {name}: its index cannot be written back by SQL, "
            "so a copy of this database cannot be made from statements"
        )
    if content is not None:
        return [], [f"INSERT INTO {q}({q}) VALUES ('rebuild');"]
    columns = [quote_ident(r[1]) for r in conn.execute(f"PRAGMA table_info={q}")]
    if module == "fts5":
        columns.insert(0, "rowid")
    select = f"SELECT {', '.join(columns)} FROM {q}"
    prefix = f"INSERT INTO {q} ({','.join(columns)}) VALUES("
    return [
        prefix + ",".join(sql_literal(v) for v in row) + ");" for row in conn.execute(select)
    ], []


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


def iter_dump(path: str | Path) -> Iterator[tuple[int, str]]:
    """Stream the statements of a SQL dump as (1-based start line, text), in bounded memory.

    Raises InputError naming the line for invalid UTF-8 and for a truncated last statement.
    """
    path = Path(path)
    buffer: list[str] = []
    start = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = decode_line(path, lineno, raw)
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


def decode_line(path: Path, lineno: int, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            path, lineno, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from exc
    if (nul := raw.find(b"\0")) >= 0:
        raise InputError(path, lineno, nul_message(raw, nul))
    return text


def nul_message(raw: bytes, at: int) -> str:
    """What a NUL byte at `at` of `raw` (whole lines) is: SQLite reads a statement's text up
    to it, so no dump holds one (wrangler writes text values with char() where need be)."""
    column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
    return (
        f"a NUL byte at column {column}: SQLite reads a statement only up to it, so this is "
        "not a dump d1nb can read as D1 would (a binary file, or text damaged on the way?)"
    )


class TriggersBeforeViews:
    """INSTEAD OF triggers a dump writes before the view they are on, held until it exists.

    `wrangler d1 export` writes every trigger before every view, so a database with an INSTEAD
    OF trigger exports a file that neither `wrangler d1 execute --file` nor the sqlite3 shell
    can read back (`no such table: main.<view>` at the trigger). A load creates such a trigger
    right after its view, and says so."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[tuple[int, str, str, str]]] = {}
        self.notes: list[str] = []

    def hold(self, line: int, sql: str, trigger: str, view: str) -> None:
        self.waiting.setdefault(view.lower(), []).append((line, sql, trigger, view))

    def released(self, view: str, view_line: int) -> list[tuple[int, str]]:
        """The held triggers on `view`, just created at `view_line`, to run now."""
        held = self.waiting.pop(view.lower(), [])
        for line, _sql, trigger, written in held:
            self.notes.append(
                f"line {line}: trigger {trigger} is on view {view}, which the export creates "
                f"later (line {view_line}); created after it here. `wrangler d1 execute --file` "
                f"of this export fails at line {line} (no such table: main.{written}): wrangler "
                "writes triggers before views, so drop the trigger before exporting or move it "
                "below the view"
            )
        return [(line, sql) for line, sql, _trigger, _view in held]

    def check_none_left(self, path: Path) -> None:
        """A trigger whose view never came: the error the statement itself would have given."""
        for held in self.waiting.values():
            line, _sql, _trigger, view = held[0]
            raise InputError(path, line, f"no such table: main.{view}")
