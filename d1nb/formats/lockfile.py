"""The lock file `d1nb.lock`: one `path sha256` line per migration file and a chained sum over
them (like atlas.sum), so that a hand edit of the lock itself is detected."""

from __future__ import annotations

import hashlib
from pathlib import Path

from d1nb.problems import Problem

LOCK_FILE = "d1nb.lock"


def lock_text(entries: list[tuple[str, str]]) -> str:
    """A d1nb lock file: each file's sha256 and a chained sum over all of them (as atlas.sum)."""
    chain = hashlib.sha256()
    for rel, digest in entries:
        chain.update(f"{rel}\0{digest}\n".encode())
    body = "".join(f"{rel} {digest}\n" for rel, digest in entries)
    head = "# d1nb lock: sha256 of each migration file when it was applied\n"
    return f"{head}sum {chain.hexdigest()}\n{body}"


def read_lock(path: Path) -> tuple[dict[str, str], list[Problem]]:
    """The file hashes of a lock, and a problem if its chained sum does not match its lines."""
    entries: dict[str, str] = {}
    declared = ""
    problems = []
    chain = hashlib.sha256()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("sum "):
            declared = line[4:].strip()
            continue
        rel, _, digest = line.rpartition(" ")
        if not rel or len(digest) != 64:
            problems.append(Problem(str(path), lineno, "malformed lock line"))
            continue
        entries[rel] = digest
        chain.update(f"{rel}\0{digest}\n".encode())
    if declared and declared != chain.hexdigest():
        problems.append(
            Problem(str(path), 0, "lock file's sum does not match its lines (edited by hand?)")
        )
    return entries, problems
