-- 0012: what an app is given when it runs: variables (in clear) and secrets
-- (AES-256-GCM ciphertext only; the key is in the data directory, never in
-- the database), and the configuration version each launch started with, so
-- that a running launch whose configuration changed since is marked.

CREATE TABLE repository_env (
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    value         text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, name)
);

-- ciphertext is nonce || sealed value; the additional data binds it to its
-- repository and name. key_id names the key that sealed it (the first bytes
-- of the key's SHA-256), so that a wrong key file is told from a corrupt row
-- and a rotation can be resumed.
CREATE TABLE repository_secrets (
    repository_id bigint      NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    ciphertext    bytea       NOT NULL,
    key_id        text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, name)
);

-- Bumped by every change of the app's variables or secrets; a launch keeps
-- the version it started with.
ALTER TABLE repositories ADD COLUMN config_version bigint NOT NULL DEFAULT 0;
ALTER TABLE launches ADD COLUMN config_version bigint NOT NULL DEFAULT 0;
