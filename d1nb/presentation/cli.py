"""The `d1nb` command: thin over the library.

Every subcommand shares one convention: `--format text|json`, and exit codes 0 (clean),
1 (findings that reach the threshold), 2 (unusable input; the rest is still reported),
3 (a bug in d1nb). One error boundary in `main` turns failures into those codes.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

import apsw
import duckdb
import pandas as pd

from d1nb import d1
from d1nb.analyses.lint import FINDING_COLUMNS, SEVERITY_RANK, lint
from d1nb.engine.d1engine import VIA, set_default_statement_timeout
from d1nb.engine.scratch import remove_scratch_folders, scratch_folder
from d1nb.inputs.history import (
    drift_frame,
    load_history,
    pending_frame,
    pending_in,
    status_frame,
    summary_frame,
    write_lock,
)
from d1nb.problems import InputError, Problem
from d1nb.text import printable
from d1nb.version import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNUSABLE, EXIT_BUG = 0, 1, 2, 3


def _seconds(value: str) -> float:
    """A time limit in seconds: a finite number, 0 or above."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more: {value!r}")
    return seconds


def _budget_ms(value: str) -> float:
    """A time budget in milliseconds: a finite number above zero."""
    try:
        budget = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {value!r}") from None
    if not math.isfinite(budget) or budget <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds above 0: {value!r}")
    return budget


def _history_arg(value: str) -> tuple[tuple[str, str], str]:
    """SERVICE:ENV=FILE, or ENV=FILE for a project with one service."""
    key, equals, path = value.partition("=")
    service, _, env = key.rpartition(":")
    if not equals or not env or not path:
        raise argparse.ArgumentTypeError(f"expected [SERVICE:]ENV=FILE, got {value!r}")
    return (service, env), path


def _print_frame(title: str, frame: pd.DataFrame) -> None:
    print(f"\n{title}")
    if frame.empty:
        print("  (none)")
    else:
        print(frame.to_string(index=False))


