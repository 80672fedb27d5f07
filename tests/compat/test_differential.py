"""Statements D1 runs or refuses, run through Miniflare (workerd's D1) and the replay engine:
each must succeed in both or fail in both. Every statement names its own objects, so the
batches, which share one database in Miniflare, cannot disturb one another."""

from __future__ import annotations

from d1nb.engine.d1engine import D1Engine
from d1nb.engine.miniflare import run_batches

SETUP = [
    "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v INT CHECK (v >= 0))",
    "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE)",
    "INSERT INTO p VALUES (1, 'a', 1), (2, 'b', 2)",
    "INSERT INTO c VALUES (1, 1), (2, 2)",
]

STATEMENTS = [
    # refused by workerd
    "CREATE TABLE _cf_t1 (a)",
    'CREATE TABLE "_CF_t2" (a)',
    "CREATE TABLE t3 (a); ALTER TABLE t3 RENAME TO _cf_t3",
    "CREATE TEMP TABLE t4 (a)",
    "CREATE VIRTUAL TABLE t5 USING fts4(a)",
    "CREATE VIRTUAL TABLE t6 USING fts3(a)",
    "SELECT sqlite_version()",
    "SELECT sqlite_source_id()",
    "SELECT sqlite_compileoption_used('ENABLE_FTS5')",
    "SELECT median(1)",
    "SELECT count(*) FROM dbstat",
    "SELECT * FROM carray(1)",
    "SELECT load_extension('x')",
    "VACUUM",
    "PRAGMA writable_schema=1",
    "PRAGMA user_version = 3",
    "PRAGMA user_version",
    "PRAGMA application_id = 5",
    "PRAGMA integrity_check",
    "PRAGMA schema_version",
    "PRAGMA page_count",
    "ANALYZE; SELECT count(*) FROM sqlite_stat4",  # D1's SQLite is built without STAT4
    "INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(a)')",
    "CREATE TABLE sqlite_t7 (a)",
    " UNION ALL ".join(["SELECT 1"] * 6),
    "SELECT 1 WHERE 'a' LIKE '" + "a" * 51 + "'",
    "SELECT " + "+".join(["1"] * 101),
    "SELECT max(" + ",".join(["1"] * 128) + ")",
    "CREATE TABLE t8 (" + ", ".join(f"c{i} INT" for i in range(101)) + ")",
    # refused by SQLite itself, the same way
    "INSERT INTO c VALUES (3, 99)",
    "UPDATE p SET v = -1",
    "INSERT INTO p VALUES (3, 'a', 0)",
    "ALTER TABLE c DROP COLUMN pid",
    "ALTER TABLE p DROP COLUMN name",
    # run by both
    "CREATE TABLE t9 (a INT, b INT AS (a * 2))",
    "CREATE VIRTUAL TABLE t10 USING fts5(a)",
    "CREATE VIRTUAL TABLE t11 USING rtree(id, x0, x1)",
    "CREATE TABLE t12 (a TEXT COLLATE NOCASE) STRICT",
    "CREATE TABLE t13 (a INT PRIMARY KEY, b TEXT) WITHOUT ROWID",
    "CREATE TABLE _cf (a)",
    "CREATE TABLE t14 (_cf_col INTEGER)",
    " UNION ALL ".join(["SELECT 1"] * 5),
    "SELECT 1 WHERE 'a' LIKE '" + "a" * 50 + "'",
    "SELECT " + "+".join(["1"] * 100),
    "SELECT max(" + ",".join(["1"] * 127) + ")",
    "SELECT json_extract('{\"a\": 1}', '$.a'), '{\"a\": 1}' ->> 'a', unixepoch()",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
    "SELECT count(*) FROM n",
    "PRAGMA foreign_key_check",
    "PRAGMA table_info(p)",
    "PRAGMA defer_foreign_keys=ON",
    "PRAGMA legacy_alter_table = ON",
    "PRAGMA recursive_triggers = 1",
    "PRAGMA optimize",
    "PRAGMA quick_check",
    "PRAGMA page_size",
    "PRAGMA data_version",
    "SELECT randomblob(4), zeroblob(2), iif(1, 2, 3), concat_ws(',', 1, 2), unhex('41')",
]


def test_the_engine_refuses_what_d1_refuses_and_runs_what_it_runs(tmp_path):
    """D1's verdict on each statement (Miniflare) equals the replay engine's. Found by a run
    like this one: objects named `_cf_…`, temporary tables, FTS3/4, `sqlite_version()` and
    workerd's low limits (5 compound terms, 50-byte LIKE patterns …) were run by d1nb."""
    d1 = run_batches([SETUP], [[s] for s in STATEMENTS])
    differ = []
    for i, (sql, (outcome,)) in enumerate(zip(STATEMENTS, d1, strict=True)):
        with D1Engine(tmp_path / f"{i}.sqlite") as engine:
            assert engine.apply_migration("setup.sql", ";\n".join(SETUP) + ";\n").ok
            ours = engine.apply_migration("t.sql", sql + ";\n")
        if (outcome["error"] is None) != ours.ok:
            differ.append((sql[:60], outcome["error"], ours.error))
    assert not differ, differ


_MODULE_ARGUMENTS = {"rtree": "id, x0, x1", "rtree_i32": "id, x0, x1", "fts5vocab": "t10, row"}


def test_every_function_and_module_is_refused_as_d1_refuses_it(tmp_path):
    """Every SQL function and virtual-table module d1nb's SQLite offers, called once (with
    1s for arguments) in Miniflare and in the engine: refused in both or in neither. Found
    by stranger's project #17's probe: `power()`, `ceiling()`, `log10()`, `json_pretty()`,
    `unistr()`, geopoly and CREATE VIRTUAL TABLE … USING dbstat ran in d1nb and fail in D1
    (whose allow-list goes by name: `pow`, `ceil`, `log` run)."""
    import apsw

    conn = apsw.Connection(":memory:")
    functions = sorted(set(conn.execute("SELECT name, narg FROM pragma_function_list")))
    modules = sorted({m for (m,) in conn.execute("SELECT name FROM pragma_module_list")})
    conn.close()
    probes = [
        f"SELECT {name}({', '.join(['1'] * (narg if narg >= 0 else 1))})"
        for name, narg in functions
    ] + [
        f"CREATE VIRTUAL TABLE probe_{i} USING {m}({_MODULE_ARGUMENTS.get(m, 'x')})"
        for i, m in enumerate(modules)
        if not m.startswith("pragma_")
    ]
    setup = [*SETUP, "CREATE VIRTUAL TABLE t10 USING fts5(a)"]
    d1 = run_batches([setup], [[p] for p in probes])
    differ = []
    with D1Engine(tmp_path / "probes.sqlite") as engine:
        assert engine.apply_migration("setup.sql", ";\n".join(setup) + ";\n").ok
        for sql, (outcome,) in zip(probes, d1, strict=True):
            ours = engine.apply_migration("probe.sql", sql + ";\n", record=False)
            refused_here = not ours.ok and _refusal(ours.error or "")
            refused_there = outcome["error"] is not None and _refusal(outcome["error"])
            if refused_here != refused_there:
                differ.append((sql, outcome["error"], ours.error))
    assert not differ, differ
    assert len(probes) > 150  # the probe saw APSW's whole list


def _refusal(message: str) -> bool:
    return any(m in message for m in ("not authorized", "no such function", "no such module"))
