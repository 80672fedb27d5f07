-- One statement over the whole table: fine on staging, slow on production's size.
UPDATE scores
SET normalized_id = lower(trim(coalesce(composer, 'unknown'))) || '/' || lower(trim(title))
WHERE normalized_id IS NULL;
