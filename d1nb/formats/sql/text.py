"""SQL as text: quoting, sqlglot's SQLite tokens, splitting a file into statements (linear;
SQLite's own `apsw.complete` inside trigger bodies) and the text wrangler's splitter sends."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from itertools import pairwise
from typing import NamedTuple

import apsw
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

_DIALECT = SQLite()
TOKENIZER = _DIALECT.tokenizer()
"""One tokenizer, reused: building one costs more than tokenizing a short statement."""
SqlTokenError = TokenError


# -- quoting ----------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """`name` as a double-quoted SQLite identifier (any `"` doubled)."""
    return '"' + name.replace('"', '""') + '"'


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def shown(*names: str) -> str:
    """Names as a message shows them, joined by dots: bare when plain, double-quoted
    otherwise, so that the table `ledger.entries` does not read as a schema and a table,
    nor the column `say "hi"` as a word and a string (stranger's project #19), nor the table
    `order` as a keyword (#21)."""
    return ".".join(
        n if _PLAIN_NAME.fullmatch(n) and n.upper() not in apsw.keywords else quote_ident(n)
        for n in names
    )


ROWID_NAMES = ("rowid", "_rowid_", "oid")
"""SQLite's names for a rowid table's rowid, each hidden by a column of the same name."""


def unused_name(name: str, taken: list[str]) -> str:
    """`name`, or `name` with a number, so that it is none of `taken` (SQLite's names are
    case-insensitive): an alias of d1nb's own beside a user's columns, which may be named
    anything (`n`, `h`, `kind` …)."""
    lowered = {t.lower() for t in taken}
    fresh, i = name, 0
    while fresh.lower() in lowered:
        i += 1
        fresh = f"{name}{i}"
    return fresh


def quote_literal(value: object) -> str:
    """`value` as an SQLite literal: NULL, an integer, a real, or a single-quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return "X'" + value.hex().upper() + "'"
    return "'" + str(value).replace("'", "''") + "'"


# -- tokens -----------------------------------------------------------------------------------


class Token(NamedTuple):
    """One token of a statement, with its place in the text it came from."""

    word: str
    """Upper-cased text of a bare word, keyword or symbol ("ORDER BY", "PRIMARY KEY" are one
    token each); "" for quoted names and literals."""
    text: str
    """The token's value: a quoted name or string without its quotes."""
    type: TokenType
    start: int
    """Offset of the token's first character in the SQL."""
    end: int
    """Offset just past its last character (closing quote included)."""


_new_tuple = tuple.__new__  # a Token without NamedTuple's Python-level __new__, per token
_STRING, _IDENTIFIER, _NUMBER, _HEX = (
    TokenType.STRING,
    TokenType.IDENTIFIER,
    TokenType.NUMBER,
    TokenType.HEX_STRING,
)


def tokenize(sql: str) -> list[Token]:
    """SQLite tokens of `sql`, comments left out; raises SqlTokenError on an unclosed string."""
    tokens = []
    for t in TOKENIZER.tokenize(sql):
        kind, value = t.token_type, t.text
        # identity, not `in _LITERAL`: hashing an Enum member runs Python code, per token
        literal = kind is _STRING or kind is _IDENTIFIER or kind is _NUMBER or kind is _HEX
        word = "" if literal else value.upper()
        tokens.append(_new_tuple(Token, (word, value, kind, t.start, t.end + 1)))
    return tokens


def top_level(toks: list[Token], start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, word) of the tokens from `start` on that are outside any parentheses."""
    depth = 0
    for i in range(start, len(toks)):
        t = toks[i]
        if t.type == TokenType.L_PAREN:
            depth += 1
        elif t.type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0:
            yield i, t.word


def without_comments(sql: str) -> str:
    """`sql` with every comment removed: a comment becomes a space, or a newline where it
    held one, so that text appended after any token can never end up inside a comment."""
    toks = tokenize(sql)
    if not toks:
        return ""
    parts = [sql[toks[0].start : toks[0].end]]
    for before, after in pairwise(toks):
        gap = sql[before.end : after.start]
        if gap.strip():
            gap = "\n" if "\n" in gap else " "
        parts += [gap, sql[after.start : after.end]]
    return "".join(parts)


def sql_fingerprint(text: str) -> str:
    """sha256 of the SQL a file holds, comments and the whitespace between tokens left out:
    equal for two texts that differ only in those (a comment added after the file was
    applied). Literals and quoted names count as written. An untokenizable text hashes as is."""
    try:
        text = text.removeprefix("\ufeff")
        spans = " ".join(text[t.start : t.end] for t in tokenize(text))
    except SqlTokenError:
        spans = text
    return hashlib.sha256(spans.encode("utf-8", "surrogatepass")).hexdigest()


def definition_fingerprint(create: str) -> str:
    """`sql_fingerprint` of a CREATE TABLE from its first parenthesis on: the same for a table
    renamed into place (SQLite writes the new name quoted) as for the one it replaced."""
    try:
        opening = next(t.start for t in tokenize(create) if t.type == TokenType.L_PAREN)
    except (SqlTokenError, StopIteration):
        return sql_fingerprint(create)
    return sql_fingerprint(create[opening:])


def blobs_emptied(sql: str) -> str:
    """`sql` with every BLOB literal made `x''`: the same program for EXPLAIN, whose listing
    would otherwise hold the blob's bytes as text (not UTF-8: the listing cannot be read)."""
    parts, at = [], 0
    try:
        toks = tokenize(sql)
    except SqlTokenError:
        return sql  # SQLite's own error for it, then, not the tokenizer's
    for t in toks:
        if t.type == TokenType.HEX_STRING:
            parts += [sql[at : t.start], "x''"]
            at = t.end
    return "".join(parts) + sql[at:]


# -- splitting --------------------------------------------------------------------------------

_LEADING_TRIVIA = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)
_TRIVIA_PIECE = re.compile(r"\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z)", re.S)
_UP_TO_SEMICOLON = re.compile(
    r"""(?:[^;'"`\[\-/]++|'(?:[^']|'')*+'|"(?:[^"]|"")*+"|`[^`]*+`|\[[^\]]*+\]"""
    r"""|--[^\n]*+|/\*.*?\*/|-(?!-)|/(?!\*))*+;""",
    re.S,
)
"""Text up to the first `;` outside strings, quoted names and comments: where a statement
ends by SQLite's rule, unless it holds a trigger body (BEGIN … END with `;` inside)."""
_TRIGGER = re.compile(r"trigger", re.I)


def _skip_trivia(text: str, start: int) -> int:
    """Offset of the first character after whitespace and comments."""
    return _LEADING_TRIVIA.match(text, start).end()


def _statement_end(text: str, start: int) -> int | None:
    """Offset just past the `;` that completes the statement starting at `start`, or None."""
    match = _UP_TO_SEMICOLON.match(text, start)
    if match is None:
        return None
    end = match.end()
    if not _TRIGGER.search(text, start, end):
        return end
    semicolon = end - 1  # a trigger: SQLite's own rule decides which `;` ends it
    while semicolon != -1:
        if apsw.complete(text[start : semicolon + 1]):
            return semicolon + 1
        semicolon = text.find(";", semicolon + 1)
    return None


def split_statements(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """Yield (start offset, end offset, statement text, complete) by SQLite's rule.

    The statement text starts at its first token (leading comments dropped) and ends with its
    `;`. Text after the last complete statement that is not only comments is yielded as
    incomplete, and so is a `/*` comment left open at the end (it swallows whatever is
    appended to the text). Linear in the length of the text, except inside trigger bodies.
    """
    start = 0
    while (end := _statement_end(text, start)) is not None:
        first = _skip_trivia(text, start)
        if first < end - 1:
            yield first, end, text[first:end], True
        start = end
    first = _skip_trivia(text, start)
    if first < len(text):
        yield first, len(text), text[first:].rstrip(), False
    elif (opened := _open_comment(text, start)) is not None:
        yield opened, len(text), text[opened:].rstrip(), False


def _open_comment(text: str, start: int = 0) -> int | None:
    """Offset of a `/*` comment the text leaves open at its end, when `text[start:]` is only
    whitespace and comments; else None."""
    last = None
    for piece in _TRIVIA_PIECE.finditer(text, start):
        last = piece
    if last is None or last.end() != len(text) or not last.group().startswith("/*"):
        return None
    closed = len(last.group()) >= 4 and last.group().endswith("*/")
    return None if closed else last.start()


def wrangler_splits(text: str) -> bool:
    """Whether wrangler splits a migration file into statements before sending it: when a
    `;` stands anywhere but at its end (after removing one BEGIN TRANSACTION / COMMIT pair).
    A file it does not split goes to D1 as written."""
    trimmed = text.replace("BEGIN TRANSACTION;", "", 1).replace("COMMIT;", "", 1).rstrip()
    at = trimmed.find(";")
    return at != -1 and at != len(trimmed) - 1


_WRANGLER_LINE_ENDS = re.compile(
    r"""(--[^\n]*+)|(/\*.*?(?:\*/|$))|('[^']*+'|"[^"]*+"|`[^`]*+`|\[[^\]]*+\])|\r\n""", re.S
)
"""What wrangler's line-end normaliser (workers-utils d1-splitter.ts, 4.124 and later) steps
over: comments (their CRLF made LF too) and quoted text (kept exactly); any other CRLF is LF."""


def _line_end(m: re.Match) -> str:
    line_comment, block_comment, quoted = m.groups()
    if quoted is not None:
        return quoted
    if line_comment is not None:
        return line_comment.removesuffix("\r")
    if block_comment is not None:
        return block_comment.replace("\r\n", "\n")
    return "\n"


def as_wrangler_sends(sql: str) -> str:
    """A statement as wrangler 4.124 and later sends it: as written, comments and all, CRLF
    line ends made LF outside quoted text, the closing `;` dropped, the ends trimmed. SQLite
    then stores that text (from the CREATE on) as the schema of what the statement creates.
    (Before 4.124 wrangler dropped the comments; see docs/compat.md.)"""
    if "\r\n" in sql:
        sql = _WRANGLER_LINE_ENDS.sub(_line_end, sql)
    return sql.strip().removesuffix(";").strip()


# -- clauses ----------------------------------------------------------------------------------
