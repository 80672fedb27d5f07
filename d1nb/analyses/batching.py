"""Batch sizing for large UPDATE, DELETE and INSERT … SELECT backfills, and the batched SQL.

D1 runs one query at a time and stops any statement at 30 s, so a backfill over a large table
must run in batches small enough that none holds the database longer than a budget. This
module rewrites a statement into batches, measures batch time at candidate sizes on a working
copy, fits time ≈ a + b·n, recommends the largest size whose predicted p95 stays under the
budget with a margin, and writes the batches as files for `wrangler d1 execute --file`.

UPDATE and DELETE batch on the rows they match (`rowid IN (… LIMIT n)`, or rowid ranges);
INSERT … SELECT batches on ranges of its source table's rowids, each batch inserting only the
rows whose key the target does not hold yet, so that any batch can run again.
"""

from __future__ import annotations

import shlex
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from d1nb import d1
from d1nb.engine.d1engine import D1Engine, D1Error
from d1nb.formats.migrations import Statement, parse_statements
from d1nb.formats.sql import (
    SqlTokenError,
    dml_condition,
    insert_select,
    quote_ident,
    with_condition,
    written_columns,
)
from d1nb.problems import InputError

CANDIDATE_SIZES = (250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
REPEATS = 5
BATCHABLE = ("update", "delete", "insert_select")
COMMITTED_BATCHES = 40
"""Committed batches run at the first recommendation to calibrate the curve (see _plan_on)."""
DEFAULT_MARGIN = 0.5
"""Recommend sizes whose predicted p95 stays under budget × (1 − margin)."""


@dataclass
class BatchPlan:
    """A statement rewritten into batches, with the measured curve and the recommendation."""

    statement: Statement
    table: str
    rows: int
    mode: str
    measurements: pd.DataFrame
    intercept_ms: float
    ms_per_row: float
    r_squared: float
    p95_factor: float
    budget_ms: float
    margin: float
    recommended: int
    writes_per_row: int = 1
    notes: list[str] = field(default_factory=list)
    insert: InsertSelect | None = None
    """The INSERT … SELECT taken apart, when that is what is batched."""

    def predicted_p95_ms(self, size: int) -> float:
        return (self.intercept_ms + self.ms_per_row * size) * self.p95_factor

    def per_day(self, rows_written_per_day: int = d1.FREE_ROWS_WRITTEN_PER_DAY) -> dict:
        """How the batches fit a daily allowance of rows written (the Free plan's 100,000,
        enforced since 2026-09-01: past it D1 fails every write until 00:00 UTC)."""
        written = max(1, self.recommended * self.writes_per_row)
        batches = -(-self.rows // self.recommended) if self.rows else 0
        per_day = max(1, rows_written_per_day // written)
        return {
            "rows_written_per_batch": written,
            "batches": batches,
            "batches_per_day": per_day,
            "days": -(-batches // per_day) if batches else 0,
        }

    def compare(self) -> pd.DataFrame:
        """The recommendation beside the peers' fixed sizes (Cloudflare's 1,000 and 10,000)."""
        rows = []
        sizes = {"d1nb recommendation": self.recommended, **d1.PEER_BATCH_SIZES}
        for who, size in sizes.items():
            batches = -(-self.rows // size)
            p95 = self.predicted_p95_ms(size)
            rows.append(
                {
                    "who": who,
                    "batch_size": size,
                    "batches": batches,
                    "rows_written": self.rows * self.writes_per_row,
                    "predicted_p95_ms": round(p95, 1),
                    "predicted_total_s": round(
                        batches * (self.intercept_ms + self.ms_per_row * size) / 1000, 2
                    ),
                    "within_budget": p95 <= self.budget_ms,
                }
            )
        return pd.DataFrame(rows)


def _where_and_head(s: Statement) -> tuple[str, str]:
    """(statement without its WHERE, WHERE condition or '1') for UPDATE and DELETE, both with
    comments removed so that nothing appended to them can fall inside a comment."""
    try:
        parts = dml_condition(s.sql)
    except SqlTokenError as exc:
        raise InputError("", s.line, f"cannot batch a statement d1nb cannot read: {exc}") from exc
    if parts.trailing:
        raise InputError("", s.line, f"cannot batch a statement with {parts.trailing[0]}")
    return parts.head, parts.condition or "1"


@dataclass(frozen=True)
class InsertSelect:
    """An INSERT … SELECT taken apart for batching by ranges of its source table's rowids."""

    head: str
    """The statement up to its SELECT, as written (`INSERT OR IGNORE INTO t (a, b)`)."""
    select: str
    """The SELECT, as written, without the final semicolon."""
    target: str
    columns: tuple[str, ...]
    """The target columns the SELECT fills, in order."""
    key: tuple[str, ...]
    """Target columns of a primary key or unique index among `columns`: what makes a batch
    safe to re-run (rows whose key is there already are skipped)."""
    source: str
    qualifier: str
    """How the SELECT names its source table (alias or name), to qualify `rowid`."""

    @property
    def into_itself(self) -> bool:
        """Whether the rows are selected from the table they are inserted into."""
        return self.source.lower() == self.target.lower()

    def batch(self, low: int | str | None, high: int | str | None) -> str:
        """The rows of source rowids in (low, high], minus those the target already holds."""
        bounds = [f"{quote_ident(self.qualifier)}.rowid > {low}"] if low is not None else []
        bounds += [f"{quote_ident(self.qualifier)}.rowid <= {high}"] if high is not None else []
        select = with_condition(self.select, " AND ".join(bounds)) if bounds else self.select
        cte_columns = ", ".join(quote_ident(c) for c in self.columns)
        absent = " AND ".join(
            f"{quote_ident(self.target)}.{quote_ident(k)} IS d1nb_batch.{quote_ident(k)}"
            for k in self.key
        )
        return (
            f"WITH d1nb_batch({cte_columns}) AS ({select}) {self.head} "
            f"SELECT {cte_columns} FROM d1nb_batch "
            f"WHERE NOT EXISTS (SELECT 1 FROM {quote_ident(self.target)} WHERE {absent});"
        )


def parse_insert_select(engine: D1Engine, s: Statement) -> InsertSelect:
    """Take an INSERT … SELECT apart for batching, or say why it cannot be batched."""

    def refuse(why: str) -> InputError:
        return InputError("", s.line, f"cannot batch this INSERT … SELECT: {why}")

    parts = insert_select(s.sql)
    if isinstance(parts, str):
        raise refuse(parts)
    columns = parts.columns or tuple(c[1] for c in engine.columns(parts.target))
    try:
        engine.conn.execute(f"SELECT rowid FROM {quote_ident(parts.source)} LIMIT 1").fetchall()
    except Exception as exc:
        raise refuse(f"its source {parts.source} has no rowid (WITHOUT ROWID)") from exc
    key = _insert_key(engine, parts.target, list(columns))
    if not key:
        raise refuse(
            f"{parts.target} has no primary key or unique index among the inserted columns, so "
            "a batch run twice would insert its rows twice"
        )
    return InsertSelect(
        parts.head, parts.select, parts.target, columns, key, parts.source, parts.qualifier
    )


def _insert_key(engine: D1Engine, table: str, columns: list[str]) -> tuple[str, ...]:
    """The columns of the target's primary key or of a unique index, all among `columns`."""
    info = engine.columns(table)
    primary = tuple(c[1] for c in sorted(info, key=lambda c: c[5]) if c[5])
    candidates = [primary] if primary else []
    for _seq, name, unique, _origin, partial in engine.conn.execute(
        f"PRAGMA index_list({quote_ident(table)})"
    ):
        if unique and not partial:
            cols = tuple(
                r[2] for r in engine.conn.execute(f"PRAGMA index_info({quote_ident(name)})")
            )
            if None not in cols:
                candidates.append(cols)
    wanted = {c.lower() for c in columns}
    return next((k for k in candidates if k and {c.lower() for c in k} <= wanted), ())


def batch_sql(
    s: Statement,
    size: int,
    mode: str,
    low: int | str | None = None,
    high: int | str | None = None,
    insert: InsertSelect | None = None,
) -> str:
    """One batch of `s`: `rowid IN (… LIMIT size)` (self-excluding statements) or a rowid range
    (of the rows it matches; of its source table's rows for an INSERT … SELECT). A bound is a
    rowid, or a placeholder the driver fills in."""
    if insert is not None:
        return insert.batch(low, high)
    head, condition = _where_and_head(s)
    table = quote_ident(s.table or "")
    if mode == "limit":
        return f"{head} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT {size});"
    bounds = [f"rowid > {low}"] if low is not None else []
    bounds += [f"rowid <= {high}"] if high is not None else []
    return f"{head} WHERE ({condition}) AND {' AND '.join(bounds) or '1'};"


def _matching(engine: D1Engine, s: Statement, insert: InsertSelect | None = None) -> int:
    """Rows to go through: those the statement matches, or its source table's rows."""
    if insert is not None:
        return engine.conn.execute(f"SELECT count(*) FROM {quote_ident(insert.source)}").fetchall()[
            0
        ][0]
    _, condition = _where_and_head(s)
    table = quote_ident(s.table or "")
    return engine.conn.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchall()[0][0]


def _self_excluding(engine: D1Engine, s: Statement) -> bool:
    """Whether rows the statement changed stop matching its WHERE (so LIMIT batches end)."""
    engine.conn.execute("SAVEPOINT d1nb_probe")
    try:
        engine.run_statement(s)
        return _matching(engine, s) == 0 if s.kind == "update" else True
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_probe")
        engine.conn.execute("RELEASE d1nb_probe")


def _writes_per_row(engine: D1Engine, s: Statement) -> int:
    """D1 rows written per row changed: the row, plus one per index an UPDATE rewrites."""
    if s.kind == "delete":
        return 1
    from d1nb.analyses.replay import Meter

    if s.kind == "insert_select":  # a new row writes every index of its table
        return 1 + len(Meter(engine).indexes(s.table or ""))
    columns = set(written_columns(s.sql) or [])
    affected = [i for i in Meter(engine).indexes(s.table or "") if i[0] is None or i[0] & columns]
    return 1 + len(affected)


def _time_batch(engine: D1Engine, sql: str) -> tuple[float, int]:
    engine.conn.execute("SAVEPOINT d1nb_batch")
    try:
        start = time.perf_counter()
        engine.conn.execute(sql)
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed, engine.conn.changes()
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_batch")
        engine.conn.execute("RELEASE d1nb_batch")


def fit_time(rows: np.ndarray, ms: np.ndarray) -> tuple[float, float, float]:
    """(ms per row, fixed ms, R²) of time ≈ a + b·n, fitted on relative errors (small batches
    matter as much as large ones) with a non-negative fixed cost."""
    if len(set(rows)) < 2:
        return float(ms.mean() / max(rows[0], 1)), 0.0, 1.0
    slope, intercept = np.polyfit(rows, ms, 1, w=1 / np.maximum(ms, 1e-6))
    if intercept < 0:
        slope, intercept = float((rows * ms).sum() / (rows * rows).sum()), 0.0
    fitted = intercept + slope * rows
    total = float(((ms - ms.mean()) ** 2).sum())
    r2 = 1 - float(((ms - fitted) ** 2).sum()) / total if total else 1.0
    return float(slope), float(intercept), r2


def scale_table(database: str | Path, table: str, rows: int, out: str | Path) -> Path:
    """A copy of `database` (written to `out`) in which `table` holds at least `rows` rows.

    The table's rows are repeated with new keys: rowids shifted past the largest, and values of
    UNIQUE columns made distinct (integers and reals shifted, text and BLOBs suffixed with the
    copy's number). Other columns keep their values, so a WHERE matches the same share of the
    rows. Foreign keys are off while copying (the copies point at the same parents).
    """
    out = Path(out)
    shutil.copyfile(database, out)
    with D1Engine(out) as engine:
        have = engine.conn.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchall()[0][0]
        if have == 0:
            raise InputError(database, 0, f"table {table} is empty: nothing to scale up")
        if have >= rows:
            return out
        engine.internal("PRAGMA foreign_keys=OFF")
        unique = set()
        for _seq, name, is_unique, _origin, _partial in engine.conn.execute(
            f"PRAGMA index_list({quote_ident(table)})"
        ):
            if is_unique:
                found = engine.conn.execute(f"PRAGMA index_info({quote_ident(name)})").fetchall()
                unique |= {r[2] for r in found if r[2] is not None}
        info = engine.conn.execute(
            "SELECT name, type, pk, hidden FROM pragma_table_xinfo(?)", (table,)
        ).fetchall()
        stored = [(name, type_, pk) for name, type_, pk, hidden in info if hidden == 0]
        pks = [name for name, _type, pk in stored if pk]
        types = {name: (type_ or "").upper() for name, type_, _pk in stored}
        alias = pks[0] if len(pks) == 1 and types[pks[0]] == "INTEGER" else None  # the rowid
        unique |= set(pks)
        last = engine.conn.execute(f"SELECT max(rowid) FROM {quote_ident(table)}").fetchall()[0][0]
        spans = {}
        for name in unique - {alias}:
            low, high = engine.conn.execute(
                f"SELECT min({quote_ident(name)}), max({quote_ident(name)}) "
                f"FROM {quote_ident(table)} "
                f"WHERE typeof({quote_ident(name)}) IN ('integer', 'real')"
            ).fetchall()[0]
            spans[name] = (high - low + 1) if low is not None else 1
        names = [name for name, *_ in stored]
        target = ", ".join(["rowid", *(quote_ident(n) for n in names if n != alias)])
        engine.conn.execute("BEGIN")
        try:
            copies = -(-rows // have) - 1
            for k in range(1, copies + 1):
                values = [f"rowid + {k * last}"]
                for n in names:
                    if n == alias:
                        continue
                    q = quote_ident(n)
                    if n in unique:
                        values.append(
                            f"CASE typeof({q}) WHEN 'integer' THEN {q} + {k * spans[n]} "
                            f"WHEN 'real' THEN {q} + {k * spans[n]} "
                            f"WHEN 'text' THEN {q} || '~{k}' "
                            f"WHEN 'blob' THEN {q} || X'{k:08x}' ELSE {q} END"
                        )
                    else:
                        values.append(q)
                engine.conn.execute(
                    f"INSERT INTO {quote_ident(table)} ({target}) SELECT {', '.join(values)} "
                    f"FROM {quote_ident(table)} WHERE rowid <= {last}"
                )
            engine.conn.execute("COMMIT")
        except Exception as exc:
            engine.conn.execute("ROLLBACK")
            raise InputError(database, 0, f"could not scale {table} up: {exc}") from exc
    return out


def plan_batches(
    database: str | Path,
    statement: str | Statement,
    *,
    budget_ms: float = 1000.0,
    margin: float = DEFAULT_MARGIN,
    sizes: tuple[int, ...] = CANDIDATE_SIZES,
    repeats: int = REPEATS,
    scale_to: int | None = None,
    max_rows_written: int | None = None,
) -> BatchPlan:
    """Measure `statement` in batches on a working copy (`database`, left unchanged) and
    recommend a batch size. Every measured batch runs in a savepoint that is rolled back.

    `scale_to` (the production table's row count, say) measures on a copy whose table is
    scaled up to that many rows (`scale_table`) when the export holds fewer: the curve then
    reaches the sizes that matter. The batch files are still written from `database`.
    `max_rows_written` caps one batch's D1 rows written (the Free plan's daily allowance).
    """
    plan = _plan(database, statement, budget_ms, margin, sizes, repeats, scale_to)
    if max_rows_written:
        cap = max(1, max_rows_written // max(1, plan.writes_per_row))
        if plan.recommended > cap:
            plan.notes.append(
                f"batches capped at {cap:,} rows ({plan.recommended:,} fit the time budget): "
                f"each writes {plan.writes_per_row} D1 row(s) per row and one batch may write "
                f"at most {max_rows_written:,}"
            )
            plan.recommended = cap
    return plan


def _plan(
    database: str | Path,
    statement: str | Statement,
    budget_ms: float,
    margin: float,
    sizes: tuple[int, ...],
    repeats: int,
    scale_to: int | None,
) -> BatchPlan:
    s = parse_statements(statement)[0] if isinstance(statement, str) else statement
    if s.kind not in BATCHABLE:
        raise InputError(
            "", s.line, f"batching handles UPDATE, DELETE and INSERT … SELECT, not {s.kind}"
        )
    if not scale_to:
        return _plan_on(database, s, budget_ms, margin, sizes, repeats)
    with D1Engine(database) as engine:
        table = parse_insert_select(engine, s).source if s.kind == "insert_select" else s.table
        have = engine.conn.execute(f"SELECT count(*) FROM {quote_ident(table or '')}").fetchall()[
            0
        ][0]
    if have >= scale_to:
        return _plan_on(database, s, budget_ms, margin, sizes, repeats)
    with tempfile.TemporaryDirectory(prefix="d1nb-scale-") as tmp:
        scaled = scale_table(database, table or "", scale_to, Path(tmp) / "scaled.sqlite")
        plan = _plan_on(scaled, s, budget_ms, margin, sizes, repeats)
    plan.notes.insert(
        0,
        f"measured on a copy with {table} scaled from {have:,} to {scale_to:,}+ rows (its rows "
        "repeated with new keys); rows and batch counts below are for the scaled table",
    )
    return plan


def _plan_on(
    database: str | Path,
    s: Statement,
    budget_ms: float,
    margin: float,
    sizes: tuple[int, ...],
    repeats: int,
) -> BatchPlan:
    insert = None
    with D1Engine(database) as engine:
        engine.conn.execute("BEGIN")
        try:
            if s.kind == "insert_select":
                insert = parse_insert_select(engine, s)
                _runs_unbatched(engine, s)
            rows = _matching(engine, s, insert)
            mode = "limit" if insert is None and _self_excluding(engine, s) else "range"
            writes_per_row = _writes_per_row(engine, s)
            measured = []
            for size in [n for n in sizes if n <= max(rows, sizes[0])]:
                for _ in range(repeats):
                    if mode == "range":
                        high = _rowid_after(engine, s, size, insert=insert)
                        sql = batch_sql(s, size, mode, 0, high, insert)
                    else:
                        sql = batch_sql(s, size, mode)
                    ms, changed = _time_batch(engine, sql)
                    # An INSERT … SELECT batch covers `size` source rows, whatever it inserts.
                    covered = min(size, rows) if insert is not None else changed
                    measured.append({"batch_size": size, "rows": covered, "ms": ms})
        finally:
            engine.conn.execute("ROLLBACK")
    frame = pd.DataFrame(measured)
    slope, intercept, r2 = fit_time(frame["rows"].to_numpy(float), frame["ms"].to_numpy(float))
    by_size = frame.groupby("batch_size")["ms"]
    noise = max(float(np.percentile(v, 95)) / statistics.fmean(v) for _, v in by_size)
    limit = budget_ms * (1 - margin)

    def largest(factor: float) -> int:
        best = max(1, int((limit / factor - intercept) / slope)) if slope > 0 else rows
        return int(min(best, rows)) if rows else sizes[0]

    # The curve comes from batches rolled back inside one transaction; a real run commits each
    # batch (journal, sync) and changes the table as it goes. A throwaway run of committed
    # batches at the first recommendation measures both, against what the curve predicts.
    first = largest(noise)
    observed = _committed_run(database, s, mode, first, rows, insert) if rows else []
    calibration = (
        float(np.percentile(observed, 95)) / (intercept + slope * first) if observed else 1.0
    )
    p95_factor = max(noise, calibration)
    recommended = largest(p95_factor)
    plan = BatchPlan(
        s,
        s.table or "",
        rows,
        mode,
        frame,
        float(intercept),
        float(slope),
        r2,
        p95_factor,
        budget_ms,
        margin,
        recommended,
        writes_per_row,
        insert=insert,
    )
    if observed:
        plan.notes.append(
            f"{len(observed)} committed batches of {first:,} rows took "
            f"{np.percentile(observed, 95):.0f} ms at p95 against {intercept + slope * first:.0f}"
            f" ms on the curve: predictions are scaled by {p95_factor:.2f}"
        )
    if insert is not None:
        plan.notes.append(
            f"batches are ranges of {insert.source} rowids; each inserts only rows whose "
            f"({', '.join(insert.key)}) {insert.target} does not hold yet, so re-running is safe"
        )
        if insert.into_itself:
            plan.notes.append(
                f"{insert.target} inserts into itself: the last batch ends at the last rowid "
                "of the snapshot, so rows the batches insert are not selected again"
            )
    elif mode == "range":
        plan.notes.append(
            "the statement still matches rows it changed, so batches are rowid "
            "ranges; re-running a batch is safe only because the SET is "
            "idempotent — check it is"
        )
    return plan


def _committed_run(
    database: str | Path,
    s: Statement,
    mode: str,
    size: int,
    rows: int,
    insert: InsertSelect | None = None,
    batches: int = COMMITTED_BATCHES,
) -> list[float]:
    """Milliseconds of up to `batches` full batches of `size`, each committed, run one after
    another from the start of the table on a throwaway copy, as the batch files will run."""
    times = []
    with tempfile.TemporaryDirectory(prefix="d1nb-calibrate-") as tmp:
        copy = Path(tmp) / "probe.sqlite"
        shutil.copyfile(database, copy)
        with D1Engine(copy) as engine:
            low = None
            for _ in range(min(batches, -(-rows // size))):
                if mode == "limit":
                    sql = batch_sql(s, size, "limit")
                else:
                    high = _rowid_after(engine, s, size, low or 0, insert)
                    if high is None:
                        break  # the rest is a partial batch
                    sql = batch_sql(s, size, "range", low, high, insert)
                    low = high
                start = time.perf_counter()
                engine.conn.execute(sql)
                elapsed = (time.perf_counter() - start) * 1000
                if insert is None and engine.conn.changes() < size:
                    break
                times.append(elapsed)
    return times


def _rowid_after(
    engine: D1Engine, s: Statement, size: int, after: int = 0, insert: InsertSelect | None = None
) -> int | None:
    """The rowid that ends a range of `size` matching rows (source rows for an INSERT …
    SELECT) starting after `after`."""
    if insert is not None:
        table, condition = insert.source, "1"
    else:
        (_, condition), table = _where_and_head(s), s.table or ""
    row = engine.conn.execute(
        f"SELECT rowid FROM {quote_ident(table)} WHERE ({condition}) AND rowid > ? ORDER BY rowid "
        "LIMIT 1 OFFSET ?",
        (after, size - 1),
    ).fetchall()
    return row[0][0] if row else None


def _runs_unbatched(engine: D1Engine, s: Statement) -> None:
    """Run `s` whole in a savepoint (rolled back): batches are only offered for a statement
    that succeeds on this data, so that skipping rows already there changes nothing."""
    engine.conn.execute("SAVEPOINT d1nb_whole")
    try:
        engine.run_statement(s)
    except D1Error as exc:
        raise InputError("", s.line, f"fails unbatched on this data: {exc.reason}") from exc
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_whole")
        engine.conn.execute("RELEASE d1nb_whole")


def write_batches(
    plan: BatchPlan,
    database: str | Path,
    out: str | Path,
    database_name: str = "DB",
    size: int | None = None,
) -> list[Path]:
    """Write the batches as numbered SQL files and a driver script; return the batch files.

    LIMIT batches are identical files, one per expected batch (each ends when no row
    matches, so extra runs change nothing); range batches cover consecutive rowid ranges of
    the snapshot up to its last rowid. Production has often grown since the export, so the
    driver then asks D1 what is left and goes on in batches of the same bound: the LIMIT
    batch again while a row still matches, rowid ranges `size` wide up to the table's last
    rowid (a range that wide cannot hold more than `size` rows). An INSERT … SELECT into its
    own table stops at the export's last rowid, past which its own copies land.
    """
    size = size or plan.recommended
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_batch_folder(out)
    s, insert = plan.statement, plan.insert
    helpers: dict[str, str] = {}
    if plan.mode == "limit":
        count = max(1, -(-plan.rows // size))
        statements = [batch_sql(s, size, "limit")] * count
        _, condition = _where_and_head(s)
        table = quote_ident(s.table or "")
        helpers["remaining.sql"] = f"SELECT min(rowid) AS r FROM {table} WHERE {condition};"
        end = None
    else:
        table = insert.source if insert is not None else s.table or ""
        statements, end = _range_batches(plan, database, size, table)
        if insert is None or not insert.into_itself:
            helpers["last_rowid.sql"] = f"SELECT max(rowid) AS r FROM {quote_ident(table)};"
            helpers["tail.sql.in"] = batch_sql(s, size, "range", _LOW, _HIGH, insert)
    width = len(str(len(statements)))
    files = []
    for i, sql in enumerate(statements, 1):
        if len(sql.encode()) > d1.MAX_STATEMENT_BYTES:
            raise InputError(out, 0, "a batch statement exceeds D1's 100 KB limit")
        path = out / f"batch_{i:0{width}d}.sql"
        path.write_text(
            f"-- batch {i} of {len(statements)}: up to {size} rows; safe to re-run\n{sql}\n",
            encoding="utf-8",
        )
        files.append(path)
    for name, sql in helpers.items():
        (out / name).write_text(sql + "\n", encoding="utf-8")
    first = files[0].name if files else ""
    driver = out / "run_batches.sh"
    driver.write_text(_driver(database_name, first, size, end, helpers), encoding="utf-8")
    return files


_DRIVER_HEAD = "#!/usr/bin/env sh\n# Runs the batches"
_HELPERS = ("remaining.sql", "last_rowid.sql", "tail.sql.in", "tail.sql", "done.txt")
"""Files the driver reads or writes beside the batches (done.txt: the batches that ran)."""


def clear_batch_folder(out: Path) -> None:
    """Remove the files an earlier `write_batches` left in `out` (and in its `line_NNNN`
    folders), so that the new run_batches.sh, which runs every batch_*.sql beside it, runs
    only the new plan's. A batch_*.sql that d1nb did not write is refused, never removed."""
    for folder in [out, *sorted(out.glob("line_[0-9][0-9][0-9][0-9]"))]:
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("batch_*.sql")):
            if not f.read_text(encoding="utf-8", errors="replace").startswith("-- batch "):
                raise InputError(
                    f,
                    0,
                    "a batch_*.sql that d1nb did not write: run_batches.sh would run it; "
                    "choose an empty --out",
                )
            f.unlink()
        driver = folder / "run_batches.sh"
        if driver.is_file() and driver.read_text(encoding="utf-8").startswith(_DRIVER_HEAD):
            driver.unlink()
            for name in _HELPERS:
                (folder / name).unlink(missing_ok=True)
        if folder != out and not any(folder.iterdir()):
            folder.rmdir()


_LOW, _HIGH = "__d1nb_low__", "__d1nb_high__"
"""Placeholders of tail.sql.in, filled in by the driver for each range past the export."""


def _range_batches(
    plan: BatchPlan, database: str | Path, size: int, table: str
) -> tuple[list[str], int]:
    """Range batches of `size` matching (or source) rows over the snapshot, the last one ending
    at the last rowid of `table` (the one the ranges cut); and that rowid (0 when empty)."""
    s, insert = plan.statement, plan.insert
    statements: list[str] = []
    low = None
    with D1Engine(database) as engine:
        end = engine.conn.execute(f"SELECT max(rowid) FROM {quote_ident(table)}").fetchall()[0][0]
        while True:
            high = _rowid_after(engine, s, size, low or 0, insert)
            if high is None:
                if end is not None and (low is None or end > low):
                    statements.append(batch_sql(s, size, "range", low, end, insert))
                break
            statements.append(batch_sql(s, size, "range", low, high, insert))
            low = high
    return statements, end or 0


_VALUE = (
    'node -e \'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{'
    "const v=Object.values(JSON.parse(s)[0].results[0]||{})[0];"
    'process.stdout.write(v===null||v===undefined?"":String(v))})\''
)


def _driver(name: str, first: str, size: int, end: int | None, helpers: dict[str, str]) -> str:
    """run_batches.sh: the batch files in order, then the rows the export did not have.
    The database name comes from a config: it is quoted for the shell, never pasted."""
    name = shlex.quote(name)
    lines = [
        "#!/usr/bin/env sh",
        "# Runs the batches one after another (--yes: no prompt per file); stops at the first",
        "# failure. Re-running is safe.",
        "# Then asks D1 which rows the export did not have and batches them the same way.",
        "# Run it where wrangler finds your config (or pass --config):",
        "#   sh path/to/run_batches.sh [--env production] [--remote]",
        '# WRANGLER="npx wrangler" by default; node reads the --json answers.',
        "# Batch files that ran are listed in done.txt and skipped when it runs again.",
        "# D1NB_MAX_BATCHES=N stops after N batches (a daily allowance: run it again tomorrow).",
        "set -e",
        'dir="$(dirname "$0")"',
        'WRANGLER="${WRANGLER:-npx wrangler}"',
        'max="${D1NB_MAX_BATCHES:-0}"; ran=0',
        'touch "$dir/done.txt"',
        "run() {  # one SQL file; stops the script when the allowance of this run is used",
        '  if [ "$max" -gt 0 ] && [ "$ran" -ge "$max" ]; then',
        '    echo "D1NB_MAX_BATCHES=$max batches ran: run it again (after 00:00 UTC)"; exit 0',
        "  fi",
        f'  f="$1"; shift; $WRANGLER d1 execute {name} --yes --file "$f" "$@"',
        "  ran=$((ran + 1))",
        "}",
        "value() {  # the one value a one-row query returns, empty for NULL",
        '  sql="$(cat "$dir/$1")"; shift',
        f'  $WRANGLER d1 execute {name} --json --command "$sql" "$@" | {_VALUE}',
        "}",
        'for f in "$dir"/batch_*.sql; do',
        '  if grep -qx "${f##*/}" "$dir/done.txt"; then continue; fi',
        '  echo "${f##*/}"',
        '  run "$f" "$@"',
        '  echo "${f##*/}" >> "$dir/done.txt"',
        "done",
    ]
    if "remaining.sql" in helpers:
        lines += [
            'last=""',
            "while :; do",
            '  next="$(value remaining.sql "$@")"',
            '  [ -n "$next" ] || break',
            '  if [ "$next" = "$last" ]; then',
            '    echo "rowid $next still matches after a batch: stopping" >&2; exit 1',
            "  fi",
            f'  echo "{first} again: rows from rowid $next on still match"',
            f'  run "$dir/{first}" "$@"',
            '  last="$next"',
            "done",
        ]
    elif "tail.sql.in" in helpers:
        lines += [
            f"low={end}  # the export's last rowid: the files above end there",
            'high="$(value last_rowid.sql "$@")"',
            'while [ -n "$high" ] && [ "$high" -gt "$low" ]; do',
            f"  next=$((low + {size}))",
            f'  sed -e "s/{_LOW}/$low/g" -e "s/{_HIGH}/$next/g" \\',
            '    "$dir/tail.sql.in" > "$dir/tail.sql"',
            '  echo "$low < rowid <= $next (added since the export)"',
            '  run "$dir/tail.sql" "$@"',
            '  low="$next"',
            "done",
        ]
    else:
        lines.append("# It inserts into its own table: past the export's last rowid are its copies")
    return "\n".join(lines) + "\n"


@dataclass
class FileBatches:
    """One batchable statement of a migration file: its plan and files, or why not."""

    statement: Statement
    plan: BatchPlan | None = None
    files: list[Path] = field(default_factory=list)
    error: str = ""


def batch_migration(
    database: str | Path,
    statements: list[Statement],
    out: str | Path,
    *,
    budget_ms: float = 1000.0,
    margin: float = DEFAULT_MARGIN,
    database_name: str = "DB",
    file: str = "",
    scale_to: int | None = None,
    max_rows_written: int | None = None,
) -> list[FileBatches]:
    """Plan and write batches for every UPDATE, DELETE and INSERT … SELECT of a migration file.

    Each is planned on a working copy of `database` to which the file's earlier statements have
    been applied, so a statement sees the tables and columns it runs against (an UPDATE of a
    column the file adds, the copy into a rebuilt table). `database` itself is not changed.
    A statement that cannot be batched is reported and the others still are. `scale_to`
    measures each on a copy scaled up to that many rows (see `plan_batches`).
    """
    out = Path(out)
    if out.is_dir():
        clear_batch_folder(out)
    targets = [s for s in statements if s.kind in BATCHABLE]
    results: list[FileBatches] = []
    with tempfile.TemporaryDirectory(prefix="d1nb-batch-") as tmp:
        copy = Path(tmp) / "working.sqlite"
        shutil.copyfile(database, copy)
        for s in statements:
            if s.kind in BATCHABLE:
                entry = FileBatches(s)
                results.append(entry)
                folder = out if len(targets) == 1 else out / f"line_{s.line:04d}"
                try:
                    entry.plan = plan_batches(
                        copy,
                        s,
                        budget_ms=budget_ms,
                        margin=margin,
                        scale_to=scale_to,
                        max_rows_written=max_rows_written,
                    )
                    entry.files = write_batches(entry.plan, copy, folder, database_name)
                except InputError as exc:
                    entry.error = f"{file}:{s.line}: {exc.problem.message}"
            with D1Engine(copy) as engine:
                try:
                    engine.run_statement(s, file)
                except D1Error as exc:
                    if s.kind in BATCHABLE and not results[-1].error:
                        results[-1].error = str(exc)
                    results += [
                        FileBatches(t, error=f"{file}:{t.line}: not planned: {exc}")
                        for t in targets
                        if t.index > s.index
                    ]
                    break
    return results
