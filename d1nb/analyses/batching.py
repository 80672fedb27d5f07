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

import contextlib
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import numpy as np
import pandas as pd

from d1nb import d1
from d1nb.analyses.batch_sql import (
    InsertSelect,
    _matching,
    _self_excluding,
    _writes_per_row,
    batch_sql,
    matched_rowids,
    parse_insert_select,
)
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import D1Error
from d1nb.engine.scratch import scratch_scope
from d1nb.formats.migrations import Statement, parse_statements
from d1nb.formats.sql.shapes import insert_select, written_columns
from d1nb.formats.sql.text import quote_ident, quote_literal
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
    inserted: int | None = None
    """Rows the whole INSERT … SELECT inserts on this data (`rows` are its source's)."""
    most_per_row: int = 1
    """The most rows one source row of an INSERT … SELECT yields: what bounds a batch's
    writes (1 for an UPDATE or DELETE)."""
    rerun_changes: int | None = 0
    """Rows a second run of the whole statement changes again on a copy (an UPDATE batched
    by rowid ranges whose SET is not idempotent: a batch must then never run twice); None
    when that could not be told."""

    @property
    def rerun_note(self) -> str:
        """What running a batch file again does, for its first line."""
        if self.rerun_changes == 0:
            return "safe to re-run"
        if self.rerun_changes is None:
            return "safe to re-run only if its SET is idempotent"
        return "NOT safe to re-run: a second run changes its rows again"

    @property
    def counted(self) -> str:
        """What `rows` counts, for a headline: rows of the table, or of an INSERT … SELECT's
        source and what they insert."""
        if self.insert is None:
            return f"{self.rows:,} rows of {self.table}"
        inserted = "" if self.inserted is None else f"{self.inserted:,} "
        return f"{self.rows:,} rows of {self.insert.source} (inserting {inserted}into {self.table})"

    def predicted_p95_ms(self, size: int) -> float:
        return (self.intercept_ms + self.ms_per_row * size) * self.p95_factor

    @property
    def batchable(self) -> bool:
        """Whether some batch size meets the budget. Not when a batch of one row is already
        predicted over it: the statement's fixed part (a subquery over the whole table,
        say) runs again in every batch, so batching only repeats that cost."""
        return self.predicted_p95_ms(1) <= self.budget_ms

    @property
    def unbatchable_reason(self) -> str:
        """Why no batch size meets the budget, and what to do instead."""
        size = int(self.measurements["batch_size"].min()) if len(self.measurements) else 1
        batches = -(-self.rows // size) if self.rows else 0
        each = max(self.predicted_p95_ms(size), self.predicted_p95_ms(1))
        return (
            f"no batch size meets the {self.budget_ms:,g} ms budget: a batch of one row is "
            f"predicted at {self.predicted_p95_ms(1):,.0f} ms p95, the statement's fixed part "
            f"({self.intercept_ms * self.p95_factor:,.0f} ms), which every batch runs again "
            f"({batches:,} batches of {size:,} rows would hold D1 for "
            f"{batches * each / 3_600_000:,.1f} h in all). "
            "No batch files written: rewrite the statement so that each batch reads only its "
            "own rows (collect the keys it matches into a table of their own first, then batch "
            "over that table), or raise --budget-ms"
        )

    def per_day(self, rows_written_per_day: int = d1.FREE_ROWS_WRITTEN_PER_DAY) -> dict:
        """How the batches fit a daily allowance of rows written (the Free plan's 100,000,
        enforced since 2026-09-01: past it D1 fails every write until 00:00 UTC)."""
        written = max(1, self.recommended * self.most_per_row * self.writes_per_row)
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
                    "rows_written": (self.rows if self.inserted is None else self.inserted)
                    * self.writes_per_row,
                    "predicted_p95_ms": round(p95, 1),
                    "predicted_total_s": round(
                        batches * (self.intercept_ms + self.ms_per_row * size) / 1000, 2
                    ),
                    "within_budget": p95 <= self.budget_ms,
                }
            )
        return pd.DataFrame(rows)


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
    matter as much as large ones) with a non-negative fixed cost.

    R² is measured with the fit's own weights, so it says how much of the relative spread the
    line explains: 1 is all of it, 0 no more than a flat line (timings too noisy to trust).
    """
    if len(set(rows)) < 2:
        return float(ms.mean() / max(rows[0], 1)), 0.0, 1.0
    weight = 1 / np.maximum(ms, 1e-6)
    slope, intercept = np.polyfit(rows, ms, 1, w=weight)
    if intercept < 0:
        slope, intercept = float((rows * ms).sum() / (rows * rows).sum()), 0.0
    fitted = intercept + slope * rows
    w2 = weight**2
    mean = float((w2 * ms).sum() / w2.sum())
    total = float((w2 * (ms - mean) ** 2).sum())
    r2 = 1 - float((w2 * (ms - fitted) ** 2).sum()) / total if total else 1.0
    return float(slope), float(intercept), max(0.0, r2)


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
        per_row = max(1, plan.writes_per_row * plan.most_per_row)
        cap = max(1, max_rows_written // per_row)
        if plan.recommended > cap:
            each = f"each writes {plan.writes_per_row} D1 row(s) per row"
            if plan.insert is not None and plan.most_per_row > 1:
                each = (
                    f"one row of {plan.insert.source} yields up to {plan.most_per_row:,} rows, "
                    f"each written as {plan.writes_per_row} D1 row(s)"
                )
            plan.notes.append(
                f"batches capped at {cap:,} rows ({plan.recommended:,} fit the time budget): "
                f"{each}, and one batch may write at most {max_rows_written:,}"
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
    with D1Engine(database) as engine:
        _refuse_without_rowids(engine, s)
    if not scale_to:
        return _plan_on(database, s, budget_ms, margin, sizes, repeats)
    with D1Engine(database) as engine:
        table = parse_insert_select(engine, s).source if s.kind == "insert_select" else s.table
        have = engine.conn.execute(f"SELECT count(*) FROM {quote_ident(table or '')}").fetchall()[
            0
        ][0]
    if have >= scale_to:
        return _plan_on(database, s, budget_ms, margin, sizes, repeats)
    if not have:  # emptied by an earlier statement or file: there is nothing to repeat
        plan = _plan_on(database, s, budget_ms, margin, sizes, repeats)
        plan.notes.insert(0, f"{table} is empty at this point: nothing to scale up, planned as is")
        return plan
    with scratch_scope("d1nb-scale-") as tmp:
        scaled = scale_table(database, table or "", scale_to, Path(tmp) / "scaled.sqlite")
        plan = _plan_on(scaled, s, budget_ms, margin, sizes, repeats)
    plan.notes.insert(
        0,
        f"measured on a copy with {table} scaled from {have:,} to {scale_to:,}+ rows (its rows "
        "repeated with new keys); rows and batch counts below are for the scaled table",
    )
    return plan


def _refuse_without_rowids(engine: D1Engine, s: Statement) -> None:
    """Batches are rowid ranges: an InputError naming the line when a table the statement
    batches on has no rowid to range over (checked before any copy is scaled up)."""
    source = insert_source(s)
    ranged = source if s.kind == "insert_select" else s.table  # whose rowids batches range on
    if ranged and not _has_rowid(engine, ranged):
        what = s.kind.upper().replace("_", " … ")
        raise InputError(
            "",
            s.line,
            f"cannot batch this {what}: {ranged} is a WITHOUT ROWID table, and batches are "
            "rowid ranges (d1nb does not batch by primary key ranges yet): split it by hand "
            "on ranges of its primary key",
        )
    hidden = [
        t
        for t in (s.table, source)
        if t
        and engine.conn.table_exists(None, t)
        and _has_rowid(engine, t)
        and _rowid_hidden(engine, t)
    ]
    if hidden:
        raise InputError(
            "",
            s.line,
            f"cannot batch this {s.kind.upper().replace('_', ' … ')}: a column of "
            f"{hidden[0]} is named rowid and hides its rowid, and batches are rowid ranges; "
            "split it by hand",
        )


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
            inserted, most = None, 1
            if s.kind == "insert_select":
                insert = parse_insert_select(engine, s)
                inserted = _runs_unbatched(engine, s)
                with contextlib.suppress(apsw.Error):
                    most = max(1, engine.conn.execute(insert.fanout_sql()).fetchall()[0][1])
            rows = _matching(engine, s, insert)
            mode = "limit" if insert is None and _self_excluding(engine, s) else "range"
            writes_per_row = _writes_per_row(engine, s)
            again = _rerun_changes(engine, s) if mode == "range" and insert is None else (0, "")
            measured = []
            for tried, size in enumerate([n for n in sizes if n <= max(rows, sizes[0])]):
                if tried >= 2 and min(m["ms"] for m in measured[-repeats:]) > budget_ms:
                    break  # two sizes make the curve; larger ones only take longer still
                for _ in range(repeats):
                    if mode == "range":
                        high = rowid_after(engine, s, size, insert=insert)
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
    over_at_one = (intercept + slope) * noise > budget_ms  # calibration only adds to noise
    observed = (
        _committed_run(database, s, mode, first, rows, insert) if rows and not over_at_one else []
    )
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
        inserted=inserted,
        most_per_row=most,
    )
    if not rows:
        plan.notes.append(
            f"no row of {plan.table or 'its table'} matches at this point: the times measured "
            "are of batches that change nothing, and there is nothing to batch on this export "
            "(production may hold rows it matches: the driver asks D1 for them)"
        )
    if observed:
        plan.notes.append(
            f"{len(observed)} committed batch{'' if len(observed) == 1 else 'es'} of {first:,} "
            "rows took "
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
        plan.rerun_changes, example = again
        ranges = "the statement still matches rows it changed, so batches are rowid ranges"
        if plan.rerun_changes == 0:
            plan.notes.append(
                f"{ranges}; run twice on a copy, its second run changed no value: re-running a "
                "batch is safe"
            )
        elif plan.rerun_changes is None:
            plan.notes.append(
                f"{ranges}; re-running a batch is safe only if the SET is idempotent (d1nb "
                "could not run it twice to tell) — check it is"
            )
        else:
            plan.notes.append(
                f"{ranges}, and its SET is not idempotent: run twice on a copy, its second run "
                f"changed {plan.rerun_changes:,} rows again ({example}). A batch must never "
                "run twice: run_batches.sh skips the files done.txt lists, so keep done.txt, "
                "and do not re-run a batch file by hand after an error without checking "
                "whether it committed"
            )
    return plan


def _rerun_changes(engine: D1Engine, s: Statement) -> tuple[int | None, str]:
    """Run an UPDATE whole, twice, in a savepoint rolled back: the rows whose values the
    second run changed again, and one of them in words; (None, "") when it cannot tell."""
    if s.kind != "update":
        return 0, ""  # a DELETE's rows are gone: a second run finds none
    columns = written_columns(s.sql)
    if not columns or not s.table:
        return None, ""
    table = quote_ident(s.table)
    kept = ", ".join(f"{quote_ident(c)} AS _c{i}" for i, c in enumerate(columns))
    engine.conn.execute("SAVEPOINT d1nb_twice")
    try:
        engine.run_statement(s)
        engine.conn.execute(
            f"CREATE TEMP TABLE _d1nb_once AS SELECT rowid AS _r, {kept} FROM main.{table}"
        )
        engine.run_statement(s)
        moved = " OR ".join(f"o._c{i} IS NOT t.{quote_ident(c)}" for i, c in enumerate(columns))
        shown = ", ".join(f"o._c{i}, t.{quote_ident(c)}" for i, c in enumerate(columns))
        join = f"FROM temp._d1nb_once o JOIN main.{table} t ON t.rowid = o._r WHERE {moved}"
        count = engine.conn.execute(f"SELECT count(*) {join}").fetchall()[0][0]
        first = engine.conn.execute(f"SELECT {shown} {join} LIMIT 1").fetchall()
    except (D1Error, apsw.Error):
        return None, ""
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_twice")
        engine.conn.execute("RELEASE d1nb_twice")
    example = ""
    if first:
        pairs = zip(columns, first[0][0::2], first[0][1::2], strict=True)
        example = "; ".join(
            f"{c} {quote_literal(a)} → {quote_literal(b)}" for c, a, b in pairs if a != b
        )
    return count, f"e.g. {example}" if example else ""


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
    with scratch_scope("d1nb-calibrate-") as tmp:
        copy = Path(tmp) / "probe.sqlite"
        shutil.copyfile(database, copy)
        with D1Engine(copy) as engine:
            low = None
            for _ in range(min(batches, -(-rows // size))):
                if mode == "limit":
                    sql = batch_sql(s, size, "limit")
                else:
                    high = rowid_after(engine, s, size, low or 0, insert)
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


def _rowid_hidden(engine: D1Engine, table: str) -> bool:
    """Whether a column of `table` is named rowid (the batch SQL names the rowid so)."""
    try:
        return engine.rowid_name(table) != "rowid"
    except InputError:  # no name reaches it at all
        return True


def insert_source(s: Statement) -> str | None:
    """The table an INSERT … SELECT reads its rows from, when sqlglot can say."""
    if s.kind != "insert_select":
        return None
    parts = insert_select(s.sql)
    return None if isinstance(parts, str) else parts.source


def _has_rowid(engine: D1Engine, table: str) -> bool:
    (found,) = engine.conn.execute(
        "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' "
        "AND name = ? COLLATE NOCASE AND NOT wr",
        (table,),
    ).fetchall()[0]
    return bool(found) or not engine.conn.table_exists(None, table)


def rowid_after(
    engine: D1Engine, s: Statement, size: int, after: int = 0, insert: InsertSelect | None = None
) -> int | None:
    """The rowid that ends a range of `size` matching rows (source rows for an INSERT …
    SELECT) starting after `after`."""
    rows = (
        f"SELECT rowid AS r FROM {quote_ident(insert.source)}"
        if insert is not None
        else matched_rowids(s)
    )
    row = engine.conn.execute(
        f"SELECT r FROM ({rows}) WHERE r > ? ORDER BY r LIMIT 1 OFFSET ?",
        (after, size - 1),
    ).fetchall()
    return row[0][0] if row else None


def _runs_unbatched(engine: D1Engine, s: Statement) -> int:
    """Run `s` whole in a savepoint (rolled back) and return the rows it changed: batches
    are only offered for a statement that succeeds on this data, so that skipping rows
    already there changes nothing."""
    engine.conn.execute("SAVEPOINT d1nb_whole")
    try:
        return engine.run_statement(s)
    except D1Error as exc:
        raise InputError("", s.line, f"fails unbatched on this data: {exc.reason}") from exc
    finally:
        engine.conn.execute("ROLLBACK TO d1nb_whole")
        engine.conn.execute("RELEASE d1nb_whole")
