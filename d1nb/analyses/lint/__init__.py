"""Lint rules for D1 migrations: each rule registered beside its logic, with a code, a
severity and its page in docs/rules.md (`registry`); run over a whole project by `run.lint`."""

from d1nb.analyses.lint.registry import FINDING_COLUMNS, RULES, SEVERITY_RANK, Finding, Rule
from d1nb.analyses.lint.run import lint, lint_table, rules_markdown

__all__ = [
    "FINDING_COLUMNS",
    "RULES",
    "SEVERITY_RANK",
    "Finding",
    "Rule",
    "lint",
    "lint_table",
    "rules_markdown",
]
