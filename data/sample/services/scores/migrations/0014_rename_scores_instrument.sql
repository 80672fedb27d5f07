ALTER TABLE scores RENAME COLUMN instrument TO instrumentation;
