"""One table of two snapshots compared in DuckDB: rows matched on a key (or as a multiset of
whole rows) in one hash-join pass, NULL and repeated keys counted apart, per-column changes
with a tolerance for REAL columns, value statistics per side, masked samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from d1nb.formats.sql.text import quote_ident, unused_name

SAMPLE_ROWS = 5


MASK = "***"


@dataclass
class TableDiff:
    """How one table differs between the two snapshots."""

    table: str
    key: list[str]
    key_kind: str
    rows_before: int
    rows_after: int
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    unmatched_before: int = 0
    unmatched_after: int = 0
    columns: pd.DataFrame = field(default_factory=pd.DataFrame)
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    renamed_to: str = ""
    """The table's name after, when a migration renamed it (its rows compared across)."""

    @property
    def shown(self) -> str:
        """The table as a summary names it: `old → new` when renamed."""
        return f"{self.table} → {self.renamed_to}" if self.renamed_to else self.table

    @property
    def equal(self) -> bool:
        return (
            not (
                self.added
                or self.removed
                or self.changed
                or self.unmatched_before
                or self.unmatched_after
            )
            and self.rows_before == self.rows_after
        )


def compare_table(
    con,
    table: str,
    key: list[str] | None,
    kind: str,
    tolerance: dict[str, float],
    mask: set[str],
    renamed_to: str = "",
    collations: dict[str, str] | None = None,
) -> TableDiff:
    """How `table` differs between schemas `before` and `after` of `con` (`renamed_to`: its
    name in `after`, when a migration renamed it; `collations`: the key's columns compared
    under NOCASE or RTRIM, as the index keeping them unique does)."""
    names = {"before": table, "after": renamed_to or table}
    b_types = column_types(con, "before", table)
    a_types = column_types(con, "after", names["after"])
    columns = [c for c in b_types if c in a_types]
    key = [k for k in key or [] if k in columns]
    b, a = f"before.{quote_ident(table)}", f"after.{quote_ident(names['after'])}"
    folds = {
        k: c.upper()
        for k, c in (collations or {}).items()
        if k in key and c.upper() in _FOLDS and b_types[k] == a_types[k] == "VARCHAR"
    }
    if folds:  # matched by the key as the collation sees it; the key as written is a value
        folded = {k: unused_name(f"{k} ({c})", list(b_types)) for k, c in folds.items()}
        b, a = _with_folded_keys(b, folds, folded), _with_folded_keys(a, folds, folded)
        key = [folded.get(k, k) for k in key]
    count = "SELECT count(*) FROM {}"
    diff = TableDiff(
        table,
        key,
        kind if key else "whole row",
        con.execute(count.format(b)).fetchall()[0][0],
        con.execute(count.format(a)).fetchall()[0][0],
        renamed_to=renamed_to,
    )
    values = [c for c in columns if c not in key]
    one_sided = {c for c in b_types if c not in a_types} | {c for c in a_types if c not in b_types}
    retyped = [c for c in columns if b_types[c] != a_types[c]]
    compared = dict(b_types)  # the types values are compared as
    if retyped:  # a column whose type changed (the schema diff says so): compared as text
        b, a = _as_text(b, retyped), _as_text(a, retyped)
        compared |= dict.fromkeys(retyped, "VARCHAR")
    if not key:  # no key: multiset of whole rows
        cols = ", ".join(quote_ident(c) for c in columns)
        n = quote_ident(unused_name("_d1nb_rows", columns))  # the table's own `n` stays its own
        counts = con.execute(
            f"WITH x AS (SELECT {cols}, count(*) AS {n} FROM {b} GROUP BY ALL), "
            f"y AS (SELECT {cols}, count(*) AS {n} FROM {a} GROUP BY ALL) "
            f"SELECT coalesce(sum(greatest(coalesce(x.{n}, 0) - coalesce(y.{n}, 0), 0)), 0), "
            f"coalesce(sum(greatest(coalesce(y.{n}, 0) - coalesce(x.{n}, 0), 0)), 0), "
            f"coalesce(sum(least(coalesce(x.{n}, 0), coalesce(y.{n}, 0))), 0) "
            f"FROM x FULL OUTER JOIN y ON "
            + " AND ".join(
                f"x.{quote_ident(c)} IS NOT DISTINCT FROM y.{quote_ident(c)}" for c in columns
            )
        ).fetchall()[0]
        diff.removed, diff.added, diff.unchanged = (int(v) for v in counts)
        stats = _side_stats(con, names, b_types, a_types, set(columns) | one_sided)
        diff.columns = _column_frame(table, stats, columns, b_types, a_types, None)
        return diff
    passed = _join_pass(con, b, a, diff.table, key, values, tolerance, compared)
    if passed is None:  # NULL or repeated keys: match only the rows whose key is unique
        b, a = _unique_key_rows(con, diff, b, a, key)
        passed = _join_pass(con, b, a, diff.table, key, values, tolerance, compared)
        stats = _side_stats(con, names, b_types, a_types, set())
    else:
        stats = passed["stats"]
    diff.added, diff.removed, diff.changed = passed["added"], passed["removed"], passed["changed"]
    diff.unchanged = passed["matched"] - diff.changed
    per_column = passed["per_column"]
    moved = {c for c, counts in per_column.items() if any(counts)} | one_sided
    _add_distinct(con, names, stats, moved, b_types, a_types)
    diff.columns = _column_frame(table, stats, values, b_types, a_types, per_column)
    diff.samples = _samples(
        con, table, key, values, mask, tolerance, compared, b, a, passed["sample_keys"]
    )
    return diff


