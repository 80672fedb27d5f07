"""The sample's own documents: the prose of data/sample/README.md (what the sample holds and
the hazards planted in it, with figures read from the generated files) and its d1nb.toml."""

from __future__ import annotations

from d1nb.sample import migrations_sql as sm


def file_facts() -> dict:
    trigger = sm.API_MIGRATIONS["0006_goal_progress_immutable.sql"].splitlines()
    start = next(i for i, line in enumerate(trigger, 1) if line.startswith("CREATE TRIGGER"))
    end = next(i for i, line in enumerate(trigger, 1) if line.startswith("END;"))
    rebuild = sm.API_MIGRATIONS["0011_goals_add_category.sql"].splitlines()
    drop = next(i for i, line in enumerate(rebuild, 1) if line.startswith("DROP TABLE goals"))
    add = sm.SCORES_MIGRATIONS["0016_add_scores_updated_at.sql"].splitlines()
    alter = next(i for i, line in enumerate(add, 1) if line.startswith("ALTER TABLE"))
    return {"trigger_lines": (start, end), "rebuild_drop_line": drop, "add_column_line": alter}


def readme_text(f: dict) -> str:
    """data/sample/README.md: the sample's layout and each planted hazard with exact counts."""
    api, scores = f["api"], f["scores"]
    transitions = ", ".join(
        f"'{m}' → '{m.lower()}' {n}" for m, n in api["mood_transitions"].items()
    )
    status = api["status_counts"]
    updates = "\n".join(f"  | {name} | {n} |" for name, n in scores["composer_updates"].items())
    t0, t1 = f["trigger_lines"]
    return f"""# The d1nb sample: a fictional D1 monorepo

Written by `python -m d1nb.sample --out data/sample` (seed {f["seed"]}, {f["n_scores"]} scores);
do not edit by hand — a test regenerates it and compares byte for byte.

```
services/api/          wrangler.toml (+ wrangler.example.toml), migrations/ 0001–0011
services/scores/       wrangler.jsonc (comments, trailing commas), migrations/ 0000–0016
services/dictionary/   wrangler.toml, db/migrations/ (custom migrations_table schema_migrations)
services/reports-cron/ wrangler.toml binding the scores production database, no migrations
ledgers/SERVICE.ENV.json   `wrangler d1 execute DB --remote --json --command "SELECT * FROM d1_migrations"`
exports/SERVICE/before.sql, after.sql   `wrangler d1 export` of staging before/after the risky migrations
d1nb.lock              sha256 of every migration file when it was applied
d1nb.toml              what `d1nb report` reads here: exports, the backfill to size, expectations
```

Applied where (by the ledgers):

| service | staging | production | pending everywhere |
|---|---|---|---|
| api | 0001–0010 | 0001–0008 | 0011 |
| scores | 0000–0013 | 0000–0011 | 0014–0016 |
| dictionary | 0001–0003, 0005, 0006 (old name), 0007, 0008 | 0001, 0002, 0005, 0003, 0006 (old name), 0007 | 0006 (new name), 0009 |

`exports/api/before.sql` is api staging at 0008, `after.sql` the same database after 0009 and
0010. `exports/scores/before.sql` is scores staging at 0011, `after.sql` after 0012 and 0013.
The dictionary database has an FTS5 table, which `wrangler d1 export` refuses, so it has no export.

## Planted hazards and what the analyses must find

1. **JSON enum lowercasing** — `services/api/migrations/0010_lowercase_sync_moods.sql` (one
   UPDATE). It touches all {api["logbook_rows"]} `logbook_entry` rows of `sync_data` ({api["sync_rows"]} rows in all).
   `$.mood` transitions: {transitions}; {api["mood_lower"]} rows already lower case keep their value.
   The {api["mood_missing"]} entries without a mood gain `"mood":null` (`lower(NULL)` is NULL and
   `json_set` writes it): {api["mood_display"] + api["mood_missing"]} documents change in all.
2. **Enum change through a new column** — api `0009_repertoire_status_v2.sql`: `status_v2` is
   added and filled for all {api["repertoire_rows"]} repertoire rows: 'learning' → 'learning' {status["learning"]},
   'polished' → 'performing' {status["polished"]}, 'dropped' → 'archived' {status["dropped"]}.
3. **Table rebuild under `PRAGMA foreign_keys=OFF`** — api `0011_goals_add_category.sql`
   (pending everywhere). D1 ignores the pragma inside the migration's transaction, so
   `DROP TABLE goals` (line {f["rebuild_drop_line"]}) cascades: all {api["goal_progress"]} `goal_progress` rows are
   deleted (`ON DELETE CASCADE`); the {api["goals"]} goals survive in the rebuilt table. Replayed on
   either api export, the migration "succeeds" and `goal_progress` is left empty.
   It also changes the `status` CHECK enum in one step (adds 'paused').
4. **Composer canonicalisation** — scores `0012_canonicalise_composers.sql`: 12 UPDATEs over
   {scores["rows"]} scores change {scores["composer_changed"]} rows in all; distinct composers go from
   {scores["distinct_composers_before"]} to {scores["distinct_composers_after"]} ({scores["null_composers"]} NULL composers stay NULL). Rows per UPDATE:

  | canonical name | rows changed |
  |---|---|
{updates}

5. **normalized_id backfill on a large table** — scores `0013_backfill_normalized_id.sql`: one
   UPDATE over all {scores["normalized_null"]} rows; `normalized_id` is indexed, so D1 bills
   {2 * scores["normalized_null"]} rows written (a row and an index entry each). Notebook 03 sizes its
   batches on a 1,000,000-row table made by this generator.
6. **ADD COLUMN that fails only on a populated table** — scores `0016_add_scores_updated_at.sql`
   line {f["add_column_line"]}: a non-constant default. Replayed from an empty database it passes; on either scores
   export it fails with SQLite's `Cannot add a column with non-constant default`.
7. **Duplicate migration number** — scores has two files numbered 0008
   (`0008_add_scores_visibility.sql`, `0008_create_score_imports.sql`), ordered by name.
8. **Non-migration files in a migrations folder** — dictionary `db/migrations/` holds 3 files
   that are not migrations: `0004_drop_legacy_terms.sql.rollback`, `0010_split_terms.sql.future`,
   `README.md`. The migration numbers also have a gap at 0004.
9. **Trigger with a `BEGIN … END` body** — api `0006_goal_progress_immutable.sql`: one statement,
   lines {t0}–{t1}, with a `;` inside its body. dictionary `0005_create_terms_fts.sql` has three more and
   an FTS5 virtual table.
10. **Applied file edited after it was applied** — api `0007_sync_data_soft_delete.sql`: its
    sha256 differs from `d1nb.lock`; the index `idx_sync_data_live` it now creates is missing from
    both api exports (the databases ran the original file).
11. **History rewritten after deployment** — dictionary `0006_add_queue_attempts.sql` was applied
    as `0006_add_queue_retries.sql` (staging and production): the ledgers name a file that no
    longer exists, and the renamed file is pending — applying it would fail with
    `duplicate column name: attempts`.
12. **Applied out of order** — dictionary production applied `0005_create_terms_fts.sql` before
    `0003_create_lookup_queue.sql`.
13. **Environment progression violated** — dictionary `0007_create_analytics.sql` was applied to
    production two days before staging.
14. **Services sharing one database** — `reports-cron` binds `scores-production` (owned by
    `scores`) and has no migrations.
15. **Compensating migrations that look right and lose data** — api
    `migrations/rollback/0011_goals_add_category.sql` drops the new column but cannot bring back
    the goal_progress rows 0011's rebuild cascaded away; scores
    `0015_drop_analytics_payload.sql.rollback` re-adds `payload` empty, so every value it held is
    gone. `d1nb rollback` (and notebook 05) counts both, and drafts rollbacks that restore them.
16. **Lint** — `CREATE TABLE` / `CREATE INDEX` without `IF NOT EXISTS` in scores 0000–0003 and
    0007; `RENAME COLUMN` in scores 0014; `DROP COLUMN` in scores 0015 and dictionary 0009;
    `PRAGMA foreign_keys` (no effect on D1) twice in api 0011; a placeholder database id in
    `services/api/wrangler.example.toml`.
"""


