"""A generated project with a long migration history, for the parse/classify/lint benchmark.

Shaped like real histories: a few dozen tables created early, then mostly data migrations,
with a column, an index, a trigger or a view added now and then; 20 statements per file.
"""

from __future__ import annotations

from pathlib import Path

N_TABLES = 40
CONFIG = (
    'name = "svc"\n[[env.production.d1_databases]]\nbinding = "DB"\n'
    'database_name = "p"\ndatabase_id = "1"\n'
)


def _statements(i: int) -> list[str]:
    t = f"t{i % N_TABLES:02d}"
    if i < N_TABLES:
        first = (
            f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, "
            "c TEXT, d REAL, e TEXT)"
        )
    elif i % 4 == 0:
        first = f"ALTER TABLE {t} ADD COLUMN x{i} TEXT DEFAULT 'v'"
    elif i % 4 == 1:
        first = f"CREATE INDEX IF NOT EXISTS {t}_b{i} ON {t}(b, c) WHERE e IS NULL"
    elif i % 4 == 2:
        first = (
            f"CREATE TRIGGER IF NOT EXISTS {t}_trg{i} AFTER UPDATE OF a ON {t} BEGIN "
            f"UPDATE {t} SET e = lower(new.a) WHERE id = new.id; SELECT 1; END"
        )
    else:
        first = f"CREATE VIEW IF NOT EXISTS {t}_v{i} AS SELECT a, count(*) AS n FROM {t} GROUP BY a"
    statements = [first]
    statements += [
        f"INSERT INTO {t} (a, b, c) VALUES ('row; {i}-{j}', {j}, 'it''s')" for j in range(10)
    ]
    statements += [
        f"UPDATE {t} SET c = CASE WHEN b > {j} THEN 'hi' ELSE 'lo' END, d = b * 1.5 WHERE b = {j}"
        for j in range(6)
    ]
    statements += [
        f"DELETE FROM {t} WHERE b = 0 AND a LIKE 'row; {i}-%'",
        f"INSERT OR IGNORE INTO {t} (a, b) SELECT a, b + 100 FROM {t} WHERE b = 9",
        f"UPDATE {t} SET a = json_set('{{}}', '$.k', a) WHERE id IN (SELECT id FROM {t} "
        "ORDER BY id DESC LIMIT 2)",
    ]
    return statements[:20]


def write_history_project(root: Path, n_files: int) -> None:
    """Write `svc/wrangler.toml` and `n_files` migrations under `root`."""
    folder = root / "svc" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "svc" / "wrangler.toml").write_text(CONFIG, encoding="utf-8")
    for i in range(n_files):
        text = f"-- Migration number: {i:04d}\n" + ";\n".join(_statements(i)) + ";\n"
        name = f"{i:04d}_migrate_t{i % N_TABLES:02d}_step_{i}.sql"
        (folder / name).write_text(text, encoding="utf-8")


def write_seed_project(root: Path, megabytes: int) -> int:
    """Write `seed/wrangler.toml` and one migration of about `megabytes` MB of seed data,
    shaped like the seed files real repositories commit: a table, then multi-row INSERTs of
    50 rows with strings holding `;`, quotes and `--`, a comment now and then. Returns the
    number of statements."""
    folder = root / "seed" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "seed" / "wrangler.toml").write_text(CONFIG.replace('"svc"', '"seed"'), "utf-8")
    target = megabytes * 1_000_000
    written, statements, row = 0, 1, 0
    with (folder / "0001_seed_catalogue.sql").open("w", encoding="utf-8") as f:
        head = (
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, "
            "title TEXT, price REAL, tags TEXT);\n"
        )
        written += f.write(head)
        while written < target:
            values = []
            for _ in range(50):
                row += 1
                values.append(
                    f"({row}, 'SKU-{row:08d}', 'item {row}; it''s -- fine', {row % 997 / 10}, "
                    f'\'["a","b{row % 13}"]\')'
                )
            comment = f"-- batch {statements}\n" if statements % 100 == 0 else ""
            written += f.write(
                f"{comment}INSERT INTO items (id, sku, title, price, tags) VALUES\n"
                + ",\n".join(values)
                + ";\n"
            )
            statements += 1
    return statements
