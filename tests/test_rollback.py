"""Compensating migrations verified on an export: what comes back, what is gone for good.

The project's data is small and known, so every count below is checked by hand: 40 shops,
each with 3 items (120), prices 1..120, 10 archived items."""

from __future__ import annotations

from pathlib import Path

import pytest

from d1nb.cli import main
from d1nb.engine import D1Engine
from d1nb.rollback import find_rollback, rollback_table, verify_rollbacks
from d1nb.snapshots import write_dump

INIT = """CREATE TABLE shops (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY,
  shop_id INTEGER NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
  price INTEGER NOT NULL, note TEXT, archived INTEGER NOT NULL DEFAULT 0);
"""
FILES = {
    # a dropped column, re-added empty by its rollback: 120 notes lost
    "0002_drop_note.sql": "ALTER TABLE items DROP COLUMN note;\n",
    "0002_drop_note.sql.rollback": "ALTER TABLE items ADD COLUMN note TEXT;\n",
    # an UPDATE its rollback reverses only in part: items 61..120 keep the new price
    "0003_double_prices.sql": "UPDATE items SET price = price * 2;\n",
    "rollback/0003_double_prices.sql": "UPDATE items SET price = price / 2 WHERE id <= 60;\n",
    # a new column and index, undone exactly
    "0004_add_sku.sql": "ALTER TABLE items ADD COLUMN sku TEXT;\n"
    "CREATE INDEX items_sku ON items(sku);\n",
    "down/0004_add_sku.down.sql": "DROP INDEX items_sku;\nALTER TABLE items DROP COLUMN sku;\n",
    # a rebuild of shops under foreign_keys=OFF: D1 cascades into all 120 items
    "0005_rebuild_shops.sql": """PRAGMA foreign_keys=OFF;
CREATE TABLE shops_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);
INSERT INTO shops_new (id, name) SELECT id, name FROM shops;
DROP TABLE shops;
ALTER TABLE shops_new RENAME TO shops;
PRAGMA foreign_keys=ON;
""",
    "down/0005_rebuild_shops.sql": "ALTER TABLE shops DROP COLUMN city;\n",
    # a DELETE with no rollback at all
    "0006_purge_archived.sql": "DELETE FROM items WHERE archived = 1;\n",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    migrations = root / "svc" / "migrations"
    (migrations / "rollback").mkdir(parents=True)
    (migrations / "down").mkdir()
    (root / "svc" / "wrangler.toml").write_text(
        '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "shop"\n', encoding="utf-8"
    )
    (migrations / "0001_init.sql").write_text(INIT, encoding="utf-8")
    for name, text in FILES.items():
        (migrations / name).write_text(text, encoding="utf-8")
    with D1Engine(root / "db.sqlite") as engine:
        engine.apply_migration("0001_init.sql", INIT)
        engine.conn.executemany(
            "INSERT INTO shops VALUES (?, ?)", [(i, f"shop {i}") for i in range(1, 41)]
        )
        engine.conn.executemany(
            "INSERT INTO items (id, shop_id, price, note, archived) VALUES (?, ?, ?, ?, ?)",
            [(i, 1 + (i - 1) // 3, i, f"note {i}", int(i % 12 == 0)) for i in range(1, 121)],
        )
        write_dump(engine.conn, root / "export.sql")
    return root


def test_conventions_find_each_rollback(shop):
    from d1nb.history import load_history

    mdir = load_history(shop, use_git=False).migration_dirs["svc"]
    found = {f.name: find_rollback(mdir, f) for f in mdir.files}
    assert {n: p.name if p else None for n, p in found.items()} == {
        "0001_init.sql": None,
        "0002_drop_note.sql": "0002_drop_note.sql.rollback",
        "0003_double_prices.sql": "0003_double_prices.sql",
        "0004_add_sku.sql": "0004_add_sku.down.sql",
        "0005_rebuild_shops.sql": "0005_rebuild_shops.sql",
        "0006_purge_archived.sql": None,
    }
    assert found["0003_double_prices.sql"].parent.name == "rollback"


def test_each_rollback_is_judged_with_exact_counts(shop):
    checks = {c.file: c for c in verify_rollbacks(shop, "svc", "export.sql")}
    table = rollback_table(list(checks.values())).set_index("file")["verdict"].to_dict()
    assert table == {
        "0002_drop_note.sql": "loses data",
        "0003_double_prices.sql": "loses data",
        "0004_add_sku.sql": "restores everything",
        "0005_rebuild_shops.sql": "loses data",
        "0006_purge_archived.sql": "no rollback",
    }
    # the note column comes back empty: every one of its 120 values is lost
    notes = checks["0002_drop_note.sql"].columns.set_index(["table", "column"])
    assert notes.loc[("items", "note"), "values_not_restored"] == 120
    # 60 prices were never halved back
    prices = checks["0003_double_prices.sql"].tables.set_index("table")
    assert prices.loc["items", "changed"] == 60 and prices.loc["items", "lost"] == 0
    # the rebuild's cascade took all 120 items, and dropping city brings none back
    rebuild = checks["0005_rebuild_shops.sql"].tables.set_index("table")
    assert rebuild.loc["items", "lost"] == 120 and rebuild.loc["shops", "lost"] == 0
    assert rebuild.loc["shops", "restored"] == 40
    assert "the ledger still lists" in checks["0004_add_sku.sql"].reason


def test_cli_exits_1_unless_everything_comes_back(shop, capsys):
    code = main(["rollback", str(shop), "--snapshot", str(shop / "export.sql"), "--format", "json"])
    assert code == 1
    code = main(
        [
            "rollback",
            str(shop),
            "--snapshot",
            str(shop / "export.sql"),
            "--only",
            "0004_add_sku.sql",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "restores everything" in out