_FOLDS = {
    "NOCASE": "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
    "RTRIM": "rtrim({}, ' ')",
}
"""SQLite's collations as DuckDB expressions: NOCASE folds ASCII letters only, RTRIM
ignores trailing spaces."""


def _with_folded_keys(relation: str, folds: dict[str, str], folded: dict[str, str]) -> str:
    """`relation` with each key column of `folds` (its collation) beside it folded, under the
    name `folded` gives it, as a subquery."""
    extra = ", ".join(
        f"{_FOLDS[c].format(quote_ident(k))} AS {quote_ident(folded[k])}" for k, c in folds.items()
    )
    return f"(SELECT *, {extra} FROM {relation})"


def _as_text(relation: str, columns: list[str]) -> str:
    """`relation` with `columns` cast to text, as a subquery."""
    casts = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in columns)
    return f"(SELECT * REPLACE ({casts}) FROM {relation})"


def _row_hashes(side: str, key: list[str], values: list[str], h: str) -> str:
    """One side narrowed for the join: the key and one 64-bit hash, named `h`, of all other
    values."""
    hashed = f"hash({', '.join(quote_ident(c) for c in values)})" if values else "0"
    null_key = " OR ".join(f"{quote_ident(c)} IS NULL" for c in key)
    keys = ", ".join(quote_ident(c) for c in key)
    return f"SELECT {keys}, {hashed} AS {h} FROM {side} WHERE NOT ({null_key})"


def _narrowed(alias: str, column: str, types: dict[str, str]) -> str:
    """A value as the per-column counts compare it: numbers as they are (tolerances apply),
    anything else as a 64-bit hash (NULL stays NULL)."""
    value = f"{alias}.{quote_ident(column)}"
    if types.get(column) in _NUMERIC:
        return value
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE hash({value}) END"


_NUMERIC = ("BIGINT", "DOUBLE", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "BOOLEAN")


