-- 0026: the memory limit each launch runs with.
--
-- A launch's memory limit comes from its resource profile, and the profiles
-- are each runner's configuration (--max-memory, custom profiles): a cap on
-- the memory of the whole catalogue's launches (--catalog-max-running-memory)
-- sums what each launch was started with, whichever runner started it.
-- 0: not recorded (launches older than this column); the runner checking a
-- cap then counts its own profile's limit of that name.
ALTER TABLE launches ADD COLUMN memory_limit bigint NOT NULL DEFAULT 0;
