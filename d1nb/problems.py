"""Problems found in the user's inputs, collected instead of raised so the rest still loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from d1nb.text import one_line


@dataclass(frozen=True)
class Problem:
    """One unusable or suspicious input: which file, which line (1-based, 0 if unknown), what."""

    path: str
    line: int
    message: str
    severity: str = "error"
    topic: str = ""
    """What it is about when only some commands need it said ("ledger": what is applied in
    an environment, which lint, lock and batch do not read)."""

    def __str__(self) -> str:
        path = one_line(self.path)
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.severity}: {self.message}"


class InputError(ValueError):
    """An input d1nb cannot use at all; the message names the file and line."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.problem = Problem(str(path), line, message)
        super().__init__(str(self.problem))


def line_of_offset(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1
