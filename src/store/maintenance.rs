//! Housekeeping queries run by the built-in cron schedules.

use super::{Backend, Conn, StoreError};

/// What a clean-up removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: u64,
    pub tokens: u64,
    pub login_attempts: u64,
    pub jobs: u64,
    /// Inbox change-log rows older than a day: a page that was away longer reloads its list instead.
    pub inbox_events: u64,
}

/// Removes expired sessions, used or expired one-time tokens, old sign-in attempts, finished jobs and day-old
/// inbox events.
pub async fn clean_up(conn: &mut Conn, now: i64) -> Result<Removed, StoreError> {
    const DAY: i64 = 86_400_000;
    Ok(Removed {
        sessions: conn.execute("DELETE FROM sessions WHERE expires_at < $1", &[now.into()]).await?,
        tokens: conn
            .execute("DELETE FROM user_tokens WHERE expires_at < $1 OR used_at < $2", &[now.into(), (now - DAY).into()])
            .await?,
        login_attempts: conn.execute("DELETE FROM login_attempts WHERE created_at < $1", &[(now - DAY).into()]).await?,
        jobs: super::jobs::purge(conn, now - 7 * DAY, now - 30 * DAY).await?,
        inbox_events: super::inbox_events::prune(conn, now - DAY).await?,
    })
}

/// SQLite: folds the write-ahead log into the database and refreshes the planner's statistics. Postgres runs its
/// own autovacuum and needs nothing here. Must run outside a transaction.
pub async fn optimize(conn: &mut Conn) -> Result<&'static str, StoreError> {
    match conn.backend() {
        Backend::Sqlite => {
            conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;").await?;
            Ok("checkpointed and optimized")
        }
        Backend::Postgres => Ok("nothing to do on Postgres (autovacuum)"),
    }
}
