"""Undoing a migration on D1, which has no rollback: the Time Travel runbook, and the
compensating migrations teams write by hand, verified on an export.

Cloudflare's Rules of D1: capture a Time Travel bookmark before a destructive migration. A
restore is in place and undoes every write since the bookmark, the application's too, so the
runbook takes the bookmark immediately before `migrations apply` and says what a restore costs.
Time Travel keeps 30 days of history on the paid plan, 7 on the free one.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from d1nb.analyses.diff import compare_tables
from d1nb.analyses.diff_tables import records
from d1nb.analyses.impact import Impact, verdict_table
from d1nb.analyses.replay import pending_on, replay
from d1nb.analyses.rollback_draft import (
    DRAFT_DATA_HEAD,
    draft_files,
    draft_rollback,
    write_rollback_driver,
)
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.config import TOP_LEVEL_ENV, D1Binding
from d1nb.formats.migrations import MigrationDir, MigrationFile
from d1nb.inputs.history import History, load_history, status_frame
from d1nb.inputs.snapshots import load_snapshot, load_sqlite
from d1nb.inputs.workingcopy import WORKING_SUFFIX, Snapshot, mark_working_copy, remove_working_copy
from d1nb.text import code_html, printable, text_html


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
    """The wrangler command line, each value shell-quoted (names may hold spaces, quotes);
    without `--config` for a template, whose database ids are placeholders."""
    words = ["npx", "wrangler", "d1", "time-travel", command, binding.database_name]
    if not binding.is_template:
        words += ["--config", history.project.relpath(binding.config_path)]
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
        local = {e for (s, e), ledger in history.ledgers.items() if s == service and ledger.local}
        remote = set(pending["environment"]) - local  # Time Travel restores remote databases
        envs = [env] if env else sorted(remote) or ["production"]
        for e in envs:
            if e in local:
                continue
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
    templates = sorted(
        {
            history.project.relpath(b.config_path)
            for s in steps
            if (b := history.binding(s.service, s.environment)).is_template
        }
    )
    where = (
        f" {' and '.join(templates)} {'is a template' if len(templates) == 1 else 'are templates'}"
        " (placeholder database ids): run these beside a copy holding the real ids "
        "(wrangler.toml, .json or .jsonc), where wrangler finds it."
        if templates
        else ""
    )
    return Runbook(
        steps,
        "Time Travel keeps 30 days of history on the paid plan and 7 on the free one; a restore "
        "is in place and cannot be previewed, so export first (`wrangler d1 export … --remote`) "
        "if the writes since the bookmark matter." + where,
    )


# -- compensating migrations: found beside the migration, verified on an export ----------------

ROLLBACK_CONVENTIONS = (
    "{name}.rollback",
    "rollback/{stem}.sql",
    "rollback/{stem}.down.sql",
    "down/{stem}.sql",
    "down/{stem}.down.sql",
)
"""Where teams keep the compensating migration of `NAME.sql` (stem `NAME`), relative to the
migrations folder and, for the two subfolders, to the folder above it too. A `NAME.down.sql`
beside the migrations is not one: wrangler applies every `*.sql` there as a migration, so it
runs right after `NAME.sql` (d1nb replays it as the migration it is).

