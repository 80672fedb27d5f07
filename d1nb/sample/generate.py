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
from d1nb.formats.lockfile import lock_text
from d1nb.inputs.duckcopy import connect_duckdb
from d1nb.sample import migrations_sql as sm

SEED = 20250106
DEFAULT_SCORES = 2500
_EPOCH = datetime(2025, 1, 6, 9, 0, 0)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- ledgers ----------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Planned rows of one environment's ledger: (name, applied_at) in id order."""

    rows: list[tuple[str, str]] = field(default_factory=list)


def _weekly(names: list[str], start: datetime, lag: timedelta = timedelta(0)) -> Ledger:
    return Ledger(
        [(n, _ts(start + timedelta(days=7 * i, minutes=7 * i) + lag)) for i, n in enumerate(names)]
    )


def _api_ledgers() -> dict[str, Ledger]:
    names = list(sm.API_MIGRATIONS)
    return {
        "staging": _weekly(names[:10], _EPOCH + timedelta(hours=1)),
        "production": _weekly(names[:8], _EPOCH + timedelta(hours=1), timedelta(days=2)),
    }


def _scores_ledgers() -> dict[str, Ledger]:
    names = list(sm.SCORES_MIGRATIONS)
    return {
        "staging": _weekly(names[:15], _EPOCH + timedelta(hours=3)),
        "production": _weekly(names[:13], _EPOCH + timedelta(hours=3), timedelta(days=3)),
    }


def _dictionary_ledgers() -> dict[str, Ledger]:
    t = _EPOCH + timedelta(days=1, hours=2)
    day = timedelta(days=1)
    staging = Ledger(
        [
            ("0001_create_terms.sql", _ts(t)),
            ("0002_create_embeddings.sql", _ts(t + 5 * day)),
            ("0003_create_lookup_queue.sql", _ts(t + 12 * day)),
            ("0005_create_terms_fts.sql", _ts(t + 19 * day)),
            ("0006_add_queue_retries.sql", _ts(t + 26 * day)),
            ("0007_create_analytics.sql", _ts(t + 40 * day)),
            ("0008_add_terms_language.sql", _ts(t + 47 * day)),
        ]
    )
    production = Ledger(
        [
            ("0001_create_terms.sql", _ts(t + 2 * day)),
            ("0002_create_embeddings.sql", _ts(t + 7 * day)),
            ("0005_create_terms_fts.sql", _ts(t + 21 * day)),
            ("0003_create_lookup_queue.sql", _ts(t + 22 * day)),
            ("0006_add_queue_retries.sql", _ts(t + 28 * day)),
            ("0007_create_analytics.sql", _ts(t + 38 * day)),
        ]
    )
    return {"staging": staging, "production": production}


def _ledger_json(ledger: Ledger, table_bytes: int) -> str:
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


