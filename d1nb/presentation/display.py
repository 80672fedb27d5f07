"""How results look in a notebook and its report: whole tables, verdict blocks, clean errors.

Reports are static HTML read offline by reviewers, so nothing may hide behind pandas'
truncation: `setup` makes every DataFrame render whole (no index column, one mark for a missing
value, a box that scrolls when long or wide) and turns d1nb's input errors into a message box
instead of a traceback. No JavaScript: the tables are plain HTML that the browser's find, a
screen reader and a printout all see in full.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import pandas as pd

from d1nb.presentation.report_inputs import MissingInputError
from d1nb.problems import InputError
from d1nb.text import MISSING, cell_text, frame_text, printable

LEVELS = {
    "fail": ("#b42318", "#fef3f2"),
    "warn": ("#b54708", "#fffaeb"),
    "pass": ("#067647", "#ecfdf3"),
    "needs": ("#175cd3", "#eff8ff"),
}
"""Verdict level → (accent, background)."""

_BOX = (
    "border-left:6px solid {accent};background:{background};padding:0.6em 1em;"
    "margin:0.5em 0;border-radius:4px;color:#101828"
)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Text as HTML, with `code spans` as <code> (what the messages use for commands)."""
    return _CODE_SPAN.sub(r"<code>\1</code>", html.escape(printable(text)))


def _cell(value: object) -> str:
    if value is None or (not isinstance(value, list | dict | tuple) and pd.isna(value)):
        return MISSING
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value)}"
        if abs(value) < 1e-4 or abs(value) >= 1e15:  # not 309 digits for 1.8e308
            return f"{value:.3g}" if abs(value) < 1e-4 else f"{value:.6g}"
        return f"{value:.6f}".rstrip("0")
    return cell_text(value) if isinstance(value, str) else printable(str(value))


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True).astype(object).map(_cell)


def table_html(frame: pd.DataFrame) -> str:
    """A whole DataFrame as an HTML table in a box that scrolls, with its row count."""
    if frame.empty:
        return '<p class="d1nb-empty"><em>none</em></p>'
    body = _cells(frame).to_html(index=False, escape=True, border=0, classes="d1nb-table")
    count = f"{len(frame):,} row{'s' if len(frame) != 1 else ''}"
    return (
        '<div class="d1nb-table-box" style="max-height:36em;overflow:auto;max-width:100%">'
        f'{body}</div><p class="d1nb-count" style="color:#667085;font-size:0.85em">{count}</p>'
    )


def table_text(frame: pd.DataFrame) -> str:
    """A whole DataFrame as text, without the index."""
    if frame.empty:
        return "none"
    return frame_text(frame, _cells(frame))


@dataclass
class Verdict:
    """The answer a report gives first: a level, a headline and the lines behind it."""

    level: str
    headline: str
    lines: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        accent, background = LEVELS[self.level]
        items = "".join(f"<li>{_inline(line)}</li>" for line in self.lines)
        return (
            f'<div class="d1nb-verdict d1nb-{self.level}" role="status" '
            f'style="{_BOX.format(accent=accent, background=background)}">'
            f'<strong style="color:{accent};text-transform:uppercase">{self.level}</strong> '
            f"<strong>{_inline(self.headline)}</strong>"
            + (f'<ul style="margin:0.4em 0 0 0">{items}</ul>' if items else "")
            + "</div>"
        )

    def __repr__(self) -> str:
        lines = [f"{self.level.upper()}: {self.headline}", *(f"- {x}" for x in self.lines)]
        return printable("\n".join(lines))


def error_html(kind: str, message: str) -> str:
    """A d1nb error or missing input as a box: the message (file and line), no traceback."""
    level = "needs" if kind == "needs" else "fail"
    accent, background = LEVELS[level]
    title = "This report needs an input" if level == "needs" else "d1nb could not use an input"
    return (
        f'<div class="d1nb-error d1nb-{level}" role="alert" '
        f'style="{_BOX.format(accent=accent, background=background)}">'
        f"<strong>{title}</strong><p style='margin:0.3em 0 0 0'>{_inline(message)}</p></div>"
    )


@dataclass
class ErrorBox:
    """A d1nb input error or missing input, shown instead of a traceback."""

    kind: str  # "needs" or "error"
    message: str

    def _repr_html_(self) -> str:
        return error_html(self.kind, self.message)

    def __repr__(self) -> str:
        return f"{ERROR_PREFIX[self.kind]}{self.message}"


ERROR_PREFIX = {"needs": "d1nb needs an input: ", "error": "d1nb could not use an input: "}
"""How an ErrorBox's text starts: `d1nb report` finds why a notebook stopped by it."""


def _show_input_error(shell, etype, value, tb, tb_offset=None) -> None:
    from IPython.display import display

    display(ErrorBox("needs" if issubclass(etype, MissingInputError) else "error", str(value)))


def setup_display() -> None:
    """In a notebook: whole tables for every DataFrame, d1nb's input errors as message boxes."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, table_html)
    formatters["text/plain"].for_type(
        pd.DataFrame, lambda frame, p, cycle: p.text(table_text(frame))
    )
    shell.set_custom_exc((MissingInputError, InputError), _show_input_error)
