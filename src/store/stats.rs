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

/// The workspace's WhatsApp numbers: (id, name, provider, phone, state, daily limit). The state is `connected` once a
/// connection test passed or a webhook arrived, `failing` after a failed test; the daily limit is filled in by the
/// numbers service (it depends on the warm-up week), here always `None`.
pub async fn number_list(
    conn: &mut Conn,
    workspace_id: i64,
) -> Result<Vec<(i64, String, String, Option<String>, String, Option<i64>)>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT id, name, provider, phone,
                CASE WHEN status = 'disabled' THEN 'disabled' WHEN last_test_ok = 0 THEN 'failing'
                     WHEN last_test_ok = 1 OR last_webhook_at IS NOT NULL THEN 'connected' ELSE 'pending' END,
                CAST(NULL AS BIGINT)
             FROM whatsapp_accounts WHERE workspace_id = $1 ORDER BY id",
            &[workspace_id.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.int(0)?, r.text(1)?, r.text(2)?, r.opt_text(3)?, r.text(4)?, r.opt_int(5)?))).collect()
}
