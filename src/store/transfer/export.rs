//! Writing every table of one database snapshot into `<table>.jsonl` files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::codec::{EncodedRow, Header};
use super::table::{Pages, Table};
use super::{ExportSummary, FORMAT, TableCount, file_name, io_error};
use crate::store::sqlite::blocking;
use crate::store::{Conn, Db, StoreError, migrate};

pub(super) async fn run(db: &Db, dir: &Path) -> Result<ExportSummary, StoreError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut conn = db.read_snapshot().await?;
    let schema_version = migrate::version_on(&mut conn).await?;
    let mut tables = Vec::new();
    for name in migrate::tables_at(db.backend(), schema_version) {
        let table = Table::describe(&mut conn, &name).await?;
        let rows = write_table(&mut conn, &table, &dir.join(file_name(&name))).await?;
        tables.push(TableCount { table: name, rows });
    }
    conn.commit().await?;
    Ok(ExportSummary { format: FORMAT, schema_version, tables })
}

/// Streams one table into `path`; returns its row count.
async fn write_table(conn: &mut Conn, table: &Table, path: &Path) -> Result<u64, StoreError> {
    let failed = io_error(path);
    let mut out = BufWriter::with_capacity(1 << 16, File::create(path).map_err(&failed)?);
    let header = Header { table: table.name.clone(), columns: table.column_names() };
    blocking(|| write_line(&mut out, &header)).map_err(&failed)?;
    let mut rows = 0_u64;
    let mut pages = Pages::new(table);
    while let Some(page) = pages.next(conn).await? {
        blocking(|| page.iter().try_for_each(|row| write_line(&mut out, &EncodedRow(row)))).map_err(&failed)?;
        rows += u64::try_from(page.len()).unwrap_or(u64::MAX);
    }
    // Keyset paging skips rows whose key is NULL (SQLite allows that in some keys): never write a silently short
    // export, compare with the count in the same snapshot.
    let counted = table.count(conn).await?;
    if counted != rows {
        return Err(StoreError::Backend(format!(
            "table {} has {counted} rows but {rows} were read in key order; a key column may hold NULL",
            table.name
        )));
    }
    // No fsync: the files are scratch for an archive, which is synced itself; syncing hundreds of megabytes here
    // only stalled the server's own commits behind the flush.
    blocking(|| out.into_inner().map_err(std::io::IntoInnerError::into_error).map(drop)).map_err(&failed)?;
    Ok(rows)
}

fn write_line(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
