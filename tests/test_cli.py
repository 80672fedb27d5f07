"""The d1nb command: formats, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from d1nb.presentation.cli import help_markdown, main
from tests.conftest import EMPTY_EXPORT


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_on_sample_reports_drift(capsys, sample):
    code, out, err = run(capsys, "status", str(sample), "--format", "json")
    assert code == 1 and err == ""
    payload = json.loads(out)
    assert {r["name"] for r in payload["drift"]} >= {
        "0003_create_lookup_queue.sql",
        "0006_add_queue_retries.sql",
    }
    assert payload["problems"] == []


def test_status_clean_project_exits_0(capsys, make_tree):
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\n',
            "s/migrations/0001_init.sql": "CREATE TABLE IF NOT EXISTS a (x);\n",
        }
    )
    code, out, _ = run(capsys, "status", str(root))
    assert code == 0 and "Applied and pending" in out


def test_lint_json_shape_and_thresholds(capsys, sample, tmp_path):
    code, out, _ = run(capsys, "lint", str(sample), "--format", "json")
    payload = json.loads(out)
    findings = payload["findings"]
    assert code == 1 and payload["problems"] == []
    assert set(findings[0]) == {
        "rule",
        "name",
        "severity",
        "service",
        "database",
        "file",
        "line",
        "message",
    }
    code, _, err = run(capsys, "lint", str(sample / "services" / "dictionary"))
    assert code == 2 and "this folder is part of the project at" in err  # not the root
    dictionary = tmp_path / "dictionary"
    shutil.copytree(sample / "services" / "dictionary", dictionary)
    code, _, _ = run(capsys, "lint", str(dictionary), "--fail-on", "error")
    assert code == 0
    code, _, _ = run(capsys, "lint", str(dictionary), "--fail-on", "warning")
    assert code == 1


def test_unusable_input_exits_2_and_names_file_and_line(capsys, make_tree):
    root = make_tree(
        {
            "bad/wrangler.toml": "name = 'x'\n[[d1_databases]\n",
            "good/wrangler.toml": 'name = "g"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\n',
            "good/migrations/0001_init.sql": "CREATE TABLE a (x);\n",
        }
    )
    code, out, err = run(capsys, "lint", str(root))
    assert code == 2
    assert "bad/wrangler.toml:2: error: cannot parse config" in err
    assert "good/migrations/0001_init.sql:1: warning D1N001" in out


def test_lock_writes_and_status_uses_it(capsys, tmp_path, sample):
    project = tmp_path / "p"
    shutil.copytree(sample / "services" / "api", project / "services" / "api")
    code, out, _ = run(capsys, "lock", str(project))
    assert code == 0 and "11 migration files" in out
    assert (project / "d1nb.lock").read_text(encoding="utf-8").count(".sql ") == 11


def test_help_has_examples_and_module_entry_point():
    for command in (
        "status",
        "lint",
        "lock",
        "load",
        "replay",
        "impact",
        "batch",
        "diff",
        "report",
    ):
        result = subprocess.run(
            [sys.executable, "-m", "d1nb", command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "example: d1nb " + command in result.stdout


def test_docs_cli_md_matches_the_parser():
    written = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == help_markdown(), "docs/cli.md is out of date: run `make docs`"


def test_history_argument_is_validated(capsys, sample):
    with pytest.raises(SystemExit) as info:
        main(["status", str(sample), "--history", "nonsense"])
    assert info.value.code == 2
    assert "[SERVICE:]ENV=FILE" in capsys.readouterr().err


def test_load_writes_duckdb_and_reports_counts(capsys, sample, tmp_path):
    out = tmp_path / "api.duckdb"
    code, stdout, _ = run(
        capsys,
        "load",
        str(sample / "exports" / "api" / "before.sql"),
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "w"),
        "--format",
        "json",
    )
    assert code == 0
    tables = {t["table"]: t["rows"] for t in json.loads(stdout)["tables"]}
    assert tables["goal_progress"] == 1100
    import duckdb

    assert duckdb.connect(str(out)).execute("SELECT count(*) FROM sync_data").fetchall() == [
        (1500,)
    ]


def test_replay_says_a_failing_files_cascades_are_rolled_back(capsys, make_tree):
    """Stranger's project #28: a rebuild whose RENAME fails (a view names the dropped table)
    is rolled back whole by D1, as wrangler showed: its DROP TABLE's cascades lose nothing
    yet, and the replay said LOSES DATA all the same."""
    root = make_tree(
        {
            "p/wrangler.toml": 'name = "p"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\n',
            "p/migrations/0001_init.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n"
            "CREATE TABLE b (id INTEGER PRIMARY KEY, "
            "a_id INTEGER REFERENCES a(id) ON DELETE CASCADE);\n"
            "CREATE VIEW v AS SELECT id FROM a;\n",
            "p/migrations/0002_rebuild.sql": "CREATE TABLE a_new (id INTEGER PRIMARY KEY);\n"
            "INSERT INTO a_new SELECT id FROM a;\nDROP TABLE a;\n"
            "ALTER TABLE a_new RENAME TO a;\n",
            "p/before.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n"
            "CREATE TABLE b (id INTEGER PRIMARY KEY, "
            "a_id INTEGER REFERENCES a(id) ON DELETE CASCADE);\n"
            "INSERT INTO a VALUES (1), (2);\nINSERT INTO b VALUES (1, 1), (2, 1), (3, 2);\n"
            "CREATE VIEW v AS SELECT id FROM a;\n",
        }
    )
    project = root / "p"
    code, out, _ = run(
        capsys, "replay", str(project), "--snapshot", str(project / "before.sql"),
        "--only", "0002_rebuild.sql", "--workdir", str(root / "w"),
    )  # fmt: skip
    assert code == 1 and "FAILED 0002_rebuild.sql:4: error in view v" in out
    assert "LOSES DATA" not in out
    assert out.rstrip().splitlines()[-1] == (
        "WOULD LOSE DATA: 3 rows deleted or nulled by foreign-key actions in 0002_rebuild.sql, "
        "which D1 rolls back as it fails: nothing is lost this time, and they go once the file "
        "runs (the table above)"
    )


def test_load_bad_export_exits_2_naming_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (a);\nINSERT INTO t VALUES ('x'", encoding="utf-8")
    code, _, err = run(capsys, "load", str(bad), "--workdir", str(tmp_path / "w"))
    assert code == 2 and "bad.sql:2" in err and "truncated" in err


def test_replay_exit_codes(capsys, sample, tmp_path):
    api = str(sample / "exports" / "api" / "before.sql")
    code, out, _ = run(
        capsys,
        "replay",
        str(sample),
        "--service",
        "api",
        "--snapshot",
        api,
        "--env",
        "production",
        "--format",
        "json",
        "--workdir",
        str(tmp_path),
    )
    payload = json.loads(out)
    assert code == 1  # 0011 deletes goal_progress rows by cascade
    assert payload["cascades"][0]["rows"] == 1100
    # in text, the reason for exit 1 is said (stranger's project #26: a replay that cascaded
    # 5,000 rows ended on its statement table and exited 1 without a word)
    code, out, _ = run(
        capsys, "replay", str(sample), "--service", "api", "--snapshot", api,
        "--env", "production", "--workdir", str(tmp_path),
    )  # fmt: skip
    assert code == 1 and out.rstrip().splitlines()[-1] == (
        "LOSES DATA: 1,100 rows deleted or nulled by foreign-key actions (the table above)"
    )
    code, out, _ = run(
        capsys,
        "replay",
        str(sample),
        "--service",
        "api",
        "--snapshot",
        api,
        "--only",
        "0010_lowercase_sync_moods.sql",
        "--workdir",
        str(tmp_path),
    )
    assert code == 0
    scores = str(sample / "exports" / "scores" / "before.sql")
    code, out, _ = run(
        capsys,
        "replay",
        str(sample),
        "--service",
        "scores",
        "--snapshot",
        scores,
        "--env",
        "production",
        "--workdir",
        str(tmp_path),
    )
    assert code == 1 and "FAILED 0016_add_scores_updated_at.sql:2" in out
    # the per-migration table shows the failing line as a line, blanks as the one dash
    failing = next(x for x in out.splitlines() if x.strip().startswith("0016_") and "False" in x)
    assert " 2 " in failing and "2.0" not in failing and "NaN" not in out
    # the export is production's: staging has applied two files it lacks, and replaying only
    # staging's pending files on it would skip them
    code, out, err = run(
        capsys, "replay", str(sample), "--service", "scores", "--snapshot", scores,
        "--env", "staging", "--workdir", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and not out.strip()
    assert (
        "lacks 0012_canonicalise_composers.sql, 0013_backfill_normalized_id.sql, applied in "
        "staging" in err
    )
    code, _, err = run(capsys, "replay", str(sample), "--service", "nope", "--snapshot", api)
    assert code == 2 and "no service 'nope'" in err


def test_the_export_tells_which_service_it_is(capsys, sample, tmp_path):
    """Stranger's project #8 (one wrangler.json, two databases): `impact --snapshot` refused
    without --service although the export's ledger names its migrations. With several
    services, the one whose files the ledger names is taken, and said; an export whose ledger
    names none is refused, naming the choices."""
    for service in ("api", "scores"):
        export = str(sample / "exports" / service / "before.sql")
        code, out, err = run(
            capsys, "impact", str(sample), "--snapshot", export, "--format", "json"
        )
        assert code in (0, 1) and json.loads(out)["service"] == service
        assert f"service {service}: the one whose migration files its ledger names" in err
    bare = tmp_path / "bare.sql"
    bare.write_text("PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n")
    code, out, err = run(capsys, "impact", str(sample), "--snapshot", str(bare))
    assert code == 2 and not out.strip()
    assert "its ledger names no migration of any service: name the service with --service" in err


def test_impact_verdicts_and_exit_codes(capsys, sample, tmp_path):
    api = str(sample / "exports" / "api" / "before.sql")

    def impact(*more: str) -> tuple[int, str, str]:
        return run(
            capsys, "impact", str(sample), "--service", "api", "--snapshot", api, *more,
            "--workdir", str(tmp_path),
        )  # fmt: skip

    code, out, _ = impact("--env", "production", "--format", "json")
    verdicts = {m["file"]: m["verdict"] for m in json.loads(out)["migrations"]}
    assert code == 1 and verdicts["0011_goals_add_category.sql"] == "loses data"
    code, out, _ = impact("--only", "0010_lowercase_sync_moods.sql")
    assert code == 0 and "SAFE: 0010_lowercase_sync_moods.sql" in out
    # what the replay notes of a file (here: D1 ignores its PRAGMA foreign_keys=OFF) is
    # printed by impact too; it was by replay only
    code, out, _ = impact("--only", "0011_goals_add_category.sql")
    assert "note: 0011_goals_add_category.sql: line 4: PRAGMA foreign_keys=OFF" in out


def test_batch_writes_files_and_rejects_files_without_dml(capsys, sample, tmp_path):
    scores = str(sample / "exports" / "scores" / "before.sql")
    code, out, _ = run(
        capsys,
        "batch",
        str(sample),
        "--service",
        "scores",
        "--snapshot",
        scores,
        "--migration",
        "0013_backfill_normalized_id.sql",
        "--budget-ms",
        "2",
        "--out",
        str(tmp_path / "b"),
        "--workdir",
        str(tmp_path / "w"),
        "--format",
        "json",
    )
    plan = json.loads(out)["statements"][0]
    assert code == 0 and plan["rows"] == 2500 and plan["mode"] == "limit"
    assert len(list((tmp_path / "b").glob("batch_*.sql"))) == plan["batches"]
    code, _, err = run(
        capsys,
        "batch",
        str(sample),
        "--service",
        "scores",
        "--snapshot",
        scores,
        "--migration",
        "0014_rename_scores_instrument.sql",
        "--out",
        str(tmp_path / "c"),
        "--workdir",
        str(tmp_path / "w"),
    )
    assert code == 2 and "no UPDATE, DELETE or INSERT … SELECT" in err
    assert err.startswith("services/scores/migrations/0014_")  # relative to the project


def test_batch_says_when_even_one_row_a_batch_is_over_the_budget(capsys, sample, tmp_path):
    """Stranger's project #9: a DELETE whose every row scans an unindexed child was planned
    "in batches of 1 (predicted p95 27.9 ms)" against a 5 ms budget, and the command exited 0
    saying nothing of the budget (report 03 fails such a plan). Since #19 such a plan writes
    no files: a batch of one row over the budget means no size meets it."""
    code, out, _ = run(
        capsys,
        *("batch", str(sample), "--service", "scores"),
        *("--snapshot", str(sample / "exports" / "scores" / "before.sql")),
        *("--migration", "0013_backfill_normalized_id.sql", "--budget-ms", "0.0001"),
        *("--out", str(tmp_path / "b"), "--workdir", str(tmp_path / "w")),
    )
    assert code == 1
    assert "rows of scores: not batched" in out
    assert "no batch size meets the 0.0001 ms budget: a batch of one row is predicted at" in out
    assert not list((tmp_path / "b").glob("batch_*.sql"))  # none of 1 row each (#19)


def test_batch_reports_what_it_cannot_batch_and_still_batches_the_rest(capsys, make_tree, tmp_path):
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\n',
            "s/migrations/0001_init.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
            "CREATE TABLE log (msg TEXT);\n",
            "s/migrations/0002_backfill.sql": "ALTER TABLE t ADD COLUMN w TEXT;\n"
            "INSERT INTO log (msg) SELECT v FROM t;\n"
            "UPDATE t SET w = upper(v) WHERE w IS NULL;\n",
            "export.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
            "CREATE TABLE log (msg TEXT);\n"
            + "".join(f"INSERT INTO \"t\" VALUES({i},'v{i}');\n" for i in range(1, 301)),
        }
    )
    code, out, _ = run(
        capsys,
        *("batch", str(root), "--service", "s", "--snapshot", str(root / "export.sql")),
        *("--migration", "0002_backfill.sql", "--out", str(tmp_path / "out")),
        *("--workdir", str(tmp_path / "w"), "--format", "json"),
    )
    assert code == 2
    log, update = json.loads(out)["statements"]
    assert log["error"].startswith("s/migrations/0002_backfill.sql:2: cannot batch")
    assert "no primary key or unique index" in log["error"]
    # planned after the file's ADD COLUMN: the column it fills exists
    assert update["error"] == "" and update["rows"] == 300 and update["mode"] == "limit"
    assert list((tmp_path / "out" / "line_0003").glob("batch_*.sql"))


ONE_SERVICE = {
    "shop/wrangler.toml": 'name = "shop"\n[[d1_databases]]\nbinding = "DB"\n'
    'database_name = "d"\ndatabase_id = "1"\n',
    "shop/migrations/0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n",
    "shop/migrations/0002_more.sql": "ALTER TABLE t ADD COLUMN b;\n",
}


def test_no_config_is_unusable(capsys, tmp_path):
    code, _, err = run(capsys, "status", str(tmp_path))
    assert code == 2 and "no wrangler config" in err
    code, out, _ = run(capsys, "lint", str(tmp_path), "--format", "json")
    assert code == 2 and "no wrangler config" in json.loads(out)["problems"][0]["message"]


def test_one_service_needs_no_service_and_env_falls_back_to_top_level(capsys, make_tree):
    root = make_tree(ONE_SERVICE)
    ledger = root / "prod.csv"
    ledger.write_text(
        "id,name,applied_at\n1,0001_init.sql,2025-01-01 00:00:00\n2,0009_gone.sql,"
        "2025-01-02 00:00:00\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "status", str(root), "--history", f"production={ledger}")
    assert code == 1, err  # drift printed: exit 1
    assert "applied, file missing" in out and "0002_more.sql" in out
    assert "falls back to the top-level binding" in err
    empty = make_tree({"empty.sql": EMPTY_EXPORT}) / "empty.sql"
    code, out, err = run(capsys, "replay", str(root), "--snapshot", str(empty))
    assert code == 0, err


def test_an_export_of_another_database_is_refused(capsys, make_tree, tmp_path):
    root = make_tree(ONE_SERVICE)
    other = tmp_path / "other.sql"
    other.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE d1_migrations(id INTEGER PRIMARY KEY "
        "AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT "
        "NULL);\nINSERT INTO d1_migrations VALUES(1,'0001_scores.sql','2025-01-01 00:00:00');\n",
        encoding="utf-8",
    )
    for command in ("replay", "impact"):
        code, _, err = run(capsys, command, str(root), "--snapshot", str(other))
        assert code == 2 and "another database's" in err


def test_lock_refuses_to_forget_edits(capsys, make_tree):
    root = make_tree(ONE_SERVICE)
    ledger = root / "ledgers" / "shop.production.csv"
    ledger.parent.mkdir()
    ledger.write_text("id,name,applied_at\n1,0001_init.sql,2025-01-01 00:00:00\n", encoding="utf-8")
    assert run(capsys, "lock", str(root))[0] == 0
    (root / "shop/migrations/0001_init.sql").write_text(
        "CREATE TABLE t (a, z);\n", encoding="utf-8"
    )
    code, _, err = run(capsys, "lock", str(root))
    assert code == 2 and "0001_init.sql was applied, then edited" in err
    assert "D1N014" in run(capsys, "lint", str(root))[1]
    assert run(capsys, "lock", str(root), "--force")[0] == 0


@pytest.mark.parametrize(
    "extra",
    [["--key", "sync_data=nosuch"], ["--key", "nosuch=id"], ["--mask", "sync_data.nosuch"]],
)
def test_diff_refuses_names_that_are_not_there(capsys, sample, extra):
    exports = sample / "exports" / "api"
    code, _, err = run(
        capsys, "diff", str(exports / "before.sql"), str(exports / "after.sql"), *extra
    )
    assert code == 2 and "no " in err


@pytest.mark.parametrize("budget", ["0", "nan", "-5", "inf"])
def test_budget_must_be_a_positive_number(capsys, sample, budget):
    with pytest.raises(SystemExit) as info:
        main(["impact", str(sample), "--snapshot", "x.sql", "--budget-ms", budget])
    assert info.value.code == 2


def test_piping_into_head_ends_quietly(make_tree):
    """Far more output than a pipe holds, so the writer meets the closed pipe."""
    files = {
        f"shop/migrations/{i:04d}_table_{i}.sql": f"CREATE TABLE t{i} (a);\n"
        for i in range(1, 1501)
    }
    root = make_tree({"shop/wrangler.toml": ONE_SERVICE["shop/wrangler.toml"], **files})
    command = f"{sys.executable} -m d1nb lint {root} | head -1"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
    assert result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_load_out_is_replaced_whole(capsys, sample, tmp_path):
    """A reused --out holds the new export's tables only, and no partial file is left."""
    import duckdb

    out = tmp_path / "snap.duckdb"
    for service in ("api", "scores"):
        code, _, err = run(
            capsys, "load", str(sample / "exports" / service / "before.sql"), "--out", str(out)
        )
        assert code == 0, err
    con = duckdb.connect(str(out), read_only=True)
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    con.close()
    assert "scores" in tables and "sync_data" not in tables
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.duckdb"]


