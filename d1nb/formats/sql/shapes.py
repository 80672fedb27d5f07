"""The structure of one statement, from its tokens: its kind, target and flags (classify), the
columns it writes, its WHERE and the condition a batch adds to it, CHECK constraints, the
column an ADD COLUMN adds, a CREATE TABLE's columns, IN-lists, an INSERT … SELECT's parts."""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from d1nb.formats.sql.text import (
    TOKENIZER,
    Token,
    quote_ident,
    split_statements,
    tokenize,
    top_level,
    without_comments,
)

_LEADING_REPLACE = re.compile(r"^\s*REPLACE\s+INTO\b", re.I)
_DO_UPDATE = re.compile(r"\bDO\s+UPDATE\b", re.I)  # an upsert: its tail matters too


# -- classification ---------------------------------------------------------------------------
def _name_at(toks: list[Token], i: int) -> tuple[str | None, int]:
    """A possibly schema-qualified name starting at toks[i]: (last part, index after it)."""
    if i >= len(toks):
        return None, i
    name = toks[i].text
    i += 1
    while i + 1 < len(toks) and toks[i].type == TokenType.DOT:
        name = toks[i + 1].text
        i += 2
    return name, i


def _skip_if(toks: list[Token], i: int, *words: str) -> tuple[bool, int]:
    n = len(words)
    if [t.word for t in toks[i : i + n]] == list(words):
        return True, i + n
    return False, i


def is_constant_default(text: str) -> bool:
    """Whether a column default (as PRAGMA table_info gives it) is one ADD COLUMN accepts on a
    populated table: a literal, a signed number, or a literal in parentheses."""
    try:
        return _is_constant_default(tokenize(text))
    except TokenError:
        return False


def _is_constant_default(toks: list[Token]) -> bool:
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


def _column_def_flags(toks: list[Token]) -> list[str]:
    """Flags of a column definition (ADD COLUMN): not_null, default, non_constant_default, …"""
    flags = []
    words = [w for _, w in top_level(toks)]
    if "NOT" in words and "NULL" in words[words.index("NOT") :]:
        flags.append("not_null")
    if "DEFAULT" in words:
        flags.append("default")
        i = next(i for i, w in top_level(toks) if w == "DEFAULT") + 1
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
    if "UNIQUE" in words or "PRIMARY KEY" in words:
        flags.append("unique")
    return flags


def _where_at_top(toks: list[Token], start: int) -> bool:
    return any(w == "WHERE" for _, w in top_level(toks, start))


_INSERT = re.compile(r"\s*(?:INSERT|REPLACE)\b", re.I)


_VALUES = re.compile(r"\bVALUES\b", re.I)


def _statement_tokens(sql: str) -> list[Token]:
    """The tokens of a statement, without its `;`. For an INSERT … VALUES (seed data), only
    the tokens up to VALUES: kind, target and columns are all in its head, and the tokens of
    its values are most of the work of tokenizing (so a file of seed data costs time in
    proportion to its statements, not its bytes). A leading REPLACE reads as INSERT OR
    REPLACE (sqlglot takes it for an opaque command); token offsets then count from that."""
    if _LEADING_REPLACE.match(sql):
        sql = "INSERT OR " + sql.lstrip()
    if len(sql) > 256 and _INSERT.match(sql) and not _DO_UPDATE.search(sql):
        values = _VALUES.search(sql)
        if values is not None:
            try:  # the head ends at that VALUES only if it is the statement's own keyword
                head = tokenize(sql[: values.end()])
            except TokenError:
                head = []
            words = list(top_level(head))
            if words and words[-1] == (len(head) - 1, "VALUES"):
                return head
    return [t for t in tokenize(sql) if t.type != TokenType.SEMICOLON]


def classify(sql: str) -> tuple[str, str | None, tuple[str, ...], str]:
    """(kind, target table, flags, detail) of one statement."""
    try:
        toks = _statement_tokens(sql)
    except TokenError:
        return "other", None, ("untokenizable",), ""
    if not toks:
        return "empty", None, (), ""
    head = toks[0].word
    flags: list[str] = []
    if head == "WITH":  # skip the CTEs to the statement they feed
        for i, w in top_level(toks, 1):
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
            tail = [w for _, w in top_level(toks, i)]
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
            on = next((j for j, w in top_level(toks, i) if w == "ON"), None)
            table = _name_at(toks, on + 1)[0] if on is not None else None
            if _where_at_top(toks, i):
                flags.append("partial")
            return "create_index", table, tuple(flags), name or ""
        if what == "VIEW":
            return "create_view", name, tuple(flags), ""
        if what == "TRIGGER":
            on = next((j for j, w in top_level(toks, i) if w == "ON"), None)
            table = _name_at(toks, on + 1)[0] if on is not None else None
            if on is not None and "INSTEAD" in (w for j, w in top_level(toks, i) if j < on):
                flags.append("instead_of")
            return "create_trigger", table, tuple(flags), name or ""
        if what == "VIRTUAL TABLE":
            using = next((j for j, w in top_level(toks, i) if w == "USING"), None)
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
        words = [w for _, w in top_level(toks, i)]
        kind = "insert_select" if "SELECT" in words and "VALUES" not in words else "insert"
        if "DEFAULT" in words and "VALUES" in words:
            kind = "insert"
        if ("DO", "UPDATE") in itertools.pairwise(words):
            flags.append("upsert")
        elif ("DO", "NOTHING") in itertools.pairwise(words):
            flags.append("do_nothing")  # ON CONFLICT … DO NOTHING: INSERT OR IGNORE's reads
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
    if head == "ANALYZE":  # of the whole database, or of one table (or schema, or index)
        return "other", _name_at(toks, 1)[0] if len(toks) > 1 else None, (), head
    if head in ("ATTACH", "DETACH", "VACUUM", "REINDEX"):
        return "other", None, (), head
    return "other", None, tuple(flags), head


_PRAGMA_TRUE = {"1", "on", "true", "yes"}
_PRAGMA_FALSE = {"0", "off", "false", "no"}


def pragma_switch(detail: str, name: str) -> bool | None:
    """What a PRAGMA statement (its `classify` detail, `name=value`) sets the boolean pragma
    `name` to, as SQLite reads the value (on/off, true/false, yes/no, 1/0, quoted or not);
    None when it sets something else or only asks."""
    key, _, value = detail.partition("=")
    if key != name.lower():
        return None
    value = value.strip().strip("'\"").lower()
    return True if value in _PRAGMA_TRUE else False if value in _PRAGMA_FALSE else None


def _set_targets(toks: list[Token], after_set: int) -> list[str]:
    """The columns a SET list (its tokens from `after_set` on) assigns, as written."""
    segments: list[list[Token]] = [[]]
    depth = 0
    for t in toks[after_set:]:
        if depth == 0 and t.word in ("WHERE", "FROM", "RETURNING", "ORDER BY", "LIMIT"):
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


def _dml_head(words: list[tuple[int, str]]) -> str | None:
    """INSERT, REPLACE or UPDATE: what a statement (after its CTEs) does, else None."""
    return next((w for _, w in words if w in ("INSERT", "REPLACE", "UPDATE")), None)


def written_columns(sql: str) -> list[str] | None:
    """Columns an UPDATE sets, or an INSERT names; None when an INSERT names none (all).

    The D1 meter uses them: an UPDATE rewrites the index entries of the columns it sets, and
    an INSERT that names the rowid column seeks it first. An upsert's DO UPDATE SET list is
    `conflict_update_columns`.
    """
    try:
        toks = _statement_tokens(sql)
    except TokenError:
        return []
    words = list(top_level(toks))
    head = _dml_head(words)
    if head == "UPDATE":
        at_set = next((i for i, w in words if w == "SET"), None)
        return _set_targets(toks, at_set + 1) if at_set is not None else []
    if head in ("INSERT", "REPLACE"):
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


def conflict_update_columns(sql: str) -> list[str]:
    """The columns an INSERT's `ON CONFLICT … DO UPDATE SET` clauses assign; [] for any
    other statement."""
    try:
        toks = _statement_tokens(sql)
    except TokenError:
        return []
    words = list(top_level(toks))
    if _dml_head(words) not in ("INSERT", "REPLACE"):
        return []
    columns: list[str] = []
    for (_, a), (_, b), (k, c) in zip(words, words[1:], words[2:], strict=False):
        if (a, b, c) == ("DO", "UPDATE", "SET"):
            columns += [col for col in _set_targets(toks, k + 1) if col not in columns]
    return columns


