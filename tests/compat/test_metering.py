"""d1nb's metering estimates against D1's own counters (Miniflare runs workerd's patched SQLite)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from d1nb.analyses.replay import replay
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.snapshots import load_snapshot

if TYPE_CHECKING:
    import pandas as pd

# ALTER TABLE RENAME COLUMN / DROP COLUMN rewrite sqlite_master through SQLite's internal SQL;
# d1nb approximates those few rows (docs/metering.md). RENAME TO is fitted (reads and writes).
APPROXIMATE_WRITES = {"rename_column", "drop_column"}
APPROXIMATE_READS = {"rename_column", "drop_column"}


@pytest.mark.parametrize(
    ("service", "names"),
    [
        (
            "api",
            [
                "0009_repertoire_status_v2.sql",
                "0010_lowercase_sync_moods.sql",
                "0011_goals_add_category.sql",
            ],
        ),
        (
            "scores",
            [
                "0012_canonicalise_composers.sql",
                "0013_backfill_normalized_id.sql",
                "0014_rename_scores_instrument.sql",
                "0015_drop_analytics_payload.sql",
            ],
        ),
    ],
)
def test_estimates_match_miniflare(sample, tmp_path, service, names):
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / service / "migrations")
    result = replay(snapshot, mdir, names)
    assert result.ok
    compared = result.exact_metering()
    assert compared["d1_error"].isna().all()
    exact = compared[~compared["kind"].isin(APPROXIMATE_WRITES)]
    assert exact["rows_written"].tolist() == exact["d1_rows_written"].tolist()
    approx = compared[compared["kind"].isin(APPROXIMATE_WRITES)]
    for est, real in zip(approx["rows_written"], approx["d1_rows_written"], strict=True):
        assert abs(est - real) <= max(5, 0.1 * real)
    # reads per statement, not per file: a file's 10% hid a 250-read miss on one statement
    # (a CHECK's IN list); ALTER TABLE's schema rewrites stay approximate (docs/metering.md)
    for row in compared.itertuples():
        tolerance = 0.2 if row.kind in APPROXIMATE_READS else 0.01
        assert abs(row.rows_read - row.d1_rows_read) <= tolerance * row.d1_rows_read + 2, (
            row.file,
            row.line,
            row.rows_read,
            row.d1_rows_read,
        )


WRITES_ELSEWHERE = {
    "0001_schema.sql": "CREATE TABLE owners (id TEXT PRIMARY KEY, email TEXT UNIQUE);\n"
    "CREATE TABLE pets (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT REFERENCES "
    "owners(id) ON UPDATE CASCADE ON DELETE SET NULL, name TEXT, state TEXT);\n"
    "CREATE INDEX pets_state ON pets(owner, state);\n"
    "CREATE TABLE log (pet INTEGER, what TEXT, PRIMARY KEY (pet, what)) WITHOUT ROWID;\n"
    "CREATE TRIGGER pets_moved AFTER UPDATE OF state ON pets WHEN NEW.state = 'gone'\n"
    "BEGIN INSERT OR IGNORE INTO log VALUES (NEW.id, 'gone; for good'); END;\n",
    "0002_data.sql": "INSERT INTO owners WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT "
    "v + 1 FROM n WHERE v < 40) SELECT 'o' || v, 'o' || v || '@x' FROM n;\n"
    "INSERT INTO pets (owner, name, state) WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL "
    "SELECT v + 1 FROM n WHERE v < 400) SELECT 'o' || (v % 40 + 1), 'p' || v, 'home' FROM n;\n",
    "0003_changes.sql": "UPDATE pets SET state = 'gone' WHERE id % 3 = 0;\n"
    "DELETE FROM owners WHERE rowid % 5 = 0;\n"
    "CREATE VIEW gone AS SELECT * FROM log;\n",
    "0004_in_place.sql": "CREATE TABLE tags (name TEXT PRIMARY KEY, uses INTEGER, label TEXT "
    "UNIQUE) WITHOUT ROWID;\n"
    "INSERT INTO tags (name, uses, label) SELECT 't' || (id % 7), 1, 'L' || (id % 7) FROM pets "
    "WHERE true ON CONFLICT (name) DO UPDATE SET uses = uses + 1;\n"
    "INSERT OR REPLACE INTO owners (id, email) SELECT id, upper(email) FROM owners "
    "WHERE id LIKE 'o1%';\n"
    "CREATE INDEX pets_gone ON pets(name) WHERE state = 'gone';\n"
    "UPDATE owners SET id = id || '-x' WHERE rowid % 7 = 0;\n"  # pets follow: ON UPDATE CASCADE
    # one table: a whole ANALYZE would also analyse the replay's ledger, which the meter lacks
    "ANALYZE pets;\n",
}


def test_writes_by_triggers_actions_and_automatic_indexes_match_miniflare(tmp_path):
    """A trigger's inserts, SET NULL, and the sqlite_master rows of automatic indexes, views
    and triggers are counted as D1 counts them (found on a stranger's project: a trigger's
    writes and a UNIQUE column's index went uncounted); so are an upsert into a WITHOUT ROWID
    table (its key is no index), INSERT OR REPLACE, a partial index, ANALYZE and the index
    entries ON UPDATE CASCADE rewrites (found on another: the first two were counted twice,
    the next two as every row and as nothing, the last not at all)."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, sql in WRITES_ELSEWHERE.items():
        (folder / name).write_text(sql)
    empty = tmp_path / "empty.sql"
    # sqlite_sequence exists before any migration, as `migrations apply` leaves it
    empty.write_text("CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT);\n")
    snapshot = load_snapshot(empty, tmp_path / "work")
    result = replay(snapshot, load_migration_dir(folder), list(WRITES_ELSEWHERE))
    assert result.ok
    compared = result.exact_metering()
    assert compared["d1_error"].isna().all()
    assert compared["rows_written"].tolist() == compared["d1_rows_written"].tolist()


CASCADES = {
    "0001_schema.sql": "CREATE TABLE observers (id INTEGER PRIMARY KEY, handle TEXT);\n"
    "CREATE TABLE sightings (id INTEGER PRIMARY KEY AUTOINCREMENT, observer_id INTEGER "
    "REFERENCES observers(id) ON DELETE CASCADE, species TEXT);\n"
    "CREATE INDEX sightings_observer ON sightings(observer_id);\n"
    "CREATE TABLE photos (sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE "
    "CASCADE, n INTEGER NOT NULL, bytes BLOB, PRIMARY KEY (sighting_id, n)) WITHOUT ROWID;\n"
    "CREATE TABLE flagged (sighting_id INTEGER PRIMARY KEY REFERENCES sightings(id), why TEXT);\n"
    "CREATE VIRTUAL TABLE sightings_fts USING fts5(species, content='sightings', "
    "content_rowid='id');\n"
    "CREATE TRIGGER sightings_ad AFTER DELETE ON sightings BEGIN INSERT INTO "
    "sightings_fts(sightings_fts, rowid, species) VALUES ('delete', old.id, old.species); END;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
    "INSERT INTO observers SELECT i, 'o' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
    "INSERT INTO sightings (observer_id, species) SELECT 1 + i % 50, 'owl ' || i FROM n;\n"
    "INSERT INTO sightings_fts(sightings_fts) VALUES ('rebuild');\n"
    "INSERT INTO photos SELECT id, 1, x'b9ff00' FROM sightings WHERE id % 3 = 0;\n"
    "INSERT INTO photos SELECT id, 2, NULL FROM sightings WHERE id % 6 = 0;\n",
    "0003_cascades.sql": "DELETE FROM observers WHERE id > 40;\n"
    "INSERT INTO photos VALUES (1, 9, x'00ff');\n"
    "DELETE FROM sightings WHERE id > 300;\n"
    "DROP TABLE flagged;\n"
    "DROP TABLE observers;\n",
}


def test_cascade_reads_and_virtual_table_writes_match_miniflare(tmp_path):
    """Deletes that cascade to a child keyed by its index, to a WITHOUT ROWID child found by
    its own key and past a NO ACTION child found by rowid, with an FTS5 trigger on the way
    (found on a stranger's project: a DROP TABLE read 2,005,187 rows by the model and 17,686
    in D1, its trigger's 2,000 writes uncounted; a BLOB literal stopped the replay). Writes
    are equal; reads within 1% but for the DELETE past two children, 17% over (docs/metering.md).
    FTS5's own shadow-table rows are not D1's."""
    from d1nb.engine.miniflare import run_batches

    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, sql in CASCADES.items():
        (folder / name).write_text(sql)
    empty = tmp_path / "empty.sql"
    empty.write_text("CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT);\n")
    mdir = load_migration_dir(folder)
    result = replay(load_snapshot(empty, tmp_path / "work"), mdir, list(CASCADES))
    assert result.ok
    *setup, target = mdir.files
    exact = run_batches(
        [["CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT)"]]
        + [[s.sql for s in f.statements] for f in setup],
        [[s.sql for s in target.statements]],
    )[0]
    mine = result.statements[result.statements["file"] == target.name]
    assert len(mine) == len(exact) == 5
    for est, d1_row in zip(mine.itertuples(), exact, strict=True):
        assert d1_row["error"] is None
        assert est.rows_written == d1_row["rows_written"], est.sql
        assert abs(est.rows_read - d1_row["rows_read"]) <= 0.2 * d1_row["rows_read"] + 2, (
            est.sql,
            est.rows_read,
            d1_row["rows_read"],
        )


SCANS_AND_SORTS = {
    "0001_schema.sql": "CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT);\n"
    "CREATE TABLE txn (id INTEGER PRIMARY KEY, acct_id INTEGER REFERENCES acct(id) "
    "ON DELETE CASCADE, cents INTEGER);\n"
    "CREATE TABLE txn_tag (id INTEGER PRIMARY KEY, txn_id INTEGER REFERENCES txn(id) "
    "ON DELETE CASCADE, tag TEXT);\n"
    "CREATE TABLE note (id INTEGER PRIMARY KEY, acct_id INTEGER REFERENCES acct ON DELETE "
    "SET NULL, body TEXT);\n"
    "CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT UNIQUE);\n"
    "CREATE TABLE ref (id INTEGER PRIMARY KEY, acct_id INTEGER REFERENCES acct(id), "
    "code TEXT REFERENCES codes(code));\n"
    "CREATE TABLE doc (id INTEGER PRIMARY KEY, owner INTEGER, state TEXT, deleted_at TEXT);\n"
    "CREATE INDEX doc_live ON doc(owner) WHERE deleted_at IS NULL;\n"
    "CREATE INDEX doc_open ON doc(owner) WHERE state <> 'VOID';\n"
    "CREATE TABLE tally (k INTEGER PRIMARY KEY, n INTEGER);\n"
    "CREATE TABLE tally_text (k TEXT PRIMARY KEY, n INTEGER);\n"
    "CREATE TABLE later (a INTEGER);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
    "INSERT INTO acct SELECT i, 'a' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO txn (acct_id, cents) SELECT CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + i * 7 % 60 "
    "END, i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
    "INSERT INTO txn_tag (txn_id, tag) SELECT 1 + i * 13 % 300, 't' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) "
    "INSERT INTO note (acct_id, body) SELECT 1 + i % 60, 'n' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 29) "
    "INSERT INTO codes (code) SELECT 'c' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
    "INSERT INTO doc (owner, state, deleted_at) SELECT i % 7, CASE i % 4 WHEN 0 THEN 'VOID' "
    "ELSE 'Open' END, CASE WHEN i % 5 = 0 THEN 'then' END FROM n;\n",
    "0003_target.sql": "UPDATE doc SET state = lower(state) WHERE state <> lower(state);\n"
    "UPDATE doc SET deleted_at = 'now' WHERE id % 3 = 0;\n"
    "UPDATE doc SET deleted_at = NULL WHERE id % 10 = 0;\n"
    "INSERT INTO tally SELECT acct_id, count(*) FROM txn WHERE acct_id IS NOT NULL "
    "GROUP BY acct_id;\n"
    "INSERT INTO tally_text SELECT 'k' || id, id FROM acct WHERE id > 30;\n"
    "INSERT INTO doc (owner, state) SELECT owner, state FROM doc WHERE id <= 50;\n"
    "INSERT INTO ref (acct_id, code) SELECT id, 'c' || (id % 30) FROM acct WHERE id <= 45;\n"
    "DELETE FROM acct WHERE id > 45;\n"
    "DROP TABLE txn;\n"
    "CREATE INDEX later_a ON later(a) WHERE a > 0;\n",
}


def test_scans_partial_indexes_and_sorters_match_miniflare(tmp_path):
    """Children found by a scan (no index on the key: D1 scans them twice per parent for
    CASCADE and SET NULL, the CASCADE child shrinking as it goes), partial indexes an UPDATE
    rewrites (their WHERE names the column) and leaves (rows the WHERE drops) or is created on
    an empty table, INSERT … SELECT through a sorter (GROUP BY), a search, or from its own
    table, and foreign keys to a parent's rowid or to an index (found on a stranger's
    project: a DROP TABLE read 6,059,716 rows by the model and 12,055,909 in D1, an UPDATE of
    a partial index's column wrote half of D1's rows). Writes equal; reads within 1% per
    statement."""
    _target_matches_miniflare(tmp_path, SCANS_AND_SORTS, statements=10, reads_within=0.01)


BACKFILL_SHAPES = {
    "0001_schema.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, plan TEXT "
    "CHECK (plan IN ('free', 'pro', 'team')), score REAL, note TEXT);\n"
    "CREATE INDEX users_plan ON users(plan);\n"
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) "
    "ON DELETE CASCADE, title TEXT, tags TEXT);\n"
    "CREATE INDEX posts_user ON posts(user_id);\n"
    "CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER REFERENCES posts(id) "
    "ON DELETE CASCADE, user_id INTEGER REFERENCES users(id) ON DELETE SET NULL, body TEXT);\n"
    "CREATE TABLE likes (user_id INTEGER NOT NULL, post_id INTEGER NOT NULL, "
    "PRIMARY KEY (user_id, post_id)) WITHOUT ROWID;\n"
    "CREATE TABLE touched (post_id INTEGER, at TEXT);\n"
    "CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0) STRICT;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 400) INSERT INTO users (email, plan, score) SELECT 'u' || i, "
    "CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' ELSE 'team' END, i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
    "INSERT INTO posts (user_id, title, tags) SELECT 1 + i % 400, 't' || i, "
    "json_array('x' || (i % 4), 'y', i % 3) FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
    "INSERT INTO comments (post_id, user_id, body) SELECT 1 + i % 1200, 1 + i % 400, 'c' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
    "INSERT OR IGNORE INTO likes SELECT 1 + i % 400, 1 + (i * 7) % 1200 FROM n;\n"
    # the trigger's upsert then only updates (a row a trigger inserts writes its indexes,
    # which the model leaves out: docs/metering.md)
    "INSERT INTO counts VALUES ('posts', 0);\n"
    "CREATE TRIGGER posts_touched AFTER UPDATE OF title ON posts BEGIN "
    "UPDATE posts SET tags = tags WHERE id = NEW.id; INSERT INTO touched VALUES (NEW.id, 'now'); "
    "END;\n"
    "CREATE TRIGGER posts_counted AFTER INSERT ON posts BEGIN INSERT INTO counts (name, n) "
    "VALUES ('posts', 1) ON CONFLICT (name) DO UPDATE SET n = n + 1; END;\n"
    "CREATE TRIGGER users_upgraded AFTER UPDATE OF plan ON users WHEN NEW.plan = 'pro' AND "
    "OLD.plan <> 'pro' BEGIN "
    "UPDATE users SET note = 'upgraded' WHERE id = NEW.id; END;\n",
    "0003_target.sql": "UPDATE users SET note = 'n' WHERE EXISTS (SELECT 1 FROM posts p "
    "WHERE p.user_id = users.id AND p.title = 't7');\n"
    "UPDATE users SET score = (SELECT count(*) FROM posts p WHERE p.user_id = users.id);\n"
    "UPDATE users SET note = (SELECT count(*) FROM comments c WHERE c.user_id = users.id) "
    "WHERE id <= 30;\n"
    "UPDATE posts SET tags = (SELECT json_group_array(upper(value)) FROM json_each(posts.tags)) "
    "WHERE id <= 300;\n"
    "INSERT INTO users (email, plan) SELECT email || 'x', plan FROM users WHERE id <= 100;\n"
    "INSERT INTO posts (user_id, title) SELECT id, 'welcome' FROM users WHERE plan = 'team';\n"
    "UPDATE users SET plan = 'pro' WHERE plan = 'free' AND id > 390;\n"
    "UPDATE users SET plan = 'team' WHERE id BETWEEN 100 AND 160;\n"
    "UPDATE posts SET title = 'x' WHERE id IN (1, 2, 3, 4, 5);\n"
    "UPDATE posts SET title = 'z' WHERE user_id IN (5, 6, 7);\n"
    "UPDATE posts SET title = title || '!' WHERE user_id IN (SELECT id FROM users "
    "WHERE plan = 'team');\n"
    "DELETE FROM comments WHERE id IN (10, 11, 12, 13);\n"
    "DELETE FROM comments WHERE id % 5 = 0;\n"
    "DELETE FROM comments WHERE id > 1900;\n"
    "DELETE FROM likes WHERE post_id > 1000;\n"
    "DROP TABLE likes;\n"
    "DROP TABLE comments;\n",
}


def test_correlated_subqueries_in_lists_and_plain_deletes_match_miniflare(tmp_path):
    """Backfill shapes: a correlated subquery runs once per row of the statement's loop (an
    EXISTS or a count through an index read 2,000 rows in D1, 400 by the model; through a
    scan, 99,851 against 50; json_each over a JSON array, 901 against 300); an IN list of
    rowids reads 2 per value (not two passes), one from a subquery its rows and 2 per value
    (1,198 by the model against 1,596); a DELETE from a child table reads each row once
    more (from a table without foreign keys, not); a DROP TABLE no foreign key points at reads
    the schema and writes nothing (the model had written its 997 rows); inserting into a parent
    does not look at its children (401 by the model against 201); a CHECK's IN list of 3 values
    is probed once per row it checks (found on #7: a prisma rebuild's copy read 9,002 in D1, the
    model's 9,001 by a wrong reason); a trigger's statements read per firing (an UPDATE by
    rowid 1), its WHEN's terms on NEW counted over the rows written (#7's WHEN new.status =
    'PAID' AND old.status <> 'PAID' fired on none); an INSERT … SELECT into a table with
    triggers keeps its rows aside first (268 by the model against 533). Writes equal, reads within
    1% (the IN (SELECT …) within 2.5%: 1,696 against 1,662)."""
    _target_matches_miniflare(tmp_path, BACKFILL_SHAPES, statements=17, reads_within=0.025)


def _target_metered(tmp_path, files: dict[str, str]) -> pd.DataFrame:
    """Replay `files` on an empty database and run them in Miniflare: the statements of
    0003_target.sql, the model's counts beside D1's."""
    folder = tmp_path / "migrations"
    folder.mkdir(parents=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    empty = tmp_path / "empty.sql"
    empty.write_text("CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT);\n")
    result = replay(load_snapshot(empty, tmp_path / "work"), load_migration_dir(folder), None)
    assert result.ok
    compared = result.exact_metering()
    return compared[compared["file"] == "0003_target.sql"]


def _target_matches_miniflare(
    tmp_path, files: dict[str, str], statements: int, reads_within: float
) -> None:
    """Replay `files` on an empty database, run them in Miniflare, and hold each statement
    of 0003_target.sql to D1's counters: no error, writes equal, reads within `reads_within`
    of D1's (+2)."""
    target = _target_metered(tmp_path, files)
    assert len(target) == statements
    assert target["d1_error"].isna().all()
    assert target["rows_written"].tolist() == target["d1_rows_written"].tolist()
    for row in target.itertuples():
        assert abs(row.rows_read - row.d1_rows_read) <= reads_within * row.d1_rows_read + 2, (
            row.line,
            row.kind,
            row.rows_read,
            row.d1_rows_read,
        )


def _target_equals_miniflare(tmp_path, files: dict[str, str], statements: int) -> None:
    """Replay `files` on an empty database, run them in Miniflare, and hold each statement
    of 0003_target.sql to D1's counters exactly: no error, reads and writes equal."""
    target = _target_metered(tmp_path, files)
    assert len(target) == statements
    assert target["d1_error"].isna().all()
    assert target["rows_written"].tolist() == target["d1_rows_written"].tolist()
    assert target["rows_read"].tolist() == target["d1_rows_read"].tolist()


def test_an_export_with_an_instead_of_trigger_is_metered(tmp_path):
    """The export's schema goes to Miniflare first: in wrangler's order (triggers before
    views) an INSTEAD OF trigger failed that setup (stranger's project #8: "setup failed: no
    such table: main.order_totals"), so nothing was metered. Views come first now. The rows
    a trigger inserts into one table write its index entries too: an insert through the view
    wrote 2 in D1 (the row and its index entry), 1 by the model; an audit trigger's 50 rows
    into an indexed table 150 in all, 100 by the model (a partial index is left out: its
    entries depend on the row, and here the row has none)."""
    import apsw

    db = tmp_path / "export.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        'CREATE TABLE "order" (id INTEGER PRIMARY KEY, "group" TEXT NOT NULL, qty INTEGER);'
        'CREATE INDEX order_group ON "order" ("group");'
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
        "INSERT INTO \"order\" SELECT i, CASE i % 3 WHEN 0 THEN ' A ' ELSE 'b' END, i FROM n;"
        'CREATE VIEW totals AS SELECT "group", sum(qty) AS n FROM "order" GROUP BY 1;'
        "CREATE TRIGGER totals_ins INSTEAD OF INSERT ON totals BEGIN "
        'INSERT INTO "order" ("group", qty) VALUES (NEW."group", NEW.n); END;'
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, order_id INTEGER, at TEXT);"
        "CREATE INDEX audit_order ON audit (order_id);"
        "CREATE INDEX audit_late ON audit (at) WHERE at > 'y';"  # no entry for 'x'
        'CREATE TRIGGER qty_audit AFTER UPDATE OF qty ON "order" BEGIN '
        "INSERT INTO audit (order_id, at) VALUES (NEW.id, 'x'); END;"
    )
    conn.close()
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_trim.sql").write_text(
        'UPDATE "order" SET "group" = trim("group") WHERE "group" <> trim("group");\n'
        "INSERT INTO totals VALUES ('c', 5);\n"
        'UPDATE "order" SET qty = qty + 1 WHERE id <= 50;\n'
    )
    result = replay(load_snapshot(db, tmp_path / "work"), load_migration_dir(folder), None)
    assert result.ok
    compared = result.exact_metering()
    assert len(compared) == 3 and compared["d1_error"].isna().all()
    assert compared["rows_written"].tolist() == compared["d1_rows_written"].tolist()
    for row in compared.itertuples():
        assert abs(row.rows_read - row.d1_rows_read) <= 0.01 * row.d1_rows_read + 2, row


