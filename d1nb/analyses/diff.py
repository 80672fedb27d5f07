"""Before/after comparison of two snapshots, as SQL in DuckDB.

Both snapshots are copied into one DuckDB connection (schemas `before` and `after`); each table
is compared on a key (its primary key, one given, or a hash of the whole row for tables without
one) by a full outer join with `IS DISTINCT FROM` per column, a tolerance for REAL columns.
Rows whose key is NULL, or repeated on either side, cannot be matched one to one; they are
left out of the match and counted apart (`unmatched_before`, `unmatched_after`). The report
follows datacompy's sections: summary, column summary, row summary, column comparison, samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from d1nb.analyses.diff_tables import TableDiff, column_types, compare_table, records
from d1nb.formats.sql.shapes import part_key, table_parts
from d1nb.formats.sql.text import SqlTokenError, quote_ident, quote_literal, shown, tokenize
from d1nb.inputs.duckcopy import connect_duckdb
from d1nb.inputs.workingcopy import Snapshot
from d1nb.text import MISSING, frame_text


@dataclass
class Diff:
    """The comparison of two snapshots: schema, tables, columns, samples."""

    schema: pd.DataFrame
    tables: dict[str, TableDiff]
    con: duckdb.DuckDBPyConnection
    notes: list[str] = field(default_factory=list)
    """What loading either snapshot noted (a rounded export, a refused statement …),
    "before: " or "after: " first: what the comparison's figures rest on."""
    counters: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COUNTERS))
    """AUTOINCREMENT counters (sqlite_sequence) lower after than before: table, before, after
    (None: the table lost its counter). Ids between are given again."""
    held: set[str] | None = None
    """The tables compared when a side holds chosen tables only (lower-cased); None when both
    are whole databases."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Tables a migration renamed: name before → name after (compared across)."""

    @property
    def equal(self) -> bool:
        return (
            self.schema.empty and self.counters.empty and all(t.equal for t in self.tables.values())
        )

    def summary(self) -> pd.DataFrame:
        """One row per table: key used, rows before/after, added, removed, changed."""
        rows = [
            {
                "table": t.shown,
                "key": ", ".join(t.key) or "(whole row)",
                "key_kind": t.key_kind,
                "rows_before": t.rows_before,
                "rows_after": t.rows_after,
                "added": t.added,
                "removed": t.removed,
                "changed": t.changed,
                "unchanged": t.unchanged,
                "unmatched_before": t.unmatched_before,
                "unmatched_after": t.unmatched_after,
                "equal": t.equal,
            }
            for t in self.tables.values()
        ]
        return pd.DataFrame(rows)

    def column_summary(self) -> pd.DataFrame:
        """Per column of every table: values changed, NULLs gained/lost, NULL counts, numeric
        min / max / mean on each side, and distinct counts for the columns whose values moved
        (changed, gained or lost NULLs, or exist on one side only; None elsewhere, since a
        distinct count is the one figure that costs a full hash of the column)."""
        frames = [t.columns for t in self.tables.values() if not t.columns.empty]
        if not frames:
            return pd.DataFrame()
        frame = pd.concat(frames, ignore_index=True)
        counts = [c for c in frame.columns if c.split("_")[0] in ("changed", "nulls", "distinct")]
        return frame.astype({c: "Int64" for c in counts})

    def changed_columns(self) -> pd.DataFrame:
        """The column summary cut to columns with any change, added or dropped."""
        columns = self.column_summary()
        if columns.empty:
            return columns
        return columns[
            (columns["changed"].fillna(0) > 0)
            | (columns["nulls_gained"].fillna(0) > 0)
            | (columns["nulls_lost"].fillna(0) > 0)
            | (columns["present"] != "both")
        ].reset_index(drop=True)

    def samples(self) -> pd.DataFrame:
        """Up to five rows each added, removed and changed per table, masked columns as ***."""
        frames = [t.samples for t in self.tables.values() if not t.samples.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def most_changed_column(self) -> tuple[str, str] | None:
        """(table, column) of the column present on both sides with the most values changed."""
        columns = self.changed_columns()
        if columns.empty:
            return None
        both = columns[(columns["present"] == "both") & (columns["changed"].fillna(0) > 0)]
        if both.empty:
            return None
        top = both.sort_values(["changed", "table", "column"], ascending=[False, True, True])
        return str(top.iloc[0]["table"]), str(top.iloc[0]["column"])

    def value_distribution(
        self, table: str | None = None, column: str | None = None, top: int = 12
    ) -> pd.DataFrame:
        """Rows per value before and after of one column (or `column$.json.path`): the `top`
        most frequent values on either side, the rest summed as "(other)". Without a table
        and column, those of `most_changed_column()` (an empty frame when nothing changed);
        `attrs["column"]` names what was counted."""
        if table is None or column is None:
            chosen = self.most_changed_column()
            if chosen is None:
                empty = pd.DataFrame({"value": [], "before": [], "after": []})
                empty.attrs["column"] = "no column changed"
                return empty.astype({"before": "int64", "after": "int64"})
            table, column = chosen
        named = f"{table}.{column}"
        path = None
        if "$" in column:
            column, path = column.split("$", 1)
            path = "$" + path
        c = f"CAST({quote_ident(column)} AS VARCHAR)"
        if path:
            at = quote_literal(path)
            kind = f"json_type({c}, {at})"
            value = (
                f"CASE WHEN {c} IS NULL THEN '(NULL)' WHEN {kind} IS NULL THEN '(absent)' "
                f"WHEN {kind} = 'NULL' THEN 'null' ELSE json_extract_string({c}, {at}) END"
            )
        else:
            value = f"coalesce({c}, '(NULL)')"

        name = {"before": table, "after": self.renamed.get(table, table)}

        def counts(side: str) -> str:
            if column not in column_types(self.con, side, name[side]):  # added or dropped
                return "SELECT NULL::VARCHAR AS value, 0 AS n WHERE false"
            source = f"{side}.{quote_ident(name[side])}"
            return f"SELECT {value} AS value, count(*) AS n FROM {source} GROUP BY 1"

        frame = self.con.execute(
            f"WITH b AS ({counts('before')}), a AS ({counts('after')}) "
            "SELECT coalesce(b.value, a.value) AS value, coalesce(b.n, 0) AS before, "
            "coalesce(a.n, 0) AS after FROM b FULL OUTER JOIN a "
            "ON b.value IS NOT DISTINCT FROM a.value "
            "ORDER BY greatest(coalesce(b.n, 0), coalesce(a.n, 0)) DESC, 1 NULLS FIRST"
        ).df()
        if len(frame) > top:
            rest = frame.iloc[top:]
            frame = pd.concat(
                [
                    frame.iloc[:top],
                    pd.DataFrame(
                        [
                            {
                                "value": "(other)",
                                "before": rest["before"].sum(),
                                "after": rest["after"].sum(),
                            }
                        ]
                    ),
                ],
                ignore_index=True,
            )
        frame = frame.astype({"before": "int64", "after": "int64"})
        frame.attrs["column"] = named
        return frame

    def to_dict(self) -> dict:
        """Every section as JSON-ready records."""
        return {
            "equal": self.equal,
            "schema": records(self.schema),
            "summary": records(self.summary()),
            "column_summary": records(self.column_summary()),
            "samples": records(self.samples()),
            "counters": records(self.counters),
            "renamed": self.renamed,
            "notes": self.notes,
        }

    def text(self) -> str:
        """The report as plain text (for the CLI and logs)."""
        # a changed table's definitions that changed say enough
        detailed = (self.schema["detail"] != "") & (self.schema["change"] == "changed")
        schema = self.schema.assign(
            before=self.schema["before"].map(_one_line).mask(detailed, ""),
            after=self.schema["after"].map(_one_line).mask(detailed, ""),
        )
        parts = [
            "Schema changes",
            frame_text(schema) if not schema.empty else "  (none)",
            "",
            "Summary",
            frame_text(self.summary()),
        ]
        changed = self.changed_columns()
        if not changed.empty:
            shown = _exact_floats(changed)
            shown = shown.astype(object).where(shown.notna(), MISSING)  # not None, NaN and <NA>
            parts += ["", "Columns with changes", frame_text(shown)]
        if not self.counters.empty:
            parts += ["", "AUTOINCREMENT counters", frame_text(self.counters)]
        if self.notes:
            parts += ["", "Notes from loading", *(f"  {n}" for n in self.notes)]
        return "\n".join(parts)


def _exact_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the floats of its mixed columns (min and max of columns of several types)
    as Python writes them back exactly: pandas would print 1.7976931348623157e+308 there
    with all of its 309 digits."""
    mixed = [c for c in frame.columns if frame[c].dtype == object]
    return frame.assign(  # not Series.map: it would make ints and None float64 again
        **{
            c: pd.Series(
                [repr(v) if isinstance(v, float) and v == v else v for v in frame[c]],
                index=frame.index,
                dtype=object,
            )
            for c in mixed
        }
    )


def _one_line(sql: object, width: int = 70) -> str:
    if not isinstance(sql, str):
        return ""
    text = " ".join(sql.split())
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _shared_duckdb(before: Snapshot, after: Snapshot) -> duckdb.DuckDBPyConnection | None:
    """The one DuckDB connection both snapshots were read into, as schemas `before` and
    `after` (`load_snapshot(into=…)`), so nothing is copied; None otherwise."""
    if before.direct is None or after.direct is None or before.direct.con is not after.direct.con:
        return None
    if (before.direct.schema, after.direct.schema) != ("before", "after"):
        return None
    return before.direct.con


def _schema_objects(
    snapshot: Snapshot,
    places: dict[tuple[str, str], tuple[str, str, int]] | None = None,
    held: set[str] | None = None,
) -> dict[tuple[str, str], str]:
    """Every object's SQL, and each column's definition; with `places`, each column's key
    there → (table, column, position). With `held` (lower-cased table names), only the
    objects of those tables, views left out."""

    def kept(table: str) -> bool:
        return held is None or table.lower() in held

    with snapshot.schema_engine() as engine:
        objects = {
            (t, name): sql
            for t, name, tbl, sql in engine.schema()
            if not name.startswith("_cf_") and kept(tbl) and (held is None or t != "view")
        }
        for table in filter(kept, engine.tables()):
            for cid, col, type_, notnull, default, pk in engine.columns(table):
                key = ("column", shown(table, col))  # `"ledger.entries".memo`, not ambiguous
                if places is not None:
                    places[key] = (table, col, cid)
                collation = engine.conn.column_metadata("main", table, col)[1]
                objects[key] = (
                    f"{type_}{' NOT NULL' if notnull else ''}"
                    f"{f' DEFAULT {default}' if default is not None else ''}"
                    f"{' PRIMARY KEY' if pk else ''}"
                    f"{f' COLLATE {collation.upper()}' if collation.upper() != 'BINARY' else ''}"
                )
    return objects


def schema_diff(
    before: Snapshot,
    after: Snapshot,
    values_kept: Callable[[str, str, str], tuple[int, int]] | None = None,
    renamed_tables: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Tables, columns (declared type, NOT NULL, default), indexes, triggers, views added,
    removed or changed; a table added or removed with its rows (`rows` in its detail). A
    column gone and one come in its place, declared alike, is renamed when `values_kept`
    (table, old name, new name → values that differ, values compared) finds most values
    kept; those that differ are said. A table in `renamed_tables` (before → after) is one
    row, renamed, its columns (the same on both sides) not listed."""
    was: dict[tuple[str, str], tuple[str, str, int]] = {}
    now: dict[tuple[str, str], tuple[str, str, int]] = {}
    held = _held_tables(before, after)
    a, b = _schema_objects(before, was, held), _schema_objects(after, now, held)
    renamed, differing = {}, {}
    moved = renamed_tables or {}
    scored = []
    for old, new in _rename_candidates(a, b, was, now, moved) if values_kept else []:
        differ, compared = values_kept(was[old][0], was[old][1], now[new][1])
        if compared and 2 * differ < compared:  # most kept: not a column dropped and one added
            scored.append(
                (differ / compared, was[old][2] != now[new][2], old, new, differ, compared)
            )
    for _share, _elsewhere, old, new, differ, compared in sorted(scored):  # most kept first
        if old not in renamed and new not in renamed.values():  # one to one
            renamed[old], differing[old] = new, (differ, compared)
    rows = []
    for old, new in moved.items():
        rows.append(
            {
                "object": "table",
                "name": old,
                "change": "renamed",
                "detail": f"to {new}",
                "before": a.get(("table", old)),
                "after": b.get(("table", new)),
            }
        )
    gone_with = set(moved) | set(moved.values())
    after_column = {(t, c): key for key, (t, c, _) in now.items()}
    across = {  # a renamed table's column before → the same column after, where kept
        key: after_column[(moved[t], c)]
        for key, (t, c, _) in was.items()
        if t in moved and (moved[t], c) in after_column
    }
    for key in sorted(a.keys() | b.keys()):
        if (key[0] == "table" and key[1] in gone_with) or key in across.values():
            continue  # a renamed table: said by its row; its columns from the side before
        if key in across:
            moved_to = across[key]
            if not _same_definition("column", a[key], b[moved_to]):
                rows.append(
                    {
                        "object": "column",
                        "name": moved_to[1],
                        "change": "changed",
                        "detail": _what_changed("column", a[key], b[moved_to]),
                        "before": a[key],
                        "after": b[moved_to],
                    }
                )
            continue
        if key in renamed or key in renamed.values():
            if key in renamed:
                rows.append(
                    {
                        "object": "column",
                        "name": key[1],
                        "change": "renamed",
                        "detail": f"to {now[renamed[key]][1]}"
                        + (
                            f" ({differing[key][0]:,} of {differing[key][1]:,} values differ)"
                            if differing[key][0]
                            else ""
                        ),
                        "before": a[key],
                        "after": b[renamed[key]],
                    }
                )
            continue
        detail = _what_changed(key[0], a.get(key), b.get(key))
        if key not in b:
            change = "removed"
            if key[0] == "table":
                detail = _rows(before.row_counts.get(key[1]))
        elif key not in a:
            change = "added"
            if key[0] == "table":
                detail = _rows(after.row_counts.get(key[1]))
        elif not _same_definition(key[0], a[key], b[key]):
            change = "changed"
        else:
            continue
        rows.append(
            {
                "object": key[0],
                "name": key[1],
                "change": change,
                "detail": detail,
                "before": a.get(key),
                "after": b.get(key),
            }
        )
    return pd.DataFrame(rows, columns=["object", "name", "change", "detail", "before", "after"])


LEDGER_COLUMNS = ["id", "name", "applied_at"]
"""The columns of wrangler's ledger table, whatever its name."""


def _ledgers(snapshot: Snapshot) -> tuple[set[str], list[str]]:
    """(its tables lower-cased, those shaped as wrangler's ledger)."""
    with snapshot.schema_engine() as engine:
        tables = engine.tables()
        return (
            {t.lower() for t in tables},
            [t for t in tables if [c[1] for c in engine.columns(t)] == LEDGER_COLUMNS],
        )


def _lost_ledger(before: Snapshot, after: Snapshot) -> str | None:
    """The ledger before holds, when after holds none. No migration drops it (wrangler
    never does), but `wrangler d1 export --table` leaves it out: after holds chosen tables."""
    if _ledgers(after)[1]:
        return None
    return next(iter(_ledgers(before)[1]), None)


def _partial_export_hints(before: Snapshot, after: Snapshot, schema: pd.DataFrame) -> list[str]:
    """Notes on a side that lacks the other's ledger: after without it holds chosen tables
    (only those are compared); before without it may be one too, or a database migrations
    never ran on, so its tables are compared as they are, with a note when some read as
    added."""
    notes = []
    if lost := _lost_ledger(before, after):
        notes.append(
            f"after: has no {lost} table, which before has and no migration drops: an export "
            f"of chosen tables (`wrangler d1 export --table`); only the tables it holds are "
            "compared, compare exports of the same tables for the rest"
        )
    gone = schema[(schema["object"] == "table") & schema["change"].isin(["added", "removed"])]
    if not gone.empty and (gained := _lost_ledger(after, before)):
        notes.append(
            f"before: has no {gained} table, which after has: an export of chosen tables "
            "(`wrangler d1 export --table`)? The tables it was not asked for read as added; "
            "compare exports of the same tables"
        )
    return notes


def _held_tables(before: Snapshot, after: Snapshot) -> set[str] | None:
    """The tables (lower-cased) both inputs hold when either holds chosen tables only (a
    one-table `--json`, CSV or Parquet file, or an after export without before's ledger):
    the rest is in neither comparison. None when both are whole databases."""
    chosen = [s.only_tables for s in (before, after) if s.only_tables is not None]
    if after.only_tables is None and _lost_ledger(before, after):
        chosen.append(frozenset(after.row_counts))
    if not chosen:
        return None
    return set.intersection(*({t.lower() for t in c} for c in chosen))


_RENAME_PAIRS = 64
"""Pairs of a table's gone and come columns whose values are compared at most; past it only
a column come in the place of one gone is tried."""


def _rename_candidates(
    a: dict[tuple[str, str], str],
    b: dict[tuple[str, str], str],
    was: dict[tuple[str, str], tuple[str, str, int]],
    now: dict[tuple[str, str], tuple[str, str, int]],
    moved: dict[str, str],
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Columns that may have been renamed: one gone and one come in the same table (under
    its new name, for a table in `moved`), declared alike (key before, key after). RENAME
    COLUMN keeps a column's place, but a DROP COLUMN beside it moves it up, so every such
    pair of a table is a candidate while there are few."""
    gone: dict[str, list[tuple[str, str]]] = {}
    for key, (table, _col, _place) in was.items():
        if key not in b:
            gone.setdefault(moved.get(table, table), []).append(key)
    come: dict[str, list[tuple[str, str]]] = {}
    for key, (table, _col, _place) in now.items():
        if key not in a:
            come.setdefault(table, []).append(key)
    found = []
    for table, olds in gone.items():
        news = come.get(table, [])
        every = len(olds) * len(news) <= _RENAME_PAIRS
        found += [
            (old, new)
            for old in olds
            for new in news
            if a[old] == b[new] and (every or was[old][2] == now[new][2])
        ]
    return found


def _rows(count: int | None) -> str:
    return "" if count is None else f"{count:,} row{'s' if count != 1 else ''}"


def _same_definition(kind: str, before: str | None, after: str | None) -> bool:
    """Whether two definitions are the same: a table's are when its column definitions,
    constraints and options are, in order (SQLite keeps the CREATE TABLE text as written or
    as ALTER TABLE rewrote it: line breaks and comments are no schema)."""
    if before == after:
        return True
    if before is None or after is None:
        return False
    if kind != "table":  # an index, trigger or view: the same tokens, however spaced
        return _token_key(before) == _token_key(after)
    old, new = table_parts(before), table_parts(after)
    return bool(old) and [part_key(p) for p in old] == [part_key(p) for p in new]


def _token_key(sql: str) -> list[tuple] | str:
    """`sql` as its tokens: keywords in any case, names and literals as written; comments,
    line breaks (CR LF too) and spaces between tokens left out. Untokenizable: the text."""
    try:
        return [(t.word, None, None) if t.word else ("", t.text, t.type) for t in tokenize(sql)]
    except SqlTokenError:
        return sql


def _what_changed(kind: str, before: str | None, after: str | None) -> str:
    """For a table whose CREATE TABLE changed: its definitions that went (−) and came (+)."""
    if kind != "table" or before is None or after is None:
        return ""
    old, new = table_parts(before), table_parts(after)
    old_keys, new_keys = [part_key(p) for p in old], [part_key(p) for p in new]
    changes = [f"− {p}" for p, k in zip(old, old_keys, strict=True) if k not in new_keys]
    changes += [f"+ {p}" for p, k in zip(new, new_keys, strict=True) if k not in old_keys]
    if not changes and old and sorted(old_keys) == sorted(new_keys):
        return "the same definitions in another order"
    return "; ".join(changes)


def _renamed_tables(before: Snapshot, after: Snapshot) -> dict[str, str]:
    """Tables only before paired with tables only after whose columns begin with the same
    columns declared alike, name for name in the same order (`ALTER TABLE … RENAME TO`,
    perhaps with `ADD COLUMN`s after it), or that keep the same primary key and most of
    their columns declared alike (a `DROP COLUMN` or `RENAME COLUMN` too): before → after,
    only where the pairing is one to one. The caller keeps a pair only when most rows match
    across."""
    if _held_tables(before, after) is not None:
        return {}
    places: dict[str, dict[tuple[str, str], tuple[str, str, int]]] = {"b": {}, "a": {}}
    objects = {
        "b": _schema_objects(before, places["b"]),
        "a": _schema_objects(after, places["a"]),
    }

    def shapes(side: str, tables: set[str]) -> dict[str, tuple]:
        columns: dict[str, list] = {t: [] for t in tables}
        for key, (table, column, cid) in places[side].items():
            if table in columns:
                columns[table].append((cid, column, objects[side][key]))
        return {t: tuple(sorted(c)) for t, c in columns.items() if c}

    gone = set(before.row_counts) - set(after.row_counts)
    come = set(after.row_counts) - set(before.row_counts)
    was, now = shapes("b", gone), shapes("a", come)
    pairs = {}

    def fits(shape: tuple, other: tuple) -> bool:
        if other[: len(shape)] == shape:
            return True
        columns, others = {c[1:] for c in shape}, {c[1:] for c in other}
        key = {c for c in columns if " PRIMARY KEY" in c[1]}
        same_key = key and key == {c for c in others if " PRIMARY KEY" in c[1]}
        return bool(same_key) and 2 * len(columns & others) > len(columns)

    for old, shape in was.items():
        matches = [new for new, other in now.items() if fits(shape, other)]
        if len(matches) == 1 and sum(fits(s, now[matches[0]]) for s in was.values()) == 1:
            pairs[old] = matches[0]
    return pairs


def _primary_key(snapshot: Snapshot, table: str) -> list[str]:
    with snapshot.schema_engine() as engine:
        cols = sorted((c for c in engine.columns(table) if c[5]), key=lambda c: c[5])
    return [c[1] for c in cols]


def _unique_key(before: Snapshot, after: Snapshot, table: str) -> list[str]:
    """For a table without a primary key: the first UNIQUE NOT NULL key both sides keep, so
    that a row whose other values changed is one changed row, not one removed and one added."""
    with before.schema_engine() as engine:
        old = engine.unique_not_null_keys(table)
    with after.schema_engine() as engine:
        new = set(engine.unique_not_null_keys(table))
    return next((list(k) for k in old if k in new), [])


def compare_tables(
    before: Snapshot,
    after: Snapshot,
    keys: dict[str, list[str]] | None = None,
    tolerance: dict[str, float] | None = None,
    mask: set[str] | None = None,
    tables: list[str] | None = None,
) -> Diff:
    """Compare two snapshots table by table in DuckDB.

    `keys` gives a key per table (default: its primary key, else a UNIQUE NOT NULL key both
    sides keep, else a whole-row hash);
    `tolerance` an absolute tolerance per numeric column (`table.column` or `column`), compared
    as doubles (a column one side holds JavaScript-rounded gets 0);
    `mask` columns whose values samples replace with ***.
    """
    con = _shared_duckdb(before, after) or connect_duckdb()
    before.duckdb(con, "before")
    after.duckdb(con, "after")
    tolerance, rounding = _javascript_rounding(before, after, tolerance or {})
    common = sorted(set(before.row_counts) & set(after.row_counts))
    given = set(keys or {})
    keys = dict(keys or {})
    unique = set()
    for table in tables or common:
        if table not in keys:
            primary = _primary_key(after, table)
            if primary:
                keys[table] = primary
            elif found := _unique_key(before, after, table):
                keys[table] = found
                unique.add(table)
    renamed = {} if tables else _renamed_tables(before, after)
    for old, new in renamed.items():
        if old not in keys and (primary := _primary_key(after, new)):
            keys[old] = primary
    collations = {}
    with before.schema_engine() as old, after.schema_engine() as new:
        for table, key in keys.items():
            if table in common and table not in given:  # a key the schema declares
                both = old.key_collations(table, key)
                if both and both == new.key_collations(table, key):
                    collations[table] = both
    diff = compare_duckdb(
        con,
        keys,
        tolerance,
        mask,
        tables or sorted([*common, *renamed]),
        given=given,
        unique=unique,
        renamed=renamed,
        collations=collations,
    )
    for old in list(renamed):  # a rename keeps most rows; else a table dropped, one created
        t = diff.tables[old]
        if 2 * (t.unchanged + t.changed) <= t.rows_before:
            del diff.tables[old], renamed[old]
    diff.renamed = renamed

    def values_kept(table: str, old: str, new: str) -> tuple[int, int]:
        """(values that differ under the new name, values compared): rows matched by key,
        or the two columns as multisets of values for a table without one (a renamed table
        read under its new name after)."""
        t, o, n = quote_ident(table), quote_ident(old), quote_ident(new)
        now = quote_ident(renamed.get(table, table))
        key = keys.get(table)
        if key:
            on = " AND ".join(f"b.{quote_ident(k)} = a.{quote_ident(k)}" for k in key)
            query = (
                f"SELECT count(*) FILTER (WHERE b.{o} IS DISTINCT FROM a.{n}), count(*) "
                f"FROM before.{t} b JOIN after.{now} a ON {on}"
            )
        else:
            query = (
                f"SELECT (SELECT count(*) FROM (SELECT {o} FROM before.{t} EXCEPT ALL "
                f"SELECT {n} FROM after.{now})), (SELECT count(*) FROM before.{t})"
            )
        differ, compared = con.execute(query).fetchall()[0]
        return int(differ), int(compared)

    diff.schema = schema_diff(before, after, values_kept, renamed)
    diff.held = _held_tables(before, after)
    diff.counters = counters_diff(before, after, tables or common)
    diff.notes = [f"before: {n}" for n in before.notes] + [f"after: {n}" for n in after.notes]
    diff.notes += _partial_export_hints(before, after, diff.schema)
    for side, snapshot in (("before", before), ("after", after)):
        if snapshot.only_tables is not None:
            diff.notes.append(
                f"{side}: holds {', '.join(sorted(snapshot.only_tables))} only (one table's "
                "rows): the other tables of either side are not compared"
            )
    diff.notes += rounding
    return diff


COUNTERS = ["table", "before", "after"]


def counters_diff(before: Snapshot, after: Snapshot, tables: list[str]) -> pd.DataFrame:
    """The AUTOINCREMENT counters of `tables` that are lower after (or gone from a table
    still there): ids between are given again, where rows since deleted had them. A counter
    that rose is what inserts do, and nothing is given twice."""
    with before.schema_engine() as b, after.schema_engine() as a:
        was, now = b.autoincrement_counters(), a.autoincrement_counters()
    rows = [
        {"table": table, "before": was[key], "after": now.get(key)}
        for table in tables
        if (key := table.lower()) in was and (now.get(key) or 0) < was[key]
    ]
    return pd.DataFrame(rows, columns=COUNTERS).astype({"before": "Int64", "after": "Int64"})


def _javascript_rounding(
    before: Snapshot, after: Snapshot, tolerance: dict[str, float]
) -> tuple[dict[str, float], list[str]]:
    """A column one side holds JavaScript-rounded (a `wrangler d1 export`) and the other
    exactly is compared as doubles (a tolerance of 0 unless one is given): 2^53 + 1 against
    its export's 2^53 is no change. With a note per column saying what that cannot see."""
    tolerance = dict(tolerance)
    notes = []
    for side, rounded, exact in (("before", before, after), ("after", after, before)):
        for table, column in rounded.rounded_columns:
            if (table, column) in exact.rounded_columns:
                continue  # both rounded alike: equal text is equal
            if tolerance.setdefault(f"{table}.{column}", tolerance.get(column, 0.0)) == 0.0:
                notes.append(
                    f"{table}.{column} compared as doubles: the {side} side holds its "
                    "integers past 2^53 as JavaScript rounded them, so rows that differ only "
                    "there are not changes, and a change smaller than the rounding (1 near "
                    "2^53, 512 near 2^62) is not seen"
                )
    return tolerance, notes


def compare_duckdb(
    con: duckdb.DuckDBPyConnection,
    keys: dict[str, list[str]] | None = None,
    tolerance: dict[str, float] | None = None,
    mask: set[str] | None = None,
    tables: list[str] | None = None,
    given: set[str] | None = None,
    unique: set[str] | None = None,
    renamed: dict[str, str] | None = None,
    collations: dict[str, dict[str, str]] | None = None,
) -> Diff:
    """Compare the tables of schemas `before` and `after` already in `con` (no schema diff):
    `compare_tables` without the SQLite side, for data that is already in DuckDB. `keys`
    are primary keys unless their table is in `given` or `unique` (a UNIQUE NOT NULL key);
    a table in `renamed` is compared with its new name after; `collations` per table, the
    key columns its unique index compares under NOCASE or RTRIM."""
    keys, tolerance, mask = keys or {}, tolerance or {}, mask or set()
    if tables is None:
        tables = sorted(
            {r[0] for r in con.execute(_TABLES, ["before"]).fetchall()}
            & {r[0] for r in con.execute(_TABLES, ["after"]).fetchall()}
        )
    result = Diff(pd.DataFrame(columns=["object", "name", "change", "before", "after"]), {}, con)
    for table in tables:
        key = keys.get(table)
        kind = "given" if key and (given is None or table in given) else "primary key"
        kind = "unique key" if table in (unique or set()) else kind
        result.tables[table] = compare_table(
            con,
            table,
            key,
            kind,
            tolerance,
            mask,
            (renamed or {}).get(table, ""),
            (collations or {}).get(table),
        )
    return result


_TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
