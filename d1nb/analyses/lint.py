"""Lint rules for D1 migrations, each with a code, a severity and a page in docs/rules.md.

Findings come from the statements of each file, the project's configs and history, and the
schema replayed from empty (to know, at each file, which tables reference which with ON DELETE
CASCADE). Suppress a finding with `-- d1nb: ignore CODE` on the statement's lines or the line
above it, or for a whole file with `-- d1nb: ignore-file CODE`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import pairwise

import apsw
import pandas as pd

from d1nb import d1
from d1nb.engine.d1engine import D1Engine, cascade_edges
from d1nb.formats.config import wrangler_version
from d1nb.formats.migrations import MigrationFile, Statement
from d1nb.formats.sql import added_column, check_constraints, lowercase_compound_end, quote_ident
from d1nb.inputs.history import History, evolution_of, status_frame


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    summary: str


RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        Rule(
            "D1N001",
            "create-without-if-not-exists",
            "warning",
            "CREATE TABLE / INDEX / VIEW / TRIGGER without IF NOT EXISTS",
        ),
        Rule(
            "D1N002",
            "add-column-not-null-without-default",
            "error",
            "ADD COLUMN NOT NULL without a default fails on a populated table",
        ),
        Rule(
            "D1N003",
            "add-column-non-constant-default",
            "error",
            "ADD COLUMN with a non-constant default fails on a populated table",
        ),
        Rule("D1N004", "drop-table", "warning", "DROP TABLE loses data; D1 has no rollback"),
        Rule("D1N005", "drop-column", "warning", "DROP COLUMN loses data and breaks running code"),
        Rule(
            "D1N006", "update-without-where", "warning", "UPDATE without WHERE rewrites every row"
        ),
        Rule("D1N007", "delete-without-where", "warning", "DELETE without WHERE empties the table"),
        Rule(
            "D1N008",
            "rebuild-cascades",
            "error",
            "dropping a table that others still reference: cascades, or fails once they hold rows",
        ),
        Rule(
            "D1N009",
            "pragma-foreign-keys",
            "warning",
            "PRAGMA foreign_keys in a migration has no effect on D1",
        ),
        Rule(
            "D1N010",
            "multiple-transactions",
            "error",
            "more than one BEGIN/COMMIT pair (or SAVEPOINT) in one file",
        ),
        Rule("D1N011", "statement-too-large", "error", "statement over D1's 100,000-byte limit"),
        Rule(
            "D1N012",
            "naming",
            "warning",
            "migration file name not NNNN_snake_case, or not descriptive",
        ),
        Rule("D1N013", "duplicate-number", "warning", "two migration files share a number"),
        Rule(
            "D1N014",
            "modified-after-apply",
            "error",
            "an applied migration file was edited after it was applied",
        ),
        Rule("D1N015", "rename", "warning", "RENAME TABLE / COLUMN breaks code still running"),
        Rule(
            "D1N016",
            "enum-check-one-step",
            "warning",
            "a CHECK enum changed in the same migration that rebuilds the table",
        ),
        Rule(
            "D1N017",
            "add-column-fails-when-populated",
            "error",
            "ADD COLUMN with a STORED generated column or a CHECK fails on a populated table",
        ),
        Rule(
            "D1N018",
            "fails-from-empty",
            "warning",
            "the file fails when the history is replayed from an empty database",
        ),
        Rule(
            "D1N019",
            "unreadable-file",
            "error",
            "the file is not UTF-8 text, or its last statement has no closing ';'",
        ),
        Rule(
            "D1N020",
            "not-a-migration",
            "info",
            "a file in the migrations folder that wrangler ignores",
        ),
        Rule(
            "D1N021",
            "placeholder-database-id",
            "info",
            "a config binds a placeholder database id (template or local only)",
        ),
        Rule("D1N022", "number-gap", "info", "the migration numbers skip one or more numbers"),
        Rule(
            "D1N023",
            "old-splitter-skips",
            "error",
            "a block closed with a lowercase `end`: wrangler before 4.124 skips the statements "
            "after it",
        ),
    ]
}

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
FINDING_COLUMNS = ["rule", "name", "severity", "service", "database", "file", "line", "message"]
_IGNORE = re.compile(r"--\s*d1nb:\s*ignore\s+([A-Z0-9, ]+)")
_IGNORE_FILE = re.compile(r"--\s*d1nb:\s*ignore-file\s+([A-Z0-9, ]+)")
_GOOD_NAME = re.compile(r"^\d{4,}_[a-z0-9]+(?:_[a-z0-9]+)*\.sql$")
_VAGUE = {
    "fix",
    "update",
    "changes",
    "migration",
    "misc",
    "temp",
    "test",
    "wip",
    "new",
    "stuff",
    "patch",
    "init2",
}
_CREATE_KINDS = {
    "create_table",
    "create_index",
    "create_view",
    "create_trigger",
    "create_virtual_table",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    service: str
    database: str
    file: str
    line: int
    message: str

    @property
    def name(self) -> str:
        return RULES[self.rule].name


def _checks(sql: str) -> set[str]:
    """Normalised text of each CHECK constraint of a CREATE TABLE statement."""
    return {" ".join(expr.split()).lower() for _column, expr in check_constraints(sql)}


@lru_cache(maxsize=16)
def _ignore_comments(text: str) -> tuple[str, dict[int, str]]:
    """A file's `ignore-file` codes, and its `ignore` codes by line: read once per file, so
    that checking every finding of a large file is not quadratic."""
    whole = " ".join(m.group(1) for m in _IGNORE_FILE.finditer(text))
    by_line: dict[int, str] = {}
    if "d1nb:" in text:
        for lineno, line in enumerate(text.splitlines(), 1):
            codes = " ".join(m.group(1) for m in _IGNORE.finditer(line))
            if codes:
                by_line[lineno] = codes
    return whole, by_line


def _suppressed(f: MigrationFile, s: Statement | None, code: str) -> bool:
    whole, by_line = _ignore_comments(f.text or "")
    if code in whole:
        return True
    if s is None:
        return False
    return any(code in by_line.get(n, "") for n in range(max(1, s.line - 1), s.end_line + 1))


def _default_fails_check(sql: str) -> str | None:
    """Why an ADD COLUMN's CHECK refuses the value existing rows get (its default, else NULL),
    or None when it accepts it. SQLite checks every existing row against the CHECK; a CHECK
    that is NULL passes. A CHECK that reads other columns cannot be judged without rows and
    is reported as such."""
    column = added_column(sql)
    if column is None or not column.checks:
        return None
    default = column.default or "NULL"
    with D1Engine(":memory:") as engine:
        for check in column.checks:
            try:
                refused = engine.conn.execute(
                    f"SELECT coalesce(NOT ({check}), 0) FROM (SELECT {default} AS "
                    f"{quote_ident(column.name)})"
                ).fetchall()[0][0]
            except apsw.Error as exc:
                return f"its CHECK ({check}) cannot be judged on the default alone ({exc})"
            if refused:
                return f"its default {default} does not satisfy CHECK ({check})"
    return None


def _drop_hazards(
    s: Statement,
    fks: list[tuple] | None,
    fks_before: list[tuple],
    dropped_earlier: set[str | None],
) -> list[tuple[str, int, str, Statement | None]]:
    """D1N008 for a DROP TABLE whose table other tables still reference: D1 keeps foreign keys
    on, so the implicit DELETE cascades (CASCADE, SET NULL, SET DEFAULT) or fails (NO ACTION,
    RESTRICT) as soon as a child row points at a parent row. `fks` are the foreign keys just
    before the statement (from the replay from empty) or, when it never got there, those
    before the file less the tables dropped earlier in it."""
    if fks is None:
        fks = [fk for fk in fks_before if fk[0] not in dropped_earlier]
    acting, blocking = [], []
    for parent, child, col, action in cascade_edges(fks, s.table or ""):
        if child == s.table:
            continue
        how = action if parent == s.table else f"{action} via {parent}"
        (blocking if action in ("NO ACTION", "RESTRICT") else acting).append(
            f"{child}.{col} (ON DELETE {how})"
        )
    hazards = (
        (
            acting,
            "deletes its rows first, and under `wrangler d1 migrations apply` D1 keeps foreign "
            "keys ON (PRAGMA foreign_keys=OFF is ignored in its transaction), so child rows are "
            "deleted or nulled (remote `wrangler d1 execute --file` honours the pragma; "
            "`d1nb replay --via execute-file` shows that path)",
        ),
        (
            blocking,
            "fails with 'FOREIGN KEY constraint failed' as soon as a child row references it "
            "(D1 keeps foreign keys ON; PRAGMA defer_foreign_keys only moves the failure to the "
            "commit)",
        ),
    )
    return [
        ("D1N008", s.line, f"DROP TABLE {s.table} {what}: {', '.join(children)}", s)
        for children, what in hazards
        if children
    ]


FIXED_SPLITTER = (4, 124, 0)
"""The wrangler release whose splitter closes a block on a lowercase `end` (workers-sdk #15046)."""


def old_splitter_skips(
    f: MigrationFile, wrangler: tuple[tuple[int, int, int], str] | None
) -> list[tuple[str, int, str, Statement | None]]:
    """D1N023: a statement whose BEGIN/CASE block ends in a lowercase `end`, with statements
    after it, when the service's wrangler is older than 4.124 (or unknown): that splitter never
    closes the block and folds the rest of the file (and the ledger row it appends) into it."""
    if wrangler is not None and wrangler[0] >= FIXED_SPLITTER:
        return []
    for i, s in enumerate(f.statements):
        later = f.statements[i + 1 :]
        if later and lowercase_compound_end(s.sql):
            which = (
                f"this project's wrangler {'.'.join(map(str, wrangler[0]))} ({wrangler[1]})"
                if wrangler
                else "a wrangler older than 4.124 (no package.json or lock file names one)"
            )
            lines = ", ".join(str(t.line) for t in later)
            return [
                (
                    "D1N023",
                    s.line,
                    f"a block closed with a lowercase `end`: {which} folds the "
                    f"{len(later)} statement(s) after it (lines {lines}) and the ledger row into "
                    "this one and sends them as a single statement, which D1 may run only in "
                    "part, without an error (workers-sdk #15046; locally Miniflare 4.20260426 "
                    "still ran them); write END, or use wrangler 4.124 or later",
                    s,
                )
            ]
    return []


def lint_file(
    f: MigrationFile,
    fks_before: list[tuple],
    schema_before: dict[str, str],
    fks_at_drop: dict[int, list[tuple]] | None = None,
) -> list[tuple[str, int, str, Statement | None]]:
    """(code, line, message, statement) for one file's statements."""
    fks_at_drop = fks_at_drop or {}
    out: list[tuple[str, int, str, Statement | None]] = []
    if f.text is None or any(not s.complete for s in f.statements):
        line = next((s.line for s in f.statements if not s.complete), 0)
        out.append(("D1N019", line, "; ".join(p.message for p in f.problems), None))
    base = f.name.split("/")[0]
    vague = f.description.lower() in _VAGUE or len(f.description) < 4
    if "/" not in f.name:
        if not _GOOD_NAME.match(base):
            out.append(("D1N012", 0, f"name '{f.name}' is not NNNN_snake_case.sql", None))
        elif vague:
            out.append(
                (
                    "D1N012",
                    0,
                    f"name '{f.name}' does not say what the migration does "
                    f"('{f.description}' is too short or too vague)",
                    None,
                )
            )
    dropped = {s.table for s in f.statements if s.kind == "drop_table"}
    dropped_earlier: set[str | None] = set()
    created = {s.table: s for s in f.statements if s.kind == "create_table"}
    renamed_into = {s.detail: s for s in f.statements if s.kind == "rename_table"}
    rebuilt = {t for t in dropped if t in created or t in renamed_into}
    rebuild_temps = {renamed_into[t].table for t in rebuilt if t in renamed_into}
    transactions = [s for s in f.statements if s.kind == "transaction"]
    if len(transactions) > 2 or any(
        s.detail not in ("BEGIN", "COMMIT", "END") for s in transactions
    ):
        out.append(
            (
                "D1N010",
                transactions[0].line,
                f"{len(transactions)} transaction statements; D1 strips one BEGIN/COMMIT "
                "pair and fails on more",
                transactions[0],
            )
        )
    for s in f.statements:
        temporary = s.kind == "create_table" and s.table in rebuild_temps
        if s.kind in _CREATE_KINDS and "if_not_exists" not in s.flags and not temporary:
            what = s.kind.removeprefix("create_").replace("_", " ").upper()
            message = f"CREATE {what} {s.detail or s.table} without IF NOT EXISTS: re-running fails"
            out.append(("D1N001", s.line, message, s))
        if s.kind == "add_column":
            if "not_null" in s.flags and "default" not in s.flags:
                out.append(
                    (
                        "D1N002",
                        s.line,
                        f"ADD COLUMN {s.detail} NOT NULL without default "
                        "fails on a populated table ('Cannot add a NOT NULL column with "
                        "default value NULL')",
                        s,
                    )
                )
            if "non_constant_default" in s.flags:
                out.append(
                    (
                        "D1N003",
                        s.line,
                        f"ADD COLUMN {s.detail} with a non-constant default "
                        "fails on a populated table ('Cannot add a column with non-constant "
                        "default')",
                        s,
                    )
                )
            if "stored" in s.flags:
                out.append(
                    (
                        "D1N017",
                        s.line,
                        f"ADD COLUMN {s.detail} as a STORED generated "
                        "column fails on a populated table",
                        s,
                    )
                )
            elif "check" in s.flags:
                failing = _default_fails_check(s.sql)
                if failing:
                    out.append(
                        (
                            "D1N017",
                            s.line,
                            f"ADD COLUMN {s.detail}: {failing}, so the statement fails on a "
                            "populated table ('CHECK constraint failed')",
                            s,
                        )
                    )
        if s.kind == "drop_table" and s.table not in rebuilt:
            out.append(("D1N004", s.line, f"DROP TABLE {s.table}: its rows are gone for good", s))
        if s.kind == "drop_table":
            out += _drop_hazards(s, fks_at_drop.get(s.index), fks_before, dropped_earlier)
            dropped_earlier.add(s.table)
        if s.kind == "drop_column":
            out.append(("D1N005", s.line, f"DROP COLUMN {s.table}.{s.detail}", s))
        if s.kind == "update" and "where" not in s.flags:
            out.append(
                (
                    "D1N006",
                    s.line,
                    f"UPDATE {s.table} without WHERE rewrites every row "
                    "(and bills every row written)",
                    s,
                )
            )
        if s.kind == "delete" and "where" not in s.flags:
            out.append(("D1N007", s.line, f"DELETE FROM {s.table} without WHERE", s))
        if s.kind == "pragma" and s.detail.split("=")[0] == "foreign_keys":
            out.append(
                (
                    "D1N009",
                    s.line,
                    f"PRAGMA {s.detail} has no effect inside D1's "
                    "migration transaction; use PRAGMA defer_foreign_keys=ON, which still "
                    "does not stop ON DELETE CASCADE",
                    s,
                )
            )
        if s.bytes > d1.MAX_STATEMENT_BYTES:
            out.append(
                (
                    "D1N011",
                    s.line,
                    f"statement of {s.bytes} bytes; D1's limit is {d1.MAX_STATEMENT_BYTES}",
                    s,
                )
            )
        if s.kind == "rename_column":
            out.append(
                (
                    "D1N015",
                    s.line,
                    f"RENAME COLUMN {s.table}.{s.detail}: deployed code "
                    "still uses the old name until it is redeployed",
                    s,
                )
            )
        if s.kind == "rename_table" and s.detail not in rebuilt:
            out.append(("D1N015", s.line, f"RENAME TABLE {s.table} TO {s.detail}", s))
    for table in sorted(rebuilt):
        old_sql = schema_before.get(table)
        new = created.get(table) or created.get(
            renamed_into[table].table if table in renamed_into else None
        )
        if old_sql and new is not None and _checks(old_sql) != _checks(new.sql):
            added = sorted(_checks(new.sql) - _checks(old_sql))
            removed = sorted(_checks(old_sql) - _checks(new.sql))
            change = "; ".join(
                [f"CHECK ({c}) added" for c in added] + [f"CHECK ({c}) removed" for c in removed]
            )
            out.append(
                (
                    "D1N016",
                    new.line,
                    f"table {table} is rebuilt with its CHECKs changed ({change}): old "
                    "code writing old values and rows copied across fail in one step; add "
                    "a new column, backfill, then switch",
                    new,
                )
            )
    return out


def lint(history: History) -> pd.DataFrame:
    """Every finding of the project, sorted by service, file and line."""
    findings: list[Finding] = []
    project = history.project
    for service, mdir in history.migration_dirs.items():
        binding = history.binding(service)
        evolution = evolution_of(history, service)
        database = binding.binding
        wrangler = wrangler_version(project.root, binding.config_path.parent)
        numbers: dict[int, list[str]] = {}
        for f in mdir.files:
            rel = project.relpath(f.path)
            fks = evolution.foreign_keys_before.get(f.name, [])
            schema_before = evolution.tables_before.get(f.name, {})
            at_drop = {
                index: keys
                for (name, index), keys in evolution.foreign_keys_at_drop.items()
                if name == f.name
            }
            found = lint_file(f, fks, schema_before, at_drop)
            found += old_splitter_skips(f, wrangler)
            for code, line, message, s in found:
                if not _suppressed(f, s, code):
                    findings.append(
                        Finding(code, RULES[code].severity, service, database, rel, line, message)
                    )
            if f.number is not None:
                numbers.setdefault(f.number, []).append(f.name)
        for number, names in numbers.items():
            if len(names) > 1:
                for name in names:
                    f = next(x for x in mdir.files if x.name == name)
                    if not _suppressed(f, None, "D1N013"):
                        findings.append(
                            Finding(
                                "D1N013",
                                "warning",
                                service,
                                database,
                                project.relpath(f.path),
                                0,
                                f"number {number:04d} is shared by {', '.join(names)}; "
                                "wrangler runs them in name order",
                            )
                        )
        ordered = sorted(numbers)
        for previous, number in pairwise(ordered):
            if number - previous > 1:
                f = next(x for x in mdir.files if x.name == numbers[number][0])
                missing = f"{previous + 1:04d}" + (
                    f"–{number - 1:04d}" if number - previous > 2 else ""
                )
                if not _suppressed(f, None, "D1N022"):
                    findings.append(
                        Finding(
                            "D1N022",
                            "info",
                            service,
                            database,
                            project.relpath(f.path),
                            0,
                            f"no migration numbered {missing} before this file: deleted or renamed "
                            "after it was applied somewhere?",
                        )
                    )
        for outcome in evolution.outcomes:
            if not outcome.ok:
                f = next(x for x in mdir.files if x.name == outcome.name)
                if f.text is not None and not _suppressed(f, None, "D1N018"):
                    findings.append(
                        Finding(
                            "D1N018",
                            "warning",
                            service,
                            database,
                            project.relpath(f.path),
                            outcome.error_line,
                            f"fails from an empty database only because {outcome.knock_on_of} "
                            f"failed before it: {outcome.error}"
                            if outcome.knock_on_of
                            else f"fails from an empty database: {outcome.error}",
                        )
                    )
        for other in mdir.other_files:
            findings.append(
                Finding(
                    "D1N020",
                    "info",
                    service,
                    database,
                    project.relpath(other),
                    0,
                    "not a migration: wrangler ignores it",
                )
            )
    status = status_frame(history)
    modified = status[status["modified_after_apply"]]
    for (service, name), rows in modified.groupby(["service", "name"]):
        mdir = history.migration_dirs[service]
        f = next(x for x in mdir.files if x.name == name)
        envs = ", ".join(sorted(rows["environment"]))
        findings.append(
            Finding(
                "D1N014",
                "error",
                service,
                history.binding(service).binding,
                project.relpath(f.path),
                0,
                f"applied in {envs}, then edited ({rows['note'].iloc[0]}): those "
                "databases do not have what the file now says",
            )
        )
    for b in project.bindings:
        if b.placeholder_id and b.is_template:
            findings.append(
                Finding(
                    "D1N021",
                    "info",
                    b.service,
                    b.database_name,
                    project.relpath(b.config_path),
                    0,
                    f"binding {b.binding} ({b.environment}) has placeholder id '{b.database_id}'",
                )
            )
    frame = pd.DataFrame([{**asdict(x), "name": x.name} for x in findings], columns=FINDING_COLUMNS)
    # a folder shared by several services: its findings once, naming every service
    same = ["rule", "name", "severity", "file", "line", "message"]
    frame = (
        frame.groupby(same, sort=False, dropna=False)
        .agg(service=("service", _joined), database=("database", _joined))
        .reset_index()[FINDING_COLUMNS]
    )
    return frame.sort_values(["service", "file", "line", "rule"], kind="stable").reset_index(
        drop=True
    )


def _joined(values: pd.Series) -> str:
    return ", ".join(dict.fromkeys(values))


def worst_severity(findings: pd.DataFrame) -> str | None:
    """The highest severity among findings, or None."""
    if findings.empty:
        return None
    return max(findings["severity"], key=SEVERITY_RANK.__getitem__)


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def lint_table(history: History) -> pd.DataFrame:
    """Every finding, errors first, then warnings, then notes; by service, file and line within."""
    findings = lint(history)
    return (
        findings.assign(_rank=findings["severity"].map(SEVERITY_ORDER))
        .sort_values(["_rank", "service", "file", "line"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
