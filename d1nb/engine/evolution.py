"""How the schema evolved: every migration file of a service applied to an empty D1 database,
one at a time, with the tables and columns before and after each and the files that fail.

Replaying the files from empty shows how every table's columns evolved, and which files fail
from empty — a common sign that production drifted from the files (a base schema applied by
hand, an applied file edited later). A file that fails only because an earlier one failed is
marked as that file's knock-on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
from tqdm import tqdm

from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import MigrationOutcome
from d1nb.formats.migrations import MigrationDir, MigrationFile, Statement
from d1nb.formats.sql.shapes import table_columns
from d1nb.formats.sql.text import shown

SCHEMA_COLUMNS = ["order", "file", "table", "cid", "column", "type", "notnull", "default", "pk"]
CHANGE_COLUMNS = [
    "order",
    "file",
    "ok",
    "tables_created",
    "tables_dropped",
    "columns_added",
    "columns_removed",
]
_DDL_KINDS = {
    "create_table",
    "create_virtual_table",
    "drop_table",
    "add_column",
    "drop_column",
    "rename_column",
    "rename_table",
    "other",
}


@dataclass
class SchemaEvolution:
    """How the schema changed with every migration file, replayed from an empty database.

    Only the tables a file touches are read before and after it, so the cost grows with the
    number of statements, not with files × tables.
    """

    service: str
    outcomes: list[MigrationOutcome] = field(default_factory=list)
    tables_before: dict[str, dict[str, str]] = field(default_factory=dict)
    foreign_keys_before: dict[str, list[tuple[str, str, str, str, str]]] = field(
        default_factory=dict
    )
    triggers_before: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    """Per file that UPDATEs tables: each such table's triggers (name, CREATE TRIGGER) just
    before the file."""
    kept_by_rebuilt: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    """Per file that drops tables: the triggers and indexes on each such table (name, CREATE
    statement) just before the file; DROP TABLE takes them along."""
    foreign_keys_at_drop: dict[tuple[str, int], list[tuple[str, str, str, str, str]]] = field(
        default_factory=dict
    )
    """The foreign keys just before each DROP TABLE ran, by (file, statement index): children
    dropped or created earlier in the same file are already gone or there."""
    change_rows: list[dict] = field(default_factory=list)
    columns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEMA_COLUMNS))
    final: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEMA_COLUMNS))
    final_sql: list[tuple[str, str]] = field(default_factory=list)
    """(name, CREATE statement) of the final tables and indexes, to build an empty copy."""
    final_later_sql: list[tuple[str, str]] = field(default_factory=list)
    """(name, CREATE statement) of the final views and triggers, for such a copy once its rows
    are in (a trigger must not fire on them)."""

    def failures(self) -> pd.DataFrame:
        """Files that fail from an empty database, with SQLite's message and line."""
        rows = [
            {"service": self.service, "file": o.name, "line": o.error_line, "error": o.error}
            for o in self.outcomes
            if not o.ok
        ]
        return pd.DataFrame(rows, columns=["service", "file", "line", "error"])

    def changes(self) -> pd.DataFrame:
        """Per file: tables created and dropped, columns added and removed."""
        return pd.DataFrame(self.change_rows, columns=CHANGE_COLUMNS)


def _touched_tables(statements: list) -> set[str]:
    touched = set()
    for s in statements:
        if s.kind in _DDL_KINDS and s.table:
            touched.add(s.table)
        if s.kind == "rename_table" and s.detail:
            touched.add(s.detail)
    return touched


def _columns_of(engine: D1Engine, tables: set[str]) -> dict[str, list[tuple]]:
    """Each table's columns, generated ones included: they are part of its shape."""
    return {t: cols for t in sorted(tables) if (cols := engine.columns(t, generated=True))}


def unreadable_outcome(f: MigrationFile) -> MigrationOutcome:
    """A file that is not UTF-8 text (NUL bytes, bad bytes) fails: nothing of it is replayed
    and no one can say what D1 would make of it."""
    problem = f.problems[0] if f.problems else None
    return MigrationOutcome(
        f.name,
        ok=False,
        error=f"unreadable file: {problem.message if problem else 'not text'}",
        error_line=problem.line if problem else 0,
    )


class _DropWatcher:
    """A statement meter that notes the foreign keys in force before each DROP TABLE."""

    def __init__(self, engine: D1Engine, name: str, into: dict):
        self.engine, self.name, self.into = engine, name, into

    def before(self, s: Statement) -> None:
        if s.kind == "drop_table":
            self.into[(self.name, s.index)] = self.engine.foreign_keys()

    def after(self, s: Statement, changes: int, error: str | None) -> None:
        pass


