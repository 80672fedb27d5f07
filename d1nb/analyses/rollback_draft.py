"""Drafting a compensating migration from the export: SQL files that bring the migrated state
back to what the export holds — the schema first, then the rows, parents first, by key — each
statement safe to run again. `rollback.py` verifies the drafts by replaying them."""

from __future__ import annotations

import shlex
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import apsw

from d1nb import d1, outfiles
from d1nb.analyses.sql_driver import DONE, driver_lines
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.scratch import scratch_scope
from d1nb.formats.dumpformat import quote_text
from d1nb.formats.sql.shapes import (
    addable_column,
    column_name_as_written,
    is_constant_default,
    virtual_table_content,
)
from d1nb.formats.sql.text import (
    definition_fingerprint,
    quote_ident,
    quote_literal,
    unused_name,
)
from d1nb.inputs.workingcopy import Snapshot
from d1nb.problems import InputError

DRAFT_DATA_HEAD = (
    "-- d1nb rollback draft: rows as the export holds them, by key; safe to run again.\n"
    "-- Not restored by any SQL here: rows production wrote after the export (rows\n"
    "-- added since stay; changes since to these rows are overwritten; a row put back\n"
    "-- whose key production has given to a new row since stays that new row; a row\n"
    "-- of a table with no key goes back under a new rowid when its own is taken).\n"
    "-- A row the migration added under a key SQLite gave it (a rowid, an INTEGER\n"
    "-- PRIMARY KEY) is deleted only where that key holds every value it was given:\n"
    "-- production, grown since the export, may have given the key to a row of its own\n"
    "-- first, and the migration's row then stays, under the key after.\n"
)
_TRIGGERS_HEAD = (
    "-- The triggers are dropped first and created again last, in this file's one\n"
    "-- transaction: restoring a row fires none of them (every table the export\n"
    "-- holds is restored as it was, what a trigger would write included).\n"
)

ROLLBACK_DRIVER = "run_rollback.sh"
FORGET_MIGRATION = "forget_migration.sql"
"""The files beside a draft's SQL: its driver, and the ledger row's DELETE it points at."""

DRAFT_STATEMENTS_PER_FILE = 500
"""Statements per drafted data file: each file is one `wrangler d1 execute --file` (one
transaction on D1), small enough to stay well inside D1's 30 s per query."""


def _literal(value: object) -> str:
    """A value as SQL that gives it back exactly: text with a line break as replace(…,
    char(13)) (a raw CR inside a literal does not survive every editor, git or reader)."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "9e999" if value > 0 else "-9e999"
    if isinstance(value, str):
        return quote_text(value)
    return quote_literal(bytes(value) if isinstance(value, memoryview) else value)


def _objects(conn) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, name) → (table it belongs to, its SQL) of every user object; the shadow tables
    of virtual tables (FTS5's `_data` …) are the virtual table's, which creates and drops them
    (D1 refuses SQL that writes them)."""
    shadows = {
        r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
    }
    return {
        (t, n): (tbl, sql)
        for t, n, tbl, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"
        )
        if n not in shadows
    }


@contextmanager
def _named_back(
    after: Path, b: D1Engine, renamed: dict[str, str]
) -> Iterator[tuple[D1Engine, list[str]]]:
    """The after copy, with each table the migration renamed (old → new) under its old name
    again on a scratch copy, and the ALTER TABLE statements that do so: the table and the
    rows written to it since stay, where dropping it and creating it again would lose them."""
    with D1Engine(after) as a:
        moves = [
            (was, now)
            for old, new in renamed.items()
            if (was := _table_named(b, old))
            and (now := _table_named(a, new))
            and not _table_named(a, old)
            and not _table_named(b, new)
        ]
        if not moves:
            yield a, []
            return
    back = [f"ALTER TABLE {quote_ident(now)} RENAME TO {quote_ident(was)};" for was, now in moves]
    with scratch_scope("d1nb-renamed-") as folder:
        copy = folder / "after.sqlite"
        shutil.copyfile(after, copy)
        with D1Engine(copy) as a:
            for sql in back:
                a.conn.execute(sql)
            yield a, back


def _table_named(engine: D1Engine, name: str) -> str | None:
    """The table's name as the database spells it (SQLite's names ignore case), or None."""
    rows = engine.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
        (name,),
    ).fetchall()
    return rows[0][0] if rows else None


def _parents_first(engine: D1Engine, tables: list[str]) -> list[str]:
    """`tables` ordered so that a table comes after the tables its foreign keys point at."""
    parents = {t: set() for t in tables}
    for child, _col, parent, _pcol, _action in engine.foreign_keys():
        if child in parents and parent in parents and parent != child:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, ps in parents.items() if not ps - set(ordered))
        ready = ready or sorted(parents)[:1]  # a cycle: break it by name
        for t in ready:
            ordered.append(t)
            del parents[t]
    return ordered


