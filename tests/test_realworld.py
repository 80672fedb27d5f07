"""One fixture per pattern of shared/realworld-patterns.md (written here, not copied): d1nb must
read each without help from the user."""

from __future__ import annotations

import pytest
from realworld import write_realworld

from d1nb.analyses.lint import lint
from d1nb.engine.evolution import schema_evolution
from d1nb.formats.config import bindings_frame, load_project
from d1nb.formats.migrations import load_migration_dir, parse_statements
from d1nb.inputs.history import load_history, status_frame
from tests.conftest import EMPTY_EXPORT


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return write_realworld(tmp_path_factory.mktemp("realworld"))


def test_configs(repo):
    project = load_project(repo)
    assert [(p.path, p.line, p.severity) for p in project.problems] == [
        ("services/broken/wrangler.toml", 2, "error"),
        ("apps/guestbook/wrangler.example.toml", 0, "warning"),  # only a template: read from it
    ]
    frame = bindings_frame(project)
    web = frame[(frame.config == "apps/web/wrangler.jsonc")].set_index("environment")
    assert web.loc["production", "migrations_table"] == "__drizzle_migrations"
    assert web.loc["staging", "migrations_dir"] == "apps/web/drizzle"
    templates = frame[frame.template]
    assert set(templates.config) == {
        "apps/guestbook/wrangler.example.toml",
        "apps/web/wrangler.example.json",
        "services/jobs/wrangler.template.toml",
    }
    assert templates.placeholder_id.all()
    jobs = frame[frame.config == "services/jobs/wrangler.toml"]
    assert set(jobs.migrations_dir) == {"shared/migrations"}
    assert set(jobs.environment) == {"local", "production"}
    worker = frame[frame.service == "worker"].iloc[0]
    assert (worker.has_migrations, worker.shared_with) == (False, "web")
    assert "static" in {c.service for c in project.configs}


def test_migration_dirs(repo):
    mdir = load_migration_dir(repo / "shared" / "migrations")
    assert [f.name for f in mdir.files] == [
        "0001_init.sql",
        "0002_comments_only.sql",
        "0003_fts.sql",
        "0004_data.sql",
        "0005_columns.sql",
        "0008_a.sql",
        "0008_b.sql",
        "0008_c.sql",
    ]
    assert sorted(p.name for p in mdir.other_files) == [
        "0005_columns.sql.rollback",
        "0009_later.sql.future",
        "README",
        "list.json",
        "rollback_0004.sql.rollback",
    ]
    assert mdir.files[1].statements == []
    fts = mdir.files[2].statements
    assert [s.kind for s in fts] == [
        "create_virtual_table",
        "create_trigger",
        "create_trigger",
        "create_index",
        "create_view",
    ]
    assert "partial" in fts[3].flags
    drizzle = load_migration_dir(repo / "apps" / "web" / "drizzle")
    assert [f.name for f in drizzle.files] == ["0000_init.sql", "0001_rebuild_lists.sql"]
    assert [s.kind for s in drizzle.files[1].statements] == [
        "pragma",
        "create_table",
        "insert_select",
        "drop_table",
        "rename_table",
        "pragma",
    ]


def test_replay_from_empty_and_lint(repo):
    history = load_history(repo, use_git=False)
    shared = schema_evolution(history.migration_dirs["jobs"])
    assert shared.failures().empty
    changes = shared.changes().set_index("file")
    assert changes.loc["0005_columns.sql", "columns_added"] == "jobs.created, jobs.details"
    legacy = schema_evolution(history.migration_dirs["legacy"]).failures()
    assert legacy.iloc[0].error == "no such table: users"
    findings = lint(history)
    rules = {(r.rule, r.file.rsplit("/", 1)[-1]) for r in findings.itertuples()}
    assert ("D1N008", "0001_rebuild_lists.sql") in rules  # drizzle rebuild cascades into items
    assert ("D1N009", "0001_rebuild_lists.sql") in rules
    assert ("D1N003", "0005_columns.sql") in rules
    assert ("D1N015", "0005_columns.sql") in rules
    assert ("D1N005", "0005_columns.sql") in rules
    assert ("D1N013", "0008_b.sql") in rules
    assert ("D1N018", "0001_add_users_email.sql") in rules
    assert ("D1N020", "_journal.json") in rules
    pattern = history.migration_dirs["pattern"]
    assert [f.name for f in pattern.files] == ["0001_init/migration.sql", "0002_more/migration.sql"]


