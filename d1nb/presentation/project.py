"""What the notebooks and the CLI ask of a whole project: one entry point per question, each
taking the project (its history, exports or earlier results) and returning a table or a result
the analyses defined. Every name here is in `d1nb.__all__`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from d1nb.analyses.batch_files import FileBatches, batch_migration
from d1nb.analyses.batching import BATCHABLE
from d1nb.analyses.checks import Audit, audit
from d1nb.analyses.impact import (
    DEFAULT_BUDGET_MS,
    Impact,
    analyse_impact,
    statement_costs,
    verdict_table,
)
from d1nb.analyses.replay import pending_on, replay
from d1nb.analyses.rollback import RollbackCheck, draft_files_text, verify_rollbacks
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.evolution import (
    CHANGE_COLUMNS,
    SchemaEvolution,
)
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.config import LOCAL_ENV, TOP_LEVEL_ENV
from d1nb.formats.migrations import MigrationDir, MigrationFile
from d1nb.formats.wrangler_output import local_state_file
from d1nb.inputs.history import (
    History,
    evolution_of,
    load_history,
    local_copies,
    pending_in,
    status_frame,
)
from d1nb.inputs.snapshots import load_snapshot
from d1nb.inputs.workingcopy import Snapshot
from d1nb.presentation.report_inputs import missing_input
from d1nb.problems import InputError, Problem
from d1nb.text import SQL, Note


def pick_service(project: str | Path, history: History, service: str | None) -> str:
    """The service asked for, or the only one; InputError naming the choices otherwise."""
    services = list(history.migration_dirs)
    if service is None and len(services) == 1:
        return services[0]
    if service in services:
        return service
    have = ", ".join(services) or "none: no wrangler config with a D1 binding was found"
    why = "name one with --service" if service is None else f"no service {service!r}"
    raise InputError(project, 0, f"{why} (services with migrations: {have})")


def _own_local_copy(
    history: History, service: str, folder: Path, env: str | None, shown: str
) -> Path:
    """The file of `service`'s database in a wrangler local-state folder: the one `--local`
    (with `--env ENV`, that environment's binding's) uses; the folder itself when there is
    none, so that the loader says what the folder holds."""
    try:
        binding = history.binding(service, env or LOCAL_ENV)
    except KeyError:
        binding = None
    if binding is not None and (env or binding.environment in (TOP_LEVEL_ENV, LOCAL_ENV)):
        own = local_state_file(folder, binding.local_id)
        return own if own.is_file() else folder
    copies = local_copies(history, service, folder)
    if len(copies) > 1:
        raise InputError(
            shown,
            0,
            f"holds local copies of {service} for several environments "
            f"({', '.join(sorted(copies))}): give --env",
        )
    return next(iter(copies.values()), folder)


def migration_named(mdir: MigrationDir, given: str) -> MigrationFile | None:
    """The migration a user names: by its ledger name (`0003_x.sql`, `0003_x/migration.sql`),
    by a path to its file (from here), by a file name only one migration has, by its folder
    (a folder per migration) or by its name without `.sql`."""
    for f in mdir.files:
        if f.name == given.replace("\\", "/"):
            return f
    path = Path(given)
    if path.is_file():
        found = next((f for f in mdir.files if f.path.resolve() == path.resolve()), None)
        if found is not None:
            return found
    by_tail = [f for f in mdir.files if f.name.endswith("/" + given) or f.path.name == given]
    if len(by_tail) == 1:
        return by_tail[0]
    # a folder-per-migration layout (migrations_pattern): the migration's folder names it
    folder = given.replace("\\", "/").rstrip("/")
    by_folder = [
        f
        for f in mdir.files
        if f.name.rpartition("/")[0] == folder
        or (path.is_dir() and f.path.parent.resolve() == path.resolve())
    ]
    if len(by_folder) == 1:
        return by_folder[0]
    # the name without its .sql, as `wrangler d1 migrations create` takes it
    by_stem = [f for f in mdir.files if f.name == f"{folder}.sql"]
    return by_stem[0] if by_stem else None


def not_a_migration(mdir: MigrationDir, service: str, given: list[str]) -> str:
    """The message for names `migration_named` did not find, with how this service's
    migrations are named."""
    example = f" (its migrations are named like {mdir.files[-1].name})" if mdir.files else ""
    return f"not a migration of {service}: {', '.join(given)}{example}"


def service_export(
    history: History,
    service: str,
    export: Path,
    workdir: Path,
    *,
    env: str | None = None,
    only: list[str] | None = None,
    shown: str | None = None,
) -> tuple[Snapshot, list[str] | None]:
    """One service's export loaded for a replay, and the files to replay: `only`, else what
    `env` has pending, else None (what the export's own ledger lacks). An export whose
    ledger lists none of the service's files is refused: it is another database's."""
    shown = shown or str(export)
    mdir = history.migration_dirs[service]
    copies: dict[str, Path] = {}
    if Path(export).is_dir():  # wrangler's local state: this database's own file, if there
        copies = local_copies(history, service, Path(export))
        export = _own_local_copy(history, service, Path(export), env, shown)
    snapshot = load_snapshot(export, workdir, schema=mdir)
    if len(copies) > 1:
        label = next((k for k, v in copies.items() if v == export), "?")
        snapshot.notes.append(
            f"holds local copies of {service} for {', '.join(sorted(copies))}: {label}'s is "
            "read (--env picks another, as with `wrangler … --local --env`)"
        )
    table = history.binding(service).migrations_table
    with D1Engine(snapshot.path) as engine:
        has_ledger = engine.conn.table_exists(None, table)
        applied = [r[1] for r in engine.applied_migrations(table, shown)]
    files = {f.name for f in mdir.files}
    if applied and not files.intersection(applied):
        raise InputError(
            shown,
            0,
            f"its {table} ledger lists {len(applied)} migrations ({', '.join(applied[:3])}"
            f"{', …' if len(applied) > 3 else ''}), none of them a file of service {service!r}: "
            "is this export another database's?",
        )
    named = {n: migration_named(mdir, n) for n in only or []}
    unknown = [n for n, f in named.items() if f is None]
    if unknown:
        raise InputError(shown, 0, not_a_migration(mdir, service, unknown))
    if only:
        return snapshot, [f.name for f in named.values() if f is not None]
    if not env:
        return snapshot, None
    if copies and (service, env) not in history.ledgers:
        # a local state chosen by --env, as `wrangler … --local --env ENV` reads it
        snapshot.notes.append(
            f"no ledger of {env} was given: its copy's own ledger says what is pending"
        )
        return snapshot, None
    pending = pending_in(history, service, env, shown)
    if has_ledger:
        _same_ledger(history, service, env, applied, pending, shown)
    return snapshot, pending


def _same_ledger(
    history: History, service: str, env: str, applied: list[str], pending: list[str], shown: str
) -> None:
    """Refuse an export whose own ledger disagrees with `env`'s: replaying `env`'s pending
    files on it would skip a migration it never had, or apply one twice."""
    status = status_frame(history)
    mine = status[(status.service == service) & (status.environment == env)]
    done = set(applied)
    lacking = [n for n in mine[mine.status == "applied"]["name"] if n not in done]
    twice = [n for n in pending if n in done]
    if not lacking and not twice:
        return
    table = history.binding(service).migrations_table
    why = []
    if lacking:
        why.append(f"lacks {', '.join(lacking)}, applied in {env}")
    if twice:
        why.append(f"already has {', '.join(twice)}, pending in {env}")
    raise InputError(
        shown,
        0,
        f"its {table} ledger {' and '.join(why)}: it is not a copy of {env} as its ledger "
        f"stands; export {env} again, or leave out --env to replay what the export lacks",
    )


def project_impacts(
    project: str | Path,
    snapshots: dict[str, str],
    env: str | None = None,
    budget_ms: float = DEFAULT_BUDGET_MS,
    workdir: str | Path | None = None,
    via: str = "apply",
) -> dict[str, Impact]:
    """Impact per service: each snapshot (path relative to `project`) replayed with what is
    pending in `env` (default: what the snapshot's own ledger lacks), on the path `via`."""

    history = load_history(project, use_git=False)
    workdir = Path(workdir or scratch_folder("d1nb-impact-"))
    impacts = {}
    for service, rel in snapshots.items():
        pick_service(rel, history, service)
        snapshot, names = service_export(
            history, service, Path(project) / rel, workdir / service, env=env, shown=rel
        )
        impacts[service] = analyse_impact(
            snapshot,
            history.migration_dirs[service],
            names,
            budget_ms=budget_ms,
            ledger_table=history.binding(service).migrations_table,
            workdir=workdir / service,
            service=service,
            via=via,
        )
    return impacts


def _per_impact(impacts: dict[str, Impact], frame_of) -> pd.DataFrame:
    frames = [frame_of(i).assign(service=s) for s, i in impacts.items()]
    if not frames:
        return pd.DataFrame()
    filled = [f for f in frames if not f.empty]
    # An empty result keeps its columns, so the cells and plots over it still work.
    frame = pd.concat(filled, ignore_index=True) if filled else frames[0].reset_index(drop=True)
    return frame[["service", *[c for c in frame.columns if c != "service"]]]


def project_transitions(impacts: dict[str, Impact], path_level: bool | None = None) -> pd.DataFrame:
    """The value transitions of every migration of every service (JSON paths only, whole
    values only, or both), most rows first within each statement's column."""

    def of(impact: Impact) -> pd.DataFrame:
        frame = impact.transitions
        if path_level is not None:
            frame = frame[(frame["path"] != "") == path_level]
        return frame

    return _per_impact(impacts, of)


def project_cascades(impacts: dict[str, Impact]) -> pd.DataFrame:
    """Rows deleted or nulled by foreign-key actions, every service."""
    return _per_impact(impacts, lambda i: i.result.cascades())


def project_statement_costs(impacts: dict[str, Impact]) -> pd.DataFrame:
    """Per statement of every service: rows touched, share of the table, D1 rows and price."""
    return _per_impact(impacts, statement_costs)


def project_durations(impacts: dict[str, Impact]) -> pd.DataFrame:
    """How long each statement held the local copy (machine-dependent)."""
    return _per_impact(impacts, lambda i: i.statements[["file", "line", "kind", "duration_ms"]])


def project_failures(impacts: dict[str, Impact]) -> pd.DataFrame:
    """Migrations that fail on their export, and whether they pass on an empty database."""
    table = verdict_table(impacts)
    return table[table["verdict"] == "fails"][["service", "file", "reason"]].reset_index(drop=True)


def project_notes(impacts: dict[str, Impact]) -> pd.DataFrame:
    """What the replay notes of each file, every service: where D1 does something a plain
    SQLite would not (PRAGMA foreign_keys=OFF ignored, a statement run as D1's build of
    SQLite runs it, the references a COMMIT found broken)."""

    def of(impact: Impact) -> pd.DataFrame:
        rows = [(o.name, n) for o in impact.result.outcomes for n in o.notes]
        return pd.DataFrame(rows, columns=["file", "note"])

    return _per_impact(impacts, of)


def _per_evolution(history: History, frame_of, columns: list[str]) -> pd.DataFrame:
    frames = [frame_of(evolution_of(history, s)).assign(service=s) for s in history.migration_dirs]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["service", *columns])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["service", *[c for c in frame.columns if c != "service"]]]


