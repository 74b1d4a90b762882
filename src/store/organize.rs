//! Changes to how a conversation is organized: its assignee, state, snooze and unread mark; the snoozes that fall
//! due; and the candidates of round-robin assignment.

use super::{Conn, StoreError};

/// Assigns a conversation (`None`: unassigns); `false` when it is not the workspace's.
pub async fn set_assignee(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    assignee: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET assignee_user_id = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), assignee.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Sets a conversation's state and snooze together (a snooze ends when the state changes without one).
pub async fn set_state(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    status: &str,
    snoozed_until: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET status = $3, snoozed_until = $4, updated_at = $5
             WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), status.into(), snoozed_until.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Marks a conversation unread: at least one unread message.
pub async fn mark_unread(conn: &mut Conn, workspace_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET unread_count = CASE WHEN unread_count < 1 THEN 1 ELSE unread_count END,
                updated_at = $3
             WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Ends every snooze due by `now`: the conversation opens again. Returns the (workspace, conversation) pairs that
/// reopened, for their inbox events.
pub async fn reopen_due(conn: &mut Conn, now: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = conn
        .fetch_all(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = $1
             WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1
             RETURNING workspace_id, id",
            &[now.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.int(0)?, r.int(1)?))).collect()
}

/// Whether a user is an active member of the workspace (an assignee must be).
pub async fn is_active_member(conn: &mut Conn, workspace_id: i64, user_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .fetch_optional(
            "SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2 AND status = 'active'",
            &[workspace_id.into(), user_id.into()],
        )
        .await?
        .is_some())
}

/// Records that a member is active in the inbox now (`memberships.last_seen_at`, what "online" means for
/// round-robin assignment); only when the last record is older than `every` milliseconds.
pub async fn touch_member(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    now: i64,
    every: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE memberships SET last_seen_at = $3
         WHERE workspace_id = $1 AND user_id = $2 AND (last_seen_at IS NULL OR last_seen_at <= $4)",
        &[workspace_id.into(), user_id.into(), now.into(), (now - every).into()],
    )
    .await?;
    Ok(())
}

/// The active agents seen since `online_since`, by user id: the round-robin candidates.
pub async fn online_agents(conn: &mut Conn, workspace_id: i64, online_since: i64) -> Result<Vec<i64>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT user_id FROM memberships
             WHERE workspace_id = $1 AND role = 'agent' AND status = 'active' AND last_seen_at >= $2
             ORDER BY user_id",
            &[workspace_id.into(), online_since.into()],
        )
        .await?;
    rows.iter().map(|r| r.int(0)).collect()
}

/// Who the round-robin last assigned to in a workspace.
pub async fn last_auto_assigned(conn: &mut Conn, workspace_id: i64) -> Result<Option<i64>, StoreError> {
    match conn
        .fetch_optional("SELECT auto_assign_last_user FROM workspaces WHERE id = $1", &[workspace_id.into()])
        .await?
    {
        Some(row) => row.opt_int(0),
        None => Ok(None),
    }
}

/// Remembers who the round-robin assigned to last.
pub async fn set_last_auto_assigned(conn: &mut Conn, workspace_id: i64, user_id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE workspaces SET auto_assign_last_user = $2 WHERE id = $1",
        &[workspace_id.into(), user_id.into()],
    )
    .await
    .map(drop)
}

/// Assigns a conversation only while it has nobody (round-robin never takes one from a person).
pub async fn assign_if_unassigned(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET assignee_user_id = $3, updated_at = $4
             WHERE workspace_id = $1 AND id = $2 AND assignee_user_id IS NULL",
            &[workspace_id.into(), id.into(), user_id.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// The names of the workspace's members by user id, for note authors and the assignee select (all members, active
/// or not: an old note keeps its author's name).
pub async fn member_names(conn: &mut Conn, workspace_id: i64) -> Result<Vec<(i64, String, bool)>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT u.id, u.name, CASE WHEN m.status = 'active' THEN 1 ELSE 0 END
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = $1 ORDER BY lower(u.name), u.id",
            &[workspace_id.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.int(0)?, r.text(1)?, r.int(2)? == 1))).collect()
}
