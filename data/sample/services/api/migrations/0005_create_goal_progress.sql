-- Migration number: 0005 	 2025-02-03T09:00:00.000Z
-- One row per practice session logged against a goal.
CREATE TABLE IF NOT EXISTS goal_progress (
  id INTEGER PRIMARY KEY,
  goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
  minutes INTEGER NOT NULL,
  note TEXT,
  logged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_goal_progress_goal ON goal_progress(goal_id);
