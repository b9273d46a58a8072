-- 0002: periodic sync bookkeeping. last_synced_at is when the sync last
-- compared the remote head with the ingested commit; the scheduler claims due
-- repositories by setting it (FOR UPDATE SKIP LOCKED), so several worker
-- processes split the work and a restart does not make every repository due
-- at once. NULL means "never": the last ingestion counts instead.
ALTER TABLE repositories ADD COLUMN last_synced_at timestamptz;
