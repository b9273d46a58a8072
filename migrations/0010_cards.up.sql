-- 0010: app cards. emoji is the app's emoji (tags.yaml or the Hugging Face
-- front matter), a column so that search results carry it without reading
-- the metadata document. card_version is the version of the rules that
-- derived the card (metadata.CardVersion): the sync re-reads repositories
-- whose card an older version derived, even when their commit did not
-- move, so that cards registered before a change of the rules are
-- refreshed. The rest of the card (why the Dockerfile was chosen, the
-- other Dockerfiles, the Spaces fields) lives in the metadata document.
ALTER TABLE repositories
    ADD COLUMN emoji text NOT NULL DEFAULT '',
    ADD COLUMN card_version integer NOT NULL DEFAULT 0;
