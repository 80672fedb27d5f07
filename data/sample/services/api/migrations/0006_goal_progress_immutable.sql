-- Migration number: 0006 	 2025-02-10T14:20:00.000Z
-- Progress entries are an audit trail: the time they were logged never changes.
CREATE TRIGGER IF NOT EXISTS goal_progress_logged_at_immutable
BEFORE UPDATE OF logged_at ON goal_progress
FOR EACH ROW
WHEN NEW.logged_at IS NOT OLD.logged_at
BEGIN
  SELECT RAISE(ABORT, 'goal_progress.logged_at is immutable; log a new entry instead');
END;
