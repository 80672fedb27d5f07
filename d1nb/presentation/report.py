"""Executing the notebooks against a project (papermill) and exporting them as HTML (nbconvert).

A report is the executed notebook as self-contained HTML: images embedded, a table of contents,
code hidden unless asked for, and a provenance block (versions, every input with its sha256,
parameters, times).
A notebook that fails still yields its report, with the error shown.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import apsw
import duckdb
import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets import default

from d1nb import outfiles
from d1nb.engine.scratch import scratch_folder
from d1nb.formats.config import SKIPPED_FOLDERS
from d1nb.presentation.display import ERROR_PREFIX
from d1nb.text import printable
from d1nb.version import __version__

REPO_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
"""The notebooks of a source checkout (and of an editable install)."""
TEMPLATES = Path(__file__).resolve().parent / "templates"
"""nbconvert templates: `d1nb_report` is JupyterLab's without CDN scripts."""
_INPUT_SUFFIXES = {
    ".toml",
    ".json",
    ".jsonc",
    ".sql",
    ".csv",
    ".parquet",
    ".sqlite",
    ".txt",
    ".lock",
}


@dataclass
class ReportResult:
    notebook: str
    html: Path
    executed: Path
    ok: bool
    error: str = ""
    needs: str = ""
    """What the report needs to run (an input it was not given); the report says so and stops."""


def _stopped_by(notebook: nbformat.NotebookNode) -> tuple[str, str] | None:
    """(kind, message) of the error box that stopped a notebook, if one did."""
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain", "")
            for kind, prefix in ERROR_PREFIX.items():
                if text.startswith(prefix):
                    return kind, text[len(prefix) :]
    return None


class LocalKernelManager(AsyncKernelManager):
    """The report kernel over local sockets (IPC), not TCP: no port is opened on the machine,
    and ipykernel has no unencrypted-TCP warning to print. The sockets live in a scratch
    folder by absolute path, so kernel and client agree whatever their working folders."""

    transport = "ipc"

    @default("ip")
    def _socket_prefix(self) -> str:
        return str(scratch_folder("d1nb-kernel-") / "kernel")


