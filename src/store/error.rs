//! Errors of the data layer, the same for both backends.

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist (in this tenant).
    #[error("not found")]
    NotFound,
    /// A unique or foreign-key rule refused the write; `constraint` names it where the backend says.
    #[error("conflict: {constraint}")]
    Conflict { constraint: String },
    /// The database cannot be reached or opened; the text says why and what to do.
    #[error("{0}")]
    Unavailable(String),
    /// The database was written by a newer Conversure.
    #[error(
        "the database is at schema version {found}, newer than this binary supports ({supported}); run the newer Conversure or restore a backup made by this version"
    )]
    DatabaseNewer { found: i64, supported: i64 },
    /// An import or snapshot refused its input (another schema version, a damaged or incomplete export); the text
    /// says why, for the operator.
    #[error("{0}")]
    Refused(String),
    /// A column held a value of an unexpected kind (a bug, or a database changed by hand).
    #[error("unexpected value in column {column}: {detail}")]
    Decode { column: usize, detail: String },
    /// Any other database failure; the text is for the log, not for users.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &err {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            rusqlite::Error::SqliteFailure(code, message) if code.code == ErrorCode::ConstraintViolation => {
                Self::Conflict { constraint: message.clone().unwrap_or_else(|| "constraint".into()) }
            }
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(code.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                Self::Unavailable("the database is busy; try again".into())
            }
            _ => Self::Backend(err.to_string()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("23505" | "23503" | "23514")) => {
                Self::Conflict { constraint: db.constraint().unwrap_or("constraint").to_owned() }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(format!("the Postgres server is not reachable: {err}"))
            }
            _ => Self::Backend(err.to_string()),
        }
    }
}
