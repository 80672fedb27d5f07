"""Wrangler configs of a project: services, D1 bindings per environment, migration settings.

Reads `wrangler.toml` (tomllib), `wrangler.json` and `wrangler.jsonc` (json5: comments and trailing
commas) the way wrangler does: `d1_databases` at top level and under `[env.NAME]` (not inherited
by environments), with wrangler's defaults for `migrations_dir` and `migrations_table`.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import json5
import pandas as pd

from d1nb import d1
from d1nb.problems import Problem

TOP_LEVEL_ENV = "default"
LOCAL_ENV = "local"
"""The environment name of the ledger in wrangler's local state (`--local`)."""
"""Environment name d1nb gives to top-level bindings (wrangler without `--env`)."""

SKIPPED_FOLDERS = {"node_modules", ".git", ".wrangler", ".venv", "dist", "build", "__pycache__"}
"""Folders no project input lives in: dependencies, builds, wrangler's local state."""
_CONFIG_NAME = re.compile(r"^wrangler(?:\.(?P<variant>[\w-]+))?\.(?P<ext>toml|json|jsonc)$")
_PLACEHOLDER_ID = re.compile(
    r"^(?:__\w+__|<.*>|\$\{.*\}|local[-_]?db|x+|0+|todo|tbd|changeme|placeholder|"
    r"(?:replace|fill|change)[-_ ]?(?:me|this|it)|your[-_ ][\w -]*|"
    r"[x0]{8}-[x0]{4}-[x0]{4}-[x0]{4}-[x0]{12}|)$",
    re.I,
)
_LINE_IN_MESSAGE = re.compile(r"line (\d+)|:(\d+)(?::\d+)?\s|<string>:(\d+)")


@dataclass
class D1Binding:
    """One `d1_databases` entry of one environment of one config."""

    service: str
    environment: str
    config_path: Path
    binding: str
    database_name: str
    database_id: str | None
    preview_database_id: str | None
    migrations_dir: Path
    migrations_dir_setting: str | None
    migrations_table: str
    migrations_pattern: str | None
    is_template: bool
    placeholder_id: bool

    @property
    def has_migrations(self) -> bool:
        return self.migrations_dir.is_dir()

    @property
    def local_id(self) -> str:
        """The id `wrangler ... --local` gives this database's local copy."""
        return self.preview_database_id or self.database_id or self.binding


@dataclass
class ConfigFile:
    """A wrangler config file found under the project root."""

    path: Path
    service: str
    worker_name: str | None
    is_template: bool
    environments: list[str]
    parsed: bool


