-- 0016: people. Accounts with personal tokens and roles, who owns and who
-- registered each repository, and who caused each event.

-- One row per person who may use the daemon, plus two built-in rows that
-- stand for the actors without an account: "local" (a local-only daemon
-- with no users: whoever reaches it) and "admin" (whoever presents the
-- daemon token, --token). Built-in rows have no token and cannot be removed;
-- they exist so that what people own or mark (repositories, stars,
-- comments) can reference every actor alike.
CREATE TABLE users (
    id               bigserial   PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    role             text        NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    builtin          boolean     NOT NULL DEFAULT false,
    -- SHA-256 (hex) of the personal token. The token is 32 random bytes, so
    -- an unsalted fast hash is enough to make a stolen table useless; the
    -- token itself is never stored. NULL for the built-in rows.
    token_hash       text        UNIQUE,
    created_by       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    token_created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (builtin OR token_hash IS NOT NULL)
);
INSERT INTO users (name, role, builtin) VALUES ('local', 'admin', true), ('admin', 'admin', true);

-- owned_by is the user (users.name) who owns the app: whoever registered
-- it, until an admin hands it over. registered_by never changes. Both are
-- names, not references, so that an app outlives its owner's account ('' for
-- apps registered before accounts existed). The git namespace stays in
-- the owner column.
ALTER TABLE repositories
    ADD COLUMN owned_by      text NOT NULL DEFAULT '',
    ADD COLUMN registered_by text NOT NULL DEFAULT '';
CREATE INDEX repositories_owned_by_idx ON repositories (owned_by);

-- actor is the user whose request caused the event; '' for what the daemon
-- does by itself (ingestion, builds finishing, expiry).
ALTER TABLE events ADD COLUMN actor text NOT NULL DEFAULT '';
