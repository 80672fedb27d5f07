"""`make bench`: d1nb's speed and memory measured side by side with a named peer, as ratios.

Each benchmark runs both sides in fresh subprocesses of the same machine in the same run, and
records wall time and peak resident memory (from wait4's rusage). Results are printed as a table
and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results" / "latest.json"


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
        return self.d1nb.seconds / self.other.seconds

    @property
    def memory_ratio(self) -> float:
        return self.d1nb.peak_mb / self.other.peak_mb


def measure(code: str, *args: str, repeat: int = 3) -> Side:
    """Best wall time and its peak RSS over `repeat` fresh Python subprocesses running `code`."""
    best: Side | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=HERE.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark side failed: {code[:80]}…")
        side = Side(round(elapsed, 3), round(usage.ru_maxrss / 1024, 1))
        if best is None or side.seconds < best.seconds:
            best = side
    return best


# -- benchmarks -------------------------------------------------------------------------------

MAKE_PROJECT = """
# A long history in the shape real ones have: a few dozen tables created early, then mostly
# data migrations, with a column, an index, a trigger or a view added now and then.
import sys
from pathlib import Path
root = Path(sys.argv[1])
n_files = int(sys.argv[2])
n_tables = 40
(root / "svc" / "migrations").mkdir(parents=True, exist_ok=True)
(root / "svc" / "wrangler.toml").write_text(
    'name = "svc"\\n[[env.production.d1_databases]]\\nbinding = "DB"\\n'
    'database_name = "p"\\ndatabase_id = "1"\\n')
for i in range(n_files):
    t = f"t{i % n_tables:02d}"
    s = []
    if i < n_tables:
        s.append(f"CREATE TABLE IF NOT EXISTS {t} (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, "
                 f"c TEXT, d REAL, e TEXT)")
    elif i % 4 == 0:
        s.append(f"ALTER TABLE {t} ADD COLUMN x{i} TEXT DEFAULT 'v'")
    elif i % 4 == 1:
        s.append(f"CREATE INDEX IF NOT EXISTS {t}_b{i} ON {t}(b, c) WHERE e IS NULL")
    elif i % 4 == 2:
        s.append(f"CREATE TRIGGER IF NOT EXISTS {t}_trg{i} AFTER UPDATE OF a ON {t} BEGIN "
                 f"UPDATE {t} SET e = lower(new.a) WHERE id = new.id; SELECT 1; END")
    else:
        s.append(f"CREATE VIEW IF NOT EXISTS {t}_v{i} AS SELECT a, count(*) AS n FROM {t} "
                 f"GROUP BY a")
    s += [f"INSERT INTO {t} (a, b, c) VALUES ('row; {i}-{j}', {j}, 'it''s')" for j in range(10)]
    s += [f"UPDATE {t} SET c = CASE WHEN b > {j} THEN 'hi' ELSE 'lo' END, d = b * 1.5 "
          f"WHERE b = {j}" for j in range(6)]
    s += [f"DELETE FROM {t} WHERE b = 0 AND a LIKE 'row; {i}-%'",
          f"INSERT OR IGNORE INTO {t} (a, b) SELECT a, b + 100 FROM {t} WHERE b = 9",
          f"UPDATE {t} SET a = json_set('{{}}', '$.k', a) WHERE id IN (SELECT id FROM {t} "
          f"ORDER BY id DESC LIMIT 2)"]
    s = s[:20]
    text = f"-- Migration number: {i:04d}\\n" + ";\\n".join(s) + ";\\n"
    (root / "svc" / "migrations" / f"{i:04d}_migrate_{t}_step_{i}.sql").write_text(text)
"""

D1NB_LINT = """
import sys
import d1nb
history = d1nb.load_history(sys.argv[1], use_git=False)
findings = d1nb.lint(history)
statements = sum(len(f.statements) for m in history.migration_dirs.values() for f in m.files)
assert statements == int(sys.argv[2]) * 20, statements
"""

SQLGLOT_PARSE = """
import sys
from pathlib import Path
import logging
import sqlglot
logging.getLogger("sqlglot").setLevel(logging.CRITICAL)  # it warns on every trigger body
n = 0
for path in sorted(Path(sys.argv[1]).glob("svc/migrations/*.sql")):
    n += len([e for e in sqlglot.parse(path.read_text(), read="sqlite") if e is not None])
"""


def bench_parse_lint(quick: bool) -> Result:
    n_files = 200 if quick else 1000
    root = WORK / f"history_{n_files}"
    if not (root / "svc" / "migrations").is_dir():
        subprocess.run([sys.executable, "-c", MAKE_PROJECT, str(root), str(n_files)], check=True)
    ours = measure(D1NB_LINT, str(root), str(n_files))
    peer = measure(SQLGLOT_PARSE, str(root), str(n_files))
    return Result(
        name="parse_classify_lint",
        what=f"{n_files} migration files × 20 statements over 40 tables: split, classify, "
        "replay from empty, lint",
        peer="sqlglot.parse (sqlite dialect) of the same files: parsing only, no replay "
        "(and it splits trigger bodies at their inner ';')",
        d1nb=ours,
        other=peer,
        target="d1nb under 5 s",
        met=ours.seconds < 5.0,
    )


BENCHMARKS = {"parse_classify_lint": bench_parse_lint}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    results = [BENCHMARKS[name](args.quick) for name in (args.only or BENCHMARKS)]
    print(
        f"{'benchmark':<22} {'d1nb s':>8} {'peer s':>8} {'time ×':>7} {'d1nb MB':>8} "
        f"{'peer MB':>8} {'mem ×':>6}  target"
    )
    for r in results:
        print(
            f"{r.name:<22} {r.d1nb.seconds:>8.2f} {r.other.seconds:>8.2f} {r.time_ratio:>7.2f} "
            f"{r.d1nb.peak_mb:>8.0f} {r.other.peak_mb:>8.0f} {r.memory_ratio:>6.2f}  "
            f"{r.target}: {'met' if r.met else 'NOT MET'}"
        )
        print(f"{'':<22} {r.what}; peer: {r.peer}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "quick": args.quick,
                "results": [
                    {
                        **asdict(r),
                        "time_ratio": round(r.time_ratio, 3),
                        "memory_ratio": round(r.memory_ratio, 3),
                    }
                    for r in results
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
