-- Accounts and security (SQLite). Keep in lockstep with migrations/postgres/0002_accounts.sql.

-- Sessions that passed the password but still owe a TOTP code.
ALTER TABLE sessions ADD COLUMN mfa_pending BIGINT NOT NULL DEFAULT 0;

-- TOTP: the secret is sealed with the instance data key; NULL means TOTP is off.
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;

CREATE TABLE totp_recovery_codes (
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- One-time links: password resets and invitations. Stored by hash.
CREATE TABLE user_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id    BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('reset', 'invite')),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX user_tokens_user ON user_tokens (user_id);

-- Sign-in attempts, for throttling per account and per address.
CREATE TABLE login_attempts (
    id              INTEGER PRIMARY KEY,
    email_lower     TEXT NOT NULL,
    ip              TEXT,
    succeeded       BIGINT NOT NULL CHECK (succeeded IN (0, 1)),
    created_at      BIGINT NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email_lower, created_at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, created_at);

-- API keys: shown once, stored by hash; `prefix` identifies a key in lists without revealing it.
CREATE TABLE api_keys (
    id                  INTEGER PRIMARY KEY,
    workspace_id        BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,
    scope               TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_by_user_id  BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE INDEX audit_log_action ON audit_log (action, created_at);
CREATE INDEX messages_outbound_day ON messages (workspace_id, direction, created_at);
