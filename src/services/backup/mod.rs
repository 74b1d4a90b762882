//! Backups and restores: archives of the database, media and configuration, their schedule, retention and
//! destinations, and the staged, reversible restore.

pub mod archive;
mod create;
pub mod crypt;
pub mod destination;
mod live;
pub mod manifest;
pub mod ops;
pub mod policy;
pub mod restore;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use manifest::BackupKind;
pub use restore::{RestoreRequest, restore_offline};

use crate::config::Config;
use crate::crypto::DataKey;
use crate::domain::msg::Msg;
use crate::store::{Db, StoreError, audit, settings};
use destination::{Destination, LocalDir};

/// Why a backup or restore did not happen; every message says what went wrong and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("another backup or restore is running; wait for it to finish")]
    Busy,
    #[error("no backup named {0}")]
    NotFound(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    #[error(transparent)]
    Destination(#[from] destination::DestinationError),
    #[error(
        "this backup was made by a newer Conversure (schema version {found}; this one supports {supported}): update Conversure first"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("{0}")]
    Secrets(String),
    /// Settings that do not validate: field → what is wrong.
    #[error("invalid backup settings")]
    Invalid(Vec<(&'static str, Msg)>),
    #[error("{0}")]
    Failed(String),
}

impl BackupError {
    pub(crate) fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io { what: what.to_owned(), source }
    }

    /// True when the request itself was wrong (the archive, its passphrase, a name), not the server.
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_) | Self::Archive(_) | Self::NewerSchema { .. } | Self::Secrets(_) | Self::Invalid(_)
        )
    }
}

/// A backup in the list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupSummary {
    pub file_name: String,
    pub size: u64,
    pub created_at: i64,
    pub kind: BackupKind,
}

/// Everything the backup page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub backups: Vec<BackupSummary>,
    pub running: Option<ops::Progress>,
    pub history: Vec<ops::Record>,
    pub settings: policy::BackupSettings,
    pub directory: String,
}

/// Makes, lists, deletes and schedules backups of one instance.
pub struct BackupService {
    config: Config,
    db: Db,
    destination: Arc<dyn Destination>,
}

impl BackupService {
    /// The service over the data directory's local archives (creating `backups/` if missing).
    pub fn new(config: &Config, db: Db) -> Result<Self, BackupError> {
        let destination: Arc<dyn Destination> = Arc::new(LocalDir::in_data_dir(&config.data_dir)?);
        Ok(Self { config: config.clone(), db, destination })
    }

    /// The configuration the service was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Closes the database handle (the CLI's, when it is done).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Where the local archives and the history live.
    pub fn directory(&self) -> PathBuf {
        self.config.data_dir.backups_dir()
    }

    /// Makes a backup now, waiting for it to finish. `passphrase` overrides the configured one for this backup.
    /// A failure is recorded (history, audit log) and emailed to the owners before it is returned.
    pub async fn create(
        &self,
        kind: BackupKind,
        actor: Option<&str>,
        passphrase: Option<&str>,
    ) -> Result<BackupSummary, BackupError> {
        let op = ops::Operation::begin(&self.directory(), "backup", kind.as_str())?;
        self.run_create(op, kind, actor, passphrase).await
    }

    /// Starts a backup in the background and returns at once; "another one is running" is still reported here.
    /// The outcome goes to the history, the audit log and (on failure) the owners' inboxes.
    pub fn start(
        self: &Arc<Self>,
        kind: BackupKind,
        actor: &str,
        passphrase: Option<String>,
    ) -> Result<(), BackupError> {
        let op = ops::Operation::begin(&self.directory(), "backup", kind.as_str())?;
        let service = Arc::clone(self);
        let actor = actor.to_owned();
        tokio::spawn(async move {
            let _ = service.run_create(op, kind, Some(&actor), passphrase.as_deref()).await;
        });
        Ok(())
    }

    async fn run_create(
        &self,
        mut op: ops::Operation,
        kind: BackupKind,
        actor: Option<&str>,
        passphrase: Option<&str>,
    ) -> Result<BackupSummary, BackupError> {
        let result = self.create_in(&mut op, kind, passphrase).await;
        let record = op.finish(&result.as_ref().map(drop).map_err(clone_for_record));
        self.report(actor, &record, result.as_ref().err()).await;
        result
    }

