"""Statements D1's build of SQLite runs differently from d1nb's, rewritten so d1nb's gives D1's
result.

workerd and APSW ship the same SQLite release built with other options, and two of them change
what a migration does (docs/compat.md, "Where d1nb's SQLite is not D1's"):

- workerd is built with SQLITE_ENABLE_UPDATE_DELETE_LIMIT: D1 runs `DELETE … ORDER BY … LIMIT n`
  and `UPDATE … LIMIT n`, which APSW's SQLite refuses as a syntax error. SQLite itself runs such
  a statement as `… WHERE <row> IN (SELECT <row> FROM <table> WHERE … ORDER BY … LIMIT n)`, so
  that is the text d1nb runs: same rows, same plan.
- workerd keeps a JSON value's subtype through a scalar subquery; APSW's SQLite clears it. So
  `json_set(meta, '$.tags', (SELECT json_group_array(…) FROM json_each(…)))` stores an array
  in D1 and a string holding an array here (the same through CASE or coalesce). Wrapping such
  a subquery in `json(…)` (it returns JSON text already) gives the subtype back; a one-path
  `json_extract` (JSON for an array or an object only) that a JSON function inserts is first
  made to return JSON text for a scalar too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from d1nb.formats.sql.shapes import trigger_parts, written_columns
from d1nb.formats.sql.text import (
    ROWID_NAMES,
    SqlTokenError,
    Token,
    TokenType,
    quote_ident,
    tokenize,
    top_level,
    without_comments,
)

JSON_RESULT_FUNCTIONS = frozenset(
    {
        "json",
        "json_array",
        "json_object",
        "json_group_array",
        "json_group_object",
        "json_set",
        "json_insert",
        "json_replace",
        "json_remove",
        "json_patch",
        "json_quote",
        "json_array_insert",
    }
)
"""Functions whose result is always JSON text carrying the JSON subtype (a one-path
json_extract is JSON only for an array or an object; `->>` never)."""

_AFTER_RESULT = {"FROM", "WHERE", "GROUP BY", "HAVING", "WINDOW", "ORDER BY", "LIMIT", "AS"}


@dataclass(frozen=True)
class LimitedDml:
    """An UPDATE or DELETE with ORDER BY / LIMIT taken apart (offsets into its text)."""

    target: str
    """The table as written after FROM or UPDATE [OR …], with its alias and INDEXED BY."""
    head_end: int
    """Where the statement's WHERE (or, without one, its ORDER BY / LIMIT) begins."""
    where: str | None
    order_limit: str
    returning: str
    source: str | None = None
    """An UPDATE … FROM's FROM clause (its tables and joins), or None."""
    qualifier: str = ""
    """How an UPDATE … FROM names its own table (its alias, else its name)."""


