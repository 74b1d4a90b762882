//! Messages and their delivery statuses: inserted once per (number, provider id), statuses recorded once per
//! (message, status) and applied only upwards, and statuses that arrive before their message kept until it does.

use super::{Conn, Row, StoreError};

/// A message as the thread and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub account_id: i64,
    /// `inbound`, `outbound` or `note`.
    pub direction: String,
    pub provider_message_id: Option<String>,
    pub kind: String,
    pub body: Option<String>,
    /// JSON details (template, media, location, reaction, reply, context).
    pub payload: Option<String>,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub sent_by_user_id: Option<i64>,
    pub send_attempts: i64,
    pub occurred_at: i64,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, conversation_id, account_id, direction, provider_message_id, kind, body, payload, \
    status, error_code, error_message, sent_by_user_id, send_attempts, occurred_at, sent_at, delivered_at, read_at, \
    failed_at, created_at, updated_at";

fn message(row: &Row) -> Result<Message, StoreError> {
    Ok(Message {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        conversation_id: row.int(2)?,
        account_id: row.int(3)?,
        direction: row.text(4)?,
        provider_message_id: row.opt_text(5)?,
        kind: row.text(6)?,
        body: row.opt_text(7)?,
        payload: row.opt_text(8)?,
        status: row.text(9)?,
        error_code: row.opt_text(10)?,
        error_message: row.opt_text(11)?,
        sent_by_user_id: row.opt_int(12)?,
        send_attempts: row.int(13)?,
        occurred_at: row.int(14)?,
        sent_at: row.opt_int(15)?,
        delivered_at: row.opt_int(16)?,
        read_at: row.opt_int(17)?,
        failed_at: row.opt_int(18)?,
        created_at: row.int(19)?,
        updated_at: row.int(20)?,
    })
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub account_id: i64,
    pub direction: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub kind: &'a str,
    pub body: Option<&'a str>,
    pub payload: Option<&'a str>,
    pub status: &'a str,
    pub sent_by_user_id: Option<i64>,
    pub occurred_at: i64,
    pub now: i64,
}

/// Whether a message with this provider id is stored already (the cheap check before resolving its contact).
pub async fn exists(conn: &mut Conn, account_id: i64, provider_message_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .fetch_optional(
            "SELECT 1 FROM messages WHERE account_id = $1 AND provider_message_id = $2",
            &[account_id.into(), provider_message_id.into()],
        )
        .await?
        .is_some())
}

/// Stores a message; `None` when one with the same provider id is stored already (a redelivered webhook).
pub async fn insert(conn: &mut Conn, new: &NewMessage<'_>) -> Result<Option<i64>, StoreError> {
    let row = conn
        .fetch_optional(
            "INSERT INTO messages (workspace_id, conversation_id, account_id, direction, provider_message_id, kind, body,
                payload, status, sent_by_user_id, occurred_at, sent_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $9 = 'sent' THEN $11 END, $12, $12)
             ON CONFLICT (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
             RETURNING id",
            &[
                new.workspace_id.into(),
                new.conversation_id.into(),
                new.account_id.into(),
                new.direction.into(),
                new.provider_message_id.into(),
                new.kind.into(),
                new.body.into(),
                new.payload.into(),
                new.status.into(),
                new.sent_by_user_id.into(),
                new.occurred_at.into(),
                new.now.into(),
            ],
        )
        .await?;
    row.map(|r| r.int(0)).transpose()
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Message>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(message).transpose()
}

/// A page of a conversation's messages, newest first, older than `before` (a message id) when given.
pub async fn thread(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Message>, StoreError> {
    // The page's ids first, from the thread index alone: asked for the rows directly, Postgres estimates a long
    // thread's newest messages as evenly spread and may walk the whole table backwards by id to find them.
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND id IN (
            SELECT id FROM messages WHERE conversation_id = $2 AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4)
         ORDER BY id DESC"
    );
    conn.fetch_all(&sql, &[workspace_id.into(), conversation_id.into(), before.into(), limit.into()])
        .await?
        .iter()
        .map(message)
        .collect()
}

