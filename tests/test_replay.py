"""Replaying migrations on a snapshot: outcomes, cascades, metering, the snapshot untouched."""

from __future__ import annotations

import hashlib

import pytest

from d1nb.analyses.replay import replay
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.snapshots import load_snapshot
from tests.conftest import EMPTY_EXPORT


@pytest.fixture
def api(sample, tmp_path):
    snapshot = load_snapshot(sample / "exports" / "api" / "before.sql", tmp_path)
    return snapshot, load_migration_dir(sample / "services" / "api" / "migrations")


def test_pending_files_come_from_the_snapshot_ledger(api):
    snapshot, mdir = api
    before = hashlib.sha256(snapshot.path.read_bytes()).hexdigest()
    result = replay(snapshot, mdir)
    assert [o.name for o in result.outcomes] == [
        "0009_repertoire_status_v2.sql",
        "0010_lowercase_sync_moods.sql",
        "0011_goals_add_category.sql",
    ]
    assert result.ok and result.stopped_at is None
    assert hashlib.sha256(snapshot.path.read_bytes()).hexdigest() == before
    assert result.after.path != snapshot.path
    assert result.after.row_counts["goal_progress"] == 0
    assert result.after.row_counts["d1_migrations"] == 11


def test_cascade_and_metering_per_statement(api):
    snapshot, mdir = api
    result = replay(snapshot, mdir)
    cascades = result.cascades()
    assert cascades[["file", "line", "table", "child", "action", "rows"]].values.tolist() == [
        ["0011_goals_add_category.sql", 17, "goals", "goal_progress", "deleted", 1100]
    ]
    stmts = result.statements.set_index(["file", "line"])
    lower = stmts.loc[("0010_lowercase_sync_moods.sql", 3)]
    assert (lower.changes, lower.rows_read, lower.rows_written) == (911, 1500, 911)
    assert lower.plan == "SCAN sync_data"
    drop = stmts.loc[("0011_goals_add_category.sql", 17)]
    assert drop.rows_written == 250 + 1100
    migrations = result.migrations().set_index("file")
    assert migrations.loc["0011_goals_add_category.sql", "cascade_deleted"] == 1100
    assert any(
        "no effect on D1" in n for n in [migrations.loc["0011_goals_add_category.sql", "notes"]]
    )


def test_cascades_follow_references_written_in_another_case(tmp_path):
    """Stranger's project #9: `REFERENCES plants(SKU)` names table `Plants` (SQLite's names
    are case-insensitive), and the cascade report stopped at Plants: the 4 stock rows the
    DELETE also removed were missing, and so was the scan of their unindexed NO ACTION child
    (orders) for each of them, 4,126,652 rows read in D1 on the project's export."""
    export = tmp_path / "export.sql"
    export.write_text(
        "CREATE TABLE [Growers] ([grower id] INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO Growers VALUES (1, 'open'), (2, 'closed');\n"
        "CREATE TABLE Plants (sku TEXT PRIMARY KEY, [grower id] INTEGER REFERENCES "
        "growers([GROWER ID]) ON DELETE CASCADE) WITHOUT ROWID;\n"
        "INSERT INTO Plants VALUES ('a', 1), ('b', 2), ('c', 2);\n"
        "CREATE TABLE [plant stock] (id INTEGER PRIMARY KEY, sku TEXT REFERENCES plants(SKU) "
        "ON DELETE CASCADE);\n"
        "CREATE INDEX stock_sku ON [plant stock](sku);\n"
        "INSERT INTO [plant stock] VALUES (1, 'a'), (2, 'b'), (3, 'b'), (4, 'c'), (5, 'c');\n"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, stock_id INTEGER REFERENCES "
        "[Plant Stock](id));\n"
        "INSERT INTO orders VALUES (1, 1), (2, 1), (3, 1);\n"
    )
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_close.sql").write_text("DELETE FROM growers WHERE name = 'closed';\n")
    result = replay(load_snapshot(export, tmp_path / "work"), load_migration_dir(folder))
    assert result.ok
    cascades = result.cascades()
    assert cascades[["table", "child", "action", "rows"]].values.tolist() == [
        ["Growers", "Plants", "deleted", 2],
        ["Growers", "plant stock", "deleted", 4],
    ]
    (statement,) = result.statements.itertuples()
    # each stock row deleted scans orders (3 rows) for a row still pointing at it
    assert statement.rows_read >= 4 * 3


ENDLESS = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "


def _replayed_with_half_a_second(tmp_path, export_sql: str, migration: str):
    """The outcome of replaying one migration on an export under a 0.5 s statement limit."""
    import d1nb.engine.d1engine

    export = tmp_path / "export.sql"
    export.write_text(export_sql)
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_endless.sql").write_text(migration + "\n")
    d1nb.engine.d1engine.set_default_statement_timeout(0.5)
    try:
        result = replay(load_snapshot(export, tmp_path / "work"), load_migration_dir(folder))
    finally:
        d1nb.engine.d1engine.set_default_statement_timeout(30.0)
    (outcome,) = result.outcomes
    return outcome


