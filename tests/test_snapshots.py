"""The `wrangler d1 export` format: writing it faithfully, reading it back with counts checked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import apsw
import pytest

from d1nb.formats.dumpformat import dump_statements, iter_dump, sql_literal, write_dump
from d1nb.inputs import duckcopy, dumploader
from d1nb.inputs.dumploader import load_dump
from d1nb.problems import InputError


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (42, "42"),
        (2**63 - 1, "9223372036854775807"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1.5e-7, "1.5e-7"),
        (1e21, "1e+21"),
        ("it's", "'it''s'"),
        ("a\nb", "replace('a\\nb','\\n',char(10))"),
        ("a\r\nb", "replace(replace('a\\r\\nb','\\r',char(13)),'\\n',char(10))"),
        ("has \\n\nline", "replace('has \\n\\012line','\\012',char(10))"),
        (b"\x00\xff", "X'00ff'"),
        ("Dvořák 坂本", "'Dvořák 坂本'"),
        (float("inf"), "9e999"),  # Miniflare's dumpSql; `Infinity` is no SQL (#22)
        (float("-inf"), "-9e999"),
    ],
)
def test_literals_match_wrangler(value, literal):
    assert sql_literal(value) == literal


def _db() -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute(
        "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE);"
        "INSERT INTO d1_migrations(name) VALUES ('0001_a.sql');"
        'CREATE TABLE "Quoted" (a);'
        "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, r REAL, n);"
        "CREATE INDEX t_s ON t(s);"
        "CREATE VIEW v AS SELECT * FROM t;"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"
    )
    conn.execute("INSERT INTO t VALUES (1, 'two\nlines', X'01', 2.5, NULL)")
    conn.execute(
        "INSERT INTO t VALUES (9007199254740993, ?, ?, 1e300, 'x')", ("x" * 1_999_000, b"\x00" * 10)
    )
    return conn


def test_dump_order_and_shape():
    statements = list(dump_statements(_db()))
    assert statements[0] == "PRAGMA defer_foreign_keys=TRUE;"
    assert statements[1].startswith("CREATE TABLE d1_migrations(")
    assert statements[2] == 'INSERT INTO "d1_migrations" ("id","name") VALUES(1,\'0001_a.sql\');'
    assert statements[3] == 'CREATE TABLE IF NOT EXISTS "Quoted" (a);'
    assert statements[5] == (
        'INSERT INTO "t" ("id","s","b","r","n") '
        "VALUES(1,replace('two\\nlines','\\n',char(10)),X'01',2.5,NULL);"
    )
    tail = statements[-5:]
    assert tail[0] == "DELETE FROM sqlite_sequence;"
    assert tail[1] == 'INSERT INTO "sqlite_sequence" ("name","seq") VALUES(\'d1_migrations\',1);'
    assert [s.split()[1] for s in tail[2:]] == ["INDEX", "TRIGGER", "VIEW"]
    no_data = list(dump_statements(_db(), no_data=True))
    assert not any(s.startswith("INSERT") for s in no_data)
    only_t = list(dump_statements(_db(), tables=["t"], no_schema=True))
    assert [s[:15] for s in only_t[1:]] == ['INSERT INTO "t"'] * 2


def test_round_trip_keeps_values_and_counts(tmp_path):
    out = write_dump(_db(), tmp_path / "export.sql")
    assert not out.read_bytes().endswith(b"\n")
    snapshot = load_dump(out, tmp_path / "work")
    assert snapshot.row_counts == {"Quoted": 0, "d1_migrations": 1, "t": 2}
    conn = apsw.Connection(str(snapshot.path))
    rows = conn.execute("SELECT id, s, b, r, n, typeof(r) FROM t ORDER BY id").fetchall()
    assert rows[0] == (1, "two\nlines", b"\x01", 2.5, None, "real")
    assert rows[1][0] == 9007199254740993
    assert len(rows[1][1]) == 1_999_000
    assert rows[1][2:5] == (b"\x00" * 10, 1e300, "x")
    assert out.read_text(encoding="utf-8") == "\n".join(dump_statements(conn))


def test_truncated_dump_names_the_line(tmp_path):
    dump = tmp_path / "cut.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n"
        'INSERT INTO "t" ("a") VALUES(\'x\');\nINSERT INTO "t" ("a") VALUES(\'y',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"cut\.sql:4: .*truncated"):
        list(iter_dump(dump))
    with pytest.raises(InputError):
        load_dump(dump, tmp_path / "work")
    assert not (tmp_path / "work" / "cut.sqlite").exists()


def test_invalid_utf8_and_non_sql_name_the_line(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_bytes(b"CREATE TABLE t (a);\nINSERT INTO t VALUES ('\xff');\n")
    with pytest.raises(InputError, match=r"bad\.sql:2: .*UTF-8"):
        load_dump(bad, tmp_path / "work")
    junk = tmp_path / "junk.sql"
    junk.write_text("CREATE TABLE t (a);\nthis is not sql;\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"junk\.sql:2: .*syntax error"):
        load_dump(junk, tmp_path / "work")


def test_sample_exports_load_with_verified_counts(sample, tmp_path):
    snapshot = load_dump(sample / "exports" / "api" / "before.sql", tmp_path)
    assert snapshot.row_counts["goal_progress"] == 1100
    assert snapshot.row_counts["d1_migrations"] == 8
    before = (sample / "exports" / "api" / "before.sql").read_bytes()
    assert (
        write_dump(apsw.Connection(str(snapshot.path)), tmp_path / "again.sql").read_bytes()
        == before
    )


# -- loaders and DuckDB -------------------------------------------------------------------------

import hashlib  # noqa: E402
import json  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from d1nb.formats.migrations import load_migration_dir  # noqa: E402
from d1nb.inputs.snapshots import load_snapshot  # noqa: E402


def test_duckdb_types_mixed_columns_and_edge_values(tmp_path):
    conn = apsw.Connection(str(tmp_path / "src.sqlite"))
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, big INTEGER, mixed, note TEXT, r REAL, "
        "empty_col TEXT, b BLOB, ts TIMESTAMP, n NUMERIC)"
    )
    conn.executemany(
        "INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (1, 2**62 + 1, 5, "Dvořák\nline", 1, None, b"\x00\xff", "2025-01-01 00:00:00", 3),
            (2, -(2**60), "five", "坂本", 2.5, None, None, "2025-01-02 00:00:00", 4.5),
            (3, None, b"\x01", "", None, None, b"", None, None),
            (4, 7, 1.25, "x" * 1_999_000, 3, None, None, None, 9),
        ],
    )
    conn.close()
    snapshot = load_snapshot(tmp_path / "src.sqlite", tmp_path / "work")
    con = snapshot.duckdb()
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'"
        ).fetchall()
    )
    assert types["big"] == "BIGINT" and types["r"] == "DOUBLE" and types["note"] == "VARCHAR"
    assert types["b"] == "BLOB" and types["ts"] == "VARCHAR" and types["n"] == "DOUBLE"
    assert types["mixed"].startswith("UNION")
    assert types["empty_col"] == "VARCHAR"
    rows = con.execute(
        "SELECT big, mixed, union_tag(mixed), note, r, b FROM t ORDER BY id"
    ).fetchall()
    assert rows[0][:3] == (2**62 + 1, 5, "integer")
    assert rows[1][1:3] == ("five", "text")
    assert rows[2][1:3] == (b"\x01", "blob")
    assert rows[3][1:3] == (1.25, "real")
    assert rows[0][3] == "Dvořák\nline" and len(rows[3][3]) == 1_999_000
    assert rows[0][5] == b"\x00\xff" and rows[2][5] == b""
    notes = snapshot.types_frame().set_index("column")
    assert "several storage classes" in notes.loc["mixed", "note"]
    assert "every value is text" in notes.loc["ts", "note"]


def test_local_state_folder_skips_internal_tables_and_keeps_input(tmp_path):
    state = tmp_path / ".wrangler" / "state" / "v3" / "d1" / "miniflare-D1DatabaseObject"
    state.mkdir(parents=True)
    db = state / "abc123.sqlite"
    writer = apsw.Connection(str(db))
    writer.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
    writer.execute(
        "CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB);"
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
    )
    writer.execute("INSERT INTO notes (body) VALUES ('a'), ('b'), ('c')")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in state.iterdir()}
    snapshot = load_snapshot(tmp_path / ".wrangler", tmp_path / "work")
    assert snapshot.row_counts == {"notes": 3}
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in state.iterdir()} == before
    assert snapshot.duckdb().execute("SELECT count(*) FROM notes").fetchall() == [(3,)]
    writer.close()


def _api_migrations(sample):
    return load_migration_dir(sample / "services" / "api" / "migrations")


def test_json_csv_parquet_are_typed_by_the_migrations(sample, tmp_path):
    rows = [
        {
            "id": 1,
            "email": "a@example.com",
            "display_name": "Ana",
            "avatar_thumb": [0, 255],
            "created_at": "2025-01-01 00:00:00",
        },
        {
            "id": 2,
            "email": "b@example.com",
            "display_name": None,
            "avatar_thumb": None,
            "created_at": "2025-01-02 00:00:00",
        },
    ]
    out = tmp_path / "users.json"
    out.write_text(
        json.dumps([{"results": rows, "success": True, "meta": {"duration": 1}}]), encoding="utf-8"
    )
    snap = load_snapshot(out, tmp_path / "w1", table="users", schema=_api_migrations(sample))
    con = snap.duckdb()
    assert con.execute("SELECT avatar_thumb FROM users ORDER BY id").fetchall() == [
        (b"\x00\xff",),
        (None,),
    ]
    assert snap.row_counts == {"users": 2}  # the input holds users alone (its goals table is empty)

    csv_path = tmp_path / "goals.csv"
    csv_path.write_text(
        "id,user_id,title,status,target_minutes,created_at,priority,category\n"
        '1,u1,"Scales, daily",active,300,2025-01-01,2,general\n'
        "2,u1,Bach,done,,2025-01-02,0,general\n",
        encoding="utf-8",
    )
    snap = load_snapshot(csv_path, tmp_path / "w2", schema=_api_migrations(sample))
    con = snap.duckdb()
    assert con.execute(
        "SELECT title, target_minutes, priority FROM goals ORDER BY id"
    ).fetchall() == [("Scales, daily", 300, 2), ("Bach", None, 0)]

    pq.write_table(
        pa.table(
            {
                "id": [1, 2],
                "goal_id": [1, 1],
                "minutes": [30, 45],
                "note": ["ok", None],
                "logged_at": ["2025-01-01", "2025-01-02"],
            }
        ),
        tmp_path / "goal_progress.parquet",
    )
    snap = load_snapshot(
        tmp_path / "goal_progress.parquet", tmp_path / "w3", schema=_api_migrations(sample)
    )
    assert snap.row_counts["goal_progress"] == 2


def test_dump_variants_no_schema_table_and_no_data(sample, tmp_path):
    source = load_dump(sample / "exports" / "api" / "before.sql", tmp_path / "src")
    conn = apsw.Connection(str(source.path))
    write_dump(conn, tmp_path / "data.sql", no_schema=True)
    write_dump(conn, tmp_path / "goals.sql", tables=["goals", "goal_progress"])
    write_dump(conn, tmp_path / "schema.sql", no_data=True)
    data = load_dump(tmp_path / "data.sql", tmp_path / "w", schema=_api_migrations(sample))
    assert {k: v for k, v in data.row_counts.items() if v} == {
        k: v for k, v in source.row_counts.items() if v
    }
    # The tables are those of the 8 files its ledger lists, not of all 11 (0009 adds a column).
    assert data.notes == [
        "no schema in the dump: tables from the 8 migration file(s) its d1_migrations table lists"
    ]
    with data.connect() as engine:
        assert "status_v2" not in [c[1] for c in engine.columns("repertoire")]
        # stranger's project #28: wrangler's --no-schema dump has no `DELETE FROM
        # sqlite_sequence;`, and the counters its rows made stayed beside the exported ones
        counters = engine.conn.execute("SELECT * FROM sqlite_sequence").fetchall()
    assert counters == conn.execute("SELECT * FROM sqlite_sequence").fetchall() != []
    assert load_dump(tmp_path / "goals.sql", tmp_path / "w").row_counts == {
        "goal_progress": 1100,
        "goals": 250,
    }
    assert set(load_dump(tmp_path / "schema.sql", tmp_path / "w").row_counts.values()) == {0}


def test_a_partial_or_data_only_export_says_what_it_lacks(tmp_path):
    """Stranger's project #9 through the real wrangler: `export --table orders --table "plant
    stock"` loaded without a word although "plant stock" points at Plants, which it does not
    hold; `export --no-schema` failed with "no such table: d1_migrations" alone."""
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))
    conn.execute(
        "CREATE TABLE Plants (sku TEXT PRIMARY KEY);"
        "CREATE TABLE [plant stock] (id INTEGER PRIMARY KEY, sku TEXT REFERENCES plants(sku));"
        "INSERT INTO Plants VALUES ('a'); INSERT INTO [plant stock] VALUES (1, 'a');"
    )
    write_dump(conn, tmp_path / "stock.sql", tables=["plant stock"])
    write_dump(conn, tmp_path / "data.sql", no_schema=True)
    stock = load_dump(tmp_path / "stock.sql", tmp_path / "w")
    assert stock.row_counts == {"plant stock": 1}
    assert any(
        n.startswith("foreign keys into tables this export does not hold (plant stock.sku → ")
        for n in stock.notes
    )
    with pytest.raises(InputError, match="a `wrangler d1 export --no-schema` dump\\? give"):
        load_dump(tmp_path / "data.sql", tmp_path / "w2")


def test_a_data_only_export_of_a_renamed_ledger_loads(tmp_path):
    """Stranger's project #19 through the real wrangler: `export --no-schema` of a database
    whose config names its ledger (`migrations_table = "audit_log_migrations"`) failed with
    "no such table: audit_log_migrations": the tables came from the migrations, the ledger
    under wrangler's default name."""
    from d1nb.formats.migrations import load_migration_dir

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_events.sql").write_text("CREATE TABLE events (id INTEGER PRIMARY KEY);\n")
    (folder / "0002_more.sql").write_text("ALTER TABLE events ADD COLUMN at INTEGER;\n")
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))
    conn.execute(
        'CREATE TABLE "audit_log_migrations"(id INTEGER PRIMARY KEY AUTOINCREMENT, '
        "name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);"
        "INSERT INTO audit_log_migrations (name) VALUES ('0001_events.sql');"
        "CREATE TABLE events (id INTEGER PRIMARY KEY); INSERT INTO events VALUES (1), (2);"
    )
    write_dump(conn, tmp_path / "data.sql", no_schema=True)
    data = load_dump(tmp_path / "data.sql", tmp_path / "w", schema=load_migration_dir(folder))
    assert data.row_counts == {"audit_log_migrations": 1, "events": 2}
    with data.connect() as engine:
        assert "d1_migrations" not in engine.tables()
        assert [c[1] for c in engine.columns("events")] == ["id"]  # 0001 only, as applied


