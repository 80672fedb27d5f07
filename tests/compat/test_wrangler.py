"""d1nb against the real wrangler (pinned in node/), on the sample and the realworld fixtures.

Each test runs `wrangler d1 ... --local` (Cloudflare's workerd through Miniflare) on a copy of a
project and checks that d1nb, reading the same files, reaches the same result: schema, ledger,
failing file and its message, pending order, exports, and the data a migration leaves behind.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from realworld import write_realworld

from compat.wrangler import (
    STATE,
    copy_project,
    ledger_names,
    local_database,
    read_only_copy,
    run_driver,
    user_schema,
    wrangler,
)
from d1nb.analyses.batch_files import batch_migration, write_batches
from d1nb.analyses.batching import BATCHABLE, plan_batches
from d1nb.analyses.diff import compare_tables
from d1nb.analyses.replay import replay
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.dumpformat import write_dump
from d1nb.formats.migrations import parse_statements
from d1nb.inputs.dumploader import load_dump
from d1nb.inputs.history import load_history, pending_frame, status_frame
from d1nb.inputs.ledgers import read_ledger
from d1nb.inputs.snapshots import load_snapshot
from d1nb.problems import InputError
from tests.conftest import EMPTY_EXPORT

SAMPLE = Path(__file__).resolve().parent.parent.parent / "data" / "sample"
PENDING_ROW = re.compile(r"│ (\S+\.sql)\s+│")


def env_args(env: str | None) -> list[str]:
    return ["--env", env] if env else []


def project_copy(kind: str, target: Path) -> Path:
    if kind == "sample":
        return copy_project(SAMPLE, target)
    return write_realworld(target)


def replay_from_empty(root: Path, service: str, env: str | None, workdir: Path):
    """d1nb's `migrations apply` on an empty database: the pending files of the binding, in
    order, stopping at the first failure as wrangler does."""
    history = load_history(root, use_git=False)
    binding = history.binding(service, env)
    empty = workdir / "empty.sql"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text(EMPTY_EXPORT, encoding="utf-8")
    snapshot = load_snapshot(empty, workdir / "d1nb")
    mdir = history.migration_dirs[service]
    return replay(snapshot, mdir, ledger_table=binding.migrations_table), binding


@pytest.mark.parametrize(
    ("kind", "folder", "service", "binding", "env"),
    [
        ("sample", "services/api", "api", "DB", "production"),
        ("sample", "services/scores", "scores", "SCORES_DB", "production"),
        ("sample", "services/dictionary", "dictionary", "DICT", "production"),
        ("realworld", "apps/web", "web", "DB", "staging"),
        ("realworld", "services/jobs", "jobs", "DB", "production"),
        ("realworld", "services/legacy", "legacy", "DB", None),
        ("realworld", "services/bookshop", "bookshop", "SHOP", None),
        ("realworld", "services/library", "library", "LIB", "production"),
    ],
)
def test_apply_from_empty_matches_wrangler(tmp_path, kind, folder, service, binding, env):
    root = project_copy(kind, tmp_path / "project")
    cwd = root / folder
    run = wrangler(cwd, "d1", "migrations", "apply", binding, "--local", *env_args(env))
    ours, ours_binding = replay_from_empty(root, service, env, tmp_path / "work")

    theirs = read_only_copy(local_database(cwd), tmp_path / "theirs")
    applied = ledger_names(theirs, ours_binding.migrations_table)
    assert ours.stopped_at == run.failed_migration(applied), run.text
    if ours.stopped_at:
        error = next(o.error for o in ours.outcomes if not o.ok)
        assert run.reports(error), (error, run.errors())
    else:
        assert run.code == 0, run.text
    with read_only_copy(ours.after.path, tmp_path / "ours") as mine:
        assert user_schema(mine) == user_schema(theirs)
        table = ours_binding.migrations_table
        assert ledger_names(mine, table) == ledger_names(theirs, table)
        first = ours.outcomes[0].name
        assert ledger_names(theirs, table) or ours.stopped_at == first, "nothing applied"
    theirs.close()


def test_pattern_layout_matches_wrangler(tmp_path):
    """`migrations_pattern` (4.98): a glob from the config's folder starting with
    `migrations_dir`; files outside it are not migrations; the ledger names each file by its
    path inside the migrations folder. wrangler lists, applies and records exactly what d1nb
    reads and replays."""
    root = project_copy("realworld", tmp_path / "project")
    cwd = root / "services" / "pattern"
    listed = wrangler(cwd, "d1", "migrations", "list", "DB", "--local")
    assert listed.code == 0, listed.text
    history = load_history(root, use_git=False)
    names = [f.name for f in history.migration_dirs["pattern"].files]
    assert names == ["0001_init/migration.sql", "0002_more/migration.sql"]
    assert listed.to_apply() == names, listed.text
    applied = wrangler(cwd, "d1", "migrations", "apply", "DB", "--local")
    assert applied.code == 0, applied.text
    ours, _ = replay_from_empty(root, "pattern", None, tmp_path / "work")
    with read_only_copy(local_database(cwd), tmp_path / "theirs") as theirs:
        assert ledger_names(theirs, "d1_migrations") == names
        with read_only_copy(ours.after.path, tmp_path / "ours") as mine:
            assert user_schema(mine) == user_schema(theirs)
            assert ledger_names(mine, "d1_migrations") == names


def test_pattern_outside_migrations_dir_is_refused_by_wrangler_and_named_by_d1nb(tmp_path):
    """A 4.86-era pattern written inside the folder (`*/migration.sql`): wrangler 4.164 stops
    with an error; d1nb names the config and still reads the files as that pattern meant."""
    root = project_copy("realworld", tmp_path / "project")
    config = root / "services" / "pattern" / "wrangler.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            '"migrations/*/migration.sql"', '"*/migration.sql"'
        ),
        encoding="utf-8",
    )
    run = wrangler(config.parent, "d1", "migrations", "list", "DB", "--local")
    assert run.code != 0 and "must start with `migrations/`" in run.text, run.text
    history = load_history(root, use_git=False)
    assert any("does not start with migrations_dir" in p.message for p in history.problems)
    assert len(history.migration_dirs["pattern"].files) == 2


def test_pending_order_matches_wrangler_list(tmp_path):
    """Apply part of the jobs history, then add files (one numbered before applied ones, three
    sharing a number): `migrations list` and d1nb's pending list agree, in order."""
    root = project_copy("realworld", tmp_path / "project")
    migrations = root / "shared" / "migrations"
    held = tmp_path / "held"
    held.mkdir()
    for name in ("0005_columns.sql", "0008_a.sql", "0008_b.sql", "0008_c.sql"):
        shutil.move(migrations / name, held / name)
    cwd = root / "services" / "jobs"
    first = wrangler(cwd, "d1", "migrations", "apply", "DB", "--local", "--env", "production")
    assert first.code == 0, first.text
    for path in held.iterdir():
        shutil.move(path, migrations / path.name)
    (migrations / "0002_added_late.sql").write_text("SELECT 1;\n", encoding="utf-8")

    listed = wrangler(cwd, "d1", "migrations", "list", "DB", "--local", "--env", "production")
    theirs = PENDING_ROW.findall(listed.text)
    history = load_history(root, {("jobs", "production"): cwd / STATE}, use_git=False)
    pending = pending_frame(history)
    pending = pending[(pending.service == "jobs") & (pending.environment == "production")]
    assert pending["name"].tolist() == theirs
    assert theirs == [
        "0002_added_late.sql",
        "0005_columns.sql",
        "0008_a.sql",
        "0008_b.sql",
        "0008_c.sql",
    ]
    assert pending.set_index("name").loc["0002_added_late.sql", "out_of_order"]
    for suffix in (".txt", ".json", ".csv"):  # the list output itself, saved under any name
        saved = tmp_path / f"jobs.production{suffix}"
        saved.write_text(listed.out, encoding="utf-8")
        history = load_history(root, {("jobs", "production"): saved}, use_git=False)
        assert not [p for p in history.problems if "jobs.production" in p.path], suffix
        status = status_frame(history)
        status = status[(status.service == "jobs") & (status.environment == "production")]
        assert status[status.status == "pending"].sort_values("order")["name"].tolist() == theirs
        assert set(status.status) == {"applied", "pending"}, status