@dataclass
class Project:
    """Everything d1nb knows about a project's configs."""

    root: Path
    configs: list[ConfigFile] = field(default_factory=list)
    bindings: list[D1Binding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def relpath(self, path: Path) -> str:
        """A path as shown to users: relative to the project root when inside it, the bytes of a
        name that is not UTF-8 written as \\x escapes."""
        try:
            shown = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            shown = Path(path).as_posix()
        return shown.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    def databases(self, include_templates: bool = False) -> list[D1Binding]:
        """Bindings that own migrations: one per (service, environment, database). A service
        whose only configs are templates (`wrangler.example.toml`, often all a public repository
        commits) is read from its templates."""
        real = {b.service for b in self.bindings if b.has_migrations and not b.is_template}
        return [
            b
            for b in self.bindings
            if b.has_migrations
            and (include_templates or not b.is_template or b.service not in real)
        ]


_REFUSED_KEYS = ("node_compat", "type", "webpack_config", "build_type")
"""Top-level settings wrangler 4 no longer accepts (they stop `wrangler deploy`)."""


def holds_config(folder: Path) -> bool:
    """Whether `folder` itself holds a wrangler config (not looking below it)."""
    return folder.is_dir() and any(
        p.is_file() and _CONFIG_NAME.match(p.name) for p in folder.iterdir()
    )


def find_config_files(root: Path) -> list[Path]:
    """Every wrangler config under `root`, skipping dependency and build folders."""
    found = []
    stack = [root]
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and entry.name not in SKIPPED_FOLDERS:
                stack.append(entry)
            elif entry.is_file() and _CONFIG_NAME.match(entry.name):
                found.append(entry)
    return sorted(found)


def _parser_line(message: str) -> int:
    match = _LINE_IN_MESSAGE.search(message)
    if not match:
        return 0
    return int(next(g for g in match.groups() if g))


def _line_of_setting(path: Path, key: str, value: str) -> int:
    """1-based line where `key` is set to `value` in a config file (0 if not found)."""
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if key in line and value in line:
            return lineno
    return 0


def parse_config_text(path: Path, text: str) -> dict:
    """Parse a config's text by its extension; raises ValueError with the parser's message."""
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return json5.loads(text)


_TEXT_SETTINGS = (
    "binding",
    "database_name",
    "database_id",
    "preview_database_id",
    "migrations_dir",
    "migrations_table",
    "migrations_pattern",
)
"""The settings of a d1_databases entry that wrangler reads as strings."""


def _bindings_of(
    section: dict, env: str, cfg: ConfigFile, problems: list[Problem]
) -> list[D1Binding]:
    entries = section.get("d1_databases") or []
    if not isinstance(entries, list):
        problems.append(Problem(str(cfg.path), 0, f"d1_databases of env '{env}' is not a list"))
        return []
    bindings = []
    for entry in entries:
        if not isinstance(entry, dict) or "binding" not in entry:
            problems.append(
                Problem(str(cfg.path), 0, f"d1_databases entry without binding in env '{env}'")
            )
            continue
        wrong = [
            key
            for key in _TEXT_SETTINGS
            if entry.get(key) is not None and not isinstance(entry[key], str)
        ]
        if wrong:
            problems.append(
                Problem(
                    str(cfg.path),
                    _line_of_setting(cfg.path, wrong[0], ""),
                    f"d1_databases entry in env '{env}': {', '.join(wrong)} must be text; "
                    "this binding is skipped",
                )
            )
            continue
        setting = entry.get("migrations_dir")
        mdir = (cfg.path.parent / (setting or d1.DEFAULT_MIGRATIONS_DIR)).resolve()
        pattern = entry.get("migrations_pattern")
        if pattern is not None:
            pattern, wrong_pattern = pattern_in_dir(pattern, setting or d1.DEFAULT_MIGRATIONS_DIR)
            if setting is None:
                wrong_pattern = (
                    f"migrations_pattern {pattern!r} is set without migrations_dir: wrangler 4.98 "
                    "and later refuse to run (set migrations_dir too)"
                )
            if wrong_pattern:
                problems.append(Problem(str(cfg.path), 0, wrong_pattern))
        db_id = entry.get("database_id")
        bindings.append(
            D1Binding(
                service=cfg.service,
                environment=env,
                config_path=cfg.path,
                binding=str(entry["binding"]),
                database_name=str(entry.get("database_name") or entry["binding"]),
                database_id=db_id,
                preview_database_id=entry.get("preview_database_id"),
                migrations_dir=mdir,
                migrations_dir_setting=setting,
                migrations_table=entry.get("migrations_table") or d1.DEFAULT_MIGRATIONS_TABLE,
                migrations_pattern=pattern,
                is_template=cfg.is_template,
                placeholder_id=bool(_PLACEHOLDER_ID.match(str(db_id or ""))),
            )
        )
    return bindings


def _posix_normal(path: str) -> str:
    """wrangler's normalizeRelativePath: forward slashes, posix-normalised, no trailing /."""
    return posixpath.normpath(path.replace("\\", "/")).removesuffix("/") or "."


def pattern_in_dir(pattern: str, migrations_dir: str) -> tuple[str, str | None]:
    """`migrations_pattern` as wrangler 4.98 and later read it: a glob relative to the config's
    folder that starts with `migrations_dir` (`migrations/*/migration.sql`), matched against
    paths relative to that folder, which are then the ledger's names. Returns the pattern
    relative to the migrations folder, and the problem when it does not start there (wrangler
    then refuses to run; d1nb reads the pattern inside the folder, as 4.86-era configs meant)."""
    folder, glob = _posix_normal(migrations_dir), _posix_normal(pattern)
    if folder == ".":
        return glob, None
    if glob.startswith(folder + "/"):
        return glob[len(folder) + 1 :], None
    return glob, (
        f"migrations_pattern {pattern!r} does not start with migrations_dir {folder + '/'!r}: "
        f"wrangler 4.98 and later refuse to run (write {folder + '/' + glob!r}); d1nb reads "
        "it inside the migrations folder"
    )


_VERSION = re.compile(r"^[~^=v]*(\d+)\.(\d+)\.(\d+)")


def wrangler_version(root: Path, folder: Path) -> tuple[tuple[int, int, int], str] | None:
    """The wrangler version a service runs, and where that was read: the version installed
    per the nearest `package-lock.json` (exact), else the version `package.json` asks for
    (its lowest, for a range like `^4.86.0`), from the config's folder up to the root."""
    root = root.resolve()
    folder = folder.resolve()
    while True:
        lock = folder / "package-lock.json"
        package = folder / "package.json"
        for path, read in ((lock, _locked_wrangler), (package, _asked_wrangler)):
            if path.is_file():
                try:
                    spec = read(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError, ValueError, AttributeError):
                    spec = None
                match = _VERSION.match(spec) if isinstance(spec, str) else None
                if match:
                    version = tuple(int(x) for x in match.groups())
                    return version, path.relative_to(root).as_posix()  # type: ignore[return-value]
        if folder == root or root not in folder.parents:
            return None
        folder = folder.parent


def _locked_wrangler(data: dict) -> str | None:
    return (data.get("packages", {}).get("node_modules/wrangler") or {}).get("version") or (
        data.get("dependencies", {}).get("wrangler") or {}
    ).get("version")


def _asked_wrangler(data: dict) -> str | None:
    for section in ("devDependencies", "dependencies"):
        spec = (data.get(section) or {}).get("wrangler")
        if spec:
            return spec
    return None


def _service_name(root: Path, path: Path, data: dict) -> str:
    if path.parent.resolve() != root.resolve():
        return path.parent.name
    return str(data.get("name") or root.resolve().name)


def load_project(root: str | Path) -> Project:
    """Find and read every wrangler config under `root`; unparsable ones become problems."""
    root = Path(root)
    project = Project(root)
    if not root.is_dir():
        project.problems.append(Problem(str(root), 0, "project folder not found"))
        return project
    for path in find_config_files(root):
        variant = _CONFIG_NAME.match(path.name).group("variant")
        try:
            text = path.read_text(encoding="utf-8-sig")
            data = parse_config_text(path, text)
        except (ValueError, UnicodeDecodeError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            project.problems.append(
                Problem(
                    project.relpath(path),
                    _parser_line(str(exc)),
                    f"cannot parse config: {message}",
                    "warning"
                    if variant is not None
                    else "error",  # a broken template blocks nothing
                )
            )
            project.configs.append(
                ConfigFile(path, path.parent.name, None, variant is not None, [], False)
            )
            continue
        if not isinstance(data, dict):
            project.problems.append(Problem(project.relpath(path), 1, "config is not an object"))
            continue
        envs = data.get("env") or {}
        if not isinstance(envs, dict):
            project.problems.append(
                Problem(
                    project.relpath(path), _line_of_setting(path, "env", ""), "env is not a table"
                )
            )
            envs = {}
        cfg = ConfigFile(
            path=path,
            service=_service_name(root, path, data),
            worker_name=data.get("name"),
            is_template=variant is not None,
            environments=sorted(envs),
            parsed=True,
        )
        project.configs.append(cfg)
        refused = [key for key in _REFUSED_KEYS if key in data]
        if refused:
            project.problems.append(
                Problem(
                    project.relpath(path),
                    _line_of_setting(path, refused[0], ""),
                    f"wrangler 4 refuses this config ({', '.join(refused)}: removed settings); "
                    "d1nb still reads its D1 bindings",
                    "warning",
                )
            )
        project.bindings += _bindings_of(data, TOP_LEVEL_ENV, cfg, project.problems)
        for env_name, section in sorted(envs.items()):
            if isinstance(section, dict):
                project.bindings += _bindings_of(section, env_name, cfg, project.problems)
    if not project.configs:
        project.problems.append(
            Problem(
                str(root),
                0,
                "no wrangler config (wrangler.toml, wrangler.json, wrangler.jsonc or a template "
                "such as wrangler.example.toml) in this folder or below",
            )
        )
    _one_key_per_database(project)
    real = {b.service for b in project.bindings if not b.is_template}
    for service in sorted({b.service for b in project.databases()} - real):
        config = next(b.config_path for b in project.bindings if b.service == service)
        project.problems.append(
            Problem(
                project.relpath(config),
                0,
                f"service {service} has only a template config: its migrations are read from "
                "it; ledgers need the real database's",
                "warning",
            )
        )
    for b in project.bindings:
        if b.migrations_dir_setting and not b.has_migrations and not b.is_template:
            project.problems.append(
                Problem(
                    project.relpath(b.config_path),
                    _line_of_setting(b.config_path, "migrations_dir", b.migrations_dir_setting),
                    f"migrations_dir '{b.migrations_dir_setting}' of binding {b.binding} "
                    f"({b.environment}) does not exist",
                    "warning",
                )
            )
    return project


def _one_key_per_database(project: Project) -> None:
    """A worker whose config binds several D1 databases with migrations (`DB` and `AUDIT`,
    each with its own folder and ledger) is one service per database, named
    `SERVICE.BINDING`; a binding name is the same database in every environment."""
    names: dict[str, set[str]] = {}
    for b in project.bindings:
        if b.has_migrations:
            names.setdefault(b.service, set()).add(b.binding)
    for b in project.bindings:
        if len(names.get(b.service, ())) > 1:
            b.service = f"{b.service}.{b.binding}"


def bindings_frame(project: Project) -> pd.DataFrame:
    """One row per D1 binding: service, environment, database, migrations settings, sharing."""
    rows = []
    for b in project.bindings:
        shared = sorted(
            {
                o.service
                for o in project.bindings
                if o.service != b.service
                and o.environment == b.environment
                and o.database_name == b.database_name
                and not o.is_template
            }
        )
        rows.append(
            {
                "service": b.service,
                "environment": b.environment,
                "config": project.relpath(b.config_path),
                "binding": b.binding,
                "database_name": b.database_name,
                "database_id": b.database_id,
                "migrations_dir": project.relpath(b.migrations_dir),
                "migrations_table": b.migrations_table,
                "migrations_pattern": b.migrations_pattern,
                "has_migrations": b.has_migrations,
                "template": b.is_template,
                "placeholder_id": b.placeholder_id,
                "shared_with": ", ".join(shared),
            }
        )
    columns = [
        "service",
        "environment",
        "config",
        "binding",
        "database_name",
        "database_id",
        "migrations_dir",
        "migrations_table",
        "migrations_pattern",
        "has_migrations",
        "template",
        "placeholder_id",
        "shared_with",
    ]
    return pd.DataFrame(rows, columns=columns)
