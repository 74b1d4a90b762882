//! Quick replies: canned answers typed as `/shortcut`, workspace-wide (`user_id` NULL) or one member's own.

use super::{Conn, Row, StoreError};

/// A canned answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReply {
    pub id: i64,
    pub workspace_id: i64,
    /// The member it belongs to; `None` for a workspace-wide one.
    pub user_id: Option<i64>,
    pub shortcut: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, user_id, shortcut, body, created_at, updated_at";

fn quick_reply(row: &Row) -> Result<QuickReply, StoreError> {
    Ok(QuickReply {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        user_id: row.opt_int(2)?,
        shortcut: row.text(3)?,
        body: row.text(4)?,
        created_at: row.int(5)?,
        updated_at: row.int(6)?,
    })
}

/// The workspace-wide replies and `user_id`'s own whose shortcut starts with `prefix` (all for an empty one), by
/// shortcut, a member's own before a workspace-wide one of the same shortcut.
pub async fn list(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: Option<i64>,
    prefix: &str,
) -> Result<Vec<QuickReply>, StoreError> {
    // A prefix comparison rather than LIKE: `_` is a LIKE wildcard and a valid shortcut character.
    let sql = format!(
        "SELECT {COLUMNS} FROM quick_replies
         WHERE workspace_id = $1 AND (user_id IS NULL OR user_id = $2) AND SUBSTR(shortcut, 1, CAST($3 AS INTEGER)) = $4
         ORDER BY shortcut, COALESCE(user_id, 0) DESC, id"
    );
    let length = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
    let rows = conn.fetch_all(&sql, &[workspace_id.into(), user_id.into(), length.into(), prefix.into()]).await?;
    rows.iter().map(quick_reply).collect()
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<QuickReply>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM quick_replies WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(quick_reply).transpose()
}

/// Whether the owner (`None`: the workspace) already has this shortcut on another reply than `except`.
pub async fn shortcut_taken(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: Option<i64>,
    shortcut: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT id FROM quick_replies
             WHERE workspace_id = $1 AND COALESCE(user_id, 0) = $2 AND shortcut = $3 AND id <> $4",
            &[workspace_id.into(), user_id.unwrap_or(0).into(), shortcut.into(), except.unwrap_or(0).into()],
        )
        .await?;
    Ok(row.is_some())
}

pub async fn create(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: Option<i64>,
    shortcut: &str,
    body: &str,
    now: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO quick_replies (workspace_id, user_id, shortcut, body, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        &[workspace_id.into(), user_id.into(), shortcut.into(), body.into(), now.into()],
    )
    .await?
    .int(0)
}

/// `false` when it does not exist in the workspace.
pub async fn update(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    shortcut: &str,
    body: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE quick_replies SET shortcut = $3, body = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), shortcut.into(), body.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// `false` when it does not exist in the workspace.
pub async fn delete(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute("DELETE FROM quick_replies WHERE workspace_id = $1 AND id = $2", &[workspace_id.into(), id.into()])
        .await?;
    Ok(changed == 1)
}
