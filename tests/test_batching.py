"""Batch sizing: the batches give the unbatched result, re-running one changes nothing."""

from __future__ import annotations

import shutil

import apsw
import numpy as np
import pytest

from d1nb.analyses.batch_files import batch_migration, write_batches
from d1nb.analyses.batching import fit_time, plan_batches, scale_table
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.snapshots import load_snapshot
from d1nb.problems import InputError

SIZES = (100, 200, 400, 800)


def _data(path, table: str) -> list[tuple]:
    conn = apsw.Connection(str(path))
    try:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        conn.close()


def _run(path, sql: str) -> None:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("service", "file", "table", "mode"),
    [
        ("scores", "0013_backfill_normalized_id.sql", "scores", "limit"),
        ("api", "0010_lowercase_sync_moods.sql", "sync_data", "range"),
    ],
)
def test_batches_equal_the_unbatched_statement_and_rerun_safely(
    sample, tmp_path, service, file, table, mode
):
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path / "w")
    sql = (sample / "services" / service / "migrations" / file).read_text(encoding="utf-8")
    before = snapshot.path.read_bytes()
    plan = plan_batches(snapshot.path, sql, sizes=SIZES, repeats=2)
    assert snapshot.path.read_bytes() == before  # measured in savepoints, rolled back
    assert plan.mode == mode and plan.rows > 0
    assert set(plan.measurements["batch_size"]) == set(SIZES)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(snapshot.path, whole)
    shutil.copyfile(snapshot.path, batched)
    _run(whole, sql)
    files = write_batches(plan, snapshot.path, tmp_path / "out", size=300)
    assert len(files) >= -(-plan.rows // 300)
    for f in files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, table) == _data(whole, table)
    for f in files:  # an interrupted run can start again from any batch
        _run(batched, f.read_text(encoding="utf-8"))
        assert _data(batched, table) == _data(whole, table)
    helpers = {p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("batch_")}
    follow_up = {"limit": "remaining.sql", "range": "tail.sql.in"}[mode]
    assert follow_up in helpers and "run_batches.sh" in helpers


GROWTH = {  # 500 rows that production gained after the export, past its last rowid
    "scores": "INSERT INTO scores (user_id, title, composer, instrument, difficulty, created_at, "
    "page_count, visibility, normalized_id) SELECT user_id, title || ' (2)', composer, "
    "instrument, difficulty, created_at, page_count, visibility, NULL FROM scores "
    "ORDER BY id LIMIT 500",
    "sync_data": "INSERT INTO sync_data (user_id, entity_type, entity_id, data, updated_at) "
    "SELECT user_id, entity_type, entity_id || '-new', data, updated_at FROM sync_data "
    "ORDER BY id LIMIT 500",
}


def _value(path, sql: str):
    conn = apsw.Connection(str(path))
    try:
        return conn.execute(sql).fetchall()[0][0]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("service", "file", "table"),
    [
        ("scores", "0013_backfill_normalized_id.sql", "scores"),
        ("api", "0010_lowercase_sync_moods.sql", "sync_data"),
    ],
)
def test_rows_added_since_the_export_are_batched_too(sample, tmp_path, service, file, table):
    """The driver's follow-up SQL, run as run_batches.sh runs it (the real driver runs under
    wrangler in tests/compat): the same LIMIT batch while remaining.sql finds a row, or
    tail.sql.in over rowid ranges as wide as a batch up to last_rowid.sql's answer."""
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path / "w")
    sql = (sample / "services" / service / "migrations" / file).read_text(encoding="utf-8")
    plan = plan_batches(snapshot.path, sql, sizes=SIZES, repeats=1)
    out = tmp_path / "out"
    files = write_batches(plan, snapshot.path, out, size=300)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(snapshot.path, whole)
    _run(whole, GROWTH[table])
    shutil.copyfile(whole, batched)
    _run(whole, sql)
    for f in files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, table) != _data(whole, table)  # the files alone miss the new rows
    if plan.mode == "limit":
        remaining = (out / "remaining.sql").read_text(encoding="utf-8")
        while _value(batched, remaining) is not None:
            _run(batched, files[0].read_text(encoding="utf-8"))
    else:
        _follow_tail(out, batched, _value(snapshot.path, f'SELECT max(rowid) FROM "{table}"'))
    assert _data(batched, table) == _data(whole, table)


def _follow_tail(out, batched, low: int) -> None:
    """What run_batches.sh does after the files of a range plan: while last_rowid.sql's
    answer (text) is past `low`, next_rowid.sql ends the next range, tail.sql.in runs it."""
    high = int(_value(batched, (out / "last_rowid.sql").read_text(encoding="utf-8")))
    template = (out / "tail.sql.in").read_text(encoding="utf-8")
    step = (out / "next_rowid.sql.in").read_text(encoding="utf-8")
    while high > low:
        nxt = _value(batched, step.replace("__d1nb_low__", str(low)))
        assert isinstance(nxt, str)  # text: JavaScript would round it past 2^53
        batch = template.replace("__d1nb_low__", str(low))
        _run(batched, batch.replace("__d1nb_high__", nxt))
        low = int(nxt)


