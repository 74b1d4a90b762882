//! Workspaces, users and memberships: who exists, and who belongs to which workspace in which role.

use super::{Conn, Row, StoreError, now_millis};

/// A workspace (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub status: String,
}

/// A user as needed to sign in and to show who is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub is_owner: bool,
    pub status: String,
}

/// A user's place in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub workspace: Workspace,
    pub role: String,
}

/// The fields of a new user.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_lower: &'a str,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_owner: bool,
}

const WORKSPACE_COLUMNS: &str = "w.id, w.slug, w.name, w.timezone, w.status";
const USER_COLUMNS: &str = "id, email, name, password_hash, is_owner, status";

fn workspace(row: &Row, at: usize) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: row.int(at)?,
        slug: row.text(at + 1)?,
        name: row.text(at + 2)?,
        timezone: row.text(at + 3)?,
        status: row.text(at + 4)?,
    })
}

fn user(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: row.int(0)?,
        email: row.text(1)?,
        name: row.text(2)?,
        password_hash: row.opt_text(3)?,
        is_owner: row.flag(4)?,
        status: row.text(5)?,
    })
}

/// Creates a workspace; a taken slug is [`StoreError::Conflict`].
pub async fn create_workspace(conn: &mut Conn, slug: &str, name: &str, timezone: &str) -> Result<i64, StoreError> {
    let now = now_millis();
    conn.fetch_one(
        "INSERT INTO workspaces (slug, name, timezone, status, created_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $4) RETURNING id",
        &[slug.into(), name.into(), timezone.into(), now.into()],
    )
    .await?
    .int(0)
}

/// Whether a workspace slug is taken.
pub async fn slug_taken(conn: &mut Conn, slug: &str) -> Result<bool, StoreError> {
    Ok(conn.fetch_optional("SELECT 1 FROM workspaces WHERE slug = $1", &[slug.into()]).await?.is_some())
}

/// Creates a user; a taken email is [`StoreError::Conflict`].
pub async fn create_user(conn: &mut Conn, new: &NewUser<'_>) -> Result<i64, StoreError> {
    let now = now_millis();
    conn.fetch_one(
        "INSERT INTO users (email, email_lower, name, password_hash, is_owner, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) RETURNING id",
        &[
            new.email.into(),
            new.email_lower.into(),
            new.name.into(),
            new.password_hash.into(),
            new.is_owner.into(),
            now.into(),
        ],
    )
    .await?
    .int(0)
}

/// The user with this (lower-cased) email.
pub async fn user_by_email(conn: &mut Conn, email_lower: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_lower = $1");
    conn.fetch_optional(&sql, &[email_lower.into()]).await?.as_ref().map(user).transpose()
}

/// The user with this id.
pub async fn user_by_id(conn: &mut Conn, id: i64) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    conn.fetch_optional(&sql, &[id.into()]).await?.as_ref().map(user).transpose()
}

/// Replaces a user's password hash.
pub async fn set_password_hash(conn: &mut Conn, user_id: i64, hash: &str) -> Result<(), StoreError> {
    let changed = conn
        .execute(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
            &[hash.into(), now_millis().into(), user_id.into()],
        )
        .await?;
    if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Adds a user to a workspace in a role (`admin`, `manager`, `agent`).
pub async fn add_membership(conn: &mut Conn, workspace_id: i64, user_id: i64, role: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, status, created_at) VALUES ($1, $2, $3, 'active', $4)",
        &[workspace_id.into(), user_id.into(), role.into(), now_millis().into()],
    )
    .await
    .map(drop)
}

/// The active workspaces a user belongs to, oldest first.
pub async fn memberships_of(conn: &mut Conn, user_id: i64) -> Result<Vec<Membership>, StoreError> {
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS}, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 AND m.status = 'active' ORDER BY w.id"
    );
    let rows = conn.fetch_all(&sql, &[user_id.into()]).await?;
    rows.iter().map(|r| Ok(Membership { workspace: workspace(r, 0)?, role: r.text(5)? })).collect()
}

/// How many users and workspaces exist (to recognise a database that already holds an installation).
pub async fn population(conn: &mut Conn) -> Result<(i64, i64), StoreError> {
    let row = conn.fetch_one("SELECT (SELECT COUNT(*) FROM workspaces), (SELECT COUNT(*) FROM users)", &[]).await?;
    Ok((row.int(0)?, row.int(1)?))
}
