//! Sign-in security records: sign-in attempts (throttling), TOTP secrets and recovery codes, one-time links (password
//! resets and invitations), and the session details the security pages show.

use super::{Conn, StoreError, Value, now_millis};

// ---- Sign-in attempts ----------------------------------------------------------------------------------------

/// What failed sign-ins are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKey<'a> {
    /// The (lower-cased) email the attempt named, known account or not.
    Email(&'a str),
    /// The client's address.
    Ip(&'a str),
}

/// Records one sign-in attempt (a password or a second-factor check).
pub async fn record_attempt(
    conn: &mut Conn,
    email_lower: &str,
    ip: Option<&str>,
    succeeded: bool,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO login_attempts (email_lower, ip, succeeded, created_at) VALUES ($1, $2, $3, $4)",
        &[email_lower.into(), ip.into(), succeeded.into(), now_millis().into()],
    )
    .await
    .map(drop)
}

/// When the `n`-th most recent failure (1 = the latest) since `since` happened; `None` when there were fewer.
pub async fn nth_recent_failure(
    conn: &mut Conn,
    key: AttemptKey<'_>,
    since: i64,
    n: i64,
) -> Result<Option<i64>, StoreError> {
    let (sql, value) = match key {
        AttemptKey::Email(email) => (
            "SELECT created_at FROM login_attempts WHERE email_lower = $1 AND succeeded = 0 AND created_at > $2
             ORDER BY created_at DESC LIMIT 1 OFFSET $3",
            email,
        ),
        AttemptKey::Ip(ip) => (
            "SELECT created_at FROM login_attempts WHERE ip = $1 AND succeeded = 0 AND created_at > $2
             ORDER BY created_at DESC LIMIT 1 OFFSET $3",
            ip,
        ),
    };
    let offset = (n - 1).max(0);
    conn.fetch_optional(sql, &[value.into(), since.into(), offset.into()]).await?.map(|r| r.int(0)).transpose()
}

/// When the `n`-th most recent audit entry with this action from `ip` since `since` was written (1 = the latest);
/// `None` when there were fewer (throttling of password-reset requests).
pub async fn nth_recent_audit_from_ip(
    conn: &mut Conn,
    action: &str,
    ip: &str,
    since: i64,
    n: i64,
) -> Result<Option<i64>, StoreError> {
    conn.fetch_optional(
        "SELECT created_at FROM audit_log WHERE action = $1 AND ip = $2 AND created_at > $3
         ORDER BY created_at DESC LIMIT 1 OFFSET $4",
        &[action.into(), ip.into(), since.into(), (n - 1).max(0).into()],
    )
    .await?
    .map(|r| r.int(0))
    .transpose()
}

// ---- TOTP ----------------------------------------------------------------------------------------------------

/// A user's TOTP state: a secret without `enabled_at` is an enrolment waiting for its first code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpState {
    /// Sealed with the instance data key.
    pub sealed_secret: Option<Vec<u8>>,
    pub enabled_at: Option<i64>,
}

/// The TOTP state of a user; `None` when the user does not exist.
pub async fn totp_state(conn: &mut Conn, user_id: i64) -> Result<Option<TotpState>, StoreError> {
    let row =
        conn.fetch_optional("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1", &[user_id.into()]).await?;
    row.map(|r| Ok(TotpState { sealed_secret: r.opt_blob(0)?, enabled_at: r.opt_int(1)? })).transpose()
}

