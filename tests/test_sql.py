"""d1nb.formats.sql, one place SQL text is taken apart; and batches of statements whose comments,
newlines and strings sit in every position, run on a copy against the unbatched statement."""

from __future__ import annotations

import shutil

import apsw
import pytest

from d1nb.analyses.batch_files import write_batches
from d1nb.analyses.batching import plan_batches
from d1nb.analyses.checks import check_snapshot
from d1nb.formats.migrations import parse_statements
from d1nb.formats.sql.shapes import (
    and_terms,
    check_constraints,
    classify,
    columns_read,
    conflict_update_columns,
    correlated_searches,
    dml_condition,
    exists_searches,
    holds_for_any_value,
    in_list_values,
    in_lists,
    in_subquery_counts,
    in_tests,
    index_where,
    json_each_sources,
    names_in,
    not_in_tests_query,
    old_columns,
    row_values,
    rows_fed_query,
    rows_offered_query,
    subquery_counts,
    subquery_sorter_feeds,
    table_aliases,
    trigger_parts,
    update_from_items,
    update_from_rows_query,
    with_condition,
    written_columns,
)
from d1nb.formats.sql.text import (
    as_wrangler_sends,
    quote_ident,
    quote_literal,
    split_statements,
    without_comments,
    wrangler_splits,
)
from d1nb.inputs.snapshots import load_snapshot
from d1nb.problems import InputError


def test_comments_never_swallow_what_follows():
    sql = "UPDATE orders SET status = upper(status) -- normalise\nWHERE kind = 'a';"
    parts = dml_condition(sql)
    assert parts.head == "UPDATE orders SET status = upper(status)"
    assert parts.condition == "kind = 'a'"
    text = without_comments("SELECT 1 -- one\n, '--not' /* two */ , 3")
    assert text == "SELECT 1\n, '--not' , 3"
    assert "--" not in without_comments("SELECT a -- x\nFROM t /* y */ WHERE b -- z")


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM t WHERE a = 1\nRETURNING *;",
        "DELETE FROM t WHERE a = 1\tRETURNING id;",
        "UPDATE t SET a = 1 WHERE b = 2 -- c\nLIMIT 5;",
        "UPDATE t SET a = 1 WHERE b = 2\nORDER BY b;",
    ],
)
def test_clauses_a_batch_cannot_keep_are_found_wherever_they_stand(sql):
    assert dml_condition(sql).trailing


def test_where_inside_strings_names_and_subqueries_is_not_the_statements():
    sql = (
        "UPDATE \"where\" SET note = 'x WHERE y', n = (SELECT max(n) FROM u WHERE u.a = 1) "
        "WHERE [WHERE] = 'a;b';"
    )
    parts = dml_condition(sql)
    assert parts.condition == "[WHERE] = 'a;b'"
    assert dml_condition("DELETE FROM t;").condition is None


def test_partial_index_condition_over_several_lines():
    sql = "CREATE UNIQUE INDEX u ON users(email)\nWHERE deleted_at IS NULL -- live rows\n;"
    assert index_where(sql) == "deleted_at IS NULL"
    assert index_where('CREATE INDEX i ON t("WHERE")') is None


def test_in_lists_count_values_not_commas():
    assert in_list_values("SELECT * FROM t WHERE a IN ('x,y', 'z')") == 2
    assert in_list_values("SELECT * FROM t WHERE a IN (1, (2), f(3, 4))") == 3
    assert in_list_values("SELECT * FROM t WHERE a IN (SELECT b FROM u)") == 0
    assert in_list_values("SELECT * FROM t WHERE a IN () OR b IN (1)") == 1
    assert in_list_values("SELECT 'IN (1, 2)'") == 0


def test_check_constraints_ignore_comments_and_strings():
    sql = (
        "CREATE TABLE t (\n  status TEXT CHECK (status IN ('a', 'b)')) -- CHECK (no)\n,"
        "  n INT, /* CHECK (x) */ CONSTRAINT c CHECK (n > 0 -- positive\n))"
    )
    assert check_constraints(sql) == [("status", "status IN ('a', 'b)')"), (None, "n > 0")]


def test_with_condition_goes_before_group_and_order():
    assert (
        with_condition("SELECT a FROM t -- c\nWHERE b = 1 ORDER BY a", "rowid > 5")
        == "SELECT a FROM t\nWHERE (b = 1) AND rowid > 5 ORDER BY a"
    )
    assert with_condition("SELECT a FROM t GROUP BY a", "x") == "SELECT a FROM t WHERE x GROUP BY a"


