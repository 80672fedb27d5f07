"""Replaying migration files on a D1 engine: from an empty database (schema evolution).

Replaying the files from empty shows how every table's columns evolved, and which files fail
from empty — a common sign that production drifted from the files (a base schema applied by
hand, an applied file edited later).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .engine import D1Engine, MigrationOutcome
from .history import History
from .migrations import MigrationDir

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
    change_rows: list[dict] = field(default_factory=list)
    columns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEMA_COLUMNS))
    final: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEMA_COLUMNS))
    final_sql: list[tuple[str, str]] = field(default_factory=list)
    """(name, CREATE statement) of the final tables and indexes, to build an empty copy."""

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

    def final_tables(self) -> pd.DataFrame:
        """Columns of every table after the last file, one row per column."""
        return self.final.drop(columns=["order", "file"])


def _touched_tables(statements: list) -> set[str]:
    touched = set()
    for s in statements:
        if s.kind in _DDL_KINDS and s.table:
            touched.add(s.table)
        if s.kind == "rename_table" and s.detail:
            touched.add(s.detail)
    return touched


def _columns_of(engine: D1Engine, tables: set[str]) -> dict[str, list[tuple]]:
    return {t: engine.columns(t) for t in sorted(tables) if engine.columns(t)}


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
        for order, f in enumerate(mdir.files, 1):
            touched = _touched_tables(f.statements)
            if any(s.kind == "drop_table" for s in f.statements):
                evolution.foreign_keys_before[f.name] = engine.foreign_keys()
            evolution.tables_before[f.name] = engine.table_sql(touched)
            before = _columns_of(engine, touched)
            if f.text is None:
                outcome = MigrationOutcome(f.name, ok=False, error="unreadable file")
            else:
                outcome = engine.apply_migration(
                    f.name,
                    f.statements,
                    ledger_table=ledger_table,
                    applied_at="1970-01-01 00:00:00",
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
                    "tables_created": ", ".join(sorted(set(after) - set(before))),
                    "tables_dropped": ", ".join(sorted(set(before) - set(after))),
                    "columns_added": ", ".join(
                        f"{t}.{c}" for t, c in sorted(cols_after - cols_before) if t in before
                    ),
                    "columns_removed": ", ".join(
                        f"{t}.{c}" for t, c in sorted(cols_before - cols_after) if t in after
                    ),
                }
            )
            for table, cols in after.items():
                rows += [
                    (order, f.name, table, cid, name, type_, bool(notnull), default, pk)
                    for cid, name, type_, notnull, default, pk in cols
                ]
        evolution.final_sql = engine.plain_schema_sql()
        final = [
            (len(mdir.files), "", table, *col)
            for table in engine.tables()
            if table != ledger_table
            for col in engine.columns(table)
        ]
    evolution.columns = pd.DataFrame(rows, columns=SCHEMA_COLUMNS)
    evolution.final = pd.DataFrame(final, columns=SCHEMA_COLUMNS).astype({"notnull": bool})
    return evolution


def evolution_of(history: History, service: str) -> SchemaEvolution:
    """The schema evolution of one service, replayed once per History and then reused."""
    if service not in history.evolutions:
        history.evolutions[service] = schema_evolution(
            history.migration_dirs[service], service, history.binding(service).migrations_table
        )
    return history.evolutions[service]


def _per_service(history: History, frame_of, columns: list[str]) -> pd.DataFrame:
    frames = [frame_of(evolution_of(history, s)).assign(service=s) for s in history.migration_dirs]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["service", *columns])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["service", *[c for c in frame.columns if c != "service"]]]


def project_schema_changes(history: History) -> pd.DataFrame:
    """Schema changes per file for every service, replayed from empty (one table to read)."""
    return _per_service(history, SchemaEvolution.changes, CHANGE_COLUMNS)


def project_failures_from_empty(history: History) -> pd.DataFrame:
    """Files that fail when each service's history is replayed from an empty database."""
    return _per_service(
        history, lambda e: e.failures().drop(columns="service"), ["file", "line", "error"]
    )


def project_table_columns(history: History) -> pd.DataFrame:
    """Every table's columns after every migration that changed it, one row per (file, table)."""

    def collapse(evolution: SchemaEvolution) -> pd.DataFrame:
        cols = evolution.columns.assign(
            column=lambda f: f["column"] + (" " + f["type"]).where(f["type"] != "", "")
        )
        grouped = cols.groupby(["order", "file", "table"], sort=True)["column"]
        return grouped.agg(", ".join).reset_index().rename(columns={"column": "columns"})

    return _per_service(history, collapse, ["order", "file", "table", "columns"])