def draft_rollback(
    before: Snapshot,
    after: Snapshot,
    ledger: str,
    out: Path,
    start: int = 0,
    renamed_tables: dict[str, str] | None = None,
    renamed_columns: dict[str, dict[str, str]] | None = None,
) -> list[Path]:
    """SQL files that bring `after` back to `before`: first the schema (tables the migration
    renamed, `renamed_tables` old → new, get their old names back; tables, columns, indexes,
    triggers and views it added are dropped, those it removed are created again from the
    export's own SQL), then the data, table by table, parents first: rows the migration added
    deleted, rows it removed inserted, rows it changed updated back, all by primary key (or
    rowid) and read from the export. Every data statement can run again. `renamed_columns`:
    per table whose columns the migration renamed or dropped by ALTER TABLE (its name, lower-
    cased), the columns renamed, new name → old; other tables' renames are guessed.
    With `start`, the data alone, in files numbered from `start` beside the earlier ones: a
    further round for what the first one's triggers changed again."""
    out.mkdir(parents=True, exist_ok=True)
    if not start:
        _clear_draft_folder(out)
    with (
        D1Engine(before.path) as b,
        _named_back(after.path, b, renamed_tables or {}) as (a, named_back),
    ):
        was, now = _objects(b.conn), _objects(a.conn)
        schema: list[str] = list(named_back)
        for (kind, name), (_tbl, _sql) in sorted(now.items()):
            if kind in ("trigger", "view", "index") and now[(kind, name)] != was.get((kind, name)):
                schema.append(f"DROP {kind.upper()} IF EXISTS {quote_ident(name)};")
        tables = sorted(n for k, n in was if k == "table" and n != ledger)
        renames: dict[str, dict[str, str]] = {}
        rebuilt_tables: set[str] = set()
        for name in sorted(n for k, n in now if k == "table" and (k, n) not in was):
            schema.append(f"DROP TABLE IF EXISTS {quote_ident(name)};")
        tables_at = len(schema)
        for name in tables:
            if ("table", name) not in now:
                schema.append(was[("table", name)][1] + ";")
                continue
            old_cols = {c[1]: c for c in b.columns(name, generated=True)}
            new_cols = {c[1]: c for c in a.columns(name, generated=True)}
            ordinary = {c[1] for c in b.columns(name)}
            said = (renamed_columns or {}).get(name.lower())
            renamed = renames[name] = (
                _renamed_columns(old_cols, new_cols) if said is None else _said(said, b, a, name)
            )
            gone = [c for c in old_cols if c not in new_cols and c not in renamed.values()]
            names_back = [  # renamed columns back in place, values kept
                f"ALTER TABLE {quote_ident(name)} RENAME COLUMN {quote_ident(new_name)} TO "
                + (
                    column_name_as_written(was[("table", name)][1], old_cols[old_name][0])
                    or quote_ident(old_name)
                )
                + ";"
                for new_name, old_name in renamed.items()
            ]
            if (
                not _virtual(was[("table", name)][1])
                and not _virtual(now[("table", name)][1])
                and (
                    (
                        old_cols.keys() == new_cols.keys()
                        and definition_fingerprint(was[("table", name)][1])
                        != definition_fingerprint(now[("table", name)][1])
                    )  # rebuilt with its columns kept: constraints or types changed
                    or (gone and not _addable_at_end(was[("table", name)][1], old_cols, gone))
                    or not _dropped_back(
                        was[("table", name)][1],
                        now[("table", name)][1],
                        new_cols.keys() - old_cols.keys() - renamed.keys(),
                        names_back,
                    )
                )
            ):
                taken = [n for _k, n in (*was, *now)]
                aside = unused_name(f"_d1nb_rollback_{name}", taken)
                kept = sorted(ordinary & {renamed.get(c[1], c[1]) for c in a.columns(name)})
                schema += names_back + _rebuild(name, was[("table", name)][1], kept, aside)
                rebuilt_tables.add(name)
                continue
            schema += names_back
            for col in sorted(new_cols.keys() - old_cols.keys() - renamed.keys()):
                schema.append(f"ALTER TABLE {quote_ident(name)} DROP COLUMN {quote_ident(col)};")
            for col in [c for c in old_cols if c not in new_cols and c not in renamed.values()]:
                cid, _n, type_, notnull, default, _pk = old_cols[col]
                definition = addable_column(was[("table", name)][1], cid, default)
                if definition:  # back as the export declared it
                    schema.append(f"ALTER TABLE {quote_ident(name)} ADD COLUMN {definition};")
                    continue
                if col not in ordinary:  # a STORED generated column: ADD COLUMN refuses it
                    continue
                # ADD COLUMN takes only a constant default, and NOT NULL only with one: any
                # other is left out (the values come back from the export; the schema differs)
                constant = default is not None and is_constant_default(default)
                clause = f" {type_}" if type_ else ""
                clause += f" DEFAULT {default}" if constant else ""
                clause += " NOT NULL" if notnull and constant else ""
                schema.append(
                    f"ALTER TABLE {quote_ident(name)} ADD COLUMN {quote_ident(col)}{clause};"
                )
        kept: set[str] = set()
        if rebuilt_tables:
            taken = [n for _k, n in (*was, *now)]
            aside_rows, back, kept = _kept_through_drops(b, a, rebuilt_tables, renames, taken)
            schema[tables_at:tables_at] = aside_rows
            schema += back
        for (kind, name), (tbl, sql) in sorted(was.items()):
            if kind in ("index", "trigger", "view") and (
                now.get((kind, name)) != was[(kind, name)]
                or (kind != "view" and tbl in rebuilt_tables)  # DROP TABLE took them along
                or (kind == "trigger" and tbl in kept)  # dropped so that no cascade fires them
            ):
                schema.append(sql + ";")
        if rebuilt_tables:
            schema.insert(0, "PRAGMA defer_foreign_keys = ON;")
        triggers = [sql for (kind, _n), (_tbl, sql) in sorted(was.items()) if kind == "trigger"]
        quiet = [
            f"DROP TRIGGER IF EXISTS {quote_ident(n)};"
            for (kind, n) in sorted(was)
            if kind == "trigger"
        ]

        def data() -> Iterator[str]:
            rebuilt = []
            for table in _parents_first(b, tables):
                content = virtual_table_content(was[("table", table)][1])
                if content is None:  # a table, or a virtual table that keeps its own rows
                    yield from _restore_rows(b, a, table, renames.get(table, {}))
                elif content:  # an index of another table's rows: rebuilt once they are back
                    rebuilt.append(
                        f"INSERT INTO {quote_ident(table)}({quote_ident(table)}) "
                        "VALUES ('rebuild');"
                    )
            yield from rebuilt
            yield from _counters_back(b, a, tables)

        files = []
        if schema and not start:
            path = out / "rollback_000_schema.sql"
            outfiles.write_text(
                path,
                "-- d1nb rollback draft: the schema, as the export had it. Run it once, first.\n"
                + "\n".join(schema)
                + "\n",
            )
            files.append(path)
        number = start or (0 if schema else 1)
        too_big = 0
        statements = data()
        while chunk := list(islice(statements, DRAFT_STATEMENTS_PER_FILE)):
            too_big += sum(len(st.encode("utf-8")) > d1.MAX_STATEMENT_BYTES for st in chunk)
            if triggers:
                chunk = [*quiet, *chunk, *(f"{sql};" for sql in triggers)]
            path = out / f"rollback_{number + len(files):03d}_data.sql"
            outfiles.write_text(
                path,
                DRAFT_DATA_HEAD + (_TRIGGERS_HEAD if triggers else "") + "\n".join(chunk) + "\n",
            )
            files.append(path)
    if too_big:  # a value D1 accepts only as a bound parameter: no SQL file can carry it
        outfiles.write_text(
            out / "TOO_LARGE.txt",
            f"{too_big} statement(s) of this draft exceed D1's "
            f"{d1.MAX_STATEMENT_BYTES:,}-byte statement limit: `wrangler d1 execute --file` "
            "refuses them, and their rows can only come back through bound parameters (a "
            "Worker's prepare().bind()) or a Time Travel restore.\n",
        )
    return _numbered_alike(out, files)


