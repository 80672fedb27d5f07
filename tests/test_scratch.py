"""Scratch folders: gone when the process ends, and after a hard kill at the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d1nb.engine.scratch import scratch_scope

MAKE = (
    "import sys, time\nfrom d1nb.engine.scratch import scratch_folder\n"
    "print(scratch_folder('d1nb-batching-'), flush=True)\n"
    "time.sleep(float(sys.argv[1]))\n"
)


def _make(seconds: float) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", MAKE, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    return proc, Path(proc.stdout.readline().strip())


def test_removed_at_exit_and_after_a_kill():
    proc, folder = _make(0)
    proc.wait(timeout=60)
    assert not folder.exists()
    proc, folder = _make(60)
    assert folder.is_dir()
    proc.send_signal(signal.SIGKILL)  # a kernel shut down hard: no exit handler runs
    proc.wait(timeout=60)
    assert folder.is_dir()
    time.sleep(0.1)
    fresh, newer = _make(0)  # the next d1nb process sweeps what the dead one left
    fresh.wait(timeout=60)
    assert not folder.exists() and not newer.exists()


def test_a_scoped_scratch_folder_is_removed_when_its_block_ends():
    with scratch_scope("d1nb-test-") as folder:
        (folder / "copy.sqlite").write_bytes(b"x")
        assert folder.is_dir() and folder.name.startswith(f"d1nb-test-p{os.getpid()}-")
    assert not folder.exists()
    with pytest.raises(RuntimeError), scratch_scope("d1nb-test-") as failing:
        raise RuntimeError("a replay that fails part-way")
    assert not failing.exists()


def test_an_in_memory_duckdb_spills_into_a_scratch_folder_not_the_current_one(
    tmp_path, monkeypatch
):
    """Under memory pressure an in-memory DuckDB writes temporary files; by default into `.tmp`
    under the current directory, which is the user's repository (or a read-only folder)."""
    from d1nb.inputs.duckcopy import connect_duckdb

    here = tmp_path / "repository"
    here.mkdir()
    monkeypatch.chdir(here)
    con = connect_duckdb()
    con.execute("SET memory_limit = '40MB'")
    con.execute("CREATE TABLE t AS SELECT repeat('x', 20) || range AS s FROM range(3000000)")
    spilled = [
        Path(p) for (p,) in con.execute("SELECT path FROM duckdb_temporary_files()").fetchall()
    ]
    assert spilled, "nothing spilled: the test proves nothing"
    assert all(p.parent.name.startswith("d1nb-duckdb-p") for p in spilled)
    assert con.execute("SELECT count(DISTINCT s) FROM t").fetchall()[0][0] == 3000000
    assert list(here.iterdir()) == []
    con.close()
