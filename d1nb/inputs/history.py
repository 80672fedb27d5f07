"""Applied ledgers (`d1_migrations`) from every source, and the status of every migration file.

A ledger can come from `wrangler d1 execute --json` output, `wrangler d1 migrations list` text
(which names the pending files only), a SQL dump, a local-state folder or SQLite file, or CSV.
The status of each (service, environment, file) says what is applied, pending, missing, out of
order, ahead of an earlier environment, or edited after it was applied.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd

from d1nb import outfiles
from d1nb.engine.evolution import SchemaEvolution, schema_evolution
from d1nb.formats.config import (
    LOCAL_ENV,
    TOP_LEVEL_ENV,
    D1Binding,
    Project,
    holds_config,
    load_project,
)
from d1nb.formats.lockfile import LOCK_FILE, Locked, lock_text, read_lock
from d1nb.formats.migrations import (
    MigrationDir,
    MigrationFile,
    load_migration_dir,
    migrations_frame,
    number_of,
    statements_frame,
)
from d1nb.formats.sql.text import sql_fingerprint
from d1nb.formats.wrangler_output import local_state_file
from d1nb.inputs.duckcopy import connect_duckdb
from d1nb.inputs.ledgers import Ledger, find_ledgers, ledger_service, read_ledger
from d1nb.problems import InputError, Problem

ENV_RANK = {
    "local": 0,
    "default": 0,
    "dev": 1,
    "development": 1,
    "preview": 2,
    "test": 2,
    "qa": 3,
    "stage": 3,
    "staging": 3,
    "production": 4,
    "prod": 4,
}
"""Where an environment sits on the way to production (unknown names rank with staging)."""


# -- reading ledgers --------------------------------------------------------------------------


# -- lock file --------------------------------------------------------------------------------


def lock_entries(history: History) -> list[tuple[str, Locked]]:
    """(path relative to the root, its hashes) of every migration file of the project."""
    return [
        (
            history.project.relpath(f.path),
            Locked(f.sha256, sql_fingerprint(f.text) if f.text is not None else None),
        )
        for mdir in history.migration_dirs.values()
        for f in mdir.files
    ]


def write_lock(history: History) -> Path:
    """Write `d1nb.lock`: sha256 per migration file, chained like atlas.sum."""
    path = history.project.root / LOCK_FILE
    outfiles.write_text(path, lock_text(lock_entries(history)))
    return path


# -- history ----------------------------------------------------------------------------------


@dataclass
class History:
    """Migrations, ledgers and the status of every file, for a whole project."""

    project: Project
    migration_dirs: dict[str, MigrationDir] = field(default_factory=dict)
    ledgers: dict[tuple[str, str], Ledger] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    lock: dict[str, Locked] | None = None
    use_git: bool = True
    evolutions: dict = field(default_factory=dict)
    """Schema evolutions by service, filled lazily by `evolution_of`."""
    status: pd.DataFrame | None = field(default=None, repr=False)
    """The status of every file, filled lazily by `status_frame`."""

    def binding(self, service: str, environment: str | None = None) -> D1Binding:
        """The binding that owns the migrations of a service (in an environment, if given;
        `local.ENV` is ENV's binding, whose local copy `--local --env ENV` uses)."""
        if (
            environment
            and environment.startswith(LOCAL_PREFIX)
            and not any(
                b.service == service and b.environment == environment
                for b in self.project.databases()
            )
        ):
            environment = environment.removeprefix(LOCAL_PREFIX)
        for b in self.project.databases():
            if b.service == service and (environment is None or b.environment == environment):
                return b
        for b in self.project.databases():  # wrangler falls back to the top-level bindings
            if b.service == service and b.environment == TOP_LEVEL_ENV:
                return b
        raise KeyError(
            f"no D1 binding with migrations for service {service!r}"
            + (f" in environment {environment!r}" if environment else "")
        )


def _git_commits(path: Path) -> list[tuple[int, str]] | None:
    """(commit time, commit) of every commit touching `path`, oldest first; None without git."""
    try:
        out = subprocess.run(
            ["git", "log", "--follow", "--format=%ct %H", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    commits = [line.split() for line in out.stdout.splitlines() if line.strip()]
    return sorted((int(t), h) for t, h in commits)


def _git_text_at(path: Path, commit: str) -> str | None:
    """The text of `path` as `commit` holds it; None when git cannot say (renamed since …)."""
    try:
        out = subprocess.run(
            ["git", "show", f"{commit}:./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def _git_last_text(folder: Path, rel: str) -> str | None:
    """The last text git holds of `rel` (a path under `folder`, which exists) though the file
    is gone from the work tree: as the last commit touching it left it, or just before that
    commit deleted or renamed it; None without git or such a commit."""

    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    last = git("log", "-1", "--format=%H", "--", rel)
    if last is None or last.returncode != 0 or not last.stdout.strip():
        return None
    commit = last.stdout.decode().strip()
    for revision in (commit, f"{commit}^"):
        shown = git("show", f"{revision}:./{rel}")
        if shown is not None and shown.returncode == 0:
            return shown.stdout.decode("utf-8", "replace")
    return None


def _epoch(applied_at: object) -> int | None:
    try:
        return int(
            datetime.fromisoformat(str(applied_at).replace("Z", "")).replace(tzinfo=UTC).timestamp()
        )
    except ValueError:
        return None


def _enclosing_project(root: Path, levels: int = 4) -> Path | None:
    """A folder above `root` that holds a d1nb project's ledgers/ or lock: `root` is then one
    service of it, given by mistake for the project's root."""
    here = root.resolve()
    for parent in list(here.parents)[:levels]:
        if (parent / "ledgers").is_dir() or (parent / LOCK_FILE).is_file():
            try:
                return Path(os.path.relpath(parent, Path.cwd()))
            except ValueError:
                return parent
    return None


def schema_migrations(path: str | Path) -> MigrationDir:
    """The migrations `--schema` names: a folder read as wrangler reads it for the config
    beside or above it that names it as `migrations_dir` (so a folder-per-migration layout,
    `migrations_pattern = "db/migrations/*/up.sql"`, is read by its pattern), else its own
    `*.sql` files."""
    folder = Path(path).resolve()
    for parent in [folder, *list(folder.parents)[:4]]:
        if not holds_config(parent):
            continue
        project = load_project(parent)
        for b in project.bindings:
            if b.migrations_pattern and b.migrations_dir == folder:
                return load_migration_dir(folder, b.migrations_pattern, within=project.root)
    return load_migration_dir(folder)


def load_history(
    root: str | Path, ledgers: dict[tuple[str, str], str | Path] | None = None, use_git: bool = True
) -> History:
    """Read configs, migration dirs and ledgers (found by convention, overridden by `ledgers`)."""
    project = load_project(root)
    history = History(project, problems=list(project.problems))
    outer = _enclosing_project(Path(root))
    if outer is not None:
        history.problems.append(
            Problem(
                str(root),
                0,
                f"this folder is part of the project at {outer}: its ledgers/ and {LOCK_FILE} "
                "are not read from here, so statuses and edits would be wrong; give that folder",
            )
        )
    for b in project.databases():
        if b.service in history.migration_dirs:
            continue
        if not b.migrations_dir.resolve().is_relative_to(project.root.resolve()):
            history.problems.append(
                Problem(
                    project.relpath(b.config_path),
                    0,
                    f"migrations_dir of {b.binding} ({b.environment}) leads outside the "
                    f"project, to {b.migrations_dir}: not read",
                )
            )
            continue
        try:
            history.migration_dirs[b.service] = load_migration_dir(
                b.migrations_dir, b.migrations_pattern, within=project.root
            )
        except InputError as exc:
            history.problems.append(exc.problem)
            continue
        history.problems += [
            Problem(project.relpath(Path(p.path)), p.line, p.message, p.severity)
            for p in history.migration_dirs[b.service].problems
        ]
    services = list(history.migration_dirs)
    sources = {
        (ledger_service(project, service, services), env): path
        for (service, env), path in find_ledgers(project).items()
    }
    for (service, env), path in (ledgers or {}).items():
        if not service and len(services) == 1:  # `--history ENV=FILE` for a one-service project
            service = services[0]
        sources[(ledger_service(project, service, services), env)] = Path(path)
    sources |= _local_states(history, sources)
    for (service, env), path in sorted(sources.items()):
        try:
            binding = history.binding(service, env)
            table = binding.migrations_table
            if (
                binding.environment != env
                and env != TOP_LEVEL_ENV
                and not path.is_dir()
                and env != LOCAL_ENV
                and not env.startswith(LOCAL_PREFIX)
            ):
                history.problems.append(
                    Problem(
                        project.relpath(binding.config_path),
                        0,
                        f"no environment {env!r} in this config: wrangler --env {env} falls "
                        f"back to the top-level binding {binding.binding}, and so does d1nb",
                        "warning",
                    )
                )
        except KeyError:
            why = (
                f"ledger for unknown service/environment {service}:{env} (services: "
                f"{', '.join(services) or 'none'}; a binding, database or worker name of one "
                "works too)"
                if service
                else f"ledger names no service: give SERVICE:{env}=FILE "
                f"(services: {', '.join(services) or 'none'})"
            )
            history.problems.append(Problem(project.relpath(path), 0, why))
            continue
        try:
            ledger = read_ledger(
                path,
                table,
                local_id=binding.local_id,
                placeholder=binding.placeholder_id and not binding.preview_database_id,
            )
        except InputError as exc:
            p = exc.problem
            history.problems.append(Problem(project.relpath(Path(p.path)), p.line, p.message))
            continue
        history.ledgers[(service, env)] = ledger
        if ledger.note:
            history.problems.append(
                Problem(
                    project.relpath(ledger.source), 0, f"{service}:{env}: {ledger.note}", "warning"
                )
            )
    for service, mdir in history.migration_dirs.items():
        if mdir.files and not any(s == service for s, _env in sources):
            history.problems.append(
                Problem(
                    project.relpath(mdir.path),
                    0,
                    f"no ledger for any environment of {service}: the status of its "
                    "migrations is unknown, not 'none pending' (an export given to replay, "
                    "impact or rollback brings its own ledger). Give one with --history "
                    f"{'' if len(services) == 1 else service + ':'}ENV=FILE (`wrangler d1 "
                    "execute --json` output of its migrations table, "
                    "a dump, or the local state folder .wrangler/state), or keep it as "
                    f"ledgers/{service}.ENV.json",
                    "warning",
                    "ledger",
                )
            )
    history.problems += _environments_without_ledger(history, sources)
    lock_path = project.root / LOCK_FILE
    if lock_path.exists():
        history.lock, lock_problems = read_lock(lock_path)
        history.problems += [Problem(LOCK_FILE, p.line, p.message) for p in lock_problems]
    history.use_git = use_git
    history.evolutions.clear()
    history.status = None
    return history


def _environments_without_ledger(
    history: History, sources: dict[tuple[str, str], Path]
) -> list[Problem]:
    """A warning for each named environment (staging, production: where a service deploys) of
    a service with some ledger but none of its own: its status is unknown, and status and
    reports leave it out."""
    found = []
    seen = set()
    for b in history.project.databases():
        key = (b.service, b.environment)
        if key in seen or key in sources or b.service not in history.migration_dirs:
            continue
        if b.environment in (TOP_LEVEL_ENV, LOCAL_ENV):
            continue  # the development database: its local copy is the one that matters
        seen.add(key)
        if not any(s == b.service for s, _env in sources):
            continue  # the warning for a service with no ledger at all says it
        one = len(history.migration_dirs) == 1
        given = b.environment if one else f"{b.service}:{b.environment}"
        found.append(
            Problem(
                history.project.relpath(b.config_path),
                0,
                f"{b.service}: no ledger for environment {b.environment!r} (database "
                f"{b.database_name}): what is applied there is unknown, and it is left out of "
                f"the status. Give it with --history {given}=FILE (`wrangler d1 execute "
                f"{b.binding} --env {b.environment} --remote --json --command 'SELECT * FROM "
                f"{b.migrations_table}'`, or an export)",
                "warning",
                "ledger",
            )
        )
    return found


LOCAL_PREFIX = LOCAL_ENV + "."
"""`local.ENV`: the local copy `wrangler … --local --env ENV` keeps of ENV's database."""


def local_copies(history: History, service: str, folder: Path | None = None) -> dict[str, Path]:
    """The local copies wrangler keeps of a service's database, by environment label:
    `local` for the top-level binding's (or an environment named local), `local.ENV` for an
    environment's binding with a local id of its own (`--local --env ENV`). Each path is the
    copy's file in `folder` (default: `.wrangler/state` beside the config); only copies that
    exist are listed."""
    found: dict[str, Path] = {}
    seen: set[str] = set()
    bindings = [b for b in history.project.databases() if b.service == service]
    bindings.sort(key=lambda b: b.environment not in (TOP_LEVEL_ENV, LOCAL_ENV))
    for b in bindings:
        if b.local_id in seen:
            continue
        seen.add(b.local_id)
        state = folder or b.config_path.parent / ".wrangler" / "state"
        file = local_state_file(state, b.local_id)
        if file.is_file():
            top = b.environment in (TOP_LEVEL_ENV, LOCAL_ENV)
            found[LOCAL_ENV if top else LOCAL_PREFIX + b.environment] = file
    return found


def _local_states(
    history: History, sources: dict[tuple[str, str], Path]
) -> dict[tuple[str, str], Path]:
    """The local ledgers of every service whose database wrangler has a local copy of
    (`wrangler d1 migrations apply --local` leaves it in `.wrangler/state` beside the config),
    unless that ledger was given (`local_copies`)."""
    found = {}
    for service in history.migration_dirs:
        for label, file in local_copies(history, service).items():
            if (service, label) not in sources and not (
                label.startswith(LOCAL_PREFIX) and (service, LOCAL_ENV) in sources
            ):
                found[(service, label)] = file
                history.problems += _shared_local_copy(history, service, label)
    return found


def _shared_local_copy(history: History, service: str, label: str) -> list[Problem]:
    """A warning when the local copy shown as `label` is also other environments': their
    bindings have the same local id (a placeholder id in every environment, say), so
    `wrangler … --local --env X` reads and writes one database for all of them."""
    bindings = [b for b in history.project.databases() if b.service == service]
    shown = history.binding(service, label)
    sharing = sorted(
        b.environment
        for b in bindings
        if b.local_id == shown.local_id and b.environment != shown.environment
    )
    if not sharing:
        return []
    return [
        Problem(
            history.project.relpath(shown.config_path),
            0,
            f"{service}: the local copy shown as {label} is also "
            f"{' and '.join(sharing)}'s: their bindings have the same local id "
            f"({shown.local_id}), so `wrangler … --local` reads and writes one database for "
            "them all, whichever --env is given",
            "warning",
        )
    ]


STATUS_COLUMNS = [
    "service",
    "environment",
    "order",
    "number",
    "name",
    "status",
    "applied_id",
    "applied_at",
    "out_of_order",
    "progression",
    "modified_after_apply",
    "note",
]


def status_frame(history: History) -> pd.DataFrame:
    """One row per (service, environment, migration): status and every drift finding.
    Computed once per History (git is asked once per applied file), then copied out."""
    if history.status is None:
        history.status = _status(history)
    return history.status.copy()


def _renamed_since_applied(
    history: History,
    service: str,
    mdir: MigrationDir,
    rows: list[dict],
    applied_names: set[str],
    same_sql: Callable[[MigrationFile, str | None], bool],
) -> dict[str, str]:
    """Applied files gone from the folder whose SQL a pending file holds (by d1nb.lock, else
    by git's last copy): each such applied row gets a note, and the pending file's note is
    returned by its name. wrangler knows files by name only: it applies the renamed file
    again."""
    notes: dict[str, str] = {}
    pending = [f for f in mdir.files if f.name not in applied_names]
    for row in rows:
        if row["status"] != "applied, file missing" or row["service"] != service:
            continue
        gone = mdir.path / row["name"]
        rel = history.project.relpath(gone)
        locked = history.lock.get(rel) if history.lock is not None else None
        fingerprint = locked.sql_sha256 if locked is not None else None
        if fingerprint is None and history.use_git:
            text = _git_last_text(mdir.path, row["name"])
            fingerprint = sql_fingerprint(text) if text is not None else None
        twin = next((f for f in pending if same_sql(f, fingerprint)), None)
        if twin is not None:
            row["note"] = f"renamed to {twin.name} (the same SQL): wrangler applies that again"
            notes[twin.name] = (
                f"the SQL of applied {row['name']}, renamed: wrangler applies it again"
            )
            continue
        number = number_of(row["name"])
        namesakes = [f for f in pending if number is not None and f.number == number]
        if fingerprint is None and len(namesakes) == 1:  # nothing to compare: the number says
            twin = namesakes[0]
            row["note"] = (
                f"{twin.name}, pending, has its number: if that is this file renamed, "
                "wrangler applies it again"
            )
            notes[twin.name] = (
                f"has the number of applied {row['name']}, whose file is gone: if it is that "
                "file renamed, wrangler applies it again (d1nb.lock or git history would tell)"
            )
    return notes


def _status(history: History) -> pd.DataFrame:
    rows = []
    applied_at: dict[tuple[str, str, str], str] = {}
    for (service, env), ledger in history.ledgers.items():
        if ledger.applied is not None:
            for r in ledger.applied.itertuples():
                applied_at[(service, env, r.name)] = r.applied_at
    git_commits: dict[Path, list[tuple[int, str]] | None] = {}
    git_texts: dict[tuple[Path, str], str | None] = {}  # (file, commit) → its SQL fingerprint
    fingerprints: dict[Path, str | None] = {}  # a file is judged once per environment

    def same_sql(f: MigrationFile, fingerprint: str | None) -> bool:
        """Whether `f` holds the SQL `fingerprint` (of the file as applied) stands for."""
        if f.path not in fingerprints:
            fingerprints[f.path] = sql_fingerprint(f.text) if f.text is not None else None
        return fingerprint is not None and fingerprints[f.path] == fingerprint

    for (service, env), ledger in sorted(
        history.ledgers.items(), key=lambda kv: (kv[0][0], ENV_RANK.get(kv[0][1], 3))
    ):
        mdir = history.migration_dirs.get(service)
        if mdir is None:
            continue
        files = {f.name: f for f in mdir.files}
        order = {f.name: i for i, f in enumerate(mdir.files, 1)}
        if ledger.applied is not None:
            applied = list(ledger.applied.itertuples())
        else:  # `migrations list`: everything not listed as pending is applied, order unknown
            pending = set(ledger.pending or [])
            applied = [
                SimpleNamespace(id=None, name=f.name, applied_at=None)
                for f in mdir.files
                if f.name not in pending
            ]
        applied_names = {r.name for r in applied}
        highest = 0
        earlier_envs = [  # a local copy is a developer's: it neither leads nor follows
            e
            for (s, e), earlier in history.ledgers.items()
            if s == service
            and ENV_RANK.get(e, 3) < ENV_RANK.get(env, 3)
            and not earlier.local
            and not ledger.local
        ]
        for r in applied:
            rank = order.get(r.name)
            row = {
                "service": service,
                "environment": env,
                "order": rank,
                "number": files[r.name].number if r.name in files else None,
                "name": r.name,
                "applied_id": r.id,
                "applied_at": r.applied_at,
                "status": "applied" if r.name in files else "applied, file missing",
                "out_of_order": False,
                "progression": "",
                "modified_after_apply": False,
                "note": "",
            }
            if rank is not None:
                if rank < highest:
                    row["out_of_order"] = True
                    row["note"] = "applied after a later-numbered file"
                highest = max(highest, rank)
            for earlier in earlier_envs:
                before = applied_at.get((service, earlier, r.name))
                if before is None:
                    row["progression"] = f"not applied in {earlier}"
                elif r.applied_at is not None and str(r.applied_at) < str(before):
                    row["progression"] = f"applied before {earlier} ({before})"
            f = files.get(r.name)
            if f is not None:
                rel = history.project.relpath(f.path)
                locked = history.lock.get(rel) if history.lock is not None else None
                if locked is not None and locked.sha256 != f.sha256:
                    if same_sql(f, locked.sql_sha256):
                        row["note"] = "only comments or spacing differ from d1nb.lock"
                    else:
                        row["modified_after_apply"] = True
                        row["note"] = "sha256 differs from d1nb.lock"
                elif history.use_git and r.applied_at is not None:
                    if f.path not in git_commits:
                        git_commits[f.path] = _git_commits(f.path)
                    commits, when = git_commits[f.path] or [], _epoch(r.applied_at)
                    if commits and when is not None and commits[0][0] <= when < commits[-1][0]:
                        applied = [h for t, h in commits if t <= when][-1]
                        if (f.path, applied) not in git_texts:
                            old = _git_text_at(f.path, applied)
                            git_texts[(f.path, applied)] = (
                                old if old is None else sql_fingerprint(old)
                            )
                        if same_sql(f, git_texts[(f.path, applied)]):
                            row["note"] = "only comments or spacing changed in git since"
                        else:
                            row["modified_after_apply"] = True
                            row["note"] = "committed again after it was applied (git history)"
            rows.append(row)
        env_rows = [r for r in rows if r["environment"] == env]
        renamed = _renamed_since_applied(history, service, mdir, env_rows, applied_names, same_sql)
        for f in mdir.files:
            if f.name in applied_names:
                continue
            rows.append(
                {
                    "service": service,
                    "environment": env,
                    "order": order[f.name],
                    "number": f.number,
                    "name": f.name,
                    "status": "pending",
                    "applied_id": None,
                    "applied_at": None,
                    "out_of_order": order[f.name] < highest,
                    "progression": "",
                    "modified_after_apply": False,
                    "note": "; ".join(
                        n
                        for n in (
                            "numbered before applied files: will run out of order"
                            if order[f.name] < highest
                            else "",
                            renamed.get(f.name, ""),
                        )
                        if n
                    ),
                }
            )
    frame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return frame.astype(
        {
            "order": "Int64",
            "number": "Int64",
            "applied_id": "Int64",
            "out_of_order": bool,
            "modified_after_apply": bool,
        }
    )


def summary_frame(history: History) -> pd.DataFrame:
    """Per service and environment: files, applied, pending, missing and drift counts."""
    status = status_frame(history)
    if status.empty:
        return pd.DataFrame(
            columns=[
                "service",
                "environment",
                "applied",
                "pending",
                "file_missing",
                "out_of_order",
                "progression",
                "modified_after_apply",
            ]
        )
    grouped = status.groupby(["service", "environment"], sort=False)
    return grouped.agg(
        applied=("status", lambda s: int((s == "applied").sum())),
        pending=("status", lambda s: int((s == "pending").sum())),
        file_missing=("status", lambda s: int((s == "applied, file missing").sum())),
        out_of_order=("out_of_order", "sum"),
        progression=("progression", lambda s: int((s != "").sum())),
        modified_after_apply=("modified_after_apply", "sum"),
    ).reset_index()


def drift_frame(history: History) -> pd.DataFrame:
    """The status rows that need a look: missing files, out of order, progression, edits."""
    status = status_frame(history)
    flagged = (
        (status["status"] == "applied, file missing")
        | status["out_of_order"]
        | (status["progression"] != "")
        | status["modified_after_apply"]
    )
    return status[flagged].reset_index(drop=True)


def pending_in(history: History, service: str, env: str, where: str | Path) -> list[str]:
    """The files pending for `service` in `env`, in the order wrangler applies them; an
    InputError (at `where`) when no ledger of that environment says what is applied."""
    if (service, env) not in history.ledgers:
        raise InputError(
            where,
            0,
            f"no ledger of service {service} in environment {env!r}: what is pending there is "
            "unknown (without env: what the export's own ledger lacks)",
        )
    status = status_frame(history)
    mine = status[(status.service == service) & (status.environment == env)]
    return mine[mine.status == "pending"].sort_values("order")["name"].tolist()


def pending_frame(history: History) -> pd.DataFrame:
    """Pending files per service and environment, in the order wrangler would apply them."""
    status = status_frame(history)
    pending = status[status["status"] == "pending"].sort_values(["service", "environment", "order"])
    return pending[["service", "environment", "order", "name", "out_of_order", "note"]].reset_index(
        drop=True
    )


def project_migrations_frame(history: History) -> pd.DataFrame:
    """Every migration file of every service, in wrangler's order."""
    frames = [migrations_frame(m, service=s) for s, m in history.migration_dirs.items()]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else migrations_frame(MigrationDir(Path(), [], [], []), service="")
    )


def project_statements_frame(history: History) -> pd.DataFrame:
    """Every statement of every migration file, with kind, table, flags and line."""
    frames = [statements_frame(m, service=s) for s, m in history.migration_dirs.items()]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else statements_frame(MigrationDir(Path(), [], [], []), service="")
    )


def history_to_duckdb(
    history: History, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """Tables `migrations`, `statements` and `status` in DuckDB, for SQL over the history."""
    con = con if con is not None else connect_duckdb()
    frames = {
        "migrations": project_migrations_frame(history),
        "statements": project_statements_frame(history),
        "status": status_frame(history),
    }
    for name, frame in frames.items():
        con.register(f"_{name}_frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}_frame")
        con.unregister(f"_{name}_frame")
        loaded = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        if loaded != len(frame):
            raise RuntimeError(f"DuckDB table {name}: {loaded} rows loaded, {len(frame)} expected")
    return con


def evolution_of(history: History, service: str) -> SchemaEvolution:
    """The schema evolution of one service, replayed once per History and then reused."""
    if service not in history.evolutions:
        history.evolutions[service] = schema_evolution(
            history.migration_dirs[service], service, history.binding(service).migrations_table
        )
    return history.evolutions[service]
