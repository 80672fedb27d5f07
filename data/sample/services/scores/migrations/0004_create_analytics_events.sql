CREATE TABLE IF NOT EXISTS analytics_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  score_id INTEGER REFERENCES scores(id) ON DELETE SET NULL,
  event TEXT NOT NULL,
  payload TEXT DEFAULT (json_object()),
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_analytics_events_created ON analytics_events(created_at);
