"""A SQLite engine (APSW) with Cloudflare D1's semantics, for replaying untrusted SQL.

What makes it D1 and not plain SQLite:

- foreign keys are ON, and `PRAGMA foreign_keys=OFF` inside a migration has no effect, because
  the file runs inside a transaction (SQLite ignores the pragma there; D1 does the same);
- a migration file and its ledger insert run in one transaction, rolled back on error;
- one `BEGIN`/`COMMIT` pair in a file is stripped, more is an error (wrangler's rule);
- D1's limits on statement length, columns, value size and bound parameters are SQLite limits;
- an authorizer refuses ATTACH, DETACH, load_extension and PRAGMAs outside an allow-list, and
  statements that write files (VACUUM) are refused before they run, so replaying a hostile
  migration or dump cannot touch any file outside the working copy.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import apsw

from d1nb import d1
from d1nb.engine.outcomes import (
    D1Error,
    MigrationOutcome,
    StatementMeter,
    StatementOutcome,
    measuring,
)
from d1nb.engine.refusals import (
    ALLOWED_INSTEAD,
    ALLOWED_MODULES,
    ALLOWED_PRAGMAS,
    CREATES,
    REFUSED_STATEMENTS,
    RESERVED_NOTE,
    refused_function,
    reserved,
)
from d1nb.formats.migrations import Statement, parse_statements
from d1nb.formats.sql.d1_build import (
    as_d1_runs,
    differences,
    fired_differences,
    stored_differences,
)
from d1nb.formats.sql.shapes import index_where
from d1nb.formats.sql.text import ROWID_NAMES, quote_ident, quote_literal, split_statements
from d1nb.problems import InputError

_DML_KINDS = frozenset({"insert", "insert_select", "update", "delete"})


_PROGRESS_STEPS = 20_000
"""SQLite VM steps between two looks at the clock (well under a millisecond)."""
_TIMEOUT: list[float] = []


TIMEOUT_VARIABLE = "D1NB_STATEMENT_TIMEOUT"
"""How the limit reaches a notebook kernel started by `d1nb report` (a process of its own)."""


def default_statement_timeout() -> float:
    """The limit engines get unless told otherwise: D1's 30 s, or what the CLI was given (in
    this process, or in the `d1nb report` that started this kernel)."""
    if _TIMEOUT:
        return _TIMEOUT[-1]
    try:
        inherited = float(os.environ.get(TIMEOUT_VARIABLE, ""))
    except ValueError:
        return d1.QUERY_TIMEOUT_S
    return inherited if inherited >= 0 else d1.QUERY_TIMEOUT_S


def set_default_statement_timeout(seconds: float) -> None:
    """The statement time limit of every engine opened from now on (`--statement-timeout`),
    here and in the notebook kernels this process starts."""
    _TIMEOUT[:] = [seconds]
    os.environ[TIMEOUT_VARIABLE] = str(seconds)


_ROWS_ONLY = {"insert", "insert_select", "update", "delete", "select"}
"""Statements that change no table's name: the spellings looked up stay good after them."""


def cascade_edges(fks: list[tuple], table: str) -> list[tuple[str, str, str, str]]:
    """(parent, child, child column, ON DELETE action) of every foreign key whose parent loses
    rows when `table` does: `table`'s own, then, to any depth, those of the tables its CASCADE
    children empty. `fks` as `D1Engine.foreign_keys` gives them; nearest first."""
    edges, reached, queue = [], {table}, [table]
    while queue:
        parent = queue.pop(0)
        for child, col, p, _pcol, action in fks:
            if p != parent:
                continue
            edges.append((parent, child, col, action.upper()))
            if action.upper() == "CASCADE" and child not in reached:
                reached.add(child)
                queue.append(child)
    return edges


_LEDGER_IN_FILE = (
    " (the file's last statement has no closing ';': wrangler appends its ledger INSERT to "
    "the file, and D1 reads the two as one statement)"
)


_NOT_RECORDED = (
    "the file ends inside an open /* comment, and the ledger INSERT wrangler appends to the "
    "file falls inside it: the file runs but is not recorded, so the next `migrations apply` "
    "runs it again"
)


def _with_ledger_insert(statement: Statement, ledger_table: str, name: str) -> Statement:
    """A file's last statement without its closing `;`, as `migrations apply` sends it:
    wrangler appends its ledger INSERT to the file's text, so D1 reads the two as one
    statement (as a rule a syntax error near "INSERT", which fails the file)."""
    tail = f"\nINSERT INTO {quote_ident(ledger_table)} (name)\nvalues ({quote_literal(name)});"
    return replace(
        statement,
        sql=statement.sql + tail,
        sent=None if statement.sent is None else statement.sent + tail,
        complete=True,
    )