def test_quoting():
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal(None) == "NULL" and quote_literal(b"\x01") == "X'01'"


SPLIT_CASES = [
    "SELECT 1; SELECT 2;",
    "INSERT INTO t VALUES ('a;b'); -- c;\nSELECT \"x;\" FROM [y;z];",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET a = 1; DELETE FROM v; END; SELECT 3;",
    "/* ; */ SELECT `a;b`; ; ;SELECT 4",
    "SELECT 'unterminated; SELECT 5;",
    "SELECT 1 - -2; SELECT 6 / 3 /* x */;",
    "CREATE TABLE trigger_log (a); INSERT INTO trigger_log VALUES (';');",
]


@pytest.mark.parametrize("text", SPLIT_CASES)
def test_split_equals_sqlites_completeness_rule(text):
    ends, start = [], 0
    for i, ch in enumerate(text):
        if ch == ";" and apsw.complete(text[start : i + 1]):
            if without_comments(text[start:i]).strip():
                ends.append(i + 1)
            start = i + 1
    split = list(split_statements(text))
    assert [end for _b, end, _sql, complete in split if complete] == ends
    for begin, end, sql, _complete in split:
        assert text[begin:end].rstrip() == sql and not sql.startswith(("--", "/*", " "))


@pytest.mark.parametrize(
    ("text", "open_at"),
    [
        ("SELECT 1;\n/* to do\n", 10),
        ("SELECT 1;\n/* a */ /* b\n\n", 18),
        ("SELECT 1;\n/*/", 10),
        ("SELECT 1;\n/* closed */\n", None),
        ("SELECT 1;\n/**/", None),
        ("SELECT 1;\n-- not /* one\n", None),
        ("/* only a comment", 0),
    ],
)
def test_a_comment_left_open_at_the_end_is_an_unfinished_statement(text, open_at):
    """What wrangler appends to a migration (its ledger INSERT) would fall inside it."""
    unfinished = [begin for begin, _e, _sql, complete in split_statements(text) if not complete]
    assert unfinished == ([] if open_at is None else [open_at])
    assert apsw.complete(text + "\nSELECT 1;") == (open_at is None)


def test_split_lines_are_counted_once():
    text = "".join(f"-- row {i}\nINSERT INTO t VALUES ({i}, 'a;\nb');\n" for i in range(2000))
    statements = parse_statements(text)
    assert len(statements) == 2000
    assert [s.line for s in statements[:3]] == [2, 5, 8]
    assert statements[-1].line == 3 * 1999 + 2


# -- batches with comments, newlines and strings everywhere ----------------------------------

ROWS = 1_200


def _database(path) -> None:
    conn = apsw.Connection(str(path))
    conn.execute(
        'CREATE TABLE "or""ders" (id INTEGER PRIMARY KEY, kind TEXT, status TEXT, '
        'note TEXT, "we\'ird" TEXT)'
    )
    with conn:
        conn.executemany(
            'INSERT INTO "or""ders" (kind, status, note, "we\'ird") VALUES (?, ?, ?, ?)',
            [
                (
                    "abc"[i % 3],
                    ["new", "done", "-- x", "a;b"][i % 4],
                    "WHERE 1" if i % 5 else "x\ny",
                    "q'q" if i % 7 else None,
                )
                for i in range(ROWS)
            ],
        )
    conn.close()


BATCHED = [
    'UPDATE "or""ders" SET status = upper(status) -- normalise\nWHERE kind = \'a\';',
    "UPDATE \"or\"\"ders\" SET status = 'done' /* all of them */ WHERE status = 'new'\n"
    "-- only new ones\n;",
    "UPDATE \"or\"\"ders\"\nSET note = 'WHERE x -- y' -- set\n-- WHERE kind = 'b'\n"
    "WHERE kind = 'b' -- trailing\n;",
    'DELETE FROM "or""ders" -- everything below\nWHERE status = \'a;b\' /* ; */;',
    'UPDATE "or""ders" SET "we\'ird" = \'x\' WHERE "we\'ird" IS NULL -- self-excluding',
    "DELETE /* c */ FROM \"or\"\"ders\" WHERE -- why\n kind = 'c'\n AND note = 'x\ny';",
]