def test_tables_from_migrations_keep_their_triggers_and_views(tmp_path):
    """Stranger's project #19: a snapshot whose tables came from the migrations (a
    `--no-schema` dump, `--json` output, CSV) had none of their triggers or views, so a
    pending UPDATE that D1's immutability trigger refuses replayed as safe. They are created
    after the rows now: an INSERT trigger does not fire on rows loaded as they were."""
    from d1nb.formats.migrations import load_migration_dir
    from d1nb.inputs.snapshots import load_snapshot

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_init.sql").write_text(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount REAL, posted INTEGER);\n"
        "CREATE TABLE log (entry INTEGER);\n"
        "CREATE VIEW open_entries AS SELECT * FROM entries WHERE posted = 0;\n"
        "CREATE TRIGGER immutable BEFORE UPDATE OF amount ON entries WHEN OLD.posted = 1\n"
        "BEGIN SELECT RAISE(ABORT, 'posted entries are immutable'); END;\n"
        "CREATE TRIGGER logged AFTER INSERT ON entries BEGIN\n"
        "  INSERT INTO log VALUES (NEW.id); END;\n"
    )
    mdir = load_migration_dir(folder)
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))
    for f in mdir.files:
        conn.execute(f.text)
    conn.execute("INSERT INTO entries VALUES (1, 2.5, 1), (2, 3.0, 0)")
    write_dump(conn, tmp_path / "data.sql", no_schema=True)
    rows = tmp_path / "entries.json"
    rows.write_text(
        '[{"results": [{"id": 1, "amount": 2.5, "posted": 1}, '
        '{"id": 2, "amount": 3.0, "posted": 0}], "success": true, "meta": {}}]'
    )
    for snapshot, logged in (
        (load_dump(tmp_path / "data.sql", tmp_path / "w", schema=mdir), 2),
        (load_snapshot(rows, tmp_path / "j", table="entries", schema=mdir), 0),
    ):
        with snapshot.connect() as engine:
            names = {n for (n,) in engine.conn.execute("SELECT name FROM sqlite_master")}
            assert {"immutable", "logged", "open_entries"} <= names
            # the dump's log rows, and none the loading's INSERTs would have added
            assert engine.conn.execute("SELECT count(*) FROM log").fetchall() == [(logged,)]
            with pytest.raises(apsw.ConstraintError, match="posted entries are immutable"):
                engine.conn.execute("UPDATE entries SET amount = 1")


