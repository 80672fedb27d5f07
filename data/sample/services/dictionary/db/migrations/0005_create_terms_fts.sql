-- Full-text search over terms, kept in sync by triggers. Note: virtual tables make
-- `wrangler d1 export` fail, so this database is exported with --table.
CREATE VIRTUAL TABLE IF NOT EXISTS terms_fts USING fts5(term, definition, content='terms', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS terms_ai AFTER INSERT ON terms BEGIN
  INSERT INTO terms_fts(rowid, term, definition) VALUES (new.id, new.term, new.definition);
END;
CREATE TRIGGER IF NOT EXISTS terms_ad AFTER DELETE ON terms BEGIN
  INSERT INTO terms_fts(terms_fts, rowid, term, definition)
    VALUES ('delete', old.id, old.term, old.definition);
END;
CREATE TRIGGER IF NOT EXISTS terms_au AFTER UPDATE ON terms BEGIN
  INSERT INTO terms_fts(terms_fts, rowid, term, definition)
    VALUES ('delete', old.id, old.term, old.definition);
  INSERT INTO terms_fts(rowid, term, definition) VALUES (new.id, new.term, new.definition);
END;
