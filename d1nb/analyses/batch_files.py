"""Batch files on disk: the numbered SQL files of a plan, the `run_batches.sh` driver that runs
them with wrangler and then batches what production added since the export, and a migration
file's batchable statements each planned and written in turn."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from d1nb import d1, outfiles
from d1nb.analyses.batch_sql import (
    batch_sql,
    matched_rowids,
)
from d1nb.analyses.batching import BATCHABLE, DEFAULT_MARGIN, BatchPlan, plan_batches, rowid_after
from d1nb.analyses.sql_driver import DONE, driver_lines
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import D1Error
from d1nb.engine.scratch import scratch_scope
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import pragma_switch
from d1nb.formats.sql.text import quote_ident
from d1nb.problems import InputError

_LOW, _HIGH = "__d1nb_low__", "__d1nb_high__"
"""Placeholders of tail.sql.in, filled in by the driver for each range past the export."""


MAX_BATCH_FILES = 10_000
"""Batch files written at most (a file per batch of one row over millions of rows filled 7.8 GB
on stranger's project #19); the driver goes on past them as it does past the export."""


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
    batch again while a row still matches, ranges of the next `size` rowids D1 holds up to
    the table's last rowid (exact past 2^53, and as sparse as snowflake ids may be). An
    INSERT … SELECT into its own table stops at the export's last rowid, past which its own
    copies land.
    """
    size = size or plan.recommended
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_batch_folder(out)
    s, insert = plan.statement, plan.insert
    helpers: dict[str, str] = {}
    if plan.mode == "limit":
        count = max(1, -(-plan.rows // size))
        if count > MAX_BATCH_FILES:
            plan.notes.append(
                f"{count:,} batches: the first {MAX_BATCH_FILES:,} are files, then the driver "
                "runs the first again while rows still match"
            )
        statements = [batch_sql(s, size, "limit")] * min(count, MAX_BATCH_FILES)
        # rowids as text: D1's --json answer goes through JavaScript numbers, which round
        # integers past 2^53 (snowflake ids)
        helpers["remaining.sql"] = f"SELECT CAST(min(r) AS TEXT) AS r FROM ({matched_rowids(s)});"
        end = None
    else:
        table = insert.source if insert is not None else s.table or ""
        statements, end, capped = _range_batches(plan, database, size, table)
        if capped and insert is not None and insert.into_itself:
            raise InputError(
                out,
                0,
                f"more than {MAX_BATCH_FILES:,} batches of {size:,} rows, and the statement "
                "inserts into its own table, so the driver cannot go on past the files: "
                "raise --budget-ms",
            )
        if capped:
            plan.notes.append(
                f"more than {MAX_BATCH_FILES:,} batches: the files cover rowids up to {end}, "
                "and the driver goes on from there in ranges of the same size"
            )
        if insert is None or not insert.into_itself:
            t = quote_ident(table)
            helpers["last_rowid.sql"] = f"SELECT CAST(max(rowid) AS TEXT) AS r FROM {t};"
            # where the next range ends: `size` rows on, however sparse the rowids are
            helpers["next_rowid.sql.in"] = (
                f"SELECT CAST(max(r) AS TEXT) AS r FROM (SELECT rowid AS r FROM {t} "
                f"WHERE rowid > {_LOW} ORDER BY rowid LIMIT {size});"
            )
            helpers["tail.sql.in"] = batch_sql(s, size, "range", _LOW, _HIGH, insert)
    width = len(str(len(statements)))
    files = []
    for i, sql in enumerate(statements, 1):
        if len(sql.encode()) > d1.MAX_STATEMENT_BYTES:
            raise InputError(out, 0, "a batch statement exceeds D1's 100 KB limit")
        path = out / f"batch_{i:0{width}d}.sql"
        outfiles.write_text(
            path,
            f"-- batch {i} of {len(statements)}: up to {size} rows; {plan.rerun_note}\n{sql}\n",
        )
        files.append(path)
    for name, sql in helpers.items():
        outfiles.write_text(out / name, sql + "\n")
    first = files[0].name if files else ""
    driver = out / "run_batches.sh"
    outfiles.write_text(driver, _driver(database_name, first, size, end, helpers))
    return files


_DRIVER_HEAD = "#!/usr/bin/env sh\n# Runs the batches"


_HELPERS = (
    "remaining.sql",
    "last_rowid.sql",
    "next_rowid.sql.in",
    "next_rowid.sql",
    "tail.sql.in",
    "tail.sql",
    DONE,
)
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
        for f in sorted(folder.glob("part_*.sql")):
            if f.read_text(encoding="utf-8", errors="replace").startswith(_PART_HEAD):
                f.unlink()
        if folder != out and not any(folder.iterdir()):
            folder.rmdir()


def _range_batches(
    plan: BatchPlan, database: str | Path, size: int, table: str
) -> tuple[list[str], int, bool]:
    """Range batches of `size` matching (or source) rows over the snapshot, the last one ending
    at the last rowid of `table` (the one the ranges cut); the rowid where they end (0 when
    empty); and whether they stop short of it at MAX_BATCH_FILES."""
    s, insert = plan.statement, plan.insert
    statements: list[str] = []
    low = None
    with D1Engine(database) as engine:
        end = engine.conn.execute(f"SELECT max(rowid) FROM {quote_ident(table)}").fetchall()[0][0]
        while True:
            if len(statements) == MAX_BATCH_FILES:
                return statements, low or 0, True
            high = rowid_after(engine, s, size, low or 0, insert)
            if high is None:
                if end is not None and (low is None or end > low):
                    statements.append(batch_sql(s, size, "range", low, end, insert))
                break
            statements.append(batch_sql(s, size, "range", low, high, insert))
            low = high
    return statements, end or 0, False


_VALUE = (
    'node -e \'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{'
    "const v=Object.values(JSON.parse(s)[0].results[0]||{})[0];"
    'process.stdout.write(v===null||v===undefined?"":String(v))})\''
)


def _driver(name: str, first: str, size: int, end: int | None, helpers: dict[str, str]) -> str:
    """run_batches.sh: the batch files in order, then the rows the export did not have."""
    lines = driver_lines(
        name,
        "run_batches.sh",
        [
            "Runs the batches one after another (--yes: no prompt per file); stops at the first",
            "failure. Re-running is safe.",
            "Then asks D1 which rows the export did not have and batches them the same way",
            "(node reads wrangler's --json answers).",
            "D1NB_MAX_BATCHES=N stops after N batches (a daily allowance: run it again tomorrow).",
        ],
        "batch",
        allowance="D1NB_MAX_BATCHES",
    )
    lines += [
        "value() {  # the one value a one-row query returns, empty for NULL",
        '  sql="$(cat "$dir/$1")"; shift',
        f'  $WRANGLER d1 execute {shlex.quote(name)} --json --command "$sql" "$@" | {_VALUE}',
        "}",
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
            f"low={end}  # where the files above end (the export's last rowid, or the cap)",
            'high="$(value last_rowid.sql "$@")"',
            'while [ -n "$high" ] && [ "$high" -gt "$low" ]; do',
            f'  sed -e "s/{_LOW}/$low/g" "$dir/next_rowid.sql.in" > "$dir/next_rowid.sql"',
            '  next="$(value next_rowid.sql "$@")"',
            '  [ -n "$next" ] || break',
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
    with scratch_scope("d1nb-batch-") as tmp:
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
                    if entry.plan.batchable:
                        entry.files = write_batches(entry.plan, copy, folder, database_name)
                except InputError as exc:
                    entry.error = f"{file}:{s.line}: {exc.problem.message}"
            with D1Engine(copy) as engine:
                try:
                    engine.run_statement(s, file)
                except D1Error as exc:
                    if s.kind in BATCHABLE and not results[-1].error:
                        results[-1].error = str(exc)
                    elif s.kind not in BATCHABLE:  # the file fails past its batched statements
                        results.append(
                            FileBatches(
                                s,
                                error=f"{file}:{s.line}: the file fails here on this export "
                                f"({exc.reason}): D1 rolls the whole file back",
                            )
                        )
                    results += [
                        FileBatches(t, error=f"{file}:{t.line}: not planned: {exc}")
                        for t in targets
                        if t.index > s.index
                    ]
                    break
    _write_file_parts(statements, results, out, file or "the migration file")
    return results


_PART_HEAD = "-- part "


def _write_file_parts(
    statements: list[Statement], results: list[FileBatches], out: Path, file: str
) -> None:
    """Say where the batches go in their migration file, and write the file's other
    statements as the migrations to apply around them (`part_N.sql` in `out`).

    Applied as it is, the file would run a batched statement whole; its earlier statements
    (the table a rebuild copies into, the column a backfill fills) must run before the
    batches and its later ones (the DROP and RENAME that finish a rebuild) after them. Each
    part after the first repeats the `PRAGMA defer_foreign_keys` in force where it starts: the
    pragma lasts one transaction, and without it a reference the part breaks before it mends
    it fails at once."""
    planned = [r for r in results if r.files and r.plan is not None]
    for r in planned:
        if 0 < r.plan.rows <= r.plan.recommended:  # none: the plan says production may have
            r.plan.notes.append(
                f"one batch holds all {r.plan.rows:,} rows within the budget: {file} can run "
                "as it is, unless production holds many more rows than this export "
                "(--scale-to plans for that many)"
            )
    batched = [r for r in planned if r.plan.recommended < r.plan.rows]
    if not batched:
        return
    cuts = [r.statement.index for r in batched]
    runs: list[list[Statement]] = [[] for _ in range(len(cuts) + 1)]
    deferred: list[bool] = [False] * len(runs)
    defer = False
    for s in statements:
        part = sum(1 for c in cuts if c < s.index)
        if s.index in cuts:
            deferred[part + 1] = defer
            continue
        switch = pragma_switch(s.detail, "defer_foreign_keys") if s.kind == "pragma" else None
        defer = defer if switch is None else switch
        if s.kind != "empty":
            runs[part].append(s)
    written: dict[int, tuple[str, str]] = {}  # run -> (file name, its lines)
    for i, run in enumerate(runs):
        if not any(s.kind != "pragma" for s in run):
            continue  # only pragmas: nothing to apply
        name = f"part_{len(written) + 1}.sql"
        lines = f"{run[0].line}–{run[-1].end_line}"
        head = [
            f"{_PART_HEAD}{len(written) + 1} of {file}: its lines {lines}",
            "-- written by d1nb batch: apply it as a migration "
            + (
                f"before the batches of its line {batched[i].statement.line}"
                if i < len(cuts)
                else f"after the batches of its line {batched[i - 1].statement.line}"
            ),
        ]
        body = [s.written or s.sql for s in run]
        if deferred[i]:  # never the first part's: nothing runs before it
            body.insert(0, "PRAGMA defer_foreign_keys = true;  -- in force here in the file")
        outfiles.write_text(out / name, "\n".join(head + body) + "\n")
        written[i] = (name, lines)
    for i, entry in enumerate(batched):
        line = entry.statement.line
        first, then = written.get(i), written.get(i + 1)
        if first is None and then is None:
            entry.plan.notes.append(
                f"{file} holds nothing but what is batched: applied as it is it runs line "
                f"{line} whole. Once the batches have run, leave only a comment in it "
                "(wrangler applies such a file and records it) and apply it"
            )
            continue
        steps = []
        if first is not None:
            where = f"in place of {file}" if i == 0 else "as the next migration"
            steps.append(f"apply {first[0]} (lines {first[1]}) {where}")
        steps.append("run the batches")
        if then is not None:
            where = "the next migration" if first or i else f"{file} in its place"
            steps.append(
                f"apply {then[0]} (lines {then[1]}) as {where}, before any file numbered "
                f"after {file}"
            )
        entry.plan.notes.append(
            f"applied as it is, {file} runs line {line} whole: "
            + ", then ".join(steps)
            + " (the parts are written beside the batches)"
        )
        insert = entry.plan.insert
        if insert is None or then is None:
            continue
        source = insert.source.lower()
        ends = next(
            (
                s
                for s in runs[i + 1]
                if s.kind in ("drop_table", "rename_table") and (s.table or "").lower() == source
            ),
            None,
        )
        if ends is not None:
            entry.plan.notes.append(
                f"{insert.source} must not change from the first batch until {then[0]} is "
                f"applied (it {'drops' if ends.kind == 'drop_table' else 'renames'} it at line "
                f"{ends.line}): a row updated or deleted there after its batch ran would not "
                f"reach {insert.target}; the driver only adds the rows inserted since the "
                "export"
            )