def check_constraints(create_sql: str) -> list[tuple[str | None, str]]:
    """The CHECK constraints of a CREATE TABLE: (column, or None for a table constraint, the
    expression's text as written), so they can be re-evaluated against stored data."""
    try:
        create_sql = without_comments(create_sql)
        raw = TOKENIZER.tokenize(create_sql)
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


_TABLE_CONSTRAINT_WORDS = {"CONSTRAINT", "CHECK", "PRIMARY KEY", "UNIQUE", "FOREIGN KEY"}


@dataclass(frozen=True)
class DmlCondition:
    """An UPDATE or DELETE taken apart at its WHERE, comments removed."""

    head: str
    """The statement up to its top-level WHERE (the whole statement when there is none)."""
    condition: str | None
    """The WHERE condition, or None when the statement has no WHERE."""
    trailing: tuple[str, ...]
    """Top-level clauses after the target that a batch cannot keep (RETURNING, ORDER, LIMIT)."""


def dml_condition(sql: str) -> DmlCondition:
    """Split an UPDATE or DELETE at its top-level WHERE; raises SqlTokenError."""
    text = without_comments(sql).rstrip().rstrip(";").rstrip()
    toks = tokenize(text)
    words = list(top_level(toks, 1))
    trailing = tuple(dict.fromkeys(w for _, w in words if w in ("RETURNING", "ORDER BY", "LIMIT")))
    where = next((i for i, w in words if w == "WHERE"), None)
    if where is None:
        return DmlCondition(text, None, trailing)
    return DmlCondition(
        text[: toks[where].start].rstrip(), text[toks[where].end :].strip(), trailing
    )


def with_condition(select: str, condition: str) -> str:
    """A SELECT with `condition` added to its top-level WHERE (or given one), comments removed.

    The condition goes before a top-level GROUP BY, HAVING, WINDOW, ORDER BY or LIMIT."""
    text = without_comments(select).rstrip().rstrip(";").rstrip()
    toks = tokenize(text)
    words = list(top_level(toks))
    where = next((i for i, w in words if w == "WHERE"), None)
    after = where if where is not None else 0
    stop = next(
        (
            toks[i].start
            for i, w in words
            if i > after and w in ("GROUP BY", "HAVING", "WINDOW", "ORDER BY", "LIMIT")
        ),
        len(text),
    )
    rest = f" {text[stop:]}" if stop < len(text) else ""
    if where is None:
        return f"{text[:stop].rstrip()} WHERE {condition}{rest}"
    existing = text[toks[where].end : stop].strip()
    return f"{text[: toks[where].start]}WHERE ({existing}) AND {condition}{rest}"


def create_as_parts(sql: str) -> tuple[str, str] | None:
    """For CREATE TABLE … AS SELECT: (the table's name as written, the SELECT's text), the
    parts of the INSERT … SELECT it amounts to (D1 meters it as one: docs/metering.md);
    None for any other statement."""
    try:
        toks = tokenize(without_comments(sql).rstrip().rstrip(";").rstrip())
    except TokenError:
        return None
    words = [t.word for t in toks[:8]]
    if len(words) < 4 or words[0] != "CREATE" or "TABLE" not in words[1:3]:
        return None
    i = words.index("TABLE") + 1
    _found, i = _skip_if(toks, i, "IF", "NOT", "EXISTS")
    start = i
    _name, i = _name_at(toks, i)
    if i >= len(toks) or toks[i].word != "AS":
        return None
    text = without_comments(sql).rstrip().rstrip(";").rstrip()
    return text[toks[start].start : toks[i - 1].end], text[toks[i].end :].strip()


def top_level_offset(sql: str, word: str) -> int | None:
    """Offset of the first top-level token `word` (upper case) in `sql`, or None."""
    toks = tokenize(sql)
    return next((toks[i].start for i, w in top_level(toks) if w == word), None)


def index_keys(create_index_sql: str) -> list[str] | None:
    """The key expressions of a CREATE INDEX, as SQLite can evaluate them over the table's
    rows (`lower(slug)`; a COLLATE or ASC/DESC left out); None for text sqlglot cannot read."""
    tree = _tree(create_index_sql)
    index = tree.this if isinstance(tree, exp.Create) else None
    params = index.args.get("params") if isinstance(index, exp.Index) else None
    columns = params.args.get("columns") if params is not None else None
    if not columns:
        return None
    keys = []
    for column in columns:
        key = column.this if isinstance(column, exp.Ordered) else column
        key = key.this if isinstance(key, exp.Collate) else key
        keys.append(key.sql(dialect="sqlite"))
    return keys


def index_where(create_index_sql: str) -> str | None:
    """The WHERE condition of a partial index, comments removed; None for a full index."""
    text = without_comments(create_index_sql).rstrip().rstrip(";").rstrip()
    toks = tokenize(text)
    where = next((i for i, w in top_level(toks) if w == "WHERE"), None)
    return text[toks[where].end :].strip() if where is not None else None


def selects_before_where(sql: str) -> int | None:
    """For an UPDATE: how many SELECTs its text holds before its WHERE (its WITH, SET and
    FROM): SQLite numbers them first, so a correlated subquery of a higher number lies in
    the WHERE. None for any other statement, or text sqlglot cannot read."""
    tree = _tree(sql)
    if not isinstance(tree, exp.Update):
        return None
    where = _arg(tree, "where")
    inside = {id(n) for n in where.find_all(exp.Select)} if where is not None else set()
    return sum(1 for n in tree.find_all(exp.Select) if id(n) not in inside)


def holds_for_any_value(where: str, column: str) -> bool:
    """Whether a partial index's WHERE is `column IS NOT NULL` (`NOT NULL`, `NOTNULL`): every
    search for an equal value of `column` then implies it, so SQLite may search the index
    (a foreign key's look-up of its children does)."""
    try:
        tree = sqlglot.parse_one(without_comments(where), read="sqlite")
    except (sqlglot.errors.ParseError, TokenError):
        return False
    while isinstance(tree, exp.Paren):
        tree = tree.this
    inner = tree.this if isinstance(tree, exp.Not) else None
    return (
        isinstance(inner, exp.Is)
        and isinstance(inner.expression, exp.Null)
        and isinstance(inner.this, exp.Column)
        and not inner.this.table
        and inner.this.name.lower() == column.lower()
    )


_END_NOT_IN_CAPITALS = re.compile(r"\b(?!END\b)[eE][nN][dD]\b")


def lowercase_compound_end(sql: str) -> bool:
    """Whether a statement opens a BEGIN … END or CASE … END block and writes an END of it
    other than in capitals (`end`, `End`). wrangler before 4.124 matched BEGIN and CASE in any
    case but END only in capitals (workers-sdk #15046), so such a block never closed for it."""
    if not _END_NOT_IN_CAPITALS.search(sql):
        return False
    lowered = sql.lower()
    if "case" not in lowered and "begin" not in lowered:
        return False
    try:
        toks = tokenize(sql)
    except TokenError:
        return False
    words = [t.word for t in toks]
    if "CASE" not in words and "BEGIN" not in words:
        return False
    return any(t.word == "END" and sql[t.start : t.end] != "END" for t in toks)


def schema_row(sql: str) -> dict[str, str] | None:
    """The row an `INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql) VALUES(…)` writes,
    as sqlite3's `.dump` (and `wrangler d1 export --compatibility sqlite3_cli_only`) declares a
    virtual table: column → value as text; None for any other statement."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return None
    words = [t.word for t in toks[:3]]
    if words[:2] != ["INSERT", "INTO"] or toks[2].text.lower() not in (
        "sqlite_schema",
        "sqlite_master",
    ):
        return None
    at = next((i for i, t in enumerate(toks) if t.word == "VALUES"), None)
    if at is None or toks[3].type != TokenType.L_PAREN:
        return None
    columns = [t.text.lower() for t in toks[4 : _group_end(toks, 3)] if t.type != TokenType.COMMA]
    values = [t.text for t in toks[at + 2 : _group_end(toks, at + 1)] if t.type != TokenType.COMMA]
    return dict(zip(columns, values, strict=False)) if len(columns) == len(values) else None


def names_in(sql: str) -> set[str]:
    """Every bare word and quoted name of a statement, lower-cased: the tables it can name
    (an EXPLAIN QUERY PLAN line on a table the statement does not name comes from a
    foreign-key check)."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return set()
    return {
        t.text.lower()
        for t in toks
        if t.type in (TokenType.IDENTIFIER, TokenType.VAR) or (t.word and t.word.isidentifier())
    }


