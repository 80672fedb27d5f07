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
