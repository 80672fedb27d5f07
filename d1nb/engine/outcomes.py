"""What replaying a migration produced: each statement's and each file's outcome, the error D1
would give, and the protocol of a meter told about every statement as it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import apsw

from d1nb.formats.migrations import Statement


class StatementMeter(Protocol):
    """Told about every statement of a migration as it runs (see d1nb.analyses.metering.Meter)."""

    def before(self, statement: Statement) -> None: ...

    def after(self, statement: Statement, changes: int, error: str | None) -> None: ...


class D1Error(Exception):
    """A statement D1 would reject, with where it came from."""

    def __init__(self, message: str, *, file: str = "", line: int = 0, sql: str = ""):
        self.file, self.line, self.sql, self.reason = file, line, sql, message
        where = f"{file}:{line}: " if file else ""
        super().__init__(f"{where}{message}")


class MeasurementError(RuntimeError):
    """A meter failed on a statement: d1nb's fault, never a verdict on the migration."""


def measuring(step, s, name: str, *args) -> None:
    """Run a meter's step; its SQLite errors are d1nb's, not the migration's."""
    try:
        step(s, *args)
    except apsw.Error as exc:
        raise MeasurementError(
            f"{name} line {s.line}: measuring the statement failed: {exc}"
        ) from exc


@dataclass
class StatementOutcome:
    """What one statement did."""

    file: str
    index: int
    line: int
    kind: str
    table: str | None
    changes: int
    error: str | None = None
    note: str | None = None


@dataclass
class MigrationOutcome:
    """What one migration file did: per-statement outcomes and whether it committed."""

    name: str
    ok: bool
    statements: list[StatementOutcome] = field(default_factory=list)
    error: str | None = None
    error_line: int = 0
    notes: list[str] = field(default_factory=list)
    knock_on_of: str | None = None
    """The earlier failed file this one fails because of (its error names what that file
    would have created), or None."""

    error_detail: str = ""
    """What d1nb found out about the error besides SQLite's message (at COMMIT: the broken
    references), to follow it."""

    @property
    def failure(self) -> str:
        """Its error after the line it failed at ("line 12: …"), or alone when the file failed
        as a whole (at COMMIT), with what d1nb found out about it."""
        at = f"line {self.error_line}: " if self.error_line else ""
        return f"{at}{self.error or ''}{self.error_detail}"
