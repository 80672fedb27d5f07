"""Report verdicts, whole tables, the backfill report 03 picks and the Time Travel runbook, on the
sample and on a stranger's project (a space and a quote in names, a custom ledger table)."""

from __future__ import annotations

import shlex

import apsw
import pandas as pd
import pytest
from conftest import STRANGER_SERVICE as SERVICE

from d1nb import lint_table, load_history
from d1nb.analyses.expectations import expect
from d1nb.analyses.impact import verdict_table
from d1nb.analyses.rollback import RollbackCheck, time_travel_runbook
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.dumpformat import write_dump
from d1nb.presentation.display import MISSING, Verdict, table_html, table_text
from d1nb.presentation.project import audit_exports, audit_replay, plan_backfill, project_impacts
from d1nb.presentation.report_inputs import read_settings
from d1nb.presentation.verdicts import (
    audit_verdict,
    backfill_verdict,
    history_verdict,
    impact_verdict,
    rollback_verdict,
)
from d1nb.problems import InputError

SNAPSHOTS = {SERVICE: "exports/before.sql"}


def test_tables_are_whole_without_index_and_one_missing_mark():
    frame = pd.DataFrame({"n": range(250), "v": [None, float("nan"), pd.NA, "<b>x</b>", 1.5] * 50})
    page = table_html(frame)
    assert page.count("<tr") == 251 and "250 rows" in page
    assert page.count(f"<td>{MISSING}</td>") == 150 and "None" not in page and "NaN" not in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<th></th>" not in page  # no index column
    assert len(table_text(frame).splitlines()) == 251
    assert "none" in table_html(frame.iloc[0:0])


def test_a_verdict_line_is_text_even_when_a_name_is_markup():
    html = Verdict("fail", "<script>x</script>", ['a "quoted" <img src=x> `code`'])._repr_html_()
    assert "<script>" not in html and "<img" not in html and "<code>code</code>" in html


def test_history_verdict_names_every_lint_error(sample):
    history = load_history(sample)
    verdict = history_verdict(history)
    errors = lint_table(history)
    errors = errors[errors["severity"] == "error"]
    assert verdict.level == "fail" and len(errors) > 0
    for r in errors.itertuples():
        assert any(r.rule in line and r.file in line for line in verdict.lines)
    assert list(lint_table(history)["severity"].drop_duplicates()) == ["error", "warning", "info"]


def test_impact_verdict_has_a_line_per_migration_worst_first(stranger):
    impacts = project_impacts(stranger, SNAPSHOTS)
    verdict = impact_verdict(impacts)
    table = verdict_table(impacts)
    assert len(verdict.lines) == len(table) == 2
    # 2000 orders cascade from the rebuild: counted independently below
    assert verdict.level == "fail" and "2,000 orders rows deleted by cascade" in verdict.lines[0]
    assert verdict.lines[0].startswith(f"{SERVICE} 2_rebuild.sql: loses data")


def _one_database_project(tmp_path):
    """A project of one service `w` with one database and an empty migrations folder."""
    project = tmp_path / "p"
    (project / "migrations").mkdir(parents=True)
    (project / "wrangler.toml").write_text(
        'name = "w"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "w"\ndatabase_id = "x"\n'
    )
    return project


def test_audit_verdict_fails_when_the_pending_replay_fails(sample):
    settings = read_settings(sample)
    result = audit_exports(
        sample,
        settings["before"],
        settings["after"],
        expectations=[expect(n, q) for n, q in settings["expectations"].items()],
    )
    assert result.passed
    pending = audit_replay(
        sample,
        "api",
        settings["after"],
        settings["replay_files"],
        expectations=[expect(n, q) for n, q in settings["replay_expectations"].items()],
    )
    verdict = audit_verdict(result, pending)
    assert verdict.level == "fail"
    assert "pending replay: fail; goal_progress lost 1,100 rows" in verdict.lines
    assert audit_verdict(result).level == "pass"


def test_a_pending_replay_whose_migration_fails_is_no_pass(tmp_path):
    """Stranger's project #8: report 04 said "pending replay: pass; data equal; schema equal"
    of a drizzle rebuild that fails at its RENAME (a view reads the table): the after side was
    the export itself, since the failing file rolled back. The failure is now the verdict."""
    project = _one_database_project(tmp_path)
    (project / "migrations/0002_rebuild.sql").write_text(
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT, extra TEXT);\n"
        "INSERT INTO t_new (id, v) SELECT id, v FROM t;\n"
        "DROP TABLE t;\n"
        "ALTER TABLE t_new RENAME TO t;\n"
    )
    conn = apsw.Connection(str(project / "export.sqlite"))
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);INSERT INTO t (v) VALUES ('a'), ('b');"
        "CREATE VIEW tv AS SELECT v FROM t;"
    )
    conn.close()
    before = audit_exports(project, "export.sqlite", "export.sqlite")
    pending = audit_replay(project, "w", "export.sqlite", ["0002_rebuild.sql"])
    assert before.passed and not pending.passed
    summary = pending.diff.summary().set_index("table")
    assert bool(summary.loc["t", "equal"])  # the failing file rolled back: t as exported
    first = pending.verdict().iloc[0]
    assert (first["item"], first["status"]) == ("migration", "fails")
    assert first["detail"].startswith("0002_rebuild.sql fails at line 4: error in view tv")
    verdict = audit_verdict(before, pending)
    assert verdict.level == "fail" and verdict.headline == "a pending migration fails on the export"
    assert f"pending replay: migration fails: {first['detail']}" in verdict.lines


