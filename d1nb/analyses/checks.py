"""Invariants and expectations on snapshots, and the audit that puts them beside the diff.

Declared invariants (foreign keys, uniqueness, NOT NULL, CHECK) and the value checks (accepted
values, JSON validity) run in SQLite on the working copy: SQLite's comparison, affinity and JSON
rules are D1's, and the CHECK expressions are SQLite SQL. Expectations span both snapshots and
run in DuckDB, where the diff has them as schemas `before` and `after`. Every check reports the
rows that break it, never just a flag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import apsw
import duckdb
import pandas as pd

from d1nb.analyses.diff import Diff, compare_tables
from d1nb.analyses.diff_tables import records
from d1nb.analyses.expectations import Expectation, Invariants
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.shapes import check_constraints, index_where
from d1nb.formats.sql.text import quote_ident, quote_literal, shown
from d1nb.inputs.workingcopy import Snapshot
from d1nb.text import frame_text

CHECK_COLUMNS = ["check", "kind", "table", "snapshot", "status", "failing_rows", "sample"]
SAMPLE_SIZE = 3
# A TEXT column is taken for JSON when this many of its first non-NULL values look like
# objects or arrays (and at least one does); a declared type containing JSON always is.
_JSON_PROBE = 200


def _split_target(target: str, tables: Iterable[str] = ()) -> tuple[str, str, str | None]:
    """`table.column$.path` → (table, column, '$.path' or None). A table whose name holds a dot
    (`ledger.entries.memo`, stranger's project #19) is found among `tables`, the names the
    snapshot holds (the longest such name); otherwise the name ends at the first dot."""
    path = None
    if "$" in target:
        target, path = target.split("$", 1)
        path = "$" + path
    known = {t.lower() for t in tables}
    for at in reversed([i for i, ch in enumerate(target) if ch == "."]):
        if target[:at].lower() in known:
            return target[:at], target[at + 1 :], path
    table, _, column = target.partition(".")
    return table, column, path


class _CheckRows:
    """The rows of a snapshot's check table, as `check_snapshot` returns them."""

    def __init__(self, label: str):
        self.label = label
        self.rows: list[dict] = []

    def add(self, check: str, kind: str, table: str, failing: int, sample: str = "") -> None:
        self.rows.append(
            {
                "check": check,
                "kind": kind,
                "table": table,
                "snapshot": self.label,
                "status": "pass" if failing == 0 else "fail",
                "failing_rows": failing,
                "sample": sample if failing else "",
            }
        )

    def error(self, check: str, kind: str, table: str, message: str, status: str = "error") -> None:
        self.rows.append(
            {
                "check": check,
                "kind": kind,
                "table": table,
                "snapshot": self.label,
                "status": status,
                "failing_rows": None,
                "sample": message,
            }
        )

    def unknown(self, check: str, kind: str, table: str, why: str) -> None:
        """A check this snapshot cannot judge (its parent table is not in a --table export):
        neither held nor failed."""
        self.error(check, kind, table, why, status="unknown")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=CHECK_COLUMNS).astype({"failing_rows": "Int64"})


