-- Migration number: 0007 	 2025-02-17T10:00:00.000Z
ALTER TABLE sync_data ADD COLUMN deleted_at TEXT;
CREATE INDEX IF NOT EXISTS idx_sync_data_live ON sync_data(user_id) WHERE deleted_at IS NULL;
