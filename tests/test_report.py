"""Reports: papermill execution, self-contained HTML with contents and provenance, failures kept,
and a real report opened in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from d1nb.engine.miniflare import NODE_DIR, node_binary
from d1nb.presentation.cli import main
from d1nb.presentation.report import run_report

CHROMIUM = Path("/usr/bin/chromium")


def _notebook(path: Path, *cells: tuple[str, str]) -> Path:
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        if kind == "parameters":
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["tags"] = ["parameters"]
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(source)
        else:
            cell = nbformat.v4.new_markdown_cell(source)
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(
        folder / "01_counts.ipynb",
        ("markdown", "# 01 · Counts"),
        ("parameters", 'project = "."\nlimit = 3'),
        ("markdown", "## Services"),
        ("code", "import d1nb\nd1nb.summary_frame(d1nb.load_history(project)).head(limit)"),
        ("markdown", "## A figure"),
        (
            "code",
            "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
            "plt.bar(['a', 'b'], [1, limit]); plt.show()",
        ),
        ("code", "print('the secret source line')"),
    )
    _notebook(
        folder / "02_broken.ipynb",
        ("markdown", "# 02 · Broken"),
        ("parameters", 'project = "."'),
        ("markdown", "## It fails"),
        ("code", "raise ValueError('no such export: exports/x.sql')"),
    )
    return folder


def test_report_writes_html_with_contents_provenance_and_hidden_code(
    notebooks, sample, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(sample.parent)
    code = main(
        [
            *("report", sample.name, "--out", str(tmp_path / "out")),
            *("--notebooks", str(notebooks), "--notebook", "01", "-p", "limit=2", "--quiet"),
        ]
    )
    assert code == 0, capsys.readouterr()
    html = (tmp_path / "out" / "01_counts.html").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "01_counts.ipynb").exists()
    contents = re.search(r'<nav class="d1nb-contents".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'href="#([^"]+)"', contents)
    assert targets == ["Services", "A-figure", "Provenance"]
    for target in targets:
        assert f'id="{target}"' in html
    assert "<img" in html and 'src="data:image/png;base64,' in html  # embedded, not linked
    assert "the secret source line" in html  # the output...
    assert '<span class="nb">print</span>' not in html  # ...but not the code
    assert "`limit=2`" in html or "limit=2" in html
    ledger = sample / "ledgers" / "api.production.json"
    digest = hashlib.sha256(ledger.read_bytes()).hexdigest()
    assert "<code>ledgers/api.production.json</code>" in html and digest in html
    assert str(sample.resolve()) not in html  # the project as given, not the machine's path
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing fetched from outside


def test_show_code_includes_the_code(notebooks, sample, tmp_path):
    result = run_report(
        notebooks / "01_counts.ipynb", tmp_path, sample, show_code=True, progress=False
    )
    assert result.ok
    assert '<span class="nb">print</span>' in result.html.read_text(encoding="utf-8")


def test_failing_notebook_still_yields_its_report_and_exits_1(notebooks, sample, tmp_path, capsys):
    code = main(
        [
            *("report", str(sample), "--out", str(tmp_path), "--notebooks", str(notebooks)),
            *("--quiet", "--format", "json"),
        ]
    )
    assert code == 1
    results = {r["notebook"]: r for r in json.loads(capsys.readouterr().out)["reports"]}
    assert results["01_counts"]["ok"]
    assert not results["02_broken"]["ok"]
    assert "no such export: exports/x.sql" in results["02_broken"]["error"]
    html = (tmp_path / "02_broken.html").read_text(encoding="utf-8")
    assert "ValueError" in html and "no such export" in html
    assert "Provenance" in html


def _browser_unavailable() -> str | None:
    if node_binary() is None:
        return "the pinned Node is not installed (`make node`): it drives Chromium with playwright"
    if not CHROMIUM.exists():
        return "Chromium is not installed: `make browser` installs Debian's chromium"
    return None


def _open(html: Path, screenshot: Path) -> dict:
    run = subprocess.run(
        [str(node_binary()), str(NODE_DIR / "browser.mjs"), str(html), str(screenshot)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("which", ["sample", "stranger"])
def test_reports_in_a_real_browser(which, sample, stranger, tmp_path, capsys):
    """All five reports of the sample and of a project unlike it, opened in headless Chromium:
    no console errors, nothing fetched from outside the file, every image drawn, a verdict
    first, and every finding of `d1nb lint` on the page a reader sees."""
    reason = _browser_unavailable()
    if reason:
        pytest.skip(reason)
    assert (NODE_DIR / "node_modules" / "playwright-core").is_dir(), "run `make node`"
    project = sample if which == "sample" else stranger
    inputs = (
        []
        if which == "sample"
        else [
            *("--snapshot", "app one=exports/before.sql"),
            *("--before", "exports/before.sql", "--after", "exports/after.sql"),
        ]
    )
    out = tmp_path / "out"
    code = main(["report", str(project), "--out", str(out), "--quiet", "--format", "json", *inputs])
    results = json.loads(capsys.readouterr().out)["reports"]
    assert code == 0 and len(results) == 5 and all(r["ok"] and not r["needs"] for r in results)
    main(["lint", str(project), "--format", "json"])
    findings = json.loads(capsys.readouterr().out)
    findings = findings["findings"]
    assert findings, "both projects have lint findings to look for"
    for result in results:
        seen = _open(Path(result["html"]), tmp_path / f"{result['notebook']}.png")
        assert seen["console_errors"] == [] and seen["page_errors"] == []
        assert seen["external_requests"] == []
        assert seen["broken_images"] == []
        assert seen["title"].startswith(result["notebook"][:2]) and project.name in seen["title"]
        assert seen["verdicts"] == 1 and seen["needs"] == 0
        assert seen["headings"][1] == "Verdict" and seen["headings"][-1] == "Provenance"
        text = seen["text"]
        assert "Traceback" not in text and "rows ×" not in text  # nothing truncated by pandas
        if result["notebook"].startswith("01"):
            for f in findings:
                assert f["rule"] in text and f["file"] in text and f["message"] in text, f
    assert (tmp_path / "01_migration_history.png").stat().st_size > 10_000


def test_report_on_your_own_project_runs_the_real_notebooks(tmp_path, capsys):
    """Notebooks 02 and 04 against a project that is not the sample: nothing in them may name
    the sample's services, tables or files."""
    from d1nb.engine.d1engine import D1Engine
    from d1nb.formats.dumpformat import write_dump

    root = tmp_path / "shop"
    migrations = root / "svc" / "migrations"
    migrations.mkdir(parents=True)
    (root / "svc" / "wrangler.toml").write_text(
        'name = "svc"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "shop"\n',
        encoding="utf-8",
    )
    files = {
        "0001_init.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "status TEXT);\n",
        "0002_upper_status.sql": "UPDATE items SET status = upper(status) "
        "WHERE status IS NOT NULL;\n",
    }
    for name, sql in files.items():
        (migrations / name).write_text(sql, encoding="utf-8")
    with D1Engine(tmp_path / "db.sqlite") as engine:
        engine.apply_migration("0001_init.sql", files["0001_init.sql"], applied_at="2025-01-01")
        engine.conn.executemany(
            "INSERT INTO items (name, status) VALUES (?, ?)",
            [(f"item {i}", ("new", "sold", None)[i % 3]) for i in range(60)],
        )
        write_dump(engine.conn, root / "before.sql")
        engine.apply_migration(
            "0002_upper_status.sql", files["0002_upper_status.sql"], applied_at="2025-02-01"
        )
        write_dump(engine.conn, root / "after.sql")
    code = main(
        [
            *("report", str(root), "--out", str(tmp_path / "out"), "--quiet"),
            # EXPORT alone: the project's one service's (it was read as a service named so)
            *("--snapshot", "before.sql", "--before", "before.sql", "--after", "after.sql"),
            *("--notebook", "02", "--notebook", "04", "-p", "env=null"),
        ]
    )
    assert code == 0, capsys.readouterr()
    impact = (tmp_path / "out" / "02_backfill_impact.html").read_text(encoding="utf-8")
    assert "0002_upper_status.sql" in impact and "&quot;NEW&quot;" not in impact
    assert "SOLD" in impact
    checks = (tmp_path / "out" / "04_before_after_checks.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", checks))
    # the distribution of the most changed column, chosen by itself
    assert "value before after (NULL) 20 20 NEW 0 20 SOLD 0 20 new 20 0" in text
    # the replay of the after export, its service found from its ledger: nothing pending
    assert "pending replay: nothing pending on the after export" in text
    assert "pending replay: fail" not in text
    assert "goal_progress" not in text
    # the verdict comes first and agrees: the exports differ and no expectation says why
    assert checks.index('class="d1nb-verdict d1nb-fail"') < checks.index('id="Schema-changes"')
    assert "before → after: the exports differ and no expectation says that is intended" in text

    # the same project without exports: 01 complete, 02-04 say what they need, exit 0
    capsys.readouterr()
    code = main(
        ["report", str(root), "--out", str(tmp_path / "bare"), "--quiet", "--format", "json"]
    )
    results = {r["notebook"]: r for r in json.loads(capsys.readouterr().out)["reports"]}
    assert code == 0, results
    assert results["01_migration_history"]["ok"] and not results["01_migration_history"]["needs"]
    options = {
        "02": "--snapshot SERVICE=EXPORT",
        "03": "--snapshot SERVICE=EXPORT",
        "04": "--before",
        "05": "--snapshot SERVICE=EXPORT",
    }
    for name, result in results.items():
        if name.startswith("01"):
            continue
        assert result["ok"] and options[name[:2]] in result["needs"], result
        page = (tmp_path / "bare" / f"{name}.html").read_text(encoding="utf-8")
        assert "This report needs an input" in page and options[name[:2]] in page
        assert "Traceback" not in page and str(tmp_path) not in page
        assert "papermill-error" not in page
        assert "scores" not in page and "sync_data" not in page  # nothing of the sample


