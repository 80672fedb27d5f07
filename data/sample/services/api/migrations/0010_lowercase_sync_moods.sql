-- Migration number: 0010 	 2025-03-10T09:00:00.000Z
-- Moods were stored as display names ('Happy'); the apps now expect lower case.
UPDATE sync_data
SET data = json_set(data, '$.mood', lower(json_extract(data, '$.mood')))
WHERE entity_type = 'logbook_entry';