SNOWFLAKES = """
CREATE TABLE sites (site_id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE sightings (id INTEGER PRIMARY KEY, site_id INTEGER, species TEXT, n INTEGER);
INSERT INTO sites VALUES (1, 'a'), (2, 'b');
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 400)
INSERT INTO sightings SELECT 1152921504606846976 + i * 4194304 + i % 3, 1 + i % 2,
  CASE i % 3 WHEN 0 THEN 'gull' ELSE 'tern' END, i % 7 FROM k;
"""


def test_an_update_from_over_snowflake_ids_is_batched_exactly(tmp_path):
    """Stranger's project #13 doubled gull counts with `UPDATE … FROM (SELECT …) AS s`: the
    planner failed ("no such column: s.id", its WHERE run without its FROM). Its rows are the
    target rows the join meets, its ranges on the target's own rowid. With snowflake ids
    (past 2^60, millions apart) the driver's follow-up stepped `size` rowids at a time and
    read D1's answers through JavaScript numbers (rounded past 2^53); it now asks for the
    next `size` rowids as text. Rows production added since are batched too; the result
    equals the statement run whole."""
    db = tmp_path / "x.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(SNOWFLAKES)
    conn.close()
    sql = (
        "UPDATE sightings AS x SET n = s.total FROM (SELECT id, n * 2 + 1 AS total "
        "FROM sightings WHERE species = 'gull') AS s JOIN sites ON sites.name = 'a' "
        "WHERE x.id = s.id AND sites.site_id = x.site_id;"
    )
    probe = apsw.Connection(str(db))
    probe.execute("BEGIN")
    probe.execute(sql)
    updated = probe.changes()
    probe.execute("ROLLBACK")
    probe.close()
    plan = plan_batches(db, sql, sizes=SIZES, repeats=1)
    assert plan.mode == "range" and plan.rows == updated == plan.rerun_changes > 20
    out = tmp_path / "out"
    files = write_batches(plan, db, out, size=20)
    assert len(files) == 4
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    grow = (
        "INSERT INTO sightings SELECT id + 4611686018427387904 + (id % 5) * 1099511627776, "
        "site_id, species, n FROM sightings"
    )
    for path in (whole, batched):
        shutil.copyfile(db, path)
        _run(path, grow)
    _run(whole, sql)
    for f in files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, "sightings") != _data(whole, "sightings")
    _follow_tail(out, batched, _value(db, "SELECT max(rowid) FROM sightings"))
    assert _data(batched, "sightings") == _data(whole, "sightings")


def test_recommendation_stays_under_the_budget_and_compares_with_peers(sample, tmp_path):
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path)
    sql = (sample / "services/scores/migrations/0013_backfill_normalized_id.sql").read_text(
        encoding="utf-8"
    )
    plan = plan_batches(snapshot.path, sql, budget_ms=1.0, sizes=SIZES, repeats=3)
    assert plan.predicted_p95_ms(plan.recommended) <= 1.0 or plan.recommended == 1
    assert 0 <= plan.r_squared <= 1
    table = plan.compare().set_index("who")
    assert list(table["batch_size"])[1:] == [1000, 10000]
    assert set(table["rows_written"]) == {2 * plan.rows}  # the row and its index entry
    with pytest.raises(InputError, match="UPDATE, DELETE and INSERT … SELECT"):
        plan_batches(snapshot.path, "INSERT INTO scores (id) VALUES (1);")


def test_insert_select_of_a_rebuild_batches_on_source_rowids(sample, tmp_path):
    """api 0011 copies goals into goals_new: planned after the file's CREATE TABLE, batched on
    goals' rowids; the batches give the unbatched copy, and re-running any changes nothing."""
    snapshot = load_snapshot(sample / "exports" / "api" / "before.sql", tmp_path / "w")
    migration = load_migration_dir(sample / "services" / "api" / "migrations")
    statements = next(f for f in migration.files if f.name.startswith("0011")).statements
    results = batch_migration(snapshot.path, statements, tmp_path / "out", file="0011")
    [copy] = results
    assert copy.error == "" and copy.plan.mode == "range"
    assert copy.plan.rows == snapshot.row_counts["goals"] == 250
    assert copy.plan.insert.key == ("id",) and copy.plan.insert.source == "goals"
    assert copy.plan.writes_per_row == 1
    create = next(s for s in statements if s.kind == "create_table")
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    for path in (whole, batched):
        shutil.copyfile(snapshot.path, path)
        _run(path, create.sql)
    _run(whole, copy.statement.sql)
    files = write_batches(copy.plan, batched, tmp_path / "by60", size=60)
    assert len(files) == 5  # 250 rows: four ranges of 60, the rest up to the last rowid
    for f in files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, "goals_new") == _data(whole, "goals_new")
    for f in reversed(files):
        _run(batched, f.read_text(encoding="utf-8"))
        assert _data(batched, "goals_new") == _data(whole, "goals_new")


