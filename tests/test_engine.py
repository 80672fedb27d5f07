"""The D1 engine: foreign keys, transactions, limits and refusal of hostile SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from d1nb import d1
from d1nb.engine.d1engine import D1Engine
from d1nb.engine.outcomes import D1Error
from d1nb.formats.migrations import parse_statements
from d1nb.inputs.dumploader import load_dump
from tests.conftest import EMPTY_EXPORT

PARENT_CHILD = (
    "CREATE TABLE p (id INTEGER PRIMARY KEY, n TEXT);\n"
    "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE);\n"
    "INSERT INTO p VALUES (1, 'a'), (2, 'b');\n"
    "INSERT INTO c VALUES (1, 1), (2, 1), (3, 2);\n"
)
REBUILD = (
    "PRAGMA foreign_keys=OFF;\n"
    "CREATE TABLE p_new (id INTEGER PRIMARY KEY, n TEXT, extra TEXT);\n"
    "INSERT INTO p_new (id, n) SELECT id, n FROM p;\n"
    "DROP TABLE p;\n"
    "ALTER TABLE p_new RENAME TO p;\n"
    "PRAGMA foreign_keys=ON;\n"
)


def count(engine: D1Engine, table: str) -> int:
    return engine.conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_rebuild_under_foreign_keys_off_cascades_like_d1():
    with D1Engine() as engine:
        assert engine.apply_migration("0001_init.sql", PARENT_CHILD).ok
        outcome = engine.apply_migration("0002_rebuild.sql", REBUILD)
        assert outcome.ok
        assert count(engine, "p") == 2
        assert count(engine, "c") == 0
        assert len([n for n in outcome.notes if "no effect on D1" in n]) == 2
        assert [r[1] for r in engine.applied_migrations()] == ["0001_init.sql", "0002_rebuild.sql"]


def test_failing_file_rolls_back_with_its_ledger_row_and_names_the_line():
    with D1Engine() as engine:
        engine.apply_migration("0001_init.sql", PARENT_CHILD)
        outcome = engine.apply_migration(
            "0002_bad.sql", "CREATE TABLE z (a);\nALTER TABLE p ADD COLUMN q TEXT NOT NULL;\n"
        )
        assert not outcome.ok
        assert outcome.error == "Cannot add a NOT NULL column with default value NULL"
        assert outcome.error_line == 2
        assert not engine.conn.table_exists(None, "z")
        assert [r[1] for r in engine.applied_migrations()] == ["0001_init.sql"]


def test_one_transaction_pair_is_stripped_more_is_an_error():
    with D1Engine() as engine:
        ok = engine.apply_migration("0001.sql", "BEGIN TRANSACTION;\nCREATE TABLE a (x);\nCOMMIT;")
        assert ok.ok and any("stripped" in n for n in ok.notes)
        bad = engine.apply_migration(
            "0002.sql", "BEGIN;\nCREATE TABLE b (x);\nCOMMIT;\nBEGIN;\nCREATE TABLE c (x);\nCOMMIT;"
        )
        assert not bad.ok and bad.error_line == 4
        assert not engine.conn.table_exists(None, "b")


def test_d1_limits_are_enforced():
    with D1Engine() as engine:
        wide = ", ".join(f"c{i}" for i in range(101))
        outcome = engine.apply_migration("0001.sql", f"CREATE TABLE w ({wide});")
        assert not outcome.ok and "too many columns" in outcome.error
        big = "INSERT INTO t VALUES ('" + "x" * 100_001 + "');"
        engine.apply_migration("0002.sql", "CREATE TABLE t (a);")
        outcome = engine.apply_migration("0003.sql", big)
        assert not outcome.ok and "exceeds D1's limit" in outcome.error
        statement = parse_statements("SELECT " + ", ".join("?" for _ in range(101)) + ";")[0]
        with pytest.raises(D1Error, match="too many SQL variables"):
            engine.run_statement(statement)


HOSTILE = [
    ("ATTACH DATABASE '{path}' AS x;\nCREATE TABLE x.t (a);", "ATTACH"),
    ("SELECT load_extension('{path}');", "load_extension"),
    ("VACUUM INTO '{path}';", "VACUUM"),
    ("PRAGMA temp_store_directory = '{dir}';", "temp_store_directory"),
]


@pytest.mark.parametrize(("sql", "reason"), HOSTILE)
def test_hostile_migration_touches_no_file_and_says_why(tmp_path: Path, sql: str, reason: str):
    target = tmp_path / "outside" / "evil.db"
    target.parent.mkdir()
    with D1Engine(tmp_path / "work.sqlite") as engine:
        outcome = engine.apply_migration(
            "0001_evil.sql", sql.format(path=target, dir=target.parent)
        )
    assert not outcome.ok
    assert reason in outcome.error
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize(("sql", "reason"), HOSTILE)
def test_hostile_dump_touches_no_file_and_says_why(tmp_path: Path, sql: str, reason: str):
    target = tmp_path / "outside" / "evil.db"
    target.parent.mkdir()
    dump = tmp_path / "dump.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n"
        + sql.format(path=target, dir=target.parent),
        encoding="utf-8",
    )
    with pytest.raises(Exception, match=reason) as info:
        load_dump(dump, tmp_path / "work")
    assert "dump.sql:3" in str(info.value)
    assert list(target.parent.iterdir()) == []
    assert list((tmp_path / "work").iterdir()) == []


ENDLESS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) INSERT INTO t SELECT i FROM n;"
)


def test_a_statement_that_never_ends_is_stopped_like_d1_stops_it(make_tree, tmp_path, capsys):
    """An endless recursive CTE in a migration or a dump: stopped at the statement time limit
    with file and line, in replay, lint and load; the CLI takes --statement-timeout."""
    from d1nb.inputs.snapshots import load_snapshot
    from d1nb.presentation.cli import main
    from d1nb.problems import InputError

    with D1Engine(statement_timeout=0.5) as engine:
        outcome = engine.apply_migration("0002_loop.sql", "CREATE TABLE t (a);\n" + ENDLESS)
    assert not outcome.ok and outcome.error_line == 2
    assert "exceeded the 0.5 s limit for one statement" in outcome.error
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\ndatabase_id = "1"\n',
            "s/migrations/0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n",
            "s/migrations/0002_loop.sql": ENDLESS + "\n",
            "empty.sql": EMPTY_EXPORT,
            "dump.sql": "CREATE TABLE t (a);\nINSERT INTO t VALUES((WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n));\n",
        }
    )
    code = main(["replay", str(root), "--snapshot", str(root / "empty.sql"),
                 "--statement-timeout", "0.5"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1 and "FAILED 0002_loop.sql:1: exceeded the 0.5 s limit" in out
    code = main(["lint", str(root), "--statement-timeout", "0.5"])
    assert "0002_loop.sql:1: warning D1N018" in capsys.readouterr().out
    with D1Engine() as engine:
        assert engine.statement_timeout == 30  # the CLI's limit ends with its command
    import d1nb.engine.d1engine

    d1nb.engine.d1engine.set_default_statement_timeout(0.5)
    try:
        with pytest.raises(InputError, match=r"exceeded the 0\.5 s limit") as info:
            load_snapshot(root / "dump.sql", tmp_path / "work")
        assert info.value.problem.line == 2
    finally:
        d1nb.engine.d1engine.set_default_statement_timeout(30.0)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE _cf_x (a);",
        'CREATE TABLE "_CF_Y" (a);',
        "CREATE TABLE t (a);\nCREATE INDEX _cf_i ON t(a);",
        "CREATE VIEW _cf_v AS SELECT 1;",
        "CREATE TABLE t (a);\nALTER TABLE t RENAME TO _cf_t;",
    ],
)
def test_names_d1_keeps_for_itself_are_refused_to_migrations(sql, tmp_path):
    """D1 answers `not authorized` to any object named `_cf_…`, in any case, and to a
    rename to one (checked in Miniflare 5.20261117); a column may be so named, and an
    export that holds such a table (an older D1's `_cf_KV`) still loads."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration("0001.sql", sql)
        assert not outcome.ok and outcome.error.startswith("not authorized")
        assert engine.apply_migration("0002.sql", "CREATE TABLE t2 (_cf_col INTEGER);\n").ok
    with D1Engine(tmp_path / "load.sqlite", statement_limit=0) as engine:
        assert engine.apply_migration("0001.sql", sql).ok


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("CREATE TEMP TABLE t (a);", "temporary"),
        ("CREATE TEMPORARY VIEW v AS SELECT 1;", "temporary"),
        ("CREATE VIRTUAL TABLE f USING fts4(a);", "USING fts4 refused"),
        ("CREATE VIRTUAL TABLE f USING fts3(a);", "USING fts3 refused"),
        ("CREATE VIRTUAL TABLE f USING geopoly();", "USING geopoly refused"),
        ("CREATE TABLE t (a);\nUPDATE t SET a = power(a, 2);", "the same as pow()"),
        ("CREATE TABLE t (a);\nUPDATE t SET a = geopoly_area(a);", "geopoly_area"),
        (
            "CREATE TABLE t (a TEXT DEFAULT 'x');\nINSERT INTO t VALUES (sqlite_version());",
            "sqlite_version",
        ),
        ("CREATE TABLE t (a);\nINSERT INTO t SELECT median(1);", "median"),
        ("CREATE TABLE t (a);\nINSERT INTO t SELECT count(*) FROM dbstat;", "dbstat"),
    ],
)
def test_what_workerd_refuses_a_migration_fails_on(sql, says, tmp_path):
    """Each was run in Miniflare 5.20261117 (workerd's D1), which refuses it: 'not authorized',
    'not authorized to use function', 'no such function' or 'no such table'; the replay used
    to let it pass, calling a migration D1 refuses safe. FTS5 and R*Tree stay available."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration("0001.sql", sql)
        assert not outcome.ok and says in outcome.error, outcome.error
        kept = (
            "CREATE VIRTUAL TABLE s USING fts5(a);\nCREATE VIRTUAL TABLE r USING rtree(id, x, y);\n"
        )
        assert engine.apply_migration("0002.sql", kept).ok


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        (" UNION ALL ".join(["SELECT 1"] * 6), "too many terms in compound SELECT"),
        ("SELECT 1 WHERE 'a' LIKE '" + "a" * 51 + "'", "LIKE or GLOB pattern too complex"),
        ("SELECT " + "+".join(["1"] * 101), "Expression tree is too large"),
        ("SELECT max(" + ",".join(["1"] * 128) + ")", "too many arguments on function max"),
    ],
)
def test_workerds_own_limits_hold_in_the_replay(sql, says, tmp_path):
    """Limits workerd sets below SQLite's defaults, measured at the boundary in Miniflare
    5.20261117: 5 compound terms, 50-byte LIKE patterns, expression depth 100, 127 function
    arguments. One past each fails there and here (a migration seeding with six UNION ALL
    terms passed here and failed on D1); at each limit both run. Loads keep SQLite's."""
    at_limit = (
        sql.replace("SELECT 1 UNION ALL ", "", 1)
        .replace("a" * 51, "a" * 50)
        .replace("+".join(["1"] * 101), "+".join(["1"] * 100))
        .replace(",".join(["1"] * 128), ",".join(["1"] * 127))
    )
    with D1Engine(tmp_path / "db.sqlite") as engine:
        engine.apply_migration("0001.sql", "CREATE TABLE t (a);\n")
        outcome = engine.apply_migration("0002.sql", f"INSERT INTO t {sql};\n")
        assert not outcome.ok and says in outcome.error, outcome.error
        assert engine.apply_migration("0003.sql", f"INSERT INTO t {at_limit};\n").ok
    with D1Engine(tmp_path / "load.sqlite", statement_limit=0) as engine:
        engine.conn.execute(sql).fetchall()  # runs: no error


