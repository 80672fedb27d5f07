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


@dataclass
class SchemaEvolution:
    """The schema after every migration file, replayed from an empty database."""

    service: str
    outcomes: list[MigrationOutcome] = field(default_factory=list)
    schema_sql: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)
    foreign_keys_before: dict[str, list[tuple[str, str, str, str, str]]] = field(
        default_factory=dict
    )
    columns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCHEMA_COLUMNS))

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
        rows = []
        previous: set[tuple[str, str]] = set()
        previous_tables: set[str] = set()
        for order, outcome in enumerate(self.outcomes, 1):
            now = self.columns[self.columns["order"] == order]
            cols = set(zip(now["table"], now["column"], strict=True))
            tables = set(now["table"])
            rows.append(
                {
                    "order": order,
                    "file": outcome.name,
                    "ok": outcome.ok,
                    "tables_created": ", ".join(sorted(tables - previous_tables)),
                    "tables_dropped": ", ".join(sorted(previous_tables - tables)),
                    "columns_added": ", ".join(
                        f"{t}.{c}" for t, c in sorted(cols - previous) if t in previous_tables
                    ),
                    "columns_removed": ", ".join(
                        f"{t}.{c}" for t, c in sorted(previous - cols) if t in tables
                    ),
                }
            )
            previous, previous_tables = cols, tables
        return pd.DataFrame(rows)

    def final_tables(self) -> pd.DataFrame:
        """Columns of every table after the last file, one row per column."""
        if self.columns.empty:
            return self.columns
        last = self.columns["order"].max()
        return self.columns[self.columns["order"] == last].drop(columns=["order", "file"])


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
            evolution.foreign_keys_before[f.name] = engine.foreign_keys()
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
            evolution.schema_sql[f.name] = engine.schema()
            for table in engine.tables():
                if table == ledger_table:
                    continue
                for cid, name, type_, notnull, default, pk in engine.columns(table):
                    rows.append(
                        (order, f.name, table, cid, name, type_, bool(notnull), default, pk)
                    )
    evolution.columns = pd.DataFrame(rows, columns=SCHEMA_COLUMNS)
    return evolution


def project_schema_changes(history: History) -> pd.DataFrame:
    """Schema changes per file for every service, replayed from empty (one table to read)."""
    frames = []
    for service, mdir in history.migration_dirs.items():
        evolution = schema_evolution(mdir, service, history.binding(service).migrations_table)
        frames.append(evolution.changes().assign(service=service))
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    return frame[["service", *[c for c in frame.columns if c != "service"]]]


def project_failures_from_empty(history: History) -> pd.DataFrame:
    """Files that fail when each service's history is replayed from an empty database."""
    frames = [
        schema_evolution(mdir, service, history.binding(service).migrations_table).failures()
        for service, mdir in history.migration_dirs.items()
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["service", "file", "line", "error"])
    return pd.concat(frames, ignore_index=True)
