"""Wrangler configs: formats, environments, defaults, templates, sharing and parse errors."""

from __future__ import annotations

import pytest

from d1nb.formats.config import bindings_frame, load_project

JSONC = """// worker
{
  "name": "w",
  /* block comment */
  "d1_databases": [
    {"binding": "DB", "database_name": "w-dev", "database_id": "local-db",},
  ],
  "env": {
    "production": {
      "d1_databases": [
        {"binding": "DB", "database_name": "w-prod", "database_id": "abc",
         "migrations_dir": "../../migrations", "migrations_table": "__drizzle_migrations"},
      ],
    },
  },
}
"""

ENV_ONLY_TOML = """
name = "api"
[[env.staging.d1_databases]]
binding = "DB"
database_name = "api-staging"
database_id = "s1"

[[env.production.d1_databases]]
binding = "DB"
database_name = "api-prod"
database_id = "p1"
migrations_dir = "./migrations"
"""

# Not TOML 1.0: an inline table spread over lines. tomllib refuses it.
INVALID_TOML = """name = "bad"
d1_databases = [ { binding = "DB",
  database_name = "x" } ]
"""


def test_formats_envs_defaults_and_templates(make_tree):
    root = make_tree(
        {
            "apps/w/wrangler.jsonc": JSONC,
            "migrations/0001_a.sql": "CREATE TABLE a (x);",
            "services/api/wrangler.toml": ENV_ONLY_TOML,
            "services/api/migrations/0001_a.sql": "CREATE TABLE a (x);",
            "services/api/wrangler.example.toml": ENV_ONLY_TOML.replace('"s1"', '"__DB_ID__"'),
            "services/nodb/wrangler.json": '{"name": "nodb"}',
            "node_modules/pkg/wrangler.toml": "this is = not read",
        }
    )
    project = load_project(root)
    assert project.problems == []
    frame = bindings_frame(project).set_index(["config", "environment"])
    w_dev = frame.loc[("apps/w/wrangler.jsonc", "default")]
    assert (w_dev.migrations_dir, w_dev.migrations_table, w_dev.has_migrations) == (
        "apps/w/migrations",
        "d1_migrations",
        False,
    )
    assert w_dev.placeholder_id
    w_prod = frame.loc[("apps/w/wrangler.jsonc", "production")]
    assert (w_prod.migrations_dir, w_prod.migrations_table, w_prod.has_migrations) == (
        "migrations",
        "__drizzle_migrations",
        True,
    )
    api = frame.loc[("services/api/wrangler.toml", "staging")]
    assert (api.database_name, api.migrations_dir, api.template) == (
        "api-staging",
        "services/api/migrations",
        False,
    )
    assert frame.loc[("services/api/wrangler.example.toml", "staging")].template
    assert not any(c.path.parts[-2] == "pkg" for c in project.configs)
    assert {c.service for c in project.configs} == {"w", "api", "nodb"}
    assert [b.service for b in project.databases()] == ["w", "api", "api"]


def test_shared_database_is_reported(sample):
    frame = bindings_frame(load_project(sample))
    cron = frame[frame.service == "reports-cron"].iloc[0]
    assert (cron.database_name, cron.has_migrations, cron.shared_with) == (
        "scores-production",
        False,
        "scores",
    )


def test_invalid_toml_names_file_and_line_and_rest_loads(make_tree):
    root = make_tree(
        {
            "a/wrangler.toml": INVALID_TOML,
            "b/wrangler.toml": ENV_ONLY_TOML,
            "c/wrangler.jsonc": '{\n  "name": "c",\n  "d1_databases": [,]\n}',
        }
    )
    project = load_project(root)
    problems = {p.path: p for p in project.problems}
    assert problems["a/wrangler.toml"].line == 2
    assert "cannot parse config" in problems["a/wrangler.toml"].message
    assert problems["c/wrangler.jsonc"].line == 3
    assert [b.service for b in project.bindings] == ["b", "b"]


def test_missing_explicit_migrations_dir_is_a_warning(make_tree):
    root = make_tree({"s/wrangler.toml": ENV_ONLY_TOML})
    project = load_project(root)
    assert [(p.severity, p.line, "does not exist" in p.message) for p in project.problems] == [
        ("warning", 12, True)
    ]


def test_missing_project_folder(tmp_path):
    project = load_project(tmp_path / "absent")
    assert "not found" in project.problems[0].message


def test_migrations_pattern_as_current_wrangler_reads_it(make_tree):
    """4.98: the pattern starts with migrations_dir and is read relative to the config's
    folder; one that does not, or one without migrations_dir, is named as a problem."""
    from d1nb.formats.config import pattern_in_dir

    assert pattern_in_dir("migrations/*/migration.sql", "migrations") == ("*/migration.sql", None)
    assert pattern_in_dir("./db\\m/**/*.sql", "db/m/") == ("**/*.sql", None)
    assert pattern_in_dir("*.sql", ".") == ("*.sql", None)
    inside, problem = pattern_in_dir("*/migration.sql", "migrations")
    assert inside == "*/migration.sql" and "does not start with migrations_dir" in problem
    root = make_tree(
        {
            "w/wrangler.toml": '[[d1_databases]]\nbinding = "DB"\n'
            'migrations_pattern = "migrations/*/up.sql"\n',
            "w/migrations/0001_a/up.sql": "SELECT 1;\n",
        }
    )
    project = load_project(root)
    assert any("without migrations_dir" in p.message for p in project.problems)


@pytest.mark.parametrize(
    ("database_id", "placeholder"),
    [
        ("REPLACE_ME", True),
        ("your-database-id", True),
        ("YOUR_DATABASE_ID", True),
        ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", True),
        ("00000000-0000-0000-0000-000000000000", True),
        ("TBD", True),
        ("0b1c2d3e-0000-4000-8000-00000000b111", False),  # a real id with zeros in it
        ("5f0c7a52-8c1e-4f53-9a43-1d2b6e7f9a01", False),
    ],
)
def test_template_placeholder_ids_in_their_usual_spellings(make_tree, database_id, placeholder):
    """Stranger's project #28's template config bound `"REPLACE_ME"` for production, which
    was not taken for a placeholder (only `__X__`, `<…>`, `local-db`, `x…`, `0…`, todo)."""
    root = make_tree(
        {
            "wrangler.example.toml": 'name = "t"\n[[d1_databases]]\nbinding = "DB"\n'
            f'database_name = "t"\ndatabase_id = "{database_id}"\n',
            "migrations/0001_init.sql": "CREATE TABLE IF NOT EXISTS t (a);\n",
        }
    )
    (binding,) = load_project(root).bindings
    assert binding.placeholder_id is placeholder
