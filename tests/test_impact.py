"""Backfill impact on the sample: the counts data/sample/README.md states, and the verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from d1nb.analyses.impact import analyse_impact
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.snapshots import load_snapshot
from d1nb.presentation.project import project_impacts
from d1nb.problems import InputError
from d1nb.sample.generate import write_sample
from tests.conftest import EMPTY_EXPORT


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("facts") / "sample")


def _impact(sample, tmp_path, service, names):
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / service / "migrations")
    return analyse_impact(snapshot, mdir, names)


def test_json_lowercasing_transitions_by_path(sample, tmp_path, facts):
    impact = _impact(sample, tmp_path, "api", ["0010_lowercase_sync_moods.sql"])
    api = facts["api"]
    row = impact.statements.iloc[0]
    assert (row.changes, row.rows_changed) == (
        api["logbook_rows"],
        api["mood_display"] + api["mood_missing"],
    )
    assert row.pct_of_table == round(100 * api["logbook_rows"] / api["sync_rows"], 2)
    mood = impact.transitions[impact.transitions["path"] == "$.mood"]
    got = {(r.before, r.after): r.rows for r in mood.itertuples()}
    expected = {(f'"{m}"', f'"{m.lower()}"'): n for m, n in api["mood_transitions"].items()}
    expected[("(absent)", "null")] = api["mood_missing"]
    assert got == expected
    assert impact.verdicts().iloc[0].verdict == "safe"


def test_enum_change_and_cascade_rebuild(sample, tmp_path, facts):
    impact = _impact(sample, tmp_path, "api", None)
    status = impact.transitions[impact.transitions["column"] == "status_v2"]
    assert {r.after: r.rows for r in status.itertuples()} == {
        "learning": facts["api"]["status_counts"]["learning"],
        "performing": facts["api"]["status_counts"]["polished"],
        "archived": facts["api"]["status_counts"]["dropped"],
    }
    verdicts = impact.verdicts().set_index("file")
    rebuild = verdicts.loc["0011_goals_add_category.sql"]
    assert rebuild.verdict == "loses data"
    assert (
        rebuild.reason == f"{facts['api']['goal_progress']:,} goal_progress rows deleted by cascade"
    )


def test_composer_canonicalisation_and_failing_add_column(sample, tmp_path, facts):
    impact = _impact(
        sample,
        tmp_path,
        "scores",
        ["0012_canonicalise_composers.sql", "0016_add_scores_updated_at.sql"],
    )
    per_update = impact.statements[impact.statements["file"].str.startswith("0012")]
    assert per_update["changes"].tolist() == list(facts["scores"]["composer_updates"].values())
    composers = impact.transitions[impact.transitions["column"] == "composer"]
    assert composers["rows"].sum() == facts["scores"]["composer_changed"]
    bach = composers[composers["after"] == "Johann Sebastian Bach"]
    assert bach["rows"].sum() == facts["scores"]["composer_updates"]["Johann Sebastian Bach"]
    verdicts = impact.migrations.set_index("file")
    failing = verdicts.loc["0016_add_scores_updated_at.sql"]
    assert failing.verdict == "fails" and failing.fails_only_on_data
    assert "Cannot add a column with non-constant default" in failing.reason
    assert (
        verdicts.loc["0012_canonicalise_composers.sql", "rows_written"]
        == 2 * facts["scores"]["composer_changed"]
    )


def test_budget_turns_a_slow_statement_into_needs_batching(sample, tmp_path):
    snapshot = load_snapshot(sample / "exports" / "scores" / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / "scores" / "migrations")
    impact = analyse_impact(snapshot, mdir, ["0013_backfill_normalized_id.sql"], budget_ms=0.0)
    verdict = impact.verdicts().iloc[0]
    assert verdict.verdict == "needs batching" and "budget 0 ms" in verdict.reason


def test_a_backfill_past_the_free_plans_daily_rows_says_so(make_tree, tmp_path):
    """Since 2026-09-01 the Free plan stops writes past 100,000 rows a day: an UPDATE of
    120,000 rows fails part-way there, and the verdict's reason says so."""
    from d1nb.analyses.impact import analyse_impact

    root = make_tree(
        {
            "m/0001_seed.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\n"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000) "
            "INSERT INTO t (v) SELECT i FROM n;\n",
            "m/0002_backfill.sql": "UPDATE t SET v = v + 1 WHERE v > 0;\n",
            "m/0003_small.sql": "UPDATE t SET v = 0 WHERE id = 1;\n",
            "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
        }
    )
    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    reasons = impact.migrations.set_index("file")["reason"]
    assert (
        "on the Free plan 120,000 rows written exceed the daily 100,000"
        in reasons["0002_backfill.sql"]
    )
    assert "Free plan" not in reasons["0003_small.sql"]


def test_a_failing_rebuild_past_the_free_plans_reads_gives_the_figure_not_advice(
    make_tree, tmp_path
):
    """A prisma-style rebuild whose DROP TABLE scans an unindexed SET NULL child twice per
    parent row (D1 read 12,055,909 rows on a stranger's project; the model said half) and
    then fails at its RENAME (a view names the table): the reads are given as a figure, with
    no advice to batch a migration that fails anyway."""
    from d1nb.analyses.impact import analyse_impact

    root = make_tree(
        {
            "m/0001_seed.sql": "CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT);\n"
            "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) "
            "ON DELETE SET NULL);\n"
            "CREATE VIEW pv AS SELECT id FROM p;\n"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1300) "
            "INSERT INTO p SELECT i, 'x' FROM n;\n"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
            "INSERT INTO c (pid) SELECT 1 + i % 1300 FROM n;\n",
            "m/0002_rebuild.sql": "PRAGMA defer_foreign_keys=ON;\n"
            "CREATE TABLE new_p (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n"
            "INSERT INTO new_p SELECT id, v FROM p;\n"
            "DROP TABLE p;\n"
            "ALTER TABLE new_p RENAME TO p;\n",
            "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
        }
    )
    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(
        snapshot, load_migration_dir(root / "m"), ["0001_seed.sql", "0002_rebuild.sql"]
    )
    rebuild = impact.migrations.set_index("file").loc["0002_rebuild.sql"]
    assert rebuild.verdict == "fails" and "error in view pv" in rebuild.reason
    drop = impact.statements[impact.statements["kind"] == "drop_table"].iloc[0]
    # two scans of 2,000 children per parent row: 1,300 x 4,000 and a little more
    assert 5_200_000 <= drop.rows_read <= 5_300_000
    assert "before it fails, on the Free plan" in rebuild.reason
    assert "batch it across days" not in rebuild.reason


