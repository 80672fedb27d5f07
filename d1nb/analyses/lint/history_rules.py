"""Lint rules over a service's whole folder and the project's history (scopes "service" and
"project"): numbering, files that fail from empty, files wrangler ignores, applied files
edited afterwards, template configs.

Service checks yield (file, line, message, statement or None), the file being a
`MigrationFile` (its suppression comments apply) or the path of a file wrangler ignores.
Project checks yield (service, database, path, line, message).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

from d1nb.analyses.lint.registry import ServiceContext, rule
from d1nb.formats.migrations import MigrationFile, Statement
from d1nb.inputs.history import History, status_frame

ServiceHit = tuple[MigrationFile | Path, int, str, Statement | None]
ProjectHit = tuple[str, str, Path, int, str]


def _numbers(ctx: ServiceContext) -> dict[int, list[str]]:
    numbers: dict[int, list[str]] = {}
    for f in ctx.mdir.files:
        if f.number is not None:
            numbers.setdefault(f.number, []).append(f.name)
    return numbers


@rule("D1N013", "duplicate-number", "warning", "two migration files share a number", "service")
def duplicate_number(ctx: ServiceContext) -> Iterator[ServiceHit]:
    """
    - **What**: two or more files share a number (two branches merged).
    - **Why on D1**: wrangler runs them in name order, which may not be the order they were written
      or applied in elsewhere.
    - **Fix**: renumber the file that has not been applied anywhere yet.
    - **Example**: `0008_add_scores_visibility.sql` and `0008_create_score_imports.sql`.
    """
    for number, names in _numbers(ctx).items():
        if len(names) > 1:
            for name in names:
                yield (
                    ctx.file_named(name),
                    0,
                    f"number {number:04d} is shared by {', '.join(names)}; wrangler runs them "
                    "in name order",
                    None,
                )


@rule(
    "D1N018",
    "fails-from-empty",
    "warning",
    "the file fails when the history is replayed from an empty database",
    "service",
)
def fails_from_empty(ctx: ServiceContext) -> Iterator[ServiceHit]:
    """
    - **What**: the file fails when the service's files are replayed in order on an empty database.
    - **Why on D1**: a new environment (preview, a teammate's local database, a test) cannot be
      built from the files; usually production has drifted — a base schema applied by hand, an
      applied file edited or deleted.
    - **Fix**: make the directory reproduce production: add the missing base schema as the first
      migration, revert edits.
    - **Example**: `0001_add_column.sql` altering a table no migration creates.
    - **Knock-ons**: a file that fails only because an earlier file failed (its error names a table,
      column or index that the earlier file would have created) says so, so that one cause is not
      counted as two problems.
    """
    for outcome in ctx.evolution.outcomes:
        if outcome.ok:
            continue
        f = ctx.file_named(outcome.name)
        if f.text is None or any(  # unreadable or unterminated: D1N019 says so
            not s.complete and s.line == outcome.error_line for s in f.statements
        ):
            continue
        yield (
            f,
            outcome.error_line,
            f"fails from an empty database only because {outcome.knock_on_of} failed before "
            f"it: {outcome.error}"
            if outcome.knock_on_of
            else f"fails from an empty database: {outcome.error}",
            None,
        )


@rule(
    "D1N020",
    "not-a-migration",
    "info",
    "a file in the migrations folder that wrangler ignores",
    "service",
)
def not_a_migration(ctx: ServiceContext) -> Iterator[ServiceHit]:
    """
    - **What**: a file in the migrations folder that wrangler ignores (`*.sql.rollback`,
      `*.sql.future`, README, drizzle's `meta/`).
    - **Why on D1**: harmless to wrangler, but worth knowing: rollback files are never run by it,
      and `.future` files are easy to forget.
    - **Fix**: none needed; move them elsewhere if they confuse people.
    - **Example**: `0004_drop_legacy_terms.sql.rollback`.
    """
    for other in ctx.mdir.other_files:
        yield other, 0, "not a migration: wrangler ignores it", None


_DATED = 10_000_000
"""Numbers from here on are dates or timestamps (`20260115…`), not a counter."""


@rule("D1N022", "number-gap", "info", "the migration numbers skip one or more numbers", "service")
def number_gap(ctx: ServiceContext) -> Iterator[ServiceHit]:
    """
    - **What**: the numbers of a service's migration files skip one or more values.
    - **Why on D1**: usually harmless (a branch abandoned its number), but often the trace of a
      migration deleted or renamed after it ran somewhere — the ledger of that environment then
      names a file that no longer exists.
    - **Fix**: check the ledgers (`d1nb status`); if nothing ever applied the missing number,
      ignore.
    - **Example**: dictionary in the sample goes from `0003_…` to `0005_…`. Files numbered
      by a date or a timestamp (`20260115090000_…`: eight digits or more) are not counted:
      their numbers skip by design.
    """
    numbers = _numbers(ctx)
    if any(number >= _DATED for number in numbers):
        return
    for previous, number in pairwise(sorted(numbers)):
        if number - previous > 1:
            missing = f"{previous + 1:04d}" + (
                f"–{number - 1:04d}" if number - previous > 2 else ""
            )
            yield (
                ctx.file_named(numbers[number][0]),
                0,
                f"no migration numbered {missing} before this file: deleted or renamed after it "
                "was applied somewhere?",
                None,
            )


@rule(
    "D1N014",
    "modified-after-apply",
    "error",
    "an applied migration file was edited after it was applied",
    "project",
)
def modified_after_apply(history: History) -> Iterator[ProjectHit]:
    """
    - **What**: an applied file whose SQL changed since it was applied — its hashes differ from
      `d1nb.lock` (an added comment or re-indentation alone is not an edit), or git has a commit
      touching it after its `applied_at`.
    - **Why on D1**: the ledger stores names only; the edit never runs on databases that already
      applied the file, so they differ from a database built from the files.
    - **Fix**: revert the edit and put the change in a new migration.
    - **Example**: an index added to `0007_sync_data_soft_delete.sql` after it ran.
    """
    status = status_frame(history)
    modified = status[status["modified_after_apply"]]
    for (service, name), rows in modified.groupby(["service", "name"]):
        f = next(x for x in history.migration_dirs[service].files if x.name == name)
        envs = ", ".join(sorted(rows["environment"]))
        yield (
            service,
            history.binding(service).binding,
            f.path,
            0,
            f"applied in {envs}, then edited ({rows['note'].iloc[0]}): those databases do not "
            "have what the file now says",
        )


@rule(
    "D1N021",
    "placeholder-database-id",
    "info",
    "a config binds a placeholder database id (template or local only)",
    "project",
)
def placeholder_database_id(history: History) -> Iterator[ProjectHit]:
    """
    - **What**: a template config (`wrangler.example.toml`, …) binding a placeholder id
      (`__DB_ID__`, `local-db`).
    - **Why on D1**: harmless in a template; d1nb reads templates but does not treat them as
      environments.
    - **Fix**: none needed.
    - **Example**: `database_id = "__DB_ID__"`.
    """
    for b in history.project.bindings:
        if b.placeholder_id and b.is_template:
            yield (
                b.service,
                b.database_name,
                b.config_path,
                0,
                f"binding {b.binding} ({b.environment}) has placeholder id '{b.database_id}'",
            )
