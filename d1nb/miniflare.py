"""Exact D1 metering through Miniflare: Cloudflare's workerd with the SQLite patch D1 bills by.

Optional: needs Node and the pinned npm packages in `node/` (`make node`). Statements are sent
to `node/meter.mjs`, which runs each migration file as one D1 batch (one transaction, as
`wrangler d1 migrations apply` does) and returns D1's own `rows_read` / `rows_written`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(os.environ.get("D1NB_NODE_DIR", Path(__file__).resolve().parent.parent / "node"))
"""Where `make node` installs the pinned npm packages (override with D1NB_NODE_DIR)."""


class MiniflareUnavailableError(RuntimeError):
    """Node or the pinned Miniflare is not installed; the message says what to run."""


def miniflare_available() -> str | None:
    """None when exact metering can run here, else the reason it cannot."""
    if shutil.which("node") is None:
        return "Node is not installed (exact metering needs Node >= 20)"
    if not (NODE_DIR / "node_modules" / "miniflare").is_dir():
        return f"Miniflare is not installed in {NODE_DIR}: run `make node`"
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
        ["node", str(NODE_DIR / "meter.mjs")],
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
