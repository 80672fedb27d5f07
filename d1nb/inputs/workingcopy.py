"""Working copies: the SQLite file d1nb loads an export into (never the input itself), marked
as d1nb's own, and the `Snapshot` that records what was verified about it."""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import apsw
import duckdb

from d1nb import d1
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import MigrationDir
from d1nb.formats.sql.shapes import classify
from d1nb.formats.sql.text import quote_ident
from d1nb.inputs.duckcopy import connect_duckdb, copy_between, copy_to_duckdb
from d1nb.problems import InputError

if TYPE_CHECKING:
    import pandas as pd

    from d1nb.inputs.dumpduck import DirectRows

SchemaSource: TypeAlias = MigrationDir | dict[str, str]
"""Where tables come from when an export has no schema: migrations replayed, or CREATE SQL."""


@dataclass
class Snapshot:
    """A loaded export: a SQLite working copy on disk and what was verified about it.

    The working copy is d1nb's own file, never the input; `duckdb()` copies its tables into
    DuckDB with types from the declared SQLite types. A dump read straight into DuckDB
    (`direct`) gets its working copy only when something asks for `path`.
    """

    source: Path
    working_copy: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    type_notes: list[dict] = field(default_factory=list)
    rounded_columns: list[tuple[str, str]] = field(default_factory=list)
    """(table, column) whose integers past 2^53 are all as JavaScript prints them (a
    `wrangler d1 export`): a diff against an exact side compares them as doubles."""
    direct: DirectRows | None = None
    """The rows already in DuckDB, for a dump the direct path proved it reads exactly."""
    reader: str = "exact"
    """How the export was read: "exact" (through SQLite), "direct", or "exact (why)"."""
    only_tables: frozenset[str] | None = None
    """The tables of an input that holds chosen tables only (a `--json`, CSV or Parquet file
    of one table), whatever the database holds besides; None for a whole database."""

    @property
    def path(self) -> Path:
        """The SQLite working copy; built from the loaded rows first for a direct load."""
        if self.direct is not None and not is_working_copy(self.working_copy):
            self._build_working_copy()
        return self.working_copy

    def _build_working_copy(self) -> None:
        """Copied from the cache of working copies when this export's was built before (its
        counts checked again), else built from the loaded rows and kept there."""
        from d1nb.inputs import copycache

        assert self.direct is not None
        folder, stem = self.working_copy.parent, self.working_copy.name.removesuffix(WORKING_SUFFIX)
        target = fresh_working_copy(folder, stem)
        key = copycache.cache_key(self.source) if copycache.cache_folder() else None
        if key and copycache.fetch(key, target):
            if is_working_copy(target):
                with D1Engine(target, statement_limit=0) as engine:
                    if count_rows(engine) == self.row_counts:
                        return
            target = fresh_working_copy(folder, stem)  # the kept copy does not match
        try:
            counts = self.direct.build_working_copy(target)
        except BaseException as exc:
            with contextlib.suppress(OSError, InputError):
                remove_working_copy(target)
            if isinstance(exc, Exception) and not isinstance(exc, OSError | InputError):
                # apsw's and ADBC's errors here are about the folder (full, unwritable)
                raise OSError(
                    errno.EIO, f"cannot write the working copy: {exc}", str(target)
                ) from exc
            raise
        if counts != self.row_counts:
            remove_working_copy(target)
            raise InputError(
                self.source, 0, f"the working copy holds {counts}, the load {self.row_counts}"
            )
        if key:
            copycache.keep(key, target)

    def connect(self) -> D1Engine:
        """A D1 engine on the working copy."""
        return D1Engine(self.path)

    def schema_engine(self) -> D1Engine:
        """A D1 engine with the snapshot's schema, for questions about tables and columns
        (no working copy is built for them)."""
        if self.direct is not None and not is_working_copy(self.working_copy):
            return self.direct.schema_engine()
        return D1Engine(self.path, statement_limit=0)

    def counts_frame(self) -> pd.DataFrame:
        """Tables and their row counts (verified at load)."""
        import pandas as pd

        return pd.DataFrame(sorted(self.row_counts.items()), columns=["table", "rows"])

    def types_frame(self) -> pd.DataFrame:
        """Columns whose stored values disagree with their declared type, or mix types."""
        import pandas as pd

        return pd.DataFrame(
            self.type_notes, columns=["table", "column", "declared", "duckdb", "storage", "note"]
        )

    def duckdb(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        schema: str = "main",
        progress: bool = False,
    ) -> duckdb.DuckDBPyConnection:
        """Every table in DuckDB (schema `schema`), row counts verified: the direct load's own
        connection when it already holds them there, else copied into `con`."""
        if self.direct is not None:
            home = self.direct
            if (con is None or con is home.con) and schema == home.schema:
                return home.con
            con = con if con is not None else connect_duckdb()
            copy_between(home.con, home.schema, con, schema, home.tables, self.row_counts)
            return con
        con, self.type_notes = copy_to_duckdb(
            self.path, self.row_counts, self.source, con, schema, progress
        )
        return con


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


def fresh_working_copy(workdir: str | Path, stem: str) -> Path:
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


def unlisted_rows(snapshot: Snapshot, table: str) -> int | None:
    """Rows of a table the working copy holds but the snapshot does not list as data: a shadow
    table of a virtual table, or SQLite's statistics (`sqlite_stat1`, which a dump of a
    database that ran ANALYZE or PRAGMA optimize fills). None if there is no such table."""
    with D1Engine(snapshot.path, statement_limit=0) as engine:
        found = engine.conn.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND lower(name) = ? "
            "AND (type = 'shadow' OR lower(name) LIKE 'sqlite\\_stat%' ESCAPE '\\')",
            (table,),
        ).fetchall()
        if not found:
            return None
        return engine.conn.execute(f"SELECT count(*) FROM {quote_ident(found[0][0])}").fetchall()[
            0
        ][0]


def virtual_tables(snapshot: Snapshot) -> dict[str, int]:
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


def count_rows(engine: D1Engine) -> dict[str, int]:
    return {
        t: engine.conn.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchall()[0][0]
        for t in engine.tables()
    }


def create_schema(
    engine: D1Engine,
    schema: SchemaSource | None,
    applied: set[str] | None = None,
    ledger_table: str | None = None,
) -> list[str]:
    """Create the tables and indexes of `schema`: CREATE SQL, or a migrations folder replayed
    from empty (only the files in `applied`, when given: the schema the exported database
    had), its ledger named `ledger_table` (wrangler's default when None). Returns its views
    and triggers, for the caller to create once the rows are in (`create_later`): a trigger
    must not fire on rows loaded as they were."""
    if schema is None:
        return []
    if isinstance(schema, dict):
        statements = list(schema.values())
        later = [sql for sql in statements if classify(sql)[0] in _LATER]
        statements = [sql for sql in statements if sql not in later]
    else:
        from d1nb.engine.evolution import schema_evolution

        if applied is not None:
            schema = replace(schema, files=[f for f in schema.files if f.name in applied])
        final = schema_evolution(schema, ledger_table=ledger_table or d1.DEFAULT_MIGRATIONS_TABLE)
        statements = [sql for _name, sql in final.final_sql]
        later = [sql for _name, sql in final.final_later_sql]
    for sql in statements:
        engine.conn.execute(sql)
    return later


_LATER = ("create_view", "create_trigger")


def create_later(engine: D1Engine, later: list[str]) -> None:
    """The views and triggers `create_schema` left for after the rows."""
    for sql in later:
        engine.conn.execute(sql)