def in_list_values(sql: str) -> int:
    """How many values the IN (…) lists of a statement hold (each is one index probe); IN with
    a subquery counts none."""
    return sum(in_lists(sql))


def in_lists(sql: str) -> list[int]:
    """The values of each IN (…) list of a statement, in order; IN with a subquery is none of
    them."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return []
    lists = []
    for i, t in enumerate(toks[:-1]):
        if t.word != "IN" or toks[i + 1].type != TokenType.L_PAREN:
            continue
        if i + 2 < len(toks) and toks[i + 2].word in ("SELECT", "WITH", "VALUES"):
            continue
        depth, values = 0, 0
        for u in toks[i + 1 :]:
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(u.type, 0)
            if depth == 0:
                break
            if depth == 1 and u.type == TokenType.COMMA:
                values += 1
        empty = toks[i + 2].type == TokenType.R_PAREN if i + 2 < len(toks) else True
        lists.append(0 if empty else values + 1)
    return lists


def _group_end(toks: list[Token], i: int) -> int:
    """Index of the `)` that closes the `(` at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(toks[j].type, 0)
        if depth == 0:
            return j
    return len(toks) - 1


@dataclass(frozen=True)
class AddedColumn:
    """The column an ALTER TABLE … ADD COLUMN defines: its name, default and CHECKs as text."""

    name: str
    default: str | None
    checks: tuple[str, ...]


def added_column(sql: str) -> AddedColumn | None:
    """Take apart the column definition of an ADD COLUMN statement (None for anything else)."""
    try:
        text = without_comments(sql).rstrip().rstrip(";").rstrip()
        toks = tokenize(text)
    except TokenError:
        return None
    words = [t.word for t in toks]
    if words[:2] != ["ALTER", "TABLE"] or "ADD" not in words:
        return None
    i = words.index("ADD") + 1
    i += words[i : i + 1] == ["COLUMN"]
    if i >= len(toks):
        return None
    name, default, checks = toks[i].text, None, []
    for j, word in top_level(toks, i + 1):
        if word == "DEFAULT" and j + 1 < len(toks):
            k = j + 1
            if toks[k].type == TokenType.L_PAREN:
                k = _group_end(toks, k)
            elif toks[k].type in (TokenType.PLUS, TokenType.DASH) and k + 1 < len(toks):
                k += 1
            default = text[toks[j + 1].start : toks[k].end]
        elif word == "CHECK" and j + 1 < len(toks) and toks[j + 1].type == TokenType.L_PAREN:
            close = _group_end(toks, j + 1)
            checks.append(text[toks[j + 1].end : toks[close].start].strip())
    return AddedColumn(name, default, tuple(checks))


def table_columns(create_sql: str) -> list[str]:
    """The column names a CREATE TABLE (…) defines, in order; [] for CREATE TABLE … AS."""
    try:
        toks = tokenize(without_comments(create_sql))
    except TokenError:
        return []
    start = next((i for i, t in enumerate(toks) if t.type == TokenType.L_PAREN), None)
    if start is None:
        return []
    columns, first = [], True
    end = _group_end(toks, start)
    for i, word in top_level(toks[:end], start + 1):
        if first and word not in _TABLE_CONSTRAINT_WORDS:
            columns.append(toks[i].text)
        first = word == ","
    return columns


def table_parts(create_sql: str) -> list[str]:
    """The column definitions and table constraints of a CREATE TABLE (…), each on one line,
    then its options after the closing parenthesis (STRICT, WITHOUT ROWID); [] for anything
    else. What two versions of a table differ in."""
    text = without_comments(create_sql).rstrip().rstrip(";")
    try:
        toks = tokenize(text)
    except TokenError:
        return []
    start = next((i for i, t in enumerate(toks) if t.type == TokenType.L_PAREN), None)
    if start is None:
        return []
    end = _group_end(toks, start)
    cuts = [start] + [i for i, word in top_level(toks[:end], start + 1) if word == ","] + [end]
    parts = [
        " ".join(text[toks[a].end : toks[b].start].split()) for a, b in itertools.pairwise(cuts)
    ]
    options = " ".join(text[toks[end].end :].split())
    return parts + ([options] if options else [])


def part_key(part: str) -> tuple[str, ...]:
    """One of `table_parts` as SQLite reads it: names in any quotes and any case, keywords and
    types in any case, are the same definition (`id` integer and id INTEGER)."""
    try:
        toks = tokenize(part)
    except TokenError:
        return (part,)
    return tuple(
        "'" + t.text
        if t.type == TokenType.STRING
        else t.text.upper()
        if t.type == TokenType.IDENTIFIER
        else t.word or t.text
        for t in toks
    )


def column_name_as_written(create_sql: str, position: int) -> str | None:
    """The name of the column declared at `position` of a CREATE TABLE as its text spells it
    (quotes and all: a RENAME COLUMN back to it writes the definition as it was)."""
    parts = table_parts(create_sql)
    if position >= len(parts):
        return None
    toks = tokenize(parts[position])
    return parts[position][toks[0].start : toks[0].end] if toks else None


def addable_column(create_sql: str, position: int, default: str | None) -> str | None:
    """The definition of the column declared at `position` of a CREATE TABLE, as written, when
    ALTER TABLE ADD COLUMN takes it on a populated table, else None: a VIRTUAL generated
    column, or an ordinary one without PRIMARY KEY or UNIQUE whose `default` (as PRAGMA
    table_info gives it) is absent or constant, with one when NOT NULL, and NULL when it
    REFERENCES a table. Written back as written, the table's definition is the export's."""
    parts = table_parts(create_sql)
    if position >= len(parts):
        return None
    toks = tokenize(parts[position])
    words = [w for _, w in top_level(toks)]
    if "AS" in words:
        return None if "STORED" in words else parts[position]
    if "PRIMARY" in words or "UNIQUE" in words:
        return None
    if default is None:
        return None if "NOT" in words and "NULL" in words else parts[position]
    if not is_constant_default(default):
        return None
    if "REFERENCES" in words and default.strip("() ").upper() != "NULL":
        return None
    return parts[position]


@dataclass(frozen=True)
class InsertSelectParts:
    """An INSERT … SELECT from one table, comments removed: what batching by ranges of the
    source table's rowids needs."""

    head: str
    """The statement up to its SELECT (`INSERT OR IGNORE INTO t (a, b)`)."""
    select: str
    target: str
    columns: tuple[str, ...]
    """The target columns named, or () when it names none (then all, in order)."""
    source: str
    qualifier: str
    """How the SELECT names its source (alias or name), to qualify `rowid`."""


def _arg(node: exp.Expression, name: str) -> object:
    """A node's argument by its name in any sqlglot version (30 renamed `with`, `from` to
    `with_`, `from_`)."""
    return node.args.get(f"{name}_", node.args.get(name))


def insert_select(sql: str) -> InsertSelectParts | str:
    """Take an INSERT … SELECT apart (sqlglot's parser), or say why it cannot be cut into
    ranges of source rows (a reason, as text)."""
    try:
        text = without_comments(sql).rstrip().rstrip(";").rstrip()
        tree = sqlglot.parse_one(text, read="sqlite")
    except (sqlglot.errors.ParseError, TokenError) as exc:
        return f"not understood ({exc})"
    select = tree.expression if isinstance(tree, exp.Insert) else None
    if not isinstance(select, exp.Select):
        return "the rows come from a compound SELECT or VALUES"
    for part, why in (
        ("with", "it starts with WITH"),
        ("conflict", "it has an ON CONFLICT clause"),
        ("returning", "it has RETURNING"),
    ):
        if _arg(tree, part) or (part == "with" and _arg(select, "with")):
            return why
    for part in ("group", "having", "distinct", "order", "limit", "offset"):
        if _arg(select, part):
            return f"its SELECT has {part.upper()}, which ranges of rows would split"
    for e in select.expressions:
        for agg in e.find_all(exp.AggFunc):
            if agg.find_ancestor(exp.Select) is select:
                return "its SELECT aggregates, which ranges of rows would split"
    source = _arg(select, "from").this
    if not isinstance(source, exp.Table):
        return "it selects from a subquery, not a table"
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    columns = (
        tuple(c.name for c in tree.this.expressions) if isinstance(tree.this, exp.Schema) else ()
    )
    at = top_level_offset(text, "SELECT")
    if at is None:
        return "no SELECT at its top level"
    return InsertSelectParts(
        text[:at].rstrip(), text[at:], target.name, columns, source.name, source.alias_or_name
    )


