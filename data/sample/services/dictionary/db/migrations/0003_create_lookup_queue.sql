CREATE TABLE IF NOT EXISTS lookup_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  term TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'processing', 'done', 'failed')),
  legacy_source TEXT,
  enqueued_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_lookup_queue_status ON lookup_queue(status)
  WHERE status IN ('queued', 'processing');
