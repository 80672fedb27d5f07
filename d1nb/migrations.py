"""Migration files in wrangler's order, split into statements and classified.

Statements are split with SQLite's own completeness rule (`apsw.complete`), so trigger bodies,
`CASE … END`, semicolons in strings and comments, CRLF and drizzle's `--> statement-breakpoint`
markers are handled the way SQLite itself would. Each statement is classified from sqlglot's
SQLite tokens (kind, target table, flags).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pandas as pd
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from .problems import InputError, Problem, line_of_offset

_DIALECT = SQLite()
_NUMBER_PREFIX = re.compile(r"^(\d+)")
_LEADING_REPLACE = re.compile(r"^\s*REPLACE\s+INTO\b", re.I)


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

    @property
    def bytes(self) -> int:
        return len(self.sql.encode("utf-8"))


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


# -- splitting --------------------------------------------------------------------------------

_LEADING_TRIVIA = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)


def _skip_trivia(text: str, start: int) -> int:
    """Offset of the first character after whitespace and comments."""
    return _LEADING_TRIVIA.match(text, start).end()


def split_statements(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """Yield (start offset, end offset, statement text, complete) by SQLite's rule.

    The statement text starts at its first token (leading comments dropped) and ends with its `;`.
    Text after the last complete statement that is not only comments is yielded as incomplete.
    """
    start = 0
    semicolon = text.find(";")
    while semicolon != -1:
        chunk = text[start : semicolon + 1]
        if apsw.complete(chunk):
            first = _skip_trivia(text, start)
            if first <= semicolon and text[first] != ";":
                yield first, semicolon + 1, text[first : semicolon + 1], True
            start = semicolon + 1
        semicolon = text.find(";", semicolon + 1)
    first = _skip_trivia(text, start)
    if first < len(text):
        yield first, len(text), text[first:].rstrip(), False


def parse_statements(text: str) -> list[Statement]:
    """Split a migration's text and classify every statement."""
    statements = []
    for index, (begin, _end, sql, complete) in enumerate(split_statements(text)):
        kind, table, flags, detail = classify(sql)
        line = line_of_offset(text, begin)
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
            )
        )
    return statements


# -- classification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    word: str  # upper-cased text for bare words and keywords, "" for quoted and literal tokens
    text: str
    type: TokenType
    start: int  # offset of the token's first character in the SQL
    end: int  # offset just past its last character


def _tokens(sql: str) -> list[_Tok]:
    literal = {TokenType.STRING, TokenType.IDENTIFIER, TokenType.HEX_STRING, TokenType.NUMBER}
    return [
        _Tok(
            "" if t.token_type in literal else t.text.upper(),
            t.text,
            t.token_type,
            t.start,
            t.end + 1,
        )
        for t in _DIALECT.tokenize(sql)
    ]


def _name_at(toks: list[_Tok], i: int) -> tuple[str | None, int]:
    """A possibly schema-qualified name starting at toks[i]: (last part, index after it)."""
    if i >= len(toks):
        return None, i
    name = toks[i].text
    i += 1
    while i + 1 < len(toks) and toks[i].type == TokenType.DOT:
        name = toks[i + 1].text
        i += 2
    return name, i


def _skip_if(toks: list[_Tok], i: int, *words: str) -> tuple[bool, int]:
    n = len(words)
    if [t.word for t in toks[i : i + n]] == list(words):
        return True, i + n
    return False, i


def _top_level_words(toks: list[_Tok], start: int = 0) -> Iterator[tuple[int, str]]:
    depth = 0
    for i in range(start, len(toks)):
        t = toks[i]
        if t.type == TokenType.L_PAREN:
            depth += 1
        elif t.type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0:
            yield i, t.word


def _is_constant_default(toks: list[_Tok]) -> bool:
    """SQLite's ADD COLUMN rule: a literal, a signed number, or a literal in parentheses."""
    while (
        len(toks) >= 2 and toks[0].type == TokenType.L_PAREN and toks[-1].type == TokenType.R_PAREN
    ):
        toks = toks[1:-1]
    if toks and toks[0].type in (TokenType.PLUS, TokenType.DASH):
        toks = toks[1:]
    if len(toks) != 1:
        return False
    t = toks[0]
    return t.type in (TokenType.STRING, TokenType.NUMBER, TokenType.HEX_STRING) or t.word in (
        "NULL",
        "TRUE",
        "FALSE",
    )


