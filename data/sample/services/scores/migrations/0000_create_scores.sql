CREATE TABLE scores (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  composer TEXT,
  instrument TEXT,
  difficulty INTEGER CHECK (difficulty BETWEEN 1 AND 10),
  created_at TEXT NOT NULL
);