def project_schema_changes(history: History) -> pd.DataFrame:
    """Schema changes per file for every service, replayed from empty (one table to read)."""
    return _per_evolution(history, SchemaEvolution.changes, CHANGE_COLUMNS)


def project_failures_from_empty(history: History) -> pd.DataFrame:
    """Files that fail when each service's history is replayed from an empty database."""
    return _per_evolution(
        history, lambda e: e.failures().drop(columns="service"), ["file", "line", "error"]
    )


def project_table_columns(history: History) -> pd.DataFrame:
    """Every table's columns after every migration that changed it, one row per (file, table)."""

    def collapse(evolution: SchemaEvolution) -> pd.DataFrame:
        cols = evolution.columns.assign(
            column=lambda f: f["column"] + (" " + f["type"]).where(f["type"] != "", "")
        )
        grouped = cols.groupby(["order", "file", "table"], sort=True)["column"]
        return grouped.agg(", ".join).reset_index().rename(columns={"column": "columns"})

    return _per_evolution(history, collapse, ["order", "file", "table", "columns"])


def project_rollbacks(
    project: str | Path,
    snapshots: dict[str, str],
    env: str | None = None,
    draft_to: str | Path | None = None,
) -> dict[str, list[RollbackCheck]]:
    """Per service with an export (path relative to `project`): its pending migrations (in
    `env`, or what the export's ledger lacks), each with its compensating migration verified
    and one drafted from the export (into `draft_to`, default a scratch folder) and verified."""
    history = load_history(project, use_git=False)
    folder = Path(draft_to or scratch_folder("d1nb-drafts-"))
    exports = scratch_folder("d1nb-exports-")
    checks = {}
    for service, rel in snapshots.items():
        pick_service(rel, history, service)
        export, names = service_export(
            history, service, Path(project) / rel, exports / service, env=env, shown=rel
        )
        checks[service] = verify_rollbacks(
            project, service, export, names, draft_to=folder / service
        )
    return checks