REPORT_SETTINGS = """\
# What `d1nb report data/sample` reads; options of `d1nb report` win over these.
[report]
# 02 and 03 replay what each export's own ledger lacks.
budget_ms = 1000.0
# 03: the scores backfill, measured on a copy grown to production's size.
migration = "services/scores/migrations/0013_backfill_normalized_id.sql"
scale_rows = 1_000_000
# 04: api staging before and after 0009 and 0010, then 0011 replayed on the after export.
before = "exports/api/before.sql"
after = "exports/api/after.sql"
mask = ["users.email"]
replay_service = "api"
replay_files = ["0011_goals_add_category.sql"]
distribution_table = "sync_data"
distribution_column = "data$.mood"

[report.snapshots]
api = "exports/api/before.sql"
scores = "exports/scores/before.sql"

[report.accepted]
"sync_data.data$.mood" = ["happy", "focused", "tired", "frustrated", "calm"]
"repertoire.status_v2" = ["learning", "performing", "archived"]

[report.expectations]
"no sync entry lost" = "SELECT id FROM before.sync_data EXCEPT SELECT id FROM after.sync_data"
"every repertoire row has a status_v2" = "SELECT id FROM after.repertoire WHERE status_v2 IS NULL"
"status_v2 maps the old status" = \"\"\"SELECT id, status, status_v2 FROM after.repertoire
    WHERE status_v2 <> CASE status WHEN 'polished' THEN 'performing'
    WHEN 'dropped' THEN 'archived' ELSE status END\"\"\"

[report.replay_expectations]
"no goal progress lost" = "SELECT id FROM before.goal_progress EXCEPT SELECT id FROM after.goal_progress"
"no goal lost" = "SELECT id FROM before.goals EXCEPT SELECT id FROM after.goals"
"""
