"""Integers an export wrote through JavaScript numbers: what `wrangler d1 export` loses.

Miniflare's `dumpSql` (wrangler 4.164, `d1 export --local`) prints every number with
JavaScript's `String()`. Past ±2^53 a JavaScript number skips integers, so 2^53 + 1 is written
9007199254740992, 2^62 is written 4611686018427388000, and 2^63 - 1 becomes
9223372036854776000, which SQLite reads back as a REAL. An export is then not the database:
such a column may differ from it, and a diff of two such exports cannot see changes there.

The export cannot say so itself, but it leaves a mark: every integer past 2^53 in it is exactly
how JavaScript prints the double nearest it. An exact writer (the sqlite3 shell, d1nb's own
export) gives itself away at the first integer that is not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.text import SqlTokenError, TokenType, quote_ident, tokenize
from d1nb.inputs.duckcopy import affinity

JS_EXACT_LIMIT = 2**53
"""Every integer below ±2^53 is a JavaScript number; from it on they skip, and 2^53 itself is
ambiguous: 2^53 + 1 is written 2^53 (found on a stranger's project: 59 values of 2^53 + 1,
exported as 2^53, loaded without a word)."""

CHECKED_PER_COLUMN = 10_000
"""How many integers past 2^53 are checked per column (each is a Python float formatting)."""


def javascript_shaped(value: int) -> bool:
    """Whether `value` is how JavaScript prints the double nearest it (Python's float repr is
    the same shortest round trip): 4611686018427388000 is, 2^62 itself is not."""
    return int(Decimal(repr(float(value)))) == value


@dataclass
class BigIntegers:
    """The integers past ±2^53 of one column: how many, and the first ones."""

    table: str
    column: str
    count: int
    first: list[int]


def gather(
    query: Callable[[str], list[tuple]],
    tables: dict[str, list[str]],
    is_integer: Callable[[str], str],
    schema: str | None = None,
) -> list[BigIntegers]:
    """The columns (`tables`: table → columns) holding integers of ±2^53 or more, by two queries per
    table at most: one scan counting them, one fetching the first CHECKED_PER_COLUMN of the
    columns that have any. `is_integer(column SQL)` says, in the engine's SQL, that a value
    is an integer (SQLite: by its storage class; DuckDB: a BIGINT column needs nothing);
    `schema` qualifies the tables."""
    found = []
    for table, columns in tables.items():
        if not columns:
            continue
        beyond = {
            c: f"{is_integer(quote_ident(c))} AND ({quote_ident(c)} >= {JS_EXACT_LIMIT} "
            f"OR {quote_ident(c)} <= -{JS_EXACT_LIMIT})"
            for c in columns
        }
        source = (
            quote_ident(table) if schema is None else f"{quote_ident(schema)}.{quote_ident(table)}"
        )
        counts = query(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {w})" for w in beyond.values())
            + f" FROM {source}"
        )[0]
        for column, count in zip(columns, counts, strict=True):
            if count:
                first = query(
                    f"SELECT {quote_ident(column)} FROM {source} WHERE {beyond[column]} "
                    f"LIMIT {CHECKED_PER_COLUMN}"
                )
                written = [_written(v) for (v,) in first]
                found.append(BigIntegers(table, column, int(count), written))
    return found


def _written(value: int | float) -> int:
    """The integer a value was written as: a REAL of ±2^63 (an integer column's 2^63 - 1 or
    -2^63 through JavaScript) was 9223372036854776000, its shortest round trip."""
    return value if isinstance(value, int) else int(Decimal(repr(value)))


def rounded_integers_note(found: list[BigIntegers]) -> str | None:
    """The note for a load whose integers past 2^53 are all JavaScript-shaped (every one
    checked); None when there are none, or when one is not (an exact writer)."""
    if not found:
        return None
    for column in found:
        if not all(javascript_shaped(v) for v in column.first):
            return None
    total = sum(c.count for c in found)
    checked = sum(len(c.first) for c in found)
    where = ", ".join(f"{c.table}.{c.column} ({c.count:,})" for c in found)
    example = found[0].first[0]
    return (
        f"{total:,} integer(s) of ±2^53 or more in {where}, e.g. {example}, are all "
        f"{'' if checked == total else f'(the {checked:,} checked) '}as JavaScript prints a "
        "double: this export was written through JavaScript numbers, as `wrangler d1 export` "
        "and `wrangler d1 execute --json` write them, which round integers past 2^53 "
        "(2^62 is written 4611686018427388000; "
        "past 2^63 they load as REAL). The database may hold other values in these columns, "
        "and a diff of two such exports cannot see changes there: read them from the local "
        "state (.wrangler/state) or compare them as text in the database itself."
    )


def collapsed_keys_note(statement: str) -> str | None:
    """Why a dump's row broke a UNIQUE key, when the row holds JavaScript-shaped integers of
    ±2^53 or more: `wrangler d1 export` rounded distinct keys (snowflake ids, say) into one
    number, so the export cannot rebuild its database. None when it holds none."""
    try:
        tokens = tokenize(statement)
    except SqlTokenError:
        return None
    shaped = [
        int(t.text)
        for t in tokens
        if t.type == TokenType.NUMBER
        and t.text.isdigit()
        and int(t.text) >= JS_EXACT_LIMIT
        and javascript_shaped(int(t.text))
    ]
    if not shaped:
        return None
    return (
        f"the row holds {shaped[0]}, an integer past 2^53 as JavaScript prints a double: "
        "`wrangler d1 export` writes integers through JavaScript numbers, so distinct keys "
        "near it were all written as this one number, and this export cannot rebuild the "
        "database (importing it into D1 fails the same way). Read the rows from the local "
        "state (.wrangler/state) instead, or keep such keys as TEXT"
    )


def rounded_columns(found: list[BigIntegers]) -> list[tuple[str, str]]:
    """(table, column) of each column `rounded_integers_note` speaks of: a diff compares them
    as doubles against an exact side."""
    if rounded_integers_note(found) is None:
        return []
    return [(c.table, c.column) for c in found]


def rounding_in_working_copy(engine: D1Engine) -> tuple[str | None, list[tuple[str, str]]]:
    """rounded_integers_note and rounded_columns for the rows of a SQLite working copy
    (generated columns, which are computed, aside)."""
    found = []
    for table in engine.tables():
        columns = engine.columns(table)
        for numeric, condition in ((False, _is_integer), (True, _is_integer_or_past_int64)):
            found += gather(
                lambda sql: engine.conn.execute(sql).fetchall(),
                {table: [c[1] for c in columns if _numeric(c[2]) == numeric]},
                condition,
            )
    return rounded_integers_note(found), rounded_columns(found)


def _numeric(declared: str) -> bool:
    """Whether a column stores an integer literal as an INTEGER when it fits (INTEGER or
    NUMERIC affinity): one past int64 is a REAL there only because it did not fit."""
    return affinity(declared) in ("INTEGER", "NUMERIC")


def _is_integer(column: str) -> str:
    return f"typeof({column}) = 'integer'"


def _is_integer_or_past_int64(column: str) -> str:
    edge = repr(float(2**63))
    return (
        f"(typeof({column}) = 'integer' OR typeof({column}) = 'real' "
        f"AND ({column} = {edge} OR {column} = -{edge}))"
    )
