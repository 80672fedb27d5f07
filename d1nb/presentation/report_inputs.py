"""What a report reads: the notebook's parameters, else the project's `d1nb.toml`, else defaults.

A project names its report inputs once, in a `[report]` table of `d1nb.toml` at its root (its
exports, the expectations its audits hold, the columns to mask), so the same notebooks run on any
project and nothing of the bundled sample leaks into another. `d1nb report` options and notebook
parameters win over the file. An input a report cannot do without stops it with what it needs and
the exact option that supplies it (`MissingInputError`), never a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from d1nb.problems import InputError

SETTINGS_FILE = "d1nb.toml"


@dataclass(frozen=True)
class Parameter:
    """One report input: its type, default, what it is and the option that gives it."""

    name: str
    kind: str  # "text", "number", "count", "texts", "text map", "texts map"
    default: object
    help: str
    option: str
    path: bool = False  # a path (or a map of paths) relative to the project, kept inside it


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "ledgers",
            "text map",
            {},
            "01: `SERVICE:ENV` → ledger file, beside the ones found in `ledgers/`",
            '-p \'ledgers={"SERVICE:ENV": "LEDGER"}\'',
            path=True,
        ),
        Parameter(
            "snapshots",
            "text map",
            {},
            "02, 03, 05: service → export of its database (`wrangler d1 export`, .sql/.sqlite)",
            "--snapshot SERVICE=EXPORT",
            path=True,
        ),
        Parameter(
            "env",
            "text",
            None,
            "02, 05: replay what is pending in this environment (default: what each export's "
            "own ledger lacks)",
            "-p env=ENV",
        ),
        Parameter(
            "budget_ms",
            "number",
            1000.0,
            "02, 03: longest a statement may hold the database, in ms",
            "-p budget_ms=MS",
        ),
        Parameter(
            "migration",
            "text",
            None,
            "03: the migration file to batch (default: the pending file with the largest "
            "UPDATE, DELETE or INSERT … SELECT on its service's export)",
            "-p migration=PATH",
            path=True,
        ),
        Parameter(
            "scale_rows",
            "count",
            None,
            "03: measure on a copy whose table is grown to this many rows (production's size)",
            "-p scale_rows=N",
        ),
        Parameter("margin", "number", 0.5, "03: share of the budget kept free", "-p margin=0.5"),
        Parameter(
            "before", "text", None, "04: export before the migration", "--before EXPORT", True
        ),
        Parameter("after", "text", None, "04: export after the migration", "--after EXPORT", True),
        Parameter(
            "mask", "texts", [], "04: `table.column`s shown as `***` in samples", "-p 'mask=[…]'"
        ),
        Parameter(
            "accepted",
            "texts map",
            {},
            "04: `table.column` (or `table.column$.json.path`) → the values it may hold",
            "-p 'accepted={…}'",
        ),
        Parameter(
            "expectations",
            "text map",
            {},
            "04: name → SQL over `before.`/`after.` tables returning the rows that break it",
            "-p 'expectations={…}'",
        ),
        Parameter(
            "distribution_table",
            "text",
            None,
            "04: table whose value distribution is drawn (default: the most changed column's)",
            "-p distribution_table=TABLE",
        ),
        Parameter(
            "distribution_column",
            "text",
            None,
            "04: its column, or `column$.json.path`",
            "-p distribution_column=COLUMN",
        ),
        Parameter(
            "replay_service",
            "text",
            None,
            "04: service whose pending files are replayed on the after export (default: the "
            "service its ledger belongs to)",
            "-p replay_service=SERVICE",
        ),
        Parameter(
            "replay_files",
            "texts",
            None,
            "04: files replayed (default: every file the after export's ledger lacks)",
            "-p 'replay_files=[…]'",
        ),
        Parameter(
            "replay_expectations",
            "text map",
            {},
            "04: expectations held by the replay",
            "-p 'replay_expectations={…}'",
        ),
    )
}


class MissingInputError(Exception):
    """A report cannot run without an input; the message says which and how to give it."""


@dataclass
class ReportInputs:
    """The resolved inputs of one report; paths are absolute, `shown` relative to the project."""

    project: Path
    values: dict[str, object]
    sources: dict[str, str]

    def __getattr__(self, name: str) -> object:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def ledger_paths(self) -> dict[tuple[str, str], Path]:
        """The `ledgers` input as load_history takes it: (service, env) → path in the project."""
        return {
            tuple(key.split(":", 1)): self.project / path
            for key, path in self.values.get("ledgers", {}).items()
        }

    def require(self, *names: str, why: str) -> None:
        """Stop the report, saying what it needs, when any of `names` is unset."""
        missing = [n for n in names if not self.values.get(n)]
        if missing:
            raise missing_input(self.project, why, *missing)


def missing_input(project: str | Path, why: str, *names: str) -> MissingInputError:
    """The error that stops a report for want of `names`: why, and how to give each."""
    given = [PARAMETERS[n] for n in names]
    return MissingInputError(
        f"{why} Give "
        + " and ".join(f"`{p.option}`" for p in given)
        + f" to `d1nb report {Path(project).resolve().name}`, or set "
        + " and ".join(f"`{p.name}`" for p in given)
        + f" in the `[report]` table of the project's {SETTINGS_FILE}."
    )


def read_settings(project: str | Path) -> dict[str, object]:
    """The `[report]` table of the project's `d1nb.toml` ({} without one), checked."""
    path = Path(project) / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        at = re.search(r"at line (\d+)", str(exc))  # tomllib names the line in its message
        raise InputError(
            SETTINGS_FILE, int(at.group(1)) if at else 0, f"not valid TOML: {exc}"
        ) from None
    report = data.get("report", {})
    if not isinstance(report, dict):
        raise InputError(SETTINGS_FILE, 0, "[report] must be a table")
    unknown = sorted(set(report) - set(PARAMETERS))
    if unknown:
        raise InputError(
            SETTINGS_FILE,
            0,
            f"[report] has no setting {', '.join(unknown)}; known: {', '.join(PARAMETERS)}",
        )
    for name, value in report.items():
        _check(PARAMETERS[name], value, f"{SETTINGS_FILE} [report] {name}")
    return report


