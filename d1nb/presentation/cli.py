"""The `d1nb` command: a parser built from the subcommands' table, one renderer, one error
boundary.

Every subcommand takes `--format text|json` and `--statement-timeout`, prints its `Outcome`
through `command.render` (the same JSON envelope for all) and exits 0 (clean), 1 (findings
that reach the threshold), 2 (unusable input; the rest is still reported) or 3 (a bug in
d1nb). Nothing heavy is imported until a subcommand runs, so `d1nb --help` answers at once.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import TextIO

from d1nb import d1
from d1nb.engine.scratch import remove_scratch_folders
from d1nb.presentation import commands_data, commands_project
from d1nb.presentation.command import (
    EXIT_BUG,
    EXIT_CLEAN,
    EXIT_UNUSABLE,
    Command,
    envelope,
    render,
    seconds,
)
from d1nb.problems import InputError, Problem
from d1nb.text import printable
from d1nb.version import __version__

COMMANDS: list[Command] = [*commands_project.COMMANDS, *commands_data.COMMANDS]
"""Every subcommand, in the order `d1nb --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d1nb",
        description="Analyse Cloudflare D1 migrations: histories, drift, lint, reports.",
        epilog="example: d1nb status data/sample",
    )
    parser.add_argument("--version", action="version", version=f"d1nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for c in COMMANDS:
        p = sub.add_parser(c.name, help=c.help, description=c.help, epilog=f"example: {c.example}")
        p.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text for people (default), json for tools",
        )
        p.add_argument(
            "--statement-timeout",
            type=seconds,
            metavar="SECONDS",
            help="stop any one SQL statement from an input after this long, as D1 does "
            "(default 30; 0 for no limit)",
        )
        for arg in c.args:
            p.add_argument(*arg.names, **arg.options)
        p.set_defaults(handler=c.handler)
    return parser


HELP_WIDTH = 100


def help_markdown() -> str:
    """docs/cli.md: the help of `d1nb` and of every subcommand, as the parser prints it
    (`make docs` writes it; a test keeps it in sync)."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH)  # argparse wraps help text to the terminal width
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = [
            "# The `d1nb` command",
            "",
            "Generated from the parser by `make docs`; `tests/test_cli.py` fails when it is out "
            "of date.",
            "",
            "Every subcommand takes `--format text|json` and exits 0 when clean, 1 on findings "
            "(drift, lint at the threshold, a failing or data-losing migration, differences or "
            "failed checks, a failed notebook), 2 on unusable input (what is usable is still "
            "reported), 3 on a bug in d1nb (`D1NB_DEBUG=1` shows its traceback). "
            "`--statement-timeout SECONDS` stops any one SQL statement from an input after that "
            "long, as D1 does after 30 s.",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
        ]
        for name, subparser in sub.choices.items():
            parts += ["", f"## d1nb {name}", "", "```text", subparser.format_help().rstrip(), "```"]
        return "\n".join(parts) + "\n"
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand behind the one error boundary: bad input is `file:line: message`
    and exit 2; anything unexpected is reported as a bug (exit 3), its traceback only on
    request. In JSON the envelope is printed either way."""
    args = build_parser().parse_args(argv)
    if args.statement_timeout is not None:
        _statement_timeout(args.statement_timeout)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(sys.stdout), _Printable(sys.stderr)
    try:
        return render(args.command, args.format, args.handler(args))
    except BrokenPipeError:
        # the reader (`| head`) has gone: stop quietly, and keep Python's exit-time flush of
        # stdout from raising again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLEAN
    except Exception as exc:
        problem = _unusable_input(exc, args.command)
        if problem is None and os.environ.get("D1NB_DEBUG"):
            raise
        code = EXIT_BUG if problem is None else EXIT_UNUSABLE
        if problem is None:
            problem = Problem(
                f"d1nb {args.command}",
                0,
                f"internal error, a bug in d1nb: {type(exc).__name__}: {exc}\n"
                "Please report it with the command that caused it; D1NB_DEBUG=1 shows the "
                "traceback.",
            )
        print(str(problem), file=sys.stderr)  # sys.stderr escapes names (_Printable)
        if args.format == "json":
            payload = envelope(args.command, code, [problem.__dict__], {})
            print(json.dumps(payload, indent=2, ensure_ascii=False))
        return code
    finally:
        sys.stdout, sys.stderr = streams
        if args.statement_timeout is not None:
            _statement_timeout(d1.QUERY_TIMEOUT_S)
        remove_scratch_folders()


def _statement_timeout(value: float) -> None:
    from d1nb.engine.d1engine import set_default_statement_timeout

    set_default_statement_timeout(value)


def _unusable_input(exc: Exception, command: str) -> Problem | None:
    """The problem an exception reports about an input or an output (a bad value, an
    unreadable file, a full disk), or None when it is a bug in d1nb."""
    if isinstance(exc, InputError):
        return exc.problem
    if isinstance(exc, argparse.ArgumentTypeError):
        return Problem(f"d1nb {command}", 0, str(exc))
    if isinstance(exc, OSError):  # unreadable input, unwritable output, a full disk
        where = exc.filename if exc.filename is not None else "d1nb"
        return Problem(str(where), 0, str(exc.strerror or exc))
    duckdb, apsw = sys.modules.get("duckdb"), sys.modules.get("apsw")
    if duckdb is not None and isinstance(exc, duckdb.IOException):  # an unwritable --out
        return Problem(f"d1nb {command}", 0, str(exc))
    if apsw is not None and isinstance(exc, apsw.FullError | apsw.IOError):
        return Problem(f"d1nb {command}", 0, f"{exc} (is the disk full?)")
    return None


def _printable(text: str) -> str:
    """Text with control characters (terminal escape codes in a file name) shown escaped, and
    the bytes of a file name that is not UTF-8 shown as \\x escapes."""
    return printable(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


class _Printable(io.TextIOBase):
    """A terminal stream that prints names from inputs safely: every control character but
    newline and tab is written as an escape, so no file name can drive the terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(_printable(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()
