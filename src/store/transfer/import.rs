//! Replacing a database's rows with an export, in one all-or-nothing write transaction.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::codec::{self, Header};
use super::table::{Column, Table, placeholders, quoted, quoted_list};
use super::{ExportSummary, FORMAT, file_name, io_error};
use crate::store::sqlite::blocking;
use crate::store::{Backend, Conn, Db, StoreError, Value, migrate};

/// Under SQLite's default limit of 32,766 parameters per statement and Postgres' 65,535.
const MAX_PARAMETERS: usize = 30_000;
/// Rows per INSERT: enough to make the per-statement cost vanish.
const MAX_BATCH_ROWS: usize = 500;

pub(super) async fn run(db: &Db, dir: &Path, summary: &ExportSummary) -> Result<(), StoreError> {
    if summary.format != FORMAT {
        return Err(refused(format!(
            "the export is in format {}; this Conversure reads format {FORMAT}",
            summary.format
        )));
    }
    let mut tx = db.write().await?;
    let version = migrate::version_on(&mut tx).await?;
    if version != summary.schema_version {
        return Err(refused(format!(
            "the export is of schema version {} but the database is at version {version}",
            summary.schema_version
        )));
    }
    let names = migrate::tables_at(db.backend(), version);
    let listed: BTreeSet<&str> = summary.tables.iter().map(|t| t.table.as_str()).collect();
    let expected: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    if listed != expected || listed.len() != summary.tables.len() {
        return Err(refused(format!(
            "the export lists the tables {listed:?}, but schema version {version} has {expected:?}"
        )));
    }
    if db.backend() == Backend::Postgres {
        // A running instance keeps writing through its pool during a restore; without the lock a row committed
        // after the DELETE below would survive next to the imported ones. Readers still see the old rows meanwhile.
        // A writer that never lets go fails the restore with a reason (which reverts it) instead of hanging it.
        tx.execute("SET LOCAL lock_timeout = '30s'", &[]).await?;
        let all = quoted_list(names.iter().map(String::as_str));
        tx.execute(&format!("LOCK TABLE {all} IN EXCLUSIVE MODE"), &[]).await?;
    }
    // Check every file's header before touching a row, so a wrong export fails fast.
    let mut sources = Vec::with_capacity(names.len());
    for name in &names {
        let table = Table::describe(&mut tx, name).await?;
        let rows = summary.tables.iter().find(|t| t.table == *name).map_or(0, |t| t.rows);
        let source = TableFile::open(&dir.join(file_name(name)), &table)?;
        sources.push((table, source, rows));
    }
    // Children before parents on delete, parents before children on insert: the foreign keys hold at every step.
    for (table, _, _) in sources.iter().rev() {
        tx.execute(&format!("DELETE FROM {}", quoted(&table.name)), &[]).await?;
    }
    for (table, source, rows) in &mut sources {
        insert_all(&mut tx, table, source, *rows).await?;
    }
    if db.backend() == Backend::Postgres {
        reset_sequences(&mut tx, &names).await?;
    }
    tx.commit().await
}

fn refused(reason: String) -> StoreError {
    StoreError::Refused(reason)
}

/// One table's export file, positioned after its header.
struct TableFile {
    path: PathBuf,
    lines: Lines<BufReader<File>>,
    line_number: usize,
    /// The target's columns, in the file's order.
    columns: Vec<Column>,
}

impl TableFile {
    /// Opens `path` and checks that its header names `table` with exactly the target's columns.
    fn open(path: &Path, table: &Table) -> Result<Self, StoreError> {
        let file =
            File::open(path).map_err(|e| refused(format!("the export has no readable {}: {e}", path.display())))?;
        let mut source =
            Self { path: path.to_owned(), lines: BufReader::new(file).lines(), line_number: 0, columns: Vec::new() };
        let header_line = source.next_line()?.ok_or_else(|| source.damaged("it is empty"))?;
        let header: Header =
            serde_json::from_str(&header_line).map_err(|e| source.damaged(&format!("bad header: {e}")))?;
        let wanted: BTreeSet<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let found: BTreeSet<&str> = header.columns.iter().map(String::as_str).collect();
        if header.table != table.name || found != wanted || found.len() != header.columns.len() {
            return Err(source.damaged(&format!(
                "it holds {} with columns {:?}, but the database's {} has {:?}",
                header.table, header.columns, table.name, wanted
            )));
        }
        source.columns =
            header.columns.iter().filter_map(|name| table.columns.iter().find(|c| c.name == *name).cloned()).collect();
        Ok(source)
    }

