"""Lint rules that judge one statement at a time (scope "statement").

Each check takes the statement and its file's context and yields the messages it finds; the
registry adds the rule's severity, the statement's line and the suppression comments.
"""

from __future__ import annotations

from collections.abc import Iterator

import apsw

from d1nb import d1
from d1nb.analyses.lint.registry import FileContext, rule
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import (
    added_column,
    classify,
    compound_terms,
    like_patterns,
    row_columns,
    trigger_parts,
    written_columns,
)
from d1nb.formats.sql.text import quote_ident, shown

_CREATE_KINDS = {
    "create_table",
    "create_index",
    "create_view",
    "create_trigger",
    "create_virtual_table",
}


@rule(
    "D1N001",
    "create-without-if-not-exists",
    "warning",
    "CREATE TABLE / INDEX / VIEW / TRIGGER without IF NOT EXISTS",
    "statement",
)
def create_without_if_not_exists(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `CREATE TABLE`, `INDEX`, `VIEW`, `TRIGGER` or `VIRTUAL TABLE` without `IF NOT
      EXISTS`.
    - **Why on D1**: when a remote apply half-fails or the ledger and the schema disagree (a
      hand-run `schema.sql`, a restored bookmark), re-running the file fails at the first object
      that exists. The temporary table of a rebuild (created, then renamed in the same file) is
      exempt.
    - **Fix**: add `IF NOT EXISTS`.
    - **Example**: `CREATE INDEX idx_scores_user ON scores(user_id);` → `CREATE INDEX IF NOT EXISTS
      idx_scores_user ON scores(user_id);`
    """
    temporary = s.kind == "create_table" and s.table in ctx.rebuild_temps
    if s.kind in _CREATE_KINDS and "if_not_exists" not in s.flags and not temporary:
        what = s.kind.removeprefix("create_").replace("_", " ").upper()
        named = s.detail if s.kind in ("create_index", "create_trigger") else s.table
        yield f"CREATE {what} {shown(named or s.table)} without IF NOT EXISTS: re-running fails"


@rule(
    "D1N002",
    "add-column-not-null-without-default",
    "error",
    "ADD COLUMN NOT NULL without a default fails on a populated table",
    "statement",
)
def add_column_not_null(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `ALTER TABLE … ADD COLUMN … NOT NULL` with no `DEFAULT`.
    - **Why on D1**: SQLite accepts it on an empty table and refuses it on a populated one (`Cannot
      add a NOT NULL column with default value NULL`): it passes on a fresh local or preview
      database and fails in production.
    - **Fix**: give a constant default (`NOT NULL DEFAULT ''`), or add the column nullable,
      backfill, and enforce in code.
    - **Example**: `ALTER TABLE goals ADD COLUMN priority INTEGER NOT NULL;` → `ALTER TABLE goals
      ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;`
    """
    if s.kind == "add_column" and "not_null" in s.flags and "default" not in s.flags:
        yield (
            f"ADD COLUMN {shown(s.detail)} NOT NULL without default fails on a populated table "
            "('Cannot add a NOT NULL column with default value NULL')"
        )


@rule(
    "D1N003",
    "add-column-non-constant-default",
    "error",
    "ADD COLUMN with a non-constant default fails on a populated table",
    "statement",
)
def add_column_non_constant_default(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `ADD COLUMN` whose default is not a literal: `CURRENT_TIMESTAMP`, `(strftime(…))`,
      `(json_object())`, even `(1+2)`.
    - **Why on D1**: fails on a populated table with `Cannot add a column with non-constant
      default`, passes on an empty one.
    - **Fix**: add the column with a constant default (or NULL) and backfill it with an `UPDATE`.
    - **Example**: `ADD COLUMN updated_at TEXT DEFAULT (strftime('%s','now'))` → `ADD COLUMN
      updated_at TEXT;` then `UPDATE scores SET updated_at = strftime('%s','now') WHERE updated_at
      IS NULL;`
    """
    if s.kind == "add_column" and "non_constant_default" in s.flags:
        yield (
            f"ADD COLUMN {shown(s.detail)} with a non-constant default fails on a populated table "
            "('Cannot add a column with non-constant default')"
        )


@rule("D1N004", "drop-table", "warning", "DROP TABLE loses data; D1 has no rollback", "statement")
def drop_table(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `DROP TABLE` of a table that is not rebuilt in the same file.
    - **Why on D1**: there is no rollback; only a Time Travel restore (whole database, to a minute)
      brings the rows back.
    - **Fix**: take a bookmark (`wrangler d1 time-travel info`) and export the table first; make
      sure nothing reads it.
    - **Example**: `DROP TABLE legacy_terms;`
    """
    if s.kind == "drop_table" and s.table not in ctx.rebuilt:
        yield f"DROP TABLE {shown(s.table)}: its rows are gone for good"


@rule(
    "D1N005",
    "drop-column",
    "warning",
    "DROP COLUMN loses data and breaks running code",
    "statement",
)
def drop_column(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `ALTER TABLE … DROP COLUMN`.
    - **Why on D1**: the data is gone, and Workers still deployed with the old code fail on the
      missing column until they are redeployed.
    - **Fix**: stop reading and writing the column first, deploy, then drop it in a later migration.
    - **Example**: `ALTER TABLE analytics_events DROP COLUMN payload;`
    """
    if s.kind == "drop_column":
        yield f"DROP COLUMN {shown(s.table, s.detail)}"


@rule(
    "D1N006",
    "update-without-where",
    "warning",
    "UPDATE without WHERE rewrites every row",
    "statement",
)
def update_without_where(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `UPDATE` without `WHERE`.
    - **Why on D1**: every row is written and billed (plus one write per index entry touched), in
      one statement that must finish within 30 s while the database serves nothing else.
    - **Fix**: add the `WHERE` that selects only rows that need the change (it also makes the
      statement idempotent), and batch it (`d1nb batch`).
    - **Example**: `UPDATE repertoire SET status_v2 = …;` → `… WHERE status_v2 IS NULL;`
    """
    if s.kind == "update" and "where" not in s.flags:
        yield (
            f"UPDATE {shown(s.table)} without WHERE rewrites every row (and bills every row "
            "written)"
        )


@rule(
    "D1N007",
    "delete-without-where",
    "warning",
    "DELETE without WHERE empties the table",
    "statement",
)
def delete_without_where(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `DELETE FROM t` without `WHERE`.
    - **Why on D1**: empties the table and fires `ON DELETE CASCADE` into every child table.
    - **Fix**: say which rows; batch large deletes.
    - **Example**: `DELETE FROM lookup_queue;` → `DELETE FROM lookup_queue WHERE status = 'done';`
    """
    if s.kind == "delete" and "where" not in s.flags:
        yield f"DELETE FROM {shown(s.table)} without WHERE"


@rule(
    "D1N009",
    "pragma-foreign-keys",
    "warning",
    "PRAGMA foreign_keys in a migration has no effect on D1",
    "statement",
)
def pragma_foreign_keys(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `PRAGMA foreign_keys=…` in a migration.
    - **Why on D1**: no effect — the file runs in a transaction, where SQLite ignores the pragma,
      and D1 enforces foreign keys regardless. It signals an author who expects the opposite.
    - **Fix**: remove it; use `PRAGMA defer_foreign_keys=ON` if constraint checks must wait for the
      end of the migration (cascades still fire).
    - **Example**: `PRAGMA foreign_keys=OFF;`
    """
    if s.kind == "pragma" and s.detail.split("=")[0] == "foreign_keys":
        yield (
            f"PRAGMA {s.detail} has no effect inside D1's migration transaction; use PRAGMA "
            "defer_foreign_keys=ON, which still does not stop ON DELETE CASCADE"
        )


@rule(
    "D1N011",
    "statement-too-large",
    "error",
    "statement over D1's 100,000-byte limit",
    "statement",
)
def statement_too_large(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: a statement over 100,000 bytes.
    - **Why on D1**: D1 refuses statements over 100 KB (`SQLITE_TOOBIG`).
    - **Fix**: split large `INSERT … VALUES` lists into several statements.
    - **Example**: a seed file with 5,000 rows in one `INSERT`.
    """
    if s.bytes > d1.MAX_STATEMENT_BYTES:
        yield f"statement of {s.bytes} bytes; D1's limit is {d1.MAX_STATEMENT_BYTES}"


@rule("D1N015", "rename", "warning", "RENAME TABLE / COLUMN breaks code still running", "statement")
def rename(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `ALTER TABLE … RENAME TO` or `RENAME COLUMN` (not the rename of a rebuild).
    - **Why on D1**: Workers still running the previous deployment query the old name and fail until
      they are redeployed; migrations and deploys are not atomic together.
    - **Fix**: expand and contract — add the new name, write both, switch reads, drop the old.
    - **Example**: `ALTER TABLE scores RENAME COLUMN instrument TO instrumentation;`
    """
    if s.kind == "rename_column":
        yield (
            f"RENAME COLUMN {shown(s.table)}.{s.detail}: deployed code still uses the old name "
            "until it is redeployed"
        )
    if s.kind == "rename_table" and s.detail not in ctx.rebuilt:
        yield f"RENAME TABLE {shown(s.table)} TO {shown(s.detail)}"


@rule(
    "D1N017",
    "add-column-fails-when-populated",
    "error",
    "ADD COLUMN with a STORED generated column or a CHECK fails on a populated table",
    "statement",
)
def add_column_fails_when_populated(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `ADD COLUMN` of a `STORED` generated column, or with a `CHECK` that the value
      existing rows receive (the default, or NULL without one) does not satisfy. d1nb evaluates the
      `CHECK` on that value; a `CHECK` that reads other columns cannot be judged without rows and is
      reported.
    - **Why on D1**: SQLite refuses `STORED` columns on a populated table, and checks every existing
      row against the new `CHECK`: both pass on an empty database only.
    - **Fix**: use a `VIRTUAL` generated column; make the default satisfy the check.
    - **Example**: `ADD COLUMN total INTEGER AS (a + b) STORED`; `ADD COLUMN s TEXT NOT NULL DEFAULT
      'x' CHECK (s IN ('on', 'off'))`. Not flagged: `DEFAULT 'on'` with the same `CHECK`.
    """
    if s.kind != "add_column":
        return
    if "stored" in s.flags:
        yield (
            f"ADD COLUMN {shown(s.detail)} as a STORED generated column fails on a populated table"
        )
    elif "check" in s.flags:
        failing = _default_fails_check(s.sql)
        if failing:
            yield (
                f"ADD COLUMN {shown(s.detail)}: {failing}, so the statement fails on a populated "
                "table ('CHECK constraint failed')"
            )


def _default_fails_check(sql: str) -> str | None:
    """Why an ADD COLUMN's CHECK refuses the value existing rows get (its default, else NULL),
    or None when it accepts it. SQLite checks every existing row against the CHECK; a CHECK
    that is NULL passes. A CHECK that reads other columns cannot be judged without rows and
    is reported as such."""
    column = added_column(sql)
    if column is None or not column.checks:
        return None
    default = column.default or "NULL"
    with D1Engine(":memory:") as engine:
        for check in column.checks:
            try:
                refused = engine.conn.execute(
                    f"SELECT coalesce(NOT ({check}), 0) FROM (SELECT {default} AS "
                    f"{quote_ident(column.name)})"
                ).fetchall()[0][0]
            except apsw.Error as exc:
                return f"its CHECK ({check}) cannot be judged on the default alone ({exc})"
            if refused:
                return f"its default {default} does not satisfy CHECK ({check})"
    return None


@rule(
    "D1N025",
    "virtual-table-blocks-export",
    "warning",
    "CREATE VIRTUAL TABLE: `wrangler d1 export` refuses the whole database from then on",
    "statement",
)
def virtual_table_blocks_export(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: `CREATE VIRTUAL TABLE` (FTS5, and any other module).
    - **Why on D1**: `wrangler d1 export` stops with `D1 Export error: cannot export databases
      with Virtual Tables (fts5)` once the database holds one (seen with 4.164): the export you
      would take before a risky migration, and d1nb's usual input, needs another way.
    - **Fix**: remotely, `--compatibility sqlite3_cli_only` (wrangler 4.159 and later, `--remote`
      only) writes an sqlite3-style dump that d1nb reads, though D1 cannot import it again;
      `--table T` (repeated) exports the real tables; locally, d1nb reads `.wrangler/state`
      itself. Keep the search index rebuildable (`INSERT INTO t_fts(t_fts) VALUES
      ('rebuild')`) rather than the only copy of anything.
    - **Example**: `CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes');` →
      `npx wrangler d1 export DB --remote --compatibility sqlite3_cli_only --output before.sql`
    """
    if s.kind == "create_virtual_table":
        yield (
            f"CREATE VIRTUAL TABLE {shown(s.table)}: a plain `wrangler d1 export` refuses the "
            "database from now on; export with --remote --compatibility sqlite3_cli_only (or "
            "--table per table; locally, d1nb reads .wrangler/state)"
        )


@rule(
    "D1N026",
    "past-workerd-limits",
    "error",
    "a compound SELECT of more than 5 terms, or a LIKE/GLOB pattern over 50 bytes: D1 refuses",
    "statement",
)
def past_workerd_limits(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: more than 5 SELECTs joined by `UNION [ALL]`, `INTERSECT` or `EXCEPT`, or a
      `LIKE` / `GLOB` pattern longer than 50 bytes.
    - **Why on D1**: workerd holds SQLite to lower limits than SQLite's own (measured in
      Miniflare; not on Cloudflare's limits page): `too many terms in compound SELECT` from the
      sixth term, `LIKE or GLOB pattern too complex` from the 51st byte. The statement runs in
      a local SQLite and fails on D1, stopping the migration.
    - **Fix**: a multi-row `VALUES` list instead of `SELECT … UNION ALL SELECT …` (it has no
      such limit); `substr(col, 1, n) = 'prefix'` or `instr` instead of a long `LIKE` prefix.
    - **Example**: `INSERT INTO kinds SELECT 'a' UNION ALL SELECT 'b' … (6 terms)` →
      `INSERT INTO kinds VALUES ('a'), ('b'), …`
    """
    terms = compound_terms(s.sql)
    if terms > d1.MAX_COMPOUND_SELECT_TERMS:
        yield (
            f"a compound SELECT of {terms} terms: D1 allows {d1.MAX_COMPOUND_SELECT_TERMS} "
            "('too many terms in compound SELECT'); use a VALUES list"
        )
    for pattern in like_patterns(s.sql):
        size = len(pattern.encode("utf-8"))
        if size > d1.MAX_LIKE_PATTERN_BYTES:
            yield (
                f"a LIKE/GLOB pattern of {size} bytes: D1 allows {d1.MAX_LIKE_PATTERN_BYTES} "
                "('LIKE or GLOB pattern too complex' once a row is compared)"
            )


@rule(
    "D1N028",
    "trigger-kept-values-go-stale",
    "warning",
    "an UPDATE of a column the table's INSERT or DELETE triggers read, no UPDATE trigger following",
    "statement",
)
def trigger_kept_values_go_stale(s: Statement, ctx: FileContext) -> Iterator[str]:
    """
    - **What**: an UPDATE that sets a column the table's INSERT or DELETE triggers read (as
      `NEW.x` or `OLD.x`: a counter, a total or a copy they keep in another table) when no
      UPDATE trigger of the table fires for that column, and no later UPDATE, upsert or REPLACE
      of the file writes the tables those triggers keep.
    - **Why on D1**: an UPDATE fires UPDATE triggers only. What the INSERT and DELETE triggers
      keep no longer matches the rows it moves: posts moved to another board leave both boards'
      `post_count` wrong. Nothing fails, and the rows the UPDATE writes look right.
    - **Fix**: recompute what the triggers keep in the same migration (`UPDATE boards SET
      post_count = (SELECT count(*) FROM posts WHERE board_id = boards.id)`), or create an
      `AFTER UPDATE OF x` trigger before the UPDATE.
    - **Example**: `UPDATE posts SET board_id = 7 WHERE board_id = 3` under `AFTER INSERT ON
      posts … UPDATE boards SET post_count = post_count + 1 WHERE id = NEW.board_id` and its
      DELETE twin (stranger's project #15).
    """
    triggers = ctx.triggers_before.get((s.table or "").lower(), [])
    if s.kind != "update" or not triggers:
        return
    sets = {c.lower() for c in written_columns(s.sql) or []}
    keeping: dict[str, set[str]] = {}
    kept_in: set[str] = set()
    for name, sql in triggers:
        parts = trigger_parts(sql)
        if parts is None:
            continue
        if parts.event == "UPDATE":
            columns = {c.lower() for c in parts.columns}
            if not columns or columns & sets:
                return  # an UPDATE trigger follows these columns
            continue
        read = row_columns(sql, "NEW" if parts.event == "INSERT" else "OLD") & sets
        if read:
            keeping[name] = read
            kept_in |= {(classify(b)[1] or "").lower() for b in parts.body} - {""}
    later = {  # statements that can recompute them: an UPDATE, an upsert, a REPLACE
        (w.table or "").lower()
        for w in ctx.file.statements
        if w.index > s.index and (w.kind == "update" or {"upsert", "or_replace"} & set(w.flags))
    }
    if keeping and not kept_in & later:
        read = sorted(set().union(*keeping.values()))
        yield (
            f"UPDATE {shown(s.table)} sets {', '.join(read)}, which the INSERT/DELETE trigger(s) "
            f"{', '.join(sorted(keeping))} read to keep values in "
            f"{', '.join(sorted(kept_in)) or 'other rows'}; "
            "no UPDATE trigger follows it and no later UPDATE in the file recomputes them: those "
            "values go stale for every row this moves"
        )