def test_the_notebooks_refuse_another_services_export_as_the_cli_does(sample, tmp_path):
    """project_impacts (report 02) and `d1nb impact` share service_export: an export whose
    ledger names none of the service's files is another database's, and says so."""
    with pytest.raises(InputError, match="another database's"):
        project_impacts(sample, {"api": "exports/scores/before.sql"}, workdir=tmp_path)
    with pytest.raises(InputError, match="no service 'nope'"):
        project_impacts(sample, {"nope": "exports/api/before.sql"}, workdir=tmp_path)


IN_PLACE = {
    "m/0001_seed.sql": "CREATE TABLE vendor (id INTEGER PRIMARY KEY, code TEXT UNIQUE, "
    "name TEXT);\n"
    "CREATE TABLE [item] ([sku] TEXT PRIMARY KEY, vendor INTEGER NOT NULL REFERENCES vendor(id) "
    "ON DELETE CASCADE, qty INTEGER);\n"
    "CREATE TABLE level (sku TEXT PRIMARY KEY, level TEXT NOT NULL) WITHOUT ROWID;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) "
    "INSERT INTO vendor SELECT i, char(65 + i % 4) || i, 'vendor ' || i FROM n;\n"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
    "INSERT INTO item SELECT 'S' || i, 1 + i % 30, i % 17 FROM n;\n"
    "INSERT INTO level SELECT sku, 'stale' FROM item WHERE qty % 3 = 0;\n",
    "m/0002_upsert.sql": "INSERT INTO level (sku, level) SELECT sku, CASE WHEN qty < 5 "
    "THEN 'low' ELSE 'ok' END FROM item WHERE true\n"
    "ON CONFLICT (sku) DO UPDATE SET level = excluded.level;\n",
    "m/0003_replace.sql": "INSERT OR REPLACE INTO vendor (id, code, name)\n"
    "SELECT id, code, upper(name) FROM vendor WHERE code LIKE 'A%';\n",
    "m/0004_upper.sql": "UPDATE level SET level = upper(level) WHERE level <> 'ok';\n",
}


