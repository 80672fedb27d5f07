"""Running the pinned wrangler (node/) on a copy of a project, and reading what it left behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import apsw

from d1nb.engine.miniflare import NODE_DIR, node_binary

WRANGLER_JS = NODE_DIR / "node_modules" / "wrangler" / "bin" / "wrangler.js"


def wrangler_command() -> list[str]:
    """The pinned wrangler run by the pinned Node 22 (the machine's Node may be older)."""
    return [str(node_binary()), str(WRANGLER_JS)]


STATE = Path(".wrangler") / "state" / "v3" / "d1"
FAILED = re.compile(r"Migration (\S+) failed with the following errors")
ERROR_LINE = re.compile(r"✘ \[ERROR\] (.+)")
TABLE_CELL = re.compile(r"│ (\S+)\s*│")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # wrangler colours errors even with NO_COLOR set


@dataclass
class Run:
    """One wrangler command: exit code and output."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return ANSI.sub("", self.out + self.err)

    def to_apply(self) -> list[str]:
        """The files `migrations apply` listed under "Migrations to be applied"."""
        listed = self.text.split("Migrations to be applied:", 1)
        if len(listed) < 2:
            return []
        table = listed[1].split("\n\n", 1)[0]
        return [n for n in TABLE_CELL.findall(table) if n.lower() != "name"]

    def failed_migration(self, applied: list[str] = ()) -> str | None:
        """The file `migrations apply` failed on, or None. wrangler 4.86 names it; 4.164 raises
        a local SQL error without naming it, so it is the first listed file that the ledger
        (`applied`, read from the state afterwards) does not hold."""
        found = FAILED.search(self.text)
        if found:
            return found.group(1)
        if self.code == 0 or not self.errors():
            return None
        return next((n for n in self.to_apply() if n not in applied), None)

    def errors(self) -> list[str]:
        return ERROR_LINE.findall(self.text)

    def reports(self, error: str) -> bool:
        """Whether wrangler reported d1nb's `error`. workerd 1.20261117 reports a foreign key
        broken at commit as an internal error with a reference only (docs/compat.md)."""
        if any(error in line for line in self.errors()):
            return True
        return error == "FOREIGN KEY constraint failed" and any(
            line.startswith("internal error; reference = ") for line in self.errors()
        )


def _env(cwd: Path) -> dict[str, str]:
    """wrangler as CI would run it: non-interactive, no metrics, no colour, logs inside `cwd`."""
    return {
        **os.environ,
        "CI": "true",
        "WRANGLER_SEND_METRICS": "false",
        "FORCE_COLOR": "0",
        "WRANGLER_LOG_PATH": str(cwd / ".wrangler-logs"),
    }


def wrangler(cwd: Path, *args: str, timeout: int = 300) -> Run:
    """Run `wrangler ARGS` in `cwd`."""
    result = subprocess.run(
        [*wrangler_command(), *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def run_driver(
    cwd: Path, script: Path, *args: str, timeout: int = 600, env: dict[str, str] | None = None
) -> Run:
    """Run a run_batches.sh that d1nb wrote with sh in `cwd`, its WRANGLER the pinned one
    (`env`: more variables, such as D1NB_MAX_BATCHES)."""
    result = subprocess.run(
        ["sh", str(script), *args],
        cwd=cwd,
        env={**_env(cwd), "WRANGLER": " ".join(wrangler_command()), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def local_database(cwd: Path) -> Path:
    """The one D1 database file in wrangler's local state under `cwd`."""
    found = [
        p
        for p in (cwd / STATE).glob("miniflare-D1DatabaseObject/*.sqlite")
        if p.name != "metadata.sqlite"
    ]
    assert len(found) == 1, found
    return found[0]


def read_only_copy(database: Path, workdir: Path) -> apsw.Connection:
    """A connection to a copy of a local-state database (WAL included), so reading it never
    changes what wrangler left."""
    workdir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(database) + suffix)
        if source.exists():
            shutil.copyfile(source, workdir / (database.name + suffix))
    return apsw.Connection(str(workdir / database.name))


def user_schema(conn: apsw.Connection) -> list[tuple]:
    """sqlite_master without SQLite's and Cloudflare's internal objects, in a stable order."""
    return list(
        conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
            "ORDER BY type, name"
        )
    )


def ledger_names(conn: apsw.Connection, table: str) -> list[str]:
    if not conn.table_exists(None, table):
        return []
    return [r[0] for r in conn.execute(f'SELECT name FROM "{table}" ORDER BY id')]


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project tree without any wrangler state it may carry."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".wrangler", "node_modules"))
    return target
