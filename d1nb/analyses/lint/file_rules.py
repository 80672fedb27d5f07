"""Lint rules that judge a whole migration file (scope "file"): its name, its text, its
transactions, the rebuilds and drops in it, and how wrangler's splitter cuts it.

Each check takes the file and its context and yields (line, message, statement or None); the
registry adds the rule's severity and the suppression comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from d1nb.analyses.lint.registry import FileContext, rule
from d1nb.engine.d1engine import cascade_edges
from d1nb.formats.migrations import MigrationFile, Statement
from d1nb.formats.sql.shapes import (
    check_constraints,
    classify,
    index_keys,
    lowercase_compound_end,
    pragma_switch,
)
from d1nb.formats.sql.text import shown

Hit = tuple[int, str, Statement | None]

_GOOD_NAME = re.compile(r"^\d{4,}_[a-z0-9]+(?:_[a-z0-9]+)*\.sql$")
_VAGUE = {
    "fix",
    "update",
    "changes",
    "migration",
    "misc",
    "temp",
    "test",
    "wip",
    "new",
    "stuff",
    "patch",
    "init2",
}
FIXED_SPLITTER = (4, 124, 0)
"""The wrangler release whose splitter closes a block on a lowercase `end` (workers-sdk #15046)."""


@rule(
    "D1N008",
    "rebuild-cascades",
    "error",
    "dropping a table that others still reference: cascades, or fails once they hold rows",
    "file",
)
def rebuild_cascades(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: `DROP TABLE x` while other tables still reference `x` (a child dropped earlier in
      the same file no longer counts) — typically the drop-and-rename rebuild that SQLite needs to
      change a constraint.
    - **Why on D1**: D1 keeps foreign keys ON and ignores `PRAGMA foreign_keys=OFF` inside the
      migration's transaction. `DROP TABLE` first deletes every row. Children with `ON DELETE
      CASCADE` are deleted, and so are their own `CASCADE` children, to any depth; `SET NULL` and
      `SET DEFAULT` children lose their reference. The migration reports success; the children are
      empty. Children with `NO ACTION` (the default) or `RESTRICT` make the statement fail with
      `FOREIGN KEY constraint failed` as soon as one of their rows references a parent row. After
      `PRAGMA defer_foreign_keys = on` it fails at the commit instead, even when the copy renamed
      into place holds every key: the implicit DELETE counted each child row as a violation and
      the rename does not uncount them. Only `PRAGMA defer_foreign_keys = off` after the rename
      (Cloudflare's recipe) lets it pass, by forgetting the count unchecked (D1N027); then no
      NO ACTION child is reported here.
    - **Fix**: avoid the rebuild (add a column instead); or copy the children aside in the same
      migration and restore them after the rename; `PRAGMA defer_foreign_keys=ON` does not stop
      cascades.
    - **Example**: api `0011_goals_add_category.sql` in the sample empties `goal_progress`.
    """
    dropped_earlier: set[str | None] = set()
    switches = _defer_switches(f)
    for s in f.statements:
        if s.kind == "drop_table":
            yield from _drop_hazards(s, ctx, dropped_earlier, _deferral(switches, s.index))
            dropped_earlier.add(s.table)


def _defer_switches(f: MigrationFile) -> list[tuple[Statement, bool]]:
    """The file's `PRAGMA defer_foreign_keys` settings, in order, with the value each sets."""
    return [
        (s, on)
        for s in f.statements
        if s.kind == "pragma" and (on := pragma_switch(s.detail, "defer_foreign_keys")) is not None
    ]


def _deferral(switches: list[tuple[Statement, bool]], index: int) -> str:
    """How a foreign-key violation made by statement `index` is judged: "immediate" (the
    statement fails), "at commit" (deferred, and the COMMIT fails), or "forgotten" (deferred,
    and a later `PRAGMA defer_foreign_keys = off` forgets it unchecked)."""
    on = False
    for s, value in switches:
        if s.index < index:
            on = value
    if not on:
        return "immediate"
    later_off = any(s.index > index and not value for s, value in switches)
    return "forgotten" if later_off else "at commit"


def _drop_hazards(
    s: Statement, ctx: FileContext, dropped_earlier: set[str | None], deferral: str
) -> list[Hit]:
    """D1N008 for a DROP TABLE whose table other tables still reference: D1 keeps foreign keys
    on, so the implicit DELETE cascades (CASCADE, SET NULL, SET DEFAULT) or fails (NO ACTION,
    RESTRICT) as soon as a child row points at a parent row — at once, at the commit when
    deferred, or not at all when `PRAGMA defer_foreign_keys = off` follows (D1N027). The
    foreign keys are those just before the statement (from the replay from empty) or, when it
    never got there, those before the file less the tables dropped earlier in it."""
    fks = ctx.foreign_keys_at_drop.get(s.index)
    if fks is None:
        fks = [fk for fk in ctx.foreign_keys_before if fk[0] not in dropped_earlier]
    acting, blocking = [], []
    for parent, child, col, action in cascade_edges(fks, s.table or ""):
        if child == s.table:
            continue
        how = action if parent == s.table else f"{action} via {parent}"
        (blocking if action in ("NO ACTION", "RESTRICT") else acting).append(
            f"{shown(child, col)} (ON DELETE {how})"
        )
    hazards = (
        (
            acting,
            "deletes its rows first, and under `wrangler d1 migrations apply` D1 keeps foreign "
            "keys ON (PRAGMA foreign_keys=OFF is ignored in its transaction), so child rows are "
            "deleted or nulled (remote `wrangler d1 execute --file` honours the pragma; "
            "`d1nb replay --via execute-file` shows that path)",
        ),
        (
            blocking if deferral == "immediate" else [],
            "fails with 'FOREIGN KEY constraint failed' as soon as a child row references it "
            "(D1 keeps foreign keys ON; with `PRAGMA defer_foreign_keys = on` before it and "
            "`= off` after the rename it passes, unchecked: D1N027)",
        ),
        (
            blocking if deferral == "at commit" else [],
            "fails with 'FOREIGN KEY constraint failed' at COMMIT as soon as a child row "
            "references it, even when the copy renamed into place holds every key (the implicit "
            "DELETE counts each child row as a violation; the rename does not uncount it); "
            "`PRAGMA defer_foreign_keys = off` after the rename forgets the count, unchecked "
            "(D1N027)",
        ),
    )
    return [
        (s.line, f"DROP TABLE {shown(s.table)} {what}: {', '.join(children)}", s)
        for children, what in hazards
        if children
    ]


@rule(
    "D1N010",
    "multiple-transactions",
    "error",
    "more than one BEGIN/COMMIT pair (or SAVEPOINT) in one file",
    "file",
)
def multiple_transactions(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: more than one `BEGIN`/`COMMIT` pair, or `SAVEPOINT` / `ROLLBACK`, in one file.
    - **Why on D1**: D1 runs each migration in a transaction of its own; wrangler strips one `BEGIN
      TRANSACTION;`/`COMMIT;` pair and the rest fails.
    - **Fix**: remove the transaction statements; split the file if parts must commit separately.
    - **Example**: two `BEGIN; … COMMIT;` blocks in one file.
    """
    transactions = [s for s in f.statements if s.kind == "transaction"]
    if len(transactions) > 2 or any(
        s.detail not in ("BEGIN", "COMMIT", "END") for s in transactions
    ):
        yield (
            transactions[0].line,
            f"{len(transactions)} transaction statements; D1 strips one BEGIN/COMMIT "
            "pair and fails on more",
            transactions[0],
        )


@rule(
    "D1N012",
    "naming",
    "warning",
    "migration file name not NNNN_snake_case, or not descriptive",
    "file",
)
def naming(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: a migration file name that is not `NNNN_descriptive_snake_case.sql`, or whose
      description says nothing (`fix`, `update`, `wip`, …).
    - **Why on D1**: wrangler orders by the number and the ledger stores only the name: a name is
      the only record of what a file was for, and renaming it later breaks the ledger.
    - **Fix**: `wrangler d1 migrations create DB "add scores normalized id"`.
    - **Example**: `0012_fix.sql`, `0013-AddIndex.sql`.
    """
    if "/" in f.name:  # a migrations_pattern layout: the folder carries the name
        return
    if not _GOOD_NAME.match(f.name):
        yield 0, f"name '{f.name}' is not NNNN_snake_case.sql", None
    elif f.description.lower() in _VAGUE or len(f.description) < 4:
        yield (
            0,
            f"name '{f.name}' does not say what the migration does "
            f"('{f.description}' is too short or too vague)",
            None,
        )


@rule(
    "D1N016",
    "enum-check-one-step",
    "warning",
    "a CHECK enum changed in the same migration that rebuilds the table",
    "file",
)
def enum_check_one_step(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: a table rebuilt in one migration with a changed `CHECK` (an enum gains or loses a
      value).
    - **Why on D1**: rows copied across with old values make the `INSERT … SELECT` fail, and code
      deployed before or after writes values the other side refuses; combined with D1N008, the
      rebuild also cascades.
    - **Fix**: add a new column with the new enum, backfill, switch the code, retire the old column.
    - **Example**: `CHECK (status IN ('active','done'))` → `('active','paused','done')` by rebuild.
    """
    for table in sorted(ctx.rebuilt):
        old_sql = ctx.tables_before.get(table)
        renamed = ctx.renamed_into.get(table)
        new = ctx.created.get(table) or ctx.created.get(renamed.table if renamed else None)
        if not old_sql or new is None or _checks(old_sql) == _checks(new.sql):
            continue
        added = sorted(_checks(new.sql) - _checks(old_sql))
        removed = sorted(_checks(old_sql) - _checks(new.sql))
        change = "; ".join(
            [f"CHECK ({c}) added" for c in added] + [f"CHECK ({c}) removed" for c in removed]
        )
        yield (
            new.line,
            f"table {shown(table)} is rebuilt with its CHECKs changed ({change}): old code "
            "writing old values and rows copied across fail in one step; add a new column, "
            "backfill, then switch",
            new,
        )


@rule(
    "D1N029",
    "rebuild-drops-triggers-indexes",
    "warning",
    "a table rebuilt without creating its triggers and indexes again",
    "file",
)
def rebuild_drops_triggers_indexes(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: a table rebuilt (dropped, then created again or renamed into) whose triggers or
      indexes (CREATE TRIGGER, CREATE INDEX) the file does not create again, by name or, for
      an index, on the same columns of the new table.
    - **Why on D1**: DROP TABLE takes the table's triggers and indexes with it, and the copy
      gets only what its CREATE TABLE declares. Nothing fails: afterwards nothing keeps what
      the triggers kept (an FTS5 index, counters, an audit log), and every query that used an
      index scans the whole table, each row read billed.
    - **Fix**: after the rename, repeat each CREATE TRIGGER and CREATE INDEX of the old table
      (`SELECT sql FROM sqlite_master WHERE tbl_name = 'x' AND type IN ('index', 'trigger')`
      lists them).
    - **Example**: `recipes` rebuilt to rename a column, its `recipes_ai`/`_au`/`_ad` triggers
      keeping `recipes_fts` gone with it (stranger's project #17).
    """
    for table in sorted(t for t in ctx.rebuilt if t):
        kept = ctx.kept_by_dropped.get(table.lower(), [])
        if not kept:
            continue
        drop = next(s for s in f.statements if s.kind == "drop_table" and s.table == table)
        renamed = ctx.renamed_into.get(table)
        new_names = {table.lower(), (renamed.table or "").lower() if renamed else ""} - {""}
        created = [
            s
            for s in f.statements
            if s.kind in ("create_index", "create_trigger")
            and ((s.table or "").lower() in new_names or s.index > drop.index)
        ]
        names = {s.detail.lower() for s in created}
        columns = {
            tuple(keys)
            for s in created
            if s.kind == "create_index" and (keys := index_keys(s.sql)) is not None
        }
        lost = [
            name
            for name, sql in kept
            if name.lower() not in names and not _same_index(sql, columns)
        ]
        if not lost:
            continue
        kinds = {name: "trigger" if _is_trigger(sql) else "index" for name, sql in kept}
        triggers = [n for n in lost if kinds[n] == "trigger"]
        indexes = [n for n in lost if kinds[n] == "index"]
        parts = []
        if triggers:
            parts.append(
                f"trigger(s) {', '.join(triggers)} (nothing keeps what they kept from now on)"
            )
        if indexes:
            parts.append(
                f"index(es) {', '.join(indexes)} (queries that used them scan the whole table, "
                "every row read billed)"
            )
        yield (
            drop.line,
            f"DROP TABLE {shown(table)} takes its {' and '.join(parts)} with it, and this file "
            f"does not create them again on the rebuilt {shown(table)}",
            drop,
        )


def _is_trigger(sql: str) -> bool:
    return classify(sql)[0] == "create_trigger"


def _same_index(sql: str, columns: set[tuple[str, ...]]) -> bool:
    keys = index_keys(sql) if not _is_trigger(sql) else None
    return keys is not None and tuple(keys) in columns


def _checks(sql: str) -> set[str]:
    """Normalised text of each CHECK constraint of a CREATE TABLE statement."""
    return {" ".join(expr.split()).lower() for _column, expr in check_constraints(sql)}


@rule(
    "D1N019",
    "unreadable-file",
    "error",
    "the file is not UTF-8 text, its last statement has no closing ';', or a /* is left open",
    "file",
)
def unreadable_file(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: a migration that is not UTF-8 text, contains NUL bytes, or ends with a statement
      without its closing `;`.
    - **Why on D1**: wrangler sends the text as is; the file fails or, worse, runs partly.
      `migrations apply` appends its ledger `INSERT` to the file's text, so a last statement
      without its `;` runs into it and the whole file fails (`near "INSERT": syntax error`);
      a `/*` comment left open at the end swallows it: the file runs, is never recorded, and
      the next `migrations apply` runs it again.
    - **Fix**: save as UTF-8; close the last statement.
    - **Example**: a file saved as Latin-1 with `é` in a comment.
    """
    if f.text is None or any(not s.complete for s in f.statements):
        line = next((s.line for s in f.statements if not s.complete), 0)
        yield line, "; ".join(p.message for p in f.problems), None


@rule(
    "D1N023",
    "old-splitter-skips",
    "error",
    "a block closed with a lowercase `end`: wrangler before 4.124 skips the statements after it",
    "file",
)
def old_splitter_skips(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: a statement with a `BEGIN … end` (a trigger body) or `CASE … end` written with a
      lowercase (or mixed-case) `end`, followed by more statements in the file, in a service whose
      wrangler is older than 4.124 — read from the nearest `package-lock.json` (exact) or
      `package.json` (the lowest version its range allows), up to the project root; with neither,
      the rule assumes an old one and says so.
    - **Why on D1**: wrangler's splitter before 4.124 matched `BEGIN`/`CASE` in any case but `END`
      only in capitals (workers-sdk #15046), so the block never closed: every later statement of the
      file, and the ledger row `migrations apply` appends, went to D1 folded into one statement,
      reported as success. Separately, D1's own server-side splitter has been reported to refuse a
      lowercase `begin` trigger body on remote `migrations apply` ("incomplete input", workers-sdk
      #15314, open in Nov 2026): writing `BEGIN … END` in capitals avoids both.
    - **Fix**: write `END` (and `BEGIN`) in capitals, or upgrade wrangler to 4.124 or later.
    - **Example**: `CREATE TRIGGER g BEFORE DELETE ON t begin SELECT RAISE(ABORT, 'no'); end;`
      followed by `CREATE TABLE after_the_trigger (…);`.
    """
    wrangler = ctx.wrangler
    if wrangler is not None and wrangler[0] >= FIXED_SPLITTER:
        return
    for i, s in enumerate(f.statements):
        later = f.statements[i + 1 :]
        if later and lowercase_compound_end(s.sql):
            which = (
                f"this project's wrangler {'.'.join(map(str, wrangler[0]))} ({wrangler[1]})"
                if wrangler
                else "a wrangler older than 4.124 (no package.json or lock file names one)"
            )
            lines = ", ".join(str(t.line) for t in later)
            yield (
                s.line,
                f"a block closed with a lowercase `end`: {which} folds the "
                f"{len(later)} statement(s) after it ({'line' if len(later) == 1 else 'lines'} "
                f"{lines}) and the ledger row into "
                "this one and sends them as a single statement, which D1 may run only in "
                "part, without an error (workers-sdk #15046; locally Miniflare 4.20260426 "
                "still ran them); write END, or use wrangler 4.124 or later",
                s,
            )
            return


@rule(
    "D1N024",
    "replace-deletes-children",
    "warning",
    "INSERT OR REPLACE (or REPLACE, UPDATE OR REPLACE) into a table other tables reference",
    "file",
)
def replace_deletes_children(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: `INSERT OR REPLACE`, `REPLACE INTO` or `UPDATE OR REPLACE` writing a table that
      other tables reference with a foreign key.
    - **Why on D1**: REPLACE resolves a conflict by deleting the existing row and inserting a new
      one, and D1 keeps foreign keys on: the delete runs each child's ON DELETE action, so
      children are deleted (CASCADE) or nulled (SET NULL) — even when the new row has the same
      key. With NO ACTION or RESTRICT the statement fails when a row comes back under another key
      (its conflict was on another UNIQUE column); a row back under the same key keeps them. The
      author usually meant "update in place".
    - **Fix**: `INSERT … ON CONFLICT (key) DO UPDATE SET …` (an upsert updates the row and leaves
      its children alone), or an `UPDATE`.
    - **Example**: `INSERT OR REPLACE INTO suppliers (id, code, name) SELECT id, code, upper(name)
      FROM suppliers` when `items.supplier_id` references `suppliers(id) ON DELETE CASCADE`:
      every item of those suppliers, and their own children, are deleted.
    """
    for s in f.statements:
        if s.kind not in ("insert", "insert_select", "update") or "or_replace" not in s.flags:
            continue
        fks = [fk for fk in ctx.foreign_keys_before if fk[0] not in ctx.dropped]
        acting, blocking = [], []
        for parent, child, col, action in cascade_edges(fks, s.table or ""):
            how = action if parent == s.table else f"{action} via {parent}"
            (blocking if action in ("NO ACTION", "RESTRICT") else acting).append(
                f"{shown(child, col)} (ON DELETE {how})"
            )
        if acting or blocking:
            reaches = f"and the delete reaches {', '.join(acting)}" if acting else ""
            fails = (
                f"which fails with 'FOREIGN KEY constraint failed' when a row comes back under "
                f"another key (a conflict on another UNIQUE column) while "
                f"{', '.join(blocking)} point at it (under the same key they stay)"
                if blocking
                else ""
            )
            yield (
                s.line,
                f"REPLACE into {shown(s.table)} deletes each row it replaces, "
                f"{'; '.join(p for p in (reaches, fails) if p)}: "
                "use INSERT … ON CONFLICT DO UPDATE (or UPDATE) to keep them",
                s,
            )


_WRITES = ("insert", "insert_select", "update", "delete", "drop_table")


@rule(
    "D1N027",
    "defer-off-unchecked",
    "warning",
    "PRAGMA defer_foreign_keys = off forgets the violations deferred so far, unchecked",
    "file",
)
def defer_off_unchecked(f: MigrationFile, ctx: FileContext) -> Iterator[Hit]:
    """
    - **What**: `PRAGMA defer_foreign_keys = off` after `= on` and statements that write rows
      (INSERT, UPDATE, DELETE, REPLACE, DROP TABLE), as in Cloudflare's rebuild recipe
      (`= on`, create the copy, copy, drop, rename, `= off`).
    - **Why on D1**: turning the pragma off does not check what was deferred: SQLite forgets the
      violations counted since it was turned on. Every reference the file broke in between — a
      rebuild whose copy filtered or lost rows, a parent row deleted — commits broken; nothing
      fails and D1 never checks them again. Without the `off`, a rebuild fails at the commit
      even when its copy holds every key (D1N008). Seen with wrangler 4.164's local D1 and the
      sqlite3 shell.
    - **Fix**: keep the recipe, but know the copy is complete before applying it: `d1nb impact`
      on an export counts the references the file leaves broken; after applying, `wrangler d1
      execute DB --command "PRAGMA foreign_key_check"` lists them.
    - **Example**: a rebuild of `berths` copying `WHERE pier <> 'F'` under the recipe applies
      "successfully" and leaves the bookings of pier F pointing at berths that are gone.
    """
    switches = _defer_switches(f)
    on_at = None
    for s, value in switches:
        if value:
            on_at = on_at or s
            continue
        if on_at is None:
            continue
        writes = [w for w in f.statements if on_at.index < w.index < s.index and w.kind in _WRITES]
        if writes:
            yield (
                s.line,
                f"PRAGMA defer_foreign_keys = off forgets, unchecked, every foreign-key violation "
                f"deferred since line {on_at.line}: a reference the statements of lines "
                f"{writes[0].line}–{writes[-1].line} broke commits broken; `d1nb impact` on an "
                "export counts them",
                s,
            )
        on_at = None