    fn damaged(&self, problem: &str) -> StoreError {
        refused(format!("{} line {}: {problem}", self.path.display(), self.line_number))
    }

    fn next_line(&mut self) -> Result<Option<String>, StoreError> {
        let line = self.lines.next().transpose().map_err(io_error(&self.path))?;
        self.line_number += 1;
        Ok(line)
    }

    /// Up to `max_rows` rows as flat parameters; returns how many rows they are (0 at the end of the file).
    fn read_batch(&mut self, max_rows: usize, params: &mut Vec<Value>) -> Result<usize, StoreError> {
        params.clear();
        let mut rows = 0;
        while rows < max_rows {
            let Some(line) = self.next_line()? else { break };
            let values: Vec<Json> = serde_json::from_str(&line).map_err(|e| self.damaged(&e.to_string()))?;
            if values.len() != self.columns.len() {
                return Err(self.damaged(&format!("{} values for {} columns", values.len(), self.columns.len())));
            }
            for (json, column) in values.into_iter().zip(&self.columns) {
                params.push(
                    codec::decode(json, column.kind).map_err(|e| self.damaged(&format!("{}: {e}", column.name)))?,
                );
            }
            rows += 1;
        }
        Ok(rows)
    }
}

/// Inserts every row of `source` in multi-row batches and checks the table ends with exactly `expected` rows.
async fn insert_all(tx: &mut Conn, table: &Table, source: &mut TableFile, expected: u64) -> Result<(), StoreError> {
    let width = source.columns.len();
    let batch_rows = (MAX_PARAMETERS / width.max(1)).clamp(1, MAX_BATCH_ROWS);
    let column_list = quoted_list(source.columns.iter().map(|c| c.name.as_str()));
    let insert = |rows: usize| {
        let tuples: Vec<String> = (0..rows).map(|r| format!("({})", placeholders(r * width + 1, width))).collect();
        format!("INSERT INTO {} ({column_list}) VALUES {}", quoted(&table.name), tuples.join(", "))
    };
    let full_batch = insert(batch_rows);
    let mut params = Vec::with_capacity(batch_rows * width);
    let mut inserted = 0_u64;
    loop {
        let rows = blocking(|| source.read_batch(batch_rows, &mut params))?;
        if rows == 0 {
            break;
        }
        let sql = if rows == batch_rows { full_batch.clone() } else { insert(rows) };
        tx.execute(&sql, &params).await?;
        inserted += u64::try_from(rows).unwrap_or(u64::MAX);
    }
    let counted = table.count(tx).await?;
    if inserted != expected || counted != expected {
        return Err(refused(format!(
            "{} holds {inserted} rows but the export recorded {expected}; the export is damaged or incomplete",
            source.path.display()
        )));
    }
    Ok(())
}

/// Moves every identity (or serial) sequence past the largest id now in its table, so new rows get fresh ids.
async fn reset_sequences(tx: &mut Conn, tables: &[String]) -> Result<(), StoreError> {
    let generated = tx
        .fetch_all(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
            &[],
        )
        .await?;
    for row in generated {
        let (table, column) = (row.text(0)?, row.text(1)?);
        if !tables.contains(&table) {
            continue;
        }
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
            quoted(&column),
            quoted(&table)
        );
        tx.execute(&sql, &[Value::Text(quoted(&table)), Value::Text(column)]).await?;
    }
    Ok(())
}
