"""Before/after comparison of two snapshots, as SQL in DuckDB.

Both snapshots are copied into one DuckDB connection (schemas `before` and `after`); each table
is compared on a key (its primary key, one given, or a hash of the whole row for tables without
one) by a full outer join with `IS DISTINCT FROM` per column, a tolerance for REAL columns.
Rows whose key is NULL or repeated cannot be matched one to one; they are compared as a
multiset of whole rows and counted apart. The report follows datacompy's sections: summary,
column summary, row summary, column comparison, samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from .engine import D1Engine
from .snapshots import Snapshot

SAMPLE_ROWS = 5
MASK = "***"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


@dataclass
class Diff:
    """The comparison of two snapshots: schema, tables, columns, samples."""

    schema: pd.DataFrame
    tables: dict[str, TableDiff]
    con: duckdb.DuckDBPyConnection

    @property
    def equal(self) -> bool:
        return self.schema.empty and all(t.equal for t in self.tables.values())

    def summary(self) -> pd.DataFrame:
        """One row per table: key used, rows before/after, added, removed, changed."""
        rows = [
            {
                "table": t.table,
                "key": ", ".join(t.key) or "(whole row)",
                "key_kind": t.key_kind,
                "rows_before": t.rows_before,
                "rows_after": t.rows_after,
                "added": t.added,
                "removed": t.removed,
                "changed": t.changed,
                "unchanged": t.unchanged,
                "unmatched_before": t.unmatched_before,
                "unmatched_after": t.unmatched_after,
                "equal": t.equal,
            }
            for t in self.tables.values()
        ]
        return pd.DataFrame(rows)

    def column_summary(self) -> pd.DataFrame:
        """Per column of every table: values changed, NULLs gained/lost, distinct, numeric shift."""
        frames = [t.columns for t in self.tables.values() if not t.columns.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def samples(self) -> pd.DataFrame:
        frames = [t.samples for t in self.tables.values() if not t.samples.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def text(self) -> str:
        """The report as plain text (for the CLI and logs)."""
        parts = [
            "Schema changes",
            self.schema.to_string(index=False) if not self.schema.empty else "  (none)",
            "",
            "Summary",
            self.summary().to_string(index=False),
        ]
        columns = self.column_summary()
        if not columns.empty:
            changed = columns[
                (columns["changed"] > 0)
                | (columns["nulls_gained"] > 0)
                | (columns["nulls_lost"] > 0)
            ]
            parts += [
                "",
                "Columns with changes",
                changed.to_string(index=False) if not changed.empty else "  (none)",
            ]
        return "\n".join(parts)


def _schema_objects(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    with D1Engine(snapshot.path, statement_limit=0) as engine:
        objects = {
            (t, name): sql for t, name, _tbl, sql in engine.schema() if not name.startswith("_cf_")
        }
        for table in engine.tables():
            for _cid, col, type_, notnull, default, pk in engine.columns(table):
                objects[("column", f"{table}.{col}")] = (
                    f"{type_}{' NOT NULL' if notnull else ''}"
                    f"{f' DEFAULT {default}' if default is not None else ''}"
                    f"{' PRIMARY KEY' if pk else ''}"
                )
    return objects


def schema_diff(before: Snapshot, after: Snapshot) -> pd.DataFrame:
    """Tables, columns (declared type, NOT NULL, default), indexes, triggers, views added,
    removed or changed."""
    a, b = _schema_objects(before), _schema_objects(after)
    rows = []
    for key in sorted(a.keys() | b.keys()):
        if key not in b:
            change = "removed"
        elif key not in a:
            change = "added"
        elif a[key] != b[key]:
            change = "changed"
        else:
            continue
        rows.append(
            {
                "object": key[0],
                "name": key[1],
                "change": change,
                "before": a.get(key),
                "after": b.get(key),
            }
        )
    return pd.DataFrame(rows, columns=["object", "name", "change", "before", "after"])


def _primary_key(snapshot: Snapshot, table: str) -> list[str]:
    with D1Engine(snapshot.path, statement_limit=0) as engine:
        cols = sorted((c for c in engine.columns(table) if c[5]), key=lambda c: c[5])
    return [c[1] for c in cols]


def _column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
    )


def compare_tables(
    before: Snapshot,
    after: Snapshot,
    keys: dict[str, list[str]] | None = None,
    tolerance: dict[str, float] | None = None,
    mask: set[str] | None = None,
    tables: list[str] | None = None,
) -> Diff:
    """Compare two snapshots table by table in DuckDB.

    `keys` gives a key per table (default: its primary key, else a whole-row hash);
    `tolerance` an absolute tolerance per REAL column (`table.column` or `column`);
    `mask` columns whose values samples replace with ***.
    """
    keys, tolerance, mask = keys or {}, tolerance or {}, mask or set()
    con = duckdb.connect()
    before.duckdb(con, "before")
    after.duckdb(con, "after")
    result = Diff(schema_diff(before, after), {}, con)
    common = sorted(set(before.row_counts) & set(after.row_counts))
    for table in tables or common:
        result.tables[table] = _compare_table(
            con, before, after, table, keys.get(table), tolerance, mask
        )
    return result


def _compare_table(
    con,
    before: Snapshot,
    after: Snapshot,
    table: str,
    key: list[str] | None,
    tolerance: dict[str, float],
    mask: set[str],
) -> TableDiff:
    b_types = _column_types(con, "before", table)
    a_types = _column_types(con, "after", table)
    columns = [c for c in b_types if c in a_types]
    kind = "given"
    if not key:
        key = [k for k in _primary_key(after, table) if k in columns]
        kind = "primary key" if key else "whole row"
    b, a = f"before.{_q(table)}", f"after.{_q(table)}"
    diff = TableDiff(
        table, key, kind, before.row_counts.get(table, 0), after.row_counts.get(table, 0)
    )
    values = [c for c in columns if c not in key]
    if not key:  # no key: multiset of whole rows
        cols = ", ".join(_q(c) for c in columns)
        counts = con.execute(
            f"WITH x AS (SELECT {cols}, count(*) AS n FROM {b} GROUP BY ALL), "
            f"y AS (SELECT {cols}, count(*) AS n FROM {a} GROUP BY ALL) "
            "SELECT coalesce(sum(greatest(coalesce(x.n, 0) - coalesce(y.n, 0), 0)), 0), "
            "coalesce(sum(greatest(coalesce(y.n, 0) - coalesce(x.n, 0), 0)), 0), "
            "coalesce(sum(least(coalesce(x.n, 0), coalesce(y.n, 0))), 0) "
            f"FROM x FULL OUTER JOIN y ON "
            + " AND ".join(f"x.{_q(c)} IS NOT DISTINCT FROM y.{_q(c)}" for c in columns)
        ).fetchall()[0]
        diff.removed, diff.added, diff.unchanged = (int(v) for v in counts)
        diff.columns = _column_stats(con, table, b, a, columns, None, tolerance, b_types)
        return diff
    k = ", ".join(_q(c) for c in key)
    null_key = " OR ".join(f"{_q(c)} IS NULL" for c in key)
    # rows with a NULL or repeated key cannot be matched one to one
    keyed = (
        f"SELECT * FROM {{t}} WHERE NOT ({null_key}) AND ({k}) IN "
        f"(SELECT {k} FROM {{t}} GROUP BY ALL HAVING count(*) = 1)"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW kb AS {keyed.format(t=b)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW ka AS {keyed.format(t=a)}")
    diff.unmatched_before = (
        diff.rows_before - con.execute("SELECT count(*) FROM kb").fetchall()[0][0]
    )
    diff.unmatched_after = diff.rows_after - con.execute("SELECT count(*) FROM ka").fetchall()[0][0]
    on = " AND ".join(f"kb.{_q(c)} = ka.{_q(c)}" for c in key)
    differs = " OR ".join(_differs(c, tolerance, table, b_types) for c in values) or "false"
    first_key = _q(key[0])
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE kb.{first_key} IS NULL), "
        f"count(*) FILTER (WHERE ka.{first_key} IS NULL), "
        f"count(*) FILTER (WHERE kb.{first_key} IS NOT NULL AND ka.{first_key} IS NOT NULL "
        f"AND ({differs})), "
        f"count(*) FILTER (WHERE kb.{first_key} IS NOT NULL AND ka.{first_key} IS NOT NULL "
        f"AND NOT ({differs})) FROM kb FULL OUTER JOIN ka ON {on}"
    ).fetchall()[0]
    diff.added, diff.removed, diff.changed, diff.unchanged = (int(v) for v in row)
    diff.columns = _column_stats(con, table, b, a, values, on, tolerance, b_types)
    diff.samples = _samples(con, table, key, values, on, differs, mask)
    return diff


def _tol(tolerance: dict[str, float], table: str, column: str) -> float | None:
    return tolerance.get(f"{table}.{column}", tolerance.get(column))


def _differs(c: str, tolerance: dict[str, float], table: str, types: dict[str, str]) -> str:
    tol = _tol(tolerance, table, c)
    if tol is not None and types.get(c) == "DOUBLE":
        return (
            f"((kb.{_q(c)} IS NULL) <> (ka.{_q(c)} IS NULL) "
            f"OR abs(kb.{_q(c)} - ka.{_q(c)}) > {float(tol)})"
        )
    return f"kb.{_q(c)} IS DISTINCT FROM ka.{_q(c)}"


def _column_stats(
    con,
    table: str,
    b: str,
    a: str,
    columns: list[str],
    on: str | None,
    tolerance: dict[str, float],
    types: dict[str, str],
) -> pd.DataFrame:
    rows = []
    for c in columns:
        qc = _q(c)
        numeric = types.get(c) in ("BIGINT", "DOUBLE")
        stats = "min({c}), max({c}), avg({c})" if numeric else "NULL, NULL, NULL"
        sb = con.execute(
            f"SELECT count(DISTINCT {qc}), count(*) - count({qc}), {stats.format(c=qc)} FROM {b}"
        ).fetchall()[0]
        sa = con.execute(
            f"SELECT count(DISTINCT {qc}), count(*) - count({qc}), {stats.format(c=qc)} FROM {a}"
        ).fetchall()[0]
        changed = gained = lost = None
        if on is not None:
            changed, gained, lost = con.execute(
                f"SELECT count(*) FILTER (WHERE {_differs(c, tolerance, table, types)}), "
                f"count(*) FILTER (WHERE kb.{qc} IS NOT NULL AND ka.{qc} IS NULL), "
                f"count(*) FILTER (WHERE kb.{qc} IS NULL AND ka.{qc} IS NOT NULL) "
                f"FROM kb JOIN ka ON {on}"
            ).fetchall()[0]
        rows.append(
            {
                "table": table,
                "column": c,
                "type": types.get(c),
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
                "mean_before": round(sb[4], 6) if sb[4] is not None else None,
                "mean_after": round(sa[4], 6) if sa[4] is not None else None,
            }
        )
    return pd.DataFrame(rows)


def _samples(
    con, table: str, key: list[str], values: list[str], on: str, differs: str, mask: set[str]
) -> pd.DataFrame:
    def shown(side: str, c: str) -> str:
        return (
            f"'{MASK}'"
            if c in mask or f"{table}.{c}" in mask
            else f"CAST({side}.{_q(c)} AS VARCHAR)"
        )

    key_expr = " || ', ' || ".join(
        f"CAST(coalesce(kb.{_q(c)}, ka.{_q(c)}) AS VARCHAR)" for c in key
    )
    frames = []
    for kind, where in (
        ("added", f"kb.{_q(key[0])} IS NULL"),
        ("removed", f"ka.{_q(key[0])} IS NULL"),
        ("changed", f"kb.{_q(key[0])} IS NOT NULL AND ka.{_q(key[0])} IS NOT NULL AND ({differs})"),
    ):
        cols = (
            ", ".join(
                [
                    f"{shown('kb', c)} AS {_q('before.' + c)}, "
                    f"{shown('ka', c)} AS {_q('after.' + c)}"
                    for c in values
                ]
            )
            or "NULL AS nothing"
        )
        frame = con.execute(
            f"SELECT '{table}' AS \"table\", '{kind}' AS kind, {key_expr} AS key, {cols} "
            f"FROM kb FULL OUTER JOIN ka ON {on} WHERE {where} ORDER BY 3 LIMIT {SAMPLE_ROWS}"
        ).df()
        frames.append(frame)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