ODD_NUMBERS = [  # every way parseInt(name.split("_")[0]) orders differently from digits alone
    "1_one.sql",
    "0002_two.sql",
    "02_two_again.sql",
    "10_ten.sql",
    "0x3_hexadecimal_three.sql",
    "-1_minus_one.sql",
    "1e9_one_not_a_billion.sql",
    "9999999999999999999999_just_under.sql",
    "10000000000000000000001_just_over.sql",
]


def test_order_of_odd_numbers_matches_wrangler(tmp_path):
    """Mixed widths, hexadecimal, a sign, an exponent and numbers past 2^53 (which round to
    the same float and then keep wrangler's name order): d1nb's order is the order
    `migrations apply` applies them in (its ledger's ids), and since 4.80 `migrations list`
    shows them in that order too (4.86 listed them in plain name order)."""
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "wrangler.toml").write_text(
        'name = "odd"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "odd"\n'
        'database_id = "1"\n',
        encoding="utf-8",
    )
    for name in ODD_NUMBERS:
        (root / "migrations" / name).write_text("SELECT 1;\n", encoding="utf-8")
    listed = wrangler(root, "d1", "migrations", "list", "DB", "--local")
    applied = wrangler(root, "d1", "migrations", "apply", "DB", "--local")
    assert applied.code == 0, applied.text
    with read_only_copy(local_database(root), tmp_path / "theirs") as theirs:
        order = ledger_names(theirs, "d1_migrations")
    assert sorted(order) == sorted(ODD_NUMBERS)
    history = load_history(root, use_git=False)
    assert [f.name for f in history.migration_dirs["odd"].files] == order
    assert listed.to_apply() == order, listed.text


@pytest.fixture(scope="module")
def api_state(tmp_path_factory) -> Path:
    """The sample api service with its `before` export executed into wrangler's local state."""
    root = copy_project(SAMPLE, tmp_path_factory.mktemp("api") / "project")
    cwd = root / "services" / "api"
    export = root / "exports" / "api" / "before.sql"
    run = wrangler(
        cwd, "d1", "execute", "DB", "--local", "--env", "production", "--file", str(export)
    )
    assert run.code == 0, run.text
    return root


def test_wrangler_reads_our_export_as_we_do(api_state, tmp_path):
    """The sample's export, executed by wrangler, is the same data d1nb loads from the file."""
    state = api_state / "services" / "api" / STATE
    ours = load_snapshot(api_state / "exports" / "api" / "before.sql", tmp_path / "dump")
    theirs = load_snapshot(state, tmp_path / "state")
    assert ours.row_counts == theirs.row_counts
    assert compare_tables(ours, theirs).equal


EXPORT_OPTIONS = {
    "whole": ([], {}),
    "tables": (["--table", "users", "--table", "sync_data"], {"tables": ["users", "sync_data"]}),
    "no-data": (["--no-data"], {"no_data": True}),
    "no-schema": (["--no-schema"], {"no_schema": True}),
}


@pytest.mark.parametrize("variant", list(EXPORT_OPTIONS))
def test_wrangler_exports_load_like_local_state(api_state, tmp_path, variant):
    """Each `wrangler d1 export` variant: d1nb writes the same bytes from the same database,
    and loads the export with the same tables, row counts and values as the local state."""
    options, dump_options = EXPORT_OPTIONS[variant]
    cwd = api_state / "services" / "api"
    out = tmp_path / "export.sql"
    run = wrangler(
        cwd, "d1", "export", "DB", "--local", "--env", "production", "--output", str(out), *options
    )
    assert run.code == 0, run.text
    with read_only_copy(local_database(cwd), tmp_path / "copy") as conn:
        ours = write_dump(conn, tmp_path / "ours.sql", **dump_options)
    assert ours.read_bytes() == out.read_bytes()
    history = load_history(api_state, use_git=False)
    exported = load_snapshot(out, tmp_path / "export", schema=history.migration_dirs["api"])
    state = load_snapshot(cwd / STATE, tmp_path / "state")
    tables = ["users", "sync_data"] if "--table" in options else sorted(state.row_counts)
    if "--no-data" in options:
        assert exported.row_counts == dict.fromkeys(tables, 0)
        return
    assert exported.row_counts == {t: state.row_counts[t] for t in tables}
    diff = compare_tables(state, exported, tables=tables)
    assert all(diff.tables[t].equal for t in tables), diff.summary()


def test_json_output_parses(api_state, tmp_path):
    """`wrangler d1 execute --json` output: the ledger as README tells users to save it, and a
    table read back as a snapshot."""
    cwd = api_state / "services" / "api"
    state = load_snapshot(cwd / STATE, tmp_path / "state")
    ledger = tmp_path / "api.production.json"
    run = wrangler(
        cwd,
        *("d1", "execute", "DB", "--local", "--env", "production", "--json"),
        *("--command", "SELECT * FROM d1_migrations ORDER BY id"),
    )
    assert run.code == 0, run.text
    ledger.write_text(run.out, encoding="utf-8")
    names = read_ledger(ledger).applied["name"].tolist()
    assert names == read_ledger(cwd / STATE).applied["name"].tolist()
    assert names[:8] == [f.name for f in load_history(api_state).migration_dirs["api"].files[:8]]

    rows = tmp_path / "sync_data.json"
    run = wrangler(
        cwd,
        *("d1", "execute", "DB", "--local", "--env", "production", "--json"),
        *("--command", "SELECT * FROM sync_data"),
    )
    assert run.code == 0, run.text
    rows.write_text(run.out, encoding="utf-8")
    assert len(json.loads(run.out)[0]["results"]) == state.row_counts["sync_data"]
    history = load_history(api_state, use_git=False)
    loaded = load_snapshot(
        rows, tmp_path / "json", table="sync_data", schema=history.migration_dirs["api"]
    )
    assert compare_tables(state, loaded, tables=["sync_data"]).tables["sync_data"].equal