SPACED_NAMES = {
    "0001_schema.sql": 'CREATE TABLE "event log" ("id" INTEGER PRIMARY KEY, "kind" TEXT, '
    '"payload" TEXT, "at" TEXT, "method group" TEXT);\n'
    'CREATE INDEX "event log_kind" ON "event log" ("kind") WHERE "kind" IS NOT NULL;\n'
    'CREATE INDEX "event log_method" ON "event log" ("method group", "at");\n'
    'CREATE TABLE "kind totals" ("kind" TEXT PRIMARY KEY, "n" INTEGER NOT NULL DEFAULT 0) '
    "WITHOUT ROWID;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    'WHERE i < 2000) INSERT INTO "event log" ("kind", "payload", "at", "method group") '
    "SELECT CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'view' WHEN 2 THEN 'click' ELSE 'buy' END, "
    "CASE i % 3 WHEN 0 THEN '{\"a\":1}' WHEN 1 THEN '[1,2]' ELSE NULL END, "
    "'2026-11-' || printf('%02d', 1 + i % 28), CASE i % 5 WHEN 0 THEN 'card' ELSE 'cash' END "
    "FROM n;\n",
    "0003_target.sql": 'UPDATE "event log" SET "payload" = json_set("payload", \'$.v\', 2)\n'
    ' WHERE "kind" IS NOT NULL AND json_valid("payload") AND json_type("payload") = \'object\';\n'
    'INSERT INTO "kind totals" ("kind", "n") SELECT "kind", count(*) FROM "event log" '
    'WHERE "kind" IS NOT NULL GROUP BY "kind" ON CONFLICT ("kind") DO UPDATE SET "n" = '
    'excluded."n";\n'
    'DELETE FROM "event log" WHERE "kind" IS NULL AND "at" < \'2026-11-15\';\n'
    'UPDATE "event log" SET "kind" = upper("kind") WHERE "kind" IN (\'view\', \'click\');\n'
    'UPDATE "event log" SET "at" = "at" || \'Z\' WHERE "method group" = \'card\' '
    'AND "payload" IS NULL;\n',
}


def test_names_with_spaces_and_searches_that_filter_further_match_miniflare(tmp_path):
    """Stranger's project #8: EXPLAIN QUERY PLAN writes names unquoted (`SCAN event log`), and
    the model read the table's name up to its first space: every statement on "event log"
    read 0 rows by the model against 1,502 to 2,916 in D1. And an UPDATE that searches its
    own table through an index and filters further (`kind IS NOT NULL AND json_valid(…)`)
    reads every row the search visits, not only those it writes: 727 by the model, 1,502 in
    D1. Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, SPACED_NAMES, statements=5, reads_within=0.01)


WINDOWS = {
    "0001_schema.sql": "CREATE TABLE accounts (id INTEGER PRIMARY KEY, tier TEXT, balance INTEGER, "
    "region TEXT);\n"
    "CREATE INDEX accounts_region ON accounts(region, tier);\n"
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES "
    "accounts(id) ON DELETE CASCADE, total INTEGER);\n"
    "CREATE INDEX orders_account ON orders(account_id);\n"
    "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, qty INTEGER, price REAL, "
    "total REAL GENERATED ALWAYS AS (qty * price) STORED);\n"
    "CREATE INDEX items_total ON items(total);\n"
    "CREATE TABLE prefs (account_id INTEGER NOT NULL, k TEXT NOT NULL, v TEXT, "
    "PRIMARY KEY (account_id, k)) WITHOUT ROWID;\n"
    "CREATE TABLE ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER, "
    "delta INTEGER);\n"
    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 500) INSERT INTO accounts (tier, balance, region) SELECT CASE i % 3 WHEN 0 THEN "
    "'free' WHEN 1 THEN 'pro' ELSE 'team' END, i * 10, CASE i % 4 WHEN 0 THEN 'eu' WHEN 1 THEN "
    "'us' WHEN 2 THEN 'ap' ELSE NULL END FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
    "INSERT INTO orders (account_id, total) SELECT 1 + i % 500, i % 97 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800) "
    "INSERT INTO items (sku, qty, price) SELECT 's' || (i % 50), i % 7, i * 0.5 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
    "INSERT INTO prefs SELECT 1 + i % 500, 'k' || (i % 3), 'v' FROM n WHERE true "
    "ON CONFLICT DO NOTHING;\n",
    "0003_target.sql": "INSERT INTO audit_log (note) SELECT 'x' FROM accounts WHERE balance < 0;\n"
    "INSERT INTO audit_log (note) SELECT 'x' FROM accounts WHERE balance < 0;\n"
    "INSERT INTO audit_log (note) SELECT 'y' FROM accounts WHERE id = 3;\n"
    "INSERT OR IGNORE INTO audit_log (id, note) SELECT 1, 'z' FROM accounts WHERE id = 4;\n"
    "INSERT INTO ledger (account_id, delta) SELECT a.id, o.total FROM orders o "
    "JOIN accounts a ON a.id = o.account_id WHERE o.total > 90;\n"
    "INSERT INTO ledger (account_id, delta) SELECT a.id, count(o.id) FROM accounts a LEFT JOIN "
    "orders o ON o.account_id = a.id WHERE a.region = 'eu' GROUP BY a.id;\n"
    "INSERT INTO ledger (account_id, delta) SELECT a.id, i.qty FROM accounts a JOIN orders o ON "
    "o.account_id = a.id JOIN items i ON i.id = o.id WHERE a.tier = 'team' AND o.total > 50;\n"
    "INSERT INTO ledger (account_id, delta) SELECT a.id, o.total FROM accounts AS a JOIN orders "
    "AS o ON o.account_id = a.id WHERE a.tier = 'pro' AND o.total > 80;\n"
    "INSERT INTO ledger (account_id, delta) "
    "SELECT id, row_number() OVER (ORDER BY balance) FROM accounts;\n"
    "INSERT INTO ledger (account_id, delta) SELECT id, row_number() OVER (PARTITION BY region "
    "ORDER BY balance DESC) FROM accounts WHERE region IS NOT NULL;\n"
    "INSERT INTO ledger (account_id, delta) SELECT id, count(*) OVER () FROM accounts;\n"
    "INSERT INTO ledger (account_id, delta) SELECT id, row_number() OVER (ORDER BY balance) + "
    "rank() OVER (PARTITION BY tier ORDER BY id) FROM accounts;\n"
    "INSERT INTO ledger (account_id, delta) SELECT id, lag(balance) OVER (ORDER BY balance) "
    "FROM accounts WHERE tier = 'pro';\n"
    "DELETE FROM orders WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY "
    "account_id ORDER BY id) AS rn FROM orders) WHERE rn > 5);\n"
    "UPDATE accounts SET balance = -balance WHERE id IN (SELECT id FROM (SELECT id, rank() OVER "
    "(PARTITION BY tier ORDER BY balance) AS r FROM accounts) WHERE r <= 3);\n"
    "DELETE FROM items WHERE id IN (SELECT id FROM (SELECT id, rank() OVER (PARTITION BY sku "
    "ORDER BY price) AS r FROM items) WHERE r > 12);\n"
    "UPDATE items SET qty = qty + 1 WHERE sku = 's3';\n"
    "DELETE FROM prefs WHERE k = 'k2' AND account_id > 400;\n"
    "INSERT INTO ledger (account_id, delta) SELECT account_id, total % 5 FROM orders;\n"
    "DELETE FROM ledger WHERE rowid NOT IN (SELECT min(rowid) FROM ledger "
    "GROUP BY account_id, delta);\n"
    "DELETE FROM orders WHERE id NOT IN (SELECT max(id) FROM orders GROUP BY account_id);\n"
    "UPDATE orders SET total = accounts.balance FROM accounts WHERE accounts.id = "
    "orders.account_id AND orders.total > 90;\n"
    "UPDATE accounts SET region = 'x' FROM orders o WHERE o.account_id = accounts.id "
    "AND o.total = 3;\n"
    "UPDATE prefs SET v = a.tier FROM accounts a WHERE a.id = prefs.account_id AND "
    "prefs.k = 'k1';\n"
    "UPDATE accounts SET balance = t.s FROM (SELECT account_id, sum(total) AS s FROM orders "
    "GROUP BY account_id) AS t WHERE t.account_id = accounts.id;\n"
    "UPDATE accounts SET balance = 1 WHERE id NOT IN (SELECT account_id FROM orders "
    "WHERE total > 90);\n"
    "UPDATE orders SET total = 0 WHERE id NOT IN (SELECT max(id) FROM orders "
    "GROUP BY account_id);\n"
    "DELETE FROM ledger WHERE id NOT IN (1, 2, 3, 4) AND delta > 50;\n"
    "UPDATE items SET qty = 0 WHERE id NOT IN (1, 2, 3);\n",
}


def test_windows_joins_dedupes_and_generated_columns_match_miniflare(tmp_path):
    """Shapes found by a second differential run (after stranger's project #8): window
    functions (row_number, rank, count, lag) read their rows again from each window's buffer,
    and sort them: an INSERT … SELECT with one read 1,001 by the model against 2,002 in D1,
    with two 1,501 against 3,506, and the dedupe `DELETE … WHERE id IN (SELECT id FROM (SELECT
    id, row_number() OVER (PARTITION BY …) …) WHERE rn > 5)` 4,500 against 11,001; an UPDATE
    of qty rewrites the index on a generated column computed from it (16 written against 32);
    a DELETE searching a WITHOUT ROWID key range and filtering further reads the whole range
    (66 against 200); the dedupe `DELETE … WHERE rowid NOT IN (SELECT min(rowid) … GROUP BY …)`
    sorts its list and keeps the rows it finds aside (9,875 against 14,125); an UPDATE … FROM
    seeks its partner once per row of its own table that reaches the join (3,361 against
    3,540), and a plan names a joined table by its alias (an UPDATE … FROM orders o read 93
    against 3,093: the alias's scan was not counted); an INSERT … SELECT's join runs each inner
    loop once per row reaching it (1 by the model against 1,670 before aliases were read, then
    668: a join's search counted as finding the rows the SELECT yields). Writes equal, reads
    within 1%. A WITHOUT ROWID target is not sought again in its second pass (2,002 by the
    model against 1,668), and a subquery in FROM that SQLite materializes is read when scanned
    (4,500 against 5,000). An insert into an AUTOINCREMENT table reads sqlite_sequence even
    when it inserts nothing, and the first one writes its row (0 by the model against 1), and
    an INSERT OR IGNORE looks up every rowid it is offered (1 against 3). An UPDATE … WHERE
    id NOT IN (SELECT …) reads each row it changes three times (11,500 against 14,000; 7,663
    against 9,494 on a plain list, whose values are not read again), and a NOT IN list of
    literals makes a statement read its table twice (3,000 against 6,000)."""
    _target_matches_miniflare(tmp_path, WINDOWS, statements=29, reads_within=0.01)


BLOG = {
    "0001_schema.sql": "CREATE TABLE authors (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT "
    "NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'banned', 'gone')), posts_count "
    "INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;\n"
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id TEXT NOT NULL REFERENCES authors(id) "
    "ON DELETE CASCADE, slug TEXT NOT NULL UNIQUE, body TEXT, meta TEXT NOT NULL DEFAULT '{}', "
    "deleted_at TEXT);\n"
    "CREATE INDEX posts_author ON posts(author_id) WHERE deleted_at IS NULL;\n"
    "CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE "
    "COLLATE NOCASE);\n"
    "CREATE TABLE post_tags (post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE, "
    "tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, PRIMARY KEY (post_id, "
    "tag_id)) WITHOUT ROWID;\n"
    "CREATE INDEX post_tags_tag ON post_tags(tag_id);\n"
    "CREATE TRIGGER posts_count_del AFTER DELETE ON posts BEGIN UPDATE authors SET posts_count "
    "= posts_count - 1 WHERE id = OLD.author_id; END;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 200) INSERT INTO authors (id, name, status) "
    "SELECT 'a' || printf('%04d', i), 'Author ' || i, "
    "CASE WHEN i % 17 = 0 THEN 'banned' ELSE 'active' END FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
    "INSERT INTO posts (author_id, slug, body, meta, deleted_at) SELECT 'a' || printf('%04d', "
    "1 + i % 200), 'p-' || i, 'body ' || i, json_object('lang', CASE i % 3 WHEN 0 THEN 'en' "
    "WHEN 1 THEN 'EN' ELSE 'de' END), CASE WHEN i % 11 = 0 THEN '2025-01-01' END FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) "
    "INSERT INTO tags (name) SELECT 'tag' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
    "INSERT OR IGNORE INTO post_tags SELECT 1 + (i * 7) % 2000, 1 + i % 30 FROM n;\n",
    "0003_target.sql": "UPDATE posts SET meta = json_set(meta, '$.lang', lower(json_extract(meta, "
    "'$.lang'))) WHERE json_extract(meta, '$.lang') <> lower(json_extract(meta, '$.lang'));\n"
    "UPDATE authors SET name = upper(name) WHERE status = 'banned' OR id IN (SELECT author_id FROM "
    "posts WHERE deleted_at IS NOT NULL GROUP BY author_id HAVING count(*) > 1);\n"
    "DELETE FROM posts WHERE deleted_at IS NOT NULL;\n"
    "DELETE FROM post_tags WHERE tag_id IN (SELECT id FROM tags WHERE name LIKE 'tag2%');\n"
    "DELETE FROM authors WHERE status = 'banned';\n"
    "CREATE VIEW v1 AS SELECT id FROM posts;\n"
    "DROP VIEW v1;\n"
    "DROP TRIGGER posts_count_del;\n"
    "DROP INDEX post_tags_tag;\n"
    "DROP TRIGGER IF EXISTS nothing_here;\n",
}


def test_a_blog_cascades_to_rows_with_other_parents_and_drops_objects_as_d1_does(tmp_path):
    """A third differential run, on a schema of its own (WITHOUT ROWID authors by text key, a
    partial index, a NOCASE unique, a many-to-many WITHOUT ROWID join table, a counter
    trigger): a cascaded row of post_tags looks up its other parent (tags, by rowid), one read
    each (4,535 by the model against 4,989 in D1); DROP VIEW, DROP TRIGGER and DROP INDEX read
    the schema (0 against 12); an IN (SELECT … GROUP BY …) list's sorter is fed the rows its
    FROM and WHERE yield (2,200 against 2,382). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, BLOG, statements=10, reads_within=0.01)


NURSERY = {
    "0001_schema.sql": "CREATE TABLE [Growers] ([grower id] INTEGER PRIMARY KEY, [Display Name] "
    "TEXT NOT NULL, region TEXT);\n"
    "CREATE TABLE Plants (sku TEXT PRIMARY KEY NOT NULL, [grower id] INTEGER NOT NULL "
    "REFERENCES [growers]([Grower Id]) ON DELETE CASCADE, attrs TEXT) WITHOUT ROWID;\n"
    "CREATE INDEX plants_by_grower ON Plants([grower id]);\n"
    "CREATE TABLE [plant stock] (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL "
    "REFERENCES plants(SKU) ON DELETE CASCADE, qty INTEGER);\n"
    "CREATE INDEX [plant stock by sku] ON [plant stock](sku);\n"
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, stock_id INTEGER NOT NULL REFERENCES "
    "[Plant Stock](id), placed_at TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN "
    "('open', 'paid', 'shipped', 'void'))) STRICT;\n"
    "CREATE TRIGGER orders_no_unvoid BEFORE UPDATE OF status ON orders WHEN OLD.status = "
    "'void' AND NEW.status <> 'void' BEGIN SELECT RAISE(ABORT, 'void stays void'); END;\n"
    "CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT);\n"
    "CREATE TRIGGER orders_gone BEFORE DELETE ON orders BEGIN INSERT INTO log (note) VALUES "
    "(OLD.status); END;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 200) INSERT INTO Growers SELECT i, CASE WHEN i % 9 = 6 THEN 'Moss (closed) ' || i "
    "ELSE 'Fern ' || i END, 'n' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
    "INSERT INTO Plants SELECT printf('SKU-%05d', i), (i * 7) % 200 + 1, '{}' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) "
    "INSERT INTO [plant stock] (sku, qty) SELECT printf('SKU-%05d', (i * 31) % 3000 + 1), "
    "i % 9 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
    "INSERT INTO orders SELECT i, (i * 17) % 6000 + 1, CASE WHEN i % 3 THEN '2025-06-01' ELSE "
    "'2026-03-01' END, CASE i % 4 WHEN 0 THEN 'open' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' "
    "ELSE 'void' END FROM n;\n",
    "0003_target.sql": "DELETE FROM orders WHERE stock_id IN (SELECT s.id FROM [plant stock] s "
    "JOIN Plants p ON p.sku = s.sku JOIN [Growers] g ON g.[grower id] = p.[grower id] "
    "WHERE g.[Display Name] LIKE '%(closed)%');\n"
    "DELETE FROM growers WHERE [Display Name] LIKE '%(closed)%';\n"
    "UPDATE ORDERS SET status = 'void' WHERE status = 'open' AND placed_at < '2026-01-01';\n"
    "UPDATE orders SET placed_at = placed_at || 'Z' WHERE status = 'paid';\n"
    "DELETE FROM orders WHERE stock_id IN (SELECT s.id FROM [plant stock] s JOIN Plants p ON "
    "p.sku = s.sku WHERE s.qty = 3 AND p.attrs = '{}');\n",
}


def test_a_nursery_with_references_in_another_case_and_before_triggers_is_metered(tmp_path):
    """Stranger's project #9: `REFERENCES plants(SKU)` for table `Plants` hid the foreign key
    from the model (names compared as written), so a DELETE of growers cascading through
    Plants into "plant stock" left out the check of orders, a child without an index on its
    key, scanned once per stock row deleted: 201 by the model against 2,353,826 in D1 here
    (2,971 against 4,126,652 on the project's export). A BEFORE UPDATE or DELETE trigger makes
    SQLite seek each row again after it ran, one read a row (5,363 against 5,964), and a join
    inside an IN (SELECT …) list runs its inner loops once per row reaching them (11,762
    against 22,880; 9,890 against 10,285). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, NURSERY, statements=5, reads_within=0.01)


IN_PLACE = {
    "0001_schema.sql": "CREATE TABLE p (id INTEGER PRIMARY KEY, sku TEXT, qty INTEGER);\n"
    "CREATE INDEX p_sku ON p(sku);\n"
    "CREATE TABLE o (id INTEGER PRIMARY KEY, pid INTEGER, sku TEXT, status TEXT);\n"
    "CREATE TABLE kinds (code TEXT PRIMARY KEY NOT NULL, label TEXT) WITHOUT ROWID;\n"
    "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT REFERENCES "
    "kinds(code) ON DELETE CASCADE, q INTEGER);\n"
    "CREATE INDEX items_code ON items(code);\n"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id), n TEXT);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000) INSERT INTO p SELECT i, 'S' || (i % 700), i % 9 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) "
    "INSERT INTO o SELECT i, (i * 7) % 2500, 'S' || (i % 900), CASE i % 3 WHEN 0 THEN 'a' "
    "ELSE 'b' END FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO kinds SELECT printf('K%04d', i), 'kind ' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900) "
    "INSERT INTO items (code, q) SELECT printf('K%04d', 1 + i % 300), i FROM n;\n",
    "0003_target.sql": "UPDATE o SET status = 'x' WHERE id > 5000 AND pid IN (SELECT id FROM p);\n"
    "DELETE FROM o WHERE status = 'a' AND pid IN (SELECT id FROM p);\n"
    "DELETE FROM o WHERE id > 5500 AND pid NOT IN (SELECT id FROM p);\n"
    "DELETE FROM o WHERE id > 5000 AND sku IN (SELECT sku FROM p);\n"
    "DELETE FROM o WHERE id < 1000 AND sku IN (SELECT sku FROM p WHERE qty = 3);\n"
    "DELETE FROM o WHERE id < 2000 AND EXISTS (SELECT 1 FROM p WHERE p.id = o.pid);\n"
    "DELETE FROM o WHERE pid IN (SELECT id FROM p);\n"
    "DELETE FROM kinds WHERE code <= 'K0100';\n"
    "DROP TABLE kinds;\n",
}


def test_lists_sought_in_place_two_pass_deletes_and_text_keyed_cascades_match_miniflare(
    tmp_path,
):
    """Stranger's project #9, its rebuild: `x IN (SELECT id FROM t)` over t's rowid builds no
    list; SQLite seeks t by rowid for each row reaching the IN (USING ROWID SEARCH ON TABLE t
    FOR IN-OPERATOR): 6,240 by the model against 9,360 in D1 on the project's export. A DELETE
    whose WHERE holds a subquery (or that fires a trigger) runs in two passes, each row kept
    aside by rowid and sought again: +1 read a row, which the model gave only to child tables
    (5,000 against 5,766). A row deleted by a cascade looks its parent up again, a read only
    when the parent key is the parent's rowid: a text key (WITHOUT ROWID or not) read 1 less
    per child row (32,772 against 28,090 on the export). A search of the statement's own table
    by a rowid range filters by an IN list, it is not driven by it, and a correlated subquery
    runs once per row the range visits. Here, before: 2,712 by the model against 3,712, 6,000
    against 9,044, 2,737 against 7,176, and the DELETE and DROP of the text-keyed parent 1,899
    against 1,601 and 3,811 against 3,208. Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, IN_PLACE, statements=9, reads_within=0.01)


SAAS = {
    "0001_schema.sql": (
        "CREATE TABLE orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL "
        "DEFAULT 'free', settings TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT "
        "NULL);\n"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE "
        "NOCASE, org_id TEXT REFERENCES orgs(id) ON DELETE SET NULL, role TEXT CHECK "
        "(role IN ('owner','admin','member')), last_seen INTEGER);\n"
        "CREATE INDEX users_org ON users(org_id);\n"
        "CREATE TABLE memberships (org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE "
        "CASCADE, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, role "
        "TEXT NOT NULL, PRIMARY KEY (org_id, user_id)) WITHOUT ROWID;\n"
        "CREATE INDEX memberships_user ON memberships(user_id);\n"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, kind TEXT NOT "
        "NULL, payload TEXT NOT NULL, at INTEGER NOT NULL);\n"
        "CREATE INDEX events_org_at ON events(org_id, at);\n"
        "CREATE INDEX events_kind ON events(kind) WHERE kind <> 'noise';\n"
        "CREATE TABLE sessions (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL "
        "REFERENCES users(id) ON DELETE CASCADE, expires_at INTEGER NOT NULL);\n"
        "CREATE INDEX sessions_expiry ON sessions(expires_at);\n"
    ),
    "0002_rows.sql": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) "
        "INSERT INTO orgs SELECT 'org_' || i, 'Org ' || i, CASE i % 4 WHEN 0 THEN 'pro' "
        "WHEN 1 THEN 'team' ELSE 'free' END, json_object('seats', i % 10, 'beta', i % 3 = "
        "0), 1700000000 + i * 1000 FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "INSERT INTO users SELECT i, 'user' || i || CASE WHEN i % 7 = 0 THEN "
        "'@EXAMPLE.com' ELSE '@example.com' END, 'org_' || (1 + i % 120), CASE i % 10 "
        "WHEN 0 THEN 'owner' WHEN 1 THEN 'admin' ELSE 'member' END, 1700000000 + i * 500 "
        "FROM n;\n"
        "INSERT INTO memberships SELECT org_id, id, role FROM users;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000) "
        "INSERT INTO events SELECT i, 'org_' || (1 + i % 120), CASE i % 5 WHEN 0 THEN "
        "'noise' WHEN 1 THEN 'login' WHEN 2 THEN 'invite' ELSE 'billing' END, "
        "json_object('v', i % 3, 'tags', json_array('a', 'b')), 1700000000 + i * 37 FROM "
        "n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
        "INSERT INTO sessions SELECT printf('tok%06d', i), 1 + i % 2000, 1700000000 + i * "
        "100 FROM n;\n"
    ),
    "0003_target.sql": (
        "UPDATE events SET payload = json_set(payload, '$.v', 2) WHERE kind = 'login' AND "
        "json_extract(payload, '$.v') = 1;\n"
        "DELETE FROM sessions WHERE expires_at < 1700200000;\n"
        "UPDATE users SET role = 'admin' WHERE id IN (SELECT user_id FROM memberships "
        "WHERE role = 'owner') AND role = 'member';\n"
        "UPDATE orgs SET settings = json_set(settings, '$.seats', (SELECT count(*) FROM "
        "memberships m WHERE m.org_id = orgs.id)) WHERE plan <> 'free';\n"
        "INSERT OR IGNORE INTO memberships (org_id, user_id, role) SELECT 'org_1', id, "
        "'member' FROM users WHERE email LIKE '%@EXAMPLE.com';\n"
        "DELETE FROM events WHERE kind = 'noise' AND at < 1700100000;\n"
        "UPDATE users SET email = lower(email) WHERE email <> lower(email);\n"
        "DELETE FROM orgs WHERE plan = 'free' AND created_at < 1700010000;\n"
        "INSERT INTO events (org_id, kind, payload, at) SELECT org_id, 'migrated', "
        "json_object('from', kind), at FROM events WHERE kind = 'invite' AND org_id IN "
        "(SELECT id FROM orgs WHERE plan = 'pro');\n"
        "UPDATE sessions SET expires_at = expires_at + 86400 WHERE user_id IN (SELECT id "
        "FROM users WHERE role = 'owner');\n"
        "DELETE FROM users WHERE last_seen < 1700050000;\n"
    ),
}