def test_history_rewritten_after_deployment(repo, tmp_path):
    ledger = tmp_path / "jobs.production.csv"
    ledger.write_text(
        "id,name,applied_at\n1,0001_init.sql,2025-01-01 00:00:00\n"
        "2,0003_fts.sql,2025-01-02 00:00:00\n3,0004_backfill.sql,2025-01-03 00:00:00\n",
        encoding="utf-8",
    )
    history = load_history(repo, {("jobs", "production"): ledger}, use_git=False)
    status = status_frame(history).set_index("name")
    assert status.loc["0004_backfill.sql", "status"] == "applied, file missing"
    assert status.loc["0002_comments_only.sql", "status"] == "pending"
    assert status.loc["0002_comments_only.sql", "out_of_order"]
    assert status.loc["0004_data.sql", "status"] == "pending"


def test_failing_statement_stops_the_whole_file():
    from d1nb.engine.d1engine import D1Engine

    with D1Engine() as engine:
        outcome = engine.apply_migration(
            "0001.sql", "CREATE TABLE a (x);\nINSERT INTO missing VALUES (1);\nCREATE TABLE b (x);"
        )
        assert not outcome.ok and outcome.error_line == 2
        assert [s.kind for s in outcome.statements] == ["create_table", "insert"]
        assert not engine.conn.table_exists(None, "a")


def test_statement_breakpoint_after_semicolon_on_same_line():
    statements = parse_statements("SELECT 1;--> statement-breakpoint\nSELECT 2;")
    assert [(s.sql, s.line) for s in statements] == [("SELECT 1;", 1), ("SELECT 2;", 2)]


@pytest.fixture
def empty_snapshot(tmp_path):
    from d1nb.inputs.snapshots import load_snapshot

    empty = tmp_path / "empty.sql"
    empty.write_text(EMPTY_EXPORT, encoding="utf-8")
    return load_snapshot(empty, tmp_path / "work")


def test_cascades_are_reported_to_any_depth(repo, empty_snapshot):
    """Checked by hand with the sqlite3 shell: the rebuild of authors deletes all 40 books,
    their 80 reviews, and nulls 10 loans (SET NULL) and 5 awards (SET DEFAULT, default NULL)."""
    from d1nb.analyses.replay import replay

    history = load_history(repo, use_git=False)
    result = replay(empty_snapshot, history.migration_dirs["bookshop"])
    assert result.ok
    cascades = result.cascades()
    assert cascades[["file", "table", "child", "action", "rows"]].values.tolist() == [
        ["0005_rebuild_authors.sql", "authors", "books", "deleted", 40],
        ["0005_rebuild_authors.sql", "authors", "reviews", "deleted", 80],
        ["0005_rebuild_authors.sql", "authors", "loans", "set null", 10],
        ["0005_rebuild_authors.sql", "authors", "awards", "set null", 5],
    ]
    per_file = result.migrations().set_index("file")
    assert per_file.loc["0005_rebuild_authors.sql", "cascade_deleted"] == 120
    assert per_file.loc["0006_quoted_names.sql", "changes"] == 3  # names holding quotes
    assert result.after.row_counts['shelf "A"'] == 2