class _Checker(_CheckRows):
    """The checks of one snapshot, in SQLite on its working copy."""

    def __init__(self, snapshot: Snapshot, label: str):
        super().__init__(label)
        self.engine = D1Engine(snapshot.path, statement_limit=0)
        self.tables = set(self.engine.tables())
        if snapshot.only_tables is not None:  # the rest of the database is not in the input
            self.tables &= snapshot.only_tables
        self.lowered = {t.lower() for t in self.tables}

    def query(self, sql: str) -> list[tuple]:
        return self.engine.conn.execute(sql).fetchall()

    def failing(self, check: str, kind: str, table: str, where: str, shown: list[str]) -> None:
        """Count the rows of `table` matching `where`; sample their rowid and `shown` columns."""
        try:
            count = self.query(f"SELECT count(*) FROM {quote_ident(table)} WHERE {where}")[0][0]
            sample = ""
            if count:
                # a row is named by its rowid, or a WITHOUT ROWID table's by its key
                ids = ["rowid"]
                if self.engine.without_rowid(table):
                    columns = sorted(self.engine.columns(table), key=lambda c: c[5])
                    ids = [quote_ident(c[1]) for c in columns if c[5]]
                picked = self.query(
                    f"SELECT {', '.join(ids + [quote_ident(c) for c in shown])} "
                    f"FROM {quote_ident(table)} WHERE {where} "
                    f"ORDER BY {', '.join(ids)} LIMIT {SAMPLE_SIZE}"
                )
                named = "rowid" if ids == ["rowid"] else ", ".join(c.strip('"') for c in ids)
                sample = "; ".join(
                    f"{named} {', '.join(_show(v) for v in r[: len(ids)])}"
                    + (": " if shown else "")
                    + ", ".join(
                        f"{c}={_show(v)}" for c, v in zip(shown, r[len(ids) :], strict=True)
                    )
                    for r in picked
                )
            self.add(check, kind, table, count, sample)
        except apsw.Error as exc:
            self.error(check, kind, table, f"{type(exc).__name__}: {exc}")

    def foreign_keys(self) -> None:
        for table in sorted(self.tables):
            fks: dict[int, list[tuple]] = {}
            for row in self.query(
                'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list('
                + quote_literal(table)
                + ")"
            ):
                fks.setdefault(row[0], []).append(row)
            if not fks:
                continue
            try:
                orphans = self.engine.internal(f"PRAGMA foreign_key_check({quote_ident(table)})")
                problem = None
            except apsw.Error as exc:
                orphans, problem = [], f"{type(exc).__name__}: {exc}"
            for fkid, parts in sorted(fks.items()):
                parent = parts[0][1]
                child_cols = [p[2] for p in parts]
                parent_cols = [p[3] or "rowid" for p in parts]
                name = _reference(table, child_cols, parent, parent_cols)
                if problem:
                    self.error(name, "foreign key", table, problem)
                    continue
                if parent.lower() not in self.lowered:
                    self.unknown(
                        name,
                        "foreign key",
                        table,
                        f"{parent} is not in this export (exported with --table?): its rows "
                        "cannot be checked against it",
                    )
                    continue
                rowids = sorted(r[1] for r in orphans if r[3] == fkid)
                where = f"rowid IN ({', '.join(map(str, rowids[:SAMPLE_SIZE]))})"
                sample = ""
                if rowids:
                    cols = ", ".join(quote_ident(c) for c in child_cols)
                    sample = "; ".join(
                        f"rowid {r[0]}: "
                        + ", ".join(
                            f"{c}={_show(v)}" for c, v in zip(child_cols, r[1:], strict=True)
                        )
                        for r in self.query(
                            f"SELECT rowid, {cols} FROM {quote_ident(table)} "
                            f"WHERE {where} ORDER BY rowid"
                        )
                    )
                self.add(name, "foreign key", table, len(rowids), sample)

    def unique(self, extra: dict[str, list[list[str]]]) -> None:
        for table in sorted(self.tables):
            sets: list[tuple[list[str], str | None]] = []
            for _seq, index, is_unique, _origin, partial in self.query(
                f"SELECT * FROM pragma_index_list({quote_literal(table)})"
            ):
                if not is_unique:
                    continue
                cols = [
                    r[0]
                    for r in self.query(
                        f"SELECT name FROM pragma_index_info({quote_literal(index)}) ORDER BY seqno"
                    )
                ]
                if None in cols:  # an index on an expression: SQLite enforces it, skip
                    continue
                where = self._partial_where(index) if partial else None
                sets.append((cols, where))
            sets += [(cols, None) for cols in extra.get(table, [])]
            seen = set()
            for cols, partial_where in sets:
                if (tuple(cols), partial_where) in seen:
                    continue
                seen.add((tuple(cols), partial_where))
                key = ", ".join(quote_ident(c) for c in cols)
                where = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in cols)
                if partial_where:
                    where += f" AND ({partial_where})"
                self.failing(
                    f"unique {shown(table)}({_listed(cols)})",
                    "unique",
                    table,
                    f"{where} AND ({key}) IN (SELECT {key} FROM {quote_ident(table)} WHERE {where} "
                    f"GROUP BY {key} HAVING count(*) > 1)",
                    cols,
                )

    def _partial_where(self, index: str) -> str | None:
        rows = self.query(
            "SELECT sql FROM sqlite_master WHERE type='index' "
            f"AND name={quote_literal(index)} COLLATE NOCASE"
        )
        return index_where(rows[0][0]) if rows and rows[0][0] else None

    def not_null(self, extra: list[str]) -> None:
        targets = []
        for table in sorted(self.tables):
            targets += [(table, c[1]) for c in self.engine.columns(table) if c[3]]
        for target in extra:
            table, column, _ = _split_target(target, self.tables)
            if (table, column) not in targets:
                targets.append((table, column))
        for table, column in targets:
            if self._missing(table, column, "not null"):
                continue
            self.failing(
                f"{shown(table, column)} NOT NULL",
                "not null",
                table,
                f"{quote_ident(column)} IS NULL",
                [],
            )

    def checks(self) -> None:
        for table in sorted(self.tables):
            sql = self.engine.table_sql({table}).get(table, "")
            for column, expr in check_constraints(sql):
                sampled = [column] if column else [c[1] for c in self.engine.columns(table)][:4]
                self.failing(
                    f"{shown(table)} CHECK ({expr})", "check", table, f"NOT ({expr})", sampled
                )

    def accepted(self, accepted: dict[str, list[object]]) -> None:
        for target, values in accepted.items():
            table, column, path = _split_target(target, self.tables)
            if self._missing(table, column, "accepted values"):
                continue
            value = (
                f"json_extract({quote_ident(column)}, {quote_literal(path)})"
                if path
                else quote_ident(column)
            )
            allowed = ", ".join(quote_literal(v) for v in values) or "NULL"
            where = f"{value} IS NOT NULL AND {value} NOT IN ({allowed})"
            name = f"{target} in ({', '.join(map(str, values))})"
            try:
                count = self.query(f"SELECT count(*) FROM {quote_ident(table)} WHERE {where}")[0][0]
                top = self.query(
                    f"SELECT {value}, count(*) FROM {quote_ident(table)} WHERE {where} "
                    f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {SAMPLE_SIZE}"
                )
            except apsw.Error as exc:
                self.error(name, "accepted values", table, f"{type(exc).__name__}: {exc}")
                continue
            self.add(
                name,
                "accepted values",
                table,
                count,
                "; ".join(f"{_show(v)} ×{n}" for v, n in top),
            )

    def json(self, given: list[str]) -> None:
        targets = [_split_target(t, self.tables)[:2] for t in given]
        for table in sorted(self.tables):
            for _cid, column, declared, *_ in self.engine.columns(table):
                if (table, column) in targets:
                    continue
                if "JSON" in (declared or "").upper() or self._looks_like_json(table, column):
                    targets.append((table, column))
        for table, column in targets:
            if self._missing(table, column, "json"):
                continue
            self.failing(
                f"{shown(table, column)} is valid JSON",
                "json",
                table,
                f"{quote_ident(column)} IS NOT NULL AND NOT json_valid({quote_ident(column)})",
                [column],
            )

    def _looks_like_json(self, table: str, column: str) -> bool:
        rows = self.query(
            f"SELECT count(*), count(*) FILTER (WHERE substr(ltrim(v), 1, 1) IN ('{{', '[')) "
            f"FROM (SELECT {quote_ident(column)} AS v FROM {quote_ident(table)} "
            f"WHERE typeof({quote_ident(column)}) = 'text' LIMIT {_JSON_PROBE})"
        )
        total, looks = rows[0]
        return total > 0 and looks == total

    def _missing(self, table: str, column: str, kind: str) -> bool:
        if table not in self.tables:
            self.error(
                shown(table, column), kind, table, f"no table {shown(table)} in this snapshot"
            )
            return True
        if column not in {c[1] for c in self.engine.columns(table)}:
            self.error(
                shown(table, column), kind, table, f"no column {shown(column)} in {shown(table)}"
            )
            return True
        return False


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _passing_in_duckdb(
    snapshot: Snapshot, invariants: Invariants, label: str
) -> pd.DataFrame | None:
    """For a dump read straight into DuckDB, the checks `_Checker` would report, when every
    one of them passes and DuckDB can tell so exactly: the declared NOT NULL, keys and CHECKs
    were proved when the dump was read (or it would have gone through SQLite); foreign keys
    between columns of one type and binary collation, and extra NOT NULL and unique sets,
    are counted in DuckDB. None (SQLite decides, with samples) for anything else: a failing
    row, accepted values, text that may be JSON, a collation, an unusual key."""
    direct = snapshot.direct
    if direct is None or invariants.accepted or invariants.json:
        return None
    con, schema = direct.con, direct.schema
    checker = _CheckRows(label)

    def target(table: str) -> str:
        return f"{quote_ident(schema)}.{quote_ident(table)}"

    def count(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    with snapshot.schema_engine() as engine:
        tables = sorted(engine.tables())
        columns = {t: [c[1] for c in engine.columns(t)] for t in tables}
        types = {
            t: dict(
                con.execute(
                    f"SELECT column_name, column_type FROM (DESCRIBE {target(t)})"
                ).fetchall()
            )
            for t in tables
        }

        def binary(table: str, column: str) -> bool:
            return (engine.conn.column_metadata("main", table, column)[1] or "BINARY") == "BINARY"

        for table in tables:  # foreign keys, in _Checker.foreign_keys's order
            fks: dict[int, list[tuple]] = {}
            for row in engine.conn.execute(
                'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list('
                + quote_literal(table)
                + ")"
            ):
                fks.setdefault(row[0], []).append(row)
            for _fkid, parts in sorted(fks.items()):
                parent = parts[0][1]
                child_cols = [p[2] for p in parts]
                parent_cols = [p[3] for p in parts]
                if parent not in columns or None in parent_cols:
                    return None
                keys = [[c[1] for c in engine.columns(parent) if c[5]]]
                for _s, index, unique, _o, partial in engine.conn.execute(
                    f"SELECT * FROM pragma_index_list({quote_literal(parent)})"
                ).fetchall():
                    if unique and not partial:
                        keys.append(
                            [
                                r[2]
                                for r in engine.conn.execute(
                                    f"SELECT * FROM pragma_index_info({quote_literal(index)})"
                                ).fetchall()
                            ]
                        )
                if sorted(parent_cols) not in [sorted(k) for k in keys]:
                    return None
                for c, p in zip(child_cols, parent_cols, strict=True):
                    if types[table].get(c) != types[parent].get(p) or not (
                        binary(table, c) and binary(parent, p)
                    ):
                        return None
                present = " AND ".join(f"c.{quote_ident(c)} IS NOT NULL" for c in child_cols)
                match = " AND ".join(
                    f"p.{quote_ident(p)} = c.{quote_ident(c)}"
                    for c, p in zip(child_cols, parent_cols, strict=True)
                )
                if count(
                    f"SELECT count(*) FROM {target(table)} AS c WHERE {present} AND NOT EXISTS "
                    f"(SELECT 1 FROM {target(parent)} AS p WHERE {match})"
                ):
                    return None
                name = _reference(table, child_cols, parent, parent_cols)
                checker.add(name, "foreign key", table, 0)
        for table in tables:  # unique sets: declared ones proved on load, extra ones counted
            sets = []
            for _s, index, unique, _o, partial in engine.conn.execute(
                f"SELECT * FROM pragma_index_list({quote_literal(table)})"
            ).fetchall():
                if not unique:
                    continue
                cols = [
                    r[0]
                    for r in engine.conn.execute(
                        f"SELECT name FROM pragma_index_info({quote_literal(index)}) ORDER BY seqno"
                    )
                ]
                if None in cols or partial:
                    return None
                sets.append((cols, True))
            sets += [(cols, False) for cols in invariants.unique.get(table, [])]
            seen = set()
            for cols, proved in sets:
                if tuple(cols) in seen:
                    continue
                seen.add(tuple(cols))
                if not proved:
                    if any(c not in columns[table] or not binary(table, c) for c in cols):
                        return None
                    key = ", ".join(quote_ident(c) for c in cols)
                    where = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in cols)
                    if count(
                        f"SELECT count(*) FROM (SELECT {key} FROM {target(table)} WHERE {where} "
                        "GROUP BY ALL HAVING count(*) > 1)"
                    ):
                        return None
                checker.add(f"unique {shown(table)}({_listed(cols)})", "unique", table, 0)
        if any(t not in columns for t in invariants.unique):
            return None
        targets = [(t, c[1], True) for t in tables for c in engine.columns(t) if c[3]]
        for item in invariants.not_null:
            table, column, _ = _split_target(item, columns)
            if table not in columns or column not in columns[table]:
                return None
            if not any((table, column) == (t, c) for t, c, _ in targets):
                targets.append((table, column, False))
        for table, column, proved in targets:
            if not proved and count(
                f"SELECT count(*) FROM {target(table)} WHERE {quote_ident(column)} IS NULL"
            ):
                return None
            checker.add(f"{shown(table, column)} NOT NULL", "not null", table, 0)
        for table in tables:  # CHECKs: proved on load
            sql = engine.table_sql({table}).get(table, "")
            for _column, expr in check_constraints(sql):
                checker.add(f"{shown(table)} CHECK ({expr})", "check", table, 0)
        for table in tables:  # JSON columns (found as _Checker finds them) go to SQLite
            info = engine.columns(table)
            alias = engine.rowid_alias(table)
            for _cid, column, declared, *_ in info:
                if "JSON" in (declared or "").upper():
                    return None
                if types[table].get(column) != "VARCHAR":
                    continue
                c = quote_ident(column)
                if alias:  # the first text values in rowid order, exactly as SQLite probes
                    probe = (
                        f"SELECT count(*), count(*) FILTER (WHERE substr(ltrim(v, ' '), 1, 1) "
                        f"IN ('{{', '[')) FROM (SELECT {c} AS v FROM {target(table)} WHERE "
                        f"{c} IS NOT NULL ORDER BY {quote_ident(alias)} LIMIT {_JSON_PROBE})"
                    )
                    total, looks = con.execute(probe).fetchall()[0]
                    if total and looks == total:
                        return None
                elif count(
                    f"SELECT count(*) FROM (SELECT 1 FROM {target(table)} "
                    f"WHERE contains({c}, '{{') OR contains({c}, '[') LIMIT 1)"
                ):
                    return None
    return checker.frame()


