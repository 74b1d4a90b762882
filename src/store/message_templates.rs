//! The workspace's WhatsApp message templates: one row per (number, name, language), `account_id` NULL for a
//! template every number of the workspace may send. Synced ones keep the provider's components as JSON.

use super::{Conn, Row, StoreError};

/// A template as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub id: i64,
    pub workspace_id: i64,
    /// `None`: every number of the workspace.
    pub account_id: Option<i64>,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub body: String,
    /// The provider's components (JSON array); `[]` for templates entered by hand.
    pub components: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, workspace_id, account_id, name, language, category, status, body, components, created_at, updated_at";

fn template(row: &Row) -> Result<TemplateRow, StoreError> {
    Ok(TemplateRow {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        account_id: row.opt_int(2)?,
        name: row.text(3)?,
        language: row.text(4)?,
        category: row.text(5)?,
        status: row.text(6)?,
        body: row.text(7)?,
        components: row.text(8)?,
        created_at: row.int(9)?,
        updated_at: row.int(10)?,
    })
}

fn all(rows: &[Row]) -> Result<Vec<TemplateRow>, StoreError> {
    rows.iter().map(template).collect()
}

/// The workspace's templates, workspace-wide ones first, then by number, name and language; `account_id` keeps
/// one number's own.
pub async fn list(conn: &mut Conn, workspace_id: i64, account_id: Option<i64>) -> Result<Vec<TemplateRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM message_templates WHERE workspace_id = $1 AND ($2 IS NULL OR account_id = $2)
         ORDER BY COALESCE(account_id, 0), name, language, id"
    );
    all(&conn.fetch_all(&sql, &[workspace_id.into(), account_id.into()]).await?)
}

/// The approved templates a number may send: its own and the workspace-wide ones.
pub async fn approved_for(conn: &mut Conn, workspace_id: i64, account_id: i64) -> Result<Vec<TemplateRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM message_templates
         WHERE workspace_id = $1 AND (account_id = $2 OR account_id IS NULL) AND status = 'approved'
         ORDER BY name, language, COALESCE(account_id, 0) DESC, id"
    );
    all(&conn.fetch_all(&sql, &[workspace_id.into(), account_id.into()]).await?)
}

pub async fn get(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<Option<TemplateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM message_templates WHERE workspace_id = $1 AND id = $2");
    conn.fetch_optional(&sql, &[workspace_id.into(), id.into()]).await?.as_ref().map(template).transpose()
}

/// The template of a number (or the workspace-wide one, `None`) with this name and language.
pub async fn find(
    conn: &mut Conn,
    workspace_id: i64,
    account_id: Option<i64>,
    name: &str,
    language: &str,
) -> Result<Option<TemplateRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM message_templates
         WHERE workspace_id = $1 AND COALESCE(account_id, 0) = $2 AND name = $3 AND language = $4"
    );
    let params = [workspace_id.into(), account_id.unwrap_or(0).into(), name.into(), language.into()];
    conn.fetch_optional(&sql, &params).await?.as_ref().map(template).transpose()
}

/// Stores a new template (all but its id); returns the id. A name and language already used for the same number
/// is [`StoreError::Conflict`].
pub async fn insert(conn: &mut Conn, new: &TemplateRow) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO message_templates (workspace_id, account_id, name, language, category, status, body, components,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            new.workspace_id.into(),
            new.account_id.into(),
            new.name.as_str().into(),
            new.language.as_str().into(),
            new.category.as_str().into(),
            new.status.as_str().into(),
            new.body.as_str().into(),
            new.components.as_str().into(),
            new.created_at.into(),
            new.updated_at.into(),
        ],
    )
    .await?
    .int(0)
}

/// Writes every field but the id, workspace and creation time; false when no such template in the workspace.
pub async fn update(conn: &mut Conn, row: &TemplateRow) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE message_templates SET account_id = $3, name = $4, language = $5, category = $6, status = $7,
                body = $8, components = $9, updated_at = $10
             WHERE workspace_id = $1 AND id = $2",
            &[
                row.workspace_id.into(),
                row.id.into(),
                row.account_id.into(),
                row.name.as_str().into(),
                row.language.as_str().into(),
                row.category.as_str().into(),
                row.status.as_str().into(),
                row.body.as_str().into(),
                row.components.as_str().into(),
                row.updated_at.into(),
            ],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn delete(conn: &mut Conn, workspace_id: i64, id: i64) -> Result<bool, StoreError> {
    let removed = conn
        .execute("DELETE FROM message_templates WHERE workspace_id = $1 AND id = $2", &[workspace_id.into(), id.into()])
        .await?;
    Ok(removed > 0)
}
