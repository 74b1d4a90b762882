//! Sending allowances, checked when a message is written (so the composer and the API can say why at once):
//! the number's warm-up quota per local day, Meta's messaging limit on business-initiated conversations, and
//! each agent's daily quota. The `quota-reset` schedule starts each number's new day at local midnight and
//! advances its warm-up week.

use super::WhatsAppError;
use super::numbers::{day_number, local_day, workspace_timezone};
use crate::domain::message::warmup_quota;
use crate::store::whatsapp_accounts::{self, AccountRow};
use crate::store::{Conn, Db, StoreError, accounts, messages, now_millis};

const DAY_MS: i64 = 86_400_000;

/// Weeks since the number's warm-up started, by the workspace's local dates.
pub fn warmup_week(row: &AccountRow, timezone: &str, now: i64) -> i64 {
    let (_, today) = local_day(timezone, now);
    day_number(&row.warmup_started_on).map_or(0, |start| ((today - start) / 7).max(0))
}

/// How a number looks from here: `disabled`, `failing` after a failed connection test, `connected` once a test
/// passed or a webhook arrived, else `pending`.
pub fn connection_state(row: &AccountRow) -> &'static str {
    match (row.status.as_str(), row.last_test_ok, row.last_webhook_at) {
        ("disabled", _, _) => "disabled",
        (_, Some(false), _) => "failing",
        (_, Some(true), _) | (_, None, Some(_)) => "connected",
        _ => "pending",
    }
}

/// Today's warm-up cap of a number (`None` when warm-up is off).
pub fn daily_cap(row: &AccountRow, timezone: &str, now: i64) -> Option<i64> {
    if !row.warmup_enabled {
        return None;
    }
    warmup_quota(&warmup_schedule(row), warmup_week(row, timezone, now))
}

/// A number's stored warm-up schedule (`20,50,100,1000`) as messages per day by week.
pub fn warmup_schedule(row: &AccountRow) -> Vec<i64> {
    row.warmup_schedule.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

/// What a new outbound message is checked against.
pub struct SendCheck<'a> {
    pub account: &'a AccountRow,
    pub conversation_id: i64,
    /// The user writing it (API keys have no per-agent quota).
    pub user_id: Option<i64>,
    /// A business-initiated message (a template outside the window): counts against Meta's messaging limit.
    pub business_initiated: bool,
}

/// The first allowance a new message would exceed, without counting it: the one rule [`consume`] enforces and
/// the composer shows before anything is typed. `None` when the message may go.
pub async fn refusal(conn: &mut Conn, check: &SendCheck<'_>) -> Result<Option<WhatsAppError>, WhatsAppError> {
    Ok(assess(conn, check).await?.refused)
}

/// Counts a new outbound message against the allowances, inside the transaction that writes it; refuses with the
/// reason when one is used up.
pub async fn consume(conn: &mut Conn, check: &SendCheck<'_>) -> Result<(), WhatsAppError> {
    let assessed = assess(conn, check).await?;
    if let Some(refused) = assessed.refused {
        return Err(refused);
    }
    // Counted by one conditional update: two sends racing for the last unit cannot both pass.
    let account = check.account;
    if !whatsapp_accounts::consume_quota(conn, account.workspace_id, account.id, &assessed.today, assessed.cap).await? {
        return Err(WhatsAppError::refused("quota_exceeded", "whatsapp.quota_exceeded"));
    }
    Ok(())
}

/// What [`assess`] found: the refusal, if any, and the number's local day and warm-up cap.
struct Assessment {
    refused: Option<WhatsAppError>,
    today: String,
    cap: Option<i64>,
}

async fn assess(conn: &mut Conn, check: &SendCheck<'_>) -> Result<Assessment, WhatsAppError> {
    let account = check.account;
    let now = now_millis();
    let timezone = workspace_timezone(conn, account.workspace_id).await?;
    let (today, _) = local_day(&timezone, now);
    let cap = daily_cap(account, &timezone, now);
    let refused =
        |code, key| Ok(Assessment { refused: Some(WhatsAppError::refused(code, key)), today: today.clone(), cap });

    if let Some(user_id) = check.user_id {
        let start = local_midnight(&timezone, now);
        let member = accounts::member_of(conn, account.workspace_id, user_id, start).await?;
        if let Some(member) = member
            && member.daily_quota.is_some_and(|quota| member.sent_today >= quota)
        {
            return refused("agent_quota_exceeded", "whatsapp.agent_quota_exceeded");
        }
    }
    if check.business_initiated
        && let Some(limit) = account.messaging_limit
        && !messages::contact_initiated_since(conn, account.workspace_id, check.conversation_id, now - DAY_MS).await?
        && messages::business_initiated_contacts_since(conn, account.workspace_id, account.id, now - DAY_MS).await?
            >= limit
    {
        return refused("messaging_limit_reached", "whatsapp.messaging_limit_reached");
    }
    let sent_today = if account.quota_day.as_deref() == Some(today.as_str()) { account.sent_today } else { 0 };
    if cap.is_some_and(|cap| sent_today >= cap) {
        return refused("quota_exceeded", "whatsapp.quota_exceeded");
    }
    Ok(Assessment { refused: None, today, cap })
}