def limited_dml(sql: str) -> LimitedDml | None:
    """The parts of `DELETE … [ORDER BY …] LIMIT …` or `UPDATE … [FROM …] [ORDER BY …]
    LIMIT …` that the rewrite needs, as offsets into `without_comments(sql)`; None for any
    other statement."""
    text = _bare(sql)
    try:
        toks = [t for t in tokenize(text) if t.type != TokenType.SEMICOLON]
    except SqlTokenError:
        return None
    words = list(top_level(toks))
    verb = next(
        ((i, w) for i, w in words if w in ("DELETE", "UPDATE", "SELECT", "INSERT", "REPLACE")),
        None,
    )
    if verb is None or verb[1] not in ("DELETE", "UPDATE"):
        return None  # an upsert's DO UPDATE is no UPDATE of its own
    at = {w: i for i, w in words if i > verb[0] and w in ("WHERE", "RETURNING", "ORDER BY")}
    limit = next((i for i, w in words if i > verb[0] and w == "LIMIT"), None)
    if limit is None:
        return None
    if "RETURNING" in at and at["RETURNING"] > min(at.get("ORDER BY", limit), limit):
        return None  # D1's grammar wants RETURNING before ORDER BY and LIMIT: its error stays
    if verb[1] == "DELETE":
        start = verb[0] + 1
        if toks[start].word != "FROM":
            return None
        start += 1
        end_words = ("WHERE", "RETURNING", "ORDER BY", "LIMIT")
    else:
        start = verb[0] + 1
        if toks[start].word == "OR":
            start += 2
        end_words = ("SET",)
    stop = next(i for i, w in words if i >= start and w in end_words)
    target = text[toks[start].start : toks[stop - 1].end]
    clause_starts = sorted(i for i in (*at.values(), limit))
    head_end = toks[clause_starts[0]].start
    source, qualifier = None, ""
    from_at = next((i for i, w in words if i > stop and w == "FROM"), None)
    if verb[1] == "UPDATE" and from_at is not None and from_at < clause_starts[0]:
        source = text[toks[from_at].end : head_end].strip()
        named = toks[start:stop]
        alias = next((j for j, t in enumerate(named[:-1]) if t.word == "AS"), None)
        qualifier = named[alias + 1].text if alias is not None else (_table_name(target) or "")

    def clause(i: int | None) -> str:
        if i is None:
            return ""
        later = [j for j in clause_starts if j > i]
        end = toks[later[0]].start if later else len(text)
        return text[toks[i].start : end].strip()

    where = clause(at.get("WHERE"))
    order = clause(at.get("ORDER BY"))
    return LimitedDml(
        target=target,
        head_end=head_end,
        where=where[len("WHERE") :].strip() if where else None,
        order_limit=f"{order} {clause(limit)}".strip(),
        returning=clause(at.get("RETURNING")),
        source=source,
        qualifier=qualifier,
    )


def limit_as_subquery(sql: str, identity: list[str]) -> str | None:
    """`sql` (an UPDATE or DELETE with LIMIT) as SQLite runs it inside: its rows chosen by a
    subquery on `identity` (["rowid"], or a WITHOUT ROWID table's primary key); None when
    `sql` is no such statement."""
    parts = limited_dml(sql)
    return None if parts is None else _limited_rewrite(sql, parts, identity)


def _limited_rewrite(sql: str, parts: LimitedDml, identity: list[str]) -> str:
    own = f"{quote_ident(parts.qualifier)}." if parts.source is not None else ""
    row = ", ".join(own + (c if c.lower() in ROWID_NAMES else quote_ident(c)) for c in identity)
    key = row if len(identity) == 1 else f"({row})"
    where = f" WHERE {parts.where}" if parts.where is not None else ""
    text = _bare(sql)
    if parts.source is None:
        rewritten = (
            f"{text[: parts.head_end].rstrip()} WHERE {key} IN "
            f"(SELECT {row} FROM {parts.target}{where} {parts.order_limit})"
        )
    else:  # UPDATE … FROM: the LIMIT counts joined rows; the join stays for the SET's values
        still = f"({parts.where}) AND " if parts.where is not None else ""
        rewritten = (
            f"{text[: parts.head_end].rstrip()} WHERE {still}{key} IN "
            f"(SELECT {row} FROM {parts.target}, {parts.source}{where} {parts.order_limit})"
        )
    return f"{rewritten} {parts.returning}".rstrip()


def _bare(sql: str) -> str:
    """`sql` without comments and its final `;`: clauses cut from it and put back in another
    order can never end up inside a `--` comment (which would swallow the WHERE that follows)."""
    try:
        return without_comments(sql).rstrip().rstrip(";").rstrip()
    except SqlTokenError:
        return sql.rstrip().rstrip(";").rstrip()