def test_temporary_working_folders_are_removed(capsys, sample, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    code, _, err = run(capsys, "load", str(sample / "exports" / "api" / "before.sql"))
    assert code == 0, err
    assert not list(tmp_path.glob("d1nb-*"))


@pytest.mark.parametrize(
    "args",
    [
        ("status", "{sample}"),
        ("lint", "{sample}"),
        ("load", "{sample}/exports/api/before.sql"),
        ("replay", "{sample}", "--service", "api", "--snapshot", "{sample}/exports/api/before.sql"),
        ("diff", "{sample}/exports/api/before.sql", "{sample}/exports/api/after.sql"),
        ("load", "{sample}/exports/api/nowhere.sql"),
        ("replay", "{sample}", "--snapshot", "{sample}/exports/api/before.sql"),
    ],
)
def test_every_command_prints_the_same_json_envelope(capsys, sample, args):
    """command, exit_code and problems first, whatever the command and however it ends; an
    unusable input is in the envelope's problems as well as on stderr."""
    argv = [a.format(sample=sample) for a in args]
    code, out, err = run(capsys, *argv, "--format", "json")
    payload = json.loads(out)
    assert list(payload)[:3] == ["command", "exit_code", "problems"]
    assert payload["command"] == argv[0] and payload["exit_code"] == code
    if code == 2:
        (problem,) = payload["problems"]
        assert problem["message"] and problem["message"] in err


HELPDESK = {
    "wrangler.json": '{"name": "helpdesk", "d1_databases": ['
    '{"binding": "TICKETS", "database_name": "t", "database_id": "aaaa-1",'
    ' "migrations_dir": "sql/tickets"},'
    '{"binding": "AUDIT", "database_name": "a", "database_id": "bbbb-2",'
    ' "migrations_dir": "sql/audit"}]}',
    "sql/tickets/0001_init.sql": "CREATE TABLE tickets (id TEXT PRIMARY KEY);\n",
    "sql/tickets/0002_more.sql": "INSERT INTO tickets VALUES ('T1');\n",
    "sql/audit/0001_events.sql": "CREATE TABLE events (seq INTEGER PRIMARY KEY);\n",
}


def _applied_locally(root: Path, local_id: str, folder: str) -> None:
    """What `wrangler d1 migrations apply --local` leaves: the database's own state file."""
    import apsw

    from d1nb.formats.wrangler_output import local_state_file

    file = local_state_file(root / ".wrangler" / "state", local_id)
    file.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(file))
    conn.execute(
        "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
    )
    first = sorted((root / folder).iterdir())[0]
    conn.execute(first.read_text())
    conn.execute("INSERT INTO d1_migrations(name) VALUES (?)", (first.name,))
    conn.close()


