"""Lint rules: what they find on the sample and on small fixtures, suppression, documentation."""

from __future__ import annotations

import re

import pytest

from d1nb.analyses.lint import RULES, SEVERITY_RANK, lint, rules_markdown
from d1nb.analyses.lint.registry import SCOPES
from d1nb.inputs.history import load_history
from tests.conftest import REPO

TOML = (
    'name = "svc"\n[[env.production.d1_databases]]\nbinding = "DB"\ndatabase_name = "p"\n'
    'database_id = "1"\n'
)


def findings_for(make_tree, files: dict[str, str]) -> list[tuple[str, str, int]]:
    root = make_tree(
        {"svc/wrangler.toml": TOML, **{f"svc/migrations/{k}": v for k, v in files.items()}}
    )
    frame = lint(load_history(root, use_git=False))
    return [(r.rule, r.file.rsplit("/", 1)[-1], r.line) for r in frame.itertuples()]


def test_sample_findings(sample):
    frame = lint(load_history(sample, use_git=False))
    got = {(r.rule, r.file.rsplit("/", 1)[-1], r.line) for r in frame.itertuples()}
    expected = {
        ("D1N014", "0007_sync_data_soft_delete.sql", 0),
        ("D1N006", "0009_repertoire_status_v2.sql", 6),
        ("D1N009", "0011_goals_add_category.sql", 4),
        ("D1N009", "0011_goals_add_category.sql", 20),
        ("D1N008", "0011_goals_add_category.sql", 17),
        ("D1N016", "0011_goals_add_category.sql", 5),
        ("D1N021", "wrangler.example.toml", 0),
        ("D1N020", "0004_drop_legacy_terms.sql.rollback", 0),
        ("D1N020", "0010_split_terms.sql.future", 0),
        ("D1N020", "README.md", 0),
        ("D1N020", "0011_goals_add_category.sql", 0),  # rollback/ beside api's migrations
        ("D1N020", "0015_drop_analytics_payload.sql.rollback", 0),
        ("D1N005", "0009_drop_queue_legacy_source.sql", 1),
        ("D1N022", "0005_create_terms_fts.sql", 0),
        ("D1N025", "0005_create_terms_fts.sql", 3),
        ("D1N001", "0000_create_scores.sql", 1),
        ("D1N001", "0001_create_collections.sql", 1),
        ("D1N001", "0002_create_collection_scores.sql", 1),
        ("D1N001", "0003_scores_indexes.sql", 1),
        ("D1N001", "0003_scores_indexes.sql", 2),
        ("D1N001", "0007_create_score_tags.sql", 1),
        ("D1N001", "0007_create_score_tags.sql", 8),
        ("D1N013", "0008_add_scores_visibility.sql", 0),
        ("D1N013", "0008_create_score_imports.sql", 0),
        ("D1N015", "0014_rename_scores_instrument.sql", 1),
        ("D1N005", "0015_drop_analytics_payload.sql", 2),
        ("D1N003", "0016_add_scores_updated_at.sql", 2),
    }
    assert got == expected


def test_rules_on_fixtures(make_tree):
    got = findings_for(
        make_tree,
        {
            "0001_init.sql": "CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY);\n"
            "CREATE TABLE IF NOT EXISTS b (a_id INTEGER REFERENCES a(id) "
            "ON DELETE SET NULL);\n",
            "0002_add.sql": "ALTER TABLE a ADD COLUMN n TEXT NOT NULL;\n"
            "ALTER TABLE a ADD COLUMN g INT AS (id * 2) STORED;\n"
            "DELETE FROM b;\n",
            "0003_drop_a.sql": "DROP TABLE a;\n",
            "0004_txn.sql": "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n",
            "0005-BadName.sql": "SELECT 1;\n",
            "0006_fix.sql": "SELECT 1;\n",
            "0007_big_insert.sql": "INSERT INTO b VALUES ('" + "x" * 100_001 + "');\n",
            "0008_unterminated.sql": "SELECT 1;\nSELECT 2\n",
            "0009_rename_table.sql": "ALTER TABLE b RENAME TO c;\n",
        },
    )
    assert ("D1N002", "0002_add.sql", 1) in got
    assert ("D1N017", "0002_add.sql", 2) in got
    assert ("D1N007", "0002_add.sql", 3) in got
    assert ("D1N004", "0003_drop_a.sql", 1) in got
    assert ("D1N008", "0003_drop_a.sql", 1) in got  # ON DELETE SET NULL child
    assert ("D1N010", "0004_txn.sql", 1) in got
    assert ("D1N012", "0005-BadName.sql", 0) in got
    assert ("D1N012", "0006_fix.sql", 0) in got
    assert ("D1N011", "0007_big_insert.sql", 1) in got
    assert ("D1N019", "0008_unterminated.sql", 2) in got
    assert ("D1N015", "0009_rename_table.sql", 1) in got
    assert [f for f in got if f[0] == "D1N018"] == [  # the engine refuses both, as D1 does
        ("D1N018", "0004_txn.sql", 4),
        ("D1N018", "0007_big_insert.sql", 1),
    ]


