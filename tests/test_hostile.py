"""Hostile input across every subcommand (docs/security.md): a project, a ledger, an export and
expectations written as an attacker would, run through the real CLI in a fresh process.

Each run must end with a known exit code and no traceback, create no file outside its output,
leave every input byte for byte as it was, never print the secret a symlink points at, and
never print a raw terminal escape code.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "s3cr3t-token-do-not-print"
ENDLESS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "INSERT INTO t (a) SELECT i FROM n;"
)
LEDGER_DDL = (
    "CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
    "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);"
)


def _corpus(root: Path) -> dict[str, Path]:
    """Write the hostile project and its inputs; return the paths the commands take."""
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    canary = outside / "canary.sqlite"
    canary.write_bytes(b"")
    project = root / "project"
    migrations = project / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (project / "shop" / "wrangler.toml").write_text(
        'name = "shop"\n[[d1_databases]]\nbinding = "DB; touch pwned #$(touch pwned2)"\n'
        'database_name = "shop"\ndatabase_id = "1"\n',
        encoding="utf-8",
    )
    files = {
        "0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a INTEGER, b TEXT);\n"
        "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y');\n",
        "0002_attach.sql": f"ATTACH '{canary}' AS c;\nCREATE TABLE c.pwned (a);\n",
        "0003_vacuum.sql": f"VACUUM INTO '{outside}/made.db';\n",
        "0004_endless.sql": ENDLESS + "\n",
        "0005_backfill.sql": "UPDATE t SET b = upper(b) -- shout\nWHERE a > 0;\n",
        "0006_\x1b[31mred.sql": "SELECT 1;\n",
        "0007_load_extension.sql": "SELECT load_extension('/tmp/x.so');\n",
    }
    for name, text in files.items():
        (migrations / name).write_text(text, encoding="utf-8")
    (migrations / "0008_secret.sql").symlink_to(outside / "secret.txt")
    ledgers = project / "ledgers"
    ledgers.mkdir()
    (ledgers / "shop.production.sql").write_text(
        f"{LEDGER_DDL}\nINSERT INTO d1_migrations VALUES(1,'0001_init.sql','x');\n"
        f"VACUUM INTO '{outside}/ledger_made.db';\n",
        encoding="utf-8",
    )
    (project / "d1nb.toml").write_text(
        "[report.expectations]\n"
        f'"read a file" = "SELECT * FROM read_csv(\'{outside}/secret.txt\')"\n'
        "[report.replay_expectations]\n"
        f'"write a file" = "SELECT * FROM (COPY (SELECT 1) TO \'{outside}/copied.csv\')"\n',
        encoding="utf-8",
    )
    export = root / "export.sql"
    export.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a INTEGER, b TEXT);\n"
        "INSERT INTO \"t\" VALUES(1,'x');\n"
        f"ATTACH '{canary}' AS c;\n",
        encoding="utf-8",
    )
    clean = root / "clean.sql"
    clean.write_text(
        f"PRAGMA defer_foreign_keys=TRUE;\n{LEDGER_DDL}\n"
        "INSERT INTO \"d1_migrations\" VALUES(1,'0001_init.sql','2025-01-01 00:00:00');\n"
        "CREATE TABLE t (a INTEGER, b TEXT);\nINSERT INTO \"t\" VALUES(1,'x');\n"
        "INSERT INTO \"t\" VALUES(2,'y');\n",
        encoding="utf-8",
    )
    expectations = root / "expect.sql"
    expectations.write_text(
        f"-- expect: read a file\nSELECT * FROM read_csv('{outside}/secret.txt');\n"
        f"-- expect: write a file\nSELECT * FROM (COPY (SELECT 1) TO '{outside}/copied.csv');\n",
        encoding="utf-8",
    )
    return {
        "root": root,
        "project": project,
        "outside": outside,
        "export": export,
        "clean": clean,
        "expectations": expectations,
    }


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


COMMANDS = {
    "status": (["status", "{project}"], {2}),
    "lint": (["lint", "{project}", "--statement-timeout", "1"], {2}),
    "load": (["load", "{export}", "--workdir", "{work}"], {2}),
    "replay": (
        [
            "replay",
            "{project}",
            "--snapshot",
            "{clean}",
            "--keep-going",
            "--statement-timeout",
            "1",
            "--workdir",
            "{work}",
        ],
        {2},
    ),
    "impact": (
        [
            "impact",
            "{project}",
            "--snapshot",
            "{clean}",
            "--statement-timeout",
            "1",
            "--workdir",
            "{work}",
        ],
        {2},
    ),
    "batch": (
        [
            "batch",
            "{project}",
            "--snapshot",
            "{clean}",
            "--migration",
            "0005_backfill.sql",
            "--out",
            "{work}/batches",
            "--workdir",
            "{work}",
        ],
        {0, 1, 2},
    ),
    "diff": (["diff", "{clean}", "{clean}", "--expectations", "{expectations}"], {1}),
    # all four reports: the hostile migrations replayed (02, 03), d1nb.toml's expectations
    # trying to read and write files (04), the time limit reaching the notebook kernels
    "report": (
        [
            *("report", "{project}", "--out", "{work}/reports", "--quiet"),
            *("--statement-timeout", "1", "--snapshot", "shop={clean}"),
            *("--before", "{clean}", "--after", "{clean}"),
        ],
        {0, 1},
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_input_breaks_no_promise(corpus, tmp_path, command):
    args, codes = COMMANDS[command]
    places = {k: str(v) for k, v in corpus.items()} | {"work": str(tmp_path / "work")}
    argv = [a.format(**places) for a in args]
    before = _digests(corpus["root"])
    result = subprocess.run(
        [sys.executable, "-m", "d1nb", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    output = result.stdout + result.stderr
    assert result.returncode in codes, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert SECRET not in output
    assert "\x1b" not in output
    assert _digests(corpus["root"]) == before  # no input changed, nothing made beside them
    assert not list(tmp_path.rglob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    assert not any(corpus["outside"].glob("*made*")) and not any(corpus["outside"].glob("copied*"))
    assert (corpus["outside"] / "canary.sqlite").read_bytes() == b""
    for page in (tmp_path / "work").rglob("*.html"):  # reports: the secret stays out of them
        text = page.read_text(encoding="utf-8")
        assert SECRET not in text and "\x1b" not in text  # nor a raw terminal escape
        assert "Traceback" not in text


def test_a_workdir_inside_the_inputs_folder_harms_no_input(tmp_path):
    """--workdir at the export's own folder: working copies get names no input has, and d1nb
    refuses to replace a file it did not make, even one that has such a name."""
    import apsw

    folder = tmp_path / "exports"
    folder.mkdir()
    db = folder / "prod.sqlite"
    conn = apsw.Connection(str(db))
    conn.execute("CREATE TABLE t (a); INSERT INTO t VALUES (1), (2);")
    conn.close()
    (folder / "prod.duckdb").write_bytes(b"someone's DuckDB file")
    (folder / "prod.sqlite-wal").write_bytes(b"")
    before = _digests(folder)

    def load(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "d1nb", "load", str(db), "--workdir", str(folder), *extra],
            capture_output=True,
            text=True,
            check=False,
        )

    first = load()
    assert first.returncode == 0, first.stderr
    made = {p.name for p in folder.iterdir()} - set(before)
    assert made == {"prod.d1nb.sqlite"}
    assert {k: v for k, v in _digests(folder).items() if k in before} == before
    assert load().returncode == 0  # its own copy is replaced
    theirs = folder / "prod.d1nb.sqlite"
    theirs.write_bytes(db.read_bytes())  # a file of the same name that d1nb did not make
    refused = load()
    assert refused.returncode == 2 and "refusing to replace it" in refused.stderr
    assert theirs.read_bytes() == db.read_bytes()


TOML = 'name = "s"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "d"\ndatabase_id = "1"\n'
BAD_LEDGERS = {
    "a string.json": '"hello"',
    "float id.json": '[{"results":[{"id":1.5,"name":"0001_init.sql","applied_at":"x"}]}]',
    "huge id.json": '[{"results":[{"id":123456789012345678901234567890,"name":"0001_init.sql"}]}]',
    "UTF-16.json": '[{"results":[]}]'.encode("utf-16"),
    "deep nesting.json": "[" * 5000 + "]" * 5000,
    "text id.json": '{"results":[{"id":"a","name":"0001_init.sql"}]}',
    "number name.json": '[{"results":[{"id":1,"name":5}]}]',
    "bad bytes.csv": b"id,name\n1,\xff\xfe\n",
    "not a database.sqlite": b"SQLite format 3\x00" + b"\x00" * 100,
    "empty.json": "",
}
BAD_CONFIGS = {
    "d1_databases not a list": 'name = "s"\nd1_databases = "x"\n',
    "migrations_dir a number": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\nmigrations_dir = 5\n',
    "env a list": 'name = "s"\nenv = [1, 2]\n',
    "migrations_table a number": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
    "migrations_table = 3\n",
    "migrations_pattern a number": 'name = "s"\n[[d1_databases]]\nbinding = "DB"\n'
    "migrations_pattern = 3\n",
}


def _tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def _bad_input_cases(root: Path) -> list[tuple[str, list[str]]]:
    base = {"s/wrangler.toml": TOML, "s/migrations/0001_init.sql": "CREATE TABLE t (a);\n"}
    cases = []
    for i, (name, content) in enumerate(BAD_LEDGERS.items()):
        suffix = name.rsplit(".", 1)[1]
        project = _tree(root / f"ledger{i}", {**base, f"ledgers/s.production.{suffix}": content})
        cases.append((f"ledger: {name}", ["status", str(project)]))
    for i, (name, text) in enumerate(BAD_CONFIGS.items()):
        project = _tree(root / f"config{i}", {**base, "s/wrangler.toml": text})
        cases.append((f"config: {name}", ["lint", str(project)]))
    names = _tree(
        root / "names",
        {
            **base,
            "s/migrations/12345678901234567890123_big.sql": "SELECT 1;\n",
            "s/migrations/0002_\udcff.sql": "SELECT 1;\n",
        },
    )
    dump = 'PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\nINSERT INTO "t" VALUES(1);\n'
    files = _tree(
        root / "files",
        {
            "a.sql": dump,
            "b.sql": dump.replace("(a)", "(a TEXT)").replace("VALUES(1)", "VALUES('x')"),
            "nul.sql": b"PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t(a);\x00\n",
            "commit.sql": "BEGIN TRANSACTION;\nCREATE TABLE t(a);\nCOMMIT;\nCOMMIT;\n",
            "odd.csv": b"a,b\n1\n\xff,2,3\n",
            "odd.json": '{"a": [1, {"b": 2}]}',
            "byte 300.json": '[{"results":[{"a":[300]}],"success":true}]',
            "object value.json": '[{"results":[{"a":{"b":1}}],"success":true}]',
            "mixed list.json": '[{"results":[{"a":[1,"x"]}],"success":true}]',
            "row not an object.json": '[{"results":[1,2],"success":true}]',
            "past 2^64.json": '[{"results":[{"a":99999999999999999999999}],"success":true}]',
            "odd.parquet": b"PAR1garbagePAR1",
        },
    )
    cases += [
        ("file names: 23 digits, not UTF-8", ["lint", str(names)]),
        ("replay --only a file that is not there",
         ["replay", str(names), "--snapshot", str(files / "a.sql"), "--only", "nosuch.sql"]),
        ("diff: a column's type changed", ["diff", str(files / "a.sql"), str(files / "b.sql")]),
        ("diff --tolerance nan", ["diff", str(files / "a.sql"), str(files / "a.sql"),
                                  "--tolerance", "t.a=nan"]),
        ("dump with a NUL byte", ["load", str(files / "nul.sql")]),
        ("dump with two COMMITs", ["load", str(files / "commit.sql")]),
        ("odd CSV", ["load", str(files / "odd.csv")]),
        ("odd --json", ["load", str(files / "odd.json"), "--table", "t"]),
        *((f"--json: {n}", ["load", str(files / f"{n}.json"), "--table", "t"])
          for n in ("byte 300", "object value", "mixed list", "row not an object", "past 2^64")),
        ("odd Parquet", ["load", str(files / "odd.parquet")]),
        ("unwritable --out", ["load", str(files / "a.sql"), "--out", "/proc/nope/x.duckdb"]),
        ("missing export", ["load", str(files / "nope.sql")]),
    ]  # fmt: skip
    return cases


def test_bad_input_ends_in_a_message_not_a_traceback(tmp_path, capsys):
    """Each case ends with exit 0, 1 or 2 and a message; none is reported as a d1nb bug."""
    from d1nb.presentation.cli import main

    failures = []
    for label, argv in _bad_input_cases(tmp_path):
        code = main(argv)
        out, err = capsys.readouterr()
        if code not in (0, 1, 2) or "internal error" in err or "Traceback" in out + err:
            failures.append(f"{label}: exit {code}: {err.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def unwritable(tmp_path):
    """A folder even root cannot write to (chattr +i), and a full disk (a 64 KiB tmpfs): real
    PermissionError and ENOSPC, where permission bits mean nothing to root."""
    locked, full = tmp_path / "locked", tmp_path / "full"
    locked.mkdir()
    full.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not available here: no folder is unwritable for this user")
    mounted = not subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
        capture_output=True,
        check=False,
    ).returncode
    try:
        yield locked, (full if mounted else None)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=False)
        if mounted:
            subprocess.run(["umount", str(full)], check=False)


def test_unwritable_and_full_outputs_end_in_a_message(unwritable, sample, tmp_path):
    """Permission denied and disk full on --out and --workdir: exit 2 with the path, no
    traceback, nothing half-written left behind."""
    locked, full = unwritable
    export = str(sample / "exports" / "api" / "before.sql")
    cases = [
        ["load", export, "--out", str(locked / "x.duckdb")],
        ["load", export, "--workdir", str(locked)],
        ["report", str(sample), "--out", str(locked), "--notebook", "01", "--quiet"],
        ["batch", str(sample), "--service", "api", "--snapshot", export,
         "--migration", "0010_lowercase_sync_moods.sql", "--out", str(locked / "b")],
    ]  # fmt: skip
    if full is not None:
        cases += [
            ["load", export, "--out", str(full / "x.duckdb")],
            ["load", export, "--workdir", str(full)],
        ]
    for argv in cases:
        result = subprocess.run(
            [sys.executable, "-m", "d1nb", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 2, (argv, output)
        assert "Traceback" not in output and "internal error" not in output, (argv, output)
        assert str(locked) in output or (full is not None and str(full) in output), output
    assert not any(locked.iterdir())
    if full is not None:
        assert not [p for p in full.iterdir() if p.suffix in (".duckdb", ".sqlite")]


def test_an_export_whose_ledger_lacks_columns(tmp_path, capsys):
    """wrangler reads a ledger by its `name` alone (and inserts names alone): one without
    `applied_at` or `id` is read; one without `name` is an input error naming the export."""
    from d1nb.presentation.cli import main

    root = _tree(tmp_path / "p", {"s/wrangler.toml": TOML, "s/migrations/0001_init.sql":
                                  "CREATE TABLE t (a);\n", "s/migrations/0002_more.sql":
                                  "INSERT INTO t VALUES (2);\n"})  # fmt: skip
    head = "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t (a);\n"
    for ledger, code in (
        ("CREATE TABLE d1_migrations (name TEXT);\n"
         "INSERT INTO d1_migrations VALUES ('0001_init.sql');\n", 0),
        ("CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY, label TEXT);\n"
         "INSERT INTO d1_migrations VALUES (1, '0001_init.sql');\n", 2),
    ):  # fmt: skip
        export = tmp_path / "export.sql"
        export.write_text(head + ledger, encoding="utf-8")
        assert main(["replay", str(root), "--snapshot", str(export)]) == code
        out, err = capsys.readouterr()
        if code == 0:
            assert "0002_more.sql" in out and "0001_init.sql" not in out
        else:
            assert "export.sql: error: its d1_migrations table has no name column" in err


def test_a_file_named_with_a_newline_prints_no_record_of_its_own(tmp_path, capsys):
    """Lint and problems print one record per line (`path:line: …`, read by CI scripts): a
    migration named with a newline and a fake finding after it stays on its own line."""
    from d1nb.presentation.cli import main

    fake = "0003_x\nmigrations/0001_init.sql:1: error D1N999 [fake] all is well.sql"
    root = _tree(tmp_path / "p", {"s/wrangler.toml": TOML, "s/migrations/0001_init.sql":
                                  "CREATE TABLE IF NOT EXISTS t (a);\n",
                                  f"s/migrations/{fake}": "SELECT 1;\n"})  # fmt: skip
    main(["lint", str(root)])
    out, err = capsys.readouterr()
    assert not [line for line in out.splitlines() if "D1N999" in line and "\\n" not in line]
    assert "0003_x\\nmigrations/0001_init.sql:1: error D1N999" in out
    assert "\n" not in next(line for line in (out + err).splitlines() if "0003_x" in line)
