"""The migration files and configs of the bundled sample monorepo (written by `d1nb.sample.generate`).

A fictional music-practice product with three services. The files carry, on purpose, the
hazards real D1 projects have; data/sample/README.md lists them with the expected findings.
"""

from __future__ import annotations

from textwrap import dedent


def _sql(text: str) -> str:
    return dedent(text).lstrip("\n")


API_CONFIG = _sql("""
    # Practice API: users, synced client data, repertoire and goals.
    name = "practice-api"
    main = "src/index.ts"
    compatibility_date = "2025-01-06"

    # No top-level D1 binding: every environment names its own database.
    [[env.staging.d1_databases]]
    binding = "DB"
    database_name = "practice-api-staging"
    database_id = "5f0c7a52-8c1e-4f53-9a43-1d2b6e7f9a01"

    [[env.production.d1_databases]]
    binding = "DB"
    database_name = "practice-api-production"
    database_id = "b7e41d09-2f6a-4c8b-8e15-93c0d4a2f6b2"
""")

API_EXAMPLE_CONFIG = _sql("""
    # Copy to wrangler.toml and fill in your own database ids.
    name = "practice-api"
    main = "src/index.ts"
    compatibility_date = "2025-01-06"

    [[env.staging.d1_databases]]
    binding = "DB"
    database_name = "practice-api-staging"
    database_id = "__DB_ID__"
""")

SCORES_CONFIG = _sql("""
    // Scores service: sheet-music library, collections and analytics.
    {
      "name": "scores",
      "main": "src/worker.ts",
      "compatibility_date": "2025-01-06",
      // Local development database (wrangler dev, no --env).
      "d1_databases": [
        {
          "binding": "SCORES_DB",
          "database_name": "scores-dev",
          "database_id": "local-db",
          "migrations_dir": "./migrations",
        },
      ],
      "env": {
        "staging": {
          "d1_databases": [
            {
              "binding": "SCORES_DB",
              "database_name": "scores-staging",
              "database_id": "0d2f4a6c-7e81-4b93-a5c6-d7e8f9012345",
              "migrations_dir": "./migrations",
            },
          ],
        },
        "production": {
          "d1_databases": [
            {
              "binding": "SCORES_DB",
              "database_name": "scores-production",
              "database_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f12345678",
              "migrations_dir": "./migrations",
            },
          ],
        },
      },
    }
""")

REPORTS_CRON_CONFIG = _sql("""
    # Nightly report job: reads the scores database, owns no migrations.
    name = "reports-cron"
    main = "src/cron.ts"
    compatibility_date = "2025-01-06"

    [triggers]
    crons = ["15 3 * * *"]

    [[env.production.d1_databases]]
    binding = "SCORES_DB"
    database_name = "scores-production"
    database_id = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f12345678"
""")

DICTIONARY_CONFIG = _sql("""
    name = "dictionary"
    main = "src/index.ts"
    compatibility_date = "2025-01-06"

    [[d1_databases]]
    binding = "DICT"
    database_name = "dictionary-dev"
    database_id = "local-db"
    migrations_dir = "db/migrations"
    migrations_table = "schema_migrations"

    [[env.staging.d1_databases]]
    binding = "DICT"
    database_name = "dictionary-staging"
    database_id = "3c4d5e6f-7081-4923-a4b5-c6d7e8f90123"
    migrations_dir = "db/migrations"
    migrations_table = "schema_migrations"

    [[env.production.d1_databases]]
    binding = "DICT"
    database_name = "dictionary-production"
    database_id = "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7"
    migrations_dir = "db/migrations"
    migrations_table = "schema_migrations"
""")