@pytest.mark.parametrize("command", ["impact", "replay", "rollback"])
def test_a_local_state_snapshot_is_the_services_own_database(capsys, make_tree, command):
    """`--snapshot .wrangler/state` of a worker with two databases loads the one of --service
    (it said '2 databases in this folder'); with nothing pending the command passes and says
    so (impact failed with an internal error, rollback exited 1)."""
    root = make_tree(HELPDESK)
    _applied_locally(root, "aaaa-1", "sql/tickets")
    _applied_locally(root, "bbbb-2", "sql/audit")
    state = str(root / ".wrangler" / "state")
    code, out, err = run(capsys, command, str(root), "--service", "helpdesk.TICKETS",
                         "--snapshot", state)  # fmt: skip
    assert "0002_more.sql" in out and "error" not in err
    assert code in (0, 1)  # rollback: no compensating migration of its own
    code, out, err = run(capsys, command, str(root), "--service", "helpdesk.AUDIT",
                         "--snapshot", state)  # fmt: skip
    assert code == 0, err
    assert "nothing pending on the export for helpdesk.AUDIT" in out


def test_lint_says_nothing_of_ledgers_status_says_it_needs(make_tree, capsys):
    """Stranger's project #14: `d1nb lint` and `d1nb batch` printed "no ledger for environment
    'staging' … left out of the status", which is about status, a command they are not.
    Status still says it."""
    root = make_tree(
        {
            "app/wrangler.toml": 'name = "app"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "app"\ndatabase_id = "x"\n[env.staging]\n'
            '[[env.staging.d1_databases]]\nbinding = "DB"\ndatabase_name = "app-staging"\n'
            'database_id = "y"\n',
            "app/migrations/0001_t.sql": "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY);\n",
            "ledgers/app.production.json": "[]\n",
        }
    )
    for command, said in (("status", True), ("lint", False)):
        main([command, str(root)])
        assert ("no ledger" in capsys.readouterr().err) is said, command


