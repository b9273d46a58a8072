-- 0009: the cleanup job deletes ingestion timeline steps older than
-- --timeline-retention (PruneIngestionTimeline). Without an index on
-- created_at each hourly run read the whole table; with it, only the old
-- steps, which are few once the first run has pruned them.
CREATE INDEX ingestion_events_created_idx ON ingestion_events (created_at);