_OWN_HEADS = {
    "rollback_*.sql": "-- d1nb rollback draft",
    FORGET_MIGRATION: "-- takes the migration off the ledger",
    ROLLBACK_DRIVER: "#!/usr/bin/env sh\n# Undoes the migration this folder is named after",
}
"""The first words of each file a draft folder holds, by which d1nb knows its own."""


def _clear_draft_folder(out: Path) -> None:
    """Remove what an earlier draft left in `out` (its files, done.txt, TOO_LARGE.txt), so
    that the driver runs only the new draft's files. A file of a draft's names that d1nb did
    not write is refused, never removed: `--out` may have been pointed at a folder of the
    team's own compensating migrations."""
    found = [(p, head) for pattern, head in _OWN_HEADS.items() for p in sorted(out.glob(pattern))]
    for path, head in found:
        if not path.read_text(encoding="utf-8", errors="replace").startswith(head):
            raise InputError(
                path,
                0,
                "a file d1nb did not write, where it would write a rollback draft: choose an "
                "empty --out",
            )
    for path, _head in found:
        path.unlink()
    for name in ("TOO_LARGE.txt", DONE):
        (out / name).unlink(missing_ok=True)


def draft_files(out: Path) -> list[Path]:
    """The draft's files in `out`, in the order they run (by number)."""
    return sorted(out.glob("rollback_*.sql"), key=lambda p: int(p.name.split("_")[1]))


