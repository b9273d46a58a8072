-- 0018: screenshots of the apps' pages for their cards, taken by the
-- runner's headless browser when a launch of a new build first answers
-- (daemon/thumbnail). One per repository: the newest capture, of the
-- build it shows. A capture of a newer build replaces it, and it goes
-- with its repository and with its build.
CREATE TABLE thumbnails (
    repository_id bigint      PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    build_id      bigint      REFERENCES builds (id) ON DELETE CASCADE,
    launch_id     bigint,
    content_type  text        NOT NULL,
    image         bytea       NOT NULL,   -- the card's size (320×200)
    image_2x      bytea       NOT NULL,   -- twice that, for dense screens
    width         integer     NOT NULL,
    height        integer     NOT NULL,
    etag          text        NOT NULL,   -- a hash of both images
    captured_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX thumbnails_build_idx ON thumbnails (build_id);
