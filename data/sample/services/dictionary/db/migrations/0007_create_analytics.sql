CREATE TABLE IF NOT EXISTS lookup_analytics (
  day TEXT NOT NULL,
  term TEXT NOT NULL,
  lookups INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, term)
);