@pytest.mark.parametrize(
    ("service", "binding", "expect_failure"),
    [("api", "DB", None), ("scores", "SCORES_DB", "0016_add_scores_updated_at.sql")],
)
def test_pending_migrations_on_real_data_match_wrangler(tmp_path, service, binding, expect_failure):
    """The sample's hazards on its `before` exports: api 0011's rebuild under
    `foreign_keys=OFF` empties goal_progress by cascade, scores 0016's ADD COLUMN fails on the
    populated table. d1nb's replay leaves exactly the data wrangler leaves."""
    root = copy_project(SAMPLE, tmp_path / "project")
    cwd = root / "services" / service
    export = root / "exports" / service / "before.sql"
    env = ["--local", "--env", "production"]
    loaded = wrangler(cwd, "d1", "execute", binding, *env, "--file", str(export))
    assert loaded.code == 0, loaded.text
    run = wrangler(cwd, "d1", "migrations", "apply", binding, *env)

    history = load_history(root, use_git=False)
    before = load_snapshot(export, tmp_path / "before", schema=history.migration_dirs[service])
    ours = replay(before, history.migration_dirs[service], service=service)
    with read_only_copy(local_database(cwd), tmp_path / "applied") as conn:
        applied = ledger_names(conn, "d1_migrations")
    assert ours.stopped_at == run.failed_migration(applied) == expect_failure, run.text
    if expect_failure:
        error = next(o.error for o in ours.outcomes if not o.ok)
        assert run.reports(error), (error, run.errors())

    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")
    assert ours.after.row_counts == theirs.row_counts
    data = sorted(t for t in theirs.row_counts if t != "d1_migrations")
    diff = compare_tables(ours.after, theirs, tables=data)
    assert diff.equal, (diff.schema, diff.summary())
    with read_only_copy(local_database(cwd), tmp_path / "ledger") as conn:
        assert ledger_names(conn, "d1_migrations") == [
            r[1]
            for r in read_only_copy(ours.after.path, tmp_path / "ours").execute(
                "SELECT id, name FROM d1_migrations ORDER BY id"
            )
        ]
    if service == "api":
        lost = ours.cascades().groupby(["child", "action"])["rows"].sum()
        assert lost.loc[("goal_progress", "deleted")] == before.row_counts["goal_progress"] > 0
        assert theirs.row_counts["goal_progress"] == 0


def test_batch_files_run_in_wrangler_as_planned(api_state, tmp_path):
    """The batches d1nb writes for api 0011's copy into goals_new (WITH … INSERT … SELECT …
    WHERE NOT EXISTS) and for 0010's JSON backfill (rowid ranges), run one by one with
    `wrangler d1 execute --file`, then all again: the same data as the unbatched statements."""
    root = tmp_path / "project"
    shutil.copytree(api_state, root)
    cwd = root / "services" / "api"
    env = ["--local", "--env", "production"]
    history = load_history(root, use_git=False)
    files = {f.name: f for f in history.migration_dirs["api"].files}
    rebuild = files["0011_goals_add_category.sql"].statements
    create = next(s for s in rebuild if s.kind == "create_table")
    backfill = files["0010_lowercase_sync_moods.sql"].statements
    before = load_snapshot(cwd / STATE, tmp_path / "before")
    expected = tmp_path / "expected.sqlite"
    shutil.copyfile(before.path, expected)
    with D1Engine(expected) as engine:
        for s in [*backfill, create, *[s for s in rebuild if s.kind == "insert_select"]]:
            engine.run_statement(s)

    sql = tmp_path / "create.sql"
    sql.write_text(create.sql, encoding="utf-8")
    assert wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(sql)).code == 0
    written = []
    for name, out in (
        ("0010_lowercase_sync_moods.sql", "b10"),
        ("0011_goals_add_category.sql", "b11"),
    ):
        with_create = before.path.parent / f"{out}.sqlite"
        shutil.copyfile(before.path, with_create)
        with D1Engine(with_create) as engine:
            engine.run_statement(create)
        results = batch_migration(
            with_create, [s for s in files[name].statements if s.kind in BATCHABLE], tmp_path / out
        )
        assert [r.error for r in results] == [""]
        written += results[0].files
    assert len(written) >= 3
    for path in written + written:
        run = wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(path))
        assert run.code == 0, run.text
    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")
    ours = load_snapshot(expected, tmp_path / "ours")
    diff = compare_tables(ours, theirs, tables=["goals_new", "sync_data"])
    assert diff.equal, diff.summary()


GROWTH = (
    "INSERT INTO sync_data (user_id, entity_type, entity_id, data, updated_at) "
    "SELECT user_id, entity_type, entity_id || '-new', data, updated_at FROM sync_data "
    "WHERE id <= 700"
)
SOFT_DELETE = (
    "UPDATE sync_data SET deleted_at = '2025-06-01' "
    "WHERE deleted_at IS NULL AND entity_type = 'logbook_entry';"
)


def test_driver_batches_rows_added_since_the_export(api_state, tmp_path):
    """run_batches.sh, run by sh with the pinned wrangler against a database that has grown by
    700 rows since the export: 0010's rowid ranges go on past the export's last rowid and the
    self-excluding soft delete repeats its LIMIT batch; the data ends as the unbatched
    statements leave it."""
    root = tmp_path / "project"
    shutil.copytree(api_state, root)
    cwd = root / "services" / "api"
    env = ["--local", "--env", "production"]
    export = load_snapshot(cwd / STATE, tmp_path / "export")
    backfill = (root / "services/api/migrations/0010_lowercase_sync_moods.sql").read_text()
    outs = {}
    for name, sql, mode in (("b10", backfill, "range"), ("soft", SOFT_DELETE, "limit")):
        plan = plan_batches(export.path, sql, sizes=(50, 100, 200), repeats=1)
        assert plan.mode == mode
        write_batches(plan, export.path, tmp_path / name, size=300)
        outs[name] = tmp_path / name
    assert wrangler(cwd, "d1", "execute", "DB", *env, "--command", GROWTH).code == 0
    grown = load_snapshot(cwd / STATE, tmp_path / "grown")
    assert grown.row_counts["sync_data"] == export.row_counts["sync_data"] + 700
    expected = tmp_path / "expected.sqlite"
    shutil.copyfile(grown.path, expected)
    with D1Engine(expected) as engine:
        for sql in (backfill, SOFT_DELETE):
            engine.run_statement(parse_statements(sql)[0])

    for name, marker in (("b10", "added since the export"), ("soft", "again")):
        run = run_driver(cwd, outs[name] / "run_batches.sh", *env)
        assert run.code == 0, run.text
        assert marker in run.out, run.out
    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")
    ours = load_snapshot(expected, tmp_path / "ours")
    assert compare_tables(ours, theirs, tables=["sync_data"]).equal


