"""Undoing a migration on D1, which has no rollback: the Time Travel runbook.

Cloudflare's Rules of D1: capture a Time Travel bookmark before a destructive migration. A
restore is in place and undoes every write since the bookmark, the application's too, so the
runbook takes the bookmark immediately before `migrations apply` and says what a restore costs.
Time Travel keeps 30 days of history on the paid plan, 7 on the free one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .config import TOP_LEVEL_ENV, D1Binding
from .display import code_html, printable, text_html
from .history import History, load_history, status_frame
from .impact import Impact, verdict_table


@dataclass
class Step:
    """One environment's bookmark and restore commands, and the migrations they cover."""

    service: str
    environment: str
    covers: str
    info: str
    restore: str


@dataclass
class Runbook:
    """The commands to bookmark before, and restore after, the risky migrations."""

    steps: list[Step]
    note: str

    def text(self) -> str:
        parts = [
            f"{s.service} · {s.environment}: {s.covers}\n"
            f"  before `wrangler d1 migrations apply`, bookmark (keep what it prints):\n"
            f"    {s.info}\n  to undo, restore it (every write since is undone):\n"
            f"    {s.restore}"
            for s in self.steps
        ]
        return "\n\n".join([*parts, self.note])

    def _repr_html_(self) -> str:
        steps = "".join(
            f"<h3>{text_html(f'{s.service} · {s.environment}')}</h3><p>{text_html(s.covers)}</p>"
            "<p>Before <code>wrangler d1 migrations apply</code>, take a bookmark and keep what "
            f"it prints:</p>{code_html(s.info, 'sh')}<p>To undo, restore it (every write "
            f"since, the application's too, is undone):</p>{code_html(s.restore, 'sh')}"
            for s in self.steps
        )
        return f'<div class="d1nb-runbook">{steps}<p>{text_html(self.note)}</p></div>'

    def __repr__(self) -> str:
        return printable(self.text())


def _wrangler(command: str, binding: D1Binding, history: History, extra: str = "") -> str:
    """The wrangler command line, each value shell-quoted (names may hold spaces, quotes)."""
    words = [
        *("npx", "wrangler", "d1", "time-travel", command, binding.database_name),
        *("--config", history.project.relpath(binding.config_path)),
    ]
    if binding.environment != TOP_LEVEL_ENV:
        words += ["--env", binding.environment]
    return shlex.join(words) + extra


def _what(row) -> str:
    return row.verdict if row.verdict != "safe" else f"rewrites {row.rows_changed:,} rows"


def time_travel_runbook(
    project: str | Path, impacts: dict[str, Impact], env: str | None = None
) -> Runbook:
    """For each service with a pending migration that loses or rewrites data: the bookmark to
    take before `migrations apply` in each environment where it is pending (or in `env`), and
    the restore."""
    history = load_history(project, use_git=False)
    table = verdict_table(impacts) if impacts else None
    if table is None or table.empty:
        return Runbook([], "No pending migration on the exports given: nothing to bookmark.")
    risky = table[(table["verdict"] != "safe") | (table["rows_changed"] > 0)]
    if risky.empty:
        return Runbook([], "No pending migration loses or rewrites data: no bookmark is needed.")
    status = status_frame(history)
    steps = []
    for service, part in risky.groupby("service", sort=True):
        pending = status[
            (status["service"] == service)
            & (status["status"] == "pending")
            & status["name"].isin(part["file"])
        ]
        envs = [env] if env else sorted(set(pending["environment"])) or ["production"]
        for e in envs:
            here = part[part["file"].isin(pending[pending["environment"] == e]["name"])]
            here = part if here.empty else here
            files = ", ".join(f"{r.file} ({_what(r)})" for r in here.itertuples())
            try:
                binding = history.binding(service, e)
            except KeyError:
                continue
            steps.append(
                Step(
                    service,
                    e,
                    files,
                    _wrangler("info", binding, history),
                    _wrangler("restore", binding, history, " --bookmark=BOOKMARK"),
                )
            )
    if not steps:
        return Runbook([], "The risky migrations are pending in no environment with a D1 binding.")
    return Runbook(
        steps,
        "Time Travel keeps 30 days of history on the paid plan and 7 on the free one; a restore "
        "is in place and cannot be previewed, so export first (`wrangler d1 export … --remote`) "
        "if the writes since the bookmark matter.",
    )