def test_lint_on_rebuilds_checks_and_knock_ons(repo):
    history = load_history(repo, use_git=False)
    findings = lint(history)
    shop = findings[findings.service == "bookshop"]
    assert "D1N017" not in set(shop.rule)  # the default satisfies the CHECK
    cascade = shop[shop.rule == "D1N008"].message.tolist()
    assert len(cascade) == 1
    for child in ("books.author_id", "reviews.book_id", "loans.book_id", "awards.review_id"):
        assert child in cascade[0]
    changed = shop[shop.rule == "D1N016"].message.iloc[0]
    assert "CHECK (status in ('active', 'retired')) removed" in changed
    library = findings[findings.service == "library"].set_index(["rule", "line"])
    blocking = library.loc[("D1N008", 4), "message"]
    assert "fails with 'FOREIGN KEY constraint failed'" in blocking
    assert "editions.publisher_id (ON DELETE NO ACTION)" in blocking
    knock_on = library.loc[("D1N018", 1), "message"]
    assert "only because 0002_rebuild_publishers.sql failed before it" in knock_on


def test_a_failed_rebuild_and_its_knock_on_in_replay(repo, empty_snapshot):
    from d1nb.analyses.replay import replay

    history = load_history(repo, use_git=False)
    result = replay(empty_snapshot, history.migration_dirs["library"], keep_going=True)
    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["0002_rebuild_publishers.sql"].error == "FOREIGN KEY constraint failed"
    assert outcomes["0002_rebuild_publishers.sql"].knock_on_of is None
    assert outcomes["0003_country_index.sql"].knock_on_of == "0002_rebuild_publishers.sql"


def test_migrations_list_output_is_a_ledger_of_pending_files(repo):
    history = load_history(repo, use_git=False)
    status = status_frame(history)
    shop = status[(status.service == "bookshop") & (status.environment == "production")]
    assert dict(zip(shop.name, shop.status, strict=True)) == {
        "0001_catalogue.sql": "applied",
        "0002_seed_catalogue.sql": "applied",
        "0003_author_status.sql": "applied",
        "0004_shout_titles.sql": "applied",
        "0005_rebuild_authors.sql": "pending",
        "0006_quoted_names.sql": "pending",
    }
    assert any("falls back to the top-level binding" in p.message for p in history.problems)


def test_template_only_service_and_empty_ledger(repo):
    history = load_history(repo, use_git=False)
    assert [f.name for f in history.migration_dirs["guestbook"].files] == ["0001_entries.sql"]
    findings = lint(history)
    guestbook = findings[findings.service == "guestbook"]
    assert set(guestbook.rule) == {"D1N001", "D1N021"}  # linted; its placeholder id noted
    status = status_frame(history)
    library = status[(status.service == "library") & (status.environment == "production")]
    assert set(library.status) == {"pending"} and len(library) == 3


def test_comment_before_where_batches_exactly(repo, empty_snapshot, tmp_path):
    """bookshop 0004 has a comment between its SET and its WHERE: every batch file, run in
    order, gives what the statement gives (only author 2's titles change)."""
    import shutil

    import apsw

    from d1nb.analyses.batch_files import write_batches
    from d1nb.analyses.batching import plan_batches
    from d1nb.analyses.replay import replay

    history = load_history(repo, use_git=False)
    mdir = history.migration_dirs["bookshop"]
    before = replay(empty_snapshot, mdir, [f.name for f in mdir.files[:3]])
    statement = mdir.files[3].statements[0]
    plan = plan_batches(before.after.path, statement, sizes=(2, 4), repeats=1)
    whole, batched = tmp_path / "whole.sqlite", tmp_path / "batched.sqlite"
    shutil.copyfile(before.after.path, whole)
    shutil.copyfile(before.after.path, batched)
    apsw.Connection(str(whole)).execute(statement.sql)
    for f in write_batches(plan, before.after.path, tmp_path / "out", size=3):
        apsw.Connection(str(batched)).execute(f.read_text(encoding="utf-8"))
    titles = "SELECT id, title FROM books ORDER BY id"
    got = apsw.Connection(str(batched)).execute(titles).fetchall()
    assert got == apsw.Connection(str(whole)).execute(titles).fetchall()
    assert sum(t.isupper() for _, t in got) == 14  # author 2 wrote 14 of the 40 books
