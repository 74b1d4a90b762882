//! The audit log: who did what, when, from where. Append-only.

use super::{Conn, StoreError, now_millis};

/// One audit entry.
pub struct Entry<'a> {
    /// `None` for instance-level events.
    pub workspace_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    /// Who acted, as shown even after the user is deleted (an email, `cli`, `system`).
    pub actor_label: &'a str,
    /// A stable dotted name such as `instance.installed` or `auth.sign_in`.
    pub action: &'a str,
    pub target: Option<&'a str>,
    /// Extra facts as a JSON object.
    pub detail: serde_json::Value,
    pub ip: Option<&'a str>,
}

pub async fn record(conn: &mut Conn, entry: &Entry<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (workspace_id, actor_user_id, actor_label, action, target, detail, ip, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            entry.workspace_id.into(),
            entry.actor_user_id.into(),
            entry.actor_label.into(),
            entry.action.into(),
            entry.target.into(),
            entry.detail.to_string().into(),
            entry.ip.into(),
            now_millis().into(),
        ],
    )
    .await
    .map(drop)
}
