-- 0007: co-occurrence counts, so that autocomplete narrowed by one filter
-- ("lang:go fra", "lang:go framework:", "status:ready lang:") reads its
-- counts instead of visiting every repository the filter selects: at 100k
-- repositories lang:go selects 31 000 of them, spread over nearly every
-- page of the table, 100–200 ms per keystroke (docs/performance.md).
--
-- tag_pair_counts(a, key, value) is the number of repositories that are
-- selected by a — a tag "key:value", or "status:<ingest status>" — and
-- carry the facet (key, value) of tag_counts (a tag, a key with value '',
-- the ingest status ('status', s), or ('status', '') for all of them).
-- About 11 × 21 rows per repository before grouping; 1.15 million rows at
-- 100 000 repositories with ten tags each.
--
-- Kept like tag_counts (0006): statement triggers append deltas, readers
-- sum base and deltas, and one writer at a time folds them in.
CREATE TABLE tag_pair_counts (
    a     text   COLLATE "C" NOT NULL,
    key   text   COLLATE "C" NOT NULL,
    value text   COLLATE "C" NOT NULL,
    n     bigint NOT NULL,
    -- INCLUDE n: the counts of one selector are read with an index-only
    -- scan (3 000 rows for lang:python: 1.6 ms instead of 6).
    PRIMARY KEY (a, key, value) INCLUDE (n)
);
CREATE INDEX tag_pair_counts_zero_idx ON tag_pair_counts (a) WHERE n <= 0;

CREATE TABLE tag_pair_count_deltas (
    a     text   COLLATE "C" NOT NULL,
    key   text   COLLATE "C" NOT NULL,
    value text   COLLATE "C" NOT NULL,
    n     bigint NOT NULL
);
CREATE INDEX tag_pair_count_deltas_idx ON tag_pair_count_deltas (a, key, value);

CREATE SEQUENCE tag_pair_count_fold_seq;

-- The (selector, facet) pairs of one repository.
CREATE FUNCTION appstore_facet_pairs(tags text[], status text)
RETURNS TABLE (a text, key text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT s.a, f.key, f.value
    FROM (SELECT t AS a FROM unnest(tags) AS t WHERE NOT starts_with(t, 'status:')
          UNION ALL SELECT 'status:' || status) AS s,
         appstore_facets(tags, status) AS f
$$;

CREATE FUNCTION appstore_fold_tag_pair_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(7073) THEN
        RETURN;
    END IF;
    WITH moved AS (
        DELETE FROM tag_pair_count_deltas RETURNING a, key, value, n
    ), sums AS (
        SELECT a, key, value, sum(n) AS n FROM moved GROUP BY a, key, value
    )
    INSERT INTO tag_pair_counts AS c (a, key, value, n)
    SELECT a, key, value, n FROM sums WHERE n <> 0 ORDER BY a, key, value
    ON CONFLICT (a, key, value) DO UPDATE SET n = c.n + EXCLUDED.n;
    DELETE FROM tag_pair_counts WHERE n <= 0;
END;
$$;

CREATE FUNCTION appstore_maybe_fold_tag_pair_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('tag_pair_count_fold_seq') % 128 = 0 THEN
        PERFORM appstore_fold_tag_pair_counts();
    END IF;
END;
$$;

-- The triggers record signed pair counts as deltas. A bulk statement (a
-- COPY of thousands of repositories) writes tag_pair_counts directly, under
-- the fold lock: a million delta rows folded later would cost twice.
CREATE FUNCTION appstore_pair_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM new_rows) >= 1000 THEN
        PERFORM pg_advisory_xact_lock(7073);
        INSERT INTO tag_pair_counts AS c (a, key, value, n)
        SELECT p.a, p.key, p.value, count(*)
        FROM new_rows AS r, appstore_facet_pairs(r.tags, r.ingest_status) AS p
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (a, key, value) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        INSERT INTO tag_pair_count_deltas (a, key, value, n)
        SELECT p.a, p.key, p.value, count(*)
        FROM new_rows AS r, appstore_facet_pairs(r.tags, r.ingest_status) AS p
        GROUP BY 1, 2, 3;
        PERFORM appstore_maybe_fold_tag_pair_counts();
    END IF;
    RETURN NULL;
