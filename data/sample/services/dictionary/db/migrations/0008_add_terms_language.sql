ALTER TABLE terms ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
CREATE INDEX IF NOT EXISTS idx_terms_language ON terms(language);
