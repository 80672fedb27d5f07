"""Shared fixtures: the bundled sample and a helper to build small projects on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
EMPTY_EXPORT = "PRAGMA defer_foreign_keys=TRUE;\n"
"""What `wrangler d1 export` writes for an empty database."""


@pytest.fixture(scope="session")
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def make_tree(tmp_path: Path):
    """Write {relative path: text or bytes} under a temporary folder and return the folder."""

    def make(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
        return tmp_path

    return make
