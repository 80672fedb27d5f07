CREATE TABLE collection_scores (
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  score_id INTEGER NOT NULL REFERENCES scores(id) ON DELETE CASCADE,
  position INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (collection_id, score_id)
);