END;
$$ SET work_mem = '128MB';

CREATE FUNCTION appstore_pair_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    -- Most updates (leases, launch counts, timestamps) change no facet.
    SELECT count(*) INTO changed
    FROM new_rows AS nr JOIN old_rows AS o ON o.id = nr.id
    WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status;
    IF changed = 0 THEN
        RETURN NULL;
    END IF;
    IF changed >= 1000 THEN
        PERFORM pg_advisory_xact_lock(7073);
        INSERT INTO tag_pair_counts AS c (a, key, value, n)
        SELECT a, key, value, sum(n) FROM (
            SELECT p.a, p.key, p.value, 1 AS n
            FROM new_rows AS nr JOIN old_rows AS o ON o.id = nr.id,
                 appstore_facet_pairs(nr.tags, nr.ingest_status) AS p
            WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
            UNION ALL
            SELECT p.a, p.key, p.value, -1
            FROM old_rows AS o JOIN new_rows AS nr ON nr.id = o.id,
                 appstore_facet_pairs(o.tags, o.ingest_status) AS p
            WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
        ) d
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (a, key, value) DO UPDATE SET n = c.n + EXCLUDED.n;
        DELETE FROM tag_pair_counts WHERE n <= 0;
    ELSE
        INSERT INTO tag_pair_count_deltas (a, key, value, n)
        SELECT a, key, value, sum(n) FROM (
            SELECT p.a, p.key, p.value, 1 AS n
            FROM new_rows AS nr JOIN old_rows AS o ON o.id = nr.id,
                 appstore_facet_pairs(nr.tags, nr.ingest_status) AS p
            WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
            UNION ALL
            SELECT p.a, p.key, p.value, -1
            FROM old_rows AS o JOIN new_rows AS nr ON nr.id = o.id,
                 appstore_facet_pairs(o.tags, o.ingest_status) AS p
            WHERE nr.tags IS DISTINCT FROM o.tags OR nr.ingest_status IS DISTINCT FROM o.ingest_status
        ) d
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
        PERFORM appstore_maybe_fold_tag_pair_counts();
    END IF;
    RETURN NULL;
END;
$$ SET work_mem = '128MB';

CREATE FUNCTION appstore_pair_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM old_rows) >= 1000 THEN
        PERFORM pg_advisory_xact_lock(7073);
        INSERT INTO tag_pair_counts AS c (a, key, value, n)
        SELECT p.a, p.key, p.value, -count(*)
        FROM old_rows AS r, appstore_facet_pairs(r.tags, r.ingest_status) AS p
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (a, key, value) DO UPDATE SET n = c.n + EXCLUDED.n;
        DELETE FROM tag_pair_counts WHERE n <= 0;
    ELSE
        INSERT INTO tag_pair_count_deltas (a, key, value, n)
        SELECT p.a, p.key, p.value, -count(*)
        FROM old_rows AS r, appstore_facet_pairs(r.tags, r.ingest_status) AS p
        GROUP BY 1, 2, 3;
        PERFORM appstore_maybe_fold_tag_pair_counts();
    END IF;
    RETURN NULL;
END;
$$ SET work_mem = '128MB';

CREATE FUNCTION appstore_pair_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_pair_count_deltas;
    DELETE FROM tag_pair_counts;
    RETURN NULL;
END;
$$;

CREATE TRIGGER repositories_pair_counts_insert AFTER INSERT ON repositories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_pair_counts_insert();
CREATE TRIGGER repositories_pair_counts_update AFTER UPDATE ON repositories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_pair_counts_update();
CREATE TRIGGER repositories_pair_counts_delete AFTER DELETE ON repositories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_pair_counts_delete();
CREATE TRIGGER repositories_pair_counts_truncate AFTER TRUNCATE ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_pair_counts_truncate();

INSERT INTO tag_pair_counts (a, key, value, n)
SELECT p.a, p.key, p.value, count(*)
FROM repositories AS r, appstore_facet_pairs(r.tags, r.ingest_status) AS p
GROUP BY 1, 2, 3;