def test_insert_select_into_its_own_table(tmp_path):
    db = tmp_path / "jobs.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT, note TEXT)")
    conn.executemany(
        "INSERT INTO jobs VALUES (?, ?, ?)",
        [(i, "active" if i % 3 else "dropped", f"n{i}") for i in range(1, 901)],
    )
    conn.close()
    sql = (
        "INSERT OR IGNORE INTO jobs (id, status)\n"
        "  SELECT j.id + 1000, upper(j.status) FROM jobs AS j WHERE j.status = 'active';"
    )
    plan = plan_batches(db, sql, sizes=SIZES, repeats=2)
    assert plan.rows == 900 and plan.insert.qualifier == "j"
    assert any("inserts into itself" in n for n in plan.notes)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(db, whole)
    shutil.copyfile(db, batched)
    _run(whole, sql)
    files = write_batches(plan, db, tmp_path / "out", size=250)
    assert len(files) == 4  # the last range is closed: rows inserted are not selected again
    assert not (tmp_path / "out" / "tail.sql.in").exists()  # past it lie the copies
    for f in files + files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, "jobs") == _data(whole, "jobs")
    assert len(_data(whole, "jobs")) == 900 + 600


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("INSERT INTO log (msg) SELECT status FROM jobs;", "no primary key or unique index"),
        ("INSERT INTO totals SELECT status, count(*) FROM jobs GROUP BY status;", "GROUP"),
        ("INSERT INTO totals SELECT status, count(*) FROM jobs;", "aggregates"),
        ("INSERT INTO totals SELECT 'a', 1 UNION SELECT 'b', 2;", "compound"),
        ("INSERT INTO totals (status, n) SELECT status, 1 FROM jobs;", "UNIQUE constraint"),
        # sqlglot 30 keeps a WITH as `with_`: it was read as a SELECT from the CTE's name
        (
            "WITH one AS (SELECT id, status FROM jobs WHERE id = 1) "
            "INSERT INTO totals SELECT status, 1 FROM one;",
            "starts with WITH",
        ),
        (
            "INSERT INTO totals WITH one AS (SELECT id, status FROM jobs WHERE id = 1) "
            "SELECT status, 1 FROM one;",
            "starts with WITH",
        ),
    ],
)
def test_insert_select_that_cannot_be_batched_says_why(tmp_path, sql, why):
    db = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT);"
        "CREATE TABLE log (msg TEXT);"
        "CREATE TABLE totals (status TEXT PRIMARY KEY, n INTEGER);"
        "INSERT INTO jobs (status) VALUES ('a'), ('a'), ('b');"
    )
    conn.close()
    with pytest.raises(InputError, match=why):
        plan_batches(db, sql, sizes=SIZES, repeats=1)


def test_small_export_is_scaled_up_to_the_size_asked_for(sample, tmp_path):
    """scores has 2,500 rows in the export; measured on a copy scaled to 10,000, the rows that
    match keep their share and unique values stay unique; the export itself is untouched."""
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path / "w")
    before = snapshot.path.read_bytes()
    scaled = scale_table(snapshot.path, "scores", 10_000, tmp_path / "scaled.sqlite")
    conn = apsw.Connection(str(scaled))
    total, ids, nulls = conn.execute(
        "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE normalized_id IS NULL) "
        "FROM scores"
    ).fetchall()[0]
    conn.close()
    original = apsw.Connection(str(snapshot.path))
    share = original.execute(
        "SELECT count(*) FILTER (WHERE normalized_id IS NULL), count(*) FROM scores"
    ).fetchall()[0]
    original.close()
    assert total == ids == 10_000
    assert nulls == share[0] * 4 and share[1] == 2_500
    sql = (sample / "services/scores/migrations/0013_backfill_normalized_id.sql").read_text(
        encoding="utf-8"
    )
    plan = plan_batches(snapshot.path, sql, sizes=(500, 1_000, 4_000), repeats=1, scale_to=10_000)
    assert plan.rows == nulls and "scaled from 2,500 to 10,000+" in plan.notes[0]
    assert set(plan.measurements["batch_size"]) == {500, 1_000, 4_000}
    assert snapshot.path.read_bytes() == before


def test_scaling_keeps_unique_columns_unique(tmp_path):
    db = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        "CREATE TABLE imports (source TEXT, external_id INTEGER, code TEXT UNIQUE, "
        "weight REAL UNIQUE, note TEXT, UNIQUE (source, external_id));"
        "INSERT INTO imports VALUES ('a', 1, 'x', 0.5, 'n'), ('a', 2, 'y', 1.5, 'n'),"
        " ('b', 1, NULL, NULL, 'm');"
    )
    conn.close()
    scaled = scale_table(db, "imports", 10, tmp_path / "scaled.sqlite")
    conn = apsw.Connection(str(scaled))
    assert conn.execute("SELECT count(*), count(DISTINCT note) FROM imports").fetchall() == [
        (12, 2)
    ]
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    empty = tmp_path / "empty.sqlite"
    apsw.Connection(str(empty)).execute("CREATE TABLE t (a)")
    with pytest.raises(InputError, match="empty: nothing to scale"):
        scale_table(empty, "t", 10, tmp_path / "x.sqlite")


