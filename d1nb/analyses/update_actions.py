"""The rows an UPDATE's foreign-key ON UPDATE actions rewrite in other tables.

An UPDATE that changes a key other tables refer to runs their ON UPDATE action: CASCADE
rewrites the children's keys to follow the parent, SET NULL and SET DEFAULT cut them loose.
SQLite counts none of those rows among the statement's changes (D1 bills them), so the
children's key columns are kept by row before the statement and compared after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from d1nb.analyses.kept_rows import KeptRows
from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.shapes import deferred_foreign_keys, holds_for_any_value
from d1nb.formats.sql.text import quote_ident, unused_name

ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT")
"""The ON UPDATE actions that write child rows (RESTRICT and NO ACTION only refuse)."""


@dataclass
class KeptChild(KeptRows):
    """A child table's key columns as they were (`KeptRows`), with each one's ON UPDATE
    action."""

    actions: dict[str, str] = field(default_factory=dict)


class UpdateActions:
    """The children an UPDATE's ON UPDATE actions may rewrite, kept before it runs."""

    def __init__(self, engine: D1Engine, actions: list[tuple[str, str, str]]):
        self.engine = engine
        by_child: dict[str, dict[str, str]] = {}
        for child, col, action in actions:
            if action in ACTIONS:
                by_child.setdefault(child, {})[col] = action
        self.children: list[KeptChild] = [
            KeptChild.keep(engine, child, list(cols), f"_d1nb_onupdate{i}", actions=cols)
            for i, (child, cols) in enumerate(by_child.items())
        ]

    def rows_moved(self, kept: KeptChild, columns: set[str], where: str | None = None) -> int:
        """After the UPDATE: the rows of a kept child still found by their identity whose
        value in any of `columns` (of its kept key columns) is not what it was (and that a
        partial index's `where` keeps now, of a rowid child)."""
        cols = [c for c in kept.actions if c in columns]
        if not cols:
            return 0
        kept_now = (
            f" AND a.rowid IN (SELECT rowid FROM main.{quote_ident(kept.table)} WHERE ({where}))"
            if where
            else ""
        )
        return self.engine.conn.execute(
            f"SELECT count(*) {kept.join()} WHERE {kept.differs(cols)}{kept_now}"
        ).fetchall()[0][0]

    def moved(self) -> tuple[dict[str, int], dict[str, int]]:
        """After the UPDATE: per child, (rows whose key followed the parent, rows cut loose by
        SET NULL / SET DEFAULT). A WITHOUT ROWID child whose key is the column rewritten has
        rows no longer found by their old key: those followed the parent (or were cut loose)."""
        conn = self.engine.conn
        followed: dict[str, int] = {}
        cut: dict[str, int] = {}
        for kept in self.children:
            loose = kept.differs([c for c, a in kept.actions.items() if a != "CASCADE"])
            moved, loosened = conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {loose}) {kept.join()} "
                f"WHERE {kept.differs()}"
            ).fetchall()[0]
            (vanished,) = conn.execute(
                f"SELECT (SELECT count(*) FROM temp.{kept.temp}) - count(*) {kept.join()}"
            ).fetchall()[0]
            if all(a == "CASCADE" for a in kept.actions.values()):
                moved += vanished
            elif all(a != "CASCADE" for a in kept.actions.values()):
                moved += vanished
                loosened += vanished
            if moved - loosened:
                followed[kept.table] = moved - loosened
            if loosened:
                cut[kept.table] = loosened
        return followed, cut

    def drop(self) -> None:
        for kept in self.children:
            kept.drop(self.engine)
        self.children = []


@dataclass
class ReferringKey:
    """A foreign key of `child` referring to the parent an UPDATE writes: its columns and the
    parent columns they refer to, its ON UPDATE action, whether an index of the child (or its
    rowid) finds its rows, and the child's rows."""

    child: str
    columns: list[str]
    parent_columns: list[str]
    action: str
    indexed: bool
    child_rows: int
    deferred: bool
    """Declared DEFERRABLE INITIALLY DEFERRED: its violations are counted apart, so its
    searches for the new key run when a deferred key's children held the old one."""
    without_rowid: bool = False
    """A WITHOUT ROWID child: a row an action rewrites reads 1 more, not 2 (Miniflare)."""