def check_snapshot(
    snapshot: Snapshot, invariants: Invariants | None = None, label: str = "snapshot"
) -> pd.DataFrame:
    """Every invariant on one snapshot: foreign-key orphans (data may predate enforcement),
    uniqueness, NOT NULL, CHECK constraints re-evaluated, accepted values, JSON validity."""
    invariants = invariants or Invariants()
    judged = _passing_in_duckdb(snapshot, invariants, label)
    if judged is not None:
        return judged
    checker = _Checker(snapshot, label)
    try:
        checker.foreign_keys()
        checker.unique(invariants.unique)
        checker.not_null(invariants.not_null)
        checker.checks()
        checker.accepted(invariants.accepted)
        checker.json(invariants.json)
    finally:
        checker.engine.close()
    return checker.frame()


def run_expectations(
    con: duckdb.DuckDBPyConnection, expectations: list[Expectation]
) -> pd.DataFrame:
    """Run each expectation on a DuckDB connection holding schemas `before` and `after`.

    Expectations are SQL from outside: before the first runs, the connection loses its access
    to files (no read_csv of /etc, no COPY … TO, no ATTACH) for good, and its configuration is
    locked so that no expectation can give it back. Tables already in it stay readable."""
    if expectations:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    rows = []
    for e in expectations:
        row = {"check": e.name, "kind": "expectation", "table": "", "snapshot": "both"}
        try:
            count = con.execute(f"SELECT count(*) FROM ({e.sql})").fetchall()[0][0]
            picked = con.execute(f"SELECT * FROM ({e.sql}) ORDER BY ALL LIMIT {SAMPLE_SIZE}").df()
        except duckdb.Error as exc:
            rows.append(row | {"status": "error", "failing_rows": None, "sample": str(exc)})
            continue
        sample = "; ".join(
            ", ".join(f"{c}={_show(v)}" for c, v in rec.items())
            for rec in picked.to_dict("records")
        )
        rows.append(
            row
            | {
                "status": "pass" if count == 0 else "fail",
                "failing_rows": int(count),
                "sample": sample if count else "",
            }
        )
    return pd.DataFrame(rows, columns=CHECK_COLUMNS).astype({"failing_rows": "Int64"})