def test_fails_from_empty_is_reported(make_tree):
    got = findings_for(make_tree, {"0001_alter.sql": "ALTER TABLE users ADD COLUMN x TEXT;\n"})
    assert ("D1N018", "0001_alter.sql", 1) in got


def test_inline_and_file_suppression(make_tree):
    got = findings_for(
        make_tree,
        {
            "0001_init.sql": "-- d1nb: ignore D1N001 (created by hand before)\n"
            "CREATE TABLE a (x);\nCREATE TABLE b (x);\n",
            "0002_drop_tables.sql": "-- d1nb: ignore-file D1N004\nDROP TABLE a;\nDROP TABLE b;\n",
        },
    )
    assert ("D1N001", "0001_init.sql", 2) not in got
    assert ("D1N001", "0001_init.sql", 3) in got
    assert not [f for f in got if f[0] == "D1N004"]


def test_every_rule_is_documented():
    docs = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    documented = re.findall(r"^## (D1N\d{3}) (\S+) \((\w+)\)$", docs, re.M)
    assert documented == [(r.code, r.name, r.severity) for r in RULES.values()]
    for section in docs.split("\n## ")[1:]:
        for part in ("**What**", "**Why on D1**", "**Fix**", "**Example**"):
            assert part in section, section.splitlines()[0]


def test_rules_page_is_generated_from_the_rules():
    written = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert written == rules_markdown(), "docs/rules.md is out of date: run `make docs`"


def test_a_rule_is_declared_once_with_a_known_scope_and_severity():
    assert list(RULES) == sorted(RULES)
    for r in RULES.values():
        assert r.scope in SCOPES and r.severity in SEVERITY_RANK and r.doc.startswith("- **What**")


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_codes_are_well_formed(code):
    assert re.fullmatch(r"D1N\d{3}", code)


def test_a_folder_shared_by_two_services_is_linted_once(make_tree):
    shared = 'migrations_dir = "../shared"\n'
    root = make_tree(
        {
            "eu/wrangler.toml": TOML.replace('"svc"', '"eu"') + shared,
            "us/wrangler.toml": TOML.replace('"svc"', '"us"') + shared,
            "shared/0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n",
            "shared/0002_drop_t.sql": "DROP TABLE t;\n",
        }
    )
    frame = lint(load_history(root, use_git=False))
    assert not frame.duplicated(["rule", "file", "line", "message"]).any(), frame
    drop = frame[frame.rule == "D1N004"]
    assert drop.service.tolist() == ["eu, us"]


def test_naming_blames_what_is_wrong(make_tree):
    got = lint(
        load_history(
            make_tree(
                {
                    "svc/wrangler.toml": TOML,
                    "svc/migrations/0001_fix.sql": "SELECT 1;\n",
                    "svc/migrations/0002-AddUsers.sql": "SELECT 1;\n",
                }
            ),
            use_git=False,
        )
    )
    found = got[got.rule == "D1N012"]
    naming = dict(zip(found.file, found.message, strict=True))
    short = naming["svc/migrations/0001_fix.sql"]
    assert "does not say what the migration does" in short and "snake" not in short
    assert "NNNN_snake_case" in naming["svc/migrations/0002-AddUsers.sql"]