def _pragma_note(s: Statement, keys_off: bool) -> str:
    """What a `PRAGMA foreign_keys=…` line of a migration does on the path it takes."""
    if not keys_off:
        return (
            f"line {s.line}: PRAGMA {s.detail} has no effect on D1 (runs inside the migration's "
            "transaction); foreign keys stay ON"
        )
    if s.detail.replace(" ", "").lower() == "foreign_keys=off":
        return (
            f"line {s.line}: PRAGMA {s.detail} takes effect on the execute --file path (modelled "
            "for the whole file): no cascade; run PRAGMA foreign_key_check afterwards, since rows "
            "left pointing at missing parents are not refused"
        )
    return f"line {s.line}: PRAGMA {s.detail}: foreign keys on again after the file"


class D1Engine:
    """An APSW connection that behaves like a D1 database."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        statement_limit: int | None = None,
        statement_timeout: float | None = None,
    ):
        """Open (or create) a database; `statement_limit=0` lifts D1's 100 KB statement limit,
        for loading exports whose rows hold values D1 accepted through bound parameters.
        `statement_timeout` (seconds, default D1's 30; 0 for none) stops any one statement
        that runs longer, as D1 does: untrusted SQL cannot hang d1nb."""
        self.statement_limit = (
            d1.MAX_STATEMENT_BYTES if statement_limit is None else statement_limit
        )
        self.statement_timeout = (
            default_statement_timeout() if statement_timeout is None else statement_timeout
        )
        self._deadline: float | None = None
        self._spellings: dict[str, str] = {}
        # an export may hold what D1 made itself (`_cf_KV`) or refuses to make: only
        # statements run as D1 would run them (D1's statement limit in force) are refused
        # what workerd refuses (reserved names, temporary objects, FTS3/4)
        self.as_d1 = self.statement_limit != 0
        self.path = str(path)
        self.refusals: list[str] = []
        try:
            self.conn = apsw.Connection(self.path)
            self.conn.execute("PRAGMA schema_version").fetchall()  # SQLite opens lazily
        except apsw.CantOpenError as exc:  # an unwritable or missing folder, even for root
            raise OSError(
                errno.EACCES, f"cannot open or create a database here ({exc})", self.path
            ) from exc
        limits = {
            apsw.SQLITE_LIMIT_SQL_LENGTH: self.statement_limit or 1_000_000_000,
            apsw.SQLITE_LIMIT_COLUMN: d1.MAX_COLUMNS,
            apsw.SQLITE_LIMIT_LENGTH: d1.MAX_VALUE_BYTES,
            apsw.SQLITE_LIMIT_VARIABLE_NUMBER: d1.MAX_BOUND_PARAMETERS,
            apsw.SQLITE_LIMIT_ATTACHED: 0,
        }
        if self.as_d1:  # workerd's own, measured in Miniflare 5.20261117 (docs/compat.md)
            limits |= {
                apsw.SQLITE_LIMIT_COMPOUND_SELECT: d1.MAX_COMPOUND_SELECT_TERMS,
                apsw.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: d1.MAX_LIKE_PATTERN_BYTES,
                apsw.SQLITE_LIMIT_EXPR_DEPTH: d1.MAX_EXPRESSION_DEPTH,
                apsw.SQLITE_LIMIT_FUNCTION_ARG: d1.MAX_FUNCTION_ARGUMENTS,
            }
        for limit, value in limits.items():
            self.conn.limit(limit, value)
        self.conn.execute("PRAGMA foreign_keys=ON")
        # as D1, no database grows past its size limit: a runaway or hostile migration fails
        # there, as on D1, instead of filling this machine's disk. A load gets twice that: a
        # copy built from an export's text may come out larger than the database it came from
        (page,) = self.conn.execute("PRAGMA page_size").fetchall()[0]
        most = d1.MAX_DATABASE_BYTES * (1 if self.as_d1 else 2)
        self.conn.execute(f"PRAGMA max_page_count = {most // page}")
        # as D1: the shadow tables of virtual tables (FTS5's `_data` …) are read-only to SQL
        self.conn.config(apsw.SQLITE_DBCONFIG_DEFENSIVE, 1)
        self.conn.authorizer = self._authorize
        self.conn.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)

    def _past_deadline(self) -> bool:
        """SQLite's progress handler: a true result interrupts the running statement."""
        return self._deadline is not None and time.monotonic() > self._deadline

    @contextmanager
    def time_limit(self) -> Iterator[None]:
        """Run what is inside under the statement time limit (InterruptError past it)."""
        if self.statement_timeout:
            self._deadline = time.monotonic() + self.statement_timeout
        try:
            yield
        finally:
            self._deadline = None

    def timeout_message(self) -> str:
        return (
            f"exceeded the {self.statement_timeout:g} s limit for one statement "
            "(D1 stops it the same way; --statement-timeout changes d1nb's limit)"
        )

    def _authorize(
        self, op: int, p1: str | None, p2: str | None, _db: str | None, _trigger: str | None
    ) -> int:
        if op in (apsw.SQLITE_ATTACH, apsw.SQLITE_DETACH):
            self.refusals.append("ATTACH/DETACH refused: D1 has one database and no files")
            return apsw.SQLITE_DENY
        if op == apsw.SQLITE_FUNCTION and p2 and refused_function(p2):
            instead = ALLOWED_INSTEAD.get(p2.lower())
            use = f"; D1 runs the same as {instead}()" if instead else ""
            self.refusals.append(f"function {p2}() refused: not available on D1{use}")
            return apsw.SQLITE_DENY
        if op == apsw.SQLITE_READ and p1 and p1.lower() in ("dbstat", "carray"):
            self.refusals.append(f"{p1} refused: not available on D1 (no such table)")
            return apsw.SQLITE_DENY
        if (
            op == apsw.SQLITE_CREATE_VTABLE
            and self.as_d1
            and (p2 or "").lower() not in ALLOWED_MODULES
        ):
            self.refusals.append(
                f"USING {p2} refused: D1 offers {', '.join(sorted(ALLOWED_MODULES))} only"
            )
            return apsw.SQLITE_DENY
        if op in CREATES and self.as_d1 and reserved(p1 or ""):
            self.refusals.append(f"{p1}: {RESERVED_NOTE}")
            return apsw.SQLITE_DENY
        if op == apsw.SQLITE_PRAGMA and p1 and p1.lower() not in ALLOWED_PRAGMAS:
            self.refusals.append(f"PRAGMA {p1} refused: not on D1's allow-list")
            return apsw.SQLITE_DENY
        return apsw.SQLITE_OK

    def internal(self, sql: str) -> list[tuple]:
        """Run d1nb's own SQL (journal and checkpoint PRAGMAs) past the authorizer."""
        self.conn.authorizer = None
        try:
            return self.conn.execute(sql).fetchall()
        finally:
            self.conn.authorizer = self._authorize

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> D1Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running SQL --------------------------------------------------------------------------

    def _refuse_before_running(self, statement: Statement) -> str | None:
        head = statement.detail if statement.kind == "other" else ""
        if head in REFUSED_STATEMENTS:
            return REFUSED_STATEMENTS[head]
        if self.as_d1 and "temp" in statement.flags and statement.kind.startswith("create_"):
            return "not authorized: D1 refuses temporary tables, views and triggers"
        if statement.kind == "rename_table" and self.as_d1 and reserved(statement.detail or ""):
            return f"not authorized: {RESERVED_NOTE} (RENAME TO {statement.detail})"
        return None

    def as_d1_runs(self, s: Statement) -> Statement:
        """`s` as d1nb's SQLite must run it to do what D1's build of SQLite does with it
        (`DELETE … LIMIT`, JSON through a scalar subquery: formats.sql.d1_build); `s` itself
        when nothing differs."""
        if s.written is not None or s.kind not in _ROWS_ONLY:
            return s
        runs = as_d1_runs(s.runs, self._row_identity_if_table)
        if runs == s.runs:
            return s
        return replace(s, sql=runs, sent=None, written=s.sql)

    def _fired_differences(
        self, s: Statement, select_triggers: dict[str, list[tuple[str, str]]]
    ) -> list[str]:
        """Notes for the triggers a statement fires whose bodies D1's build runs differently
        (`stored_differences`): the export holds them, the file that created them is long
        applied, and the difference shows where they fire. `select_triggers` keeps each
        table's triggers holding a subquery until a statement changes the schema."""
        if s.kind not in ("insert", "insert_select", "update", "delete") or not s.table:
            return []
        key = s.table.lower()
        if key not in select_triggers:
            select_triggers[key] = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
                "COLLATE NOCASE AND instr(lower(sql), 'select') > 0",
                (s.table,),
            ).fetchall()
        triggers = select_triggers[key]
        if not triggers:
            return []
        return [f"line {s.line}: {n}" for n in fired_differences(s.kind, s.sql, triggers)]

    def _row_identity_if_table(self, name: str) -> list[str] | None:
        rows = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
            (name,),
        ).fetchall()
        return self.row_identity(rows[0][0]) if rows else None

    def run_statement(self, statement: Statement, file: str = "") -> int:
        """Run one statement; return rows changed. Raises D1Error naming file and line."""
        return self._run(self.as_d1_runs(statement), file)

    def _run(self, statement: Statement, file: str) -> int:
        """`run_statement` of a statement already as D1's build runs it."""
        refusal = self._refuse_before_running(statement)
        if refusal:
            raise D1Error(
                refusal, file=file, line=statement.line, sql=statement.written or statement.sql
            )
        if self.statement_limit and statement.bytes > self.statement_limit:
            raise D1Error(
                f"statement of {statement.bytes} bytes exceeds D1's limit of "
                f"{d1.MAX_STATEMENT_BYTES} (SQLITE_TOOBIG)",
                file=file,
                line=statement.line,
                sql=statement.written or statement.sql,
            )
        self.refusals.clear()
        try:
            with self.time_limit():
                for _ in self.conn.execute(statement.runs):
                    pass
        except apsw.InterruptError as exc:
            raise D1Error(
                self.timeout_message(),
                file=file,
                line=statement.line,
                sql=statement.written or statement.sql,
            ) from exc
        except apsw.Error as exc:
            reason = str(exc).removeprefix(type(exc).__name__ + ": ")
            if isinstance(exc, apsw.FullError) and self._at_size_limit():
                reason += f" (D1 holds at most {d1.MAX_DATABASE_BYTES / 1000**3:g} GB a database)"
            if self.refusals:
                reason = f"{reason} ({self.refusals[-1]})"
            raise D1Error(
                reason, file=file, line=statement.line, sql=statement.written or statement.sql
            ) from exc
        changes = self.conn.changes() if statement.kind in _DML_KINDS else 0
        if (statement.kind == "other" and statement.detail.upper() == "ANALYZE") or (
            statement.kind == "pragma" and statement.detail.startswith("optimize")
        ):
            self.drop_stat4()
        return changes

    def _at_size_limit(self) -> bool:
        """Whether D1's size limit stopped a statement that failed as full: not when this
        machine's disk is what is full (the statement rolled back, so the pages it wanted are
        gone again and cannot be counted)."""
        if self.path in ("", ":memory:"):
            return True
        return shutil.disk_usage(Path(self.path).resolve().parent).free > 64 * 1024**2

    def drop_stat4(self) -> None:
        """ANALYZE made sqlite_stat4 as well as sqlite_stat1: APSW's SQLite is built with
        STAT4, D1's is not (it has no such table, and plans from sqlite_stat1 alone)."""
        if self.conn.table_exists("main", "sqlite_stat4"):
            self.conn.execute("DROP TABLE sqlite_stat4")

    def ensure_ledger(self, table: str = d1.DEFAULT_MIGRATIONS_TABLE) -> None:
        """Create the migrations ledger as wrangler does: since 4.105 it double-quotes the name
        from the config (`CREATE TABLE IF NOT EXISTS "d1_migrations"(`), so the schema text
        sqlite_master keeps is the same as after `wrangler d1 migrations apply`."""
        self.conn.execute(d1.LEDGER_DDL.format(table=quote_ident(table)))

    def applied_migrations(
        self, table: str = d1.DEFAULT_MIGRATIONS_TABLE, source: str | Path | None = None
    ) -> list[tuple]:
        """Rows of the ledger (id, name, applied_at), or [] if it does not exist. wrangler
        needs only its `name` column (it inserts names alone); a ledger without `id` is read
        in rowid order, one without `applied_at` gives None. An InputError naming `source`
        when there is no `name` to read."""
        if not self.conn.table_exists(None, table):
            return []
        columns = {c[1].lower() for c in self.columns(table)}
        if "name" not in columns:
            raise InputError(
                source or self.path,
                0,
                f"its {table} table has no name column: not a migrations ledger wrangler can read",
            )
        ident = "id" if "id" in columns else "rowid"
        at = "applied_at" if "applied_at" in columns else "NULL"
        return list(
            self.conn.execute(
                f"SELECT {ident}, name, {at} FROM {quote_ident(table)} ORDER BY {ident}"
            )
        )

    def apply_migration(
        self,
        name: str,
        statements: list[Statement] | str,
        *,
        ledger_table: str = d1.DEFAULT_MIGRATIONS_TABLE,
        applied_at: str | None = None,
        record: bool = True,
        meter: StatementMeter | None = None,
        via: str = "apply",
    ) -> MigrationOutcome:
        """Apply one migration file and its ledger insert in one transaction, as wrangler does.

        `applied_at` fixes the ledger timestamp (wrangler leaves it to CURRENT_TIMESTAMP).
        On error the transaction is rolled back and the outcome names the failing line.
        A `meter` is told before and after each statement (d1nb.analyses.metering measures with it).

        `via` is the path the file takes to D1 (docs/compat.md, "Execution paths"): "apply"
        (`wrangler d1 migrations apply`: one transaction, `PRAGMA foreign_keys=OFF` ignored) or
        "execute-file" (remote `wrangler d1 execute --file`: D1's import path, atomic through
        Time Travel, where Cloudflare states the pragma takes effect; modelled with foreign
        keys off for the whole file when it has one, and no ledger row, which that command
        does not write).
        """
        if via not in d1.VIA:
            raise ValueError(f"via must be one of {', '.join(d1.VIA)}, not {via!r}")
        if isinstance(statements, str):
            statements = parse_statements(statements)
        outcome = MigrationOutcome(name, ok=True)
        try:
            runnable = self._strip_transaction(statements, outcome)
        except D1Error as exc:
            outcome.ok, outcome.error, outcome.error_line = False, exc.reason, exc.line
            return outcome
        keys_off = via == "execute-file" and any(
            s.kind == "pragma" and s.detail.replace(" ", "").lower() == "foreign_keys=off"
            for s in runnable
        )
        if via == "execute-file":
            record = False
            outcome.notes.append(
                "execute --file writes no ledger row: `migrations apply` would run this file "
                "again unless its row is inserted by hand"
            )
        if keys_off:
            self.conn.execute("PRAGMA foreign_keys=OFF")
        if record:
            self.ensure_ledger(ledger_table)
        self.conn.execute("BEGIN")
        select_triggers: dict[str, list[tuple[str, str]]] = {}
        ledger_in_file = False
        try:
            for s in runnable:
                try:
                    s = self.as_d1_runs(self.spelled(s))  # its table named as created
                except InputError as exc:  # a table no name reaches the rowid of
                    raise InputError(
                        name, s.line, f"d1nb cannot run this as D1 does: {exc.problem.message}"
                    ) from None
                if record and not s.complete:
                    s, ledger_in_file = _with_ledger_insert(s, ledger_table, name), True
                if s.written is not None:
                    outcome.notes += [f"line {s.line}: {n}" for n in differences(s.written)]
                outcome.notes += [f"line {s.line}: {n}" for n in stored_differences(s.kind, s.sql)]
                if s.kind not in _ROWS_ONLY:  # it may create or drop a trigger
                    select_triggers.clear()
                outcome.notes += self._fired_differences(s, select_triggers)
                if s.kind == "pragma" and s.detail.startswith("foreign_keys="):
                    outcome.notes.append(_pragma_note(s, keys_off))
                if meter is not None:
                    # its counts run before it, under the same limit: a count over an
                    # endless recursive CTE would never end (a probe cut short counts nothing)
                    with self.time_limit():
                        measuring(meter.before, s, name)
                try:
                    changes = self._run(s, name)
                except D1Error as exc:
                    if ledger_in_file:
                        exc.reason += _LEDGER_IN_FILE
                    outcome.statements.append(
                        StatementOutcome(name, s.index, s.line, s.kind, s.table, 0, exc.reason)
                    )
                    if meter is not None:
                        measuring(meter.after, s, name, 0, exc.reason)
                    raise
                if meter is not None:
                    measuring(meter.after, s, name, changes, None)
                if s.kind not in _ROWS_ONLY:
                    self._spellings.clear()
                outcome.statements.append(
                    StatementOutcome(name, s.index, s.line, s.kind, s.table, changes)
                )
            if ledger_in_file and not self._recorded(ledger_table, name):
                outcome.notes.append(_NOT_RECORDED)
            if record and not ledger_in_file:
                if applied_at is None:
                    self.conn.execute(
                        f"INSERT INTO {quote_ident(ledger_table)} (name) VALUES (?)", (name,)
                    )
                else:
                    self.conn.execute(
                        f"INSERT INTO {quote_ident(ledger_table)} (name, applied_at) VALUES (?, ?)",
                        (name, applied_at),
                    )
            self.conn.execute("COMMIT")
        except Exception as exc:
            self._spellings.clear()
            at_commit = isinstance(exc, apsw.ConstraintError) and not self.conn.get_autocommit()
            broken = self._commit_failure() if at_commit else ""
            if not self.conn.get_autocommit():
                self.conn.execute("ROLLBACK")
            if not isinstance(exc, D1Error | apsw.Error):
                raise
            outcome.ok = False
            if isinstance(exc, D1Error):
                outcome.error, outcome.error_line = exc.reason, exc.line
            else:  # deferred foreign keys fail at COMMIT
                outcome.error = str(exc).removeprefix(type(exc).__name__ + ": ")
                outcome.error_detail = broken
        finally:
            if keys_off:
                self.conn.execute("PRAGMA foreign_keys=ON")
        return outcome

    def _recorded(self, ledger_table: str, name: str) -> bool:
        """Whether the ledger lists `name`."""
        query = f"SELECT count(*) FROM {quote_ident(ledger_table)} WHERE name = ?"
        return self.conn.execute(query, (name,)).fetchall()[0][0] > 0

    def run_own_file(self, text: str) -> bool:
        """Run SQL d1nb wrote itself (a rollback draft's data: literal rows by key, its
        triggers dropped and created again) as one transaction, all or nothing, without taking
        each statement apart: True when it ran. Anything else — an error, a statement past
        D1's size or time limit, a refusal — rolls it back and returns False, and the caller
        runs the file through `apply_migration`, which names the line. Foreign keys stay on
        and the authorizer stays in place, as for any file."""
        if self.statement_limit and any(
            len(sql.encode("utf-8")) > self.statement_limit
            for _b, _e, sql, _c in split_statements(text)
        ):
            return False
        self.refusals.clear()
        self.conn.execute("BEGIN")
        try:
            with self.time_limit():
                for _ in self.conn.execute(text):
                    pass
            if self.refusals:
                raise apsw.AuthError(self.refusals[0])
            self.conn.execute("COMMIT")
        except apsw.Error:
            if not self.conn.get_autocommit():
                self.conn.execute("ROLLBACK")
            self.refusals.clear()
            return False
        return True

    def broken_references(self) -> dict[tuple[str, str], int]:
        """Rows pointing at a parent row that is not there, per (child, parent), most first.
        Raises apsw.SQLError while a foreign key names a parent key no index backs (SQLite's
        "foreign key mismatch")."""
        rows = self.conn.execute(
            'SELECT "table", parent, count(*) FROM pragma_foreign_key_check '
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
        ).fetchall()
        return {(child, parent): n for child, parent, n in rows}

    def _commit_failure(self) -> str:
        """When a file's COMMIT fails on deferred foreign keys, still inside its transaction:
        which references are broken, or, when none is, why SQLite still counts some."""
        try:
            broken = self.broken_references()
        except apsw.SQLError as exc:  # a parent key no index backs any more
            return f" at COMMIT ({str(exc).removeprefix('SQLError: ')})"
        if broken:
            return " at COMMIT: " + "; ".join(
                f"{n} {child} rows point at {parent} rows that are gone"
                for (child, parent), n in broken.items()
            )
        return (
            " at COMMIT, though every reference resolves by then: SQLite counted the violations "
            "as they happened (a DROP TABLE's implicit DELETE counts each row referring to the "
            "table) and a copy renamed into its place does not uncount them"
        )

    @staticmethod
    def _strip_transaction(
        statements: list[Statement], outcome: MigrationOutcome
    ) -> list[Statement]:
        control = [s for s in statements if s.kind == "transaction"]
        if not control:
            return list(statements)
        begins = [s for s in control if s.detail == "BEGIN"]
        ends = [s for s in control if s.detail in ("COMMIT", "END")]
        others = [s for s in control if s not in begins and s not in ends]
        if len(begins) == 1 and len(ends) == 1 and not others:
            outcome.notes.append(
                f"lines {begins[0].line} and {ends[0].line}: BEGIN/COMMIT stripped; D1 runs the "
                "file in a transaction of its own"
            )
            return [s for s in statements if s.kind != "transaction"]
        first = (others or begins[1:] or ends[1:] or control)[0]
        raise D1Error(
            "more than one BEGIN/COMMIT pair, or SAVEPOINT/ROLLBACK: D1 runs each migration in "
            "one transaction and cannot nest them",
            line=first.line,
        )

    # -- schema -------------------------------------------------------------------------------

    def schema(self) -> list[tuple[str, str, str, str]]:
        """(type, name, tbl_name, sql) of every user object, as in sqlite_master."""
        return list(
            self.conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type, name"
            )
        )

    def autoincrement_counters(self) -> dict[str, int]:
        """sqlite_sequence: the largest id each AUTOINCREMENT table has given, by table name
        (lower-cased). A table rebuilt or dropped loses its row, and ids it gave to rows
        since deleted are given again."""
        if not self.conn.table_exists(None, "sqlite_sequence"):
            return {}
        return {
            str(name).lower(): int(seq)
            for name, seq in self.conn.execute("SELECT name, seq FROM sqlite_sequence")
            if isinstance(seq, int)
        }

    def tables(self) -> list[str]:
        """User tables (not internal, not shadow tables of virtual tables)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM pragma_table_list WHERE schema='main' AND type='table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
                "ORDER BY name"
            )
        ]

    def plain_schema_sql(
        self, types: tuple[str, ...] = ("table", "index")
    ) -> list[tuple[str, str]]:
        """(name, sql) of user tables and their indexes, without virtual tables or triggers;
        or of the other `types` ("view", "trigger"), in the order they were created."""
        views = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
        plain = set(self.tables()) | {v for (v,) in views}  # a view's own row names itself
        rows = self.conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            f"AND type IN ({', '.join('?' for _ in types)}) ORDER BY type = 'index', rowid",
            types,
        )
        return [(name, sql) for name, table, sql in rows if table in plain]

    def triggers_on(
        self, tables: set[str], kind: str = "trigger"
    ) -> dict[str, list[tuple[str, str]]]:
        """(name, CREATE statement) of the triggers (or, with `kind="index"`, the indexes
        created by CREATE INDEX) on each of `tables`, by lower-cased table name."""
        wanted = {t.lower() for t in tables}
        found: dict[str, list[tuple[str, str]]] = {}
        for name, table, sql in self.conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (kind,),
        ):
            if table.lower() in wanted:
                found.setdefault(table.lower(), []).append((name, sql))
        return found

    def table_sql(self, names: set[str]) -> dict[str, str]:
        """CREATE statements of the named tables that exist."""
        found = {}
        for name in names:
            for (sql,) in self.conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                (name,),
            ):
                found[name] = sql
        return found

    def columns(self, table: str, generated: bool = False) -> list[tuple]:
        """(cid, name, type, notnull, default, pk) of a table; with `generated`, its generated
        columns too (which no INSERT may name, but whose values are data to read)."""
        if generated:
            return list(
                self.conn.execute(
                    'SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_xinfo(?) '
                    "WHERE hidden IN (0, 2, 3)",
                    (table,),
                )
            )
        return list(
            self.conn.execute(
                'SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)',
                (table,),
            )
        )

    def spelled(self, s: Statement) -> Statement:
        """`s` with its table named as the schema spells it: SQLite's names are
        case-insensitive, so `DELETE FROM growers` deletes from `Growers`, and whatever
        compares names as strings (foreign keys, cascades, metering) must see `Growers`."""
        if not s.table:
            return s
        name = self._spellings.get(s.table)
        if name is None:
            rows = self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name = ? COLLATE NOCASE",
                (s.table,),
            ).fetchall()
            name = self._spellings[s.table] = rows[0][0] if rows else s.table
        return s if name == s.table else replace(s, table=name)

    def has_object(self, name: str | None) -> bool:
        """Whether the schema holds a table, view, index or trigger named `name` (SQLite's
        names are case-insensitive)."""
        return bool(
            self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE LIMIT 1", (name,)
            ).fetchall()
        )

    def partial_where(self, index: str) -> str | None:
        """The WHERE of a partial index named `index`; None for a full one (or no index)."""
        rows = self.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ? COLLATE NOCASE",
            (index,),
        ).fetchall()
        return index_where(rows[0][0] or "") if rows else None

    def index_columns(self, index: str) -> list[str]:
        """The table columns of index `index`, lower-cased, in its order (an expression's
        place left out)."""
        return [
            name.lower()
            for (name,) in self.conn.execute(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)
            ).fetchall()
            if name
        ]

    def key_collations(self, table: str, columns: list[str]) -> dict[str, str]:
        """The collation other than BINARY (NOCASE, RTRIM) under which the index that keeps
        `columns` of `table` unique compares each of them: `Bob@x.io` and `bob@x.io` are one
        key under NOCASE. {} when no such index holds exactly those columns."""
        wanted = sorted(c.lower() for c in columns)
        for name, unique in self.conn.execute(
            'SELECT name, "unique" FROM pragma_index_list(?)', (table,)
        ).fetchall():
            info = self.conn.execute(
                "SELECT name, coll FROM pragma_index_xinfo(?) WHERE key", (name,)
            ).fetchall()
            if unique and sorted((n or "").lower() for n, _c in info) == wanted:
                return {n: c for n, c in info if n and c and c.upper() != "BINARY"}
        return {}

    def without_rowid(self, table: str) -> bool:
        """Whether `table` is a WITHOUT ROWID table (its PRIMARY KEY is the table itself)."""
        rows = self.conn.execute(
            "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ? COLLATE NOCASE",
            (table,),
        ).fetchall()
        return bool(rows and rows[0][0])

    def row_identity(self, table: str) -> list[str]:
        """The columns that identify a row of `table`: its rowid (by a name no column of it
        takes: `rowid_name`), or a WITHOUT ROWID table's primary key."""
        if not self.without_rowid(table):
            return [self.rowid_name(table)]
        return [c[1] for c in sorted(self.columns(table), key=lambda c: c[5]) if c[5]]

    def rowid_name(self, table: str) -> str:
        """The name that reaches `table`'s rowid: `rowid`, or `_rowid_` or `oid` when a column
        is named `rowid` (a column of that name hides the rowid behind it), or the INTEGER
        PRIMARY KEY when all three are columns. Raises InputError when nothing reaches it."""
        names = {c[1].lower() for c in self.columns(table, generated=True)}
        for name in ROWID_NAMES:
            if name not in names:
                return name
        alias = self.rowid_alias(table)
        if alias is None:
            raise InputError(
                self.path,
                0,
                f"table {table} has columns named rowid, _rowid_ and oid and no INTEGER PRIMARY "
                "KEY: no name reaches its rows' rowid, so d1nb cannot follow them",
            )
        return alias

    def unique_not_null_keys(self, table: str) -> list[tuple[str, ...]]:
        """Column sets of `table`'s UNIQUE indexes that find one row by `=`: whole (not
        partial), on plain columns all declared NOT NULL, binary collation, and no COLLATE
        in the table (a column's own collation would decide `=`)."""
        sql = self.table_sql({table}).get(table)
        if sql is None or "COLLATE" in sql.upper():
            return []
        not_null = {c[1] for c in self.columns(table) if c[3]}
        found = []
        for _seq, name, unique, _origin, partial in self.conn.execute(
            "SELECT * FROM pragma_index_list(?)", (table,)
        ).fetchall():
            info = self.conn.execute(
                "SELECT name, coll FROM pragma_index_xinfo(?) WHERE key", (name,)
            ).fetchall()
            if (
                unique
                and not partial
                and all(n is not None and n in not_null and coll == "BINARY" for n, coll in info)
            ):
                found.append(tuple(n for n, _coll in info))
        return found

    def rowid_alias(self, table: str) -> str | None:
        """The column that is `table`'s rowid under another name (its INTEGER PRIMARY KEY),
        or None (no such key, or a WITHOUT ROWID table)."""
        pk = [c for c in self.columns(table) if c[5]]
        if len(pk) == 1 and pk[0][2].upper() == "INTEGER" and not self.without_rowid(table):
            return pk[0][1]
        return None

    def foreign_keys(self, whole_keys: bool = False) -> list[tuple[str, str, str, str, str]]:
        """(child table, child column, parent table, parent column, on_delete) of every FK,
        the parent and its column named as their own definitions spell them: a REFERENCES
        clause may write `plants(SKU)` for table `Plants`, column `sku` (names are
        case-insensitive in SQLite), and every caller compares names as strings.

        A key of several columns is a row per column; with `whole_keys`, one row named by its
        first column, its parent column None (no one column of the parent is its key)."""
        tables = self.tables()
        spelled = {t.lower(): t for t in tables}
        rows = []
        for table in tables:
            listed = self.conn.execute(
                'SELECT "table", "from", "to", on_delete, id, seq FROM pragma_foreign_key_list(?)',
                (table,),
            ).fetchall()
            composite = {key for *_, key, seq in listed if seq}
            for parent, col, pcol, action, key, seq in listed:
                if whole_keys and key in composite:
                    if seq:
                        continue
                    pcol = None
                parent = spelled.get(parent.lower(), parent)
                if pcol is not None and parent in tables:
                    names = {c[1].lower(): c[1] for c in self.columns(parent)}
                    pcol = names.get(pcol.lower(), pcol)
                rows.append((table, col, parent, pcol, action))
        return rows