A migration in a folder of its own (`migrations_pattern`: `0003_x/migration.sql`) is known by
its folder: the stem is `0003_x`, and the folder itself may hold `migration.sql.rollback`,
`down.sql`, `rollback.sql` or `migration.down.sql`."""

BESIDE_IN_OWN_FOLDER = ("{name}.rollback", "down.sql", "rollback.sql", "{stem}.down.sql")

VERDICTS = (
    "restores everything",
    "schema differs",
    "loses data",
    "fails",
    "no rollback",
    "migration fails",
)


def rollback_candidates(f: MigrationFile) -> list[str]:
    """Where the compensating migration of `f` may be, by the conventions above, relative to
    its migrations folder."""
    *folders, name = f.name.split("/")
    stem = name.removesuffix(".sql")
    if not folders:
        return [p.format(name=name, stem=stem) for p in ROLLBACK_CONVENTIONS]
    own = "/".join(folders)
    beside = [f"{own}/{p.format(name=name, stem=stem)}" for p in BESIDE_IN_OWN_FOLDER]
    return beside + [p.format(stem=folders[-1]) for p in ROLLBACK_CONVENTIONS[1:]]


def find_rollback(mdir: MigrationDir, f: MigrationFile) -> Path | None:
    """The compensating migration of `f` by the conventions above, or None; never a file
    wrangler applies as a migration itself."""
    migrations = {m.path.resolve() for m in mdir.files}
    for rel in rollback_candidates(f):
        shared = rel.startswith(("rollback/", "down/"))
        for base in (mdir.path, mdir.path.parent) if shared else (mdir.path,):
            candidate = base / rel
            if (
                candidate.is_file()
                and candidate.resolve() not in migrations
                and candidate.resolve().is_relative_to(mdir.path.resolve().parent)
            ):
                return candidate
    return None


@dataclass
class RollbackCheck:
    """One migration replayed on an export, then its compensating migration: what came back."""

    file: str
    rollback: str | None
    verdict: str
    reason: str
    tables: pd.DataFrame = field(default_factory=pd.DataFrame)
    columns: pd.DataFrame = field(default_factory=pd.DataFrame)
    schema: pd.DataFrame = field(default_factory=pd.DataFrame)
    draft: list[Path] = field(default_factory=list)
    draft_verdict: str = ""
    draft_reason: str = ""

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rollback": self.rollback,
            "verdict": self.verdict,
            "reason": self.reason,
            "draft": [str(p) for p in self.draft],
            "draft_verdict": self.draft_verdict,
            "draft_reason": self.draft_reason,
            "tables": records(self.tables),
            "columns": records(self.columns),
            "schema": records(self.schema),
        }


def _apply_files(
    snapshot: Snapshot, paths: list[Path], workdir: Path, drafted: bool = False
) -> tuple[Snapshot, str | None]:
    """A copy of `snapshot` with the SQL files at `paths` run on it one after another, each as
    D1 runs a file (foreign keys on, one transaction, no ledger row): the snapshot after, or
    the first error with its file and line. `drafted`: the files are the draft d1nb just
    wrote, whose data files run whole (`D1Engine.run_own_file`); a team's own file, even a
    copy of a draft, is taken apart statement by statement."""
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / f"rolled-back{WORKING_SUFFIX}"
    remove_working_copy(copy)
    shutil.copyfile(snapshot.path, copy)
    with D1Engine(copy) as engine:
        mark_working_copy(engine)
        for path in paths:
            # as wrangler reads a file: no newline translation (a CRLF inside a literal stays)
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            if drafted and text.startswith(DRAFT_DATA_HEAD) and engine.run_own_file(text):
                continue  # d1nb's own rows by key: run whole; any error goes the long way
            outcome = engine.apply_migration(path.name, text, record=False)
            if not outcome.ok:
                return snapshot, f"{path.name} {outcome.failure}"
    return load_sqlite(copy, workdir / "after"), None


def _judge(
    state: Snapshot, restored: Snapshot, ledger: str
) -> tuple[str, str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Verdict and reason of `restored` against `state`, with the figures behind them."""
    tables, columns, schema = compare_restored(state, restored, ledger)
    values = int(columns["values_not_restored"].sum()) if not columns.empty else 0
    lost, changed, extra = (int(tables[c].sum()) for c in ("lost", "changed", "added"))
    lowered = _counters_lowered(state, restored, ledger)
    if lost or changed or values or extra or lowered:
        rows = (
            f"{lost:,} rows not restored, {changed:,} rows left changed, {values:,} values not "
            f"restored, {extra:,} rows left over"
        )
        reason = "; ".join([rows] * bool(lost or changed or values or extra) + lowered)
        return "loses data", reason, tables, columns, schema
    if not schema.empty:
        return (
            "schema differs",
            "every row and value is back, but the schema is not: "
            + "; ".join(f"{r.object} {r.name} {r.change}" for r in schema.itertuples()),
            tables,
            columns,
            schema,
        )
    return "restores everything", "every row, value and object is back", tables, columns, schema


def _counters_lowered(state: Snapshot, restored: Snapshot, ledger: str) -> list[str]:
    """AUTOINCREMENT counters `restored` has below `state`'s: the ids between are given
    again to new rows (a table rebuilt and not set back)."""
    with D1Engine(state.path) as b, D1Engine(restored.path) as a:
        was, now = b.autoincrement_counters(), a.autoincrement_counters()
    return [
        f"the AUTOINCREMENT counter of {table} is {now.get(table, 0):,}, the export's {seq:,}: "
        "ids in between would be given again"
        for table, seq in sorted(was.items())
        if table != ledger.lower() and now.get(table, 0) < seq
    ]


def _or_zero(count: object) -> int:
    return 0 if count is None or pd.isna(count) else int(count)


RESTORED_COLUMNS = ["table", "rows", "restored", "lost", "added", "changed"]


