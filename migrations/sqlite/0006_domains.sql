-- Custom domains of workspaces (sqlite). Keep in lockstep with migrations/postgres/0006_domains.sql.

-- A host name a workspace is served on. `host` is lower-cased and unique across the instance; `token` is what
-- the self-probe at /.well-known/conversure-domain/<token> must read back for the domain to count as verified.
CREATE TABLE workspace_domains (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    host            TEXT NOT NULL UNIQUE,
    token           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failed')),
    last_error      TEXT,
    checked_at      BIGINT,
    verified_at     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX workspace_domains_workspace ON workspace_domains (workspace_id);