def _numbered_alike(out: Path, files: list[Path]) -> list[Path]:
    """Past rollback_999, every file of the folder renamed to as many digits as the last one
    has, so that listing them by name lists them in the order they run; `files` as renamed."""
    every = draft_files(out)
    width = max([3, *(len(p.name.split("_")[1]) for p in every)])
    renamed = {}
    for p in every:
        number, rest = p.name.removeprefix("rollback_").split("_", 1)
        if len(number) < width:
            renamed[p] = p.with_name(f"rollback_{int(number):0{width}d}_{rest}")
            p.rename(renamed[p])
    return [renamed.get(p, p) for p in files]


def write_rollback_driver(out: Path, database: str, migration: str, ledger: str) -> Path:
    """`run_rollback.sh` beside a draft's files: runs them in order through wrangler, once
    each (done.txt), and ends saying how to take `migration` off the ledger, which it does not
    do itself (a file of that name would then run again at the next `migrations apply`):
    `forget_migration.sql` holds that DELETE. Names from files and configs reach the shell
    and SQL quoted only, never in a comment (a file name may hold a line break)."""
    outfiles.write_text(
        out / FORGET_MIGRATION,
        "-- takes the migration off the ledger: the next `migrations apply` runs it again\n"
        f"DELETE FROM {quote_ident(ledger)} WHERE name = {quote_literal(migration)};\n",
    )
    lines = driver_lines(
        database,
        ROLLBACK_DRIVER,
        [
            "Undoes the migration this folder is named after, on a database where it was",
            "applied: runs the drafted files in order (--yes: no prompt per file), the schema",
            "first; stops at the first failure. Several migrations to undo: run their folders",
            "newest first (each brings back the state just before its own migration).",
        ],
        "rollback",
    )
    advice = (
        f"The ledger ({ledger}) still lists {migration}, so migrations apply will not run it "
        f"again. To apply a fixed file of that name, run {FORGET_MIGRATION} first:"
    )
    lines += [
        f"printf '%s\\n' {shlex.quote(advice)}",
        f"printf '  %s\\n' \"$WRANGLER d1 execute {shlex.quote(database)} --yes --file "
        f'$dir/{FORGET_MIGRATION} $*"',
    ]
    path = out / ROLLBACK_DRIVER
    outfiles.write_text(path, "\n".join(lines) + "\n")
    return path


def _kept_through_drops(
    b: D1Engine,
    a: D1Engine,
    rebuilt: set[str],
    renames: dict[str, dict[str, str]],
    taken: list[str],
) -> tuple[list[str], list[str], set[str]]:
    """A rebuild's DROP TABLE deletes the table's rows first, and on D1 foreign keys stay on:
    rows of other tables that point at it are deleted (ON DELETE CASCADE, followed down) or
    changed (SET NULL, SET DEFAULT), production's rows written since the export among them,
    and the triggers on those tables fire. Returns the statements that drop those triggers
    and copy those tables aside before any rebuild, the statements that put their rows back
    after (deleted rows inserted, set columns set back, by rowid or primary key), and the
    tables so kept (their triggers are created again after)."""
    fks = a.foreign_keys()
    deleted: set[str] = set()
    set_columns: dict[str, set[str]] = {}
    frontier = {t.lower() for t in rebuilt}
    seen: set[str] = set()
    while frontier:
        parent = frontier.pop()
        seen.add(parent)
        for child, col, par, _pcol, action in fks:
            if par.lower() != parent or child.lower() == parent:
                continue
            if action == "CASCADE":
                deleted.add(child)
                if child.lower() not in seen:
                    frontier.add(child.lower())
            elif action in ("SET NULL", "SET DEFAULT"):
                set_columns.setdefault(child, set()).add(col)
    tables = sorted(deleted | set(set_columns))
    if not tables:
        return [], [], set()
    aside, back = [], []
    triggers = a.triggers_on(set(tables))
    for table in tables:
        aside += [
            f"DROP TRIGGER IF EXISTS {quote_ident(n)};"
            for n, _sql in triggers.get(table.lower(), [])
        ]
    for table in _parents_first(a, tables):
        now_cols = [c[1] for c in a.columns(table)]
        rename = renames.get(table, {})
        was_cols = {c[1].lower() for c in b.columns(table)}
        pairs = [(c, rename.get(c, c)) for c in now_cols if rename.get(c, c).lower() in was_cols]
        keep = unused_name(f"_d1nb_rollback_keep_{table}", taken)
        taken.append(keep)
        t, k = quote_ident(table), quote_ident(keep)
        # how a kept row finds its row again: a WITHOUT ROWID table's key, the INTEGER
        # PRIMARY KEY (the rowid's own column), else the rowid kept in a column of its own
        rowid, ident = None, []
        if a.without_rowid(table):
            ident = a.row_identity(table)
        elif alias := a.rowid_alias(table):
            ident = [alias]
        elif not _rowid_unreachable(a, table):
            rowid = a.rowid_name(table)
        row = quote_ident(unused_name("_d1nb_rowid", now_cols)) if rowid else None
        picked = ([f"{rowid} AS {row}"] if rowid else []) + [quote_ident(c) for c, _w in pairs]
        aside += [
            f"DROP TABLE IF EXISTS {k};",
            f"CREATE TABLE {k} AS SELECT {', '.join(picked)} FROM {t};",
        ]
        if table in deleted:
            target = ([rowid] if rowid else []) + [quote_ident(w) for _c, w in pairs]
            source = ([row] if rowid else []) + [quote_ident(c) for c, _w in pairs]
            back.append(
                f"INSERT OR IGNORE INTO {t} ({', '.join(target)}) "
                f"SELECT {', '.join(source)} FROM {k};"
            )
        match = (
            f"k.{row} = {t}.{rowid}"
            if rowid
            else " AND ".join(
                f"k.{quote_ident(c)} = {t}.{quote_ident(rename.get(c, c))}" for c in ident
            )
        )
        kept_cols = {c for c, _w in pairs}
        for col in sorted(set_columns.get(table, set()) & kept_cols if match else ()):
            now_col, was_col = quote_ident(col), quote_ident(rename.get(col, col))
            back.append(
                f"UPDATE {t} SET {was_col} = (SELECT k.{now_col} FROM {k} k WHERE {match}) "
                f"WHERE EXISTS (SELECT 1 FROM {k} k WHERE {match} AND k.{now_col} IS NOT "
                f"{t}.{was_col});"
            )
        back.append(f"DROP TABLE {k};")
    return aside, back, set(tables)