def _rows(path) -> list[tuple]:
    conn = apsw.Connection(str(path))
    try:
        return conn.execute('SELECT * FROM "or""ders" ORDER BY id').fetchall()
    finally:
        conn.close()


def _apply(path, sql: str) -> None:
    conn = apsw.Connection(str(path))
    try:
        conn.execute(sql)
    finally:
        conn.close()


@pytest.mark.parametrize("sql", BATCHED)
def test_every_batch_file_equals_the_unbatched_statement(tmp_path, sql):
    database = tmp_path / "db.sqlite"
    _database(database)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(database, whole)
    shutil.copyfile(database, batched)
    _apply(whole, sql)
    assert _rows(whole) != _rows(database)  # the statement does something
    plan = plan_batches(database, sql, sizes=(50, 100), repeats=1)
    files = write_batches(plan, database, tmp_path / "out", size=40)
    assert len(files) > 1
    for f in files:
        text = f.read_text(encoding="utf-8")
        statement = [s for s in parse_statements(text) if s.kind != "empty"]
        assert len(statement) == 1, text
        _apply(batched, text)
    assert _rows(batched) == _rows(whole)


def test_a_newline_before_returning_is_refused(tmp_path):
    database = tmp_path / "db.sqlite"
    _database(database)
    with pytest.raises(InputError, match="RETURNING"):
        plan_batches(database, 'DELETE FROM "or""ders" WHERE kind = \'a\'\nRETURNING id;')


def test_partial_unique_index_over_two_lines_is_checked_as_partial(tmp_path):
    database = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(database))
    conn.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, deleted_at TEXT);"
        "INSERT INTO users (email, deleted_at) VALUES ('a@x', '2026-01-01'), ('a@x', NULL);"
        "CREATE UNIQUE INDEX users_email ON users(email)\nWHERE deleted_at IS NULL;"
    )
    conn.close()
    result = check_snapshot(load_snapshot(database, tmp_path / "work"))
    unique = result[result["kind"] == "unique"]
    assert "users" in set(unique["table"])
    assert (unique["failing_rows"] == 0).all(), unique


def test_statements_as_wrangler_sends_them():
    """wrangler 4.124+ (workers-utils d1-splitter.ts) sends a statement as written, comments
    kept, so sqlite_master holds the CREATE text with them; CRLF becomes LF outside quotes."""
    sql = "CREATE TABLE b (\n  id INTEGER, /* x */\n  t TEXT -- printed\n) -- end\n;"
    assert as_wrangler_sends(sql) == sql.removesuffix(";").strip()
    assert as_wrangler_sends("SELECT '--no', \"/*no*/\";") == "SELECT '--no', \"/*no*/\""
    crlf = (
        "CREATE TABLE c (\r\n  t TEXT DEFAULT 'a\r\nb', -- it's\r\n  u /* x\r\n */ TEXT\r\n);\r\n"
    )
    assert as_wrangler_sends(crlf) == (
        "CREATE TABLE c (\n  t TEXT DEFAULT 'a\r\nb', -- it's\n  u /* x\n */ TEXT\n)"
    )
    assert wrangler_splits("CREATE TABLE a (x);\nCREATE TABLE b (y);")
    assert not wrangler_splits("-- one statement\nCREATE TABLE a (x); \n")
    assert not wrangler_splits("BEGIN TRANSACTION;\nCREATE TABLE a (x);\nCOMMIT;")


@pytest.mark.parametrize(
    "sql, written, on_conflict, flags",
    [
        ("UPDATE t SET a = 1, (b, c) = (2, 3) WHERE x", ["a", "b", "c"], [], ("where",)),
        (
            "INSERT INTO t (k, v) SELECT k, v FROM s WHERE true ON CONFLICT (k) DO UPDATE "
            "SET v = excluded.v WHERE t.v IS NOT excluded.v",
            ["k", "v"],
            ["v"],
            ("upsert",),
        ),
        (
            "WITH n(x) AS (SELECT 1) INSERT INTO t (k) SELECT x FROM n WHERE true "
            "ON CONFLICT (k) DO NOTHING",
            ["k"],
            [],
            ("with", "do_nothing"),
        ),
        ("REPLACE INTO t (a, b) VALUES (1, 2)", ["a", "b"], [], ("or_replace",)),
        (
            "INSERT INTO t (a) VALUES " + ", ".join(["(1)"] * 80) + " ON CONFLICT (a) "
            'DO UPDATE SET "b c" = 1 ON CONFLICT DO UPDATE SET d = 2',
            ["a"],
            ["b c", "d"],
            ("upsert",),
        ),
    ],
)
def test_written_and_conflict_update_columns(sql, written, on_conflict, flags):
    """An upsert's INSERT names its columns and its DO UPDATE sets others (each is asked for
    separately); a leading REPLACE and a long VALUES list keep their tails."""
    assert written_columns(sql) == written
    assert conflict_update_columns(sql) == on_conflict
    assert classify(sql)[2] == flags


