"""Batch sizing: the batches give the unbatched result, re-running one changes nothing."""

from __future__ import annotations

import shutil

import apsw
import pytest

from d1nb.batching import plan_batches, write_batches
from d1nb.snapshots import load_snapshot

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
    assert (tmp_path / "out" / "run_batches.sh").read_text(encoding="utf-8").count("wrangler") == 1


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
    with pytest.raises(Exception, match="UPDATE and DELETE"):
        plan_batches(snapshot.path, "INSERT INTO scores (id) VALUES (1);")
