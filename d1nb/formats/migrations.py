"""Migration files in wrangler's order, split into statements and classified.

The SQL itself is taken apart by `d1nb.formats.sql` (SQLite's completeness rule for splitting, so
trigger bodies, `CASE … END`, semicolons in strings and comments, CRLF and drizzle's
`--> statement-breakpoint` markers split as SQLite would; sqlglot's tokens for the kind,
target table and flags); this module holds the files and their statements.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wcmatch import glob

from d1nb.formats.sql.shapes import classify
from d1nb.formats.sql.text import as_wrangler_sends, split_statements, wrangler_splits
from d1nb.problems import InputError, Problem

if TYPE_CHECKING:
    import pandas as pd

_NUMBER_PREFIX = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a migration file."""

    index: int
    line: int
    end_line: int
    sql: str
    kind: str
    table: str | None
    flags: tuple[str, ...] = ()
    detail: str = ""
    complete: bool = True
    sent: str | None = None
    """The text wrangler sends to D1 for it, where that differs from `sql` (comments removed
    by wrangler's splitter); SQLite stores this text in sqlite_master."""
    written: str | None = None
    """The statement as its file has it, where `sql` is the text d1nb's SQLite runs instead to
    do what D1's build of SQLite does with it (`D1Engine.as_d1_runs`)."""

    @property
    def bytes(self) -> int:
        return len((self.written or self.sql).encode("utf-8"))

    @property
    def runs(self) -> str:
        """The text D1 runs: what wrangler sends."""
        return self.sent if self.sent is not None else self.sql