def test_nothing_pending_after_is_said_so_and_a_failing_migration_is_no_rollback_pass(tmp_path):
    """Stranger's project #9: with every file in the after export's ledger, report 04 said
    "pending replay: pass; data equal: every common table has the same rows" of a replay of
    nothing; and report 05 said "PASS: every rollback brings every row and value back" when
    the only pending migration fails on the export (the CLI exited 1 on the same checks)."""
    project = _one_database_project(tmp_path)
    (project / "migrations/0001_t.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    conn = apsw.Connection(str(project / "export.sqlite"))
    conn.execute(
        "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);"
        "INSERT INTO d1_migrations (name) VALUES ('0001_t.sql');"
        "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);"
    )
    conn.close()
    before = audit_exports(project, "export.sqlite", "export.sqlite")
    pending = audit_replay(project, "w", "export.sqlite")
    assert pending.replayed == []
    verdict = audit_verdict(before, pending)
    assert "pending replay: nothing pending on the after export (its ledger has every file)" in (
        verdict.lines
    )
    assert not any(line.startswith("pending replay: data") for line in verdict.lines)
    fails = RollbackCheck("0002_x.sql", None, "migration fails", "the migration itself fails")
    rollback = rollback_verdict({"w": [fails]})
    assert rollback.level == "warn"
    assert rollback.headline.startswith("1 of 1 pending migrations fail on the export")


def test_a_replay_keeps_the_projects_own_ledger_table(stranger, tmp_path):
    """The after export replayed with what is pending writes schema_log, not d1_migrations."""
    pending = audit_replay(stranger, SERVICE, "exports/before.sql", ["2_rebuild.sql"])
    tables = set(pending.diff.summary()["table"])
    assert "schema_log" in tables and "d1_migrations" not in tables


def test_report_03_sizes_the_largest_pending_statement_on_the_stranger(stranger):
    backfill = plan_backfill(stranger, SNAPSHOTS)
    # the rebuild's copy of 300 customers; 3_totals then updates no order: the cascade took them
    assert backfill.file == f"{SERVICE}/db/migrations/2_rebuild.sql"
    assert backfill.main.plan.rows == 300 and backfill.main.statement.kind == "insert_select"
    assert backfill_verdict(backfill).level in {"pass", "warn"}


def test_report_03_named_file_is_planned_after_the_files_before_it(stranger):
    backfill = plan_backfill(stranger, SNAPSHOTS, f"{SERVICE}/db/migrations/3_totals.sql")
    assert backfill.notes[0].startswith("1 pending file(s) before it replayed first: 2_rebuild")
    assert backfill.main.plan.rows == 0 or backfill.main is None or backfill.table().shape[0] == 1


def test_report_03_refuses_a_file_the_export_already_has(stranger):
    with pytest.raises(InputError, match=r"already has 1_init\.sql"):
        plan_backfill(stranger, SNAPSHOTS, f"{SERVICE}/db/migrations/1_init.sql")
    with pytest.raises(InputError, match="not a migration file"):
        plan_backfill(stranger, SNAPSHOTS, "exports/before.sql")


def test_runbook_commands_are_quoted_and_name_the_environment(stranger):
    runbook = time_travel_runbook(stranger, project_impacts(stranger, SNAPSHOTS))
    (step,) = runbook.steps
    assert step.environment == "prod" and "2_rebuild.sql (loses data)" in step.covers
    words = shlex.split(step.info)
    assert words[:7] == ["npx", "wrangler", "d1", "time-travel", "info", "main prod", "--config"]
    assert words[7] == f"{SERVICE}/wrangler.jsonc" and words[8:] == ["--env", "prod"]
    assert shlex.split(step.restore)[-1] == "--bookmark=BOOKMARK"
    assert "3_totals" not in step.covers  # it changes no row on this data


def test_report_03_fails_when_an_earlier_pending_file_fails(tmp_path, make_tree):
    root = make_tree(
        {
            "svc/wrangler.toml": '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "d"\n',
            "svc/migrations/0001_init.sql": "CREATE TABLE t (a INTEGER);\n",
            "svc/migrations/0002_bad.sql": "ALTER TABLE t ADD COLUMN b TEXT NOT NULL;\n",
            "svc/migrations/0003_fill.sql": "UPDATE t SET a = a + 1 WHERE a > 0;\n",
        }
    )
    with D1Engine(tmp_path / "e.sqlite") as engine:
        engine.apply_migration("0001_init.sql", "CREATE TABLE t (a INTEGER);\n")
        engine.conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1, 50)])
        write_dump(engine.conn, root / "export.sql")
    backfill = plan_backfill(root, {"svc": "export.sql"}, "svc/migrations/0003_fill.sql")
    verdict = backfill_verdict(backfill)
    assert backfill.blocked_by == "0002_bad.sql" and verdict.level == "fail"
    assert verdict.lines[0].startswith("0002_bad.sql fails on this export before it")
    assert backfill.main.plan.rows == 49  # still planned, on the state before the failing file


