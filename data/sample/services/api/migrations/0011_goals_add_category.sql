-- Migration number: 0011 	 2025-03-17T09:00:00.000Z
-- Add a category and allow 'paused' goals. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt. Foreign keys are switched off around the rebuild.
PRAGMA foreign_keys=OFF;
CREATE TABLE goals_new (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'done')),
  category TEXT NOT NULL DEFAULT 'general',
  target_minutes INTEGER,
  priority INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
INSERT INTO goals_new (id, user_id, title, status, target_minutes, priority, created_at)
  SELECT id, user_id, title, status, target_minutes, priority, created_at FROM goals;
DROP TABLE goals;
ALTER TABLE goals_new RENAME TO goals;
CREATE INDEX IF NOT EXISTS idx_goals_user ON goals(user_id);
PRAGMA foreign_keys=ON;