def test_analyze_leaves_sqlite_stat1_alone_as_on_d1(tmp_path):
    """APSW's SQLite is built with STAT4: ANALYZE (and PRAGMA optimize, which may run it)
    made sqlite_stat4 too, a table D1 never has ('no such table' there, checked in
    Miniflare): the replay's schema showed it, and its plans used it."""
    with D1Engine(tmp_path / "db.sqlite") as engine:
        outcome = engine.apply_migration(
            "0001.sql",
            "CREATE TABLE p (id INTEGER PRIMARY KEY, a TEXT);\nCREATE INDEX p_a ON p (a);\n"
            "INSERT INTO p (a) VALUES ('x'), ('y'), ('y');\nANALYZE;\n",
        )
        assert outcome.ok, outcome.error
        stats = "SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
        assert engine.conn.execute(stats).fetchall() == [("sqlite_stat1",)]
        assert engine.apply_migration("0002.sql", "PRAGMA optimize = 0x10002;\n").ok
        assert engine.conn.execute(stats).fetchall() == [("sqlite_stat1",)]


def test_a_database_grows_no_larger_than_d1_allows(tmp_path, monkeypatch):
    """D1 holds at most 10 GB a database, and d1nb's copies did not: a runaway (or hostile)
    migration could fill this machine's disk, 30 s a statement, where D1 fails it. The engine
    holds each database to D1's size (1 MB here), and says so when a statement hits it."""
    monkeypatch.setattr(d1, "MAX_DATABASE_BYTES", 1_000_000)
    path = tmp_path / "x.sqlite"
    with D1Engine(path) as engine:
        engine.run_statement(parse_statements("CREATE TABLE t (b BLOB);\n")[0])
        grow = parse_statements(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)\n"
            "INSERT INTO t SELECT zeroblob(100000) FROM n;\n"
        )[0]
        with pytest.raises(D1Error, match=r"database or disk is full \(D1 holds at most 0\.001 GB"):
            engine.run_statement(grow)
        # a migration cannot lift the limit: max_page_count is not a PRAGMA D1 allows
        with pytest.raises(D1Error, match="not authorized"):
            engine.run_statement(parse_statements("PRAGMA max_page_count = 1000000;\n")[0])
    assert path.stat().st_size <= 1_000_000
    # a load builds its copy from an export's text, which may come out larger: twice the room
    with D1Engine(tmp_path / "load.sqlite", statement_limit=0) as loading:
        ((pages, size),) = loading.internal(
            "SELECT max_page_count, page_size FROM pragma_max_page_count(), pragma_page_size()"
        )
    assert pages * size <= 2_000_000 < (pages + 1) * size