def _conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    """The AND terms of a sqlglot condition (itself when it is no AND; none for None)."""
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def _tree(sql: str) -> exp.Expression | None:
    """The statement as sqlglot reads it (SQLite's dialect, comments removed); None for text
    it cannot read."""
    try:
        return sqlglot.parse_one(without_comments(sql), read="sqlite")
    except (sqlglot.errors.ParseError, TokenError):
        return None


@functools.lru_cache(maxsize=256)
def deferred_foreign_keys(create_sql: str) -> frozenset[tuple[str, ...]]:
    """The child columns (lower-cased, in order) of each foreign key a CREATE TABLE declares
    DEFERRABLE INITIALLY DEFERRED: SQLite counts their violations apart from the others."""
    tree = _tree(create_sql)
    if tree is None:
        return frozenset()
    found = set()
    for ref in tree.find_all(exp.Reference):
        options = " ".join(str(o).upper() for o in ref.args.get("options") or [])
        if "INITIALLY DEFERRED" not in options or "NOT DEFERRABLE" in options:
            continue
        parent = ref.parent
        if isinstance(parent, exp.ForeignKey):
            found.add(tuple(e.name.lower() for e in parent.expressions))
        elif isinstance(parent, exp.ColumnConstraint) and isinstance(parent.parent, exp.ColumnDef):
            found.add((parent.parent.name.lower(),))
    return frozenset(found)


@functools.lru_cache(maxsize=256)
def update_from_target(sql: str) -> str | None:
    """For an UPDATE … FROM: how its WHERE names the target table (its alias, or its name),
    quoted, to qualify `rowid` beside the FROM tables' own; None for any other statement.
    Asked per statement replayed and per batch written: kept."""
    if "from" not in sql.lower():  # no parse for an UPDATE that cannot be one
        return None
    tree = _tree(sql)
    if not isinstance(tree, exp.Update) or _arg(tree, "from") is None:
        return None
    target = tree.this
    return quote_ident(target.alias or target.name) if isinstance(target, exp.Table) else None


def update_from_source(sql: str) -> str | None:
    """The FROM clause of an UPDATE … FROM, without the word (what it joins its target
    with); None for any other statement, or text sqlglot cannot read."""
    tree = _tree(sql)
    if not isinstance(tree, exp.Update) or _arg(tree, "from") is None:
        return None
    return _arg(tree, "from").sql(dialect="sqlite")[len("FROM ") :]


def update_from_rows_query(sql: str, columns: list[str]) -> str | None:
    """For an UPDATE … FROM: a query yielding each target row it updates once, its rowid as
    `_d1nb_r` and its `columns` as they are before it (SQLite joins the target with the FROM
    tables and updates every target row some joined row matches); None for another
    statement, or text sqlglot cannot read."""
    return _update_from_rows_query(sql, tuple(columns))


@functools.lru_cache(maxsize=256)
def _update_from_rows_query(sql: str, columns: tuple[str, ...]) -> str | None:
    """update_from_rows_query, kept: asked per batch range written."""
    tree = _tree(sql)
    if not isinstance(tree, exp.Update) or _arg(tree, "from") is None:
        return None
    target = tree.this
    if not isinstance(target, exp.Table) or _arg(tree, "with") is not None:
        return None
    ref = quote_ident(target.alias or target.name)
    alias = f" AS {quote_ident(target.alias)}" if target.alias else ""
    picked = "".join(f", {ref}.{quote_ident(c)}" for c in columns)
    source = update_from_source(sql)
    where = _arg(tree, "where")
    condition = f" {where.sql(dialect='sqlite')}" if where is not None else ""
    return (
        f"SELECT DISTINCT {ref}.rowid AS _d1nb_r{picked} "
        f"FROM main.{quote_ident(target.name)}{alias}, {source}{condition}"
    )


def table_aliases(sql: str) -> dict[str, str]:
    """alias → table of every aliased table a statement reads (`FROM posts p`), lower-cased
    aliases: EXPLAIN QUERY PLAN names a table by its alias."""
    tree = _tree(sql)
    if tree is None:
        return {}
    return {t.alias.lower(): t.name for t in tree.find_all(exp.Table) if t.alias and t.name}


def select_join_terms(sql: str) -> list[tuple[str, set[str], set[str]]] | None:
    """For an INSERT … SELECT or a SELECT joining tables, or an UPDATE or DELETE whose one IN
    (SELECT …) list joins them: each term joined by AND at the top of that SELECT's WHERE and
    JOIN … ON conditions, with the table qualifiers its columns use and its unqualified column
    names (lower-cased); None for a SELECT that joins nothing, anything else, or text sqlglot
    cannot read."""
    tree = _tree(sql)
    if tree is None:
        return None
    if isinstance(tree, exp.Insert):
        selects = [tree.expression]
    elif isinstance(tree, exp.Select) and _arg(tree, "joins"):
        selects = [tree]
    elif isinstance(tree, exp.Update | exp.Delete | exp.Select):
        selects = [
            query.this
            for node in tree.find_all(exp.In)
            if isinstance(query := node.args.get("query"), exp.Subquery)
        ]
    else:
        selects = []
    if len(selects) != 1:
        return None
    (select,) = selects
    if not isinstance(select, exp.Select) or not _arg(select, "joins"):
        return None
    conditions = [w.this for w in [_arg(select, "where")] if w is not None]
    conditions += [j.args["on"] for j in _arg(select, "joins") if j.args.get("on") is not None]
    terms = []
    for condition in conditions:
        for term in _conjuncts(condition):
            columns = list(term.find_all(exp.Column))
            qualifiers = {c.table.lower() for c in columns if c.table}
            bare = {c.name.lower() for c in columns if not c.table}
            terms.append((term.sql(dialect="sqlite"), qualifiers, bare))
    return terms


def _materialized_selects(tree: exp.Expression) -> dict[str, exp.Select]:
    """The aliased subqueries in a statement's FROM and its WITH clause's CTEs, by the name
    a plan's `MATERIALIZE` line gives them, lower-cased."""
    found = {
        node.alias.lower(): node.this
        for node in tree.find_all(exp.Subquery)
        if node.alias and isinstance(node.this, exp.Select)
    }
    for cte in tree.find_all(exp.CTE):
        if cte.alias and isinstance(cte.this, exp.Select):
            found.setdefault(cte.alias.lower(), cte.this)
    return found


def _with_clause(tree: exp.Expression) -> str:
    """A statement's own WITH clause as SQL and a space, '' without one: what a query
    counting the rows of one of its CTEs (which may name another) runs under. '' for a
    RECURSIVE one too: a count of a CTE reading an endless recursion never ends (the
    statement is stopped at its time limit, a count run before it would not be)."""
    with_ = _arg(tree, "with")
    if with_ is None or with_.args.get("recursive"):
        return ""
    return f"{with_.sql(dialect='sqlite')} "


def subquery_counts(sql: str) -> dict[str, str]:
    """Per aliased subquery in a statement's FROM (`FROM (SELECT … GROUP BY …) AS t`) or CTE
    of its WITH: a query counting its rows, keyed by its name lower-cased (the rows a plan's
    `SCAN t` reads once SQLite has materialized it); {} for text sqlglot cannot read."""
    tree = _tree(sql)
    if tree is None:
        return {}
    prefix = _with_clause(tree)
    return {
        name: f"{prefix}SELECT count(*) FROM ({select.sql(dialect='sqlite')})"
        for name, select in _materialized_selects(tree).items()
    }


def subquery_sorter_feeds(sql: str) -> dict[str, dict[str, str]]:
    """Per subquery or CTE SQLite may materialize (named as in `subquery_counts`), and for
    the statement's own SELECT ("", not under a RECURSIVE WITH, without window functions): a
    query counting the rows each of its sorters is fed, by the sorter's kind: "GROUP BY" the
    rows its FROM and WHERE yield, "ORDER BY" the rows it yields before any LIMIT (grouped
    first when it groups); {} for text sqlglot cannot read."""
    tree = _tree(sql)
    if tree is None:
        return {}
    prefix = _with_clause(tree)
    selects = dict(_materialized_selects(tree))
    top = tree.expression if isinstance(tree, exp.Insert) else tree
    recursive = any(w.args.get("recursive") for w in tree.find_all(exp.With))
    if isinstance(top, exp.Select) and not top.find(exp.Window) and not recursive:
        selects[""] = top  # the statement's own SELECT (an INSERT's), "" by name
    feeds: dict[str, dict[str, str]] = {}
    for name, select in selects.items():
        # a SELECT statement's WITH is its own: carried by the copies below
        carried = "" if select is tree else prefix
        fed = {}
        if _arg(select, "group") is not None:
            fed["GROUP BY"] = carried + _fed_count(select).sql(dialect="sqlite")
        if _arg(select, "order") is not None:
            unlimited = select.copy()
            for part in ("order", "limit", "offset"):
                unlimited.set(part, None)
            fed["ORDER BY"] = f"{carried}SELECT count(*) FROM ({unlimited.sql(dialect='sqlite')})"
        if fed:
            feeds[name] = fed
    return feeds