class KeyScans:
    """D1's rows read for the foreign keys an UPDATE of a parent key runs, measured in
    Miniflare (docs/metering.md): per row whose key columns the SET names, each child is
    searched for the old key; when a child holds it, each child again for the new key (SQLite
    counts the violations of keys declared DEFERRABLE INITIALLY DEFERRED apart from the
    others, `PRAGMA defer_foreign_keys` or not: only the children of the same count tell); when
    the key changed, each ON UPDATE action searches the children again and reads two rows per
    child it rewrites (one in a WITHOUT ROWID child; one more for an action that finds none). A
    search is the child's rows without an index on the key, else the rows it finds plus one
    (none when it finds none). A rowid key that moved is a key changed; it costs 2 more per
    row moved, and a child row an action rewrites looks its parent up by rowid (2 when it
    points at one afterwards, 1 when it is cut loose).

    The old keys and the children holding them are counted before the statement runs, the
    keys that changed after it."""

    def __init__(
        self,
        engine: D1Engine,
        table: str,
        set_columns: set[str],
        updated: Callable[[], str | None],
    ):
        """Before an UPDATE of `table` whose SET names `set_columns` (lower-cased);
        `updated()` gives a query of the rowids it will write, or None when they cannot be
        told (nothing is then counted)."""
        self.engine = engine
        self.keys: list[ReferringKey] = []
        if engine.without_rowid(table):
            return
        keys = _referring_keys(engine, table, set_columns)
        rows = updated() if keys else None
        if rows is None:
            return
        self.keys, self.table = keys, table
        self.rowid_key = (engine.rowid_alias(table) or "").lower()
        self.counted_with = ["deferred" if k.deferred else "immediate" for k in keys]
        parent_columns = sorted({c for k in keys for c in k.parent_columns})
        self.kept = {c: f"_k{i}" for i, c in enumerate(parent_columns)}
        kept = ", ".join(f"p.{quote_ident(c)} AS {a}" for c, a in self.kept.items())
        counts, joins = [], []
        for i, k in enumerate(keys):  # the children holding each key: one pass over each child
            cols = ", ".join(quote_ident(c) for c in k.columns)
            held = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in k.columns)
            on = " AND ".join(
                f"g{i}.{quote_ident(c)} = p.{quote_ident(pc)}"
                for c, pc in zip(k.columns, k.parent_columns, strict=True)
            )
            n = quote_ident(unused_name("_d1nb_n", k.columns))
            joins.append(  # the count named apart from the key: a key column may be `n`
                f"LEFT JOIN (SELECT {cols}, count(*) AS {n} FROM main.{quote_ident(k.child)} "
                f"WHERE {held} GROUP BY {cols}) g{i} ON {on}"
            )
            counts.append(f"coalesce(g{i}.{n}, 0) AS _n{i}")
        engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_keyscan")
        engine.conn.execute(
            f"CREATE TEMP TABLE _d1nb_keyscan AS SELECT p.rowid AS r, {kept}, "
            f"{', '.join(counts)} FROM main.{quote_ident(table)} p {' '.join(joins)} "
            f"WHERE p.rowid IN ({rows})"
        )

    @property
    def children(self) -> set[str]:
        """The tables searched for the keys (their searches are counted here)."""
        return {k.child for k in self.keys}

    def reads(self) -> int:
        """After the UPDATE: the rows its foreign-key searches read."""
        if not self.keys:
            return 0
        conn = self.engine.conn
        changed = "p.rowid IS NULL OR " + " OR ".join(  # a rowid key moved: not found by it
            f"k.{a} IS NOT p.{quote_ident(c)}" for c, a in self.kept.items()
        )
        groups = sorted(set(self.counted_with))
        held = ", ".join(
            "("
            + " OR ".join(f"k._n{i} > 0" for i, g in enumerate(self.counted_with) if g == group)
            + f") AS held_{group}"
            for group in groups
        )
        holding_sums = ", ".join(f"sum(held_{group})" for group in groups)
        sums = ", ".join(
            f"sum(k._n{i}), sum(k._n{i} > 0), "
            f"sum(CASE WHEN ch THEN k._n{i} END), sum(ch AND k._n{i} > 0)"
            for i in range(len(self.keys))
        )
        row = conn.execute(
            f"SELECT count(*), sum(ch), {holding_sums}, {sums} FROM ("
            f"SELECT k.*, ({changed}) AS ch, {held} FROM temp._d1nb_keyscan k "
            f"LEFT JOIN main.{quote_ident(self.table)} p ON p.rowid = k.r) k"
        ).fetchall()[0]
        rows, moved = row[0] or 0, row[1] or 0
        holding_by = {g: v or 0 for g, v in zip(groups, row[2 : 2 + len(groups)], strict=True)}
        at = 2 + len(groups)
        reads = 0
        rowid_moved = False
        for i, key in enumerate(self.keys):
            holding = holding_by[self.counted_with[i]]
            children, with_children, children_moved, with_children_moved = (
                v or 0 for v in row[at + 4 * i : at + 4 + 4 * i]
            )
            if key.indexed:
                reads += children + with_children  # the old keys
                # the new keys: none found under a changed key, the same under an unchanged one
                reads += (children - children_moved) + (with_children - with_children_moved)
                if key.action in ACTIONS:
                    reads += children_moved + with_children_moved
            else:
                reads += key.child_rows * (rows + holding + (moved if key.action in ACTIONS else 0))
            if key.action in ACTIONS:
                per_child = 1 if key.without_rowid else 2
                reads += per_child * children_moved + (moved - with_children_moved)
                if [c.lower() for c in key.parent_columns] == [self.rowid_key]:
                    # a row it rewrites looks the parent up by rowid: the old one, and the
                    # new one when it points at one (fitted on Miniflare)
                    reads += (1 + self._points_after(key)) * children_moved
                    rowid_moved = True
        return reads + 2 * moved * rowid_moved  # and each parent row moved, 2 (Miniflare)

    def _points_after(self, key: ReferringKey) -> bool:
        """Whether a child row `key`'s action rewrites points at a parent afterwards: it
        follows the parent (CASCADE), or takes defaults that are not NULL (SET DEFAULT)."""
        if key.action == "CASCADE":
            return True
        if key.action != "SET DEFAULT":
            return False
        defaults = {c[1].lower(): c[4] for c in self.engine.columns(key.child)}
        return all(defaults.get(c.lower()) not in (None, "NULL", "null") for c in key.columns)

    def drop(self) -> None:
        if self.keys:
            self.engine.conn.execute("DROP TABLE IF EXISTS temp._d1nb_keyscan")