def notebook_paths(folder: Path = REPO_NOTEBOOKS) -> list[Path]:
    """The report notebooks, in their numbered order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def input_files(project: Path) -> list[tuple[str, str]]:
    """(path relative to the project, sha256) of every file a report may read: not those
    under node_modules, .venv, dist … (`SKIPPED_FOLDERS`), which config discovery skips too
    (an app's node_modules held thousands of package.json files)."""
    rows = []
    for folder, subfolders, files in os.walk(project):
        subfolders[:] = [s for s in subfolders if s not in SKIPPED_FOLDERS]
        for name in files:
            path = Path(folder) / name
            if path.suffix in _INPUT_SUFFIXES and path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                rows.append((path.relative_to(project).as_posix(), digest))
    return sorted(rows)


def provenance_markdown(
    project: Path, parameters: dict, started: datetime, finished: datetime
) -> str:
    """The provenance block appended to every report: collapsed, paths relative to the project."""
    inputs = input_files(project)
    rows = "".join(
        f"<tr><td>{_literal(rel)}</td><td><code>{digest}</code></td></tr>" for rel, digest in inputs
    )
    return "\n".join(
        [
            "## Provenance",
            "",
            f"d1nb {__version__}, Python {platform.python_version()}, SQLite "
            f"{apsw.sqlite_lib_version()} (APSW {apsw.apsw_version()}), "
            f"DuckDB {duckdb.__version__}; started {started.isoformat(timespec='seconds')}, "
            f"finished {finished.isoformat(timespec='seconds')}.",
            "",
            "Parameters: "
            + (", ".join(_literal(f"{k}={v!r}") for k, v in parameters.items()) or "defaults")
            + ".",
            "",
            f'<details class="d1nb-provenance"><summary>The {len(inputs)} input files a report '
            "may read, with their sha256</summary>",
            f"<table><thead><tr><th>input</th><th>sha256</th></tr></thead><tbody>{rows}"
            "</tbody></table></details>",
        ]
    )


_MARKDOWN_SYNTAX = {ord(c): f"&#{ord(c)};" for c in "\\`*_{}[]()<>#+-.!|~:&\"'"}


def _literal(text: str) -> str:
    """A name from the project as inline code that Markdown and HTML take literally: every
    character Markdown could read as syntax (a link, a code span's end, a table's |) is a
    character reference, so `x`[a](javascript:…)`.txt` stays text."""
    return "<code>" + printable(text).translate(_MARKDOWN_SYNTAX) + "</code>"


def report_title(notebook: nbformat.NotebookNode, project: str) -> str:
    """`<title>` of a report: the notebook's heading and the project's folder name."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return f"{cell.source.splitlines()[0][2:].strip()} — {project}"
    return project


def clean_outputs(notebook: nbformat.NotebookNode, project: Path) -> None:
    """No machine path in a report: the project's absolute path becomes its folder name in
    every output and cell, and an error shows its message only, without the traceback."""
    root = str(Path(project).resolve())
    name = Path(project).resolve().name

    def relative(value):
        if isinstance(value, str):
            return value.replace(root, name)
        if isinstance(value, list):
            return [relative(v) for v in value]
        return value

    for cell in notebook.cells:
        cell["source"] = relative(cell["source"])
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = relative(out["text"])
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    out["data"][mime] = relative(out["data"][mime])
            if out.get("output_type") == "error":
                out["evalue"] = relative(out.get("evalue", ""))
                out["traceback"] = [f"{out.get('ename')}: {out['evalue']}"]


def _drop_unexecuted(notebook: nbformat.NotebookNode) -> None:
    """After a report stopped for a missing input: drop the sections it did not reach."""
    last = max(
        (i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.get("outputs")),
        default=len(notebook.cells) - 1,
    )
    notebook.cells = [
        c
        for c in notebook.cells[: last + 1]
        if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
    ]


def export_html(
    notebook: nbformat.NotebookNode, show_code: bool = False, title: str = "d1nb report"
) -> str:
    """Self-contained HTML of an executed notebook (images are embedded as data URIs)."""
    exporter = HTMLExporter(
        template_name="d1nb_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return add_contents(body)


_SECTION = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', re.S)
_TAG = re.compile(r"<[^>]+>")


def add_contents(body: str) -> str:
    """Insert a table of contents, one link per `##` section, after the report's title.

    Built from the exported HTML itself, so each link targets the id nbconvert gave.
    """
    sections = [(anchor, _TAG.sub("", title).strip()) for anchor, title in _SECTION.findall(body)]
    title_end = body.find("</h1>")
    if not sections or title_end < 0:
        return body
    items = "".join(f'<li><a href="#{anchor}">{title}</a></li>' for anchor, title in sections)
    nav = (
        '<nav class="d1nb-contents" aria-label="Contents"><strong>Contents</strong>'
        f"<ol>{items}</ol></nav>"
    )
    at = title_end + len("</h1>")
    return body[:at] + nav + body[at:]


def run_report(
    notebook: Path,
    out_dir: Path,
    project: Path,
    parameters: dict | None = None,
    show_code: bool = False,
    progress: bool = True,
) -> ReportResult:
    """Execute one notebook with papermill and write `<name>.ipynb` and `<name>.html`.

    Only the parameters the notebook declares are passed (one set serves every notebook).
    The kernel gets the project's absolute path; the provenance block shows it as given.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    known = set(papermill.inspect_notebook(str(notebook)))
    parameters = {k: v for k, v in (parameters or {}).items() if k in known}
    shown = {"project": Path(project).resolve().name, **parameters}
    parameters = {**parameters, "project": str(Path(project).resolve())}
    executed = out_dir / notebook.name
    html = out_dir / (notebook.stem + ".html")
    started = datetime.now(UTC)
    ok, error, needs = True, "", ""
    outfiles.unlink_link(executed)  # papermill writes it: never through a link
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=progress,
            kernel_name="python3",
            kernel_manager_class=LocalKernelManager,
        )
    except papermill.PapermillExecutionError as exc:
        message = f"{exc.ename}: {exc.evalue}".replace(parameters["project"], shown["project"])
        ok, error = False, f"{message} (cell {exc.exec_count})"
    finished = datetime.now(UTC)
    nb = nbformat.read(executed, as_version=4)
    clean_outputs(nb, Path(project))
    stopped = _stopped_by(nb) if not ok else None
    if stopped:
        kind, message = stopped
        if kind == "needs":
            ok, error, needs = True, "", message
            _drop_unexecuted(nb)
        else:
            error = message
    nb.cells.append(
        nbformat.v4.new_markdown_cell(provenance_markdown(Path(project), shown, started, finished))
    )
    if not show_code:  # a hidden cell without output would only leave a gap
        nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.get("outputs")]
    title = report_title(nb, shown["project"])
    outfiles.write_text(html, export_html(nb, show_code, title))
    return ReportResult(notebook.stem, html, executed, ok, error, needs)


def refresh_notebook(notebook: Path, timeout: int = 1200) -> None:
    """Execute a committed notebook in place with its default parameters (no timing metadata)."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        kernel_manager_class=LocalKernelManager,
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    client.execute()
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    text = nbformat.writes(nb)
    outfiles.write_text(notebook, text if text.endswith("\n") else text + "\n")


def main(argv: list[str] | None = None) -> int:
    """`python -m d1nb.presentation.report --refresh`: re-run the committed notebooks."""
    args = argv if argv is not None else sys.argv[1:]
    if args == ["--refresh"]:
        for nb in notebook_paths():
            print(f"executing {nb.name}", flush=True)
            refresh_notebook(nb)
        return 0
    print("usage: python -m d1nb.presentation.report --refresh", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