/// Local midnight today in a time zone, in unix milliseconds.
fn local_midnight(timezone: &str, now: i64) -> i64 {
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = jiff::Timestamp::from_millisecond(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_zoned(tz.clone());
    zoned.date().to_zoned(tz).map_or(now - now.rem_euclid(DAY_MS), |z| z.timestamp().as_millisecond())
}

/// Starts the new day of every number whose workspace passed midnight since its last reset: the count back to
/// zero and the warm-up week advanced. Returns how many numbers changed.
pub async fn reset_days(db: &Db, now: i64) -> Result<usize, StoreError> {
    let mut tx = db.write().await?;
    let mut changed = 0;
    for (row, timezone) in whatsapp_accounts::all_with_timezone(&mut tx).await? {
        let (today, _) = local_day(&timezone, now);
        if whatsapp_accounts::reset_day(&mut tx, row.id, &today, warmup_week(&row, &timezone, now), now).await? {
            changed += 1;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// The `quota-reset` schedule: every 15 minutes, so each workspace's midnight (whatever its offset, including
/// half- and quarter-hour zones) is picked up within a quarter of an hour.
pub fn schedule(db: &Db) -> Result<crate::jobs::cron::Schedule, String> {
    let db = db.clone();
    crate::jobs::cron::Schedule::new("quota-reset", "*/15 * * * *", true, move || {
        let db = db.clone();
        async move {
            let changed = reset_days(&db, now_millis()).await.map_err(|e| e.to_string())?;
            Ok(format!("started a new day for {changed} numbers"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(started: &str, enabled: bool) -> AccountRow {
        AccountRow {
            id: 1,
            workspace_id: 1,
            name: "n".into(),
            provider: "evolution".into(),
            phone: "+15550100".into(),
            account_key: "k".into(),
            credentials: String::new(),
            webhook_secret: String::new(),
            api_base_url: None,
            status: "active".into(),
            warmup_enabled: enabled,
            warmup_schedule: "20,50,100,1000".into(),
            warmup_started_on: started.into(),
            warmup_week: 0,
            quota_day: None,
            sent_today: 0,
            messaging_limit: None,
            throughput_per_second: 10,
            connection_state: None,
            last_test_at: None,
            last_test_ok: None,
            last_test_detail: None,
            last_webhook_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn warmup_advances_by_local_week() {
        let r = row("2026-11-01", true);
        assert_eq!(daily_cap(&r, "UTC", at("2026-11-01T10:00:00Z")), Some(20));
        assert_eq!(daily_cap(&r, "UTC", at("2026-11-07T23:59:00Z")), Some(20));
        assert_eq!(daily_cap(&r, "UTC", at("2026-11-08T00:00:00Z")), Some(50));
        assert_eq!(daily_cap(&r, "UTC", at("2026-11-20T00:00:00Z")), Some(100));
        assert_eq!(daily_cap(&r, "UTC", at("2027-01-20T00:00:00Z")), Some(1000));
        // 22:30 UTC on the 7th is already the 8th in Tokyo: week two there.
        assert_eq!(daily_cap(&r, "Asia/Tokyo", at("2026-11-07T22:30:00Z")), Some(50));
        assert_eq!(daily_cap(&row("2026-11-01", false), "UTC", at("2026-11-01T10:00:00Z")), None);
    }

    #[test]
    fn local_midnight_follows_the_zone() {
        assert_eq!(local_midnight("UTC", at("2026-11-22T15:00:00Z")), at("2026-11-22T00:00:00Z"));
        assert_eq!(local_midnight("Asia/Kolkata", at("2026-11-22T15:00:00Z")), at("2026-11-21T18:30:00Z"));
    }
}
