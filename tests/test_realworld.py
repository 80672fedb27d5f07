"""One fixture per pattern of shared/realworld-patterns.md (written here, not copied): d1nb must
read each without help from the user."""

from __future__ import annotations

import pytest

from d1nb.config import bindings_frame, load_project
from d1nb.history import load_history, status_frame
from d1nb.lint import lint
from d1nb.migrations import load_migration_dir, parse_statements
from d1nb.replay import schema_evolution

DRIZZLE_REBUILD = """PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_lists` (
\t`id` text PRIMARY KEY NOT NULL,
\t`title` text NOT NULL,
\t`kind` text DEFAULT 'todo' NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_lists`("id", "title") SELECT "id", "title" FROM `lists`;--> statement-breakpoint
DROP TABLE `lists`;--> statement-breakpoint
ALTER TABLE `__new_lists` RENAME TO `lists`;--> statement-breakpoint
PRAGMA foreign_keys=ON;
"""

FILES = {
    # configs: every format, templates, env-only bindings, shared databases, no D1 at all
    "apps/web/wrangler.jsonc": """{
  // web front end
  "name": "web",
  "env": {
    "staging": {"d1_databases": [{"binding": "DB", "database_name": "todo-stg",
                                  "database_id": "a1", "migrations_dir": "drizzle",
                                  "migrations_table": "__drizzle_migrations",},],},
    "production": {"d1_databases": [{"binding": "DB", "database_name": "todo-prod",
                                     "database_id": "b2", "migrations_dir": "drizzle",
                                     "migrations_table": "__drizzle_migrations",},],},
  },
}""",
    "apps/web/wrangler.example.json": '{"name": "web", "d1_databases": [{"binding": "DB",'
    ' "database_name": "todo", "database_id": "local-db"}]}',
    "apps/web/drizzle/0000_init.sql": "CREATE TABLE `lists` (`id` text PRIMARY KEY NOT NULL, "
    "`title` text NOT NULL);--> statement-breakpoint\n"
    "CREATE TABLE `items` (`id` text PRIMARY KEY, `list_id` text "
    "REFERENCES `lists`(`id`) ON DELETE cascade);\n",
    "apps/web/drizzle/0001_rebuild_lists.sql": DRIZZLE_REBUILD,
    "apps/web/drizzle/meta/_journal.json": '{"entries": []}',
    "apps/web/drizzle/meta/0000_snapshot.json": "{}",
    "apps/worker/wrangler.toml": 'name = "worker"\n[[env.production.d1_databases]]\n'
    'binding = "DB"\ndatabase_name = "todo-prod"\ndatabase_id = "b2"\n',
    "apps/static/wrangler.toml": 'name = "static"\n[site]\nbucket = "./public"\n',
    "services/jobs/wrangler.template.toml": 'name = "jobs"\n[[d1_databases]]\nbinding = "DB"\n'
    'database_name = "jobs"\ndatabase_id = "__DB_ID__"\n'
    'migrations_dir = "../../shared/migrations"\n',
    "services/jobs/wrangler.toml": 'name = "jobs"\n[[env.local.d1_databases]]\nbinding = "DB"\n'
    'database_name = "jobs"\ndatabase_id = "j1"\n'
    'migrations_dir = "../../shared/migrations"\n'
    '[[env.production.d1_databases]]\nbinding = "DB"\n'
    'database_name = "jobs"\ndatabase_id = "j2"\n'
    'migrations_dir = "../../shared/migrations"\n',
    # a directory used by two databases, with every kind of stray file and SQL shape
    "shared/migrations/0001_init.sql": "-- Migration number: 0001 \t 2025-07-11T10:00:00.000Z\r\n"
    "CREATE TABLE IF NOT EXISTS jobs (\r\n  id INTEGER PRIMARY "
    "KEY,\r\n  status TEXT NOT NULL CHECK (status IN ('active',"
    " 'dropped')),\r\n  meta TEXT DEFAULT (json_object())\r\n"
    ") STRICT;\r\n",
    "shared/migrations/0002_comments_only.sql": "-- the backfill is left to application code\n",
    "shared/migrations/0003_fts.sql": (
        "CREATE VIRTUAL TABLE IF NOT EXISTS jobs_fts USING fts5(status, content='jobs', "
        "content_rowid='id');\nCREATE TRIGGER IF NOT EXISTS jobs_ai AFTER INSERT ON jobs BEGIN\n"
        "  INSERT INTO jobs_fts(rowid, status) VALUES (new.id, new.status);\nEND;\n"
        "CREATE TRIGGER IF NOT EXISTS jobs_lock BEFORE DELETE ON jobs BEGIN\n"
        "  SELECT RAISE(ABORT, 'jobs are never deleted; mark them dropped');\nEND;\n"
        "CREATE INDEX IF NOT EXISTS jobs_live ON jobs(status) WHERE status <> 'dropped';\n"
        "CREATE VIEW IF NOT EXISTS active_jobs AS SELECT * FROM jobs WHERE status = 'active';\n"
    ),
    "shared/migrations/0004_data.sql": (
        "UPDATE jobs SET meta = json_set(meta, '$.kind', lower(json_extract(meta, '$.kind'))) "
        "WHERE status = 'active';\n"
        "UPDATE jobs SET meta = (SELECT json_group_array(lower(value)) FROM json_each(jobs.meta))"
        " WHERE json_type(meta) = 'array';\n"
        "INSERT OR IGNORE INTO jobs (id, status) SELECT id + 1000, status FROM jobs;\n"
    ),
    "shared/migrations/0005_columns.sql": "ALTER TABLE jobs RENAME COLUMN meta TO details;\n"
    "ALTER TABLE jobs ADD COLUMN note TEXT;\n"
    "ALTER TABLE jobs DROP COLUMN note;\n"
    "ALTER TABLE jobs ADD COLUMN created TEXT DEFAULT "
    "(strftime('%s','now'));\n",
    "shared/migrations/0008_a.sql": "SELECT 1;\n",
    "shared/migrations/0008_b.sql": "SELECT 2;\n",
    "shared/migrations/0008_c.sql": "SELECT 3;\n",
    "shared/migrations/0009_later.sql.future": "DROP TABLE jobs;\n",
    "shared/migrations/0005_columns.sql.rollback": "ALTER TABLE jobs DROP COLUMN created;\n",
    "shared/migrations/rollback_0004.sql.rollback": "SELECT 1;\n",
    "shared/migrations/list.json": "[]",
    "shared/migrations/README": "how to apply\n",
    # a pattern-based layout: one folder per migration
    "services/pattern/wrangler.toml": 'name = "pattern"\n[[d1_databases]]\nbinding = "DB"\n'
    'database_name = "p"\ndatabase_id = "p1"\n'
    'migrations_pattern = "*/migration.sql"\n',
    "services/pattern/migrations/0001_init/migration.sql": "CREATE TABLE IF NOT EXISTS a (x);\n",
    "services/pattern/migrations/0002_more/migration.sql": "ALTER TABLE a ADD COLUMN y;\n",
    "services/pattern/migrations/0002_more/snapshot.json": "{}",
    # base schema applied by hand: the directory cannot be replayed from empty
    "services/legacy/wrangler.toml": 'name = "legacy"\n[[d1_databases]]\nbinding = "DB"\n'
    'database_name = "l"\ndatabase_id = "l1"\n',
    "services/legacy/schema.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "services/legacy/migrations/0001_add_users_email.sql": "ALTER TABLE users ADD COLUMN email;\n",
    # invalid TOML 1.0 (multi-line inline table): reported, the rest still loads
    "services/broken/wrangler.toml": 'name = "broken"\nd1_databases = [ { binding = "DB",\n'
    '  database_name = "b" } ]\n',
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("realworld")
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root


def test_configs(repo):
    project = load_project(repo)
    assert [(p.path, p.line) for p in project.problems] == [("services/broken/wrangler.toml", 2)]
    frame = bindings_frame(project)
    web = frame[(frame.config == "apps/web/wrangler.jsonc")].set_index("environment")
    assert web.loc["production", "migrations_table"] == "__drizzle_migrations"
    assert web.loc["staging", "migrations_dir"] == "apps/web/drizzle"
    templates = frame[frame.template]
    assert set(templates.config) == {
        "apps/web/wrangler.example.json",
        "services/jobs/wrangler.template.toml",
    }
    assert templates.placeholder_id.all()
    jobs = frame[frame.config == "services/jobs/wrangler.toml"]
    assert set(jobs.migrations_dir) == {"shared/migrations"}
    assert set(jobs.environment) == {"local", "production"}
    worker = frame[frame.service == "worker"].iloc[0]
    assert (worker.has_migrations, worker.shared_with) == (False, "web")
    assert "static" in {c.service for c in project.configs}


def test_migration_dirs(repo):
    mdir = load_migration_dir(repo / "shared" / "migrations")
    assert [f.name for f in mdir.files] == [
        "0001_init.sql",
        "0002_comments_only.sql",
        "0003_fts.sql",
        "0004_data.sql",
        "0005_columns.sql",
        "0008_a.sql",
        "0008_b.sql",
        "0008_c.sql",
    ]
    assert sorted(p.name for p in mdir.other_files) == [
        "0005_columns.sql.rollback",
        "0009_later.sql.future",
        "README",
        "list.json",
        "rollback_0004.sql.rollback",
    ]
    assert mdir.files[1].statements == []
    fts = mdir.files[2].statements
    assert [s.kind for s in fts] == [
        "create_virtual_table",
        "create_trigger",
        "create_trigger",
        "create_index",
        "create_view",
    ]
    assert "partial" in fts[3].flags
    drizzle = load_migration_dir(repo / "apps" / "web" / "drizzle")
    assert [f.name for f in drizzle.files] == ["0000_init.sql", "0001_rebuild_lists.sql"]
    assert [s.kind for s in drizzle.files[1].statements] == [
        "pragma",
        "create_table",
        "insert_select",
        "drop_table",
        "rename_table",
        "pragma",
    ]


def test_replay_from_empty_and_lint(repo):
    history = load_history(repo, use_git=False)
    shared = schema_evolution(history.migration_dirs["jobs"])
    assert shared.failures().empty
    changes = shared.changes().set_index("file")
    assert changes.loc["0005_columns.sql", "columns_added"] == "jobs.created, jobs.details"
    legacy = schema_evolution(history.migration_dirs["legacy"]).failures()
    assert legacy.iloc[0].error == "no such table: users"
    findings = lint(history)
    rules = {(r.rule, r.file.rsplit("/", 1)[-1]) for r in findings.itertuples()}
    assert ("D1N008", "0001_rebuild_lists.sql") in rules  # drizzle rebuild cascades into items
    assert ("D1N009", "0001_rebuild_lists.sql") in rules
    assert ("D1N003", "0005_columns.sql") in rules
    assert ("D1N015", "0005_columns.sql") in rules
    assert ("D1N005", "0005_columns.sql") in rules
    assert ("D1N013", "0008_b.sql") in rules
    assert ("D1N018", "0001_add_users_email.sql") in rules
    assert ("D1N020", "_journal.json") in rules
    pattern = history.migration_dirs["pattern"]
    assert [f.name for f in pattern.files] == ["0001_init/migration.sql", "0002_more/migration.sql"]


def test_history_rewritten_after_deployment(repo, tmp_path):
    ledger = tmp_path / "jobs.production.csv"
    ledger.write_text(
        "id,name,applied_at\n1,0001_init.sql,2025-01-01 00:00:00\n"
        "2,0003_fts.sql,2025-01-02 00:00:00\n3,0004_backfill.sql,2025-01-03 00:00:00\n",
        encoding="utf-8",
    )
    history = load_history(repo, {("jobs", "production"): ledger}, use_git=False)
    status = status_frame(history).set_index("name")
    assert status.loc["0004_backfill.sql", "status"] == "applied, file missing"
    assert status.loc["0002_comments_only.sql", "status"] == "pending"
    assert status.loc["0002_comments_only.sql", "out_of_order"]
    assert status.loc["0004_data.sql", "status"] == "pending"


def test_failing_statement_stops_the_whole_file():
    from d1nb.engine import D1Engine

    with D1Engine() as engine:
        outcome = engine.apply_migration(
            "0001.sql", "CREATE TABLE a (x);\nINSERT INTO missing VALUES (1);\nCREATE TABLE b (x);"
        )
        assert not outcome.ok and outcome.error_line == 2
        assert [s.kind for s in outcome.statements] == ["create_table", "insert"]
        assert not engine.conn.table_exists(None, "a")


def test_statement_breakpoint_after_semicolon_on_same_line():
    statements = parse_statements("SELECT 1;--> statement-breakpoint\nSELECT 2;")
    assert [(s.sql, s.line) for s in statements] == [("SELECT 1;", 1), ("SELECT 2;", 2)]
