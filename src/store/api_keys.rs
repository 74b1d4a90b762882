//! API keys of a workspace: stored by the SHA-256 of the whole key, listed by their public prefix, revoked in place.

use super::{Conn, Row, StoreError};

/// A key as lists show it; the secret is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    /// The 8 characters after `cvk_`, to recognise a key without revealing it.
    pub prefix: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    pub created_by_user_id: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The fields of a new key.
pub struct NewApiKey<'a> {
    pub workspace_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scope: &'a str,
    pub created_by_user_id: Option<i64>,
    pub created_at: i64,
}

/// A presented key's row with what authentication needs next to it: its workspace and its creator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key: ApiKey,
    pub workspace_slug: String,
    pub workspace_name: String,
    pub workspace_status: String,
    /// The creating user's email and whether they are the instance owner (now, not when the key was made).
    pub creator: Option<(String, bool)>,
}

const COLUMNS: &str =
    "k.id, k.workspace_id, k.name, k.prefix, k.scope, k.created_by_user_id, k.created_at, k.last_used_at, k.revoked_at";

fn api_key(row: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        name: row.text(2)?,
        prefix: row.text(3)?,
        scope: row.text(4)?,
        created_by_user_id: row.opt_int(5)?,
        created_at: row.int(6)?,
        last_used_at: row.opt_int(7)?,
        revoked_at: row.opt_int(8)?,
    })
}

/// Stores a new key; returns its id.
pub async fn create(conn: &mut Conn, new: &NewApiKey<'_>) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO api_keys (workspace_id, name, prefix, key_hash, scope, created_by_user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            new.workspace_id.into(),
            new.name.into(),
            new.prefix.into(),
            new.key_hash.into(),
            new.scope.into(),
            new.created_by_user_id.into(),
            new.created_at.into(),
        ],
    )
    .await?
    .int(0)
}

/// The keys of a workspace, newest first (revoked ones too: the list shows them as revoked).
pub async fn list(conn: &mut Conn, workspace_id: i64) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys k WHERE k.workspace_id = $1 ORDER BY k.id DESC");
    conn.fetch_all(&sql, &[workspace_id.into()]).await?.iter().map(api_key).collect()
}

/// One key of a workspace; `None` when it belongs to another workspace or does not exist.
pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys k WHERE k.workspace_id = $1 AND k.id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(api_key).transpose()
}

/// Revokes a key of a workspace; false when there is no such unrevoked key there.
pub async fn revoke(conn: &mut Conn, workspace_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
            &[workspace_id.into(), id.into(), now.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// The key with this hash (revoked or not), with its workspace and creator.
pub async fn by_hash(conn: &mut Conn, key_hash: &str) -> Result<Option<KeyOwner>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, w.slug, w.name, w.status, u.email, u.is_owner
         FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id LEFT JOIN users u ON u.id = k.created_by_user_id
         WHERE k.key_hash = $1"
    );
    let Some(row) = conn.fetch_optional(&sql, &[key_hash.into()]).await? else { return Ok(None) };
    let creator = match row.opt_text(12)? {
        Some(email) => Some((email, row.flag(13)?)),
        None => None,
    };
    Ok(Some(KeyOwner {
        key: api_key(&row)?,
        workspace_slug: row.text(9)?,
        workspace_name: row.text(10)?,
        workspace_status: row.text(11)?,
        creator,
    }))
}

/// Records a use of the key unless one was recorded after `not_before` (so busy keys write at most once a minute).
pub async fn touch(conn: &mut Conn, id: i64, now: i64, not_before: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        &[id.into(), now.into(), not_before.into()],
    )
    .await
    .map(drop)
}