def test_rows_fed_counts_what_a_select_yields_before_grouping():
    """The rows an INSERT … SELECT's sorter is fed and its searches find: its FROM, joins and
    WHERE, counted with the same data; a WITH before INSERT or inside it is kept."""
    conn = apsw.Connection(":memory:")
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, u INTEGER); CREATE TABLE c (tid INTEGER);"
        "INSERT INTO t (u) VALUES (1), (1), (2), (3); INSERT INTO c VALUES (1), (1), (2), (9);"
    )
    cases = {
        "INSERT INTO s SELECT u, count(*) FROM t WHERE id > 1 GROUP BY u ORDER BY 1 LIMIT 1": 3,
        "INSERT INTO s SELECT DISTINCT t.u FROM t JOIN c ON c.tid = t.id -- one\n": 3,
        'WITH "q q" AS (SELECT u FROM t) INSERT INTO s SELECT u, 1 FROM "q q" GROUP BY u': 4,
        "INSERT INTO s WITH q AS (SELECT u FROM t WHERE u = 1) SELECT u FROM q GROUP BY u": 2,
    }
    for sql, rows in cases.items():
        query = rows_fed_query(sql)
        assert query is not None, sql
        assert conn.execute(query).fetchall() == [(rows,)], (sql, query)
    for sql in ("INSERT INTO s VALUES (1)", "INSERT INTO s SELECT 1 UNION SELECT 2", "INSERT 'x"):
        assert rows_fed_query(sql) is None


def test_names_in_a_statement_are_its_words_and_quoted_names():
    names = names_in('DELETE FROM "Invoice Line" WHERE `it\'s` IN (SELECT id FROM p) -- c')
    assert {"invoice line", "it's", "id", "p"} <= names
    assert "c" not in names  # a comment names nothing
    assert names_in("SELECT 'unclosed") == set()


def test_in_lists_and_table_aliases():
    """What the metering reads off a statement: each IN list's values (a subquery is none),
    and the tables behind the aliases EXPLAIN QUERY PLAN writes."""
    sql = (
        "UPDATE users SET note = 'x' WHERE id IN (1, 2, 3) AND plan IN ('a') "
        'AND id IN (SELECT user_id FROM posts) AND EXISTS (SELECT 1 FROM "post s" AS p '
        "JOIN comments c ON c.post_id = p.id WHERE p.user_id = users.id)"
    )
    assert in_lists(sql) == [3, 1]
    assert table_aliases(sql) == {"p": "post s", "c": "comments"}
    assert in_lists("DELETE FROM t WHERE a IN ()") == [0]
    assert table_aliases("UPDATE t SET a = 'unclosed") == {}


def test_json_each_sources_name_the_loop_the_plan_shows():
    sql = (
        "UPDATE posts SET tags = (SELECT json_group_array(value) FROM json_each(posts.tags)), "
        "n = (SELECT count(*) FROM json_tree(json_extract(meta, '$.a'), '$.b') AS t)"
    )
    assert json_each_sources(sql) == {
        "json_each": ("json_each", "posts.tags", "posts"),
        "t": ("json_tree", "JSON_EXTRACT(meta, '$.a'), '$.b'", None),
    }


def test_in_subquery_counts_count_each_lists_rows():
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, plan TEXT);")
    conn.execute("INSERT INTO u (plan) VALUES ('a'), ('b'), ('a');")
    sql = (
        "UPDATE p SET x = 1 WHERE uid IN (SELECT id FROM u WHERE plan = 'a') "
        "AND k NOT IN (SELECT 1 UNION SELECT 2) AND z IN (1, 2)"
    )
    counts = [conn.execute(q).fetchall()[0][0] for q in in_subquery_counts(sql)]
    assert counts == [2, 2]


