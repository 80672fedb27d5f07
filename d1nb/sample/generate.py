"""Generator of the bundled sample D1 monorepo: `python -m d1nb.sample --out data/sample`.

Deterministic for a given seed and size: the committed data/sample is its output, byte for byte.
It writes the services' wrangler configs and migration files (d1nb.sample.migrations_sql), the
applied ledger of each environment as `wrangler d1 execute --json` output, table exports in
`wrangler d1 export` format before and after the risky migrations, a d1nb lock file taken when
the files were applied, and data/sample/README.md stating each planted hazard with the exact
counts the analyses must find. `--scores N` makes the scores tables any size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.dumpformat import write_dump
from d1nb.formats.lockfile import Locked, lock_text
from d1nb.formats.sql.text import sql_fingerprint
from d1nb.sample import migrations_sql as sm
from d1nb.sample.documents import REPORT_SETTINGS, file_facts, readme_text

SEED = 20250106
DEFAULT_SCORES = 2500
EPOCH = datetime(2025, 1, 6, 9, 0, 0)


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# -- ledgers ----------------------------------------------------------------------------------


@dataclass
class PlannedLedger:
    """Planned rows of one environment's ledger: (name, applied_at) in id order."""

    rows: list[tuple[str, str]] = field(default_factory=list)


def _weekly(names: list[str], start: datetime, lag: timedelta = timedelta(0)) -> PlannedLedger:
    return PlannedLedger(
        [
            (n, timestamp(start + timedelta(days=7 * i, minutes=7 * i) + lag))
            for i, n in enumerate(names)
        ]
    )


def _api_ledgers() -> dict[str, PlannedLedger]:
    names = list(sm.API_MIGRATIONS)
    return {
        "staging": _weekly(names[:10], EPOCH + timedelta(hours=1)),
        "production": _weekly(names[:8], EPOCH + timedelta(hours=1), timedelta(days=2)),
    }


def scores_ledgers() -> dict[str, PlannedLedger]:
    names = list(sm.SCORES_MIGRATIONS)
    return {
        "staging": _weekly(names[:15], EPOCH + timedelta(hours=3)),
        "production": _weekly(names[:13], EPOCH + timedelta(hours=3), timedelta(days=3)),
    }


def _dictionary_ledgers() -> dict[str, PlannedLedger]:
    t = EPOCH + timedelta(days=1, hours=2)
    day = timedelta(days=1)
    staging = PlannedLedger(
        [
            ("0001_create_terms.sql", timestamp(t)),
            ("0002_create_embeddings.sql", timestamp(t + 5 * day)),
            ("0003_create_lookup_queue.sql", timestamp(t + 12 * day)),
            ("0005_create_terms_fts.sql", timestamp(t + 19 * day)),
            ("0006_add_queue_retries.sql", timestamp(t + 26 * day)),
            ("0007_create_analytics.sql", timestamp(t + 40 * day)),
            ("0008_add_terms_language.sql", timestamp(t + 47 * day)),
        ]
    )
    production = PlannedLedger(
        [
            ("0001_create_terms.sql", timestamp(t + 2 * day)),
            ("0002_create_embeddings.sql", timestamp(t + 7 * day)),
            ("0005_create_terms_fts.sql", timestamp(t + 21 * day)),
            ("0003_create_lookup_queue.sql", timestamp(t + 22 * day)),
            ("0006_add_queue_retries.sql", timestamp(t + 28 * day)),
            ("0007_create_analytics.sql", timestamp(t + 38 * day)),
        ]
    )
    return {"staging": staging, "production": production}


def _ledger_json(ledger: PlannedLedger, table_bytes: int) -> str:
    """The ledger as `wrangler d1 execute DB --remote --json --command "SELECT * FROM …"`."""
    results = [{"id": i, "name": n, "applied_at": a} for i, (n, a) in enumerate(ledger.rows, 1)]
    payload = [
        {
            "results": results,
            "success": True,
            "meta": {
                "served_by": "v3-prod",
                "served_by_region": "WEUR",
                "served_by_primary": True,
                "timings": {"sql_duration_ms": 0.2417},
                "duration": 0.2417,
                "changes": 0,
                "last_row_id": 0,
                "changed_db": False,
                "size_after": table_bytes,
                "rows_read": len(results),
                "rows_written": 0,
            },
        }
    ]
    return json.dumps(payload, indent=2, ensure_ascii=False)