def test_diff_of_json_output_takes_its_table_and_schema(capsys, make_tree):
    """`d1nb diff a.json b.json` said "--json output does not name its table: give it
    (--table T …)", and diff had no --table (stranger's project #16: bookings saved with
    `wrangler d1 execute --json` before and after). Both sides take --table and --schema; the
    figures are those of a diff of the same rows by SQL."""

    def envelope(rows: list[dict]) -> str:
        return json.dumps([{"results": rows, "success": True, "meta": {}}])

    before = [{"id": i, "price": i * 1.5, "note": f"n'{i}"} for i in range(1, 21)]
    after = [dict(r, price=r["price"] * 2) if r["id"] % 4 == 0 else r for r in before[:-3]]
    root = make_tree(
        {
            "before.json": envelope(before),
            "after.json": envelope(after),
            "m/0001_t.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, price REAL, note TEXT);\n",
        }
    )
    code, out, err = run(
        capsys, "diff", str(root / "before.json"), str(root / "after.json"), "--format", "json"
    )
    assert code == 2 and "--table" in err
    code, out, err = run(
        capsys,
        "diff",
        str(root / "before.json"),
        str(root / "after.json"),
        "--table",
        "t",
        "--schema",
        str(root / "m"),
        "--format",
        "json",
    )
    assert code == 1, err
    (table,) = [r for r in json.loads(out)["diff"]["summary"] if r["table"] == "t"]
    changed = sum(1 for r in after if r != before[r["id"] - 1])
    assert (table["key"], table["removed"], table["changed"]) == ("id", 3, changed)