def _each(checks: dict[str, list[RollbackCheck]]):
    for service, found in checks.items():
        for check in found:
            yield service, check


def project_rollback_table(checks: dict[str, list[RollbackCheck]]) -> pd.DataFrame:
    """One row per pending migration: its compensating migration and what it brings back, and
    the drafted one's verdict."""
    return pd.DataFrame(
        [
            {
                "service": service,
                "file": c.file,
                "rollback": c.rollback,
                "verdict": c.verdict,
                "reason": c.reason,
                "drafted": c.draft_verdict or None,
            }
            for service, c in _each(checks)
        ],
        columns=["service", "file", "rollback", "verdict", "reason", "drafted"],
    )


def project_rollback_losses(checks: dict[str, list[RollbackCheck]]) -> pd.DataFrame:
    """Per table where a hand-written rollback does not bring the rows back: rows not
    restored, left changed and left over."""
    frames = [
        c.tables[c.tables[["lost", "changed", "added"]].sum(axis=1) > 0].assign(
            service=service, file=c.file
        )
        for service, c in _each(checks)
        if not c.tables.empty
    ]
    columns = ["service", "file", "table", "rows", "restored", "lost", "changed", "added"]
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


def project_rollback_values(checks: dict[str, list[RollbackCheck]]) -> pd.DataFrame:
    """Per column whose values a hand-written rollback does not bring back: how many."""
    frames = [
        c.columns.assign(service=service, file=c.file)
        for service, c in _each(checks)
        if not c.columns.empty
    ]
    columns = ["service", "file", "table", "column", "present", "values_not_restored"]
    return (
        pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    )


