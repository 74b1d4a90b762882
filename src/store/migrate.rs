//! Embedded schema migrations, numbered identically for both backends, applied in one transaction at start.

use rust_embed::RustEmbed;

use super::{Backend, Conn, Db, StoreError, Value, now_millis};

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
    version_on(&mut conn).await
}

/// [`current_version`] seen from an open connection or transaction (so it belongs to that transaction's snapshot).
pub(crate) async fn version_on(conn: &mut Conn) -> Result<i64, StoreError> {
    let exists = conn
        .fetch_optional(
            match conn.backend() {
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
    let report = apply_pending(&mut tx, None).await?;
    tx.commit().await?;
    Ok(report)
}

/// Drops every Conversure table and migrates from scratch, all in one transaction: it either wipes and rebuilds
/// completely, or leaves the database as it was.
pub async fn wipe_and_run(db: &Db) -> Result<Report, StoreError> {
    wipe_and_run_to(db, latest_version()).await
}

/// Like [`wipe_and_run`] but stops at schema `version`, so an export made by an older Conversure can be imported
/// into its own schema before migrating on to the latest. A version this binary does not know is refused.
pub async fn wipe_and_run_to(db: &Db, version: i64) -> Result<Report, StoreError> {
    let known = embedded(db.backend());
    let supported = known.last().map_or(0, |m| m.version);
    if version > supported {
        return Err(StoreError::DatabaseNewer { found: version, supported });
    }
    if !known.iter().any(|m| m.version == version) {
        return Err(StoreError::Backend(format!("schema version {version} is not one this binary knows")));
    }
    let mut tx = db.write().await?;
    lock(&mut tx).await?;
    let cascade = if tx.backend() == Backend::Postgres { " CASCADE" } else { "" };
    // SQLite's full-text indexes first (they would survive their content tables and block the rebuild), then the
    // tables in reverse creation order, so no table is dropped while another still refers to it.
    let virtual_tables = created(db.backend(), "CREATE VIRTUAL TABLE ");
    let all = virtual_tables.iter().chain(tables(db.backend()).iter().rev()).cloned().collect::<Vec<_>>();
    for table in all.iter().chain(std::iter::once(&"schema_migrations".to_owned())) {
        tx.execute_script(&format!("DROP TABLE IF EXISTS {table}{cascade}")).await?;
    }
    let report = apply_pending(&mut tx, Some(version)).await?;
    tx.commit().await?;
    Ok(report)
}

/// The tables the migrations create, in creation order (read from the embedded SQL, the one source of truth).
/// A table that a later migration drops and recreates is listed at each creation.
pub fn tables(backend: Backend) -> Vec<String> {
    created(backend, "CREATE TABLE ")
}

/// Every name a `prefix` statement (`CREATE TABLE `, `CREATE VIRTUAL TABLE `) creates, in migration order.
fn created(backend: Backend, prefix: &str) -> Vec<String> {
    embedded(backend)
        .iter()
        .flat_map(|m| m.sql.lines().filter_map(|l| statement_target(l, prefix)).collect::<Vec<_>>())
        .collect()
}

/// The tables that exist once the migrations up to `version` ran, each once, in the order of its last creation:
/// a table comes after every table it refers to, so inserting in this order (and deleting in reverse) satisfies
/// the foreign keys.
pub fn tables_at(backend: Backend, version: i64) -> Vec<String> {
    let mut live: Vec<String> = Vec::new();
    for migration in embedded(backend).iter().filter(|m| m.version <= version) {
        for line in migration.sql.lines() {
            if let Some(created) = statement_target(line, "CREATE TABLE ") {
                live.retain(|t| *t != created);
                live.push(created);
            } else if let Some(dropped) = statement_target(line, "DROP TABLE ") {
                live.retain(|t| *t != dropped);
            }
        }
    }
    live
}

/// The table a `CREATE TABLE` / `DROP TABLE` line (`prefix`) names, if the line is one.
fn statement_target(line: &str, prefix: &str) -> Option<String> {
    let rest = line.trim().strip_prefix(prefix)?;
    let rest = rest.strip_prefix("IF NOT EXISTS ").or_else(|| rest.strip_prefix("IF EXISTS ")).unwrap_or(rest);
    rest.split(|c: char| c.is_whitespace() || c == ';' || c == '(').find(|s| !s.is_empty()).map(str::to_owned)
}

async fn lock(tx: &mut super::Conn) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        // Several app nodes may start together on one database: only one migrates, the others wait and see it done.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[Value::Int(PG_MIGRATION_LOCK)]).await?;
    }
    Ok(())
}

/// Applies the migrations after the database's version up to `upto` (all of them when `None`).
async fn apply_pending(tx: &mut super::Conn, upto: Option<i64>) -> Result<Report, StoreError> {
    let migrations = embedded(tx.backend());
    let supported = migrations.last().map_or(0, |m| m.version);
    let upto = upto.unwrap_or(supported);
    tx.execute_script(CREATE_TABLE).await?;
    let from = tx.fetch_one(CURRENT_VERSION, &[]).await?.int(0)?;
    if from > supported {
        return Err(StoreError::DatabaseNewer { found: from, supported });
    }
    let mut applied = Vec::new();
    for migration in migrations.iter().filter(|m| m.version > from && m.version <= upto) {
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
    Ok(Report { from, to: from.max(upto), applied })
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

    #[test]
    fn tables_at_lists_each_live_table_once_after_what_it_refers_to() {
        let latest = tables_at(Backend::Sqlite, latest_version());
        assert_eq!(latest, tables_at(Backend::Postgres, latest_version()));
        let mut unique = latest.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), latest.len(), "no table twice: {latest:?}");
        let position = |name: &str| latest.iter().position(|t| t == name).unwrap();
        // 0004 recreated whatsapp_accounts after jobs; the conversations that refer to it come after it.
        assert!(position("jobs") < position("whatsapp_accounts"));
        assert!(position("whatsapp_accounts") < position("conversations"));
        assert!(position("conversations") < position("messages"));
        // Earlier versions have fewer tables, and version 0 none.
        assert!(tables_at(Backend::Sqlite, 1).len() < latest.len());
        assert!(!tables_at(Backend::Sqlite, 1).contains(&"api_keys".to_owned()));
        assert!(tables_at(Backend::Sqlite, 0).is_empty());
        assert_eq!(statement_target("DROP TABLE IF EXISTS messages;", "DROP TABLE "), Some("messages".into()));
    }
}
