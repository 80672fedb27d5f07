CREATE VIEW IF NOT EXISTS scores_by_composer AS
  SELECT composer, count(*) AS scores FROM scores GROUP BY composer;