def test_batch_of_a_file_the_export_already_has_says_so(capsys, make_tree, tmp_path):
    """Stranger's project #19: batching 0001 on an export whose ledger lists it said "the file
    fails here on this export (duplicate column name: amount_cents)"."""
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\nmigrations_table = "__drizzle_migrations"\n',
            "s/migrations/0001_cents.sql": "ALTER TABLE t ADD COLUMN cents INTEGER;\n"
            "UPDATE t SET cents = v * 100;\n",
            "export.sql": 'CREATE TABLE "__drizzle_migrations"(id INTEGER PRIMARY KEY, '
            "name TEXT UNIQUE, applied_at TIMESTAMP);\n"
            "INSERT INTO \"__drizzle_migrations\" VALUES(1,'0001_cents.sql','2026-01-01');\n"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL, cents INTEGER);\n"
            'INSERT INTO "t" VALUES(1,2.5,250);\n',
        }
    )
    code, _out, err = run(
        capsys,
        *("batch", str(root), "--snapshot", str(root / "export.sql")),
        *("--migration", "0001_cents.sql", "--out", str(tmp_path / "b")),
    )
    assert code == 2
    assert "the export already has 0001_cents.sql (its __drizzle_migrations ledger lists it)" in err


def test_batch_plans_on_the_state_just_before_its_file(capsys, make_tree, tmp_path):
    """Stranger's project #26: `d1nb batch --migration 0004` on an export that still lacked
    0003 planned "35,920 rows of delivery log", a table 0003's rebuild empties by cascade
    first; report 03 replays the pending files before the batched one, the command did not.
    It does now, and says so; a table empty at that point is planned as is under
    --scale-to (it said "nothing to scale up" and exited 2)."""
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\n',
            "s/migrations/0001_t.sql": "CREATE TABLE p (id INTEGER PRIMARY KEY);\n"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE "
            "CASCADE, v TEXT);\n",
            "s/migrations/0002_purge.sql": "DELETE FROM p WHERE id > 1;\n",
            "s/migrations/0003_fill.sql": "UPDATE t SET v = upper(v);\n",
            "export.sql": "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY, name TEXT UNIQUE, "
            "applied_at TIMESTAMP);\n"
            "INSERT INTO \"d1_migrations\" VALUES(1,'0001_t.sql','2026-01-01');\n"
            "CREATE TABLE p (id INTEGER PRIMARY KEY);\n"
            'INSERT INTO "p" VALUES(1);\nINSERT INTO "p" VALUES(2);\n'
            "CREATE TABLE t (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id) ON DELETE "
            "CASCADE, v TEXT);\n"
            + "".join(
                f"INSERT INTO \"t\" VALUES({i},{1 + (i > 10)},'v{i}');\n" for i in range(1, 50)
            ),
        }
    )
    args = ("batch", str(root), "--snapshot", str(root / "export.sql"), "--format", "json")
    code, out, err = run(capsys, *args, "--migration", "0003_fill", "--out", str(tmp_path / "b"))
    assert code == 0, err
    payload = json.loads(out)
    assert payload["replayed_first"] == ["0002_purge.sql"]
    assert payload["statements"][0]["rows"] == 10  # 39 rows of t went with p 2
    assert "1 pending file(s) before it replayed first: 0002_purge.sql" in err
    (root / "s/migrations/0002_purge.sql").write_text("DELETE FROM p;\n", encoding="utf-8")
    code, out, err = run(
        capsys, *args, "--migration", "0003_fill", "--out", str(tmp_path / "c"),
        "--scale-to", "1000",
    )  # fmt: skip
    assert code == 0, err
    (planned,) = json.loads(out)["statements"]
    assert planned["rows"] == 0 and not planned["error"]


