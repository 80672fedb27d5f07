-- Undo 0011: drop the new column again.
ALTER TABLE goals DROP COLUMN category;