_CONSTRAINT_WORDS = {
    "NOT",
    "NULL",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
    "CONSTRAINT",
}


def _column_def_flags(toks: list[_Tok]) -> list[str]:
    """Flags of a column definition (ADD COLUMN): not_null, default, non_constant_default, …"""
    flags = []
    words = [w for _, w in _top_level_words(toks)]
    if "NOT" in words and "NULL" in words[words.index("NOT") :]:
        flags.append("not_null")
    if "DEFAULT" in words:
        flags.append("default")
        i = next(i for i, w in _top_level_words(toks) if w == "DEFAULT") + 1
        end = i + 1
        if i < len(toks) and toks[i].type == TokenType.L_PAREN:
            depth = 0
            for end in range(i, len(toks)):
                depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(toks[end].type, 0)
                if depth == 0:
                    break
            end += 1
        elif i < len(toks) and toks[i].type in (TokenType.PLUS, TokenType.DASH):
            end = i + 2
        if not _is_constant_default(toks[i:end]):
            flags.append("non_constant_default")
    if "STORED" in words:
        flags.append("stored")
    if "CHECK" in words:
        flags.append("check")
    if "REFERENCES" in words:
        flags.append("references")
    if "UNIQUE" in words or "PRIMARY" in words:
        flags.append("unique")
    return flags


def _where_at_top(toks: list[_Tok], start: int) -> bool:
    return any(w == "WHERE" for _, w in _top_level_words(toks, start))


