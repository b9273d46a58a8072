-- 0020: tag filters in the order of every sort (docs/performance.md, "Sort
-- orders").
--
-- A sorted search narrowed by tags ("lang:python framework:flask
-- sort:trending") read repositories' order index backwards and tested every
-- row against the filters: at 100 000 repositories that pair matches 961,
-- one row in a hundred, so a page of 20 visited about 2 900 rows (10 ms).
-- Ranking every match instead visits all 961. tag_sort_keys holds, for each
-- tag of each repository, the repository's sort keys, with an index per
-- order: the search reads both tags in the page's order and merges them on
-- the keys and the id (137 + 540 index entries, 13 pages, for that page),
-- or walks one tag and tests each repository against the rest.
--
-- The keys are copies of the repository's columns, written in the
-- statement that changes them (the triggers below), so a search sees them
-- as it sees the repository. Tags with the key "status" are left out, as in
-- tag_counts (0006): the search reads status: as the ingest status.
CREATE TABLE tag_sort_keys (
    tag           text             COLLATE "C" NOT NULL,
    repository_id bigint           NOT NULL,
    trend         double precision NOT NULL,
    launch_count  bigint           NOT NULL,
    star_count    bigint           NOT NULL,
    created_at    timestamptz      NOT NULL
);

-- The repositories registered before this migration (before the indexes:
-- built at once, they are denser than grown row by row).
INSERT INTO tag_sort_keys (tag, repository_id, trend, launch_count, star_count, created_at)
SELECT DISTINCT t, r.id, r.trend, r.launch_count, r.star_count, r.created_at
FROM repositories AS r, unnest(r.tags) AS t
WHERE NOT starts_with(t, 'status:');

-- One per order of catalog/store's orders, read backwards as the indexes
-- of repositories are: trending (and the empty query), launches (and the
-- default order without words), stars, new. At 100 000 repositories with
-- ten tags each, about 60 MB apiece.
CREATE INDEX tag_sort_keys_trend_idx ON tag_sort_keys (tag, trend, launch_count, repository_id);
CREATE INDEX tag_sort_keys_launches_idx ON tag_sort_keys (tag, launch_count, repository_id);
CREATE INDEX tag_sort_keys_stars_idx ON tag_sort_keys (tag, star_count, repository_id);
CREATE INDEX tag_sort_keys_created_idx ON tag_sort_keys (tag, created_at, repository_id);
-- The triggers find a repository's rows by this one.
CREATE INDEX tag_sort_keys_repository_idx ON tag_sort_keys (repository_id);

-- Inserts and deletes by statement (a seed COPYs 100 000 repositories in
-- one); updates by row, and only those that change a tag or a key: most
-- updates (leases, timestamps, ingest status) then cost nothing.
-- A bulk insert goes in tag order: each index then takes its entries a tag
-- at a time, on a few leaf pages, instead of all over (100 000 seeded
-- repositories: 1 min 53 s instead of 3 min 50 s on a loaded machine; 19 s
-- without indexes).
CREATE FUNCTION appstore_tag_sort_keys_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tag_sort_keys (tag, repository_id, trend, launch_count, star_count, created_at)
    SELECT DISTINCT t, r.id, r.trend, r.launch_count, r.star_count, r.created_at
    FROM new_rows AS r, unnest(r.tags) AS t
    WHERE NOT starts_with(t, 'status:')
    ORDER BY t, r.trend, r.launch_count, r.id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_sort_keys_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_sort_keys WHERE repository_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_sort_keys_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tags IS DISTINCT FROM OLD.tags OR NEW.id <> OLD.id THEN
        DELETE FROM tag_sort_keys WHERE repository_id = OLD.id;
        INSERT INTO tag_sort_keys (tag, repository_id, trend, launch_count, star_count, created_at)
        SELECT DISTINCT t, NEW.id, NEW.trend, NEW.launch_count, NEW.star_count, NEW.created_at
        FROM unnest(NEW.tags) AS t
        WHERE NOT starts_with(t, 'status:');
    ELSE
        UPDATE tag_sort_keys
        SET trend = NEW.trend, launch_count = NEW.launch_count, star_count = NEW.star_count, created_at = NEW.created_at
        WHERE repository_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION appstore_tag_sort_keys_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_sort_keys;
    RETURN NULL;
END;
$$;

CREATE TRIGGER repositories_tag_sort_keys_insert AFTER INSERT ON repositories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_sort_keys_insert();
CREATE TRIGGER repositories_tag_sort_keys_delete AFTER DELETE ON repositories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_sort_keys_delete();
CREATE TRIGGER repositories_tag_sort_keys_update
    AFTER UPDATE OF id, tags, trend, launch_count, star_count, created_at ON repositories
    FOR EACH ROW
    WHEN (NEW.tags IS DISTINCT FROM OLD.tags OR NEW.id <> OLD.id OR NEW.trend IS DISTINCT FROM OLD.trend
          OR NEW.launch_count <> OLD.launch_count OR NEW.star_count <> OLD.star_count OR NEW.created_at <> OLD.created_at)
    EXECUTE FUNCTION appstore_tag_sort_keys_update();
CREATE TRIGGER repositories_tag_sort_keys_truncate AFTER TRUNCATE ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION appstore_tag_sort_keys_truncate();