def test_in_place_changes_upsert_replace_and_without_rowid(make_tree, tmp_path):
    """An UPDATE of a WITHOUT ROWID table is safe, not "fails: no such column: rowid" (found on
    a stranger's project); an upsert's DO UPDATE and an INSERT OR REPLACE show their value
    transitions, and the REPLACE's cascade is lost data. Figures are checked against the
    sqlite3 module running the same files."""
    import sqlite3

    root = make_tree({**IN_PLACE, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(IN_PLACE["m/0001_seed.sql"])
    levels_before = dict(db.execute("SELECT sku, level FROM level"))
    db.executescript(IN_PLACE["m/0002_upsert.sql"])
    upserted = sum(
        1
        for sku, level in db.execute("SELECT sku, level FROM level")
        if sku in levels_before and levels_before[sku] != level
    )
    items = db.execute("SELECT count(*) FROM item").fetchone()[0]
    renamed = db.execute("SELECT count(*) FROM vendor WHERE code LIKE 'A%'").fetchone()[0]
    db.executescript(IN_PLACE["m/0003_replace.sql"])
    lost_items = items - db.execute("SELECT count(*) FROM item").fetchone()[0]
    upper = dict(db.execute("SELECT level, count(*) FROM level WHERE level <> 'ok' GROUP BY 1"))

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    by_file = impact.migrations.set_index("file")
    assert by_file.loc["0004_upper.sql", "verdict"] == "safe"
    assert by_file.loc["0003_replace.sql", "verdict"] == "loses data"
    reason = by_file.loc["0003_replace.sql", "reason"]
    assert f"{lost_items:,} item rows deleted by cascade" in reason
    moves = impact.transitions.groupby(["file", "column"])["rows"].sum()
    assert moves[("0002_upsert.sql", "level")] == upserted
    assert moves[("0003_replace.sql", "name")] == renamed
    fourth = impact.transitions[impact.transitions["file"] == "0004_upper.sql"]
    assert dict(zip(fourth["before"], fourth["rows"], strict=True)) == upper
    assert lost_items and upserted and renamed  # the test data exercises each case


def test_files_after_a_failing_one_are_said_not_to_be_reached(make_tree, tmp_path):
    """wrangler stops at the first failing file; the files after it are still judged (on the
    export without the failing one), and their reasons say they are not reached (found on a
    stranger's project: a file that drops a column the failing rebuild before it removes was
    called "loses data" with no word of that)."""
    root = make_tree(
        {
            "m/0001_t.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, old TEXT);\n"
            "INSERT INTO t VALUES (1, 'a', 'x'), (2, 'a', 'y');\n",
            "m/0002_unique.sql": "CREATE UNIQUE INDEX t_v ON t(v);\n",
            "m/0003_drop_old.sql": "ALTER TABLE t DROP COLUMN old;\n",
            "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
        }
    )
    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    rows = impact.migrations.set_index("file")
    assert rows.loc["0002_unique.sql", "verdict"] == "fails"
    assert "not reached" not in rows.loc["0002_unique.sql", "reason"]
    assert rows.loc["0003_drop_old.sql", "reason"].endswith(
        "(not reached: wrangler stops at 0002_unique.sql; judged on the export without it)"
    )
    assert "not reached" not in rows.loc["0001_t.sql", "reason"]


def test_rows_rewritten_with_the_values_they_had_are_not_rows_changed(make_tree, tmp_path):
    """Stranger's project #10 normalised JSON tag arrays with one UPDATE over every booking
    with tags: 8,980 rows matched, 7,458 changed (the rest were already lower-case and
    sorted); the verdict said "8980 rows changed". Rows changed counts values that moved; the
    rest is said apart, and D1 still bills them as written. Figures from the sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY, tags TEXT NOT NULL);\n"
        "INSERT INTO b (tags) VALUES ('[\"Car\",\"pet\"]'), ('[\"car\"]'), ('[]'), "
        '(\'["bike","car"]\'), (\'["PET","pet"]\');\n',
        "m/0002_tags.sql": "UPDATE b SET tags = (SELECT coalesce(json_group_array(t), '[]') "
        "FROM (SELECT DISTINCT lower(value) AS t FROM json_each(b.tags) ORDER BY 1)) "
        "WHERE json_array_length(tags) > 0;\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(files["m/0001_t.sql"])
    before = dict(db.execute("SELECT id, tags FROM b"))
    matched = db.execute(files["m/0002_tags.sql"]).rowcount
    moved = sum(1 for i, tags in db.execute("SELECT id, tags FROM b") if before[i] != tags)
    assert (matched, moved) == (4, 2)

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    row = impact.migrations.set_index("file").loc["0002_tags.sql"]
    assert row["rows_changed"] == moved
    assert row["rows_written"] == matched
    assert row["reason"] == (
        f"{moved:,} rows changed, no cascade ({matched - moved:,} more rewritten with the values "
        "they had)"
    )


def test_a_row_changed_twice_is_one_row_and_an_upserts_new_rows_are_changed(make_tree, tmp_path):
    """Stranger's project #13 normalised sightings in three UPDATEs over one table of 1,200
    rows: the verdict said "2028 rows changed" (each statement's rows added up; 1,099 rows
    moved, by the sqlite3 shell), and an upsert filling a new table said "0 rows changed (30
    more rewritten with the values they had)". A file's rows changed counts each row once;
    an upsert's rows inserted are rows changed. Figures from the sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE s (id INTEGER PRIMARY KEY, species TEXT, n INTEGER);\n"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 90) "
        "INSERT INTO s SELECT i, substr(' Gull gull Tern', 1 + i % 3 * 5, 5), i % 7 FROM k;\n",
        "m/0002_norm.sql": "UPDATE s SET species = lower(trim(species));\n"
        "UPDATE s SET n = n * 2 WHERE species = 'gull';\n"
        "UPDATE s SET n = n + 1 WHERE n < 3;\n",
        "m/0003_totals.sql": "CREATE TABLE totals (species TEXT PRIMARY KEY, n INTEGER);\n"
        "INSERT INTO totals SELECT species, sum(n) FROM s WHERE true GROUP BY species "
        "ON CONFLICT(species) DO UPDATE SET n = excluded.n;\n"
        "INSERT INTO totals SELECT species, sum(n) FROM s WHERE species <> 'tern' "
        "GROUP BY species ON CONFLICT(species) DO UPDATE SET n = excluded.n + 1;\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(files["m/0001_t.sql"])
    before = {r[0]: r for r in db.execute("SELECT * FROM s")}
    norm = files["m/0002_norm.sql"].split(";\n")[:3]
    statements = [db.execute(sql + ";").rowcount for sql in norm]
    moved = sum(1 for r in db.execute("SELECT * FROM s") if before[r[0]] != r)
    db.executescript(files["m/0003_totals.sql"])
    totals = db.execute("SELECT count(*) FROM totals").fetchone()[0]
    assert sum(statements) > moved > 0 and totals == 2

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    rows = impact.migrations.set_index("file")
    assert rows.loc["0002_norm.sql", "rows_changed"] == moved
    assert rows.loc["0002_norm.sql", "reason"].startswith(f"{moved:,} rows changed, no cascade")
    assert rows.loc["0003_totals.sql", "rows_changed"] == totals
    assert rows.loc["0003_totals.sql", "reason"] == f"{totals:,} rows changed, no cascade"


def test_a_row_changed_then_deleted_is_one_row_changed(make_tree, tmp_path):
    """Stranger's project #15 hid spam posts, then deleted the hidden ones among the oldest:
    "760 rows changed" where 470 rows moved (the 290 deleted were among them), by the
    sqlite3 shell. A row an earlier statement of the file changed and a DELETE then removes
    counts once; rows deleted that nothing changed before count as they did. Figures from
    the sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE p (id INTEGER PRIMARY KEY, score INTEGER, hidden INTEGER);\n"
        "CREATE TABLE w (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 80) "
        "INSERT INTO p SELECT i, i % 13 - 6, 0 FROM q;\n"
        "INSERT INTO w SELECT 'k' || id, score FROM p;\n",
        "m/0002_mod.sql": "UPDATE p SET hidden = 1 WHERE score < -2;\n"
        "DELETE FROM p WHERE hidden = 1 AND id < 40 OR id > 75;\n"
        "UPDATE w SET n = 0 WHERE n < 0;\nDELETE FROM w WHERE k LIKE 'k1%';\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:")
    db.executescript(files["m/0001_t.sql"])
    before = {t: {r[0]: r for r in db.execute(f"SELECT * FROM {t}")} for t in ("p", "w")}
    db.executescript(files["m/0002_mod.sql"])
    moved = 0
    for t in ("p", "w"):
        now = {r[0]: r for r in db.execute(f"SELECT * FROM {t}")}
        moved += sum(1 for k, r in before[t].items() if now.get(k) != r)

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    row = impact.migrations.set_index("file").loc["0002_mod.sql"]
    assert row["rows_changed"] == moved
    statements = impact.statements[impact.statements["file"] == "0002_mod.sql"]
    assert statements["changes"].sum() > moved  # the statements' own figures overlap


def test_rows_on_update_actions_rewrite_are_rows_changed(make_tree, tmp_path):
    """Stranger's project #16 renumbered a pier's berths: 41 rows changed, "no cascade",
    where ON UPDATE CASCADE rewrote 598 boats and bookings (the sqlite3 shell). The rows an
    UPDATE's ON UPDATE actions rewrite in other tables are rows changed, each once, with
    their keys' transitions; CASCADE loses nothing, SET NULL / SET DEFAULT lose the link
    (a composite key, a WITHOUT ROWID child whose key is the one rewritten). Figures from the
    sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE b (pier TEXT, slot INTEGER, PRIMARY KEY (pier, slot));\n"
        "CREATE TABLE boat (id INTEGER PRIMARY KEY, hp TEXT, hs INTEGER, FOREIGN KEY (hp, hs) "
        "REFERENCES b (pier, slot) ON UPDATE CASCADE ON DELETE SET NULL);\n"
        "CREATE TABLE stay (pier TEXT, slot INTEGER, night INTEGER, "
        "PRIMARY KEY (pier, slot, night), FOREIGN KEY (pier, slot) REFERENCES b "
        "ON UPDATE CASCADE) WITHOUT ROWID;\n"
        "CREATE TABLE note (id INTEGER PRIMARY KEY, slot INTEGER, pier TEXT DEFAULT 'Z', "
        "FOREIGN KEY (pier, slot) REFERENCES b ON UPDATE SET DEFAULT);\n"
        "CREATE TABLE tag (id INTEGER PRIMARY KEY, pier TEXT, slot INTEGER, "
        "FOREIGN KEY (pier, slot) REFERENCES b ON UPDATE SET NULL);\n"
        "INSERT INTO b VALUES ('Z', 0);\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 30) "
        "INSERT INTO b SELECT char(65 + i % 3), i FROM q;\n"
        "INSERT INTO boat SELECT slot, pier, slot FROM b WHERE slot % 2 = 0;\n"
        "INSERT INTO stay SELECT pier, slot, n.v FROM b, (SELECT 1 AS v UNION SELECT 2) n "
        "WHERE slot > 0;\n"
        "INSERT INTO note SELECT slot, slot, pier FROM b WHERE slot % 3 = 1;\n"
        "INSERT INTO tag SELECT slot, pier, slot FROM b WHERE slot % 5 = 0;\n",
        "m/0002_renumber.sql": "UPDATE b SET slot = slot + 100 WHERE pier = 'B';\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(files["m/0001_t.sql"])
    tables = ("b", "boat", "stay", "note", "tag")
    before = {t: set(db.execute(f"SELECT * FROM {t}")) for t in tables}
    db.executescript(files["m/0002_renumber.sql"])
    moved = {t: len(before[t] - set(db.execute(f"SELECT * FROM {t}"))) for t in tables}
    assert all(moved.values())

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    row = impact.migrations.set_index("file").loc["0002_renumber.sql"]
    assert row["rows_changed"] == sum(moved.values())
    assert row["verdict"] == "loses data"  # links cut by SET NULL and SET DEFAULT
    assert f"{moved['note']} note rows nulled" in row["reason"]
    assert f"{moved['tag']} tag rows nulled" in row["reason"]
    cascades = impact.result.cascades().set_index("child")
    assert cascades.loc["boat", "action"] == "keys rewritten"
    assert cascades.loc["boat", "rows"] == moved["boat"]
    assert cascades.loc["stay", "rows"] == moved["stay"]  # found by their old key no more
    tr = impact.transitions
    boat = tr[(tr["table"] == "boat") & (tr["column"] == "hs")]
    assert boat["rows"].sum() == moved["boat"]
    assert tr["table"].iloc[0] == "b"  # the statement's own table first

    files["m/0003_safe.sql"] = "UPDATE b SET slot = slot + 1000 WHERE pier = 'A';\n"
    files["m/0001_t.sql"] = files["m/0001_t.sql"].replace("SET DEFAULT", "CASCADE")
    files["m/0001_t.sql"] = files["m/0001_t.sql"].replace("SET NULL)", "CASCADE)")
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    impact = analyse_impact(
        snapshot, load_migration_dir(root / "m"), ["0001_t.sql", "0003_safe.sql"]
    )
    row = impact.migrations.set_index("file").loc["0003_safe.sql"]
    assert row["verdict"] == "safe"
    assert "by ON UPDATE CASCADE (boat " in row["reason"]
    assert "none deleted or nulled" in row["reason"]


def test_references_broken_under_deferred_keys_are_counted_or_named_at_commit(make_tree, tmp_path):
    """`PRAGMA defer_foreign_keys = off` forgets the violations deferred since `on`: a parent
    deleted in between commits its children's references broken (counted by the sqlite3
    module's foreign_key_check); without the `off` the COMMIT fails, and the failure names the
    broken references, or says why SQLite counts violations none of which is left."""
    import sqlite3

    init = (
        "CREATE TABLE p (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 20) "
        "INSERT INTO p SELECT i FROM q;\n"
        "INSERT INTO c SELECT id, id FROM p UNION ALL SELECT id + 50, id FROM p;\n"
    )
    delete = "DELETE FROM p WHERE id % 4 = 0;\n"
    files = {
        "m/0001_t.sql": init,
        "m/0002_forgotten.sql": f"PRAGMA defer_foreign_keys = on;\n{delete}"
        "PRAGMA defer_foreign_keys = off;\n",
        "n/0001_t.sql": init,
        "n/0002_at_commit.sql": f"PRAGMA defer_foreign_keys = on;\n{delete}",
        "n/0003_rebuild.sql": "PRAGMA defer_foreign_keys = on;\n"
        "CREATE TABLE q (id INTEGER PRIMARY KEY);\nINSERT INTO q SELECT id FROM p;\n"
        "DROP TABLE p;\nALTER TABLE q RENAME TO p;\n",
        "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
    }
    root = make_tree(files)
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(init + "BEGIN;\n" + files["m/0002_forgotten.sql"] + "COMMIT;\n")
    (broken,) = db.execute("SELECT count(*) FROM pragma_foreign_key_check").fetchone()
    assert broken == 10

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    row = analyse_impact(snapshot, load_migration_dir(root / "m")).migrations.iloc[1]
    assert row["verdict"] == "loses data"
    assert row["reason"] == (
        f"{broken} c rows left pointing at p rows that are gone (PRAGMA defer_foreign_keys = "
        "off at line 3 forgets the check, unchecked); line 2 deletes 5 p rows"
    )
    impact = analyse_impact(
        snapshot, load_migration_dir(root / "n"), ["0001_t.sql", "0002_at_commit.sql"]
    )
    row = impact.migrations.iloc[1]
    assert row["verdict"] == "fails"
    assert row["reason"].startswith(
        f"FOREIGN KEY constraint failed at COMMIT: {broken} c rows point at p rows that are gone"
    )
    impact = analyse_impact(
        snapshot, load_migration_dir(root / "n"), ["0001_t.sql", "0003_rebuild.sql"]
    )
    assert "though every reference resolves by then" in impact.migrations.iloc[1]["reason"]


def test_rows_triggers_change_in_other_tables_are_rows_changed(make_tree, tmp_path):
    """Stranger's project #15 kept boards.post_count and an audit log by triggers on posts;
    a file hiding and deleting spam said "470 rows changed" and nothing of the counters and
    the log its triggers rewrote. Rows triggers insert, delete or change in other tables are
    rows the file changed (each once), with their transitions. Figures from the sqlite3
    module: every table before and after, row by row."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE boards (id INTEGER PRIMARY KEY, post_count INTEGER "
        "NOT NULL DEFAULT 0);\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, board_id INTEGER, spam INTEGER, "
        "hidden INTEGER DEFAULT 0);\n"
        "CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT);\n"
        "CREATE TRIGGER posts_in AFTER INSERT ON posts BEGIN UPDATE boards SET post_count = "
        "post_count + 1 WHERE id = NEW.board_id; END;\n"
        "CREATE TRIGGER posts_out AFTER DELETE ON posts BEGIN UPDATE boards SET post_count = "
        "post_count - 1 WHERE id = OLD.board_id; INSERT INTO log (what) VALUES "
        "('deleted ' || OLD.id); END;\n"
        "CREATE TRIGGER posts_hidden AFTER UPDATE OF hidden ON posts WHEN NEW.hidden = 1 "
        "BEGIN DELETE FROM log WHERE what = 'seen ' || NEW.id; END;\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 8) "
        "INSERT INTO boards (id) SELECT i FROM q;\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 90) "
        "INSERT INTO posts (id, board_id, spam) SELECT i, 1 + i % 8, i % 7 = 0 FROM q;\n"
        "INSERT INTO log (what) SELECT 'seen ' || id FROM posts WHERE id % 2 = 0;\n",
        "m/0002_spam.sql": "UPDATE posts SET hidden = 1 WHERE spam;\n"
        "DELETE FROM posts WHERE hidden = 1 AND id > 40;\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:")
    db.executescript(files["m/0001_t.sql"])
    tables = ("boards", "posts", "log")
    before = {t: {r[0]: r for r in db.execute(f"SELECT * FROM {t}")} for t in tables}
    db.executescript(files["m/0002_spam.sql"])
    moved = 0
    for t in tables:
        now = {r[0]: r for r in db.execute(f"SELECT * FROM {t}")}
        moved += sum(1 for k in before[t].keys() | now.keys() if before[t].get(k) != now.get(k))

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    row = impact.migrations.set_index("file").loc["0002_spam.sql"]
    assert row["rows_changed"] == moved
    tr = impact.transitions[impact.transitions["file"] == "0002_spam.sql"]
    counts = tr[(tr["table"] == "boards") & (tr["column"] == "post_count")]
    assert counts["rows"].sum() == len(
        [
            k
            for k, r in before["boards"].items()
            if db.execute("SELECT post_count FROM boards WHERE id = ?", (k,)).fetchone()[0] != r[1]
        ]
    )


def test_rows_moved_to_a_new_key_are_rows_changed(make_tree, tmp_path):
    """`UPDATE users SET id = id + 1000` moves rows to new rowids: impact said its 10 rows
    were "rewritten with the values they had" (it followed rows by rowid). An UPDATE setting
    the rowid's column, or a WITHOUT ROWID table's key, counts each row it writes as changed.
    Figures from the sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, n TEXT);\n"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) "
        "ON UPDATE CASCADE);\n"
        "CREATE TABLE tags (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 40) "
        "INSERT INTO users SELECT i, 'u' || i FROM q;\n"
        "INSERT INTO orders SELECT id, 1 + id % 30 FROM users;\n"
        "INSERT INTO tags SELECT 't' || id, id FROM users;\n",
        "m/0002_move.sql": "UPDATE users SET id = id + 1000 WHERE id <= 10;\n"
        "UPDATE tags SET k = upper(k) WHERE n <= 5;\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(files["m/0001_t.sql"])
    tables = ("users", "orders", "tags")
    before = {t: set(db.execute(f"SELECT * FROM {t}")) for t in tables}
    db.executescript(files["m/0002_move.sql"])
    moved = sum(len(before[t] - set(db.execute(f"SELECT * FROM {t}"))) for t in tables)

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    row = analyse_impact(snapshot, load_migration_dir(root / "m")).migrations.iloc[1]
    assert row["rows_changed"] == moved
    assert "with the values they had" not in row["reason"]