API_MIGRATIONS: dict[str, str] = {
    "0001_create_users.sql": _sql("""
        -- Migration number: 0001 \t 2025-01-06T09:12:44.000Z
        -- Users of the practice app. Ids are opaque strings from the auth provider.
        CREATE TABLE IF NOT EXISTS users (
          id TEXT PRIMARY KEY,
          email TEXT NOT NULL UNIQUE,
          display_name TEXT,
          avatar_thumb BLOB,
          created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        );
    """),
    "0002_create_sync_data.sql": _sql("""
        -- Migration number: 0002 \t 2025-01-13T10:02:11.000Z
        -- Client data synced from the apps, one JSON document per entity.
        CREATE TABLE IF NOT EXISTS sync_data (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          entity_type TEXT NOT NULL,
          entity_id TEXT NOT NULL,
          data TEXT NOT NULL DEFAULT (json_object()),
          updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS idx_sync_data_entity
          ON sync_data(user_id, entity_type, entity_id);
    """),
    "0003_create_repertoire.sql": _sql("""
        -- Migration number: 0003 \t 2025-01-20T08:45:00.000Z
        -- Written on Windows: this file has CRLF line endings.
        CREATE TABLE IF NOT EXISTS repertoire (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          piece TEXT NOT NULL,
          composer TEXT,
          status TEXT NOT NULL DEFAULT 'learning' CHECK (status IN ('learning', 'polished', 'dropped')),
          notes TEXT
        );
    """).replace("\n", "\r\n"),
    "0004_create_goals.sql": _sql("""
        -- Migration number: 0004 \t 2025-01-27T11:30:00.000Z
        CREATE TABLE IF NOT EXISTS goals (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          title TEXT NOT NULL,
          status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'done')),
          target_minutes INTEGER,
          created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_goals_user ON goals(user_id);
    """),
    "0005_create_goal_progress.sql": _sql("""
        -- Migration number: 0005 \t 2025-02-03T09:00:00.000Z
        -- One row per practice session logged against a goal.
        CREATE TABLE IF NOT EXISTS goal_progress (
          id INTEGER PRIMARY KEY,
          goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
          minutes INTEGER NOT NULL,
          note TEXT,
          logged_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_goal_progress_goal ON goal_progress(goal_id);
    """),
    "0006_goal_progress_immutable.sql": _sql("""
        -- Migration number: 0006 \t 2025-02-10T14:20:00.000Z
        -- Progress entries are an audit trail: the time they were logged never changes.
        CREATE TRIGGER IF NOT EXISTS goal_progress_logged_at_immutable
        BEFORE UPDATE OF logged_at ON goal_progress
        FOR EACH ROW
        WHEN NEW.logged_at IS NOT OLD.logged_at
        BEGIN
          SELECT RAISE(ABORT, 'goal_progress.logged_at is immutable; log a new entry instead');
        END;
    """),
    # Edited after it was applied: the partial index was added to the file later, so the
    # databases that ran the original file do not have it (see API_0007_AS_APPLIED).
    "0007_sync_data_soft_delete.sql": _sql("""
        -- Migration number: 0007 \t 2025-02-17T10:00:00.000Z
        ALTER TABLE sync_data ADD COLUMN deleted_at TEXT;
        CREATE INDEX IF NOT EXISTS idx_sync_data_live ON sync_data(user_id) WHERE deleted_at IS NULL;
    """),
    "0008_add_goals_priority.sql": _sql("""
        -- Migration number: 0008 \t 2025-02-24T09:30:00.000Z
        ALTER TABLE goals ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    """),
    "0009_repertoire_status_v2.sql": _sql("""
        -- Migration number: 0009 \t 2025-03-03T09:00:00.000Z
        -- 'polished' becomes 'performing' and 'dropped' becomes 'archived'. SQLite cannot alter a
        -- CHECK constraint, so the new enum lives in a new column; the app reads status_v2 now.
        ALTER TABLE repertoire ADD COLUMN status_v2 TEXT
          CHECK (status_v2 IN ('learning', 'performing', 'archived'));
        UPDATE repertoire SET status_v2 = CASE status
          WHEN 'polished' THEN 'performing'
          WHEN 'dropped' THEN 'archived'
          ELSE 'learning'
        END;
    """),
    "0010_lowercase_sync_moods.sql": _sql("""
        -- Migration number: 0010 \t 2025-03-10T09:00:00.000Z
        -- Moods were stored as display names ('Happy'); the apps now expect lower case.
        UPDATE sync_data
        SET data = json_set(data, '$.mood', lower(json_extract(data, '$.mood')))
        WHERE entity_type = 'logbook_entry';
    """),
    "0011_goals_add_category.sql": _sql("""
        -- Migration number: 0011 \t 2025-03-17T09:00:00.000Z
        -- Add a category and allow 'paused' goals. SQLite cannot change a CHECK constraint in
        -- place, so the table is rebuilt. Foreign keys are switched off around the rebuild.
        PRAGMA foreign_keys=OFF;
        CREATE TABLE goals_new (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          title TEXT NOT NULL,
          status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'done')),
          category TEXT NOT NULL DEFAULT 'general',
          target_minutes INTEGER,
          priority INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL
        );
        INSERT INTO goals_new (id, user_id, title, status, target_minutes, priority, created_at)
          SELECT id, user_id, title, status, target_minutes, priority, created_at FROM goals;
        DROP TABLE goals;
        ALTER TABLE goals_new RENAME TO goals;
        CREATE INDEX IF NOT EXISTS idx_goals_user ON goals(user_id);
        PRAGMA foreign_keys=ON;
    """),
}

