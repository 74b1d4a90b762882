//! Embedded schema migrations, numbered identically for both backends, applied in one transaction at start.

use rust_embed::RustEmbed;

use super::{Backend, Db, StoreError, Value, now_millis};

#[derive(RustEmbed)]
#[folder = "migrations/"]
#[include = "*.sql"]
struct Embedded;

/// Arbitrary constant identifying Conversure's migration lock among other users of a shared Postgres.
const PG_MIGRATION_LOCK: i64 = 0x436f_6e76_6d69_6772;

/// One schema step: `0001_init.sql` is version 1, named `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    sql: String,
}

/// What [`run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The schema version found before running.
    pub from: i64,
    /// The schema version now.
    pub to: i64,
    /// Names of the migrations applied, in order (for example `0001_init`).
    pub applied: Vec<String>,
}

/// The migrations compiled into this binary for a backend, in version order.
pub fn embedded(backend: Backend) -> Vec<Migration> {
    let folder = folder(backend);
    let mut list: Vec<Migration> = Embedded::iter()
        .filter_map(|path| {
            let file = path.strip_prefix(folder)?.strip_prefix('/')?.strip_suffix(".sql")?.to_owned();
            let (number, name) = file.split_once('_')?;
            let sql = Embedded::get(&path).map(|f| String::from_utf8_lossy(&f.data).into_owned())?;
            Some(Migration { version: number.parse().ok()?, name: name.to_owned(), sql })
        })
        .collect();
    list.sort_by_key(|m| m.version);
    list
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    embedded(Backend::Sqlite).last().map_or(0, |m| m.version)
}

fn folder(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

/// The schema version of the database without changing anything (0 when it has none yet).
pub async fn current_version(db: &Db) -> Result<i64, StoreError> {
    let mut conn = db.read().await?;
    let exists = conn
        .fetch_optional(
            match db.backend() {
                Backend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                Backend::Postgres => "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'",
            },
            &[],
        )
        .await?
        .is_some();
    if !exists {
        return Ok(0);
    }
    conn.fetch_one(CURRENT_VERSION, &[]).await?.int(0)
}

/// Applies every pending migration in one transaction; refuses a database newer than this binary.
pub async fn run(db: &Db) -> Result<Report, StoreError> {
    let mut tx = db.write().await?;
    lock(&mut tx).await?;
    let report = apply_pending(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// Drops every Conversure table and migrates from scratch, all in one transaction: it either wipes and rebuilds
/// completely, or leaves the database as it was.
pub async fn wipe_and_run(db: &Db) -> Result<Report, StoreError> {
    let mut tx = db.write().await?;
    lock(&mut tx).await?;
    let cascade = if tx.backend() == Backend::Postgres { " CASCADE" } else { "" };
    // Reverse creation order, so no table is dropped while another still refers to it.
    for table in tables(db.backend()).iter().rev().chain(std::iter::once(&"schema_migrations".to_owned())) {
        tx.execute_script(&format!("DROP TABLE IF EXISTS {table}{cascade}")).await?;
    }
    let report = apply_pending(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// The tables the migrations create, in creation order (read from the embedded SQL, the one source of truth).
pub fn tables(backend: Backend) -> Vec<String> {
    embedded(backend)
        .iter()
        .flat_map(|m| {
            m.sql
                .lines()
                .filter_map(|l| l.trim().strip_prefix("CREATE TABLE ")?.split_whitespace().next().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn lock(tx: &mut super::Conn) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        // Several app nodes may start together on one database: only one migrates, the others wait and see it done.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[Value::Int(PG_MIGRATION_LOCK)]).await?;
    }
    Ok(())
}

async fn apply_pending(tx: &mut super::Conn) -> Result<Report, StoreError> {
    let migrations = embedded(tx.backend());
    let supported = migrations.last().map_or(0, |m| m.version);
    tx.execute_script(CREATE_TABLE).await?;
    let from = tx.fetch_one(CURRENT_VERSION, &[]).await?.int(0)?;
    if from > supported {
        return Err(StoreError::DatabaseNewer { found: from, supported });
    }
    let mut applied = Vec::new();
    for migration in migrations.iter().filter(|m| m.version > from) {
        tx.execute_script(&migration.sql).await.map_err(|e| {
            StoreError::Backend(format!("migration {:04}_{} failed: {e}", migration.version, migration.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[migration.version.into(), migration.name.as_str().into(), now_millis().into()],
        )
        .await?;
        applied.push(format!("{:04}_{}", migration.version, migration.name));
    }
    Ok(Report { from, to: from.max(supported), applied })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_numbered_migrations() {
        let names = |b| embedded(b).into_iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        let sqlite = names(Backend::Sqlite);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names(Backend::Postgres));
        let versions: Vec<i64> = sqlite.iter().map(|(v, _)| *v).collect();
        let expected: Vec<i64> = (1..=i64::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected, "versions are consecutive from 1");
    }

    #[test]
    fn both_backends_create_the_same_tables() {
        assert!(tables(Backend::Sqlite).len() >= 11);
        assert_eq!(tables(Backend::Sqlite), tables(Backend::Postgres));
    }
}
