"""The verdict each report opens with, computed from the same results as its sections.

One function per report, each returning a `display.Verdict`: a level (fail, warn, pass), a
headline and the lines behind it. A verdict never says less than a section below it: every
failing section's finding is one of its lines.
"""

from __future__ import annotations

import pandas as pd

from d1nb.analyses.checks import Audit
from d1nb.analyses.impact import Impact, verdict_table
from d1nb.analyses.lint import lint
from d1nb.analyses.rollback import RollbackCheck
from d1nb.inputs.history import History, status_frame, summary_frame
from d1nb.presentation.display import Verdict
from d1nb.presentation.project import Backfill
from d1nb.text import rows_count


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def history_verdict(history: History, findings: pd.DataFrame | None = None) -> Verdict:
    """01: drift, lint errors, unusable inputs and what is pending, per environment."""
    findings = lint(history) if findings is None else findings
    summary = summary_frame(history)
    drift_columns = ["file_missing", "out_of_order", "progression", "modified_after_apply"]
    lines = []
    drifted = 0
    for r in summary.itertuples():
        drift = {c: int(getattr(r, c)) for c in drift_columns if int(getattr(r, c))}
        drifted += bool(drift)
        lines.append(
            f"{r.service} · {r.environment}: {r.applied} applied, {r.pending} pending"
            + (
                "; drift: " + ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in drift.items())
                if drift
                else ""
            )
        )
    errors = findings[findings["severity"] == "error"]
    warnings = findings[findings["severity"] == "warning"]
    for r in errors.itertuples():
        at = f"{r.file}:{r.line}" if r.line else r.file
        lines.append(f"lint error {r.rule} {at}: {r.message}")
    problems = [p for p in history.problems if p.severity == "error"]
    lines += [f"unusable input {p}" for p in problems]
    if not history.ledgers:
        lines.append("no ledger found: applied and pending cannot be told apart (see `ledgers`)")
    status = status_frame(history)
    pending = int((status["status"] == "pending").sum()) if not status.empty else 0
    parts = [
        _count(drifted, "environment") + " drifted" if drifted else "",
        _count(len(errors), "lint error") if len(errors) else "",
        _count(len(problems), "unusable input") if problems else "",
    ]
    parts = [p for p in parts if p]
    if parts:
        level, headline = "fail", "; ".join(parts)
    elif pending or len(warnings):
        level = "warn"
        headline = (
            f"{_count(pending, 'migration')} pending across environments, "
            f"{_count(len(warnings), 'lint warning')}; no drift"
        )
    else:
        level, headline = "pass", "every environment has every file, no drift, no lint finding"
    return Verdict(level, headline, lines)


_LEVEL_OF = {"fails": "fail", "loses data": "fail", "needs batching": "warn", "safe": "pass"}


def impact_verdict(impacts: dict[str, Impact]) -> Verdict:
    """02: per pending migration, worst first: fails, loses data, needs batching, safe."""
    table = verdict_table(impacts) if impacts else pd.DataFrame()
    if table.empty:
        return Verdict("pass", "nothing pending on the exports given: no migration to replay")
    rank = {"fails": 0, "loses data": 1, "needs batching": 2, "safe": 3}
    table = table.assign(_rank=table["verdict"].map(rank)).sort_values(
        ["_rank", "service", "file"], kind="stable"
    )
    counts = table["verdict"].value_counts()
    level = _LEVEL_OF[table["verdict"].iloc[0]]
    headline = (
        ", ".join(f"{counts[v]} {v}" for v in rank if v in counts)
        + f" of {_count(len(table), 'pending migration')}"
    )
    lines = [f"{r.service} {r.file}: {r.verdict} — {r.reason}" for r in table.itertuples()]
    return Verdict(level, headline, lines)


def backfill_verdict(backfill: Backfill) -> Verdict:
    """03: the recommended size and the batches it writes, or why there is nothing to batch."""
    if not backfill.file:
        return Verdict("pass", "nothing to batch", backfill.notes)
    main = backfill.main
    errors = [s.error for s in backfill.statements if s.error]
    if main is None:
        return Verdict(
            "fail" if errors else "pass",
            f"{backfill.service} {backfill.file}: nothing planned",
            errors + backfill.notes,
        )
    plan = main.plan
    p95 = plan.predicted_p95_ms(plan.recommended)
    level = (
        "fail"
        if errors or p95 > plan.budget_ms
        else "warn"
        if len(main.files) > 1 or plan.rerun_changes
        else "pass"
    )
    if backfill.blocked_by:  # wrangler stops at the failing file: this one never runs
        level = "fail"
        errors = [
            f"{backfill.blocked_by} fails on this export before it: `migrations apply` "
            "stops there, so this file does not run until that one is fixed",
            *errors,
        ]
    headline = (
        f"{backfill.service} {backfill.file} line {main.statement.line}: {plan.counted} "
        f"in batches of {plan.recommended:,} ({_count(len(main.files), 'batch file')},"
        f" predicted p95 {p95:,.0f} ms against a budget of {plan.budget_ms:,.0f} ms)"
    )
    if errors and p95 <= plan.budget_ms:
        # the plan fits its budget: the failure is elsewhere in the file, said first (a
        # headline of a 18 ms plan under FAIL read as the plan failing: stranger's project #23)
        headline = f"{_count(len(errors), 'problem')} below; {headline}"
    if not plan.batchable:
        errors = [plan.unbatchable_reason, *errors]
    return Verdict(level, headline, errors + backfill.notes + plan.notes)