def test_keys_an_export_rounded_into_one_are_explained(tmp_path):
    """Stranger's project #19: snowflake ids (7300000000000000001, …004, …) exported by
    `wrangler d1 export` all read 7300000000000000000, so its own export fails to load (and
    `wrangler d1 execute --file` of it fails alike, checked) with "UNIQUE constraint failed"
    alone; the message now says why."""
    dump = tmp_path / "rounded.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\n"
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, memo TEXT);\n"
        'INSERT INTO "entries" ("id","memo") VALUES(7300000000000000000,\'a\');\n'
        'INSERT INTO "entries" ("id","memo") VALUES(7300000000000000000,\'b\');\n'
    )
    with pytest.raises(InputError) as raised:
        load_dump(dump, tmp_path / "w")
    problem = raised.value.problem
    assert problem.line == 4
    assert "UNIQUE constraint failed: entries.id: the row holds 7300000000000000000" in (
        problem.message
    )
    assert "through JavaScript numbers" in problem.message
    exact = tmp_path / "exact.sql"  # an exact writer's distinct keys past 2^53 just load
    exact.write_text(
        dump.read_text().replace(
            "VALUES(7300000000000000000,'b')", "VALUES(7300000000000000001,'b')"
        )
    )
    assert load_dump(exact, tmp_path / "w2").row_counts == {"entries": 2}
    clash = tmp_path / "clash.sql"  # a real duplicate of a small key says nothing more
    clash.write_text(dump.read_text().replace("7300000000000000000", "7"))
    with pytest.raises(InputError) as raised:
        load_dump(clash, tmp_path / "w3")
    assert raised.value.problem.message == "UNIQUE constraint failed: entries.id"


