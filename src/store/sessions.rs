//! Server-side sessions, stored by the hash of their cookie token so a database leak does not leak live sessions.

use super::{Conn, StoreError, now_millis};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    pub workspace_id: Option<i64>,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// The fields of a new session.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub workspace_id: Option<i64>,
    pub csrf_token: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn create(conn: &mut Conn, new: &NewSession<'_>) -> Result<(), StoreError> {
    let now = now_millis();
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf_token, ip, user_agent, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        &[
            new.token_hash.into(),
            new.user_id.into(),
            new.workspace_id.into(),
            new.csrf_token.into(),
            new.ip.into(),
            new.user_agent.into(),
            now.into(),
            new.expires_at.into(),
        ],
    )
    .await
    .map(drop)
}

/// The unexpired session with this token hash.
pub async fn find(conn: &mut Conn, token_hash: &str) -> Result<Option<Session>, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT user_id, workspace_id, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
            &[token_hash.into(), now_millis().into()],
        )
        .await?;
    row.map(|r| {
        Ok(Session { user_id: r.int(0)?, workspace_id: r.opt_int(1)?, csrf_token: r.text(2)?, expires_at: r.int(3)? })
    })
    .transpose()
}

/// Ends a session.
pub async fn delete(conn: &mut Conn, token_hash: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = $1", &[token_hash.into()]).await.map(drop)
}

/// Ends every session of a user (after a password reset).
pub async fn delete_for_user(conn: &mut Conn, user_id: i64) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM sessions WHERE user_id = $1", &[user_id.into()]).await
}

/// Moves a live session into another workspace (the caller has checked the membership); false when no such session.
pub async fn set_workspace(conn: &mut Conn, token_hash: &str, workspace_id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE sessions SET workspace_id = $1, last_seen_at = $2 WHERE token_hash = $3 AND expires_at > $2",
            &[workspace_id.into(), now_millis().into(), token_hash.into()],
        )
        .await?;
    Ok(changed > 0)
}