/// The customer's latest message in a conversation that the provider knows by an id (what "mark as read" names).
pub async fn last_inbound(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> Result<Option<Message>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 AND direction = 'inbound'
           AND provider_message_id IS NOT NULL ORDER BY id DESC LIMIT 1"
    );
    conn.fetch_optional(&sql, &[workspace_id.into(), conversation_id.into()]).await?.as_ref().map(message).transpose()
}

/// One status report, as a provider sent it.
#[derive(Debug, Clone)]
pub struct StatusReport<'a> {
    pub workspace_id: i64,
    pub account_id: i64,
    pub provider_message_id: &'a str,
    pub status: &'a str,
    /// [`crate::domain::message::Status::rank`] of `status`.
    pub rank: i64,
    pub occurred_at: i64,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub now: i64,
}

/// The rank of a stored status, in SQL (kept in step with `Status::rank`).
const RANK: &str = "CASE status WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'received' THEN 1 WHEN 'delivered' THEN 2 \
    WHEN 'read' THEN 3 WHEN 'played' THEN 4 WHEN 'failed' THEN 9 ELSE 0 END";

/// Records a status once; returns false for a repeat. A new one is applied to its message if the message is
/// stored (otherwise it waits in `message_statuses` for [`apply_recorded`]).
pub async fn record_status(conn: &mut Conn, report: &StatusReport<'_>) -> Result<bool, StoreError> {
    let new = conn
        .execute(
            "INSERT INTO message_statuses (account_id, provider_message_id, status, workspace_id, occurred_at,
                error_code, error_message, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (account_id, provider_message_id, status) DO NOTHING",
            &[
                report.account_id.into(),
                report.provider_message_id.into(),
                report.status.into(),
                report.workspace_id.into(),
                report.occurred_at.into(),
                report.error_code.into(),
                report.error_message.into(),
                report.now.into(),
            ],
        )
        .await?
        == 1;
    if new {
        apply(conn, report).await?;
    }
    Ok(new)
}

/// Moves a message up to a status: only to a higher rank, never away from `failed`, which keeps its reason.
async fn apply(conn: &mut Conn, report: &StatusReport<'_>) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE messages SET status = $3,
            sent_at = CASE WHEN $3 = 'sent' THEN COALESCE(sent_at, $5) ELSE sent_at END,
            delivered_at = CASE WHEN $3 = 'delivered' THEN COALESCE(delivered_at, $5) ELSE delivered_at END,
            read_at = CASE WHEN $3 IN ('read', 'played') THEN COALESCE(read_at, $5) ELSE read_at END,
            failed_at = CASE WHEN $3 = 'failed' THEN $5 ELSE failed_at END,
            error_code = CASE WHEN $3 = 'failed' THEN $6 ELSE error_code END,
            error_message = CASE WHEN $3 = 'failed' THEN $7 ELSE error_message END,
            updated_at = $8
         WHERE account_id = $1 AND provider_message_id = $2 AND status <> 'failed' AND {RANK} < $4"
    );
    conn.execute(
        &sql,
        &[
            report.account_id.into(),
            report.provider_message_id.into(),
            report.status.into(),
            report.rank.into(),
            report.occurred_at.into(),
            report.error_code.into(),
            report.error_message.into(),
            report.now.into(),
        ],
    )
    .await
}

/// Applies the statuses that arrived before their message got this provider id.
pub async fn apply_recorded(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    provider_message_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT status, occurred_at, error_code, error_message FROM message_statuses
             WHERE account_id = $1 AND provider_message_id = $2",
            &[account_id.into(), provider_message_id.into()],
        )
        .await?;
    for row in rows {
        let status = row.text(0)?;
        let rank = crate::domain::message::Status::parse(&status).map_or(0, |s| i64::from(s.rank()));
        let (code, reason) = (row.opt_text(2)?, row.opt_text(3)?);
        apply(
            conn,
            &StatusReport {
                workspace_id,
                account_id,
                provider_message_id,
                status: &status,
                rank,
                occurred_at: row.int(1)?,
                error_code: code.as_deref(),
                error_message: reason.as_deref(),
                now,
            },
        )
        .await?;
    }
    Ok(())
}