def test_materialized_subqueries_count_their_rows_and_what_their_sorters_are_fed():
    """A FROM subquery and a CTE (which names another) are counted as SQLite materializes
    them, and each sorter in them by what it is fed: a GROUP BY its FROM and WHERE's rows,
    an ORDER BY the groups before the LIMIT."""
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, k INTEGER, w INTEGER);")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) "
        "INSERT INTO s SELECT i, i % 4, i FROM n;"
    )
    sql = (
        "WITH base AS (SELECT k, w FROM s WHERE w > 6), "
        '"top k" AS (SELECT k, max(w) AS m FROM base GROUP BY k ORDER BY m LIMIT 2) '
        'UPDATE s SET w = q.c FROM "top k", (SELECT k, count(*) AS c FROM s '
        'GROUP BY k HAVING count(*) > 7) AS q WHERE q.k = s.k AND "top k".k = s.k'
    )

    def run(query: str) -> int:
        return conn.execute(query).fetchall()[0][0]

    assert {name: run(q) for name, q in subquery_counts(sql).items()} == {
        "base": 24,
        "top k": 2,
        "q": 2,
    }
    feeds = subquery_sorter_feeds(sql)
    assert {name: {k: run(q) for k, q in fed.items()} for name, fed in feeds.items()} == {
        "top k": {"GROUP BY": 24, "ORDER BY": 4},
        "q": {"GROUP BY": 30},
    }
    assert subquery_sorter_feeds("UPDATE s SET w = (") == {}


def test_in_tests_tell_lists_apart_from_subqueries_and_negated_ones():
    tests = in_tests(
        "DELETE FROM p WHERE email IN ('a', 'b', 'c') AND pid NOT IN (SELECT pid FROM q) "
        "AND lower(x) NOT IN (1, 2)"
    )
    assert [(t.column, t.negated, t.values) for t in tests] == [
        ("email", False, 3),
        ("pid", True, None),
        (None, True, 2),
    ]
    assert tests[1].distinct_query == (
        "WITH _d1nb_list(_d1nb_v) AS (SELECT pid FROM q) "
        "SELECT count(DISTINCT _d1nb_v) FROM _d1nb_list"
    )
    assert in_tests("DELETE FROM p WHERE (") == []


def test_a_statements_own_select_has_its_sorters_fed():
    feeds = subquery_sorter_feeds(
        "SELECT k, count(*) FROM t WHERE v > 2 GROUP BY k ORDER BY 2 DESC LIMIT 5"
    )
    assert feeds == {
        "": {
            "GROUP BY": "SELECT COUNT(*) FROM t WHERE v > 2",
            "ORDER BY": "SELECT count(*) FROM (SELECT k, COUNT(*) FROM t WHERE v > 2 GROUP BY k)",
        }
    }
    insert = subquery_sorter_feeds("INSERT INTO a SELECT k FROM t ORDER BY k")
    assert insert == {"": {"ORDER BY": "SELECT count(*) FROM (SELECT k FROM t)"}}
    # under a RECURSIVE WITH a count could run for ever before the statement is stopped
    endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
    assert subquery_sorter_feeds(endless + "SELECT i FROM r ORDER BY i") == {}
    assert subquery_sorter_feeds("SELECT k, row_number() OVER () FROM t ORDER BY k") == {}


def test_update_from_items_are_each_table_or_subquery_joined_in_order():
    prefix, items = update_from_items(
        'WITH c AS (SELECT 1 AS x) UPDATE "t t" AS o SET v = 1 FROM c, (SELECT k FROM s) AS q '
        "JOIN u ON u.a = q.k AND u.b > 2 WHERE q.k = o.id"
    )
    assert prefix == "WITH c AS (SELECT 1 AS x) "
    assert items == (
        ({"c"}, "c", ()),
        ({"q"}, "(SELECT k FROM s) AS q", ()),
        ({"u"}, "u", ("u.a = q.k", "u.b > 2")),
    )
    assert update_from_items("UPDATE t SET v = 1 WHERE id = 2") is None
    assert update_from_items("DELETE FROM t") is None


