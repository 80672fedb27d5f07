"""The compatibility suite runs the real Cloudflare tools (pinned in node/) against d1nb.

It is skipped, with this message, only when npm is absent; with npm present, a missing install
is an error (`make node` installs the pinned Node 22 and tools; `make test` does so itself).
"""

from __future__ import annotations

import shutil

import pytest

from d1nb.engine.miniflare import miniflare_available


@pytest.fixture(scope="session", autouse=True)
def node_tools() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the compatibility suite needs the pinned npm packages")
    reason = miniflare_available()
    if reason:
        pytest.fail(reason)