FromItem = tuple[frozenset[str], str, tuple[str, ...]]
"""A table or subquery an UPDATE … FROM joins: its name and alias lower-cased, its SQL with
its alias, the AND terms of its ON."""


@functools.lru_cache(maxsize=256)
def update_from_items(sql: str) -> tuple[str, tuple[FromItem, ...]] | None:
    """For an UPDATE … FROM: its WITH clause as SQL and a space ('' without one), and each
    table or subquery it joins in the order written. None for any other statement, or text
    sqlglot cannot read. Cached: metering asks twice per statement."""
    tree = _tree(sql)
    joined = _arg(tree, "from") if isinstance(tree, exp.Update) else None
    if joined is None or not isinstance(joined.this, exp.Table | exp.Subquery):
        return None
    first = joined.this.copy()
    first.set("joins", None)
    items = [(first, None)]
    items += [(j.this, _arg(j, "on")) for j in joined.this.args.get("joins") or []]
    described = []
    for item, on in items:
        names = frozenset(n.lower() for n in (getattr(item, "name", ""), item.alias) if n)
        terms = _conjuncts(on)
        described.append(
            (names, item.sql(dialect="sqlite"), tuple(t.sql(dialect="sqlite") for t in terms))
        )
    return _with_clause(tree), tuple(described)


def update_from_names(sql: str) -> set[str]:
    """The tables an UPDATE … FROM joins, and their aliases, lower-cased; empty for any other
    statement or text sqlglot cannot read."""
    tree = _tree(sql)
    if tree is None:
        return set()
    joined = _arg(tree, "from") if isinstance(tree, exp.Update) else None
    if joined is None:
        return set()
    return {n.lower() for t in joined.find_all(exp.Table) for n in (t.name, t.alias) if n}


def json_each_sources(sql: str) -> dict[str, tuple[str, str, str | None]]:
    """Each `json_each(…)` / `json_tree(…)` a statement reads from, by the name EXPLAIN QUERY
    PLAN gives its loop (its alias, else the function's name), lower-cased: (the function,
    its arguments' SQL, the table or alias its JSON argument's column is qualified with)."""
    tree = _tree(sql)
    if tree is None:
        return {}
    found: dict[str, tuple[str, str, str | None]] = {}
    for table in tree.find_all(exp.Table):
        call = table.this
        if not isinstance(call, exp.Anonymous):
            continue
        if call.name.lower() not in ("json_each", "json_tree"):
            continue
        if not call.expressions:
            continue
        argument = call.expressions[0]
        column = argument if isinstance(argument, exp.Column) else argument.find(exp.Column)
        qualifier = column.table or None if column is not None else None
        name = (table.alias or call.name).lower()
        arguments = ", ".join(a.sql(dialect="sqlite") for a in call.expressions)
        found[name] = (call.name.lower(), arguments, qualifier)
    return found


@dataclass(frozen=True)
class CorrelatedSearch:
    """A subquery of an UPDATE or DELETE that reads one table and sets some of its columns
    equal to values of the outer row (or constants): an aggregate's run reads each row those
    keys find, an EXISTS's stops at the first (`correlated_searches`, `exists_searches`)."""

    table: str
    """The table it reads."""
    name: str
    """How EXPLAIN QUERY PLAN names its loop (its alias, else the table), lower-cased."""
    alias: str | None
    """Its alias as written, if any."""
    equal: tuple[tuple[str, str], ...]
    """(column, lower-cased; the expression of the outer row, or constant, it equals), per
    equality of its WHERE."""
    updated_as: str | None
    """The alias of the table the statement updates or deletes from, if any."""
    maximum: frozenset[str]
    """The columns it takes max() of, lower-cased: an index ordered by one of them after the
    keys is read one row a run."""
    minimum: frozenset[str]
    """The columns it takes min() of, lower-cased (an index ordered by one of them after the
    keys is sought past its NULLs)."""
    in_where: bool = False
    rest: str = ""
    """The AND of an EXISTS's other terms, which its keys' rows must pass ("" for none): it
    stops at the first row that does."""
    """Whether it is in the statement's WHERE (it runs for the rows its other terms keep)
    rather than in an UPDATE's SET (it runs for the rows written)."""


def _aggregated(aggregates: list[exp.Expression], function: type) -> frozenset[str]:
    """The columns, lower-cased, that `function` (min or max) of `aggregates` takes."""
    return frozenset(
        a.this.name.lower()
        for a in aggregates
        if isinstance(a, function) and isinstance(a.this, exp.Column)
    )


_OTHER_AGGREGATES = {"total"}
"""SQLite's aggregates sqlglot reads as plain functions."""


def _search_keys(
    select: exp.Select, outer: set[str], limited: bool = False
) -> tuple[exp.Table, str, list[tuple[str, str]], list[str]] | None:
    """For a subquery of one table, not nested in another: the table, how a plan names it,
    the (column, expression) its WHERE sets equal to the outer row's values or constants,
    and its WHERE's other terms; None for any other subquery (one with a LIMIT too, unless
    `limited`: a search that stops at its first row anyway)."""
    if select.find_ancestor(exp.Select) is not None:  # nested: its outer is a query
        return None
    item = _arg(select, "from")
    table = item.this if item is not None else None
    if not isinstance(table, exp.Table) or not table.name or _arg(select, "joins"):
        return None
    if any(_arg(select, k) is not None for k in ("group", "order", "having")):
        return None
    if _arg(select, "limit") is not None and not limited:
        return None
    name = (table.alias or table.name).lower()
    if name in outer or table.name.lower() in outer:  # the table it updates, as it goes
        return None
    where = _arg(select, "where")
    terms = _conjuncts(where.this if where is not None else None)
    equal, rest = [], []
    for term in terms:
        if not isinstance(term, exp.EQ):
            rest.append(term.sql(dialect="sqlite"))
            continue
        for column, other in ((term.this, term.expression), (term.expression, term.this)):
            if not isinstance(column, exp.Column) or column.table.lower() not in ("", name):
                continue
            used = list(other.find_all(exp.Column))  # none: a constant key
            if (
                all(c.table and c.table.lower() in outer for c in used)
                and other.find(exp.Select) is None
            ):
                equal.append((column.name.lower(), other.sql(dialect="sqlite")))
                break
        else:
            rest.append(term.sql(dialect="sqlite"))
    return table, name, equal, rest


def _searching_statement(
    sql: str,
) -> tuple[exp.Update | exp.Delete, set[str], list[exp.Expression]] | None:
    """An UPDATE or DELETE of one table with no FROM and no WITH: its tree, the names its
    table goes by (lower-cased) and its WHERE's AND terms; None for anything else."""
    tree = _tree(sql)
    if not isinstance(tree, exp.Update | exp.Delete) or not isinstance(tree.this, exp.Table):
        return None
    if _arg(tree, "from") is not None or _arg(tree, "with") is not None:
        return None
    outer = {tree.this.name.lower(), (tree.this.alias or tree.this.name).lower()}
    where = _arg(tree, "where")
    return tree, outer, _conjuncts(where.this if where is not None else None)


@functools.lru_cache(maxsize=256)
def correlated_searches(sql: str) -> tuple[CorrelatedSearch, ...]:
    """The aggregate subqueries of an UPDATE's SET, or of an AND term of an UPDATE's or
    DELETE's WHERE (no FROM, no WITH), whose WHERE sets columns of their one table equal to
    expressions of the outer row or constants; () for any other statement, or text sqlglot
    cannot read."""
    statement = _searching_statement(sql)
    if statement is None:
        return ()
    tree, outer, terms = statement
    places = [(e, False) for e in tree.expressions if isinstance(tree, exp.Update)]
    found = []
    for place, in_where in places + [(t, True) for t in terms]:
        for select in place.find_all(exp.Select):
            aggregates = [
                a
                for e in select.expressions
                for a in e.find_all(exp.AggFunc, exp.Anonymous)
                if not isinstance(a, exp.Anonymous) or a.name.lower() in _OTHER_AGGREGATES
            ]
            keys = _search_keys(select, outer) if aggregates else None
            if keys and keys[2]:
                table, name, equal, _more = keys
                found.append(
                    CorrelatedSearch(
                        table.name,
                        name,
                        table.alias or None,
                        tuple(equal),
                        tree.this.alias or None,
                        _aggregated(aggregates, exp.Max),
                        _aggregated(aggregates, exp.Min),
                        in_where,
                    )
                )
    return tuple(found)