def test_add_column_check_judged_on_its_default(make_tree):
    ok = "ALTER TABLE t ADD COLUMN s TEXT NOT NULL DEFAULT 'on' CHECK (s IN ('on', 'off'));\n"
    bad = "ALTER TABLE t ADD COLUMN u TEXT NOT NULL DEFAULT 'x' CHECK (u IN ('on', 'off'));\n"
    found = findings_for(
        make_tree,
        {"0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n", "0002_flags.sql": ok + bad},
    )
    assert [f for f in found if f[0] == "D1N017"] == [("D1N017", "0002_flags.sql", 2)]


def test_drop_of_a_child_earlier_in_the_file_is_no_hazard(make_tree):
    init = (
        "CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE IF NOT EXISTS c (p_id INTEGER REFERENCES p(id) ON DELETE CASCADE);\n"
    )
    found = findings_for(
        make_tree,
        {
            "0001_init.sql": init,
            "0002_drop_both.sql": "DROP TABLE c;\nDROP TABLE p;\n",
            "0003_init_again.sql": init,
            "0004_drop_parent.sql": "DROP TABLE p;\n",
        },
    )
    assert [f for f in found if f[0] == "D1N008"] == [("D1N008", "0004_drop_parent.sql", 1)]


@pytest.mark.parametrize(
    ("on", "off", "says"),
    [
        ("", "", "fails with 'FOREIGN KEY constraint failed' as soon as"),
        (
            "PRAGMA defer_foreign_keys = on;\n",
            "",
            "fails with 'FOREIGN KEY constraint failed' at COMMIT",
        ),
        ("PRAGMA defer_foreign_keys = on;\n", "PRAGMA defer_foreign_keys = 'off';\n", None),
    ],
)
def test_a_rebuild_under_deferred_keys_is_judged_as_sqlite_judges_it(make_tree, on, off, says):
    """Stranger's project #16 rebuilt a parent under Cloudflare's recipe (`PRAGMA
    defer_foreign_keys = on` … rename … `= off`): wrangler applied it; D1N008 said it fails.
    A NO ACTION child fails the DROP at once without the pragma, fails the COMMIT after `on`
    (the rename does not uncount the violations), and passes when `off` follows, which D1N027
    says forgets the violations unchecked (tests/compat: wrangler does each of these)."""
    init = (
        "CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE IF NOT EXISTS c (p_id INTEGER REFERENCES p(id));\n"
    )
    rebuild = (
        f"{on}CREATE TABLE IF NOT EXISTS p_new (id INTEGER PRIMARY KEY, x TEXT);\n"
        "INSERT INTO p_new (id) SELECT id FROM p;\nDROP TABLE p;\n"
        f"ALTER TABLE p_new RENAME TO p;\n{off}"
    )
    root = make_tree(
        {
            "svc/wrangler.toml": TOML,
            "svc/migrations/0001_init.sql": init,
            "svc/migrations/0002_rebuild.sql": rebuild,
        }
    )
    frame = lint(load_history(root, use_git=False))
    d1n008 = list(frame[frame["rule"] == "D1N008"]["message"])
    d1n027 = frame[frame["rule"] == "D1N027"]
    if says:
        assert len(d1n008) == 1 and says in d1n008[0]
        assert d1n027.empty
    else:
        assert d1n008 == []
        assert list(d1n027["line"]) == [6]
        assert "since line 1" in d1n027["message"].iloc[0]
        assert "lines 3–4" in d1n027["message"].iloc[0]


def test_a_rebuild_cascades_into_children_that_name_the_parent_in_another_case(make_tree):
    """Stranger's project #9: `REFERENCES plants(sku)` for table `Plants` (and a grandchild
    naming `[Plant Stock]`) hid both children, so the rebuild of Plants got no D1N008 at all."""
    found = findings_for(
        make_tree,
        {
            "0001_init.sql": "CREATE TABLE IF NOT EXISTS Plants (sku TEXT PRIMARY KEY);\n"
            "CREATE TABLE IF NOT EXISTS [plant stock] (id INTEGER PRIMARY KEY, sku TEXT "
            "REFERENCES plants(SKU) ON DELETE CASCADE);\n"
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, stock_id INTEGER "
            "REFERENCES [Plant Stock](id));\n",
            "0002_rebuild.sql": "CREATE TABLE plants_new (sku TEXT PRIMARY KEY, price REAL);\n"
            "INSERT INTO plants_new (sku) SELECT sku FROM Plants;\n"
            "DROP TABLE Plants;\n"
            "ALTER TABLE plants_new RENAME TO Plants;\n",
        },
    )
    assert [f for f in found if f[0] == "D1N008"] == [
        ("D1N008", "0002_rebuild.sql", 3),
        ("D1N008", "0002_rebuild.sql", 3),
    ]