def test_a_backfill_that_transforms_the_column_it_replaces_says_so(make_tree, tmp_path):
    """Stranger's project #14 (drizzle) added `summary`, set it to substr(body, 1, 80) and
    dropped body: "safe", since the backfill read body. A dropped column's values are now
    checked against the columns the file's UPDATEs filled from it: kept as they were (a
    rename by copy) is nothing to say; kept only transformed is said; and where fewer
    distinct values remain than were dropped, some are gone for good. Figures from the
    sqlite3 module."""
    import sqlite3

    seed = (
        "CREATE TABLE n (id INTEGER PRIMARY KEY, body TEXT, tag TEXT, old TEXT);\n"
        "INSERT INTO n (body, tag, old) VALUES ('short', 'A', 'x'), (NULL, 'b', 'y'), "
        "('a' || printf('%090d', 1), 'C', NULL), ('a' || printf('%090d', 2), 'C', 'z');\n"
    )
    files = {
        "m/0001_t.sql": seed,
        "m/0002_body.sql": "ALTER TABLE n ADD COLUMN summary TEXT;\n"
        "UPDATE n SET summary = substr(body, 1, 80);\nALTER TABLE n DROP COLUMN body;\n",
        "m/0003_tag.sql": "ALTER TABLE n ADD COLUMN label TEXT;\n"
        "UPDATE n SET label = lower(tag);\nALTER TABLE n DROP COLUMN tag;\n",
        "m/0004_old.sql": "ALTER TABLE n ADD COLUMN new TEXT;\n"
        "UPDATE n SET new = old;\nALTER TABLE n DROP COLUMN old;\n",
    }
    root = make_tree({**files, "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n"})
    db = sqlite3.connect(":memory:")
    db.executescript(seed)
    long_bodies, bodies = db.execute(
        "SELECT count(*) FILTER (WHERE length(body) > 80), count(DISTINCT body) FROM n"
    ).fetchone()
    kept = db.execute("SELECT count(DISTINCT substr(body, 1, 80)) FROM n").fetchone()[0]
    upper = db.execute("SELECT count(*) FROM n WHERE tag <> lower(tag)").fetchone()[0]
    assert (long_bodies, bodies - kept, upper) == (2, 1, 3)

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    rows = impact.migrations.set_index("file")
    assert rows.loc["0002_body.sql", "verdict"] == "loses data"
    assert rows.loc["0002_body.sql", "reason"] == (
        f"drop column n.body: {bodies - kept} of its {bodies} distinct values cannot be told "
        "apart in summary"
    )
    assert rows.loc["0003_tag.sql", "verdict"] == "safe"
    assert rows.loc["0003_tag.sql", "reason"].endswith(
        f"; drop column n.tag: {upper} values kept only as transformed into label"
    )
    assert rows.loc["0004_old.sql", "reason"] == (
        "3 rows changed, no cascade (1 more rewritten with the values they had)"
    )


