"""What D1's build of SQLite runs differently from d1nb's (d1nb.formats.sql.d1_build): the
rewrites and the rows they leave. The same statements against wrangler's local D1 are in
tests/compat/test_wrangler.py (`test_statements_d1s_build_runs_differently_as_wrangler`)."""

from __future__ import annotations

import pytest

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.d1_build import (
    JSON_NOTE,
    LIMIT_NOTE,
    differences,
    json_subqueries_wrapped,
    limit_as_subquery,
)


@pytest.mark.parametrize(
    ("sql", "identity", "expected"),
    [
        (
            "DELETE FROM t WHERE a > 1 ORDER BY b DESC LIMIT 5;",
            ["rowid"],
            "DELETE FROM t WHERE rowid IN "
            "(SELECT rowid FROM t WHERE a > 1 ORDER BY b DESC LIMIT 5)",
        ),
        (  # comments everywhere: none may swallow the WHERE put after them
            "DELETE FROM t -- all?\nWHERE a > 1 -- why\nORDER BY a /* z */ LIMIT 2 -- two\n;",
            ["rowid"],
            "DELETE FROM t WHERE rowid IN (SELECT rowid FROM t WHERE a > 1 ORDER BY a LIMIT 2)",
        ),
        (
            "DELETE FROM t LIMIT 2 OFFSET 3",
            ["rowid"],
            "DELETE FROM t WHERE rowid IN (SELECT rowid FROM t LIMIT 2 OFFSET 3)",
        ),
        (
            "DELETE FROM \"it's\" AS x WHERE x.a = 'LIMIT' RETURNING a ORDER BY a LIMIT 1",
            ["rowid"],
            'DELETE FROM "it\'s" AS x WHERE rowid IN (SELECT rowid FROM "it\'s" AS x '
            "WHERE x.a = 'LIMIT' ORDER BY a LIMIT 1) RETURNING a",
        ),
        (
            "UPDATE OR IGNORE main.w SET v = (SELECT 1 LIMIT 1) WHERE n > 3 LIMIT 2",
            ["k", 'n "2"'],
            'UPDATE OR IGNORE main.w SET v = (SELECT 1 LIMIT 1) WHERE ("k", "n ""2""") IN '
            '(SELECT "k", "n ""2""" FROM main.w WHERE n > 3 LIMIT 2)',
        ),
        (  # UPDATE … FROM: the LIMIT counts joined rows; the join stays for the SET
            "UPDATE t AS a SET v = u.v FROM u WHERE a.id = u.id ORDER BY u.v LIMIT 3",
            ["rowid"],
            'UPDATE t AS a SET v = u.v FROM u WHERE (a.id = u.id) AND "a".rowid IN '
            '(SELECT "a".rowid FROM t AS a, u WHERE a.id = u.id ORDER BY u.v LIMIT 3)',
        ),
        (
            "WITH z(v) AS (SELECT 1) DELETE FROM t WHERE a IN z LIMIT 2",
            ["rowid"],
            "WITH z(v) AS (SELECT 1) DELETE FROM t WHERE rowid IN "
            "(SELECT rowid FROM t WHERE a IN z LIMIT 2)",
        ),
    ],
)
def test_limited_update_and_delete_choose_rows_by_subquery(sql, identity, expected):
    assert limit_as_subquery(sql, identity) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM t WHERE a IN (SELECT a FROM u LIMIT 3)",  # the LIMIT is the subquery's
        "DELETE FROM t ORDER BY a LIMIT 1 RETURNING a",  # D1 refuses RETURNING after LIMIT
        "SELECT * FROM t LIMIT 3",
        "INSERT INTO t SELECT * FROM u LIMIT 3",
        "INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 2 WHERE (SELECT 1 LIMIT 1)",
    ],
)
def test_other_statements_keep_their_limit(sql):
    assert limit_as_subquery(sql, ["rowid"]) is None


def test_json_subqueries_as_values_are_wrapped():
    """Through CASE or coalesce the subtype reaches json_set in D1 too (checked: wrangler)."""
    sql = (
        "SELECT json_set('{}', '$.a', CASE WHEN 1 THEN (SELECT json_array(1)) END, "
        "'$.b', coalesce((SELECT DISTINCT json('[2]') FROM t), 'x'))"
    )
    assert json_subqueries_wrapped(sql) == (
        "SELECT json_set('{}', '$.a', CASE WHEN 1 THEN json((SELECT json_array(1))) END, "
        "'$.b', coalesce(json((SELECT DISTINCT json('[2]') FROM t)), 'x'))"
    )


