-- 0006: search and autocomplete at 100 000 repositories. The figures behind
-- each choice are in docs/performance.md.

-- 1. A narrow heap. Counting and ranking visit one heap tuple per matching
-- repository; with README and the full-text vector inline a tuple was about
-- 1.1 kB (one page per visit). Both now always live out of line (EXTERNAL:
-- moved, not compressed, so reading the vector is a plain fetch), and the
-- toaster starts at 1 kB instead of 2 kB, so tuples stay around 0.5 kB.
-- Tags are read on every count: MAIN keeps them inline and uncompressed.
-- The ADD COLUMN below rewrites the table, so existing rows get this layout.
ALTER TABLE repositories ALTER COLUMN readme SET STORAGE EXTERNAL;
ALTER TABLE repositories ALTER COLUMN search SET STORAGE EXTERNAL;
ALTER TABLE repositories ALTER COLUMN tags SET STORAGE MAIN;
ALTER TABLE repositories SET (toast_tuple_target = 1024);

-- 2. Relevance tiers. ts_rank needs the whole vector of every match (about
-- 9 µs each at 100k, 165 ms for a word in 15 % of the catalog), so text
-- relevance is the field that holds every word instead: the name (tier 3),
-- name or description (tier 2), anywhere including the README (tier 1).
-- Within a tier the order is launches then recency, which an index gives in
-- order, so a page of a common word stops after a few dozen rows. These
-- vectors are small and inline.
ALTER TABLE repositories
    ADD COLUMN search_name tsvector GENERATED ALWAYS AS (to_tsvector('simple', name)) STORED,
    ADD COLUMN search_head tsvector GENERATED ALWAYS AS (to_tsvector('simple', name || ' ' || description)) STORED;
CREATE INDEX repositories_search_name_gin ON repositories USING gin (search_name);
CREATE INDEX repositories_search_head_gin ON repositories USING gin (search_head);
-- Launches then recency: read backwards for "launch_count DESC, id DESC",
-- and a row comparison (launch_count, id) < (…) continues after a cursor.
CREATE INDEX repositories_popular_idx ON repositories (launch_count, id);

-- 3. Facet counts for autocomplete and totals. A facet is a tag
-- (key, value), a key ((key, '') counts repositories with any value of it),
-- or the ingest status (('status', 'ready'), and ('status', '') counting
-- every repository). Tags whose key is "status" are left out: the search
-- reads status: as the ingest status.
--
-- Writers never update a shared counter row (a lock on ('lang', 'go') held
-- to the end of every ingestion transaction would serialise them and could
-- deadlock two of them): statement triggers on repositories append signed
-- deltas, and readers sum tag_counts with tag_count_deltas. Every few
-- hundred writes one writer folds the deltas into tag_counts; an advisory
-- lock taken with try keeps that to one at a time and never waits.
CREATE TABLE tag_counts (
    key   text   COLLATE "C" NOT NULL,
    value text   COLLATE "C" NOT NULL,  -- '' for the key itself
    n     bigint NOT NULL,
    PRIMARY KEY (key, value)
);
-- "pairs whose value starts with …" across keys.
CREATE INDEX tag_counts_value_idx ON tag_counts (value) WHERE value <> '';
-- Folding leaves zero rows to delete; this finds them without a scan.
CREATE INDEX tag_counts_zero_idx ON tag_counts (key) WHERE n <= 0;

CREATE TABLE tag_count_deltas (
    key   text   COLLATE "C" NOT NULL,
    value text   COLLATE "C" NOT NULL,
    n     bigint NOT NULL
);
CREATE INDEX tag_count_deltas_idx ON tag_count_deltas (key, value);

CREATE SEQUENCE tag_count_fold_seq;

-- The facets of one repository.
CREATE FUNCTION appstore_facets(tags text[], status text)
RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT split_part(t, ':', 1), substr(t, strpos(t, ':') + 1)
    FROM unnest(tags) AS t WHERE NOT starts_with(t, 'status:')
    UNION
    SELECT split_part(t, ':', 1), ''
    FROM unnest(tags) AS t WHERE NOT starts_with(t, 'status:')
    UNION ALL SELECT 'status', status
    UNION ALL SELECT 'status', ''
$$;

-- appstore_fold_tag_counts moves the deltas into tag_counts. Readers see
-- the same sums before and after (one statement, one snapshot).
CREATE FUNCTION appstore_fold_tag_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7072) THEN
        RETURN; -- another transaction is folding
    END IF;
    WITH moved AS (
        DELETE FROM tag_count_deltas RETURNING key, value, n
    ), sums AS (
        SELECT key, value, sum(n) AS n FROM moved GROUP BY key, value
    )
    INSERT INTO tag_counts AS c (key, value, n)
    SELECT key, value, n FROM sums ORDER BY key, value
    ON CONFLICT (key, value) DO UPDATE SET n = c.n + EXCLUDED.n;
    DELETE FROM tag_counts WHERE n <= 0;
END;
$$;

CREATE FUNCTION appstore_tag_counts_maybe_fold() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('tag_count_fold_seq') % 256 = 0 THEN
        PERFORM appstore_fold_tag_counts();
    END IF;
END;
$$;

CREATE FUNCTION appstore_tag_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tag_count_deltas (key, value, n)
    SELECT f.key, f.value, count(*)
    FROM new_rows AS r, appstore_facets(r.tags, r.ingest_status) AS f
    GROUP BY f.key, f.value;
    PERFORM appstore_tag_counts_maybe_fold();
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose tags or status changed; most updates (leases,
    -- launch counts, timestamps) add nothing.
    INSERT INTO tag_count_deltas (key, value, n)
    SELECT key, value, sum(n) FROM (
        SELECT f.key, f.value, 1 AS n
        FROM new_rows AS nr JOIN old_rows AS o ON o.id = nr.id,
             appstore_facets(nr.tags, nr.ingest_status) AS f
        WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
        UNION ALL
        SELECT f.key, f.value, -1
        FROM old_rows AS o JOIN new_rows AS nr ON nr.id = o.id,
             appstore_facets(o.tags, o.ingest_status) AS f
        WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
    ) d
    GROUP BY key, value HAVING sum(n) <> 0;
    PERFORM appstore_tag_counts_maybe_fold();
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tag_count_deltas (key, value, n)
    SELECT f.key, f.value, -count(*)
    FROM old_rows AS r, appstore_facets(r.tags, r.ingest_status) AS f
    GROUP BY f.key, f.value;
    PERFORM appstore_tag_counts_maybe_fold();
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_count_deltas;
    DELETE FROM tag_counts;
    RETURN NULL;
END;
$$;

CREATE TRIGGER repositories_tag_counts_insert AFTER INSERT ON repositories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_counts_insert();
CREATE TRIGGER repositories_tag_counts_update AFTER UPDATE ON repositories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_counts_update();
CREATE TRIGGER repositories_tag_counts_delete AFTER DELETE ON repositories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_counts_delete();
CREATE TRIGGER repositories_tag_counts_truncate AFTER TRUNCATE ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_counts_truncate();

-- The repositories registered before this migration.
INSERT INTO tag_counts (key, value, n)
SELECT f.key, f.value, count(*)
FROM repositories AS r, appstore_facets(r.tags, r.ingest_status) AS f
GROUP BY f.key, f.value;