OLD_SPLITTER_FILE = """CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER);
CREATE TRIGGER items_guard BEFORE DELETE ON items
begin
  SELECT CASE WHEN old.n > 0 THEN RAISE(ABORT, 'in use') end;
end;
CREATE TABLE after_the_trigger (id INTEGER PRIMARY KEY);
INSERT INTO items (n) VALUES (0);
"""


@pytest.mark.parametrize(
    ("lock", "expect"),
    [
        ('{"packages": {"node_modules/wrangler": {"version": "4.86.0"}}}', "wrangler 4.86.0"),
        ('{"packages": {"node_modules/wrangler": {"version": "4.164.0"}}}', None),
        (None, "a wrangler older than 4.124"),
    ],
)
def test_old_splitter_skips_what_follows_a_lowercase_end(make_tree, lock, expect):
    files = {
        "svc/wrangler.toml": '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "d"\n',
        "svc/migrations/0001_guard.sql": OLD_SPLITTER_FILE,
        "svc/migrations/0002_fine.sql": "CREATE TRIGGER t AFTER INSERT ON items BEGIN\n"
        "  SELECT 1;\nEND;\nCREATE TABLE later (id);\n",
    }
    if lock:
        files["package-lock.json"] = lock
    findings = lint(load_history(make_tree(files), use_git=False))
    found = findings[findings["rule"] == "D1N023"]
    if expect is None:
        assert found.empty
        return
    (message,) = found["message"]
    assert found["line"].tolist() == [2] and found["file"].str.endswith("0001_guard.sql").all()
    assert expect in message and "2 statement(s) after it (lines 6, 7)" in message


def test_create_without_if_not_exists_names_the_object(make_tree):
    """The message names what is created: the table, view or virtual table (not its module),
    the index or trigger (not its table); a name that is not a plain identifier quoted."""
    root = make_tree(
        {
            "svc/wrangler.toml": TOML,
            "svc/migrations/0001_init.sql": 'CREATE TABLE "a b" (x);\n'
            "CREATE VIRTUAL TABLE memo_fts USING fts5(x);\n"
            'CREATE INDEX "idx a" ON "a b"(x);\n'
            "CREATE VIEW v AS SELECT 1;\n"
            'CREATE TRIGGER t AFTER INSERT ON "a b" BEGIN SELECT 1; END;\n',
        }
    )
    frame = lint(load_history(root, use_git=False))
    messages = list(frame[frame["rule"] == "D1N001"]["message"])
    assert [m.split(" without")[0] for m in messages] == [
        'CREATE TABLE "a b"',  # quoted: bare, it read as two words (#19: `ledger.entries`)
        "CREATE VIRTUAL TABLE memo_fts",
        'CREATE INDEX "idx a"',
        "CREATE VIEW v",
        "CREATE TRIGGER t",
    ]


