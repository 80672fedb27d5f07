-- Migration number: 0002 	 2025-01-13T10:02:11.000Z
-- Client data synced from the apps, one JSON document per entity.
CREATE TABLE IF NOT EXISTS sync_data (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT (json_object()),
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_sync_data_entity
  ON sync_data(user_id, entity_type, entity_id);
