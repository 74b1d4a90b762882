//! [`Conn`]: a read connection or write transaction on either backend, with one set of query methods.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::postgres::PgConn;
use super::sqlite::SqliteConn;
use super::{Backend, Row, StoreError, Value};

/// A connection handed out by [`super::Db::read`] or [`super::Db::write`].
pub struct Conn {
    inner: Inner,
    /// Woken when a transaction that enqueued jobs commits.
    wake: Option<Arc<Notify>>,
    wake_on_commit: bool,
    /// Bumped when a transaction that recorded inbox events commits (the live streams wait on it).
    inbox: Option<Arc<watch::Sender<u64>>>,
    inbox_on_commit: bool,
}

enum Inner {
    Sqlite(SqliteConn),
    Postgres(PgConn),
}

impl From<SqliteConn> for Conn {
    fn from(conn: SqliteConn) -> Self {
        Self { inner: Inner::Sqlite(conn), wake: None, wake_on_commit: false, inbox: None, inbox_on_commit: false }
    }
}

impl From<PgConn> for Conn {
    fn from(conn: PgConn) -> Self {
        Self { inner: Inner::Postgres(conn), wake: None, wake_on_commit: false, inbox: None, inbox_on_commit: false }
    }
}

impl Conn {
    pub(super) fn with_wake(mut self, wake: Arc<Notify>, inbox: Arc<watch::Sender<u64>>) -> Self {
        self.wake = Some(wake);
        self.inbox = Some(inbox);
        self
    }

    /// Tells this process's live inbox streams to look for new events once the transaction commits
    /// ([`super::inbox_events::record`] calls it).
    pub(crate) fn signal_inbox_on_commit(&mut self) {
        self.inbox_on_commit = true;
    }

    /// Wakes this process's job workers once the transaction commits (the queue calls it after an enqueue).
    pub(crate) fn wake_jobs_on_commit(&mut self) {
        self.wake_on_commit = true;
    }

    /// The engine this connection talks to; only the store uses it, for the few statements the dialects disagree on.
    pub(crate) fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(conn) => conn.execute(sql, params),
            Inner::Postgres(conn) => conn.execute(sql, params).await,
        }
    }

    /// Runs a query and returns every row.
    pub async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(conn) => conn.fetch_all(sql, params),
            Inner::Postgres(conn) => conn.fetch_all(sql, params).await,
        }
    }

    /// Runs a query expected to return at most one row.
    pub async fn fetch_optional(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    /// Runs a query that must return a row; none is [`StoreError::NotFound`].
    pub async fn fetch_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.fetch_optional(sql, params).await?.ok_or(StoreError::NotFound)
    }

    /// Runs several statements without parameters (migrations).
    pub(crate) async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        match &mut self.inner {
            Inner::Sqlite(conn) => conn.execute_script(sql),
            Inner::Postgres(conn) => conn.execute_script(sql).await,
        }
    }

    /// Commits a write transaction; a no-op for read connections.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            Inner::Sqlite(conn) => conn.commit()?,
            Inner::Postgres(conn) => conn.commit().await?,
        }
        if let (true, Some(wake)) = (self.wake_on_commit, &self.wake) {
            wake.notify_waiters();
        }
        if let (true, Some(inbox)) = (self.inbox_on_commit, &self.inbox) {
            inbox.send_modify(|generation| *generation = generation.wrapping_add(1));
        }
        Ok(())
    }
}
