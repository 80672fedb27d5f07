"""Batch sizing for large UPDATE and DELETE backfills, and the batched SQL to run them.

D1 runs one query at a time and stops any statement at 30 s, so a backfill over a large table
must run in batches small enough that none holds the database longer than a budget. This
module rewrites a statement into batches, measures batch time at candidate sizes on a working
copy, fits time ≈ a + b·n, recommends the largest size whose predicted p95 stays under the
budget with a margin, and writes the batches as files for `wrangler d1 execute --file`.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import d1
from .engine import D1Engine
from .migrations import Statement, parse_statements, written_columns
from .problems import InputError

CANDIDATE_SIZES = (250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
REPEATS = 5
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

    def predicted_p95_ms(self, size: int) -> float:
        return (self.intercept_ms + self.ms_per_row * size) * self.p95_factor

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
    """(statement without its WHERE, WHERE condition or '1') for UPDATE and DELETE."""
    sql = s.sql.rstrip().rstrip(";")
    depth, i, where = 0, 0, -1
    upper = sql.upper()
    in_string = False
    while i < len(sql):
        ch = sql[i]
        if ch == "'":
            in_string = not in_string
        elif not in_string:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif (
                depth == 0
                and upper.startswith("WHERE", i)
                and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"))
            ):
                where = i
        i += 1
    for word in (" RETURNING ", " ORDER BY ", " LIMIT "):
        if word in upper[max(where, 0) :]:
            raise InputError("", s.line, f"cannot batch a statement with{word.rstrip()}")
    if where < 0:
        return sql, "1"
    return sql[:where].rstrip(), sql[where + 5 :].strip()


def batch_sql(
    s: Statement, size: int, mode: str, low: int | None = None, high: int | None = None
) -> str:
    """One batch of `s`: `rowid IN (… LIMIT size)` (self-excluding statements) or a rowid range."""
    head, condition = _where_and_head(s)
    table = f'"{s.table}"'
    if mode == "limit":
        return f"{head} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT {size});"
    bounds = [f"rowid > {low}"] if low is not None else []
    bounds += [f"rowid <= {high}"] if high is not None else []
    return f"{head} WHERE ({condition}) AND {' AND '.join(bounds) or '1'};"


def _matching(engine: D1Engine, s: Statement) -> int:
    _, condition = _where_and_head(s)
    return engine.conn.execute(f'SELECT count(*) FROM "{s.table}" WHERE {condition}').fetchall()[0][
        0
    ]


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
    from .replay import Meter

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


def plan_batches(
    database: str | Path,
    statement: str | Statement,
    *,
    budget_ms: float = 1000.0,
    margin: float = DEFAULT_MARGIN,
    sizes: tuple[int, ...] = CANDIDATE_SIZES,
    repeats: int = REPEATS,
) -> BatchPlan:
    """Measure `statement` in batches on a working copy (`database`, left unchanged) and
    recommend a batch size. Every measured batch runs in a savepoint that is rolled back."""
    s = parse_statements(statement)[0] if isinstance(statement, str) else statement
    if s.kind not in ("update", "delete"):
        raise InputError("", s.line, f"batching handles UPDATE and DELETE, not {s.kind}")
    with D1Engine(database) as engine:
        engine.conn.execute("BEGIN")
        try:
            rows = _matching(engine, s)
            mode = "limit" if _self_excluding(engine, s) else "range"
            writes_per_row = _writes_per_row(engine, s)
            measured = []
            for size in [n for n in sizes if n <= max(rows, sizes[0])]:
                for _ in range(repeats):
                    sql = (
                        batch_sql(s, size, mode, 0, _rowid_after(engine, s, size))
                        if mode == "range"
                        else batch_sql(s, size, mode)
                    )
                    ms, changed = _time_batch(engine, sql)
                    measured.append({"batch_size": size, "rows": changed, "ms": ms})
        finally:
            engine.conn.execute("ROLLBACK")
    frame = pd.DataFrame(measured)
    slope, intercept, r2 = fit_time(frame["rows"].to_numpy(float), frame["ms"].to_numpy(float))
    by_size = frame.groupby("batch_size")["ms"]
    p95_factor = max(float(np.percentile(v, 95)) / statistics.fmean(v) for _, v in by_size)
    drift = _progress_drift(database, s, mode, rows, sizes) if rows else 1.0
    p95_factor *= drift
    limit = budget_ms * (1 - margin)
    best = max(1, int((limit / p95_factor - intercept) / slope)) if slope > 0 else rows
    recommended = int(min(best, rows)) if rows else sizes[0]
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
    )
    if mode == "range":
        plan.notes.append(
            "the statement still matches rows it changed, so batches are rowid "
            "ranges; re-running a batch is safe only because the SET is "
            "idempotent — check it is"
        )
    return plan


def _progress_drift(
    database: str | Path, s: Statement, mode: str, rows: int, sizes: tuple[int, ...]
) -> float:
    """How much slower per row late batches run than the first ones, on a throwaway copy.

    The sized measurements all run on the untouched table; a real run changes it as it goes
    (an index grows with every batch), so the whole statement is run once in batches of a
    twentieth of the rows and the p95 per-row time is compared with the first batches'.
    """
    size = max(sizes[0], rows // 20)
    with tempfile.TemporaryDirectory(prefix="d1nb-drift-") as tmp:
        copy = Path(tmp) / "probe.sqlite"
        shutil.copyfile(database, copy)
        per_row = []
        with D1Engine(copy) as engine:
            low = None
            for _ in range(40):
                if mode == "limit":
                    sql = batch_sql(s, size, "limit")
                else:
                    high = _rowid_after(engine, s, size, low or 0)
                    sql = batch_sql(s, size, "range", low, high)
                    low = high
                start = time.perf_counter()
                engine.conn.execute(sql)
                changed = engine.conn.changes()
                if changed:
                    per_row.append((time.perf_counter() - start) * 1000 / changed)
                if changed < size or (mode == "range" and low is None):
                    break
    if len(per_row) < 4:
        return 1.0
    first = statistics.median(per_row[:3])
    return max(1.0, float(np.percentile(per_row, 95)) / first)


def _rowid_after(engine: D1Engine, s: Statement, size: int, after: int = 0) -> int | None:
    """The rowid that ends a range of `size` matching rows starting after `after`."""
    _, condition = _where_and_head(s)
    row = engine.conn.execute(
        f'SELECT rowid FROM "{s.table}" WHERE ({condition}) AND rowid > ? ORDER BY rowid '
        "LIMIT 1 OFFSET ?",
        (after, size - 1),
    ).fetchall()
    return row[0][0] if row else None


def write_batches(
    plan: BatchPlan,
    database: str | Path,
    out: str | Path,
    database_name: str = "DB",
    size: int | None = None,
) -> list[Path]:
    """Write the batches as numbered SQL files and a driver script; return the files.

    LIMIT batches are identical files, one per expected batch (each ends when no row
    matches, so extra runs change nothing); range batches cover consecutive rowid ranges of
    the snapshot, the last one open-ended so rows added since are included.
    """
    size = size or plan.recommended
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    if plan.mode == "limit":
        count = max(1, -(-plan.rows // size))
        statements = [batch_sql(plan.statement, size, "limit")] * count
    else:
        statements, low = [], None
        with D1Engine(database) as engine:
            while True:
                high = _rowid_after(engine, plan.statement, size, low or 0)
                if high is None:
                    statements.append(batch_sql(plan.statement, size, "range", low, None))
                    break
                statements.append(batch_sql(plan.statement, size, "range", low, high))
                low = high
    width = len(str(len(statements)))
    for i, sql in enumerate(statements, 1):
        if len(sql.encode()) > d1.MAX_STATEMENT_BYTES:
            raise InputError(out, 0, "a batch statement exceeds D1's 100 KB limit")
        path = out / f"batch_{i:0{width}d}.sql"
        path.write_text(
            f"-- batch {i} of {len(statements)}: up to {size} rows; safe to re-run\n{sql}\n",
            encoding="utf-8",
        )
        files.append(path)
    driver = out / "run_batches.sh"
    driver.write_text(
        "#!/usr/bin/env sh\n"
        "# Runs the batches one after another; stops at the first failure. Re-running is safe.\n"
        "# Usage: sh run_batches.sh [--env production] [--remote]\nset -e\n"
        'cd "$(dirname "$0")"\n'
        "for f in batch_*.sql; do\n"
        f'  echo "$f"\n  npx wrangler d1 execute {database_name} --file "$f" "$@"\n'
        "done\n",
        encoding="utf-8",
    )
    return files