def project_drafts(checks: dict[str, list[RollbackCheck]]) -> pd.DataFrame:
    """The drafted compensating migrations: files, statements, and what their replay showed."""
    rows = []
    for service, c in _each(checks):
        statements = sum(
            sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.endswith(";"))
            for p in c.draft
        )
        rows.append(
            {
                "service": service,
                "file": c.file,
                "draft_files": draft_files_text(c.draft) or None,
                "statements": statements,
                "verdict": c.draft_verdict or None,
                "reason": c.draft_reason or None,
            }
        )
    return pd.DataFrame(
        rows, columns=["service", "file", "draft_files", "statements", "verdict", "reason"]
    )


def draft_sql(checks: dict[str, list[RollbackCheck]], lines: int = 12) -> SQL | Note:
    """The start of each drafted file of the migration whose own rollback loses the most rows
    (or the first that has none), as SQL."""
    candidates = [
        (int(c.tables[["lost", "changed"]].to_numpy().sum()) if not c.tables.empty else 0, s, c)
        for s, c in _each(checks)
        if c.draft
    ]
    if not candidates:
        return Note("No migration needed a drafted rollback.")
    _lost, service, check = max(candidates, key=lambda x: x[0])
    parts = [f"-- {service} {check.file}: the drafted compensating migration"]
    for path in check.draft:
        text = path.read_text(encoding="utf-8").splitlines()
        more = f"\n-- … {len(text) - lines} more lines" if len(text) > lines else ""
        parts.append(f"-- {path.name}\n" + "\n".join(text[:lines]) + more)
    return SQL("\n\n".join(parts))


def audit_exports(
    project: str | Path,
    before: str,
    after: str,
    *,
    workdir: str | Path | None = None,
    **options: object,
) -> Audit:
    """`audit` of two exports given relative to `project` (the notebook's entry point)."""

    workdir = Path(workdir or scratch_folder("d1nb-audit-"))
    return audit(
        load_snapshot(Path(project) / before, workdir / "before"),
        load_snapshot(Path(project) / after, workdir / "after"),
        **options,
    )


def audit_replay(
    project: str | Path,
    service: str | None,
    snapshot: str,
    names: list[str] | None = None,
    *,
    workdir: str | Path | None = None,
    **options: object,
) -> Audit:
    """`audit` of an export (relative to `project`) against its replay with `names` (default:
    what its own ledger lacks): what the migrations would do, checked before they run.

    `service` None takes the service whose migration files the export's ledger names most.
    """

    history = load_history(project, use_git=False)
    workdir = Path(workdir or scratch_folder("d1nb-audit-"))
    if service is None:
        probe = load_snapshot(Path(project) / snapshot, workdir / "probe")
        service = service_of_export(history, probe)
    mdir = history.migration_dirs[service]
    before, _names = service_export(
        history, service, Path(project) / snapshot, workdir / "before", shown=snapshot
    )
    result = replay(
        before,
        mdir,
        names,
        workdir=workdir / "replay",
        ledger_table=history.binding(service).migrations_table,
        service=service,
    )
    checked = audit(before, result.after, **options)
    checked.replayed = [o.name for o in result.outcomes]
    failed = next((o for o in result.outcomes if not o.ok), None)
    if failed is not None:
        at = f" at line {failed.error_line}" if failed.error_line else ""
        checked.failure = f"{failed.name} fails{at}: {failed.error}"
    return checked


