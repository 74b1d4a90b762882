//! Custom domains of workspaces (`workspace_domains`): one row per host, with its probe token and check state.

use super::{Conn, Row, StoreError};

/// A custom domain as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: i64,
    pub workspace_id: i64,
    /// Lower case, no port, no trailing dot.
    pub host: String,
    /// What `/.well-known/conversure-domain/<token>` answers for this host.
    pub token: String,
    /// `pending`, `verified` or `failed`.
    pub status: String,
    /// Why the last check failed (English, for the log and the owner's panel).
    pub last_error: Option<String>,
    pub checked_at: Option<i64>,
    pub verified_at: Option<i64>,
    pub created_at: i64,
}

/// A verified host and the workspace it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWorkspace {
    pub host: String,
    pub workspace_id: i64,
    pub workspace_name: String,
}

/// The outcome of one check.
pub struct CheckResult<'a> {
    pub verified: bool,
    pub error: Option<&'a str>,
    pub at: i64,
}

const COLUMNS: &str = "id, workspace_id, host, token, status, last_error, checked_at, verified_at, created_at";

fn domain(row: &Row) -> Result<Domain, StoreError> {
    Ok(Domain {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        host: row.text(2)?,
        token: row.text(3)?,
        status: row.text(4)?,
        last_error: row.opt_text(5)?,
        checked_at: row.opt_int(6)?,
        verified_at: row.opt_int(7)?,
        created_at: row.int(8)?,
    })
}

/// Stores a new pending domain; a host already taken (by any workspace) is a [`StoreError::Conflict`].
pub async fn create(
    conn: &mut Conn,
    workspace_id: i64,
    host: &str,
    token: &str,
    now: i64,
) -> Result<Domain, StoreError> {
    let sql = format!(
        "INSERT INTO workspace_domains (workspace_id, host, token, status, created_at)
         VALUES ($1, $2, $3, 'pending', $4) RETURNING {COLUMNS}"
    );
    domain(&conn.fetch_one(&sql, &[workspace_id.into(), host.into(), token.into(), now.into()]).await?)
}

/// The domains of a workspace, by host.
pub async fn list(conn: &mut Conn, workspace_id: i64) -> Result<Vec<Domain>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM workspace_domains WHERE workspace_id = $1 ORDER BY host");
    conn.fetch_all(&sql, &[workspace_id.into()]).await?.iter().map(domain).collect()
}

/// Every domain of the instance (for the periodic re-check), oldest check first.
pub async fn all(conn: &mut Conn) -> Result<Vec<Domain>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM workspace_domains ORDER BY COALESCE(checked_at, 0), id");
    conn.fetch_all(&sql, &[]).await?.iter().map(domain).collect()
}

/// One domain of a workspace; `None` when it belongs to another workspace or does not exist.
pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<Domain>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM workspace_domains WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(domain).transpose()
}

/// The domain with this host, whichever workspace has it.
pub async fn by_host(conn: &mut Conn, host: &str) -> Result<Option<Domain>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM workspace_domains WHERE host = $1");
    conn.fetch_optional(&sql, &[host.into()]).await?.as_ref().map(domain).transpose()
}

/// Removes a domain of a workspace; false when there is no such domain there.
pub async fn delete(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute("DELETE FROM workspace_domains WHERE workspace_id = $1 AND id = $2", &[workspace_id.into(), id.into()])
        .await?;
    Ok(changed > 0)
}

/// Records a check: verified (keeping the first verification time) or failed with the reason.
pub async fn record_check(conn: &mut Conn, id: i64, result: &CheckResult<'_>) -> Result<(), StoreError> {
    let sql = if result.verified {
        "UPDATE workspace_domains SET status = 'verified', last_error = NULL, checked_at = $2,
         verified_at = COALESCE(verified_at, $2) WHERE id = $1"
    } else {
        "UPDATE workspace_domains SET status = 'failed', last_error = $3, checked_at = $2, verified_at = NULL
         WHERE id = $1"
    };
    let args = if result.verified {
        vec![id.into(), result.at.into()]
    } else {
        vec![id.into(), result.at.into(), result.error.unwrap_or("check failed").into()]
    };
    conn.execute(sql, &args).await.map(drop)
}

/// Every verified host with its workspace (active workspaces only: a suspended one is not served on its domain).
pub async fn verified_hosts(conn: &mut Conn) -> Result<Vec<HostWorkspace>, StoreError> {
    let rows = conn
        .fetch_all(
            "SELECT d.host, d.workspace_id, w.name FROM workspace_domains d JOIN workspaces w ON w.id = d.workspace_id
             WHERE d.status = 'verified' AND w.status = 'active' ORDER BY d.host",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| Ok(HostWorkspace { host: row.text(0)?, workspace_id: row.int(1)?, workspace_name: row.text(2)? }))
        .collect()
}

/// The verified host's workspace right now (its current name), if it is verified and the workspace is active.
pub async fn verified_workspace(conn: &mut Conn, host: &str) -> Result<Option<HostWorkspace>, StoreError> {
    let row = conn
        .fetch_optional(
            "SELECT d.host, d.workspace_id, w.name FROM workspace_domains d JOIN workspaces w ON w.id = d.workspace_id
             WHERE d.host = $1 AND d.status = 'verified' AND w.status = 'active'",
            &[host.into()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(HostWorkspace { host: row.text(0)?, workspace_id: row.int(1)?, workspace_name: row.text(2)? }))
}