def test_a_saas_schema_with_subqueries_in_set_and_set_null_children_matches_miniflare(tmp_path):
    """A fourth differential run, on a schema of its own (organisations by text key, a WITHOUT
    ROWID membership table, JSON settings and events, sessions by expiry): 8 of 11 statements
    within 1% on the first try. A correlated subquery in an UPDATE's SET runs once per row
    written, not per row scanned, and a WITHOUT ROWID table searched on the first columns of
    its key reads the rows per key + 1 like an index (240 by the model against 1,180 in D1); a
    child nulled by ON DELETE SET NULL through an index reads 1 more per row, not 2 (754
    against 684); an INSERT … SELECT searching through an index and filtering further reads
    every row the search visits, 2 per value of an IN list driving it (976 against 2,441).
    Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, SAAS, statements=11, reads_within=0.01)


CMS = {
    "0001_schema.sql": (
        "CREATE TABLE categories (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES "
        "categories(id) ON DELETE CASCADE, name TEXT NOT NULL);\n"
        "CREATE INDEX categories_parent ON categories(parent_id);\n"
        "CREATE TABLE pages (id INTEGER PRIMARY KEY, category_id INTEGER REFERENCES "
        "categories(id) ON DELETE SET NULL, slug TEXT NOT NULL, title TEXT, tags TEXT NOT "
        "NULL DEFAULT '[]', views INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL "
        "DEFAULT 'draft');\n"
        "CREATE UNIQUE INDEX pages_slug ON pages(lower(slug));\n"
        "CREATE INDEX pages_category ON pages(category_id);\n"
        "CREATE TABLE redirects (from_slug TEXT PRIMARY KEY, to_slug TEXT NOT NULL, hits "
        "INTEGER NOT NULL DEFAULT 0);\n"
        "CREATE TABLE tag_counts (tag TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT "
        "ROWID;\n"
    ),
    "0002_rows.sql": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
        "INSERT INTO categories SELECT i, CASE WHEN i <= 6 THEN NULL ELSE 1 + (i % 6) + "
        "CASE WHEN i > 30 THEN 6 ELSE 0 END END, 'cat ' || i FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
        "INSERT INTO pages SELECT i, 1 + i % 60, CASE WHEN i % 13 = 0 THEN 'Page-' || i "
        "ELSE 'page-' || i END, 'Title ' || i, json_array('t' || (i % 7), 't' || (i % "
        "11)), i % 1000, CASE i % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'live' ELSE "
        "'archived' END FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800) "
        "INSERT INTO redirects SELECT 'old-' || i, 'page-' || (i * 3), i % 17 FROM n;\n"
    ),
    "0003_target.sql": (
        "INSERT INTO tag_counts (tag, n) SELECT j.value, count(*) FROM pages, "
        "json_each(pages.tags) AS j WHERE pages.status = 'live' GROUP BY j.value;\n"
        "UPDATE pages SET views = views + 1 WHERE id % 7 = 0;\n"
        "INSERT OR REPLACE INTO redirects (from_slug, to_slug, hits) SELECT 'old-' || (id "
        "/ 3), slug, 0 FROM pages WHERE id % 3 = 0 AND id < 1500;\n"
        "UPDATE pages SET status = 'archived' WHERE category_id IN (WITH RECURSIVE "
        "sub(id) AS (SELECT 7 UNION ALL SELECT c.id FROM categories c JOIN sub ON "
        "c.parent_id = sub.id) SELECT id FROM sub);\n"
        "INSERT INTO pages (slug, title, category_id) SELECT 'copy-' || slug, title, "
        "category_id FROM pages WHERE status = 'live' ORDER BY views DESC LIMIT 200;\n"
        "DELETE FROM categories WHERE id = 2;\n"
        "UPDATE pages SET slug = lower(slug) WHERE slug <> lower(slug);\n"
        "DELETE FROM redirects WHERE to_slug NOT IN (SELECT slug FROM pages);\n"
    ),
}


def test_a_cms_with_an_expression_index_json_rows_and_replaces_matches_miniflare(tmp_path):
    """A fifth differential run (categories in a tree, pages with a unique index on
    lower(slug), JSON tags, redirects by text key): 3 of 8 statements right on the first try,
    and 3 UPDATEs wrote twice what D1 bills. SQLite rewrites an index on an expression only
    when the expression's value changes: `SET views = views + 1` or `SET slug = lower(slug)`
    under `lower(slug)` writes 1 a row, not 2 (1,142 by the model against 571). An INSERT
    OR REPLACE that replaces rows through a UNIQUE key (not the rowid) reads each once more
    (499 against 1,999, with its rowid range search read whole); the elements of a
    `FROM t, json_each(t.col)` an INSERT … SELECT groups are rows read (6,668 against 9,336).
    Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, CMS, statements=8, reads_within=0.01)


SHOP = {
    "0001_schema.sql": (
        "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name "
        "TEXT NOT NULL, price_cents INTEGER NOT NULL CHECK (price_cents >= 0), stock "
        "INTEGER NOT NULL DEFAULT 0, discontinued INTEGER NOT NULL DEFAULT 0, price_band "
        "TEXT GENERATED ALWAYS AS (CASE WHEN price_cents < 1000 THEN 'low' WHEN "
        "price_cents < 5000 THEN 'mid' ELSE 'high' END) VIRTUAL);\n"
        "CREATE INDEX products_band ON products(price_band);\n"
        "CREATE INDEX products_live ON products(name) WHERE discontinued = 0;\n"
        "CREATE TABLE stock_moves (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL "
        "REFERENCES products(id), delta INTEGER NOT NULL, reason TEXT NOT NULL, at "
        "INTEGER NOT NULL);\n"
        "CREATE INDEX stock_moves_product ON stock_moves(product_id, at);\n"
        "CREATE TRIGGER stock_moves_apply AFTER INSERT ON stock_moves BEGIN UPDATE "
        "products SET stock = stock + NEW.delta WHERE id = NEW.product_id; END;\n"
        "CREATE TABLE price_history (product_id INTEGER NOT NULL, price_cents INTEGER NOT "
        "NULL, changed_at INTEGER NOT NULL, PRIMARY KEY (product_id, changed_at)) WITHOUT "
        "ROWID;\n"
        "CREATE TRIGGER products_price_log AFTER UPDATE OF price_cents ON products WHEN "
        "OLD.price_cents <> NEW.price_cents BEGIN INSERT INTO price_history VALUES "
        "(NEW.id, NEW.price_cents, 1800000000 + NEW.id); END;\n"
        "CREATE TABLE carts (id INTEGER PRIMARY KEY, user_key TEXT NOT NULL, items TEXT "
        "NOT NULL DEFAULT '[]', updated_at INTEGER);\n"
        "CREATE INDEX carts_user ON carts(user_key);\n"
    ),
    "0002_rows.sql": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "INSERT INTO products (id, sku, name, price_cents, stock, discontinued) SELECT i, "
        "'SKU' || i, 'Product ' || i, (i * 37) % 9000, 0, i % 10 = 0 FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9000) "
        "INSERT INTO stock_moves (product_id, delta, reason, at) SELECT 1 + i % 3000, 1 + "
        "i % 5, CASE i % 4 WHEN 0 THEN 'return' ELSE 'restock' END, 1700000000 + i FROM "
        "n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "INSERT INTO carts SELECT i, 'u' || (i % 700), json_array(json_object('p', 1 + i "
        "% 3000, 'q', 1 + i % 3)), 1700000000 + i * 60 FROM n;\n"
    ),
    "0003_target.sql": (
        "UPDATE products SET price_cents = price_cents + 100 WHERE price_cents BETWEEN "
        "900 AND 1100;\n"
        "INSERT INTO stock_moves (product_id, delta, reason, at) SELECT id, -stock, "
        "'writeoff', 1800000000 FROM products WHERE discontinued = 1;\n"
        "UPDATE products SET discontinued = 1 WHERE stock = 0 AND discontinued = 0;\n"
        "INSERT INTO carts (id, user_key, items, updated_at) SELECT 5000 + (id % 50), 'u' "
        "|| (id % 50), '[]', 1800000000 FROM products WHERE id <= 200 ON CONFLICT(id) DO "
        "UPDATE SET updated_at = excluded.updated_at WHERE carts.updated_at < "
        "excluded.updated_at;\n"
        "DELETE FROM carts WHERE json_array_length(items) = 0 RETURNING id;\n"
        "UPDATE carts SET items = (SELECT json_group_array(json_object('p', "
        "json_extract(e.value, '$.p'), 'q', json_extract(e.value, '$.q') * 2)) FROM "
        "json_each(carts.items) e) WHERE user_key = 'u7';\n"
        "DELETE FROM stock_moves WHERE reason = 'return' AND product_id IN (SELECT id "
        "FROM products WHERE price_band = 'high');\n"
    ),
}


def test_a_shop_with_a_virtual_column_index_upserts_and_returning_matches_miniflare(tmp_path):
    """A sixth differential run (products with a VIRTUAL generated column under an index and a
    partial index, stock moves applied by a trigger, a price log in a WITHOUT ROWID table,
    JSON carts): 2 of 7 statements right on the first try. An index on a VIRTUAL generated
    column is rewritten only when its value changes, like one on an expression (a STORED
    one's, whenever what it is computed from is set): 207 by the model against 172 written.
    A scan through a partial index reads the rows its WHERE keeps (3,000 against 2,701); an
    upsert … SELECT looks up every row it is offered (250 against 401); RETURNING keeps the
    rows aside and reads them back (2,100 against 2,150); a DELETE whose index search is
    driven by an IN (SELECT …) list visits every row of the listed keys (5,833 against
    8,877). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, SHOP, statements=7, reads_within=0.01)


IOT = {
    "0001_schema.sql": (
        "CREATE TABLE devices (id TEXT PRIMARY KEY, site TEXT NOT NULL, kind TEXT NOT "
        "NULL, active INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;\n"
        "CREATE INDEX devices_site ON devices(site, kind);\n"
        "CREATE TABLE readings (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE "
        "CASCADE, ts INTEGER NOT NULL, temp REAL, hum REAL, PRIMARY KEY (device_id, ts)) "
        "WITHOUT ROWID;\n"
        "CREATE INDEX readings_ts ON readings(ts);\n"
        "CREATE TABLE hourly (device_id TEXT NOT NULL, hour TEXT NOT NULL, avg_temp REAL, "
        "n INTEGER NOT NULL, PRIMARY KEY (device_id, hour)) WITHOUT ROWID;\n"
        "CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT "
        "NULL, ts INTEGER NOT NULL, msg TEXT NOT NULL);\n"
        "CREATE INDEX alerts_device ON alerts(device_id);\n"
    ),
    "0002_rows.sql": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
        "INSERT INTO devices SELECT printf('dev-%03d', i), 'site-' || (i % 8), CASE i % 3 "
        "WHEN 0 THEN 'thermo' WHEN 1 THEN 'hygro' ELSE 'combo' END, i % 17 <> 0 FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999) "
        "INSERT INTO readings SELECT printf('dev-%03d', 1 + i % 200), 1700000000 + (i / "
        "200) * 600, 15 + (i % 23) * 0.5, CASE WHEN i % 9 = 0 THEN NULL ELSE 40 + i % 30 "
        "END FROM n;\n"
    ),
    "0003_target.sql": (
        "INSERT INTO hourly SELECT device_id, strftime('%Y-%m-%dT%H', ts, 'unixepoch'), "
        "avg(temp), count(*) FROM readings WHERE ts < 1700010000 GROUP BY 1, 2;\n"
        "WITH hot AS (SELECT device_id, max(temp) AS t FROM readings GROUP BY device_id "
        "HAVING max(temp) > 25) INSERT INTO alerts (device_id, ts, msg) SELECT device_id, "
        "1800000000, 'hot ' || t FROM hot;\n"
        "DELETE FROM readings WHERE ts < 1700003000;\n"
        "UPDATE readings SET hum = 0 WHERE hum IS NULL AND device_id IN (SELECT id FROM "
        "devices WHERE site = 'site-3');\n"
        "INSERT INTO alerts (device_id, ts, msg) SELECT DISTINCT device_id, 1800000001, "
        "'seen' FROM readings WHERE temp < 16;\n"
        "DELETE FROM devices WHERE active = 0;\n"
        "REPLACE INTO hourly SELECT device_id, 'total', avg(temp), count(*) FROM readings "
        "GROUP BY device_id;\n"
        "UPDATE devices SET kind = CASE kind WHEN 'combo' THEN 'multi' ELSE kind END "
        "WHERE site IN ('site-1', 'site-2');\n"
        "DELETE FROM readings WHERE device_id = 'dev-005' AND ts BETWEEN 1700010000 AND "
        "1700020000;\n"
    ),
}


def test_time_series_in_without_rowid_tables_match_miniflare(tmp_path):
    """A seventh differential run, after the six before it (devices and readings keyed by
    (device, time) in WITHOUT ROWID tables, hourly rollups with strftime, a CTE feeding an
    INSERT, DISTINCT, REPLACE INTO, deletes by key ranges): 8 of 9 statements within 1% on
    the first try. The ninth: a search of a WITHOUT ROWID table on the first column of its
    key, driven by an IN (SELECT …) list, reads 2 per list value as an index search does
    (1,276 by the model against 1,326). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, IOT, statements=9, reads_within=0.01)


REPLIES = {
    "0001_schema.sql": "CREATE TABLE u (id INTEGER PRIMARY KEY, d INTEGER);\n"
    "CREATE TABLE p (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES u(id) ON "
    "DELETE CASCADE, reply_to INTEGER REFERENCES p(id) ON DELETE SET NULL);\n"
    "CREATE INDEX p_author ON p(author_id);\n"
    "CREATE INDEX p_reply ON p(reply_to);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 300) INSERT INTO u SELECT i, i % 50 = 0 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
    "INSERT INTO p SELECT i, 1 + i % 300, CASE WHEN i > 10 AND i % 4 = 0 THEN i - 7 END "
    "FROM n;\n",
    "0003_target.sql": "DELETE FROM u WHERE d = 1;\n"
    "WITH RECURSIVE thread(id) AS (SELECT 12 UNION ALL SELECT p.id FROM p JOIN thread t ON "
    "p.reply_to = t.id) DELETE FROM p WHERE id IN (SELECT id FROM thread);\n",
}