def service_of_export(history: History, snapshot: Snapshot) -> str:
    """The service whose migration files the export's ledger names most: an export of a
    project with several databases tells which one it is. InputError when its ledger names
    none, or as many of two services' different histories; services that read one folder into
    one ledger table (a monorepo's workers sharing a database) are one history, the first
    by name is taken. A project of one service needs no telling: its export is that service's
    even with an empty ledger (every file pending)."""
    if len(history.migration_dirs) == 1:
        return next(iter(history.migration_dirs))
    with snapshot.connect() as engine:
        counts = {}
        for service, mdir in history.migration_dirs.items():
            table = history.binding(service).migrations_table
            applied = {row[1] for row in engine.applied_migrations(table, snapshot.source)}
            counts[service] = len(applied & {f.name for f in mdir.files})
    ranked = sorted(counts, key=lambda s: -counts[s])
    if not ranked or counts[ranked[0]] == 0:
        raise InputError(
            snapshot.source,
            0,
            "its ledger names no migration of any service: name the service with --service "
            f"({', '.join(history.migration_dirs)})",
        )
    tied = sorted(s for s in ranked if counts[s] == counts[ranked[0]])
    histories = {
        (history.migration_dirs[s].path.resolve(), history.binding(s).migrations_table)
        for s in tied
    }
    if len(histories) > 1:  # services sharing one folder and ledger are one history
        raise InputError(
            snapshot.source,
            0,
            f"its ledger names as many migrations of {' and '.join(tied)}: name the service "
            "with --service",
        )
    return tied[0]


@dataclass
class Backfill:
    """The batches planned for one migration file on its service's export."""

    service: str
    file: str
    export: str
    binding: str
    statements: list[FileBatches] = field(default_factory=list)
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)
    blocked_by: str | None = None
    """A pending file before this one that fails on the export: `migrations apply` stops
    there, so this file cannot run until it is fixed (the plan is for the state before it)."""

    @property
    def main(self) -> FileBatches | None:
        """The planned statement with the most rows (the one the report draws)."""
        planned = [s for s in self.statements if s.plan is not None]
        return max(planned, key=lambda s: s.plan.rows, default=None)

    def table(self) -> pd.DataFrame:
        """Per batchable statement of the file: rows, how it is batched, or why it is not."""
        rows = []
        for s in self.statements:
            plan = s.plan
            rows.append(
                {
                    "line": s.statement.line,
                    "kind": s.statement.kind,
                    "table": plan.table if plan else s.statement.table,
                    "rows": plan.rows if plan else None,
                    "mode": plan.mode if plan else None,
                    "batch_size": plan.recommended if plan else None,
                    "batches": len(s.files) if s.files else None,
                    "predicted_p95_ms": round(plan.predicted_p95_ms(plan.recommended), 1)
                    if plan
                    else None,
                    "error": s.error or None,
                }
            )
        return pd.DataFrame(rows)

    def compare(self) -> pd.DataFrame:
        """The main statement's recommendation beside Cloudflare's fixed sizes."""
        return self.main.plan.compare() if self.main else pd.DataFrame()

    def statement_sql(self) -> SQL | Note:
        """The statement the report draws, as SQL."""
        if self.main is None:
            return Note("No statement was planned.")
        return SQL(self.main.statement.sql)

    def first_batch(self) -> SQL | Note:
        """The first batch file and the driver that runs them all, as the files hold them."""
        if self.main is None or not self.main.files:
            return Note("No batch file was written.")
        driver = self.main.files[0].parent / "run_batches.sh"
        parts = [f"-- {self.main.files[0].name}", self.main.files[0].read_text(encoding="utf-8")]
        if driver.is_file():
            parts += [f"# {driver.name}", driver.read_text(encoding="utf-8")]
        return SQL("\n".join(parts))


