-- The team inbox (SQLite): workspace inbox settings, agent presence, tags, quick replies, message templates, the
-- live-update event log and full-text search over messages. Keep in lockstep with migrations/postgres/0005_inbox.sql.

-- Whether agents see every conversation (1) or only their own and unassigned ones (0), and whether new
-- conversations are assigned round-robin among the online agents; `auto_assign_last_user` is where the round stopped.
ALTER TABLE workspaces ADD COLUMN agents_see_all BIGINT NOT NULL DEFAULT 0 CHECK (agents_see_all IN (0, 1));
ALTER TABLE workspaces ADD COLUMN auto_assign BIGINT NOT NULL DEFAULT 0 CHECK (auto_assign IN (0, 1));
ALTER TABLE workspaces ADD COLUMN auto_assign_last_user BIGINT;

-- When a member last had the inbox open (heartbeat): "online" for round-robin assignment.
ALTER TABLE memberships ADD COLUMN last_seen_at BIGINT;

-- Labels with a colour, for conversations and contacts.
CREATE TABLE tags (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    color           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (workspace_id, name_lower)
);

CREATE TABLE conversation_tags (
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id          BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX conversation_tags_tag ON conversation_tags (tag_id, conversation_id);

CREATE TABLE contact_tags (
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    contact_id      BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    tag_id          BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag_id, contact_id);

-- Canned answers typed as `/shortcut`: workspace-wide (user_id NULL) or one member's own.
CREATE TABLE quick_replies (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id         BIGINT REFERENCES users(id) ON DELETE CASCADE,
    shortcut        TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX quick_replies_shortcut ON quick_replies (workspace_id, COALESCE(user_id, 0), shortcut);

-- The workspace's approved WhatsApp templates (synced from the provider or entered by hand): what the composer's
-- template picker offers. `body` keeps the {{1}}-style placeholders; `components` the provider's JSON.
CREATE TABLE message_templates (
    id              INTEGER PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id      BIGINT REFERENCES whatsapp_accounts(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    category        TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'approved',
    body            TEXT NOT NULL DEFAULT '',
    components      TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX message_templates_name ON message_templates (workspace_id, COALESCE(account_id, 0), name, language);

-- What changed in a workspace's inbox, in order: the live stream (SSE) sends these and a reconnecting page catches
-- up from the last id it saw. Pruned after a day by the clean-up schedule.
CREATE TABLE inbox_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL,
    message_id      BIGINT,
    kind            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX inbox_events_workspace ON inbox_events (workspace_id, id);
CREATE INDEX inbox_events_time ON inbox_events (created_at);

-- The list sorts by latest activity, falling back to creation: index exactly that expression, with the filters
-- the tabs use in front.
DROP INDEX conversations_recent;
CREATE INDEX conversations_recent ON conversations (workspace_id, COALESCE(last_message_at, created_at) DESC, id DESC);
CREATE INDEX conversations_status_recent
    ON conversations (workspace_id, status, COALESCE(last_message_at, created_at) DESC, id DESC);
CREATE INDEX conversations_assignee_recent
    ON conversations (workspace_id, assignee_user_id, COALESCE(last_message_at, created_at) DESC, id DESC);
CREATE INDEX conversations_contact ON conversations (contact_id);
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE snoozed_until IS NOT NULL;

-- Full-text search over message text and contact names, kept in step by triggers. The workspace id is an indexed
-- column too, so a search matches one workspace's rows inside the index instead of filtering every match after.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, workspace_id, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.body IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, body, workspace_id) VALUES (new.id, new.body, new.workspace_id);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.body IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, workspace_id) VALUES ('delete', old.id, old.body, old.workspace_id);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body, workspace_id)
        SELECT 'delete', old.id, old.body, old.workspace_id WHERE old.body IS NOT NULL;
    INSERT INTO messages_fts (rowid, body, workspace_id) SELECT new.id, new.body, new.workspace_id WHERE new.body IS NOT NULL;
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE contacts_fts USING fts5(name, workspace_id, content='contacts', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, name, workspace_id) VALUES (new.id, new.name, new.workspace_id);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name, workspace_id) VALUES ('delete', old.id, old.name, old.workspace_id);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name, workspace_id) VALUES ('delete', old.id, old.name, old.workspace_id);
    INSERT INTO contacts_fts (rowid, name, workspace_id) VALUES (new.id, new.name, new.workspace_id);
END;
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