def test_posts_replying_to_posts_a_cascade_deletes_are_nulled_and_billed(tmp_path):
    """An eighth differential run (a social graph): deleting users cascades to their posts,
    and the replies to those posts are nulled (`reply_to … ON DELETE SET NULL` on the same
    table). The Meter kept one state per child table, so posts deleted hid posts nulled:
    those were taken for trigger rows at 1 write each, 36 by the model against 56 in D1 (a
    row nulled so rewrites every index of its table: 3 each with two indexes, 2 with one).
    The rows nulled are now told apart by the keys they held; so, deleting a post that is
    itself a reply (a thread by a recursive CTE), its own key is no row nulled (3 written by
    the model against 1). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, REPLIES, statements=2, reads_within=0.01)


FERRY = {
    "0001_schema.sql": 'CREATE TABLE "Passenger" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT '
    'NOT NULL, "tier" TEXT NOT NULL);\n'
    'CREATE UNIQUE INDEX "Passenger_email_key" ON "Passenger"("email");\n'
    "CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER);\n"
    + "".join(
        f"CREATE TABLE log{i} (id INTEGER PRIMARY KEY AUTOINCREMENT, n TEXT);\n" for i in range(6)
    ),
    "0002_rows.sql": "".join(f"INSERT INTO log{i} (n) VALUES ('a');\n" for i in range(6))
    + "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 1620) INSERT INTO \"Passenger\" SELECT printf('p%05d', i), CASE WHEN i % 13 = 0 "
    "THEN 'User' || (i % 1500) || '@X.com' ELSE 'user' || i || '@x.com' END, "
    "CASE i % 3 WHEN 0 THEN 'GOLD' ELSE 'standard' END FROM n;\n",
    "0003_target.sql": 'CREATE TABLE "_keep" AS SELECT lower("email") AS email_key, '
    'min(rowid) AS keep_rowid FROM "Passenger" GROUP BY lower("email");\n'
    'CREATE TABLE IF NOT EXISTS "_keep" AS SELECT 1 AS one;\n'
    'CREATE TABLE tiers AS SELECT DISTINCT tier FROM "Passenger" ORDER BY tier;\n'
    "CREATE TABLE gold AS SELECT id, rowid AS r FROM \"Passenger\" WHERE tier = 'GOLD';\n"
    "CREATE TABLE IF NOT EXISTS tally (id INTEGER PRIMARY KEY, n INTEGER);\n"
    'CREATE INDEX IF NOT EXISTS "Passenger_email_key" ON "Passenger"("email");\n'
    'CREATE INDEX IF NOT EXISTS passenger_tier ON "Passenger"(tier);\n'
    "CREATE VIEW IF NOT EXISTS golden AS SELECT id FROM gold;\n"
    "CREATE VIEW IF NOT EXISTS golden AS SELECT id FROM gold;\n"
    'DROP TABLE "_keep";\n'
    "DROP TABLE log0;\n",
}


def test_create_table_as_select_and_if_not_exists_match_miniflare(tmp_path):
    """Stranger's project #10 (a ferry booking service) dedupes passengers through a
    `CREATE TABLE _keep AS SELECT … GROUP BY`: D1 bills it as the CREATE TABLE (1 read, 2
    written) and the INSERT … SELECT it amounts to, 3,241 read and 1,502 written here; the
    model billed 1 and 2. `CREATE … IF NOT EXISTS` of what is there costs nothing in D1; the
    model billed it as created (an index: the table's rows read twice and written once, 3,242
    and 1,621). `SELECT DISTINCT x … ORDER BY x` sorts (a GROUP BY's sorter) though its plan
    only shows the DISTINCT: 1,620 read against 3,240. A DROP TABLE of an AUTOINCREMENT table
    reads sqlite_sequence for its row too (24 against 21 on the project's rebuild of its
    bookings). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, FERRY, statements=11, reads_within=0.01)


TAGS = {
    "0001_schema.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY, tags TEXT NOT NULL);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 1000) INSERT INTO b (tags) SELECT CASE i % 4 WHEN 0 THEN '[]' WHEN 1 THEN "
    '\'["A"]\' WHEN 2 THEN \'["b","A"]\' ELSE \'["c","C","d"]\' END FROM n;\n',
    "0003_target.sql": "UPDATE b SET tags = (SELECT json_group_array(lower(value)) FROM "
    "json_each(b.tags)) WHERE json_array_length(tags) > 0;\n"
    "UPDATE b SET tags = (SELECT json_group_array(t) FROM (SELECT DISTINCT lower(value) AS t "
    "FROM json_each(b.tags)));\n"
    "UPDATE b SET tags = (SELECT json_group_array(t) FROM (SELECT value AS t FROM "
    "json_each(b.tags) ORDER BY 1));\n"
    "UPDATE b SET tags = (SELECT coalesce(json_group_array(t), '[]') FROM (SELECT DISTINCT "
    "upper(value) AS t FROM json_each(b.tags) ORDER BY 1)) WHERE json_array_length(tags) > 0;\n",
}


def test_json_arrays_rewritten_in_set_subqueries_match_miniflare(tmp_path):
    """Stranger's project #10 sorts and dedupes each booking's JSON tags in a SET subquery
    over json_each: 25,395 read by the model against 47,800 in D1. Each run steps through the
    elements of the rows the UPDATE's WHERE keeps (the model took the table's mean: 2,125
    against 2,500 here); a sorter in the subquery reads its elements back, 1 when it has none;
    a DISTINCT there keeps an ephemeral table of its own, not a second pass of the UPDATE
    (3,500 against 2,500); and an UPDATE of the JSON column changes its element counts for
    the statements after it (the model kept the first count: 4,250 against 3,750). Writes
    equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, TAGS, statements=4, reads_within=0.01)


LOOKUPS = {
    "0001_schema.sql": "CREATE TABLE p (id TEXT NOT NULL PRIMARY KEY, email TEXT, name TEXT);\n"
    "CREATE TABLE b (id INTEGER PRIMARY KEY, pid TEXT NOT NULL REFERENCES p(id) ON DELETE "
    "RESTRICT ON UPDATE CASCADE, key TEXT, v TEXT);\n"
    "CREATE INDEX b_pid ON b(pid);\n"
    "CREATE TABLE k (key TEXT, val TEXT);\n"
    "CREATE TABLE q (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 1000) INSERT INTO p SELECT printf('p%05d', i), 'user' || (i % 900) || '@x.com', "
    "'name ' || i FROM n;\n"
    "INSERT INTO q SELECT rowid, email, name FROM p;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
    "INSERT INTO b (pid, key) SELECT printf('p%05d', 1 + (i % 900)), 'K' || (i % 250) FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
    "INSERT INTO k SELECT 'K' || ((i * 7) % 200), 'v' || i FROM n;\n",
    "0003_target.sql": "UPDATE b SET v = (SELECT k.val FROM k WHERE k.key = b.key);\n"
    "UPDATE b SET v = 'x' WHERE id <= 500 AND EXISTS (SELECT 1 FROM k WHERE k.key = b.key);\n"
    "CREATE TABLE keep AS SELECT email AS e, min(rowid) AS r FROM p GROUP BY email;\n"
    "UPDATE q SET name = 'x' WHERE rowid NOT IN (SELECT r FROM keep WHERE r <= 500);\n"
    "DELETE FROM q WHERE email NOT IN (SELECT e FROM keep WHERE r <= 500);\n"
    "UPDATE p SET name = 'y' WHERE id NOT IN (SELECT pid FROM b WHERE id % 7 = 0);\n"
    "DELETE FROM p WHERE rowid NOT IN (SELECT r FROM keep);\n"
    "DELETE FROM b WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.key = b.key);\n",
}


def test_lookups_stopping_at_their_first_row_and_not_in_lists_match_miniflare(tmp_path):
    """Stranger's project #10 points bookings at a surviving passenger through a scalar
    subquery that scans an unindexed lookup table: SQLite stops at the first row found, so
    each run reads about half of it — 654,740 in D1, 1,370,195 by the model, which read it
    whole; the model now takes the steps SQLite's own counter (FULLSCAN_STEP) gives. A NOT IN
    (SELECT …) list is looked up once per row tested (a list that cannot hold NULL, only for
    the rows not in it), and a row deleted in two passes is sought once, the look-up of a
    child its read if the table is a parent: the project's dedupe read 3,481 by the model
    against 4,860. Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, LOOKUPS, statements=8, reads_within=0.01)


CHILDREN = {
    "0001_schema.sql": "CREATE TABLE p (id TEXT NOT NULL PRIMARY KEY, n TEXT);\n"
    "CREATE TABLE b (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p(id) ON DELETE RESTRICT);\n"
    "CREATE INDEX b_pid ON b(pid);\n"
    "CREATE TABLE c (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p(id));\n"
    "CREATE TABLE d (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p(id));\n"
    "CREATE INDEX d_pid ON d(pid);\n"
    "CREATE TABLE e (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p(id) ON DELETE CASCADE);\n"
    "CREATE INDEX e_pid ON e(pid);\n"
    "CREATE TABLE f (id INTEGER PRIMARY KEY, pid TEXT REFERENCES p(id) ON DELETE SET NULL);\n"
    "CREATE INDEX f_pid ON f(pid);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 1000) INSERT INTO p SELECT printf('p%05d', i), 'x' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
    "INSERT INTO b (pid) SELECT printf('p%05d', 1 + (i % 800)) FROM n;\n"
    "INSERT INTO e (pid) SELECT pid FROM b;\n"
    "INSERT INTO f (pid) SELECT printf('p%05d', 1 + (id % 1000)) FROM b;\n",
    "0003_target.sql": "DELETE FROM p WHERE rowid > 950;\n"
    "DELETE FROM p WHERE rowid > 900 AND rowid <= 950;\n"
    "DELETE FROM p WHERE rowid > 850 AND rowid <= 900;\n",
}


def test_a_parent_with_several_children_reads_one_look_for_all_of_them(tmp_path):
    """Stranger's project #10 deleted passengers, a parent of bookings (indexed), and the
    model's figure for a parent of two children was off: D1 reads 1 per row deleted for the
    first look at its children, whatever their number, then only each unindexed child's scan
    and each action's own reads; the model charged that 1 per child (an indexed RESTRICT child
    and an empty unindexed one: 201 against 150; two indexed: 152 against 100; with CASCADE
    and SET NULL children too, 749 against 698). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, CHILDREN, statements=3, reads_within=0.01)


def _nested(index_middle: bool) -> dict[str, str]:
    """Stations → readings → flags → notes, every key a CASCADE; flags and notes unindexed
    on their keys; the rows bunched at the first parents (old rows have the most children)."""
    middle = "CREATE INDEX readings_station ON readings(station_id);\n" if index_middle else ""
    return {
        "0001_schema.sql": "CREATE TABLE stations (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE readings (id INTEGER PRIMARY KEY, station_id INTEGER REFERENCES "
        "stations(id) ON DELETE CASCADE, v REAL);\n" + middle + "CREATE TABLE flags "
        "(id INTEGER PRIMARY KEY, reading_id INTEGER REFERENCES readings(id) "
        "ON DELETE CASCADE, why TEXT);\n"
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, flag_id INTEGER REFERENCES flags(id) "
        "ON DELETE CASCADE, body TEXT);\n",
        "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 6) INSERT INTO stations SELECT i, 's' || i FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) "
        "INSERT INTO readings (station_id, v) SELECT CASE WHEN i % 4 THEN 1 + i % 2 "
        "ELSE 3 + i % 4 END, i FROM n ORDER BY i % 5, i;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 90) "
        "INSERT INTO flags (reading_id, why) SELECT 1 + (i * i) % 25, 'f' FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
        "INSERT INTO notes (flag_id, body) SELECT 1 + i % 9, 'n' FROM n;\n",
        "0003_target.sql": "DELETE FROM stations WHERE id IN (2, 1, 5);\n"
        "DELETE FROM readings WHERE id > 100;\n",
    }


@pytest.mark.parametrize("index_middle", [True, False])
def test_cascades_into_unindexed_grandchildren_follow_the_order_rows_go(tmp_path, index_middle):
    """Stranger's project #11: a cascade two levels down into a table with no index on its
    key was charged as if its rows were spread evenly over the rows deleted above it; they
    were bunched at the first (302 reads against D1's 198, 1,424 against 1,298). Each level
    now takes the order SQLite deletes in: its parent's place, then rowid. Reads within 1%."""
    _target_matches_miniflare(tmp_path, _nested(index_middle), statements=2, reads_within=0.01)


NOT_IN_TESTS = {
    "0001_schema.sql": "CREATE TABLE kilns (slot INTEGER PRIMARY KEY, label TEXT);\n"
    'CREATE TABLE "member\'s pieces" (piece_id INTEGER PRIMARY KEY, glaze TEXT, photo BLOB);\n',
    "0002_rows.sql": "INSERT INTO kilns (label) VALUES ('ash'), ('celadon'), ('shino?'), "
    "('tenmoku'), ('ash');\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900) "
    'INSERT INTO "member\'s pieces" (glaze, photo) SELECT CASE i % 8 WHEN 0 THEN NULL '
    "WHEN 1 THEN 'Ash ' WHEN 2 THEN 'ash' WHEN 3 THEN 'celadon' WHEN 4 THEN 'it''s blue' "
    "WHEN 5 THEN 'shino?' WHEN 6 THEN 'tenmoku' ELSE 'ümber' END, "
    "CASE WHEN i % 5 = 0 THEN x'00ff' END FROM n;\n",
    "0003_target.sql": "UPDATE \"member's pieces\" SET glaze = 'gone' WHERE piece_id % 3 = 0 "
    "AND glaze NOT IN (SELECT label FROM kilns);\n"
    "DELETE FROM \"member's pieces\" WHERE glaze LIKE 'a%' AND (glaze NOT IN "
    "(SELECT label FROM kilns) OR piece_id > 450);\n"
    'DELETE FROM "member\'s pieces" WHERE glaze IS NULL OR glaze NOT IN '
    "(SELECT label FROM kilns WHERE label IS NOT NULL) AND glaze LIKE '%?%';\n"
    'DELETE FROM "member\'s pieces" WHERE glaze IS NULL OR glaze NOT IN '
    "(SELECT label FROM kilns WHERE slot > 1);\n"
    'DELETE FROM "member\'s pieces" WHERE glaze NOT IN (SELECT label FROM kilns);\n',
}


def test_a_not_in_list_is_looked_up_only_where_its_test_is_reached(tmp_path):
    """Stranger's project #12 pruned pieces `WHERE glaze IS NULL OR glaze NOT IN (SELECT …) AND
    glaze LIKE '%?%'`: 1,914 reads by the model against D1's 1,129, since every row scanned
    was taken to look its glaze up in the list. SQLite looks it up only where the test is
    reached (after an OR's first side is not true, an AND's first side true; the side without
    a subquery first), and once more where the glaze is NULL. Reads within 1%."""
    _target_matches_miniflare(tmp_path, NOT_IN_TESTS, statements=5, reads_within=0.01)


COMPOSITE_KEYS = {
    "0001_schema.sql": "CREATE TABLE kilns (studio TEXT NOT NULL, slot INTEGER NOT NULL, "
    '"temp ""max""" INTEGER, PRIMARY KEY (studio, slot));\n'
    "CREATE TABLE firings (id INTEGER PRIMARY KEY AUTOINCREMENT, studio TEXT NOT NULL, "
    "slot INTEGER NOT NULL, status TEXT, FOREIGN KEY (studio, slot) REFERENCES "
    "kilns(studio, slot) ON DELETE CASCADE);\n"
    "CREATE INDEX firings_kiln ON firings(studio, slot);\n"
    "CREATE TABLE pieces (id INTEGER PRIMARY KEY, firing_id INTEGER NOT NULL "
    "REFERENCES firings(id) ON DELETE CASCADE, glaze TEXT);\n",
    "0002_rows.sql": "INSERT INTO kilns SELECT s.v, n.v, CASE WHEN (s.r + n.v) % 3 THEN 1305 END "
    "FROM (SELECT 'north' AS v, 0 AS r UNION ALL SELECT 'south''s', 1 UNION ALL "
    "SELECT 'east \"annex\"', 2) s, (SELECT 1 AS v UNION ALL SELECT 2 UNION ALL SELECT 3 "
    "UNION ALL SELECT 4) n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO firings (studio, slot, status) SELECT CASE i % 3 WHEN 0 THEN 'north' "
    "WHEN 1 THEN 'south''s' ELSE 'east \"annex\"' END, 1 + i % 4, 'B' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700) "
    "INSERT INTO pieces (firing_id, glaze) SELECT 1 + (i * 7) % 300, 'ash' FROM n;\n",
    "0003_target.sql": 'DELETE FROM kilns WHERE "temp ""max""" IS NULL;\n'
    "DELETE FROM firings WHERE id % 10 = 0;\n",
}


def test_a_foreign_key_of_two_columns_is_one_key(tmp_path):
    """Stranger's project #12: firings refer to kilns by (studio, slot), under an index on
    both. The model took the key for two foreign keys, one per column, and scanned firings
    for `slot` (no index leads by it) per kiln deleted: 86,313 reads against D1's 83,710.
    A key of several columns is one key now. Reads within 1%."""
    _target_matches_miniflare(tmp_path, COMPOSITE_KEYS, statements=2, reads_within=0.01)


ORPHANS = {
    "0001_schema.sql": "CREATE TABLE parents (code TEXT PRIMARY KEY, name TEXT);\n"
    "CREATE TABLE strict_parents (code TEXT PRIMARY KEY NOT NULL, name TEXT);\n"
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, name TEXT);\n"
    "CREATE TABLE kids (id INTEGER PRIMARY KEY, code TEXT, owner INTEGER, v INTEGER, "
    "done INTEGER NOT NULL DEFAULT 0);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 50) INSERT INTO parents SELECT 'p' || i, 'n' FROM n;\n"
    "INSERT INTO strict_parents SELECT code, name FROM parents WHERE rowid % 4;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
    "INSERT INTO owners SELECT i, 'o' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1400) "
    "INSERT INTO kids (code, owner, v) SELECT CASE WHEN i % 9 = 0 THEN NULL "
    "ELSE 'p' || (i % 67) END, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 53 END, i FROM n;\n",
    "0003_target.sql": "UPDATE kids SET done = 1 WHERE code NOT IN "
    "(SELECT code FROM strict_parents);\n"
    "UPDATE kids SET v = -v WHERE v > 300 AND code NOT IN (SELECT code FROM parents);\n"
    "DELETE FROM kids WHERE owner NOT IN (SELECT id FROM owners) OR v < 30;\n"
    "DELETE FROM kids WHERE id NOT IN (SELECT id FROM kids WHERE done = 0) OR v < 0;\n"
    "DELETE FROM kids WHERE code NOT IN (SELECT code FROM parents) OR v < 90;\n",
}


def test_orphans_cleaned_through_a_key_sought_in_place_match_miniflare(tmp_path):
    """`DELETE … WHERE code NOT IN (SELECT code FROM parents)` over a TEXT PRIMARY KEY builds
    no list: SQLite seeks the key's index in place (stranger's project #12 shape: 1,551 reads
    by the model against D1's 929; the model scanned the table again as for a list of
    literals). A NULL asks whether the index is empty; a value not found costs 1 when the key
    cannot be NULL, else the index is asked once whether it holds one; a rowid key is sought
    where the test is reached. Reads within 1%."""
    _target_matches_miniflare(tmp_path, ORPHANS, statements=5, reads_within=0.01)


REFUNDS = {
    "0001_schema.sql": "CREATE TABLE members (id TEXT PRIMARY KEY NOT NULL, credit INTEGER "
    "NOT NULL DEFAULT 0);\n"
    "CREATE TABLE firings (id INTEGER PRIMARY KEY, member_id TEXT REFERENCES members(id), "
    "status TEXT NOT NULL);\n"
    "CREATE TRIGGER refund AFTER UPDATE OF status ON firings\n"
    "WHEN NEW.status = 'X' AND OLD.status = 'B'\n"
    "BEGIN UPDATE members SET credit = credit + 15 WHERE id = NEW.member_id; END;\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 60) INSERT INTO members SELECT 'm-' || i, i % 3 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
    "INSERT INTO firings SELECT i, CASE WHEN i % 13 THEN 'm-' || (1 + i % 60) END, "
    "substr('BBFX', 1 + i % 4, 1) FROM n;\n",
    "0003_target.sql": "UPDATE firings SET status = 'X' WHERE id % 3 = 0;\n"
    "UPDATE firings SET status = 'X' WHERE member_id NOT IN "
    "(SELECT id FROM members WHERE credit > 0);\n",
}


def test_a_trigger_whose_when_reads_old_fires_where_it_holds(tmp_path):
    """Stranger's project #12 refunds a member when a firing goes from booked to cancelled
    (`WHEN NEW.status = 'X' AND OLD.status = 'B'`), by the member's TEXT key. The model took
    the OLD term as true (106 firings against 53) and a unique key's look-up for 2 reads
    (990 reads against D1's 835). An UPDATE's rows are kept with their values before, and the
    whole WHEN is counted over them; a look-up through a UNIQUE index on all its columns
    reads 1. Reads within 1%."""
    _target_matches_miniflare(tmp_path, REFUNDS, statements=2, reads_within=0.01)