def _check(p: Parameter, value: object, where: str) -> None:
    ok = {
        "text": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "count": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "texts": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "text map": isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
        "texts map": isinstance(value, dict) and all(isinstance(v, list) for v in value.values()),
    }[p.kind]
    if not ok:
        raise InputError(where, 0, f"must be {_KIND_TEXT[p.kind]}, not {value!r}")


_KIND_TEXT = {
    "text": "a string",
    "number": "a number",
    "count": "a whole number above 0",
    "texts": "a list of strings",
    "text map": "a table of strings",
    "texts map": "a table of lists",
}


def _inside(project: Path, rel: str, where: str) -> str:
    """`rel` resolved against the project; a settings file may not point outside it."""
    target = (project / rel).resolve()
    if not target.is_relative_to(project.resolve()):
        raise InputError(where, 0, f"{rel!r} is outside the project")
    return str(target)


def report_inputs(project: str | Path, **given: object) -> ReportInputs:
    """Each input from the notebook's parameters when set (not None), else `d1nb.toml`, else
    its default. Paths from `d1nb.toml` must stay inside the project; paths given as parameters
    (the caller's own) are taken relative to the project as they are."""
    root = Path(project)
    settings = read_settings(root)
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name, value in given.items():
        p = PARAMETERS[name]
        if value is not None:
            _check(p, value, f"parameter {name}")
            values[name], sources[name] = value, "parameter"
        elif name in settings:
            values[name], sources[name] = settings[name], SETTINGS_FILE
        else:
            values[name], sources[name] = p.default, "default"
        if p.path and values[name] and sources[name] == SETTINGS_FILE:
            where = f"{SETTINGS_FILE} [report] {name}"
            if isinstance(values[name], dict):
                for v in values[name].values():
                    _inside(root, v, where)
            else:
                _inside(root, str(values[name]), where)
    return ReportInputs(root, values, sources)


def parameters_markdown() -> str:
    """The README's table of report inputs."""
    lines = ["| input | what it is | `d1nb report` option |", "|---|---|---|"]
    lines += [
        f"| `{p.name}` | {p.help} | `{p.option}` |".replace("``", "`") for p in PARAMETERS.values()
    ]
    return "\n".join(lines)
