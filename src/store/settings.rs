//! Key/value settings, instance-wide (scope 0) or per workspace.

use std::collections::BTreeMap;

use super::{Conn, StoreError, now_millis};

/// Whose settings: the instance's or one workspace's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Instance,
    Workspace(i64),
}

impl Scope {
    fn id(self) -> i64 {
        match self {
            Self::Instance => 0,
            Self::Workspace(id) => id,
        }
    }
}

/// Every setting of a scope whose key starts with `prefix` (`""` for all).
pub async fn load(conn: &mut Conn, scope: Scope, prefix: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = conn
        .fetch_all(
            // Not LIKE: `_` in a key would be a wildcard. `length` keeps the argument types portable (Postgres has no
            // substr(text, int, bigint)).
            "SELECT key, value FROM settings WHERE workspace_id = $1 AND substr(key, 1, length($2)) = $2 ORDER BY key",
            &[scope.id().into(), prefix.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
}

/// One setting, if set.
pub async fn get(conn: &mut Conn, scope: Scope, key: &str) -> Result<Option<String>, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT value FROM settings WHERE workspace_id = $1 AND key = $2",
            &[scope.id().into(), key.into()],
        )
        .await?;
    row.map(|r| r.text(0)).transpose()
}

/// Sets (inserts or replaces) one setting.
pub async fn put(conn: &mut Conn, scope: Scope, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (workspace_id, key, value, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[scope.id().into(), key.into(), value.into(), now_millis().into()],
    )
    .await
    .map(drop)
}

/// Removes one setting; true when it existed.
pub async fn delete(conn: &mut Conn, scope: Scope, key: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute("DELETE FROM settings WHERE workspace_id = $1 AND key = $2", &[scope.id().into(), key.into()])
        .await?;
    Ok(changed > 0)
}
