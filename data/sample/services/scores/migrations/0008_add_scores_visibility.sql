ALTER TABLE scores ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