def schema_evolution(
    mdir: MigrationDir,
    service: str = "",
    ledger_table: str = "d1_migrations",
) -> SchemaEvolution:
    """Apply every file of `mdir` to an empty D1 database, one at a time, recording the schema.

    A failing file is rolled back and the replay goes on with the next, so one early failure
    does not hide the rest of the history.
    """
    evolution = SchemaEvolution(service)
    rows = []
    with D1Engine(":memory:") as engine:
        files = tqdm(mdir.files, desc=f"replaying {service or 'history'} from empty",
                     unit="file", disable=None, leave=False)  # fmt: skip
        for order, f in enumerate(files, 1):
            touched = _touched_tables(f.statements)
            if any(s.kind == "drop_table" or "or_replace" in s.flags for s in f.statements):
                # rows these delete run their children's ON DELETE actions (lint D1N008, D1N024)
                evolution.foreign_keys_before[f.name] = engine.foreign_keys()
            evolution.tables_before[f.name] = engine.table_sql(touched)
            updated = {s.table for s in f.statements if s.kind == "update" and s.table}
            if updated:
                evolution.triggers_before[f.name] = engine.triggers_on(updated)
            dropped = {s.table for s in f.statements if s.kind == "drop_table" and s.table}
            if dropped:
                kept = engine.triggers_on(dropped)
                for table, indexes in engine.triggers_on(dropped, "index").items():
                    kept.setdefault(table, []).extend(indexes)
                evolution.kept_by_rebuilt[f.name] = kept
            before = _columns_of(engine, touched)
            if f.text is None:
                outcome = unreadable_outcome(f)
            else:
                outcome = engine.apply_migration(
                    f.name,
                    f.statements,
                    ledger_table=ledger_table,
                    applied_at="1970-01-01 00:00:00",
                    meter=_DropWatcher(engine, f.name, evolution.foreign_keys_at_drop),
                )
            evolution.outcomes.append(outcome)
            after = _columns_of(engine, touched)
            cols_before = {(t, c[1]) for t, cs in before.items() for c in cs}
            cols_after = {(t, c[1]) for t, cs in after.items() for c in cs}
            evolution.change_rows.append(
                {
                    "order": order,
                    "file": f.name,
                    "ok": outcome.ok,
                    "tables_created": ", ".join(shown(t) for t in sorted(set(after) - set(before))),
                    "tables_dropped": ", ".join(shown(t) for t in sorted(set(before) - set(after))),
                    "columns_added": ", ".join(
                        shown(t, c) for t, c in sorted(cols_after - cols_before) if t in before
                    ),
                    "columns_removed": ", ".join(
                        shown(t, c) for t, c in sorted(cols_before - cols_after) if t in after
                    ),
                }
            )
            for table, cols in after.items():
                rows += [
                    (order, f.name, table, cid, name, type_, bool(notnull), default, pk)
                    for cid, name, type_, notnull, default, pk in cols
                ]
        mark_knock_ons({f.name: f for f in mdir.files}, evolution.outcomes)
        evolution.final_sql = engine.plain_schema_sql()
        evolution.final_later_sql = engine.plain_schema_sql(("view", "trigger"))
        final = [
            (len(mdir.files), "", table, *col)
            for table in engine.tables()
            if table != ledger_table
            for col in engine.columns(table)
        ]
    evolution.columns = pd.DataFrame(rows, columns=SCHEMA_COLUMNS)
    evolution.final = pd.DataFrame(final, columns=SCHEMA_COLUMNS).astype({"notnull": bool})
    return evolution


def _created_names(f: MigrationFile) -> set[str]:
    """Names of what a file's statements create: tables, views, indexes, triggers, columns."""
    names = set()
    for s in f.statements:
        if s.kind in ("create_table", "create_view", "create_virtual_table") and s.table:
            names.add(s.table)
            names.update(table_columns(s.sql) if s.kind == "create_table" else [])
        elif s.kind in ("create_index", "create_trigger", "rename_table", "add_column"):
            names.add(s.detail)
        elif s.kind == "rename_column":
            names.add(s.detail.split(" -> ")[-1])
    return {n for n in names if n}


_MISSING_NAME = re.compile(
    r"(?:no such (?:table|column|index|view|trigger): (?:\w+\.)?|has no column named )(\S+)"
)
"""SQLite's words for a name that is not there (the table of `main.t` is `t`)."""


def mark_knock_ons(files: dict[str, MigrationFile], outcomes: list[MigrationOutcome]) -> None:
    """Mark each failed outcome whose error names something an earlier failed file would have
    created (`no such table: X`, `no such column: Y`) as a knock-on of that file."""
    failed: list[tuple[str, set[str]]] = []
    for o in outcomes:
        if o.ok:
            continue
        missing = {m.lower() for m in _MISSING_NAME.findall(o.error or "")}
        for name, created in reversed(failed):
            if missing & {n.lower() for n in created}:
                o.knock_on_of = name
                o.notes.append(f"fails only because {name} failed before it")
                break
        f = files.get(o.name)
        failed.append((o.name, _created_names(f) if f else set()))
