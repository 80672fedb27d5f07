"""Text from a project shown safely: control characters visible, HTML escaped, code that
never wraps mid-token, and the two small values a result can be shown as (SQL, a Note).

Every name, statement and message that reaches a report or a terminal passes through
`printable` here: a file named with a terminal escape is shown as \\x1b, never run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\n\t\r"}


def printable(text: str) -> str:
    """Control characters from a project's names (a file named with a terminal escape) as
    visible \\xNN: never raw in a report or a terminal."""
    return text.translate(_CONTROL)


def one_line(text: str) -> str:
    """`printable`, line breaks too: a name in a line-per-record output (`path:line: …`), where
    a file named with a newline could otherwise print a record of its own."""
    return printable(text).replace("\n", "\\n").replace("\r", "\\r")


def rows_count(n: int) -> str:
    """A count of rows as sentences say it: 1 row, 1,100 rows."""
    return f"{n:,} row{'' if n == 1 else 's'}"


def cell_text(value: str) -> str:
    """A text value as a table cell shows it: on one line, tabs visible, and quoted as SQL
    writes it when its edges would vanish in a table (leading or trailing spaces): ' Retail '
    is not Retail. An empty string stays blank (a missing value has a mark of its own)."""
    shown = one_line(value).replace("\t", "\\t")
    if shown != shown.strip():
        return "'" + shown.replace("'", "''") + "'"
    return shown


MISSING = "—"
"""The one representation of a missing value (None, NaN, NA) in every table."""


def frame_text(frame, cells=None) -> str:
    """A DataFrame as terminal text without its index: numbers right-aligned as pandas formats
    them, anything else left-aligned (right-aligned, one long reason pushed every short one
    far from its row's name). `cells`, a frame of the same shape, gives the text shown where
    the caller formats values itself."""
    columns = []
    for i, name in enumerate(frame.columns):
        values = frame.iloc[:, i]
        numeric = values.dtype.kind in "iuf" or (
            values.dtype.kind == "O"
            and all(
                isinstance(v, int | float) and not isinstance(v, bool)
                for v in values
                if not _missing(v)
            )
        )
        if cells is not None:
            shown = [str(v) for v in cells.iloc[:, i]]
        elif values.dtype.kind in "iuf" and len(values):
            shown = [v.strip() for v in values.to_string(index=False).splitlines()]
        else:
            shown = [str(v) for v in values]
        texts = [str(name), *shown]
        width = max(len(t) for t in texts)
        columns.append([t.rjust(width) if numeric else t.ljust(width) for t in texts])
    return "\n".join(" ".join(row).rstrip() for row in zip(*columns, strict=True))


def _missing(value: object) -> bool:
    """None, NaN, pandas' NA and NaT, and the missing mark a table already shows."""
    import pandas as pd  # loaded already: only DataFrames are asked

    if isinstance(value, str):
        return value == MISSING
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value))


def text_html(text: str) -> str:
    """Text from a project as HTML text: escaped, control characters visible."""
    return html.escape(printable(text))


@dataclass
class Note:
    """A sentence shown in place of a result that has nothing to show (an empty chart)."""

    text: str

    def _repr_html_(self) -> str:
        return f'<p class="d1nb-note"><em>{html.escape(self.text)}</em></p>'

    def __repr__(self) -> str:
        return printable(self.text)


_NO_WRAP = "white-space:pre;word-break:normal;overflow-wrap:normal"


def code_html(text: str, language: str) -> str:
    """A block of code that scrolls sideways instead of wrapping mid-token (the report theme
    wraps output anywhere, which splits numbers and names)."""
    return (
        f'<pre class="d1nb-code" style="{_NO_WRAP};overflow-x:auto">'
        f'<code class="language-{language}" style="{_NO_WRAP}">{html.escape(printable(text))}'
        "</code></pre>"
    )


@dataclass
class SQL:
    """SQL text shown as a code block."""

    text: str

    def _repr_html_(self) -> str:
        return code_html(self.text, "sql")

    def __repr__(self) -> str:
        return printable(self.text)