def _addable_at_end(create: str, old_cols: dict[str, tuple], gone: list[str]) -> bool:
    """Whether ADD COLUMN brings the `gone` columns back as the export had them: they were its
    last columns, and each definition is one ADD COLUMN takes (no key, a constant default, not
    generated STORED). Otherwise the table is rebuilt from the export's text."""
    return list(old_cols)[-len(gone) :] == gone and all(
        addable_column(create, old_cols[c][0], old_cols[c][4]) for c in gone
    )


def _dropped_back(was: str, now: str, added: set[str], names_back: list[str]) -> bool:
    """Whether the renamed columns' `names_back` (RENAME COLUMN statements) and DROP COLUMN
    of the `added` columns give the table back as the export defined it. Not when the
    migration rebuilt it with other changes too (a CHECK added beside a new column), nor
    when SQLite refuses to drop one (a key, UNIQUE, or named by a CHECK): the table is then
    rebuilt from the export's text."""
    if not added and not names_back:
        return True
    with D1Engine() as scratch:
        try:
            scratch.conn.execute(now)
            schema = (
                "SELECT name, sql FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite%'"
            )
            ((table, _sql),) = scratch.conn.execute(schema).fetchall()
            for sql in names_back:
                scratch.conn.execute(sql)
            for col in sorted(added):
                scratch.conn.execute(
                    f"ALTER TABLE {quote_ident(table)} DROP COLUMN {quote_ident(col)}"
                )
            ((_table, sql),) = scratch.conn.execute(schema).fetchall()
        except apsw.Error:
            return False
    return definition_fingerprint(sql) == definition_fingerprint(was)


def _counters_back(before: D1Engine, after: D1Engine, tables: list[str]) -> list[str]:
    """Statements that put each AUTOINCREMENT counter the migration lowered back to the
    export's (a rebuilt table restarts from its largest id: ids of rows deleted before the
    export would be given again). They only raise a counter, so they can run again."""
    was, now = before.autoincrement_counters(), after.autoincrement_counters()
    out = []
    for table in tables:
        seq = was.get(table.lower())
        if seq is None or now.get(table.lower(), -1) >= seq:
            continue
        name = quote_literal(table)
        out += [
            f"UPDATE sqlite_sequence SET seq = {seq} WHERE name = {name} AND seq < {seq};",
            f"INSERT INTO sqlite_sequence (name, seq) SELECT {name}, {seq} "
            f"WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = {name});",
        ]
    return out


def _virtual(create: str) -> bool:
    return create.lstrip().upper().startswith("CREATE VIRTUAL")


def _rebuild(table: str, create: str, columns: list[str], aside_name: str) -> list[str]:
    """A table back to the export's definition, its rows as they are now (the data files then
    put their values back): copied aside, dropped, created from the export's own text, copied
    back. The file defers foreign keys to its end, so children that point at it with NO
    ACTION hold; the rows its ON DELETE actions reach are kept aside around it
    (`_kept_through_drops`)."""
    aside = quote_ident(aside_name)
    cols = ", ".join(quote_ident(c) for c in columns)
    return [
        f"DROP TABLE IF EXISTS {aside};",
        f"CREATE TABLE {aside} AS SELECT {cols} FROM {quote_ident(table)};",
        f"DROP TABLE {quote_ident(table)};",
        create + ";",
        f"INSERT INTO {quote_ident(table)} ({cols}) SELECT {cols} FROM {aside};",
        f"DROP TABLE {aside};",
    ]


