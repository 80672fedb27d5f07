"""Before/after comparison of two snapshots, as SQL in DuckDB.

Both snapshots are copied into one DuckDB connection (schemas `before` and `after`); each table
is compared on a key (its primary key, one given, or a hash of the whole row for tables without
one) by a full outer join with `IS DISTINCT FROM` per column, a tolerance for REAL columns.
Rows whose key is NULL or repeated cannot be matched one to one; they are compared as a
multiset of whole rows and counted apart. The report follows datacompy's sections: summary,
column summary, row summary, column comparison, samples.
"""

from __future__ import annotations

import math
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
        if not frames:
            return pd.DataFrame()
        frame = pd.concat(frames, ignore_index=True)
        counts = [c for c in frame.columns if c.split("_")[0] in ("changed", "nulls", "distinct")]
        return frame.astype({c: "Int64" for c in counts})

    def changed_columns(self) -> pd.DataFrame:
        """The column summary cut to columns with any change, added or dropped."""
        columns = self.column_summary()
        if columns.empty:
            return columns
        return columns[
            (columns["changed"].fillna(0) > 0)
            | (columns["nulls_gained"].fillna(0) > 0)
            | (columns["nulls_lost"].fillna(0) > 0)
            | (columns["present"] != "both")
        ].reset_index(drop=True)

    def samples(self) -> pd.DataFrame:
        """Up to five rows each added, removed and changed per table, masked columns as ***."""
        frames = [t.samples for t in self.tables.values() if not t.samples.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def value_distribution(self, table: str, column: str, top: int = 12) -> pd.DataFrame:
        """Rows per value before and after of one column (or `column$.json.path`): the `top`
        most frequent values on either side, the rest summed as "(other)"."""
        path = None
        if "$" in column:
            column, path = column.split("$", 1)
            path = "$" + path
        c = f"CAST({_q(column)} AS VARCHAR)"
        if path:
            kind = f"json_type({c}, '{path}')"
            value = (
                f"CASE WHEN {c} IS NULL THEN '(NULL)' WHEN {kind} IS NULL THEN '(absent)' "
                f"WHEN {kind} = 'NULL' THEN 'null' ELSE json_extract_string({c}, '{path}') END"
            )
        else:
            value = f"coalesce({c}, '(NULL)')"

        def counts(side: str) -> str:
            if column not in _column_types(self.con, side, table):  # added or dropped
                return "SELECT NULL::VARCHAR AS value, 0 AS n WHERE false"
            return f"SELECT {value} AS value, count(*) AS n FROM {side}.{_q(table)} GROUP BY 1"

        frame = self.con.execute(
            f"WITH b AS ({counts('before')}), a AS ({counts('after')}) "
            "SELECT coalesce(b.value, a.value) AS value, coalesce(b.n, 0) AS before, "
            "coalesce(a.n, 0) AS after FROM b FULL OUTER JOIN a "
            "ON b.value IS NOT DISTINCT FROM a.value "
            "ORDER BY greatest(coalesce(b.n, 0), coalesce(a.n, 0)) DESC, 1 NULLS FIRST"
        ).df()
        if len(frame) > top:
            rest = frame.iloc[top:]
            frame = pd.concat(
                [
                    frame.iloc[:top],
                    pd.DataFrame(
                        [
                            {
                                "value": "(other)",
                                "before": rest["before"].sum(),
                                "after": rest["after"].sum(),
                            }
                        ]
                    ),
                ],
                ignore_index=True,
            )
        return frame.astype({"before": "int64", "after": "int64"})

    def to_dict(self) -> dict:
        """Every section as JSON-ready records."""
        return {
            "equal": self.equal,
            "schema": records(self.schema),
            "summary": records(self.summary()),
            "column_summary": records(self.column_summary()),
            "samples": records(self.samples()),
        }

    def text(self) -> str:
        """The report as plain text (for the CLI and logs)."""
        schema = self.schema.assign(
            before=self.schema["before"].map(_one_line), after=self.schema["after"].map(_one_line)
        )
        parts = [
            "Schema changes",
            schema.to_string(index=False) if not schema.empty else "  (none)",
            "",
            "Summary",
            self.summary().to_string(index=False),
        ]
        changed = self.changed_columns()
        if not changed.empty:
            parts += ["", "Columns with changes", changed.to_string(index=False)]
        return "\n".join(parts)


def _one_line(sql: object, width: int = 70) -> str:
    if not isinstance(sql, str):
        return ""
    text = " ".join(sql.split())
    return text if len(text) <= width else "…" + text[-(width - 1) :]


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
        diff.columns = _with_one_sided(
            _column_stats(con, table, b, a, columns, None, tolerance, b_types),
            con,
            table,
            b,
            a,
            b_types,
            a_types,
        )
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
    diff.columns = _with_one_sided(
        _column_stats(con, table, b, a, values, on, tolerance, b_types),
        con,
        table,
        b,
        a,
        b_types,
        a_types,
    )
    diff.samples = _samples(con, table, key, values, on, differs, mask, tolerance, b_types)
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


def _with_one_sided(
    stats: pd.DataFrame,
    con,
    table: str,
    b: str,
    a: str,
    b_types: dict[str, str],
    a_types: dict[str, str],
) -> pd.DataFrame:
    """Add the columns only one side has (added or dropped), with that side's figures."""
    stats = stats.assign(present="both") if not stats.empty else stats
    rows = []
    for c, side, types, present in [
        *((c, a, a_types, "after only") for c in a_types if c not in b_types),
        *((c, b, b_types, "before only") for c in b_types if c not in a_types),
    ]:
        qc = _q(c)
        numeric = types[c] in ("BIGINT", "DOUBLE")
        distinct, nulls, low, high, mean = con.execute(
            f"SELECT count(DISTINCT {qc}), count(*) - count({qc}), "
            + (f"min({qc}), max({qc}), avg({qc})" if numeric else "NULL, NULL, NULL")
            + f" FROM {side}"
        ).fetchall()[0]
        mean = round(mean, 6) if mean is not None else None
        when = "after" if present == "after only" else "before"
        rows.append(
            {
                "table": table,
                "column": c,
                "type": types[c],
                f"distinct_{when}": distinct,
                f"nulls_{when}": nulls,
                f"min_{when}": low,
                f"max_{when}": high,
                f"mean_{when}": mean,
                "present": present,
            }
        )
    if not rows:
        return stats
    return pd.concat([stats, pd.DataFrame(rows)], ignore_index=True)


def _samples(
    con,
    table: str,
    key: list[str],
    values: list[str],
    on: str,
    differs: str,
    mask: set[str],
    tolerance: dict[str, float],
    types: dict[str, str],
) -> pd.DataFrame:
    """Sample rows in long form (one line per column): all columns of added and removed rows,
    only the differing ones of changed rows."""

    def shown(side: str, c: str) -> str:
        if c in mask or f"{table}.{c}" in mask:
            return f"CASE WHEN {side}.{_q(c)} IS NULL THEN NULL ELSE '{MASK}' END"
        return f"CAST({side}.{_q(c)} AS VARCHAR)"

    key_expr = " || ', ' || ".join(
        f"CAST(coalesce(kb.{_q(c)}, ka.{_q(c)}) AS VARCHAR)" for c in key
    )
    first = _q(key[0])
    order = ", ".join(f"coalesce(kb.{_q(c)}, ka.{_q(c)})" for c in key)
    cols = "".join(
        f", {shown('kb', c)}, {shown('ka', c)}, {_differs(c, tolerance, table, types)}"
        for c in values
    )
    rows = []
    for kind, where in (
        ("added", f"kb.{first} IS NULL"),
        ("removed", f"ka.{first} IS NULL"),
        ("changed", f"kb.{first} IS NOT NULL AND ka.{first} IS NOT NULL AND ({differs})"),
    ):
        picked = con.execute(
            f"SELECT {key_expr} AS key{cols} FROM kb FULL OUTER JOIN ka ON {on} "
            f"WHERE {where} ORDER BY {order} LIMIT {SAMPLE_ROWS}"
        ).fetchall()
        for record in picked:
            for i, c in enumerate(values):
                before, after, differ = record[1 + 3 * i : 4 + 3 * i]
                if kind == "changed" and not differ:
                    continue
                rows.append(
                    {
                        "table": table,
                        "kind": kind,
                        "key": record[0],
                        "column": c,
                        "before": before,
                        "after": after,
                    }
                )
    return pd.DataFrame(rows, columns=["table", "kind", "key", "column", "before", "after"])