def _join_pass(
    con,
    b: str,
    a: str,
    table: str,
    key: list[str],
    values: list[str],
    tolerance: dict[str, float],
    types: dict[str, str],
) -> dict | None:
    """Everything a keyed comparison counts: one scan a side for NULL counts and numeric min,
    max, mean; one full outer join of the two narrowed sides that keeps only the rows added,
    removed or changed (few, usually), and from those the counts per kind and per column and
    the first keys of each kind. None when a key is NULL or repeated (the caller then matches
    the unique keys only).

    Text values are compared by a 64-bit hash: two different values share one with odds of
    about 1 in 2^64, the price of reading each value once.
    """
    stats, rows, null_keys = {}, {}, 0
    for side, source in (("before", b), ("after", a)):
        stats[side], rows[side], nulls = _scan_stats(con, source, key, values, types)
        null_keys += nulls
    if null_keys:
        return None
    on = " AND ".join(f"x.{quote_ident(c)} = y.{quote_ident(c)}" for c in key)
    first = quote_ident(key[0])
    h = quote_ident(unused_name("_d1nb_hash", key))  # a key column named h stays the key
    differs = []
    for i, c in enumerate(values):
        differs.append(_differs_by(f"b{i}", f"a{i}", _tol(tolerance, table, c), types.get(c)))
    keys = ", ".join(
        f"coalesce(x.{quote_ident(c)}, y.{quote_ident(c)}) AS k{j}" for j, c in enumerate(key)
    )
    # First the keys of the rows not unchanged, from a join that carries one hash per row; a
    # row whose hash moved but whose values compare equal (0.0 and -0.0, say) is counted as
    # unchanged below. Then the values of those few rows only.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE touched_keys AS SELECT {keys}, "
        f"CASE WHEN x.{first} IS NULL THEN 'added' WHEN y.{first} IS NULL THEN 'removed' "
        f"ELSE 'changed' END AS kind "
        f"FROM ({_row_hashes(b, key, values, h)}) x "
        f"FULL OUTER JOIN ({_row_hashes(a, key, values, h)}) y ON {on} "
        f"WHERE x.{first} IS NULL OR y.{first} IS NULL OR x.{h} <> y.{h}"
    )
    payload = "".join(
        f", {_narrowed('x', c, types)} AS b{i}, {_narrowed('y', c, types)} AS a{i}"
        for i, c in enumerate(values)
    )
    join = " AND ".join(f"t.k{j} = {{s}}.{quote_ident(c)}" for j, c in enumerate(key))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched AS SELECT "
        + ", ".join(f"t.k{j}" for j in range(len(key)))
        + f", t.kind{payload} FROM touched_keys t "
        f"LEFT JOIN {b} x ON t.kind <> 'added' AND {join.format(s='x')} "
        f"LEFT JOIN {a} y ON t.kind <> 'removed' AND {join.format(s='y')}"
    )
    con.execute("DROP TABLE touched_keys")
    row_key = "struct_pack(" + ", ".join(f"k{j} := k{j}" for j in range(len(key))) + ")"
    key_tuple = f"({', '.join(f'k{j}' for j in range(len(key)))})" if len(key) > 1 else "k0"
    any_differs = " OR ".join(differs) or "false"
    parts = [
        "count(*) FILTER (WHERE kind = 'added')",
        "count(*) FILTER (WHERE kind = 'removed')",
        f"count(*) FILTER (WHERE kind = 'changed' AND ({any_differs}))",
        f"count(*) - count(DISTINCT (kind, {key_tuple}))",
        f"min({row_key}, {SAMPLE_ROWS}) FILTER (WHERE kind = 'added')",
        f"min({row_key}, {SAMPLE_ROWS}) FILTER (WHERE kind = 'removed')",
        f"min({row_key}, {SAMPLE_ROWS}) FILTER (WHERE kind = 'changed' AND ({any_differs}))",
    ]
    for i in range(len(values)):
        changed = "kind = 'changed'"
        parts += [
            f"count(*) FILTER (WHERE {changed} AND {differs[i]})",
            f"count(*) FILTER (WHERE {changed} AND b{i} IS NOT NULL AND a{i} IS NULL)",
            f"count(*) FILTER (WHERE {changed} AND b{i} IS NULL AND a{i} IS NOT NULL)",
        ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM touched").fetchall()[0]
    con.execute("DROP TABLE touched")
    added, removed, changed, repeated = row[:4]
    matched = rows["before"] - removed
    # A key repeated on a side either repeats among the touched rows, or multiplies its matches
    # so that the two sides no longer agree on how many rows matched.
    if repeated or matched != rows["after"] - added:
        return None
    sample_keys = {
        kind: [tuple(k.values()) for k in found or []]
        for kind, found in zip(("added", "removed", "changed"), row[4:7], strict=True)
    }
    per_column = {c: row[7 + 3 * i : 10 + 3 * i] for i, c in enumerate(values)}
    return {
        "matched": matched,
        "added": added,
        "removed": removed,
        "changed": changed,
        "per_column": per_column,
        "stats": stats,
        "sample_keys": sample_keys,
    }


def _scan_stats(
    con, source: str, key: list[str], values: list[str], types: dict[str, str]
) -> tuple[dict[str, tuple], int, int]:
    """One scan of a side: per value column (None for distinct, NULLs, min, max, mean), the
    row count, and how many rows have a NULL key."""
    null_key = " OR ".join(f"{quote_ident(c)} IS NULL" for c in key)
    parts = ["count(*)", f"count(*) FILTER (WHERE {null_key})"]
    for c in values:
        qc = quote_ident(c)
        numeric = types.get(c) in _NUMERIC and types.get(c) != "BOOLEAN"
        parts.append(f"count(*) - count({qc})")
        parts.append(f"min({qc}), max({qc}), avg({qc})" if numeric else "NULL, NULL, NULL")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    stats = {c: (None, *row[2 + 4 * i : 6 + 4 * i]) for i, c in enumerate(values)}
    return stats, row[0], row[1]


def _count(con, source: str) -> int:
    return con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]


