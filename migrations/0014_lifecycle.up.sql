-- 0014: what a launch's end was, so that the preview proxy tells a launch
-- stopped on request (it stays stopped) from one put to sleep for
-- idleness (the next request wakes it); and whether a new build of an app
-- replaces its running launch by itself (redeploy, on by default).
ALTER TABLE launches ADD COLUMN stop_reason text NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN redeploy boolean NOT NULL DEFAULT true;