def test_a_nul_byte_in_a_dump_is_named_not_an_internal_error(tmp_path):
    """A dump with a NUL byte inside a string ended in "internal error, a bug in d1nb:
    ValueError: String has embedded null bytes" (exit 3): SQLite reads a statement's text
    only up to a NUL, so no export holds one. Now the file, line and column, exit 2."""
    from d1nb.formats.dumpformat import iter_dump

    dump = tmp_path / "nul.sql"
    dump.write_bytes(
        b"PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a TEXT);\n"
        b"INSERT INTO \"t\" VALUES('nul\x00here');\nINSERT INTO \"t\" VALUES('x');\n"
    )
    with pytest.raises(InputError, match=r"nul.sql:3: error: a NUL byte at column 28"):
        load_dump(dump, tmp_path / "w")
    with pytest.raises(InputError, match=r"nul.sql:3: error: a NUL byte at column 28"):
        list(iter_dump(dump))


def test_row_count_mismatch_is_an_error(tmp_path):
    dump = tmp_path / "odd.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n"
        "CREATE TRIGGER eat AFTER INSERT ON t BEGIN DELETE FROM t WHERE a = 2; END;\n"
        'INSERT INTO "t" ("a") VALUES(1);\nINSERT INTO "t" ("a") VALUES(2);',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="dump has 2 INSERTs but 1 rows loaded"):
        load_dump(dump, tmp_path / "w")
    assert not (tmp_path / "w" / "odd.d1nb.sqlite").exists()


def test_unknown_and_missing_exports(tmp_path):
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match="unknown export format"):
        load_snapshot(tmp_path / "x.txt", tmp_path / "w")
    with pytest.raises(InputError, match="not found"):
        load_snapshot(tmp_path / "nope.sql", tmp_path / "w")
    (tmp_path / "r.json").write_text("[{}]", encoding="utf-8")
    with pytest.raises(InputError, match=r"give it \(--table T, or table=T\)"):
        load_snapshot(tmp_path / "r.json", tmp_path / "w")


# -- the block path: whole chunks of one-line INSERTs run as one statement ---------------------


def _contents(path) -> dict[str, list[tuple]]:
    conn = apsw.Connection(str(path))
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        name: conn.execute(f'SELECT typeof(rowid), * FROM "{name}" ORDER BY rowid').fetchall()
        for name in names
    }


def _line_by_line(monkeypatch, dump, workdir):
    """The same dump loaded without the block path, as the reference."""
    with monkeypatch.context() as patch:
        patch.setattr(dumploader, "_insert_block", lambda first, text: None)
        return load_dump(dump, workdir, reader="exact")


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
def test_block_path_loads_what_line_by_line_loads(sample, tmp_path, monkeypatch, chunk):
    blocks = []
    real = dumploader._insert_block
    monkeypatch.setattr(dumploader, "_CHUNK_BYTES", chunk)
    monkeypatch.setattr(
        dumploader, "_insert_block", lambda f, t: blocks.append(r := real(f, t)) or r
    )
    for dump in sorted((sample / "exports").glob("*/*.sql")):
        fast = load_dump(dump, tmp_path / "fast" / dump.parent.name, reader="exact")
        slow = _line_by_line(monkeypatch, dump, tmp_path / "slow" / dump.parent.name)
        assert fast.row_counts == slow.row_counts
        assert _contents(fast.path) == _contents(slow.path)
    if chunk < 1 << 20:  # every test dump is a single chunk of mixed lines at 1 MB
        assert sum(b is not None for b in blocks) > 10


def _one_table_dump(path, lines: list[str]):
    path.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT);\n"
        + "\n".join(lines),
        encoding="utf-8",
    )
    return path


def test_block_with_a_newline_in_a_value_is_loaded_line_by_line(tmp_path, monkeypatch):
    """A raw newline followed by the next line's prefix would be joined into the wrong value;
    the row count of the block gives it away and the dump is read again line by line."""
    monkeypatch.setattr(dumploader, "_CHUNK_BYTES", 1 << 16)
    rows = [f"INSERT INTO \"t\" VALUES({i},'row {i}');" for i in range(1, 400)]
    rows[200] = 'INSERT INTO "t" VALUES(201,\'first);'
    rows[201] = 'INSERT INTO "t" VALUES(202, not a row\');'
    dump = _one_table_dump(tmp_path / "nl.sql", [*rows[:5], *rows])
    dump.write_text(dump.read_text().replace("\n".join(rows[:5]) + "\n", "", 1))
    snapshot = load_dump(dump, tmp_path / "w")
    got = dict(apsw.Connection(str(snapshot.path)).execute("SELECT id, s FROM t").fetchall())
    assert snapshot.row_counts == {"t": 398}
    assert got[201] == 'first);\nINSERT INTO "t" VALUES(202, not a row'
    assert got[203] == "row 203"


def test_block_error_names_the_line(tmp_path, monkeypatch):
    monkeypatch.setattr(dumploader, "_CHUNK_BYTES", 256)
    rows = [f"INSERT INTO \"t\" VALUES({i},'r');" for i in range(1, 100)]
    rows[70] = "INSERT INTO \"t\" VALUES(5,'duplicate key');"
    dump = _one_table_dump(tmp_path / "dup.sql", rows)
    with pytest.raises(InputError, match=r"dup\.sql:73: .*UNIQUE constraint failed: t\.id"):
        load_dump(dump, tmp_path / "w")
    assert not (tmp_path / "w" / "dup.d1nb.sqlite").exists()


def test_block_of_two_statements_on_a_line_is_not_run_as_one(tmp_path, monkeypatch):
    monkeypatch.setattr(dumploader, "_CHUNK_BYTES", 1 << 12)
    rows = [f"INSERT INTO \"t\" VALUES({i},'r');" for i in range(1, 300)]
    rows[150] = 'INSERT INTO "t" VALUES(151,\'r\'); DROP TABLE keep; INSERT INTO "t" VALUES(-1);'
    dump = _one_table_dump(tmp_path / "two.sql", ["CREATE TABLE keep (a);", *rows])
    with pytest.raises(InputError):
        load_dump(dump, tmp_path / "w")