def test_trigger_parts_and_row_values():
    """A trigger taken apart as the metering needs it (#7's: lowercase `begin`/`end`, a `;`
    and the word end inside a string, UPDATE OF two columns, a WHEN on NEW and OLD)."""
    sql = (
        'CREATE TRIGGER invoice_paid AFTER UPDATE OF "status", meta ON "Invoice"\n'
        "WHEN new.\"status\" = 'PAID' AND old.\"status\" <> 'PAID'\nbegin\n"
        "  insert into audit_log (what) values ('paid; ' || new.\"id\" || ' end');\n"
        '  update "Invoice" set meta = json_set(meta, \'$.seen\', 1) where "id" = new."id";\nend'
    )
    parts = trigger_parts(sql)
    assert parts is not None
    assert (parts.event, parts.columns) == ("UPDATE", ("status", "meta"))
    assert parts.when == "new.\"status\" = 'PAID' AND old.\"status\" <> 'PAID'"
    assert len(parts.body) == 2 and parts.body[0].endswith("' end')")
    assert row_values(parts.when, new_as_columns=True) == (
        "\"status\" = 'PAID' AND NULL <> 'PAID'",
        True,
    )
    assert row_values(parts.body[1])[0].endswith('where "id" = NULL')
    assert trigger_parts("CREATE TABLE t (a)") is None


def test_and_terms_split_at_the_top_level_only():
    assert and_terms("new.a = 1 AND old.b <> 2") == ["new.a = 1", "old.b <> 2"]
    assert and_terms("x BETWEEN 1 AND 2 AND (y OR z AND w)") == [
        "x BETWEEN 1 AND 2",
        "(y OR z AND w)",
    ]
    assert and_terms("'a AND b'") == ["'a AND b'"]


def test_create_table_as_select_is_taken_apart_into_its_insert():
    """CREATE TABLE … AS SELECT is metered as the INSERT … SELECT it amounts to (D1 bills it
    so: tests/compat/test_metering.py): its table as written and its SELECT, comments and a
    schema name kept as SQLite reads them; a column list is not an AS SELECT."""
    from d1nb.formats.sql.shapes import create_as_parts

    assert create_as_parts(
        'CREATE TABLE "_keep" -- scratch\n AS\n  SELECT lower("email") k FROM "P" GROUP BY 1;'
    ) == ('"_keep"', 'SELECT lower("email") k FROM "P" GROUP BY 1')
    assert create_as_parts("create table if not exists main.[a b] as /* x */ values (1)") == (
        "main.[a b]",
        "values (1)",
    )
    assert create_as_parts("CREATE TABLE t (a AS (1), b)") is None
    assert create_as_parts("CREATE VIEW v AS SELECT 1") is None
    assert create_as_parts("INSERT INTO t SELECT 1") is None


def test_not_in_lists_name_their_column_when_they_hold_one():
    """A NOT IN (SELECT …) list holding one column of one table is looked up only for the
    rows not in it when that column cannot be NULL (the meter asks the schema); anything
    else may hold NULL."""
    from d1nb.formats.sql.shapes import not_in_list_columns

    assert not_in_list_columns(
        'DELETE FROM o WHERE a NOT IN (SELECT "acct id" FROM [Orders] WHERE t > 9) '
        "AND b NOT IN (1, 2) AND c IN (SELECT x FROM y)"
    ) == [("Orders", "acct id")]
    assert not_in_list_columns(
        "DELETE FROM q WHERE rowid NOT IN (SELECT min(rowid) FROM q GROUP BY e)"
    ) == [None]
    assert not_in_list_columns("UPDATE q SET a = 1 WHERE id NOT IN (SELECT k.r FROM k JOIN j)") == [
        None
    ]
    assert not_in_list_columns("UPDATE q SET a = 1 WHERE id IN (SELECT r FROM k)") == []


@pytest.mark.parametrize(
    ("sql", "table", "read"),
    [
        (
            'INSERT INTO n (a, b) SELECT a, upper("B c") FROM "Old" o WHERE o.z > 1',
            "old",
            {"a", "b c", "z"},
        ),
        ("INSERT INTO n SELECT * FROM old", "old", None),
        ("INSERT INTO n SELECT o.* FROM old o JOIN p ON p.id = o.pid", "old", None),
        ("INSERT INTO n SELECT p.*, o.k FROM old o JOIN p ON p.id = o.pid", "old", {"pid", "k"}),
        ("UPDATE t SET a = b, c = (SELECT x.* FROM x) WHERE d", "t", {"b", "d"}),
        ("UPDATE t SET a = b", "x", set()),
        ("UPDATE x SET v = (SELECT count(*) FROM old WHERE old.k = x.k)", "old", {"k"}),
        ("UPDATE x SET v = o.w FROM old AS o WHERE o.id = x.id", "old", {"id", "w"}),
        ("INSERT INTO old (a) VALUES (1)", "old", set()),
        ("CREATE TABLE n AS SELECT a FROM main.old", "old", {"a"}),
    ],
)
def test_columns_read_from_a_table(sql, table, read):
    """What a statement could copy out of a table before it is dropped: the columns it reads,
    not those it writes; None for all of them."""
    assert columns_read(sql, table) == read


