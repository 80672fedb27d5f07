-- Migration number: 0003 	 2025-01-20T08:45:00.000Z
-- Written on Windows: this file has CRLF line endings.
CREATE TABLE IF NOT EXISTS repertoire (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  piece TEXT NOT NULL,
  composer TEXT,
  status TEXT NOT NULL DEFAULT 'learning' CHECK (status IN ('learning', 'polished', 'dropped')),
  notes TEXT
);
