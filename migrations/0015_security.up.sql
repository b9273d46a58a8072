-- 0015: webhook deliveries already received (a replayed delivery is ignored for
-- a day), and the index that pruning builds and launches needs.

-- One row per delivery key: "<provider>:id:<delivery id>" and
-- "<provider>:body:<sha256 of the body>". Kept in the database, not in a
-- process, so that every API process agrees; rows older than the replay
-- window are pruned by the cleanup job.
CREATE TABLE webhook_deliveries (
    key         text        PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);

-- "Is this build used by a launch?" for build pruning, and the ON DELETE SET
-- NULL of launches.build_id when a build goes.
CREATE INDEX launches_build_idx ON launches (build_id) WHERE build_id IS NOT NULL;