def test_a_migration_in_a_folder_of_its_own_is_named_by_its_folder(capsys, make_tree, tmp_path):
    """Stranger's project #19 (`migrations_pattern = "db/migrations/*/up.sql"`): `--migration
    0004_rank_orders` said "not a migration of orders"; the folder names its migration now, and
    a name that matches none says how this service's migrations are named."""
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\nmigrations_dir = "db"\nmigrations_pattern = "db/*/up.sql"\n',
            "s/db/0001_init/up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n",
            "s/db/0002_fill/up.sql": "UPDATE t SET v = upper(v);\n",
            "export.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
            + "".join(f"INSERT INTO \"t\" VALUES({i},'v{i}');\n" for i in range(1, 50)),
        }
    )
    args = ("batch", str(root), "--snapshot", str(root / "export.sql"))
    code, out, _err = run(capsys, *args, "--migration", "0002_fill", "--out", str(tmp_path / "b"))
    assert code == 0 and "rows of t in batches of" in out
    code, _out, err = run(capsys, *args, "--migration", "0003_nope", "--out", str(tmp_path / "c"))
    assert code == 2
    assert "not a migration of s: 0003_nope (its migrations are named like 0002_fill/up.sql)" in err


def test_schema_in_folders_of_their_own_is_read_by_the_configs_pattern(capsys, make_tree):
    """Stranger's project #19: `--schema services/orders/db/migrations`, a folder per
    migration (`migrations_pattern`), gave no tables ("table orders is not created by the
    given schema"): the folder is read by the pattern of the config that names it."""
    root = make_tree(
        {
            "s/wrangler.toml": 'name = "s"\n[[env.staging.d1_databases]]\nbinding = "DB"\n'
            'database_name = "d"\nmigrations_dir = "db"\nmigrations_pattern = "db/*/up.sql"\n',
            "s/db/0001_init/up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n",
            "s/db/0001_init/down.sql": "DROP TABLE t;\n",
            "t.csv": "id,v\n1,a\n2,\n",
        }
    )
    code, out, err = run(
        capsys,
        *("load", str(root / "t.csv"), "--table", "t", "--schema", str(root / "s" / "db")),
        *("--format", "json", "--quiet"),
    )
    assert code == 0, err
    assert {"table": "t", "rows": 2} in json.loads(out)["tables"]


