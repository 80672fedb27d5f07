"""Shared fixtures: the bundled sample and a helper to build small projects on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.dumpformat import write_dump

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
EMPTY_EXPORT = "PRAGMA defer_foreign_keys=TRUE;\n"
"""What `wrangler d1 export` writes for an empty database."""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Every test keeps its working copies in a cache of its own, never the user's."""
    monkeypatch.setenv("D1NB_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def make_tree(tmp_path: Path):
    """Write {relative path: text or bytes} under a temporary folder and return the folder."""

    def make(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
        return tmp_path

    return make


STRANGER_SERVICE = "app one"
STRANGER_MIGRATIONS = {
    "1_init.sql": """-- customers; "quotes" and ; in comments
CREATE TABLE "Kund's" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tier TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY,
  kund INTEGER REFERENCES "Kund's"(id) ON DELETE CASCADE, total REAL);
""",
    "2_rebuild.sql": """PRAGMA foreign_keys=OFF;
CREATE TABLE "Kund's_new" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tier TEXT);
INSERT INTO "Kund's_new" SELECT id, name, upper(tier) FROM "Kund's";
DROP TABLE "Kund's";
ALTER TABLE "Kund's_new" RENAME TO "Kund's";
""",
    "3_totals.sql": "UPDATE orders SET total = round(total * 1.2, 2) -- vat\nWHERE total > 0;\n",
}


@pytest.fixture(scope="session")
def stranger(tmp_path_factory) -> Path:
    """A project unlike the sample: a space and a quote in names, jsonc, a custom ledger
    table, only a prod ledger; exports before 2_rebuild and after 3_totals."""
    root = tmp_path_factory.mktemp("stranger")
    folder = root / STRANGER_SERVICE / "db" / "migrations"
    folder.mkdir(parents=True)
    (root / STRANGER_SERVICE / "wrangler.jsonc").write_text(
        """// jsonc with a custom ledger table
{ "name": "app-one",
  "d1_databases": [{ "binding": "MAIN", "database_name": "main-dev", "database_id": "x",
    "migrations_dir": "db/migrations", "migrations_table": "schema_log" }],
  "env": { "prod": { "d1_databases": [{ "binding": "MAIN", "database_name": "main prod",
    "database_id": "11111111-2222-4333-8444-555555555555", "migrations_dir": "db/migrations",
    "migrations_table": "schema_log" }] } } }
""",
        encoding="utf-8",
    )
    for name, sql in STRANGER_MIGRATIONS.items():
        (folder / name).write_text(sql, encoding="utf-8")
    (root / "ledgers").mkdir()
    (root / "ledgers" / f"{STRANGER_SERVICE}.prod.json").write_text(
        '[{"results": [{"id": 1, "name": "1_init.sql", "applied_at": "2025-03-01 10:00:00"}]}]',
        encoding="utf-8",
    )
    (root / "exports").mkdir()
    db = root.parent / f"{root.name}.sqlite"
    with D1Engine(db) as engine:
        engine.apply_migration(
            "1_init.sql", STRANGER_MIGRATIONS["1_init.sql"], ledger_table="schema_log"
        )
        engine.conn.executemany(
            'INSERT INTO "Kund\'s" VALUES (?, ?, ?)',
            [(i, f'k"{i}', "abc"[i % 3]) for i in range(1, 301)],
        )
        engine.conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(i, 1 + i % 300, i * 1.5) for i in range(1, 2001)],
        )
        write_dump(engine.conn, root / "exports" / "before.sql")
        for name in ("2_rebuild.sql", "3_totals.sql"):
            engine.apply_migration(name, STRANGER_MIGRATIONS[name], ledger_table="schema_log")
        write_dump(engine.conn, root / "exports" / "after.sql")
    return root
