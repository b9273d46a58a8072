-- How far the event log has been pruned. Pruning deletes a prefix of the log
-- (every id up to a bound, in batches) and raises `through` in the same
-- transaction, so a subscriber that resumes from an id below `through` is told
-- that it missed events (a stream.truncated message) instead of silently
-- skipping them; ids that were never committed (rolled back) are no loss.
CREATE TABLE events_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    through   bigint  NOT NULL DEFAULT 0
);
INSERT INTO events_pruned DEFAULT VALUES;
