"""The `wrangler d1 export` format: writing it faithfully, reading it back with counts checked."""

from __future__ import annotations

import apsw
import pytest

from d1nb.problems import InputError
from d1nb.snapshots import dump_statements, iter_dump, load_dump, sql_literal, write_dump


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (42, "42"),
        (2**63 - 1, "9223372036854775807"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1.5e-7, "1.5e-7"),
        (1e21, "1e+21"),
        ("it's", "'it''s'"),
        ("a\nb", "replace('a\\nb','\\n',char(10))"),
        ("a\r\nb", "replace(replace('a\\r\\nb','\\r',char(13)),'\\n',char(10))"),
        ("has \\n\nline", "replace('has \\n\\012line','\\012',char(10))"),
        (b"\x00\xff", "X'00ff'"),
        ("Dvořák 坂本", "'Dvořák 坂本'"),
    ],
)
def test_literals_match_wrangler(value, literal):
    assert sql_literal(value) == literal


def _db() -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute(
        "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE);"
        "INSERT INTO d1_migrations(name) VALUES ('0001_a.sql');"
        'CREATE TABLE "Quoted" (a);'
        "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, r REAL, n);"
        "CREATE INDEX t_s ON t(s);"
        "CREATE VIEW v AS SELECT * FROM t;"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"
    )
    conn.execute("INSERT INTO t VALUES (1, 'two\nlines', X'01', 2.5, NULL)")
    conn.execute(
        "INSERT INTO t VALUES (9007199254740993, ?, ?, 1e300, 'x')", ("x" * 1_999_000, b"\x00" * 10)
    )
    return conn


def test_dump_order_and_shape():
    statements = list(dump_statements(_db()))
    assert statements[0] == "PRAGMA defer_foreign_keys=TRUE;"
    assert statements[1].startswith("CREATE TABLE d1_migrations(")
    assert statements[2] == ('INSERT INTO "d1_migrations" ("id","name") VALUES(1,\'0001_a.sql\');')
    assert statements[3] == 'CREATE TABLE IF NOT EXISTS "Quoted" (a);'
    assert statements[5] == (
        'INSERT INTO "t" ("id","s","b","r","n") '
        "VALUES(1,replace('two\\nlines','\\n',char(10)),X'01',2.5,NULL);"
    )
    tail = statements[-5:]
    assert tail[0] == "DELETE FROM sqlite_sequence;"
    assert tail[1] == 'INSERT INTO "sqlite_sequence" ("name","seq") VALUES(\'d1_migrations\',1);'
    assert [s.split()[1] for s in tail[2:]] == ["INDEX", "TRIGGER", "VIEW"]
    no_data = list(dump_statements(_db(), no_data=True))
    assert not any(s.startswith("INSERT") for s in no_data)
    only_t = list(dump_statements(_db(), tables=["t"], no_schema=True))
    assert [s[:15] for s in only_t[1:]] == ['INSERT INTO "t"'] * 2


def test_round_trip_keeps_values_and_counts(tmp_path):
    out = write_dump(_db(), tmp_path / "export.sql")
    assert not out.read_bytes().endswith(b"\n")
    snapshot = load_dump(out, tmp_path / "work")
    assert snapshot.row_counts == {"Quoted": 0, "d1_migrations": 1, "t": 2}
    conn = apsw.Connection(str(snapshot.path))
    rows = conn.execute("SELECT id, s, b, r, n, typeof(r) FROM t ORDER BY id").fetchall()
    assert rows[0] == (1, "two\nlines", b"\x01", 2.5, None, "real")
    assert rows[1][0] == 9007199254740993
    assert len(rows[1][1]) == 1_999_000
    assert rows[1][2:5] == (b"\x00" * 10, 1e300, "x")
    assert out.read_text(encoding="utf-8") == "\n".join(dump_statements(conn))


def test_truncated_dump_names_the_line(tmp_path):
    dump = tmp_path / "cut.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n"
        'INSERT INTO "t" ("a") VALUES(\'x\');\nINSERT INTO "t" ("a") VALUES(\'y',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"cut\.sql:4: .*truncated"):
        list(iter_dump(dump))
    with pytest.raises(InputError):
        load_dump(dump, tmp_path / "work")
    assert not (tmp_path / "work" / "cut.sqlite").exists()


def test_invalid_utf8_and_non_sql_name_the_line(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_bytes(b"CREATE TABLE t (a);\nINSERT INTO t VALUES ('\xff');\n")
    with pytest.raises(InputError, match=r"bad\.sql:2: .*UTF-8"):
        load_dump(bad, tmp_path / "work")
    junk = tmp_path / "junk.sql"
    junk.write_text("CREATE TABLE t (a);\nthis is not sql;\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"junk\.sql:2: .*syntax error"):
        load_dump(junk, tmp_path / "work")


def test_sample_exports_load_with_verified_counts(sample, tmp_path):
    snapshot = load_dump(sample / "exports" / "api" / "before.sql", tmp_path)
    assert snapshot.row_counts["goal_progress"] == 1100
    assert snapshot.row_counts["d1_migrations"] == 8
    before = (sample / "exports" / "api" / "before.sql").read_bytes()
    assert (
        write_dump(apsw.Connection(str(snapshot.path)), tmp_path / "again.sql").read_bytes()
        == before
    )
