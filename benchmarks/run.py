"""`make bench`: d1nb's speed and memory measured side by side with a named peer, as ratios.

Each side runs in a fresh process on the same machine in the same run (benchmarks/sides.py);
the time is the work itself, the memory the process's peak resident size (from wait4). The
best of three runs is kept. Results are printed as a table and written to
benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results" / "latest.json"
SIDES = HERE / "sides.py"


@dataclass
class Side:
    seconds: float
    peak_mb: float


@dataclass
class Result:
    name: str
    what: str
    peer: str
    d1nb: Side
    other: Side
    target: str
    met: bool

    @property
    def time_ratio(self) -> float:
        """d1nb's time over the peer's: below 1 is faster."""
        return self.d1nb.seconds / self.other.seconds

    @property
    def memory_ratio(self) -> float:
        return self.d1nb.peak_mb / self.other.peak_mb if self.other.peak_mb else float("nan")


LAUNCH = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print('PEAK_MB', usage.ru_maxrss / 1024, flush=True)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
"""Runs a side from a fresh, small process and prints its peak RSS. Linux carries a process's
high-water mark across fork and exec, so a side started straight from this runner (grown
by generating inputs) would report the runner's peak, not its own."""


def measure(command: list[str], repeat: int = 3) -> Side:
    """Best time (as printed `ELAPSED <s>`, else wall time) and its peak RSS over `repeat` runs."""
    best: Side | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *command],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        out = proc.stdout.read()
        proc.wait()
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"benchmark side failed: {' '.join(command)}")
        lines = out.splitlines()
        reported = [float(x.split()[1]) for x in lines if x.startswith("ELAPSED ")]
        peak = [float(x.split()[1]) for x in lines if x.startswith("PEAK_MB ")][-1]
        side = Side(round(reported[-1] if reported else elapsed, 3), round(peak, 1))
        if best is None or side.seconds < best.seconds:
            best = side
    return best


def side(name: str, *args: object) -> list[str]:
    return [sys.executable, str(SIDES), name, *map(str, args)]


def bench_parse_lint(quick: bool) -> Result:
    from history_project import write_history_project

    n_files = 200 if quick else 1000
    root = WORK / f"history_{n_files}"
    if not (root / "svc" / "migrations").is_dir():
        write_history_project(root, n_files)
    ours = measure(side("d1nb_lint", root, n_files * 20))
    peer = measure(side("sqlglot_parse", root, n_files))
    return Result(
        name="parse_classify_lint",
        what=f"{n_files} migration files x 20 statements over 40 tables: split, classify, "
        "replay from empty, lint",
        peer="sqlglot.parse (sqlite dialect) of the same files: parsing only, no replay (and "
        "it splits trigger bodies at their inner ';')",
        d1nb=ours,
        other=peer,
        target="d1nb under 5 s",
        met=ours.seconds < 5.0,
    )


def bench_parse_big_file(quick: bool) -> Result:
    from history_project import write_seed_project

    megabytes = 10 if quick else 100
    root = WORK / f"seed_{megabytes}mb"
    count = root / "statements.txt"
    if not count.exists():
        statements = write_seed_project(root, megabytes)
        count.write_text(str(statements), encoding="utf-8")
    statements = int(count.read_text(encoding="utf-8"))
    ours = measure(side("d1nb_lint", root, statements), repeat=1)
    peer = measure(side("sqlglot_parse", root, statements), repeat=1)
    return Result(
        name="parse_big_file",
        what=f"one {megabytes} MB migration of seed data ({statements:,} statements): split, "
        "classify, replay from empty, lint",
        peer="sqlglot.parse (sqlite dialect) of the same file: parsing only, no replay",
        d1nb=ours,
        other=peer,
        target="d1nb faster than sqlglot.parse, time linear in the file's size",
        met=ours.seconds < peer.seconds,
    )


