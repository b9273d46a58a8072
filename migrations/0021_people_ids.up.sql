-- 0021: who did what, by user id where a name could be taken again, and
-- the actor of each ingestion step.

-- 1. A comment's author is the users row that wrote it. author keeps the
-- name for display; author_id becomes NULL when the account is removed
-- ("removed user"), so that a new account given the same name does not
-- inherit the comment (nor the right to delete it). Existing comments are
-- matched by name to the account that existed when they were written.
ALTER TABLE comments ADD COLUMN author_id bigint REFERENCES users (id) ON DELETE SET NULL;
UPDATE comments c SET author_id = u.id FROM users u WHERE u.name = c.author AND u.created_at <= c.created_at;
CREATE INDEX comments_author_idx ON comments (author_id) WHERE author_id IS NOT NULL;

-- 2. Who started a launch: a viewer may stop the launches it started.
-- NULL for launches the daemon started (warm pool, a wake by a preview
-- request, a redeploy), for those started before this column, and once
-- the account is removed.
ALTER TABLE launches ADD COLUMN launched_by bigint REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX launches_launched_by_idx ON launches (launched_by) WHERE launched_by IS NOT NULL;

-- 3. The actor of each ingestion step, as events.actor: the user whose
-- request queued it, or "appstored:<cause>" for the daemon's own work.
ALTER TABLE ingestion_events ADD COLUMN actor text NOT NULL DEFAULT '';