def _renamed_columns(old_cols: dict[str, tuple], new_cols: dict[str, tuple]) -> dict[str, str]:
    """Columns the migration renamed, new name → old: one only the after side has, in the
    place of one only the export has, declared alike (type, NOT NULL, default, key). Put
    back by RENAME COLUMN, a column keeps the values production wrote since the export."""
    gone = {c[0]: c for n, c in old_cols.items() if n not in new_cols}
    return {
        n: gone[c[0]][1]
        for n, c in new_cols.items()
        if n not in old_cols and c[0] in gone and c[2:] == gone[c[0]][2:]
    }


def _said(renamed: dict[str, str], b: D1Engine, a: D1Engine, table: str) -> dict[str, str]:
    """The columns a migration's RENAME COLUMNs renamed (new → old), as each side spells
    them, where the old one is only before and the new one only after."""
    old_cols = {c.lower(): c for c in _column_names(b, table)}
    new_cols = {c.lower(): c for c in _column_names(a, table)}
    return {
        new_cols[new.lower()]: old_cols[old.lower()]
        for new, old in renamed.items()
        if new.lower() in new_cols.keys() - old_cols.keys()
        and old.lower() in old_cols.keys() - new_cols.keys()
    }


def _column_names(engine: D1Engine, table: str) -> list[str]:
    return [c[1] for c in engine.columns(table)]


def _order(key: tuple) -> tuple:
    """Keys of mixed types in one order: by type name, then value (NULL first)."""
    return tuple(("", 0) if v is None else (type(v).__name__, v) for v in key)


def _keys_moved(
    b: D1Engine, a: D1Engine, table: str, pk: list[str], gone: set[tuple], added: set[tuple]
) -> dict[tuple, tuple]:
    """Rows of a table keyed by a PRIMARY KEY that is not its rowid whose key the migration
    changed (an UPDATE of the key: the same rowid on both sides, as `a` is `b` replayed):
    key in `b` → key in `a`. Set back by an UPDATE, so that ON UPDATE CASCADE carries the
    children along, where deleting and inserting the row would run their ON DELETE action.
    Only keys no row of `a` holds."""
    if not pk or not gone or not added or b.without_rowid(table) or b.rowid_alias(table):
        return {}
    keys = ", ".join(quote_ident(c) for c in pk)
    select = "SELECT {}, " + keys + f" FROM {quote_ident(table)}"
    was = {r[1:]: r[0] for r in b.conn.execute(select.format(b.rowid_name(table))) if r[1:] in gone}
    now = {
        r[0]: r[1:] for r in a.conn.execute(select.format(a.rowid_name(table))) if r[1:] in added
    }
    moved = {k: now[rowid] for k, rowid in was.items() if rowid in now}
    return moved if len(set(moved.values())) == len(moved) else {}