# -- data -------------------------------------------------------------------------------------

MOODS = ("Happy", "Focused", "Tired", "Frustrated", "Calm")
PIECES = (
    "Prelude in C major",
    "Nocturne Op. 9 No. 2",
    "Für Elise",
    "Clair de Lune",
    "Gymnopédie No. 1",
    "Children's Corner",
    "Humoresque",
    "Arabesque No. 1",
    "Merry Christmas Mr. Lawrence",
    "Spiegel im Spiegel",
    "Metamorphosis One",
    "Invention No. 8",
    "Moonlight Sonata, 1st mvt",
    "Waltz in A minor",
    "Träumerei",
)
INSTRUMENTS = ("piano", "violin", "cello", "guitar", "flute", "voice")


def _uid(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(48):012x}"


def insert_sql(
    engine: D1Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple]
) -> None:
    marks = ",".join("?" * len(columns))
    engine.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)


def _api_data(engine: D1Engine, rng: random.Random) -> None:
    """Users, synced JSON documents, repertoire and goals, for the schema after 0008."""
    users = []
    for i in range(120):
        name = rng.choice(("Ana", "Ben", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gus", "Hana"))
        avatar = bytes(rng.getrandbits(8) for _ in range(16)) if i % 3 == 0 else None
        users.append(
            (
                _uid(rng, "usr"),
                f"user{i:03d}@example.com",
                f"{name} {i}",
                avatar,
                timestamp(EPOCH + timedelta(hours=5 * i)),
            )
        )
    insert_sql(
        engine, "users", ("id", "email", "display_name", "avatar_thumb", "created_at"), iter(users)
    )
    user_ids = [u[0] for u in users]

    def sync_rows() -> Iterator[tuple]:
        for i in range(1500):
            user = rng.choice(user_ids)
            when = EPOCH + timedelta(minutes=97 * i)
            kind = rng.choices(("logbook_entry", "piece_progress", "settings"), (60, 25, 15))[0]
            if kind == "logbook_entry":
                doc: dict = {"date": when.strftime("%Y-%m-%d"), "minutes": rng.randint(5, 90)}
                style = rng.choices(("display", "lower", "missing"), (55, 30, 15))[0]
                if style != "missing":
                    mood = rng.choice(MOODS)
                    doc["mood"] = mood if style == "display" else mood.lower()
                doc["pieces"] = rng.sample(PIECES, rng.randint(0, 3))
                if rng.random() < 0.2:
                    doc["note"] = 'Warm-up: scales\nThen: "slow" practice'
            elif kind == "piece_progress":
                doc = {
                    "piece": rng.choice(PIECES),
                    "bpm": rng.randint(40, 160),
                    "confidence": round(rng.random(), 3),
                }
            else:
                doc = {"theme": rng.choice(("light", "dark")), "metronome": rng.random() < 0.5}
            deleted = timestamp(when + timedelta(days=3)) if rng.random() < 0.05 else None
            yield (
                user,
                kind,
                f"{rng.getrandbits(64):016x}",
                json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
                timestamp(when),
                deleted,
            )

    insert_sql(
        engine,
        "sync_data",
        ("user_id", "entity_type", "entity_id", "data", "updated_at", "deleted_at"),
        sync_rows(),
    )
    composers = [*sm.CANONICAL_COMPOSERS, *sm.UNTOUCHED_COMPOSERS]
    insert_sql(
        engine,
        "repertoire",
        ("user_id", "piece", "composer", "status", "notes"),
        (
            (
                rng.choice(user_ids),
                rng.choice(PIECES),
                rng.choice(composers),
                rng.choices(("learning", "polished", "dropped"), (50, 35, 15))[0],
                "Left hand\nneeds work" if rng.random() < 0.1 else None,
            )
            for _ in range(400)
        ),
    )
    insert_sql(
        engine,
        "goals",
        ("user_id", "title", "status", "target_minutes", "created_at", "priority"),
        (
            (
                rng.choice(user_ids),
                f"Learn {rng.choice(PIECES)}",
                rng.choice(("active", "done")),
                rng.choice((None, 300, 600, 1200)),
                timestamp(EPOCH + timedelta(hours=11 * i)),
                rng.randint(0, 3),
            )
            for i in range(250)
        ),
    )
    insert_sql(
        engine,
        "goal_progress",
        ("goal_id", "minutes", "note", "logged_at"),
        (
            (
                rng.randint(1, 250),
                rng.randint(5, 120),
                rng.choice((None, "good", "tempo ↑", "")),
                timestamp(EPOCH + timedelta(minutes=53 * i)),
            )
            for i in range(1100)
        ),
    )


def _composer(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.15:
        return rng.choice(sm.UNTOUCHED_COMPOSERS)
    canonical = rng.choice(list(sm.CANONICAL_COMPOSERS))
    return canonical if rng.random() < 0.55 else rng.choice(sm.CANONICAL_COMPOSERS[canonical])


def scores_rows(n: int, seed: int = SEED) -> Iterator[tuple]:
    """Rows of the scores table (schema after 0011), deterministic for (n, seed)."""
    rng = random.Random(seed * 7 + 1)
    users = [_uid(rng, "usr") for _ in range(max(10, n // 40))]
    for i in range(n):
        title = rng.choice(sm_titles()) + (f" ({i % 7 + 1})" if i % 5 == 0 else "")
        yield (
            i + 1,
            rng.choice(users),
            title,
            _composer(rng),
            rng.choice(INSTRUMENTS),
            rng.randint(1, 10),
            timestamp(EPOCH + timedelta(seconds=37 * i)),
            rng.choice((None, rng.randint(1, 60))),
            rng.choice(("private", "public")),
            None,
        )


def sm_titles() -> tuple[str, ...]:
    return PIECES


SCORES_COLUMNS = (
    "id",
    "user_id",
    "title",
    "composer",
    "instrument",
    "difficulty",
    "created_at",
    "page_count",
    "visibility",
    "normalized_id",
)


def scores_data(engine: D1Engine, rng: random.Random, n_scores: int) -> None:
    """Scores, collections, tags, imports and analytics, for the schema after 0011."""
    insert_sql(engine, "scores", SCORES_COLUMNS, scores_rows(n_scores))
    n_collections = max(5, n_scores // 25)
    insert_sql(
        engine,
        "collections",
        ("id", "user_id", "name", "created_at", "description"),
        (
            (
                i + 1,
                _uid(rng, "usr"),
                f"Set list {i + 1}",
                timestamp(EPOCH + timedelta(hours=i)),
                rng.choice((None, "Recital", "Exam pieces", "Sight-reading")),
            )
            for i in range(n_collections)
        ),
    )
    pairs = {
        (rng.randint(1, n_collections), rng.randint(1, n_scores))
        for _ in range(int(n_scores * 0.3))
    }
    insert_sql(
        engine,
        "collection_scores",
        ("collection_id", "score_id", "position"),
        ((c, s, i) for i, (c, s) in enumerate(sorted(pairs))),
    )
    tags = {
        (rng.randint(1, n_scores), rng.choice(("baroque", "romantic", "exam", "duet", "jazz")))
        for _ in range(int(n_scores * 0.4))
    }
    insert_sql(engine, "score_tags", ("score_id", "tag"), iter(sorted(tags)))
    insert_sql(
        engine,
        "score_imports",
        ("source", "external_id", "score_id", "imported_at"),
        (
            (
                "imslp",
                f"IMSLP{100000 + i}",
                rng.randint(1, n_scores),
                timestamp(EPOCH + timedelta(days=i)),
            )
            for i in range(max(4, n_scores // 100))
        ),
    )
    insert_sql(
        engine,
        "analytics_events",
        ("score_id", "event", "payload", "created_at"),
        (
            (
                rng.choice((None, rng.randint(1, n_scores))),
                rng.choice(("open", "print", "share")),
                json.dumps(
                    {"ms": rng.randint(10, 5000), "ratio": round(rng.random(), 4)},
                    separators=(",", ":"),
                ),
                timestamp(EPOCH + timedelta(seconds=613 * i)),
            )
            for i in range(int(n_scores * 0.6))
        ),
    )
    insert_sql(
        engine,
        "analytics_daily",
        ("day", "event", "n"),
        (
            ((EPOCH + timedelta(days=d)).strftime("%Y-%m-%d"), e, rng.randint(0, 500))
            for d in range(60)
            for e in ("open", "print", "share")
        ),
    )


# -- building ---------------------------------------------------------------------------------


def apply_sql(
    engine: D1Engine,
    files: dict[str, str],
    ledger: PlannedLedger,
    table: str,
    as_applied: dict[str, str] | None = None,
) -> None:
    """Apply the ledger's files with its timestamps; content is what was applied at the time."""
    as_applied = as_applied or {}
    for name, applied_at in ledger.rows:
        text = as_applied.get(name, files.get(name))
        outcome = engine.apply_migration(name, text, ledger_table=table, applied_at=applied_at)
        if not outcome.ok:
            raise RuntimeError(f"sample: {name} failed: {outcome.error}")


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)


def _count(engine: D1Engine, sql: str, *args: object) -> int:
    return engine.conn.execute(sql, args).fetchall()[0][0]


def write_sample(out: str | Path, n_scores: int = DEFAULT_SCORES, seed: int = SEED) -> dict:
    """Write the whole sample monorepo under `out`; return the facts stated in its README."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    facts: dict = {"n_scores": n_scores}
    services = out / "services"
    _write(services / "api" / "wrangler.toml", sm.API_CONFIG)
    _write(services / "api" / "wrangler.example.toml", sm.API_EXAMPLE_CONFIG)
    _write(services / "scores" / "wrangler.jsonc", sm.SCORES_CONFIG)
    _write(services / "reports-cron" / "wrangler.toml", sm.REPORTS_CRON_CONFIG)
    _write(services / "dictionary" / "wrangler.toml", sm.DICTIONARY_CONFIG)
    layout = {
        "api": ("migrations", sm.API_MIGRATIONS),
        "scores": ("migrations", sm.SCORES_MIGRATIONS),
        "dictionary": ("db/migrations", sm.DICTIONARY_MIGRATIONS),
    }
    for service, (folder, files) in layout.items():
        for name, text in files.items():
            _write(services / service / folder / name, text)
    for name, text in sm.DICTIONARY_OTHER_FILES.items():
        _write(services / "dictionary" / "db" / "migrations" / name, text)
    for service, files in sm.ROLLBACK_FILES.items():
        for name, text in files.items():
            _write(services / service / "migrations" / name, text)

    ledgers = {
        "api": _api_ledgers(),
        "scores": scores_ledgers(),
        "dictionary": _dictionary_ledgers(),
    }
    for service, envs in ledgers.items():
        for env, ledger in envs.items():
            _write(
                out / "ledgers" / f"{service}.{env}.json",
                _ledger_json(ledger, 4096 * (len(ledger.rows) + 3)),
            )

    # Lock file as `d1nb lock` wrote it when the files were applied: 0007 of api as applied.
    lock_lines = []
    for service, (folder, files) in layout.items():
        for name, text in files.items():
            content = (
                sm.API_0007_AS_APPLIED
                if (service, name) == ("api", "0007_sync_data_soft_delete.sql")
                else text
            )
            rel = f"services/{service}/{folder}/{name}"
            lock_lines.append(
                (
                    rel,
                    Locked(hashlib.sha256(content.encode()).hexdigest(), sql_fingerprint(content)),
                )
            )
    _write(out / "d1nb.lock", lock_text(lock_lines))

    _build_api(out, ledgers["api"]["staging"], seed, facts)
    _build_scores(out, ledgers["scores"]["staging"], seed, n_scores, facts)
    facts.update(file_facts(), seed=seed)
    _write(out / "README.md", readme_text(facts))
    _write(out / "d1nb.toml", REPORT_SETTINGS)
    return facts


def _build_api(out: Path, staging: PlannedLedger, seed: int, facts: dict) -> None:
    rng = random.Random(seed + 1)
    with D1Engine(":memory:") as engine:
        apply_sql(
            engine,
            sm.API_MIGRATIONS,
            PlannedLedger(staging.rows[:8]),
            "d1_migrations",
            {"0007_sync_data_soft_delete.sql": sm.API_0007_AS_APPLIED},
        )
        engine.conn.execute("BEGIN")
        _api_data(engine, rng)
        engine.conn.execute("COMMIT")
        write_dump(engine.conn, out / "exports" / "api" / "before.sql")
        q = lambda sql, *a: _count(engine, sql, *a)  # noqa: E731
        logbook = "entity_type = 'logbook_entry'"
        mood = "json_extract(data, '$.mood')"
        facts["api"] = {
            "logbook_rows": q(f"SELECT count(*) FROM sync_data WHERE {logbook}"),
            "mood_display": q(
                f"SELECT count(*) FROM sync_data WHERE {logbook} AND {mood} <> lower({mood})"
            ),
            "mood_lower": q(
                f"SELECT count(*) FROM sync_data WHERE {logbook} AND {mood} = lower({mood})"
            ),
            "mood_missing": q(
                f"SELECT count(*) FROM sync_data WHERE {logbook} "
                "AND json_type(data, '$.mood') IS NULL"
            ),
            "mood_transitions": {
                m: q(f"SELECT count(*) FROM sync_data WHERE {logbook} AND {mood} = ?", m)
                for m in MOODS
            },
            "sync_rows": q("SELECT count(*) FROM sync_data"),
            "status_counts": {
                s: q("SELECT count(*) FROM repertoire WHERE status = ?", s)
                for s in ("learning", "polished", "dropped")
            },
            "repertoire_rows": q("SELECT count(*) FROM repertoire"),
            "goals": q("SELECT count(*) FROM goals"),
            "goal_progress": q("SELECT count(*) FROM goal_progress"),
            "users": q("SELECT count(*) FROM users"),
        }
        apply_sql(engine, sm.API_MIGRATIONS, PlannedLedger(staging.rows[8:10]), "d1_migrations")
        write_dump(engine.conn, out / "exports" / "api" / "after.sql")


def _build_scores(out: Path, staging: PlannedLedger, seed: int, n_scores: int, facts: dict) -> None:
    rng = random.Random(seed + 2)
    with D1Engine(":memory:") as engine:
        apply_sql(engine, sm.SCORES_MIGRATIONS, PlannedLedger(staging.rows[:13]), "d1_migrations")
        engine.conn.execute("BEGIN")
        scores_data(engine, rng, n_scores)
        engine.conn.execute("COMMIT")
        write_dump(engine.conn, out / "exports" / "scores" / "before.sql")
        q = lambda sql, *a: _count(engine, sql, *a)  # noqa: E731
        per_update = {}
        for canonical, variants in sm.CANONICAL_COMPOSERS.items():
            marks = ",".join("?" * len(variants))
            per_update[canonical] = q(
                f"SELECT count(*) FROM scores WHERE composer IN ({marks})", *variants
            )
        facts["scores"] = {
            "rows": q("SELECT count(*) FROM scores"),
            "composer_updates": per_update,
            "composer_changed": sum(per_update.values()),
            "distinct_composers_before": q("SELECT count(DISTINCT composer) FROM scores"),
            "null_composers": q("SELECT count(*) FROM scores WHERE composer IS NULL"),
            "normalized_null": q("SELECT count(*) FROM scores WHERE normalized_id IS NULL"),
            "collection_scores": q("SELECT count(*) FROM collection_scores"),
            "analytics_events": q("SELECT count(*) FROM analytics_events"),
        }
        apply_sql(engine, sm.SCORES_MIGRATIONS, PlannedLedger(staging.rows[13:15]), "d1_migrations")
        facts["scores"]["distinct_composers_after"] = q(
            "SELECT count(DISTINCT composer) FROM scores"
        )
        write_dump(engine.conn, out / "exports" / "scores" / "after.sql")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m d1nb.sample",
        description="Write the d1nb sample D1 monorepo (deterministic).",
        epilog="example: python -m d1nb.sample --out data/sample",
    )
    parser.add_argument("--out", default="data/sample", help="folder to (re)write")
    parser.add_argument("--scores", type=int, default=DEFAULT_SCORES, help="rows of scores")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    write_sample(args.out, args.scores, args.seed)
    print(f"wrote {args.out}")
    return 0
