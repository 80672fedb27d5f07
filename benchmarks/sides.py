"""One side of a benchmark, run in a fresh process by benchmarks/run.py.

`python benchmarks/sides.py NAME ARG…` does the work and prints `ELAPSED <seconds>` for the
work alone (without the interpreter's start and imports, which the peers do not pay). The
sides of #18's benchmarks print nothing: they are timed whole, process start to exit, as a
user meets them (`d1nb load`, `d1nb diff`, the sqlite3 shell, a datacompy script).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BACKFILL = REPO / "data/sample/services/scores/migrations/0013_backfill_normalized_id.sql"


def d1nb_lint(root: str, statements: str) -> None:
    """status and lint of a project: split, classify, replay from empty, lint; the statement
    count checked against what was generated."""
    import d1nb

    start = time.perf_counter()
    history = d1nb.load_history(root, use_git=False)
    d1nb.lint(history)
    elapsed = time.perf_counter() - start
    found = sum(len(f.statements) for m in history.migration_dirs.values() for f in m.files)
    assert found == int(statements), (found, statements)
    print("ELAPSED", elapsed)


def sqlglot_parse(root: str, _n_files: str) -> None:
    import sqlglot

    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)  # it warns on every trigger body
    start = time.perf_counter()
    for path in sorted(Path(root).glob("*/migrations/*.sql")):
        sqlglot.parse(path.read_text(encoding="utf-8"), read="sqlite")
    print("ELAPSED", time.perf_counter() - start)


def _cli_json(*argv: str) -> dict:
    """Run the d1nb command in this process as a user would, its JSON output parsed."""
    import contextlib
    import io
    import json

    from d1nb.presentation.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--format", "json"])
    if code not in (0, 1):
        raise SystemExit(f"d1nb {argv[0]} exited {code}: {out.getvalue()[-2000:]}")
    return json.loads(out.getvalue())


def d1nb_load(dump: str, work: str, rows: str) -> None:
    """`d1nb load dump.sql`, whole: start, load (counts verified), DuckDB snapshot, exit."""
    result = _cli_json("load", dump, "--quiet")
    tables = {t["table"]: t["rows"] for t in result["tables"]}
    assert tables["events"] == int(rows), tables


def d1nb_replay(db: str, work: str, rows: str) -> None:
    from d1nb.analyses.replay import replay
    from d1nb.formats.migrations import load_migration_dir
    from d1nb.inputs.workingcopy import Snapshot

    mdir = load_migration_dir(BACKFILL.parent)
    snapshot = Snapshot(Path(db), Path(db), {})
    start = time.perf_counter()
    result = replay(snapshot, mdir, [BACKFILL.name], workdir=work)
    elapsed = time.perf_counter() - start
    assert result.ok and result.statements["changes"].iloc[0] == int(rows)
    print("ELAPSED", elapsed)


def apsw_replay(db: str, work: str, rows: str) -> None:
    import apsw

    sql = BACKFILL.read_text(encoding="utf-8")
    start = time.perf_counter()
    copy = Path(work) / "bare.sqlite"
    shutil.copyfile(db, copy)
    conn = apsw.Connection(str(copy))
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN")
    conn.execute(sql)
    changes = conn.changes()
    conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (BACKFILL.name,))
    conn.execute("COMMIT")
    conn.close()
    print("ELAPSED", time.perf_counter() - start)
    assert changes == int(rows)


def d1nb_diff(before: str, after: str, rows: str) -> None:
    """Both Parquet files into DuckDB, then the whole diff: summary, columns, samples."""
    from d1nb.analyses.diff import compare_duckdb
    from d1nb.inputs.duckcopy import connect_duckdb

    start = time.perf_counter()
    con = connect_duckdb()
    for side, path in (("before", before), ("after", after)):
        con.execute(f"CREATE SCHEMA {side}")
        con.execute(f"CREATE VIEW {side}.scores AS SELECT * FROM read_parquet('{path}')")
    diff = compare_duckdb(con, keys={"scores": ["id"]}, tolerance={"score": 1e-9})
    summary, columns, samples = diff.summary(), diff.column_summary(), diff.samples()
    elapsed = time.perf_counter() - start
    _check_diff_counts(int(rows), *summary.loc[0, ["added", "removed", "changed"]])
    assert columns.set_index("column").loc["composer", "changed"] == _changed(int(rows))
    assert not samples.empty
    print("ELAPSED", elapsed)


def datacompy_diff(before: str, after: str, rows: str) -> None:
    """The same comparison with datacompy's PandasCompare and its full report."""
    import datacompy
    import pandas as pd

    start = time.perf_counter()
    df1, df2 = pd.read_parquet(before), pd.read_parquet(after)
    compare = datacompy.PandasCompare(df1, df2, join_columns="id", abs_tol=1e-9)
    compare.report()
    elapsed = time.perf_counter() - start
    _check_diff_counts(
        int(rows),
        len(compare.df2_unq_rows),
        len(compare.df1_unq_rows),
        len(compare.all_mismatch()),
    )
    print("ELAPSED", elapsed)


