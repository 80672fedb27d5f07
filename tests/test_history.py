"""Ledgers from every source, and the status of every file against them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import apsw
import pytest

from d1nb.inputs.history import (
    drift_frame,
    load_history,
    pending_frame,
    status_frame,
    summary_frame,
    write_lock,
)
from d1nb.inputs.ledgers import read_ledger
from d1nb.problems import InputError

LIST_TEXT = """
 ⛅️ wrangler 4.86.0
-------------------

Migrations to be applied:
┌────────────────────────────┐
│ Name                       │
├────────────────────────────┤
│ 0002_add_b.sql             │
├────────────────────────────┤
│ 0003_add_c.sql             │
└────────────────────────────┘
"""


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_json_ledger_from_sample(sample):
    ledger = read_ledger(sample / "ledgers" / "api.production.json")
    assert ledger.applied["name"].tolist()[:2] == [
        "0001_create_users.sql",
        "0002_create_sync_data.sql",
    ]
    assert ledger.applied["id"].tolist() == list(range(1, 9))


def test_wrangler_error_that_the_ledger_table_is_missing_is_an_empty_ledger(tmp_path):
    # what `wrangler d1 execute --json --command 'SELECT * FROM schema_history'` prints on a
    # database nothing was applied to: locally, and remotely (SQLite's message in a note)
    local = {"error": {"text": "no such table: schema_history: SQLITE_ERROR"}}
    remote = {
        "error": {
            "text": "A request to the Cloudflare API failed.",
            "notes": [{"text": "no such table: schema_history: SQLITE_ERROR [code: 7500]"}],
        }
    }
    for name, data in (("local.json", local), ("remote.json", remote)):
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        ledger = read_ledger(path, "schema_history")
        assert ledger.applied.empty
        assert "no 'schema_history' table" in ledger.note
        with pytest.raises(InputError, match="wrangler reported an error"):
            read_ledger(path)  # another ledger table: the error stands
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"error": {"text": "Authentication error [code: 10000]"}}))
    with pytest.raises(InputError, match="Authentication error"):
        read_ledger(other, "schema_history")


def test_list_text_csv_and_dump(tmp_path, sample):
    listing = tmp_path / "list.txt"
    listing.write_text(LIST_TEXT, encoding="utf-8")
    assert read_ledger(listing).pending == ["0002_add_b.sql", "0003_add_c.sql"]
    (tmp_path / "none.txt").write_text("✅ No migrations to apply!\n", encoding="utf-8")
    assert read_ledger(tmp_path / "none.txt").pending == []
    csv = tmp_path / "ledger.csv"
    csv.write_text(
        "id,name,applied_at\n2,0002_b.sql,2025-01-02 00:00:00\n1,0001_a.sql,2025-01-01 00:00:00\n",
        encoding="utf-8",
    )
    assert read_ledger(csv).applied["name"].tolist() == ["0001_a.sql", "0002_b.sql"]
    dump = read_ledger(sample / "exports" / "api" / "after.sql")
    assert dump.applied["name"].tolist()[-1] == "0010_lowercase_sync_moods.sql"
    assert len(dump.applied) == 10


def test_local_state_folder_with_wal_is_read_from_a_copy(tmp_path):
    state = tmp_path / ".wrangler" / "state" / "v3" / "d1" / "miniflare-D1DatabaseObject"
    state.mkdir(parents=True)
    db = state / "5a1e.sqlite"
    writer = apsw.Connection(str(db))
    writer.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
    writer.execute(
        "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
    )
    writer.execute("INSERT INTO d1_migrations(name) VALUES ('0001_a.sql'), ('0002_b.sql')")
    (state / "metadata.sqlite").write_bytes(b"")
    wal = db.with_name(db.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    before = {p.name: _digest(p) for p in state.iterdir()}
    ledger = read_ledger(tmp_path / ".wrangler")
    assert ledger.applied["name"].tolist() == ["0001_a.sql", "0002_b.sql"]
    assert {p.name: _digest(p) for p in state.iterdir()} == before
    writer.close()


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("bad.json", '[\n  {"results": [\n    {"id": 1,}\n  ]}\n]', 3, "malformed JSON"),
        ("err.json", '[{"error": {"text": "Authentication error [code: 10000]"}}]', 0, "error"),
        ("shape.json", '{"rows": []}', 1, "no 'results'"),
        ("bad.csv", "id,name\nx,0001_a.sql\n", 2, "not a number"),
        ("junk.txt", "hello\n", 1, "migrations list"),
    ],
)
def test_malformed_ledgers_name_file_and_line(tmp_path, name, content, line, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_ledger(path)
    assert info.value.problem.line == line
    assert message in info.value.problem.message
    assert name in str(info.value)


def test_ledger_table_missing_in_sqlite(tmp_path):
    db = tmp_path / "x.sqlite"
    apsw.Connection(str(db)).execute("CREATE TABLE other(a)")
    with pytest.raises(InputError, match="no ledger table 'd1_migrations'"):
        read_ledger(db)


def test_sample_status_matches_its_readme(sample):
    history = load_history(sample, use_git=False)
    assert history.problems == []
    summary = summary_frame(history).set_index(["service", "environment"])
    expected = {
        ("api", "staging"): (10, 1, 0, 0, 0, 1),
        ("api", "production"): (8, 3, 0, 0, 0, 1),
        ("dictionary", "staging"): (6, 2, 1, 1, 0, 0),
        ("dictionary", "production"): (5, 3, 1, 2, 1, 0),
        ("scores", "staging"): (15, 3, 0, 0, 0, 0),
        ("scores", "production"): (13, 5, 0, 0, 0, 0),
    }
    for key, counts in expected.items():
        assert tuple(summary.loc[key]) == counts, key
    drift = drift_frame(history)
    by_name = {(r.environment, r.name): r for r in drift.itertuples()}
    assert by_name[("production", "0003_create_lookup_queue.sql")].out_of_order
    assert by_name[("production", "0007_create_analytics.sql")].progression.startswith(
        "applied before staging"
    )
    assert by_name[("staging", "0006_add_queue_retries.sql")].status == "applied, file missing"
    assert by_name[("production", "0007_sync_data_soft_delete.sql")].modified_after_apply
    pending = pending_frame(history)
    assert pending[pending.service == "api"].name.tolist() == [
        "0009_repertoire_status_v2.sql",
        "0010_lowercase_sync_moods.sql",
        "0011_goals_add_category.sql",
        "0011_goals_add_category.sql",
    ]


def _project(make_tree, ledger_rows):
    files = {
        "svc/wrangler.toml": (
            'name = "svc"\n[[env.staging.d1_databases]]\nbinding = "DB"\n'
            'database_name = "s"\ndatabase_id = "1"\n'
            '[[env.production.d1_databases]]\nbinding = "DB"\n'
            'database_name = "p"\ndatabase_id = "2"\n'
        ),
        "svc/migrations/0001_a.sql": "CREATE TABLE a (x);\n",
        "svc/migrations/0002_b.sql": "CREATE TABLE b (x);\n",
    }
    for env, rows in ledger_rows.items():
        files[f"ledgers/svc.{env}.json"] = json.dumps(
            [
                {
                    "results": [
                        {"id": i, "name": n, "applied_at": t} for i, (n, t) in enumerate(rows, 1)
                    ],
                    "success": True,
                    "meta": {"duration": 1},
                }
            ]
        )
    return make_tree(files)


def test_lock_detects_edits_and_tampering(make_tree):
    root = _project(make_tree, {"staging": [("0001_a.sql", "2025-01-01 00:00:00")]})
    write_lock(load_history(root, use_git=False))
    assert not status_frame(load_history(root, use_git=False))["modified_after_apply"].any()
    (root / "svc/migrations/0001_a.sql").write_text("CREATE TABLE a (x, y);\n", encoding="utf-8")
    status = status_frame(load_history(root, use_git=False))
    assert status.set_index("name").loc["0001_a.sql", "modified_after_apply"]
    lock = root / "d1nb.lock"
    lock.write_text(
        lock.read_text(encoding="utf-8").replace("0002_b.sql", "0002_c.sql"), encoding="utf-8"
    )
    problems = load_history(root, use_git=False).problems
    assert any("sum does not match" in p.message for p in problems)


def test_a_comment_added_after_apply_is_not_an_edit(make_tree):
    """The lock keeps a second hash, of the file's SQL without comments and spacing: a
    comment or re-indentation added after the file was applied is noted, not drift (found on
    a stranger's project, commented everywhere: a reviewer's comment made D1N014 an error);
    a changed literal is drift. A lock of two columns (before the second hash) still reads."""
    root = _project(make_tree, {"staging": [("0001_a.sql", "2025-01-01 00:00:00")]})
    write_lock(load_history(root, use_git=False))
    sql = root / "svc/migrations/0001_a.sql"
    original = sql.read_text(encoding="utf-8")
    sql.write_text("-- reviewed\n" + original.replace(" ", "  ") + "/* ok */\n", encoding="utf-8")
    row = status_frame(load_history(root, use_git=False)).set_index("name").loc["0001_a.sql"]
    assert not row["modified_after_apply"]
    assert row["note"] == "only comments or spacing differ from d1nb.lock"
    sql.write_text(original.replace("(x)", '("x ")'), encoding="utf-8")
    assert original != sql.read_text(encoding="utf-8")
    row = status_frame(load_history(root, use_git=False)).set_index("name").loc["0001_a.sql"]
    assert row["modified_after_apply"]
    # a lock written before the SQL hash: every byte counts, and its sum still checks
    lock = root / "d1nb.lock"
    from d1nb.formats.lockfile import Locked, lock_text, read_lock

    old_style = [(rel, Locked(entry.sha256, None)) for rel, entry in read_lock(lock)[0].items()]
    lock.write_text(lock_text(old_style), encoding="utf-8")
    assert all(len(line.split(" ")) == 2 for line in lock.read_text().splitlines()[2:])
    sql.write_text("-- reviewed\n" + original, encoding="utf-8")
    history = load_history(root, use_git=False)
    assert [p.message.split(":")[1] for p in history.problems] == [
        " no ledger for environment 'production' (database p)"
    ]  # only staging's is given; nothing about the lock
    assert status_frame(history).set_index("name").loc["0001_a.sql", "modified_after_apply"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_history_detects_commits_after_apply(make_tree):
    root = _project(
        make_tree,
        {
            "production": [
                ("0001_a.sql", "2025-02-01 00:00:00"),
                ("0002_b.sql", "2025-02-01 00:00:00"),
            ]
        },
    )

    def git(*args: str, when: str) -> None:
        env = {
            **os.environ,
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        }
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    git("init", "-q", when="2025-01-01T00:00:00Z")
    git("add", ".", when="2025-01-01T00:00:00Z")
    git("commit", "-qm", "init", when="2025-01-01T00:00:00Z")
    (root / "svc/migrations/0001_a.sql").write_text("CREATE TABLE a (x, y);\n", encoding="utf-8")
    git("commit", "-qam", "edit", when="2025-03-01T00:00:00Z")
    status = status_frame(load_history(root)).set_index("name")
    assert status.loc["0001_a.sql", "modified_after_apply"]
    assert "git history" in status.loc["0001_a.sql", "note"]
    assert not status.loc["0002_b.sql", "modified_after_apply"]
    # a comment and new spacing committed after 0002 was applied: the same SQL, not an edit
    b = root / "svc/migrations/0002_b.sql"
    b.write_text("-- reviewed: fine\n" + b.read_text(encoding="utf-8").replace(" ", "   "))
    git("commit", "-qam", "comment", when="2025-03-02T00:00:00Z")
    status = status_frame(load_history(root)).set_index("name")
    assert not status.loc["0002_b.sql", "modified_after_apply"]
    assert status.loc["0002_b.sql", "note"] == "only comments or spacing changed in git since"
    assert status.loc["0001_a.sql", "modified_after_apply"]


def test_an_applied_file_renamed_since_is_named_by_git_or_the_lock(make_tree):
    """History rewritten after deployment: an applied file renamed (stranger's project #7: a
    prisma folder 0001_audit → 0001_audit_log). wrangler knows files by name and applies the
    renamed one again; status says which file it was, by git's last copy of the old name, or
    by d1nb.lock without git. A new file with other SQL is not taken for it."""
    from d1nb.inputs.history import write_lock

    root = _project(make_tree, {"production": [("0001_a.sql", "2025-02-01 00:00:00")]})
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    migrations = root / "svc/migrations"
    write_lock(load_history(root, use_git=False))  # d1nb.lock holds 0001_a.sql's SQL
    (migrations / "0001_a.sql").rename(migrations / "0001_a_renamed.sql")
    (migrations / "0003_c.sql").write_text("CREATE TABLE c (x);\n", encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qm", "mv"], cwd=root, env=env, check=True)
    lock = (root / "d1nb.lock").read_text(encoding="utf-8")
    for use_git in (True, False):
        if use_git:  # git alone tells
            (root / "d1nb.lock").unlink()
        else:  # the lock alone tells
            (root / "d1nb.lock").write_text(lock, encoding="utf-8")
        status = status_frame(load_history(root, use_git=use_git)).set_index("name")
        assert status.loc["0001_a.sql", "status"] == "applied, file missing"
        assert status.loc["0001_a.sql", "note"] == (
            "renamed to 0001_a_renamed.sql (the same SQL): wrangler applies that again"
        )
        assert status.loc["0001_a_renamed.sql", "note"] == (
            "the SQL of applied 0001_a.sql, renamed: wrangler applies it again"
        )
        assert status.loc["0003_c.sql", "note"] == ""
    (root / "d1nb.lock").unlink()  # neither tells (#21: no lock, no git): the number does
    status = status_frame(load_history(root, use_git=False)).set_index("name")
    assert status.loc["0001_a.sql", "note"] == (
        "0001_a_renamed.sql, pending, has its number: if that is this file renamed, wrangler "
        "applies it again"
    )
    assert status.loc["0001_a_renamed.sql", "note"].startswith(
        "has the number of applied 0001_a.sql, whose file is gone: if it is that file renamed"
    )
    assert status.loc["0003_c.sql", "note"] == ""


def test_progression_not_applied_in_earlier_env(make_tree):
    root = _project(
        make_tree,
        {
            "staging": [("0001_a.sql", "2025-01-02 00:00:00")],
            "production": [
                ("0001_a.sql", "2025-01-03 00:00:00"),
                ("0002_b.sql", "2025-01-03 00:00:00"),
            ],
        },
    )
    status = status_frame(load_history(root, use_git=False))
    prod = status[status.environment == "production"].set_index("name")
    assert prod.loc["0001_a.sql", "progression"] == ""
    assert prod.loc["0002_b.sql", "progression"] == "not applied in staging"


def test_bad_ledger_is_a_problem_and_the_rest_still_loads(make_tree):
    root = _project(make_tree, {"staging": [("0001_a.sql", "2025-01-02 00:00:00")]})
    (root / "ledgers/svc.production.json").write_text("[{", encoding="utf-8")
    history = load_history(root, use_git=False)
    assert [(p.path, p.line) for p in history.problems] == [("ledgers/svc.production.json", 1)]
    assert summary_frame(history)["environment"].tolist() == ["staging"]


def test_history_as_duckdb_tables(sample):
    from d1nb.inputs.history import history_to_duckdb

    con = history_to_duckdb(load_history(sample, use_git=False))
    kinds = dict(
        con.execute(
            "SELECT kind, count(*) FROM statements WHERE service = 'scores' GROUP BY kind"
        ).fetchall()
    )
    assert kinds["update"] == 13  # 12 canonicalisation UPDATEs and the normalized_id backfill
    files = con.execute("SELECT count(*) FROM migrations GROUP BY service ORDER BY service")
    assert [n for (n,) in files.fetchall()] == [11, 8, 18]
    pending = con.execute("SELECT count(*) FROM status WHERE status = 'pending'").fetchall()[0][0]
    assert pending == 17


@pytest.mark.parametrize("kind", ["json", "csv", "local-state"])
def test_an_empty_ledger_means_everything_pending(make_tree, kind):
    import apsw

    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.inputs.history import pending_frame

    root = make_tree(
        {
            "shop/wrangler.toml": 'name = "shop"\n[env.production]\n[[env.production.d1_databases]]'
            '\nbinding = "DB"\ndatabase_name = "d"\ndatabase_id = "1"\n',
            "shop/migrations/0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n",
            "shop/migrations/0002_more.sql": "ALTER TABLE t ADD COLUMN b;\n",
            "empty.json": '[{"results": [], "success": true, "meta": {}}]',
            "empty.csv": "id,name,applied_at\n",
        }
    )
    source = {"json": root / "empty.json", "csv": root / "empty.csv"}.get(kind)
    if source is None:
        file = local_state_file(root / "state", "1")  # database_id 1's local copy
        file.parent.mkdir(parents=True)
        conn = apsw.Connection(str(file))
        conn.execute(
            "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
            "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
        )
        conn.close()
        source = root / "state"
    history = load_history(root, {("shop", "production"): source}, use_git=False)
    assert history.problems == []
    assert pending_frame(history)["name"].tolist() == ["0001_init.sql", "0002_more.sql"]


def test_template_only_repository_is_analysed(make_tree):
    from d1nb.analyses.lint import lint

    root = make_tree(
        {
            "wrangler.example.toml": 'name = "app"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "app"\ndatabase_id = "<your-id>"\n',
            "wrangler.template.jsonc": "{ this is not json",
            "migrations/0001_init.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        }
    )
    history = load_history(root, use_git=False)
    assert list(history.migration_dirs) == ["app"]
    assert {p.severity for p in history.problems} == {"warning"}  # a broken template blocks nothing
    assert any("only a template config" in p.message for p in history.problems)
    assert "D1N001" in set(lint(history).rule)


def test_a_ledger_dump_cannot_touch_files(tmp_path):
    """A ledger given as a dump is untrusted SQL: it runs in the sandboxed engine, one statement
    at a time, so ATTACH and VACUUM INTO cannot create or change files anywhere."""
    from d1nb.inputs.ledgers import read_ledger
    from d1nb.problems import InputError

    victim = tmp_path / "victim.sqlite"
    victim.write_bytes(b"")
    ledger_ddl = (
        "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);"
    )
    for attack in (
        f"INSERT INTO d1_migrations VALUES(1,'0001_a.sql','x'); VACUUM INTO '{tmp_path}/made.db';",
        f"INSERT INTO d1_migrations VALUES(1,'0001_a.sql','x'); ATTACH '{victim}' AS v; "
        "CREATE TABLE v.pwned(a);",
    ):
        dump = tmp_path / "ledger.sql"
        dump.write_text(f"{ledger_ddl}\n{attack}\n", encoding="utf-8")
        with pytest.raises(InputError, match="ledger statement fails"):
            read_ledger(dump)
        assert not (tmp_path / "made.db").exists()
        assert victim.read_bytes() == b""
    dump.write_text(f"{ledger_ddl}\nINSERT INTO d1_migrations VALUES(1,'0001_a.sql','x');\n")
    assert read_ledger(dump).applied["name"].tolist() == ["0001_a.sql"]


def _ledger_table(path, rows, table="d1_migrations"):
    import apsw

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(path))
    conn.execute(
        f"CREATE TABLE {table}(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
    )
    for name in rows:
        conn.execute(f"INSERT INTO {table}(name) VALUES (?)", (name,))
    conn.close()


TWO_DATABASES = {
    "wrangler.json": """{"name": "helpdesk", "d1_databases": [
        {"binding": "TICKETS", "database_name": "t", "database_id": "aaaa-1",
         "migrations_dir": "sql/tickets"},
        {"binding": "AUDIT", "database_name": "a", "database_id": "bbbb-2",
         "preview_database_id": "bbbb-preview", "migrations_dir": "sql/audit"}],
      "env": {"production": {"d1_databases": [
        {"binding": "TICKETS", "database_name": "t-prod", "database_id": "aaaa-9",
         "migrations_dir": "sql/tickets"},
        {"binding": "AUDIT", "database_name": "a-prod", "database_id": "bbbb-9",
         "migrations_dir": "sql/audit"}]}}}""",
    "sql/tickets/0001_init.sql": "CREATE TABLE tickets (id TEXT PRIMARY KEY);\n",
    "sql/tickets/0002_more.sql": "ALTER TABLE tickets ADD COLUMN state TEXT;\n",
    "sql/audit/0001_events.sql": "CREATE TABLE events (seq INTEGER PRIMARY KEY);\n",
    "ledgers/helpdesk.AUDIT.production.json": '[{"results": [{"id": 1, "name": '
    '"0001_events.sql", "applied_at": "2025-11-01 10:00:00"}], "success": true}]',
}


def test_a_worker_with_two_databases_is_one_service_per_database(make_tree):
    """Each database of a worker has its own folder and ledger; neither hides the other (the
    second was skipped without a word)."""
    from d1nb.inputs.history import status_frame

    root = make_tree(TWO_DATABASES)
    history = load_history(root, use_git=False)
    assert sorted(history.migration_dirs) == ["helpdesk.AUDIT", "helpdesk.TICKETS"]
    assert history.binding("helpdesk.AUDIT", "production").database_name == "a-prod"
    status = status_frame(history)
    audit = status[status["service"] == "helpdesk.AUDIT"]
    assert audit[["environment", "name", "status"]].values.tolist() == [
        ["production", "0001_events.sql", "applied"]
    ]
    (warning,) = [p for p in history.problems if "no ledger" in p.message]
    assert "helpdesk.TICKETS" in warning.message and "helpdesk.TICKETS:ENV=FILE" in warning.message


def test_local_state_is_read_per_database_as_wrangler_names_it(make_tree):
    """`.wrangler/state` beside the config is the `local` ledger, each database from its own
    file (named from preview_database_id, else database_id); both use d1_migrations, so the
    folder alone cannot tell them apart."""
    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.inputs.history import pending_frame, status_frame

    root = make_tree(TWO_DATABASES)
    state = root / ".wrangler" / "state"
    _ledger_table(local_state_file(state, "aaaa-1"), ["0001_init.sql"])
    _ledger_table(local_state_file(state, "bbbb-preview"), [])
    _ledger_table(local_state_file(state, "bbbb-2"), ["0001_events.sql", "9999_other.sql"])
    history = load_history(root, use_git=False)
    assert not [p for p in history.problems if p.severity == "error"]
    assert sorted(history.ledgers) == [
        ("helpdesk.AUDIT", "local"),
        ("helpdesk.AUDIT", "production"),
        ("helpdesk.TICKETS", "local"),
    ]
    pending = pending_frame(history)
    local = pending[pending["environment"] == "local"]
    assert local[["service", "name"]].values.tolist() == [
        ["helpdesk.AUDIT", "0001_events.sql"],
        ["helpdesk.TICKETS", "0002_more.sql"],
    ]
    # production applied what the developer's local copy has not: not drift ("local" ranks
    # first, so this read 'not applied in local' before local copies were set apart)
    status = status_frame(history)
    assert (status["progression"] == "").all()


def test_local_state_without_the_databases_file_is_nothing_applied(make_tree):
    """A state folder given for a database it holds no copy of: everything pending, said."""
    from d1nb.formats.wrangler_output import local_state_file

    root = make_tree(TWO_DATABASES)
    other = root / "elsewhere" / "state"
    _ledger_table(local_state_file(other, "someone-else"), ["0001_init.sql"])
    history = load_history(root, {("helpdesk.TICKETS", "local"): other}, use_git=False)
    assert history.ledgers[("helpdesk.TICKETS", "local")].applied.empty
    (note,) = [p for p in history.problems if "no local copy" in p.message]
    assert note.severity == "warning" and "aaaa-1" in note.message


def test_a_template_configs_local_state_is_its_one_database_with_the_ledger(make_tree):
    """Stranger's project #30 commits only wrangler.template.toml (database_id
    `<YOUR_DATABASE_ID>`); a developer's local state, made with their own config and a real
    id, holds no file named from the placeholder. The one database there with the ledger
    table is read, said in a warning; two such databases, or a real id, are not guessed."""
    from d1nb.formats.wrangler_output import local_state_file

    tree = {
        "svc/wrangler.template.toml": '[[env.staging.d1_databases]]\nbinding = "DB"\n'
        'database_name = "kiln"\ndatabase_id = "<YOUR_DATABASE_ID>"\n'
        'migrations_table = "__kiln_migrations"\n',
        "svc/migrations/0000_init.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
        "svc/migrations/0001_more.sql": "CREATE TABLE u (id INTEGER PRIMARY KEY);\n",
    }
    root = make_tree(tree)
    state = root / "dev" / "state"
    _ledger_table(local_state_file(state, "real-1"), ["0000_init.sql"], "__kiln_migrations")
    _ledger_table(local_state_file(state, "unrelated"), [], "other_table")
    history = load_history(root, {("svc", "staging"): state}, use_git=False)
    applied = history.ledgers[("svc", "staging")].applied
    assert applied["name"].tolist() == ["0000_init.sql"]
    (note,) = [p for p in history.problems if "placeholder" in p.message]
    assert note.severity == "warning" and "__kiln_migrations" in note.message
    _ledger_table(local_state_file(state, "real-2"), ["0000_init.sql"], "__kiln_migrations")
    history = load_history(root, {("svc", "staging"): state}, use_git=False)
    assert history.ledgers[("svc", "staging")].applied.empty  # two candidates: none chosen
    assert any("no local copy" in p.message for p in history.problems)


def test_local_state_file_is_named_as_miniflare_names_it():
    """Seen in a state folder written by wrangler 4.164 for database_id 3333…3333."""
    from d1nb.formats.wrangler_output import local_state_file

    file = local_state_file(Path(".wrangler/state"), "33333333-3333-3333-3333-333333333333")
    assert file.as_posix() == (
        ".wrangler/state/v3/d1/miniflare-D1DatabaseObject/"
        "3f3255f2e2bb01fbd9933552ed5d6b605513f968630bb30e663bfeb94341e991.sqlite"
    )


ENV_ONLY = {
    "wrangler.toml": "name = 'stockroom'\n"
    "[env.staging]\n[[env.staging.d1_databases]]\nbinding = 'STOCK'\n"
    "database_name = 's'\ndatabase_id = '<STAGING_DATABASE_ID>'\nmigrations_dir = 'db'\n"
    "[env.production]\n[[env.production.d1_databases]]\nbinding = 'STOCK'\n"
    "database_name = 'p'\ndatabase_id = '5b1c'\nmigrations_dir = 'db'\n",
    "db/0001_init.sql": "CREATE TABLE items (sku TEXT PRIMARY KEY);\n",
    "db/0002_more.sql": "ALTER TABLE items ADD COLUMN qty INTEGER;\n",
}


def test_local_copies_of_an_env_only_config_are_read_per_environment(make_tree, tmp_path):
    """With bindings under [env.X] only, `--local --env X` keeps a copy per environment (named
    from X's id): each is read as `local.X`, as `wrangler d1 migrations list --local --env X`
    reads it (found on a stranger's project: no local ledger at all, and "no ledger for any
    environment"). An impact on the folder must say which copy it means."""
    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.inputs.history import pending_frame
    from d1nb.presentation.project import service_export
    from d1nb.problems import InputError

    root = make_tree(ENV_ONLY)
    state = root / ".wrangler" / "state"
    _ledger_table(local_state_file(state, "5b1c"), ["0001_init.sql"])
    history = load_history(root, use_git=False)
    assert sorted(history.ledgers) == [("stockroom", "local.production")]
    assert history.ledgers[("stockroom", "local.production")].local
    assert not [
        p
        for p in history.problems
        if "no ledger for any" in p.message or "no environment" in p.message
    ]
    # the local copy is not production's ledger: what is applied there is unknown
    unknown = [p.message for p in history.problems if "no ledger for environment" in p.message]
    assert [m.split("'")[1] for m in unknown] == ["production", "staging"]
    assert all(p.severity == "warning" for p in history.problems)
    pending = pending_frame(history)
    assert pending[["environment", "name"]].values.tolist() == [
        ["local.production", "0002_more.sql"]
    ]

    _ledger_table(local_state_file(state, "<STAGING_DATABASE_ID>"), [])
    history = load_history(root, use_git=False)
    assert sorted(e for _s, e in history.ledgers) == ["local.production", "local.staging"]
    with pytest.raises(
        InputError, match=r"several environments \(local.production, local.staging\): give --env"
    ):
        service_export(history, "stockroom", state, tmp_path / "w")
    _snapshot, names = service_export(
        history, "stockroom", state, tmp_path / "w", env="local.production"
    )
    assert names == ["0002_more.sql"]


def test_a_local_copy_two_environments_share_is_said_to_be_both(make_tree):
    """Stranger's project #20: staging and production both bound `database_id = "__DB_ID__"`,
    so `--local --env staging` and `--local --env production` use one local database; status
    showed it as local.production alone, though the user had applied to staging. It is still
    shown once, and a warning says whose else it is."""
    from d1nb.formats.wrangler_output import local_state_file

    shared = {**ENV_ONLY}
    shared["wrangler.toml"] = ENV_ONLY["wrangler.toml"].replace("'5b1c'", "'<STAGING_DATABASE_ID>'")
    root = make_tree(shared)
    _ledger_table(
        local_state_file(root / ".wrangler" / "state", "<STAGING_DATABASE_ID>"), ["0001_init.sql"]
    )
    history = load_history(root, use_git=False)
    assert sorted(history.ledgers) == [("stockroom", "local.production")]
    (warning,) = [p for p in history.problems if "local copy" in p.message]
    assert warning.severity == "warning"
    assert "the local copy shown as local.production is also staging's" in warning.message
    root_apart = make_tree(ENV_ONLY)
    _ledger_table(local_state_file(root_apart / ".wrangler" / "state", "5b1c"), ["0001_init.sql"])
    assert not [
        p for p in load_history(root_apart, use_git=False).problems if "local copy" in p.message
    ]


def test_an_export_whose_ledger_disagrees_with_the_env_is_refused(make_tree, tmp_path):
    """`--env ENV` replays ENV's pending files; on an export older or newer than ENV's ledger
    that skips a migration the export never had, or applies one twice (found on a stranger's
    project: a state copied before its environment applied one more file was judged without
    that file). The export is refused, naming the files; without a ledger it cannot be told."""
    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.presentation.project import service_export
    from d1nb.problems import InputError

    root = make_tree(ENV_ONLY)
    _ledger_table(local_state_file(root / ".wrangler" / "state", "5b1c"), ["0001_init.sql"])
    history = load_history(root, use_git=False)
    env = "local.production"

    def export(name, applied, ledger=True):
        path = tmp_path / f"{name}.sqlite"
        if ledger:
            _ledger_table(path, applied)
        import apsw

        conn = apsw.Connection(str(path))
        conn.execute("CREATE TABLE items (sku TEXT PRIMARY KEY)")
        conn.close()
        return path

    _snapshot, names = service_export(
        history, "stockroom", export("level", ["0001_init.sql"]), tmp_path / "w", env=env
    )
    assert names == ["0002_more.sql"]
    with pytest.raises(
        InputError, match=r"lacks 0001_init.sql, applied in local.production: it is not a copy"
    ):
        service_export(history, "stockroom", export("older", []), tmp_path / "w", env=env)
    with pytest.raises(InputError, match=r"already has 0002_more.sql, pending in local.production"):
        service_export(
            history,
            "stockroom",
            export("newer", ["0001_init.sql", "0002_more.sql"]),
            tmp_path / "w",
            env=env,
        )
    _snapshot, names = service_export(
        history, "stockroom", export("bare", [], ledger=False), tmp_path / "w", env=env
    )
    assert names == ["0002_more.sql"]


def test_batch_planning_reads_a_state_folder_as_the_other_reports_do(make_tree):
    """Report 03 on a local-state folder holding two environments' copies took neither
    ("2 databases in this folder"), while reports 02 and 05 read `--env`'s (found on a
    stranger's project); now it reads the same copy, after the same pending files."""
    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.presentation.project import plan_backfill

    root = make_tree(ENV_ONLY)
    state = root / ".wrangler" / "state"
    _ledger_table(local_state_file(state, "5b1c"), ["0001_init.sql"])
    _ledger_table(local_state_file(state, "<STAGING_DATABASE_ID>"), [])
    import apsw

    for file in (local_state_file(state, "5b1c"), local_state_file(state, "<STAGING_DATABASE_ID>")):
        conn = apsw.Connection(str(file))
        conn.execute("CREATE TABLE IF NOT EXISTS items (sku TEXT PRIMARY KEY)")
        conn.close()
    backfill = plan_backfill(
        root, {"stockroom": ".wrangler/state"}, "db/0002_more.sql", env="local.production"
    )
    assert backfill.notes == ["the file has no UPDATE, DELETE or INSERT … SELECT to batch"]
    with pytest.raises(InputError, match=r"several environments"):
        plan_backfill(root, {"stockroom": ".wrangler/state"}, "db/0002_more.sql")


def test_a_local_copy_is_not_a_stage_of_the_progression(make_tree):
    """`local.ENV` copies are a developer's: files applied there are not 'applied before' any
    remote environment (found on a stranger's project: an empty preview ledger made the
    four files of the local preview copy progression drift)."""
    from d1nb.formats.wrangler_output import local_state_file

    root = make_tree(
        {
            **ENV_ONLY,
            "wrangler.toml": ENV_ONLY["wrangler.toml"]
            + "[env.preview]\n[[env.preview.d1_databases]]\nbinding = 'STOCK'\n"
            "database_name = 'v'\ndatabase_id = '<PREVIEW_ID>'\nmigrations_dir = 'db'\n",
            "ledgers/stockroom.preview.json": '[{"results": [], "success": true, "meta": {}}]',
        }
    )
    _ledger_table(local_state_file(root / ".wrangler" / "state", "5b1c"), ["0001_init.sql"])
    status = status_frame(load_history(root, use_git=False))
    local = status[status["environment"] == "local.production"]
    assert local["status"].tolist() == ["applied", "pending"]
    assert not local["progression"].fillna("").astype(bool).any()


def test_a_ledger_file_may_name_the_binding_or_the_database(make_tree):
    """Stranger's project #16 saved its production ledger as `ledgers/DB.production.json`
    (the binding, as `wrangler d1 execute DB` names it) and d1nb left production out of the
    status. A binding or database name that only one service (here, a folder) has means that
    service; one two services share stays unknown, and the problem lists the services."""
    ledger = (
        '[{"results":[{"id":1,"name":"0001_a.sql","applied_at":"2025-01-02 00:00:00"}],'
        '"success":true,"meta":{}}]'
    )
    toml = (
        'name = "{name}"\n[[d1_databases]]\nbinding = "{binding}"\ndatabase_name = "{db}"\n'
        'database_id = "x"\n[env.production]\n[[env.production.d1_databases]]\n'
        'binding = "{binding}"\ndatabase_name = "{db}-prod"\ndatabase_id = "y"\n'
    )
    root = make_tree(
        {
            "harbor/wrangler.toml": toml.format(name="harbor-api", binding="HARBOR", db="harbor"),
            "harbor/migrations/0001_a.sql": "CREATE TABLE t (a);\n",
            "yard/wrangler.toml": toml.format(name="yard-api", binding="DB", db="yard"),
            "yard/migrations/0001_a.sql": "CREATE TABLE t (a);\n",
            "dock/wrangler.toml": toml.format(name="dock-api", binding="DB", db="dock"),
            "dock/migrations/0001_a.sql": "CREATE TABLE t (a);\n",
            "ledgers/HARBOR.production.json": ledger,
            "ledgers/yard-prod.production.json": ledger,
            "ledgers/DB.production.json": ledger,
        }
    )
    history = load_history(root, use_git=False)
    status = summary_frame(history).set_index(["service", "environment"])
    assert status.loc[("harbor", "production"), "applied"] == 1
    assert status.loc[("yard", "production"), "applied"] == 1
    assert ("dock", "production") not in status.index
    (problem,) = [p for p in history.problems if p.path == "ledgers/DB.production.json"]
    assert "unknown service/environment DB:production" in problem.message
    assert "dock" in problem.message


def test_a_ledger_may_name_the_worker(make_tree):
    """Stranger's project #40 saved its ledgers under the worker's `name` in its config
    (`quillmark-api.production.json`), and d1nb called them ledgers of an unknown service:
    the service is the config's folder, `api`. A worker's name means its service, in a
    ledger file's name and in `--history` alike."""
    ledger = (
        '[{"results":[{"id":1,"name":"0001_a.sql","applied_at":"2025-01-02 00:00:00"}],'
        '"success":true,"meta":{}}]'
    )
    toml = (
        'name = "{name}"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "{name}"\n'
        'database_id = "x"\n[env.production]\n[[env.production.d1_databases]]\n'
        'binding = "DB"\ndatabase_name = "{name}-prod"\ndatabase_id = "y"\n'
    )
    root = make_tree(
        {
            "apps/api/wrangler.toml": toml.format(name="quillmark-api"),
            "apps/api/migrations/0001_a.sql": "CREATE TABLE t (a);\n",
            "apps/jobs/wrangler.toml": toml.format(name="quillmark-jobs"),
            "apps/jobs/migrations/0001_a.sql": "CREATE TABLE t (a);\n",
            "ledgers/quillmark-api.production.json": ledger,
            "staging.json": ledger,
        }
    )
    history = load_history(root, {("quillmark-jobs", "production"): root / "staging.json"})
    status = summary_frame(history).set_index(["service", "environment"])
    assert status.loc[("api", "production"), "applied"] == 1
    assert status.loc[("jobs", "production"), "applied"] == 1
    assert not [p for p in history.problems if "unknown service" in p.message]
