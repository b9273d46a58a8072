-- 0011: which builder made a build's image: 'buildkit' (the engine's
-- BuildKit with the Dockerfile frontend in appstored) or 'classic' (the
-- engine's classic builder, for engines without BuildKit); '' for builds
-- that ended before a builder was chosen, or were served from the cache.
ALTER TABLE builds ADD COLUMN builder text NOT NULL DEFAULT '';
