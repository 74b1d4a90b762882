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
    pub created_at: i64,
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

const WORKSPACE_COLUMNS: &str = "w.id, w.slug, w.name, w.timezone, w.status, w.created_at";
const USER_COLUMNS: &str = "id, email, name, password_hash, is_owner, status";

fn workspace(row: &Row, at: usize) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: row.int(at)?,
        slug: row.text(at + 1)?,
        name: row.text(at + 2)?,
        timezone: row.text(at + 3)?,
        status: row.text(at + 4)?,
        created_at: row.int(at + 5)?,
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

/// The emails of the instance's active owners (who hear about failed backups and updates).
pub async fn owner_emails(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let rows =
        conn.fetch_all("SELECT email FROM users WHERE is_owner = 1 AND status = 'active' ORDER BY id", &[]).await?;
    rows.iter().map(|r| r.text(0)).collect()
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
    rows.iter().map(|r| Ok(Membership { workspace: workspace(r, 0)?, role: r.text(6)? })).collect()
}

/// How many users and workspaces exist (to recognise a database that already holds an installation).
pub async fn population(conn: &mut Conn) -> Result<(i64, i64), StoreError> {
    let row = conn.fetch_one("SELECT (SELECT COUNT(*) FROM workspaces), (SELECT COUNT(*) FROM users)", &[]).await?;
    Ok((row.int(0)?, row.int(1)?))
}

/// A member of a workspace as the team table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub daily_quota: Option<i64>,
    pub status: String,
    /// Invited and not joined yet (no password).
    pub invited: bool,
    pub totp_enabled: bool,
    pub joined_at: i64,
    /// Outbound messages this member sent since `since` (the start of today).
    pub sent_today: i64,
}

const MEMBER_SELECT: &str = "SELECT u.id, u.name, u.email, m.role, m.daily_quota, m.status,
        CASE WHEN u.password_hash IS NULL THEN 1 ELSE 0 END, CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END,
        m.created_at,
        (SELECT COUNT(*) FROM messages g WHERE g.workspace_id = m.workspace_id AND g.sent_by_user_id = u.id
            AND g.direction = 'outbound' AND g.created_at >= $2)
     FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.workspace_id = $1";

fn member(row: &Row) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: row.int(0)?,
        name: row.text(1)?,
        email: row.text(2)?,
        role: row.text(3)?,
        daily_quota: row.opt_int(4)?,
        status: row.text(5)?,
        invited: row.flag(6)?,
        totp_enabled: row.flag(7)?,
        joined_at: row.int(8)?,
        sent_today: row.int(9)?,
    })
}

/// The members of a workspace, filtered by a search over name and email and by status, by name.
pub async fn members(
    conn: &mut Conn,
    workspace_id: i64,
    since: i64,
    search: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<Member>, StoreError> {
    let pattern = search.map(|s| {
        format!("%{}%", s.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
    });
    let sql = format!(
        "{MEMBER_SELECT} AND ($3 IS NULL OR lower(u.name) LIKE $3 ESCAPE '\\' OR u.email_lower LIKE $3 ESCAPE '\\')
           AND ($4 IS NULL OR m.status = $4) ORDER BY lower(u.name), u.id"
    );
    let rows = conn.fetch_all(&sql, &[workspace_id.into(), since.into(), pattern.into(), status.into()]).await?;
    rows.iter().map(member).collect()
}

/// One member of a workspace; `None` when the user is not in this workspace (whatever other workspace they are in).
pub async fn member_of(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    since: i64,
) -> Result<Option<Member>, StoreError> {
    let sql = format!("{MEMBER_SELECT} AND u.id = $3");
    conn.fetch_optional(&sql, &[workspace_id.into(), since.into(), user_id.into()])
        .await?
        .as_ref()
        .map(member)
        .transpose()
}

/// Changes a member's role, quota or status (only the fields given).
pub async fn update_membership(
    conn: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    role: Option<&str>,
    daily_quota: Option<Option<i64>>,
    status: Option<&str>,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE memberships SET role = COALESCE($3, role),
                    daily_quota = CASE WHEN $4 = 1 THEN $5 ELSE daily_quota END,
                    status = COALESCE($6, status)
             WHERE workspace_id = $1 AND user_id = $2",
            &[
                workspace_id.into(),
                user_id.into(),
                role.into(),
                i64::from(daily_quota.is_some()).into(),
                daily_quota.flatten().into(),
                status.into(),
            ],
        )
        .await?;
    Ok(changed > 0)
}

/// Renames a user.
pub async fn rename_user(conn: &mut Conn, user_id: i64, name: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET name = $1, updated_at = $2 WHERE id = $3",
        &[name.into(), now_millis().into(), user_id.into()],
    )
    .await
    .map(drop)
}