def json_subqueries_wrapped(sql: str) -> str:
    """`sql` with each scalar subquery whose value is JSON in D1 made JSON here too: wrapped in
    `json(…)` when it returns a JSON function's result or `->`'s (so that the value keeps its
    JSON subtype where it goes on to a function's argument, a CASE or a coalesce; elsewhere
    the wrap changes nothing); when it returns `json_extract(X, P)` (JSON for an array or an
    object only) and is a value a JSON function inserts, that call is made to return JSON
    text in every case (`json_quote` for a scalar) and the subquery wrapped."""
    try:
        toks = tokenize(sql)
    except SqlTokenError:
        return sql
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), never overlapping
    for i, t in enumerate(toks):
        if t.word != "SELECT" or i < 2 or toks[i - 1].type != TokenType.L_PAREN:
            continue
        opening = i - 1
        if not _is_scalar(toks, opening):
            continue
        closing = _matching(toks, opening)
        if closing is None:
            continue
        kind, call = _result_json(toks, i + 1, closing)
        if kind == "maybe" and _json_value_argument(toks, opening):
            call_end = _matching(toks, call + 1) or call
            begin, end = toks[call].start, toks[call_end].end
            extract = sql[begin:end]
            arguments = sql[toks[call + 1].end : toks[call_end].start]
            inner = (
                f"CASE WHEN json_type({arguments}) IN ('array', 'object') THEN {extract} "
                f"ELSE json_quote({extract}) END"
            )
            edits += [
                (toks[opening].start, toks[opening].start, "json("),
                (begin, end, inner),
                (toks[closing].end, toks[closing].end, ")"),
            ]
        elif kind == "json":
            edits += [
                (toks[opening].start, toks[opening].start, "json("),
                (toks[closing].end, toks[closing].end, ")"),
            ]
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        sql = f"{sql[:start]}{text}{sql[end:]}"
    return sql


_NOT_SCALAR = {"FROM", "IN", "EXISTS", "AS", "MATERIALIZED", "INTO", "UNION", "INTERSECT", "EXCEPT"}
_CLAUSES = {
    "FROM",
    "SELECT",
    "SET",
    "WHERE",
    "ON",
    "USING",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "VALUES",
    "RETURNING",
    "WINDOW",
    "LIMIT",
}


def _is_scalar(toks: list[Token], opening: int) -> bool:
    """Whether the parenthesised SELECT at `opening` is a scalar subquery (a value), not a
    table (FROM, JOIN, a FROM list), a list (IN, EXISTS) or a CTE's body."""
    before = toks[opening - 1]
    if before.word in _NOT_SCALAR or before.word.endswith("JOIN"):
        return False
    if before.type != TokenType.COMMA:
        return True
    depth = 0
    for j in range(opening - 2, -1, -1):  # the clause this comma's list belongs to
        t = toks[j]
        if t.type == TokenType.R_PAREN:
            depth += 1
        elif t.type == TokenType.L_PAREN:
            if depth == 0:
                return True  # an argument list or a row value
            depth -= 1
        elif depth == 0 and (t.word in _CLAUSES or t.word.endswith("JOIN")):
            return t.word != "FROM" and not t.word.endswith("JOIN")
    return True


def _matching(toks: list[Token], opening: int) -> int | None:
    depth = 0
    for j in range(opening, len(toks)):
        if toks[j].type == TokenType.L_PAREN:
            depth += 1
        elif toks[j].type == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return j
    return None


def _result_json(toks: list[Token], first: int, closing: int) -> tuple[str, int]:
    """Whether the subquery's tokens from `first` (after SELECT) to `closing` select JSON:
    ("json", call) for one call of a JSON-returning function, of json_extract with several
    paths, or one `->`; ("maybe", call) for json_extract with one path (JSON for an array or
    an object); ("", -1) otherwise."""
    i = first
    if toks[i].word in ("DISTINCT", "ALL"):
        i += 1
    end = next(
        (j for j, w in top_level(toks[:closing], i) if w in _AFTER_RESULT or w == ","),
        closing,
    )
    if end < closing and toks[end].word == ",":
        return "", -1
    depth_zero = _at_depth_zero(toks, i, end)
    arrows = [j for j in depth_zero if toks[j].type == TokenType.ARROW]
    if len(arrows) == 1 and all(
        toks[j].type in _OPERAND_TOKENS for j in depth_zero if j != arrows[0]
    ):
        return "json", i
    name = toks[i].text.lower() if toks[i].word else ""
    if i + 1 >= end or toks[i + 1].type != TokenType.L_PAREN:
        return "", -1
    call_end = _matching(toks, i + 1)
    if call_end is None or call_end + 1 != end:
        return "", -1
    if name in JSON_RESULT_FUNCTIONS:
        return "json", i
    if name == "json_extract":
        commas = sum(
            1 for j in _at_depth_zero(toks, i + 2, call_end) if toks[j].type == TokenType.COMMA
        )
        return ("json" if commas >= 2 else "maybe"), i
    return "", -1


