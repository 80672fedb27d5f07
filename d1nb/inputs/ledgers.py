"""Applied ledgers (`d1_migrations`) from every source wrangler users have: `wrangler d1
execute --json` output, `wrangler d1 migrations list` text (which names the pending files
only), a SQL dump (run in the engine), a local-state folder or SQLite file (read from a copy),
or CSV; and the ledgers a project keeps by convention in `ledgers/SERVICE.ENV.*`."""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import apsw
import pandas as pd

from d1nb import d1
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import D1Error
from d1nb.engine.scratch import scratch_scope
from d1nb.formats.config import Project
from d1nb.formats.dumpformat import iter_dump
from d1nb.formats.migrations import (
    parse_statements,
)
from d1nb.formats.sql.text import quote_ident
from d1nb.formats.wrangler_output import (
    WranglerError,
    local_state_databases,
    local_state_file,
    wrangler_json_rows,
)
from d1nb.problems import InputError

LEDGER_COLUMNS = ["id", "name", "applied_at"]


_LEDGER_FILE = re.compile(
    r"^(?P<service>.+)\.(?P<env>[^.]+)\.(?P<ext>json|txt|csv|sql|sqlite3?|db)$"
)


@dataclass
class Ledger:
    """One environment's ledger: applied rows, or only pending names (`migrations list`)."""

    source: Path
    applied: pd.DataFrame | None = None
    pending: list[str] | None = None
    note: str | None = None
    local: bool = False
    """Read from wrangler's local state (`--local`): a developer's copy, not a stage that
    later environments follow, and not one Time Travel can restore."""


def _frame(rows: list[dict], path: Path) -> pd.DataFrame:
    for i, row in enumerate(rows, 1):
        if "name" not in row:
            raise InputError(path, 0, f"ledger row {i} has no 'name' column")
        if not isinstance(row["name"], str):
            raise InputError(path, 0, f"ledger row {i}: name {row['name']!r} is not text")
        ident = row.get("id")
        if ident is not None and not (
            isinstance(ident, int) and not isinstance(ident, bool) and 0 <= ident < 2**63
        ):
            raise InputError(path, 0, f"ledger row {i}: id {ident!r} is not a row id")
    if not rows:  # a new environment, or a first migration that failed: everything pending
        return pd.DataFrame(
            {"id": pd.Series(dtype="int64"), "name": pd.Series(dtype=object)}
            | {"applied_at": pd.Series(dtype=object)}
        )[LEDGER_COLUMNS]
    frame = pd.DataFrame(rows)
    if "id" not in frame:
        frame["id"] = range(1, len(frame) + 1)
    if "applied_at" not in frame:
        frame["applied_at"] = None
    return frame[LEDGER_COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)


def _read_json(path: Path, table: str) -> Ledger:
    """`wrangler d1 execute --json` output of the ledger; wrangler's error that the ledger
    table does not exist means nothing was applied there (`migrations apply` creates it)."""
    try:
        rows = wrangler_json_rows(path)
    except WranglerError as exc:
        missing = re.compile(rf"no such table: (main\.)?{re.escape(table)}\b", re.I)
        if not any(missing.search(m) for m in exc.messages):
            raise
        return Ledger(
            path,
            applied=_frame([], path),
            note=f"wrangler found no '{table}' table: nothing applied there, every migration "
            "pending (if the ledger lives under another name, migrations_table is wrong)",
        )
    return Ledger(path, applied=_frame(rows, path))


_LIST_OUTPUT = re.compile(r"Migrations to be applied|No migrations to apply|[│|]\s*Name\s*[│|]")
"""What only `wrangler d1 migrations list` output holds near its top."""


_BOX_ROW = re.compile(r"^[│|]\s*(?P<name>[^│|]+?)\s*[│|]\s*$")


def _read_list_text(path: Path) -> Ledger:
    """`wrangler d1 migrations list` output: a box-drawn table of pending names."""
    text = path.read_text(encoding="utf-8-sig")
    if "No migrations to apply" in text:
        return Ledger(path, pending=[])
    names = []
    for line in text.splitlines():
        match = _BOX_ROW.match(line.strip())
        if match and match.group("name").strip().lower() not in ("name", "migrations"):
            names.append(match.group("name").strip())
    if not names:
        raise InputError(path, 1, "not `wrangler d1 migrations list` output (no table of names)")
    return Ledger(path, pending=names)


def _read_csv(path: Path) -> Ledger:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise InputError(path, 1, "CSV ledger needs a 'name' column (and id, applied_at)")
    rows = []
    for row in reader:
        if row.get("id"):
            try:
                row["id"] = int(row["id"])
            except ValueError as exc:
                raise InputError(
                    path, reader.line_num, f"id is not a number: {row['id']!r}"
                ) from exc
        rows.append(row)
    return Ledger(path, applied=_frame(rows, path))


def _read_sqlite(path: Path, table: str) -> Ledger:
    """Read the ledger from a copy of a SQLite file (and its WAL), never the file itself."""
    with scratch_scope("d1nb-ledger-") as tmp:
        copy = Path(tmp) / "db.sqlite"
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        conn = apsw.Connection(str(copy))
        try:
            if not conn.table_exists(None, table):
                raise InputError(path, 0, f"no ledger table '{table}' in this database")
            names = [r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))]
            cursor = conn.execute(f"SELECT * FROM {quote_ident(table)} ORDER BY id")
            rows = [dict(zip(names, r, strict=True)) for r in cursor]  # none: all pending
        finally:
            conn.close()
    return Ledger(path, applied=_frame(rows, path))


