-- 0005: a random identity of this catalog. Resources that appstored leaves
-- on a Docker engine (images it built) carry it as a label, so that two
-- catalogs sharing one engine (a staging and a production daemon, parallel
-- test runs) never prune or reuse each other's images.
CREATE TABLE catalog_identity (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id        text    NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text || txid_current()::text)
);
INSERT INTO catalog_identity DEFAULT VALUES;
