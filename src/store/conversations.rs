//! Conversations: one per contact and number, with the counters the inbox lists by (unread, last message, the
//! customer's last message that opens the 24-hour window).

use super::{Conn, Row, StoreError, Value};

/// A conversation with its contact and number, as lists and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: i64,
    pub workspace_id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub contact_id: i64,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub status: String,
    pub assignee_user_id: Option<i64>,
    pub provider_thread: Option<String>,
    pub unread_count: i64,
    pub last_message_at: Option<i64>,
    pub last_message_preview: Option<String>,
    pub last_inbound_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT c.id, c.workspace_id, c.account_id, a.name, c.contact_id, k.name, k.phone, c.status,
        c.assignee_user_id, c.provider_thread, c.unread_count, c.last_message_at, c.last_message_preview,
        c.last_inbound_at, c.created_at, c.updated_at
    FROM conversations c
    JOIN whatsapp_accounts a ON a.id = c.account_id
    JOIN contacts k ON k.id = c.contact_id";

fn conversation(row: &Row) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        account_id: row.int(2)?,
        account_name: row.text(3)?,
        contact_id: row.int(4)?,
        contact_name: row.text(5)?,
        contact_phone: row.opt_text(6)?,
        status: row.text(7)?,
        assignee_user_id: row.opt_int(8)?,
        provider_thread: row.opt_text(9)?,
        unread_count: row.int(10)?,
        last_message_at: row.opt_int(11)?,
        last_message_preview: row.opt_text(12)?,
        last_inbound_at: row.opt_int(13)?,
        created_at: row.int(14)?,
        updated_at: row.int(15)?,
    })
}

/// The conversation of a contact on a number, created when it does not exist yet; returns its id.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    contact_id: i64,
    thread: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO conversations (workspace_id, account_id, contact_id, provider_thread, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (account_id, contact_id)
         DO UPDATE SET provider_thread = COALESCE(excluded.provider_thread, conversations.provider_thread)
         RETURNING id",
        &[workspace_id.into(), account_id.into(), contact_id.into(), thread.into(), now.into()],
    )
    .await?
    .int(0)
}

/// A new customer message: one more unread, the window restarts, and a resolved or archived conversation
/// opens again.
pub async fn note_inbound(conn: &mut Conn, id: i64, at: i64, preview: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET unread_count = unread_count + 1,
            last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $2 ELSE last_message_at END,
            last_message_preview = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $3 ELSE last_message_preview END,
            last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 ELSE last_inbound_at END,
            status = CASE WHEN status IN ('resolved', 'archived') THEN 'open' ELSE status END,
            updated_at = $4
         WHERE id = $1",
        &[id.into(), at.into(), preview.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// A message from the business: the conversation's latest activity.
pub async fn note_outbound(conn: &mut Conn, id: i64, at: i64, preview: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET
            last_message_preview = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $3 ELSE last_message_preview END,
            last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at <= $2 THEN $2 ELSE last_message_at END,
            updated_at = $4
         WHERE id = $1",
        &[id.into(), at.into(), preview.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// The agent has read everything: no unread messages left.
pub async fn mark_read(conn: &mut Conn, workspace_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE conversations SET unread_count = 0, updated_at = $3 WHERE workspace_id = $1 AND id = $2",
            &[workspace_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Remembers the provider's conversation id (Chatwoot) once a send learned it.
pub async fn set_thread(conn: &mut Conn, id: i64, thread: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE conversations SET provider_thread = $2 WHERE id = $1", &[id.into(), thread.into()]).await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Conversation>, StoreError> {
    let sql = format!("{SELECT} WHERE c.workspace_id = $1 AND c.id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(conversation).transpose()
}

/// What a conversation list is filtered by; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub account_id: Option<i64>,
    pub status: Option<String>,
    /// `Some(None)`: unassigned only.
    pub assignee: Option<Option<i64>>,
    /// Matches the contact's name or phone (substring, case-insensitive).
    pub query: Option<String>,
    /// Only conversations this user may see as an agent: assigned to them or to nobody.
    pub visible_to: Option<i64>,
}

/// A page of conversations, most recent activity first. `after` is the last row of the previous page
/// (its `last_message_at` or `created_at`, and id): keyset pagination stays fast and stable while rows change.
pub async fn list(
    conn: &mut Conn,
    workspace_id: i64,
    filter: &Filter,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<Conversation>, StoreError> {
    let mut sql = format!("{SELECT} WHERE c.workspace_id = $1");
    let mut params: Vec<Value> = vec![workspace_id.into()];
    // Appends a condition whose `?` is the next parameter (used once or several times).
    let mut bind = |sql: &mut String, clause: &str, value: Value| {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", params.len())));
    };
    if let Some(account) = filter.account_id {
        bind(&mut sql, " AND c.account_id = ?", account.into());
    }
    if let Some(status) = &filter.status {
        bind(&mut sql, " AND c.status = ?", status.as_str().into());
    }
    match filter.assignee {
        Some(Some(user)) => bind(&mut sql, " AND c.assignee_user_id = ?", user.into()),
        Some(None) => sql.push_str(" AND c.assignee_user_id IS NULL"),
        None => {}
    }
    if let Some(user) = filter.visible_to {
        bind(&mut sql, " AND (c.assignee_user_id IS NULL OR c.assignee_user_id = ?)", user.into());
    }
    if let Some(query) = filter.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", query.to_lowercase().replace(['%', '_'], ""));
        bind(&mut sql, " AND (LOWER(k.name) LIKE ? OR k.phone LIKE ?)", pattern.into());
    }
    if let Some((at, id)) = after {
        params.push(at.into());
        params.push(id.into());
        let (a, b) = (params.len() - 1, params.len());
        sql.push_str(&format!(
            " AND (COALESCE(c.last_message_at, c.created_at) < ${a} OR (COALESCE(c.last_message_at, c.created_at) = ${a} AND c.id < ${b}))"
        ));
    }
    params.push(limit.into());
    sql.push_str(&format!(
        " ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT ${}",
        params.len()
    ));
    conn.fetch_all(&sql, &params).await?.iter().map(conversation).collect()
}