def _referring_keys(engine: D1Engine, parent: str, set_columns: set[str]) -> list[ReferringKey]:
    """Every foreign key (any ON UPDATE action) whose parent is `parent` and that refers to a
    column of `set_columns` (lower-cased)."""
    conn = engine.conn
    pk = [c[1] for c in sorted(engine.columns(parent), key=lambda c: c[5]) if c[5]]
    keys = []
    for child in engine.tables():
        listed = conn.execute(
            'SELECT id, seq, "table", "from", "to", on_update FROM pragma_foreign_key_list(?) '
            "ORDER BY id, seq",
            (child,),
        ).fetchall()
        by_id: dict[int, list[tuple]] = {}
        for row in listed:
            if row[2].lower() == parent.lower():
                by_id.setdefault(row[0], []).append(row)
        for rows in by_id.values():
            columns = [r[3] for r in rows]
            refers = [r[4] or (pk[r[1]] if r[1] < len(pk) else "") for r in rows]
            if not any(c.lower() in set_columns for c in refers):
                continue
            (count,) = conn.execute(f"SELECT count(*) FROM main.{quote_ident(child)}").fetchall()[0]
            deferred = tuple(c.lower() for c in columns) in deferred_foreign_keys(
                engine.table_sql({child}).get(child, "")
            )
            keys.append(
                ReferringKey(
                    child,
                    columns,
                    refers,
                    rows[0][5].upper(),
                    _searchable(engine, child, columns),
                    count,
                    deferred,
                    engine.without_rowid(child),
                )
            )
    return keys


def _searchable(engine: D1Engine, table: str, columns: list[str]) -> bool:
    """Whether an index of `table`, or its rowid, finds rows by `columns` (a partial one only
    when its WHERE is `c IS NOT NULL` of one of them, which a search by equal values implies)."""
    wanted = {c.lower() for c in columns}
    alias = engine.rowid_alias(table)
    if alias and wanted == {alias.lower()}:
        return True
    for name, partial in engine.conn.execute(
        "SELECT name, partial FROM pragma_index_list(?)", (table,)
    ).fetchall():
        if partial:
            where = engine.partial_where(name) or ""
            if not any(holds_for_any_value(where, c) for c in columns):
                continue
        lead = [
            (r[0] or "").lower()
            for r in engine.conn.execute(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,)
            ).fetchall()
        ][: len(wanted)]
        if set(lead) == wanted:
            return True
    return False
