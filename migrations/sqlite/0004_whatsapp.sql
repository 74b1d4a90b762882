-- WhatsApp numbers, contacts, conversations, messages, statuses and media (SQLite). Keep in lockstep with
-- migrations/postgres/0004_whatsapp.sql.
-- Every tenant-owned table carries workspace_id and every query on it filters by it.
--
-- 0001 sketched these four tables before any code wrote to them; nothing has ever stored a row in them, so they are
-- replaced whole by the shapes the connectors and the message pipeline need.
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contacts;
DROP TABLE whatsapp_accounts;

-- A connected WhatsApp number and how it reaches its provider. Credentials and the webhook secret are sealed with
-- the instance's data key; `account_key` is the public id in the webhook URL.
CREATE TABLE whatsapp_accounts (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    provider            TEXT NOT NULL CHECK (provider IN ('meta', '360dialog', 'twilio', 'chatwoot', 'evolution')),
    phone               TEXT NOT NULL,
    account_key         TEXT NOT NULL UNIQUE,
    credentials         TEXT NOT NULL,
    webhook_secret      TEXT NOT NULL,
    api_base_url        TEXT,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- Warm-up: messages per day by week since `warmup_started_on` (local date), e.g. '20,50,100,1000'.
    warmup_enabled      BIGINT NOT NULL CHECK (warmup_enabled IN (0, 1)),
    warmup_schedule     TEXT NOT NULL,
    warmup_started_on   TEXT NOT NULL,
    warmup_week         BIGINT NOT NULL DEFAULT 0,
    -- Business-initiated sends counted on `quota_day` (the workspace's local date).
    quota_day           TEXT,
    sent_today          BIGINT NOT NULL DEFAULT 0,
    -- Meta's messaging limit: unique users per 24 hours for business-initiated messages (NULL = unlimited).
    messaging_limit     BIGINT,
    throughput_per_second BIGINT NOT NULL,
    connection_state    TEXT,
    last_test_at        BIGINT,
    last_test_ok        BIGINT,
    last_test_detail    TEXT,
    last_webhook_at     BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX whatsapp_accounts_phone ON whatsapp_accounts (workspace_id, phone);

-- One person per workspace, keyed by canonical E.164 when known, and by every provider id (contact_identities).
CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    phone           TEXT,
    name            TEXT NOT NULL DEFAULT '',
    email           TEXT,
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;

-- Provider ids of a contact: wa_id, jid (incl. @lid), bsuid, chatwoot:<account> contact ids.
CREATE TABLE contact_identities (
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    value           TEXT NOT NULL,
    contact_id      BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, kind, value)
);
CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

-- A contact's thread on one number.
CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id          BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    contact_id          BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved', 'archived')),
    assignee_user_id    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    provider_thread     TEXT,
    unread_count        BIGINT NOT NULL DEFAULT 0,
    last_message_at     BIGINT,
    last_message_preview TEXT,
    -- The customer's last message: the 24-hour window runs from here.
    last_inbound_at     BIGINT,
    snoozed_until       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (account_id, contact_id)
);
CREATE INDEX conversations_recent ON conversations (workspace_id, last_message_at DESC, id DESC);

-- Messages both ways. Inbound ones are unique on (account, provider id): redelivered webhooks add nothing.
CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id     BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    account_id          BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    direction           TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    provider_message_id TEXT,
    kind                TEXT NOT NULL,
    body                TEXT,
    -- Details as JSON: template name and variables, media, location, reaction, reply choice, context id.
    payload             TEXT,
    status              TEXT NOT NULL
        CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'played', 'failed', 'received')),
    error_code          TEXT,
    error_message       TEXT,
    sent_by_user_id     BIGINT REFERENCES users(id) ON DELETE SET NULL,
    -- Send attempts whose result was recorded; a run that finds fewer than the job's earlier attempts reconciles.
    send_attempts       BIGINT NOT NULL DEFAULT 0,
    occurred_at         BIGINT NOT NULL,
    sent_at             BIGINT,
    delivered_at        BIGINT,
    read_at             BIGINT,
    failed_at           BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_thread ON messages (conversation_id, id);
CREATE INDEX messages_sender_day ON messages (workspace_id, sent_by_user_id, created_at);
CREATE INDEX messages_outbound_day ON messages (workspace_id, direction, created_at);

-- Every status a provider reported, once: idempotent on (message, status), and kept when it arrives before its
-- message (applied when the message gets its provider id).
CREATE TABLE message_statuses (
    account_id          BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    provider_message_id TEXT NOT NULL,
    status              TEXT NOT NULL,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    occurred_at         BIGINT NOT NULL,
    error_code          TEXT,
    error_message       TEXT,
    received_at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, provider_message_id, status)
);

-- Files of messages, kept in the data directory so they outlive the providers' short-lived URLs.
CREATE TABLE media (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    message_id      BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    mime            TEXT,
    filename        TEXT,
    size            BIGINT,
    sha256          TEXT,
    path            TEXT,
    provider_ref    TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX media_message ON media (message_id);

-- Webhook events we do not act on, stored raw and acknowledged.
CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id      BIGINT NOT NULL REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    received_at     BIGINT NOT NULL
);
CREATE INDEX webhook_events_account ON webhook_events (account_id, received_at);
