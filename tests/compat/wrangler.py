"""Running the pinned wrangler (node/) on a copy of a project, and reading what it left behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import apsw

from d1nb.miniflare import NODE_DIR

WRANGLER = NODE_DIR / "node_modules" / ".bin" / "wrangler"
STATE = Path(".wrangler") / "state" / "v3" / "d1"
FAILED = re.compile(r"Migration (\S+) failed with the following errors")
ERROR_LINE = re.compile(r"✘ \[ERROR\] (.+)")
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

    def failed_migration(self) -> str | None:
        """The file `migrations apply` reported as failing, or None."""
        found = FAILED.search(self.text)
        return found.group(1) if found else None

    def errors(self) -> list[str]:
        return ERROR_LINE.findall(self.text)


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
        [str(WRANGLER), *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def run_driver(cwd: Path, script: Path, *args: str, timeout: int = 600) -> Run:
    """Run a run_batches.sh that d1nb wrote with sh in `cwd`, its WRANGLER the pinned one."""
    result = subprocess.run(
        ["sh", str(script), *args],
        cwd=cwd,
        env={**_env(cwd), "WRANGLER": str(WRANGLER)},
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