API_0007_AS_APPLIED = _sql("""
    -- Migration number: 0007 \t 2025-02-17T10:00:00.000Z
    ALTER TABLE sync_data ADD COLUMN deleted_at TEXT;
""")

CANONICAL_COMPOSERS: dict[str, tuple[str, ...]] = {
    "Johann Sebastian Bach": ("Bach", "J.S. Bach", "J. S. Bach", "JS Bach", "bach"),
    "Ludwig van Beethoven": ("Beethoven", "L. v. Beethoven", "beethoven"),
    "Wolfgang Amadeus Mozart": ("Mozart", "W.A. Mozart", "W. A. Mozart"),
    "Frédéric Chopin": ("Chopin", "F. Chopin", "Frederic Chopin"),
    "Antonín Dvořák": ("Dvorak", "Dvořák", "A. Dvorak"),
    "Pyotr Ilyich Tchaikovsky": ("Tchaikovsky", "Tschaikowsky", "P. I. Tchaikovsky"),
    "Claude Debussy": ("Debussy", "C. Debussy"),
    "Franz Schubert": ("Schubert", "F. Schubert"),
    "Robert Schumann": ("Schumann", "R. Schumann"),
    "Johannes Brahms": ("Brahms", "J. Brahms"),
    "Erik Satie": ("Satie", "E. Satie"),
    "Ryuichi Sakamoto": ("Sakamoto", "坂本龍一"),
}
UNTOUCHED_COMPOSERS = (
    "Arvo Pärt",
    "Philip Glass",
    "Clara Schumann",
    "Lili Boulanger",
    "Traditional",
)


def _canonicalise_sql() -> str:
    lines = [
        "-- Migration number: 0012 \t 2025-03-12T08:00:00.000Z",
        "-- Composer names came from free-text imports; canonicalise the common spellings.",
    ]
    for canonical, variants in CANONICAL_COMPOSERS.items():
        quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in variants)
        lines.append(f"UPDATE scores SET composer = '{canonical}' WHERE composer IN ({quoted});")
    return "\n".join(lines) + "\n"