DROPS = {
    "m/0001_t.sql": """CREATE TABLE "gauge readings" (
  id INTEGER PRIMARY KEY, level_m REAL,
  level_cm REAL GENERATED ALWAYS AS (level_m * 100) VIRTUAL,
  "note (free)" TEXT, legacy TEXT, unused TEXT);
CREATE TABLE logs (id INTEGER PRIMARY KEY, msg TEXT);
CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT, code TEXT);
INSERT INTO "gauge readings" (level_m, "note (free)", legacy)
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 57)
  SELECT i / 10.0, CASE WHEN i % 3 THEN 'n' || i END, 'L' || i FROM n;
INSERT INTO logs (msg) SELECT 'm' || id FROM "gauge readings" WHERE id % 4 = 0;
INSERT INTO sites (name, code) SELECT 's' || id, CASE WHEN id % 5 THEN 'c' || id END
  FROM "gauge readings" WHERE id <= 23;
""",
    "m/0002_virtual.sql": 'ALTER TABLE "gauge readings" DROP COLUMN level_cm;\n',
    "m/0003_notes.sql": 'ALTER TABLE "gauge readings" DROP COLUMN unused;\n'
    'ALTER TABLE "gauge readings" DROP COLUMN "note (free)";\n',
    "m/0004_copied.sql": 'ALTER TABLE "gauge readings" ADD COLUMN legacy_v2 TEXT;\n'
    'UPDATE "gauge readings" SET legacy_v2 = lower(legacy);\n'
    'ALTER TABLE "gauge readings" DROP COLUMN legacy;\n',
    "m/0005_logs.sql": "DROP TABLE logs;\n",
    "m/0006_sites.sql": "CREATE TABLE sites_new (id INTEGER PRIMARY KEY, name TEXT);\n"
    "INSERT INTO sites_new (id, name) SELECT id, name FROM sites;\n"
    "DROP TABLE sites;\nALTER TABLE sites_new RENAME TO sites;\n",
    "m/0007_renamed.sql": 'ALTER TABLE "gauge readings" RENAME TO readings_old;\n'
    'CREATE TABLE "gauge readings" (id INTEGER PRIMARY KEY, level_m REAL, legacy_v2 TEXT);\n'
    'INSERT INTO "gauge readings" SELECT * FROM readings_old;\nDROP TABLE readings_old;\n'
    "CREATE TABLE scratch AS SELECT id FROM sites;\nDROP TABLE scratch;\n",
    "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
}


