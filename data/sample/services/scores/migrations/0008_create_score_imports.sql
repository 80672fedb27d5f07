-- Two branches both took number 0008; wrangler orders them by name.
CREATE TABLE IF NOT EXISTS score_imports (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  external_id TEXT NOT NULL,
  score_id INTEGER REFERENCES scores(id) ON DELETE CASCADE,
  imported_at TEXT NOT NULL,
  UNIQUE (source, external_id)
);