def duckdb_floor(before: str, after: str, _rows: str) -> None:
    """A lower bound for any DuckDB diff of the two files, with no comparison and no report:
    read every value of both sides (string lengths and numeric sums, which hash nothing), and
    match their keys (a full outer join of the ids). Printed as the time of each part too."""
    import duckdb

    con = duckdb.connect()
    each = (
        "sum(strlen(user_id) + strlen(title) + strlen(composer) + strlen(created_at) "
        "+ strlen(visibility)), sum(id), sum(difficulty), sum(score)"
    )
    parts = {}
    start = time.perf_counter()
    for name, path in (("read_before", before), ("read_after", after)):
        t0 = time.perf_counter()
        con.execute(f"SELECT {each} FROM read_parquet('{path}')").fetchall()
        parts[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute(
        f"SELECT count(*) FROM read_parquet('{before}') x "
        f"FULL OUTER JOIN read_parquet('{after}') y ON x.id = y.id"
    ).fetchall()
    parts["join_keys"] = time.perf_counter() - t0
    print("ELAPSED", time.perf_counter() - start)
    print("PARTS", " ".join(f"{k}={v:.2f}" for k, v in parts.items()))


def _changed(rows: int) -> int:
    """Rows of write_diff_pair's before whose id ends in 07 and that were not removed."""
    return sum(1 for i in range(7, rows + 1, 100) if i % 1000 != 3)


def _check_diff_counts(rows: int, added: int, removed: int, changed: int) -> None:
    expected = (rows // 1000, sum(1 for i in range(3, rows + 1, 1000)), _changed(rows))
    assert (added, removed, changed) == expected, ((added, removed, changed), expected)


def run_batches(db: str, work: str, size: str) -> None:
    """Run the backfill in LIMIT batches of `size` rows on a fresh copy; print each batch's ms."""
    import json

    import apsw

    from d1nb.analyses.batch_sql import batch_sql
    from d1nb.formats.migrations import parse_statements

    statement = parse_statements(BACKFILL.read_text(encoding="utf-8"))[0]
    sql = batch_sql(statement, int(size), "limit")
    copy = Path(work) / "batched.sqlite"
    shutil.copyfile(db, copy)
    conn = apsw.Connection(str(copy))
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        conn.execute(sql)
        changed = conn.changes()
        times.append((time.perf_counter() - t0) * 1000)
        if changed < int(size):
            break
    print("ELAPSED", time.perf_counter() - start)
    print("BATCHES", json.dumps(times))
    conn.close()


def duckdb_dump_floor(*dumps: str) -> None:
    """A lower bound for reading a dump at all: DuckDB counting its lines (one parallel read
    of the text, nothing parsed)."""
    import duckdb

    con = duckdb.connect()
    start = time.perf_counter()
    for dump in dumps:
        con.execute(
            "SELECT count(*) FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\x01', "
            "quote = '', escape = '', header = false, auto_detect = false, new_line = '\\n', "
            "strict_mode = false)",
            [dump],
        ).fetchall()
    print("ELAPSED", time.perf_counter() - start)


def d1nb_diff_memory_floor() -> None:
    """A lower bound for `d1nb diff`'s peak memory: the modules it imports and an empty
    DuckDB, no data read."""
    import importlib

    from d1nb.inputs.duckcopy import connect_duckdb

    for module in ("d1nb.analyses.checks", "d1nb.inputs.dumpduck", "d1nb.inputs.snapshots"):
        importlib.import_module(module)

    connect_duckdb().execute("SELECT 1").fetchall()


def d1nb_diff_dumps(before: str, after: str, rows: str) -> None:
    """`d1nb diff before.sql after.sql`, whole: both exports loaded (counts verified),
    compared (counts per table and column, samples), invariants checked, exit."""
    result = _cli_json("diff", before, after, "--key", "scores=id", "--tolerance", "score=1e-9")
    summary = {t["table"]: t for t in result["diff"]["summary"]}["scores"]
    _check_diff_counts(int(rows), summary["added"], summary["removed"], summary["changed"])
    columns = {c["column"]: c for c in result["diff"]["column_summary"]}
    assert columns["composer"]["changed"] == _changed(int(rows))
    assert result["diff"]["samples"]


def datacompy_diff_dumps(before: str, after: str, rows: str) -> None:
    """The same from the same exports the usual way: the sqlite3 shell loads each (one
    transaction), pandas reads the table, datacompy's PandasCompare compares, with its report."""
    import sqlite3
    import subprocess
    import tempfile

    import datacompy
    import pandas as pd

    frames = []
    with tempfile.TemporaryDirectory(prefix="d1nb-bench-") as work:
        for name, dump in (("before", before), ("after", after)):
            db = Path(work) / f"{name}.sqlite"
            subprocess.run(
                [
                    "sqlite3",
                    str(db),
                    "PRAGMA journal_mode=OFF;",
                    "BEGIN;",
                    f".read {dump}",
                    "COMMIT;",
                ],
                check=True,
                capture_output=True,
            )
            with sqlite3.connect(db) as conn:
                frames.append(pd.read_sql("SELECT * FROM scores", conn))
    compare = datacompy.PandasCompare(*frames, join_columns="id", abs_tol=1e-9)
    compare.report()
    _check_diff_counts(
        int(rows), len(compare.df2_unq_rows), len(compare.df1_unq_rows), len(compare.all_mismatch())
    )


SIDES = {
    f.__name__: f
    for f in (
        d1nb_lint,
        sqlglot_parse,
        d1nb_load,
        d1nb_replay,
        apsw_replay,
        run_batches,
        d1nb_diff,
        datacompy_diff,
        duckdb_floor,
        duckdb_dump_floor,
        d1nb_diff_memory_floor,
        d1nb_diff_dumps,
        datacompy_diff_dumps,
    )
}

if __name__ == "__main__":
    SIDES[sys.argv[1]](*sys.argv[2:])