def _unique_key_rows(con, diff: TableDiff, b: str, a: str, key: list[str]) -> tuple[str, str]:
    """Temp tables of the rows whose key is non-NULL and unique on both sides; sets how many
    rows each side leaves out (they cannot be matched one to one and are counted apart)."""
    k = ", ".join(quote_ident(c) for c in key)
    null_key = " OR ".join(f"{quote_ident(c)} IS NULL" for c in key)
    repeated = f"SELECT {k} FROM {{t}} WHERE NOT ({null_key}) GROUP BY {k} HAVING count(*) > 1"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE bad_keys AS {repeated.format(t=b)} "
        f"UNION {repeated.format(t=a)}"
    )
    match = " AND ".join(f"bad_keys.{quote_ident(c)} = s.{quote_ident(c)}" for c in key)
    names = []
    for name, side in (("unique_before", b), ("unique_after", a)):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {side} s "
            f"WHERE NOT ({null_key}) AND NOT EXISTS (SELECT 1 FROM bad_keys WHERE {match})"
        )
        names.append(name)
    diff.unmatched_before = diff.rows_before - _count(con, names[0])
    diff.unmatched_after = diff.rows_after - _count(con, names[1])
    return names[0], names[1]


def _tol(tolerance: dict[str, float], table: str, column: str) -> float | None:
    return tolerance.get(f"{table}.{column}", tolerance.get(column))


def _differs(c: str, tolerance: dict[str, float], table: str, types: dict[str, str]) -> str:
    return _differs_by(
        f"kb.{quote_ident(c)}", f"ka.{quote_ident(c)}", _tol(tolerance, table, c), types.get(c)
    )


def _differs_by(b: str, a: str, tol: float | None, duck_type: str | None) -> str:
    """Whether two values of a column differ: numbers with a tolerance as doubles, past it;
    anything else when not identical."""
    if tol is not None and duck_type in _NUMERIC and duck_type != "BOOLEAN":
        return (
            f"(({b} IS NULL) <> ({a} IS NULL) "
            f"OR abs(CAST({b} AS DOUBLE) - CAST({a} AS DOUBLE)) > {float(tol)})"
        )
    return f"{b} IS DISTINCT FROM {a}"