SCORES_MIGRATIONS: dict[str, str] = {
    "0000_create_scores.sql": _sql("""
        CREATE TABLE scores (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL,
          title TEXT NOT NULL,
          composer TEXT,
          instrument TEXT,
          difficulty INTEGER CHECK (difficulty BETWEEN 1 AND 10),
          created_at TEXT NOT NULL
        );
    """),
    "0001_create_collections.sql": _sql("""
        CREATE TABLE collections (
          id INTEGER PRIMARY KEY,
          user_id TEXT NOT NULL,
          name TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
    """),
    "0002_create_collection_scores.sql": _sql("""
        CREATE TABLE collection_scores (
          collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
          score_id INTEGER NOT NULL REFERENCES scores(id) ON DELETE CASCADE,
          position INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (collection_id, score_id)
        );
    """),
    "0003_scores_indexes.sql": _sql("""
        CREATE INDEX idx_scores_user ON scores(user_id);
        CREATE INDEX idx_scores_composer ON scores(composer);
    """),
    "0004_create_analytics_events.sql": _sql("""
        CREATE TABLE IF NOT EXISTS analytics_events (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          score_id INTEGER REFERENCES scores(id) ON DELETE SET NULL,
          event TEXT NOT NULL,
          payload TEXT DEFAULT (json_object()),
          created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_analytics_events_created ON analytics_events(created_at);
    """),
    "0005_add_scores_page_count.sql": "ALTER TABLE scores ADD COLUMN page_count INTEGER;\n",
    "0006_create_composer_view.sql": _sql("""
        CREATE VIEW IF NOT EXISTS scores_by_composer AS
          SELECT composer, count(*) AS scores FROM scores GROUP BY composer;
    """),
    "0007_create_score_tags.sql": _sql("""
        CREATE TABLE `score_tags` (
        \t`score_id` integer NOT NULL,
        \t`tag` text NOT NULL,
        \tPRIMARY KEY(`score_id`, `tag`),
        \tFOREIGN KEY (`score_id`) REFERENCES `scores`(`id`) ON UPDATE no action ON DELETE cascade
        );
        --> statement-breakpoint
        CREATE INDEX `score_tags_tag_idx` ON `score_tags` (`tag`);--> statement-breakpoint
    """),
    "0008_add_scores_visibility.sql": _sql("""
        ALTER TABLE scores ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
    """),
    "0008_create_score_imports.sql": _sql("""
        -- Two branches both took number 0008; wrangler orders them by name.
        CREATE TABLE IF NOT EXISTS score_imports (
          id INTEGER PRIMARY KEY,
          source TEXT NOT NULL,
          external_id TEXT NOT NULL,
          score_id INTEGER REFERENCES scores(id) ON DELETE CASCADE,
          imported_at TEXT NOT NULL,
          UNIQUE (source, external_id)
        );
    """),
    "0009_create_analytics_daily.sql": _sql("""
        CREATE TABLE IF NOT EXISTS analytics_daily (
          day TEXT NOT NULL,
          event TEXT NOT NULL,
          n INTEGER NOT NULL,
          PRIMARY KEY (day, event)
        ) STRICT;
    """),
    "0010_add_collections_description.sql": "ALTER TABLE collections ADD COLUMN description TEXT;\n",
    "0011_add_scores_normalized_id.sql": _sql("""
        ALTER TABLE scores ADD COLUMN normalized_id TEXT;
        CREATE INDEX IF NOT EXISTS idx_scores_normalized_id ON scores(normalized_id);
    """),
    "0012_canonicalise_composers.sql": _canonicalise_sql(),
    "0013_backfill_normalized_id.sql": _sql("""
        -- One statement over the whole table: fine on staging, slow on production's size.
        UPDATE scores
        SET normalized_id = lower(trim(coalesce(composer, 'unknown'))) || '/' || lower(trim(title))
        WHERE normalized_id IS NULL;
    """),
    "0014_rename_scores_instrument.sql": "ALTER TABLE scores RENAME COLUMN instrument TO instrumentation;\n",
    "0015_drop_analytics_payload.sql": _sql("""
        -- Payloads moved to the analytics pipeline.
        ALTER TABLE analytics_events DROP COLUMN payload;
    """),
    "0016_add_scores_updated_at.sql": _sql("""
        -- Passes on an empty database (wrangler dev, CI); fails on any populated table.
        ALTER TABLE scores ADD COLUMN updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    """),
}

