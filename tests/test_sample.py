"""The bundled sample: reproducible byte for byte, and its README's counts hold when re-derived
independently by replaying its migration files on its exports."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest

from d1nb.engine.d1engine import D1Engine
from d1nb.engine.evolution import schema_evolution
from d1nb.formats.dumpformat import write_dump
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.dumploader import load_dump
from d1nb.inputs.ledgers import read_ledger
from d1nb.sample import migrations_sql as sm
from d1nb.sample.generate import write_sample


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample") / "sample"
    facts = write_sample(out)
    return out, facts


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_generator_reproduces_committed_sample_byte_for_byte(sample, regenerated):
    out, _ = regenerated
    assert _all_files(out) == _all_files(sample)
    _, mismatch, errors = filecmp.cmpfiles(sample, out, _all_files(sample), shallow=False)
    assert mismatch == [] and errors == []


def _engine_on(export: Path, tmp_path: Path) -> D1Engine:
    return load_dump(export, tmp_path).connect()


def _file(service: str, name: str, sample: Path) -> str:
    folder = {"api": "migrations", "scores": "migrations", "dictionary": "db/migrations"}[service]
    return (sample / "services" / service / folder / name).read_text(encoding="utf-8")


def test_api_after_export_is_before_plus_0009_and_0010(sample, tmp_path):
    ledger = read_ledger(sample / "exports" / "api" / "after.sql").applied
    with _engine_on(sample / "exports" / "api" / "before.sql", tmp_path) as engine:
        for row in ledger.itertuples():
            if row.id > 8:
                assert engine.apply_migration(
                    row.name, _file("api", row.name, sample), applied_at=row.applied_at
                ).ok
        again = write_dump(engine.conn, tmp_path / "after.sql").read_bytes()
    assert again == (sample / "exports" / "api" / "after.sql").read_bytes()


def test_mood_lowercasing_counts(sample, regenerated, tmp_path):
    facts = regenerated[1]["api"]
    with _engine_on(sample / "exports" / "api" / "before.sql", tmp_path) as engine:
        engine.conn.execute("CREATE TEMP TABLE old AS SELECT id, data FROM sync_data")
        outcome = engine.apply_migration(
            "0010.sql", _file("api", "0010_lowercase_sync_moods.sql", sample)
        )
        touched = outcome.statements[0].changes
        changed = engine.conn.execute(
            "SELECT count(*) FROM sync_data s JOIN old USING (id) WHERE s.data <> old.data"
        ).fetchall()[0][0]
        transitions = dict(
            engine.conn.execute(
                "SELECT json_extract(old.data, '$.mood'), count(*) FROM sync_data s JOIN old "
                "USING (id) WHERE json_extract(old.data, '$.mood') "
                "<> json_extract(s.data, '$.mood') GROUP BY 1"
            ).fetchall()
        )
        nulls = engine.conn.execute(
            "SELECT count(*) FROM sync_data WHERE json_type(data, '$.mood') = 'null'"
        ).fetchall()[0][0]
    assert touched == facts["logbook_rows"]
    assert changed == facts["mood_display"] + facts["mood_missing"]
    assert transitions == facts["mood_transitions"]
    assert nulls == facts["mood_missing"]
    readme = (sample / "README.md").read_text(encoding="utf-8")
    assert f"touches all {touched} `logbook_entry` rows" in readme
    assert f"{changed} documents change in all" in readme


@pytest.mark.parametrize("export", ["before.sql", "after.sql"])
def test_rebuild_cascade_empties_goal_progress(sample, regenerated, tmp_path, export):
    facts = regenerated[1]["api"]
    with _engine_on(sample / "exports" / "api" / export, tmp_path) as engine:
        progress = engine.conn.execute("SELECT count(*) FROM goal_progress").fetchall()[0][0]
        outcome = engine.apply_migration(
            "0011_goals_add_category.sql", _file("api", "0011_goals_add_category.sql", sample)
        )
        assert outcome.ok
        left = engine.conn.execute("SELECT count(*) FROM goal_progress").fetchall()[0][0]
        goals = engine.conn.execute("SELECT count(*) FROM goals").fetchall()[0][0]
    assert (progress, left, goals) == (facts["goal_progress"], 0, facts["goals"])
    assert f"all {progress} `goal_progress` rows" in (sample / "README.md").read_text("utf-8")


def test_composer_updates_and_failing_add_column(sample, regenerated, tmp_path):
    facts = regenerated[1]["scores"]
    with _engine_on(sample / "exports" / "scores" / "before.sql", tmp_path) as engine:
        outcome = engine.apply_migration(
            "0012.sql", _file("scores", "0012_canonicalise_composers.sql", sample)
        )
        per_update = [s.changes for s in outcome.statements]
        failing = engine.apply_migration(
            "0016.sql", _file("scores", "0016_add_scores_updated_at.sql", sample)
        )
    assert per_update == list(facts["composer_updates"].values())
    assert sum(per_update) == facts["composer_changed"]
    assert (failing.ok, failing.error, failing.error_line) == (
        False,
        "Cannot add a column with non-constant default",
        2,
    )
    evolution = schema_evolution(load_migration_dir(sample / "services" / "scores" / "migrations"))
    assert evolution.failures().empty


def test_exports_lack_the_index_added_after_apply(sample, tmp_path):
    for export in ("before.sql", "after.sql"):
        text = (sample / "exports" / "api" / export).read_text(encoding="utf-8")
        assert "idx_sync_data_live" not in text
    assert "idx_sync_data_live" in sm.API_MIGRATIONS["0007_sync_data_soft_delete.sql"]


def test_ledgers_are_wrangler_json(sample):
    for path in sorted((sample / "ledgers").glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        assert payload[0]["success"] is True
        assert set(payload[0]["meta"]) >= {"duration", "rows_read", "rows_written"}
