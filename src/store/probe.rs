//! What a database holds and allows, for the install wizard's "Test connection".

use super::{Backend, Db, StoreError, migrate, settings};

/// Facts about a database Conversure may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    pub backend: Backend,
    pub version: String,
    pub encoding: Option<String>,
    /// Whether this login may create tables where Conversure will put them.
    pub can_create_tables: bool,
    /// 0 when no Conversure schema exists.
    pub schema_version: i64,
    pub workspaces: i64,
    pub users: i64,
    /// The database already holds a finished installation.
    pub installed: bool,
}

/// Inspects a database without changing it.
pub async fn inspect(db: &Db) -> Result<DatabaseFacts, StoreError> {
    let info = db.server_info().await?;
    let mut conn = db.read().await?;
    let can_create_tables = match db.backend() {
        // The file is in the data directory, whose writability the requirement checks prove.
        Backend::Sqlite => true,
        Backend::Postgres => conn
            .fetch_one("SELECT CASE WHEN has_schema_privilege(current_schema(), 'CREATE') THEN 1 ELSE 0 END", &[])
            .await?
            .flag(0)?,
    };
    drop(conn);
    let schema_version = migrate::current_version(db).await?;
    let (mut workspaces, mut users, mut installed) = (0, 0, false);
    if schema_version > 0 {
        let mut conn = db.read().await?;
        (workspaces, users) = super::accounts::population(&mut conn).await?;
        installed = settings::get(&mut conn, settings::Scope::Instance, "instance.installed_at").await?.is_some();
    }
    Ok(DatabaseFacts {
        backend: info.backend,
        version: info.version,
        encoding: info.encoding,
        can_create_tables,
        schema_version,
        workspaces,
        users,
        installed,
    })
}