def test_unusable_input_is_a_message_box_not_a_traceback(sample, tmp_path, capsys):
    """An export that does not exist: report 04 fails with the file named, in a box."""
    code = main(
        [
            *("report", str(sample), "--out", str(tmp_path), "--quiet", "--format", "json"),
            *("--notebook", "04", "--before", "exports/api/nowhere.sql"),
        ]
    )
    assert code == 1
    (result,) = json.loads(capsys.readouterr().out)["reports"]
    assert not result["ok"] and "nowhere.sql" in result["error"]
    page = (tmp_path / "04_before_after_checks.html").read_text(encoding="utf-8")
    assert "d1nb could not use an input" in page and "nowhere.sql: error: export not found" in page
    assert "Traceback" not in page and "site-packages" not in page
    assert str(sample.resolve()) not in page


def test_hostile_file_names_stay_text_in_the_html(tmp_path):
    """A project file named like Markdown or HTML must not become a link or markup."""
    from datetime import UTC, datetime

    import nbformat

    from d1nb.presentation.report import export_html, provenance_markdown

    names = ["x`[clickme](javascript:alert(1))`.sql", "<img src=x onerror=alert(2)>.sql", "a|b.sql"]
    for name in names:
        (tmp_path / name).write_text("SELECT 1;\n", encoding="utf-8")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cell = nbformat.v4.new_markdown_cell(provenance_markdown(tmp_path, {"p": "`]("}, now, now))
    page = export_html(nbformat.v4.new_notebook(cells=[cell]))
    assert 'href="javascript' not in page and "<img src=x" not in page
    assert "<a href" not in page.split("Provenance", 1)[1]
    assert page.count("<tr>") >= len(names) + 1  # one row each: no | broke the table


