//! Logical export and import of every table, in one format both backends read and write.
//!
//! An export is a directory with one `<table>.jsonl` per table of the schema: the first line is a header object
//! `{"table":..,"columns":[..]}`, then one JSON array per row in the header's column order, each value an integer
//! (JSON number), text (JSON string), bytes (`{"base64":".."}`) or null. The store keeps the same values in both
//! backends (BIGINT ids and unix-ms times, 0/1 flags, JSON as TEXT), so a SQLite export imports into Postgres and
//! back unchanged. The [`ExportSummary`] (format, schema version, row counts) travels beside the files; the
//! import checks the files against it.

mod codec;
mod export;
mod fingerprint;
mod import;
mod table;

use std::path::Path;

use super::{Db, StoreError, migrate};

/// The version of the file format above; an import refuses any other.
pub const FORMAT: u32 = 1;

/// How many rows one table holds in an export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCount {
    pub table: String,
    pub rows: u64,
}

/// What [`export`] wrote: enough to check an import against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportSummary {
    pub format: u32,
    /// The schema version of the exported database; the import target must be at exactly this version.
    pub schema_version: i64,
    /// Every table, in creation order.
    pub tables: Vec<TableCount>,
}

/// Writes `<dir>/<table>.jsonl` for every table of the database's schema version (and nothing else), all from ONE
/// consistent snapshot: Postgres `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`; SQLite one read transaction on
/// a reader, so the writer keeps going. Tables are read in keyset pages, so memory stays flat for any table size.
pub async fn export(db: &Db, dir: &Path) -> Result<ExportSummary, StoreError> {
    export::run(db, dir).await
}

/// Replaces every row of every table with the export in `dir`, in ONE write transaction (all or nothing): refuses
/// ([`StoreError::Refused`]) unless the format is known, the database's schema version equals
/// `summary.schema_version` and the files match the target's tables and columns; deletes the existing rows
/// (reverse creation order), inserts in multi-row batches (creation order), verifies each table's row count against
/// the summary and, on Postgres, moves every identity sequence past the largest id.
pub async fn replace_all(db: &Db, dir: &Path, summary: &ExportSummary) -> Result<(), StoreError> {
    import::run(db, dir, summary).await
}

/// Per table: (name, row count, sha256 hex digest of its rows). Equal on SQLite and Postgres for the same content;
/// for tests and restore's post-check. The digest combines a sha256 of each canonical row (columns by name,
/// values as in the export) in an order-independent way, because the backends order text keys differently
/// (collations) and re-sorting in one byte order would throw away the primary-key indexes.
pub async fn fingerprint(db: &Db) -> Result<Vec<(String, u64, String)>, StoreError> {
    fingerprint::run(db).await
}

/// The summary an export of this database would have (its schema version and every table's row count), read in
/// one snapshot: cheap where [`fingerprint`] reads every row. On a database nobody writes to (a backup's snapshot
/// copy) it is known before the export runs; restore checks a moved-in database file against it.
pub async fn summary(db: &Db) -> Result<ExportSummary, StoreError> {
    let mut conn = db.read_snapshot().await?;
    let schema_version = migrate::version_on(&mut conn).await?;
    let mut tables = Vec::new();
    for name in migrate::tables_at(db.backend(), schema_version) {
        let rows = table::Table::describe(&mut conn, &name).await?.count(&mut conn).await?;
        tables.push(TableCount { table: name, rows });
    }
    conn.commit().await?;
    Ok(ExportSummary { format: FORMAT, schema_version, tables })
}

/// The export file of a table.
fn file_name(table: &str) -> String {
    format!("{table}.jsonl")
}

/// Turns an I/O failure on `path` into a store error that names the file.
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("{}: {e}", path.display()))
}