CHILD_REBUILD = """-- depth becomes NOT NULL: the table rebuilt
PRAGMA defer_foreign_keys = true;
CREATE TABLE reading_new (id INTEGER PRIMARY KEY,
  station INTEGER NOT NULL REFERENCES "station's"(id) ON DELETE CASCADE,
  depth REAL NOT NULL DEFAULT 0);
INSERT INTO reading_new (id, station, depth) SELECT id, station, coalesce(depth, 0) FROM reading;
DROP TABLE reading;
ALTER TABLE reading_new RENAME TO reading;
CREATE INDEX reading_station ON reading(station);
PRAGMA defer_foreign_keys = false;
"""


def test_a_rebuild_split_around_its_batches_applies_with_wrangler(tmp_path):
    """Stranger's project #41, with the pinned wrangler: a rebuild's INSERT … SELECT batched,
    its file replaced by part_1.sql and applied (`migrations apply`), the batches run by
    run_batches.sh (two rows inserted since the export among them), part_2.sql applied as
    the next migration: the table is what the unbatched file leaves."""
    root = tmp_path / "tidepool"
    (root / "migrations").mkdir(parents=True)
    (root / "wrangler.jsonc").write_text(
        '// comments too\n{"name": "tidepool", "d1_databases": [{"binding": "DB", '
        '"database_name": "tidepool", "database_id": "0b9d7c57-aaaa-4bbb-8ccc-123456789abc"}]}'
    )
    (root / "migrations" / "0001_init.sql").write_text(
        'CREATE TABLE "station\'s" (id INTEGER PRIMARY KEY, label TEXT NOT NULL);\n'
        "CREATE TABLE reading (id INTEGER PRIMARY KEY, station INTEGER NOT NULL "
        'REFERENCES "station\'s"(id) ON DELETE CASCADE, depth REAL);\n'
    )
    assert wrangler(root, "d1", "migrations", "apply", "DB", "--local").code == 0
    seed = (
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 4000) "
        "INSERT INTO \"station's\" SELECT i, 's' || i FROM k WHERE i <= 40; "
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 4000) "
        "INSERT INTO reading SELECT i, 1 + i % 40, CASE WHEN i % 7 THEN i / 8.0 END FROM k;"
    )
    assert wrangler(root, "d1", "execute", "DB", "--local", "--command", seed).code == 0
    export = load_snapshot(root / STATE, tmp_path / "export")
    (root / "migrations" / "0002_rebuild.sql").write_text(CHILD_REBUILD)
    history = load_history(root, use_git=False)
    statements = history.migration_dirs["tidepool"].files[1].statements
    out = tmp_path / "batches"
    (result,) = batch_migration(
        export.path, statements, out, file="0002_rebuild.sql", max_rows_written=1000
    )
    assert not result.error and result.files
    late = "INSERT INTO reading VALUES (4001, 3, NULL), (4002, 4, 1.5)"
    assert wrangler(root, "d1", "execute", "DB", "--local", "--command", late).code == 0
    expected = tmp_path / "expected.sqlite"
    shutil.copyfile(load_snapshot(root / STATE, tmp_path / "grown").path, expected)
    with D1Engine(expected) as engine:
        assert engine.apply_migration("0002_rebuild.sql", statements).ok

    shutil.copyfile(out / "part_1.sql", root / "migrations" / "0002_rebuild.sql")
    assert wrangler(root, "d1", "migrations", "apply", "DB", "--local").code == 0
    run = run_driver(root, out / "run_batches.sh", "--local")
    assert run.code == 0 and "added since the export" in run.out, run.text
    shutil.copyfile(out / "part_2.sql", root / "migrations" / "0003_rebuild_finish.sql")
    applied = wrangler(root, "d1", "migrations", "apply", "DB", "--local")
    assert applied.code == 0, applied.text
    theirs = load_snapshot(root / STATE, tmp_path / "theirs")
    ours = load_snapshot(expected, tmp_path / "ours")
    diff = compare_tables(ours, theirs, tables=["reading", "station's"])
    assert diff.equal and theirs.row_counts["reading"] == 4002, diff.summary()


def test_driver_paced_a_day_at_a_time(api_state, tmp_path):
    """The Free plan's pacing: D1NB_MAX_BATCHES=2 stops the driver after two batches; run
    again, it skips what done.txt lists and goes on, until the data is what the unbatched
    statement leaves, each batch having run once."""
    root = tmp_path / "project"
    shutil.copytree(api_state, root)
    cwd = root / "services" / "api"
    env = ["--local", "--env", "production"]
    export = load_snapshot(cwd / STATE, tmp_path / "export")
    backfill = (root / "services/api/migrations/0010_lowercase_sync_moods.sql").read_text()
    plan = plan_batches(export.path, backfill, sizes=(50, 100, 200), repeats=1)
    files = write_batches(plan, export.path, tmp_path / "paced", size=300)
    assert len(files) >= 4
    expected = tmp_path / "expected.sqlite"
    shutil.copyfile(export.path, expected)
    with D1Engine(expected) as engine:
        engine.run_statement(parse_statements(backfill)[0])
    runs = 0
    while True:
        runs += 1
        run = run_driver(
            cwd, tmp_path / "paced" / "run_batches.sh", *env, env={"D1NB_MAX_BATCHES": "2"}
        )
        assert run.code == 0, run.text
        done = (tmp_path / "paced" / "done.txt").read_text().split()
        assert len(done) == min(2 * runs, len(files)) and len(set(done)) == len(done)
        if "run it again" not in run.out:
            break
        assert runs < len(files), run.text
    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")
    assert compare_tables(
        load_snapshot(expected, tmp_path / "ours"), theirs, tables=["sync_data"]
    ).equal


def test_local_execute_file_still_cascades_like_apply(tmp_path):
    """`wrangler d1 execute --file` of the api rebuild (0011, under PRAGMA foreign_keys=OFF) on
    the local state: Miniflare still deletes goal_progress by cascade, as `migrations apply`
    does, so locally d1nb's default path (`--via apply`) is what wrangler does. Remotely,
    Cloudflare states the pragma takes effect (`--via execute-file`; docs/compat.md)."""
    root = copy_project(SAMPLE, tmp_path / "project")
    cwd = root / "services" / "api"
    export = root / "exports" / "api" / "before.sql"
    env = ["--local", "--env", "production"]
    assert wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(export)).code == 0
    migration = cwd / "migrations" / "0011_goals_add_category.sql"
    for name in ("0009_repertoire_status_v2.sql", "0010_lowercase_sync_moods.sql"):
        run = wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(cwd / "migrations" / name))
        assert run.code == 0, run.text
    run = wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(migration))
    assert run.code == 0, run.text
    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")

    history = load_history(root, use_git=False)
    mdir = history.migration_dirs["api"]
    before = load_snapshot(export, tmp_path / "before", schema=mdir)
    names = [f.name for f in mdir.files if f.name.startswith(("0009", "0010", "0011"))]
    applied = replay(before, mdir, names, workdir=tmp_path / "apply")
    remote = replay(before, mdir, names, workdir=tmp_path / "execute", via="execute-file")
    assert theirs.row_counts["goal_progress"] == applied.after.row_counts["goal_progress"] == 0
    assert remote.after.row_counts["goal_progress"] == 1100
    data = sorted(t for t in theirs.row_counts if t != "d1_migrations")
    assert compare_tables(applied.after, theirs, tables=data).equal