def test_reload_into_the_same_folder_replaces_an_on_disk_duckdb_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(duckcopy, "IN_MEMORY_DUCKDB_BYTES", 0)  # every snapshot on disk
    dump = _one_table_dump(tmp_path / "t.sql", ["INSERT INTO \"t\" VALUES(1,'a');"])
    con = load_dump(dump, tmp_path / "w").duckdb()
    con.execute("CREATE TABLE leftover AS SELECT 1")
    con.close()
    dump.write_text(dump.read_text() + "\nINSERT INTO \"t\" VALUES(2,'b');")
    con = load_dump(dump, tmp_path / "w").duckdb()
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert tables == {"t"}  # a table, or a view over the rows a direct load wrote
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(2,)]


VALID_DUMPS = {
    "multi-row INSERTs": "INSERT INTO \"t\" VALUES(1,'a'),(2,'b');\n"
    "INSERT INTO \"t\" VALUES(3,'c');\n",
    "table name in another case": "INSERT INTO \"T\" VALUES(1,'a');\n"
    "INSERT INTO T VALUES(2,'b');\n",
    "schema-qualified": "INSERT INTO main.t VALUES(1,'a');\n"
    "INSERT INTO main.\"t\" VALUES(2,'b');\n",
    # stranger's project #28: D1 runs both statements of a line; the loader ran the second
    # as part of the first's row and then refused the dump for a row count it had miscounted
    "two statements on a line": 'INSERT INTO "t" VALUES(1,\'a;b\');INSERT INTO "t" '
    "VALUES(2,'c; \"d\"');\nUPDATE t SET s = 'u;' WHERE id = 1;INSERT INTO \"t\" VALUES(3,'e');\n"
    "INSERT INTO \"t\" VALUES(4,'f');  -- a comment; after the row\n",
    "a row separator inside a string, a multi-row line to even the count": (
        'INSERT INTO "t" VALUES(1,\'x);\nINSERT INTO "t" VALUES(y\');\n'
        "INSERT INTO \"t\" VALUES(2,'p'),(3,'q');\n"
        + "".join(f"INSERT INTO \"t\" VALUES({i},'r),(s');\n" for i in range(4, 40))
    ),
}


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
@pytest.mark.parametrize("case", sorted(VALID_DUMPS))
def test_valid_dumps_load_exactly(tmp_path, monkeypatch, chunk, case):
    """Row counts alone prove nothing: the loaded values equal those of the sqlite3 shell
    reading the same dump (SQLite itself, when the shell is not installed)."""
    monkeypatch.setattr(dumploader, "_CHUNK_BYTES", chunk)
    text = "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT);\n"
    text += VALID_DUMPS[case]
    dump = tmp_path / "d.sql"
    dump.write_text(text, encoding="utf-8")
    shell = shutil.which("sqlite3")
    if shell:
        built = tmp_path / "shell.sqlite"
        subprocess.run([shell, str(built)], input=text, text=True, check=True)
        reference = apsw.Connection(str(built))
    else:
        reference = apsw.Connection(":memory:")
        reference.execute(text)
    snapshot = load_dump(dump, tmp_path / "w")
    got = apsw.Connection(str(snapshot.path)).execute("SELECT id, s FROM t ORDER BY id").fetchall()
    assert got == reference.execute("SELECT id, s FROM t ORDER BY id").fetchall()


def test_fts5_tables_and_generated_columns_are_kept_or_reported(tmp_path):
    """D1 supports both: generated columns reach DuckDB with their values; an FTS5 table stays
    in the working copy, counted, and the snapshot says so (never dropped silently)."""
    dump = tmp_path / "fts.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\n"
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, words INTEGER GENERATED ALWAYS "
        "AS (length(body)) VIRTUAL, up TEXT GENERATED ALWAYS AS (upper(body)) STORED);\n"
        'INSERT INTO "docs" ("id","body") VALUES(1,\'hello world\');\n'
        'INSERT INTO "docs" ("id","body") VALUES(2,\'second\');\n'
        "CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id');\n"
        "INSERT INTO docs_fts(rowid, body) SELECT id, body FROM docs;\n",
        encoding="utf-8",
    )
    snapshot = load_dump(dump, tmp_path / "w")
    con = snapshot.duckdb()
    assert con.execute("SELECT * FROM docs ORDER BY id").fetchall() == [
        (1, "hello world", 11, "HELLO WORLD"),
        (2, "second", 6, "SECOND"),
    ]
    assert any("docs_fts (USING fts5, 2 rows)" in note for note in snapshot.notes)


def test_a_loadable_copy_keeps_the_virtual_tables_wrangler_refuses():
    """Exact metering loads the replay's database into Miniflare from statements: its FTS5
    and R*Tree tables come back with their rows and index, their shadow tables (which D1 does
    not let SQL write) left to them (found on a stranger's project: any replay whose database
    held an FTS5 table failed with wrangler's export error)."""
    conn = apsw.Connection(":memory:")
    conn.execute(
        'CREATE VIRTUAL TABLE "it\'s fts" USING fts5(title, body);'
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
        "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');"
        "CREATE VIRTUAL TABLE box USING rtree(id, x0, x1);"
        "INSERT INTO notes VALUES (3, 'red fox'), (9, 'blue fox'), (12, 'red hen');"
        "INSERT INTO notes_fts(notes_fts) VALUES ('rebuild');"
        "INSERT INTO \"it's fts\"(rowid, title, body) VALUES (40, 'a', 'red sky'), (41, NULL, 'x');"
        "INSERT INTO box VALUES (1, 0.5, 2.5), (7, -1, 1);"
        "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN "
        "INSERT INTO notes_fts(rowid, body) VALUES (new.id, new.body); END;"
    )
    with pytest.raises(ValueError, match="Virtual Tables"):
        list(dump_statements(conn))
    copy = apsw.Connection(":memory:")
    for statement in dump_statements(conn, loadable=True):
        copy.execute(statement)
    queries = (
        "SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'red' ORDER BY rowid",
        "SELECT rowid, * FROM \"it's fts\" WHERE \"it's fts\" MATCH 'red OR x' ORDER BY rowid",
        "SELECT * FROM box ORDER BY id",
        "SELECT name FROM sqlite_schema ORDER BY name",
    )
    for query in queries:
        assert copy.execute(query).fetchall() == conn.execute(query).fetchall(), query
    assert copy.execute("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'red'").fetchall()
    contentless = apsw.Connection(":memory:")
    contentless.execute("CREATE VIRTUAL TABLE bare USING fts5(w, content='')")
    with pytest.raises(ValueError, match="contentless FTS5 table bare"):
        list(dump_statements(contentless, loadable=True))


