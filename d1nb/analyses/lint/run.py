"""Running every lint rule over a project, and the rules' page (docs/rules.md).

Importing the three rule modules registers their rules; `lint` then asks each rule where its
scope says, and applies severity and suppression once for all of them.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from d1nb.analyses.lint import file_rules, history_rules, statement_rules
from d1nb.analyses.lint.registry import (
    FINDING_COLUMNS,
    RULES,
    SCOPES,
    FileContext,
    Finding,
    ServiceContext,
    suppressed,
)
from d1nb.formats.config import wrangler_version
from d1nb.formats.migrations import MigrationFile
from d1nb.inputs.history import History, evolution_of

RULE_MODULES = (statement_rules, file_rules, history_rules)
"""Where the rules live; a new rule goes into one of them."""

RULES_PAGE_INTRO = """\
# d1nb lint rules

Generated from the rules themselves by `make docs` (each rule's page is its check's
docstring, in `d1nb/analyses/lint/`); `tests/test_lint.py` fails when it is out of date.

`d1nb lint PROJECT` checks every migration file of every service. Each finding has a rule code,
a severity (error: fails or loses data on D1; warning: risky; info: worth knowing) and the file
and line. Suppress one with a comment on the statement's lines or the line above it, with a
reason:

```sql
-- d1nb: ignore D1N004 (the table was emptied and replaced by archive_scores in 0031)
DROP TABLE old_scores;
```

or for a whole file with `-- d1nb: ignore-file D1N001`. `--fail-on error|warning|info` sets the
severity at which the command exits 1.
"""

for _code in sorted(RULES):  # code order, whichever module registered a rule first
    RULES[_code] = RULES.pop(_code)


_BY_SCOPE = {scope: [r for r in RULES.values() if r.scope == scope] for scope in SCOPES}
"""The rules of each scope, in code order, gathered once (lint asks for them per statement)."""


def lint(history: History) -> pd.DataFrame:
    """Every finding of the project, sorted by service, file and line."""
    findings: list[Finding] = []
    project = history.project
    for service, mdir in history.migration_dirs.items():
        binding = history.binding(service)
        evolution = evolution_of(history, service)
        wrangler = wrangler_version(project.root, binding.config_path.parent)
        hits: list[tuple] = []  # (code, file or path, line, message, statement)

        for f in mdir.files:
            ctx = FileContext(
                f,
                evolution.foreign_keys_before.get(f.name, []),
                evolution.tables_before.get(f.name, {}),
                {
                    i: keys
                    for (name, i), keys in evolution.foreign_keys_at_drop.items()
                    if name == f.name
                },
                wrangler,
                evolution.triggers_before.get(f.name, {}),
                evolution.kept_by_rebuilt.get(f.name, {}),
            )
            for r in _BY_SCOPE["file"]:
                hits += [(r.code, f, *hit) for hit in r.check(f, ctx)]
            for s in f.statements:
                for r in _BY_SCOPE["statement"]:
                    hits += [(r.code, f, s.line, message, s) for message in r.check(s, ctx)]
        for r in _BY_SCOPE["service"]:
            hits += [(r.code, *hit) for hit in r.check(ServiceContext(service, mdir, evolution))]
        for code, target, line, message, s in hits:
            if isinstance(target, MigrationFile):
                if suppressed(target, s, code):
                    continue
                target = target.path
            severity, rel = RULES[code].severity, project.relpath(target)
            findings.append(Finding(code, severity, service, binding.binding, rel, line, message))
    for r in _BY_SCOPE["project"]:
        for service, database, path, line, message in r.check(history):
            rel = project.relpath(path)
            findings.append(Finding(r.code, r.severity, service, database, rel, line, message))
    frame = pd.DataFrame([{**asdict(x), "name": x.name} for x in findings], columns=FINDING_COLUMNS)
    # a folder shared by several services: its findings once, naming every service
    same = ["rule", "name", "severity", "file", "line", "message"]
    frame = (
        frame.groupby(same, sort=False, dropna=False)
        .agg(service=("service", _joined), database=("database", _joined))
        .reset_index()[FINDING_COLUMNS]
    )
    return frame.sort_values(["service", "file", "line", "rule"], kind="stable").reset_index(
        drop=True
    )


def _joined(values: pd.Series) -> str:
    return ", ".join(dict.fromkeys(values))


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def lint_table(history: History) -> pd.DataFrame:
    """Every finding, errors first, then warnings, then notes; by service, file and line within."""
    findings = lint(history)
    return (
        findings.assign(_rank=findings["severity"].map(_SEVERITY_ORDER))
        .sort_values(["_rank", "service", "file", "line"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def rules_markdown() -> str:
    """docs/rules.md: the introduction, then each rule's heading and page, in code order."""
    parts = [RULES_PAGE_INTRO]
    for r in RULES.values():
        parts.append(f"## {r.code} {r.name} ({r.severity})\n{r.doc}\n")
    return "\n".join(parts)