LISTED_TWICE = {
    "0001_schema.sql": "CREATE TABLE firings (id INTEGER PRIMARY KEY, status TEXT, "
    "fired_on TEXT);\n"
    "CREATE TABLE pieces (id INTEGER PRIMARY KEY, firing_id INTEGER, glaze TEXT);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 400) INSERT INTO firings SELECT i, substr('BBFX', 1 + i % 4, 1), NULL FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900) "
    "INSERT INTO pieces SELECT i, CASE WHEN i % 17 THEN 1 + (i * 7) % 400 END, "
    "CASE i % 2 WHEN 0 THEN 'ash' ELSE 'celadon' END FROM n;\n",
    "0003_target.sql": "UPDATE firings SET status = 'F' WHERE status = 'B' AND id IN "
    "(SELECT firing_id FROM pieces WHERE glaze = 'ash');\n"
    "DELETE FROM firings WHERE id IN (SELECT firing_id FROM pieces WHERE glaze <> 'ash');\n"
    "CREATE INDEX firings_status ON firings(status);\n"
    "UPDATE firings SET status = 'B' WHERE status = 'F' AND id IN "
    "(SELECT firing_id + 1 FROM pieces WHERE glaze = 'ash');\n",
}


def test_a_value_listed_twice_is_sought_once(tmp_path):
    """Stranger's project #12 set firings whose pieces are glazed with ash: `id IN (SELECT
    firing_id FROM pieces WHERE …)` drives a search by rowid, once per value of the list. Many
    pieces share a firing (126 rows, 100 values): the model sought each row, 1,240 reads
    against D1's 1,188 (a DELETE of the firings of other pieces 2,744 against 1,033); an IN
    list is an index of its values, NULL left out. Through an index on (status) the search is
    on (status=? AND rowid=?): a value not found reads 1, one found 2 (#12: 1,232 against
    1,176 once the index was there; here 1,300 against 1,102). Reads within 1%."""
    _target_matches_miniflare(tmp_path, LISTED_TWICE, statements=4, reads_within=0.01)


UNIQUE_LISTED = {
    "0001_schema.sql": "CREATE TABLE members (id TEXT PRIMARY KEY NOT NULL, email TEXT "
    "UNIQUE COLLATE NOCASE);\n"
    "CREATE TABLE firings (id INTEGER PRIMARY KEY, member_id TEXT REFERENCES members(id) "
    "ON DELETE SET NULL, status TEXT NOT NULL);\n"
    "CREATE INDEX firings_member ON firings(member_id);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 60) INSERT INTO members SELECT 'm-' || i, 'M' || i || '@x' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
    "INSERT INTO firings SELECT i, CASE WHEN i % 13 THEN 'm-' || (1 + i * 7 % 60) END, "
    "substr('BBFX', 1 + i % 4, 1) FROM n;\n",
    "0003_target.sql": "DELETE FROM members WHERE id IN "
    "(SELECT member_id FROM firings WHERE status = 'X');\n"
    "UPDATE members SET email = lower(email) WHERE email IN "
    "(SELECT 'M' || (id % 70) || '@x' FROM firings);\n",
}


def test_a_list_driving_a_unique_key_seeks_each_value_once(tmp_path):
    """Stranger's project #12 deleted the members of cancelled firings: `id IN (SELECT
    member_id …)` drives a search of members through its TEXT PRIMARY KEY's unique index,
    1 read per value (the model took 2, as for an index whose key can repeat: 1,386 reads
    against D1's 1,315 with the cascade). Reads within 1%."""
    _target_matches_miniflare(tmp_path, UNIQUE_LISTED, statements=2, reads_within=0.01)


TOTALS = {
    "0001_schema.sql": "CREATE TABLE sites (site_id INTEGER PRIMARY KEY, name TEXT);\n"
    "CREATE TABLE sightings (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES "
    "sites(site_id), species TEXT NOT NULL, count INTEGER NOT NULL, seen_at TEXT);\n"
    "CREATE INDEX sightings_site ON sightings(site_id, seen_at);\n"
    "CREATE INDEX sightings_species ON sightings(lower(species));\n"
    "CREATE INDEX sightings_big ON sightings(count) WHERE count > 50;\n"
    "CREATE TABLE totals (site_id INTEGER PRIMARY KEY REFERENCES sites(site_id), "
    "birds INTEGER NOT NULL);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 30) INSERT INTO sites SELECT i, 'Site ' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
    "INSERT INTO sightings SELECT i, 1 + i * 7 % 30, substr(' Gull gull Tern', 1 + i % 3 * 5, 5), "
    "CASE i % 5 WHEN 0 THEN 60 WHEN 1 THEN 120 ELSE i % 9 END, '2025-01-' || (i % 28) FROM n;\n"
    "INSERT INTO totals SELECT site_id, 0 FROM sites WHERE site_id <= 10;\n",
    "0003_target.sql": "INSERT INTO totals (site_id, birds) SELECT site_id, sum(count) "
    "FROM sightings WHERE true GROUP BY site_id "
    "ON CONFLICT(site_id) DO UPDATE SET birds = excluded.birds;\n"
    "INSERT INTO totals (site_id, birds) SELECT site_id, count(*) FROM sightings "
    "GROUP BY site_id ON CONFLICT DO NOTHING;\n"
    "INSERT INTO totals (site_id, birds) SELECT 1 + site_id % 25, count(*) FROM sightings "
    "WHERE true GROUP BY 1 ON CONFLICT(site_id) DO UPDATE SET site_id = excluded.site_id;\n"
    "UPDATE sightings SET count = s.total FROM (SELECT id, count * 2 AS total "
    "FROM sightings WHERE species = ' gull') AS s WHERE sightings.id = s.id;\n",
}


