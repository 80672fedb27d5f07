"""Subcommands over exports: load, replay, impact, rollback, batch, diff.

Each handler is registered with its arguments beside it (`command`) and returns an
`Outcome`; `cli.main` parses, calls, renders and is the one error boundary.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import shlex
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from d1nb import d1
from d1nb.presentation.command import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_UNUSABLE,
    PROJECT,
    QUIET,
    SERVICE,
    VIA,
    WORKDIR,
    Arg,
    Command,
    Outcome,
    budget_arg,
    command,
    pair,
    snapshot_arg,
)
from d1nb.problems import InputError
from d1nb.text import rows_count

if TYPE_CHECKING:
    from d1nb.formats.config import D1Binding

COMMANDS: list[Command] = []


def _warm_import(module: str) -> threading.Thread:
    """Import `module` on a thread of its own while an export is read: the reading runs in C,
    mostly without the GIL, so pandas and the like load in the meantime (a third of a
    second of the whole command). Join the thread before using the module."""
    thread = threading.Thread(target=importlib.import_module, args=(module,), daemon=True)
    thread.start()
    return thread


def _workdir(args: argparse.Namespace) -> Path:
    """--workdir, or a scratch folder removed when the command ends."""
    from d1nb.engine.scratch import scratch_folder

    return Path(args.workdir) if args.workdir else scratch_folder()


TABLE = Arg("--table", help="table name for --json, CSV and Parquet inputs")
SCHEMA = Arg(
    "--schema",
    metavar="MIGRATIONS_DIR",
    help="migrations that create the tables (for --no-schema dumps, CSV, …)",
)


@command(
    COMMANDS,
    "load",
    "Load an export into a SQLite working copy and DuckDB, counts verified.",
    "d1nb load data/sample/exports/api/before.sql --out api.duckdb",
    Arg(
        "export",
        help="wrangler d1 export dump, .sqlite, local-state folder, --json output, CSV or Parquet",
    ),
    Arg("--out", help="write the DuckDB snapshot to this file"),
    TABLE,
    SCHEMA,
    Arg(
        "--workdir",
        help="folder for the SQLite working copy (default: a temporary folder, removed when "
        "the command ends)",
    ),
    QUIET,
)
def cmd_load(args: argparse.Namespace) -> Outcome:
    from d1nb.inputs.history import schema_migrations
    from d1nb.inputs.snapshots import load_snapshot

    schema = schema_migrations(args.schema) if args.schema else None
    snapshot = load_snapshot(
        args.export,
        _workdir(args),
        table=args.table,
        schema=schema,
        progress=not args.quiet and args.format == "text",
    )
    if args.out:
        _write_duckdb(snapshot, Path(args.out))
    else:
        snapshot.duckdb(None, progress=False)
    if args.workdir:  # asked for by name: the working copy is made even for a direct load
        snapshot.path  # noqa: B018 (building it is the point)
    out = Outcome()
    if args.format == "json":  # the records themselves: no pandas to import for them
        counts = [{"table": t, "rows": n} for t, n in sorted(snapshot.row_counts.items())]
        types = [dict(note) for note in snapshot.type_notes]
    else:
        counts, types = snapshot.counts_frame(), snapshot.types_frame()
    out.data = {
        "export": args.export,
        "working_copy": str(snapshot.path) if args.workdir else None,
        "duckdb": args.out,
        "tables": counts,
        "type_notes": types,
        "notes": snapshot.notes,
        "reader": snapshot.reader,
    }
    if args.format == "json":
        return out
    out.section(f"Tables of {args.export} (row counts verified)", counts)
    out.section("Columns whose values disagree with their declared type", types)
    out.text += [f"note: {note}" for note in snapshot.notes]
    if args.out:
        out.line(f"\nDuckDB snapshot written to {args.out}")
    return out


def _write_duckdb(snapshot, out: Path) -> None:
    """The DuckDB snapshot at `out`, whole or not at all: written under a temporary name
    beside it and renamed when complete, so an earlier file's tables never linger in it and
    a killed run leaves no half-written file under the real name."""
    import duckdb

    partial = out.with_name(f".{out.name}.d1nb-partial-{os.getpid()}")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(partial))
        try:
            snapshot.duckdb(con, progress=False)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    except duckdb.Error as exc:  # a full disk, an unwritable folder: nothing half-written stays
        for leftover in (partial, Path(f"{partial}.wal")):
            leftover.unlink(missing_ok=True)
        raise OSError(errno.EIO, f"could not write the DuckDB snapshot: {exc}", str(out)) from exc
    partial.replace(out)
    Path(f"{out}.wal").unlink(missing_ok=True)  # an earlier file's log would replay into it


def _service_snapshot(args: argparse.Namespace):
    """(history, binding, snapshot, names) for the replay-based commands; InputError if unusable."""
    from d1nb.inputs.history import load_history
    from d1nb.presentation.project import pick_service, service_export

    history = load_history(args.project, use_git=False)
    if args.service is None and len(history.migration_dirs) > 1:  # the export tells which
        from d1nb.inputs.snapshots import load_snapshot
        from d1nb.presentation.project import service_of_export

        probe = load_snapshot(Path(args.snapshot), _workdir(args) / "probe")
        args.service = service_of_export(history, probe)
        inferred = f"service {args.service}: the one whose migration files its ledger names"
    else:
        inferred = None
    args.service = pick_service(args.project, history, args.service)
    snapshot, names = service_export(
        history,
        args.service,
        Path(args.snapshot),
        _workdir(args),
        env=getattr(args, "env", None),
        only=getattr(args, "only", None),
        shown=args.snapshot,
    )
    if inferred:
        snapshot.notes.insert(0, inferred)
    return history, history.binding(args.service), snapshot, names


def _env_arg(what: str) -> Arg:
    return Arg("--env", help=f"{what} what is pending in this environment's ledger")


def _only_arg(what: str) -> Arg:
    return Arg("--only", action="append", metavar="FILE", help=f"{what} just these files")


@command(
    COMMANDS,
    "replay",
    "Replay migrations on an export with D1's semantics: outcome, cascades, "
    "D1 rows read/written per statement.",
    "d1nb replay data/sample --service api --snapshot "
    "data/sample/exports/api/before.sql --env production",
    PROJECT,
    SERVICE,
    snapshot_arg("replay on"),
    Arg(
        "--env",
        help="apply what is pending in this environment's ledger "
        "(default: what the snapshot's own ledger lacks)",
    ),
    _only_arg("apply"),
    Arg("--keep-going", action="store_true", help="continue after a failing file (wrangler stops)"),
    VIA,
    WORKDIR,
)
def cmd_replay(args: argparse.Namespace) -> Outcome:
    from d1nb.analyses.replay import replay

    history, binding, snapshot, names = _service_snapshot(args)
    result = replay(
        snapshot,
        history.migration_dirs[args.service],
        names,
        ledger_table=binding.migrations_table,
        service=args.service,
        keep_going=args.keep_going,
        via=args.via,
    )
    migrations, cascades = result.migrations(), result.cascades()
    statements = result.statements.drop(
        columns=["sql", "cascade_deleted", "cascade_updated", "cascade_rewritten"]
    )
    lost = cascades[cascades["action"] != "keys rewritten"]  # keys that follow lose nothing
    bad = not result.ok or not lost.empty
    out = Outcome(EXIT_FINDINGS if bad else EXIT_CLEAN, problems=history.problems)
    out.notes += [f"{args.snapshot}: {note}" for note in snapshot.notes]
    out.data = {
        "service": args.service,
        "snapshot": args.snapshot,
        "migrations": migrations,
        "cascades": cascades,
        "statements": statements,
        "stopped_at": result.stopped_at,
    }
    out.section("Per migration", migrations.drop(columns=["notes"]))
    out.section("Rows deleted, nulled or rewritten by foreign-key actions", cascades)
    out.section("Per statement", statements.drop(columns=["plan", "error"]))
    for o in result.outcomes:
        out.text += [f"note: {o.name}: {note}" for note in o.notes]
        if not o.ok:
            at = f":{o.error_line}" if o.error_line else ""  # file:line, as compilers say
            out.line(f"FAILED {o.name}{at}: {o.error}{o.error_detail}")
    if result.stopped_at:
        out.line(f"stopped at {result.stopped_at}, as wrangler would (--keep-going to go on)")
    # a file that fails is rolled back whole by D1: its foreign-key actions lose nothing yet
    committed = lost["file"].isin([o.name for o in result.outcomes if o.ok])
    if committed.any():  # the exit code's other reason, said in words
        rows = int(lost[committed]["rows"].sum())
        out.line(
            f"LOSES DATA: {rows_count(rows)} deleted or nulled by foreign-key actions "
            "(the table above)"
        )
    if not committed.all():
        rows, failed = int(lost[~committed]["rows"].sum()), lost[~committed]["file"].unique()
        out.line(
            f"WOULD LOSE DATA: {rows_count(rows)} deleted or nulled by foreign-key actions in "
            f"{', '.join(failed)}, which D1 rolls back as it fails: nothing is lost this "
            "time, and they go once the file runs (the table above)"
        )
    if not result.outcomes:
        out.line(_nothing_pending(args, "nothing to replay"))
    return out


def _nothing_pending(args: argparse.Namespace, what: str) -> str:
    where = f"in {args.env}'s ledger" if getattr(args, "env", None) else "on the export"
    return f"nothing pending {where} for {args.service}: {what}"


@command(
    COMMANDS,
    "impact",
    "What pending migrations do to an export: rows touched, value "
    "transitions, cascades, D1 cost, verdict.",
    "d1nb impact data/sample --service api --snapshot "
    "data/sample/exports/api/before.sql --env production",
    PROJECT,
    SERVICE,
    snapshot_arg("analyse"),
    _env_arg("analyse"),
    _only_arg("analyse"),
    VIA,
    budget_arg("a statement"),
    WORKDIR,
)
def cmd_impact(args: argparse.Namespace) -> Outcome:
    from d1nb.analyses.impact import analyse_impact

    history, binding, snapshot, names = _service_snapshot(args)
    impact = analyse_impact(
        snapshot,
        history.migration_dirs[args.service],
        names,
        budget_ms=args.budget_ms,
        ledger_table=binding.migrations_table,
        service=args.service,
        via=args.via,
    )
    bad = impact.migrations["verdict"].isin(["fails", "loses data"]).any()
    out = Outcome(EXIT_FINDINGS if bad else EXIT_CLEAN, problems=history.problems)
    out.notes += [f"{args.snapshot}: {note}" for note in snapshot.notes]
    out.data = {
        "service": args.service,
        "snapshot": args.snapshot,
        "migrations": impact.migrations,
        "transitions": impact.transitions,
    }
    shown = ["file", "verdict", "rows_changed", "cascaded", "rows_written", "cost_usd"]
    out.section("Verdict per migration", impact.migrations[[*shown, "duration_ms"]])
    out.text += [
        f"{r.verdict.upper()}: {r.file}: {r.reason}" for r in impact.migrations.itertuples()
    ]
    out.section("Value transitions (top per column and JSON path)", impact.transitions)
    out.text += [f"note: {o.name}: {note}" for o in impact.result.outcomes for note in o.notes]
    if impact.migrations.empty:
        out.line(_nothing_pending(args, "no migration to analyse"))
    return out


@command(
    COMMANDS,
    "rollback",
    "Verify each pending migration's compensating migration on an export: what comes back, "
    "what is gone for good.",
    "d1nb rollback data/sample --service dictionary --snapshot EXPORT",
    PROJECT,
    SERVICE,
    snapshot_arg("verify on"),
    _env_arg("verify"),
    _only_arg("verify"),
    Arg(
        "--out",
        help="also draft a compensating migration for each file from the export into this "
        "folder (one folder per migration) and verify it the same way",
    ),
    WORKDIR,
)
def cmd_rollback(args: argparse.Namespace) -> Outcome:
    import pandas as pd

    from d1nb.analyses.rollback import draft_files_text, rollback_table, verify_rollbacks
    from d1nb.analyses.rollback_draft import ROLLBACK_DRIVER

    history, binding, snapshot, names = _service_snapshot(args)
    checks = verify_rollbacks(
        args.project, args.service, snapshot, names, workdir=_workdir(args), draft_to=args.out
    )
    good = all(c.verdict == "restores everything" for c in checks)  # none pending: nothing to undo
    out = Outcome(EXIT_CLEAN if good else EXIT_FINDINGS, problems=history.problems)
    out.notes += [f"{args.snapshot}: {note}" for note in snapshot.notes]
    out.data = {"service": args.service, "migrations": [c.to_dict() for c in checks]}
    out.section("Compensating migrations, replayed after each migration", rollback_table(checks))
    if not checks:
        out.line(_nothing_pending(args, "nothing to roll back"))
    for c in checks:
        if c.verdict in ("loses data", "schema differs"):
            lost = c.tables[(c.tables[["lost", "added", "changed"]].sum(axis=1) > 0)]
            out.section(f"{c.file}: rows not as they were after {c.rollback}", lost)
            out.section(f"{c.file}: values not restored", c.columns)
            if not c.schema.empty:
                out.section(
                    f"{c.file}: schema left changed", c.schema[["object", "name", "change"]]
                )
    if args.out:
        drafts = pd.DataFrame(
            [
                {
                    "file": c.file,
                    "draft": draft_files_text(c.draft)
                    or (
                        "(none: the migration fails)"
                        if c.verdict == "migration fails"
                        else "(nothing to undo)"
                    ),
                    "verdict": c.draft_verdict,
                    "reason": c.draft_reason,
                }
                for c in checks
            ]
        )
        out.section(f"Drafted from the export into {args.out}, replayed the same way", drafts)
        drivers = [c.draft[0].parent / ROLLBACK_DRIVER for c in reversed(checks) if c.draft]
        if drivers:
            folder = shlex.quote(str(binding.config_path.parent))
            out.line("To undo them, newest first (each driver skips the files its done.txt lists):")
            where = _wrangler_target(args.env)
            out.text += [
                f"  run: cd {folder} && sh {shlex.quote(str(d.resolve()))} {where}" for d in drivers
            ] + _template_note(binding)
    return out


def _wrangler_target(env: str | None) -> str:
    """wrangler's flags for the database of `env` as d1nb names it: `--env ENV --remote` to
    fill in when no environment was given, none for the top-level binding's, `--local` (and
    its `--env`) for a local copy."""
    from d1nb.formats.config import LOCAL_ENV, TOP_LEVEL_ENV

    if env is None:
        return "--env ENV --remote"
    if env == TOP_LEVEL_ENV:
        return "--remote"
    if env == LOCAL_ENV:
        return "--local"
    if env.startswith(LOCAL_ENV + "."):
        return f"--local --env {shlex.quote(env.removeprefix(LOCAL_ENV + '.'))}"
    return f"--env {shlex.quote(env)} --remote"


def _template_note(binding: D1Binding) -> list[str]:
    """A line for the `run:` lines when the service's only config is a template, which
    wrangler does not read from that folder."""
    if not binding.is_template:
        return []
    return [
        f"  note: {binding.config_path.name} is a template, which wrangler does not read: run "
        "beside a copy holding the real database ids (wrangler.toml, .json or .jsonc)"
    ]


@command(
    COMMANDS,
    "batch",
    "Size the batches of a large UPDATE, DELETE or INSERT … SELECT and write them as SQL "
    "files (each planned after the file's earlier statements).",
    "d1nb batch data/sample --service scores --snapshot "
    "data/sample/exports/scores/before.sql --migration "
    "0013_backfill_normalized_id.sql --out batches",
    PROJECT,
    SERVICE,
    snapshot_arg("measure on"),
    Arg("--migration", required=True, help="file name of the migration to batch"),
    budget_arg("one batch"),
    Arg(
        "--plan",
        choices=("paid", "free"),
        default="paid",
        help="free: no batch writes more than the Free plan's 100,000 D1 rows a day, and the "
        "driver is paced a day at a time (default paid)",
    ),
    Arg(
        "--scale-to",
        type=int,
        metavar="ROWS",
        help="measure on a copy whose table is scaled up to ROWS (production's row count) "
        "when the export holds fewer",
    ),
    Arg(
        "--out",
        required=True,
        help="folder for the batch files and run_batches.sh (which then batches the rows added "
        "since the export)",
    ),
    WORKDIR,
)
def cmd_batch(args: argparse.Namespace) -> Outcome:
    from d1nb.analyses.batch_files import batch_migration
    from d1nb.analyses.batching import BATCHABLE
    from d1nb.analyses.replay import pending_on
    from d1nb.presentation.project import migration_named, not_a_migration, state_before_file

    args.env, args.only = None, None
    history, binding, snapshot, _ = _service_snapshot(args)
    mdir = history.migration_dirs[args.service]
    migration = migration_named(mdir, args.migration)
    if migration is None:
        raise InputError(args.migration, 0, not_a_migration(mdir, args.service, [args.migration]))
    table = binding.migrations_table
    with snapshot.connect() as engine:
        applied = {r[1] for r in engine.applied_migrations(table, args.snapshot)}
    if migration.name in applied:
        raise InputError(
            args.snapshot,
            0,
            f"the export already has {migration.name} (its {table} ledger lists it): batches "
            "are planned on an export from before the file runs; give one from before it",
        )
    if not any(s.kind in BATCHABLE for s in migration.statements):
        raise InputError(
            history.project.relpath(migration.path),
            0,
            "no UPDATE, DELETE or INSERT … SELECT to batch in this file",
        )
    pending = pending_on(snapshot, mdir, table)
    before = pending[: pending.index(migration.name)] if migration.name in pending else []
    planned_on, notes, _ = state_before_file(snapshot, mdir, before, table, args.service)
    results = batch_migration(
        planned_on,
        migration.statements,
        Path(args.out),
        budget_ms=args.budget_ms,
        database_name=binding.binding,
        file=history.project.relpath(migration.path),
        scale_to=args.scale_to,
        max_rows_written=d1.FREE_ROWS_WRITTEN_PER_DAY if args.plan == "free" else None,
    )
    summaries = [_batch_summary(r, args.plan) for r in results]
    failed = any(x["error"] for x in summaries)
    over = any(not x.get("within_budget", True) for x in summaries)
    out = Outcome(
        EXIT_UNUSABLE if failed else EXIT_FINDINGS if over else EXIT_CLEAN,
        problems=[p for p in history.problems if p.topic != "ledger"],  # batches need none
    )
    out.data = {"migration": migration.name, "replayed_first": before, "statements": summaries}
    out.notes = notes + [x["error"] for x in summaries if x["error"]]
    out.notes += [f"{args.snapshot}: {note}" for note in snapshot.notes]
    for x in summaries:
        if not x["error"]:
            out.text += _batch_lines(x, shlex.quote(str(binding.config_path.parent)))
    if any(x["folder"] for x in summaries if not x["error"]):
        out.text += _template_note(binding)
    return out


def _batch_summary(result, plan_kind: str) -> dict:
    """One planned statement as the JSON output and the text lines read it."""
    summary: dict = {
        "line": result.statement.line,
        "kind": result.statement.kind,
        "error": result.error,
    }
    plan = result.plan
    if plan is not None:
        summary |= {
            "table": plan.table,
            "rows": plan.rows,
            "counted": plan.counted,
            "inserted": plan.inserted,
            "mode": plan.mode,
            "recommended": plan.recommended,
            "batches": len(result.files),
            "r_squared": round(plan.r_squared, 4),
            "predicted_p95_ms": round(plan.predicted_p95_ms(plan.recommended), 1),
            "budget_ms": plan.budget_ms,
            "within_budget": plan.predicted_p95_ms(plan.recommended) <= plan.budget_ms,
            "unbatchable": "" if plan.batchable else plan.unbatchable_reason,
            "rerun_changes": plan.rerun_changes,
            "folder": str(result.files[0].parent) if result.files else "",
            "compare": plan.compare(),
            "notes": plan.notes,
        }
        if plan_kind == "free":
            summary["free_plan"] = plan.per_day()
    return summary


def _batch_lines(x: dict, config_folder: str) -> list[str]:
    if x["unbatchable"]:
        lines = [
            f"line {x['line']}: {x['counted']}: not batched (fit R² {x['r_squared']})",
            f"  {x['unbatchable']}",
        ]
    else:
        lines = [
            f"line {x['line']}: {x['counted']} in batches of "
            f"{x['recommended']:,} ({x['batches']} file{'' if x['batches'] == 1 else 's'} in "
            f"{x['folder']}, predicted p95 "
            f"{x['predicted_p95_ms']} ms, fit R² {x['r_squared']})"
        ]
    if not x["within_budget"] and not x["unbatchable"]:
        lines.append(
            f"  over budget: batches of {x['recommended']:,} row(s) are predicted at "
            f"{x['predicted_p95_ms']} ms p95 against a budget of {x['budget_ms']:g} ms; "
            "each batch still blocks D1's other queries that long"
        )
    lines += [f"  note: {note}" for note in x["notes"]]
    pace = ""
    if "free_plan" in x:
        day = x["free_plan"]
        pace = f"D1NB_MAX_BATCHES={day['batches_per_day']} "
        lines.append(
            f"  Free plan: at most {day['rows_written_per_batch']:,} D1 rows written a batch, "
            f"so {day['batches_per_day']} batches a day within the daily "
            f"{d1.FREE_ROWS_WRITTEN_PER_DAY:,}: {day['days']} day(s); run the driver "
            "once a day after 00:00 UTC (it skips the batches done.txt lists)"
        )
    if x["folder"]:
        driver = shlex.quote(str((Path(x["folder"]) / "run_batches.sh").resolve()))
        lines.append(f"  run: cd {config_folder} && {pace}sh {driver} --env ENV --remote")
    return lines


def _check_columns_exist(before, after, keys: dict[str, list[str]], masks: list[str]) -> None:
    """Every --key table and column, and every --mask column, names something in an export;
    a misspelt name would otherwise silently diff on another key or show what it should hide."""
    columns: dict[str, set[str]] = {}
    for snapshot in (before, after):
        with snapshot.schema_engine() as engine:
            for table in snapshot.row_counts:
                columns.setdefault(table, set()).update(c[1] for c in engine.columns(table))
    for table, cols in keys.items():
        if table not in columns:
            raise InputError("--key", 0, f"no table {table!r} in either export")
        missing = [c for c in cols if c not in columns[table]]
        if missing:
            raise InputError("--key", 0, f"no column {', '.join(missing)} in table {table!r}")
    for mask in masks:
        table, _, column = mask.rpartition(".")
        known = columns.get(table, set()) if table else set().union(*columns.values())
        if column not in known:
            raise InputError("--mask", 0, f"no column {mask!r} in either export")


def _tolerance(item: str) -> tuple[str, float]:
    column, value = pair(item, "TABLE.COL=X")
    try:
        return column, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {item!r}") from None


@command(
    COMMANDS,
    "diff",
    "Compare two exports (schema, rows, columns) and check invariants and expectations; "
    "exit 0 when equal or every expectation holds.",
    "d1nb diff data/sample/exports/api/before.sql data/sample/exports/api/after.sql "
    '--expect "no entry lost=SELECT id FROM before.sync_data EXCEPT '
    'SELECT id FROM after.sync_data"',
    Arg("before", help="export before the migration (any format `d1nb load` reads)"),
    Arg("after", help="export after it, or a replay's result"),
    Arg(
        "--key",
        action="append",
        metavar="TABLE=COL[,COL]",
        help="key to match rows on (default: primary key, else a UNIQUE NOT NULL key, else the "
        "whole row)",
    ),
    Arg("--mask", action="append", metavar="[TABLE.]COL", help="hide this column in samples"),
    Arg(
        "--tolerance",
        action="append",
        metavar="[TABLE.]COL=X",
        help="absolute tolerance for a numeric column (compared as doubles)",
    ),
    Arg(
        "--expect",
        action="append",
        metavar="NAME=SQL",
        help="a query over before.T / after.T returning the rows that break it",
    ),
    Arg(
        "--expectations",
        action="append",
        metavar="FILE.sql",
        help="expectations, each query preceded by a '-- expect: NAME' line",
    ),
    Arg("--not-null", action="append", metavar="TABLE.COL", help="must have no NULL"),
    Arg("--unique", action="append", metavar="TABLE=COL[,COL]", help="must be unique"),
    Arg(
        "--accepted",
        action="append",
        metavar="TABLE.COL[$.path]=V1,V2",
        help="the only values allowed (NULL aside)",
    ),
    TABLE,
    SCHEMA,
    WORKDIR,
)
def cmd_diff(args: argparse.Namespace) -> Outcome:
    import json

    from d1nb.analyses import expectations as expectations_module
    from d1nb.inputs.snapshots import load_snapshot

    warm = _warm_import("d1nb.analyses.checks")
    workdir = _workdir(args)
    expect, read_expectations = expectations_module.expect, expectations_module.read_expectations
    expectations = [expect(*pair(e, "NAME=SQL")) for e in args.expect or []]
    for path in args.expectations or []:
        expectations += read_expectations(path)
    keys = {t: c.split(",") for t, c in (pair(k, "TABLE=COL") for k in args.key or [])}
    tolerance = dict(_tolerance(item) for item in args.tolerance or [])
    unique: dict[str, list[list[str]]] = {}
    for item in args.unique or []:
        table, cols = pair(item, "TABLE=COL[,COL]")
        unique.setdefault(table, []).append(cols.split(","))
    accepted = {
        target: values.split(",")
        for target, values in (pair(a, "TABLE.COL=V1,V2") for a in args.accepted or [])
    }
    invariants = expectations_module.Invariants(
        not_null=args.not_null or [], unique=unique, accepted=accepted
    )
    into = {}
    dumps = [Path(args.before), Path(args.after)]
    if all(p.suffix.lower() == ".sql" and p.is_file() for p in dumps):
        from d1nb.inputs.dumpduck import duckdb_for_dumps

        con = duckdb_for_dumps(dumps, workdir)  # both read into one DuckDB: no copy to diff
        into = {"before": (con, "before"), "after": (con, "after")}
    from d1nb.inputs.history import schema_migrations

    schema = schema_migrations(args.schema) if args.schema else None
    before, after = (
        load_snapshot(path, workdir / side, table=args.table, schema=schema, into=into.get(side))
        for side, path in (("before", args.before), ("after", args.after))
    )
    _check_columns_exist(before, after, keys, args.mask or [])
    warm.join()
    from d1nb.analyses.checks import audit

    result = audit(
        before,
        after,
        keys=keys,
        tolerance=tolerance,
        mask=set(args.mask or []),
        invariants=invariants,
        expectations=expectations,
    )
    out = Outcome(EXIT_CLEAN if result.passed else EXIT_FINDINGS, data=json.loads(result.to_json()))
    out.line(result.text())
    return out
