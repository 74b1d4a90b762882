//! SQLite backend: one writer connection behind an async mutex plus a small pool of read-only connections.
//!
//! rusqlite is blocking, so every call runs under `block_in_place` on the multi-threaded runtime (other tasks move
//! to other workers meanwhile). Writes use `BEGIN IMMEDIATE` on the single writer, so write transactions never
//! deadlock on lock upgrades, and `synchronous=FULL` so an acknowledged commit survives power loss.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::{Row, StoreError, Value};

const READERS: usize = 4;
const BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(Clone)]
pub(super) struct SqliteDb {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<ReaderPool>,
    /// Opened by [`SqliteDb::open_read_only`]: nothing to fold back at close.
    read_only: bool,
}

pub(super) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    slots: Arc<Semaphore>,
    path: PathBuf,
}

/// A connection taken from [`SqliteDb`]: a reader, or the writer inside a transaction.
pub(super) enum SqliteConn {
    /// `in_transaction`: a snapshot read ([`SqliteDb::read_snapshot`]) still open, rolled back before pooling.
    Reader {
        conn: Option<Connection>,
        pool: Arc<ReaderPool>,
        _slot: OwnedSemaphorePermit,
        in_transaction: bool,
    },
    Writer {
        conn: OwnedMutexGuard<Connection>,
        in_transaction: bool,
    },
}

impl SqliteDb {
    pub(super) async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, false).await
    }

    /// Every connection read-only, the "writer" too: opening, reading and closing leave the file's bytes as they
    /// are (no journal-mode switch, no checkpoint or `optimize` at close).
    pub(super) async fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, true).await
    }

    async fn open_with(path: &Path, read_only: bool) -> Result<Self, StoreError> {
        let path = path.to_owned();
        blocking(move || {
            let writer = open_connection(&path, read_only)?;
            Ok(Self {
                writer: Arc::new(tokio::sync::Mutex::new(writer)),
                readers: Arc::new(ReaderPool {
                    idle: Mutex::new(Vec::new()),
                    slots: Arc::new(Semaphore::new(READERS)),
                    path,
                }),
                read_only,
            })
        })
    }

    pub(super) async fn read(&self) -> Result<SqliteConn, StoreError> {
        let slot = Arc::clone(&self.readers.slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the database is closing".into()))?;
        let idle = self.readers.idle.lock().map_err(|_| StoreError::Backend("reader pool poisoned".into()))?.pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let path = self.readers.path.clone();
                blocking(move || open_connection(&path, true))?
            }
        };
        Ok(SqliteConn::Reader { conn: Some(conn), pool: Arc::clone(&self.readers), _slot: slot, in_transaction: false })
    }

    /// A reader inside one read transaction: every query sees the same snapshot (taken at the first read), while the
    /// writer keeps committing (WAL).
    pub(super) async fn read_snapshot(&self) -> Result<SqliteConn, StoreError> {
        let mut reader = self.read().await?;
        reader.execute_script("BEGIN DEFERRED")?;
        if let SqliteConn::Reader { in_transaction, .. } = &mut reader {
            *in_transaction = true;
        }
        Ok(reader)
    }

    /// A consistent physical copy into the new file `dest` (`VACUUM INTO` on a reader, so the writer keeps going).
    pub(super) async fn snapshot(&self, dest: &Path) -> Result<(), StoreError> {
        let target = dest
            .to_str()
            .ok_or_else(|| StoreError::Backend(format!("the snapshot path {} is not UTF-8", dest.display())))?;
        if dest.exists() {
            return Err(StoreError::Backend(format!("the snapshot file {} already exists", dest.display())));
        }
        let reader = self.read().await?;
        let conn = reader.conn()?;
        // query_only refuses VACUUM even though INTO leaves this database unchanged; lift it for this one statement.
        blocking(|| {
            conn.execute_batch("PRAGMA query_only = OFF")?;
            let copied = conn.execute("VACUUM INTO ?1", [target]).map(drop);
            conn.execute_batch("PRAGMA query_only = ON")?;
            copied.map_err(StoreError::from)
        })
    }

    pub(super) async fn write(&self) -> Result<SqliteConn, StoreError> {
        let conn = Arc::clone(&self.writer).lock_owned().await;
        blocking(|| conn.execute_batch("BEGIN IMMEDIATE"))?;
        Ok(SqliteConn::Writer { conn, in_transaction: true })
    }

    /// Folds the WAL back into the database file so the next start has nothing to replay.
    pub(super) async fn close(&self) {
        if self.read_only {
            return;
        }
        let conn = self.writer.lock().await;
        if let Err(e) = blocking(|| conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")) {
            tracing::warn!(error = %e, "checkpoint at shutdown failed; the WAL is replayed at the next start");
        }
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Unavailable(format!("cannot open the SQLite database {}: {e}", path.display())))?;
    // busy_timeout first: the other pragmas may need a lock that a backup or checkpoint holds briefly.
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    if read_only {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA query_only = ON;")?;
    } else {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "the SQLite database {} cannot use write-ahead logging (journal mode {mode}); put the data directory on a local disk",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")?;
    }
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