@functools.lru_cache(maxsize=256)
def exists_searches(sql: str) -> tuple[CorrelatedSearch, ...]:
    """The `[NOT] EXISTS (SELECT … FROM t WHERE …)` terms of an UPDATE's or DELETE's WHERE
    (an AND term each; no FROM, no WITH) whose WHERE only sets columns of t equal to the
    outer row's values or constants: such a search stops at the first row it finds. () for
    any other statement, or text sqlglot cannot read."""
    statement = _searching_statement(sql)
    if statement is None:
        return ()
    tree, outer, terms = statement
    found = []
    for term in terms:
        test = term.this if isinstance(term, exp.Not) else term
        if not isinstance(test, exp.Exists) or not isinstance(test.this, exp.Select):
            continue
        search = _first_row_search(
            tree, _search_keys(test.this, outer), in_where=True, filtered=True
        )
        if search is not None:
            found.append(search)
    return tuple(found)


def _first_row_search(
    tree: exp.Update | exp.Delete,
    keys: tuple[exp.Table, str, list[tuple[str, str]], list[str]] | None,
    in_where: bool,
    filtered: bool = False,
) -> CorrelatedSearch | None:
    """A search that stops at its first row, from `_search_keys`' answer: None unless its
    WHERE sets some of its table's columns equal and holds nothing else (or, `filtered`,
    other terms too, which the rows the keys find must pass)."""
    if not keys or not keys[2] or (keys[3] and not filtered):
        return None
    table, name, equal, rest = keys
    return CorrelatedSearch(
        table.name,
        name,
        table.alias or None,
        tuple(equal),
        tree.this.alias or None,
        frozenset(),
        frozenset(),
        in_where,
        " AND ".join(f"({t})" for t in rest),
    )


@functools.lru_cache(maxsize=256)
def first_row_searches(sql: str) -> tuple[CorrelatedSearch, ...]:
    """The scalar subqueries of an UPDATE's SET that read one column of one table, with no
    aggregate, DISTINCT or ORDER BY, and whose WHERE only sets columns of that table equal to
    the outer row's values or constants: such a search stops at the first row it finds (a
    scalar subquery's value is its first row). () for any other statement, or text sqlglot
    cannot read."""
    statement = _searching_statement(sql)
    if statement is None or not isinstance(statement[0], exp.Update):
        return ()
    tree, outer, _terms = statement
    found = []
    for place in tree.expressions:
        for subquery in place.find_all(exp.Subquery):
            select = subquery.this
            if not isinstance(select, exp.Select) or select.args.get("distinct"):
                continue
            if len(select.expressions) != 1 or any(
                a
                for a in select.expressions[0].find_all(exp.AggFunc, exp.Anonymous)
                if not isinstance(a, exp.Anonymous) or a.name.lower() in _OTHER_AGGREGATES
            ):
                continue
            keys = _search_keys(select, outer, limited=True)
            search = _first_row_search(tree, keys, in_where=False)
            if search is not None:
                found.append(search)
    return tuple(found)


def in_subquery_counts(sql: str) -> list[str]:
    """A query counting the rows of each `IN (SELECT …)` of a statement (the values an IN
    list built from a subquery holds); a correlated one fails when run alone."""
    tree = _tree(sql)
    if tree is None:
        return []
    return [
        f"SELECT count(*) FROM ({node.args['query'].this.sql(dialect='sqlite')})"
        for node in tree.find_all(exp.In)
        if isinstance(node.args.get("query"), exp.Subquery)
    ]


@dataclass(frozen=True)
class InTest:
    """One `x IN (…)` of a statement, as an index search may be driven by its values."""

    column: str | None
    """The column it tests, lower-cased; None for an expression or a row value."""
    negated: bool
    """Under NOT: a NOT IN only filters, it never drives a search."""
    values: int | None
    """The values of a literal list; None for a subquery."""
    distinct_query: str | None
    """For a subquery: a query counting the distinct values, NULL left out, its list holds
    (an IN list is an index of its values: a value listed twice is sought once); a
    correlated one fails when run alone."""


def in_tests(sql: str) -> list[InTest]:
    """Every `x IN (…)` and `x NOT IN (…)` of a statement, in order; [] for text sqlglot
    cannot read."""
    return list(_in_tests(sql))


@functools.lru_cache(maxsize=256)
def _in_tests(sql: str) -> tuple[InTest, ...]:
    """`in_tests`, cached: metering asks up to four times per statement."""
    tree = _tree(sql)
    if tree is None:
        return ()
    found = []
    for node in tree.find_all(exp.In, bfs=False):  # as written
        query = node.args.get("query")
        column = node.this.name.lower() if isinstance(node.this, exp.Column) else None
        negated = isinstance(node.parent, exp.Not)
        if isinstance(query, exp.Subquery):
            count = (
                f"WITH _d1nb_list(_d1nb_v) AS ({query.this.sql(dialect='sqlite')}) "
                "SELECT count(DISTINCT _d1nb_v) FROM _d1nb_list"
            )
            found.append(InTest(column, negated, None, count))
        elif query is None:
            found.append(InTest(column, negated, len(node.expressions), None))
    return tuple(found)


def not_in_list_columns(sql: str) -> list[tuple[str, str] | None]:
    """Per `NOT IN (SELECT …)` of a statement: (table, column) when the list's values are one
    column of the one table it reads (whether they can be NULL is then the column's to say),
    else None (an expression, a join, a compound SELECT: possibly NULL). [] for none, or for
    text sqlglot cannot read."""
    tree = _tree(sql)
    if tree is None:
        return []
    found: list[tuple[str, str] | None] = []
    for node in tree.find_all(exp.Not):
        inner = node.this
        query = inner.args.get("query") if isinstance(inner, exp.In) else None
        if not isinstance(query, exp.Subquery):
            continue
        select = query.this
        source = _arg(select, "from").this if isinstance(select, exp.Select) else None
        values = select.expressions if isinstance(select, exp.Select) else []
        if (
            isinstance(source, exp.Table)
            and not _arg(select, "joins")
            and len(values) == 1
            and isinstance(values[0], exp.Column)
        ):
            found.append((source.name, values[0].name))
        else:
            found.append(None)
    return found


_PEEKING_WINDOWS = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


def window_reads_queries(sql: str) -> list[tuple[str, int, int, list[str]]]:
    """Per SELECT of a statement that computes window functions: a query counting the rows
    its FROM, WHERE and GROUP BY feed its windows, its distinct windows (each a buffer the rows
    are kept in and read back from), its lag(), lead(), first_value() … (each reads other rows
    of the buffer again), and per window with a PARTITION BY a query counting its partitions
    (each read once more). [] for none, or for text sqlglot cannot read."""
    if "OVER" not in sql.upper():
        return []
    tree = _tree(sql)
    if tree is None:
        return []
    found = []
    for select in tree.find_all(exp.Select):
        windows = [
            w
            for e in select.expressions
            for w in e.find_all(exp.Window)
            if w.find_ancestor(exp.Select) is select
        ]
        if not windows or not _arg(select, "from"):
            continue
        specs = {
            (
                tuple(p.sql() for p in _arg(w, "partition_by") or []),
                _arg(w, "order").sql() if _arg(w, "order") else "",
            )
            for w in windows
        }
        peeks = sum(isinstance(w.this, _PEEKING_WINDOWS) for w in windows)
        fed = select.copy()
        for part in ("distinct", "order", "limit", "offset", "windows", "qualify"):
            fed.set(part, None)
        partitions = []
        for by, _order in specs:
            if by:
                parts = fed.copy()
                parts.set("expressions", [sqlglot.parse_one(p, read="sqlite") for p in by])
                parts.set("distinct", exp.Distinct())
                partitions.append(f"SELECT count(*) FROM ({parts.sql(dialect='sqlite')})")
        fed.set("expressions", [exp.Literal.number(1)])
        rows = f"SELECT count(*) FROM ({fed.sql(dialect='sqlite')})"
        found.append((rows, len(specs), peeks, partitions))
    return found


