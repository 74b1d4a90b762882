-- Conversure schema v1 (SQLite). Keep in lockstep with migrations/postgres/0001_init.sql.
-- Conventions shared with Postgres: BIGINT ids, unix-millisecond UTC timestamps, 0/1 flags, JSON as TEXT.
-- Every tenant-owned table carries workspace_id and every query on it filters by it.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL,
    email_lower     TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT,
    totp_secret     BLOB,
    is_owner        BIGINT NOT NULL DEFAULT 0 CHECK (is_owner IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'agent')),
    daily_quota     BIGINT,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id    BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    csrf_token      TEXT NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- workspace_id 0 holds instance-wide settings; there is no workspace 0, so no foreign key.
CREATE TABLE settings (
    workspace_id    BIGINT NOT NULL,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT,
    actor_user_id   BIGINT,
    actor_label     TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT,
    detail          TEXT NOT NULL DEFAULT '{}',
    ip              TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_log_workspace_time ON audit_log (workspace_id, created_at);

CREATE TABLE whatsapp_accounts (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('meta', '360dialog', 'twilio', 'chatwoot', 'evolution')),
    label               TEXT NOT NULL,
    phone_e164          TEXT,
    account_key         TEXT NOT NULL UNIQUE,
    credentials_enc     BLOB,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'connected', 'failing', 'disabled')),
    daily_limit         BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX whatsapp_accounts_workspace ON whatsapp_accounts (workspace_id);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    phone_e164      TEXT,
    wa_id           TEXT,
    name            TEXT,
    email           TEXT,
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_workspace_phone ON contacts (workspace_id, phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE UNIQUE INDEX contacts_workspace_wa_id ON contacts (workspace_id, wa_id) WHERE wa_id IS NOT NULL;

CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id          BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    contact_id          BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'archived')),
    assignee_user_id    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    unread_count        BIGINT NOT NULL DEFAULT 0,
    last_message_at     BIGINT,
    last_inbound_at     BIGINT,
    snoozed_until       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (account_id, contact_id)
);
CREATE INDEX conversations_inbox ON conversations (workspace_id, status, last_message_at DESC, id DESC);

CREATE TABLE messages (
    id                      INTEGER PRIMARY KEY,
    workspace_id            BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id         BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    account_id              BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    direction               TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    kind                    TEXT NOT NULL,
    body                    TEXT,
    payload                 TEXT NOT NULL DEFAULT '{}',
    provider_message_id     TEXT,
    status                  TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed', 'received')),
    error_reason            TEXT,
    sent_by_user_id         BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_thread ON messages (conversation_id, created_at DESC, id DESC);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT,
    queue           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL DEFAULT 5,
    run_at          BIGINT NOT NULL,
    locked_by       TEXT,
    locked_until    BIGINT,
    last_error      TEXT,
    dedupe_key      TEXT UNIQUE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_leases ON jobs (locked_until) WHERE state = 'running';