def test_json_subqueries_as_arguments_are_wrapped():
    sql = (
        "UPDATE r SET meta = json_set(meta, '$.tags', (SELECT json_group_array(lower(value)) "
        "FROM json_each(r.meta, '$.tags')), '$.o', (SELECT json_object('a', 1)))"
    )
    assert json_subqueries_wrapped(sql) == (
        "UPDATE r SET meta = json_set(meta, '$.tags', json((SELECT json_group_array(lower(value)) "
        "FROM json_each(r.meta, '$.tags'))), '$.o', json((SELECT json_object('a', 1))))"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE r SET meta = json_set(meta, '$.a', (SELECT slug FROM s))",  # not JSON: a string
        "SELECT * FROM a, (SELECT json_array(1)) AS b LEFT JOIN (SELECT json_object()) c",
        "WITH x AS (SELECT json_array(1)) SELECT json_set('{}', '$.a', (SELECT * FROM x))",
        "SELECT json_set('{}', (SELECT json_extract(m, '$.x') FROM s), 1)",  # a path
        "UPDATE r SET meta = (SELECT json_extract(m, '$.x') FROM s)",  # stored as it comes
        "SELECT json_set('{}', '$.a', (SELECT m -> '$.x' || '' FROM s))",  # text
        "SELECT * FROM (SELECT json_array(1))",
        "SELECT 1 WHERE 2 IN (SELECT json_array(1))",
        "SELECT json_set('{}', '$.a', (SELECT json_array(1) || 'x'))",
    ],
)
def test_other_subqueries_are_left_alone(sql):
    assert json_subqueries_wrapped(sql) == sql


def test_the_engine_runs_them_as_d1_does(tmp_path):
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration(
            "0001_x.sql",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, meta TEXT);\n"
            "CREATE TABLE w (k TEXT, n INTEGER, PRIMARY KEY (k, n)) WITHOUT ROWID;\n"
            "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 20)"
            " INSERT INTO t SELECT i, i % 3, json_object('tags', json_array('A', 'a')) FROM q;\n"
            "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 10)"
            " INSERT INTO w SELECT 'k', i FROM q;\n"
            "DELETE FROM t WHERE a = 0 ORDER BY id DESC LIMIT 2;\n"
            "DELETE FROM w ORDER BY n LIMIT 3 OFFSET 2;\n"
            "UPDATE t SET meta = json_set(meta, '$.tags', (SELECT json_group_array(DISTINCT"
            " lower(value)) FROM json_each(t.meta, '$.tags')));\n",
        )
        assert outcome.ok, outcome.error
        assert [s.changes for s in outcome.statements][-3:] == [2, 3, 18]
        ids = [r[0] for r in engine.conn.execute("SELECT id FROM t WHERE a = 0")]
        assert ids == [3, 6, 9, 12]  # 15 and 18 deleted
        assert [r[0] for r in engine.conn.execute("SELECT n FROM w")] == [1, 2, 6, 7, 8, 9, 10]
        tags = {r[0] for r in engine.conn.execute("SELECT meta ->> '$.tags' FROM t")}
        assert tags == {'["a"]'}
        assert {r[0] for r in engine.conn.execute("SELECT json_type(meta, '$.tags') FROM t")} == {
            "array"
        }
        assert outcome.notes == [
            f"line 5: {LIMIT_NOTE}",
            f"line 6: {LIMIT_NOTE}",
            f"line 7: {JSON_NOTE}",
        ]


def test_differences_name_what_differs():
    assert differences("DELETE FROM t LIMIT 1") == [LIMIT_NOTE]
    assert differences("SELECT json_array((SELECT json('[]')))") == [JSON_NOTE]
    assert differences("DELETE FROM t WHERE a = 1") == []


