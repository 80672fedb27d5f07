"""Working copies kept between commands: the SQLite copy built from a dump read the direct way,
filed under the dump's SHA-256 (and the code that built it), so the next replay, impact or
batch on the same export copies it instead of building it again.

The cache is d1nb's own folder: `$D1NB_CACHE`, else `$XDG_CACHE_HOME/d1nb/working-copies`,
else `~/.cache/d1nb/working-copies`; `D1NB_CACHE=off` turns it off. A copy is only ever read
from it (each command works on its own copy), written whole under a temporary name and
renamed, and the least recently used ones go beyond `D1NB_CACHE_BYTES` (2 GB by default); a
copy larger than that is not kept at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

DEFAULT_BYTES = 2 * 1024**3

_BUILDERS = ("dumpduck.py", "workingcopy.py", "copycache.py")
"""The modules whose code decides what a built working copy holds: part of every key."""


def cache_folder() -> Path | None:
    """Where working copies are kept, or None when the cache is off."""
    setting = os.environ.get("D1NB_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "d1nb" / "working-copies"


def cache_key(export: Path) -> str:
    """SHA-256 of the export's bytes and of the code that builds its working copy."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _BUILDERS:
        digest.update((here / name).read_bytes())
    with export.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def fetch(key: str, target: Path) -> bool:
    """Copy the kept working copy for `key` to `target`; False when there is none."""
    folder = cache_folder()
    kept = folder / f"{key}.sqlite" if folder else None
    if kept is None or not kept.is_file():
        return False
    try:
        shutil.copyfile(kept, target)
        os.utime(kept)  # recently used: kept longest
    except OSError:
        return False
    return True


def keep(key: str, built: Path) -> None:
    """File a just-built working copy under `key` (best effort: a cache that cannot be
    written is no reason to fail the command)."""
    folder = cache_folder()
    if folder is None or built.stat().st_size > _limit():
        return
    partial = folder / f".{key}.{os.getpid()}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, partial)
        partial.replace(folder / f"{key}.sqlite")
        _evict(folder)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _limit() -> int:
    return int(os.environ.get("D1NB_CACHE_BYTES", DEFAULT_BYTES))


def _evict(folder: Path) -> None:
    limit = _limit()
    kept = sorted(folder.glob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for path in kept:
        total += path.stat().st_size
        if total > limit:
            path.unlink(missing_ok=True)
