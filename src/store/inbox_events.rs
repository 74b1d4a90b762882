//! The inbox's change log: one row per change an open inbox must show (a new message, a status change, a
//! conversation assigned, tagged, moved). Live streams send them in id order and a reconnecting page resumes after
//! the last id it saw, so a network blip loses nothing. Rows are small and pruned after a day.

use super::{Conn, Row, StoreError, Value};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A message was added to the conversation (inbound, outbound or a note); `message_id` is set.
    Message,
    /// A message's delivery state changed (sent, delivered, read, failed); `message_id` is set.
    Status,
    /// The conversation itself changed: assignee, state, snooze, tags, unread count, contact details.
    Conversation,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Status => "status",
            Self::Conversation => "conversation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "message" => Some(Self::Message),
            "status" => Some(Self::Status),
            "conversation" => Some(Self::Conversation),
            _ => None,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub message_id: Option<i64>,
    pub kind: EventKind,
    pub created_at: i64,
}

fn event(row: &Row) -> Result<InboxEvent, StoreError> {
    let kind = row.text(4)?;
    Ok(InboxEvent {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        conversation_id: row.int(2)?,
        message_id: row.opt_int(3)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Decode { column: 4, detail: format!("unknown inbox event kind {kind}") })?,
        created_at: row.int(5)?,
    })
}

/// Records a change inside the caller's write transaction; this process's live streams are told once it commits.
pub async fn record(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    message_id: Option<i64>,
    kind: EventKind,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO inbox_events (workspace_id, conversation_id, message_id, kind, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[workspace_id.into(), conversation_id.into(), message_id.into(), kind.as_str().into(), now.into()],
    )
    .await?;
    conn.signal_inbox_on_commit();
    Ok(())
}

/// A workspace's events after `after_id`, oldest first.
pub async fn since(
    conn: &mut Conn,
    workspace_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<InboxEvent>, StoreError> {
    conn.fetch_all(
        "SELECT id, workspace_id, conversation_id, message_id, kind, created_at FROM inbox_events
         WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        &[workspace_id.into(), after_id.into(), limit.into()],
    )
    .await?
    .iter()
    .map(event)
    .collect()
}

/// The id of a workspace's latest event (0 without any): a page rendered now resumes its stream from here.
pub async fn latest_id(conn: &mut Conn, workspace_id: i64) -> Result<i64, StoreError> {
    conn.fetch_one("SELECT COALESCE(MAX(id), 0) FROM inbox_events WHERE workspace_id = $1", &[workspace_id.into()])
        .await?
        .int(0)
}

/// The oldest event id still kept for a workspace: a stream resuming from before it has missed pruned events.
pub async fn oldest_id(conn: &mut Conn, workspace_id: i64) -> Result<Option<i64>, StoreError> {
    conn.fetch_one("SELECT MIN(id) FROM inbox_events WHERE workspace_id = $1", &[workspace_id.into()]).await?.opt_int(0)
}

/// Removes events older than `before` (every workspace); returns how many.
pub async fn prune(conn: &mut Conn, before: i64) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM inbox_events WHERE created_at < $1", &[before.into()]).await
}

/// Records a change of one message (found by id in the workspace) inside the caller's write transaction; nothing
/// when the message is not there. One statement, so the hot paths need not read the conversation first.
pub async fn record_for_message(
    conn: &mut Conn,
    workspace_id: i64,
    message_id: i64,
    kind: EventKind,
    now: i64,
) -> Result<(), StoreError> {
    let found = "workspace_id = $1 AND id = $2";
    record_found(conn, found, &[workspace_id.into(), message_id.into()], kind, now).await
}

/// Records a change of the message a provider knows by `provider_message_id` on a number (a status report);
/// nothing when no message has that id yet (its status is applied, and shown, once the send records the id).
pub async fn record_for_provider_message(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    provider_message_id: &str,
    kind: EventKind,
    now: i64,
) -> Result<(), StoreError> {
    let found = "workspace_id = $1 AND account_id = $2 AND provider_message_id = $3";
    let params = [workspace_id.into(), account_id.into(), provider_message_id.into()];
    record_found(conn, found, &params, kind, now).await
}

/// Records `kind` for the messages `condition` finds (its parameters first, then the kind and the time), in one
/// statement; the live streams are told only when something was recorded.
async fn record_found(
    conn: &mut Conn,
    condition: &str,
    params: &[Value],
    kind: EventKind,
    now: i64,
) -> Result<(), StoreError> {
    let (k, t) = (params.len() + 1, params.len() + 2);
    let sql = format!(
        "INSERT INTO inbox_events (workspace_id, conversation_id, message_id, kind, created_at)
         SELECT workspace_id, conversation_id, id, ${k}, ${t} FROM messages WHERE {condition}"
    );
    let mut all = params.to_vec();
    all.extend([kind.as_str().into(), now.into()]);
    if conn.execute(&sql, &all).await? > 0 {
        conn.signal_inbox_on_commit();
    }
    Ok(())
}

/// A workspace's events after `after_id`, oldest first, each with the assignee of its conversation (the live
/// streams filter by it in one query per batch). Events of deleted conversations are left out.
pub async fn since_with_assignee(
    conn: &mut Conn,
    workspace_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(InboxEvent, Option<i64>)>, StoreError> {
    conn.fetch_all(
        "SELECT e.id, e.workspace_id, e.conversation_id, e.message_id, e.kind, e.created_at, c.assignee_user_id
         FROM inbox_events e JOIN conversations c ON c.id = e.conversation_id AND c.workspace_id = e.workspace_id
         WHERE e.workspace_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3",
        &[workspace_id.into(), after_id.into(), limit.into()],
    )
    .await?
    .iter()
    .map(|row| Ok((event(row)?, row.opt_int(6)?)))
    .collect()
}
