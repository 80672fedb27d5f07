"""A table's rows kept aside before a statement, by identity, to tell afterwards which rows it
— or its triggers and foreign-key actions — inserted, deleted or changed.

A row is its rowid, or a WITHOUT ROWID table's primary key (`D1Engine.row_identity`); the
kept copy names those columns `_k0`, `_k1`, … beside the columns kept as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.sql.text import ROWID_NAMES, quote_ident


def identity_value(identity: list[str], alias: str = "", kept: bool = False) -> str:
    """A row's identity as one value, as a file's set of changed rows keeps it: a rowid as it
    is, a key of several columns quoted and joined; of the row `alias` names, or (`kept`) of
    the kept row `alias` names."""
    if kept:
        parts = [f"{alias}_k{i}" for i in range(len(identity))]
    else:
        parts = [f"{alias}{quote_ident(k)}" for k in identity]
    if len(identity) == 1 and identity[0].lower() in ROWID_NAMES:
        return parts[0]
    return " || char(31) || ".join(f"quote({p})" for p in parts)


@dataclass
class KeptRows:
    """The rows of `table` as they were, in temp table `temp`: their identity and `columns`.
    In the SQL it writes, `b` is a kept row and `a` a row of the table now."""

    table: str
    identity: list[str]
    columns: list[str]
    temp: str

    @classmethod
    def keep(cls, engine: D1Engine, table: str, columns: list[str], temp: str, **more):
        """Copy `table`'s identity and `columns` into temp table `temp` (replaced)."""
        identity = engine.row_identity(table)
        ids = ", ".join(f"{quote_ident(k)} AS _k{i}" for i, k in enumerate(identity))
        cols = "".join(f", {quote_ident(c)}" for c in columns)
        engine.conn.execute(f"DROP TABLE IF EXISTS temp.{temp}")
        engine.conn.execute(
            f"CREATE TEMP TABLE {temp} AS SELECT {ids}{cols} FROM main.{quote_ident(table)}"
        )
        return cls(table, identity, list(columns), temp, **more)

    @property
    def by_rowid(self) -> bool:
        """Whether the rows are known by their rowid (not by a WITHOUT ROWID key)."""
        return len(self.identity) == 1 and self.identity[0].lower() in ROWID_NAMES

    def _same_row(self) -> str:
        return " AND ".join(f"a.{quote_ident(k)} = b._k{i}" for i, k in enumerate(self.identity))

    def join(self) -> str:
        """FROM the kept rows joined to the rows still there under the same identity."""
        return (
            f"FROM temp.{self.temp} b JOIN main.{quote_ident(self.table)} a ON {self._same_row()}"
        )

    def differs(self, columns: list[str] | None = None) -> str:
        """A joined row whose value in any of `columns` (default: all kept) is not what it was."""
        cols = self.columns if columns is None else columns
        return " OR ".join(f"b.{quote_ident(c)} IS NOT a.{quote_ident(c)}" for c in cols) or "0"

    def arrived(self) -> str:
        """The identities (`k`) of the rows there now that no kept row had: rows inserted, or
        found under a new key."""
        return (
            f"SELECT {identity_value(self.identity, 'a.')} AS k "
            f"FROM main.{quote_ident(self.table)} a "
            f"WHERE NOT EXISTS (SELECT 1 FROM temp.{self.temp} b WHERE {self._same_row()})"
        )

    def departed(self) -> str:
        """The identities (`k`) of the kept rows no row there now has: rows deleted."""
        return (
            f"SELECT {identity_value(self.identity, 'b.', kept=True)} AS k "
            f"FROM temp.{self.temp} b WHERE NOT EXISTS "
            f"(SELECT 1 FROM main.{quote_ident(self.table)} a WHERE {self._same_row()})"
        )

    def drop(self, engine: D1Engine) -> None:
        engine.conn.execute(f"DROP TABLE IF EXISTS temp.{self.temp}")
