"""Files d1nb writes for the user replace a link at their path, never write through it."""

from __future__ import annotations

import sys

import pytest

from d1nb.outfiles import write_text
from d1nb.presentation.cli import main


@pytest.fixture
def precious(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious\n", encoding="utf-8")
    return target


def test_a_link_at_the_path_is_replaced_not_followed(tmp_path, precious):
    link = tmp_path / "out" / "run_batches.sh"
    link.parent.mkdir()
    link.symlink_to(precious)
    write_text(link, "#!/usr/bin/env sh\n")
    assert precious.read_text(encoding="utf-8") == "precious\n"
    assert not link.is_symlink() and link.read_text(encoding="utf-8") == "#!/usr/bin/env sh\n"
    assert [p.name for p in link.parent.iterdir()] == ["run_batches.sh"]  # no .part left


def test_batch_files_and_the_lock_do_not_write_through_links(sample, tmp_path, precious, capsys):
    """A cloned repository may hold `batches/run_batches.sh -> ~/.bashrc` or a d1nb.lock
    link: `d1nb batch --out batches` wrote the driver through it (stranger's project #9,
    hostile variant), and `d1nb lock` would have written the lock there."""
    out = tmp_path / "batches"
    out.mkdir()
    (out / "run_batches.sh").symlink_to(precious)
    code = main(
        [
            *("batch", str(sample), "--service", "scores"),
            *("--snapshot", str(sample / "exports" / "scores" / "before.sql")),
            *("--migration", "0013_backfill_normalized_id.sql", "--budget-ms", "100"),
            *("--out", str(out), "--workdir", str(tmp_path / "w")),
        ]
    )
    assert code == 0, capsys.readouterr()
    assert precious.read_text(encoding="utf-8") == "precious\n"
    assert not (out / "run_batches.sh").is_symlink()
    project = tmp_path / "project"
    (project / "migrations").mkdir(parents=True)
    (project / "wrangler.toml").write_text(
        'name = "w"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "w"\n', encoding="utf-8"
    )
    (project / "migrations" / "0001_t.sql").write_text("CREATE TABLE t (a);\n", encoding="utf-8")
    (project / "d1nb.lock").symlink_to(precious)
    main(["lock", str(project)])  # 2: the old lock (the link's target) is no lock
    assert precious.read_text(encoding="utf-8") == "precious\n"
    assert "0001_t.sql" in (project / "d1nb.lock").read_text(encoding="utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="links need privileges on Windows")
def test_a_report_does_not_write_through_links(sample, tmp_path, precious, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "01_migration_history.html").symlink_to(precious)
    (out / "01_migration_history.ipynb").symlink_to(precious)
    code = main(["report", str(sample), "--out", str(out), "--notebook", "01", "--quiet"])
    assert code in (0, 1), capsys.readouterr()
    assert precious.read_text(encoding="utf-8") == "precious\n"
    assert (out / "01_migration_history.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