/// Stores a new, not yet confirmed secret; does nothing when TOTP is already on (returns false).
pub async fn set_pending_totp_secret(conn: &mut Conn, user_id: i64, sealed: Vec<u8>) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE users SET totp_secret = $1, updated_at = $2 WHERE id = $3 AND totp_enabled_at IS NULL",
            &[sealed.into(), now_millis().into(), user_id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Turns TOTP on with the pending secret; false when there is none or it is on already.
pub async fn enable_totp(conn: &mut Conn, user_id: i64) -> Result<bool, StoreError> {
    let now = now_millis();
    let changed = conn
        .execute(
            "UPDATE users SET totp_enabled_at = $1, updated_at = $1
             WHERE id = $2 AND totp_secret IS NOT NULL AND totp_enabled_at IS NULL",
            &[now.into(), user_id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Replaces the sealed secret of an enabled TOTP, only if it is still `current` (compare-and-swap); false otherwise.
pub async fn replace_totp_secret(
    conn: &mut Conn,
    user_id: i64,
    current: &[u8],
    next: Vec<u8>,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3 AND totp_enabled_at IS NOT NULL",
            &[next.into(), user_id.into(), current.to_vec().into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Turns TOTP off: forgets the secret and every recovery code.
pub async fn disable_totp(conn: &mut Conn, user_id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_secret = $1, totp_enabled_at = NULL, updated_at = $2 WHERE id = $3",
        &[Value::NullBlob, now_millis().into(), user_id.into()],
    )
    .await?;
    conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", &[user_id.into()]).await.map(drop)
}

/// Replaces a user's recovery codes with new ones (given as hashes).
pub async fn replace_recovery_codes(conn: &mut Conn, user_id: i64, hashes: &[String]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", &[user_id.into()]).await?;
    for hash in hashes {
        conn.execute(
            "INSERT INTO totp_recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
            &[user_id.into(), hash.as_str().into()],
        )
        .await?;
    }
    Ok(())
}

/// Burns an unused recovery code; false when there is no such unused code.
pub async fn use_recovery_code(conn: &mut Conn, user_id: i64, hash: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE totp_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            &[now_millis().into(), user_id.into(), hash.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// How many unused recovery codes a user has.
pub async fn recovery_codes_left(conn: &mut Conn, user_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one("SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = $1 AND used_at IS NULL", &[user_id.into()])
        .await?
        .int(0)
}

// ---- Sessions ------------------------------------------------------------------------------------------------

/// A live session with what the sign-in checks need about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub user_id: i64,
    pub workspace_id: Option<i64>,
    pub csrf_token: String,
    /// The password was right; a TOTP code is still owed.
    pub mfa_pending: bool,
    pub last_seen_at: i64,
    /// The user has TOTP turned on.
    pub totp_enabled: bool,
    /// The session's workspace requires TOTP (setting `security.require_totp` = "1").
    pub totp_required: bool,
}

/// The unexpired session with this token hash.
pub async fn session_info(conn: &mut Conn, token_hash: &str) -> Result<Option<SessionInfo>, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT s.user_id, s.workspace_id, s.csrf_token, s.mfa_pending, s.last_seen_at,
                    CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END,
                    CASE WHEN EXISTS (SELECT 1 FROM settings t WHERE t.workspace_id = s.workspace_id
                                      AND t.key = 'security.require_totp' AND t.value = '1') THEN 1 ELSE 0 END
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            &[token_hash.into(), now_millis().into()],
        )
        .await?;
    row.map(|r| {
        Ok(SessionInfo {
            user_id: r.int(0)?,
            workspace_id: r.opt_int(1)?,
            csrf_token: r.text(2)?,
            mfa_pending: r.flag(3)?,
            last_seen_at: r.int(4)?,
            totp_enabled: r.flag(5)?,
            totp_required: r.flag(6)?,
        })
    })
    .transpose()
}

/// Records activity on a session, unless it was recorded after `unless_after` already (so at most once a minute).
pub async fn touch_session(conn: &mut Conn, token_hash: &str, unless_after: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at <= $3",
        &[now_millis().into(), token_hash.into(), unless_after.into()],
    )
    .await
    .map(drop)
}

/// Marks a session as owing (or no longer owing) a second factor, and sets when it expires.
pub async fn set_mfa_pending(
    conn: &mut Conn,
    token_hash: &str,
    pending: bool,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE sessions SET mfa_pending = $1, expires_at = $2, last_seen_at = $3 WHERE token_hash = $4",
            &[pending.into(), expires_at.into(), now_millis().into(), token_hash.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// One of a user's sessions, as the sessions page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A user's live, fully signed-in sessions, most recently used first.
pub async fn sessions_of(conn: &mut Conn, user_id: i64) -> Result<Vec<SessionRow>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT token_hash, created_at, last_seen_at, ip, user_agent FROM sessions
             WHERE user_id = $1 AND expires_at > $2 AND mfa_pending = 0
             ORDER BY last_seen_at DESC, created_at DESC",
            &[user_id.into(), now_millis().into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SessionRow {
                token_hash: r.text(0)?,
                created_at: r.int(1)?,
                last_seen_at: r.int(2)?,
                ip: r.opt_text(3)?,
                user_agent: r.opt_text(4)?,
            })
        })
        .collect()
}

/// Ends every session of a user except one (`keep`, a token hash; `None` ends them all). Returns how many ended.
pub async fn delete_sessions_except(conn: &mut Conn, user_id: i64, keep: Option<&str>) -> Result<u64, StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR token_hash <> $2)",
        &[user_id.into(), keep.into()],
    )
    .await
}