def test_driver_quotes_the_database_name(tmp_path):
    """The binding comes from someone's config: `DB; touch pwned #` must stay one argument."""
    import subprocess

    from d1nb.analyses.batch_files import _driver

    hostile = "DB; touch pwned #$(touch pwned2)`touch pwned3`"
    script = tmp_path / "run_batches.sh"
    script.write_text(_driver(hostile, "batch_1.sql", 100, None, {}), encoding="utf-8")
    (tmp_path / "batch_1.sql").write_text("SELECT 1;\n", encoding="utf-8")
    args = tmp_path / "args.txt"
    stub = tmp_path / "wrangler_stub.sh"  # stands in for wrangler: notes its arguments
    stub.write_text(f'printf "%s|" "$@" >> "{args}"\n', encoding="utf-8")
    result = subprocess.run(
        ["sh", str(script)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "WRANGLER": f"sh {stub}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("pwned*"))
    assert args.read_text(encoding="utf-8").split("|")[:3] == ["d1", "execute", hostile]


def test_a_reused_out_folder_holds_only_the_new_plan(sample, tmp_path):
    """run_batches.sh runs every batch_*.sql beside it: a second plan written to the same
    folder must not leave the first one's files for it to run; a foreign one is refused."""
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path / "w")
    sql = (sample / "services/scores/migrations/0013_backfill_normalized_id.sql").read_text()
    plan = plan_batches(snapshot.path, sql, sizes=SIZES, repeats=1)
    out = tmp_path / "out"
    many = write_batches(plan, snapshot.path, out, size=100)
    few = write_batches(plan, snapshot.path, out, size=2_000)
    assert len(many) > len(few)
    assert sorted(out.glob("batch_*.sql")) == sorted(few)
    (out / "batch_9999.sql").write_text("DROP TABLE scores;\n", encoding="utf-8")
    with pytest.raises(InputError, match="did not write"):
        write_batches(plan, snapshot.path, out, size=2_000)
    assert (out / "batch_9999.sql").exists()


def test_free_plan_caps_a_batch_at_the_daily_writes_and_paces_the_days(sample, tmp_path):
    """scores 0013 writes two D1 rows per row (the row and its index entry): with a daily
    allowance of 1,000 rows written, no batch may change more than 500 rows, 2 batches fit a
    day, and the 2,500 rows take 5 batches over 3 days."""
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path)
    sql = (sample / "services/scores/migrations/0013_backfill_normalized_id.sql").read_text()
    plan = plan_batches(snapshot.path, sql, sizes=(100, 500, 1000), repeats=1)
    assert plan.writes_per_row == 2 and plan.recommended > 500
    capped = plan_batches(
        snapshot.path, sql, sizes=(100, 500, 1000), repeats=1, max_rows_written=1_000
    )
    assert capped.recommended == 500 and "batches capped at 500 rows" in capped.notes[-1]
    assert capped.per_day(1_000) == {
        "rows_written_per_batch": 1_000,
        "batches": 5,
        "batches_per_day": 1,
        "days": 5,
    }
    assert capped.per_day(2_500)["batches_per_day"] == 2 and capped.per_day(2_500)["days"] == 3