@dataclass
class Audit:
    """A before/after comparison with its checks, and the verdict on both."""

    diff: Diff
    checks: pd.DataFrame
    expectations: list[Expectation]
    failure: str | None = None
    """When the after side is a replay: the migration that fails there (its after state is
    then the export without that file, not what the migrations make). The audit fails."""
    replayed: list[str] | None = None
    """When the after side is a replay: the files replayed ([] when nothing was pending)."""

    @property
    def failed_checks(self) -> pd.DataFrame:
        """Checks that fail on the after snapshot or across both; what held or failed only
        before is shown, not judged (the migration may be what fixes it)."""
        decisive = self.checks["snapshot"] != "before"
        return self.checks[decisive & self.checks["status"].isin(["fail", "error"])]

    @property
    def passed(self) -> bool:
        """With expectations: all checks hold (differences are what was meant to happen).
        Without: the snapshots are equal and all checks hold. Never when a migration
        replayed for the after side fails."""
        if self.failed_checks.shape[0] or self.failure:
            return False
        return bool(self.expectations) or self.diff.equal

    def check_table(self) -> pd.DataFrame:
        """Every check, failing and erroring ones first."""
        order = self.checks["status"].map({"error": 0, "fail": 1, "unknown": 2, "pass": 3})
        return (
            self.checks.assign(_order=order)
            .sort_values(["_order", "snapshot", "kind", "check"], kind="stable")
            .drop(columns="_order")
            .reset_index(drop=True)
        )

    def verdict(self) -> pd.DataFrame:
        """The answer first: one line each for data, schema and checks."""
        summary = self.diff.summary()
        changed = summary[~summary["equal"]] if not summary.empty else summary
        failed = self.failed_checks
        decisive = self.checks[self.checks["snapshot"] != "before"]
        before_failed = self.checks[
            (self.checks["snapshot"] == "before") & self.checks["status"].isin(["fail", "error"])
        ]
        unknown = self.checks[self.checks["status"] == "unknown"]
        held = int((decisive["status"] == "pass").sum())
        broken, errors = failed[failed["status"] == "fail"], failed[failed["status"] == "error"]
        # a table one side lacks holds rows too: its rows came or went with it
        schema = self.diff.schema
        whole = schema[
            (schema["object"] == "table")
            & schema["change"].isin(["added", "removed"])
            & ~schema["detail"].isin(["", "0 rows"])
        ]
        counters = self.diff.counters
        tables = ", ".join(
            [f"{r.table} (+{r.added} −{r.removed} ~{r.changed})" for r in changed.itertuples()]
            + [f"{r.name} ({r.detail}, table {r.change})" for r in whole.itertuples()]
            + [
                f"{r.table}'s AUTOINCREMENT counter {_counter(r.before)} → {_counter(r.after)}"
                for r in counters.itertuples()
            ]
        )
        rows = [
            {
                "item": "data",
                "status": "equal"
                if changed.empty and whole.empty and counters.empty
                else "differs",
                "detail": tables or "every common table has the same rows",
            },
            {
                "item": "schema",
                "status": "equal" if self.diff.schema.empty else "differs",
                "detail": ", ".join(
                    f"{r.object} {r.name} {r.change}"
                    + (f" {r.detail}" if r.change == "renamed" else "")
                    for r in self.diff.schema.itertuples()
                )
                or "no change",
            },
            {
                "item": "checks",
                "status": "pass" if failed.empty else "fail",
                "detail": f"{held} of {len(decisive)} hold after"
                + (f"; failing: {', '.join(broken['check'])}" if not broken.empty else "")
                + (
                    f"; cannot run: {', '.join(errors['check'])} (DuckDB refuses its SQL: the "
                    "table below says why)"
                    if not errors.empty
                    else ""
                )
                + (
                    f"; failing before only: {', '.join(before_failed['check'])}"
                    if not before_failed.empty
                    else ""
                )
                + (
                    f"; cannot be judged: {', '.join(sorted(set(unknown['check'])))} (a table it "
                    "needs is not in the export)"
                    if not unknown.empty
                    else ""
                ),
            },
            {
                "item": "verdict",
                "status": "pass" if self.passed else "fail",
                "detail": (
                    "a migration fails: the after side is the export without it"
                    if self.failure
                    else "all expectations and invariants hold"
                    if self.passed and self.expectations
                    else "the tables both inputs hold are equal, invariants hold"
                    if self.passed and self.diff.held is not None
                    else "snapshots equal, invariants hold"
                    if self.passed
                    else "checks failed"
                    if not failed.empty
                    else "snapshots differ and no expectation says that is intended"
                ),
            },
        ]
        if self.failure:
            rows.insert(0, {"item": "migration", "status": "fails", "detail": self.failure})
        return pd.DataFrame(rows)

    def text(self) -> str:
        parts = [
            "Verdict",
            frame_text(self.verdict()),
            "",
            self.diff.text(),
            "",
            f"Checks on both snapshots ({(self.checks['status'] == 'pass').sum()} of "
            f"{len(self.checks)} hold; the verdict counts those on the after one)",
        ]
        failing = self.checks[self.checks["status"] != "pass"]
        parts.append(frame_text(failing) if not failing.empty else "  (all hold)")
        return "\n".join(parts)

    def to_dict(self) -> dict:
        """Every section as JSON-ready records."""
        return {
            "passed": self.passed,
            "verdict": records(self.verdict()),
            "diff": self.diff.to_dict(),
            "checks": records(self.checks),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)


def audit(
    before: Snapshot,
    after: Snapshot,
    *,
    keys: dict[str, list[str]] | None = None,
    tolerance: dict[str, float] | None = None,
    mask: set[str] | None = None,
    invariants: Invariants | None = None,
    expectations: list[Expectation] | None = None,
    check_before: bool = True,
) -> Audit:
    """Diff two snapshots, check the invariants on both (or only after), run the expectations."""
    diff = compare_tables(before, after, keys=keys, tolerance=tolerance, mask=mask)
    frames = [check_snapshot(after, invariants, "after")]
    if check_before:
        frames.insert(0, check_snapshot(before, invariants, "before"))
    expectations = list(expectations or [])
    frames.append(run_expectations(diff.con, expectations))
    checks = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
    return Audit(diff, checks, expectations)


def _listed(columns: list[str]) -> str:
    return ", ".join(shown(c) for c in columns)


def _reference(table: str, columns: list[str], parent: str, parent_columns: list[str]) -> str:
    """A foreign key's check label: child(columns) → parent(columns), names as shown."""
    return f"{shown(table)}({_listed(columns)}) → {shown(parent)}({_listed(parent_columns)})"


def _counter(value: object) -> str:
    return "none" if value is None or pd.isna(value) else f"{int(value):,}"