def _insert(engine: D1Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> None:
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
                _ts(_EPOCH + timedelta(hours=5 * i)),
            )
        )
    _insert(
        engine, "users", ("id", "email", "display_name", "avatar_thumb", "created_at"), iter(users)
    )
    user_ids = [u[0] for u in users]

    def sync_rows() -> Iterator[tuple]:
        for i in range(1500):
            user = rng.choice(user_ids)
            when = _EPOCH + timedelta(minutes=97 * i)
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
            deleted = _ts(when + timedelta(days=3)) if rng.random() < 0.05 else None
            yield (
                user,
                kind,
                f"{rng.getrandbits(64):016x}",
                json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
                _ts(when),
                deleted,
            )

    _insert(
        engine,
        "sync_data",
        ("user_id", "entity_type", "entity_id", "data", "updated_at", "deleted_at"),
        sync_rows(),
    )
    composers = [*sm.CANONICAL_COMPOSERS, *sm.UNTOUCHED_COMPOSERS]
    _insert(
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
    _insert(
        engine,
        "goals",
        ("user_id", "title", "status", "target_minutes", "created_at", "priority"),
        (
            (
                rng.choice(user_ids),
                f"Learn {rng.choice(PIECES)}",
                rng.choice(("active", "done")),
                rng.choice((None, 300, 600, 1200)),
                _ts(_EPOCH + timedelta(hours=11 * i)),
                rng.randint(0, 3),
            )
            for i in range(250)
        ),
    )
    _insert(
        engine,
        "goal_progress",
        ("goal_id", "minutes", "note", "logged_at"),
        (
            (
                rng.randint(1, 250),
                rng.randint(5, 120),
                rng.choice((None, "good", "tempo ↑", "")),
                _ts(_EPOCH + timedelta(minutes=53 * i)),
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
            _ts(_EPOCH + timedelta(seconds=37 * i)),
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


def _scores_data(engine: D1Engine, rng: random.Random, n_scores: int) -> None:
    """Scores, collections, tags, imports and analytics, for the schema after 0011."""
    _insert(engine, "scores", SCORES_COLUMNS, scores_rows(n_scores))
    n_collections = max(5, n_scores // 25)
    _insert(
        engine,
        "collections",
        ("id", "user_id", "name", "created_at", "description"),
        (
            (
                i + 1,
                _uid(rng, "usr"),
                f"Set list {i + 1}",
                _ts(_EPOCH + timedelta(hours=i)),
                rng.choice((None, "Recital", "Exam pieces", "Sight-reading")),
            )
            for i in range(n_collections)
        ),
    )
    pairs = {
        (rng.randint(1, n_collections), rng.randint(1, n_scores))
        for _ in range(int(n_scores * 0.3))
    }
    _insert(
        engine,
        "collection_scores",
        ("collection_id", "score_id", "position"),
        ((c, s, i) for i, (c, s) in enumerate(sorted(pairs))),
    )
    tags = {
        (rng.randint(1, n_scores), rng.choice(("baroque", "romantic", "exam", "duet", "jazz")))
        for _ in range(int(n_scores * 0.4))
    }
    _insert(engine, "score_tags", ("score_id", "tag"), iter(sorted(tags)))
    _insert(
        engine,
        "score_imports",
        ("source", "external_id", "score_id", "imported_at"),
        (
            (
                "imslp",
                f"IMSLP{100000 + i}",
                rng.randint(1, n_scores),
                _ts(_EPOCH + timedelta(days=i)),
            )
            for i in range(max(4, n_scores // 100))
        ),
    )
    _insert(
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
                _ts(_EPOCH + timedelta(seconds=613 * i)),
            )
            for i in range(int(n_scores * 0.6))
        ),
    )
    _insert(
        engine,
        "analytics_daily",
        ("day", "event", "n"),
        (
            ((_EPOCH + timedelta(days=d)).strftime("%Y-%m-%d"), e, rng.randint(0, 500))
            for d in range(60)
            for e in ("open", "print", "share")
        ),
    )


# -- building ---------------------------------------------------------------------------------


def _apply(
    engine: D1Engine,
    files: dict[str, str],
    ledger: Ledger,
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


def build_scores_database(path: str | Path, n_scores: int, seed: int = SEED) -> Path:
    """A scores database at staging's state before 0012, with `n_scores` scores (benchmarks)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    rng = random.Random(seed + 2)
    ledger = Ledger(_scores_ledgers()["staging"].rows[:13])
    with D1Engine(path) as engine:
        _apply(engine, sm.SCORES_MIGRATIONS, ledger, "d1_migrations")
        engine.conn.execute("BEGIN")
        _scores_data(engine, rng, n_scores)
        engine.conn.execute("COMMIT")
    return path


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
        "scores": _scores_ledgers(),
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
            lock_lines.append((rel, hashlib.sha256(content.encode()).hexdigest()))
    _write(out / "d1nb.lock", lock_text(lock_lines))

    _build_api(out, ledgers["api"]["staging"], seed, facts)
    _build_scores(out, ledgers["scores"]["staging"], seed, n_scores, facts)
    facts.update(_file_facts())
    _write(out / "README.md", readme_text(facts))
    _write(out / "d1nb.toml", REPORT_SETTINGS)
    return facts


REPORT_SETTINGS = """\
# What `d1nb report data/sample` reads; options of `d1nb report` win over these.
[report]
# 02 and 03 replay what each export's own ledger lacks.
budget_ms = 1000.0
# 03: the scores backfill, measured on a copy grown to production's size.
migration = "services/scores/migrations/0013_backfill_normalized_id.sql"
scale_rows = 1_000_000
# 04: api staging before and after 0009 and 0010, then 0011 replayed on the after export.
before = "exports/api/before.sql"
after = "exports/api/after.sql"
mask = ["users.email"]
replay_service = "api"
replay_files = ["0011_goals_add_category.sql"]
distribution_table = "sync_data"
distribution_column = "data$.mood"

[report.snapshots]
api = "exports/api/before.sql"
scores = "exports/scores/before.sql"

[report.accepted]
"sync_data.data$.mood" = ["happy", "focused", "tired", "frustrated", "calm"]
"repertoire.status_v2" = ["learning", "performing", "archived"]

[report.expectations]
"no sync entry lost" = "SELECT id FROM before.sync_data EXCEPT SELECT id FROM after.sync_data"
"every repertoire row has a status_v2" = "SELECT id FROM after.repertoire WHERE status_v2 IS NULL"
"status_v2 maps the old status" = \"\"\"SELECT id, status, status_v2 FROM after.repertoire
    WHERE status_v2 <> CASE status WHEN 'polished' THEN 'performing'
    WHEN 'dropped' THEN 'archived' ELSE status END\"\"\"

[report.replay_expectations]
"no goal progress lost" = "SELECT id FROM before.goal_progress EXCEPT SELECT id FROM after.goal_progress"
"no goal lost" = "SELECT id FROM before.goals EXCEPT SELECT id FROM after.goals"
"""


def _build_api(out: Path, staging: Ledger, seed: int, facts: dict) -> None:
    rng = random.Random(seed + 1)
    with D1Engine(":memory:") as engine:
        _apply(
            engine,
            sm.API_MIGRATIONS,
            Ledger(staging.rows[:8]),
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
        _apply(engine, sm.API_MIGRATIONS, Ledger(staging.rows[8:10]), "d1_migrations")
        write_dump(engine.conn, out / "exports" / "api" / "after.sql")


def _build_scores(out: Path, staging: Ledger, seed: int, n_scores: int, facts: dict) -> None:
    rng = random.Random(seed + 2)
    with D1Engine(":memory:") as engine:
        _apply(engine, sm.SCORES_MIGRATIONS, Ledger(staging.rows[:13]), "d1_migrations")
        engine.conn.execute("BEGIN")
        _scores_data(engine, rng, n_scores)
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
        _apply(engine, sm.SCORES_MIGRATIONS, Ledger(staging.rows[13:15]), "d1_migrations")
        facts["scores"]["distinct_composers_after"] = q(
            "SELECT count(DISTINCT composer) FROM scores"
        )
        write_dump(engine.conn, out / "exports" / "scores" / "after.sql")


def _file_facts() -> dict:
    trigger = sm.API_MIGRATIONS["0006_goal_progress_immutable.sql"].splitlines()
    start = next(i for i, line in enumerate(trigger, 1) if line.startswith("CREATE TRIGGER"))
    end = next(i for i, line in enumerate(trigger, 1) if line.startswith("END;"))
    rebuild = sm.API_MIGRATIONS["0011_goals_add_category.sql"].splitlines()
    drop = next(i for i, line in enumerate(rebuild, 1) if line.startswith("DROP TABLE goals"))
    add = sm.SCORES_MIGRATIONS["0016_add_scores_updated_at.sql"].splitlines()
    alter = next(i for i, line in enumerate(add, 1) if line.startswith("ALTER TABLE"))
    return {"trigger_lines": (start, end), "rebuild_drop_line": drop, "add_column_line": alter}


def readme_text(f: dict) -> str:
    """data/sample/README.md: the sample's layout and each planted hazard with exact counts."""
    api, scores = f["api"], f["scores"]
    transitions = ", ".join(
        f"'{m}' → '{m.lower()}' {n}" for m, n in api["mood_transitions"].items()
    )
    status = api["status_counts"]
    updates = "\n".join(f"  | {name} | {n} |" for name, n in scores["composer_updates"].items())
    t0, t1 = f["trigger_lines"]
    return f"""# The d1nb sample: a fictional D1 monorepo

Written by `python -m d1nb.sample --out data/sample` (seed {SEED}, {f["n_scores"]} scores);
do not edit by hand — a test regenerates it and compares byte for byte.

```
services/api/          wrangler.toml (+ wrangler.example.toml), migrations/ 0001–0011
services/scores/       wrangler.jsonc (comments, trailing commas), migrations/ 0000–0016
services/dictionary/   wrangler.toml, db/migrations/ (custom migrations_table schema_migrations)
services/reports-cron/ wrangler.toml binding the scores production database, no migrations
ledgers/SERVICE.ENV.json   `wrangler d1 execute DB --remote --json --command "SELECT * FROM d1_migrations"`
exports/SERVICE/before.sql, after.sql   `wrangler d1 export` of staging before/after the risky migrations
d1nb.lock              sha256 of every migration file when it was applied
d1nb.toml              what `d1nb report` reads here: exports, the backfill to size, expectations
```

Applied where (by the ledgers):

| service | staging | production | pending everywhere |
|---|---|---|---|
| api | 0001–0010 | 0001–0008 | 0011 |
| scores | 0000–0013 | 0000–0011 | 0014–0016 |
| dictionary | 0001–0003, 0005, 0006 (old name), 0007, 0008 | 0001, 0002, 0005, 0003, 0006 (old name), 0007 | 0006 (new name), 0009 |

`exports/api/before.sql` is api staging at 0008, `after.sql` the same database after 0009 and
0010. `exports/scores/before.sql` is scores staging at 0011, `after.sql` after 0012 and 0013.
The dictionary database has an FTS5 table, which `wrangler d1 export` refuses, so it has no export.

## Planted hazards and what the analyses must find

1. **JSON enum lowercasing** — `services/api/migrations/0010_lowercase_sync_moods.sql` (one
   UPDATE). It touches all {api["logbook_rows"]} `logbook_entry` rows of `sync_data` ({api["sync_rows"]} rows in all).
   `$.mood` transitions: {transitions}; {api["mood_lower"]} rows already lower case keep their value.
   The {api["mood_missing"]} entries without a mood gain `"mood":null` (`lower(NULL)` is NULL and
   `json_set` writes it): {api["mood_display"] + api["mood_missing"]} documents change in all.
2. **Enum change through a new column** — api `0009_repertoire_status_v2.sql`: `status_v2` is
   added and filled for all {api["repertoire_rows"]} repertoire rows: 'learning' → 'learning' {status["learning"]},
   'polished' → 'performing' {status["polished"]}, 'dropped' → 'archived' {status["dropped"]}.
3. **Table rebuild under `PRAGMA foreign_keys=OFF`** — api `0011_goals_add_category.sql`
   (pending everywhere). D1 ignores the pragma inside the migration's transaction, so
   `DROP TABLE goals` (line {f["rebuild_drop_line"]}) cascades: all {api["goal_progress"]} `goal_progress` rows are
   deleted (`ON DELETE CASCADE`); the {api["goals"]} goals survive in the rebuilt table. Replayed on
   either api export, the migration "succeeds" and `goal_progress` is left empty.
   It also changes the `status` CHECK enum in one step (adds 'paused').
4. **Composer canonicalisation** — scores `0012_canonicalise_composers.sql`: 12 UPDATEs over
   {scores["rows"]} scores change {scores["composer_changed"]} rows in all; distinct composers go from
   {scores["distinct_composers_before"]} to {scores["distinct_composers_after"]} ({scores["null_composers"]} NULL composers stay NULL). Rows per UPDATE:

  | canonical name | rows changed |
  |---|---|
{updates}

5. **normalized_id backfill on a large table** — scores `0013_backfill_normalized_id.sql`: one
   UPDATE over all {scores["normalized_null"]} rows; `normalized_id` is indexed, so D1 bills
   {2 * scores["normalized_null"]} rows written (a row and an index entry each). Notebook 03 sizes its
   batches on a 1,000,000-row table made by this generator.
6. **ADD COLUMN that fails only on a populated table** — scores `0016_add_scores_updated_at.sql`
   line {f["add_column_line"]}: a non-constant default. Replayed from an empty database it passes; on either scores
   export it fails with SQLite's `Cannot add a column with non-constant default`.
7. **Duplicate migration number** — scores has two files numbered 0008
   (`0008_add_scores_visibility.sql`, `0008_create_score_imports.sql`), ordered by name.
8. **Non-migration files in a migrations folder** — dictionary `db/migrations/` holds 3 files
   that are not migrations: `0004_drop_legacy_terms.sql.rollback`, `0010_split_terms.sql.future`,
   `README.md`. The migration numbers also have a gap at 0004.
9. **Trigger with a `BEGIN … END` body** — api `0006_goal_progress_immutable.sql`: one statement,
   lines {t0}–{t1}, with a `;` inside its body. dictionary `0005_create_terms_fts.sql` has three more and
   an FTS5 virtual table.
10. **Applied file edited after it was applied** — api `0007_sync_data_soft_delete.sql`: its
    sha256 differs from `d1nb.lock`; the index `idx_sync_data_live` it now creates is missing from
    both api exports (the databases ran the original file).
11. **History rewritten after deployment** — dictionary `0006_add_queue_attempts.sql` was applied
    as `0006_add_queue_retries.sql` (staging and production): the ledgers name a file that no
    longer exists, and the renamed file is pending — applying it would fail with
    `duplicate column name: attempts`.
12. **Applied out of order** — dictionary production applied `0005_create_terms_fts.sql` before
    `0003_create_lookup_queue.sql`.
13. **Environment progression violated** — dictionary `0007_create_analytics.sql` was applied to
    production two days before staging.
14. **Services sharing one database** — `reports-cron` binds `scores-production` (owned by
    `scores`) and has no migrations.
15. **Compensating migrations that look right and lose data** — api
    `migrations/rollback/0011_goals_add_category.sql` drops the new column but cannot bring back
    the goal_progress rows 0011's rebuild cascaded away; scores
    `0015_drop_analytics_payload.sql.rollback` re-adds `payload` empty, so every value it held is
    gone. `d1nb rollback` (and notebook 05) counts both, and drafts rollbacks that restore them.
16. **Lint** — `CREATE TABLE` / `CREATE INDEX` without `IF NOT EXISTS` in scores 0000–0003 and
    0007; `RENAME COLUMN` in scores 0014; `DROP COLUMN` in scores 0015 and dictionary 0009;
    `PRAGMA foreign_keys` (no effect on D1) twice in api 0011; a placeholder database id in
    `services/api/wrangler.example.toml`.
"""


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


EVENTS_DDL = (
    "CREATE TABLE events (\n  id INTEGER PRIMARY KEY,\n  user_id TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n  score REAL,\n  payload TEXT,\n  created_at TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n  digest BLOB\n)"
)


def write_events_dump(out: str | Path, rows: int = 1_000_000, seed: int = SEED) -> Path:
    """A `wrangler d1 export` of one 8-column table of `rows` rows (the load benchmark's input).

    About 150 bytes a row: text, JSON, reals, integers, NULLs, BLOBs and a newline now and then.
    """
    rng = random.Random(seed + 5)
    kinds = ("open", "print", "share", "practice", "import")
    with D1Engine(":memory:") as engine:
        engine.conn.execute(EVENTS_DDL)
        engine.conn.execute("BEGIN")
        _insert(
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
                    _ts(_EPOCH + timedelta(seconds=7 * i)),
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