def classify(sql: str) -> tuple[str, str | None, tuple[str, ...], str]:
    """(kind, target table, flags, detail) of one statement."""
    if _LEADING_REPLACE.match(sql):  # sqlglot reads a leading REPLACE as an opaque command
        sql = "INSERT OR " + sql.lstrip()
    try:
        toks = [t for t in _tokens(sql) if t.type != TokenType.SEMICOLON]
    except TokenError:
        return "other", None, ("untokenizable",), ""
    if not toks:
        return "empty", None, (), ""
    head = toks[0].word
    flags: list[str] = []
    if head == "WITH":  # skip the CTEs to the statement they feed
        for i, w in _top_level_words(toks, 1):
            if w in ("INSERT", "REPLACE", "UPDATE", "DELETE", "SELECT"):
                toks, head = toks[i:], w
                flags.append("with")
                break
    if head == "EXPLAIN":
        return "other", None, ("explain",), ""

    if head == "CREATE":
        i = 1
        if toks[i].word in ("TEMP", "TEMPORARY"):
            flags.append("temp")
            i += 1
        if toks[i].word == "UNIQUE":
            flags.append("unique")
            i += 1
        what = toks[i].word
        if what == "VIRTUAL":
            i += 1
            what = "VIRTUAL TABLE"
        i += 1
        found, i = _skip_if(toks, i, "IF", "NOT", "EXISTS")
        if found:
            flags.append("if_not_exists")
        name, i = _name_at(toks, i)
        if what == "TABLE":
            tail = [w for _, w in _top_level_words(toks, i)]
            flags += [
                f for f, w in (("strict", "STRICT"), ("without_rowid", "WITHOUT")) if w in tail
            ]
            if "AS" in tail[:1]:
                flags.append("as_select")
            words = {t.word for t in toks}
            if "CASCADE" in words:
                flags.append("fk_cascade")
            if "REFERENCES" in words:
                flags.append("references")
            return "create_table", name, tuple(flags), ""
        if what == "INDEX":
            on = next((j for j, w in _top_level_words(toks, i) if w == "ON"), None)
            table = _name_at(toks, on + 1)[0] if on is not None else None
            if _where_at_top(toks, i):
                flags.append("partial")
            return "create_index", table, tuple(flags), name or ""
        if what == "VIEW":
            return "create_view", name, tuple(flags), ""
        if what == "TRIGGER":
            on = next((j for j, w in _top_level_words(toks, i) if w == "ON"), None)
            table = _name_at(toks, on + 1)[0] if on is not None else None
            return "create_trigger", table, tuple(flags), name or ""
        if what == "VIRTUAL TABLE":
            using = next((j for j, w in _top_level_words(toks, i) if w == "USING"), None)
            module = toks[using + 1].text if using is not None and using + 1 < len(toks) else ""
            return "create_virtual_table", name, tuple(flags), module
        return "other", name, tuple(flags), f"CREATE {what}"

    if head == "ALTER":
        table, i = _name_at(toks, 2)
        action = toks[i].word if i < len(toks) else ""
        if action == "ADD":
            i += 1
            _, i = _skip_if(toks, i, "COLUMN")
            column = toks[i].text if i < len(toks) else ""
            return "add_column", table, tuple(_column_def_flags(toks[i + 1 :])), column
        if action == "DROP":
            i += 1
            _, i = _skip_if(toks, i, "COLUMN")
            return "drop_column", table, (), toks[i].text if i < len(toks) else ""
        if action == "RENAME":
            i += 1
            if toks[i].word == "TO":
                return "rename_table", table, (), toks[i + 1].text if i + 1 < len(toks) else ""
            _, i = _skip_if(toks, i, "COLUMN")
            old = toks[i].text if i < len(toks) else ""
            new = toks[i + 2].text if i + 2 < len(toks) else ""
            return "rename_column", table, (), f"{old} -> {new}"
        return "other", table, (), "ALTER TABLE"

    if head == "DROP":
        what = toks[1].word if len(toks) > 1 else ""
        found, i = _skip_if(toks, 2, "IF", "EXISTS")
        if found:
            flags.append("if_exists")
        name, _ = _name_at(toks, i)
        kind = {
            "TABLE": "drop_table",
            "INDEX": "drop_index",
            "VIEW": "drop_view",
            "TRIGGER": "drop_trigger",
        }.get(what, "other")
        if kind in ("drop_index", "drop_trigger"):
            return kind, None, tuple(flags), name or ""
        return kind, name, tuple(flags), ""

    if head in ("INSERT", "REPLACE"):
        i = 1
        if head == "REPLACE":
            flags.append("or_replace")
        elif toks[i].word == "OR":
            flags.append("or_" + toks[i + 1].word.lower())
            i += 2
        _, i = _skip_if(toks, i, "INTO")
        table, i = _name_at(toks, i)
        words = [w for _, w in _top_level_words(toks, i)]
        kind = "insert_select" if "SELECT" in words and "VALUES" not in words else "insert"
        if "DEFAULT" in words and "VALUES" in words:
            kind = "insert"
        return kind, table, tuple(flags), ""

    if head == "UPDATE":
        i = 1
        if toks[i].word == "OR":
            flags.append("or_" + toks[i + 1].word.lower())
            i += 2
        table, i = _name_at(toks, i)
        if _where_at_top(toks, i):
            flags.append("where")
        return "update", table, tuple(flags), ""

    if head == "DELETE":
        table, i = _name_at(toks, 2)
        if _where_at_top(toks, i):
            flags.append("where")
        return "delete", table, tuple(flags), ""

    if head == "PRAGMA":
        name, i = _name_at(toks, 1)
        value = " ".join(t.text for t in toks[i:] if t.type not in (TokenType.EQ,)).strip("() ")
        detail = f"{(name or '').lower()}={value}" if value else (name or "").lower()
        return "pragma", None, (), detail

    if head in ("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return "transaction", None, (), head
    if head in ("SELECT", "VALUES"):
        return "select", None, tuple(flags), ""
    if head in ("ATTACH", "DETACH", "VACUUM", "ANALYZE", "REINDEX"):
        return "other", None, (), head
    return "other", None, tuple(flags), head


def written_columns(sql: str) -> list[str] | None:
    """Columns an UPDATE sets, or an INSERT names; None when an INSERT names none (all).

    The D1 meter uses them: an UPDATE rewrites the index entries of the columns it sets, and
    an INSERT that names the rowid column seeks it first.
    """
    try:
        toks = [t for t in _tokens(sql) if t.type != TokenType.SEMICOLON]
    except TokenError:
        return []
    words = list(_top_level_words(toks))
    heads = [w for _, w in words]
    if "UPDATE" in heads and "SET" in heads:
        segments: list[list[_Tok]] = [[]]
        depth = 0
        for t in toks[words[heads.index("SET")][0] + 1 :]:
            if depth == 0 and t.word in ("WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"):
                break
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(t.type, 0)
            if depth == 0 and t.type == TokenType.COMMA:
                segments.append([])
            else:
                segments[-1].append(t)
        columns = []
        for segment in segments:
            target = []
            for t in segment:
                if t.type == TokenType.EQ:
                    break
                target.append(t)
            columns += [
                t.text
                for t in target
                if t.type not in (TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA)
            ]
        return columns
    if heads and heads[0] in ("INSERT", "REPLACE", "WITH"):
        into = next((i for i, w in words if w == "INTO"), None)
        if into is None:
            return None
        _, i = _name_at(toks, into + 1)
        if i < len(toks) and toks[i].type == TokenType.L_PAREN:
            columns = []
            for t in toks[i + 1 :]:
                if t.type == TokenType.R_PAREN:
                    break
                if t.type != TokenType.COMMA:
                    columns.append(t.text)
            return columns
        return None
    return []


# -- files ------------------------------------------------------------------------------------


def _order_key(f: MigrationFile) -> tuple[int, float, str]:
    # wrangler sorts by parseInt(name.split("_")[0]); files whose name has no number come last.
    return (0, f.number, f.name) if f.number is not None else (1, 0, f.name)


def read_migration_file(path: Path, name: str) -> MigrationFile:
    """Read, hash, decode and split one migration file; problems are recorded, not raised."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    match = _NUMBER_PREFIX.match(name.split("/")[0])
    number = int(match.group(1)) if match else None
    migration = MigrationFile(name, path, number, digest, len(raw), None)
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        migration.problems.append(Problem(str(path), line, "binary file (NUL byte), not SQL"))
        return migration
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        migration.problems.append(
            Problem(
                str(path),
                line,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            )
        )
        return migration
    migration.text = text
    migration.statements = parse_statements(text)
    for statement in migration.statements:
        if not statement.complete:
            migration.problems.append(
                Problem(str(path), statement.line, "unterminated statement (no closing ';')")
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


def load_migration_dir(path: str | Path, pattern: str | None = None) -> MigrationDir:
    """The migration files of one directory in wrangler's order.

    Without `pattern`, migrations are the `*.sql` files directly in the directory (wrangler's
    rule); with `pattern` (`migrations_pattern`, a glob relative to the directory such as
    `*/migration.sql`), the matching files, named by their path relative to the directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(root, 0, "migrations directory not found")
    files, others = [], []
    candidates = sorted(p for p in root.rglob("*") if p.is_file())
    for p in candidates:
        rel = p.relative_to(root).as_posix()
        if pattern is not None:
            is_migration = fnmatch.fnmatchcase(rel, pattern)
        else:
            is_migration = p.parent == root and p.name.endswith(".sql")
        if is_migration:
            files.append(read_migration_file(p, rel))
        else:
            others.append(p)
    files.sort(key=_order_key)
    problems = [problem for f in files for problem in f.problems]
    return MigrationDir(root, files, others, problems)


def migrations_frame(mdir: MigrationDir, **labels: str) -> pd.DataFrame:
    """One row per migration file: order, number, name, sha256, bytes, statements."""
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


def check_constraints(create_sql: str) -> list[tuple[str | None, str]]:
    """The CHECK constraints of a CREATE TABLE: (column, or None for a table constraint, the
    expression's text as written), so they can be re-evaluated against stored data."""
    try:
        raw = _DIALECT.tokenize(create_sql)
    except TokenError:
        return []
    start = next((i for i, t in enumerate(raw) if t.token_type == TokenType.L_PAREN), None)
    if start is None:
        return []
    found: list[tuple[str | None, str]] = []
    depth, first, column = 0, True, None
    i = start + 1
    while i < len(raw):
        t = raw[i]
        if depth == 0 and t.token_type == TokenType.R_PAREN:
            break
        if depth == 0 and t.token_type == TokenType.COMMA:
            first = True
            i += 1
            continue
        if depth == 0 and first:
            word = t.text.upper() if t.token_type != TokenType.IDENTIFIER else ""
            column = None if word in _TABLE_CONSTRAINT_WORDS else t.text
            first = False
        if (
            depth == 0
            and t.text.upper() == "CHECK"
            and t.token_type != TokenType.IDENTIFIER
            and i + 1 < len(raw)
            and raw[i + 1].token_type == TokenType.L_PAREN
        ):
            level, j = 0, i + 1
            while j < len(raw):
                level += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(raw[j].token_type, 0)
                if level == 0:
                    break
                j += 1
            found.append((column, create_sql[raw[i + 1].end + 1 : raw[j].start].strip()))
            i = j + 1
            continue
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(t.token_type, 0)
        i += 1
    return found


_TABLE_CONSTRAINT_WORDS = {"CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN"}