def test_services_that_share_one_migrations_folder_are_one_history(capsys, make_tree):
    """Stranger's project #21: a monorepo's API and cron workers bind one database and read
    one `packages/db/migrations` folder; report 04 and `impact` without --service refused
    the export ("its ledger names as many migrations of api and cron"). They are one history:
    the first by name is taken. Two services with folders of their own still tie."""
    shared = '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "d"\n'
    root = make_tree(
        {
            "apps/api/wrangler.toml": f'name = "api"\n{shared}'
            'migrations_dir = "../../db/migrations"\n',
            "apps/cron/wrangler.toml": f'name = "cron"\n{shared}'
            'migrations_dir = "../../db/migrations"\n',
            "db/migrations/0001_t.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n",
            "db/migrations/0002_v.sql": "UPDATE t SET v = upper(v);\n",
            "export.sql": "PRAGMA defer_foreign_keys=TRUE;\n"
            "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
            "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n"
            "INSERT INTO d1_migrations VALUES(1,'0001_t.sql','2025-01-01 00:00:00');\n"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES(1,'a');\n",
        }
    )
    code, out, err = run(
        capsys, "impact", str(root), "--snapshot", str(root / "export.sql"), "--format", "json"
    )
    assert code in (0, 1), err
    assert json.loads(out)["service"] == "api"
    (root / "apps/cron/wrangler.toml").write_text(
        f'name = "cron"\n{shared}migrations_dir = "migrations"\n', encoding="utf-8"
    )
    (root / "apps/cron/migrations").mkdir()
    (root / "apps/cron/migrations/0001_t.sql").write_text("CREATE TABLE t (id);\n")
    code, _, err = run(capsys, "impact", str(root), "--snapshot", str(root / "export.sql"))
    assert code == 2 and "its ledger names as many migrations of api and cron" in err