SQLITE3_DUMP = Path(__file__).parent / "fixtures" / "sqlite3_dump_fts5.sql"
"""`sqlite3 db .dump` of a database with an FTS5 table (written by the sqlite3 shell 3.40; the
form of `wrangler d1 export --compatibility sqlite3_cli_only`): writable_schema declares the
virtual table, its shadow tables are filled row by row, all inside BEGIN/COMMIT."""


def test_sqlite3_cli_dump_loads_exactly(tmp_path):
    snapshot = load_dump(SQLITE3_DUMP, tmp_path / "work")
    assert snapshot.row_counts == {"d1_migrations": 1, "words": 2}
    assert any("sqlite3 .dump" in n for n in snapshot.notes)
    assert any("virtual table wf (USING fts5, 2 rows)" in n for n in snapshot.notes)
    # the same database built directly: every shadow table and the index answer alike
    direct = apsw.Connection(str(tmp_path / "direct.sqlite"))
    direct.execute(
        "CREATE TABLE words(id INTEGER PRIMARY KEY, w TEXT);"
        "INSERT INTO words VALUES (1, 'it''s'), (2, 'two\\nlines');"
        "CREATE VIRTUAL TABLE wf USING fts5(w, content='words', content_rowid='id');"
        "INSERT INTO wf(wf) VALUES('rebuild');"
    )
    loaded = apsw.Connection(str(snapshot.path))
    loaded.execute("INSERT INTO wf(wf) VALUES('integrity-check')")
    for table in ("wf_data", "wf_idx", "wf_docsize", "wf_config", "words"):
        query = f"SELECT * FROM {table} ORDER BY 1"
        assert loaded.execute(query).fetchall() == direct.execute(query).fetchall(), table
    match = "SELECT rowid FROM wf WHERE wf MATCH 'two'"
    assert loaded.execute(match).fetchall() == direct.execute(match).fetchall() == [(2,)]


def test_a_dump_writing_sqlite_schema_otherwise_is_refused(tmp_path):
    dump = tmp_path / "evil.sql"
    dump.write_text(
        "PRAGMA writable_schema=ON;\nINSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)"
        "VALUES('table','t','t',0,'CREATE TABLE t (a)');\nPRAGMA writable_schema=OFF;\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"evil\.sql:2: .*only sqlite3 \.dump's virtual-table"):
        load_dump(dump, tmp_path / "work")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("BEGIN TRANSACTION;\nCREATE TABLE t(a);\nCOMMIT;\nCOMMIT;\n", 4),
        ("CREATE TABLE t(a);\nINSERT INTO t VALUES (1);\nROLLBACK;\n", 3),
        ("BEGIN TRANSACTION;\nBEGIN TRANSACTION;\nCREATE TABLE t(a);\n", 2),
    ],
)
def test_transaction_lines_beyond_one_pair_are_refused(tmp_path, text, line):
    """A dump may not end or undo the loader's own transaction: past the one BEGIN/COMMIT pair
    wrangler strips, any transaction line is refused with its line."""
    dump = tmp_path / "tx.sql"
    dump.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"tx\.sql:{line}: .*beyond the one BEGIN/COMMIT pair"):
        load_dump(dump, tmp_path / "work")


def test_a_state_folder_of_two_databases_says_which_file_is_which_binding(make_tree, tmp_path):
    """The files of `.wrangler/state` are named by a hash of each database's id: asked to
    load the folder, d1nb names each file's binding from the config beside it."""
    import apsw

    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.inputs.snapshots import load_snapshot
    from d1nb.problems import InputError

    root = make_tree(
        {
            "wrangler.toml": 'name = "w"\n[[d1_databases]]\nbinding = "MAIN"\n'
            'database_id = "m-1"\nmigrations_dir = "a"\n[[d1_databases]]\nbinding = "LOGS"\n'
            'database_id = "l-1"\npreview_database_id = "l-preview"\nmigrations_dir = "b"\n',
        }
    )
    state = root / ".wrangler" / "state"
    for local_id in ("m-1", "l-preview"):
        file = local_state_file(state, local_id)
        file.parent.mkdir(parents=True, exist_ok=True)
        apsw.Connection(str(file)).execute("CREATE TABLE t (x)")
    with pytest.raises(InputError) as caught:
        load_snapshot(state, tmp_path / "w")
    message = caught.value.problem.message
    assert f"{local_state_file(state, 'm-1').name} is MAIN" in message
    assert f"{local_state_file(state, 'l-preview').name} is LOGS" in message


def test_a_template_configs_state_folder_says_which_file_is_which_environment(make_tree, tmp_path):
    """A project that commits only a template config still gets local copies (`wrangler -c
    wrangler.example.jsonc … --local [--env preview]`, placeholder ids and all): the folder's
    files are named from the template when no real config stands beside it (found on a
    stranger's project: the message named no file)."""
    import apsw

    from d1nb.formats.wrangler_output import local_state_file
    from d1nb.inputs.snapshots import load_snapshot
    from d1nb.problems import InputError

    root = make_tree(
        {
            "wrangler.example.jsonc": '// copy me\n{"d1_databases": [{"binding": "NOTES", '
            '"database_id": "<YOUR_DATABASE_ID>", "migrations_dir": "m"}],\n'
            '"env": {"preview": {"d1_databases": [{"binding": "NOTES", '
            '"database_id": "<PREVIEW_DATABASE_ID>", "migrations_dir": "m"},],},},}\n',
        }
    )
    state = root / ".wrangler" / "state"
    for local_id in ("<YOUR_DATABASE_ID>", "<PREVIEW_DATABASE_ID>"):
        file = local_state_file(state, local_id)
        file.parent.mkdir(parents=True, exist_ok=True)
        apsw.Connection(str(file)).execute("CREATE TABLE t (x)")
    with pytest.raises(InputError) as caught:
        load_snapshot(state, tmp_path / "w")
    message = caught.value.problem.message
    top = local_state_file(state, "<YOUR_DATABASE_ID>").name
    assert f"{top} is NOTES;" in message or f"{top} is NOTES)" in message
    preview = local_state_file(state, "<PREVIEW_DATABASE_ID>").name
    assert f"{preview} is NOTES (--env preview)" in message


