ALTER TABLE scores ADD COLUMN normalized_id TEXT;
CREATE INDEX IF NOT EXISTS idx_scores_normalized_id ON scores(normalized_id);
