"""Statement splitting, classification and wrangler's file order."""

from __future__ import annotations

import hashlib

import apsw
import pytest

from d1nb.formats.migrations import load_migration_dir, parse_statements
from d1nb.formats.sql.shapes import classify
from d1nb.problems import InputError


def kinds(text: str) -> list[tuple[str, str | None, int]]:
    return [(s.kind, s.table, s.line) for s in parse_statements(text)]


def test_trigger_body_with_semicolons_is_one_statement():
    text = (
        "-- header\n"
        "CREATE TRIGGER t_imm BEFORE UPDATE OF logged_at ON progress\n"
        "BEGIN\n"
        "  SELECT RAISE(ABORT, 'immutable; really');\n"
        "  UPDATE other SET n = n + 1;\n"
        "END;\n"
        "INSERT INTO x VALUES (1);\n"
    )
    statements = parse_statements(text)
    assert [(s.kind, s.table, s.line, s.end_line) for s in statements] == [
        ("create_trigger", "progress", 2, 6),
        ("insert", "x", 7, 7),
    ]
    assert statements[0].detail == "t_imm"


def test_semicolons_in_strings_comments_and_case_do_not_split():
    text = (
        "UPDATE t SET a = CASE WHEN b = 'x;y' THEN 1 ELSE 2 END; -- trailing; comment\n"
        "/* block; comment */ DELETE FROM t WHERE a = ';';\n"
    )
    assert kinds(text) == [("update", "t", 1), ("delete", "t", 2)]


def test_crlf_and_drizzle_breakpoints():
    text = (
        "CREATE TABLE `a` (\r\n\t`id` integer PRIMARY KEY\r\n);\r\n--> statement-breakpoint\r\n"
        "CREATE INDEX `a_idx` ON `a` (`id`);--> statement-breakpoint\r\n"
        'INSERT INTO `__new_a`("id") SELECT "id" FROM `a`;'
    )
    assert kinds(text) == [
        ("create_table", "a", 1),
        ("create_index", "a", 5),
        ("insert_select", "__new_a", 6),
    ]


def test_unterminated_last_statement_is_flagged():
    statements = parse_statements("CREATE TABLE a (x);\nINSERT INTO a VALUES (1)\n-- end\n")
    assert [s.complete for s in statements] == [True, False]
    assert statements[1].line == 2


def test_comment_only_and_empty_files_have_no_statements():
    assert parse_statements("-- nothing here\n/* really */\n") == []
    assert parse_statements("") == []
    assert parse_statements(";;\n") == []


@pytest.mark.parametrize(
    ("sql", "kind", "table", "flags"),
    [
        (
            "CREATE TABLE IF NOT EXISTS t (a) STRICT",
            "create_table",
            "t",
            {"if_not_exists", "strict"},
        ),
        ("CREATE TEMP TABLE t AS SELECT 1", "create_table", "t", {"temp", "as_select"}),
        (
            "CREATE UNIQUE INDEX ix ON t(a) WHERE a IS NOT NULL",
            "create_index",
            "t",
            {"unique", "partial"},
        ),
        ("CREATE VIEW IF NOT EXISTS v AS SELECT 1", "create_view", "v", {"if_not_exists"}),
        ("CREATE VIRTUAL TABLE f USING fts5(a, content='t')", "create_virtual_table", "f", set()),
        (
            "ALTER TABLE main.t ADD COLUMN c TEXT NOT NULL DEFAULT ''",
            "add_column",
            "t",
            {"not_null", "default"},
        ),
        (
            "ALTER TABLE t ADD c TEXT DEFAULT CURRENT_TIMESTAMP",
            "add_column",
            "t",
            {"default", "non_constant_default"},
        ),
        ("ALTER TABLE t ADD COLUMN c INT AS (a + 1) STORED", "add_column", "t", {"stored"}),
        ("ALTER TABLE t DROP COLUMN c", "drop_column", "t", set()),
        ("ALTER TABLE t RENAME COLUMN a TO b", "rename_column", "t", set()),
        ("ALTER TABLE t RENAME TO u", "rename_table", "t", set()),
        ("DROP TABLE IF EXISTS t", "drop_table", "t", {"if_exists"}),
        ("DROP INDEX ix", "drop_index", None, set()),
        ("INSERT OR IGNORE INTO t SELECT * FROM u", "insert_select", "t", {"or_ignore"}),
        ("REPLACE INTO t VALUES (1)", "insert", "t", {"or_replace"}),
        ("INSERT OR REPLACE INTO t VALUES (1)", "insert", "t", {"or_replace"}),
        (
            "WITH x AS (SELECT 1) UPDATE t SET a = (SELECT 1 FROM x WHERE 1)",
            "update",
            "t",
            {"with"},
        ),
        ("UPDATE t SET a = 1 WHERE b", "update", "t", {"where"}),
        ("DELETE FROM t", "delete", "t", set()),
        ("PRAGMA foreign_keys=OFF", "pragma", None, set()),
        ("BEGIN TRANSACTION", "transaction", None, set()),
        ("SELECT 1", "select", None, set()),
        ("VACUUM", "other", None, set()),
    ],
)
def test_classify(sql, kind, table, flags):
    got_kind, got_table, got_flags, _ = classify(sql + ";")
    assert (got_kind, got_table) == (kind, table)
    assert set(got_flags) == flags