    /// Keeps an uploaded archive in the list once it verifies completely (with `passphrase` when it is encrypted);
    /// anything else is deleted and refused.
    pub async fn receive_upload(
        &self,
        upload: PathBuf,
        passphrase: Option<String>,
        actor: &str,
    ) -> Result<BackupSummary, BackupError> {
        let scratch = TempFile(upload);
        let path = scratch.0.clone();
        let verified =
            blocking(move || Ok(archive::verify(&path, passphrase.as_deref().filter(|p| !p.is_empty()))?)).await?;
        let created_at = crate::store::now_millis();
        let name = format!(
            "uploaded-{}",
            policy::file_name(created_at, verified.header.kind, 0).trim_start_matches("conversure-")
        );
        let destination = Arc::clone(&self.destination);
        let (from, stored_name) = (scratch.0.clone(), name.clone());
        blocking(move || Ok(destination.store(&from, &stored_name)?)).await?;
        self.audit(
            Some(actor),
            "backup.uploaded",
            Some(&name),
            serde_json::json!({ "kind": verified.header.kind.as_str() }),
        )
        .await;
        let size = std::fs::metadata(self.directory().join(&name)).map(|m| m.len()).unwrap_or_default();
        Ok(BackupSummary { file_name: name, size, created_at, kind: verified.header.kind })
    }

