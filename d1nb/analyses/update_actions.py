"""The rows an UPDATE's foreign-key ON UPDATE actions rewrite in other tables.

An UPDATE that changes a key other tables refer to runs their ON UPDATE action: CASCADE
rewrites the children's keys to follow the parent, SET NULL and SET DEFAULT cut them loose.
SQLite counts none of those rows among the statement's changes (D1 bills them), so the
children's key columns are kept by row before the statement and compared after.
"""

from __future__ import annotations

from dataclasses import dataclass

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.text import quote_ident

ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT")
"""The ON UPDATE actions that write child rows (RESTRICT and NO ACTION only refuse)."""


@dataclass
class KeptChild:
    """One child table's key columns as they were, in temp table `temp`, by `identity` (its
    rowid, or a WITHOUT ROWID table's primary key, aliased `_k0`, `_k1`, …)."""

    table: str
    identity: list[str]
    actions: dict[str, str]
    """Key column → its ON UPDATE action."""
    temp: str

    def join(self) -> str:
        """FROM the kept rows joined to the rows still there (`b` before, `a` after)."""
        same_row = " AND ".join(
            f"a.{quote_ident(k)} = b._k{i}" for i, k in enumerate(self.identity)
        )
        return f"FROM temp.{self.temp} b JOIN main.{quote_ident(self.table)} a ON {same_row}"

    def arrived(self) -> str:
        """FROM the rows there now that no kept row is (`a`): a WITHOUT ROWID child's rows
        whose key the action rewrote, under their new key."""
        same_row = " AND ".join(
            f"a.{quote_ident(k)} = b._k{i}" for i, k in enumerate(self.identity)
        )
        return (
            f"FROM main.{quote_ident(self.table)} a "
            f"WHERE NOT EXISTS (SELECT 1 FROM temp.{self.temp} b WHERE {same_row})"
        )

    def differs(self, actions: tuple[str, ...] = ACTIONS) -> str:
        """A kept row whose key columns (those with one of `actions`) are not what they were."""
        cols = [c for c, a in self.actions.items() if a in actions]
        return " OR ".join(f"b.{quote_ident(c)} IS NOT a.{quote_ident(c)}" for c in cols) or "0"


class UpdateActions:
    """The children an UPDATE's ON UPDATE actions may rewrite, kept before it runs."""

    def __init__(self, engine: D1Engine, actions: list[tuple[str, str, str]]):
        self.engine = engine
        by_child: dict[str, dict[str, str]] = {}
        for child, col, action in actions:
            if action in ACTIONS:
                by_child.setdefault(child, {})[col] = action
        self.children: list[KeptChild] = []
        for i, (child, cols) in enumerate(by_child.items()):
            kept = KeptChild(child, self._identity(child), cols, f"_d1nb_onupdate{i}")
            ids = ", ".join(f"{quote_ident(k)} AS _k{j}" for j, k in enumerate(kept.identity))
            keys = ", ".join(quote_ident(c) for c in cols)
            engine.conn.execute(f"DROP TABLE IF EXISTS temp.{kept.temp}")
            engine.conn.execute(
                f"CREATE TEMP TABLE {kept.temp} AS SELECT {ids}, {keys} "
                f"FROM main.{quote_ident(child)}"
            )
            self.children.append(kept)

    def _identity(self, table: str) -> list[str]:
        if not self.engine.without_rowid(table):
            return ["rowid"]
        columns = sorted(self.engine.columns(table), key=lambda c: c[5])
        return [c[1] for c in columns if c[5]]

    def moved(self) -> tuple[dict[str, int], dict[str, int]]:
        """After the UPDATE: per child, (rows whose key followed the parent, rows cut loose by
        SET NULL / SET DEFAULT). A WITHOUT ROWID child whose key is the column rewritten has
        rows no longer found by their old key: those followed the parent (or were cut loose)."""
        conn = self.engine.conn
        followed: dict[str, int] = {}
        cut: dict[str, int] = {}
        for kept in self.children:
            loose = kept.differs(("SET NULL", "SET DEFAULT"))
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
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp.{kept.temp}")
        self.children = []