def _report_problems(problems: list[Problem]) -> int:
    for p in problems:
        print(str(p), file=sys.stderr)
    return EXIT_UNUSABLE if any(p.severity == "error" for p in problems) else EXIT_CLEAN


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def cmd_status(args: argparse.Namespace) -> int:
    history = load_history(args.project, dict(args.history or []))
    summary, drift, pending = summary_frame(history), drift_frame(history), pending_frame(history)
    if args.format == "json":
        json.dump(
            {
                "summary": _records(summary),
                "drift": _records(drift),
                "pending": _records(pending),
                "problems": [p.__dict__ for p in history.problems],
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        _print_frame("Applied and pending per service and environment", summary)
        _print_frame(
            "Drift (missing files, out of order, progression, edited after apply)",
            drift[
                [
                    "service",
                    "environment",
                    "name",
                    "status",
                    "out_of_order",
                    "progression",
                    "modified_after_apply",
                    "note",
                ]
            ],
        )
        _print_frame("Pending, in the order wrangler applies them", pending)
    code = _report_problems(history.problems)
    if code == EXIT_CLEAN and not drift.empty:
        code = EXIT_FINDINGS
    return code


def cmd_lint(args: argparse.Namespace) -> int:
    history = load_history(args.project)
    findings = lint(history)
    if args.format == "json":
        json.dump(
            {
                "findings": _records(findings[FINDING_COLUMNS]),
                "problems": [p.__dict__ for p in history.problems],
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        for f in findings.itertuples():
            where = f"{f.file}:{f.line}" if f.line else f.file
            print(f"{where}: {f.severity} {f.rule} [{f.name}] {f.message}")
        print(f"{len(findings)} finding(s)")
    code = _report_problems(history.problems)
    threshold = SEVERITY_RANK[args.fail_on]
    if code == EXIT_CLEAN and any(SEVERITY_RANK[s] >= threshold for s in findings["severity"]):
        code = EXIT_FINDINGS
    return code


def cmd_lock(args: argparse.Namespace) -> int:
    history = load_history(args.project, use_git=False)
    status = status_frame(history)
    edited = status[status["modified_after_apply"]]
    if not edited.empty and not args.force:
        for r in edited.drop_duplicates(["service", "name"]).itertuples():
            print(
                f"{r.service}: {r.name} was applied, then edited ({r.note})",
                file=sys.stderr,
            )
        print(
            "d1nb lock: not written: it would forget that these applied files were edited; "
            "revert them, or pass --force to accept the edits",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    path = write_lock(history)
    count = sum(len(m.files) for m in history.migration_dirs.values())
    if args.format == "json":
        print(json.dumps({"lock": str(path), "files": count}))
    else:
        print(f"wrote {path} ({count} migration files)")
    return _report_problems(history.problems)


def _workdir(args: argparse.Namespace) -> Path:
    """--workdir, or a scratch folder removed when the command ends."""
    return Path(args.workdir) if args.workdir else scratch_folder()


def cmd_load(args: argparse.Namespace) -> int:
    from d1nb.formats.migrations import load_migration_dir
    from d1nb.inputs.snapshots import load_snapshot

    try:
        schema = load_migration_dir(args.schema) if args.schema else None
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
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    counts, types = snapshot.counts_frame(), snapshot.types_frame()
    if args.format == "json":
        print(
            json.dumps(
                {
                    "export": args.export,
                    "working_copy": str(snapshot.path) if args.workdir else None,
                    "duckdb": args.out,
                    "tables": _records(counts),
                    "type_notes": _records(types),
                    "notes": snapshot.notes,
                },
                indent=2,
            )
        )
    else:
        _print_frame(f"Tables of {args.export} (row counts verified)", counts)
        _print_frame("Columns whose values disagree with their declared type", types)
        for note in snapshot.notes:
            print(f"note: {note}")
        if args.out:
            print(f"\nDuckDB snapshot written to {args.out}")
    return EXIT_CLEAN


def _write_duckdb(snapshot, out: Path) -> None:
    """The DuckDB snapshot at `out`, whole or not at all: written under a temporary name
    beside it and renamed when complete, so an earlier file's tables never linger in it and
    a killed run leaves no half-written file under the real name."""
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


def cmd_replay(args: argparse.Namespace) -> int:
    from d1nb.analyses.replay import replay

    try:
        history, binding, snapshot, names = _service_snapshot(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
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
    statements = result.statements.drop(columns=["sql", "cascade_deleted", "cascade_updated"])
    if args.format == "json":
        print(
            json.dumps(
                {
                    "service": args.service,
                    "snapshot": args.snapshot,
                    "migrations": _records(migrations),
                    "cascades": _records(cascades),
                    "statements": _records(statements),
                    "stopped_at": result.stopped_at,
                },
                indent=2,
            )
        )
    else:
        _print_frame("Per migration", migrations.drop(columns=["notes"]))
        _print_frame("Rows deleted or nulled by foreign-key cascades", cascades)
        _print_frame("Per statement", statements.drop(columns=["plan", "error"]))
        for o in result.outcomes:
            for note in o.notes:
                print(f"note: {o.name}: {note}")
            if not o.ok:
                print(f"FAILED {o.name}:{o.error_line}: {o.error}")
        if result.stopped_at:
            print(f"stopped at {result.stopped_at}, as wrangler would (--keep-going to go on)")
    code = EXIT_FINDINGS if (not result.ok or not cascades.empty) else EXIT_CLEAN
    return max(code, _report_problems(history.problems))


def _pick_service(project: str, history, service: str | None) -> str:
    """The service asked for, or the only one; InputError naming the choices otherwise."""
    services = list(history.migration_dirs)
    if service is None and len(services) == 1:
        return services[0]
    if service in services:
        return service
    have = ", ".join(services) or "none: no wrangler config with a D1 binding was found"
    why = "name one with --service" if service is None else f"no service {service!r}"
    raise InputError(project, 0, f"{why} (services with migrations: {have})")


def _check_export_belongs(path: str, snapshot, history, service: str) -> None:
    """Refuse an export whose own migrations ledger lists none of the service's files: it
    is another database's, and replaying this service's files on it would mean nothing."""
    from d1nb.engine.d1engine import D1Engine

    table = history.binding(service).migrations_table
    with D1Engine(snapshot.path) as engine:
        applied = [r[1] for r in engine.applied_migrations(table)]
    files = {f.name for f in history.migration_dirs[service].files}
    if applied and not files.intersection(applied):
        raise InputError(
            path,
            0,
            f"its {table} ledger lists {len(applied)} migrations ({', '.join(applied[:3])}"
            f"{', …' if len(applied) > 3 else ''}), none of them a file of service {service!r}: "
            "is this export another database's?",
        )


def _service_snapshot(args: argparse.Namespace):
    """(history, binding, snapshot, names) for the replay-based commands; InputError if unusable."""
    from d1nb.inputs.snapshots import load_snapshot

    history = load_history(args.project, use_git=False)
    args.service = _pick_service(args.project, history, args.service)
    binding = history.binding(args.service)
    snapshot = load_snapshot(
        args.snapshot, _workdir(args), schema=history.migration_dirs[args.service]
    )
    _check_export_belongs(args.snapshot, snapshot, history, args.service)
    names = getattr(args, "only", None) or None
    known = {f.name for f in history.migration_dirs[args.service].files}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise InputError(
            args.project, 0, f"not a migration of {args.service}: {', '.join(unknown)}"
        )
    if names is None and args.env:
        names = pending_in(history, args.service, args.env, args.project)
    return history, binding, snapshot, names


def cmd_rollback(args: argparse.Namespace) -> int:
    from d1nb.analyses.rollback import rollback_table, verify_rollbacks

    try:
        history, _binding, snapshot, names = _service_snapshot(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    checks = verify_rollbacks(
        args.project, args.service, snapshot, names, workdir=_workdir(args), draft_to=args.out
    )
    if args.format == "json":
        print(
            json.dumps(
                {"service": args.service, "migrations": [c.to_dict() for c in checks]},
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        _print_frame(
            "Compensating migrations, replayed after each migration", rollback_table(checks)
        )
        for c in checks:
            if c.verdict in ("loses data", "schema differs"):
                lost = c.tables[(c.tables[["lost", "added", "changed"]].sum(axis=1) > 0)]
                _print_frame(f"{c.file}: rows not as they were after {c.rollback}", lost)
                _print_frame(f"{c.file}: values not restored", c.columns)
                if not c.schema.empty:
                    _print_frame(
                        f"{c.file}: schema left changed", c.schema[["object", "name", "change"]]
                    )
        if args.out:
            drafts = pd.DataFrame(
                [
                    {
                        "file": c.file,
                        "draft": ", ".join(p.name for p in c.draft) or "(nothing to undo)",
                        "verdict": c.draft_verdict,
                        "reason": c.draft_reason,
                    }
                    for c in checks
                ]
            )
            _print_frame(f"Drafted from the export into {args.out}, replayed the same way", drafts)
    good = bool(checks) and all(c.verdict == "restores everything" for c in checks)
    return max(EXIT_CLEAN if good else EXIT_FINDINGS, _report_problems(history.problems))


def cmd_impact(args: argparse.Namespace) -> int:
    from d1nb.analyses.impact import analyse_impact

    try:
        history, binding, snapshot, names = _service_snapshot(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    impact = analyse_impact(
        snapshot,
        history.migration_dirs[args.service],
        names,
        budget_ms=args.budget_ms,
        ledger_table=binding.migrations_table,
        service=args.service,
        via=args.via,
    )
    if args.format == "json":
        print(
            json.dumps(
                {
                    "service": args.service,
                    "snapshot": args.snapshot,
                    "migrations": _records(impact.migrations),
                    "transitions": _records(impact.transitions),
                },
                indent=2,
            )
        )
    else:
        _print_frame(
            "Verdict per migration",
            impact.migrations[
                [
                    "file",
                    "verdict",
                    "rows_changed",
                    "cascaded",
                    "rows_written",
                    "cost_usd",
                    "duration_ms",
                ]
            ],
        )
        for r in impact.migrations.itertuples():
            print(f"{r.verdict.upper()}: {r.file}: {r.reason}")
        _print_frame("Value transitions (top per column and JSON path)", impact.transitions)
    bad = impact.migrations["verdict"].isin(["fails", "loses data"]).any()
    return max(EXIT_FINDINGS if bad else EXIT_CLEAN, _report_problems(history.problems))


def cmd_batch(args: argparse.Namespace) -> int:
    from d1nb.analyses.batching import BATCHABLE, batch_migration

    args.env, args.only = None, None
    try:
        history, binding, snapshot, _ = _service_snapshot(args)
        mdir = history.migration_dirs[args.service]
        migration = next((f for f in mdir.files if f.name == Path(args.migration).name), None)
        if migration is None:
            raise InputError(args.migration, 0, f"not a migration of {args.service}")
        if not any(s.kind in BATCHABLE for s in migration.statements):
            raise InputError(
                history.project.relpath(migration.path),
                0,
                "no UPDATE, DELETE or INSERT … SELECT to batch in this file",
            )
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    results = batch_migration(
        snapshot.path,
        migration.statements,
        Path(args.out),
        budget_ms=args.budget_ms,
        database_name=binding.binding,
        file=history.project.relpath(migration.path),
        scale_to=args.scale_to,
        max_rows_written=d1.FREE_ROWS_WRITTEN_PER_DAY if args.plan == "free" else None,
    )
    summaries = []
    for r in results:
        summary: dict = {"line": r.statement.line, "kind": r.statement.kind, "error": r.error}
        if r.plan is not None:
            plan = r.plan
            summary |= {
                "table": plan.table,
                "rows": plan.rows,
                "mode": plan.mode,
                "recommended": plan.recommended,
                "batches": len(r.files),
                "r_squared": round(plan.r_squared, 4),
                "predicted_p95_ms": round(plan.predicted_p95_ms(plan.recommended), 1),
                "folder": str(r.files[0].parent) if r.files else "",
                "compare": _records(plan.compare()),
                "notes": plan.notes,
            }
            if args.plan == "free":
                summary["free_plan"] = plan.per_day()
        summaries.append(summary)
    if args.format == "json":
        print(json.dumps({"migration": migration.name, "statements": summaries}, indent=2))
    else:
        for x in summaries:
            if x["error"]:
                print(x["error"], file=sys.stderr)
                continue
            print(
                f"line {x['line']}: {x['rows']:,} rows of {x['table']} in batches of "
                f"{x['recommended']:,} ({x['batches']} files in {x['folder']}, predicted p95 "
                f"{x['predicted_p95_ms']} ms, fit R² {x['r_squared']})"
            )
            for note in x["notes"]:
                print(f"  note: {note}")
            pace = ""
            if "free_plan" in x:
                day = x["free_plan"]
                pace = f"D1NB_MAX_BATCHES={day['batches_per_day']} "
                print(
                    f"  Free plan: {day['rows_written_per_batch']:,} D1 rows written a batch, "
                    f"so {day['batches_per_day']} batches a day within the daily "
                    f"{d1.FREE_ROWS_WRITTEN_PER_DAY:,}: {day['days']} day(s); run the driver "
                    "once a day after 00:00 UTC (it skips the batches done.txt lists)"
                )
            if x["folder"]:
                driver = (Path(x["folder"]) / "run_batches.sh").resolve()
                where = shlex.quote(str(binding.config_path.parent))
                print(
                    f"  run: cd {where} && {pace}sh {shlex.quote(str(driver))} --env ENV --remote"
                )
    code = EXIT_UNUSABLE if any(x["error"] for x in summaries) else EXIT_CLEAN
    return max(code, _report_problems(history.problems))


def _pair(value: str, what: str) -> tuple[str, str]:
    key, sep, rest = value.partition("=")
    if not sep or not key or not rest:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return key, rest


def _check_columns_exist(before, after, keys: dict[str, list[str]], masks: list[str]) -> None:
    """Every --key table and column, and every --mask column, names something in an export;
    a misspelt name would otherwise silently diff on another key or show what it should hide."""
    columns: dict[str, set[str]] = {}
    for snapshot in (before, after):
        with snapshot.connect() as engine:
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


def cmd_diff(args: argparse.Namespace) -> int:
    from d1nb.analyses.checks import Rules, audit, expect, read_expectations
    from d1nb.inputs.snapshots import load_snapshot

    workdir = _workdir(args)
    try:
        expectations = [expect(*_pair(e, "NAME=SQL")) for e in args.expect or []]
        for path in args.expectations or []:
            expectations += read_expectations(path)
        keys = {t: c.split(",") for t, c in (_pair(k, "TABLE=COL") for k in args.key or [])}
        tolerance: dict[str, float] = {}
        for item in args.tolerance or []:
            column, value = _pair(item, "TABLE.COL=X")
            tolerance[column] = float(value)
        unique: dict[str, list[list[str]]] = {}
        for item in args.unique or []:
            table, cols = _pair(item, "TABLE=COL[,COL]")
            unique.setdefault(table, []).append(cols.split(","))
        accepted = {
            target: values.split(",")
            for target, values in (_pair(a, "TABLE.COL=V1,V2") for a in args.accepted or [])
        }
        rules = Rules(not_null=args.not_null or [], unique=unique, accepted=accepted)
        before = load_snapshot(args.before, workdir / "before", progress=False)
        after = load_snapshot(args.after, workdir / "after", progress=False)
        _check_columns_exist(before, after, keys, args.mask or [])
    except (InputError, argparse.ArgumentTypeError, ValueError, OSError) as exc:
        print(f"d1nb diff: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    result = audit(
        before,
        after,
        keys=keys,
        tolerance=tolerance,
        mask=set(args.mask or []),
        rules=rules,
        expectations=expectations,
    )
    print(result.to_json() if args.format == "json" else result.text())
    return EXIT_CLEAN if result.passed else EXIT_FINDINGS


def cmd_report(args: argparse.Namespace) -> int:
    from d1nb.presentation.report import REPO_NOTEBOOKS, notebook_paths, run_report

    project = Path(args.project)
    if not project.is_dir():
        print(f"{args.project}: project folder not found", file=sys.stderr)
        return EXIT_UNUSABLE
    parameters: dict[str, object] = {}
    for item in args.parameter or []:
        key, _, value = item.partition("=")
        try:  # numbers, lists and dicts as JSON; anything else is a string
            parameters[key] = json.loads(value)
        except json.JSONDecodeError:
            parameters[key] = value
    for item in args.snapshot or []:
        service, _, export = item.partition("=")
        parameters.setdefault("snapshots", {})[service] = export
    for name in ("before", "after"):
        if getattr(args, name):
            parameters[name] = getattr(args, name)
    notebooks = notebook_paths(Path(args.notebooks) if args.notebooks else REPO_NOTEBOOKS)
    if args.notebook:
        notebooks = [n for n in notebooks if any(n.stem.startswith(k) for k in args.notebook)]
    if not notebooks:
        print("no notebooks to run", file=sys.stderr)
        return EXIT_UNUSABLE
    results = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.stem}", file=sys.stderr, flush=True)
        results.append(
            run_report(
                nb, Path(args.out), project, parameters, args.show_code, progress=not args.quiet
            )
        )
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "notebook": r.notebook,
                        "html": str(r.html),
                        "ok": r.ok,
                        "error": r.error,
                        "needs": r.needs,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            state = "FAIL" if not r.ok else "NEEDS" if r.needs else "ok"
            print(f"{state:5} {r.html}" + (f"  {r.error or r.needs}" if r.error or r.needs else ""))
    return EXIT_CLEAN if all(r.ok for r in results) else EXIT_FINDINGS


def _add_via(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--via",
        choices=VIA,
        default="apply",
        help="the path the files take to D1: apply (wrangler d1 migrations apply: one "
        "transaction, PRAGMA foreign_keys=OFF ignored) or execute-file (remote wrangler d1 "
        "execute --file: the pragma takes effect, no ledger row); default apply",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d1nb",
        description="Analyse Cloudflare D1 migrations: histories, drift, lint, reports.",
        epilog="example: d1nb status data/sample",
    )
    parser.add_argument("--version", action="version", version=f"d1nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example: {example}")
        p.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text for people (default), json for tools",
        )
        p.add_argument(
            "--statement-timeout",
            type=_seconds,
            metavar="SECONDS",
            help="stop any one SQL statement from an input after this long, as D1 does "
            "(default 30; 0 for no limit)",
        )
        return p

    p = add(
        "status",
        "What is applied, pending and drifted per service and environment.",
        "d1nb status data/sample --history api:production=ledgers/api.production.json",
    )
    p.add_argument("project", help="project root (folder with the wrangler configs)")
    p.add_argument(
        "--history",
        action="append",
        type=_history_arg,
        metavar="[SERVICE:]ENV=FILE",
        help="ledger of one environment (overrides ledgers/SERVICE.ENV.*); SERVICE may be "
        "left out when the project has one",
    )
    p.set_defaults(func=cmd_status)

    p = add(
        "lint",
        "Lint the migrations with D1-specific rules (docs/rules.md).",
        "d1nb lint data/sample --fail-on warning",
    )
    p.add_argument("project")
    p.add_argument("--fail-on", choices=["error", "warning", "info"], default="error")
    p.set_defaults(func=cmd_lint)

    p = add(
        "lock",
        "Write d1nb.lock: the sha256 of every migration file, to detect later edits.",
        "d1nb lock data/sample",
    )
    p.add_argument("project")
    p.add_argument(
        "--force",
        action="store_true",
        help="write it even though applied files were edited (their finding then disappears)",
    )
    p.set_defaults(func=cmd_lock)

    p = add(
        "load",
        "Load an export into a SQLite working copy and DuckDB, counts verified.",
        "d1nb load data/sample/exports/api/before.sql --out api.duckdb",
    )
    p.add_argument(
        "export",
        help="wrangler d1 export dump, .sqlite, local-state folder, --json output, CSV or Parquet",
    )
    p.add_argument("--out", help="write the DuckDB snapshot to this file")
    p.add_argument("--table", help="table name for --json, CSV and Parquet inputs")
    p.add_argument(
        "--schema",
        metavar="MIGRATIONS_DIR",
        help="migrations that create the tables (for --no-schema dumps, CSV, …)",
    )
    p.add_argument(
        "--workdir",
        help="folder for the SQLite working copy (default: a temporary folder, removed when "
        "the command ends)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_load)

    p = add(
        "replay",
        "Replay migrations on an export with D1's semantics: outcome, cascades, "
        "D1 rows read/written per statement.",
        "d1nb replay data/sample --service api --snapshot "
        "data/sample/exports/api/before.sql --env production",
    )
    p.add_argument("project")
    p.add_argument("--service", help="the service whose migrations to use (needed with several)")
    p.add_argument("--snapshot", required=True, help="export to replay on (never modified)")
    p.add_argument(
        "--env",
        help="apply what is pending in this environment's ledger "
        "(default: what the snapshot's own ledger lacks)",
    )
    p.add_argument("--only", action="append", metavar="FILE", help="apply just these files")
    p.add_argument(
        "--keep-going", action="store_true", help="continue after a failing file (wrangler stops)"
    )
    _add_via(p)
    p.add_argument(
        "--workdir",
        help="folder for working copies (default: a temporary folder, removed when the command "
        "ends)",
    )
    p.set_defaults(func=cmd_replay)

    p = add(
        "impact",
        "What pending migrations do to an export: rows touched, value "
        "transitions, cascades, D1 cost, verdict.",
        "d1nb impact data/sample --service api --snapshot "
        "data/sample/exports/api/before.sql --env production",
    )
    p.add_argument("project")
    p.add_argument("--service", help="the service whose migrations to use (needed with several)")
    p.add_argument("--snapshot", required=True, help="export to analyse (never modified)")
    p.add_argument("--env", help="analyse what is pending in this environment's ledger")
    p.add_argument("--only", action="append", metavar="FILE", help="analyse just these files")
    _add_via(p)
    p.add_argument(
        "--budget-ms",
        type=_budget_ms,
        default=1000.0,
        help="longest a statement may hold the database (default 1000)",
    )
    p.add_argument(
        "--workdir",
        help="folder for working copies (default: a temporary folder, removed when the command "
        "ends)",
    )
    p.set_defaults(func=cmd_impact)

    p = add(
        "rollback",
        "Verify each pending migration's compensating migration on an export: what comes back, "
        "what is gone for good.",
        "d1nb rollback data/sample --service dictionary --snapshot EXPORT",
    )
    p.add_argument("project")
    p.add_argument("--service", help="the service whose migrations to use (needed with several)")
    p.add_argument("--snapshot", required=True, help="export to verify on (never modified)")
    p.add_argument("--env", help="verify what is pending in this environment's ledger")
    p.add_argument("--only", action="append", metavar="FILE", help="verify just these files")
    p.add_argument(
        "--out",
        help="also draft a compensating migration for each file from the export into this "
        "folder (one folder per migration) and verify it the same way",
    )
    p.add_argument(
        "--workdir",
        help="folder for working copies (default: a temporary folder, removed when the command "
        "ends)",
    )
    p.set_defaults(func=cmd_rollback)

    p = add(
        "batch",
        "Size the batches of a large UPDATE, DELETE or INSERT … SELECT and write them as SQL "
        "files (each planned after the file's earlier statements).",
        "d1nb batch data/sample --service scores --snapshot "
        "data/sample/exports/scores/before.sql --migration "
        "0013_backfill_normalized_id.sql --out batches",
    )
    p.add_argument("project")
    p.add_argument("--service", help="the service whose migrations to use (needed with several)")
    p.add_argument("--snapshot", required=True, help="export to measure on (never modified)")
    p.add_argument("--migration", required=True, help="file name of the migration to batch")
    p.add_argument(
        "--budget-ms",
        type=_budget_ms,
        default=1000.0,
        help="longest one batch may hold the database (default 1000)",
    )
    p.add_argument(
        "--plan",
        choices=("paid", "free"),
        default="paid",
        help="free: no batch writes more than the Free plan's 100,000 D1 rows a day, and the "
        "driver is paced a day at a time (default paid)",
    )
    p.add_argument(
        "--scale-to",
        type=int,
        metavar="ROWS",
        help="measure on a copy whose table is scaled up to ROWS (production's row count) "
        "when the export holds fewer",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for the batch files and run_batches.sh (which then batches the rows added "
        "since the export)",
    )
    p.add_argument(
        "--workdir",
        help="folder for working copies (default: a temporary folder, removed when the command "
        "ends)",
    )
    p.set_defaults(func=cmd_batch)

    p = add(
        "diff",
        "Compare two exports (schema, rows, columns) and check invariants and expectations; "
        "exit 0 when equal or every expectation holds.",
        "d1nb diff data/sample/exports/api/before.sql data/sample/exports/api/after.sql "
        '--expect "no entry lost=SELECT id FROM before.sync_data EXCEPT '
        'SELECT id FROM after.sync_data"',
    )
    p.add_argument("before", help="export before the migration (any format `d1nb load` reads)")
    p.add_argument("after", help="export after it, or a replay's result")
    p.add_argument(
        "--key",
        action="append",
        metavar="TABLE=COL[,COL]",
        help="key to match rows on (default: primary key, else the whole row)",
    )
    p.add_argument(
        "--mask", action="append", metavar="[TABLE.]COL", help="hide this column in samples"
    )
    p.add_argument(
        "--tolerance",
        action="append",
        metavar="[TABLE.]COL=X",
        help="absolute tolerance for a REAL column",
    )
    p.add_argument(
        "--expect",
        action="append",
        metavar="NAME=SQL",
        help="a query over before.T / after.T returning the rows that break it",
    )
    p.add_argument(
        "--expectations",
        action="append",
        metavar="FILE.sql",
        help="expectations, each query preceded by a '-- expect: NAME' line",
    )
    p.add_argument("--not-null", action="append", metavar="TABLE.COL", help="must have no NULL")
    p.add_argument("--unique", action="append", metavar="TABLE=COL[,COL]", help="must be unique")
    p.add_argument(
        "--accepted",
        action="append",
        metavar="TABLE.COL[$.path]=V1,V2",
        help="the only values allowed (NULL aside)",
    )
    p.add_argument(
        "--workdir",
        help="folder for the working copies (default: a temporary folder, removed when the command "
        "ends)",
    )
    p.set_defaults(func=cmd_diff)

    p = add(
        "report",
        "Execute the notebooks against a project and write HTML reports.",
        "d1nb report data/sample --out reports",
    )
    p.add_argument("project")
    p.add_argument("--out", default="reports", help="folder for the .html and executed .ipynb")
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        help="report input (README: every input; papermill parameter); VALUE is read as JSON "
        "when it parses; options win over the project's d1nb.toml",
    )
    p.add_argument(
        "--snapshot",
        action="append",
        metavar="SERVICE=EXPORT",
        help="export of a service's database (reports 02, 03), relative to the project",
    )
    p.add_argument("--before", metavar="EXPORT", help="export before the migration (report 04)")
    p.add_argument("--after", metavar="EXPORT", help="export after the migration (report 04)")
    p.add_argument("--notebook", action="append", help="run only notebooks starting with this")
    p.add_argument("--notebooks", help="folder of notebooks (default: the d1nb checkout's)")
    p.add_argument("--show-code", action="store_true", help="include the code cells")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    p.set_defaults(func=cmd_report)
    return parser


HELP_WIDTH = 100


def help_markdown() -> str:
    """docs/cli.md: the help of `d1nb` and of every subcommand, as the parser prints it
    (`make docs` writes it; a test keeps it in sync)."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH)  # argparse wraps help text to the terminal width
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = [
            "# The `d1nb` command",
            "",
            "Generated from the parser by `make docs`; `tests/test_cli.py` fails when it is out "
            "of date.",
            "",
            "Every subcommand takes `--format text|json` and exits 0 when clean, 1 on findings "
            "(drift, lint at the threshold, a failing or data-losing migration, differences or "
            "failed checks, a failed notebook), 2 on unusable input (what is usable is still "
            "reported), 3 on a bug in d1nb (`D1NB_DEBUG=1` shows its traceback). "
            "`--statement-timeout SECONDS` stops any one SQL statement from an input after that "
            "long, as D1 does after 30 s.",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
        ]
        for name, subparser in sub.choices.items():
            parts += ["", f"## d1nb {name}", "", "```text", subparser.format_help().rstrip(), "```"]
        return "\n".join(parts) + "\n"
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand behind one error boundary: bad input is `file:line: message` and
    exit 2; anything unexpected is reported as a bug (exit 3), its traceback only on request."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.statement_timeout is not None:
        set_default_statement_timeout(args.statement_timeout)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(sys.stdout), _Printable(sys.stderr)
    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader (`| head`) has gone: stop quietly, and keep Python's exit-time flush of
        # stdout from raising again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLEAN
    except InputError as exc:
        print(str(exc), file=sys.stderr)  # sys.stderr escapes names (_Printable)
        return EXIT_UNUSABLE
    except OSError as exc:  # unreadable input, unwritable output, a full disk
        where = exc.filename if exc.filename is not None else "d1nb"
        print(f"{where}: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except duckdb.IOException as exc:  # DuckDB's own file errors: an unwritable --out
        print(f"d1nb {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (apsw.FullError, apsw.IOError) as exc:  # SQLite's: a full disk, a failing device
        print(f"d1nb {args.command}: error: {exc} (is the disk full?)", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:
        if os.environ.get("D1NB_DEBUG"):
            raise
        print(
            f"d1nb {args.command}: internal error, a bug in d1nb: {type(exc).__name__}: {exc}\n"
            "Please report it with the command that caused it; D1NB_DEBUG=1 shows the traceback.",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        sys.stdout, sys.stderr = streams
        set_default_statement_timeout(d1.QUERY_TIMEOUT_S)
        remove_scratch_folders()


def _printable(text: str) -> str:
    """Text with control characters (terminal escape codes in a file name) shown escaped, and
    the bytes of a file name that is not UTF-8 shown as \\x escapes."""
    return printable(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


class _Printable(io.TextIOBase):
    """A terminal stream that prints names from inputs safely: every control character but
    newline and tab is written as an escape, so no file name can drive the terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(_printable(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()
