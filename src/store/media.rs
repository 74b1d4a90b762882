//! Message files: a row per file, `pending` until its bytes are in the data directory, then `stored` with its
//! size and SHA-256 (or `failed` with the reason).

use super::{Conn, Row, StoreError};
use crate::providers::MediaRef;

/// A file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    pub id: i64,
    pub workspace_id: i64,
    pub message_id: Option<i64>,
    pub kind: String,
    pub mime: Option<String>,
    pub filename: Option<String>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    /// Relative to the media directory.
    pub path: Option<String>,
    /// The provider's reference (JSON), for fetching.
    pub provider_ref: Option<String>,
    pub state: String,
    pub error: Option<String>,
}

const COLUMNS: &str =
    "id, workspace_id, message_id, kind, mime, filename, size, sha256, path, provider_ref, state, error";

fn media(row: &Row) -> Result<MediaRow, StoreError> {
    Ok(MediaRow {
        id: row.int(0)?,
        workspace_id: row.int(1)?,
        message_id: row.opt_int(2)?,
        kind: row.text(3)?,
        mime: row.opt_text(4)?,
        filename: row.opt_text(5)?,
        size: row.opt_int(6)?,
        sha256: row.opt_text(7)?,
        path: row.opt_text(8)?,
        provider_ref: row.opt_text(9)?,
        state: row.text(10)?,
        error: row.opt_text(11)?,
    })
}

/// The provider reference as stored JSON (inline bytes in base64).
pub fn encode_ref(reference: &MediaRef) -> String {
    use base64::Engine;
    serde_json::json!({
        "id": reference.id,
        "url": reference.url,
        "mime": reference.mime,
        "filename": reference.filename,
        "sha256": reference.sha256,
        "inline": reference.inline.as_ref().map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
    })
    .to_string()
}

/// Reads a stored provider reference back.
pub fn decode_ref(text: &str) -> Option<MediaRef> {
    use base64::Engine;
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Some(MediaRef {
        id: field("id"),
        url: field("url"),
        mime: field("mime"),
        filename: field("filename"),
        sha256: field("sha256"),
        inline: field("inline").and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
    })
}

/// Records an inbound file to fetch; returns its id.
pub async fn create_pending(
    conn: &mut Conn,
    workspace_id: i64,
    message_id: i64,
    kind: &str,
    reference: &MediaRef,
    now: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO media (workspace_id, message_id, kind, mime, filename, provider_ref, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) RETURNING id",
        &[
            workspace_id.into(),
            message_id.into(),
            kind.into(),
            reference.mime.as_deref().into(),
            reference.filename.as_deref().into(),
            encode_ref(reference).into(),
            now.into(),
        ],
    )
    .await?
    .int(0)
}

/// Records a file already in the media directory (an upload); returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn create_stored(
    conn: &mut Conn,
    workspace_id: i64,
    kind: &str,
    mime: &str,
    filename: &str,
    size: i64,
    sha256: &str,
    path: &str,
    now: i64,
) -> Result<i64, StoreError> {
    conn.fetch_one(
        "INSERT INTO media (workspace_id, kind, mime, filename, size, sha256, path, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'stored', $8, $8) RETURNING id",
        &[
            workspace_id.into(),
            kind.into(),
            mime.into(),
            filename.into(),
            size.into(),
            sha256.into(),
            path.into(),
            now.into(),
        ],
    )
    .await?
    .int(0)
}

/// A file of the workspace (`workspace_id` `None`: any, for jobs that carry only the id).
pub async fn get(conn: &mut Conn, workspace_id: Option<i64>, id: i64) -> Result<Option<MediaRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM media WHERE id = $1 AND ($2 IS NULL OR workspace_id = $2)");
    conn.fetch_optional(&sql, &[id.into(), workspace_id.into()]).await?.as_ref().map(media).transpose()
}

/// The files of a message.
pub async fn of_message(conn: &mut Conn, workspace_id: i64, message_id: i64) -> Result<Vec<MediaRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM media WHERE workspace_id = $1 AND message_id = $2 ORDER BY id");
    conn.fetch_all(&sql, &[workspace_id.into(), message_id.into()]).await?.iter().map(media).collect()
}

/// The files of several messages in one query (a thread page's previews), by id.
pub async fn of_messages(conn: &mut Conn, workspace_id: i64, message_ids: &[i64]) -> Result<Vec<MediaRow>, StoreError> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<super::Value> = vec![workspace_id.into()];
    params.extend(message_ids.iter().map(|id| super::Value::from(*id)));
    let list = (2..=params.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {COLUMNS} FROM media WHERE workspace_id = $1 AND message_id IN ({list}) ORDER BY id");
    conn.fetch_all(&sql, &params).await?.iter().map(media).collect()
}

/// Attaches an uploaded file to the message that sends it.
pub async fn attach(conn: &mut Conn, workspace_id: i64, id: i64, message_id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(
            "UPDATE media SET message_id = $3 WHERE workspace_id = $1 AND id = $2 AND message_id IS NULL",
            &[workspace_id.into(), id.into(), message_id.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// The bytes are in the media directory now.
pub async fn mark_stored(
    conn: &mut Conn,
    id: i64,
    mime: &str,
    size: i64,
    sha256: &str,
    path: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE media SET state = 'stored', mime = $2, size = $3, sha256 = $4, path = $5, error = NULL, updated_at = $6
         WHERE id = $1",
        &[id.into(), mime.into(), size.into(), sha256.into(), path.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Fetching failed for good.
pub async fn mark_failed(conn: &mut Conn, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE media SET state = 'failed', error = $2, updated_at = $3 WHERE id = $1",
        &[id.into(), error.into(), now.into()],
    )
    .await?;
    Ok(())
}