DICTIONARY_MIGRATIONS: dict[str, str] = {
    "0001_create_terms.sql": _sql("""
        CREATE TABLE IF NOT EXISTS terms (
          id INTEGER PRIMARY KEY,
          term TEXT NOT NULL UNIQUE,
          definition TEXT NOT NULL,
          created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        );
    """),
    "0002_create_embeddings.sql": _sql("""
        CREATE TABLE IF NOT EXISTS embeddings (
          term_id INTEGER PRIMARY KEY REFERENCES terms(id) ON DELETE CASCADE,
          model TEXT NOT NULL,
          vector BLOB NOT NULL
        );
    """),
    "0003_create_lookup_queue.sql": _sql("""
        CREATE TABLE IF NOT EXISTS lookup_queue (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          term TEXT NOT NULL,
          status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'processing', 'done', 'failed')),
          legacy_source TEXT,
          enqueued_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        );
        CREATE INDEX IF NOT EXISTS idx_lookup_queue_status ON lookup_queue(status)
          WHERE status IN ('queued', 'processing');
    """),
    "0005_create_terms_fts.sql": _sql("""
        -- Full-text search over terms, kept in sync by triggers. Note: virtual tables make
        -- `wrangler d1 export` fail, so this database is exported with --table.
        CREATE VIRTUAL TABLE IF NOT EXISTS terms_fts USING fts5(term, definition, content='terms', content_rowid='id');
        CREATE TRIGGER IF NOT EXISTS terms_ai AFTER INSERT ON terms BEGIN
          INSERT INTO terms_fts(rowid, term, definition) VALUES (new.id, new.term, new.definition);
        END;
        CREATE TRIGGER IF NOT EXISTS terms_ad AFTER DELETE ON terms BEGIN
          INSERT INTO terms_fts(terms_fts, rowid, term, definition)
            VALUES ('delete', old.id, old.term, old.definition);
        END;
        CREATE TRIGGER IF NOT EXISTS terms_au AFTER UPDATE ON terms BEGIN
          INSERT INTO terms_fts(terms_fts, rowid, term, definition)
            VALUES ('delete', old.id, old.term, old.definition);
          INSERT INTO terms_fts(rowid, term, definition) VALUES (new.id, new.term, new.definition);
        END;
    """),
    # Renamed after it was applied: the ledgers still say 0006_add_queue_retries.sql.
    "0006_add_queue_attempts.sql": _sql("""
        ALTER TABLE lookup_queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    """),
    "0007_create_analytics.sql": _sql("""
        CREATE TABLE IF NOT EXISTS lookup_analytics (
          day TEXT NOT NULL,
          term TEXT NOT NULL,
          lookups INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (day, term)
        );
    """),
    "0008_add_terms_language.sql": _sql("""
        ALTER TABLE terms ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
        CREATE INDEX IF NOT EXISTS idx_terms_language ON terms(language);
    """),
    "0009_drop_queue_legacy_source.sql": _sql("""
        ALTER TABLE lookup_queue DROP COLUMN legacy_source;
    """),
}

DICTIONARY_OTHER_FILES: dict[str, str] = {
    "0004_drop_legacy_terms.sql.rollback": "-- Restores the legacy table dropped by a migration that was later removed.\n"
    "CREATE TABLE legacy_terms (id INTEGER PRIMARY KEY, term TEXT);\n",
    "0010_split_terms.sql.future": "-- Not ready: splits definitions into senses.\n"
    "CREATE TABLE term_senses (term_id INTEGER, sense TEXT);\n",
    "README.md": "# Dictionary migrations\n\nApplied with `wrangler d1 migrations apply DICT --env <env>`.\n",
}

ROLLBACK_FILES: dict[str, dict[str, str]] = {
    "api": {
        "rollback/0011_goals_add_category.sql": "-- Undo 0011: drop the new column again.\n"
        "ALTER TABLE goals DROP COLUMN category;\n",
    },
    "scores": {
        "0015_drop_analytics_payload.sql.rollback": "-- Undo 0015: bring the payload column back.\n"
        "ALTER TABLE analytics_events ADD COLUMN payload TEXT;\n",
    },
}
"""Hand-written compensating migrations, as teams keep them: each looks right and loses data
(notebook 05 and `d1nb rollback` count what)."""
