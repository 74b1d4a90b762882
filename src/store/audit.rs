//! The audit log: who did what, when, from where. Append-only.

use super::{Conn, StoreError, now_millis};

/// One audit entry.
pub struct Entry<'a> {
    /// `None` for instance-level events.
    pub workspace_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    /// Who acted, as shown even after the user is deleted (an email, `cli`, `system`).
    pub actor_label: &'a str,
    /// A stable dotted name such as `instance.installed` or `auth.sign_in`.
    pub action: &'a str,
    pub target: Option<&'a str>,
    /// Extra facts as a JSON object.
    pub detail: serde_json::Value,
    pub ip: Option<&'a str>,
}

pub async fn record(conn: &mut Conn, entry: &Entry<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (workspace_id, actor_user_id, actor_label, action, target, detail, ip, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            entry.workspace_id.into(),
            entry.actor_user_id.into(),
            entry.actor_label.into(),
            entry.action.into(),
            entry.target.into(),
            entry.detail.to_string().into(),
            entry.ip.into(),
            now_millis().into(),
        ],
    )
    .await
    .map(drop)
}

/// Whose entries a reading covers: one workspace's, or the whole instance's (the owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    Workspace(i64),
    Instance,
}

/// What to read; every filter is optional. Timestamps are unix milliseconds.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    /// Exactly this action.
    pub action: Option<&'a str>,
    /// The actor's label contains this text (case-insensitively).
    pub actor: Option<&'a str>,
    /// Created at or after.
    pub from: Option<i64>,
    /// Created before.
    pub until: Option<i64>,
    /// Only entries older than this id (keyset pagination).
    pub before_id: Option<i64>,
}

/// One entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub workspace_id: Option<i64>,
    /// The workspace's slug while it still exists.
    pub workspace_slug: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target: Option<String>,
    /// JSON text.
    pub detail: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// `%text%` for LIKE, with the wildcards in `text` escaped (the query says `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// The newest entries matching `query`, at most `limit`, newest first.
pub async fn list(
    conn: &mut Conn,
    scope: AuditScope,
    query: &AuditQuery<'_>,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let (scope_sql, workspace) = match scope {
        AuditScope::Workspace(id) => ("a.workspace_id = $1", Some(id)),
        // The owner reads every entry, instance-level ones included; $1 is bound (as NULL) to keep the numbering.
        AuditScope::Instance => ("($1 IS NULL OR a.workspace_id = $1)", None),
    };
    let sql = format!(
        "SELECT a.id, a.workspace_id, w.slug, a.actor_label, a.action, a.target, a.detail, a.ip, a.created_at
         FROM audit_log a LEFT JOIN workspaces w ON w.id = a.workspace_id
         WHERE {scope_sql}
           AND ($2 IS NULL OR a.action = $2)
           AND ($3 IS NULL OR lower(a.actor_label) LIKE $3 ESCAPE '\\')
           AND ($4 IS NULL OR a.created_at >= $4)
           AND ($5 IS NULL OR a.created_at < $5)
           AND ($6 IS NULL OR a.id < $6)
         ORDER BY a.id DESC LIMIT $7"
    );
    let rows = conn
        .fetch_all(
            &sql,
            &[
                workspace.into(),
                query.action.into(),
                query.actor.map(contains_pattern).into(),
                query.from.into(),
                query.until.into(),
                query.before_id.into(),
                limit.into(),
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.int(0)?,
                workspace_id: r.opt_int(1)?,
                workspace_slug: r.opt_text(2)?,
                actor_label: r.text(3)?,
                action: r.text(4)?,
                target: r.opt_text(5)?,
                detail: r.text(6)?,
                ip: r.opt_text(7)?,
                created_at: r.int(8)?,
            })
        })
        .collect()
}

/// The distinct actions present in a scope, alphabetically (for the filter's choices).
pub async fn actions(conn: &mut Conn, scope: AuditScope) -> Result<Vec<String>, StoreError> {
    let rows = match scope {
        AuditScope::Workspace(id) => {
            conn.fetch_all(
                "SELECT DISTINCT action FROM audit_log WHERE workspace_id = $1 ORDER BY action",
                &[id.into()],
            )
            .await?
        }
        AuditScope::Instance => conn.fetch_all("SELECT DISTINCT action FROM audit_log ORDER BY action", &[]).await?,
    };
    rows.iter().map(|r| r.text(0)).collect()
}
