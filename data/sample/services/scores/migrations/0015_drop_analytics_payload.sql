-- Payloads moved to the analytics pipeline.
ALTER TABLE analytics_events DROP COLUMN payload;