def test_its_own_files_run_whole_or_not_at_all(tmp_path):
    """`run_own_file` (a rollback draft's data, run without taking each statement apart):
    a file that runs is committed; one that fails part-way (a foreign key), reaches outside
    (ATTACH), or holds a statement past D1's size limit leaves nothing behind and says so,
    for `apply_migration` to name the line."""
    db = tmp_path / "copy.sqlite"
    with D1Engine(db) as engine:
        engine.conn.execute(
            "CREATE TABLE p (id INTEGER PRIMARY KEY);"
            "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));"
            "INSERT INTO p VALUES (1);"
        )
        assert engine.run_own_file("INSERT INTO c VALUES (1, 1);\nINSERT INTO c VALUES (2, 1);\n")
        assert count(engine, "c") == 2
        assert not engine.run_own_file(
            "INSERT INTO c VALUES (3, 1);\nINSERT INTO c VALUES (4, 9);\n"
        )
        assert count(engine, "c") == 2  # the first insert went back with the file
        outside = tmp_path / "pwned.sqlite"
        assert not engine.run_own_file(f"INSERT INTO c VALUES (5, 1);\nATTACH '{outside}' AS x;\n")
        assert count(engine, "c") == 2 and not outside.exists()
        big = "'" + "x" * d1.MAX_STATEMENT_BYTES + "'"
        assert not engine.run_own_file(f"INSERT INTO p VALUES (7);\nSELECT {big};\n")
        assert count(engine, "p") == 1
        outcome = engine.apply_migration(
            "f.sql", "INSERT INTO c VALUES (3, 1);\nINSERT INTO c VALUES (4, 9);\n", record=False
        )
        assert not outcome.ok and outcome.error_line == 2


