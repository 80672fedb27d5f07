"""The realworld-patterns fixture project (shared/realworld-patterns.md, written here, not
copied): used by tests/test_realworld.py and by the compatibility suite against wrangler."""

from __future__ import annotations

from pathlib import Path

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
    'migrations_dir = "migrations"\nmigrations_pattern = "migrations/*/migration.sql"\n',
    "services/pattern/migrations/0001_init/migration.sql": "CREATE TABLE IF NOT EXISTS a (x);\n",
    "services/pattern/migrations/0002_more/migration.sql": "ALTER TABLE a ADD COLUMN y;\n",
    "services/pattern/migrations/0002_more/snapshot.json": "{}",
    # base schema applied by hand: the directory cannot be replayed from empty
    "services/legacy/wrangler.toml": 'name = "legacy"\n[[d1_databases]]\nbinding = "DB"\n'
    'database_name = "l"\ndatabase_id = "l1"\n',
    "services/legacy/schema.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "services/legacy/migrations/0001_add_users_email.sql": "ALTER TABLE users ADD COLUMN email;\n",
    # a bookshop written fresh: cascades three levels deep, SET NULL and SET DEFAULT children,
    # a CHECK with a default that populated tables accept, a backfill with a comment before its
    # WHERE, and names holding quotes
    "services/bookshop/wrangler.jsonc": """{
  /* one database, bound at the top level only */
  "name": "bookshop",
  "d1_databases": [
    {"binding": "SHOP", "database_name": "shop",
     "database_id": "5b0c1e55-0000-4000-8000-000000000001"},
  ],
}""",
    "services/bookshop/migrations/0001_catalogue.sql": (
        "-- authors write books; readers review them and borrow them\n"
        "CREATE TABLE IF NOT EXISTS authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
        "CREATE TABLE IF NOT EXISTS books (\n  id INTEGER PRIMARY KEY,\n"
        "  author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,\n"
        "  title TEXT NOT NULL -- as printed\n);\n"
        "CREATE TABLE IF NOT EXISTS reviews (id INTEGER PRIMARY KEY, book_id INTEGER "
        "REFERENCES books(id) ON DELETE CASCADE, stars INTEGER);\n"
        "CREATE TABLE IF NOT EXISTS loans (id INTEGER PRIMARY KEY, book_id INTEGER "
        "REFERENCES books(id) ON DELETE SET NULL);\n"
        "CREATE TABLE IF NOT EXISTS awards (id INTEGER PRIMARY KEY, review_id INTEGER "
        "DEFAULT NULL REFERENCES reviews(id) ON DELETE SET DEFAULT);\n"
    ),
    "services/bookshop/migrations/0002_seed_catalogue.sql": (
        "INSERT INTO authors (id, name) VALUES (1, 'Ada'), (2, 'Bo'), (3, 'Cy');\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)\n"
        "INSERT INTO books (id, author_id, title) SELECT i, 1 + i % 3, 'book ' || i FROM n;\n"
        "INSERT INTO reviews (book_id, stars) SELECT id, 3 FROM books;\n"
        "INSERT INTO reviews (book_id, stars) SELECT id, 5 FROM books;\n"
        "INSERT INTO loans (book_id) SELECT id FROM books WHERE id <= 10;\n"
        "INSERT INTO awards (review_id) SELECT id FROM reviews WHERE id <= 5;\n"
    ),
    "services/bookshop/migrations/0003_author_status.sql": (
        "/* wrangler applies this to a populated table: the default satisfies the CHECK */\n"
        "ALTER TABLE authors ADD COLUMN status TEXT NOT NULL DEFAULT 'active' "
        "CHECK (status IN ('active', 'retired'));\n"
    ),
    "services/bookshop/migrations/0004_shout_titles.sql": (
        "UPDATE books SET title = upper(title) -- normalise\nWHERE author_id = 2;\n"
    ),
    "services/bookshop/migrations/0005_rebuild_authors.sql": (
        "CREATE TABLE IF NOT EXISTS authors_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "status TEXT NOT NULL DEFAULT 'active', born INTEGER);\n"
        "INSERT INTO authors_new (id, name, status) SELECT id, name, status FROM authors;\n"
        "DROP TABLE authors;\n"
        "ALTER TABLE authors_new RENAME TO authors;\n"
    ),
    "services/bookshop/migrations/0006_quoted_names.sql": (
        'CREATE TABLE IF NOT EXISTS "shelf ""A""" (id INTEGER PRIMARY KEY, "the ""label""" TEXT);\n'
        'INSERT INTO "shelf ""A""" ("the ""label""") VALUES (\'x\'), (\'y\');\n'
        'UPDATE "shelf ""A""" SET "the ""label""" = upper("the ""label""") WHERE id = 1;\n'
    ),
    # a service that commits only a template config (as many public repositories do)
    "apps/guestbook/wrangler.example.toml": 'name = "guestbook"\n[[d1_databases]]\n'
    'binding = "GB"\ndatabase_name = "guestbook"\ndatabase_id = "<your-database-id>"\n',
    "apps/guestbook/migrations/0001_entries.sql": "CREATE TABLE entries (id INTEGER PRIMARY KEY, "
    "author TEXT NOT NULL, body TEXT);\n",
    # an environment whose ledger is empty: a new database, or a first migration that failed
    "ledgers/library.production.json": '[{"results": [], "success": true, "meta": {}}]',
    # production's ledger as `wrangler d1 migrations list` prints it: the files still to apply
    "ledgers/bookshop.production.txt": "\n \u26c5\ufe0f wrangler 4.86.0\n"
    + "\u2500" * 18
    + "\nResource location: remote\n\nMigrations to be applied:\n"
    "\u250c\u2500\u2500\u2500\u2510\n\u2502 Name                     \u2502\n"
    "\u251c\u2500\u2500\u2500\u2524\n\u2502 0005_rebuild_authors.sql \u2502\n"
    "\u251c\u2500\u2500\u2500\u2524\n\u2502 0006_quoted_names.sql    \u2502\n"
    "\u2514\u2500\u2500\u2500\u2518\n",
    # a library whose rebuild of a parent with NO ACTION children fails on D1, and a later
    # file that then fails only because of it
    "services/library/wrangler.toml": 'name = "library"\n[[env.production.d1_databases]]\n'
    'binding = "LIB"\ndatabase_name = "library"\ndatabase_id = "l1b"\n',
    "services/library/migrations/0001_publishers.sql": (
        "CREATE TABLE IF NOT EXISTS publishers (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE IF NOT EXISTS editions (id INTEGER PRIMARY KEY, publisher_id INTEGER "
        "REFERENCES publishers(id));\n"
        "INSERT INTO publishers (id, name) VALUES (1, 'North'), (2, 'South');\n"
        "INSERT INTO editions (publisher_id) VALUES (1), (2), (2);\n"
    ),
    "services/library/migrations/0002_rebuild_publishers.sql": (
        "PRAGMA defer_foreign_keys = on;\n"
        "CREATE TABLE IF NOT EXISTS publishers_new (id INTEGER PRIMARY KEY, name TEXT, "
        "country TEXT);\n"
        "INSERT INTO publishers_new (id, name) SELECT id, name FROM publishers;\n"
        "DROP TABLE publishers;\n"
        "ALTER TABLE publishers_new RENAME TO publishers;\n"
    ),
    "services/library/migrations/0003_country_index.sql": (
        "CREATE INDEX IF NOT EXISTS publishers_country ON publishers(country);\n"
    ),
    # invalid TOML 1.0 (multi-line inline table): reported, the rest still loads
    "services/broken/wrangler.toml": 'name = "broken"\nd1_databases = [ { binding = "DB",\n'
    '  database_name = "b" } ]\n',
}


def write_realworld(root: Path) -> Path:
    """Write the fixture project under `root` (bytes as given: CRLF files stay CRLF)."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root