def test_a_subquery_over_an_endless_recursion_is_stopped_at_the_time_limit(tmp_path):
    """Metering counts a materialized subquery's rows before the statement runs. Counted under
    the statement's WITH clause, a subquery reading an endless recursive CTE never ended (the
    statement's own time limit does not cover the count): the replay hung. A RECURSIVE clause
    is not carried into those counts, so the statement runs and is stopped as D1 stops it."""
    outcome = _replayed_with_half_a_second(
        tmp_path,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\n",
        ENDLESS + "UPDATE t SET v = x.c FROM (SELECT i, count(*) AS c FROM r WHERE i < 5 "
        "GROUP BY i) AS x WHERE x.i = t.id;",
    )
    assert not outcome.ok and "exceeded the 0.5 s limit" in outcome.error


@pytest.mark.parametrize(
    "sql",
    [
        ENDLESS + "SELECT i FROM r ORDER BY i;",
        "INSERT INTO u " + ENDLESS + "SELECT i FROM r ORDER BY i;",
        ENDLESS + "INSERT INTO u SELECT i FROM r ORDER BY i;",
    ],
)
def test_metering_counts_run_under_the_statement_time_limit(tmp_path, sql):
    """Metering counts what a statement's SELECT feeds its sorters before it runs. Over an
    endless recursive CTE the count never ended: an INSERT … SELECT … ORDER BY hung the
    replay (so did a migration's own SELECT once metered). The counts now run under the
    statement's limit; cut short they count nothing, and the statement is stopped as D1
    stops it."""
    outcome = _replayed_with_half_a_second(tmp_path, "CREATE TABLE u (i INTEGER);\n", sql)
    assert not outcome.ok and "exceeded the 0.5 s limit" in outcome.error


def test_failure_stops_the_replay_unless_keep_going(sample, tmp_path):
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / "scores" / "migrations")
    names = ["0016_add_scores_updated_at.sql", "0014_rename_scores_instrument.sql"]
    stopped = replay(snapshot, mdir, names)
    assert [(o.name, o.ok) for o in stopped.outcomes] == [(names[0], False)]
    assert stopped.stopped_at == names[0]
    failed = stopped.migrations().iloc[0]
    assert (failed.error, failed.error_line) == ("Cannot add a column with non-constant default", 2)
    going = replay(snapshot, mdir, names, keep_going=True)
    assert [o.ok for o in going.outcomes] == [False, True]
    # the failing line reads as a line number, the file that ran as blank
    lines = going.migrations()["error_line"]
    assert str(lines.dtype) == "Int64" and lines.iloc[0] == 2 and lines.isna().iloc[1]
    assert "2.0" not in going.migrations()[["file", "error_line"]].to_string()


def test_backfill_metering_counts_the_index_entry(sample, tmp_path):
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / "scores" / "migrations")
    result = replay(
        snapshot, mdir, ["0012_canonicalise_composers.sql", "0013_backfill_normalized_id.sql"]
    )
    per_file = result.migrations().set_index("file")
    assert per_file.loc["0013_backfill_normalized_id.sql", "rows_written"] == 5000
    assert (
        per_file.loc["0012_canonicalise_composers.sql", "rows_written"]
        == 2 * per_file.loc["0012_canonicalise_composers.sql", "changes"]
    )
    con = result.after.duckdb()
    assert con.execute("SELECT count(*) FROM scores WHERE normalized_id IS NULL").fetchall() == [
        (0,)
    ]


def test_a_file_with_a_nul_byte_never_replays_ok(make_tree, tmp_path):
    """D1 reads SQL up to a NUL (the real wrangler: "SQL code did not contain a statement.")."""
    from d1nb.analyses.impact import analyse_impact

    content, why = b"-- a NUL \x00 here\nCREATE TABLE t (a);\n", "NUL byte"
    root = make_tree({"m/0001_init.sql": b"CREATE TABLE a (x);\n", "m/0002_bad.sql": content})
    empty = make_tree({"empty.sql": EMPTY_EXPORT}) / "empty.sql"
    snapshot = load_snapshot(empty, tmp_path / "work")
    mdir = load_migration_dir(root / "m")
    result = replay(snapshot, mdir)
    bad = result.outcomes[-1]
    assert (bad.name, bad.ok) == ("0002_bad.sql", False) and why in bad.error
    verdicts = analyse_impact(snapshot, mdir).migrations.set_index("file")["verdict"]
    assert verdicts["0002_bad.sql"] == "fails"