def test_a_fanning_out_insert_is_capped_by_the_most_rows_one_source_row_yields(tmp_path):
    """Stranger's project #37 moved JSON tags into a table of their own: `INSERT OR IGNORE
    … SELECT … FROM gardens g, json_each(g.tags) j`. Its plan counted one insert per
    garden (80 D1 rows written against 108) and the Free plan's cap took a batch of n
    gardens for n rows inserted, so a batch could write several times the daily allowance.
    The cap now takes the most rows one garden yields, and every batch file stays within it."""
    db = tmp_path / "g.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        "CREATE TABLE gardens (slug TEXT PRIMARY KEY, tags TEXT NOT NULL);"
        "CREATE TABLE garden_tags (slug TEXT NOT NULL, tag TEXT NOT NULL, UNIQUE (slug, tag));"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
        "INSERT INTO gardens SELECT 'g' || i, CASE WHEN i % 10 = 0 THEN "
        "json_array('a', 'b', 'c', 'd', 'e', 'f') ELSE json_array('a') END FROM n;"
    )
    conn.close()
    sql = (
        "INSERT OR IGNORE INTO garden_tags (slug, tag) SELECT g.slug, j.value "
        "FROM gardens g, json_each(g.tags) j WHERE j.type = 'text';"
    )
    plan = plan_batches(db, sql, sizes=(10, 50, 100), repeats=1, max_rows_written=60)
    assert (plan.rows, plan.inserted, plan.most_per_row, plan.writes_per_row) == (300, 450, 6, 2)
    assert plan.counted == "300 rows of gardens (inserting 450 into garden_tags)"
    assert plan.recommended == 5 and "yields up to 6 rows" in plan.notes[-1]
    assert plan.compare()["rows_written"].iloc[0] == 900
    assert plan.per_day(60)["rows_written_per_batch"] == 60
    files = write_batches(plan, db, tmp_path / "out")
    copy = apsw.Connection(str(db))
    written = []
    for f in files:
        before = copy.total_changes()
        copy.execute(f.read_text(encoding="utf-8"))
        written.append((copy.total_changes() - before) * plan.writes_per_row)
    assert max(written) <= 60 and sum(written) == 900


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE lines SET qty = qty + 1",
        "DELETE FROM lines WHERE qty > 2",
        "INSERT INTO totals SELECT n, qty FROM lines",
    ],
)
@pytest.mark.parametrize("scale_to", [None, 10_000])
def test_a_without_rowid_table_is_refused_with_a_reason(tmp_path, sql, scale_to):
    """Batches are rowid ranges; a WITHOUT ROWID table (target, or an INSERT … SELECT's
    source) has none: a message naming the line, not an error deep in SQLite ('no such
    column: rowid', reported as a bug in d1nb: stranger's project #30 hit it through
    --scale-to, which scaled the copy before asking)."""
    db = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        'CREATE TABLE lines ("order id" TEXT, n INTEGER, qty INTEGER, '
        'PRIMARY KEY ("order id", n)) WITHOUT ROWID;'
        "CREATE TABLE totals (n INTEGER, qty INTEGER)"
    )
    conn.executemany("INSERT INTO lines VALUES (?, ?, ?)", [(f"o{i}", i, i % 5) for i in range(50)])
    conn.close()
    with pytest.raises(InputError, match="lines is a WITHOUT ROWID table"):
        plan_batches(db, sql, scale_to=scale_to)


def test_a_file_that_fails_after_its_batched_statement_says_so(tmp_path):
    """Stranger's project #8: a drizzle-kit rebuild's INSERT … SELECT was sized and report 03
    said "pass", but the file fails three lines later (its RENAME: a view reads the table),
    and D1 rolls it back whole. The failing statement is now among the results, with its
    line and error, and the report's verdict fails."""
    from d1nb.presentation.project import Backfill
    from d1nb.presentation.verdicts import backfill_verdict

    db = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
        "INSERT INTO t SELECT i, 'v' || i FROM n;"
        "CREATE VIEW tv AS SELECT v FROM t;"
    )
    conn.close()
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0002_rebuild.sql").write_text(
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT, extra TEXT);\n"
        "INSERT INTO t_new (id, v) SELECT id, v FROM t;\n"
        "DROP TABLE t;\n"
        "ALTER TABLE t_new RENAME TO t;\n"
    )
    (migration,) = load_migration_dir(folder).files
    results = batch_migration(db, migration.statements, tmp_path / "out", file="0002_rebuild.sql")
    assert [(r.statement.line, r.plan is not None) for r in results] == [(2, True), (4, False)]
    assert results[1].error.startswith(
        "0002_rebuild.sql:4: the file fails here on this export (error in view tv: no such "
        "table: main.t): D1 rolls the whole file back"
    )
    verdict = backfill_verdict(Backfill("svc", "0002_rebuild.sql", "x", "DB", results))
    assert verdict.level == "fail" and results[1].error in verdict.lines
    # the plan of line 2 fits its budget: the headline says first that something fails
    assert verdict.headline.startswith("1 problem below; svc 0002_rebuild.sql line 2: 500 rows")