def in_subquery_fed_counts(sql: str) -> list[str]:
    """A query counting the rows each `IN (SELECT …)` of a statement reads before its GROUP BY,
    DISTINCT, ORDER BY or LIMIT (what a sorter building the list is fed)."""
    tree = _tree(sql)
    if tree is None:
        return []
    found = []
    for node in tree.find_all(exp.In):
        query = node.args.get("query")
        select = query.this if isinstance(query, exp.Subquery) else None
        if not isinstance(select, exp.Select) or not _arg(select, "from"):
            continue
        found.append(_fed_count(select).sql(dialect="sqlite"))
    return found


def _insert_query(sql: str) -> tuple[exp.Insert, exp.Expression | None] | None:
    """An INSERT as sqlglot reads it (comments and the final `;` removed) and its SELECT;
    None for text sqlglot cannot read or another statement."""
    try:
        text = without_comments(sql).rstrip().rstrip(";").rstrip()
        tree = sqlglot.parse_one(text, read="sqlite")
    except (sqlglot.errors.ParseError, TokenError):
        return None
    return (tree, tree.expression) if isinstance(tree, exp.Insert) else None


def _counted_with(tree: exp.Insert | exp.Select, counted: exp.Select) -> str:
    """`counted` as SQL, under the INSERT's WITH clause when it has one of its own."""
    with_ = _arg(tree, "with")
    if with_ is not None and not _arg(counted, "with"):
        counted.set("with_" if "with_" in counted.arg_types else "with", with_.copy())
    return counted.sql(dialect="sqlite")


def rows_offered_query(sql: str) -> str | None:
    """For an INSERT … SELECT: a query counting the rows its SELECT yields (after GROUP BY,
    DISTINCT and LIMIT: the rows offered to the table); None for text sqlglot cannot read."""
    parsed = _insert_query(sql)
    if parsed is None or not isinstance(parsed[1], exp.Query):
        return None
    tree, select = parsed
    counted = exp.select(exp.Count(this=exp.Star())).from_(select.copy().subquery("_d1nb_offered"))
    return _counted_with(tree, counted)


def _fed_count(select: exp.Select) -> exp.Select:
    """A copy of `select` counting the rows its FROM and WHERE yield, before any GROUP BY,
    DISTINCT, ORDER BY or LIMIT: what a sorter building its result is fed."""
    counted = select.copy()
    for part in ("group", "having", "distinct", "order", "limit", "offset", "windows"):
        counted.set(part, None)
    counted.set("expressions", [exp.Count(this=exp.Star())])
    return counted


@dataclass(frozen=True)
class TriggerParts:
    """A CREATE TRIGGER taken apart: when it fires and what it runs."""

    event: str
    """INSERT, UPDATE or DELETE."""
    columns: tuple[str, ...]
    """UPDATE OF these columns only; () for any."""
    when: str | None
    """The WHEN condition, as written (it reads NEW. and OLD.)."""
    body: tuple[str, ...]
    """Its statements, each without the `;`."""
    timing: str = "BEFORE"
    """BEFORE (SQLite's default when none is written), AFTER or INSTEAD OF."""


@functools.lru_cache(maxsize=4096)
def trigger_parts(sql: str) -> TriggerParts | None:
    """The event, columns, WHEN and body statements of a CREATE TRIGGER; None for text that
    is not one (or that does not tokenize). Kept per text: a lint or a replay asks about the
    same triggers for every UPDATE of their table."""
    try:
        toks = tokenize(without_comments(sql))
    except TokenError:
        return None
    words = [t.word for t in toks]
    if "TRIGGER" not in words[:4]:
        return None
    i = words.index("TRIGGER") + 1
    event = next(
        (j for j in range(i, len(toks)) if words[j] in ("INSERT", "UPDATE", "DELETE")), None
    )
    on = next((j for j in range(event or i, len(toks)) if words[j] == "ON"), None)
    begin = next((j for j in range(on or i, len(toks)) if words[j] == "BEGIN"), None)
    if event is None or on is None or begin is None:
        return None
    columns: tuple[str, ...] = ()
    if words[event] == "UPDATE" and event + 1 < on and words[event + 1] == "OF":
        columns = tuple(t.text for t in toks[event + 2 : on] if t.type != TokenType.COMMA)
    when_at = next((j for j in range(on, begin) if words[j] == "WHEN"), None)
    text = without_comments(sql)
    when = text[toks[when_at].end : toks[begin].start].strip() if when_at is not None else None
    end = max(j for j in range(len(toks)) if words[j] == "END")
    inner = text[toks[begin].end : toks[end].start]
    body = tuple(
        stmt.strip().rstrip(";").strip()
        for _s, _e, stmt, _complete in split_statements(inner)
        if stmt.strip().rstrip(";").strip()
    )
    timing = next((w for w in words[i:event] if w in ("BEFORE", "AFTER", "INSTEAD")), "BEFORE")
    timing = "INSTEAD OF" if timing == "INSTEAD" else timing
    return TriggerParts(words[event], columns, when, body, timing)


def old_columns(sql: str) -> set[str]:
    """The columns a trigger's text reads as OLD.x, lower-cased."""
    return row_columns(sql, "OLD")


def row_columns(sql: str, row: str) -> set[str]:
    """The columns a trigger's text reads as `row`.x (OLD or NEW), lower-cased."""
    return set(_row_columns(sql, row))


@functools.lru_cache(maxsize=4096)
def _row_columns(sql: str, row: str) -> frozenset[str]:
    try:
        toks = tokenize(sql)
    except TokenError:
        return frozenset()
    return frozenset(
        toks[i + 2].text.strip('"`[]').lower()
        for i, t in enumerate(toks[:-2])
        if t.word == row and toks[i + 1].type == TokenType.DOT
    )


