"""Scratch folders for working copies the caller did not ask to keep: made on demand and
removed when the command ends or, in a notebook, when its kernel exits. A process that was
killed (a kernel shut down hard) cannot clean up: its folders carry its process id, and the
next d1nb process removes those of processes that are gone."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_MADE: list[Path] = []
_SWEPT = False
_OWNER = re.compile(r"^d1nb-[a-z]*-?p(\d+)-")


def scratch_folder(prefix: str = "d1nb-") -> Path:
    """A new empty folder under the system's temporary folder, removed at exit."""
    global _SWEPT
    if not _SWEPT:
        _SWEPT = True
        _sweep_orphans()
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}p{os.getpid()}-"))
    _MADE.append(folder)
    return folder


@contextmanager
def scratch_scope(prefix: str = "d1nb-") -> Iterator[Path]:
    """A scratch folder for one block: removed when the block ends, else (a kill) as above."""
    folder = scratch_folder(prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if folder in _MADE:
            _MADE.remove(folder)


def remove_scratch_folders() -> None:
    """Remove every scratch folder made so far (the CLI calls it when a command ends)."""
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


def _sweep_orphans() -> None:
    """Remove the scratch folders of d1nb processes that no longer run."""
    for folder in Path(tempfile.gettempdir()).glob("d1nb-*"):
        owner = _OWNER.match(folder.name)
        if owner and folder.is_dir() and not _running(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


atexit.register(remove_scratch_folders)
