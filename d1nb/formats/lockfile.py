"""The lock file `d1nb.lock`: one `path sha256 sql-sha256` line per migration file and a
chained sum over them (like atlas.sum), so that a hand edit of the lock itself is detected.
The second hash is of the file's SQL without comments (`sql_fingerprint`): an edit that only
adds a comment is told from one that changes what the file does. Locks of two columns (before
2026-12) are read as they are."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

from d1nb.problems import Problem

LOCK_FILE = "d1nb.lock"


class Locked(NamedTuple):
    """What the lock holds of one migration file."""

    sha256: str
    sql_sha256: str | None
    """sha256 of its SQL without comments; None in a lock written before it was kept."""


def _chained(rel: str, entry: Locked) -> bytes:
    sql = f"\0{entry.sql_sha256}" if entry.sql_sha256 else ""
    return f"{rel}\0{entry.sha256}{sql}\n".encode()


def lock_text(entries: list[tuple[str, Locked]]) -> str:
    """A d1nb lock file: each file's hashes and a chained sum over all of them (as atlas.sum)."""
    chain = hashlib.sha256()
    for rel, entry in entries:
        chain.update(_chained(rel, entry))
    body = "".join(
        f"{rel} {entry.sha256}" + (f" {entry.sql_sha256}" if entry.sql_sha256 else "") + "\n"
        for rel, entry in entries
    )
    head = "# d1nb lock: sha256 of each migration file when it was applied, then of its SQL\n"
    return f"{head}sum {chain.hexdigest()}\n{body}"


def read_lock(path: Path) -> tuple[dict[str, Locked], list[Problem]]:
    """The hashes of a lock by file, and a problem if its chained sum does not match its
    lines. A path may hold spaces: the hashes are the last one or two words."""
    entries: dict[str, Locked] = {}
    declared = ""
    problems = []
    chain = hashlib.sha256()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("sum "):
            declared = line[4:].strip()
            continue
        words = line.split(" ")
        hashes = [w for w in words[-2:] if _is_sha256(w)]
        if len(words) > 2 and len(hashes) == 2:
            rel, entry = " ".join(words[:-2]), Locked(hashes[0], hashes[1])
        elif len(words) > 1 and _is_sha256(words[-1]):
            rel, entry = " ".join(words[:-1]), Locked(words[-1], None)
        else:
            problems.append(Problem(str(path), lineno, "malformed lock line"))
            continue
        entries[rel] = entry
        chain.update(_chained(rel, entry))
    if declared and declared != chain.hexdigest():
        problems.append(
            Problem(str(path), 0, "lock file's sum does not match its lines (edited by hand?)")
        )
    return entries, problems


def _is_sha256(word: str) -> bool:
    return len(word) == 64 and all(c in "0123456789abcdef" for c in word)