def row_values(
    sql: str, new_as_columns: bool = False, aliases: tuple[str, str] | None = None
) -> tuple[str, bool]:
    """A trigger's text with its NEW.x and OLD.x replaced, and whether it reads OLD: NEW.x
    becomes NULL, or the column x itself (`new_as_columns`: evaluated over the rows written,
    afterwards), OLD.x NULL; with `aliases` (new, old), each becomes that alias's column x
    (the rows written joined to their values before). Text SQLite can then plan or run
    outside the trigger."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return sql, False
    out, last, i, old = [], 0, 0, False
    while i < len(toks):
        t = toks[i]
        if t.word in ("NEW", "OLD") and i + 2 < len(toks) and toks[i + 1].type == TokenType.DOT:
            old = old or t.word == "OLD"
            column = toks[i + 2].text
            value = quote_ident(column) if new_as_columns and t.word == "NEW" else "NULL"
            if aliases:
                value = f"{aliases[t.word == 'OLD']}.{quote_ident(column)}"
            out += [sql[last : t.start], value]
            last = toks[i + 2].end
            i += 3
            continue
        i += 1
    return "".join(out) + sql[last:], old


def and_terms(expr: str) -> list[str]:
    """The terms of a condition joined by AND at its top level (the AND of a BETWEEN is not
    one); the whole condition when there is none, or when it does not tokenize."""
    try:
        toks = tokenize(expr)
    except TokenError:
        return [expr]
    cuts, between = [], 0
    for i, word in top_level(toks):
        if word == "BETWEEN":
            between += 1
        elif word == "AND":
            if between:
                between -= 1
            else:
                cuts.append(i)
    terms, start = [], 0
    for i in cuts:
        terms.append(expr[start : toks[i].start].strip())
        start = toks[i].end
    terms.append(expr[start:].strip())
    return [t for t in terms if t]


def rows_fed_query(sql: str) -> str | None:
    """For an INSERT … SELECT or a SELECT: a query counting the rows its SELECT's FROM and
    WHERE yield, before any GROUP BY, DISTINCT, ORDER BY or LIMIT (the rows a sorter is fed,
    the rows its searches find); None for a compound SELECT, VALUES, or text sqlglot cannot
    read."""
    parsed = _insert_query(sql)
    if parsed is None:
        tree = _tree(sql)
        parsed = (tree, tree) if isinstance(tree, exp.Select) else None
    if parsed is None or not isinstance(parsed[1], exp.Select) or not _arg(parsed[1], "from"):
        return None
    return _counted_with(parsed[0], _fed_count(parsed[1]))


def in_subquery_column(term: str) -> str | None:
    """The column a term `col IN (SELECT …)` tests, lower-cased; None for any other term
    (or text sqlglot cannot read)."""
    node = _tree(term)
    if isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Subquery):
        column = node.this
        return column.name.lower() if isinstance(column, exp.Column) else None
    return None


def search_visits_query(sql: str, searched: set[str]) -> str | None:
    """For an INSERT … SELECT from one table whose WHERE filters further than the search
    through an index on `searched` (lower-cased columns): a query counting the rows that
    search visits, those the WHERE's AND terms comparing one of those columns with a value
    keep (`org_id IN (SELECT …)`, `id < 1500`; not `id % 3 = 0`); None otherwise, or for
    text sqlglot cannot read."""
    tree = _tree(sql)
    select = tree.expression if isinstance(tree, exp.Insert) else None
    if not isinstance(select, exp.Select) or _arg(select, "joins") or not _arg(select, "from"):
        return None
    where = _arg(select, "where")
    if where is None:
        return None
    terms = _conjuncts(where.this)

    def outer(node: exp.Expression) -> set[str]:
        return {
            c.name.lower()
            for c in node.find_all(exp.Column)
            if c.find_ancestor(exp.Select) is select
        }

    compared = (exp.EQ, exp.LT, exp.GT, exp.LTE, exp.GTE, exp.In, exp.Between)
    kept = []
    for term in terms:  # `col = x`, `col < x`, `col IN (…)`, `col BETWEEN a AND b`
        side = term.this if isinstance(term, compared) else None
        others = [v for k, v in term.args.items() if k != "this" and isinstance(v, exp.Expression)]
        others += [item for v in term.args.values() if isinstance(v, list) for item in v]
        if (
            isinstance(side, exp.Column)
            and side.name.lower() in searched
            and not any(outer(o) for o in others)
        ):
            kept.append(term)
    if not kept or len(kept) == len(terms):
        return None
    counted = exp.select(exp.Count(this=exp.Star())).from_(_arg(select, "from").this.copy())
    counted = counted.where(exp.and_(*(t.copy() for t in kept)))
    return counted.sql(dialect="sqlite")


def virtual_table_content(sql: str) -> str | None:
    """The table an FTS (external-content) virtual table indexes, from its `content=` option:
    "" for a contentless one, None when the virtual table keeps its own rows (or is not FTS).
    Its rows are then the content table's, and `INSERT INTO t(t) VALUES ('rebuild')` is how
    its index comes back."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return None
    words = [t.word for t in toks]
    if "VIRTUAL" not in words or "USING" not in words:
        return None
    for i in range(words.index("USING") + 2, len(toks) - 2):
        if toks[i].text.lower() == "content" and toks[i + 1].type == TokenType.EQ:
            return toks[i + 2].text
    return None


def virtual_table_module(sql: str) -> str | None:
    """The module of a `CREATE VIRTUAL TABLE … USING module(…)` statement, lower-cased
    ("fts5", "rtree"), None for any other statement."""
    try:
        toks = tokenize(sql)
    except TokenError:
        return None
    words = [t.word for t in toks]
    if "VIRTUAL" not in words or "USING" not in words or words.index("USING") + 1 >= len(toks):
        return None
    return toks[words.index("USING") + 1].text.lower()


def compound_terms(sql: str) -> int:
    """The most SELECTs one compound of `sql` joins (UNION [ALL], INTERSECT, EXCEPT at the same
    depth of parentheses); 1 for a statement without a compound."""
    lowered = sql.lower()
    if "union" not in lowered and "intersect" not in lowered and "except" not in lowered:
        return 1
    try:
        toks = tokenize(sql)
    except TokenError:
        return 1
    joins, most = [0], 0
    for t in toks:
        if t.type == TokenType.L_PAREN:
            joins.append(0)
        elif t.type == TokenType.R_PAREN and len(joins) > 1:
            most = max(most, joins.pop())
        elif t.word in ("UNION", "INTERSECT", "EXCEPT"):
            joins[-1] += 1
    return max([most, *joins]) + 1


def like_patterns(sql: str) -> list[str]:
    """The literal patterns of `sql`'s LIKE and GLOB operators, as written."""
    lowered = sql.lower()
    if "like" not in lowered and "glob" not in lowered:
        return []
    try:
        toks = tokenize(sql)
    except TokenError:
        return []
    return [
        toks[i + 1].text
        for i, t in enumerate(toks[:-1])
        if t.word in ("LIKE", "GLOB") and toks[i + 1].type == TokenType.STRING
    ]


def columns_read(sql: str, table: str) -> set[str] | None:
    """The columns of `table` a statement reads, lower-cased: empty when it does not read the
    table, None when it reads every column (`SELECT *`, `t.*`) or sqlglot cannot read it.

    A column named without a table counts as read whenever the statement reads `table` (it may
    be the table's). The columns an INSERT or an UPDATE's SET list writes are not read."""
    tree = _tree(sql)
    if tree is None:
        return None if table.lower() in names_in(sql) else set()
    written = set()
    if isinstance(tree, exp.Insert):
        written.add(id(tree.this.this if isinstance(tree.this, exp.Schema) else tree.this))
    if isinstance(tree, exp.Update):
        written |= {id(eq.this) for eq in tree.expressions if isinstance(eq, exp.EQ)}
    names = {
        n.lower()
        for t in tree.find_all(exp.Table)
        if t.name.lower() == table.lower() and id(t) not in written
        for n in (t.name, t.alias)
        if n
    }
    if not names:
        return set()
    read: set[str] = set()
    for column in tree.find_all(exp.Column):
        if id(column) in written or (column.table and column.table.lower() not in names):
            continue
        if isinstance(column.this, exp.Star):
            return None
        read.add(column.name.lower())
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Column) and isinstance(star.parent, exp.Select):
            return None
    return read


def _has_subquery(node: exp.Expression) -> bool:
    return node.find(exp.Subquery, exp.Exists) is not None


def not_in_tests_query(sql: str) -> str | None:
    """For an UPDATE or DELETE of one table whose WHERE holds one `NOT IN (SELECT …)`: a query
    of the rows the test is reached on, those of them whose value tested is NULL, and those
    whose value the list does not hold; None for anything else.

    A test is reached where the terms evaluated before it let it be: at the top of the WHERE,
    the AND terms written before it hold; inside an expression, SQLite evaluates the right
    side of an AND or OR first when only the left holds a subquery, and the second side of an
    AND only where the first is true, of an OR where it is not."""
    tree = _tree(sql)
    if not isinstance(tree, exp.Update | exp.Delete) or _arg(tree, "from") is not None:
        return None
    where = _arg(tree, "where")
    tests = [
        n
        for n in (where.find_all(exp.Not) if where is not None else [])
        if isinstance(n.this, exp.In) and isinstance(n.this.args.get("query"), exp.Subquery)
    ]
    if len(tests) != 1 or not isinstance(tree.this, exp.Table):
        return None
    test = tests[0]
    reached: list[str] = []
    node: exp.Expression = test
    while node.parent is not None and node is not where.this:
        parent = node.parent
        if isinstance(parent, exp.And | exp.Or):
            left, right = parent.this, parent.expression
            rhs_first = _has_subquery(left) and not _has_subquery(right)
            top_and = isinstance(parent, exp.And) and all(
                isinstance(p, exp.And) for p in _ancestors(parent, where)
            )
            first = right if rhs_first and not top_and else left
            if node is not first:
                other = first.sql(dialect="sqlite")
                reached.append(
                    f"({other}) IS TRUE"
                    if isinstance(parent, exp.And)
                    else f"({other}) IS NOT TRUE"
                )
        elif not isinstance(parent, exp.Paren | exp.Not):
            return None
        node = parent
    lhs = test.this.this.sql(dialect="sqlite")
    table = tree.this.sql(dialect="sqlite")
    condition = " AND ".join(reached) or "1"
    return (
        f"SELECT count(*), count(*) FILTER (WHERE ({lhs}) IS NULL), count(*) FILTER (WHERE "
        f"({test.sql(dialect='sqlite')}) IS TRUE) FROM {table} WHERE {condition}"
    )


def _ancestors(node: exp.Expression, top: exp.Expression) -> list[exp.Expression]:
    """The nodes between `node` and `top` (the WHERE), `node` itself included."""
    chain = [node]
    while chain[-1].parent is not None and chain[-1].parent is not top:
        chain.append(chain[-1].parent)
    return chain
