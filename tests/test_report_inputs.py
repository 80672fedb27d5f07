"""A project's report inputs: parameters over d1nb.toml over defaults, checked like any input."""

from __future__ import annotations

from pathlib import Path

import pytest

from d1nb.presentation.report_inputs import (
    PARAMETERS,
    MissingInputError,
    parameters_markdown,
    read_settings,
    report_inputs,
)
from d1nb.problems import InputError


def _project(tmp_path: Path, settings: str) -> Path:
    (tmp_path / "d1nb.toml").write_text(settings, encoding="utf-8")
    return tmp_path


def test_parameter_wins_over_settings_which_win_over_defaults(tmp_path):
    root = _project(tmp_path, '[report]\nbudget_ms = 250\nenv = "prod"\n')
    inputs = report_inputs(root, budget_ms=None, env="staging", margin=None)
    assert inputs.env == "staging" and inputs.sources["env"] == "parameter"
    assert inputs.budget_ms == 250 and inputs.sources["budget_ms"] == "d1nb.toml"
    assert inputs.margin == 0.5 and inputs.sources["margin"] == "default"


def test_without_settings_every_input_is_its_default(tmp_path):
    inputs = report_inputs(tmp_path, snapshots=None, before=None, expectations=None)
    assert inputs.snapshots == {} and inputs.before is None and inputs.expectations == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("[report\n", "d1nb.toml:1"),
        ("[report]\nbudget = 3\n", "no setting budget"),
        ('[report]\nbudget_ms = "fast"\n', "must be a number"),
        ("[report]\nscale_rows = 0\n", "a whole number above 0"),
        ("[report]\nsnapshots = 3\n", "a table of strings"),
        ('[report]\nbefore = "../../etc/passwd"\n', "outside the project"),
        ('[report.snapshots]\napi = "/etc/hosts"\n', "outside the project"),
        ('report = "x"\n', "must be a table"),
    ],
)
def test_bad_settings_name_the_file(tmp_path, settings, message):
    root = _project(tmp_path, settings)
    with pytest.raises(InputError) as caught:
        report_inputs(root, budget_ms=None, before=None, snapshots=None, scale_rows=None)
    assert "d1nb.toml" in str(caught.value) and message in str(caught.value)


def test_a_bad_parameter_is_refused_too(tmp_path):
    with pytest.raises(InputError, match="must be a table of strings"):
        report_inputs(tmp_path, snapshots=["api.sql"])


def test_a_missing_input_says_the_option_that_gives_it(tmp_path):
    inputs = report_inputs(tmp_path, before=None, after="after.sql")
    with pytest.raises(MissingInputError) as caught:
        inputs.require("before", "after", why="Two exports are compared.")
    text = str(caught.value)
    assert text.startswith("Two exports are compared.")
    assert "`--before EXPORT`" in text and "--after" not in text  # after was given
    assert f"`d1nb report {tmp_path.name}`" in text and "d1nb.toml" in text


def test_the_readme_lists_every_input():
    table = parameters_markdown()
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README's table of report inputs is out of date"
    assert all(f"`{name}`" in table for name in PARAMETERS)


def test_the_sample_settings_are_valid(sample):
    settings = read_settings(sample)
    assert set(settings["snapshots"]) == {"api", "scores"}


def test_report_exports_are_read_from_the_current_folder_when_the_project_has_none(
    tmp_path, monkeypatch
):
    """Stranger's project #9: `d1nb report tidepool --snapshot api=prod.sql`, run beside
    prod.sql as every other command takes it, failed with "tidepool/prod.sql: export not
    found". A path the project holds is kept as given; else the current folder's file is named
    relative to the project (no absolute path reaches a report)."""
    from d1nb.presentation.commands_project import _export_path

    project = tmp_path / "tidepool"
    (project / "exports").mkdir(parents=True)
    (project / "exports" / "prod.sql").write_text("")
    (tmp_path / "prod.sql").write_text("")
    monkeypatch.chdir(tmp_path)
    assert _export_path(project, "exports/prod.sql") == "exports/prod.sql"
    assert _export_path(project, "prod.sql") == "../prod.sql"
    assert _export_path(project, "missing.sql") == "missing.sql"  # the report says what is missing