/// A send the provider accepted: its id, `sent`, and the attempt recorded. An echo of the same send stored in the
/// meantime by a webhook (gateways report API sends too) is merged away first, so the send keeps one row.
pub async fn mark_sent(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    account_id: i64,
    provider_message_id: &str,
    attempt: i64,
    now: i64,
) -> Result<bool, StoreError> {
    conn.execute(
        "DELETE FROM messages WHERE account_id = $1 AND provider_message_id = $2 AND id <> $3 AND direction = 'outbound'
            AND send_attempts = 0 AND sent_by_user_id IS NULL AND workspace_id = $4",
        &[account_id.into(), provider_message_id.into(), id.into(), workspace_id.into()],
    )
    .await?;
    let changed = conn
        .execute(
            "UPDATE messages SET provider_message_id = $3, status = 'sent', sent_at = $4, send_attempts = $5,
                error_code = NULL, error_message = NULL, updated_at = $4
             WHERE workspace_id = $1 AND id = $2 AND status = 'pending'",
            &[workspace_id.into(), id.into(), provider_message_id.into(), now.into(), attempt.into()],
        )
        .await?;
    if changed == 1 {
        apply_recorded(conn, workspace_id, account_id, provider_message_id, now).await?;
    }
    Ok(changed == 1)
}

/// A send that failed for good (or whose outcome cannot be known): `failed` with the reason.
pub async fn mark_failed(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    code: &str,
    reason: &str,
    attempt: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE messages SET status = 'failed', error_code = $3, error_message = $4, failed_at = $5,
                send_attempts = $6, updated_at = $5
             WHERE workspace_id = $1 AND id = $2 AND status = 'pending'",
            &[workspace_id.into(), id.into(), code.into(), reason.into(), now.into(), attempt.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// A send attempt that failed but will be retried: the attempt recorded, the last error visible, still pending.
pub async fn note_attempt(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    code: &str,
    reason: &str,
    attempt: i64,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE messages SET error_code = $3, error_message = $4, send_attempts = $5, updated_at = $6
         WHERE workspace_id = $1 AND id = $2 AND status = 'pending'",
        &[workspace_id.into(), id.into(), code.into(), reason.into(), attempt.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Puts a failed outbound message back to `pending` for a new send (a person chose to retry it).
pub async fn requeue(conn: &mut Conn, workspace_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE messages SET status = 'pending', error_code = NULL, error_message = NULL, failed_at = NULL,
                send_attempts = 0, updated_at = $3
             WHERE workspace_id = $1 AND id = $2 AND direction = 'outbound' AND status = 'failed'
               AND provider_message_id IS NULL",
            &[workspace_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Distinct contacts a number started business-initiated conversations with (templates) since a time: what
/// Meta's messaging limit counts.
pub async fn business_initiated_contacts_since(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    since: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "SELECT COUNT(DISTINCT c.contact_id) FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.workspace_id = $1 AND m.account_id = $2 AND m.direction = 'outbound' AND m.kind = 'template'
           AND m.created_at >= $3 AND m.status <> 'failed'",
        &[workspace_id.into(), account_id.into(), since.into()],
    )
    .await?
    .int(0)
}

/// Whether a contact already received a business-initiated message from the number since a time (it then does
/// not count again against the messaging limit).
pub async fn contact_initiated_since(
    conn: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    since: i64,
) -> Result<bool, StoreError> {
    Ok(conn
        .fetch_optional(
            "SELECT 1 FROM messages WHERE workspace_id = $1 AND conversation_id = $2 AND direction = 'outbound'
               AND kind = 'template' AND created_at >= $3 AND status <> 'failed' LIMIT 1",
            &[workspace_id.into(), conversation_id.into(), since.into()],
        )
        .await?
        .is_some())
}

/// Stores a webhook event nobody acts on, raw.
pub async fn store_raw_event(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: i64,
    kind: &str,
    body: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO webhook_events (workspace_id, account_id, kind, body, received_at) VALUES ($1, $2, $3, $4, $5)",
        &[workspace_id.into(), account_id.into(), kind.into(), body.into(), now.into()],
    )
    .await?;
    Ok(())
}