def test_drafted_rollback_restores_the_data_through_wrangler(tmp_path):
    """api 0011's rebuild applied by `migrations apply` on the local state (its cascade empties
    goal_progress), then d1nb's drafted compensating files run by their run_rollback.sh
    (`execute --file` each; run again, it runs none): every table but the ledger holds what
    the export held, as in d1nb's own round trip; forget_migration.sql makes the last file
    pending again."""
    from d1nb.analyses.rollback import verify_rollbacks

    root = copy_project(SAMPLE, tmp_path / "project")
    cwd = root / "services" / "api"
    export = root / "exports" / "api" / "before.sql"
    env = ["--local", "--env", "production"]
    assert wrangler(cwd, "d1", "execute", "DB", *env, "--file", str(export)).code == 0
    applied = wrangler(cwd, "d1", "migrations", "apply", "DB", *env)
    assert applied.code == 0, applied.text
    checks = verify_rollbacks(root, "api", "exports/api/before.sql", draft_to=tmp_path / "drafts")
    assert [c.draft_verdict for c in checks][-1] in ("restores everything", "schema differs")
    for check in reversed(checks):  # undo 0011, then 0010, then 0009, each by its driver
        driver = check.draft[0].parent / "run_rollback.sh"
        run = run_driver(cwd, driver, *env)
        assert run.code == 0, run.text
        assert run.out.count("executed successfully") == len(check.draft), run.text
        again = run_driver(cwd, driver, *env)  # resumed: every file already ran
        assert again.code == 0 and "executed successfully" not in again.out, again.text
    last = checks[-1]
    forget = last.draft[0].parent / "forget_migration.sql"
    assert wrangler(cwd, "d1", "execute", "DB", *env, "--yes", "--file", str(forget)).code == 0
    listed = wrangler(cwd, "d1", "migrations", "list", "DB", *env)
    assert last.file in listed.text, listed.text  # pending again
    theirs = load_snapshot(cwd / STATE, tmp_path / "theirs")
    before = load_snapshot(export, tmp_path / "before")
    data = sorted(t for t in before.row_counts if t != "d1_migrations")
    assert theirs.row_counts["goal_progress"] == before.row_counts["goal_progress"] == 1100
    diff = compare_tables(before, theirs, tables=data)
    assert all(t.equal for t in diff.tables.values()), diff.summary()  # every row and value


def test_wrangler_export_rounds_integers_past_2_53_and_d1nb_says_so(tmp_path):
    """`wrangler d1 export` writes numbers through JavaScript: 2^62 leaves as
    4611686018427388000, 2^53 + 1 as 2^53, 2^63 - 1 as a REAL. d1nb's load of that export
    says so (both readers, and `--json` output alike); the local state and d1nb's own export
    of it hold the exact integers and say nothing."""
    cwd = tmp_path / "svc"
    (cwd / "migrations").mkdir(parents=True)
    (cwd / "wrangler.toml").write_text(
        'name = "svc"\ncompatibility_date = "2025-06-01"\n[[d1_databases]]\nbinding = "DB"\n'
        'database_name = "svc"\ndatabase_id = "00000000-0000-0000-0000-00000000d1d1"\n',
        encoding="utf-8",
    )
    (cwd / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE members (id INTEGER PRIMARY KEY, discord_id INTEGER NOT NULL);\n"
        f"INSERT INTO members VALUES (1, {2**62}), (2, {2**53 + 1}), (3, {2**63 - 1}), (4, 7);\n",
        encoding="utf-8",
    )
    assert wrangler(cwd, "d1", "migrations", "apply", "DB", "--local").code == 0
    out = tmp_path / "export.sql"
    run = wrangler(cwd, "d1", "export", "DB", "--local", "--output", str(out))
    assert run.code == 0, run.text
    assert "VALUES(1,4611686018427388000)" in out.read_text(encoding="utf-8")
    for reader in ("auto", "exact"):
        notes = load_dump(out, tmp_path / reader, reader=reader).notes
        # 2^62, 2^53 + 1 (written as 2^53, which it was not) and 2^63 - 1 (written as
        # 9223372036854776000, past int64, so a REAL in an INTEGER column)
        assert any("3 integer(s) of ±2^53 or more in members.discord_id (3)" in n for n in notes), (
            notes
        )
    with read_only_copy(local_database(cwd), tmp_path / "copy") as conn:
        assert conn.execute("SELECT discord_id FROM members WHERE id = 1").fetchall() == [(2**62,)]
        ours = write_dump(conn, tmp_path / "ours.sql")
    assert not load_snapshot(ours, tmp_path / "ours").notes
    assert not load_snapshot(cwd / STATE, tmp_path / "state").notes
    json_out = tmp_path / "rows.json"
    run = wrangler(
        cwd, "d1", "execute", "DB", "--local", "--json", "--command", "SELECT * FROM members"
    )
    assert run.code == 0, run.text
    json_out.write_text(run.out, encoding="utf-8")
    notes = load_snapshot(json_out, tmp_path / "json", table="members").notes
    # `--json` declares no column types: the REAL 2^63 may have been a REAL, so is not counted
    assert any("2 integer(s) of ±2^53 or more in members.discord_id" in n for n in notes), notes


