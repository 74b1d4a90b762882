//! What a transfer knows about one table (columns, kinds, primary key), read from the database itself, and reading
//! the table page by page in key order.

use crate::store::{Backend, Conn, Row, StoreError, Value};

/// Rows per page: large enough to amortise a round trip, small enough to keep memory flat on any table.
const PAGE_ROWS: usize = 1000;

/// The one kind of value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
    Blob,
}

impl Kind {
    /// The kind of a declared column type (SQLite `pragma_table_info.type`, Postgres `information_schema` type).
    fn of_declared(backend: Backend, declared: &str) -> Option<Self> {
        let declared = declared.to_ascii_lowercase();
        match backend {
            // SQLite's own affinity rules, in its order.
            Backend::Sqlite if declared.contains("int") => Some(Self::Int),
            Backend::Sqlite if ["char", "clob", "text"].iter().any(|t| declared.contains(t)) => Some(Self::Text),
            Backend::Sqlite if declared.contains("blob") => Some(Self::Blob),
            Backend::Sqlite => None,
            Backend::Postgres => match declared.as_str() {
                "bigint" | "integer" | "smallint" => Some(Self::Int),
                "text" | "character varying" | "character" => Some(Self::Text),
                "bytea" => Some(Self::Blob),
                _ => None,
            },
        }
    }

    /// The null a Postgres parameter of this kind needs (an untyped null does not bind).
    pub(super) fn null(self) -> Value {
        match self {
            Self::Int => Value::NullInt,
            Self::Text => Value::NullText,
            Self::Blob => Value::NullBlob,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) name: String,
    /// In the order the database lists them.
    pub(super) columns: Vec<Column>,
    /// The primary key's columns in key order; empty when the table has none.
    key: Vec<String>,
}

impl Table {
    /// Reads the table's columns and primary key from the database.
    pub(super) async fn describe(conn: &mut Conn, name: &str) -> Result<Self, StoreError> {
        let backend = conn.backend();
        let (columns_sql, key_sql) = match backend {
            Backend::Sqlite => (
                "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
                "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
            ),
            Backend::Postgres => (
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                "SELECT k.column_name::text FROM information_schema.table_constraints c \
                 JOIN information_schema.key_column_usage k \
                   ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name \
                 WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() AND c.table_name = $1 \
                 ORDER BY k.ordinal_position",
            ),
        };
        let params = [Value::Text(name.to_owned())];
        let mut columns = Vec::new();
        for row in conn.fetch_all(columns_sql, &params).await? {
            let (column, declared) = (row.text(0)?, row.text(1)?);
            let kind = Kind::of_declared(backend, &declared).ok_or_else(|| {
                StoreError::Refused(format!("column {name}.{column} has type {declared}, which exports do not carry"))
            })?;
            columns.push(Column { name: column, kind });
        }
        if columns.is_empty() {
            return Err(StoreError::Refused(format!("the database has no table {name}")));
        }
        let key = conn.fetch_all(key_sql, &params).await?.iter().map(|row| row.text(0)).collect::<Result<_, _>>()?;
        Ok(Self { name: name.to_owned(), columns, key })
    }

    /// The same table with its columns sorted by name: the canonical order, whatever order each backend keeps.
    pub(super) fn canonical(mut self) -> Self {
        self.columns.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// The column names, in this table's order.
    pub(super) fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The row count, in the connection's transaction.
    pub(super) async fn count(&self, conn: &mut Conn) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", quoted(&self.name));
        let count = conn.fetch_one(&sql, &[]).await?.int(0)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// An identifier quoted for both dialects (column names such as `key` are keywords somewhere).
pub(super) fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Comma-separated quoted identifiers.
pub(super) fn quoted_list<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> String {
    identifiers.into_iter().map(quoted).collect::<Vec<_>>().join(", ")
}

/// `$from, $from+1, ...` for `count` parameters.
pub(super) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Reads a table in pages ordered by its primary key. Keyset pagination (`WHERE key > last`) makes every page an
/// index range scan instead of an offset that rescans what came before; a table without a primary key is ordered
/// by all its columns and paged by offset (no Conversure table lacks one).
pub(super) struct Pages {
    first: String,
    next: String,
    /// Where the key columns sit in a fetched row; empty for offset paging.
    key_positions: Vec<usize>,
    after: Vec<Value>,
    offset: usize,
    finished: bool,
}

impl Pages {
    pub(super) fn new(table: &Table) -> Self {
        let select = format!("SELECT {} FROM {}", quoted_list(table.columns.iter().map(|c| c.name.as_str())), {
            quoted(&table.name)
        });
        let key_positions: Vec<usize> =
            table.key.iter().filter_map(|k| table.columns.iter().position(|c| c.name == *k)).collect();
        let keyed = !key_positions.is_empty() && key_positions.len() == table.key.len();
        if !keyed {
            let order = quoted_list(table.columns.iter().map(|c| c.name.as_str()));
            let first = format!("{select} ORDER BY {order} LIMIT {PAGE_ROWS}");
            return Self {
                next: first.clone(),
                first,
                key_positions: Vec::new(),
                after: Vec::new(),
                offset: 0,
                finished: false,
            };
        }
        let order = quoted_list(table.key.iter().map(String::as_str));
        Self {
            first: format!("{select} ORDER BY {order} LIMIT {PAGE_ROWS}"),
            next: format!(
                "{select} WHERE ({order}) > ({}) ORDER BY {order} LIMIT {PAGE_ROWS}",
                placeholders(1, key_positions.len())
            ),
            key_positions,
            after: Vec::new(),
            offset: 0,
            finished: false,
        }
    }

    /// The next page, or `None` after the last row.
    pub(super) async fn next(&mut self, conn: &mut Conn) -> Result<Option<Vec<Row>>, StoreError> {
        if self.finished {
            return Ok(None);
        }
        let rows = if self.offset == 0 {
            conn.fetch_all(&self.first, &[]).await?
        } else if self.key_positions.is_empty() {
            conn.fetch_all(&format!("{} OFFSET {}", self.next, self.offset), &[]).await?
        } else {
            conn.fetch_all(&self.next, &self.after).await?
        };
        self.finished = rows.len() < PAGE_ROWS;
        let Some(last) = rows.last() else { return Ok(None) };
        self.offset += rows.len();
        self.after = self.key_positions.iter().filter_map(|&i| last.0.get(i).cloned()).collect();
        Ok(Some(rows))
    }
}