_OPERAND_TOKENS = {
    TokenType.VAR,
    TokenType.IDENTIFIER,
    TokenType.STRING,
    TokenType.NUMBER,
    TokenType.DOT,
    TokenType.L_PAREN,
    TokenType.R_PAREN,
}


def _at_depth_zero(toks: list[Token], start: int, end: int) -> list[int]:
    """The indexes from `start` to `end` of tokens outside any parenthesis opened from
    `start` on (an opening parenthesis among them; its closing one is inside)."""
    found, depth = [], 0
    for j in range(start, end):
        if depth == 0:
            found.append(j)
        if toks[j].type == TokenType.L_PAREN:
            depth += 1
        elif toks[j].type == TokenType.R_PAREN:
            depth -= 1
    return found


_VALUE_ARGUMENTS = {
    "json_set": "even",
    "json_insert": "even",
    "json_replace": "even",
    "jsonb_set": "even",
    "jsonb_insert": "even",
    "jsonb_replace": "even",
    "json_object": "odd",
    "jsonb_object": "odd",
    "json_array": "all",
    "jsonb_array": "all",
    "json_group_array": "all",
    "jsonb_group_array": "all",
    "json_group_object": "odd",
    "jsonb_group_object": "odd",
}
"""JSON functions that insert a value as JSON when it carries the subtype, and which of their
arguments (0-based) are such values: json_set's 2, 4, …; json_object's 1, 3, …."""


def _json_value_argument(toks: list[Token], opening: int) -> bool:
    """Whether the parenthesis at `opening` stands as a value a JSON function inserts."""
    before = toks[opening - 1]
    if before.type not in (TokenType.COMMA, TokenType.L_PAREN):
        return False
    depth, position, call = 0, 0, None
    for j in range(opening - 1, -1, -1):
        t = toks[j]
        if t.type == TokenType.R_PAREN:
            depth += 1
        elif t.type == TokenType.L_PAREN:
            if depth == 0:
                call = j
                break
            depth -= 1
        elif t.type == TokenType.COMMA and depth == 0:
            position += 1
    if call is None or call == 0 or not toks[call - 1].word:
        return False
    rule = _VALUE_ARGUMENTS.get(toks[call - 1].text.lower())
    if rule == "all":
        return True
    if rule == "even":
        return position >= 2 and position % 2 == 0
    return rule == "odd" and position % 2 == 1


_MAY_WRAP = re.compile(r"\(\s*select\b", re.IGNORECASE)
_MAY_LIMIT = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(?:with|update|delete)\b", re.I | re.S)
"""A statement that may be an UPDATE or DELETE (after comments, or a WITH)."""


def as_d1_runs(sql: str, identity: Callable[[str], list[str] | None]) -> str:
    """`sql` rewritten so that d1nb's SQLite does what D1's does with it (the same text when
    nothing differs). `identity(table)` gives the columns naming a row of `table` (None when
    there is no such table: the statement is left to fail as it would)."""
    # cheap looks first: a file of seed INSERTs (a dump's megabyte runs, too) is tokenized
    # only when it holds a parenthesised SELECT near a JSON function, or DML with a LIMIT
    wrapped = (
        json_subqueries_wrapped(sql) if _MAY_WRAP.search(sql) and "json" in sql.lower() else sql
    )
    if not _MAY_LIMIT.match(sql) or "limit" not in sql.lower():
        return wrapped
    parts = limited_dml(wrapped)
    if parts is None:
        return wrapped
    name = _table_name(parts.target)
    row = identity(name) if name else None
    return _limited_rewrite(wrapped, parts, row) if row else wrapped