def test_project_19s_exports_load_as_wrangler_wrote_them(tmp_path):
    """Stranger's project #19 (a ledger named in the config, snowflake keys, receipts as
    BLOBs, an immutability trigger), each export wrangler writes of it: `--no-schema` loads
    with the ledger's own name and the trigger, so a replay fails where wrangler fails;
    `--json` BLOBs (printed as `[137, 80]`) read back as BLOBs; an export whose snowflake
    keys JavaScript rounded into one is refused by wrangler itself and explained by d1nb."""
    cwd = tmp_path / "svc"
    (cwd / "migrations").mkdir(parents=True)
    (cwd / "wrangler.toml").write_text(
        'name = "svc"\ncompatibility_date = "2025-06-01"\n[[d1_databases]]\nbinding = "DB"\n'
        'database_name = "svc"\ndatabase_id = "00000000-0000-0000-0000-00000000d119"\n'
        'migrations_table = "__drizzle_migrations"\n',
        encoding="utf-8",
    )
    (cwd / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount REAL, posted INTEGER, "
        "receipt BLOB);\n"
        "CREATE TRIGGER immutable BEFORE UPDATE OF amount ON entries WHEN OLD.posted = 1\n"
        "BEGIN SELECT RAISE(ABORT, 'posted entries are immutable'); END;\n"
        "INSERT INTO entries VALUES (1, 3.14159, 1, X'89504E47'), (2, 2.5, 0, X''), "
        "(3, 1.005, 0, NULL);\n",
        encoding="utf-8",
    )
    assert wrangler(cwd, "d1", "migrations", "apply", "DB", "--local").code == 0
    data = tmp_path / "data.sql"
    assert (
        wrangler(cwd, "d1", "export", "DB", "--local", "--no-schema", "--output", str(data)).code
        == 0
    )
    rows = tmp_path / "rows.json"
    run = wrangler(
        cwd, "d1", "execute", "DB", "--local", "--json", "--command", "SELECT * FROM entries"
    )
    assert run.code == 0 and "[137, 80, 78, 71]" in run.out, run.text
    rows.write_text(run.out, encoding="utf-8")
    (cwd / "migrations" / "0002_round.sql").write_text(
        "UPDATE entries SET amount = round(amount, 2);\n", encoding="utf-8"
    )
    history = load_history(tmp_path, use_git=False)
    mdir = history.migration_dirs["svc"]
    state = load_snapshot(cwd / STATE, tmp_path / "state")
    from_json = load_snapshot(rows, tmp_path / "json", table="entries", schema=mdir)
    assert compare_tables(state, from_json, tables=["entries"]).tables["entries"].equal
    from_data = load_snapshot(data, tmp_path / "data", schema=mdir)
    assert from_data.row_counts == {"__drizzle_migrations": 1, "entries": 3}
    ours = replay(from_data, mdir, workdir=tmp_path / "replay", ledger_table="__drizzle_migrations")
    theirs = wrangler(cwd, "d1", "migrations", "apply", "DB", "--local")
    assert "posted entries are immutable" in theirs.text
    (outcome,) = ours.outcomes
    assert outcome.name == "0002_round.sql" and "posted entries are immutable" in outcome.error

    (cwd / "migrations" / "0002_round.sql").unlink()
    (cwd / "migrations" / "0003_ids.sql").write_text(
        f"INSERT INTO entries (id, amount) VALUES ({2**62 + 1}, 1), ({2**62 + 2}, 2);\n",
        encoding="utf-8",
    )
    assert wrangler(cwd, "d1", "migrations", "apply", "DB", "--local").code == 0
    dump = tmp_path / "all.sql"
    assert wrangler(cwd, "d1", "export", "DB", "--local", "--output", str(dump)).code == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "wrangler.toml").write_text(
        (cwd / "wrangler.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    refused = wrangler(fresh, "d1", "execute", "DB", "--local", "--file", str(dump))
    assert refused.code != 0 and "UNIQUE constraint failed: entries.id" in refused.text
    with pytest.raises(InputError, match=r"UNIQUE constraint failed: entries\.id: the row holds "):
        load_snapshot(dump, tmp_path / "rounded")


def _hostile_rows(seed: int, rows: int) -> str:
    """INSERTs of values chosen to break a reader: integers at every limit, -0.0 and 1e308,
    quotes, newlines, CRLF, NUL-free control characters, `);` and `--` inside strings,
    emoji, U+2028, BLOBs, and values of every storage class in untyped columns."""
    import random

    rng = random.Random(seed)
    pieces = ["a", "'", '"', "\n", "\r\n", "\t", "é", "🐦", "\\", ");", "INSERT INTO x VALUES(1);"]
    pieces += ["--", "/*", "*/", " ", "NULL", "0x10", "1e5", "\u2028", "\x01"]
    ints = [0, -1, 2**31, -(2**31), 2**53 - 1, 2**53 + 1, 2**62, -(2**63), 2**63 - 1, 12345]
    reals = [0.0, -0.0, 1.5, 1e308, -1e-308, 0.1 + 0.2, 1e15 + 0.3, 123456789.123456789]

    def value(kind: str) -> str:
        if rng.random() < 0.08:
            return "NULL"
        if kind == "any":
            kind = rng.choice(["int", "real", "text", "blob"])
        if kind == "int":
            return str(rng.choice(ints))
        if kind == "real":
            return repr(rng.choice(reals))
        if kind == "blob":
            return "X'" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 9))).hex() + "'"
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        return "'" + text.replace("'", "''") + "'"

    kinds = ["int", "real", "text", "blob", "any", "any"]
    lines = [
        'CREATE TABLE "we\'ird t" (id INTEGER PRIMARY KEY, c0 INTEGER, c1 REAL, c2 TEXT, '
        "c3 BLOB, c4 NUMERIC, c5);"
    ]
    for i in range(1, rows + 1):
        values = ", ".join(value(k) for k in kinds)
        lines.append(f'INSERT INTO "we\'ird t" VALUES ({i}, {values});')
    return "\n".join(lines) + "\n"


HOSTILE_CHANGES = (
    "UPDATE \"we'ird t\" SET c2 = c2 || 'x' WHERE id % 7 = 0;\n"
    'UPDATE "we\'ird t" SET c1 = -c1 WHERE id % 11 = 0;\n'
    'UPDATE "we\'ird t" SET c3 = NULL WHERE id % 13 = 0;\n'
    'UPDATE "we\'ird t" SET c5 = CAST(c5 AS TEXT) WHERE id % 17 = 0;\n'
    'DELETE FROM "we\'ird t" WHERE id % 19 = 0;\n'
    "INSERT INTO \"we'ird t\" (id, c0, c2) VALUES (1001, 5, 'new'), (1002, NULL, NULL);\n"
)