@pytest.mark.parametrize(
    "default",
    [
        "'x'",
        "0",
        "-1",
        "NULL",
        "('x')",
        "(1+2)",
        "(json_object())",
        "CURRENT_TIMESTAMP",
        "(strftime('%s','now'))",
        "X'00'",
    ],
)
def test_non_constant_default_flag_agrees_with_sqlite(default):
    """The lint flag must say exactly what SQLite does on a populated table."""
    sql = f"ALTER TABLE t ADD COLUMN c TEXT DEFAULT {default};"
    _, _, flags, _ = classify(sql)
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE t (a); INSERT INTO t VALUES (1);")
    try:
        conn.execute(sql)
        fails = False
    except apsw.SQLError as exc:
        fails = "non-constant default" in str(exc)
    assert ("non_constant_default" in flags) == fails


def test_wrangler_order_duplicates_zero_and_non_migrations(make_tree):
    root = make_tree(
        {
            "m/0002_b.sql": "SELECT 1;",
            "m/0000_init.sql": "SELECT 1;",
            "m/0008_z.sql": "SELECT 1;",
            "m/0008_a.sql": "SELECT 1;",
            "m/10_ten.sql": "SELECT 1;",
            "m/notes.sql.rollback": "DROP TABLE x;",
            "m/README.md": "# hi",
            "m/meta/_journal.json": "{}",
            "m/meta/0001_snapshot.sql": "SELECT 1;",
        }
    )
    mdir = load_migration_dir(root / "m")
    assert [f.name for f in mdir.files] == [
        "0000_init.sql",
        "0002_b.sql",
        "0008_a.sql",
        "0008_z.sql",
        "10_ten.sql",
    ]
    assert sorted(p.name for p in mdir.other_files) == [
        "0001_snapshot.sql",
        "README.md",
        "_journal.json",
        "notes.sql.rollback",
    ]


def test_migrations_pattern_layout(make_tree):
    root = make_tree(
        {
            "migrations/0002_add/migration.sql": "ALTER TABLE a ADD COLUMN b;",
            "migrations/0001_init/migration.sql": "CREATE TABLE a (x);",
            "migrations/0001_init/snapshot.json": "{}",
        }
    )
    mdir = load_migration_dir(root / "migrations", "*/migration.sql")
    assert [f.name for f in mdir.files] == ["0001_init/migration.sql", "0002_add/migration.sql"]
    assert [f.number for f in mdir.files] == [1, 2]


def test_bad_files_are_reported_with_line_and_rest_loads(make_tree):
    root = make_tree(
        {
            "m/0001_ok.sql": "CREATE TABLE a (x);",
            "m/0002_latin1.sql": "-- ok\n-- caf\xe9\n".encode("latin-1"),
            "m/0003_binary.sql": b"SQLite format 3\x00\x01",
            "m/0004_open.sql": "CREATE TABLE b (x);\nINSERT INTO b VALUES (1)",
        }
    )
    mdir = load_migration_dir(root / "m")
    assert len(mdir.files) == 4
    messages = {(p.path.rsplit("/", 1)[-1], p.line): p.message for p in mdir.problems}
    assert "not valid UTF-8" in messages[("0002_latin1.sql", 2)]
    assert mdir.files[1].text == "-- ok\n-- caf\ufffd\n"  # as wrangler reads it
    assert "binary" in messages[("0003_binary.sql", 1)]
    assert "unterminated" in messages[("0004_open.sql", 2)]
    assert mdir.files[0].statements[0].kind == "create_table"


def test_missing_dir_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_migration_dir(tmp_path / "nope")


def test_file_hash_and_size(make_tree):
    root = make_tree({"m/0001_a.sql": "SELECT 1;\n"})
    f = load_migration_dir(root / "m").files[0]
    assert f.bytes == 10
    assert f.sha256 == hashlib.sha256(b"SELECT 1;\n").hexdigest()


def test_schema_evolution_shows_generated_columns(tmp_path):
    """Stranger's project #28: `"invoice lines"`'s STORED `amount_cents` was missing from
    report 01's table shapes, and a generated column added by ALTER TABLE was no column added
    at all; both are part of a table's shape."""
    from d1nb.engine.evolution import schema_evolution

    (tmp_path / "0001_init.sql").write_text(
        "CREATE TABLE l (qty REAL, unit INTEGER,\n"
        "  amount INTEGER GENERATED ALWAYS AS (CAST(round(qty * unit) AS INTEGER)) STORED);\n",
        encoding="utf-8",
    )
    (tmp_path / "0002_cents.sql").write_text(
        "ALTER TABLE l ADD COLUMN cents INTEGER GENERATED ALWAYS AS (amount * 100) VIRTUAL;\n",
        encoding="utf-8",
    )
    evolution = schema_evolution(load_migration_dir(tmp_path))
    shapes = evolution.columns.groupby("file")["column"].apply(list).to_dict()
    assert shapes == {
        "0001_init.sql": ["qty", "unit", "amount"],
        "0002_cents.sql": ["qty", "unit", "amount", "cents"],
    }
    added = evolution.changes().set_index("file")["columns_added"].to_dict()
    assert "cents" in added["0002_cents.sql"]
