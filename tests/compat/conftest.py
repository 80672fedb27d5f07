"""The compatibility suite runs the real Cloudflare tools (pinned in node/) against d1nb.

It is skipped, with this message, only when Node is absent; with Node present, a missing
install is an error (`make node` installs it; `make test` does so itself).
"""

from __future__ import annotations

import shutil

import pytest

from d1nb.miniflare import miniflare_available


@pytest.fixture(scope="session", autouse=True)
def node_tools() -> None:
    if shutil.which("node") is None:
        pytest.skip("Node is not installed: the compatibility suite needs Node >= 20")
    reason = miniflare_available()
    if reason:
        pytest.fail(reason)
