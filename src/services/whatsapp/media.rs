//! Message files in the data directory: uploads to send, inbound files fetched from the provider by a job (their
//! URLs expire within minutes at Meta), and reading them back for the inbox and the API. Files are named by
//! their SHA-256 under `media/<workspace>/`, so the same file stored twice takes the space once.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::ingest::FetchMedia;
use super::{Shared, WhatsAppError, describe_failure};
use crate::domain::msg::Msg;
use crate::jobs::{Context, Outcome, Registry};
use crate::providers::MediaKind;
use crate::services::access::Actor;
use crate::store::inbox_events::{self, EventKind};
use crate::store::media::{self, MediaRow};
use crate::store::{messages, now_millis, whatsapp_accounts};

/// Largest upload accepted (WhatsApp's own limit for documents is 100 MB).
pub const MAX_UPLOAD: usize = 100 * 1024 * 1024;

/// A file read back.
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub row: MediaRow,
    pub bytes: Vec<u8>,
}

/// Writes bytes under `media/<workspace>/<sha256>` (atomically: a temporary file, then a rename); returns the
/// relative path and the hash.
async fn write_file(media_dir: &Path, workspace_id: i64, bytes: &[u8]) -> std::io::Result<(String, String)> {
    let sha = hex::encode(Sha256::digest(bytes));
    let relative = format!("{workspace_id}/{sha}");
    let path = media_dir.join(&relative);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok((relative, sha));
    }
    let dir = media_dir.join(workspace_id.to_string());
    tokio::fs::create_dir_all(&dir).await?;
    let tmp = dir.join(format!(".{sha}.{}.tmp", rand::random::<u32>()));
    tokio::fs::write(&tmp, bytes).await?;
    let file = tokio::fs::File::open(&tmp).await?;
    file.sync_all().await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok((relative, sha))
}

pub struct MediaService {
    shared: Shared,
}

impl MediaService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Stores an upload for a later send; returns the file's row (its id goes into `media.media_id`).
    pub async fn upload(
        &self,
        actor: &Actor,
        kind: &str,
        filename: &str,
        mime: &str,
        bytes: &[u8],
    ) -> Result<MediaRow, WhatsAppError> {
        actor.require_write()?;
        let mut errors = Vec::new();
        if MediaKind::parse(kind).is_none() {
            errors.push(("kind", Msg::new("whatsapp.media_kind_invalid")));
        }
        if bytes.is_empty() || bytes.len() > MAX_UPLOAD {
            errors.push(("file", Msg::new("whatsapp.media_size_invalid")));
        }
        let filename =
            filename.trim().rsplit(['/', '\\']).next().unwrap_or_default().chars().take(200).collect::<String>();
        if filename.is_empty() {
            errors.push(("file", Msg::new("whatsapp.media_name_missing")));
        }
        if !errors.is_empty() {
            return Err(WhatsAppError::Fields(errors));
        }
        let (path, sha) = write_file(&self.shared.media_dir, actor.workspace_id, bytes)
            .await
            .map_err(|e| WhatsAppError::Internal(format!("media write: {e}")))?;
        let mime = if mime.trim().is_empty() { "application/octet-stream" } else { mime.trim() };
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let mut tx = self.shared.db().write().await?;
        let id =
            media::create_stored(&mut tx, actor.workspace_id, kind, mime, &filename, size, &sha, &path, now_millis())
                .await?;
        tx.commit().await?;
        let mut conn = self.shared.db().read().await?;
        media::get(&mut conn, Some(actor.workspace_id), id).await?.ok_or(WhatsAppError::NotFound)
    }

    /// A stored file of the workspace, with its bytes.
    pub async fn read(&self, actor: &Actor, id: i64) -> Result<MediaFile, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let row = media::get(&mut conn, Some(actor.workspace_id), id).await?.ok_or(WhatsAppError::NotFound)?;
        drop(conn);
        let path = row.path.clone().ok_or_else(|| WhatsAppError::refused("media_pending", "whatsapp.media_pending"))?;
        let bytes = tokio::fs::read(self.shared.media_dir.join(path))
            .await
            .map_err(|e| WhatsAppError::Internal(format!("media read: {e}")))?;
        Ok(MediaFile { row, bytes })
    }

    /// The files of a message.
    pub async fn of_message(&self, actor: &Actor, message_id: i64) -> Result<Vec<MediaRow>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        messages::get(&mut conn, actor.workspace_id, message_id).await?.ok_or(WhatsAppError::NotFound)?;
        Ok(media::of_message(&mut conn, actor.workspace_id, message_id).await?)
    }

    /// Registers the fetch job's handler.
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        let service = Arc::clone(self);
        registry.handle::<FetchMedia, _, _>(move |job, ctx| {
            let service = Arc::clone(&service);
            async move { service.fetch(job, ctx).await }
        });
    }

    /// Downloads an inbound file from its provider into the media directory.
    async fn fetch(&self, job: FetchMedia, ctx: Context) -> Outcome {
        match self.try_fetch(&job, &ctx).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry { error: e.to_string(), at: None },
        }
    }

    async fn try_fetch(&self, job: &FetchMedia, ctx: &Context) -> Result<Outcome, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let Some(row) = media::get(&mut conn, ctx.job.workspace_id, job.media_id).await? else {
            return Ok(Outcome::Done);
        };
        if row.state != "pending" {
            return Ok(Outcome::Done);
        }
        let Some(message_id) = row.message_id else { return Ok(Outcome::Done) };
        let Some(message) = messages::get(&mut conn, row.workspace_id, message_id).await? else {
            return Ok(Outcome::Done);
        };
        let Some(account) = whatsapp_accounts::get(&mut conn, row.workspace_id, message.account_id).await? else {
            return Ok(Outcome::Done);
        };
        let base = self.shared.base_url(&mut conn).await?;
        drop(conn);
        let reference = row.provider_ref.as_deref().and_then(media::decode_ref).unwrap_or_default();
        let config = self.shared.account_config(&account, &base)?;
        let fetched = match reference.inline.clone() {
            Some(bytes) => Ok(crate::providers::FetchedMedia {
                bytes,
                mime: reference.mime.clone().unwrap_or_else(|| "application/octet-stream".into()),
            }),
            None => config.kind.connector().fetch_media(&self.shared.http, &config, &reference).await,
        };
        let now = now_millis();
        match fetched {
            Ok(file) => {
                let (path, sha) = write_file(&self.shared.media_dir, row.workspace_id, &file.bytes)
                    .await
                    .map_err(|e| WhatsAppError::Internal(format!("media write: {e}")))?;
                let size = i64::try_from(file.bytes.len()).unwrap_or(i64::MAX);
                let mut tx = self.shared.db().write().await?;
                media::mark_stored(&mut tx, row.id, &file.mime, size, &sha, &path, now).await?;
                inbox_events::record_for_message(&mut tx, row.workspace_id, message_id, EventKind::Status, now).await?;
                tx.commit().await?;
                Ok(Outcome::Done)
            }
            Err(e) if e.retryable() && ctx.job.attempts < ctx.job.max_attempts => {
                Ok(Outcome::Retry { error: describe_failure(&e), at: None })
            }
            Err(e) => {
                let mut tx = self.shared.db().write().await?;
                media::mark_failed(&mut tx, row.id, &describe_failure(&e), now).await?;
                tx.commit().await?;
                Ok(Outcome::Fail { error: describe_failure(&e) })
            }
        }
    }
}
