//! The data layer: one handle over SQLite or Postgres, chosen by URL, and the queries written once for both.
//!
//! Query text is shared between the backends: write placeholders as `$1…$N` (the SQLite side rewrites them to
//! `?1…?N`, because SQLite reads `$1` as a *named* parameter numbered by first appearance). Values are
//! represented the same way in both: BIGINT ids, BIGINT unix-millisecond UTC timestamps, 0/1 BIGINT flags, JSON as
//! TEXT, so a logical export from one backend imports into the other unchanged.
//!
//! Services own transactions: they take a [`Conn`] from [`Db::read`] or [`Db::write`], call the per-table functions
//! in this module's children with it, and commit.

pub mod accounts;
pub mod api_keys;
pub mod audit;
mod conn;
pub mod contacts;
pub mod conversations;
pub mod dashboard;
pub mod domains;
mod error;
pub mod inbox_events;
pub mod inbox_settings;
pub mod jobs;
pub mod maintenance;
pub mod media;
pub mod message_templates;
pub mod messages;
pub mod migrate;
pub mod organize;
mod postgres;
pub mod probe;
pub mod quick_replies;
pub mod search;
pub mod security;
pub mod sessions;
pub mod settings;
mod sqlite;
pub mod stats;
pub mod tags;
pub mod transfer;
mod value;
pub mod whatsapp_accounts;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use conn::Conn;
pub use error::StoreError;
pub use value::{Row, Value};

use crate::config::DatabaseUrl;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A cheap-to-clone handle on the instance's database.
#[derive(Clone)]
pub struct Db {
    inner: Inner,
    job_wake: Arc<Notify>,
    /// A generation counter bumped after every commit that recorded inbox events in this process.
    inbox_signal: Arc<tokio::sync::watch::Sender<u64>>,
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

/// Facts about the database server, for the requirement checks and the start-up banner.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub backend: Backend,
    /// For example `3.50.4` or `16.4`.
    pub version: String,
    /// Postgres only: the database's encoding (Conversure needs UTF8).
    pub encoding: Option<String>,
}

impl Db {
    /// Opens (for SQLite: creates) the database; fails with a message that names the problem.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let inner = match url {
            DatabaseUrl::Sqlite(path) => Inner::Sqlite(sqlite::SqliteDb::open(path).await?),
            DatabaseUrl::Postgres(url) => Inner::Postgres(postgres::PgDb::connect(url.expose()).await?),
        };
        Ok(Self {
            inner,
            job_wake: Arc::new(Notify::new()),
            inbox_signal: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// Opens an SQLite file that nothing writes to (a backup's snapshot copy) read-only: opening, reading and
    /// closing it leave its bytes as they are, so it can be archived while it is being read.
    pub async fn open_read_only_sqlite(path: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Self {
            inner: Inner::Sqlite(sqlite::SqliteDb::open_read_only(path).await?),
            job_wake: Arc::new(Notify::new()),
            inbox_signal: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// Postgres: listens for jobs enqueued by other nodes and wakes this node's workers; returns only when the
    /// listener cannot continue (SQLite: never returns, there are no other nodes).
    pub async fn forward_job_notifications(&self) {
        match &self.inner {
            Inner::Sqlite(_) => std::future::pending::<()>().await,
            Inner::Postgres(db) => db.forward_notifications(jobs::NOTIFY_CHANNEL, self.job_wakeups()).await,
        }
    }

    /// Notified whenever a transaction that enqueued jobs commits in this process.
    pub fn job_wakeups(&self) -> Arc<Notify> {
        Arc::clone(&self.job_wake)
    }

    /// Changes whenever a transaction of this process that recorded inbox events commits: live streams wait on it,
    /// then read the events after the last one they sent.
    pub fn inbox_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inbox_signal.subscribe()
    }

    /// Bumps [`Self::inbox_changes`] by hand (Postgres: when another node's events arrive by NOTIFY).
    pub fn signal_inbox(&self) {
        self.inbox_signal.send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reading (SQLite: one of the reader connections; Postgres: a pooled connection).
    pub async fn read(&self) -> Result<Conn, StoreError> {
        match &self.inner {
            Inner::Sqlite(db) => db.read().await.map(Conn::from),
            Inner::Postgres(db) => db.read().await.map(Conn::from),
        }
        .map(|c| c.with_wake(self.job_wakeups(), Arc::clone(&self.inbox_signal)))
    }

    /// A write transaction (SQLite: `BEGIN IMMEDIATE` on the single writer; Postgres: `BEGIN`).
    /// Dropping it without [`Conn::commit`] rolls back.
    pub async fn write(&self) -> Result<Conn, StoreError> {
        match &self.inner {
            Inner::Sqlite(db) => db.write().await.map(Conn::from),
            Inner::Postgres(db) => db.write().await.map(Conn::from),
        }
        .map(|c| c.with_wake(self.job_wakeups(), Arc::clone(&self.inbox_signal)))
    }

    /// A read connection inside one transaction that sees a single snapshot of the whole database (Postgres:
    /// `REPEATABLE READ READ ONLY`; SQLite: one read transaction on a reader), for consistent exports.
    pub(crate) async fn read_snapshot(&self) -> Result<Conn, StoreError> {
        match &self.inner {
            Inner::Sqlite(db) => db.read_snapshot().await.map(Conn::from),
            Inner::Postgres(db) => db.read_snapshot().await.map(Conn::from),
        }
    }

    /// SQLite: writes a consistent physical copy of the database into the new file `dest` without holding the
    /// writer (ingestion keeps running) and returns true. Postgres has no physical snapshot here: returns false.
    pub async fn sqlite_snapshot(&self, dest: &std::path::Path) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Sqlite(db) => db.snapshot(dest).await.map(|()| true),
            Inner::Postgres(_) => Ok(false),
        }
    }

    /// Proves the database answers a query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let probe = async {
            let mut conn = self.read().await?;
            conn.fetch_one("SELECT 1", &[]).await.map(drop)
        };
        tokio::time::timeout(timeout, probe)
            .await
            .map_err(|_| StoreError::Unavailable("the database did not answer in time".into()))?
    }

    /// Version and encoding of the database server.
    pub async fn server_info(&self) -> Result<ServerInfo, StoreError> {
        let mut conn = self.read().await?;
        let (sql, backend) = match self.backend() {
            Backend::Sqlite => ("SELECT sqlite_version(), NULL", Backend::Sqlite),
            Backend::Postgres => (
                "SELECT current_setting('server_version'), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()",
                Backend::Postgres,
            ),
        };
        let row = conn.fetch_one(sql, &[]).await?;
        Ok(ServerInfo { backend, version: row.text(0)?, encoding: row.opt_text(1)? })
    }

    /// Waits for in-flight work and closes every connection.
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(db) => db.close().await,
            Inner::Postgres(db) => db.close().await,
        }
    }
}

/// Milliseconds since the Unix epoch, the one timestamp representation in both backends.
pub fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn millis_are_recent() {
        // 2024-01-01 as a floor catches seconds-vs-millis mistakes.
        assert!(super::now_millis() > 1_704_067_200_000);
    }
}