def test_upserts_from_a_group_by_and_updates_from_a_subquery_match_miniflare(tmp_path):
    """Stranger's project #13 rolled sightings up per site with an upsert from a GROUP BY:
    each row the SELECT yields is looked up, not each row it groups (2,430 reads against D1's
    1,230); ON CONFLICT DO NOTHING looks them up as INSERT OR IGNORE does (1,200 against
    1,230); a row DO UPDATE rewrites seeks its parent only when it sets the key. Its `UPDATE …
    FROM (SELECT …)` doubling gull counts wrote 1,059 against 436: the rows it updates are now
    told apart (a partial index holds only those its WHERE keeps, an index on lower(species)
    is rewritten only where that moves). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, TOTALS, statements=4, reads_within=0.01)


JOINS_WITHOUT_INDEXES = {
    "0001_schema.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, k TEXT, g INTEGER);\n"
    "CREATE TABLE b (id INTEGER PRIMARY KEY, k TEXT, v INTEGER);\n"
    "CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER);\n"
    "CREATE TABLE out1 (x INTEGER, y INTEGER);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 300) INSERT INTO a SELECT i, 'k' || (i % 40), i % 5 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
    "INSERT INTO b SELECT i, 'k' || (i % 50), i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
    "INSERT INTO c SELECT i, i FROM n;\n",
    "0003_target.sql": "INSERT INTO out1 SELECT a.id, b.id FROM a JOIN b ON b.k = a.k "
    "WHERE a.g = 2;\n"
    "UPDATE b AS x SET v = x.v + 1 FROM a WHERE a.id = x.id AND a.g = 3;\n"
    'UPDATE b AS "y y" SET v = 1 FROM (SELECT id FROM a WHERE g = 1) AS q WHERE q.id = "y y".id;\n'
    "INSERT INTO out1 SELECT a.id, b.id FROM a LEFT JOIN b ON b.v = a.id * 3 WHERE a.g < 2;\n"
    "INSERT INTO out1 SELECT a.id, c.id FROM a, b, c WHERE a.id = b.id AND c.v = b.v % 50 "
    "AND a.g = 1;\n"
    "INSERT INTO out1 SELECT a.id, b.id FROM a JOIN b ON abs(b.v - a.id) < 3;\n",
}


def test_joins_without_an_index_match_miniflare(tmp_path):
    """Stranger's project #14 seeded its links with `INSERT … SELECT … FROM notes a JOIN
    notes b ON <an expression>`: SQLite scans b once per row of a, 490,700 reads in D1, 1,400
    by the model (a scan counted once). A join on a column without an index makes SQLite
    build an automatic index: the table read once, then each search's rows, plus 1 per
    search that finds any (800 against 360 before). An UPDATE … FROM naming its own table by
    an alias: the plan's alias is its table (421 against 480 before). Writes equal, reads
    within 1%."""
    _target_matches_miniflare(tmp_path, JOINS_WITHOUT_INDEXES, statements=6, reads_within=0.01)


LINKS = {
    "0001_schema.sql": "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, g INTEGER);\n"
    "CREATE TABLE links (f TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE, "
    "t TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE, PRIMARY KEY (f, t)) WITHOUT ROWID;\n",
    "0002_rows.sql": "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k "
    "WHERE i < 100) INSERT INTO notes SELECT 'n' || (1000 + i), i % 10 FROM k;\n"
    "INSERT INTO links SELECT a.id, b.id FROM notes a JOIN notes b "
    "ON (a.rowid * 7 + b.rowid * 3) % 23 = 0;\n",
    "0003_target.sql": "DELETE FROM notes WHERE id = 'n1001';\n"
    "DELETE FROM notes WHERE id = 'n1050';\n"
    "CREATE INDEX links_t ON links(t);\n"
    "DELETE FROM notes WHERE id = 'n1002';\n"
    "DELETE FROM notes WHERE g = 5;\n",
}


def test_a_link_table_with_two_cascading_keys_is_billed_per_key(tmp_path):
    """Stranger's project #14 links notes to notes in a WITHOUT ROWID table whose two keys
    both cascade. The model charged each key for every link the delete removed, by either
    key: a note deleted read 52 by the model against 29 in D1 with both keys indexed, ten
    notes 573 against 356. Each key now counts the links whose row it points at went (one
    pointing at two gone rows counted half to each); the table a scan reads still shrinks
    by all of them. Writes equal, reads within 1%. (Still off: ten notes deleted with the
    second key unindexed, 7,510 against 7,887.)"""
    _target_matches_miniflare(tmp_path, LINKS, statements=5, reads_within=0.01)


PIERS = {
    "0001_schema.sql": "CREATE TABLE berths (pier TEXT NOT NULL, slot INTEGER NOT NULL, "
    "len REAL, PRIMARY KEY (pier, slot));\n"
    "CREATE TABLE boats (id INTEGER PRIMARY KEY, home_pier TEXT, home_slot INTEGER, "
    "FOREIGN KEY (home_pier, home_slot) REFERENCES berths (pier, slot) "
    "ON UPDATE CASCADE ON DELETE SET NULL);\n"
    "CREATE TABLE stays (id INTEGER PRIMARY KEY, pier TEXT, slot INTEGER, night INTEGER, "
    "FOREIGN KEY (pier, slot) REFERENCES berths (pier, slot) "
    "ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);\n"
    "CREATE INDEX stays_slot ON stays (pier, slot, night);\n"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, pier TEXT, slot INTEGER, "
    "FOREIGN KEY (pier, slot) REFERENCES berths (pier, slot) ON UPDATE SET NULL);\n",
    "0002_rows.sql": "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k "
    "WHERE i < 40) INSERT INTO berths SELECT char(65 + i % 3), i, 5 + i % 7 FROM k;\n"
    "INSERT INTO boats SELECT rowid, pier, slot FROM berths WHERE slot % 3 = 0 "
    "UNION ALL SELECT rowid + 100, pier, slot FROM berths WHERE slot % 4 = 0;\n"
    "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 300) "
    "INSERT INTO stays SELECT i, b.pier, b.slot, i % 9 FROM k JOIN berths b "
    "ON b.slot = 1 + (i * 7) % 25;\n"
    "INSERT INTO notes SELECT slot, pier, slot FROM berths WHERE slot % 5 = 1;\n",
    "0003_target.sql": "UPDATE berths SET slot = slot + 100 WHERE pier = 'B';\n"
    "UPDATE berths SET len = len + 1, slot = slot WHERE pier = 'A';\n"
    "PRAGMA defer_foreign_keys = on;\n"
    "UPDATE berths SET slot = slot + 1000 WHERE pier = 'C' AND slot < 30;\n"
    "PRAGMA defer_foreign_keys = off;\n"
    "UPDATE berths SET len = len * 2 WHERE pier = 'A';\n"
    "UPDATE berths SET pier = 'D', slot = slot + 200 WHERE pier = 'A' AND slot < 20;\n"
    "UPDATE stays SET night = (SELECT b.len FROM berths AS b WHERE b.pier = stays.pier "
    "AND b.slot = stays.slot) WHERE night = 3;\n",
}


def test_an_update_of_a_parent_key_reads_its_children_as_d1_does(tmp_path):
    """Stranger's project #16 renumbered a pier's berths, a key boats (unindexed) and
    bookings (indexed, DEFERRABLE) follow ON UPDATE CASCADE: 122 reads by the model, 71,442
    in D1. Per row whose key the SET names, SQLite searches each child for the old key, again
    for the new one when a child of the same count (keys declared deferred apart from the
    others, under `PRAGMA defer_foreign_keys` too) holds it, and once more per action when
    the key changed, 2 per child rewritten; a scan reads the child whole. The ON UPDATE
    CASCADE index entries are one per index per row, not per column changed. A correlated
    subquery through the parent's full primary key reads 1 a run, not 2 (#16's price
    backfill: 4,135 against 3,895). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, PIERS, statements=8, reads_within=0.01)


KEYS_MOVED = {
    "0001_schema.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, n TEXT);\n"
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) "
    "ON UPDATE CASCADE);\n"
    "CREATE TABLE plans (code TEXT PRIMARY KEY, v INTEGER);\n"
    "CREATE TABLE seats (plan TEXT, k INTEGER, PRIMARY KEY (plan, k), FOREIGN KEY (plan) "
    "REFERENCES plans (code) ON UPDATE CASCADE) WITHOUT ROWID;\n"
    "CREATE TABLE moves (old INTEGER PRIMARY KEY, new INTEGER);\n",
    "0002_rows.sql": "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q "
    "WHERE i < 40) INSERT INTO users SELECT i, 'u' || i FROM q;\n"
    "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 200) "
    "INSERT INTO orders SELECT i, 1 + i % 30 FROM q;\n"
    "INSERT INTO plans SELECT 'p' || id, id FROM users;\n"
    "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 150) "
    "INSERT INTO seats SELECT 'p' || (1 + i % 20), i FROM q;\n"
    "INSERT INTO moves SELECT id, id + 500 FROM users WHERE id % 4 = 0;\n",
    "0003_target.sql": "UPDATE users SET id = id + 1000 WHERE id <= 10;\n"
    "UPDATE plans SET code = upper(code) WHERE v <= 12;\n"
    "UPDATE users SET id = moves.new FROM moves WHERE users.id = moves.old;\n",
}


def test_keys_moved_through_a_rowid_a_without_rowid_child_and_update_from(tmp_path):
    """More parent keys rewritten, after #16: an INTEGER PRIMARY KEY moved (the rows are no
    longer found by their old rowid: 30 reads by the model against 6,327 in D1), a WITHOUT
    ROWID child rewritten (1 read a row, not 2: 280 against 228), an UPDATE … FROM choosing
    the new keys. Writes equal; reads within 3% (the moved rowid key reads a little more in
    D1 than modelled: 6,168 against 6,327)."""
    _target_matches_miniflare(tmp_path, KEYS_MOVED, statements=3, reads_within=0.03)


LIMITED = {
    "0001_schema.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, meta TEXT);\n"
    "CREATE INDEX t_a ON t (a);\n"
    "CREATE TABLE u (id INTEGER PRIMARY KEY, x TEXT);\n",
    "0002_rows.sql": "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q "
    "WHERE i < 500) INSERT INTO t SELECT i, i % 37, 'b' || i, 'x' FROM q;\n"
    "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 400) "
    "INSERT INTO u SELECT i, 'x' || (i % 9) FROM q;\n",
    "0003_target.sql": "DELETE FROM t LIMIT 5;\n"
    "DELETE FROM t WHERE a = 3 LIMIT 2;\n"
    "DELETE FROM t WHERE a > 30 ORDER BY b DESC LIMIT 7;\n"
    "UPDATE t SET b = b || '!' WHERE a < 5 ORDER BY id LIMIT 10 OFFSET 3;\n"
    "UPDATE t SET b = 'z' WHERE a = 5 ORDER BY b LIMIT 3;\n"
    "DELETE FROM u WHERE x = 'x3' LIMIT 10;\n"
    "UPDATE u SET x = 'y' WHERE x LIKE 'x7%' LIMIT 1000;\n"
    "DELETE FROM u WHERE id IN (SELECT id FROM u WHERE x = 'x1' LIMIT 4);\n",
}


def test_limited_updates_and_deletes_read_as_d1_does(tmp_path):
    """Stranger's project #17: D1 runs `DELETE … ORDER BY … LIMIT` (d1nb runs it as SQLite
    does inside, rows chosen by `rowid IN (SELECT … LIMIT n)`). The model counted the
    subquery's scan whole: 515 reads against D1's 20 for `DELETE FROM t LIMIT 5`, 516 against
    143 with an OFFSET. A list filled up to its LIMIT reads the rows its scan stepped through
    (SQLite's own count of them); one sorted for its ORDER BY reads every row its search finds
    and, when the index does not hold the sort key, its table row (107 against 177). The same
    for a hand-written `IN (SELECT … LIMIT n)`. Writes equal; reads within 3%."""
    _target_matches_miniflare(tmp_path, LIMITED, statements=8, reads_within=0.03)


NAMED_N = {
    "0001_schema.sql": "CREATE TABLE p (code TEXT PRIMARY KEY, v INTEGER);\n"
    "CREATE TABLE c (id INTEGER PRIMARY KEY, n TEXT REFERENCES p (code) ON UPDATE CASCADE);\n",
    "0002_rows.sql": "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q "
    "WHERE i < 40) INSERT INTO p SELECT 'p' || i, i FROM q;\n"
    "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 300) "
    "INSERT INTO c SELECT i, 'p' || (1 + i % 20) FROM q;\n",
    "0003_target.sql": "UPDATE p SET code = upper(code) WHERE v <= 12;\n",
}


def test_a_child_key_column_named_like_d1nbs_own_count(tmp_path):
    """The children holding each parent key were counted as `count(*) AS n` beside the key
    columns: a child whose key column is itself named `n` gave its key in place of the count
    (10,864 reads against D1's 11,224, found after stranger's project #18's diff met the same
    name). Exact now."""
    _target_matches_miniflare(tmp_path, NAMED_N, statements=1, reads_within=0.0)


ORDERS = {
    "0001_schema.sql": "CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT NOT NULL) "
    "WITHOUT ROWID;\n"
    "CREATE TABLE orders (customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE "
    "CASCADE, order_no INTEGER NOT NULL, placed_at INTEGER, seq INTEGER, "
    "PRIMARY KEY (customer_id, order_no));\n"
    "CREATE TABLE events (kind TEXT, at INTEGER);\n",
    "0002_rows.sql": "INSERT INTO events VALUES ('seeded', 1), ('x', 2);\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 240) INSERT INTO customers SELECT printf('c%04d', i), 'u' || i || '@x' FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700) "
    "INSERT INTO orders (customer_id, order_no, placed_at) SELECT printf('c%04d', 1 + i % 240), "
    "i, CASE WHEN i % 5 THEN 1760000000 + (i * 7919) % 9000000 END FROM n;\n",
    "0003_target.sql": "WITH ranked AS (SELECT customer_id, order_no, row_number() OVER "
    "(PARTITION BY customer_id ORDER BY placed_at, order_no) AS rn FROM orders) "
    "UPDATE orders SET seq = (SELECT rn FROM ranked WHERE ranked.customer_id = "
    "orders.customer_id AND ranked.order_no = orders.order_no);\n"
    "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
    "ORDER BY o.placed_at;\n"
    "REPLACE INTO events (rowid, kind, at) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
    "SELECT i + 1 FROM n WHERE i < 300) SELECT i, 'r', i FROM n;\n",
}


def test_a_rank_from_a_cte_looked_up_per_row_is_read_once(tmp_path):
    """Stranger's project #20: `WITH ranked AS (… row_number() OVER …) UPDATE orders SET seq
    = (SELECT rn FROM ranked WHERE …)` read 516,483 rows by the model against 4,546 in D1.
    SQLite fills an automatic index from the CTE once per statement, not once per row, and
    its scan through a non-covering index reads each row too (a deferred seek), its partial
    sorter (`LAST 2 TERMS OF ORDER BY`) its rows again. And `REPLACE INTO events (rowid, …)`
    looks each rowid up first (0 by the model, which knew the rowid only as an INTEGER PRIMARY
    KEY column). Writes equal, reads within 1%."""
    _target_matches_miniflare(tmp_path, ORDERS, statements=3, reads_within=0.01)


UPDATES_FROM_GROUPED_SUBQUERIES = {
    "0001_schema.sql": 'CREATE TABLE "ledger lines" (rowid TEXT NOT NULL, oid INTEGER, '
    "memo TEXT DEFAULT '');\n"
    "CREATE TABLE tags (owner TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (owner, tag)) "
    "WITHOUT ROWID;\n"
    "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, v INTEGER);\n"
    "CREATE TABLE s (id INTEGER PRIMARY KEY, tid INTEGER, w INTEGER);\n"
    "CREATE TABLE acc (id INTEGER PRIMARY KEY, name TEXT, total INTEGER DEFAULT 0);\n"
    "CREATE TABLE pay (id INTEGER PRIMARY KEY, acc_id INTEGER REFERENCES acc(id), "
    "amount INTEGER);\n"
    "CREATE INDEX pay_acc ON pay(acc_id);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000) INSERT INTO \"ledger lines\" SELECT 'L' || (i % 700), i % 50, "
    "CASE WHEN i % 3 = 0 THEN 'x' ELSE '' END FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
    "INSERT INTO tags SELECT 'L' || (i % 900), 't' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
    "INSERT INTO t SELECT i, i % 7, 0 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
    "INSERT INTO s SELECT i, (i * 7) % 1200, i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
    "INSERT INTO acc SELECT i, 'a' || i, 0 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
    "INSERT INTO pay SELECT i, 1 + (i * 13) % 350, i % 97 FROM n;\n",
    "0003_target.sql": 'UPDATE "ledger lines" SET memo = t.tag FROM (SELECT owner, max(tag) '
    'AS tag FROM tags GROUP BY owner) AS t WHERE t.owner = "ledger lines".rowid '
    "AND \"ledger lines\".memo = '';\n"
    "UPDATE t SET v = q.m FROM (SELECT tid, max(w) AS m FROM s WHERE tid < 500 GROUP BY tid) "
    "AS q WHERE q.tid = t.id;\n"
    "WITH q AS (SELECT tid, max(w) AS m FROM s GROUP BY tid) UPDATE t SET v = q.m FROM q "
    "WHERE q.tid = t.id AND t.g = 3;\n"
    "UPDATE t SET v = q.m FROM (SELECT tid, max(w) AS m FROM s GROUP BY tid ORDER BY m DESC) "
    "AS q WHERE q.tid = t.id;\n"
    "UPDATE t SET v = q.m FROM (SELECT tid, max(w) AS m FROM s GROUP BY tid) AS q, "
    "(SELECT tid, count(*) AS c FROM s GROUP BY tid) AS r WHERE q.tid = t.id AND r.tid = t.id;\n"
    "INSERT INTO t (g, v) SELECT q.tid, q.m FROM (SELECT tid, max(w) AS m FROM s "
    "WHERE tid > 1100 GROUP BY tid) AS q JOIN s ON s.id = q.tid;\n"
    "UPDATE s SET w = q.m FROM (SELECT id, g * 2 AS m FROM t GROUP BY g) AS q "
    "WHERE q.id = s.tid;\n"
    "UPDATE pay SET amount = acc.total FROM acc WHERE acc.id = pay.acc_id AND pay.id < 500;\n"
    "UPDATE pay SET amount = acc.total FROM acc WHERE acc.id = pay.acc_id AND pay.id < 500 "
    "AND pay.amount > 50;\n"
    "UPDATE pay SET amount = acc.total + 1 FROM acc WHERE acc.id = pay.acc_id AND acc.id < 100;\n"
    "UPDATE pay SET amount = acc.total FROM acc WHERE acc.id = pay.acc_id "
    "AND pay.acc_id BETWEEN 10 AND 60 AND acc.name LIKE 'a1%';\n",
}


def test_updates_from_grouped_subqueries_and_own_searches_match_miniflare(tmp_path):
    """Stranger's project #22 backfilled a memo with `UPDATE … FROM (SELECT owner, max(tag)
    … GROUP BY owner)` searched through an automatic index: 6,134 reads by the model against
    8,882 in D1 (8,862 now), the index's build and searches counted as 1 (6,169 against
    9,734 here, where the subquery's alias `t` is also a table's name: its rows are the
    subquery's). A subquery's sorter is fed its FROM's rows and reads them back, an ORDER
    BY's its groups, a CTE's the same (3,429 against 8,686; 7,400 against 11,600). A second
    subquery searched after the target was counted as a cross product with the first
    (1,449,201 against 19,600); an INSERT's SELECT from a grouped subquery fed its own rows
    to that sorter (3,198 against 3,339); an UPDATE … FROM searching its own table first
    counted one seek of its partner in all, not one per row (1,498 against 1,997; 4,252
    against 5,669 where the range is carried over from the partner's). Writes equal, reads
    within 1%."""
    _target_matches_miniflare(
        tmp_path, UPDATES_FROM_GROUPED_SUBQUERIES, statements=11, reads_within=0.01
    )


UPDATES_FROM_TABLES_SOUGHT_BY_KEY = {
    "0001_schema.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v INTEGER);\n"
    "CREATE TABLE kv (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;\n"
    "CREATE TABLE uq (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER);\n"
    "CREATE TABLE ix (id INTEGER PRIMARY KEY, k TEXT, n INTEGER);\n"
    "CREATE INDEX ix_k ON ix(k);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 800) INSERT INTO t SELECT i, 'k' || (i % 150), 0 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
    "INSERT INTO kv SELECT 'k' || i, i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
    "INSERT INTO uq SELECT i, 'k' || i, i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO ix SELECT i, 'k' || (i % 100), i FROM n;\n",
    "0003_target.sql": "UPDATE t SET v = kv.n FROM kv WHERE kv.k = t.k;\n"
    "UPDATE t SET v = kv.n FROM kv WHERE kv.k = t.k AND kv.n > 50;\n"
    "UPDATE t SET v = uq.n FROM uq WHERE uq.k = t.k AND uq.n > 50;\n"
    "UPDATE t SET v = ix.n FROM ix WHERE ix.k = t.k AND ix.n > 150;\n"
    "UPDATE t SET v = 1 FROM kv WHERE kv.k = t.k AND t.id < 400;\n",
}


def test_updates_from_tables_sought_by_key_match_miniflare(tmp_path):
    """The commonest backfill, `UPDATE t SET … FROM other WHERE other.key = t.key`, seeking
    `other` by its WITHOUT ROWID primary key or a UNIQUE index reads each row found (the
    other's own terms filter them after); through an index that is not unique, each row
    found and 1 per seek that finds any. The model counted 1 for all the seeks: 1,901
    against 2,450 in D1; 1,901 against 4,095 through the index. Writes equal, reads within
    1%."""
    _target_matches_miniflare(
        tmp_path, UPDATES_FROM_TABLES_SOUGHT_BY_KEY, statements=5, reads_within=0.01
    )


IN_LISTS_AND_SELECTS = {
    "0001_schema.sql": "CREATE TABLE patient (pid INTEGER PRIMARY KEY, email TEXT UNIQUE, "
    "born TEXT);\n"
    "CREATE TABLE appt (appt_id INTEGER PRIMARY KEY, "
    "pid INTEGER NOT NULL REFERENCES patient(pid) ON DELETE CASCADE, starts_at TEXT);\n"
    "CREATE INDEX appt_by_patient ON appt(pid, starts_at);\n"
    "CREATE TABLE agg (k, n);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 2000) INSERT INTO patient SELECT i, "
    "CASE WHEN i % 17 = 0 THEN NULL ELSE 'p' || i END, NULL FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) "
    "INSERT INTO appt SELECT i, 1 + (i * 7919) % 1700, (i * 31) % 300 FROM n;\n",
    "0003_target.sql": "DELETE FROM patient WHERE email IS NULL "
    "AND pid NOT IN (SELECT pid FROM appt WHERE pid IS NOT NULL);\n"
    "UPDATE patient SET born = 'x' WHERE email IN ('p1', 'p2', 'p3', 'p4') "
    "AND pid NOT IN (SELECT pid FROM appt WHERE starts_at < 20);\n"
    "UPDATE patient SET born = 'y' WHERE pid IN (SELECT pid FROM appt WHERE starts_at < 5) "
    "AND email NOT IN ('p1', 'p2');\n"
    "UPDATE patient SET born = 'v' WHERE pid IN (SELECT pid FROM appt WHERE starts_at < 5) "
    "AND email NOT IN ('p1', 'p2', 'p3', 'p4');\n"
    "UPDATE patient SET born = 'u' WHERE email NOT IN ('p1', 'p2');\n"
    "UPDATE patient SET born = 's' WHERE email NOT IN ('p1', 'p2', 'p3');\n"
    "DELETE FROM appt WHERE pid > 1500 AND starts_at NOT IN ('1', '2', '3');\n"
    "DELETE FROM appt WHERE starts_at NOT IN ('1', '2');\n"
    "SELECT count(*) FROM patient WHERE email IS NULL;\n"
    "SELECT starts_at, count(*) FROM patient JOIN appt USING (pid) WHERE pid < 100 "
    "GROUP BY starts_at;\n"
    "SELECT pid, count(*) FROM appt WHERE pid < 900 GROUP BY pid ORDER BY 2 DESC LIMIT 5;\n"
    "SELECT pid % 10, count(*) FROM appt GROUP BY 1;\n"
    "INSERT INTO agg SELECT pid % 50, count(*) FROM appt WHERE pid < 900 GROUP BY 1 "
    "ORDER BY 2 DESC;\n",
}


def test_in_lists_and_a_migrations_own_selects_match_miniflare(tmp_path):
    """Checked on stranger's project #23 (a clinic's orphan clean-up and its checks): an IN
    list's values are sought one by one only when the list drives the search (a NOT IN,
    or a list on a column the search does not take, only filters: 7,852 by the model against
    6,152 in D1 before); a NOT IN literal list of 1 or 2 values is compared in place, no
    ephemeral table, no look-ups (4,000 against 2,000 before, and an UPDATE seen as one pass:
    11,100 against 12,596), one of 3 or more is looked up by the rows the terms before it
    keep; a migration's own SELECT reads what its search finds and what
    its sorters are fed (a search counted as 1 read: 1 against 101, 1 against 1,002; a
    GROUP BY's sorter not counted: 6,000 against 12,000), and an INSERT's SELECT sorting its
    groups feeds that sorter its groups, not its rows (1,057 against 1,002). Writes equal,
    reads within 1%."""
    _target_matches_miniflare(tmp_path, IN_LISTS_AND_SELECTS, statements=13, reads_within=0.01)


RENAMES = {
    "0001_schema.sql": "CREATE TABLE a1 (x INTEGER PRIMARY KEY, y);\n",
    "0003_target.sql": "CREATE TABLE p2 (a INTEGER PRIMARY KEY, b, c);\n"
    "ALTER TABLE p2 RENAME TO p3;\n"
    "CREATE INDEX p3_b ON p3(b);\n"
    "ALTER TABLE p3 RENAME TO p4;\n"
    "CREATE INDEX p4_c ON p4(c);\n"
    "ALTER TABLE p4 RENAME TO p5;\n"
    "CREATE TRIGGER t5 AFTER INSERT ON p5 BEGIN SELECT 1; END;\n"
    'ALTER TABLE p5 RENAME TO "p6\'s";\n'
    "CREATE TABLE q (k TEXT UNIQUE, v);\n"
    "ALTER TABLE q RENAME TO q2;\n"
    "CREATE TABLE r (k INTEGER PRIMARY KEY AUTOINCREMENT, v);\n"
    "INSERT INTO r (v) VALUES (1);\n"
    "ALTER TABLE r RENAME TO r2;\n",
}


RENAMES_APART = {
    "0001_schema.sql": "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT UNIQUE);\n"
    "CREATE TABLE child (id INTEGER PRIMARY KEY,"
    " pid INTEGER REFERENCES parent(id) ON DELETE CASCADE, note TEXT);\n"
    "CREATE INDEX child_pid ON child(pid);\n"
    "CREATE VIEW v_child AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.pid;\n"
    "INSERT INTO parent (name) VALUES ('a'), ('b');\n",
    "0003_target.sql": "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;\n"
    'ALTER TABLE kv RENAME TO "key values";\n'
    "ALTER TABLE child RENAME TO kid;\n"
    "CREATE TRIGGER kid_ins AFTER INSERT ON kid BEGIN\n"
    "  UPDATE parent SET name = name WHERE id = new.pid; END;\n"
    "CREATE TRIGGER kid_upd AFTER UPDATE ON kid BEGIN SELECT 1; END;\n"
    "ALTER TABLE kid RENAME TO kid2;\n"
    "ALTER TABLE parent RENAME TO mom;\n"
    "CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, a UNIQUE, b UNIQUE, c CHECK (c > 0));\n"
    "CREATE INDEX s_ab ON s(a, b) WHERE a IS NOT NULL;\n"
    "ALTER TABLE s RENAME TO [s two];\n"
    "CREATE VIEW v2 AS SELECT * FROM [s two];\n"
    "ALTER TABLE [s two] RENAME TO s3;\n",
}


def test_renames_read_and_write_as_d1_does(tmp_path):
    """ALTER TABLE … RENAME rewrites every schema row but other tables' indexes, then its
    own table's rows again by their new names: an index or trigger of the renamed table is
    written twice (stranger's project #23's rebuild, `"doctor's roster_new"` renamed; the
    model wrote 1 for each before). It reads the schema three times and what it rewrites
    twice (the model read 4 × the schema rows before: 24 against 33). The Miniflare side has
    the ledger wrangler creates before it applies anything, as the replay's copy has (without
    it D1 wrote 1 fewer and read 8 fewer for each RENAME). The second project was written
    apart from the fit: foreign keys, a view over the renamed table, WITHOUT ROWID, a partial
    index, brackets and spaces in names."""
    target = _target_metered(tmp_path / "fitted", RENAMES)
    assert target["d1_error"].isna().all()
    renames = target[target["kind"] == "rename_table"]
    assert renames["d1_rows_written"].tolist() == [5, 7, 9, 11, 8, 9]
    assert renames["d1_rows_read"].tolist() == [33, 40, 47, 54, 54, 59]
    apart = _target_metered(tmp_path / "apart", RENAMES_APART)
    assert apart["d1_error"].isna().all()
    assert apart[apart["kind"] == "rename_table"]["d1_rows_read"].tolist() == [
        49,
        53,
        67,
        61,
        81,
        86,
    ]
    for compared in (target, apart):
        assert compared["rows_written"].tolist() == compared["d1_rows_written"].tolist()
        assert compared["rows_read"].tolist() == compared["d1_rows_read"].tolist()


_THOUSAND = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "

CORRELATED_SEARCHES = {
    "0001_schema.sql": "CREATE TABLE o (id INTEGER PRIMARY KEY, st TEXT, tot INTEGER, k INTEGER,\n"
    "  c TEXT);\n"
    "CREATE TABLE li (id INTEGER PRIMARY KEY, oid INTEGER, kind TEXT, qty INTEGER,\n"
    "  amount INTEGER GENERATED ALWAYS AS (qty * 3) VIRTUAL);\n"
    "CREATE INDEX li_ok ON li(oid, kind);\n"
    "CREATE INDEX li_kq ON li(kind, qty);\n"
    "CREATE TABLE w (k TEXT, v INTEGER, PRIMARY KEY (k, v)) WITHOUT ROWID;\n"
    f"INSERT INTO o {_THOUSAND}SELECT i, CASE WHEN i % 3 = 0 THEN 'open' ELSE 'paid' END, 0,\n"
    "  CASE WHEN i % 5 = 0 THEN NULL ELSE i % 400 END,\n"
    "  CASE i % 5 WHEN 0 THEN 'a' WHEN 1 THEN 'aa' WHEN 2 THEN NULL WHEN 3 THEN 'c' ELSE 'zz' END\n"
    "  FROM n;\n"
    f"INSERT INTO li (oid, kind, qty) {_THOUSAND}SELECT i % 350,\n"
    "  CASE i % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END, NULLIF(i % 7, 0) FROM n;\n"
    f"INSERT INTO w {_THOUSAND}SELECT CASE i % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END, i\n"
    "  FROM n;\n",
    "0003_target.sql": "UPDATE o SET tot = (SELECT count(*) FROM li WHERE li.oid = o.k);\n"
    "UPDATE o AS x SET tot = (SELECT sum(amount) FROM li AS y WHERE y.oid = x.k AND y.kind = x.c)\n"
    "  WHERE x.st = 'open';\n"
    "UPDATE o SET tot = (SELECT count(*) FROM li WHERE oid = o.k AND kind = 'b');\n"
    "UPDATE o SET tot = (SELECT max(qty) FROM li WHERE kind = o.c);\n"
    "UPDATE o SET tot = (SELECT min(qty) FROM li WHERE li.kind = o.c) WHERE id % 2 = 0;\n"
    "UPDATE o SET tot = (SELECT max(oid) FROM li WHERE kind = o.c);\n"
    "UPDATE o SET tot = (SELECT total(qty) FROM li WHERE li.kind = o.c), st = 'x' WHERE id > 500;\n"
    "UPDATE o SET tot = (SELECT count(*) FROM li WHERE li.oid = o.k + 1 AND li.qty > 2);\n"
    "UPDATE o SET tot = (SELECT count(*) FROM w WHERE w.k = o.c);\n"
    "UPDATE o SET tot = (SELECT avg(qty) FROM li WHERE li.kind = o.c || 'a');\n",
}

MIN_MAX_SEARCHES = {
    "0001_schema.sql": "CREATE TABLE o (id INTEGER PRIMARY KEY, tot INTEGER, c TEXT UNIQUE);\n"
    "CREATE TABLE li (id INTEGER PRIMARY KEY, kind TEXT, qty INTEGER);\n"
    "CREATE INDEX li_kq ON li(kind, qty);\n"
    "INSERT INTO o (c) VALUES ('a'), ('aa'), ('b'), ('c'), ('z');\n"
    "INSERT INTO li (kind, qty) VALUES ('a', 1), ('a', 2), ('a', 3), ('b', NULL), ('b', 5),\n"
    "  ('b', 6), ('c', NULL);\n",
    "0003_target.sql": "".join(
        f"UPDATE o SET tot = (SELECT {f}(qty) FROM li WHERE kind = o.c) WHERE o.c = '{k}';\n"
        for f in ("min", "max")
        for k in ("a", "aa", "b", "c", "z")
    ),
}


def test_correlated_aggregate_searches_read_what_their_keys_find(tmp_path):
    """An aggregate subquery in an UPDATE's SET searching an index by keys equal to the
    updated row's values reads, per run, the entries found + 1 for the entry after them (none
    when it finds none, or past the last key); max() of the index's next column 1 a run that
    finds any, min() 1 or 2. The model took the mean rows per key of the table over every run
    (stranger's project #24, `UPDATE "order" SET total_cents = (SELECT sum(amount) FROM
    "line-item" …)`: 7,243 against 6,310; 3,000 against 134,400 for a WITHOUT ROWID key
    prefix here). Reads and writes equal, statement by statement."""
    for name, files in (("keys", CORRELATED_SEARCHES), ("min_max", MIN_MAX_SEARCHES)):
        target = _target_metered(tmp_path / name, files)
        assert len(target) == 10
        assert target["d1_error"].isna().all()
        assert target["rows_written"].tolist() == target["d1_rows_written"].tolist()
        assert target["rows_read"].tolist() == target["d1_rows_read"].tolist(), name


CHECK_LISTS = {
    "0001_schema.sql": "CREATE TABLE src (id INTEGER PRIMARY KEY, st TEXT);\n"
    "CREATE TABLE d1 (id INTEGER PRIMARY KEY, st TEXT CHECK (st IN ('open', 'paid', 'void')));\n"
    "CREATE TABLE d2 (id INTEGER PRIMARY KEY, st TEXT, CHECK (st IN ('open', 'paid', 'void')));\n"
    "CREATE TABLE d3 (id INTEGER PRIMARY KEY, st TEXT CHECK (st IN ('open', 'paid')));\n"
    "CREATE TABLE n (id INTEGER PRIMARY KEY, k TEXT CHECK (k NOT IN ('x', 'y', 'z')));\n"
    "CREATE TABLE o (id INTEGER PRIMARY KEY,\n"
    "  k TEXT CHECK (k IN ('a', 'b', 'c', 'd') OR k = 'q'));\n"
    "CREATE TABLE g (id INTEGER PRIMARY KEY, k TEXT CHECK (k IS NULL OR k IN ('a', 'b', 'c')));\n"
    "INSERT INTO src (st) VALUES ('open'), ('paid'), ('void'), (NULL), ('open'), ('open'),\n"
    "  (NULL), ('void'), ('paid'), ('open');\n",
    "0003_target.sql": "INSERT INTO d1 SELECT * FROM src;\n"
    "INSERT INTO d2 SELECT * FROM src WHERE st IS NULL;\n"
    "INSERT INTO d3 SELECT * FROM src WHERE st = 'open';\n"
    "INSERT INTO d1 (st) VALUES ('open'), ('void'), (NULL);\n"
    "UPDATE d2 SET st = 'paid';\n"
    "UPDATE d1 SET st = NULL WHERE st = 'void';\n"
    "INSERT INTO n (k) VALUES ('a'), ('b'), (NULL);\n"
    "INSERT INTO o (k) VALUES ('a'), ('q'), (NULL), (NULL);\n"
    "INSERT INTO g (k) VALUES ('a'), (NULL), (NULL);\n"
    "UPDATE o SET k = NULL;\n",
}


def test_check_in_lists_read_by_what_reaches_them(tmp_path):
    """A CHECK's IN list of 3 or more values is probed once a row written; a NULL that
    reaches it reads 1 more (SQLite looks whether the list is empty), one an `IS NULL OR`
    keeps from it none, and a NOT IN list reads nothing. The model counted 1 a row for all
    of them (stranger's project #24: its rebuild's INSERT … SELECT into a table whose
    `status` CHECK lists three values read 8,740 by the model against 9,290, for 550 rows
    with a NULL status). Reads and writes equal, statement by statement."""
    _target_equals_miniflare(tmp_path, CHECK_LISTS, statements=10)


SCHEMA_DROPS = {
    "0001_schema.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);\n"
    "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));\n"
    "CREATE INDEX b_a ON b(a_id);\n"
    "CREATE VIEW v1 AS SELECT * FROM a;\n"
    'CREATE VIEW "v 2" AS SELECT * FROM b;\n'
    "CREATE TRIGGER t1 AFTER INSERT ON a BEGIN SELECT 1; END;\n"
    "CREATE TABLE e (id INTEGER PRIMARY KEY, k INTEGER);\n"
    "CREATE TABLE f (id INTEGER PRIMARY KEY AUTOINCREMENT, x);\n"
    "INSERT INTO f (x) VALUES (1), (2);\n",
    "0003_target.sql": "DROP VIEW v1;\n"
    'DROP VIEW "v 2";\n'
    "DROP TRIGGER t1;\n"
    "DROP INDEX b_a;\n"
    "DROP VIEW IF EXISTS v1;\n"
    "DROP TABLE f;\n"
    "DROP TABLE e;\n",
}


def test_schema_drops_read_the_schema_with_the_ledger_in_place(tmp_path):
    """DROP VIEW and DROP TRIGGER read the schema's rows, DROP INDEX and DROP TABLE of a
    table no foreign key points at 1 more. The constants were fitted when Miniflare lacked
    the ledger the replay's copy has (stranger's project #24 showed them 2 short: 10
    against 12 for its DROP VIEW); and the Miniflare side lacked the ledger row wrangler
    appends to each file's batch, whose sqlite_sequence row the DROP TABLE of an
    AUTOINCREMENT table reads (11 against 10). Reads and writes equal."""
    _target_equals_miniflare(tmp_path, SCHEMA_DROPS, statements=7)


EXISTS_SEARCHES = {
    "0001_schema.sql": "CREATE TABLE p (id INTEGER PRIMARY KEY, k INTEGER, st TEXT);\n"
    "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER, kind TEXT, v INTEGER);\n"
    "CREATE INDEX c_p ON c(pid, kind);\n"
    "CREATE TABLE w (pid INTEGER, n INTEGER, PRIMARY KEY (pid, n)) WITHOUT ROWID;\n"
    f"INSERT INTO p {_THOUSAND}SELECT i, i % 10, CASE WHEN i % 4 = 0 THEN 'x' ELSE 'y' END\n"
    "  FROM n;\n"
    f"INSERT INTO c (pid, kind, v) {_THOUSAND}SELECT (i * 7) % 1300,\n"
    "  CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END, i FROM n;\n"
    f"INSERT INTO w {_THOUSAND}SELECT (i * 3) % 1100, i FROM n WHERE i < 400;\n",
    "0003_target.sql": "DELETE FROM p WHERE st = 'x' AND NOT EXISTS\n"
    "  (SELECT 1 FROM c WHERE c.pid = p.id);\n"
    "UPDATE p SET st = 'z' WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.pid = p.id) AND k < 5;\n"
    "UPDATE p AS q SET k = 0 WHERE EXISTS (SELECT 1 FROM c AS d WHERE d.pid = q.id\n"
    "  AND d.kind = 'a');\n"
    "DELETE FROM p WHERE EXISTS (SELECT 1 FROM w WHERE w.pid = p.id) AND id > 900;\n"
    "UPDATE p SET k = 7 WHERE id % 3 = 0 AND NOT EXISTS (SELECT * FROM w WHERE pid = p.id);\n"
    "DELETE FROM p WHERE (SELECT count(*) FROM c WHERE c.pid = p.id) = 0 AND st = 'y';\n"
    "UPDATE p SET k = 1 WHERE k > 3 AND (SELECT max(kind) FROM c WHERE c.pid = p.id) = 'b';\n",
}


def test_exists_searches_stop_at_the_first_row(tmp_path):
    """An UPDATE's or DELETE's `[NOT] EXISTS (SELECT … WHERE <index keys> = <the row's
    values>)` reads 1 a run that finds a row and none otherwise, and runs for the rows the
    WHERE's other terms keep (SQLite tests terms with subqueries last). The model took the
    mean rows per key + 1 for every row of the statement's loop (an orphan clean-up,
    `DELETE FROM p WHERE st = 'x' AND NOT EXISTS (…)`: 2,839 against 1,250). An aggregate
    subquery in such a WHERE runs for the same rows and reads as in a SET (`(SELECT count(*)
    …) = 0 AND st = 'y'`: 2,841 against 1,728 before). Writes equal; reads equal but for a
    WITHOUT ROWID key prefix (1,200 against 1,201, not explained)."""
    target = _target_metered(tmp_path, EXISTS_SEARCHES)
    assert len(target) == 7
    assert target["d1_error"].isna().all()
    assert target["rows_written"].tolist() == target["d1_rows_written"].tolist()
    read, d1_read = target["rows_read"].tolist(), target["d1_rows_read"].tolist()
    assert read[:4] + read[5:] == d1_read[:4] + d1_read[5:]
    assert abs(read[4] - d1_read[4]) <= 1


EMPTY_SCANS = {
    "0001_schema.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b);\n"
    "CREATE TABLE u (id INTEGER PRIMARY KEY, a, b);\n"
    "CREATE TABLE w (a, b);\n"
    "INSERT INTO u VALUES (1, 1, 1), (2, 1, 1), (3, 2, 1);\n",
    "0003_target.sql": "SELECT * FROM t;\n"
    "SELECT count(*) FROM t;\n"
    "SELECT count(*) FROM u;\n"
    "SELECT count(1) FROM w;\n"
    "SELECT count(*) FROM t WHERE a = 1;\n"
    "DELETE FROM t;\n"
    "UPDATE t SET a = 1;\n"
    "UPDATE t SET a = 1 WHERE length(b) > 64 AND a = 3;\n"
    "INSERT INTO u (a, b) SELECT a, b FROM t WHERE b > 3;\n"
    "UPDATE u SET a = (SELECT max(a) FROM t) WHERE id = 1;\n"
    "DELETE FROM w WHERE a IS NULL;\n"
    "CREATE INDEX t_a ON t(a);\n"
    "UPDATE t SET b = 1 WHERE a = 3;\n"
    "UPDATE t SET b = 2 WHERE b = 1;\n"
    "DELETE FROM w;\n"
    "UPDATE u SET b = 8 WHERE b = 1;\n",
}


def test_a_scan_of_an_empty_table_reads_one_row(tmp_path):
    """Stranger's project #26: a backfill's `UPDATE "delivery log" … WHERE length(body) > 64
    AND outcome = 'ok'` ran after a cascade had emptied the table, and read 1 row in D1
    against 0 by the model. A full scan's rewind is a read even when it finds no row; a
    `count(*)` SQLite answers by OP_Count reads none, a search of an empty index none, a
    DELETE with no WHERE none. Reads and writes equal, statement by statement."""
    _target_equals_miniflare(tmp_path, EMPTY_SCANS, statements=16)


def test_a_database_with_fts5_and_rtree_tables_is_measured_in_miniflare(tmp_path):
    """Local state whose database holds an external-content FTS5 table kept by triggers, an
    FTS5 table with its own rows and an R*Tree: Miniflare gets them from statements (their
    shadow tables are not SQL's to write) and measures an update that fires the triggers and
    inserts into each (found on a stranger's project: any replay whose database held an
    FTS5 table stopped at wrangler's own export error)."""
    import apsw

    db = tmp_path / "state.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);"
        "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');"
        "CREATE VIRTUAL TABLE titles USING fts5(title);"
        "CREATE VIRTUAL TABLE spans USING rtree(id, lo, hi);"
        "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN "
        "INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body); END;"
        "CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN "
        "INSERT INTO notes_fts(notes_fts, rowid, body) VALUES ('delete', old.id, old.body); "
        "INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body); END;"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
        "INSERT INTO notes SELECT i, 'word' || (i % 17) || ' other' || i, 't' || (i % 3) FROM n;"
        "INSERT INTO titles(title) VALUES ('alpha beta'), ('gamma');"
        "INSERT INTO spans VALUES (1, 0, 5), (2, 3, 9);"
    )
    conn.close()
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_touch.sql").write_text(
        "UPDATE notes SET body = body || ' x' WHERE tag = 't1';\n"
        "INSERT INTO titles(title) VALUES ('delta');\n"
        "INSERT INTO spans VALUES (3, 1, 2);\n"
        "DELETE FROM notes WHERE id > 190;\n"
    )
    result = replay(load_snapshot(db, tmp_path / "work"), load_migration_dir(folder), None)
    assert result.ok
    compared = result.exact_metering()
    assert compared["d1_error"].isna().all()
    assert len(compared) == 4
    assert compared["rows_written"].tolist() == compared["d1_rows_written"].tolist()
    assert compared["rows_read"].tolist() == compared["d1_rows_read"].tolist()


def _parent_and_child(
    name: str, key: str, child_index: bool, parents: int, each: int, action: str = "CASCADE"
) -> str:
    """A parent table `name` keyed by INTEGER or TEXT, with `parents` rows, and its one child
    (ON DELETE `action`, `each` rows a parent, one more pointing nowhere), indexed on the key
    or not."""
    kind = "INTEGER" if key == "int" else "TEXT"
    sql = (
        f"CREATE TABLE {name} (id {kind} PRIMARY KEY, r TEXT);\n"
        f"CREATE TABLE {name}_c (id INTEGER PRIMARY KEY, pid {kind} "
        f"REFERENCES {name}(id) ON DELETE {action});\n"
        f"INSERT INTO {name}_c (pid) VALUES (NULL);\n"
    )
    if child_index:
        sql += f"CREATE INDEX {name}_c_pid ON {name}_c(pid);\n"
    for i in range(1, parents + 1):
        value = str(i) if key == "int" else f"'k{i}'"
        sql += f"INSERT INTO {name} VALUES ({value}, 'x');\n"
        sql += f"INSERT INTO {name}_c (pid) VALUES ({value});\n" * each
    return sql


ONE_CHILD = {
    "0001_schema.sql": "CREATE TABLE plain (id INTEGER PRIMARY KEY, r TEXT);\n"
    "CREATE TABLE coded (code TEXT PRIMARY KEY, r TEXT UNIQUE);\n"
    "CREATE INDEX coded_r2 ON coded (r, code);\n"
    "INSERT INTO coded VALUES ('a', 'x'), ('b', 'y');\n"
    + "".join(
        _parent_and_child(f"t{i}", key, index, parents, each, action)
        for i, (key, index, parents, each, action) in enumerate(
            [
                ("int", False, 3, 2, "CASCADE"),
                ("int", True, 3, 2, "CASCADE"),
                ("text", False, 3, 2, "CASCADE"),
                ("text", True, 3, 1, "CASCADE"),
                ("text", True, 0, 0, "CASCADE"),
                ("int", False, 2, 0, "CASCADE"),
                ("int", True, 3, 2, "CASCADE"),
                ("text", False, 3, 2, "CASCADE"),
                ("text", True, 2, 2, "CASCADE"),
                ("int", True, 1, 0, "CASCADE"),
                ("text", False, 3, 2, "SET NULL"),
                ("int", True, 3, 0, "SET DEFAULT"),
                ("text", True, 2, 0, "SET NULL"),
                ("text", False, 3, 2, "SET DEFAULT"),
            ]
        )
    ),
    "0002_nothing.sql": "SELECT 1;\n",
    "0003_target.sql": "DROP TABLE plain;\n"
    "DROP TABLE coded;\n"
    "DELETE FROM t0;\n"
    "DELETE FROM t1;\n"
    "DELETE FROM t2;\n"
    "DELETE FROM t3 WHERE id <> 'k2';\n"
    "DROP TABLE t4;\n"
    "DROP TABLE t5;\n"
    "DROP TABLE t6;\n"
    "DROP TABLE t7;\n"
    "DROP TABLE t8;\n"
    "DELETE FROM t9;\n"
    "DELETE FROM t10;\n"
    "DELETE FROM t11;\n"
    "DROP TABLE t12;\n"
    "DROP TABLE t13;\n",
}


def test_deletes_and_drops_of_a_parent_with_one_child_match_miniflare_exactly(tmp_path):
    """A table one foreign key points at, keyed by its rowid or by TEXT, its child (CASCADE,
    SET NULL, SET DEFAULT) indexed or scanned, deleted from or dropped: D1's reads exactly
    (found on a stranger's project, #29: swept over 176 such shapes, the model was off by 1 to
    6 in most: a DROP TABLE reads 1 more for each index that goes with it, and 1 for an empty
    table's scan; a child's row cascaded or nulled through a scan looks a TEXT-keyed parent
    up through its index, unbilled; the child's search in a DELETE's plan is the foreign
    key's look, which the cascade already counts; an indexed SET action's search reads 1
    for a parent it finds no row of)."""
    _target_equals_miniflare(tmp_path, ONE_CHILD, statements=16)


SCALAR_BACKFILLS = {
    "0001_schema.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER);\n"
    "CREATE TABLE e (id INTEGER PRIMARY KEY, tid INTEGER, v INTEGER);\n"
    "CREATE TABLE o (a INTEGER, b INTEGER);\n",
    "0002_rows.sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 400) INSERT INTO t (id, x) SELECT i, i % 3 FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO e (tid, v) SELECT 1 + (i * 7) % 150, i FROM n;\n",
    "0003_target.sql": "UPDATE t SET x = (SELECT max(v) FROM e WHERE e.tid = t.id);\n"
    "UPDATE t SET x = (SELECT min(v) FROM e WHERE e.tid = t.id) WHERE id > 350;\n"
    "INSERT INTO o SELECT max(v), 1 FROM e WHERE tid = 3;\n"
    "CREATE INDEX e_tid ON e (tid);\n"
    "UPDATE t SET y = (SELECT v FROM e WHERE e.tid = t.id);\n"
    "UPDATE t SET y = (SELECT q.v FROM e AS q WHERE q.tid = t.id LIMIT 1) WHERE x IS NOT NULL;\n"
    "UPDATE t SET x = (SELECT max(v) FROM e WHERE e.tid = t.id) WHERE id < 100;\n",
}


def test_backfills_from_a_scalar_subquery_match_miniflare_exactly(tmp_path):
    """The backfill every data migration writes, `SET col = (SELECT … FROM other WHERE
    other.key = t.id)`: a min() or max() with no index to take it is planned as `SEARCH e`
    with nothing after, and scans e whole each run (a t of 40 rows over an e of 30 read 80
    by the model against 1,240 in D1); a plain column through an index stops at the first
    row it finds, 1 a run that finds one (110 by the rows per key against 47). Equal now."""
    _target_equals_miniflare(tmp_path, SCALAR_BACKFILLS, statements=7)


RENAMES_BESIDE_COUNTERS = {
    "0001_schema.sql": "".join(
        f"CREATE TABLE a{i} (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);\n"
        f"INSERT INTO a{i} (v) VALUES ('x');\n"
        for i in range(3)
    )
    + "CREATE TABLE p_new (code TEXT PRIMARY KEY);\n"
    "CREATE TABLE q_new (id INTEGER PRIMARY KEY AUTOINCREMENT);\n"
    "CREATE TABLE r_new (id INTEGER PRIMARY KEY AUTOINCREMENT);\n"
    "INSERT INTO r_new DEFAULT VALUES;\n"
    "CREATE TABLE stations (code TEXT PRIMARY KEY, region TEXT);\n"
    "CREATE TABLE readings (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "station TEXT REFERENCES stations(code) ON DELETE CASCADE);\n"
    "INSERT INTO stations VALUES ('s1', NULL), ('s2', 'north');\n"
    "INSERT INTO readings (station) VALUES ('s1'), ('s2'), ('s2');\n",
    "0002_nothing.sql": "SELECT 1;\n",
    "0003_target.sql": "ALTER TABLE p_new RENAME TO p;\n"
    "ALTER TABLE q_new RENAME TO q;\n"
    "ALTER TABLE r_new RENAME TO r;\n"
    "PRAGMA defer_foreign_keys = on;\n"
    "CREATE TABLE stations_new (code TEXT PRIMARY KEY, region TEXT NOT NULL DEFAULT '?');\n"
    "INSERT INTO stations_new SELECT code, coalesce(region, '?') FROM stations;\n"
    "DROP TABLE stations;\n"
    "ALTER TABLE stations_new RENAME TO stations;\n"
    "ALTER TABLE stations ADD COLUMN rank INTEGER CHECK (rank > 0);\n"
    "ALTER TABLE readings ADD COLUMN level INTEGER;\n",
}


def test_renames_read_sqlite_sequence_whole_as_d1_does(tmp_path):
    """A RENAME scans sqlite_sequence for the table's row whether it has one there or not
    (stranger's project #29: its rebuild's rename read 47 in D1, 46 by the model, which read
    sqlite_sequence only for a table with a row there; a table renamed beside three others'
    counters read 56 against 53). An ADD COLUMN with a CHECK reads 1 more, the rows checked
    (the sample's status_v2: 17 in D1, 16 by the model). Equal now, and so is the rebuild
    around them."""
    _target_equals_miniflare(tmp_path, RENAMES_BESIDE_COUNTERS, statements=10)


COUNTERS_SOUGHT = {
    "0001_schema.sql": "".join(
        f"CREATE TABLE c{i} (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);\n"
        f"INSERT INTO c{i} (v) VALUES ('x');\n"
        for i in range(4)
    )
    + "CREATE TABLE fresh (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT UNIQUE);\n",
    "0002_nothing.sql": "SELECT 1;\n",
    "0003_target.sql": "INSERT INTO fresh (v) SELECT v || id FROM c0;\n"
    "INSERT INTO fresh (v) VALUES ('y');\n"
    "INSERT INTO c2 (v) SELECT v FROM fresh;\n"
    "INSERT INTO c0 (v) VALUES ('z');\n",
}


def test_an_insert_reads_sqlite_sequence_up_to_its_tables_counter(tmp_path):
    """Stranger's project #33 rebuilt an AUTOINCREMENT table: its INSERT … SELECT into the
    new table read 2,402 in D1, 2,401 by the model, which read sqlite_sequence once per
    insert. SQLite scans sqlite_sequence up to the table's counter, to its end when the
    table has none yet (here beside the ledger's and four tables' counters)."""
    _target_equals_miniflare(tmp_path, COUNTERS_SOUGHT, statements=4)


def _three_levels(grandchild: str, rows: str) -> dict[str, str]:
    return {
        "0001_schema.sql": "CREATE TABLE m (id INTEGER PRIMARY KEY, h TEXT);\n"
        "CREATE TABLE p (pid INTEGER PRIMARY KEY,\n"
        "  author INTEGER NOT NULL REFERENCES m(id) ON DELETE CASCADE);\n"
        "CREATE INDEX p_by_author ON p(author);\n" + grandchild + "WITH RECURSIVE q(i) AS "
        "(SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 30) INSERT INTO m SELECT i, 'h' || i "
        "FROM q;\nINSERT INTO p SELECT m.id * 10 + k.k, m.id FROM m, "
        "(SELECT 1 AS k UNION ALL SELECT 2) AS k;\n" + rows,
        "0002_nothing.sql": "SELECT 1;\n",
        "0003_target.sql": "DELETE FROM p WHERE pid % 2 = 0;\nDROP TABLE m;\n",
    }


@pytest.mark.parametrize(
    "grandchild",
    [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, post INTEGER REFERENCES p(pid) "
        "ON DELETE CASCADE, tag TEXT);\nCREATE INDEX t_post ON t(post);\n",
        "CREATE TABLE t (post INTEGER REFERENCES p(pid) ON DELETE CASCADE, tag TEXT, "
        "PRIMARY KEY (post, tag)) WITHOUT ROWID;\n",
    ],
    ids=["indexed", "without rowid"],
)
@pytest.mark.parametrize(
    "rows",
    [
        "",
        "INSERT INTO t (post, tag) SELECT pid, 'a' FROM p WHERE pid % 10 = 1;\n",
        "INSERT INTO t (post, tag) SELECT pid, 'a' FROM p UNION ALL SELECT pid, 'b' FROM p;\n",
    ],
    ids=["empty", "half", "two each"],
)
def test_grandchildren_a_cascade_seeks_by_index_are_read_as_d1_does(tmp_path, grandchild, rows):
    """Stranger's project #33 dropped a parent whose posts cascade to their tags: 2 reads
    over D1. With the tags in a rowid table indexed on its post (users → posts → comments,
    the usual shape) the model was 60 over on 368 (16%): it charged each post deleted a
    read for seeking its tags, which a cascade's seek through an index does not cost in
    D1, and the 2 fewer reads a statement's own cascade pays when it deletes rows applied
    to every level. Each statement equal now, by index or WITHOUT ROWID key. (A DELETE of
    some parents by a rowid range still reads 2 more in D1 per level that deletes rows.)"""
    _target_equals_miniflare(tmp_path, _three_levels(grandchild, rows), statements=2)


GARDEN_TAGS = {
    "0001_schema.sql": (
        "CREATE TABLE `gardens` (`slug` text PRIMARY KEY NOT NULL, `zone` integer NOT NULL, "
        "`tags` text DEFAULT '[]' NOT NULL);\n"
        "CREATE TABLE `garden_tags` (`garden_slug` text NOT NULL, `tag` text NOT NULL, "
        "UNIQUE(`garden_slug`, `tag`)) STRICT;\n"
        "CREATE TABLE tag_nodes (slug TEXT NOT NULL, path TEXT NOT NULL);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
        "INSERT INTO gardens SELECT 'g-' || i, 3 + i % 8, CASE i % 5 WHEN 0 THEN '[]' "
        "WHEN 1 THEN json_array(' Herb', 'herb', 5) WHEN 2 THEN json_array('', 'Shade') "
        "WHEN 3 THEN json_array('sun', json_object('k', 'v'), 'raised bed', 'sun') "
        "ELSE json_array('x' || i) END FROM n;\n"
    ),
    "0002_nothing.sql": "SELECT 1;\n",
    "0003_target.sql": (
        "INSERT OR IGNORE INTO `garden_tags` (`garden_slug`, `tag`)\n"
        "SELECT g.slug, lower(trim(j.value)) FROM `gardens` g, json_each(g.tags) j\n"
        "WHERE j.type = 'text' AND trim(j.value) <> '';--> statement-breakpoint\n"
        "INSERT INTO tag_nodes SELECT slug, fullkey FROM gardens JOIN json_tree(gardens.tags) "
        "AS t ON t.atom IS NOT NULL WHERE gardens.zone > 5;\n"
        "INSERT INTO tag_nodes SELECT gardens.slug, value FROM gardens, json_each(tags) "
        "WHERE zone % 2 = 0 AND value LIKE 's%';\n"
    ),
}


def test_json_elements_an_insert_joins_are_read_before_its_terms_filter_them(tmp_path):
    """Stranger's project #37 moved JSON tags into a table of their own (drizzle-kit's
    `INSERT OR IGNORE … SELECT … FROM gardens g, json_each(g.tags) j WHERE j.type = 'text'`):
    40 read by the model against 113 in D1. With no search or sorter in its plan the
    elements were not counted at all; each element the loop steps through is a row read,
    including those its own terms then drop, for the rows the terms on the table keep."""
    _target_equals_miniflare(tmp_path, GARDEN_TAGS, statements=3)


def _beds(beds: str, plantings: str) -> dict[str, str]:
    return {
        "0001_schema.sql": "CREATE TABLE g (slug TEXT PRIMARY KEY NOT NULL, t TEXT);\n"
        "CREATE TABLE b (slug TEXT NOT NULL REFERENCES g(slug) ON DELETE CASCADE, no INTEGER "
        f"NOT NULL, soil TEXT, PRIMARY KEY (slug, no)){beds};\n"
        "CREATE TABLE p (slug TEXT NOT NULL, no INTEGER NOT NULL, sp TEXT, FOREIGN KEY (slug, "
        "no) REFERENCES b(slug, no) ON DELETE CASCADE);\nCREATE INDEX p_b ON p(slug, no);\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 60) "
        "INSERT INTO g SELECT 'g' || i, 'x' FROM q;\n"
        "INSERT INTO b SELECT slug, k, 'loam' FROM g, (SELECT 1 AS k UNION ALL SELECT 2 "
        "UNION ALL SELECT 3 UNION ALL SELECT 4) WHERE g.rowid % 3 <> 0;\n" + plantings,
        "0002_nothing.sql": "SELECT 1;\n",
        "0003_target.sql": "DELETE FROM g WHERE slug LIKE 'g1%';\nDROP TABLE g;\n",
    }


@pytest.mark.parametrize("beds", [" WITHOUT ROWID", ""], ids=["without rowid", "rowid"])
@pytest.mark.parametrize(
    "plantings",
    [
        "INSERT INTO p SELECT slug, no, 'kale' FROM b;\n",
        "INSERT INTO p SELECT slug, no, 'kale' FROM b WHERE no <> 2 UNION ALL "
        "SELECT slug, no, 'pea' FROM b WHERE no = 1;\n",
    ],
    ids=["one a bed", "on some beds"],
)
def test_a_cascade_through_a_composite_key_counts_each_parent_it_empties(tmp_path, beds, plantings):
    """Stranger's project #37 (drizzle-kit): gardens → beds keyed by (garden, bed number) →
    plantings referring to that pair. Its rebuild's DROP TABLE read 1,299 by the model
    against 1,385 in D1: the beds that had plantings were counted by their garden alone
    (the key's first column), 20 where 86 were emptied; the error grows with the beds per
    garden. Within 1% now (D1 reads 2 fewer per level when the parent key is not the
    rowid: docs/metering.md)."""
    _target_matches_miniflare(tmp_path, _beds(beds, plantings), statements=2, reads_within=0.01)


def _harbour(child_index: str, action: str) -> dict[str, str]:
    return {
        "0001_schema.sql": "CREATE TABLE vessel (id INTEGER PRIMARY KEY, tonnage REAL);\n"
        "CREATE TABLE voyage (id INTEGER PRIMARY KEY AUTOINCREMENT, vessel_id INTEGER "
        f"REFERENCES vessel(id) ON DELETE {action}, status TEXT NOT NULL);\n{child_index}"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
        "INSERT INTO vessel SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE i * 10.5 END FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) "
        "INSERT INTO voyage (vessel_id, status) SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE "
        "1 + i % 40 END, CASE i % 3 WHEN 0 THEN 'planned' ELSE 'done' END FROM n;\n",
        "0002_nothing.sql": "SELECT 1;\n",
        "0003_target.sql": "DELETE FROM vessel WHERE tonnage IS NULL;\n",
    }


@pytest.mark.parametrize("action", ["SET NULL", "CASCADE"])
@pytest.mark.parametrize(
    "child_index",
    [
        "CREATE INDEX voyage_vessel ON voyage(vessel_id) WHERE vessel_id IS NOT NULL;\n",
        "CREATE INDEX voyage_vessel ON voyage(vessel_id) WHERE vessel_id NOTNULL;\n"
        "CREATE INDEX voyage_planned ON voyage(vessel_id, status) WHERE status = 'planned';\n",
        "CREATE INDEX voyage_planned ON voyage(vessel_id) WHERE status = 'planned';\n",
    ],
    ids=["not null", "and another", "other terms"],
)
def test_a_partial_index_on_a_key_is_sought_and_written_as_d1_does(tmp_path, child_index, action):
    """Stranger's project #38: voyages refer to their vessel, with the common partial index
    `ON voyage(vessel_id) WHERE vessel_id IS NOT NULL`. Deleting the vessels without a
    tonnage read 1,453 by the model against 417 in D1, and wrote 164 against 83. A look-up
    of the children by an equal key implies `IS NOT NULL`, so SQLite searches that index
    (the model took any partial index for none and scanned the children once per parent);
    and a row nulled leaves such an index, where the model wrote it an entry. A partial
    index whose WHERE reads other columns is not searched, and gets an entry for a nulled
    row only where its WHERE keeps it."""
    _target_equals_miniflare(tmp_path, _harbour(child_index, action), statements=1)


BACKFILL_FROM_CHILDREN = {
    "0001_schema.sql": (
        "CREATE TABLE users (id INTEGER PRIMARY KEY, score INTEGER, posts INTEGER);\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES "
        "users(id), qty INTEGER);\nCREATE INDEX posts_user ON posts(user_id);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
        "INSERT INTO users (id) SELECT i FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
        "INSERT INTO posts (user_id, qty) SELECT 1 + (i * 7) % 250, i % 5 FROM n;\n"
    ),
    "0002_nothing.sql": "SELECT 1;\n",
    "0003_target.sql": (
        "UPDATE users SET score = (SELECT sum(qty) FROM posts WHERE posts.user_id = users.id) "
        "WHERE EXISTS (SELECT 1 FROM posts WHERE posts.user_id = users.id);\n"
        "UPDATE users SET posts = (SELECT count(*) FROM posts WHERE posts.user_id = users.id) "
        "WHERE EXISTS (SELECT 1 FROM posts WHERE posts.user_id = users.id);\n"
        "UPDATE users SET score = (SELECT max(qty) FROM posts WHERE posts.user_id = users.id) "
        "WHERE id % 2 = 0 AND EXISTS (SELECT 1 FROM posts WHERE posts.user_id = users.id);\n"
    ),
}


def test_a_backfill_from_children_where_some_exist_is_read_as_d1_does(tmp_path):
    """The backfill every data migration writes: `SET total = (SELECT sum(…) FROM child
    WHERE child.parent = t.id) WHERE EXISTS (SELECT 1 FROM child WHERE child.parent = t.id)`
    (a sweep of common shapes after stranger's project #38): 1,500 read by the model
    against 2,699 in D1. Both subqueries search `posts`, and the plan names them alike, so
    the EXISTS was costed as the aggregate (and with a covering index both lines read
    the same text: one took the other's reads). A subquery's number in the plan says
    whether it is in the SET or the WHERE (SQLite numbers the SELECTs before the WHERE
    first), and each plan line keeps its own reads. Equal now, 250 of 300 users with
    posts."""
    _target_equals_miniflare(tmp_path, BACKFILL_FROM_CHILDREN, statements=3)


def test_an_exists_filtering_the_rows_its_index_finds_stops_at_the_first_that_passes(tmp_path):
    """An EXISTS whose keys an index holds, with a term it does not (`EXISTS (SELECT 1 FROM
    posts p WHERE p.user_id = users.id AND p.qty > 2)`): 2,640 read by the model against
    2,159 in D1 with an aggregate in the SET, 2,040 against 1,559 alone. Each run steps
    through the keys' entries up to the first row that passes, or all of them and one more.
    Within 1 read of D1 now, an equal term on a column the index lacks (`p.qty = 4`)
    included."""
    files = dict(BACKFILL_FROM_CHILDREN)
    files["0003_target.sql"] = (
        "UPDATE users SET score = 1 WHERE EXISTS (SELECT 1 FROM posts p WHERE p.user_id = "
        "users.id AND p.qty > 2);\n"
        "UPDATE users SET posts = 0 WHERE EXISTS (SELECT 1 FROM posts p WHERE p.user_id = "
        "users.id AND p.qty = 4);\n"
        "UPDATE users SET score = (SELECT sum(qty) FROM posts WHERE posts.user_id = users.id) "
        "WHERE EXISTS (SELECT 1 FROM posts p WHERE p.user_id = users.id AND p.qty > 2);\n"
        "DELETE FROM users WHERE id > 200 AND EXISTS (SELECT 1 FROM posts p WHERE p.user_id = "
        "users.id AND p.qty < 0);\n"
    )
    _target_matches_miniflare(tmp_path, files, statements=4, reads_within=0.001)


def _messages(sender: str, recipient: str, indexed: str, messages: int = 3000) -> dict[str, str]:
    """Users and the messages between them: two keys to one parent, each with its actions
    (`ON DELETE …`; no foreign key for ""), and an index on the keys `indexed` names (s:
    sender, r: recipient)."""
    recipient = f"REFERENCES users(id) {recipient}" if recipient else ""
    schema = (
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, "
        f"sender_id INTEGER REFERENCES users(id) {sender}, "
        f"recipient_id INTEGER {recipient}, body TEXT);\n"
    )
    schema += "CREATE INDEX messages_sender ON messages(sender_id);\n" if "s" in indexed else ""
    schema += "CREATE INDEX messages_to ON messages(recipient_id);\n" if "r" in indexed else ""
    return {
        "0001_schema.sql": schema,
        "0002_seed.sql": (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
            "INSERT INTO users (id, name) SELECT i, 'u' || i FROM n;\n"
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {messages}) "
            "INSERT INTO messages (id, sender_id, recipient_id, body) "
            "SELECT i, 1 + (i * 7) % 500, 1 + (i * i * 31 + 7 * i) % 500, 'b' || i FROM n;\n"
        ),
        "0003_target.sql": "DELETE FROM users WHERE id % 7 = 0;\n",
    }


@pytest.mark.parametrize(
    ("sender", "recipient", "indexed"),
    [
        ("CASCADE", "CASCADE", "sr"),
        ("SET NULL", "SET NULL", "sr"),
        ("SET NULL", "SET NULL", "r"),
        ("SET NULL", "SET NULL", ""),
    ],
)
def test_two_keys_to_one_parent_are_each_read_and_written_as_d1_does(
    tmp_path, sender, recipient, indexed
):
    """A sweep after stranger's project #40: messages point at their sender and their
    recipient, both users. Deleting users read 9,073 by the model against 4,909 in D1
    with both keys SET NULL and indexed, 4,785 against 4,453 with both CASCADE; with only
    the recipient indexed, 1,715 written against 1,289. The rows nulled and the parents
    held were counted for the child as a whole, once per key; each key now counts its
    own, and rewrites only the indexes holding its column."""
    files = _messages(f"ON DELETE {sender}", f"ON DELETE {recipient}", indexed)
    _target_matches_miniflare(tmp_path, files, statements=1, reads_within=0.01)


@pytest.mark.parametrize("action", ["SET NULL", "SET DEFAULT"])
def test_rows_an_on_update_action_cuts_loose_rewrite_their_index_entries(tmp_path, action):
    """A user's id moved (`SET id = id + 1000`) and the messages sent by it, under ON
    UPDATE SET NULL or SET DEFAULT through an index, wrote 350 by the model against 650 in
    D1: each row cut loose rewrites its entry in every index holding the key, as a row ON
    UPDATE CASCADE moves does."""
    files = _messages(f"ON UPDATE {action}", "", "sr")
    files["0003_target.sql"] = "UPDATE users SET id = id + 1000 WHERE id % 10 = 1;\n"
    target = _target_metered(tmp_path, files)
    assert target["d1_error"].isna().all()
    assert target["rows_written"].tolist() == target["d1_rows_written"].tolist() == [650]


@pytest.mark.parametrize(
    ("sender", "recipient", "indexed", "messages"),
    [
        ("CASCADE", "", "sr", 3000),
        ("SET NULL", "", "sr", 3000),
        ("CASCADE", "", "", 1000),
        ("CASCADE", "", "sr", 100),
        ("CASCADE", "CASCADE", "sr", 3000),
        ("SET NULL", "CASCADE", "sr", 100),
    ],
)
def test_an_update_moving_a_rowid_key_is_read_as_d1_reads_it(
    tmp_path, sender, recipient, indexed, messages
):
    """Moving users' INTEGER PRIMARY KEY (`SET id = id + 1000`) under ON UPDATE actions read
    1,900 by the model against 2,600 in D1 (CASCADE, 300 messages of 50 users, indexed) and
    2,300 (SET NULL); the searches had been fitted on text keys. A parent key that is the
    rowid costs 2 more per row moved, and a row an action rewrites looks its parent up by
    rowid: 2 more when it cascades (the old parent and the new), 1 when it is cut loose.
    Equal now with and without an index, with few children or many, and with two keys."""
    files = _messages(
        f"ON UPDATE {sender}", f"ON UPDATE {recipient}" if recipient else "", indexed, messages
    )
    files["0003_target.sql"] = "UPDATE users SET id = id + 1000 WHERE id % 10 = 1;\n"
    _target_matches_miniflare(tmp_path, files, statements=1, reads_within=0.002)


@pytest.mark.parametrize(
    ("sender", "recipient", "indexed"),
    [("CASCADE", "SET NULL", "sr"), ("SET NULL", "CASCADE", "sr"), ("SET NULL", "CASCADE", "s")],
)
def test_a_row_nulled_by_one_parent_then_deleted_by_another_is_written_twice(
    tmp_path, sender, recipient, indexed
):
    """One key CASCADE, the other SET NULL, both to users: deleting users wrote 1,181 by
    the model against 1,229 in D1. A message whose recipient goes before its sender is
    nulled, then deleted: both writes, and the nulled key's index entries, count. The
    statement deletes users in rowid order; for one user, the key declared last acts first.
    Writes equal now; reads stay within 7% (docs/metering.md)."""
    _users_deleted_match(tmp_path, sender, recipient, indexed, reads_within=0.07)


def _users_deleted_match(
    tmp_path, sender: str, recipient: str, indexed: str, reads_within: float
) -> None:
    """Every 7th, then every 3rd user deleted from `_messages` with these ON DELETE
    actions: no error, writes equal to D1's, reads within `reads_within` of D1's."""
    for modulo in (7, 3):
        files = _messages(f"ON DELETE {sender}", f"ON DELETE {recipient}", indexed)
        files["0003_target.sql"] = f"DELETE FROM users WHERE id % {modulo} = 0;\n"
        target = _target_metered(tmp_path / str(modulo), files)
        assert target["d1_error"].isna().all()
        assert target["rows_written"].tolist() == target["d1_rows_written"].tolist()
        for row in target.itertuples():
            assert abs(row.rows_read - row.d1_rows_read) <= reads_within * row.d1_rows_read


@pytest.mark.parametrize("indexed", ["s", "r", ""])
def test_a_child_scanned_for_one_key_loses_rows_by_the_other_as_it_goes(tmp_path, indexed):
    """Both keys CASCADE, at most one indexed: deleting users read 350,590 by the model
    against 373,711 in D1 with the sender indexed, 512,950 against 543,250 with neither (6%
    under). A scan of the messages for one user's recipient finds the messages deleted
    since by their sender too: the model took those as gone from the first scan. Each row
    is now gone at the first of its parents the statement reaches (rowid order). Within
    0.2% at two sizes of delete."""
    _users_deleted_match(tmp_path, "CASCADE", "CASCADE", indexed, reads_within=0.002)


_VESSEL = "CREATE INDEX voyage_vessel ON voyage(vessel_id);\n"


@pytest.mark.parametrize(
    ("child_index", "action", "within"),
    [
        (_VESSEL, "CASCADE", 0.01),
        ("", "CASCADE", 0.01),
        (_VESSEL + "CREATE INDEX voyage_escort ON voyage(escort_id);\n", "CASCADE", 0.04),
        (_VESSEL + "CREATE INDEX voyage_escort ON voyage(escort_id);\n", "SET NULL", 0.01),
    ],
    ids=["vessel indexed", "none", "both", "both, set null"],
)
def test_a_key_without_action_scanned_while_a_cascade_shrinks_its_table(
    tmp_path, child_index, action, within
):
    """Voyages cascade from their vessel and name an escort vessel with no ON DELETE action
    (only ON UPDATE CASCADE, the residual of stranger's project #38). Deleting vessels
    checks the escort key by a scan of the voyages per vessel, and the cascade has deleted
    some of them by then: 5,509 by the model against 4,907 in D1 (it scanned the table
    whole each time). The scan now loses the rows the cascade took at the vessels before:
    within 1%. With both keys indexed, the escort's index was charged for the escorts whose
    voyages went (their values vanished, the vessels stayed): 730 against 683 (CASCADE) and
    708 (SET NULL); the parents gone that held rows by it are counted from its keys kept
    before the statement now (710: within 4% and 1%)."""
    files = _harbour(child_index, action)
    files["0001_schema.sql"] = (
        files["0001_schema.sql"]
        .replace(
            f"ON DELETE {action}, status",
            f"ON DELETE {action}, escort_id INTEGER REFERENCES vessel(id) ON UPDATE CASCADE, "
            "status",
        )
        .replace(
            "INSERT INTO voyage (vessel_id, status) SELECT",
            "INSERT INTO voyage (vessel_id, escort_id, status) SELECT",
        )
        .replace(
            "1 + i % 40 END, CASE i % 3",
            "1 + i % 40 END, CASE WHEN i % 5 = 0 THEN NULL ELSE 1 + (i * 3) % 40 END, CASE i % 3",
        )
        .replace(
            "'done' END FROM n;",
            "'done' END FROM n WHERE (1 + (i * 3) % 40) % 4 <> 0 OR i % 5 = 0;",
        )
    )
    assert "escort_id, status) SELECT" in files["0001_schema.sql"]
    _target_matches_miniflare(tmp_path, files, statements=1, reads_within=within)


@pytest.mark.parametrize("action", ["SET NULL", "SET DEFAULT", "CASCADE"])
@pytest.mark.parametrize(
    "where", ["sender_id IS NOT NULL", "body LIKE 'b1%'"], ids=["not null", "other column"]
)
def test_an_on_update_action_writes_a_partial_index_only_for_rows_it_keeps(tmp_path, action, where):
    """Users' ids moved under ON UPDATE actions, the sender indexed by a partial index: the
    model wrote every moved row an entry (650 against 350 in D1 for SET NULL under `WHERE
    sender_id IS NOT NULL`, 650 against 461 under a WHERE on another column, CASCADE too).
    A partial index gets an entry only for a row its WHERE keeps afterwards. And a row SET
    DEFAULT points at a parent with (DEFAULT 7) looks that parent up as a cascaded row
    does: 2,300 read against 2,600. Equal now."""
    files = _messages(f"ON UPDATE {action} DEFAULT 7", "", "")
    files["0001_schema.sql"] += (
        f"CREATE INDEX messages_sender ON messages(sender_id) WHERE {where};\n"
    )
    files["0003_target.sql"] = "UPDATE users SET id = id + 1000 WHERE id % 10 = 1;\n"
    _target_equals_miniflare(tmp_path, files, statements=1)
