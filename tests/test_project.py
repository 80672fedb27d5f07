"""Project hygiene: environment.yml in sync, public API, committed notebooks executed and clean."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib

import nbformat
import yaml

import d1nb
from tests.conftest import REPO

CONDA_NAMES = {"duckdb": "python-duckdb"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    """A requirement's name and version spec; extras dropped (conda packages have none)."""
    match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?([^#]*)", requirement.strip())
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = dict(_name_and_spec(r) for r in pyproject["project"]["dependencies"])
    wanted.update(_name_and_spec(r) for r in pyproject["project"]["optional-dependencies"]["test"])
    wanted = {CONDA_NAMES.get(name, name): spec for name, spec in wanted.items()}
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    have = dict(_name_and_spec(d) for d in env["dependencies"] if isinstance(d, str))
    python = have.pop("python")
    assert python == ">=" + pyproject["project"]["requires-python"].removeprefix(">=")
    assert have == wanted


def test_public_api_is_importable():
    for name in d1nb.__all__:
        assert hasattr(d1nb, name), name


def test_each_public_name_is_listed_under_the_module_that_defines_it():
    for module, names in d1nb._PUBLIC.items():
        for name in names:
            value = getattr(importlib.import_module(module), name)
            assert getattr(value, "__module__", module).startswith(module), (module, name)


def test_help_loads_neither_pandas_nor_duckdb():
    code = (
        "import sys; from d1nb.presentation.cli import build_parser; build_parser(); "
        "print(sorted({'pandas', 'duckdb', 'sqlglot', 'apsw'} & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_notebooks_are_committed_executed_without_machine_paths():
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), path.name
        text = path.read_text(encoding="utf-8")
        assert str(REPO) not in text and "/root/" not in text and "/home/" not in text
        assert any("parameters" in c.metadata.get("tags", []) for c in code), path.name


def test_sql_text_is_taken_apart_in_one_place():
    """Only d1nb/formats/sql/ reads SQL's structure (sqlglot); the rest asks it."""
    readers = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "d1nb").rglob("*.py")
        if re.search(r"^\s*(import sqlglot|from sqlglot)", path.read_text(encoding="utf-8"), re.M)
    )
    assert readers == ["d1nb/formats/sql/shapes.py", "d1nb/formats/sql/text.py"]


def test_a_migration_is_named_by_its_ledger_name_its_path_or_a_unique_file_name(
    tmp_path, monkeypatch
):
    """`d1nb batch --migration 0002_x/migration.sql` on a folder-per-migration project was
    "not a migration" (the folder was cut off the name); a path to the file works too, and a
    bare file name only when one migration has it."""
    from d1nb.formats.migrations import load_migration_dir
    from d1nb.presentation.project import migration_named

    for name in ("0001_a/migration.sql", "0002_b/migration.sql", "0003_c/other.sql"):
        (tmp_path / "m" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "m" / name).write_text("SELECT 1;\n", encoding="utf-8")
    mdir = load_migration_dir(tmp_path / "m", "*/*.sql")
    monkeypatch.chdir(tmp_path)
    named = {
        g: getattr(migration_named(mdir, g), "name", None)
        for g in (
            "0002_b/migration.sql",
            "m/0002_b/migration.sql",
            "0002_b\\migration.sql",
            "other.sql",
            "migration.sql",
            "0004_d/migration.sql",
        )
    }
    assert named == {
        "0002_b/migration.sql": "0002_b/migration.sql",
        "m/0002_b/migration.sql": "0002_b/migration.sql",
        "0002_b\\migration.sql": "0002_b/migration.sql",
        "other.sql": "0003_c/other.sql",
        "migration.sql": None,  # two migrations have that file name
        "0004_d/migration.sql": None,
    }
