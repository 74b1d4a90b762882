//! Counts for limits and dashboards, always within one workspace.

use super::{Conn, StoreError};

/// How many WhatsApp numbers a workspace has connected.
pub async fn numbers(conn: &mut Conn, workspace_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one("SELECT COUNT(*) FROM whatsapp_accounts WHERE workspace_id = $1", &[workspace_id.into()])
        .await?
        .int(0)
}

/// How many contacts a workspace holds.
pub async fn contacts(conn: &mut Conn, workspace_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1", &[workspace_id.into()]).await?.int(0)
}

/// Outbound messages of a workspace created at or after `since` (unix ms).
pub async fn outbound_since(conn: &mut Conn, workspace_id: i64, since: i64) -> Result<i64, StoreError> {
    conn.fetch_one(
        "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND direction = 'outbound' AND created_at >= $2",
        &[workspace_id.into(), since.into()],
    )
    .await?
    .int(0)
}

/// Contacts and conversations created in `[from, to)`, for trends.
pub async fn created_between(conn: &mut Conn, workspace_id: i64, from: i64, to: i64) -> Result<(i64, i64), StoreError> {
    let row = conn
        .fetch_one(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3),
                    (SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3)",
            &[workspace_id.into(), from.into(), to.into()],
        )
        .await?;
    Ok((row.int(0)?, row.int(1)?))
}

/// How many conversations a workspace holds.
pub async fn conversations(conn: &mut Conn, workspace_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one("SELECT COUNT(*) FROM conversations WHERE workspace_id = $1", &[workspace_id.into()]).await?.int(0)
}
