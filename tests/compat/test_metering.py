"""d1nb's metering estimates against D1's own counters (Miniflare runs workerd's patched SQLite)."""

from __future__ import annotations

import pytest

from d1nb.analyses.replay import replay
from d1nb.formats.migrations import load_migration_dir
from d1nb.inputs.snapshots import load_snapshot

# ALTER TABLE RENAME COLUMN / DROP COLUMN rewrite sqlite_master through SQLite's internal SQL;
# d1nb approximates those few rows (docs/metering.md).
APPROXIMATE_WRITES = {"rename_column", "drop_column"}


@pytest.mark.parametrize(
    ("service", "names"),
    [
        (
            "api",
            [
                "0009_repertoire_status_v2.sql",
                "0010_lowercase_sync_moods.sql",
                "0011_goals_add_category.sql",
            ],
        ),
        (
            "scores",
            [
                "0012_canonicalise_composers.sql",
                "0013_backfill_normalized_id.sql",
                "0014_rename_scores_instrument.sql",
                "0015_drop_analytics_payload.sql",
            ],
        ),
    ],
)
def test_estimates_match_miniflare(sample, tmp_path, service, names):
    snapshot = load_snapshot(sample / "exports" / service / "before.sql", tmp_path)
    mdir = load_migration_dir(sample / "services" / service / "migrations")
    result = replay(snapshot, mdir, names)
    assert result.ok
    compared = result.exact_metering()
    assert compared["d1_error"].isna().all()
    exact = compared[~compared["kind"].isin(APPROXIMATE_WRITES)]
    assert exact["rows_written"].tolist() == exact["d1_rows_written"].tolist()
    approx = compared[compared["kind"].isin(APPROXIMATE_WRITES)]
    for est, real in zip(approx["rows_written"], approx["d1_rows_written"], strict=True):
        assert abs(est - real) <= max(5, 0.1 * real)
    per_file = compared.groupby("file")[["rows_read", "d1_rows_read"]].sum()
    for name, row in per_file.iterrows():
        assert abs(row.rows_read - row.d1_rows_read) <= 0.1 * row.d1_rows_read, name