def test_a_drop_loses_data_only_where_values_go_for_good(make_tree, tmp_path):
    """Stranger's project #11 dropped a VIRTUAL generated column and was told it "loses data"
    (with the table's name only), while a DROP TABLE of a populated table and a rebuild that
    leaves a column out were "safe". A drop now names each table and column whose values no
    earlier statement copied, with the count of values; figures from the sqlite3 module."""
    import sqlite3

    root = make_tree(DROPS)
    db = sqlite3.connect(":memory:")
    db.executescript(DROPS["m/0001_t.sql"])
    notes = db.execute('SELECT count("note (free)") FROM "gauge readings"').fetchone()[0]
    logs = db.execute("SELECT count(*) FROM logs").fetchone()[0]
    codes = db.execute("SELECT count(code) FROM sites").fetchone()[0]
    assert 0 < notes < 57 and logs and 0 < codes < 23  # NULLs are not values

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    rows = analyse_impact(snapshot, load_migration_dir(root / "m")).migrations.set_index("file")
    verdicts = rows["verdict"].to_dict()
    assert verdicts == {
        "0001_t.sql": "safe",
        "0002_virtual.sql": "safe",
        "0003_notes.sql": "loses data",
        "0004_copied.sql": "safe",
        "0005_logs.sql": "loses data",
        "0006_sites.sql": "loses data",
        "0007_renamed.sql": "safe",
    }
    assert rows.loc["0003_notes.sql", "reason"] == (
        f'drop column "gauge readings"."note (free)" ({notes} values)'
    )
    assert rows.loc["0005_logs.sql", "reason"] == f"drop table logs ({logs} rows)"
    assert rows.loc["0006_sites.sql", "reason"] == f"drop column sites.code ({codes} values)"


REBUILDS = {
    "m/0001_t.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\n"
    "INSERT INTO users (email, name) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
    "FROM n WHERE i < 40) SELECT CASE WHEN i % 7 = 0 THEN upper('u' || (i - 1)) ELSE 'u' || i "
    "END || '@x', CASE WHEN i % 5 THEN 'n' || i END FROM n;\n",
    # drizzle's rebuild adding a UNIQUE: OR IGNORE drops the duplicates without a word
    "m/0002_unique.sql": "PRAGMA foreign_keys=OFF;\n"
    "CREATE TABLE `__new_users` (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE "
    "COLLATE NOCASE, name TEXT);\n"
    'INSERT OR IGNORE INTO `__new_users`("id", "email", "name") SELECT "id", "email", "name" '
    "FROM `users`;\nDROP TABLE `users`;\nALTER TABLE `__new_users` RENAME TO `users`;\n"
    "PRAGMA foreign_keys=ON;\n",
    # a split: every row lands in one table or the other
    "m/0003_split.sql": "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\n"
    "CREATE TABLE users_archive (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\n"
    "INSERT INTO users_new SELECT * FROM users WHERE name IS NOT NULL;\n"
    "INSERT INTO users_archive SELECT * FROM users WHERE name IS NULL;\n"
    "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n",
    "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
}


def test_a_rebuild_that_leaves_rows_behind_loses_data(make_tree, tmp_path):
    """A rebuild adding a UNIQUE copied its rows with INSERT OR IGNORE (drizzle writes the
    copy as INSERT … SELECT; a hand-written OR IGNORE is the common way to get past the new
    constraint): the duplicates were dropped and the verdict was "safe". Rows of a dropped
    table whose key no table it was copied into holds are now lost data, counted; a split
    into two tables loses none. Figures from the sqlite3 module."""
    import sqlite3

    root = make_tree(REBUILDS)
    db = sqlite3.connect(":memory:")
    db.executescript(REBUILDS["m/0001_t.sql"])
    before = db.execute("SELECT count(*) FROM users").fetchone()[0]
    db.executescript(REBUILDS["m/0002_unique.sql"])
    kept = db.execute("SELECT count(*) FROM users").fetchone()[0]
    assert 0 < kept < before

    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    rows = analyse_impact(snapshot, load_migration_dir(root / "m")).migrations.set_index("file")
    assert rows.loc["0002_unique.sql", "verdict"] == "loses data"
    assert rows.loc["0002_unique.sql", "reason"] == (
        f"drop table users: {before - kept} of its {before} rows not copied to __new_users"
    )
    assert rows.loc["0003_split.sql", "verdict"] == "safe"