@pytest.mark.parametrize(
    ("where", "reached"),
    [
        ("g NOT IN (SELECT l FROM k)", "1"),
        ("g IS NULL OR g NOT IN (SELECT l FROM k)", "(g IS NULL) IS NOT TRUE"),
        (  # SQLite evaluates the side without a subquery first
            "g IS NULL OR g NOT IN (SELECT l FROM k) AND g LIKE '%?%'",
            "(g LIKE '%?%') IS TRUE AND (g IS NULL) IS NOT TRUE",
        ),
        (  # the WHERE's own AND terms: in the order written
            "id > 5 AND g NOT IN (SELECT l FROM k) AND g LIKE 'a%'",
            "(id > 5) IS TRUE",
        ),
    ],
)
def test_where_a_not_in_list_is_tested(where, reached):
    assert not_in_tests_query(f'DELETE FROM "p\'s" WHERE {where}') == (
        "SELECT count(*), count(*) FILTER (WHERE (g) IS NULL), count(*) FILTER (WHERE "
        f'(NOT g IN (SELECT l FROM k)) IS TRUE) FROM "p\'s" WHERE {reached}'
    )
    assert not_in_tests_query(f"SELECT * FROM p WHERE {where}") is None


def test_the_columns_a_trigger_reads_as_old():
    when = "NEW.status = 'X' AND OLD.status = 'B' AND OLD.\"Member Id\" IS NOT NULL -- OLD.x"
    assert old_columns(when) == {"status", "member id"}


def test_rows_an_insert_select_offers_and_the_rows_an_update_from_updates():
    """What the meter counts before an upsert … SELECT (the rows its SELECT yields, after
    GROUP BY) and before an UPDATE … FROM (each target row it joins once, by rowid), run on
    SQLite against what the statements do."""
    conn = apsw.Connection(":memory:")
    conn.execute(
        "CREATE TABLE s (id INTEGER PRIMARY KEY, site INTEGER, n INTEGER);"
        'CREATE TABLE "it\'s" (site INTEGER PRIMARY KEY, total INTEGER);'
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50) "
        "INSERT INTO s SELECT i, i % 7, i FROM k;"
    )
    upsert = (
        'INSERT INTO "it\'s" SELECT site, sum(n) FROM s WHERE true GROUP BY site '
        "ON CONFLICT(site) DO UPDATE SET total = excluded.total -- a comment; still\n;"
    )
    assert conn.execute(rows_offered_query(upsert)).fetchall() == [(7,)]
    conn.execute(upsert)
    update = (
        'UPDATE s AS "x y" SET n = t.total FROM "it\'s" AS t JOIN s AS o ON o.id = t.site '
        'WHERE "x y".site = t.site AND o.n > 2'
    )
    query = update_from_rows_query(update, ["n"])
    found = conn.execute(query).fetchall()
    expected = conn.execute(
        'SELECT DISTINCT s.id, s.n FROM s JOIN "it\'s" t ON s.site = t.site '
        "JOIN s AS o ON o.id = t.site WHERE o.n > 2"
    ).fetchall()
    assert sorted(found) == sorted(expected) and found
    conn.execute(update)
    assert conn.changes() == len(found)
    assert update_from_rows_query("UPDATE s SET n = 1 WHERE id = 2", []) is None


def test_deferred_foreign_keys_are_told_by_their_child_columns():
    from d1nb.formats.sql.shapes import deferred_foreign_keys

    create = (
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p INT REFERENCES p(id) DEFERRABLE INITIALLY "
        "DEFERRED, q INT REFERENCES p(id), r INT, s INT, FOREIGN KEY (r, s) REFERENCES t (a, b) "
        "ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED, FOREIGN KEY (s) REFERENCES t (b) "
        "DEFERRABLE INITIALLY IMMEDIATE)"
    )
    assert deferred_foreign_keys(create) == {("p",), ("r", "s")}
    assert deferred_foreign_keys("CREATE TABLE x (a REFERENCES p)") == frozenset()