def test_control_characters_in_names_never_reach_a_report_raw():
    from d1nb.presentation.display import table_html

    page = table_html(pd.DataFrame({"file": ["0006_\x1b[31mred.sql"]}))
    verdict = Verdict("pass", "0006_\x1b[31mred.sql", ["\x07bell"])
    for text in (page, verdict._repr_html_(), repr(verdict)):
        assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred" in page and "\\x07bell" in repr(verdict)


def test_a_value_whose_edges_are_spaces_is_shown_quoted(tmp_path, capsys):
    """A transition ' Retail ' → 'retail' printed as `Retail  retail` looked like a change of
    case alone (stranger's project #8, a drizzle-kit backfill of lower(trim(group)))."""
    from d1nb.presentation.cli import main

    frame = pd.DataFrame({"v": [" Retail ", "B2B ", "it's", "'q'", "", "a\tb\nc", None]})
    cells = [c.strip() for c in table_text(frame).splitlines()[1:]]
    assert cells == ["' Retail '", "'B2B '", "it's", "'q'", "", "a\\tb\\nc", MISSING]
    assert "<td>' Retail '</td>" in table_html(frame)
    project = _one_database_project(tmp_path)
    (project / "migrations/0001_trim.sql").write_text("UPDATE t SET g = lower(trim(g));\n")
    conn = apsw.Connection(str(tmp_path / "e.db"))
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, g TEXT)")
    conn.execute("INSERT INTO t (g) VALUES (' Retail '), ('Retail'), ('B2B ')")
    conn.close()
    assert main(["impact", str(project), "--snapshot", str(tmp_path / "e.db")]) == 0
    rows = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    for transition in ("g ' Retail ' retail 1", "g 'B2B ' b2b 1", "g Retail retail 1"):
        assert any(r.endswith(transition) for r in rows), transition


def test_runbook_skips_the_local_copy(stranger, tmp_path):
    """wrangler's local state beside the config is the `local` ledger; Time Travel restores
    remote databases only, so the runbook names prod alone (it gave a step for 'local')."""
    import shutil

    from d1nb.formats.wrangler_output import local_state_file

    root = tmp_path / "copy"
    shutil.copytree(stranger, root)
    file = local_state_file(root / SERVICE / ".wrangler" / "state", "x")  # top-level id
    file.parent.mkdir(parents=True)
    conn = apsw.Connection(str(file))
    conn.execute("CREATE TABLE schema_log (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    conn.execute("INSERT INTO schema_log VALUES (1, '1_init.sql', '2025-01-01 00:00:00')")
    conn.close()
    assert (SERVICE, "local") in load_history(root, use_git=False).ledgers
    runbook = time_travel_runbook(root, project_impacts(root, SNAPSHOTS))
    assert [s.environment for s in runbook.steps] == ["prod"]


def test_runbook_of_a_template_config_leaves_it_out_and_says_where_to_run(stranger, tmp_path):
    """Stranger's project #37 commits only wrangler.template.toml, its ids placeholders:
    the runbook said `npx wrangler d1 time-travel info larkspur --config
    wrangler.template.toml`, which asks Cloudflare about `<YOUR_DATABASE_ID>`. A template is
    left out of the command, and the note says to run beside a copy with the real ids."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(stranger, root)
    (root / SERVICE / "wrangler.jsonc").rename(root / SERVICE / "wrangler.example.jsonc")
    runbook = time_travel_runbook(root, project_impacts(root, SNAPSHOTS))
    (step,) = runbook.steps
    assert shlex.split(step.info) == [
        *("npx", "wrangler", "d1", "time-travel", "info", "main prod", "--env", "prod")
    ]
    assert f"{SERVICE}/wrangler.example.jsonc is a template" in runbook.note
    assert "--config" not in runbook.text()
