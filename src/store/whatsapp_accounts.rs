//! Connected WhatsApp numbers: their provider, sealed credentials, webhook key, and the counters their daily quota
//! and warm-up run on.

use super::{Conn, Row, StoreError};

/// A number as stored; `credentials` and `webhook_secret` are sealed (the services open them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    pub provider: String,
    pub phone: String,
    pub account_key: String,
    pub credentials: String,
    pub webhook_secret: String,
    pub api_base_url: Option<String>,
    pub status: String,
    pub warmup_enabled: bool,
    pub warmup_schedule: String,
    pub warmup_started_on: String,
    pub warmup_week: i64,
    pub quota_day: Option<String>,
    pub sent_today: i64,
    pub messaging_limit: Option<i64>,
    pub throughput_per_second: i64,
    pub connection_state: Option<String>,
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_detail: Option<String>,
    pub last_webhook_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, name, provider, phone, account_key, credentials, webhook_secret, api_base_url, \
    status, warmup_enabled, warmup_schedule, warmup_started_on, warmup_week, quota_day, sent_today, messaging_limit, \
    throughput_per_second, connection_state, last_test_at, last_test_ok, last_test_detail, last_webhook_at, \
    created_at, updated_at";

fn account(row: &Row) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        name: row.text(2)?,
        provider: row.text(3)?,
        phone: row.text(4)?,
        account_key: row.text(5)?,
        credentials: row.text(6)?,
        webhook_secret: row.text(7)?,
        api_base_url: row.opt_text(8)?,
        status: row.text(9)?,
        warmup_enabled: row.flag(10)?,
        warmup_schedule: row.text(11)?,
        warmup_started_on: row.text(12)?,
        warmup_week: row.int(13)?,
        quota_day: row.opt_text(14)?,
        sent_today: row.int(15)?,
        messaging_limit: row.opt_int(16)?,
        throughput_per_second: row.int(17)?,
        connection_state: row.opt_text(18)?,
        last_test_at: row.opt_int(19)?,
        last_test_ok: row.opt_int(20)?.map(|v| v != 0),
        last_test_detail: row.opt_text(21)?,
        last_webhook_at: row.opt_int(22)?,
        created_at: row.int(23)?,
        updated_at: row.int(24)?,
    })
}

/// Stores a new number (all fields of the row but its id and counters); returns its id. A number already connected
/// in the workspace is [`StoreError::Conflict`].
pub async fn create(conn: &mut Conn, new: &AccountRow) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO whatsapp_accounts (workspace_id, name, provider, phone, account_key, credentials, webhook_secret,
            api_base_url, status, warmup_enabled, warmup_schedule, warmup_started_on, warmup_week, sent_today,
            messaging_limit, throughput_per_second, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, $13, $14, $15, $15) RETURNING id",
        &[
            new.workspace_id.into(),
            new.name.as_str().into(),
            new.provider.as_str().into(),
            new.phone.as_str().into(),
            new.account_key.as_str().into(),
            new.credentials.as_str().into(),
            new.webhook_secret.as_str().into(),
            new.api_base_url.clone().into(),
            new.status.as_str().into(),
            new.warmup_enabled.into(),
            new.warmup_schedule.as_str().into(),
            new.warmup_started_on.as_str().into(),
            new.messaging_limit.into(),
            new.throughput_per_second.into(),
            new.created_at.into(),
        ],
    )
    .await?
    .int(0)
}

/// Writes the editable fields back (name, credentials, base URL, status, warm-up, limits).
pub async fn update(conn: &mut Conn, row: &AccountRow, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE whatsapp_accounts SET name = $3, credentials = $4, api_base_url = $5, status = $6,
                warmup_enabled = $7, warmup_schedule = $8, messaging_limit = $9, throughput_per_second = $10,
                updated_at = $11
             WHERE workspace_id = $1 AND id = $2",
            &[
                row.workspace_id.into(),
                row.id.into(),
                row.name.as_str().into(),
                row.credentials.as_str().into(),
                row.api_base_url.clone().into(),
                row.status.as_str().into(),
                row.warmup_enabled.into(),
                row.warmup_schedule.as_str().into(),
                row.messaging_limit.into(),
                row.throughput_per_second.into(),
                now.into(),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// The workspace's numbers, in the order they were connected.
pub async fn list(conn: &mut Conn, workspace_id: i64) -> Result<Vec<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM whatsapp_accounts WHERE workspace_id = $1 ORDER BY id");
    conn.fetch_all(&sql, &[workspace_id.into()]).await?.iter().map(account).collect()
}

/// One number of the workspace.
pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM whatsapp_accounts WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(account).transpose()
}

