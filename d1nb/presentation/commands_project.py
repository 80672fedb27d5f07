"""Subcommands over a project's migration history: status, lint, lock, report.

Each handler is registered with its arguments beside it (`command`) and returns an
`Outcome`; `cli.main` parses, calls, renders and is the one error boundary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from d1nb.presentation.command import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_UNUSABLE,
    PROJECT,
    Arg,
    Command,
    Outcome,
    command,
    history_arg,
)
from d1nb.problems import InputError
from d1nb.text import one_line

COMMANDS: list[Command] = []

DRIFT_COLUMNS = [
    "service",
    "environment",
    "name",
    "status",
    "out_of_order",
    "progression",
    "modified_after_apply",
    "note",
]


@command(
    COMMANDS,
    "status",
    "What is applied, pending and drifted per service and environment.",
    "d1nb status data/sample --history api:production=ledgers/api.production.json",
    PROJECT,
    Arg(
        "--history",
        action="append",
        type=history_arg,
        metavar="[SERVICE:]ENV=FILE",
        help="ledger of one environment (overrides ledgers/SERVICE.ENV.*); SERVICE may be "
        "left out when the project has one",
    ),
)
def cmd_status(args: argparse.Namespace) -> Outcome:
    from d1nb.inputs.history import drift_frame, load_history, pending_frame, summary_frame

    history = load_history(args.project, dict(args.history or []))
    summary, drift, pending = summary_frame(history), drift_frame(history), pending_frame(history)
    out = Outcome(EXIT_FINDINGS if not drift.empty else EXIT_CLEAN, problems=history.problems)
    out.data = {"summary": summary, "drift": drift, "pending": pending}
    out.section("Applied and pending per service and environment", summary)
    out.section(
        "Drift (missing files, out of order, progression, edited after apply)",
        drift[DRIFT_COLUMNS],
    )
    out.section("Pending, in the order wrangler applies them", pending)
    return out


@command(
    COMMANDS,
    "lint",
    "Lint the migrations with D1-specific rules (docs/rules.md).",
    "d1nb lint data/sample --fail-on warning",
    PROJECT,
    Arg("--fail-on", choices=["error", "warning", "info"], default="error"),
)
def cmd_lint(args: argparse.Namespace) -> Outcome:
    from d1nb.analyses.lint import FINDING_COLUMNS, SEVERITY_RANK, lint
    from d1nb.inputs.history import load_history

    history = load_history(args.project)
    findings = lint(history)
    threshold = SEVERITY_RANK[args.fail_on]
    failing = any(SEVERITY_RANK[s] >= threshold for s in findings["severity"])
    problems = [p for p in history.problems if p.topic != "ledger"]  # lint reads no ledger
    out = Outcome(EXIT_FINDINGS if failing else EXIT_CLEAN, problems=problems)
    out.data = {"findings": findings[FINDING_COLUMNS]}
    for f in findings.itertuples():
        where = f"{one_line(f.file)}:{f.line}" if f.line else one_line(f.file)
        out.line(f"{where}: {f.severity} {f.rule} [{f.name}] {one_line(f.message)}")
    out.line(f"{len(findings)} finding(s)")
    return out


@command(
    COMMANDS,
    "lock",
    "Write d1nb.lock: the sha256 of every migration file, to detect later edits.",
    "d1nb lock data/sample",
    PROJECT,
    Arg(
        "--force",
        action="store_true",
        help="write it even though applied files were edited (their finding then disappears)",
    ),
)
def cmd_lock(args: argparse.Namespace) -> Outcome:
    from d1nb.inputs.history import load_history, status_frame, write_lock

    history = load_history(args.project, use_git=False)
    status = status_frame(history)
    edited = status[status["modified_after_apply"]]
    if not edited.empty and not args.force:
        notes = [
            f"{r.service}: {r.name} was applied, then edited ({r.note})"
            for r in edited.drop_duplicates(["service", "name"]).itertuples()
        ]
        notes.append(
            "d1nb lock: not written: it would forget that these applied files were edited; "
            "revert them, or pass --force to accept the edits"
        )
        return Outcome(EXIT_UNUSABLE, notes=notes, problems=history.problems)
    path = write_lock(history)
    count = sum(len(m.files) for m in history.migration_dirs.values())
    out = Outcome(data={"lock": str(path), "files": count}, problems=history.problems)
    out.line(f"wrote {path} ({count} migration files)")
    return out


def _export_path(project: Path, export: str) -> str:
    """An export named on the command line, relative to the project as the notebooks take it:
    as given when the project holds it, else the file the current folder holds (every other
    command reads `--snapshot` from there)."""
    if (project / export).exists() or not Path(export).exists():
        return export
    return os.path.relpath(Path(export).resolve(), project.resolve())


@command(
    COMMANDS,
    "report",
    "Execute the notebooks against a project and write HTML reports.",
    "d1nb report data/sample --out reports",
    PROJECT,
    Arg("--out", default="reports", help="folder for the .html and executed .ipynb"),
    Arg(
        "-p",
        "--parameter",
        action="append",
        metavar="KEY=VALUE",
        help="report input (README: every input; papermill parameter); VALUE is read as JSON "
        "when it parses; options win over the project's d1nb.toml",
    ),
    Arg(
        "--snapshot",
        action="append",
        metavar="SERVICE=EXPORT",
        help="export of a service's database (reports 02, 03, 05), relative to the project (or "
        "to the current folder when not found there); EXPORT alone when the project has one "
        "service",
    ),
    Arg(
        "--before", metavar="EXPORT", help="export before the migration (report 04): as --snapshot"
    ),
    Arg("--after", metavar="EXPORT", help="export after the migration (report 04): as --snapshot"),
    Arg("--notebook", action="append", help="run only notebooks starting with this"),
    Arg("--notebooks", help="folder of notebooks (default: the d1nb checkout's)"),
    Arg("--show-code", action="store_true", help="include the code cells"),
    Arg("--quiet", action="store_true", help="no per-cell progress bar"),
)
def cmd_report(args: argparse.Namespace) -> Outcome:
    from d1nb.presentation.report import REPO_NOTEBOOKS, notebook_paths, run_report

    project = Path(args.project)
    if not project.is_dir():
        raise InputError(args.project, 0, "project folder not found")
    parameters: dict[str, object] = {}
    for item in args.parameter or []:
        key, _, value = item.partition("=")
        try:  # numbers, lists and dicts as JSON; anything else is a string
            parameters[key] = json.loads(value)
        except json.JSONDecodeError:
            parameters[key] = value
    for item in args.snapshot or []:
        service, given, export = item.partition("=")
        if not given:  # EXPORT alone: the project's only service's
            from d1nb.inputs.history import load_history
            from d1nb.presentation.project import pick_service

            export = item
            service = pick_service(project, load_history(project, use_git=False), None)
        parameters.setdefault("snapshots", {})[service] = _export_path(project, export)
    for name in ("before", "after"):
        if getattr(args, name):
            parameters[name] = _export_path(project, getattr(args, name))
    notebooks = notebook_paths(Path(args.notebooks) if args.notebooks else REPO_NOTEBOOKS)
    if args.notebook:
        notebooks = [n for n in notebooks if any(n.stem.startswith(k) for k in args.notebook)]
    if not notebooks:
        raise InputError(args.notebooks or "notebooks", 0, "no notebooks to run")
    results = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.stem}", file=sys.stderr, flush=True)
        results.append(
            run_report(
                nb, Path(args.out), project, parameters, args.show_code, progress=not args.quiet
            )
        )
    out = Outcome(EXIT_CLEAN if all(r.ok for r in results) else EXIT_FINDINGS)
    out.data = {
        "reports": [
            {
                "notebook": r.notebook,
                "html": str(r.html),
                "ok": r.ok,
                "error": r.error,
                "needs": r.needs,
            }
            for r in results
        ]
    }
    for r in results:
        state = "FAIL" if not r.ok else "NEEDS" if r.needs else "ok"
        out.line(f"{state:5} {r.html}" + (f"  {r.error or r.needs}" if r.error or r.needs else ""))
    return out
