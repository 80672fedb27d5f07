"""Cloudflare D1 limits, prices and wrangler defaults, each with its source.

Every figure d1nb uses about D1 lives here and nowhere else, so that a change in Cloudflare's
published limits is a one-line edit.
"""

from __future__ import annotations

# -- Limits: Cloudflare docs, "D1 > Platform > Limits" ------------------------------------------
MAX_DATABASE_BYTES = 10 * 1000**3
"""Largest database on the paid plan (10 GB); cannot be raised."""
MAX_DATABASE_BYTES_FREE = 500 * 1000**2
MAX_STATEMENT_BYTES = 100_000
"""Largest single SQL statement, also each statement inside a batch."""
MAX_BOUND_PARAMETERS = 100
"""Bound parameters per query ("too many SQL variables" beyond)."""
MAX_VALUE_BYTES = 2_000_000
"""Largest string, BLOB or row."""
MAX_COLUMNS = 100
"""Columns per table."""
# workerd's own SQLite limits, not in the docs: each measured in Miniflare 5.20261117 at the
# boundary (docs/compat.md), and each makes a statement SQLite itself would run fail on D1
MAX_COMPOUND_SELECT_TERMS = 5
"""SELECTs joined by UNION / UNION ALL / … ("too many terms in compound SELECT" from 6)."""
MAX_LIKE_PATTERN_BYTES = 50
"""Longest LIKE or GLOB pattern ("LIKE or GLOB pattern too complex" from 51)."""
MAX_EXPRESSION_DEPTH = 100
"""Deepest expression tree ("Expression tree is too large (maximum depth 100)")."""
MAX_FUNCTION_ARGUMENTS = 127
"""Arguments of one function call ("too many arguments on function" from 128)."""
QUERY_TIMEOUT_S = 30.0
"""Longest query; for a batch, the whole batch."""
MAX_QUERIES_PER_INVOCATION = 1000
MAX_IMPORT_FILE_BYTES = 5 * 1000**3
"""Largest file for `wrangler d1 execute --file`."""

# -- Free plan: Cloudflare docs, "D1 > Platform > Pricing" and "Limits" (Nov 2026) ----------------
FREE_ROWS_READ_PER_DAY = 5_000_000
FREE_ROWS_WRITTEN_PER_DAY = 100_000
"""Daily allowances of the Free plan, enforced since 2026-09-01: past them, queries fail until
midnight UTC, so a backfill that needs more fails part-way."""

# -- Prices: Cloudflare docs, "D1 > Platform > Pricing" (paid plan) ------------------------------
ROWS_READ_INCLUDED_PER_MONTH = 25_000_000_000
ROWS_WRITTEN_INCLUDED_PER_MONTH = 50_000_000
USD_PER_MILLION_ROWS_READ = 0.001
USD_PER_MILLION_ROWS_WRITTEN = 1.00
USD_PER_GB_MONTH_STORAGE = 0.75

# -- Wrangler's migration defaults: cloudflare/workers-sdk, packages/wrangler/src/d1/ -------------
DEFAULT_MIGRATIONS_DIR = "migrations"
DEFAULT_MIGRATIONS_TABLE = "d1_migrations"
LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS {table}(\n"
    "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "\t\tname       TEXT UNIQUE,\n"
    "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n"
    ")"
)
"""The ledger wrangler creates (workers-sdk d1/migrations/helpers.ts)."""

VIA = ("apply", "execute-file")
"""The paths a migration file takes to D1: `wrangler d1 migrations apply` (one transaction,
PRAGMA foreign_keys=OFF ignored, a ledger row) or remote `wrangler d1 execute --file` (the
pragma takes effect, no ledger row)."""

# -- Internal tables of the local state and of D1 itself (workers-sdk miniflare dumpSql.ts) ------
INTERNAL_TABLE_PREFIXES = ("_cf_", "sqlite_")
INTERNAL_SCHEMA_ROWS = 0
"""Rows D1 keeps in sqlite_master for itself, which ALTER TABLE rewrites too. Miniflare's D1 of
workerd 1.20260426 (wrangler 4.86) kept one (`_cf_KV`); that of workerd 1.20261117 (wrangler
4.164, the pinned one) keeps none: an empty database's sqlite_schema has no row."""

# -- Guidance for large backfills: Cloudflare docs ------------------------------------------------
PEER_BATCH_SIZES = {
    "D1 limits FAQ": 1_000,
    "Rules of D1": 10_000,
}


def price_usd(rows_read: int, rows_written: int) -> float:
    """List price of the given rows beyond the monthly allowance (paid plan)."""
    return (
        rows_read / 1e6 * USD_PER_MILLION_ROWS_READ
        + rows_written / 1e6 * USD_PER_MILLION_ROWS_WRITTEN
    )
