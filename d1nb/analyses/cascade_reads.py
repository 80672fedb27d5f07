"""Reads of the foreign keys a delete reaches, to any depth, as D1 counts them: the children
looked up or scanned per parent row deleted, the rows cascaded or nulled, and what a scan
still finds as a CASCADE child shrinks (fitted on Miniflare, docs/metering.md). A part of the
Meter (d1nb.analyses.metering), kept apart: the Meter's lifecycle there, the cascades here.
"""

from __future__ import annotations

from typing import NamedTuple

from d1nb.engine.d1engine import D1Engine
from d1nb.formats.migrations import Statement
from d1nb.formats.sql.shapes import holds_for_any_value
from d1nb.formats.sql.text import quote_ident


class RankProbe(NamedTuple):
    """An ON DELETE CASCADE child scanned per parent row deleted, and the tables from the
    statement's own down to that parent (each kept aside as `_d1nb_parents<i>_<j>`), with
    the key the top one is ordered and found by when it is a WITHOUT ROWID table."""

    parent: str
    child: str
    col: str
    tables: tuple[str, ...]
    top_order: str
    others: int = 0
    """Further CASCADE keys of the child to the same parent column of the statement's own
    table: the child is kept row by row, each gone at the first of its parents."""


class CascadeReads:
    """The Meter's reads of foreign keys. Expects the Meter's state (the engine, the cascade
    edges of the statement: parent, child, column, action; the children's rows before, the
    parents their deleted or nulled rows pointed at, the rank probes, the edges keyed by the
    parent's rowid) and its schema lookups `_foreign_keys`, `_rowid_column` and
    `_parent_is_rowid`."""

    engine: D1Engine
    edges: list[tuple[str, str, str, str]]
    rowid_keyed: set[tuple[str, str, str]]
    cascade_mixed: set[tuple[str, str]]
    child_rows: dict[str, int]
    holders: dict[str, int]
    edge_holders: dict[tuple[str, str], int]
    edge_nulled: dict[tuple[str, str], int]
    null_orders: dict[tuple[str, str], int]
    edge_kept: dict[tuple[str, str, str], int]
    edge_checked: dict[tuple[str, str, str], int]
    edge_deleted: dict[tuple[str, str, str], int]
    rank_probes: list[RankProbe]
    rank_sums: dict[tuple[str, str, str], tuple[int, int]]
    deletes: bool
    _lookups: dict[tuple[str, str], str | None]

    def _child_state(self, child: str, col: str, action: str = "") -> tuple[int, int, int]:
        """(rows of `child`, rows whose `col` still points somewhere: not NULL, and for ON
        DELETE SET DEFAULT not the column's default either, and the parents they point at,
        counted only for a statement that deletes parents, where `_cascade_reads` uses it)."""
        c = quote_ident(col)
        pointing = f"count({c})"
        holders = f"count(DISTINCT {c})"
        if len(key := self._key_columns(child, col)) > 1:  # a row with a NULL in it points nowhere
            whole = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in key)
            pointing = f"count(*) FILTER (WHERE {whole})"
            holders = (
                f"(SELECT count(*) FROM (SELECT DISTINCT {', '.join(map(quote_ident, key))} "
                f"FROM {quote_ident(child)} WHERE {whole}))"
            )
        if action == "SET DEFAULT":  # the only action that needs the column's default
            default = next((d[4] for d in self.engine.columns(child) if d[1] == col), None)
            if default is not None:
                pointing = f"count(*) FILTER (WHERE {c} IS NOT NULL AND {c} IS NOT ({default}))"
        row = self.engine.conn.execute(
            f"SELECT count(*), {pointing}, "
            + (holders if self.deletes and self._holders_count(child, col, action) else "0")
            + f" FROM {quote_ident(child)}"
        ).fetchall()[0]
        return row[0], row[1], row[2]

    def _key_columns(self, child: str, col: str) -> list[str]:
        """The columns of `child`'s foreign key that starts with `col` (one, or a composite
        key's all: a row holds a parent when it holds all of them)."""
        listed = self.engine.conn.execute(
            'SELECT id, seq, "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (child,)
        ).fetchall()
        key = next((k for k, seq, name in listed if seq == 0 and name.lower() == col.lower()), None)
        return [name for k, _seq, name in listed if k == key] or [col]

    def _holders_count(self, child: str, col: str, action: str) -> bool:
        """Whether `_cascade_reads` uses the parents a child's rows point at: through an index
        or key, and for SET NULL / SET DEFAULT past a scan (the statement scans the child per
        parent row anyway)."""
        how = self._key_lookup(child, col)
        return how in ("index", "key") or (how is None and action in ("SET NULL", "SET DEFAULT"))

    def _cascade_path(self, s: Statement, table: str) -> list[tuple[str, str, str]] | None:
        """The CASCADE edges (parent, child, column) from the statement's table down to
        `table`, top first, when every table below the top is a rowid table reached by one
        edge only and refers to none of its own rows; None otherwise (the order its rows go
        in is then not one rowid order per parent row)."""
        path: list[tuple[str, str, str]] = []
        while table != s.table:
            into = [(p, c, col, a) for p, c, col, a in self.edges if c == table]
            if len(into) != 1 or len(path) > len(self.edges):
                return None
            parent, child, col, action = into[0]
            if action != "CASCADE" or parent == child or self.engine.without_rowid(child):
                return None
            path.append((parent, child, col))
            table = parent
        return path[::-1]

    def _probe_scanned_cascades(self, s: Statement) -> list[RankProbe]:
        """For each ON DELETE CASCADE child the statement's deletes reach by a scan (no index
        on the key), at any depth: the keys of the tables on the way down in the order their
        rows go (the parent's place, then rowid) and the child's rows per key, kept aside so
        that `_rank_sums` can tell how much each scan still finds (D1 reads the child twice
        per parent row, the child shrinking as it goes)."""
        probes: list[RankProbe] = []
        if s.kind not in ("delete", "drop_table") or not s.table:
            return probes
        conn = self.engine.conn
        for parent, child, col, action in self.edges:
            if child == parent or self._key_lookup(child, col) is not None:
                continue
            if action == "NO ACTION":  # scanned while the child's CASCADE keys shrink it
                path = [] if parent == s.table else None
            elif action == "CASCADE":
                path = self._cascade_path(s, parent)
            else:
                continue
            links = [*(path or []), (parent, child, col)]
            keys = [self._parent_column(p, c, k) for p, c, k in links]
            if path is None or None in keys:
                continue
            i = len(probes)
            tables = (s.table, *(c for _, c, _ in path))
            top_order = "rowid"
            if self.engine.without_rowid(s.table):
                top_order = quote_ident(keys[0])
            for j, (table, key) in enumerate(zip(tables, keys, strict=True)):
                up = quote_ident(path[j - 1][2]) if j else "NULL"
                conn.execute(
                    f"CREATE TEMP TABLE _d1nb_parents{i}_{j} AS SELECT "
                    f"{top_order if j == 0 else 'rowid'} AS r, {up} AS f, "
                    f"{quote_ident(key)} AS k FROM main.{quote_ident(table)}"
                )
            cascading = [col] if action == "CASCADE" else []
            cascading += (
                [
                    k
                    for p, c, k, a in self.edges
                    if (p, c, a) == (parent, child, "CASCADE")
                    and k != col
                    and self._parent_column(p, c, k) == keys[-1]
                ]
                if not path
                else []
            )
            if not cascading:
                self._drop_parents(i, tables)
                continue
            first, *others = cascading
            if others:  # a row goes with whichever of its parents the statement reaches first
                extra = "".join(f", {quote_ident(k)} AS k{j}" for j, k in enumerate(others, 1))
                conn.execute(
                    f"CREATE TEMP TABLE _d1nb_children{i} AS SELECT {quote_ident(first)} AS k"
                    f"{extra}, 1 AS n FROM main.{quote_ident(child)}"
                )
            else:
                conn.execute(
                    f"CREATE TEMP TABLE _d1nb_children{i} AS SELECT {quote_ident(first)} AS k, "
                    f"count(*) AS n FROM main.{quote_ident(child)} WHERE {quote_ident(first)} "
                    "IS NOT NULL GROUP BY 1"
                )
            probes.append(RankProbe(parent, child, col, tables, top_order, len(others)))
        return probes

    def _drop_parents(self, i: int, tables: tuple[str, ...]) -> None:
        for j in range(len(tables)):
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_parents{i}_{j}")

    def _drop_rank_probes(self) -> None:
        for i, probe in enumerate(self.rank_probes):
            for j in range(len(probe.tables)):
                self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_parents{i}_{j}")
            self.engine.conn.execute(f"DROP TABLE IF EXISTS temp._d1nb_children{i}")

    def _parent_column(self, parent: str, child: str, col: str) -> str | None:
        """The parent column a child's foreign key column points at (its PRIMARY KEY when the
        REFERENCES clause names none); None for a composite or rowid-only key."""
        for c, from_col, p, to_col, _action in self._foreign_keys():
            if (c, from_col, p) == (child, col, parent):
                if to_col:
                    return to_col
                pks = [r[1] for r in self.engine.columns(parent) if r[5]]
                return pks[0] if len(pks) == 1 else None
        return None

    def _keep_edge_keys(self) -> None:
        """Before a delete: for a child that several CASCADE edges reach (a link table with
        two keys to the rows deleted), the keys its rows hold, one temp table per edge; the
        same for a NO ACTION key of a child that other keys reach (`_d1nb_check<i>`)."""
        if not self.deletes:
            return
        cascades = [(p, c, k) for p, c, k, a in self.edges if a == "CASCADE"]
        for i, (parent, child, col) in enumerate(cascades):
            if sum(1 for _p, c, _k in cascades if c == child) < 2:
                continue
            if self._parent_column(parent, child, col) is None:
                continue
            self._keep_key_values(f"_d1nb_edge{i}", child, col)
            self.edge_kept[(parent, child, col)] = i
        for i, (parent, child, col, action) in enumerate(self.edges):
            others = [e for e in self.edges if e[1] == child and e[:3] != (parent, child, col)]
            if action != "NO ACTION" or not others or child == parent:
                continue  # (a key with no action beside others: its own parents gone)
            if self._parent_column(parent, child, col) is None:
                continue
            self._keep_key_values(f"_d1nb_check{i}", child, col)
            self.edge_checked[(parent, child, col)] = i

    def _keep_key_values(self, name: str, child: str, col: str) -> None:
        """The values `col` of `child` holds (NULL left out), in temp table `name`."""
        c = quote_ident(col)
        self.engine.conn.execute(
            f"CREATE TEMP TABLE {name} AS SELECT {c} AS v "
            f"FROM main.{quote_ident(child)} WHERE {c} IS NOT NULL"
        )

    def _parents_gone(self, name: str, parent: str, child: str, col: str) -> tuple[int, int]:
        """After the statement: the values kept in `name` whose parent row is gone, and how
        many parents those were."""
        key = quote_ident(self._parent_column(parent, child, col) or "")
        return self.engine.conn.execute(
            f"SELECT count(*), count(DISTINCT e.v) FROM temp.{name} e WHERE NOT EXISTS "
            f"(SELECT 1 FROM main.{quote_ident(parent)} p WHERE p.{key} = e.v)"
        ).fetchall()[0]

    def _edge_deleted(self, deleted: dict[str, int]) -> dict[tuple[str, str, str], int]:
        """After a delete: the child rows each kept edge deleted, those whose parent is gone;
        a row whose parents are gone by two keys went by one, counted half to each."""
        found = {}
        for (parent, child, col), i in self.edge_kept.items():
            found[(parent, child, col)], self.edge_holders[(child, col)] = self._parents_gone(
                f"_d1nb_edge{i}", parent, child, col
            )
        for (parent, child, col), i in self.edge_checked.items():  # parents gone that held
            self.edge_holders[(child, col)] = self._parents_gone(  # rows by it
                f"_d1nb_check{i}", parent, child, col
            )[1]
        by_child: dict[str, list[tuple[str, str, str]]] = {}
        for edge in found:
            by_child.setdefault(edge[1], []).append(edge)
        for child, edges in by_child.items():
            extra = sum(found[e] for e in edges) - deleted.get(child, 0)
            if extra > 0:
                for e in edges:
                    found[e] = max(0, found[e] - extra // len(edges))
        return found

    def _rank_sums(self) -> dict[tuple[str, str, str], tuple[int, int]]:
        """Per probed edge: the sum, over the child rows the cascade deleted, of their parent's
        place among the parent rows deleted (1 for the first): how far into the deletes each
        child row was still there to be scanned; and the place of the last parent with such
        rows. A row below the top goes in its own parent's place, then in rowid order."""
        sums = {}
        conn = self.engine.conn
        for i, probe in enumerate(self.rank_probes):
            places = []
            for j, table in enumerate(probe.tables):
                gone = ""
                if conn.table_exists(None, table):
                    rcol = probe.top_order if j == 0 else "rowid"
                    gone = (
                        f"WHERE NOT EXISTS (SELECT 1 FROM main.{quote_ident(table)} t "
                        f"WHERE t.{rcol} = p.r)"
                    )
                if j == 0:
                    places.append(
                        f"d0 AS (SELECT k, row_number() OVER (ORDER BY r) AS place "
                        f"FROM temp._d1nb_parents{i}_0 p {gone})"
                    )
                else:
                    places.append(
                        f"d{j} AS (SELECT p.k, row_number() OVER (ORDER BY u.place, p.r) AS "
                        f"place FROM temp._d1nb_parents{i}_{j} p JOIN d{j - 1} u ON p.f = u.k "
                        f"{gone})"
                    )
            if probe.others:  # each row's place: the first of its parents' places
                keys = ["k", *(f"k{j}" for j in range(1, probe.others + 1))]
                joins = " ".join(f"LEFT JOIN d0 p_{k} ON p_{k}.k = c.{k}" for k in keys)
                first = f"min({', '.join(f'coalesce(p_{k}.place, 1e18)' for k in keys)})"
                total, last = conn.execute(
                    f"WITH {places[0]}, g AS (SELECT {first} AS place FROM "
                    f"temp._d1nb_children{i} c {joins}) SELECT coalesce(sum(place), 0), "
                    "coalesce(max(place), 0) FROM g WHERE place < 1e18"
                ).fetchall()[0]
            else:
                total, last = conn.execute(
                    f"WITH {', '.join(places)} SELECT coalesce(sum(d.place * c.n), 0), "
                    f"coalesce(max(d.place), 0) FROM d{len(probe.tables) - 1} d "
                    f"JOIN temp._d1nb_children{i} c ON c.k = d.k"
                ).fetchall()[0]
            sums[(probe.parent, probe.child, probe.col)] = (int(total), int(last))
        return sums

    def _holders(self, child: str, col: str, action: str) -> int:
        """The parents `child`'s rows pointed at by `col` that the statement took away, by
        that key alone when the child has several: a CASCADE or NO ACTION key's from its
        keys kept before the statement (a value that vanished may belong to a parent still
        there), a SET NULL or SET DEFAULT key's where no key of the child cascades; else by
        the child's last key (fitted on Miniflare)."""
        if any(kept[1:] == (child, col) for kept in (*self.edge_kept, *self.edge_checked)):
            return self.edge_holders.get((child, col), 0)  # the parents gone that it held
        actions = [a for _p, c, _k, a in self.edges if c == child]
        setting = action in ("SET NULL", "SET DEFAULT")
        if setting and len(actions) > 1 and "CASCADE" not in actions:
            return self.edge_holders.get((child, col), 0)
        return self.holders.get(child, 0)

    def _key_lookup(self, child: str, col: str) -> str | None:
        """How SQLite finds the rows of `child` whose `col` points at a parent row: by rowid
        ("rowid"), by a WITHOUT ROWID table's own key ("key"), by an index led by `col`
        ("index"), else None (a scan of the child)."""
        if (child, col) not in self._lookups:
            without_rowid = self.engine.without_rowid(child)
            found = "rowid" if self._rowid_column(child) == col and not without_rowid else None
            indexes = self.engine.conn.execute(
                "SELECT name, partial, origin FROM pragma_index_list(?)", (child,)
            ).fetchall()
            for name, partial, origin in indexes if found is None else []:
                first = self.engine.conn.execute(
                    "SELECT name FROM pragma_index_info(?) WHERE seqno = 0", (name,)
                ).fetchall()
                if partial and not holds_for_any_value(self.engine.partial_where(name) or "", col):
                    continue  # a look-up by an equal key is not known to be inside it
                if first and first[0][0] == col:
                    found = "key" if origin == "pk" and without_rowid else "index"
                    break
            self._lookups[(child, col)] = found
        return self._lookups[(child, col)]

    def _cascade_reads(
        self, s: Statement, own_deleted: int, deleted: dict[str, int], nulled: dict[str, int]
    ) -> int:
        """Rows read by the foreign keys of the rows a statement deletes, to any depth. Per
        parent row deleted and foreign key to it, the child is looked up (directly from the
        statement: 1 by index or by a WITHOUT ROWID key, 2 by rowid, 1 more by key or rowid
        for ON DELETE CASCADE; from a cascade: 1), or scanned without an index; per child row
        deleted, 4 (1 by rowid), and 1 per other foreign key of its whose parent is sought by
        rowid; per parent that had children, 2 more by index, 1 by key; per child row nulled, 1
        more; 1 less per child row when the parent key is not the parent's rowid (fitted on
        Miniflare: docs/metering.md)."""
        reads = 0
        checked = False  # whether a statement's own foreign key has paid that first look
        for parent, child, col, action in self.edges:
            top = parent == s.table
            # the first look at a deleted row's children costs 1 read for all its foreign
            # keys; each further key only its own scans and actions (fitted on Miniflare:
            # two indexed children read 1 a row, not 2; an empty unindexed one 1 more)
            again = top and checked
            checked = checked or top
            parents = own_deleted if top else deleted.get(parent, 0)
            if not parents:
                continue
            n = gone = deleted.get(child, 0) if action == "CASCADE" else 0
            n = self.edge_deleted.get((parent, child, col), n)  # a child several keys reach
            setting = action in ("SET NULL", "SET DEFAULT")
            keys_set = sum(1 for _p, c, _k, a in self.edges if c == child and a == action)
            if setting:  # several keys nulling one child's rows: each its own (and rows
                # nulled, then deleted by a cascade, are read as rows deleted)
                own = keys_set > 1 or (child, col) in self.null_orders
                n = self.edge_nulled.get((child, col), 0) if own else nulled.get(child, 0)
            if action == "CASCADE" and n:  # each row gone looks up its other parents by rowid
                reads += n * sum(
                    1
                    for fk in self._foreign_keys()
                    if fk[0] == child
                    and (fk[1], fk[2]) != (col, parent)
                    and self._parent_is_rowid(fk[2], fk[3])
                )
            how = self._key_lookup(child, col)
            if how is None:
                if (parent, child, col) in self.rank_sums and action != "CASCADE":
                    gone = deleted.get(child, 0)  # what its CASCADE keys took as it scanned
                reads += self._scan_reads(parent, child, col, action, top, parents, n, gone)
                reads -= parents if again else 0
                continue
            if setting:
                reads += n
            per_parent = 1
            if top:  # the action's own lookup comes on top of the constraint's
                per_parent = {"index": 1, "key": 1, "rowid": 2}[how]
                per_parent += how != "index" and action == "CASCADE"
            elif how == "index" and action == "CASCADE":
                per_parent = 0  # a cascade's DELETE of grandchildren seeks them for free
            per_parent -= again
            per_child, per_holder = {"index": (4, 2), "key": (4, 1), "rowid": (1, 0)}[how]
            if setting and how == "index" and top:
                # its UPDATE's search reads 1 more for a parent it finds no row of
                reads += max(parents - self._holders(child, col, action), 0)
            if how != "rowid" and (parent, child, col) not in self.rowid_keyed:
                per_child -= 1  # the row gone looks its parent up again: free through an index
            if parent == child and (child, col) in self.cascade_mixed:
                per_child, per_holder = 2, 0  # rows nulling each other inside a cascade
            holders = self._holders(child, col, action)
            reads += per_parent * parents + per_child * n + per_holder * holders
            if (
                n
                and (top or action == "CASCADE")
                and s.kind in ("delete", "drop_table")
                and how != "rowid"
            ):
                reads -= 2
        return reads

    def _scan_reads(
        self,
        parent: str,
        child: str,
        col: str,
        action: str,
        top: bool,
        parents: int,
        n: int,
        gone: int | None = None,
    ) -> int:
        """Reads of a foreign key with no index on the child's column, per parent row deleted:
        one scan of the child for the constraint, and a second for an action (CASCADE, SET
        NULL, SET DEFAULT); a CASCADE's child shrinks as it goes (how much comes from the
        rank probe, else even spreading is assumed); 1 more per parent from the statement
        itself, 1 more for a SET action; per child row deleted 1, per row nulled 2 but 1 less
        per parent that had some, each 1 more when the row looks its parent up by rowid or is
        a link table's (fitted on Miniflare: docs/metering.md)."""
        rows = self.child_rows[child]
        gone = n if gone is None else gone  # what the child loses, by this key and others
        if rows == 0:
            seen = parents  # a scan of an empty table reads 1
        elif gone and (action == "CASCADE" or (parent, child, col) in self.rank_sums):
            places, last = self.rank_sums.get((parent, child, col), (None, parents))
            if places is None:
                places, last = gone * (parents + 1) // 2, parents
            seen = parents * (rows - gone) + places
            if gone >= rows:  # emptied by the last parent with children; later scans read 1
                seen += parents - last
        else:
            seen = parents * rows
        scans = 2 if action in ("CASCADE", "SET NULL", "SET DEFAULT") else 1
        reads = scans * seen + top * parents
        # a row gone or nulled looks its parent up again: free through an index, 1 by rowid;
        # a row of a link table that two keys reach, 1 either way (fitted on Miniflare)
        edge = (parent, child, col)
        again = edge in self.rowid_keyed or edge in self.edge_kept
        if action == "CASCADE":
            reads += (1 + again) * n
        elif action in ("SET NULL", "SET DEFAULT"):
            reads += parents + (2 + again) * n - self._holders(child, col, action)
        return reads