def _side_stats(
    con,
    names: dict[str, str],
    b_types: dict[str, str],
    a_types: dict[str, str],
    distinct: set[str],
) -> dict[str, dict[str, tuple]]:
    """NULL count, (numeric) min, max, mean of every column, and the distinct count of the
    columns in `distinct`, one scan a side (`names`: the table's name on each side):
    {side: {column: (distinct, nulls, min, max, mean)}}."""
    return {
        side: _stats_of(con, side, names[side], types, list(types), distinct)
        for side, types in (("before", b_types), ("after", a_types))
    }


def _add_distinct(
    con,
    names: dict[str, str],
    stats: dict[str, dict[str, tuple]],
    columns: set[str],
    b_types: dict[str, str],
    a_types: dict[str, str],
) -> None:
    """Distinct counts, the one costly figure, for the columns whose values moved (and those
    only one side has); other columns keep None. Columns only one side has get their stats
    here too."""
    for side, types in (("before", b_types), ("after", a_types)):
        wanted = [c for c in types if c in columns]
        if not wanted:
            continue
        fresh = _stats_of(con, side, names[side], types, wanted, set(wanted))
        for c in wanted:
            old = stats[side].get(c)
            stats[side][c] = (fresh[c][0], *(old[1:] if old else fresh[c][1:]))


def _stats_of(
    con, side: str, table: str, types: dict[str, str], columns: list[str], distinct: set[str]
) -> dict[str, tuple]:
    if not columns:
        return {}
    parts = []
    for c in columns:
        qc = quote_ident(c)
        numeric = types[c] in _NUMERIC and types[c] != "BOOLEAN"
        parts.append(f"count(DISTINCT {qc})" if c in distinct else "NULL")
        parts.append(f"count(*) - count({qc})")
        parts.append(f"min({qc}), max({qc}), avg({qc})" if numeric else "NULL, NULL, NULL")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {side}.{quote_ident(table)}").fetchall()[0]
    return {c: row[5 * i : 5 * i + 5] for i, c in enumerate(columns)}


def _column_frame(
    table: str,
    stats: dict[str, dict[str, tuple]],
    values: list[str],
    b_types: dict[str, str],
    a_types: dict[str, str],
    per_column: dict[str, tuple] | None,
) -> pd.DataFrame:
    """The column summary of one table: compared columns, then those only one side has."""

    def mean(v: object) -> float | None:
        return round(v, 6) if v is not None else None

    rows = []
    for c in values:
        sb, sa = stats["before"][c], stats["after"][c]
        changed, gained, lost = per_column[c] if per_column else (None, None, None)
        rows.append(
            {
                "table": table,
                "column": c,
                "type": b_types.get(c),
                "changed": changed,
                "nulls_gained": gained,
                "nulls_lost": lost,
                "distinct_before": sb[0],
                "distinct_after": sa[0],
                "nulls_before": sb[1],
                "nulls_after": sa[1],
                "min_before": sb[2],
                "min_after": sa[2],
                "max_before": sb[3],
                "max_after": sa[3],
                "mean_before": mean(sb[4]),
                "mean_after": mean(sa[4]),
                "present": "both",
            }
        )
    for side, types, present in (
        ("after", a_types, "after only"),
        ("before", b_types, "before only"),
    ):
        other = b_types if side == "after" else a_types
        for c in (c for c in types if c not in other):
            s = stats[side][c]
            rows.append(
                {
                    "table": table,
                    "column": c,
                    "type": types[c],
                    f"distinct_{side}": s[0],
                    f"nulls_{side}": s[1],
                    f"min_{side}": s[2],
                    f"max_{side}": s[3],
                    f"mean_{side}": mean(s[4]),
                    "present": present,
                }
            )
    # object first: pandas would make a min or max column of ints and None float64, and
    # 9007199254740993 would read 9007199254740992
    frame = pd.DataFrame(rows, columns=COLUMN_SUMMARY, dtype=object)
    counts = [c for c in COLUMN_SUMMARY if c.split("_")[0] in ("changed", "nulls", "distinct")]
    return frame.astype(
        {c: "Int64" for c in counts} | {"mean_before": "float64", "mean_after": "float64"}
    )