def test_values_a_rebuilds_copy_changes_are_transitions(make_tree, tmp_path):
    """Stranger's project #19: a drizzle rebuild lowercased `kind` in its INSERT … SELECT
    (for a new CHECK); impact said "Value transitions: (none)". The copy's changes are shown
    at the DROP TABLE, under the table's own name, row by row on its key, JSON by path;
    a column the copy keeps as it was shows none. Figures from the sqlite3 module."""
    import sqlite3

    files = {
        "m/0001_t.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, kind TEXT, doc TEXT, n INT);\n"
        "INSERT INTO a VALUES (1, 'Asset', '{\"k\":\"X\"}', 1), (2, 'asset', '{\"k\":\"y\"}', 2),"
        " (3, 'LIABILITY', '{\"k\":\"Z\"}', 3), (4, 'Asset', '{\"k\":\"x\"}', 4);\n",
        "m/0002_rebuild.sql": "CREATE TABLE `__new_a` (id INTEGER PRIMARY KEY, kind TEXT "
        "CHECK (kind = lower(kind)), doc TEXT, n INT);\n"
        "INSERT INTO `__new_a` SELECT id, lower(kind), json_set(doc, '$.k', lower(doc->>'k')), n "
        "FROM a;\nDROP TABLE a;\nALTER TABLE `__new_a` RENAME TO a;\n",
        "empty.sql": "PRAGMA defer_foreign_keys=TRUE;\n",
    }
    db = sqlite3.connect(":memory:")
    db.executescript(files["m/0001_t.sql"])
    before = dict(db.execute("SELECT id, kind FROM a").fetchall())
    db.executescript(files["m/0002_rebuild.sql"])
    after = dict(db.execute("SELECT id, kind FROM a").fetchall())
    moved = {}
    for key, kind in before.items():
        if after[key] != kind:
            moved[(kind, after[key])] = moved.get((kind, after[key]), 0) + 1
    root = make_tree(files)
    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    impact = analyse_impact(snapshot, load_migration_dir(root / "m"))
    rebuild = impact.transitions[impact.transitions["file"] == "0002_rebuild.sql"]
    assert set(rebuild["table"]) == {"a"} and set(rebuild["line"]) == {3}
    kind = rebuild[rebuild["column"] == "kind"]
    assert {(r.before, r.after): r.rows for r in kind.itertuples()} == moved
    doc = rebuild[rebuild["column"] == "doc"]
    assert {(r.path, r.before, r.after, r.rows) for r in doc.itertuples()} == {
        ("$.k", '"X"', '"x"', 1),
        ("$.k", '"Z"', '"z"', 1),
    }
    assert "n" not in set(rebuild["column"])


def test_tables_whose_columns_hide_the_rowid(tmp_path):
    """A column named `rowid` hides the rowid behind it: impact compared the rows it kept
    by that column (here text, NULL, repeated) and said "3 rows changed (-3 more rewritten
    with the values they had)" for a file that changes 5 (the sqlite3 module: 2 updated and
    1 deleted in t, 2 updated in u). The rowid is reached as `_rowid_` or `oid` then. A
    table hiding all three names, with no INTEGER PRIMARY KEY to stand for it, stopped the
    whole impact (stranger's project #22, a legacy `rowid` text column beside `oid` and
    `_rowid_`); its rows are now counted as SQLite counts them, with a note, and the other
    tables' figures stand (the sqlite3 module: 2 rows updated in h, 1 in k)."""
    import apsw

    db = tmp_path / "export.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute(
        'CREATE TABLE t ("rowid" TEXT, a INTEGER);'
        "INSERT INTO t VALUES ('x', 1), ('x', 2), ('y', 3), (NULL, 4);"
        "CREATE TABLE u (oid INTEGER, rowid TEXT, v INTEGER);"
        "INSERT INTO u VALUES (5, 'b', 1), (5, 'b', 2);"
    )
    conn.close()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001_change.sql").write_text(
        "UPDATE t SET a = a * 10 WHERE \"rowid\" = 'x';\nDELETE FROM t WHERE a = 3;\n"
        "UPDATE u SET v = v + 1;\n"
    )
    impact = analyse_impact(load_snapshot(db, tmp_path / "w"), load_migration_dir(tmp_path / "m"))
    row = impact.migrations.set_index("file").loc["0001_change.sql"]
    assert row["rows_changed"] == 5 and "more rewritten" not in row["reason"]

    hidden = tmp_path / "hidden.sqlite"
    conn = apsw.Connection(str(hidden))
    conn.execute("CREATE TABLE h (rowid TEXT, _rowid_ TEXT, oid TEXT, v INTEGER);")
    conn.execute("INSERT INTO h VALUES ('a', 'b', 'c', 1), ('a', 'b', 'c', 1), ('d', 'e', 'f', 5)")
    conn.execute("CREATE TABLE k (id INTEGER PRIMARY KEY, w TEXT);")
    conn.execute("INSERT INTO k VALUES (1, 'x'), (2, 'y')")
    conn.close()
    (tmp_path / "m2").mkdir()
    (tmp_path / "m2" / "0001_change.sql").write_text(
        "UPDATE h SET v = 2 WHERE v = 1;\nUPDATE k SET w = upper(w) WHERE id = 2;\n"
    )
    impact = analyse_impact(
        load_snapshot(hidden, tmp_path / "w2"), load_migration_dir(tmp_path / "m2")
    )
    row = impact.migrations.set_index("file").loc["0001_change.sql"]
    assert row["verdict"] == "safe" and row["rows_changed"] == 3
    (outcome,) = impact.result.outcomes
    assert any("rows of h are not followed one by one" in n for n in outcome.notes)
    assert impact.transitions[["table", "before", "after", "rows"]].values.tolist() == [
        ["k", "y", "Y", 1]
    ]


