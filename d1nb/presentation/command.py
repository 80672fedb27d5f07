"""The shape every `d1nb` subcommand shares: its arguments declared beside its handler, and
an `Outcome` the one renderer prints as text or as the JSON envelope.

A handler takes the parsed arguments and returns an `Outcome`; it never prints its result
(progress goes to stderr), never picks the output format and never catches d1nb's input
errors (`cli.main` is the one boundary).
Heavy modules (pandas, DuckDB, the analyses) are imported inside handlers, so that building
the parser, and `d1nb --help`, loads none of them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d1nb import d1
from d1nb.problems import Problem

if TYPE_CHECKING:
    import pandas as pd

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNUSABLE, EXIT_BUG = 0, 1, 2, 3


@dataclass(frozen=True)
class Arg:
    """One argparse argument: the names and keywords `add_argument` takes."""

    names: tuple[str, ...]
    options: dict[str, Any]

    def __init__(self, *names: str, **options: Any):
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "options", options)


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, an example and its arguments, and the handler."""

    name: str
    help: str
    example: str
    args: tuple[Arg, ...]
    handler: Callable[[argparse.Namespace], Outcome]


def command(
    table: list[Command], name: str, help: str, example: str, *args: Arg
) -> Callable[[Callable[[argparse.Namespace], Outcome]], Callable[[argparse.Namespace], Outcome]]:
    """Register the decorated handler in `table` as the subcommand `name`."""

    def register(handler: Callable[[argparse.Namespace], Outcome]):
        table.append(Command(name, help, example, args, handler))
        return handler

    return register


@dataclass
class Outcome:
    """What a subcommand found. `data` is its JSON payload (DataFrames become records);
    `text` is what people read, in order: a line, or a (title, DataFrame) section; `notes`
    go to stderr in both formats; `code` is its exit code before the problems are counted."""

    code: int = EXIT_CLEAN
    data: dict[str, Any] = field(default_factory=dict)
    text: list[str | tuple[str, pd.DataFrame]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def section(self, title: str, frame: pd.DataFrame) -> None:
        self.text.append((title, frame))

    def line(self, text: str) -> None:
        self.text.append(text)

    @property
    def exit_code(self) -> int:
        unusable = any(p.severity == "error" for p in self.problems)
        return max(self.code, EXIT_UNUSABLE if unusable else EXIT_CLEAN)


def _jsonable(value: object) -> object:
    if hasattr(value, "to_json") and hasattr(value, "columns"):  # a DataFrame
        return json.loads(value.to_json(orient="records"))
    if isinstance(value, Problem):
        return value.__dict__
    return str(value)


def envelope(name: str, code: int, problems: list[Problem], data: dict[str, Any]) -> dict:
    """The JSON every subcommand prints: which command, its exit code, the problems with its
    inputs, then its own keys."""
    return {"command": name, "exit_code": code, "problems": problems, **data}


def render(name: str, fmt: str, outcome: Outcome) -> int:
    """Print `outcome` as text or JSON; problems and notes go to stderr. The exit code."""
    code = outcome.exit_code
    for p in outcome.problems:
        print(str(p), file=sys.stderr)
    for note in outcome.notes:
        print(note, file=sys.stderr)
    if fmt == "json":
        payload = envelope(name, code, outcome.problems, outcome.data)
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=_jsonable))
        return code
    for item in outcome.text:
        if isinstance(item, str):
            print(item)
            continue
        title, frame = item
        print(f"\n{title}")
        if frame.empty:
            print("  (none)")
            continue
        from d1nb.presentation.display import table_text  # pandas, already loaded for the frame

        print(table_text(frame))
    return code


# Argument types: each refuses a bad value with a message argparse prints.


def _number(value: str, unit: str, positive: bool) -> float:
    """A finite number of `unit`, above zero (`positive`) or 0 and above."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of {unit}: {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "above 0" if positive else "0 or more"
        raise argparse.ArgumentTypeError(f"must be a number of {unit} {bound}: {value!r}")
    return number


def seconds(value: str) -> float:
    """A time limit in seconds: a finite number, 0 or above."""
    return _number(value, "seconds", positive=False)


def budget_ms(value: str) -> float:
    """A time budget in milliseconds: a finite number above zero."""
    return _number(value, "milliseconds", positive=True)


def pair(value: str, what: str) -> tuple[str, str]:
    """KEY=VALUE, both non-empty; `what` names the expected form in the error."""
    key, sep, rest = value.partition("=")
    if not sep or not key or not rest:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return key, rest


def history_arg(value: str) -> tuple[tuple[str, str], str]:
    """SERVICE:ENV=FILE, or ENV=FILE for a project with one service."""
    key, equals, path = value.partition("=")
    service, _, env = key.rpartition(":")
    if not equals or not env or not path:
        raise argparse.ArgumentTypeError(f"expected [SERVICE:]ENV=FILE, got {value!r}")
    return (service, env), path


# Arguments several subcommands share, spelt once.

PROJECT = Arg("project", help="project root (folder with the wrangler configs)")
SERVICE = Arg(
    "--service",
    help="the service whose migrations to use (with several, by default the one whose files "
    "the export's ledger names)",
)
VIA = Arg(
    "--via",
    choices=d1.VIA,
    default="apply",
    help="the path the files take to D1: apply (wrangler d1 migrations apply: one "
    "transaction, PRAGMA foreign_keys=OFF ignored) or execute-file (remote wrangler d1 "
    "execute --file: the pragma takes effect, no ledger row); default apply",
)
WORKDIR = Arg(
    "--workdir",
    help="folder for working copies (default: a temporary folder, removed when the command ends)",
)
QUIET = Arg("--quiet", action="store_true", help="no progress bar")


def snapshot_arg(what: str) -> Arg:
    return Arg("--snapshot", required=True, help=f"export to {what} (never modified)")


def budget_arg(what: str) -> Arg:
    return Arg(
        "--budget-ms",
        type=budget_ms,
        default=1000.0,
        help=f"longest {what} may hold the database (default 1000)",
    )
