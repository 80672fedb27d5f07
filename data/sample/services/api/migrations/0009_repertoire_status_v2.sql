-- Migration number: 0009 	 2025-03-03T09:00:00.000Z
-- 'polished' becomes 'performing' and 'dropped' becomes 'archived'. SQLite cannot alter a
-- CHECK constraint, so the new enum lives in a new column; the app reads status_v2 now.
ALTER TABLE repertoire ADD COLUMN status_v2 TEXT
  CHECK (status_v2 IN ('learning', 'performing', 'archived'));
UPDATE repertoire SET status_v2 = CASE status
  WHEN 'polished' THEN 'performing'
  WHEN 'dropped' THEN 'archived'
  ELSE 'learning'
END;