def _shouted(sql: str, tables: set[str], kind: str) -> str:
    """`sql` with its references to `tables` in capitals (every one in DML; in DDL only the
    name after TABLE, ON or EXISTS, so no column or new name changes)."""
    from sqlglot.tokens import TokenType

    from d1nb.formats.sql.text import TOKENIZER

    names = (TokenType.VAR, TokenType.IDENTIFIER)
    out, last = [], 0
    tokens = TOKENIZER.tokenize(sql)
    for i, t in enumerate(tokens):
        if t.token_type not in names or t.text.lower() not in tables:
            continue
        if kind not in ("update", "delete", "insert", "insert_select") and (
            i == 0 or tokens[i - 1].text.upper() not in ("TABLE", "ON", "EXISTS")
        ):
            continue
        quoted = t.token_type == TokenType.IDENTIFIER
        start, end = (t.start + 1, t.end) if quoted else (t.start, t.end + 1)
        out += [sql[last:start], sql[start:end].upper()]
        last = end
    return "".join(out) + sql[last:]


@pytest.mark.parametrize("service", ["api", "scores"])
def test_a_table_named_in_other_capitals_is_the_same_table(sample, tmp_path, service):
    """Stranger's project #21 wrote `ALTER TABLE PATIENTS`, `DELETE FROM PATIENTS` of table
    `Patients`: batch said PATIENTS was a WITHOUT ROWID table, and the model read the sample's
    `UPDATE SCORES` at 223 rows where `UPDATE scores` reads 143 (the query plan names a table
    as the statement writes it). The sample's migrations with every table reference in
    capitals judge, cost and transition exactly as written."""
    from d1nb.analyses.impact import statement_costs

    source = sample / "services" / service / "migrations"
    mdir = load_migration_dir(source)
    tables = {s.table.lower() for f in mdir.files for s in f.statements if s.table}
    shouted = tmp_path / "shouted"
    shouted.mkdir()
    changed = 0
    for f in mdir.files:
        text = f.text
        for s in reversed(f.statements):
            new = _shouted(s.sql, tables, s.kind)
            if new != s.sql and s.sql in text:
                changed += 1
                at = text.rindex(s.sql)
                text = text[:at] + new + text[at + len(s.sql) :]
        (shouted / f.name).write_text(text, encoding="utf-8")
    assert changed >= 10
    figures = []
    for folder in (source, shouted):
        snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path / "w")
        impact = analyse_impact(snapshot, load_migration_dir(folder))
        costs = statement_costs(impact).assign(table=lambda x: x["table"].str.lower())
        transitions = impact.transitions.assign(table=lambda x: x["table"].str.lower())
        verdicts = impact.migrations.drop(columns=["duration_ms"])
        figures.append((verdicts, costs, transitions))
    for ours, theirs in zip(*figures, strict=True):
        pd.testing.assert_frame_equal(ours, theirs)


def test_a_rebuild_that_lowers_an_autoincrement_counter_says_which_ids_come_again(tmp_path):
    """A drizzle rebuild copies the rows, and the new table's counter is the largest id left,
    not the old counter: ids of rows deleted at the end are given again (the sqlite3 module:
    the next row gets id 9, where the export gives 11). Impact said "safe" and nothing more;
    it names the ids. A rebuild without AUTOINCREMENT does the same; one that keeps the
    counter says nothing."""
    import sqlite3

    init = (
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);\n"
        "CREATE TABLE u (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);\n"
    )
    series = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {}) "
    rows = (
        f"INSERT INTO t (v) {series.format(10)} SELECT 'r' || n FROM s;"
        "DELETE FROM t WHERE id > 8;"
        f"INSERT INTO u (v) {series.format(5)} SELECT 'r' || n FROM s;"
    )

    def rebuild(table: str, auto: str) -> str:
        return (
            f"CREATE TABLE __new_{table} (id INTEGER PRIMARY KEY{auto}, v TEXT, w INTEGER);\n"
            f"INSERT INTO __new_{table} (id, v) SELECT id, v FROM {table};\n"
            f"DROP TABLE {table};\nALTER TABLE __new_{table} RENAME TO {table};\n"
        )

    db = tmp_path / "export.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(init + rows)
    conn.close()
    for auto in (" AUTOINCREMENT", ""):
        check = sqlite3.connect(":memory:")
        check.executescript(init + rows + rebuild("t", auto) + "INSERT INTO t (v) VALUES ('n');")
        assert check.execute("SELECT max(id) FROM t").fetchone()[0] == 9

        folder = tmp_path / f"m{len(auto)}"
        folder.mkdir()
        (folder / "0001_rebuild.sql").write_text(rebuild("t", auto) + rebuild("u", auto))
        snapshot = load_snapshot(db, tmp_path / f"w{len(auto)}")
        (row,) = analyse_impact(snapshot, load_migration_dir(folder)).migrations.itertuples()
        assert row.verdict == "safe"
        assert row.reason.endswith(
            "; t's AUTOINCREMENT counter falls from 10 to 8: ids 9–10, given to rows since "
            "deleted, will be given again"
        ), row.reason
        assert "u's" not in row.reason


def test_a_safe_verdict_names_the_rows_a_delete_deletes(make_tree, tmp_path):
    """Stranger's project #26 de-duplicated an audit table: "SAFE: 920 rows changed, no
    cascade", with nothing to say that all 920 were deleted. A DELETE is meant, and stays
    safe, but the reason names its line and the rows it deleted (the sqlite3 module's
    count)."""
    import sqlite3

    init = (
        "CREATE TABLE audit (actor TEXT, action TEXT, at INTEGER);\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 90) "
        "INSERT INTO audit SELECT 'a' || (i % 7), CASE WHEN i % 3 THEN 'x' END, i % 5 FROM q;\n"
    )
    delete = (
        "DELETE FROM audit WHERE rowid NOT IN "
        "(SELECT min(rowid) FROM audit GROUP BY actor, action, at)"
    )
    dedupe = f"/* keep the first of each */\n{delete};\nUPDATE audit SET at = 0 WHERE 0;\n"
    root = make_tree({"m/0001_t.sql": init, "m/0002_d.sql": dedupe, "empty.sql": EMPTY_EXPORT})
    db = sqlite3.connect(":memory:")
    db.executescript(init)
    deleted = db.execute(delete).rowcount
    assert 0 < deleted < 90
    snapshot = load_snapshot(root / "empty.sql", tmp_path / "w")
    row = analyse_impact(snapshot, load_migration_dir(root / "m")).migrations.iloc[1]
    assert row["verdict"] == "safe"
    said = f"{deleted:,} rows changed, no cascade; line 2 deletes {deleted:,} audit rows"
    assert row["reason"] == said
