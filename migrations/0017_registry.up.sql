-- 0017: images pushed to a registry (--registry), so that Swarm nodes
-- other than the builder's can run them. A build that pushed records the
-- reference it pushed (HOST[/PREFIX]/appstore/<slug>:<commit>) and the
-- digest the registry answered: launches on Swarm run the image by that
-- digest. Pruning deletes the digest in the registry and clears it here.
ALTER TABLE builds
    ADD COLUMN registry_image text NOT NULL DEFAULT '',
    ADD COLUMN image_digest   text NOT NULL DEFAULT '';
CREATE INDEX builds_image_digest_idx ON builds (image_digest) WHERE image_digest <> '';
