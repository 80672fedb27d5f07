ALTER TABLE lookup_queue DROP COLUMN legacy_source;