def test_blobs_local_json_output_printed_as_text_are_read_back(tmp_path):
    """Stranger's project #19: local `wrangler d1 execute --json` (4.164's executeLocally)
    prints a BLOB as the text `[137, 80, 78]`, so receipts loaded as TEXT without a word. A
    column the schema declares BLOB reads them back as bytes; elsewhere a note says the text
    may be a BLOB."""
    from d1nb.formats.migrations import load_migration_dir
    from d1nb.formats.wrangler_output import printed_blob
    from d1nb.inputs.snapshots import load_json

    assert printed_blob("[0, 255, 0]") == b"\x00\xff\x00"
    assert printed_blob("[]") == b""
    for text in ("[256]", "[1,2]", "[1, 2] ", "x[1]", "[-1]", None, 7):
        assert printed_blob(text) is None
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001.sql").write_text(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, receipt BLOB, raw, tags TEXT);\n"
    )
    out = tmp_path / "r.json"
    out.write_text(
        '[{"results": ['
        '{"id": 1, "receipt": "[137, 80]", "raw": "[1, 2]", "tags": "[1, 2]"},'
        '{"id": 2, "receipt": "[]", "raw": "[]", "tags": "[]"},'
        '{"id": 3, "receipt": null, "raw": "text", "tags": "[\\"a\\"]"}'
        '], "success": true, "meta": {}}]'
    )
    typed = load_json(out, tmp_path / "w", "r", schema=load_migration_dir(folder))
    with typed.connect() as engine:
        assert engine.conn.execute("SELECT receipt, raw, tags FROM r ORDER BY id").fetchall() == [
            (b"\x89P", b"\x01\x02", "[1, 2]"),
            (b"", b"", "[]"),
            (None, "text", '["a"]'),
        ]
    assert [n.split(",")[0] for n in typed.notes] == [
        "2 value(s) of r.receipt",
        "2 value(s) of r.raw",
        "2 value(s) of r.tags",
    ]
    assert "read as BLOBs" in typed.notes[0] and "kept as text" in typed.notes[2]
    untyped = load_json(out, tmp_path / "u", "r")
    with untyped.connect() as engine:
        assert engine.conn.execute("SELECT typeof(receipt) FROM r WHERE id = 1").fetchall() == [
            ("text",)
        ]
    assert all("give the migrations with --schema" in n for n in untyped.notes)


def test_a_column_declared_without_a_type_disagrees_with_nothing(tmp_path):
    """Stranger's project #26: a CSV loaded without a schema listed every column under
    "Columns whose values disagree with their declared type" ("declared (none) but every
    value is text"). A column without a type takes any one storage class; one declared BLOB
    that holds only text is still named."""
    from d1nb.inputs.snapshots import load_snapshot

    csv = tmp_path / "t.csv"
    csv.write_text('id,name\n1,"multi\nline"\n2,=cmd|calc\n', encoding="utf-8")
    snapshot = load_snapshot(csv, tmp_path / "w1")
    snapshot.duckdb()
    assert snapshot.types_frame().empty
    dump = tmp_path / "u.sql"
    dump.write_text(
        "CREATE TABLE u (a, b BLOB);\nINSERT INTO u VALUES (1, 'x');\n"
        "INSERT INTO u VALUES (2, 'y');\n",
        encoding="utf-8",
    )
    snapshot = load_snapshot(dump, tmp_path / "w2")
    snapshot.duckdb()
    notes = snapshot.types_frame()
    assert notes[["column", "note"]].values.tolist() == [
        ["b", "declared BLOB but every value is text"]
    ]