def test_replace_into_a_referenced_table_names_the_children_it_reaches(make_tree):
    """REPLACE deletes the row it replaces, so a parent's children lose their rows (CASCADE,
    to any depth) or the statement fails (NO ACTION); an upsert, a plain INSERT and a REPLACE
    into an unreferenced table are no hazard (found on a stranger's project: an INSERT OR
    REPLACE meant as an update in place deleted 229 items and 598 of their movements)."""
    init = (
        "CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE IF NOT EXISTS c (id TEXT PRIMARY KEY, p_id INTEGER REFERENCES p(id) "
        "ON DELETE CASCADE);\n"
        "CREATE TABLE IF NOT EXISTS g (c_id TEXT REFERENCES c(id) ON DELETE CASCADE);\n"
        "CREATE TABLE IF NOT EXISTS n (p_id INTEGER REFERENCES c(id));\n"
        "CREATE TABLE IF NOT EXISTS lone (k TEXT PRIMARY KEY, v TEXT);\n"
    )
    root = make_tree(
        {
            "svc/wrangler.toml": TOML,
            "svc/migrations/0001_init.sql": init,
            "svc/migrations/0002_rename_parents.sql": "INSERT OR REPLACE INTO p (id, name)\n"
            "SELECT id, upper(name) FROM p;\n"
            "INSERT INTO p (id, name) SELECT id, name FROM p WHERE true\n"
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name;\n"
            "REPLACE INTO lone VALUES ('a', 'b');\n",
            "svc/migrations/0003_children.sql": "UPDATE OR REPLACE c SET id = 'x'\n"
            "WHERE id = 'y';\n",
        }
    )
    frame = lint(load_history(root, use_git=False))
    hits = frame[frame["rule"] == "D1N024"]
    where = zip(hits["file"], hits["line"], strict=True)
    assert [(f.rsplit("/", 1)[-1], line) for f, line in where] == [
        ("0002_rename_parents.sql", 1),
        ("0003_children.sql", 1),
    ]
    first, second = hits["message"]
    assert "c.p_id (ON DELETE CASCADE)" in first and "g.c_id (ON DELETE CASCADE via c)" in first
    assert "n.p_id (ON DELETE NO ACTION via c)" in first
    assert "g.c_id (ON DELETE CASCADE)" in second and "n.p_id (ON DELETE NO ACTION)" in second
    assert "FOREIGN KEY constraint failed" in second
    assert "comes back under another key" in second  # under the same key, nothing fails


def test_past_workerd_limits(make_tree):
    """D1N026: six UNION ALL terms and a 51-byte LIKE pattern fail on D1 (Miniflare), five
    terms, a 50-byte pattern and a VALUES list of any length do not."""
    long_prefix = "https://example.com/" + "p" * 30 + "%"  # 51 bytes
    got = findings_for(
        make_tree,
        {
            "0001_a.sql": "CREATE TABLE IF NOT EXISTS k (v TEXT);\n"
            "INSERT INTO k " + " UNION ALL ".join(f"SELECT '{i}'" for i in range(6)) + ";\n"
            "INSERT INTO k " + " UNION ALL ".join(f"SELECT '{i}'" for i in range(5)) + ";\n"
            "INSERT INTO k VALUES " + ", ".join(f"('{i}')" for i in range(50)) + ";\n"
            f"DELETE FROM k WHERE v LIKE '{long_prefix}';\n"
            f"DELETE FROM k WHERE v LIKE '{long_prefix[1:]}';\n",
        },
    )
    assert [f for f in got if f[0] == "D1N026"] == [
        ("D1N026", "0001_a.sql", 2),
        ("D1N026", "0001_a.sql", 5),
    ]


def test_an_update_past_trigger_kept_counters_is_said_to_leave_them_stale(make_tree):
    """Stranger's project #15 kept boards.post_count by AFTER INSERT and AFTER DELETE
    triggers on posts, then moved posts between boards with an UPDATE, which fires neither: the
    counters went stale and nothing said so (the sqlite3 module below shows them stale). An
    UPDATE of a column such triggers read is a warning, unless an UPDATE trigger follows that
    column or a later statement of the file writes the table they keep."""
    import sqlite3

    init = (
        "CREATE TABLE IF NOT EXISTS boards (id INTEGER PRIMARY KEY, post_count INTEGER "
        "NOT NULL DEFAULT 0);\n"
        "CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, board_id INTEGER, title TEXT);\n"
        "CREATE TRIGGER IF NOT EXISTS posts_in AFTER INSERT ON posts BEGIN\n"
        "  UPDATE boards SET post_count = post_count + 1 WHERE id = NEW.board_id; END;\n"
        "CREATE TRIGGER IF NOT EXISTS posts_out AFTER DELETE ON posts BEGIN\n"
        "  UPDATE boards SET post_count = post_count - 1 WHERE id = OLD.board_id; END;\n"
    )
    move = "UPDATE posts SET board_id = 2 WHERE board_id = 1;\n"
    files = {
        "0001_init.sql": init,
        "0002_move.sql": move,
        "0003_merge.sql": "UPDATE posts SET board_id = 3 WHERE board_id = 4;\n"
        "DELETE FROM boards WHERE id = 4;\n",  # #15's 0003: a DELETE recounts nothing
        "0004_move_and_recount.sql": move + "UPDATE boards SET post_count = "
        "(SELECT count(*) FROM posts WHERE board_id = boards.id);\n",
        "0005_titles.sql": "UPDATE posts SET title = upper(title);\n",
        "0006_follow.sql": "CREATE TRIGGER IF NOT EXISTS posts_moved AFTER UPDATE OF board_id "
        "ON posts BEGIN SELECT 1; END;\n",
        "0007_move_again.sql": move,
    }
    hits = [f for f in findings_for(make_tree, files) if f[0] == "D1N028"]
    assert hits == [("D1N028", "0002_move.sql", 1), ("D1N028", "0003_merge.sql", 1)]

    db = sqlite3.connect(":memory:")
    db.executescript(
        init + "INSERT INTO boards (id) VALUES (1), (2);\n"
        "INSERT INTO posts (board_id) VALUES (1), (1), (2);\n" + move
    )
    counted = db.execute("SELECT id, post_count FROM boards ORDER BY id").fetchall()
    assert counted == [(1, 2), (2, 1)]  # stale: board 1 holds no post now, board 2 three


