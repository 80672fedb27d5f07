"""Files d1nb writes for the user (reports, batch files, rollback drafts, `d1nb.lock`),
written so that a link already at the path is replaced, never followed: a cloned repository
may hold `reports/01_migration_history.html -> ~/.bashrc`, and `--out reports` must not
write through it. Text goes to a new file beside the target, renamed over it when complete.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path`: a new file, then renamed over whatever is there (a
    file, or a link, which is replaced and not followed). Returns `path`."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(partial, flags, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def unlink_link(path: str | Path) -> None:
    """Remove a link at `path` (not what it points at) before a library writes there."""
    path = Path(path)
    if path.is_symlink():
        path.unlink()