def _read_dump(path: Path, table: str) -> Ledger:
    engine = D1Engine(":memory:", statement_limit=0)  # a dump is untrusted: the sandbox
    pattern = re.compile(
        rf'^(?:CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?|INSERT\s+INTO\s+)["`\[]?{re.escape(table)}["`\]]?[\s(]',
        re.I,
    )
    found = False
    with engine:
        for line, text in iter_dump(path):
            if not pattern.match(text):
                continue
            for statement in parse_statements(text):
                try:
                    engine.run_statement(replace(statement, line=line + statement.line - 1))
                except D1Error as exc:
                    raise InputError(
                        path, exc.line, f"ledger statement fails: {exc.reason}"
                    ) from exc
            found = True
        if not found:
            raise InputError(path, 0, f"the dump has no ledger table '{table}'")
        rows = engine.conn.execute(
            f"SELECT id, name, applied_at FROM {quote_ident(table)} ORDER BY id"
        ).fetchall()
    return Ledger(
        path, applied=_frame([dict(zip(LEDGER_COLUMNS, r, strict=True)) for r in rows], path)
    )


def read_ledger(
    path: str | Path,
    table: str = d1.DEFAULT_MIGRATIONS_TABLE,
    local_id: str | None = None,
    placeholder: bool = False,
) -> Ledger:
    """Read a ledger from any supported source, chosen by what the path is. A wrangler state
    folder with `local_id` (the binding's, see D1Binding.local_id) is read from that
    database's own file; when that id is a `placeholder` (a template config's) and no file
    has its name, from the one database there that holds the ledger table, said in a note.
    Whatever the source holds, the result is a ledger or an InputError naming the file."""
    path = Path(path)
    try:
        if local_id is not None and path.is_dir():
            ledger = _read_local_state(path, table, local_id, placeholder)
        else:
            ledger = _read_any_ledger(path, table)
        ledger.local = path.is_dir() or "miniflare-D1DatabaseObject" in path.resolve().parts
        return ledger
    except InputError:
        raise
    except (ValueError, UnicodeError, RecursionError, apsw.Error, OverflowError) as exc:
        # ValueError covers malformed text, numbers and Arrow's casts
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, 0, f"unreadable ledger ({type(exc).__name__}: {why})") from exc


def _read_local_state(folder: Path, table: str, local_id: str, placeholder: bool) -> Ledger:
    """The ledger of one database in a wrangler state folder, found by the name Miniflare
    gives its file; none there (or no ledger table in it) means nothing applied locally,
    which is what `wrangler d1 migrations apply --local` would find."""
    if not local_state_databases(folder):
        raise InputError(folder, 0, "no wrangler local state here (no .sqlite files)")
    file = local_state_file(folder, local_id)
    if not file.is_file():
        holding = _ledgers_in(folder, table) if placeholder else []
        if len(holding) == 1:
            ledger = holding[0]
            ledger.note = (
                f"the config's database id {local_id} is a placeholder: read the one local "
                f"database here with a '{table}' table ({Path(ledger.source).name})"
            )
            return ledger
        return Ledger(
            folder,
            applied=_frame([], folder),
            note=f"no local copy of database {local_id} in this folder (no {file.name}): "
            "nothing applied locally",
        )
    with file.open("rb") as fh:
        if not fh.read(16).startswith(b"SQLite format 3"):
            raise InputError(file, 0, "not a SQLite database file")
    try:
        return _read_sqlite(file, table)
    except InputError as exc:
        if "no ledger table" not in exc.problem.message:
            raise
        return Ledger(file, applied=_frame([], file), note=f"no '{table}' table yet in {file.name}")


def _ledgers_in(folder: Path, table: str) -> list[Ledger]:
    """The ledger of every database in a wrangler state folder that has a `table` table."""
    found = []
    for db in local_state_databases(folder):
        try:
            found.append(_read_sqlite(db, table))
        except InputError:
            continue
    return found


def _read_any_ledger(path: Path, table: str) -> Ledger:
    if not path.exists():
        raise InputError(path, 0, "ledger file not found")
    if path.is_dir():
        candidates = _ledgers_in(path, table)
        if len(candidates) != 1:
            raise InputError(
                path,
                0,
                f"{len(candidates)} databases in this folder have a "
                f"'{table}' table; name the .sqlite file instead",
            )
        return candidates[0]
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(b"SQLite format 3"):
        return _read_sqlite(path, table)
    if _LIST_OUTPUT.search(head.decode("utf-8", "replace")):  # saved under any name
        return _read_list_text(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path, table)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".sql":
        return _read_dump(path, table)
    return _read_list_text(path)


def ledger_service(project: Project, name: str, services: list[str]) -> str:
    """The service a ledger file's name means: a service, or the binding or database name
    (of any environment) or the worker's `name` of exactly one service; else the name as it
    is."""
    if name in services:
        return name
    workers = {c.path: c.worker_name for c in project.configs}
    meant = {
        b.service
        for b in project.databases()
        if name in (b.binding, b.database_name, workers.get(b.config_path))
        and b.service in services
    }
    return meant.pop() if len(meant) == 1 else name


def find_ledgers(project: Project) -> dict[tuple[str, str], Path]:
    """Ledger files by convention: `ledgers/SERVICE.ENV.(json|txt|csv|sql|sqlite)` at the root."""
    folder = project.root / "ledgers"
    found = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            match = _LEDGER_FILE.match(path.name)
            if match:
                found[(match.group("service"), match.group("env"))] = path
    return found