COLUMN_SUMMARY = [
    "table",
    "column",
    "type",
    "changed",
    "nulls_gained",
    "nulls_lost",
    "distinct_before",
    "distinct_after",
    "nulls_before",
    "nulls_after",
    "min_before",
    "min_after",
    "max_before",
    "max_after",
    "mean_before",
    "mean_after",
    "present",
]


def _samples(
    con,
    table: str,
    key: list[str],
    values: list[str],
    mask: set[str],
    tolerance: dict[str, float],
    types: dict[str, str],
    b: str,
    a: str,
    sample_keys: dict[str, list[tuple]],
) -> pd.DataFrame:
    """Sample rows in long form (one line per column): all columns of added and removed rows,
    only the differing ones of changed rows, masked columns as ***. Only the sampled keys are
    read back from the two sides."""
    picked = [k for kind in ("added", "removed", "changed") for k in sample_keys.get(kind, [])]
    if not picked:
        return pd.DataFrame(columns=["table", "kind", "key", "column", "before", "after"])
    k = ", ".join(quote_ident(c) for c in key)
    holes = ", ".join("(" + ", ".join("?" for _ in key) + ")" for _ in picked)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE picked AS SELECT * FROM (VALUES {holes}) t({k})",
        [v for k_ in picked for v in k_],
    )
    match = " AND ".join(f"s.{quote_ident(c)} = p.{quote_ident(c)}" for c in key)
    for view, side in (("kb", b), ("ka", a)):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT s.* FROM {side} s "
            f"SEMI JOIN picked p ON {match}"
        )

    def shown(side: str, c: str) -> str:
        if c in mask or f"{table}.{c}" in mask:
            return f"CASE WHEN {side}.{quote_ident(c)} IS NULL THEN NULL ELSE '{MASK}' END"
        return f"CAST({side}.{quote_ident(c)} AS VARCHAR)"

    key_expr = " || ', ' || ".join(
        f"CAST(coalesce(kb.{quote_ident(c)}, ka.{quote_ident(c)}) AS VARCHAR)" for c in key
    )
    on = " AND ".join(f"kb.{quote_ident(c)} = ka.{quote_ident(c)}" for c in key)
    cols = "".join(
        f", {shown('kb', c)}, {shown('ka', c)}, {_differs(c, tolerance, table, types)}"
        for c in values
    )
    order = ", ".join(f"coalesce(kb.{quote_ident(c)}, ka.{quote_ident(c)})" for c in key)
    first = quote_ident(key[0])
    # ordered by expressions, not by the output's names: a table may have a column `kind`
    records = con.execute(
        f"SELECT CASE WHEN kb.{first} IS NULL THEN 'added' "
        f"WHEN ka.{first} IS NULL THEN 'removed' ELSE 'changed' END, "
        f"{key_expr}{cols} FROM kb FULL OUTER JOIN ka ON {on} "
        f"ORDER BY CASE WHEN kb.{first} IS NULL THEN 0 WHEN ka.{first} IS NULL THEN 1 ELSE 2 END, "
        f"{order}"
    ).fetchall()
    con.execute("DROP TABLE kb; DROP TABLE ka; DROP TABLE picked")
    rows = []
    for record in records:
        kind = record[0]
        for i, c in enumerate(values):
            before, after, differ = record[2 + 3 * i : 5 + 3 * i]
            if kind == "changed" and not differ:
                continue
            rows.append(
                {
                    "table": table,
                    "kind": kind,
                    "key": record[1],
                    "column": c,
                    "before": before,
                    "after": after,
                }
            )
    return pd.DataFrame(rows, columns=["table", "kind", "key", "column", "before", "after"])


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame as JSON-ready records: NaN and NA become None, numpy scalars plain numbers."""
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _plain(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
    )