/// The number a webhook URL names. The key is the only tenant scope a provider's call carries: it is random and
/// unguessable, and everything the webhook writes goes to this row's workspace.
pub async fn by_key(conn: &mut Conn, account_key: &str) -> Result<Option<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM whatsapp_accounts WHERE account_key = $1");
    conn.fetch_optional(&sql, &[account_key.into()]).await?.as_ref().map(account).transpose()
}

/// Every number of every workspace with its workspace's time zone (the daily quota reset walks them).
pub async fn all_with_timezone(conn: &mut Conn) -> Result<Vec<(AccountRow, String)>, StoreError> {
    let sql = format!(
        "SELECT {}, w.timezone FROM whatsapp_accounts a JOIN workspaces w ON w.id = a.workspace_id ORDER BY a.id",
        COLUMNS.split(", ").map(|c| format!("a.{}", c.trim())).collect::<Vec<_>>().join(", ")
    );
    conn.fetch_all(&sql, &[]).await?.iter().map(|r| Ok((account(r)?, r.text(25)?))).collect()
}

pub async fn delete(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute("DELETE FROM whatsapp_accounts WHERE workspace_id = $1 AND id = $2", &[workspace_id.into(), id.into()])
        .await?;
    Ok(changed == 1)
}

/// Records the result of "Test connection".
pub async fn set_test_result(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    ok: bool,
    detail: &str,
    at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE whatsapp_accounts SET last_test_at = $3, last_test_ok = $4, last_test_detail = $5
         WHERE workspace_id = $1 AND id = $2",
        &[workspace_id.into(), id.into(), at.into(), ok.into(), detail.into()],
    )
    .await?;
    Ok(())
}

/// Notes that a webhook arrived (and, from gateways that report it, the connection state).
pub async fn touch_webhook(conn: &mut Conn, id: i64, at: i64, state: Option<&str>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE whatsapp_accounts SET last_webhook_at = $2, connection_state = COALESCE($3, connection_state)
         WHERE id = $1",
        &[id.into(), at.into(), state.into()],
    )
    .await?;
    Ok(())
}

/// Counts one business send against today's quota, when it fits: `day` is the workspace's local date, and a new
/// day starts the count afresh (so the quota resets at local midnight even before the reset schedule runs).
/// `limit` `None` counts without a cap. Returns whether the send fits.
pub async fn consume_quota(
    conn: &mut Conn,
    workspace_id: i64,
    id: i64,
    day: &str,
    limit: Option<i64>,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE whatsapp_accounts
             SET sent_today = CASE WHEN quota_day = $3 THEN sent_today + 1 ELSE 1 END, quota_day = $3
             WHERE workspace_id = $1 AND id = $2
               AND ($4 IS NULL OR (CASE WHEN quota_day = $3 THEN sent_today ELSE 0 END) < $4)",
            &[workspace_id.into(), id.into(), day.into(), limit.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Gives back a unit of quota (a send refused after it was counted, e.g. by the per-agent quota).
pub async fn release_quota(conn: &mut Conn, workspace_id: i64, id: i64, day: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE whatsapp_accounts SET sent_today = sent_today - 1
         WHERE workspace_id = $1 AND id = $2 AND quota_day = $3 AND sent_today > 0",
        &[workspace_id.into(), id.into(), day.into()],
    )
    .await?;
    Ok(())
}

/// Starts a new quota day for a number: the count back to zero and the warm-up week set.
pub async fn reset_day(conn: &mut Conn, id: i64, day: &str, warmup_week: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE whatsapp_accounts
             SET sent_today = CASE WHEN quota_day = $2 THEN sent_today ELSE 0 END, quota_day = $2,
                 warmup_week = $3, updated_at = $4
             WHERE id = $1 AND (quota_day IS NULL OR quota_day <> $2 OR warmup_week <> $3)",
            &[id.into(), day.into(), warmup_week.into(), now.into()],
        )
        .await?;
    Ok(changed == 1)
}
