-- 0001: the whole data model of the design. Later migrations only add to it.

CREATE TABLE repositories (
    id                  bigserial PRIMARY KEY,
    slug                text        NOT NULL UNIQUE,
    name                text        NOT NULL,
    -- git_url is the clone URL as registered (cleaned); git_url_key is its
    -- normalised form (host/owner/name, lower-case, no scheme, no .git) so
    -- https://github.com/a/b, https://github.com/a/b.git and
    -- git@github.com:a/b.git are one repository.
    git_url             text        NOT NULL,
    git_url_key         text        NOT NULL UNIQUE,
    branch              text        NOT NULL DEFAULT '',   -- declared by the user; '' = remote HEAD
    default_branch      text        NOT NULL DEFAULT '',   -- what the remote HEAD pointed at
    description         text        NOT NULL DEFAULT '',
    homepage            text        NOT NULL DEFAULT '',
    owner               text        NOT NULL DEFAULT '',
    -- fields the user set explicitly; ingestion never overwrites them.
    manual_fields       text[]      NOT NULL DEFAULT '{}',
    requested_dockerfile text       NOT NULL DEFAULT '',   -- from the API; '' = discover
    dockerfile_path     text        NOT NULL DEFAULT '',   -- what ingestion found and builds use
    context_path        text        NOT NULL DEFAULT '',
    app_port            integer,
    port_source         text        NOT NULL DEFAULT '',   -- tags.yaml, readme, expose
    readme              text        NOT NULL DEFAULT '',
    metadata            jsonb       NOT NULL DEFAULT '{}', -- extra facts from ingestion (user, healthcheck, resources)
    ingest_status       text        NOT NULL DEFAULT 'queued'
                        CHECK (ingest_status IN ('queued', 'processing', 'ready', 'failed')),
    ingest_error        text        NOT NULL DEFAULT '',
    ingest_attempts     integer     NOT NULL DEFAULT 0,
    ingest_lease_until  timestamptz,                       -- reconciler: a processing job past this is put back
    last_ingested_at    timestamptz,
    last_commit_sha     text        NOT NULL DEFAULT '',
    launch_count        bigint      NOT NULL DEFAULT 0,
    -- denormalised lower-case "key:value" of every tag (all sources), kept by the
    -- store in the same transaction as repository_tags; GIN-indexed for search.
    tags                text[]      NOT NULL DEFAULT '{}',
    search              tsvector GENERATED ALWAYS AS (
                            setweight(to_tsvector('simple', coalesce(name, '')), 'A') ||
                            setweight(to_tsvector('simple', coalesce(description, '')), 'B') ||
                            setweight(to_tsvector('simple', left(coalesce(readme, ''), 200000)), 'C')
                        ) STORED,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repositories_tags_gin ON repositories USING gin (tags);
CREATE INDEX repositories_search_gin ON repositories USING gin (search);
CREATE INDEX repositories_status_idx ON repositories (ingest_status);
CREATE INDEX repositories_created_idx ON repositories (created_at DESC, id DESC);

CREATE TABLE tags (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL,
    value       text NOT NULL,
    description text NOT NULL DEFAULT '',
    UNIQUE (key, value)
);
CREATE INDEX tags_value_idx ON tags (value text_pattern_ops);

CREATE TABLE repository_tags (
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    tag_id        bigint      NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    source        text        NOT NULL CHECK (source IN ('author', 'manual', 'auto')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, tag_id, source)
);
CREATE INDEX repository_tags_tag_idx ON repository_tags (tag_id);

CREATE TABLE ingestion_events (
    id            bigserial PRIMARY KEY,
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    status        text        NOT NULL,
    message       text        NOT NULL DEFAULT '',
    attempt       integer     NOT NULL DEFAULT 0,
    commit_sha    text        NOT NULL DEFAULT '',
    duration_ms   bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_events_repo_idx ON ingestion_events (repository_id, id);

CREATE TABLE builds (
    id             bigserial PRIMARY KEY,
    repository_id  bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    commit_sha     text        NOT NULL DEFAULT '',
    status         text        NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    dockerfile_path text       NOT NULL DEFAULT '',
    context_path   text        NOT NULL DEFAULT '',
    no_cache       boolean     NOT NULL DEFAULT false,
    cached         boolean     NOT NULL DEFAULT false,
    cache_key      text        NOT NULL DEFAULT '',
    image_tag      text        NOT NULL DEFAULT '',
    image_id       text        NOT NULL DEFAULT '',
    error_message  text        NOT NULL DEFAULT '',
    cancel_requested boolean   NOT NULL DEFAULT false,
    attempts       integer     NOT NULL DEFAULT 0,
    lease_until    timestamptz,
    worker         text        NOT NULL DEFAULT '',
    log_bytes      bigint      NOT NULL DEFAULT 0,
    log_truncated  boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    duration_ms    bigint
);
CREATE INDEX builds_repo_idx ON builds (repository_id, id DESC);
CREATE INDEX builds_status_idx ON builds (status) WHERE status IN ('queued', 'running');
CREATE INDEX builds_cache_idx ON builds (cache_key) WHERE status = 'succeeded';

-- Build output, one row per line, capped per build (builds.log_bytes/log_truncated).
CREATE TABLE build_logs (
    id         bigserial PRIMARY KEY,
    build_id   bigint      NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    line       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX build_logs_build_idx ON build_logs (build_id, id);

CREATE TABLE launches (
    id               bigserial PRIMARY KEY,
    repository_id    bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    build_id         bigint      REFERENCES builds (id) ON DELETE SET NULL,
    container_id     text        NOT NULL DEFAULT '',
    container_name   text        NOT NULL DEFAULT '',
    host_port        integer,
    app_port         integer,
    instance_url     text        NOT NULL DEFAULT '',
    status           text        NOT NULL DEFAULT 'starting'
                     CHECK (status IN ('starting', 'running', 'stopping', 'stopped', 'failed', 'expired')),
    resource_profile text        NOT NULL DEFAULT 'small',
    warm             boolean     NOT NULL DEFAULT false,   -- a warm-pool container not yet attached
    runner           text        NOT NULL DEFAULT '',      -- the runner (host) that owns the container
    error_message    text        NOT NULL DEFAULT '',
    exit_code        integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    stopped_at       timestamptz,
    expires_at       timestamptz,
    last_request_at  timestamptz
);
CREATE INDEX launches_repo_idx ON launches (repository_id, id DESC);
CREATE INDEX launches_active_idx ON launches (status) WHERE status IN ('starting', 'running', 'stopping');

CREATE TABLE services (
    id                 bigserial PRIMARY KEY,
    slug               text        NOT NULL UNIQUE,
    name               text        NOT NULL,
    kind               text        NOT NULL DEFAULT '',
    base_url           text        NOT NULL,
    health_url         text        NOT NULL DEFAULT '',
    capabilities       text[]      NOT NULL DEFAULT '{}',
    metadata           jsonb       NOT NULL DEFAULT '{}',
    health_interval_ms bigint,                             -- per-service override of --health-interval
    status             text        NOT NULL DEFAULT 'unknown'
                       CHECK (status IN ('unknown', 'healthy', 'unhealthy')),
    last_checked_at    timestamptz,
    last_error         text        NOT NULL DEFAULT '',
    last_latency_ms    double precision,
    consecutive_failures integer   NOT NULL DEFAULT 0,
    source             text        NOT NULL DEFAULT 'api' CHECK (source IN ('manifest', 'api')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The durable event log. Rows are written in the same transaction as the change
-- they describe, under a transaction-scoped advisory lock so that ids become
-- visible in id order (no gap at a reader's "id > last" seam).
CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    type       text        NOT NULL,
    subject    text        NOT NULL DEFAULT '',
    data       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_subject_idx ON events (subject, id);

CREATE FUNCTION appstore_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('appstore_events', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION appstore_notify_event();
