"""The shell driver d1nb writes beside numbered SQL files (batches, rollback drafts): it runs
them in order with `wrangler d1 execute --file`, stops at the first failure, and lists each
file that ran in done.txt, so that running it again after an interruption goes on where it
stopped instead of starting over."""

from __future__ import annotations

import shlex

DONE = "done.txt"
"""The driver's record of the files that ran, beside them."""


def driver_lines(
    database: str, script: str, about: list[str], prefix: str, *, allowance: str | None = None
) -> list[str]:
    """The driver's opening and its loop over the files `PREFIX_N.sql` or `PREFIX_N_WORD.sql`
    beside it, in the order of N as a number (a glob's name order puts rollback_1000 before
    rollback_100): `script` is its own file name, `about` its first comment lines;
    `allowance` names an environment variable that, set to N, stops a run after N files. The
    database name comes from a config: it is quoted for the shell, never pasted."""
    name = shlex.quote(database)
    lines = [
        "#!/usr/bin/env sh",
        *(f"# {line}" if line else "#" for line in about),
        "# Run it where wrangler finds your config (or pass --config):",
        f"#   sh path/to/{script} [--env production] [--remote]",
        '# WRANGLER="npx wrangler" by default.',
        f"# Files that ran are listed in {DONE} and skipped when it runs again.",
        "set -e",
        'dir="$(dirname "$0")"',
        'WRANGLER="${WRANGLER:-npx wrangler}"',
        f'touch "$dir/{DONE}"',
    ]
    if allowance:
        lines += [
            f'max="${{{allowance}:-0}}"; ran=0',
            "run() {  # one SQL file; stops the script when the allowance of this run is used",
            '  if [ "$max" -gt 0 ] && [ "$ran" -ge "$max" ]; then',
            f'    echo "{allowance}=$max files ran: run it again (after 00:00 UTC)"; exit 0',
            "  fi",
            f'  f="$1"; shift; $WRANGLER d1 execute {name} --yes --file "$f" "$@"',
            "  ran=$((ran + 1))",
            "}",
        ]
    else:
        lines += [
            "run() {  # one SQL file",
            f'  f="$1"; shift; $WRANGLER d1 execute {name} --yes --file "$f" "$@"',
            "}",
        ]
    numbered = f"'^{prefix}_[0-9]+(_[a-z]+)?[.]sql$'"
    return [
        *lines,
        f'names="$(ls "$dir" | grep -E {numbered} | sort -t_ -k2,2n)"',
        "for name in $names; do",
        '  f="$dir/$name"',
        f'  if grep -qx "$name" "$dir/{DONE}"; then continue; fi',
        '  echo "$name"',
        '  run "$f" "$@"',
        f'  echo "$name" >> "$dir/{DONE}"',
        "done",
    ]
