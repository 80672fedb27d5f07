"""What D1 refuses to run, as the engine's authorizer and its checks before a statement runs
apply it: PRAGMAs off Cloudflare's allow-list, statements and functions that reach outside the
database or that workerd does not offer, and objects named as D1's own."""

from __future__ import annotations

import apsw

ALLOWED_PRAGMAS = frozenset(
    {
        "foreign_keys",
        "defer_foreign_keys",
        "foreign_key_list",
        "foreign_key_check",
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "quick_check",
        "optimize",
        "case_sensitive_like",
        "ignore_check_constraints",
        "recursive_triggers",
        "reverse_unordered_selects",
        "legacy_alter_table",
        "data_version",
        "page_size",
    }
)
"""PRAGMAs workerd lets a D1 statement run (each of SQLite's probed in Miniflare 5.20261117:
tests/compat/test_differential.py). It refuses user_version and application_id (read or
set), integrity_check, schema_version, page_count, freelist_count, encoding and the *_list
and compile_options listings, though Cloudflare's docs name some of them."""

REFUSED_STATEMENTS = {
    "VACUUM": "VACUUM (and VACUUM INTO a file) is not available on D1",
    "ATTACH": "ATTACH is not available on D1",
    "DETACH": "DETACH is not available on D1",
}


REFUSED_FUNCTIONS = frozenset(
    {
        # reach outside the database
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        # refused by workerd ('not authorized to use function'; Miniflare 5.20261117, every
        # function APSW's SQLite offers probed: tests/compat/test_differential.py). Its
        # allow-list goes by name: ceil, log and pow run, ceiling, log10 and power do not.
        "sqlite_version",
        "sqlite_source_id",
        "sqlite_compileoption_used",
        "sqlite_compileoption_get",
        "sqlite_log",
        "fts5",
        "fts5_get_locale",
        "fts5_insttoken",
        "fts5_locale",
        "fts5_source_id",
        "ceiling",
        "log10",
        "power",
        "json_pretty",
        "json_error_position",
        "json_array_insert",
        "jsonb_array_insert",
        "unistr",
        "unistr_quote",
        "subtype",
        "rtreenode",
        "rtreedepth",
        # not compiled into D1's SQLite ('no such function')
        "median",
        "percentile",
        "percentile_cont",
        "percentile_disc",
        "matchinfo",
        "offsets",
        "optimize",
    }
)
ALLOWED_INSTEAD = {"power": "pow", "ceiling": "ceil", "log10": "log"}
"""What D1 runs in place of a refused function: the same function under the name its
allow-list has (SQLite's log(X) is base 10)."""

REFUSED_FUNCTION_PREFIXES = ("geopoly_",)
"""Geopoly is not compiled into D1's SQLite: none of its functions exist there."""

ALLOWED_MODULES = frozenset({"fts5", "fts5vocab", "rtree", "rtree_i32"})
"""The virtual-table modules D1 lets CREATE VIRTUAL TABLE use (FTS3/4, fts4aux,
fts3tokenize, geopoly and dbstat are refused: 'not authorized')."""


def refused_function(name: str) -> bool:
    """Whether D1 refuses (or does not have) the SQL function `name`."""
    lowered = name.lower()
    return lowered in REFUSED_FUNCTIONS or lowered.startswith(REFUSED_FUNCTION_PREFIXES)


RESERVED_NOTE = "names beginning _cf_ are D1's own (it refuses to create them)"
CREATES = {
    apsw.SQLITE_CREATE_TABLE,
    apsw.SQLITE_CREATE_INDEX,
    apsw.SQLITE_CREATE_VIEW,
    apsw.SQLITE_CREATE_TRIGGER,
    apsw.SQLITE_CREATE_VTABLE,
    apsw.SQLITE_CREATE_TEMP_TABLE,
    apsw.SQLITE_CREATE_TEMP_INDEX,
    apsw.SQLITE_CREATE_TEMP_VIEW,
    apsw.SQLITE_CREATE_TEMP_TRIGGER,
}


def reserved(name: str) -> bool:
    """D1 (workerd) refuses objects named `_cf_…`, any case (checked in Miniflare)."""
    return name.lower().startswith("_cf_")