def test_a_csv_keeps_empty_strings_apart_from_nulls(tmp_path):
    """Stranger's project #28: `sqlite3 -csv` wrote 208 empty display names as `""` and 217
    NULLs as nothing; both were loaded as NULL (the counts held, the values did not). A quoted
    empty field is the empty string now, an unquoted one NULL, as the shell, DuckDB and
    PostgreSQL write them; checked against the shell's own database."""
    db = tmp_path / "src.sqlite"
    with apsw.Connection(str(db)) as conn:
        conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, note TEXT);"
            "INSERT INTO t VALUES (1, '', NULL), (2, NULL, 'a\nb'), (3, 'x \"q\" ,y', ''),"
            "(4, ' ', 'é')"
        )
    shell = shutil.which("sqlite3")
    if shell:
        text = subprocess.run(
            [shell, "-csv", "-header", str(db), "SELECT * FROM t"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    else:  # what the shell writes
        text = 'id,name,note\n1,"",\n2,,"a\nb"\n3,"x ""q"" ,y",""\n4," ",é\n'
    exported = tmp_path / "t.csv"
    exported.write_text(text, encoding="utf-8", newline="")
    snapshot = load_snapshot(exported, tmp_path / "w")
    query = "SELECT id, quote(name), quote(note) FROM t ORDER BY id"
    got = apsw.Connection(str(snapshot.path)).execute(query).fetchall()
    want = apsw.Connection(str(db)).execute(query).fetchall()
    assert [(int(i), n, v) for i, n, v in got] == want


def test_a_row_the_schema_refuses_is_named_by_its_line(tmp_path):
    """Stranger's project #33: a CSV of members loaded with the migrations' schema (Joined
    made NOT NULL) stopped at "table Members: NOT NULL constraint failed" with no line among
    1,482. The refused row is named: its first line in a CSV (a quoted value may span
    lines), its place in `--json` results and in a Parquet file."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_m.sql").write_text(
        "CREATE TABLE Members (Id INTEGER PRIMARY KEY, Name TEXT, Joined TEXT NOT NULL);"
    )
    schema = load_migration_dir(migrations)
    members = tmp_path / "Members.csv"
    members.write_text('Id,Name,Joined\n1,"Ann\nLee",2024\n2,"O\'Brien",\n3,x,2025\n')
    with pytest.raises(InputError) as caught:
        load_snapshot(members, tmp_path / "w1", schema=schema)
    assert caught.value.problem.line == 4
    assert "row 2: NOT NULL constraint failed: Members.Joined" in str(caught.value)

    results = [{"Id": 1, "Joined": "2024"}, {"Id": 1, "Joined": "2025"}]
    out = tmp_path / "members.json"
    out.write_text(json.dumps([{"results": results, "success": True}]), encoding="utf-8")
    with pytest.raises(InputError, match="result row 2: UNIQUE constraint failed"):
        load_snapshot(out, tmp_path / "w2", table="Members", schema=schema)

    pq.write_table(pa.table({"Id": [1, 2, 3], "Joined": ["a", "b", None]}), tmp_path / "m.pq")
    with pytest.raises(InputError, match="row 3: NOT NULL"):
        load_snapshot(tmp_path / "m.pq", tmp_path / "w3", table="Members", schema=schema)


def test_the_output_of_several_queries_is_not_merged_into_one_table(tmp_path):
    """Stranger's project #35: `wrangler d1 execute --command "SELECT * FROM t; SELECT name
    FROM d1_migrations" --json` loaded as table t of 5 rows with columns id and name (3 rows
    of t, 2 of the ledger, counts "verified"). Results with other columns are refused with
    both statements named; pages of one query (the same columns) still load as one table."""
    first = {"results": [{"id": 1}, {"id": 2}, {"id": 3}], "success": True}
    ledger = {"results": [{"name": "0001_a.sql"}, {"name": "0002_b.sql"}], "success": True}
    mixed = tmp_path / "two.json"
    mixed.write_text(json.dumps([first, ledger]), encoding="utf-8")
    with pytest.raises(InputError, match=r"statement 1 \(id\) and of statement 2 \(name\)"):
        load_snapshot(mixed, tmp_path / "w1", table="t")
    pages = tmp_path / "pages.json"
    empty = {"results": [], "success": True}
    pages.write_text(json.dumps([first, empty, {"results": [{"id": 4}]}]), encoding="utf-8")
    assert load_snapshot(pages, tmp_path / "w2", table="t").row_counts == {"t": 4}


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("id,id\n1,2\n", 1, "column 2 of the header, 'id', repeats column 1"),
        ("id,ID\n1,2\n", 1, "repeats column 1"),
        ("id,\n1,2\n", 1, "column 2 of the header has no name"),
        ("id,v\n1,a\n\n2,b\n", 3, "0 fields, header has 2"),
    ],
)
def test_a_csv_header_names_each_column_once_and_blank_lines_only_end_it(
    tmp_path, text, line, says
):
    """Stranger's project #35: a header naming a column twice, or one without a name, ended
    in "internal error, a bug in d1nb" (SQLite's duplicate column, DuckDB's zero-length
    name); a CSV ending in a blank line (as spreadsheets save it) was refused."""
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(InputError) as caught:
        load_snapshot(bad, tmp_path / "w")
    assert caught.value.problem.line == line and says in caught.value.problem.message


def test_blank_lines_end_a_csv_or_are_the_nulls_of_a_one_column_one(tmp_path):
    """A blank line is nothing at the end of a CSV of several columns; in a CSV of one
    column it is a NULL, as the sqlite3 shell writes one (checked against the shell)."""
    two = tmp_path / "two.csv"
    two.write_bytes(b'\xef\xbb\xbfid,v\r\n1,a\r\n2,"b\r\nc"\r\n\r\n')
    snapshot = load_snapshot(two, tmp_path / "w1")
    rows = apsw.Connection(str(snapshot.path)).execute("SELECT * FROM two").fetchall()
    assert rows == [("1", "a"), ("2", "b\r\nc")]
    db = tmp_path / "one.sqlite"
    with apsw.Connection(str(db)) as conn:
        conn.execute(
            "CREATE TABLE one (v TEXT); INSERT INTO one VALUES ('a'), (NULL), ('b'), (NULL)"
        )
    shell = shutil.which("sqlite3")
    text = (
        subprocess.run(
            [shell, "-csv", "-header", str(db), "SELECT * FROM one"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if shell
        else "v\na\n\nb\n\n"  # what the shell writes
    )
    one = tmp_path / "one.csv"
    one.write_text(text, encoding="utf-8", newline="")
    snapshot = load_snapshot(one, tmp_path / "w2")
    rows = apsw.Connection(str(snapshot.path)).execute("SELECT v FROM one").fetchall()
    assert rows == [("a",), (None,), ("b",), (None,)]


def test_a_column_named_empty_is_refused_by_name_not_as_a_bug(tmp_path):
    """Hostile set #35: `CREATE TABLE t ("" TEXT, " " TEXT, …)` is SQLite (and D1); DuckDB
    refuses a column named "". `d1nb load` and `diff` ended in "internal error, a bug in
    d1nb" (DuckDB's parser error); they name the table and column now."""
    dump = tmp_path / "empty_name.sql"
    dump.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\n"
        'CREATE TABLE t ("" TEXT, " " TEXT, id INTEGER PRIMARY KEY);\n'
        'INSERT INTO "t" (""," ","id") VALUES(\'a\',\'b\',1);\n',
        encoding="utf-8",
    )
    snapshot = load_snapshot(dump, tmp_path / "w")
    assert snapshot.row_counts == {"t": 1}
    with pytest.raises(InputError, match='table t: column 1 is named ""'):
        snapshot.duckdb()


def test_a_parquet_column_d1_cannot_store_is_refused_by_name(tmp_path):
    """Hostile set #35: Parquet with a timestamp, date, decimal or list column, or a uint64
    past 2^63 - 1, ended in "internal error, a bug in d1nb" (APSW's bad binding). D1 stores
    none of them as such: the column (and the value, for the integer) is named instead of
    guessed; booleans (0/1) and float16 still load."""
    import datetime
    import decimal

    cases = {
        "ts": pa.array([datetime.datetime(2024, 1, 1)], pa.timestamp("ms")),
        "day": pa.array([datetime.date(2024, 1, 1)], pa.date32()),
        "price": pa.array([decimal.Decimal("1.50")], pa.decimal128(10, 2)),
        "tags": pa.array([[1, 2]]),
    }
    for name, values in cases.items():
        pq.write_table(pa.table({"id": [1], name: values}), tmp_path / f"{name}.parquet")
        with pytest.raises(InputError, match=f"column {name} is Parquet"):
            load_snapshot(tmp_path / f"{name}.parquet", tmp_path / f"w_{name}")
    pq.write_table(pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())}), tmp_path / "u.pq")
    with pytest.raises(InputError, match=r"column id, row 2: 18446744073709551615 is past"):
        load_snapshot(tmp_path / "u.pq", tmp_path / "w_u")
    flags = pa.table({"id": [1, 2], "ok": [True, None], "f": pa.array([1.5, 2.25], pa.float16())})
    pq.write_table(flags, tmp_path / "flags.parquet")
    snapshot = load_snapshot(tmp_path / "flags.parquet", tmp_path / "w_flags")
    rows = apsw.Connection(str(snapshot.path)).execute("SELECT * FROM flags").fetchall()
    assert rows == [(1, 1, 1.5), (2, None, 2.25)]