def test_correlated_searches_name_the_keys_an_updated_row_sets():
    (found,) = correlated_searches(
        'UPDATE "order" AS o SET total = (SELECT coalesce(sum(li.amount), 0) + max(qty) '
        "FROM \"line-item\" li WHERE li.order_id = o.id AND kind = 'b' AND o.k + 1 = li.n "
        "AND li.qty > 2 AND li.a = li.b) WHERE o.status = 'open'"
    )
    assert (found.table, found.name, found.alias, found.updated_as) == (
        "line-item",
        "li",
        "li",
        "o",
    )
    assert found.equal == (("order_id", "o.id"), ("kind", "'b'"), ("n", "o.k + 1"))
    assert found.maximum == frozenset({"qty"}) and found.minimum == frozenset()
    # not an aggregate (stops at its first row), nested, grouped, FROM, or the same name: none
    for sql in (
        "UPDATE o SET t = (SELECT v FROM li WHERE li.oid = o.id)",
        "UPDATE o SET t = (SELECT count(*) FROM li WHERE li.oid = o.id GROUP BY kind)",
        "UPDATE o SET t = (SELECT count(*) FROM o AS x WHERE x.k = o.id)",
        "UPDATE o SET t = 1 + (SELECT count(*) FROM (SELECT * FROM li) AS s WHERE s.oid = o.id)",
        "UPDATE o SET t = (SELECT count(*) FROM li WHERE li.oid = o.id) FROM p WHERE p.id = o.id",
        "UPDATE o SET t = (SELECT count(*) FROM li WHERE li.oid > o.id)",
    ):
        assert correlated_searches(sql) == (), sql
    (where,) = correlated_searches(
        "DELETE FROM o WHERE (SELECT count(*) FROM li WHERE li.oid = o.id) = 0 AND o.k > 1"
    )
    assert where.in_where and where.equal == (("oid", "o.id"),)
    assert not found.in_where
    assert correlated_searches("UPDATE o SET t = (SELECT total(q) FROM li WHERE oid = o.id)")


def test_exists_searches_are_and_terms_searching_by_equal_keys_only():
    (found,) = exists_searches(
        "DELETE FROM p WHERE st = 'x' AND NOT EXISTS (SELECT 1 FROM c AS k "
        "WHERE k.pid = p.id AND k.kind = 'a')"
    )
    assert (found.table, found.name, found.equal) == ("c", "k", (("pid", "p.id"), ("kind", "'a'")))
    assert found.rest == ""
    # a further filter is kept apart: the rows the keys find must pass it
    (filtered,) = exists_searches(
        "DELETE FROM p WHERE EXISTS (SELECT 1 FROM c WHERE c.pid = p.id AND c.v > 5)"
    )
    assert (filtered.equal, filtered.rest) == ((("pid", "p.id"),), "(c.v > 5)")
    for sql in (  # under OR, in an aggregate's place, a SET, an UPDATE … FROM
        "DELETE FROM p WHERE st = 'x' OR NOT EXISTS (SELECT 1 FROM c WHERE c.pid = p.id)",
        "UPDATE p SET k = EXISTS (SELECT 1 FROM c WHERE c.pid = p.id)",
        "UPDATE p SET k = 1 FROM q WHERE q.id = p.id AND EXISTS "
        "(SELECT 1 FROM c WHERE c.pid = p.id)",
        "SELECT 1 FROM p WHERE EXISTS (SELECT 1 FROM c WHERE c.pid = p.id)",
    ):
        assert exists_searches(sql) == (), sql


@pytest.mark.parametrize(
    ("where", "holds"),
    [
        ("vessel_id IS NOT NULL", True),
        ('"Vessel_Id" is not null', True),
        ("vessel_id NOTNULL", True),
        ("(vessel_id NOT NULL) -- keys only", True),
        ("vessel_id IS NOT NULL AND status = 'x'", False),
        ("status = 'planned'", False),
        ("v.vessel_id IS NOT NULL", False),
        ("other IS NOT NULL", False),
        ("vessel_id IS NULL", False),
        ("not sql at all (", False),
    ],
)
def test_a_partial_index_a_search_by_equal_key_implies(where, holds):
    """SQLite searches a partial index for `key = ?` when its WHERE is `key IS NOT NULL`:
    foreign-key look-ups of children then go through it (stranger's project #38)."""
    assert holds_for_any_value(where, "vessel_id") is holds