@pytest.mark.parametrize("seed", [1, 2])
def test_hostile_values_through_wrangler_export_load_and_diff_exactly(tmp_path, seed):
    """Values chosen to break a reader go into a local D1 by `wrangler d1 execute --file`
    and out by `wrangler d1 export`. `d1nb load` of the export holds, in DuckDB, every value
    SQLite itself reads from the export (row counts verified; the sqlite3 module as the
    independent reader), and `d1nb diff` of two exports counts the rows added, removed and
    changed, and the changes per column, as SQL over the two loaded by SQLite does (a value
    whose storage class changed is a change)."""
    import contextlib
    import io
    import sqlite3
    import struct

    import duckdb

    from d1nb.presentation.cli import main

    cwd = tmp_path / "svc"
    cwd.mkdir()
    (cwd / "wrangler.toml").write_text(
        'name = "svc"\ncompatibility_date = "2025-06-01"\n[[d1_databases]]\nbinding = "DB"\n'
        'database_name = "svc"\ndatabase_id = "00000000-0000-0000-0000-0000000f022d"\n',
        encoding="utf-8",
    )
    dumps = []
    for step, sql in (("before", _hostile_rows(seed, 150)), ("after", HOSTILE_CHANGES)):
        (tmp_path / f"{step}_in.sql").write_text(sql, encoding="utf-8")
        run = wrangler(
            cwd, "d1", "execute", "DB", "--local", "--file", str(tmp_path / f"{step}_in.sql")
        )
        assert run.code == 0, run.text
        dumps.append(tmp_path / f"{step}.sql")
        run = wrangler(cwd, "d1", "export", "DB", "--local", "--output", str(dumps[-1]))
        assert run.code == 0, run.text

    def sqlite_of(dump: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(":memory:")
        conn.executescript(dump.read_text(encoding="utf-8"))
        return conn

    def comparable(v: object) -> tuple:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return ("blob", bytes(v))
        if isinstance(v, float):
            return ("real", struct.pack(">d", v))  # -0.0 is not 0.0
        return (type(v).__name__, v)

    table = '"we\'ird t"'
    before = sqlite_of(dumps[0])
    expected = {r[0]: [comparable(v) for v in r] for r in before.execute(f"SELECT * FROM {table}")}
    duck = tmp_path / "before.duckdb"
    assert main(["load", str(dumps[0]), "--out", str(duck), "--quiet"]) == 0
    with duckdb.connect(str(duck), read_only=True) as con:
        loaded = {
            r[0]: [comparable(v) for v in r]
            for r in con.execute(f"SELECT * FROM {table}").fetchall()
        }
    assert loaded == expected and len(expected) == 150

    after = sqlite_of(dumps[1])
    after.execute("ATTACH ':memory:' AS b")
    after.execute(f"CREATE TABLE b.t AS SELECT * FROM main.{table} WHERE 0")
    after.executemany(
        f"INSERT INTO b.t VALUES ({', '.join('?' * 7)})", before.execute(f"SELECT * FROM {table}")
    )
    moved = " OR ".join(
        f"(o.c{i} IS NOT n.c{i} OR typeof(o.c{i}) <> typeof(n.c{i}))" for i in range(6)
    )
    (added, removed, changed) = after.execute(
        f"SELECT (SELECT count(*) FROM main.{table} WHERE id NOT IN (SELECT id FROM b.t)), "
        f"(SELECT count(*) FROM b.t WHERE id NOT IN (SELECT id FROM main.{table})), "
        f"(SELECT count(*) FROM b.t o JOIN main.{table} n USING (id) WHERE {moved})"
    ).fetchone()
    per_column = after.execute(
        "SELECT "
        + ", ".join(
            f"sum(o.c{i} IS NOT n.c{i} OR typeof(o.c{i}) <> typeof(n.c{i}))" for i in range(6)
        )
        + f" FROM b.t o JOIN main.{table} n USING (id)"
    ).fetchone()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        main(["diff", str(dumps[0]), str(dumps[1]), "--format", "json"])
    result = json.loads(text.getvalue())["diff"]
    (summary,) = result["summary"]
    assert (summary["added"], summary["removed"], summary["changed"]) == (added, removed, changed)
    columns = {c["column"]: c["changed"] for c in result["column_summary"]}
    assert [columns[f"c{i}"] for i in range(6)] == [int(n or 0) for n in per_column]
    assert changed and removed and added == 2


_REBUILD_PARENT = {
    "no pragma": ("", "", ""),
    "on, no off": ("PRAGMA defer_foreign_keys = on;\n", "", ""),
    "on … off": ("PRAGMA defer_foreign_keys = on;\n", "PRAGMA defer_foreign_keys = off;\n", ""),
    "on … off, copy filtered": (
        "PRAGMA defer_foreign_keys = on;\n",
        "PRAGMA defer_foreign_keys = off;\n",
        " WHERE id % 3 <> 0",
    ),
}


@pytest.mark.parametrize("variant", list(_REBUILD_PARENT))
def test_deferred_foreign_keys_in_a_rebuild_as_wrangler(tmp_path, variant):
    """Stranger's project #16 rebuilt a parent table the way Cloudflare's docs show
    (`PRAGMA defer_foreign_keys = on`, copy, drop, rename, `= off`): wrangler applied it, where
    d1nb's lint said it fails. Without the pragma the DROP fails; with `on` and no `off` the
    COMMIT fails even though the copy holds every key; `off` forgets the violations unchecked,
    so a copy that filtered rows commits broken references. d1nb's replay, impact and lint say
    what wrangler's local D1 does, and count the broken references it leaves."""
    from d1nb.analyses.impact import analyse_impact
    from d1nb.analyses.lint.run import lint

    on, off, where = _REBUILD_PARENT[variant]
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "wrangler.toml").write_text(
        'name = "deferred"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "deferred"\n'
        'database_id = "00000000-0000-4000-8000-000000000027"\n'
    )
    (root / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));\n"
        "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 30) "
        "INSERT INTO p SELECT i, 'p' || i FROM q;\n"
        "INSERT INTO c SELECT id, id FROM p UNION ALL SELECT id + 100, id FROM p;\n"
    )
    (root / "migrations" / "0002_rebuild.sql").write_text(
        f"{on}CREATE TABLE p_new (id INTEGER PRIMARY KEY, name TEXT, extra TEXT);\n"
        f"INSERT INTO p_new (id, name) SELECT id, name FROM p{where};\n"
        f"DROP TABLE p;\nALTER TABLE p_new RENAME TO p;\n{off}"
    )
    run = wrangler(root, "d1", "migrations", "apply", "DB", "--local")
    conn = read_only_copy(local_database(root), tmp_path / "theirs")
    failed = run.failed_migration(ledger_names(conn, "d1_migrations"))
    (broken,) = conn.execute("SELECT count(*) FROM pragma_foreign_key_check").fetchall()[0]

    empty = tmp_path / "empty.sql"
    empty.write_text(EMPTY_EXPORT)
    history = load_history(root, use_git=False)
    impact = analyse_impact(
        load_snapshot(empty, tmp_path / "w"), history.migration_dirs["deferred"]
    )
    row = impact.migrations.set_index("file").loc["0002_rebuild.sql"]
    findings = lint(history)
    fails_said = findings[
        (findings["rule"] == "D1N008") & findings["message"].str.contains("fails with")
    ]
    if failed:
        assert failed == "0002_rebuild.sql" and run.reports("FOREIGN KEY constraint failed")
        assert row["verdict"] == "fails"
        assert len(fails_said) == 1
    else:
        assert row["verdict"] in ("safe", "loses data")
        assert fails_said.empty
    assert (failed is None) == (variant.startswith("on … off"))  # what wrangler did
    if broken:
        assert f"{broken} c rows left pointing at p rows that are gone" in row["reason"]
    else:
        assert "pointing at" not in row["reason"]
    assert (broken > 0) == (variant == "on … off, copy filtered")
    assert ("D1N027" in set(findings["rule"])) == variant.startswith("on … off")


