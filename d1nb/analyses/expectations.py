"""Expectations and extra invariants as a user states them (on the command line or in a .sql
file): light to import, so `d1nb diff` checks its arguments before anything heavy loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from d1nb.problems import InputError


@dataclass(frozen=True)
class Expectation:
    """A named SQL query over schemas `before` and `after` that returns the rows breaking it.

    It holds when the query returns no row (the convention of dbt's data tests), so the query
    is also the way to look at what went wrong.
    """

    name: str
    sql: str


def expect(name: str, sql: str) -> Expectation:
    """An expectation: `expect("no score lost", "SELECT id FROM before.scores EXCEPT SELECT id
    FROM after.scores")` holds when the query returns nothing."""
    return Expectation(name, sql.strip().rstrip(";"))


def read_expectations(path: str | Path) -> list[Expectation]:
    """Expectations from a .sql file: each query preceded by a `-- expect: NAME` line."""
    from d1nb.formats.sql.text import split_statements
    from d1nb.problems import line_of_offset

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    found, previous_end = [], 0
    for begin, end, sql, _complete in split_statements(text):
        names = [
            line.split(":", 1)[1].strip()
            for line in text[previous_end:begin].splitlines() + sql.splitlines()[:1]
            if line.strip().lower().startswith("-- expect:")
        ]
        if not names:
            raise InputError(
                path,
                line_of_offset(text, begin),
                "a query without a '-- expect: NAME' line above it",
            )
        found.append(expect(names[-1], sql))
        previous_end = end
    return found


@dataclass
class Invariants:
    """Invariants beyond the declared ones, keyed by `table.column` (or `table` for unique).

    `accepted` maps `table.column` or `table.column$.json.path` to the values allowed (NULL is
    always allowed; use `not_null` for that); `unique` maps a table to column sets that must be
    unique; `json` names TEXT columns that must hold valid JSON (found by content otherwise).
    """

    not_null: list[str] = field(default_factory=list)
    unique: dict[str, list[list[str]]] = field(default_factory=dict)
    accepted: dict[str, list[object]] = field(default_factory=dict)
    json: list[str] = field(default_factory=list)
