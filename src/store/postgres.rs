//! Postgres backend: an sqlx pool; values are bound and decoded through the shared [`Value`] representation.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Column, Connection as _, PgConnection, PgPool, Postgres, Row as _, Transaction, TypeInfo};

use super::{Row, StoreError, Value};

const MAX_CONNECTIONS: u32 = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) struct PgDb {
    pool: PgPool,
}

/// A pooled connection for reads, or an open transaction.
pub(super) enum PgConn {
    Pool(PoolConnection<Postgres>),
    Tx(Transaction<'static, Postgres>),
}

impl PgDb {
    pub(super) async fn connect(url: &str) -> Result<Self, StoreError> {
        let target = describe_target(url);
        let options = PgConnectOptions::from_str(url).map_err(|e| connect_error(&target, &e))?;
        // One direct connection first: the pool retries refused connections until its timeout and then reports only
        // "timed out", while this reports the real reason (refused, wrong password, no such database) at once.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| connect_error(&target, &sqlx::Error::PoolTimedOut))?
            .map_err(|e| connect_error(&target, &e))?;
        drop(first);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(&target, &e))?;
        Ok(Self { pool })
    }

    pub(super) async fn read(&self) -> Result<PgConn, StoreError> {
        Ok(PgConn::Pool(self.pool.acquire().await?))
    }

    pub(super) async fn write(&self) -> Result<PgConn, StoreError> {
        Ok(PgConn::Tx(self.pool.begin().await?))
    }

    /// A read-only transaction on one snapshot (REPEATABLE READ), for exports that must see a single point in time.
    pub(super) async fn read_snapshot(&self) -> Result<PgConn, StoreError> {
        Ok(PgConn::Tx(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?))
    }

    /// Wakes `wake` on every NOTIFY on `channel`, reconnecting after errors.
    pub(super) async fn forward_notifications(&self, channel: &str, wake: std::sync::Arc<tokio::sync::Notify>) {
        loop {
            match sqlx::postgres::PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(channel).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        while listener.recv().await.is_ok() {
                            wake.notify_waiters();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot open the job notification listener"),
            }
            if self.pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

impl PgConn {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Self::Pool(conn) => conn,
            Self::Tx(tx) => tx,
        }
    }

    pub(super) async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let result = bind(sqlx::query(AssertSqlSafe(sql.to_owned())), params).execute(self.conn()).await?;
        Ok(result.rows_affected())
    }

    pub(super) async fn fetch_all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let rows = bind(sqlx::query(AssertSqlSafe(sql.to_owned())), params).fetch_all(self.conn()).await?;
        rows.iter().map(decode_row).collect()
    }

    pub(super) async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(self.conn()).await?;
        Ok(())
    }

    pub(super) async fn commit(self) -> Result<(), StoreError> {
        if let Self::Tx(tx) = self {
            tx.commit().await?;
        }
        Ok(())
    }
}

fn bind<'q>(mut query: Query<'q, Postgres, PgArguments>, params: &'q [Value]) -> Query<'q, Postgres, PgArguments> {
    for value in params {
        query = match value {
            Value::Int(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.as_str()),
            Value::Blob(v) => query.bind(v.as_slice()),
            Value::NullInt => query.bind(None::<i64>),
            Value::NullText => query.bind(None::<String>),
            Value::NullBlob => query.bind(None::<Vec<u8>>),
        };
    }
    query
}

fn decode_row(row: &PgRow) -> Result<Row, StoreError> {
    let decode_err = |column: usize| move |e: sqlx::Error| StoreError::Decode { column, detail: e.to_string() };
    let mut values = Vec::with_capacity(row.columns().len());
    for (index, column) in row.columns().iter().enumerate() {
        let value = match column.type_info().name() {
            "INT8" => row.try_get::<Option<i64>, _>(index).map(Value::from),
            "INT4" => row.try_get::<Option<i32>, _>(index).map(|v| v.map(i64::from).into()),
            "INT2" => row.try_get::<Option<i16>, _>(index).map(|v| v.map(i64::from).into()),
            "BOOL" => row.try_get::<Option<bool>, _>(index).map(|v| v.map(i64::from).into()),
            "BYTEA" => row.try_get::<Option<Vec<u8>>, _>(index).map(|v| v.map_or(Value::NullBlob, Value::Blob)),
            "VOID" => Ok(Value::NullText),
            _ => row.try_get::<Option<String>, _>(index).map(Value::from),
        }
        .map_err(decode_err(index))?;
        values.push(value);
    }
    Ok(Row(values))
}

/// `host:port/database` of a Postgres URL, for error messages (never the password).
fn describe_target(url: &str) -> String {
    url::Url::parse(url).map_or_else(
        |_| "the configured server".to_owned(),
        |u| format!("{}:{}{}", u.host_str().unwrap_or("?"), u.port().unwrap_or(5432), u.path()),
    )
}

/// Turns a connection failure into one line that says what to check.
fn connect_error(target: &str, err: &sqlx::Error) -> StoreError {
    let message = match err {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") => {
                format!("Postgres at {target} refused the password; check the user and password in the URL")
            }
            Some("28000") => format!(
                "Postgres at {target} does not allow this login ({}); check pg_hba.conf and the user name",
                db.message()
            ),
            Some("3D000") => format!(
                "Postgres at {target}: {}; create it (createdb) or fix the database name in the URL",
                db.message()
            ),
            _ => format!("Postgres at {target} refused the connection: {}", db.message()),
        },
        sqlx::Error::Io(io) => {
            format!("cannot reach Postgres at {target}: {io}; check that the server runs and the URL's host and port")
        }
        sqlx::Error::PoolTimedOut => {
            format!("timed out connecting to Postgres at {target}; check the host, port and firewall")
        }
        sqlx::Error::Tls(e) => format!("TLS to Postgres at {target} failed: {e}"),
        other => format!("cannot connect to Postgres at {target}: {other}"),
    };
    StoreError::Unavailable(message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_never_include_passwords() {
        assert_eq!(super::describe_target("postgres://u:secret@db:6543/cs"), "db:6543/cs");
    }
}