/// Removes a member from a workspace: their conversations there become unassigned and the membership goes; the
/// user row goes too when it belonged to no other workspace (their sent messages stay, without an author link).
/// Run inside the caller's transaction.
pub async fn remove_member(conn: &mut Conn, workspace_id: i64, user_id: i64) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE conversations SET assignee_user_id = NULL, updated_at = $3 WHERE workspace_id = $1 AND assignee_user_id = $2",
        &[workspace_id.into(), user_id.into(), now_millis().into()],
    )
    .await?;
    let removed = conn
        .execute(
            "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            &[workspace_id.into(), user_id.into()],
        )
        .await?;
    conn.execute(
        "DELETE FROM users WHERE id = $1 AND is_owner = 0 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
        &[user_id.into()],
    )
    .await?;
    Ok(removed > 0)
}

/// How many active members a workspace has, by role (`None` for all roles).
pub async fn count_active_members(conn: &mut Conn, workspace_id: i64, role: Option<&str>) -> Result<i64, StoreError> {
    conn.fetch_one(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND status = 'active' AND ($2 IS NULL OR role = $2)",
        &[workspace_id.into(), role.into()],
    )
    .await?
    .int(0)
}

/// Every workspace with its number of active members, oldest first.
pub async fn all_workspaces(conn: &mut Conn) -> Result<Vec<(Workspace, i64)>, StoreError> {
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS}, (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id AND m.status = 'active')
         FROM workspaces w ORDER BY w.id"
    );
    let rows = conn.fetch_all(&sql, &[]).await?;
    rows.iter().map(|r| Ok((workspace(r, 0)?, r.int(6)?))).collect()
}

/// One workspace.
pub async fn workspace_by_id(conn: &mut Conn, id: i64) -> Result<Option<Workspace>, StoreError> {
    let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1");
    conn.fetch_optional(&sql, &[id.into()]).await?.as_ref().map(|r| workspace(r, 0)).transpose()
}

/// One workspace by its slug.
pub async fn workspace_by_slug(conn: &mut Conn, slug: &str) -> Result<Option<Workspace>, StoreError> {
    let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.slug = $1");
    conn.fetch_optional(&sql, &[slug.into()]).await?.as_ref().map(|r| workspace(r, 0)).transpose()
}

/// Suspends or reactivates a workspace.
pub async fn set_workspace_status(conn: &mut Conn, id: i64, status: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE workspaces SET status = $1, updated_at = $2 WHERE id = $3",
            &[status.into(), now_millis().into(), id.into()],
        )
        .await?;
    Ok(changed > 0)
}

/// Deletes a workspace and everything in it (the schema cascades); users left in no workspace go too.
pub async fn delete_workspace(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM settings WHERE workspace_id = $1", &[id.into()]).await?;
    // Sessions in this workspace stay signed in and move to their user's next workspace, instead of cascading away.
    conn.execute("UPDATE sessions SET workspace_id = NULL WHERE workspace_id = $1", &[id.into()]).await?;
    let deleted = conn.execute("DELETE FROM workspaces WHERE id = $1", &[id.into()]).await?;
    conn.execute(
        "DELETE FROM users WHERE is_owner = 0 AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)",
        &[],
    )
    .await?;
    Ok(deleted > 0)
}