def audit_verdict(result: Audit, pending: Audit | None = None) -> Verdict:
    """04: the audit of before → after and, when given, of the pending replay; fail when
    either fails, with every failing check and every table that lost rows."""
    lines = []
    failed = False
    for label, audit in (("before → after", result), ("pending replay", pending)):
        if audit is None:
            continue
        failed |= not audit.passed
        if audit.replayed == []:
            lines.append(
                f"{label}: nothing pending on the after export (its ledger has every file)"
            )
            continue
        summary = audit.diff.summary()
        lost = summary[summary["removed"] > 0] if not summary.empty else summary
        lines.append(
            f"{label}: {'pass' if audit.passed else 'fail'}"
            + "".join(f"; {r.table} lost {rows_count(r.removed)}" for r in lost.itertuples())
        )
        lines += [
            f"{label}: {r.item} {r.status}: {r.detail}"
            for r in audit.verdict().itertuples()
            if r.item in ("migration", "data", "schema")
        ]
        lines += [
            f"{label}: {r.kind} {r.check!r}"
            + (f" on {r.table}" if r.table else "")
            + f": {r.status}"
            + (f", {rows_count(int(r.failing_rows))}" if pd.notna(r.failing_rows) else "")
            for r in audit.failed_checks.itertuples()
        ]
        if not audit.passed and audit.failed_checks.empty and not audit.failure:
            lines.append(f"{label}: the exports differ and no expectation says that is intended")
    headline = (
        "a pending migration fails on the export"
        if pending is not None and pending.failure
        else "a check fails or data differs without an expectation saying so"
        if failed
        else "every expectation and invariant holds"
    )
    return Verdict("fail" if failed else "pass", headline, lines)


def rollback_verdict(checks: dict[str, list[RollbackCheck]]) -> Verdict:
    """05: fail when a hand-written rollback loses data or fails (or a draft cannot restore);
    warn when a migration has none (the draft is then the plan); pass when every one restores."""
    every = [(s, c) for s, found in checks.items() for c in found]
    if not every:
        return Verdict("pass", "nothing pending on the exports given: nothing to roll back")
    bad = [(s, c) for s, c in every if c.verdict in ("loses data", "fails")]
    missing = [(s, c) for s, c in every if c.verdict == "no rollback"]
    drafts_bad = [
        (s, c)
        for s, c in every
        if c.draft_verdict not in ("", "restores everything", "schema differs")
    ]
    lines = [f"{s} {c.file}: {c.verdict} — {c.reason}" for s, c in bad]
    lines += [
        f"{s} {c.file}: drafted rollback: {c.draft_verdict} — {c.draft_reason}"
        for s, c in drafts_bad
    ]
    lines += [
        f"{s} {c.file}: no rollback of its own; the drafted one {c.draft_verdict or 'was not made'}"
        for s, c in missing
    ]
    lines += [f"{s} {c.file}: {c.reason}" for s, c in every if c.verdict == "migration fails"]
    if bad or drafts_bad:
        level = "fail"
        own = sum(1 for _s, c in every if c.rollback)
        headline = (
            f"{len(bad)} of the {own} compensating migrations do not bring everything back"
            if bad
            else "a drafted rollback does not bring everything back"
        )
    elif missing:
        level = "warn"
        headline = (
            f"{len(missing)} of {len(every)} pending migrations have no rollback of their own"
        )
    elif failing := [c for _s, c in every if c.verdict == "migration fails"]:
        level = "warn"  # not a rollback's fault, but no rollback of it was verified
        headline = (
            f"{len(failing)} of {len(every)} pending migrations fail on the export: nothing of "
            "theirs is rolled back or verified (report 02 says why they fail)"
        )
    else:
        level, headline = "pass", "every rollback brings every row and value back"
    return Verdict(level, headline, lines)
