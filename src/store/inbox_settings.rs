//! A workspace's inbox settings: whether agents see every conversation, and round-robin auto-assignment.

use super::{Conn, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxSettings {
    /// Agents see every conversation; otherwise only those assigned to them and the unassigned ones.
    pub agents_see_all: bool,
    /// New conversations are assigned round-robin among the online agents.
    pub auto_assign: bool,
}

/// The settings of a workspace (the defaults when it does not exist).
pub async fn get(conn: &mut Conn, workspace_id: i64) -> Result<InboxSettings, StoreError> {
    let row = conn
        .fetch_optional("SELECT agents_see_all, auto_assign FROM workspaces WHERE id = $1", &[workspace_id.into()])
        .await?;
    match row {
        Some(row) => Ok(InboxSettings { agents_see_all: row.int(0)? == 1, auto_assign: row.int(1)? == 1 }),
        None => Ok(InboxSettings::default()),
    }
}

/// Changes a workspace's inbox settings; `false` when it does not exist.
pub async fn set(conn: &mut Conn, workspace_id: i64, settings: InboxSettings) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE workspaces SET agents_see_all = $2, auto_assign = $3 WHERE id = $1",
            &[workspace_id.into(), settings.agents_see_all.into(), settings.auto_assign.into()],
        )
        .await?;
    Ok(changed == 1)
}