_D1_BUILD_SETUP = """\
CREATE TABLE recipes (id INTEGER PRIMARY KEY, slug TEXT, meta TEXT, "order" INTEGER);
CREATE INDEX recipes_by_order ON recipes ("order");
CREATE TABLE steps (recipe TEXT, n INTEGER, body TEXT, PRIMARY KEY (recipe, n)) WITHOUT ROWID;
WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 60)
  INSERT INTO recipes SELECT i, 'r-' || i,
    json_object('tags', json_array('Quick', 'quick', 'Dinner'), 'n', i), i % 7 FROM q;
WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 40)
  INSERT INTO steps SELECT 'r-' || (i % 4), i, 'step ' || i FROM q;
"""
_D1_BUILD_MIGRATION = """\
-- rows chosen by ORDER BY … LIMIT, as D1 allows
DELETE FROM recipes WHERE "order" > 4 ORDER BY slug DESC LIMIT 5;
DELETE FROM steps WHERE recipe = 'r-1' ORDER BY n DESC LIMIT 3 OFFSET 1;
UPDATE recipes SET slug = slug || '!' WHERE "order" = 2 ORDER BY id LIMIT 4;
UPDATE steps SET body = upper(body) WHERE n > 30 LIMIT 2;
UPDATE recipes SET "order" = s.n FROM (SELECT recipe, max(n) AS n FROM steps GROUP BY recipe) AS s
  WHERE recipes.slug = s.recipe ORDER BY recipes.id DESC LIMIT 2;
-- JSON built in a scalar subquery: kept as JSON
UPDATE recipes SET meta = json_set(meta, '$.tags', (
    SELECT json_group_array(DISTINCT lower(value)) FROM json_each(recipes.meta, '$.tags')))
  WHERE id <= 30;
UPDATE recipes SET meta = json_set(meta, '$.first', (SELECT json_object('n', min(n)) FROM steps))
  WHERE id > 50;
UPDATE recipes SET meta = json_set(meta, '$.case',
    CASE WHEN id % 2 THEN (SELECT json_array(id, 'odd')) ELSE (SELECT json('[0]')) END,
    '$.either', coalesce((SELECT json_group_object(recipe, n) FROM steps WHERE n > 38), '{}'))
  WHERE id BETWEEN 40 AND 45;
UPDATE recipes SET meta = json_insert(meta, '$.copy',
    (SELECT slug FROM recipes AS r WHERE r.id = 1)) WHERE id = 2;
UPDATE recipes SET meta = json_set(meta,
    '$.prev', (SELECT json_extract(r.meta, '$.tags') FROM recipes AS r WHERE r.id = recipes.id - 1),
    '$.n1', (SELECT json_extract(r.meta, '$.n') FROM recipes AS r WHERE r.id = 1),
    '$.slug1', (SELECT json_extract(json_object('s', r.slug), '$.s') FROM recipes AS r
                WHERE r.id = 1),
    '$.none', (SELECT json_extract(r.meta, '$.nothing') FROM recipes AS r WHERE r.id = 1),
    '$.arrow', (SELECT r.meta -> '$.tags' FROM recipes AS r WHERE r.id = 2),
    '$.two', (SELECT json_extract(r.meta, '$.n', '$.tags') FROM recipes AS r WHERE r.id = 3))
  WHERE id BETWEEN 20 AND 24;
"""


def test_statements_d1s_build_runs_differently_as_wrangler(tmp_path):
    """Stranger's project #17: D1's SQLite (workerd's build) runs `DELETE … ORDER BY … LIMIT`,
    which d1nb's said was a syntax error, and keeps the JSON subtype of a value passed through
    a scalar subquery, where d1nb's stored the tags array as a string. d1nb's replay leaves
    every table as wrangler's local D1 does."""
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "wrangler.toml").write_text(
        'name = "larder"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "larder"\n'
        'database_id = "00000000-0000-4000-8000-000000000017"\n'
    )
    (root / "migrations" / "0001_init.sql").write_text(_D1_BUILD_SETUP)
    (root / "migrations" / "0002_build.sql").write_text(_D1_BUILD_MIGRATION)
    run = wrangler(root, "d1", "migrations", "apply", "DB", "--local")
    theirs = read_only_copy(local_database(root), tmp_path / "theirs")
    assert run.failed_migration(ledger_names(theirs, "d1_migrations")) is None

    with D1Engine(tmp_path / "ours.sqlite") as engine:
        for name in ("0001_init.sql", "0002_build.sql"):
            outcome = engine.apply_migration(name, (root / "migrations" / name).read_text())
            assert outcome.ok, outcome.error
        notes = " ".join(outcome.notes)
        assert "line 2:" in notes and "UPDATE/DELETE … LIMIT" in notes
        assert "line 6:" in notes and "line 9:" in notes and "line 12:" in notes
        assert "line 14:" in notes and "line 18:" not in notes and "line 20:" in notes
        for table, order in (("recipes", "id"), ("steps", "recipe, n")):
            query = f"SELECT * FROM {table} ORDER BY {order}"
            ours = engine.conn.execute(query).fetchall()
            assert ours == theirs.execute(query).fetchall(), table
        (tags,) = engine.conn.execute(
            "SELECT json_type(meta, '$.tags') FROM recipes WHERE id = 3"
        ).fetchall()[0]
        assert tags == "array"
        (copied,) = engine.conn.execute(
            "SELECT json_type(meta, '$.copy') FROM recipes WHERE id = 2"
        ).fetchall()[0]
        assert copied == "text"  # a plain value from a subquery stays a string


_UNFINISHED_ENDS = {
    "no closing ;": "DELETE FROM t WHERE v = 'x;y' AND id = 3",
    "open comment": "DELETE FROM t WHERE v = 'x;y' AND id = 3;\n/* to do: drop t\n",
}


@pytest.mark.parametrize("end", sorted(_UNFINISHED_ENDS))
def test_a_file_left_unfinished_fails_or_goes_unrecorded_as_in_wrangler(tmp_path, end):
    """Stranger's projects #34 and #35: wrangler appends its ledger INSERT to the file's text.
    A last statement without its `;` runs into it and D1 fails the file (`near "INSERT":
    syntax error`), rolling back its UPDATE, where d1nb's impact had called it safe. A `/*`
    left open at the end swallows it: the file runs, wrangler shows it applied, and the
    ledger never lists it (the next apply runs it again). d1nb's replay does the same."""
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "wrangler.toml").write_text(
        'name = "quill"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "quill"\n'
        'database_id = "00000000-0000-4000-8000-000000000034"\n'
    )
    files = {
        "0001_init.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');\n",
        "0002_touch.sql": "UPDATE t SET v = 'x;y' WHERE id >= 2; -- a ; comment\n"
        + _UNFINISHED_ENDS[end],
    }
    for name, text in files.items():
        (root / "migrations" / name).write_text(text)
    run = wrangler(root, "d1", "migrations", "apply", "DB", "--local")
    theirs = read_only_copy(local_database(root), tmp_path / "theirs")
    failed = run.failed_migration(ledger_names(theirs, "d1_migrations"))

    with D1Engine(tmp_path / "ours.sqlite") as engine:
        assert engine.apply_migration("0001_init.sql", files["0001_init.sql"]).ok
        outcome = engine.apply_migration("0002_touch.sql", files["0002_touch.sql"])
        if end == "no closing ;":
            assert failed == "0002_touch.sql" and run.reports('near "INSERT": syntax error')
            assert not outcome.ok and outcome.error_line == 2
            assert outcome.error.startswith('near "INSERT": syntax error')
        else:
            assert failed is None and outcome.ok
            assert any("is not recorded" in n for n in outcome.notes)
        query = "SELECT * FROM t ORDER BY id"
        assert engine.conn.execute(query).fetchall() == theirs.execute(query).fetchall()
        assert ledger_names(engine.conn, "d1_migrations") == ledger_names(theirs, "d1_migrations")