def _restore_rows(
    b: D1Engine, a: D1Engine, table: str, renamed: dict[str, str] | None = None
) -> Iterator[str]:
    """Statements that make `table` in `a` hold exactly the rows it holds in `b`, once the
    columns `renamed` in `a` (new name → old) have their old names back. The two copies are
    joined by key in SQLite and read row by row: memory holds only the keys of rows added or
    gone (a table of millions of rows is never held whole)."""
    now_name = {old: new for new, old in (renamed or {}).items()}
    cols = _column_names(b, table)
    pk = [c[1] for c in sorted(b.columns(table), key=lambda c: c[5]) if c[5]]
    if not pk and _rowid_unreachable(b, table):
        yield from _restore_by_content(b, a, table, cols, now_name)
        return
    rid = b.rowid_name(table) if not pk else ""  # `_rowid_` where a column is named rowid
    key = pk or [rid]
    t = quote_ident(table)
    have = set(_column_names(a, table)) if a.conn.table_exists(None, table) else set()
    have = {c for c in have if c not in now_name.values()} | {
        old for old, new in now_name.items() if new in have
    }
    kept = [c for c in cols if c in have]
    rid_now = a.rowid_name(table) if rid and have else rid

    def old_col(c: str) -> str:
        return f"o.{rid}" if c == rid else f"o.{quote_ident(c)}"

    def now_col(c: str) -> str:
        return f"n.{rid_now}" if c == rid else f"n.{quote_ident(now_name.get(c, c))}"

    # a rowid says which row it is only on the copy the draft was made from: production may
    # have given the rowid of a row the migration added to a row of its own, so rows there
    # are found by a key both sides keep unique and NOT NULL, by their values now
    natural = _unique_not_null(b, a, table) if rid else []
    natural = natural if set(natural) <= set(kept) else []

    def where(k: tuple, now_values: tuple | None) -> str:
        if natural and now_values is not None:
            values = dict(zip(kept, now_values, strict=True))
            return " AND ".join(f"{quote_ident(c)} = {_literal(values[c])}" for c in natural)
        return " AND ".join(
            f"{quote_ident(c) if c != rid else rid} = {_literal(v)}"
            for c, v in zip(key, k, strict=True)
        )

    given_by_sqlite = not natural and (rid or pk == [b.rowid_alias(table)])

    def as_added(now_values: tuple) -> str:
        """The rest of a row the migration added, as a guard, when its key is one SQLite
        gave it (the rowid, or an INTEGER PRIMARY KEY): in production, grown since the
        export, that key may be a row of its own."""
        if not given_by_sqlite:
            return ""
        return "".join(
            f" AND {quote_ident(c)} IS {_literal(v)}"
            for c, v in zip(kept, now_values, strict=True)
            if c not in key
        )

    n = len(key)
    match = " AND ".join(f"{old_col(c)} IS {now_col(c)}" for c in key)
    order_old = ", ".join(old_col(c) for c in key)
    with _paired(b, a if have else None) as conn:
        added: list[tuple] = []
        gone: set[tuple] = set()
        if have:
            for r in conn.execute(
                f"SELECT {', '.join(now_col(c) for c in [*key, *kept])} FROM now.{t} n "
                f"WHERE NOT EXISTS (SELECT 1 FROM main.{t} o WHERE {match}) "
                f"ORDER BY {', '.join(now_col(c) for c in key)}"
            ):
                added.append((r[:n], r[n:]))
            gone = {
                r
                for r in conn.execute(
                    f"SELECT {order_old} FROM main.{t} o "
                    f"WHERE NOT EXISTS (SELECT 1 FROM now.{t} n WHERE {match})"
                )
            }
        moved = _keys_moved(b, a, table, pk, gone, {k for k, _ in added})
        moved_to = set(moved.values())
        for k, now_values in added:
            if k not in moved_to:
                yield f"DELETE FROM {t} WHERE {where(k, now_values)}{as_added(now_values)};"
        now_by_key = {k: v for k, v in added if k in moved_to}  # where moved rows are now
        del added
        names = ", ".join(quote_ident(c) for c in cols)  # of a table with a key
        # whether the row was found: its rowid (never NULL), or a mark beside the columns of
        # a primary key that may hold NULLs
        hit = quote_ident(unused_name("_d1nb_hit", cols))
        found_sql, source = (
            (f"{now_col(rid)} IS NOT NULL", f"now.{t}")
            if rid
            else (f"n.{hit}", f"(SELECT 1 AS {hit}, * FROM now.{t})")
        )
        joined = f", {found_sql}{''.join(f', {now_col(c)}' for c in kept)} " + (
            f"FROM main.{t} o LEFT JOIN {source} n ON {match}"
        )
        # a row of a table without a key: its place among the export's rows equal to it
        rank = (
            f", row_number() OVER (PARTITION BY {', '.join(old_col(c) for c in cols)} "
            f"ORDER BY {old_col(rid)})"
            if rid
            else ""
        )
        rows = conn.execute(
            f"SELECT {', '.join(old_col(c) for c in [*key, *cols])}{rank}"
            + (joined if have else f" FROM main.{t} o")
            + f" ORDER BY {order_old}"
        )
        width = n + len(cols) + bool(rid)
        for r in rows:
            k, values = r[:n], r[n : n + len(cols)]
            found = have and bool(r[width])
            if k in moved:  # the row is there under another key: its key (and values) set back
                current = dict(zip(kept, now_by_key[moved[k]], strict=True))
                sets = ", ".join(
                    f"{quote_ident(c)} = {_literal(v)}"
                    for c, v in zip(cols, values, strict=True)
                    if c in pk
                    or c not in current
                    or current[c] != v
                    or type(current[c]) is not type(v)
                )
                yield f"UPDATE {t} SET {sets} WHERE {where(moved[k], now_by_key[moved[k]])};"
                continue
            if not found and rid:
                yield _put_back(t, rid, cols, k[0], values, natural, r[width - 1])
                continue
            if not found:
                yield (
                    f"INSERT OR IGNORE INTO {t} ({names}) "
                    f"VALUES ({', '.join(_literal(v) for v in values)});"
                )
                continue
            now_values = r[width + 1 :]
            current = dict(zip(kept, now_values, strict=True))
            changed = [
                (c, v)
                for c, v in zip(cols, values, strict=True)
                if c not in current or current[c] != v or type(current[c]) is not type(v)
            ]
            if changed:
                sets = ", ".join(f"{quote_ident(c)} = {_literal(v)}" for c, v in changed)
                yield f"UPDATE {t} SET {sets} WHERE {where(k, now_values)};"