def test_an_export_for_an_unknown_service_is_named_in_report_05(sample, tmp_path, capsys):
    """Report 05 checks the service as 02 and 03 do (it failed with KeyError: 'before.sql')."""
    code = main(
        [
            *("report", str(sample), "--out", str(tmp_path), "--quiet", "--format", "json"),
            *("--notebook", "05", "--snapshot", "nope=exports/api/before.sql"),
        ]
    )
    assert code == 1
    (result,) = json.loads(capsys.readouterr().out)["reports"]
    assert "no service 'nope'" in result["error"] and "KeyError" not in result["error"]


def test_provenance_lists_the_projects_files_not_its_dependencies(tmp_path):
    """Every report lists the files it may read with their sha256. It walked the whole
    project, so an app's node_modules (a package.json per package), .venv and dist filled
    the list; config discovery skips those folders, and so does the list now."""
    from d1nb.presentation.report import input_files

    for rel in (
        "wrangler.toml",
        "migrations/0001_init.sql",
        "node_modules/hono/package.json",
        "node_modules/@x/y/wrangler.toml",
        ".venv/lib/a.txt",
        "dist/schema.sql",
        ".wrangler/state/v3/d1/x.sqlite",
        "apps/api/node_modules/z/package.json",
        "apps/api/wrangler.jsonc",
    ):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, encoding="utf-8")
    listed = [rel for rel, _digest in input_files(tmp_path)]
    assert listed == ["apps/api/wrangler.jsonc", "migrations/0001_init.sql", "wrangler.toml"]
    digest = dict(input_files(tmp_path))["wrangler.toml"]
    assert digest == hashlib.sha256(b"wrangler.toml").hexdigest()
