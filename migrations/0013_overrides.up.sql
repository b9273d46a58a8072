-- 0013: what a user may override with `appstore edit` besides name,
-- description, homepage, branch and Dockerfile: the build context (given to
-- ingestion, as requested_dockerfile is), the app's port and its resource
-- profile (read at launch over what ingestion found). Each override is
-- named in manual_fields; `appstore edit --reset` clears it, and ingestion
-- then decides again.
ALTER TABLE repositories
    ADD COLUMN requested_context text NOT NULL DEFAULT '',
    ADD COLUMN requested_port integer CHECK (requested_port BETWEEN 1 AND 65535),
    ADD COLUMN requested_profile text NOT NULL DEFAULT '';