def bench_dump_load(quick: bool) -> Result:
    from d1nb.sample.large import write_events_dump

    if shutil.which("sqlite3") is None:
        raise SystemExit("dump_to_duckdb needs the sqlite3 shell: apt-get install sqlite3")
    rows = 100_000 if quick else 1_000_000
    dump = WORK / f"events_{rows}.sql"
    if not dump.exists():
        write_events_dump(dump, rows)
    work = WORK / "load"
    work.mkdir(exist_ok=True)
    ours = measure(side("d1nb_load", dump, work, rows))
    peer_db = work / "peer.sqlite"
    peer = measure(
        [
            "sh",
            "-c",
            f"rm -f '{peer_db}' && sqlite3 '{peer_db}' 'PRAGMA journal_mode=OFF;' 'BEGIN;' "
            f"'.read {dump}' 'COMMIT;'",
        ]
    )
    floor = measure(side("duckdb_dump_floor", dump))
    mb = dump.stat().st_size / 1e6
    return Result(
        name="dump_to_duckdb",
        what=f"`d1nb load` of a wrangler-format dump, {rows:,} rows x 8 columns ({mb:.0f} MB), "
        "whole process: start, rows into DuckDB (the direct path: a native split, affinity "
        "proved, counts verified), exit. Floor (DuckDB counting the dump's lines, nothing "
        f"parsed, imports not counted): {floor.seconds:.2f} s, so d1nb takes "
        f"{ours.seconds / floor.seconds:.0f}x the floor and the shell "
        f"{peer.seconds / floor.seconds:.0f}x",
        peer="the sqlite3 shell reading the same dump into a database file, journal off, inside "
        "one BEGIN/COMMIT (the plain `sqlite3 db < dump.sql` commits every INSERT: far slower)",
        d1nb=ours,
        other=peer,
        target="d1nb at least 5x faster (#18)",
        met=peer.seconds / ours.seconds >= 5.0,
    )


def bench_load_memory(quick: bool) -> Result:
    """Bounded memory: a dump past the size at which the rows go to disk (512 MB of dump,
    IN_MEMORY_DUCKDB_BYTES) must not need more memory than the largest load kept in RAM."""
    from d1nb.inputs.duckcopy import IN_MEMORY_DUCKDB_BYTES
    from d1nb.sample.large import write_events_dump

    sizes = (100_000, 500_000, 1_000_000) if quick else (1_000_000, 5_000_000, 10_000_000)
    sides = {}
    for rows in sizes:
        dump = WORK / f"events_{rows}.sql"
        if not dump.exists():
            write_events_dump(dump, rows)
        work = WORK / f"load_{rows}"
        work.mkdir(exist_ok=True)
        sides[rows] = measure(side("d1nb_load", dump, work, rows), repeat=1)
    in_ram = [
        r for r in sizes if (WORK / f"events_{r}.sql").stat().st_size <= IN_MEMORY_DUCKDB_BYTES
    ]
    kept = max(in_ram, key=lambda r: sides[r].peak_mb) if in_ram else sizes[0]
    large = sizes[-1]
    mb = (WORK / f"events_{large}.sql").stat().st_size / 1e6
    return Result(
        name="load_memory",
        what=f"`d1nb load` of a {large:,}-row dump ({mb:.0f} MB; rows on disk) against "
        f"{kept:,} rows (rows in RAM); peak MB by rows: "
        + ", ".join(f"{r:,}: {sides[r].peak_mb:.0f}" for r in sizes),
        peer=f"d1nb itself on the {kept:,}-row dump",
        d1nb=sides[large],
        other=sides[kept],
        target="peak memory past the on-disk threshold at most 1.25x the largest in-RAM load",
        met=sides[large].peak_mb <= 1.25 * sides[kept].peak_mb,
    )


def bench_metered_replay(quick: bool) -> Result:
    from d1nb.sample.large import build_scores_database

    rows = 100_000 if quick else 1_000_000
    db = WORK / f"scores_{rows}.sqlite"
    if not db.exists():
        build_scores_database(db, rows)
    work = WORK / "replay"
    work.mkdir(exist_ok=True)
    ours = measure(side("d1nb_replay", db, work, rows))
    peer = measure(side("apsw_replay", db, work, rows))
    return Result(
        name="metered_replay",
        what=f"the normalized_id backfill (scores 0013) over {rows:,} rows, replayed on a copy "
        "with D1 semantics, metering, plan and cascade checks",
        peer="the same SQL run bare in APSW on a copy, in one transaction",
        d1nb=ours,
        other=peer,
        target="overhead at most 1.15x",
        met=ours.seconds / peer.seconds <= 1.15,
    )


