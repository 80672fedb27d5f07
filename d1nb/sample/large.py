"""Larger generated tables for the benchmarks and report 03: a scores database of any size, an
analytics events dump, and a before/after pair of dumps with known differences."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.dumpformat import write_dump
from d1nb.inputs.duckcopy import connect_duckdb
from d1nb.sample import migrations_sql as sm
from d1nb.sample.generate import (
    EPOCH,
    SEED,
    PlannedLedger,
    apply_sql,
    insert_sql,
    scores_data,
    scores_ledgers,
    timestamp,
)


def build_scores_database(path: str | Path, n_scores: int, seed: int = SEED) -> Path:
    """A scores database at staging's state before 0012, with `n_scores` scores (benchmarks)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    rng = random.Random(seed + 2)
    ledger = PlannedLedger(scores_ledgers()["staging"].rows[:13])
    with D1Engine(path) as engine:
        apply_sql(engine, sm.SCORES_MIGRATIONS, ledger, "d1_migrations")
        engine.conn.execute("BEGIN")
        scores_data(engine, rng, n_scores)
        engine.conn.execute("COMMIT")
    return path


def write_events_dump(out: str | Path, rows: int = 1_000_000, seed: int = SEED) -> Path:
    """A `wrangler d1 export` of one 8-column table of `rows` rows (the load benchmark's input).

    About 150 bytes a row: text, JSON, reals, integers, NULLs, BLOBs and a newline now and then.
    """
    rng = random.Random(seed + 5)
    kinds = ("open", "print", "share", "practice", "import")
    with D1Engine(":memory:") as engine:
        engine.conn.execute(EVENTS_DDL)
        engine.conn.execute("BEGIN")
        insert_sql(
            engine,
            "events",
            ("id", "user_id", "kind", "score", "payload", "created_at", "attempts", "digest"),
            (
                (
                    i + 1,
                    f"usr_{rng.getrandbits(40):010x}",
                    rng.choice(kinds),
                    None if i % 11 == 0 else round(rng.random() * 100, 3),
                    json.dumps(
                        {
                            "ms": rng.randint(1, 9999),
                            "note": "line one\nline two" if i % 97 == 0 else "it's fine",
                        },
                        separators=(",", ":"),
                    ),
                    timestamp(EPOCH + timedelta(seconds=7 * i)),
                    rng.randint(0, 5),
                    rng.getrandbits(64).to_bytes(8, "big") if i % 3 == 0 else None,
                )
                for i in range(rows)
            ),
        )
        engine.conn.execute("COMMIT")
        return write_dump(engine.conn, out)


def write_diff_pair(out: str | Path, rows: int = 10_000_000, seed: int = SEED) -> tuple[Path, Path]:
    """before.parquet and after.parquet of one 8-column scores table (the diff benchmark's
    input): after has 1% of rows changed (composer upper-cased, score nudged), 0.1% removed
    and 0.1% added. Made by DuckDB from hashes of the id, so any size is quick and
    reproducible."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [*sm.CANONICAL_COMPOSERS, *sm.UNTOUCHED_COMPOSERS]
    composer_list = "[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]"
    h = f"hash(id, {seed})"

    def scores(first: int, last: int) -> str:
        return (
            f"SELECT id, 'usr_' || lpad(CAST({h} % 50000 AS VARCHAR), 6, '0') AS user_id, "
            f"'Score ' || id AS title, "
            f"{composer_list}[CAST(({h} // 7) % {len(names)} AS BIGINT) + 1] AS composer, "
            f"CAST(({h} // 11) % 10 + 1 AS BIGINT) AS difficulty, "
            f"round((({h} // 13) % 100000) / 1000.0, 3) AS score, "
            f"strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(({h} // 17) % 31536000 "
            f"AS BIGINT)), '%Y-%m-%dT%H:%M:%SZ') AS created_at, "
            f"CASE WHEN ({h} // 19) % 2 = 0 THEN 'private' ELSE 'public' END AS visibility "
            f"FROM range({first}, {last}) t(id)"
        )

    before, after = out / "before.parquet", out / "after.parquet"
    con = connect_duckdb()
    con.execute(f"COPY ({scores(1, rows + 1)}) TO '{before}' (FORMAT parquet)")
    con.execute(
        "COPY (SELECT id, user_id, title, "
        "CASE WHEN id % 100 = 7 THEN upper(composer) ELSE composer END AS composer, "
        "difficulty, CASE WHEN id % 100 = 7 THEN score + 0.5 ELSE score END AS score, "
        f"created_at, visibility FROM read_parquet('{before}') WHERE id % 1000 <> 3 "
        f"UNION ALL {scores(rows + 1, rows + 1 + rows // 1000)} ORDER BY id) "
        f"TO '{after}' (FORMAT parquet)"
    )
    con.close()
    return before, after


EVENTS_DDL = (
    "CREATE TABLE events (\n  id INTEGER PRIMARY KEY,\n  user_id TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n  score REAL,\n  payload TEXT,\n  created_at TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n  digest BLOB\n)"
)