@pytest.mark.parametrize(
    ("sql", "idempotent"),
    [
        (
            "UPDATE firings SET status = CASE status WHEN 'B' THEN 'booked' "
            "WHEN 'F' THEN 'fired' ELSE 'cancelled' END;",
            False,
        ),
        ("UPDATE firings SET status = lower(status), note = trim(note);", True),
        ("UPDATE firings SET tries = tries + 1 WHERE status <> 'X';", False),
    ],
)
def test_a_range_batch_that_changes_rows_again_is_not_called_safe_to_rerun(
    tmp_path, sql, idempotent
):
    """Stranger's project #12 turned status codes into words with a CASE whose ELSE caught
    the words too: batched by rowid ranges, each file said "safe to re-run", and a second run
    turns every 'booked' and 'fired' into 'cancelled'. The statement now runs twice on a copy
    and the files, the notes and the verdict say what a second run does; the count is the
    sqlite3 module's, the files run twice show it."""
    import sqlite3

    db = tmp_path / "studio.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute("CREATE TABLE firings (id INTEGER PRIMARY KEY, status TEXT, note TEXT, tries INT)")
    conn.executemany(
        "INSERT INTO firings VALUES (?, ?, ?, ?)",
        [
            (i, "BBFX"[i % 4] if i % 7 else "fired", f" n{i} " if i % 2 else None, i % 3)
            for i in range(1, 901)
        ],
    )
    conn.close()
    once = sqlite3.connect(":memory:")
    once.execute("CREATE TABLE firings (id INTEGER PRIMARY KEY, status TEXT, note TEXT, tries INT)")
    once.executemany("INSERT INTO firings VALUES (?, ?, ?, ?)", _data(db, "firings"))
    once.execute(sql)
    after_one = once.execute("SELECT * FROM firings ORDER BY id").fetchall()
    once.execute(sql)
    again = sum(
        a != b
        for a, b in zip(
            after_one, once.execute("SELECT * FROM firings ORDER BY id").fetchall(), strict=True
        )
    )
    assert (again == 0) == idempotent

    plan = plan_batches(db, sql, sizes=SIZES, repeats=2)
    assert plan.mode == "range" and plan.rerun_changes == again
    files = write_batches(plan, db, tmp_path / "out", size=300)
    first_line = files[0].read_text(encoding="utf-8").splitlines()[0]
    if idempotent:
        assert first_line.endswith("; safe to re-run")
        assert any("its second run changed no value" in n for n in plan.notes)
    else:
        assert first_line.endswith("NOT safe to re-run: a second run changes its rows again")
        assert any(f"changed {again:,} rows again" in n for n in plan.notes)
    batched = tmp_path / "batched.sqlite"
    shutil.copyfile(db, batched)
    for f in files + files:  # what an interrupted run started again by hand would do
        _run(batched, f.read_text(encoding="utf-8"))
    twice = _data(batched, "firings")
    assert (twice == after_one) == idempotent


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = a + 1",
        "DELETE FROM t WHERE a > 2",
        "INSERT OR IGNORE INTO c (id, a) SELECT a, a FROM t",
    ],
)
def test_a_table_whose_column_hides_the_rowid_is_refused_with_a_reason(tmp_path, sql):
    """A column named `rowid` hides the rowid the batch SQL ranges on: the planner compared
    its text values as rowids and failed ('no such column: x', reported as a bug in d1nb);
    batch files written that way would have split by the column. Refused by name instead."""
    db = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute('CREATE TABLE t ("rowid" TEXT, a INTEGER); CREATE TABLE c (id PRIMARY KEY, a)')
    conn.executemany("INSERT INTO t VALUES (?, ?)", [("x" if i % 2 else "y", i) for i in range(50)])
    conn.close()
    with pytest.raises(InputError, match="a column of t is named rowid and hides its rowid"):
        plan_batches(db, sql)


@pytest.mark.parametrize(
    ("service", "file", "table"),
    [
        ("scores", "0013_backfill_normalized_id.sql", "scores"),
        ("api", "0010_lowercase_sync_moods.sql", "sync_data"),
    ],
)
def test_past_the_most_files_the_driver_goes_on(
    sample, tmp_path, monkeypatch, service, file, table
):
    """Stranger's project #19: batches of one row over 2 M rows were 1,999,065 files (7.8 GB).
    At most MAX_BATCH_FILES are written; the driver goes on from where they end, as it goes
    on past the export (the LIMIT batch while a row matches, or ranges of rowids)."""
    from d1nb.analyses import batch_files

    monkeypatch.setattr(batch_files, "MAX_BATCH_FILES", 3)
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path / "w")
    sql = (sample / "services" / service / "migrations" / file).read_text(encoding="utf-8")
    plan = plan_batches(snapshot.path, sql, sizes=SIZES, repeats=1)
    out = tmp_path / "out"
    files = write_batches(plan, snapshot.path, out, size=100)
    assert len(files) == 3 < -(-plan.rows // 100)
    assert any("the first 3 are files" in n or "more than 3 batches" in n for n in plan.notes)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(snapshot.path, whole)
    shutil.copyfile(snapshot.path, batched)
    _run(whole, sql)
    for f in files:
        _run(batched, f.read_text(encoding="utf-8"))
    assert _data(batched, table) != _data(whole, table)
    if plan.mode == "limit":
        remaining = (out / "remaining.sql").read_text(encoding="utf-8")
        while _value(batched, remaining) is not None:
            _run(batched, files[0].read_text(encoding="utf-8"))
    else:
        driver = (out / "run_batches.sh").read_text(encoding="utf-8")
        (low,) = [
            line.split()[0].removeprefix("low=")
            for line in driver.splitlines()
            if line.startswith("low=")
        ]
        assert int(low) < _value(snapshot.path, f'SELECT max(rowid) FROM "{table}"')
        _follow_tail(out, batched, int(low))
    assert _data(batched, table) == _data(whole, table)


def test_a_statement_whose_every_batch_is_over_budget_is_not_batched(tmp_path):
    """Stranger's project #19: `DELETE … WHERE rowid NOT IN (SELECT min(rowid) … GROUP BY …)`
    runs its subquery over the whole table in every batch, 2.3 s at 2 M rows: the plan was
    batches of one row, each over the budget. No size meets it now, and no file is written."""
    db = tmp_path / "db.sqlite"
    _run(
        db,
        "CREATE TABLE tags (name TEXT, entry_id INTEGER);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000) "
        "INSERT INTO tags SELECT CASE i % 3 WHEN 0 THEN 'food' ELSE 'Food' END, i % 500 FROM k;",
    )
    sql = (
        "DELETE FROM tags WHERE rowid NOT IN "
        "(SELECT min(rowid) FROM tags GROUP BY lower(name), entry_id);"
    )
    statements = load_migration_dir_text(tmp_path, sql)
    (result,) = batch_migration(db, statements, tmp_path / "out", budget_ms=0.001)
    assert not result.error and result.files == [] and not result.plan.batchable
    assert result.plan.unbatchable_reason.startswith("no batch size meets the 0.001 ms budget")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("batch_*"))
    assert len(set(result.plan.measurements["batch_size"])) == 2  # two sizes, then it stops


