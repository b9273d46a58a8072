-- 0019: usage analytics and ranking.

-- 1. Usage per app and day (UTC): launches, preview requests, unique
-- visitors and the minutes in which the app served a preview request (a
-- bit per minute of the day, so that processes counting the same minute
-- count it once: active minutes are the bits set). Rows older than
-- --stats-retention are pruned by the cleanup job.
CREATE TABLE usage_days (
    repository_id    bigint     NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    day              date       NOT NULL,
    launches         bigint     NOT NULL DEFAULT 0,
    preview_requests bigint     NOT NULL DEFAULT 0,
    visitors         bigint     NOT NULL DEFAULT 0,
    minutes          bit(1440)  NOT NULL DEFAULT repeat('0', 1440)::bit(1440),
    PRIMARY KEY (repository_id, day)
);
CREATE INDEX usage_days_day_idx ON usage_days (day);

-- 2. Unique visitors. A visitor is a keyed hash (HMAC-SHA-256) of the
-- client's address and user agent under the day's key: no address is
-- stored, and a hash means nothing on another day. Hashes and keys live
-- until the day after theirs (late batches still count once), then the
-- cleanup job deletes them and only the day's count remains.
CREATE TABLE usage_keys (
    day date  PRIMARY KEY,
    key bytea NOT NULL
);
CREATE TABLE usage_visitors (
    repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    day           date   NOT NULL,
    visitor       bytea  NOT NULL,
    PRIMARY KEY (repository_id, day, visitor)
);
CREATE INDEX usage_visitors_day_idx ON usage_visitors (day);

-- 3. Ranking. trend is log2 of the decayed sum of launches, visitors and
-- stars (store.trendSQL); every contribution halves each half-life, all at
-- the same rate, so the order it gives stays true without recomputing it
-- as time passes: only a repository whose history changes is rewritten.
-- '-Infinity' is no activity at all; apps with equal scores (no recent
-- use) go by launches of all time. Each sort reads its index backwards
-- with the id as the last tiebreak, as repositories_popular_idx does for
-- launches; sort:new uses repositories_created_idx.
ALTER TABLE repositories
    ADD COLUMN star_count bigint           NOT NULL DEFAULT 0,
    ADD COLUMN trend      double precision NOT NULL DEFAULT '-Infinity';
CREATE INDEX repositories_trend_idx ON repositories (trend, launch_count, id);
CREATE INDEX repositories_stars_idx ON repositories (star_count, id);

-- 4. Stars: one per user and app. star_count follows them in the same
-- statement (a trigger, so that a user's removal, which cascades here,
-- counts too).
CREATE TABLE stars (
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, user_id)
);
-- is:starred: the user's stars, then the repositories.
CREATE INDEX stars_user_idx ON stars (user_id, repository_id);

CREATE FUNCTION appstore_count_stars() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE repositories SET star_count = star_count + 1 WHERE id = NEW.repository_id;
    ELSE
        UPDATE repositories SET star_count = star_count - 1 WHERE id = OLD.repository_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stars_count AFTER INSERT OR DELETE ON stars
    FOR EACH ROW EXECUTE FUNCTION appstore_count_stars();

-- 5. Comments: plain text (catalog.CleanComment), by the user's name, which
-- outlives the account as owned_by does.
CREATE TABLE comments (
    id            bigserial   PRIMARY KEY,
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    author        text        NOT NULL,
    body          text        NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_repository_idx ON comments (repository_id, id);