def bench_batch_budget(quick: bool) -> Result:
    from d1nb.analyses.batching import plan_batches
    from d1nb.sample.large import build_scores_database

    rows = 100_000 if quick else 1_000_000
    db = WORK / f"scores_{rows}.sqlite"
    if not db.exists():
        build_scores_database(db, rows)
    work = WORK / "batches"
    work.mkdir(exist_ok=True)
    sql = (
        HERE.parent / "data/sample/services/scores/migrations/0013_backfill_normalized_id.sql"
    ).read_text(encoding="utf-8")
    budget = 250.0
    plan = plan_batches(db, sql, budget_ms=budget)
    sides = {}
    for who, size in (("d1nb", plan.recommended), ("peer", 10_000)):
        out = subprocess.run(
            side("run_batches", db, work, size),
            cwd=HERE.parent,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times = json.loads(next(x for x in out.splitlines() if x.startswith("BATCHES "))[8:])
        total = float(next(x for x in out.splitlines() if x.startswith("ELAPSED ")).split()[1])
        sides[who] = (Side(round(total, 3), 0.0), times)
    ours, times = sides["d1nb"]
    full = times[:-1] or times  # the last batch is the remainder
    under = sum(t <= budget for t in full) / len(full)
    p95 = sorted(full)[max(0, int(0.95 * len(full)) - 1)]
    return Result(
        name="batch_budget",
        what=f"the 0013 backfill over {rows:,} rows in batches of the recommended "
        f"{plan.recommended:,} (budget {budget:.0f} ms, margin {plan.margin:.0%}), re-run in a "
        f"fresh process: {under:.0%} of {len(full)} batches under budget; p95 measured "
        f"{p95:.0f} ms vs predicted {plan.predicted_p95_ms(plan.recommended):.0f} ms",
        peer="the same backfill in Cloudflare's fixed batches of 10,000 rows (total time)",
        d1nb=ours,
        other=sides["peer"][0],
        target=">= 95% of batches under the budget",
        met=under >= 0.95,
    )


def bench_diff(quick: bool) -> list[Result]:
    from d1nb.sample.large import write_diff_pair

    results = []
    for rows in (100_000,) if quick else (1_000_000, 10_000_000):
        folder = WORK / f"diff_{rows}"
        if not (folder / "after.parquet").exists():
            write_diff_pair(folder, rows)
        args = (folder / "before.parquet", folder / "after.parquet", rows)
        repeat = 1 if rows >= 10_000_000 else 3
        ours = measure(side("d1nb_diff", *args), repeat)
        peer = measure(side("datacompy_diff", *args), repeat)
        floor = measure(side("duckdb_floor", *args), repeat)
        results.append(
            Result(
                name=f"diff_{rows // 1_000_000}M" if rows >= 1_000_000 else f"diff_{rows}",
                what=f"before/after of {rows:,} rows x 8 columns from Parquet (1% changed, "
                "0.1% removed, 0.1% added): counts per table and column, distinct/NULL/min/"
                "max/mean per column, samples; counts checked on both sides. A lower bound on "
                "this machine (DuckDB reading every value of both files and joining their keys, "
                f"nothing compared) took {floor.seconds:.2f} s: "
                f"{peer.seconds / floor.seconds:.1f}x the peer at best",
                peer="datacompy 1.1.0 PandasCompare on the same Parquet files, with its report",
                d1nb=ours,
                other=peer,
                target="at least 10x faster, at most 1/4 of the peak memory",
                met=peer.seconds / ours.seconds >= 10 and ours.peak_mb <= peer.peak_mb / 4,
            )
        )
    return results


def bench_cli_help(quick: bool) -> Result:
    """`d1nb --help`, whole process: what a user waits for before any work starts."""
    from d1nb.engine.miniflare import NODE_DIR, node_binary

    wrangler = NODE_DIR / "node_modules" / "wrangler" / "bin" / "wrangler.js"
    if node_binary() is None or not wrangler.is_file():
        raise SystemExit("cli_help compares with wrangler --help: run `make node` first")
    ours = measure([sys.executable, "-m", "d1nb", "--help"], repeat=5)
    peer = measure([str(node_binary()), str(wrangler), "--help"], repeat=5)
    floor = measure([sys.executable, "-c", "pass"], repeat=5)
    return Result(
        name="cli_help",
        what="`d1nb --help` as a new process: the parser is built from the subcommands' table "
        f"with no analysis module imported. Python itself starts in {floor.seconds:.2f} s here",
        peer="`wrangler --help` (the pinned wrangler on the pinned Node 22), the other command a "
        "D1 user runs",
        d1nb=ours,
        other=peer,
        target="d1nb under 0.5 s",
        met=ours.seconds < 0.5,
    )


def write_diff_dumps(folder: Path, rows: int) -> tuple[Path, Path]:
    """before.sql and after.sql: the diff pair as `wrangler d1 export` writes it."""
    import apsw
    import duckdb

    from d1nb.formats.dumpformat import write_dump
    from d1nb.sample.large import write_diff_pair

    if not (folder / "after.parquet").exists():
        write_diff_pair(folder, rows)
    dumps = []
    for name in ("before", "after"):
        dump = folder / f"{name}.sql"
        dumps.append(dump)
        if dump.exists():
            continue
        db = folder / f"{name}.sqlite"
        db.unlink(missing_ok=True)
        conn = apsw.Connection(str(db))
        conn.execute(
            "CREATE TABLE scores (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, title TEXT, "
            "composer TEXT, difficulty INTEGER, score REAL, created_at TEXT, visibility TEXT)"
        )
        cursor = duckdb.execute(f"SELECT * FROM read_parquet('{folder / f'{name}.parquet'}')")
        conn.execute("BEGIN")
        while batch := cursor.fetchmany(100_000):
            conn.executemany("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
        conn.execute("COMMIT")
        write_dump(conn, dump)
        conn.close()
        db.unlink()
    return dumps[0], dumps[1]


def bench_diff_dumps(quick: bool) -> list[Result]:
    """`d1nb diff` from what users have, two exports, against datacompy from the same: at
    1 M rows, and at 10 M (dumps of 2 GB each: DuckDB on disk, bounded memory)."""
    if shutil.which("sqlite3") is None:
        raise SystemExit("diff_dumps needs the sqlite3 shell: apt-get install sqlite3")
    results = []
    for rows in (100_000,) if quick else (1_000_000, 10_000_000):
        before, after = write_diff_dumps(WORK / f"diff_{rows}", rows)
        repeat = 1 if rows >= 10_000_000 else 3
        ours = measure(side("d1nb_diff_dumps", before, after, rows), repeat)
        peer = measure(side("datacompy_diff_dumps", before, after, rows), repeat)
        floor = measure(side("duckdb_dump_floor", before, after), repeat)
        imports = measure(side("d1nb_diff_memory_floor"), 1)
        mb = (before.stat().st_size + after.stat().st_size) / 1e6
        label = f"{rows // 1_000_000}M" if rows >= 1_000_000 else str(rows)
        results.append(
            Result(
                name=f"diff_dumps_{label}",
                what=f"`d1nb diff` of two exports of {rows:,} rows x 8 columns ({mb:.0f} MB in "
                "all; 1% changed, 0.1% removed, 0.1% added), whole process: both read (the "
                "direct path, counts verified), compared (counts per table and column, "
                "samples), invariants checked. Floor (DuckDB counting both dumps' lines, "
                f"imports not counted): {floor.seconds:.2f} s, so d1nb takes "
                f"{ours.seconds / floor.seconds:.0f}x the floor. Memory floor (d1nb's imports "
                f"and an empty DuckDB, nothing read): {imports.peak_mb:.0f} MB, "
                f"{imports.peak_mb / peer.peak_mb:.2f} of the peer's peak",
                peer="a script: the sqlite3 shell loading each export (one transaction, "
                "journal off), pandas reading the table, datacompy 1.1.0 PandasCompare with "
                "its report",
                d1nb=ours,
                other=peer,
                target="at least 10x faster, at most 1/4 of the peak memory (#18)",
                met=peer.seconds / ours.seconds >= 10 and ours.peak_mb <= peer.peak_mb / 4,
            )
        )
    return results


BENCHMARKS = {
    "cli_help": bench_cli_help,
    "parse_classify_lint": bench_parse_lint,
    "parse_big_file": bench_parse_big_file,
    "dump_to_duckdb": bench_dump_load,
    "load_memory": bench_load_memory,
    "metered_replay": bench_metered_replay,
    "batch_budget": bench_batch_budget,
    "diff": bench_diff,
    "diff_dumps": bench_diff_dumps,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    sys.path.insert(0, str(HERE))
    results = []
    for name in args.only or BENCHMARKS:
        outcome = BENCHMARKS[name](args.quick)
        results += outcome if isinstance(outcome, list) else [outcome]
    print(
        f"{'benchmark':<22} {'d1nb s':>8} {'peer s':>8} {'time x':>7} {'d1nb MB':>8} "
        f"{'peer MB':>8} {'mem x':>6}  target"
    )
    for r in results:
        print(
            f"{r.name:<22} {r.d1nb.seconds:>8.2f} {r.other.seconds:>8.2f} {r.time_ratio:>7.2f} "
            f"{r.d1nb.peak_mb:>8.0f} {r.other.peak_mb:>8.0f} {r.memory_ratio:>6.2f}  "
            f"{r.target}: {'met' if r.met else 'NOT MET'}"
        )
        print(f"{'':<22} {r.what}\n{'':<22} peer: {r.peer}")
    RESULTS.parent.mkdir(exist_ok=True)
    fresh = [
        {
            **asdict(r),
            "time_ratio": round(r.time_ratio, 3),
            "memory_ratio": round(r.memory_ratio, 3),
        }
        for r in results
    ]
    if args.only and RESULTS.exists():  # keep the other benchmarks' last figures
        names = {r["name"] for r in fresh}
        kept = json.loads(RESULTS.read_text(encoding="utf-8"))["results"]
        fresh = [r for r in kept if r["name"] not in names] + fresh
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "quick": args.quick,
                "results": fresh,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