def load_migration_dir_text(tmp_path, sql: str):
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    (folder / "0001_dedupe.sql").write_text(sql, encoding="utf-8")
    return load_migration_dir(folder).files[0].statements


def test_a_table_named_in_other_capitals_is_batched_by_its_rowid(tmp_path):
    """Stranger's project #21: `DELETE FROM PATIENTS` of table `Patients` was refused as "a
    WITHOUT ROWID table" (the schema was asked for `PATIENTS` by exact name)."""
    db = tmp_path / "db.sqlite"
    _run(
        db,
        "CREATE TABLE Patients (id INTEGER PRIMARY KEY, gone TEXT);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2000) "
        "INSERT INTO Patients SELECT i, CASE WHEN i % 2 THEN NULL ELSE 'x' END FROM k;",
    )
    statements = load_migration_dir_text(tmp_path, "DELETE FROM PATIENTS WHERE gone IS NOT NULL;")
    (result,) = batch_migration(db, statements, tmp_path / "out", budget_ms=1000)
    assert not result.error, result.error
    assert result.plan.rows == 1000 and result.files


def test_the_time_fit_reports_how_much_of_the_spread_it_explains():
    """A clean line is fitted exactly (R² 1); timings that do not grow with the batch (a
    loaded machine) get an R² near 0, never below it, so a plan's R² reads as a share."""
    rows = np.array([1, 10, 100, 1000, 10000], dtype=float)
    slope, fixed, r2 = fit_time(rows, 0.5 + 0.002 * rows)
    assert (round(slope, 6), round(fixed, 6), round(r2, 6)) == (0.002, 0.5, 1.0)
    noisy = np.array([8.0, 0.2, 6.0, 0.3, 7.0])
    _, _, r2 = fit_time(rows, noisy)
    assert 0.0 <= r2 < 0.2
    # a line with a negative fixed cost fits best, so one through zero is used: worse than flat
    assert fit_time(rows, np.array([0.001, 5.0, 5.0, 5.0, 50.0]))[1:] == (0.0, 0.0)


def test_a_statement_matching_no_row_says_there_is_nothing_to_batch(tmp_path):
    """Stranger's project #28: the purge after a rebuild that had cascaded every invoice away
    was planned as '0 rows in batches of 250, fit R² 1.0' without a word; the plan now says
    its times are of batches that change nothing."""
    db = tmp_path / "inv.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute("CREATE TABLE invoices (id TEXT PRIMARY KEY, status TEXT)")
    conn.executemany("INSERT INTO invoices VALUES (?, 'paid')", [(f"i{i}",) for i in range(50)])
    conn.close()
    plan = plan_batches(db, "DELETE FROM invoices WHERE status = 'void';", sizes=SIZES, repeats=1)
    assert plan.rows == 0
    assert any(n.startswith("no row of invoices matches at this point") for n in plan.notes)


REBUILD = """-- child rebuilt: v becomes NOT NULL
PRAGMA defer_foreign_keys = true;
CREATE TABLE "c'new" (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE,
  v TEXT NOT NULL DEFAULT '');
INSERT INTO "c'new" (id, p, v) SELECT id, p, coalesce(v, '') FROM c;
DROP TABLE c;
ALTER TABLE "c'new" RENAME TO c;
CREATE INDEX c_p ON c(p);
PRAGMA defer_foreign_keys = false;
"""