def test_bad_utf8_replays_as_wrangler_reads_it(make_tree, tmp_path):
    """wrangler reads a migration as Node does, each bad byte sequence one U+FFFD, and D1
    applies it (checked with the real wrangler 4.164.0): the replay stores the same text and
    the file's problem is a warning naming its line."""
    root = make_tree(
        {
            "m/0001_init.sql": b"CREATE TABLE a (x);\n",
            "m/0002_bad.sql": b"-- latin-1\nINSERT INTO a VALUES ('caf\xe9 \xff\xfe \xe2\x82');\n",
        }
    )
    empty = make_tree({"empty.sql": EMPTY_EXPORT}) / "empty.sql"
    snapshot = load_snapshot(empty, tmp_path / "work")
    mdir = load_migration_dir(root / "m")
    (problem,) = mdir.problems
    assert (problem.line, problem.severity) == (2, "warning")
    assert "not valid UTF-8 (byte 0xe9" in problem.message
    result = replay(snapshot, mdir)
    assert all(o.ok for o in result.outcomes)
    stored = result.after.duckdb().execute("SELECT x, hex(x) FROM a").fetchall()
    assert stored == [("caf\ufffd \ufffd\ufffd \ufffd", "636166EFBFBD20EFBFBDEFBFBD20EFBFBD")]


def test_execute_file_path_honours_foreign_keys_off_and_writes_no_ledger(api):
    """The same rebuild on the remote `execute --file` path: PRAGMA foreign_keys=OFF takes
    effect there, so goal_progress keeps its 1,100 rows (all still pointing at goals, whose ids
    the rebuild keeps), and no ledger row is written."""
    snapshot, mdir = api
    result = replay(snapshot, mdir, ["0011_goals_add_category.sql"], via="execute-file")
    assert result.ok
    assert result.after.row_counts["goal_progress"] == 1100
    assert result.after.row_counts["d1_migrations"] == 8  # as it was: execute writes none
    assert result.cascades().empty
    notes = result.outcomes[0].notes
    assert any("writes no ledger row" in n for n in notes)
    assert any("takes effect on the execute --file path" in n for n in notes)
    with result.after.connect() as engine:
        assert engine.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    applied = replay(snapshot, mdir, ["0011_goals_add_category.sql"])
    assert applied.after.row_counts["goal_progress"] == 0  # the default path: apply


def test_via_must_be_a_known_path(api):
    snapshot, mdir = api
    with pytest.raises(ValueError, match="via must be one of apply, execute-file"):
        replay(snapshot, mdir, ["0011_goals_add_category.sql"], via="import")


def test_a_meter_that_fails_is_d1nbs_error_not_the_migrations(api):
    """A SQLite error inside the measuring (not the statement) raises MeasurementError: it
    must never become a "fails" verdict on a migration that D1 would apply (a WITHOUT ROWID
    table once made the impact meter ask for a rowid and call the migration failing)."""
    from d1nb.analyses.metering import Meter
    from d1nb.engine.outcomes import MeasurementError

    class Broken(Meter):
        def before(self, s):
            self.engine.conn.execute("SELECT no_such_column FROM sqlite_master")

    snapshot, mdir = api
    with pytest.raises(MeasurementError, match="measuring the statement failed"):
        replay(snapshot, mdir, meter=Broken)


BLOBS_AND_FTS = {
    "0001_schema.sql": "CREATE TABLE books (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id) "
    "ON DELETE CASCADE, body TEXT, raw BLOB);\n"
    "CREATE TABLE photos (note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE, "
    "n INTEGER NOT NULL, PRIMARY KEY (note_id, n)) WITHOUT ROWID;\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');\n"
    "CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN INSERT INTO notes_fts(notes_fts, "
    "rowid, body) VALUES ('delete', old.id, old.body); END;\n",
    # a BLOB literal that is not UTF-8 (found on a stranger's project: the replay stopped)
    "0002_rows.sql": "INSERT INTO books VALUES (7);\n"
    "INSERT INTO notes VALUES (1, 7, 'owl at dusk', x'b9ff00'), (2, 7, 'fox', x'');\n"
    "INSERT INTO notes_fts(notes_fts) VALUES ('rebuild');\n"
    "INSERT INTO photos VALUES (1, 1), (1, 2), (2, 1);\n",
    # its own rows fire no trigger, but the rows it deletes by cascade do
    "0003_drop.sql": "DROP TABLE books;\n",
}


def test_blob_literals_and_virtual_table_writes_are_metered(make_tree, tmp_path):
    """A BLOB literal that is not UTF-8 replays; a DROP TABLE whose rows' trigger writes to
    an FTS5 table counts one write per virtual-table update, as D1 does, not the rows FTS5
    writes to its own shadow tables (Miniflare: tests/compat/test_metering.py)."""
    root = make_tree({f"m/{name}": sql for name, sql in BLOBS_AND_FTS.items()})
    empty = tmp_path / "empty.sql"
    empty.write_text(EMPTY_EXPORT)
    snapshot = load_snapshot(empty, tmp_path / "w2")
    result = replay(snapshot, load_migration_dir(root / "m"), list(BLOBS_AND_FTS))
    assert result.ok, [o.error for o in result.outcomes]
    drop = result.statements[result.statements["kind"] == "drop_table"].iloc[0]
    assert drop["cascade_deleted"] == {"notes": 2, "photos": 3}
    # its book, 2 notes and 3 photos by cascade, 2 FTS5 'delete' commands by the trigger
    assert drop["rows_written"] == 1 + 2 + 3 + 2
