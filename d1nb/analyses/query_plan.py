"""EXPLAIN QUERY PLAN lines as the Meter reads them: which table a loop scans or searches,
through what, on which keys, and which lines lie inside a correlated subquery or an IN list.
SQLite writes names unquoted there (`SCAN event log`), so a name runs up to the line's next
keyword.
"""

from __future__ import annotations

import re

PLAN_VIRTUAL = re.compile(r"^(?:SCAN|SEARCH) (.+?) VIRTUAL TABLE")
"""A loop over a virtual table (json_each, FTS5): its name."""
EQUAL_KEYS = re.compile(
    r"USING (?:COVERING )?INDEX .+? \(((?:[^()=]+=\?)(?: AND [^()=]+=\?)*)\)(?: LEFT-JOIN)?$"
)
"""A search by index on equal keys only: `(a=? AND b=?)`."""
INDEX_NAME = re.compile(r"^(?:COVERING )?INDEX (.+?) \(")
"""The index a loop goes through, from what follows its USING."""
PRIMARY_KEYS = re.compile(r"USING PRIMARY KEY \(((?:[^()=]+=\?)(?: AND [^()=]+=\?)*)\)$")
"""A search of a WITHOUT ROWID table by its primary key on equal keys only: all of them find
one row, the first of them a range (`memberships(org_id=?)` of `(org_id, user_id)`)."""
SORTED = re.compile(
    r"^USE TEMP B-TREE FOR (GROUP BY|ORDER BY|RIGHT PART OF ORDER BY|LAST TERM OF ORDER BY"
    r"|LAST \d+ TERMS OF ORDER BY)"
)
"""A sorter: its rows are read back once each."""
INDEX_KEYS = re.compile(r"(?:INDEX .+?|PRIMARY KEY) \(([^()]+)\)(?: LEFT-JOIN)?$")
"""The columns a search through an index or a primary key compares, as `kind>? AND at<?`
(operators kept)."""
PLAN_TABLE = re.compile(r"^(SCAN|SEARCH) (.+?)(?: AS .+?)?(?: USING (.*))?$")
"""A loop over a table: SCAN or SEARCH, the table, and what it goes through."""
ROWID_IN_OPERATOR = re.compile(r"^USING ROWID SEARCH ON TABLE (.+) FOR IN-OPERATOR$")
"""`x IN (SELECT id FROM t)` with `id` t's rowid and no WHERE: no list is built, t itself is
sought by rowid for each row that reaches the IN."""
INDEX_IN_OPERATOR = re.compile(r"^USING (?:COVERING )?INDEX (.+) FOR IN-OPERATOR$")
"""`x IN (SELECT code FROM t)` with `code` led by an index of t and no WHERE: no list is built,
the index is sought in place."""


def filled_once(tree: list[tuple]) -> list[bool]:
    """Per EXPLAIN QUERY PLAN row: whether it lies inside a CO-ROUTINE or MATERIALIZE of a
    subquery or CTE whose rows the plan then searches through an AUTOMATIC index. SQLite
    fills such an index once per statement, even inside a correlated subquery, so the rows
    feeding it are read once, not once per row of the loop around it (a CTE ranking rows with
    row_number(), looked up per row of an UPDATE: stranger's project #20 read 4,546 rows in
    D1, 516,483 by a model running it per row)."""
    detail = {r[0]: r[3] for r in tree}
    parent = {r[0]: r[1] for r in tree}
    searched = {
        m.group(1)
        for r in tree
        if (m := re.match(r"^SEARCH (.+?) USING AUTOMATIC (?:COVERING |PARTIAL )*INDEX", r[3]))
    }
    fills = {
        node
        for node, text in detail.items()
        if (m := re.match(r"^(?:CO-ROUTINE|MATERIALIZE) (.+)$", text)) and m.group(1) in searched
    }
    inside = []
    for r in tree:
        node, found = r[1], r[0] in fills
        while node in detail and not found:
            found = node in fills
            node = parent[node]
        inside.append(found)
    return inside


def lines_under(tree: list[tuple], opening: str) -> list[bool]:
    """Per EXPLAIN QUERY PLAN row (id, parent, _, detail): whether it lies inside a loop whose
    line starts with `opening` ("CORRELATED ": a subquery run once per row of the loop
    around it; "LIST SUBQUERY": the values of an IN list, found once)."""
    detail = {r[0]: r[3] for r in tree}
    parent = {r[0]: r[1] for r in tree}
    inside = []
    for r in tree:
        node, found = r[1], False
        while node in detail and not found:
            found = detail[node].startswith(opening)
            node = parent[node]
        inside.append(found)
    return inside


_CORRELATED_NUMBER = re.compile(r"^CORRELATED SCALAR SUBQUERY (\d+)")


def subquery_numbers(tree: list[tuple]) -> list[int | None]:
    """Per EXPLAIN QUERY PLAN row (id, parent, _, detail): the number of the nearest
    correlated subquery it lies in (SQLite numbers SELECTs as it parses them, inner before
    outer, left to right), None outside any."""
    detail = {r[0]: r[3] for r in tree}
    parent = {r[0]: r[1] for r in tree}
    numbers = []
    for r in tree:
        node, found = r[0], None
        while node in detail and found is None:
            if m := _CORRELATED_NUMBER.match(detail[node]):
                found = int(m.group(1))
            node = parent[node]
        numbers.append(found)
    return numbers


def subquery_in(tree: list[tuple]) -> list[str | None]:
    """Per EXPLAIN QUERY PLAN row (id, parent, _, detail): the name of the subquery or CTE
    whose `MATERIALIZE` or `CO-ROUTINE` it lies inside (the nearest), lower-cased; None
    outside any."""
    detail = {r[0]: r[3] for r in tree}
    parent = {r[0]: r[1] for r in tree}
    inside: list[str | None] = []
    for r in tree:
        node, found = r[1], None
        while node in detail and found is None:
            if m := re.match(r"^(?:MATERIALIZE|CO-ROUTINE) (.+)$", detail[node]):
                found = m.group(1).lower()
            node = parent[node]
        inside.append(found)
    return inside