def test_text_tables_align_text_left_and_numbers_right(capsys, tmp_path):
    """A long detail right-aligned pushed every short one hundreds of spaces from its row's
    name (seen on a stranger's project: `d1nb diff` of a `--table` export); text columns now
    start at their left edge, numbers and the missing mark keep to the right."""
    before, after = tmp_path / "before.sql", tmp_path / "after.sql"
    before.write_text(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n"
        'INSERT INTO "t" ("id","v") VALUES(1,\'a\');\n'
        'INSERT INTO "t" ("id","v") VALUES(22222,\'b\');\n'
    )
    after.write_text(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w INTEGER);\n"
        "CREATE TABLE a_table_with_a_long_name (id INTEGER PRIMARY KEY);\n"
        'INSERT INTO "t" ("id","v","w") VALUES(1,\'changed\',7);\n'
    )
    code, out, _ = run(capsys, "diff", str(before), str(after))
    assert code == 1
    lines = out.splitlines()
    verdict = lines[lines.index("Verdict") + 1 :][:5]
    assert [line.split()[0] for line in verdict] == ["item", "data", "schema", "checks", "verdict"]
    assert all(line.index(line.split()[2]) < 20 for line in verdict[1:])  # no run of spaces
    summary = lines[lines.index("Summary") + 1 :][:3]
    header, row = summary[0], summary[2] if summary[1].startswith("a_table") else summary[1]
    assert row.startswith("t ")
    # rows_before (2) ends where its header does
    assert row.index(" 2 ") + 2 == header.index("rows_before") + len("rows_before")
    columns = lines[lines.index("Columns with changes") + 1 :]
    header = columns[0]
    w_row = next(line for line in columns if line.startswith("t ") and " w " in line)
    assert w_row[header.index("changed") + len("changed") - 1] == "—"