    /// Writes an uploaded archive as it arrives (bounded memory, any size the disk takes), then
    /// [`Self::receive_upload`].
    pub async fn receive_stream<S, B, E>(
        &self,
        mut stream: S,
        passphrase: Option<String>,
        actor: &str,
    ) -> Result<BackupSummary, BackupError>
    where
        S: tokio_stream::Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        use tokio::io::AsyncWriteExt as _;
        use tokio_stream::StreamExt as _;
        let target = TempFile(self.upload_target()?);
        let mut file =
            tokio::fs::File::create(&target.0).await.map_err(|e| BackupError::io("storing the upload", e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BackupError::Failed(format!("the upload stopped: {e}")))?;
            file.write_all(chunk.as_ref()).await.map_err(|e| BackupError::io("storing the upload", e))?;
        }
        file.sync_all().await.map_err(|e| BackupError::io("storing the upload", e))?;
        drop(file);
        self.receive_upload(target.into_path(), passphrase, actor).await
    }

    /// A new file in the data directory's scratch area for an upload to be written to.
    pub fn upload_target(&self) -> Result<PathBuf, BackupError> {
        let dir = self.config.data_dir.tmp_dir();
        ops::create_private_dir(&dir).map_err(|e| BackupError::io("creating the upload directory", e))?;
        Ok(dir.join(format!("upload-{}.tar.zst", uuid::Uuid::new_v4().simple())))
    }

    /// Makes a backup inside an operation that is already running (a restore's pre-restore backup).
    pub(crate) async fn create_in(
        &self,
        op: &mut ops::Operation,
        kind: BackupKind,
        passphrase: Option<&str>,
    ) -> Result<BackupSummary, BackupError> {
        let stored = match passphrase.filter(|p| !p.is_empty()) {
            Some(p) => Some(p.to_owned()),
            None => self.stored_passphrase().await?,
        };
        create::build(
            &create::Context { config: &self.config, db: &self.db, destination: &*self.destination },
            op,
            kind,
            stored.as_deref(),
        )
        .await
    }

    /// The archives, newest first.
    pub async fn list(&self) -> Result<Vec<BackupSummary>, BackupError> {
        let destination = Arc::clone(&self.destination);
        let stored = blocking(move || destination.list().map_err(BackupError::from)).await?;
        Ok(stored.iter().filter_map(policy::summary_of).collect())
    }

    /// What the backup page shows.
    pub async fn overview(&self) -> Result<Overview, BackupError> {
        Ok(Overview {
            backups: self.list().await?,
            running: ops::current(&self.directory()),
            history: ops::read_history(&self.directory()).into_iter().take(20).collect(),
            settings: self.settings().await?,
            directory: self.directory().display().to_string(),
        })
    }

    /// The operation under way, if any.
    pub fn running(&self) -> Option<ops::Progress> {
        ops::current(&self.directory())
    }

    /// A local path of the archive `file_name` (for download and restore); refuses names that are not archives.
    pub async fn open(&self, file_name: &str) -> Result<PathBuf, BackupError> {
        let destination = Arc::clone(&self.destination);
        let name = file_name.to_owned();
        blocking(move || {
            destination.open(&name).map_err(|e| match e {
                destination::DestinationError::NotFound(n) => BackupError::NotFound(n),
                other => BackupError::from(other),
            })
        })
        .await
    }

    /// Deletes one archive.
    pub async fn delete(&self, file_name: &str, actor: Option<&str>) -> Result<(), BackupError> {
        self.open(file_name).await?;
        let destination = Arc::clone(&self.destination);
        let name = file_name.to_owned();
        blocking(move || destination.delete(&name).map_err(BackupError::from)).await?;
        self.audit(actor, "backup.deleted", Some(file_name), serde_json::json!({})).await;
        Ok(())
    }

    /// The schedule, retention and passphrase state.
    pub async fn settings(&self) -> Result<policy::BackupSettings, BackupError> {
        let mut conn = self.db.read().await?;
        Ok(policy::BackupSettings::load(&mut conn).await?)
    }

    /// Validates and saves the settings; nothing changes when a field is wrong.
    pub async fn save_settings(&self, input: &policy::SettingsInput, actor: Option<&str>) -> Result<(), BackupError> {
        let values = input.validate().map_err(BackupError::Invalid)?;
        let key = self.key()?;
        let mut tx = self.db.write().await?;
        values.save(&mut tx, key.as_ref()).await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: None,
                actor_user_id: None,
                actor_label: actor.unwrap_or("system"),
                action: "backup.settings_changed",
                target: None,
                detail: serde_json::json!({ "schedule": values.schedule, "passphrase_set": input.passphrase_action() }),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The cron job: makes the scheduled backup when its time has come since the last one, then prunes. Returns the
    /// one-line result the jobs page shows.
    pub async fn run_schedule(&self) -> Result<String, BackupError> {
        let settings = self.settings().await?;
        let now = crate::store::now_millis();
        if !policy::is_due(&settings, now) {
            return Ok("not due".to_owned());
        }
        {
            let mut tx = self.db.write().await?;
            settings::put(&mut tx, settings::Scope::Instance, policy::LAST_SCHEDULED_KEY, &now.to_string()).await?;
            tx.commit().await?;
        }
        let made = self.create(BackupKind::Scheduled, Some("system"), None).await?;
        Ok(format!("made {} ({} bytes)", made.file_name, made.size))
    }

    /// The cron entry that runs [`Self::run_schedule`]: every five minutes, so a changed schedule applies within
    /// minutes without re-registering anything.
    pub fn schedule(self: &Arc<Self>) -> Result<crate::jobs::cron::Schedule, String> {
        let service = Arc::clone(self);
        crate::jobs::cron::Schedule::new("backup", "*/5 * * * *", true, move || {
            let service = Arc::clone(&service);
            async move { service.run_schedule().await.map_err(|e| e.to_string()) }
        })
    }

    pub(crate) async fn stored_passphrase(&self) -> Result<Option<String>, BackupError> {
        let mut conn = self.db.read().await?;
        let key = self.key()?;
        Ok(policy::stored_passphrase(&mut conn, key.as_ref()).await?)
    }

    fn key(&self) -> Result<Option<DataKey>, BackupError> {
        self.config
            .encryption_key
            .as_ref()
            .map(|k| {
                DataKey::from_base64(k.expose()).map_err(|e| BackupError::Secrets(format!("the encryption key: {e}")))
            })
            .transpose()
    }

    /// Records a finished operation in the audit log, and emails the owners when it failed.
    pub(crate) async fn report(&self, actor: Option<&str>, record: &ops::Record, error: Option<&BackupError>) {
        let action = match (record.operation.as_str(), record.ok) {
            ("backup", true) => "backup.created",
            ("backup", false) => "backup.failed",
            (_, true) => "backup.restored",
            (_, false) => "backup.restore_failed",
        };
        let detail = serde_json::json!({ "kind": record.subject, "steps": record.steps, "error": record.error });
        self.audit(actor, action, record.file_name.as_deref(), detail).await;
        if let Some(error) = error {
            policy::email_owners(&self.db, self.key().ok().flatten().as_ref(), record, &error.to_string()).await;
        }
    }

    async fn audit(&self, actor: Option<&str>, action: &str, target: Option<&str>, detail: serde_json::Value) {
        let written = async {
            let mut tx = self.db.write().await?;
            audit::record(
                &mut tx,
                &audit::Entry {
                    workspace_id: None,
                    actor_user_id: None,
                    actor_label: actor.unwrap_or("system"),
                    action,
                    target,
                    detail,
                    ip: None,
                },
            )
            .await?;
            tx.commit().await
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, action, "could not write the audit entry");
        }
    }
}

/// The history stores errors as text; the typed error goes back to the caller.
fn clone_for_record(e: &BackupError) -> BackupError {
    BackupError::Failed(e.to_string())
}

/// Runs file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| BackupError::Failed(format!("a backup task stopped: {e}")))?
}

/// Removes a file when dropped unless it was moved away (an upload that did not verify).
pub(crate) struct TempFile(pub PathBuf);

impl TempFile {
    /// Hands the file on; it is no longer removed here.
    pub fn into_path(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes a scratch directory when dropped, whatever happened.
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(config: &Config, prefix: &str) -> Result<Self, BackupError> {
        let dir = config.data_dir.tmp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        ops::create_private_dir(&dir).map_err(|e| BackupError::io("creating a staging directory", e))?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