// ---- One-time links ------------------------------------------------------------------------------------------

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Invite,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Invite => "invite",
        }
    }
}

/// A stored one-time link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub user_id: i64,
    pub workspace_id: Option<i64>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl UserToken {
    /// Unused and not expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }
}

/// Stores a new one-time link by its hash.
pub async fn create_token(
    conn: &mut Conn,
    token_hash: &str,
    user_id: i64,
    workspace_id: Option<i64>,
    purpose: Purpose,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO user_tokens (token_hash, user_id, workspace_id, purpose, created_at, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        &[
            token_hash.into(),
            user_id.into(),
            workspace_id.into(),
            purpose.as_str().into(),
            now_millis().into(),
            expires_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// The link with this hash and purpose, used or not.
pub async fn token(conn: &mut Conn, token_hash: &str, purpose: Purpose) -> Result<Option<UserToken>, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT user_id, workspace_id, expires_at, used_at FROM user_tokens WHERE token_hash = $1 AND purpose = $2",
            &[token_hash.into(), purpose.as_str().into()],
        )
        .await?;
    row.map(|r| {
        Ok(UserToken { user_id: r.int(0)?, workspace_id: r.opt_int(1)?, expires_at: r.int(2)?, used_at: r.opt_int(3)? })
    })
    .transpose()
}

/// Uses a link up; false when it was used already or has expired (so two concurrent uses cannot both succeed).
pub async fn use_token(conn: &mut Conn, token_hash: &str, purpose: Purpose) -> Result<bool, StoreError> {
    let now = now_millis();
    let changed = conn
        .execute(
            "UPDATE user_tokens SET used_at = $1
             WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
            &[now.into(), token_hash.into(), purpose.as_str().into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Voids every unused link of a user for a purpose (a newer link replaces them; a reset voids older resets).
pub async fn void_tokens(conn: &mut Conn, user_id: i64, purpose: Purpose) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
        &[now_millis().into(), user_id.into(), purpose.as_str().into()],
    )
    .await
}

/// How many links of a purpose were made for a user since `since`.
pub async fn tokens_created_since(
    conn: &mut Conn,
    user_id: i64,
    purpose: Purpose,
    since: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "SELECT COUNT(*) FROM user_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > $3",
        &[user_id.into(), purpose.as_str().into(), since.into()],
    )
    .await?
    .int(0)
}

// ---- Users and workspaces, as the links need them -------------------------------------------------------------

/// A workspace's name.
pub async fn workspace_name(conn: &mut Conn, workspace_id: i64) -> Result<Option<String>, StoreError> {
    conn.fetch_optional("SELECT name FROM workspaces WHERE id = $1", &[workspace_id.into()])
        .await?
        .map(|r| r.text(0))
        .transpose()
}

/// Sets a user's name and password hash (accepting an invitation).
pub async fn set_name_and_password(
    conn: &mut Conn,
    user_id: i64,
    name: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    let changed = conn
        .execute(
            "UPDATE users SET name = $1, password_hash = $2, updated_at = $3 WHERE id = $4",
            &[name.into(), password_hash.into(), now_millis().into(), user_id.into()],
        )
        .await?;
    if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