def test_a_commented_limited_delete_deletes_its_rows_only(tmp_path):
    """The first rewrite kept a `--` comment before the WHERE it added: `DELETE FROM t --
    note` + ` WHERE rowid IN (…)` deleted every row. A file of one statement reaches the
    engine with its comments (wrangler removes them only when a file holds several)."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        assert engine.apply_migration(
            "0001.sql",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER);\n"
            "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 20)"
            " INSERT INTO t SELECT i, i % 2 FROM q;\n",
        ).ok
        outcome = engine.apply_migration(
            "0002.sql",
            "DELETE FROM t -- the odd ones, two at a time\nWHERE a = 1 -- odd\n"
            "ORDER BY id DESC -- newest first\nLIMIT 2 -- a batch\n;\n",
        )
        assert outcome.ok, outcome.error
        assert [s.changes for s in outcome.statements] == [2]
        assert engine.conn.execute("SELECT count(*) FROM t").fetchall() == [(18,)]


def test_json_extract_through_a_subquery_is_json_when_d1_says_so():
    """json_extract is JSON for an array or an object only: as a value json_set inserts, its
    call is made to return JSON text in every case and the subquery wrapped; `->` and a
    json_extract of several paths are JSON always."""
    sql = (
        "UPDATE t SET m = json_set(m, '$.a', (SELECT json_extract(o.m, '$.p') FROM o), "
        "'$.b', (SELECT o.m -> '$.p' FROM o), "
        "'$.c', (SELECT json_extract(o.m, '$.p', '$.q') FROM o))"
    )
    assert json_subqueries_wrapped(sql) == (
        "UPDATE t SET m = json_set(m, '$.a', json((SELECT CASE WHEN json_type(o.m, '$.p') IN "
        "('array', 'object') THEN json_extract(o.m, '$.p') ELSE json_quote(json_extract(o.m, "
        "'$.p')) END FROM o)), '$.b', json((SELECT o.m -> '$.p' FROM o)), '$.c', "
        "json((SELECT json_extract(o.m, '$.p', '$.q') FROM o)))"
    )


def test_a_sub_document_copied_through_a_subquery_keeps_its_type(tmp_path):
    """An object, a string, a number and a missing path copied from another table by
    json_set(…, (SELECT json_extract(…))): D1 inserts the object as an object (d1nb's SQLite
    stored it as a string holding one), the rest as they are (checked: wrangler)."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration(
            "0001.sql",
            "CREATE TABLE legacy (id INTEGER PRIMARY KEY, data TEXT);\n"
            "CREATE TABLE users (id INTEGER PRIMARY KEY, settings TEXT);\n"
            'INSERT INTO legacy VALUES (1, \'{"prefs": {"dark": true}}\'),'
            " (2, '{\"prefs\": \"none\"}'), (3, '{\"prefs\": 7}'), (4, '{}');\n"
            "INSERT INTO users VALUES (1, '{}'), (2, '{}'), (3, '{}'), (4, '{}');\n"
            "UPDATE users SET settings = json_set(settings, '$.prefs', (SELECT"
            " json_extract(data, '$.prefs') FROM legacy WHERE legacy.id = users.id));\n",
        )
        assert outcome.ok, outcome.error
        rows = engine.conn.execute("SELECT settings FROM users ORDER BY id").fetchall()
        assert [r[0] for r in rows] == [
            '{"prefs":{"dark":true}}',
            '{"prefs":"none"}',
            '{"prefs":7}',
            '{"prefs":null}',
        ]


def test_a_limited_delete_goes_by_the_rowid_a_column_named_rowid_hides(tmp_path):
    """`DELETE … LIMIT 1` on a table with a column named `rowid` (text, repeated): run as
    `rowid IN (SELECT rowid …)` it would pick rows by that column and delete both 'x' rows;
    the rowid is reached as `_rowid_` there, and one row goes, as in D1."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration(
            "0001.sql",
            'CREATE TABLE t ("rowid" TEXT, a INTEGER);\n'
            "INSERT INTO t VALUES ('x', 1), ('x', 2), ('y', 3);\n"
            "DELETE FROM t WHERE a > 0 LIMIT 1;\n",
        )
        assert outcome.ok, outcome.error
        assert [s.changes for s in outcome.statements][-1] == 1
        assert engine.conn.execute("SELECT a FROM t ORDER BY a").fetchall() == [(2,), (3,)]


def test_triggers_and_views_d1s_build_runs_differently_are_noted():
    """A trigger keeping a post's tags as a JSON array (`json_set(meta, '$.tags', (SELECT
    json_group_array(name) …))`) stores an array in D1 (checked with wrangler 4.164) and a
    string in d1nb's SQLite, whose text runs as stored: its CREATE and every statement that
    fires it carry a note; a statement that does not fire it, none."""
    from d1nb.engine.d1engine import D1Engine
    from d1nb.formats.migrations import parse_statements

    create = (
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, meta TEXT DEFAULT '{}');\n"
        "CREATE TABLE tags (post_id INTEGER, name TEXT);\n"
        "CREATE TRIGGER tags_ai AFTER INSERT ON tags BEGIN UPDATE posts SET meta = "
        "json_set(meta, '$.tags', (SELECT json_group_array(name) FROM tags WHERE post_id = "
        "NEW.post_id)) WHERE id = NEW.post_id; END;\n"
        "CREATE VIEW counts AS SELECT json_object('n', (SELECT count(*) FROM tags)) AS j;\n"
        "INSERT INTO posts (id) VALUES (1);\n"
    )
    with D1Engine(":memory:") as engine:
        made = engine.apply_migration("0001.sql", parse_statements(create))
        assert [n.split(":")[0] for n in made.notes] == ["line 3"]  # the view's count is no JSON
        fired = engine.apply_migration(
            "0002.sql",
            parse_statements("INSERT INTO tags VALUES (1, 'a');\nDELETE FROM tags;\n"),
        )
        (note,) = fired.notes
        assert note.startswith("line 1: fires trigger tags_ai, which passes JSON built in")
        # what the note warns of: a string here, an array in D1 (until d1nb runs it as D1 does)
        assert engine.conn.execute("SELECT meta FROM posts").fetchall() == [
            ('{"tags":"[\\"a\\"]"}',)
        ]