impl SqliteConn {
    fn conn(&self) -> Result<&Connection, StoreError> {
        match self {
            Self::Reader { conn, .. } => {
                conn.as_ref().ok_or_else(|| StoreError::Backend("reader already returned".into()))
            }
            Self::Writer { conn, .. } => Ok(conn),
        }
    }

    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        blocking(|| {
            let mut stmt = conn.prepare_cached(&numbered_placeholders(sql))?;
            let changed = stmt.execute(rusqlite::params_from_iter(params))?;
            Ok(u64::try_from(changed).unwrap_or(u64::MAX))
        })
    }

    pub(super) fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn()?;
        blocking(|| {
            let mut stmt = conn.prepare_cached(&numbered_placeholders(sql))?;
            let columns = stmt.column_count();
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(columns);
                for index in 0..columns {
                    values.push(from_sqlite(row.get_ref(index)?));
                }
                out.push(Row(values));
            }
            Ok(out)
        })
    }

    pub(super) fn execute_script(&self, sql: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        blocking(|| conn.execute_batch(sql).map_err(StoreError::from))
    }

    pub(super) fn commit(mut self) -> Result<(), StoreError> {
        match &mut self {
            Self::Writer { conn, in_transaction } => {
                blocking(|| conn.execute_batch("COMMIT"))?;
                *in_transaction = false;
            }
            Self::Reader { conn: Some(conn), in_transaction: in_transaction @ true, .. } => {
                blocking(|| conn.execute_batch("COMMIT"))?;
                *in_transaction = false;
            }
            Self::Reader { .. } => {}
        }
        Ok(())
    }
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        match self {
            Self::Reader { conn, pool, in_transaction, .. } => {
                let Some(conn) = conn.take() else { return };
                // A snapshot left open would pin the WAL and serve stale reads to the next user: close it, or drop
                // the connection when even that fails.
                if *in_transaction && conn.execute_batch("ROLLBACK").is_err() {
                    return;
                }
                if let Ok(mut idle) = pool.idle.lock() {
                    idle.push(conn);
                }
            }
            Self::Writer { conn, in_transaction: true } => {
                // Not committed: an error path or a cancelled request. Roll back so the writer is clean for the next one.
                if let Err(e) = conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %e, "rollback of an abandoned SQLite transaction failed");
                }
            }
            Self::Writer { .. } => {}
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Int(v) => ValueRef::Integer(*v),
            Self::Text(v) => ValueRef::Text(v.as_bytes()),
            Self::Blob(v) => ValueRef::Blob(v),
            Self::NullInt | Self::NullText | Self::NullBlob => ValueRef::Null,
        }))
    }
}

fn from_sqlite(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::NullText,
        ValueRef::Integer(v) => Value::Int(v),
        // No column stores floats; keep the value readable rather than failing the whole row.
        ValueRef::Real(v) => Value::Text(v.to_string()),
        ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Value::Blob(v.to_vec()),
    }
}

/// Rewrites `$N` placeholders to `?N`, leaving quoted text alone.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Runs blocking SQLite work without stalling the async runtime's other tasks.
pub(super) fn blocking<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        // No runtime (CLI tools) or a single-threaded one: nothing else would run meanwhile anyway.
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders;

    #[test]
    fn placeholders_are_renumbered_outside_quotes() {
        assert_eq!(numbered_placeholders("SELECT $2, $1, '$3', \"$4\""), "SELECT ?2, ?1, '$3', \"$4\"");
        assert_eq!(numbered_placeholders("SELECT $ FROM t"), "SELECT $ FROM t");
    }
}