@dataclass
class MigrationFile:
    """A migration file as wrangler sees it: its ledger name, order number and content."""

    name: str
    path: Path
    number: int | None
    sha256: str
    bytes: int
    text: str | None
    statements: list[Statement] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The part of the name after the number, without `.sql`."""
        stem = self.name.split("/")[0].removesuffix(".sql")
        return _NUMBER_PREFIX.sub("", stem).lstrip("_-")


@dataclass
class MigrationDir:
    """The migrations of one D1 database: ordered files, other files beside them, problems."""

    path: Path
    files: list[MigrationFile]
    other_files: list[Path]
    problems: list[Problem]


def parse_statements(text: str) -> list[Statement]:
    """Split a migration's text and classify every statement, with the text wrangler sends
    for each (comments removed when the file holds more than one statement)."""
    statements = []
    line, counted = 1, 0
    split_by_wrangler = wrangler_splits(text)
    for index, (begin, _end, sql, complete) in enumerate(split_statements(text)):
        kind, table, flags, detail = classify(sql)
        line += text.count("\n", counted, begin)
        counted = begin
        statements.append(
            Statement(
                index=index,
                line=line,
                end_line=line + sql.count("\n"),
                sql=sql,
                kind=kind,
                table=table,
                flags=flags,
                detail=detail,
                complete=complete,
                sent=as_wrangler_sends(sql) if split_by_wrangler else None,
            )
        )
    return statements


# -- files ------------------------------------------------------------------------------------


_MINIMATCH = glob.GLOBSTAR | glob.BRACE | glob.EXTGLOB
"""wcmatch flags for minimatch's defaults as wrangler uses them (`*` stops at `/`, `**` spans
folders, braces, no dot files)."""
_JS_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?)([0-9]*)")


def _js_parse_int(text: str) -> float | None:
    """JavaScript's `parseInt(text, 10)`, as wrangler orders by it: leading space, a sign, the
    digits up to the first that is not one (`0x3` is 0, `1e9` is 1); a float (numbers past
    2^53 round), None for NaN."""
    sign, digits = _JS_INT.match(text).groups()
    if not digits:
        return None
    try:
        value = float(int(digits))
    except OverflowError:
        value = math.inf
    return -value if sign == "-" else value


def _segment_key(segment: str) -> tuple[int, float, bytes]:
    number = _js_parse_int(segment.split("_")[0])
    utf16 = segment.encode("utf-16-be", "surrogatepass")
    return (0, number, utf16) if number is not None else (1, 0.0, utf16)


def _order_key(f: MigrationFile) -> tuple[tuple[int, float, bytes], ...]:
    """wrangler's order (workers-utils d1-migrations.ts, `compareMigrationPaths`, 4.164): path
    segment by segment, by `parseInt(segment.split("_")[0], 10)` (a number before no number),
    then equal numbers by JavaScript's string order (UTF-16 code units); a path that is a
    prefix of another first."""
    return tuple(_segment_key(segment) for segment in f.name.split("/"))


def number_of(name: str) -> int | None:
    """The number a migration's name starts with (its folder's, in a folder-per-migration
    layout), None when it has none."""
    match = _NUMBER_PREFIX.match(name.split("/")[0])
    return int(match.group(1)) if match else None


def read_migration_file(path: Path, name: str) -> MigrationFile:
    """Read, hash, decode and split one migration file; problems are recorded, not raised."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    number = number_of(name)
    migration = MigrationFile(name, path, number, digest, len(raw), None)
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        migration.problems.append(Problem(str(path), line, "binary file (NUL byte), not SQL"))
        return migration
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # wrangler reads the file as Node does (each bad sequence becomes one U+FFFD, the
        # same rule as Python's "replace") and D1 runs, and stores, what it read
        text = raw.decode("utf-8-sig", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        migration.problems.append(
            Problem(
                str(path),
                line,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                "wrangler sends U+FFFD (\ufffd) in place of each bad byte sequence, and D1 "
                "runs and stores that",
                "warning",
            )
        )
    migration.text = text
    migration.statements = parse_statements(text)
    for statement in migration.statements:
        if not statement.complete and statement.sql.startswith("/*"):
            migration.problems.append(
                Problem(
                    str(path),
                    statement.line,
                    "a /* comment left open at the end: `migrations apply` appends its "
                    "ledger INSERT to the file, inside the comment, so the file runs but is "
                    "never recorded and the next apply runs it again",
                )
            )
        elif not statement.complete:
            migration.problems.append(
                Problem(
                    str(path),
                    statement.line,
                    "unterminated statement (no closing ';'): `migrations apply` appends "
                    "its ledger INSERT to the file, and D1 fails the two as one statement",
                )
            )
    if number is None:
        migration.problems.append(
            Problem(
                str(path),
                0,
                "file name has no leading number; wrangler's order is undefined",
                "warning",
            )
        )
    return migration


def load_migration_dir(
    path: str | Path, pattern: str | None = None, within: str | Path | None = None
) -> MigrationDir:
    """The migration files of one directory in wrangler's order.

    Without `pattern`, migrations are the `*.sql` files directly in the directory (wrangler's
    rule); with `pattern` (`migrations_pattern`, a glob relative to the directory such as
    `*/migration.sql`), the matching files, named by their path relative to the directory.
    With `within` (the project's root), a file that is a symlink to somewhere outside it is
    not read: it becomes a problem, so that no one else's file is ever echoed back.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(root, 0, "migrations directory not found")
    fence = Path(within).resolve() if within is not None else None
    files, others, name_problems = [], [], []
    candidates = sorted(p for p in root.rglob("*") if p.is_file())
    for p in candidates:
        rel = p.relative_to(root).as_posix()
        # Node reads a name that is not UTF-8 with U+FFFD in place of each bad byte; the ledger
        # then holds that name, and so does d1nb's
        named = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if named != rel:
            name_problems.append(
                Problem(
                    str(p),
                    0,
                    f"file name is not UTF-8; wrangler records it as {named!r}",
                    "warning",
                )
            )
            rel = named
        if fence is not None and not p.resolve().is_relative_to(fence):
            name_problems.append(
                Problem(str(p), 0, "a link to a file outside the project: not read")
            )
            continue
        if pattern is not None:
            is_migration = glob.globmatch(rel, pattern, flags=_MINIMATCH)
        else:
            is_migration = p.parent == root and p.name.endswith(".sql")
        if is_migration:
            files.append(read_migration_file(p, rel))
        else:
            others.append(p)
    files.sort(key=_order_key)
    problems = name_problems + [problem for f in files for problem in f.problems]
    return MigrationDir(root, files, others, problems)


def migrations_frame(mdir: MigrationDir, **labels: str) -> pd.DataFrame:
    """One row per migration file: order, number, name, sha256, bytes, statements."""
    import pandas as pd

    rows = [
        {
            **labels,
            "order": order,
            "number": f.number,
            "name": f.name,
            "description": f.description,
            "sha256": f.sha256,
            "bytes": f.bytes,
            "statements": len(f.statements),
            "readable": f.text is not None,
        }
        for order, f in enumerate(mdir.files, start=1)
    ]
    frame = pd.DataFrame(rows)
    if not rows:
        frame = pd.DataFrame(
            columns=[
                *labels,
                "order",
                "number",
                "name",
                "description",
                "sha256",
                "bytes",
                "statements",
                "readable",
            ]
        )
    return frame.astype({"number": "Int64"})


def statements_frame(mdir: MigrationDir, **labels: str) -> pd.DataFrame:
    """One row per statement: file, index, line, kind, table, flags, detail, bytes, sql."""
    import pandas as pd

    columns = [
        *labels,
        "file",
        "index",
        "line",
        "end_line",
        "kind",
        "table",
        "flags",
        "detail",
        "bytes",
        "complete",
        "sql",
    ]
    rows = [
        {
            **labels,
            "file": f.name,
            "index": s.index,
            "line": s.line,
            "end_line": s.end_line,
            "kind": s.kind,
            "table": s.table,
            "flags": ",".join(s.flags),
            "detail": s.detail,
            "bytes": s.bytes,
            "complete": s.complete,
            "sql": s.sql,
        }
        for f in mdir.files
        for s in f.statements
    ]
    return pd.DataFrame(rows, columns=columns)
