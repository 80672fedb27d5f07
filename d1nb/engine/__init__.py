"""The engine: SQL run the way D1 runs it (APSW with D1's limits and semantics, Miniflare for
exact counters), scratch folders, and schema evolution from an empty database."""
