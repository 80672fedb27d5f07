"""The lint rules' registry: each rule is declared once, beside its logic, with `@rule`.

A rule's code, name, severity, one-line summary and scope sit in its decorator; its page in
docs/rules.md is its function's docstring (`make docs` writes the page, a test keeps it
current). Severity and inline suppression are applied here, once, for every rule:
`-- d1nb: ignore CODE` on a statement's lines or the line above it, or
`-- d1nb: ignore-file CODE` anywhere in the file.

Scopes, and what a check receives and yields:
- "statement": `(statement, FileContext)` → messages (at the statement's line);
- "file": `(MigrationFile, FileContext)` → `(line, message, statement or None)`;
- "service": `(ServiceContext)` → `(MigrationFile, line, message, statement or None)`;
- "project": `(History)` → `Finding`s (configs and ledgers, not one migration file).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from d1nb.engine.evolution import SchemaEvolution
from d1nb.formats.migrations import MigrationDir, MigrationFile, Statement

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
SCOPES = ("statement", "file", "service", "project")
FINDING_COLUMNS = ["rule", "name", "severity", "service", "database", "file", "line", "message"]


@dataclass(frozen=True)
class Rule:
    """One lint rule: its identity, severity and one-line summary, where it looks, its check."""

    code: str
    name: str
    severity: str
    summary: str
    scope: str
    check: Callable[..., Iterable]

    @property
    def doc(self) -> str:
        """The rule's page in docs/rules.md (What, Why on D1, Fix, Example)."""
        return inspect.cleandoc(self.check.__doc__ or "")


RULES: dict[str, Rule] = {}
"""Every rule by code, in code order once `d1nb.analyses.lint` is imported."""


def rule(code: str, name: str, severity: str, summary: str, scope: str):
    """Register the decorated check as the rule `code`."""
    if severity not in SEVERITY_RANK or scope not in SCOPES or code in RULES:
        raise ValueError(f"rule {code}: bad severity or scope, or a code used twice")

    def register(check: Callable[..., Iterable]) -> Callable[..., Iterable]:
        RULES[code] = Rule(code, name, severity, summary, scope, check)
        return check

    return register


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


@dataclass
class ServiceContext:
    """What the service-level rules see: the service's files and their replay from empty."""

    service: str
    mdir: MigrationDir
    evolution: SchemaEvolution

    def file_named(self, name: str) -> MigrationFile:
        return next(f for f in self.mdir.files if f.name == name)


@dataclass
class FileContext:
    """What the statement and file rules see of one file: the schema just before it (from the
    replay from empty), the foreign keys at each DROP TABLE, and the service's wrangler."""

    file: MigrationFile
    foreign_keys_before: list[tuple]
    tables_before: dict[str, str]
    foreign_keys_at_drop: dict[int, list[tuple]] = field(default_factory=dict)
    wrangler: tuple[tuple[int, int, int], str] | None = None
    triggers_before: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """The triggers on each table the file UPDATEs (lower-cased name → (name, SQL))."""
    kept_by_dropped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """The triggers and indexes on each table the file drops (lower-cased name → (name, SQL))."""

    @cached_property
    def dropped(self) -> set[str | None]:
        return {s.table for s in self.file.statements if s.kind == "drop_table"}

    @cached_property
    def created(self) -> dict[str | None, Statement]:
        return {s.table: s for s in self.file.statements if s.kind == "create_table"}

    @cached_property
    def renamed_into(self) -> dict[str, Statement]:
        """RENAME TABLE statements by the name they rename to."""
        return {s.detail: s for s in self.file.statements if s.kind == "rename_table"}

    @cached_property
    def rebuilt(self) -> set[str | None]:
        """Tables dropped and created again (or renamed into) in this file: a rebuild."""
        return {t for t in self.dropped if t in self.created or t in self.renamed_into}

    @cached_property
    def rebuild_temps(self) -> set[str | None]:
        """The temporary tables of this file's rebuilds (created, then renamed)."""
        return {self.renamed_into[t].table for t in self.rebuilt if t in self.renamed_into}


_IGNORE = re.compile(r"--\s*d1nb:\s*ignore\s+([A-Z0-9, ]+)")
_IGNORE_FILE = re.compile(r"--\s*d1nb:\s*ignore-file\s+([A-Z0-9, ]+)")


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


def suppressed(f: MigrationFile, s: Statement | None, code: str) -> bool:
    """Whether the file, or the statement's lines (and the line above), ignore `code`."""
    whole, by_line = _ignore_comments(f.text or "")
    if code in whole:
        return True
    if s is None:
        return False
    return any(code in by_line.get(n, "") for n in range(max(1, s.line - 1), s.end_line + 1))