def _find_file(history: History, migration: str) -> tuple[str, MigrationFile]:
    target = (history.project.root / migration).resolve()
    for service, mdir in history.migration_dirs.items():
        for f in mdir.files:
            if f.path.resolve() == target:
                return service, f
    raise InputError(migration, 0, "not a migration file of any service of the project")


def _largest_pending(
    project: Path, snapshots: dict[str, str], budget_ms: float, env: str | None = None
) -> tuple[str, str] | None:
    """(service, file name) of the pending batchable statement writing the most rows."""
    impacts = project_impacts(project, snapshots, env, budget_ms)
    best = None
    for service, impact in impacts.items():
        part = impact.statements[impact.statements["kind"].isin(BATCHABLE)]
        for r in part.itertuples():
            key = (int(r.rows_written or 0), int(r.changes or 0))
            if key > (0, 0) and (best is None or key > best[0]):
                best = (key, service, r.file)
    return (best[1], best[2]) if best else None


def plan_backfill(
    project: str | Path,
    snapshots: dict[str, str],
    migration: str | None = None,
    *,
    env: str | None = None,
    scale_rows: int | None = None,
    budget_ms: float = DEFAULT_BUDGET_MS,
    margin: float = 0.5,
    out: str | Path | None = None,
) -> Backfill:
    """Plan batches for `migration` (a file relative to `project`) or, by default, for the
    pending file whose data statement writes the most rows on `snapshots` (service → export),
    after the files pending before it (in `env`, or what the export's ledger lacks). With
    nothing pending that writes a row, a Backfill without statements says so. Batch files go
    to `out` (default: a scratch folder).
    """
    project = Path(project)
    history = load_history(project, use_git=False)
    if migration:
        service, f = _find_file(history, migration)
    else:
        if not snapshots:
            raise missing_input(
                project,
                "Batches are sized on real data: an export of each service's database.",
                "snapshots",
            )
        found = _largest_pending(project, snapshots, budget_ms, env)
        if found is None:
            return Backfill(
                "",
                "",
                "",
                "",
                notes=["no pending UPDATE, DELETE or INSERT … SELECT writes a row on the exports"],
            )
        service = found[0]
        f = next(x for x in history.migration_dirs[service].files if x.name == found[1])
    export = snapshots.get(service)
    if not export:
        raise missing_input(
            project,
            f"{f.name} is sized on an export of service {service}'s database, and none is given.",
            "snapshots",
        )
    mdir = history.migration_dirs[service]
    binding = history.binding(service)
    workdir = scratch_folder("d1nb-backfill-")
    snapshot, names = service_export(
        history, service, project / export, workdir / "export", env=env, shown=export
    )
    pending = names if names is not None else pending_on(snapshot, mdir, binding.migrations_table)
    if f.name not in pending:
        raise InputError(export, 0, f"the export already has {f.name}: give one from before it")
    planned_on, notes, stopped_at = state_before_file(
        snapshot,
        mdir,
        pending[: pending.index(f.name)],
        binding.migrations_table,
        service,
        workdir / "replay",
    )
    folder = Path(out) if out else workdir / "batches"
    statements = batch_migration(
        planned_on,
        f.statements,
        folder,
        budget_ms=budget_ms,
        margin=margin,
        database_name=binding.binding,
        file=history.project.relpath(f.path),
        scale_to=scale_rows,
    )
    if not statements:
        notes.append("the file has no UPDATE, DELETE or INSERT … SELECT to batch")
    return Backfill(
        service,
        history.project.relpath(f.path),
        export,
        binding.binding,
        statements,
        folder,
        notes,
        stopped_at,
    )


def state_before_file(
    snapshot: Snapshot,
    mdir: MigrationDir,
    before: list[str],
    ledger_table: str,
    service: str,
    workdir: Path | None = None,
) -> tuple[Path, list[str], str | None]:
    """The working copy a file's batches are planned on: the export with the pending files
    `before` it replayed first (one may empty the very table the file batches). Returns its
    path, notes saying what was replayed, and the file the replay stopped at (None)."""
    if not before:
        return snapshot.path, [], None
    result = replay(
        snapshot, mdir, before, workdir=workdir, ledger_table=ledger_table, service=service
    )
    notes = [f"{len(before)} pending file(s) before it replayed first: {', '.join(before)}"]
    if result.stopped_at:
        notes.append(f"the replay stopped at {result.stopped_at}: planned on the state before it")
    return result.after.path, notes, result.stopped_at


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a DataFrame with stable columns, empty or not."""
    return pd.DataFrame(
        [asdict(p) for p in problems], columns=["path", "line", "severity", "message"]
    )