def _put_back(
    t: str, rid: str, cols: list[str], rowid: int, values: tuple, natural: list[str], rank: int
) -> str:
    """An INSERT of a row of a table whose only key is its hidden rowid: under that rowid
    when it is free, under a new one when production has given it to a row of its own (a
    table a cascade emptied hands out 1, 2, … again; rows put back under new rowids take
    the rowids of rows after them), and not at all when the row is there (by its UNIQUE NOT
    NULL key `natural`, or, without one, when its rowid is taken and the table holds as many
    rows equal to it as its `rank` among the export's equal rows): so it can run again.
    `INSERT OR IGNORE` by rowid lost such a row to the new one (stranger's project #37)."""
    same = " AND ".join(
        f"{quote_ident(c)} IS {_literal(v)}" for c, v in zip(cols, values, strict=True)
    )
    taken = f"EXISTS (SELECT 1 FROM {t} WHERE {rid} = {rowid})"
    if natural:
        by_value = dict(zip(cols, values, strict=True))
        key = " AND ".join(f"{quote_ident(c)} = {_literal(by_value[c])}" for c in natural)
        absent = f"NOT EXISTS (SELECT 1 FROM {t} WHERE {key})"
    else:
        absent = f"NOT {taken} OR (SELECT count(*) FROM {t} WHERE {same}) < {rank}"
    names = ", ".join([rid, *(quote_ident(c) for c in cols)])
    picked = ", ".join(_literal(v) for v in values)
    return (
        f"INSERT INTO {t} ({names}) SELECT CASE WHEN {taken} THEN NULL ELSE {rowid} END, "
        f"{picked} WHERE {absent};"
    )


@contextmanager
def _paired(b: D1Engine, a: D1Engine | None) -> Iterator[apsw.Connection]:
    """One read-only connection to d1nb's own two working copies: the export's state as
    `main`, the migrated one (when given) attached as `now`, so that SQL joins them."""
    flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    conn = apsw.Connection(Path(b.path).resolve().as_uri() + "?mode=ro", flags=flags)
    try:
        if a is not None:
            conn.execute("ATTACH ? AS now", (Path(a.path).resolve().as_uri() + "?mode=ro",))
        yield conn
    finally:
        conn.close()


def _unique_not_null(b: D1Engine, a: D1Engine, table: str) -> list[str]:
    """The first UNIQUE NOT NULL key (`D1Engine.unique_not_null_keys`) `table` has on both
    sides: it finds one row by `=`, whatever its rowid. [] when there is none."""
    after = set(a.unique_not_null_keys(table))
    return next((list(k) for k in b.unique_not_null_keys(table) if k in after), [])


def _rowid_unreachable(engine: D1Engine, table: str) -> bool:
    """Whether columns named rowid, _rowid_ and oid hide `table`'s rowid from SQL."""
    try:
        engine.rowid_name(table)
    except InputError:
        return True
    return False


def _restore_by_content(
    b: D1Engine, a: D1Engine, table: str, cols: list[str], now_name: dict[str, str]
) -> list[str]:
    """`_restore_rows` for a table whose rows only their values tell apart (no key, and no
    name reaches the rowid, which no SQL can then see either): each distinct row set back to
    the number of copies it had. A row value with copies to remove is deleted whole and
    inserted again as often as it was; with any column gone, every row is."""
    t = quote_ident(table)

    def copies(engine: D1Engine, names: list[str]) -> Counter:
        select = ", ".join(quote_ident(c) for c in names)
        rows = engine.conn.execute(f"SELECT {select} FROM {t}")
        return Counter(tuple((type(v).__name__, v) for v in r) for r in rows)

    old = copies(b, cols)
    have = (
        {c.lower() for c in _column_names(a, table)} if a.conn.table_exists(None, table) else set()
    )
    names = [now_name.get(c, c) for c in cols]
    insert = f"INSERT INTO {t} ({', '.join(quote_ident(c) for c in cols)}) VALUES ({{}});"

    def inserted(row: tuple, times: int) -> list[str]:
        return [insert.format(", ".join(_literal(v) for _, v in row))] * times

    if not all(n.lower() in have for n in names):
        out = [f"DELETE FROM {t};"] if have else []  # nothing to match rows on
        return out + [
            s for row, n in sorted(old.items(), key=_content_order) for s in inserted(row, n)
        ]
    now = copies(a, names)
    out = []
    for row in sorted(old.keys() | now.keys(), key=lambda r: _content_order((r, 0))):
        if old.get(row, 0) == now.get(row, 0):
            continue
        same = " AND ".join(
            f"{quote_ident(c)} IS {_literal(v)}" for c, (_, v) in zip(cols, row, strict=True)
        )
        out.append(f"DELETE FROM {t} WHERE {same};")  # then as often as it was: safe to rerun
        out += inserted(row, old.get(row, 0))
    if out:
        out.insert(0, f"-- {table}: no key, no name reaching its rowid: rows matched by value")
    return out


def _content_order(item: tuple) -> tuple:
    return tuple(("", 0) if v is None else (kind, v) for kind, v in item[0])
