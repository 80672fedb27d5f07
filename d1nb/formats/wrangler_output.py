"""What wrangler writes besides dumps: `--json` output of `d1 execute`, and the local state's
SQLite files under `.wrangler/state/v3/d1`."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

from d1nb.problems import InputError


def local_state_databases(folder: Path) -> list[Path]:
    """SQLite files of a wrangler local-state folder (`.wrangler/state/v3/d1/...`)."""
    return sorted(
        p for p in folder.rglob("*.sqlite") if p.name != "metadata.sqlite" and p.is_file()
    )


def local_state_file(folder: Path, local_id: str) -> Path:
    """Where Miniflare keeps the local database whose id is `local_id` (what wrangler binds:
    preview_database_id, else database_id, else the binding name): the file is named by the
    Durable Object id Miniflare derives from that name, two HMAC-SHA256 halves. `folder` is
    `.wrangler/state` or any folder of it down to `miniflare-D1DatabaseObject`."""
    key = hashlib.sha256(b"miniflare-D1DatabaseObject").digest()
    name_mac = hmac.new(key, local_id.encode("utf-8"), hashlib.sha256).digest()[:16]
    check = hmac.new(key, name_mac, hashlib.sha256).digest()[:16]
    layout = ("v3", "d1", "miniflare-D1DatabaseObject")
    inside = layout.index(folder.name) + 1 if folder.name in layout else 0
    return folder.joinpath(*layout[inside:], f"{(name_mac + check).hex()}.sqlite")


class WranglerError(InputError):
    """`--json` output holding wrangler's own error instead of results."""

    def __init__(self, path: Path, error: object):
        super().__init__(path, 0, f"wrangler reported an error: {error}")
        self.messages = _error_messages(error)
        """The error's text and its notes' (where a remote error puts SQLite's message)."""


def _error_messages(error: object) -> list[str]:
    if isinstance(error, str):
        return [error]
    if not isinstance(error, dict):
        return []
    texts = [error["text"]] if isinstance(error.get("text"), str) else []
    for note in error.get("notes") or []:
        texts += _error_messages(note)
    return texts


def wrangler_json_rows(path: Path) -> list[dict]:
    """The result rows of `wrangler d1 execute --json` output, every statement's in order."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            path, exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})"
        ) from exc
    results = data if isinstance(data, list) else [data]
    for result in results:
        if isinstance(result, dict) and "error" in result:
            raise WranglerError(path, result["error"])
        if isinstance(result, dict) and result.get("success") is False:
            raise InputError(path, 0, "wrangler reported success: false")
    if not all(isinstance(r, dict) and "results" in r for r in results):
        raise InputError(path, 1, "not `wrangler d1 execute --json` output (no 'results')")
    _one_shape(path, results)
    return [row for r in results for row in r["results"] or []]


def _one_shape(path: Path, results: list[dict]) -> None:
    """Several statements' rows are one table's only when they have the same columns (the
    pages of one query); the results of different queries are refused, not merged."""
    shapes: dict[frozenset, int] = {}
    for n, result in enumerate(results, 1):
        rows = result["results"] or []
        if rows and isinstance(rows[0], dict):
            shapes.setdefault(frozenset(rows[0]), n)
    if len(shapes) > 1:
        (first, at), (other, then) = list(shapes.items())[:2]
        raise InputError(
            path,
            0,
            f"the results of statement {at} ({', '.join(sorted(first))}) and of statement "
            f"{then} ({', '.join(sorted(other))}) have different columns: the output of "
            "several queries, which d1nb does not merge into one table; give each query's "
            "output as its own file",
        )


_PRINTED_BLOB = re.compile(r"\[(?:\d{1,3}(?:, \d{1,3})*)?\]")


def printed_blob(value: object) -> bytes | None:
    """The bytes of a BLOB as local `wrangler d1 execute --json` prints it, else None.

    Wrangler 4.16x (`executeLocally`) turns every array in a result row into the text of its
    elements, `[0, 255, 0]`, so a BLOB comes out as a string that text could also be (remote
    output keeps the array). Only the column's declared type can tell them apart."""
    if not isinstance(value, str) or not _PRINTED_BLOB.fullmatch(value):
        return None
    numbers = [int(n) for n in value[1:-1].split(", ")] if len(value) > 2 else []
    return bytes(numbers) if all(n < 256 for n in numbers) else None
