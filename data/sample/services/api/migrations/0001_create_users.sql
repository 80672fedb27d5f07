-- Migration number: 0001 	 2025-01-06T09:12:44.000Z
-- Users of the practice app. Ids are opaque strings from the auth provider.
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  display_name TEXT,
  avatar_thumb BLOB,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