@pytest.mark.parametrize(
    "last", ["DELETE FROM c WHERE id = 3", "DELETE FROM c WHERE id = 3 -- done;\n"]
)
def test_a_last_statement_without_its_semicolon_fails_the_apply(last):
    """Stranger's project #34: `wrangler d1 migrations apply` appends its ledger INSERT to
    the file's text, so a last statement without its `;` becomes one statement with it: D1
    fails the file ("near "INSERT": syntax error") where d1nb's impact called it safe.
    `wrangler d1 execute --file` sends no ledger INSERT, and runs the file."""
    with D1Engine() as engine:
        assert engine.apply_migration("0001_init.sql", PARENT_CHILD).ok
        text = f"UPDATE p SET n = 'z';\n{last}"
        outcome = engine.apply_migration("0002_touch.sql", text)
        assert not outcome.ok and outcome.error_line == 2
        assert outcome.error.startswith('near "INSERT": syntax error')
        assert "no closing ';'" in outcome.error
        assert count(engine, "c") == 3  # the whole file rolled back, no ledger row
        assert engine.conn.execute("SELECT n FROM p ORDER BY id").fetchall() == [("a",), ("b",)]
        assert [r[0] for r in engine.conn.execute("SELECT name FROM d1_migrations")] == [
            "0001_init.sql"
        ]
        assert engine.apply_migration("0002_touch.sql", text, via="execute-file").ok
        assert count(engine, "c") == 2


def test_a_comment_left_open_at_the_end_swallows_the_ledger_insert():
    """Stranger's project #35: a file ending in `/* unclosed` runs, wrangler shows it applied,
    and the ledger INSERT it appends falls inside the comment: the ledger never lists the
    file, and the next `migrations apply` runs it again."""
    with D1Engine() as engine:
        assert engine.apply_migration("0001_init.sql", PARENT_CHILD).ok
        outcome = engine.apply_migration("0002_more.sql", "INSERT INTO p VALUES (3, 'c');\n/* x\n")
        assert outcome.ok and count(engine, "p") == 3
        assert any("not recorded" in n for n in outcome.notes)
        assert [r[0] for r in engine.conn.execute("SELECT name FROM d1_migrations")] == [
            "0001_init.sql"
        ]
        closed = engine.apply_migration("0003_more.sql", "INSERT INTO p VALUES (4, 'd');\n/**/\n")
        assert not any("not recorded" in n for n in closed.notes)
        assert count(engine, "d1_migrations") == 2