def compare_restored(
    before: Snapshot, restored: Snapshot, ledger: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per table, per column, schema left) of `restored` against the state `before`: rows
    restored, lost and added, values not restored; the ledger table left out."""
    tables = sorted(t for t in before.row_counts if t != ledger)
    common = [t for t in tables if t in restored.row_counts]
    diff = compare_tables(before, restored, tables=common)
    rows = []
    for t in tables:
        n = before.row_counts[t]
        if t not in restored.row_counts:
            rows.append({"table": t, "rows": n, "restored": 0, "lost": n, "added": 0, "changed": 0})
            continue
        d = diff.tables[t]
        rows.append(
            {
                "table": t,
                "rows": n,
                "restored": d.unchanged,
                "lost": d.removed,
                "added": d.added,
                "changed": d.changed,
            }
        )
    for t in sorted(set(restored.row_counts) - set(before.row_counts) - {ledger}):
        n = restored.row_counts[t]
        rows.append({"table": t, "rows": 0, "restored": 0, "lost": 0, "added": n, "changed": 0})
    columns = diff.changed_columns()
    if not columns.empty:
        columns = columns.assign(
            values_not_restored=[
                int(before.row_counts.get(r.table, 0))
                if r.present == "before only"
                else 0  # a column only the restored state has: the schema frame says so
                if r.present == "after only"
                else int(r.changed if pd.notna(r.changed) else _or_zero(r.nulls_gained))
                for r in columns.itertuples()
            ]
        )[["table", "column", "present", "values_not_restored"]]
        columns = columns[(columns["values_not_restored"] > 0) | (columns["present"] != "both")]
    schema = diff.schema
    if not schema.empty:
        schema = schema[schema["name"] != ledger].reset_index(drop=True)
    frame = pd.DataFrame(rows, columns=RESTORED_COLUMNS)  # an export of no table holds none
    return frame, columns.reset_index(drop=True), schema


def verify_rollbacks(
    project: str | Path,
    service: str,
    snapshot: str | Path | Snapshot,
    names: list[str] | None = None,
    workdir: str | Path | None = None,
    draft_to: str | Path | None = None,
) -> list[RollbackCheck]:
    """For each file of `names` (default: what the export's own ledger lacks; `snapshot` is a
    path relative to `project` or a loaded Snapshot), in order: the
    export brought to the state just before it, the file applied, then its compensating
    migration; the result compared with that state. Verdict per file: restores everything,
    schema differs (every row and value back), loses data (rows or values not back), fails
    (the rollback errors on this data), no rollback (none found), migration fails (the
    migration itself errors: wrangler stops there, and the files after it are verified as if
    it were left out, each saying so, as impact judges them). With
    `draft_to`, a compensating migration is also drafted from the export for each file (a
    folder per file) and verified the same way (`draft_verdict`)."""
    project = Path(project)
    history = load_history(project, use_git=False)
    mdir = history.migration_dirs[service]
    binding = history.binding(service)
    ledger = binding.migrations_table
    workdir = Path(workdir or scratch_folder("d1nb-rollback-"))
    export = (
        snapshot
        if isinstance(snapshot, Snapshot)
        else load_snapshot(project / snapshot, workdir / "export", schema=mdir)
    )
    names = pending_on(export, mdir, ledger) if names is None else names
    files = {f.name: f for f in mdir.files}
    checks = []
    state = export
    done: list[str] = []
    stopped_at = None  # the first file that fails: wrangler applies none after it
    for name in names:
        f = files[name]
        step = workdir / f"{len(done):03d}"
        applied_run = replay(state, mdir, [name], workdir=step / "apply", ledger_table=ledger)
        found = find_rollback(mdir, f)
        shown = history.project.relpath(found) if found else None
        if not applied_run.ok:
            outcome = applied_run.outcomes[0]
            checks.append(
                RollbackCheck(
                    name,
                    shown,
                    "migration fails",
                    f"the migration itself fails on this data ({outcome.failure}): nothing to "
                    "roll back, and wrangler stops here"
                    + (
                        ""
                        if stopped_at or name == names[-1]
                        else "; the files after it are verified without it"
                    ),
                )
            )
            stopped_at = stopped_at or name
            continue  # as impact does: what the later files do once this one is fixed
        if found is None:
            checks.append(
                RollbackCheck(
                    name,
                    None,
                    "no rollback",
                    "no compensating migration found (looked for "
                    + ", ".join(rollback_candidates(f))
                    + ")",
                )
            )
        else:
            restored, error = _apply_files(applied_run.after, [found], step / "rollback")
            if error:
                checks.append(RollbackCheck(name, shown, "fails", f"the rollback fails: {error}"))
            else:
                verdict, reason, tables, columns, schema = _judge(state, restored, ledger)
                reason += (
                    f" (the ledger still lists {name}: delete its row, or `migrations apply` "
                    "considers it applied)"
                )
                checks.append(RollbackCheck(name, shown, verdict, reason, tables, columns, schema))
        if draft_to is not None:
            check = checks[-1]
            folder = Path(draft_to) / name.replace("/", "_").removesuffix(".sql")
            check.draft_verdict, check.draft_reason = _draft_and_verify(
                check, state, applied_run.after, ledger, folder, step, _renames_in(f)
            )
            if check.draft:
                write_rollback_driver(folder, binding.binding, name, ledger)
            if (folder / "TOO_LARGE.txt").is_file():
                check.draft_reason += "; " + (folder / "TOO_LARGE.txt").read_text().strip()
            if len(check.draft) > MANY_DRAFT_FILES:
                check.draft_reason += (
                    f"; {len(check.draft):,} files, one `execute --file` each: a Time Travel "
                    "restore to a bookmark taken just before the migration undoes it in one "
                    "step, but also every write since (report 02's runbook)"
                )
        if stopped_at:
            unreached = checks[-1]
            unreached.reason += (
                f" (not reached: wrangler stops at {stopped_at}; verified on the export without it)"
            )
        state = applied_run.after
        done.append(name)
    return checks


MANY_DRAFT_FILES = 200
"""Past this many files (100,000 statements) a draft's reason says what Time Travel offers
instead: one step, against hours of files."""

DRAFT_ROUNDS = 3
"""Rounds of drafting: restoring rows fires the export's triggers, which may change rows
already restored (an AFTER INSERT that counts children into the parent); each further round
drafts what is still not back, from the state the earlier files leave."""


def _draft_and_verify(
    check: RollbackCheck,
    state: Snapshot,
    after: Snapshot,
    ledger: str,
    folder: Path,
    step: Path,
    renames: tuple[dict[str, str], dict[str, dict[str, str]]],
) -> tuple[str, str]:
    """Draft the compensating files into `folder` (check.draft), replaying each round on the
    state the earlier ones leave, until the data is back or DRAFT_ROUNDS; verdict and reason.
    `renames`: the tables and columns the migration renamed (`_renames_in`)."""
    check.draft = draft_rollback(
        state, after, ledger, folder, renamed_tables=renames[0], renamed_columns=renames[1]
    )
    current, new = after, check.draft
    for round_ in range(DRAFT_ROUNDS):
        restored, error = _apply_files(current, new, step / f"draft{round_}", drafted=True)
        if error:
            return "fails", f"the draft fails: {error}"
        verdict, reason, *_ = _judge(state, restored, ledger)
        if verdict != "loses data" or round_ == DRAFT_ROUNDS - 1:
            break
        start = int(check.draft[-1].name.split("_")[1]) + 1 if check.draft else 1
        new = draft_rollback(state, restored, ledger, folder, start=start)
        if not new:
            break
        check.draft += new
        current = restored
    check.draft = draft_files(folder)  # as a later round may have renumbered them
    return verdict, reason


def _renames_in(f: MigrationFile) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """What the file renames by ALTER TABLE: tables, their names before it → after it; and
    per table that a RENAME or DROP COLUMN alters (its name before, lower-cased), the
    columns renamed, name after → before. Chains of renames are followed to their end."""
    tables: dict[str, tuple[str, str]] = {}  # name now (lower) → (name before, name now)
    columns: dict[str, dict[str, tuple[str, str]]] = {}  # same, per table's name before
    for s in f.statements:
        if not s.table:
            continue
        was = tables.get(s.table.lower(), (s.table, s.table))[0]
        if s.kind == "rename_table" and s.detail:
            tables.pop(s.table.lower(), None)
            tables[s.detail.lower()] = (was, s.detail)
        elif s.kind in ("rename_column", "drop_column"):
            renamed = columns.setdefault(was.lower(), {})
            if s.kind == "rename_column":
                old, new = s.detail.split(" -> ", 1)
                first = renamed.pop(old.lower(), (old, old))[0]
                renamed[new.lower()] = (first, new)
    return (
        {old: new for old, new in tables.values() if old.lower() != new.lower()},
        {
            table: {new: old for old, new in renamed.values() if old.lower() != new.lower()}
            for table, renamed in columns.items()
        },
    )


def rollback_table(checks: list[RollbackCheck]) -> pd.DataFrame:
    """One row per migration: its compensating migration, verdict and why."""
    return pd.DataFrame(
        [
            {"file": c.file, "rollback": c.rollback, "verdict": c.verdict, "reason": c.reason}
            for c in checks
        ],
        columns=["file", "rollback", "verdict", "reason"],
    )


def draft_files_text(files: list[Path]) -> str:
    """A draft's files for a table cell: all of them when few, else the first and the last."""
    if len(files) <= 3:
        return ", ".join(p.name for p in files)
    return f"{files[0].name} … {files[-1].name} ({len(files)} files)"


# -- the project's view (report 05) -------------------------------------------------------------