def _table_name(target: str) -> str | None:
    toks = tokenize(target)
    if not toks:
        return None
    if len(toks) >= 3 and toks[1].type == TokenType.DOT:
        return toks[2].text
    return toks[0].text


LIMIT_NOTE = (
    "D1's SQLite is built with UPDATE/DELETE … LIMIT; d1nb's runs the statement as SQLite does "
    "inside (its rows chosen by a subquery with that ORDER BY and LIMIT): the rows it changes "
    "are those D1 changes"
)
LIMIT_FROM_NOTE = (
    "; for an UPDATE … FROM its rows read are an estimate, well over D1's (SQLite limits the "
    "joined rows itself; `exact_metering` measures them)"
)
JSON_NOTE = (
    "a JSON function's result passed through a scalar subquery keeps its JSON subtype in D1 "
    "(stored as JSON, not as a string); d1nb's SQLite would drop it, so d1nb runs the subquery "
    "wrapped in json(…)"
)


STORED_JSON_NOTE = (
    "{what} passes JSON built in a scalar subquery to a JSON function: D1 keeps it JSON, "
    "d1nb's SQLite makes it a string, and its text is kept as written, so what it yields "
    "in this replay may differ from D1's there (JSON stored as a quoted string)"
)


def stored_differences(kind: str, sql: str) -> list[str]:
    """What D1's build does differently with a trigger or view that `sql` creates: its body
    runs as stored, so d1nb cannot run it as D1's build does (a note, not a rewrite)."""
    if kind not in ("create_trigger", "create_view") or "select" not in sql.lower():
        return []
    if json_subqueries_wrapped(sql) == sql:
        return []
    return [
        STORED_JSON_NOTE.format(what="this trigger" if kind == "create_trigger" else "this view")
    ]


_EVENTS = {"insert": "INSERT", "insert_select": "INSERT", "update": "UPDATE", "delete": "DELETE"}


def fired_differences(kind: str, sql: str, triggers: list[tuple[str, str]]) -> list[str]:
    """Notes for the triggers of its table (name, CREATE TRIGGER) that a statement fires and
    whose bodies D1's build runs differently (`stored_differences`): the file that created
    them is long applied, and the difference shows where they fire."""
    event = _EVENTS.get(kind)
    if event is None:
        return []
    written: set[str] | None = None  # the statement tokenized only when a trigger needs it
    notes = []
    for name, text in triggers:
        differs = _trigger_differences(text)
        parts = trigger_parts(text) if differs else None
        if parts is None or parts.event != event:
            continue
        if parts.columns:
            if written is None:
                written = {c.lower() for c in written_columns(sql) or []}
            if not {c.lower() for c in parts.columns} & written:
                continue
        notes += [
            f"fires trigger {name}, which " + n.removeprefix("this trigger ") for n in differs
        ]
    return notes


@functools.lru_cache(maxsize=1024)
def _trigger_differences(text: str) -> tuple[str, ...]:
    """`stored_differences` of a CREATE TRIGGER, kept per text: asked at every firing."""
    return tuple(stored_differences("create_trigger", text))


def differences(written: str) -> list[str]:
    """What D1's build does differently with `written`, for a note beside its outcome."""
    notes = []
    limited = limited_dml(written)
    if limited is not None:
        notes.append(LIMIT_NOTE + (LIMIT_FROM_NOTE if limited.source is not None else ""))
    if "select" in written.lower() and json_subqueries_wrapped(written) != written:
        notes.append(JSON_NOTE)
    return notes