def test_rebuild_that_forgets_triggers_and_indexes(make_tree):
    """Stranger's project #17 rebuilt `recipes` to rename a column: the triggers keeping its
    FTS5 index went with DROP TABLE, and nothing said so (D1N029). A rebuild that creates them
    again, by name or (an index) on the same columns, is not flagged."""
    init = (
        'CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT, "from" TEXT);\n'
        "CREATE TABLE log (id INTEGER PRIMARY KEY, recipe INTEGER);\n"
        "CREATE INDEX recipes_by_title ON recipes (title);\n"
        "CREATE TRIGGER recipes_ai AFTER INSERT ON recipes BEGIN\n"
        "  INSERT INTO log (recipe) VALUES (new.id);\nEND;\n"
    )
    rebuild = (
        "CREATE TABLE recipes_new (id INTEGER PRIMARY KEY, title TEXT, origin TEXT);\n"
        "INSERT INTO recipes_new SELECT * FROM recipes;\n"
        "DROP TABLE recipes;\n"
        "ALTER TABLE recipes_new RENAME TO recipes;\n"
    )
    again = (
        "CREATE INDEX recipes_title ON recipes (title);\n"  # another name, the same column
        "CREATE TRIGGER recipes_ai AFTER INSERT ON recipes BEGIN\n"
        "  INSERT INTO log (recipe) VALUES (new.id);\nEND;\n"
    )
    files = {
        "0001_init.sql": init,
        "0002_rename.sql": rebuild,
        "0003_init_again.sql": "DROP TABLE recipes; DROP TABLE log;\n" + init,
        "0004_rename_whole.sql": rebuild + again,
    }
    hits = [f for f in findings_for(make_tree, files) if f[0] == "D1N029"]
    assert hits == [("D1N029", "0002_rename.sql", 3)]

    import sqlite3

    db = sqlite3.connect(":memory:")
    db.executescript(init + rebuild + "INSERT INTO recipes (title) VALUES ('soup');")
    assert db.execute("SELECT count(*) FROM log").fetchall() == [(0,)]  # nothing logged now
    assert db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == []


def test_migrations_numbered_by_timestamp_have_no_gaps(make_tree):
    """Stranger's project #18 numbers its files by timestamp (`20260115090000_backoff.sql`):
    D1N022 said each file followed a gap of millions ("no migration numbered
    20260101090001–20260115089999"). Dated numbers skip by design; a counter still counts."""
    files = {
        "20260101090000_jobs.sql": "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY);\n",
        "20260115090000_more.sql": "CREATE TABLE IF NOT EXISTS more (id INTEGER PRIMARY KEY);\n",
    }
    assert not [f for f in findings_for(make_tree, files) if f[0] == "D1N022"]


def test_a_counter_that_skips_still_has_a_gap(make_tree):
    counted = {
        "0001_jobs.sql": "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY);\n",
        "0003_more.sql": "CREATE TABLE IF NOT EXISTS more (id INTEGER PRIMARY KEY);\n",
    }
    assert [f for f in findings_for(make_tree, counted) if f[0] == "D1N022"] == [
        ("D1N022", "0003_more.sql", 0)
    ]