def _apply_as_d1(path, sql: str) -> None:
    """A migration file as D1 applies it: one transaction, foreign keys on."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"BEGIN; {sql}\nCOMMIT;")
    conn.close()


def test_a_rebuild_is_split_around_its_batches(tmp_path):
    """Stranger's project #41: the INSERT … SELECT of a rebuild was batched, but its table is
    created two lines earlier and its source dropped after it, so the batch files could not
    run before the file (no table yet) nor after it (no source). The file's other statements
    are now written as the migrations to apply around the batches, the later part with the
    `PRAGMA defer_foreign_keys` in force there, and applied in that order they leave what
    the file leaves."""
    db = tmp_path / "db.sqlite"
    _run(
        db,
        "CREATE TABLE p (id INTEGER PRIMARY KEY);"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE CASCADE, "
        "v TEXT);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000) "
        "INSERT INTO p SELECT i FROM k;"
        "INSERT INTO c SELECT id, id, CASE WHEN id % 3 THEN 'v' || id END FROM p;",
    )
    statements = load_migration_dir_text(tmp_path, REBUILD)
    out = tmp_path / "out"
    (result,) = batch_migration(db, statements, out, file="0001_rebuild.sql", max_rows_written=1000)
    assert not result.error and len(result.files) >= 1
    first, then = (out / "part_1.sql").read_text(), (out / "part_2.sql").read_text()
    assert first.splitlines()[2:] == REBUILD.splitlines()[1:4]
    assert then.splitlines()[2].startswith("PRAGMA defer_foreign_keys = true;")
    assert then.splitlines()[3:] == REBUILD.splitlines()[5:]
    assert result.plan.notes[-2] == (
        "applied as it is, 0001_rebuild.sql runs line 5 whole: apply part_1.sql (lines 2–4) in "
        "place of 0001_rebuild.sql, then run the batches, then apply part_2.sql (lines 6–9) as "
        "the next migration, before any file numbered after 0001_rebuild.sql (the parts are "
        "written beside the batches)"
    )
    assert result.plan.notes[-1].startswith(
        "c must not change from the first batch until part_2.sql is applied (it drops it at "
        "line 6): a row updated or deleted there after its batch ran would not reach c'new"
    )
    whole, split = tmp_path / "whole.sqlite", tmp_path / "split.sqlite"
    for path in (whole, split):
        shutil.copyfile(db, path)
    _apply_as_d1(whole, REBUILD)
    _apply_as_d1(split, first)
    for f in result.files:
        _run(split, f.read_text())
    _apply_as_d1(split, then)
    for table in ("p", "c"):
        assert _data(split, table) == _data(whole, table)
    assert len(_data(split, "c")) == 3000
    # within the budget in one batch (3,000 rows, 1 s): the file runs as it is, no parts
    (one,) = batch_migration(db, statements, tmp_path / "one", file="0001_rebuild.sql")
    assert one.plan.recommended >= 3000 and not list((tmp_path / "one").glob("part_*"))
    assert one.plan.notes[-1].startswith(
        "one batch holds all 3,000 rows within the budget: 0001_rebuild.sql can run as it is"
    )
    # planned again for a file of the statement alone: the old parts are gone
    (tmp_path / "alone").mkdir()
    backfill = load_migration_dir_text(tmp_path / "alone", "-- one\nUPDATE c SET v = upper(v);")
    (alone,) = batch_migration(db, backfill, out, file="x.sql", max_rows_written=1000)
    assert alone.files and not list(out.glob("part_*.sql"))
    assert alone.plan.notes[-1].startswith(
        "x.sql holds nothing but what is batched: applied as it is it runs line 2 whole"
    )


def test_a_file_batched_in_two_places_gets_a_part_between(tmp_path):
    """Two batched statements with a statement between them: three parts, each note saying
    which to apply before and after its own batches."""
    db = tmp_path / "db.sqlite"
    _run(
        db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2000) "
        "INSERT INTO t SELECT i, 'v' || i, NULL FROM k;",
    )
    statements = load_migration_dir_text(
        tmp_path,
        "ALTER TABLE t ADD COLUMN x TEXT;\n"
        "UPDATE t SET x = upper(v);\n"
        "CREATE INDEX t_x ON t(x);\n"
        "UPDATE t SET w = lower(x);\n"
        "CREATE UNIQUE INDEX t_w ON t(w);\n",
    )
    out = tmp_path / "out"
    results = batch_migration(db, statements, out, file="0001_dedupe.sql", max_rows_written=500)
    assert [r.error for r in results] == ["", ""] and all(r.files for r in results)
    assert sorted(p.name for p in out.glob("part_*.sql")) == [
        "part_1.sql",
        "part_2.sql",
        "part_3.sql",
    ]
    assert (out / "part_2.sql").read_text().splitlines()[2:] == ["CREATE INDEX t_x ON t(x);"]
    assert "apply part_1.sql (lines 1–1) in place of 0001_dedupe.sql" in results[0].plan.notes[-1]
    assert "then apply part_2.sql (lines 3–3) as the next migration" in results[0].plan.notes[-1]
    assert (
        results[1]
        .plan.notes[-1]
        .startswith(
            "applied as it is, 0001_dedupe.sql runs line 4 whole: apply part_2.sql (lines 3–3) as "
            "the next migration, then run the batches, then apply part_3.sql (lines 5–5)"
        )
    )
