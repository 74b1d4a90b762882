//! Counts the admin panel shows about one member, always within one workspace.

use super::{Conn, StoreError};

/// How many conversations of a workspace are assigned to a user (they become unassigned when the member goes).
pub async fn assigned_conversations(conn: &mut Conn, workspace_id: i64, user_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one(
        "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND assignee_user_id = $2",
        &[workspace_id.into(), user_id.into()],
    )
    .await?
    .int(0)
}
