CREATE INDEX idx_scores_user ON scores(user_id);
CREATE INDEX idx_scores_composer ON scores(composer);
