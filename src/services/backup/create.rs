//! Making one backup: snapshot the database (SQLite: a hot physical copy, and a logical export read from that copy
//! while the archive is written; Postgres: a logical export inside one repeatable-read snapshot), list the media,
//! seal the configuration's secrets, write the archive outside any database lock, store it, prune.

use std::path::{Path, PathBuf};

use super::archive::{self, ArchiveError, Source};
use super::destination::Destination;
use super::manifest::{Header, SealedSecrets};
use super::{BackupError, BackupKind, BackupSummary, Scratch, blocking, ops, policy};
use crate::config::Config;
use crate::crypto::DataKey;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, now_millis, transfer};

/// Format version of the archives this code writes.
pub const ARCHIVE_FORMAT: u32 = 1;

pub(super) struct Context<'a> {
    pub config: &'a Config,
    pub db: &'a Db,
    pub destination: &'a dyn Destination,
}

pub(super) async fn build(
    ctx: &Context<'_>,
    op: &mut ops::Operation,
    kind: BackupKind,
    passphrase: Option<&str>,
) -> Result<BackupSummary, BackupError> {
    let scratch = Scratch::new(ctx.config, "backup")?;
    let created_at = now_millis();
    let snapshot = op.run("snapshot", snapshot(ctx.db, scratch.path())).await?;
    let media = op.run("media", list_media(ctx.config.data_dir.media_dir())).await?;
    let secrets = seal_secrets(ctx.config, passphrase)?;
    let config_file = scratch.path().join("config.json");
    write_portable_config(ctx.config, &config_file)?;

    let mut conn = ctx.db.read().await?;
    let instance_id = settings::get(&mut conn, Scope::Instance, "instance.id").await?.unwrap_or_default();
    drop(conn);
    let logical = snapshot.summary;
    let header = Header {
        format: ARCHIVE_FORMAT,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: logical.schema_version,
        backend: backend_name(ctx.db.backend()).to_owned(),
        instance_id,
        created_at,
        kind,
        logical: logical.clone(),
        physical_database: snapshot.physical.is_some(),
        media_files: media.len() as u64,
        secrets,
    };
    let physical =
        snapshot.physical.map(|file| Source { archive_path: "database/sqlite.db".to_owned(), file }).into_iter();
    let mut rest: Vec<Source> = logical
        .tables
        .iter()
        .map(|table| Source {
            archive_path: format!("database/logical/{}.jsonl", table.table),
            file: snapshot.logical_dir.join(format!("{}.jsonl", table.table)),
        })
        .collect();
    rest.push(Source { archive_path: "config.json".to_owned(), file: config_file });
    rest.extend(media);
    // The export's files are taken once the export running beside the archive has finished (an error ends it).
    let export_done = std::iter::once_with(move || snapshot.export.map_or(Ok(()), PendingExport::finish));
    let sources = physical.map(Ok).chain(export_done.filter_map(Result::err).map(Err)).chain(rest.into_iter().map(Ok));

    let existing: Vec<String> = ctx.destination.list()?.into_iter().map(|b| b.file_name).collect();
    let name = (0..100)
        .map(|attempt| policy::file_name(created_at, kind, attempt))
        .find(|n| !existing.contains(n))
        .ok_or_else(|| BackupError::Failed("too many backups in the same second".into()))?;
    let out = scratch.path().join(&name);
    let report = op.bytes_reporter();
    let passphrase_owned = passphrase.map(str::to_owned);
    let out_for_write = out.clone();
    let written = op
        .run("archive", async move {
            let written = blocking(move || {
                archive::write_each(&out_for_write, &header, sources, passphrase_owned.as_deref(), &report)
                    .map_err(BackupError::from)
            })
            .await?;
            let detail = format!("{} bytes, sha256 {}", written.size, written.sha256);
            Ok((written, detail))
        })
        .await?;
    op.run("store", async {
        ctx.destination.store(&out, &name)?;
        Ok(((), format!("{} destination", ctx.destination.name())))
    })
    .await?;
    op.set_file(&name);
    let summary = BackupSummary { file_name: name, size: written.size, created_at, kind };
    if policy::PRUNED_KINDS.contains(&kind) {
        op.run("prune", prune(ctx)).await?;
    }
    Ok(summary)
}

/// The database parts of one moment: the physical SQLite copy (if any) and the summary of the logical export,
/// whose files are in `logical_dir` or, for SQLite, still being written by `export`.
struct Snapshot {
    physical: Option<PathBuf>,
    summary: transfer::ExportSummary,
    logical_dir: PathBuf,
    export: Option<PendingExport>,
}

/// SQLite: a physical copy (`VACUUM INTO`), then the logical export read from that copy, not the live file: both
/// forms hold the same rows, and the export's reads never compete with the writer. As nothing writes to the copy,
/// the export's summary is known up front and the export itself runs beside the archive writer, which meanwhile
/// compresses the copy (the two are most of the backup's CPU). Postgres: the export inside one repeatable-read
/// snapshot, before the archive.
async fn snapshot(db: &Db, dir: &Path) -> Result<(Snapshot, String), BackupError> {
    let logical_dir = dir.join("logical");
    ops::create_private_dir(&logical_dir).map_err(|e| BackupError::io("creating the export directory", e))?;
    let copy = dir.join("sqlite.db");
    if db.sqlite_snapshot(&copy).await? {
        let frozen = Db::open_read_only_sqlite(&copy).await?;
        let summary = transfer::summary(&frozen).await?;
        let export = PendingExport::start(frozen, logical_dir.clone(), summary.clone());
        let detail = format!(
            "sqlite copy; exporting its {} tables at schema {} beside the archive",
            summary.tables.len(),
            summary.schema_version
        );
        Ok((Snapshot { physical: Some(copy), summary, logical_dir, export: Some(export) }, detail))
    } else {
        let summary = transfer::export(db, &logical_dir).await?;
        let detail = format!("{} tables at schema {}", summary.tables.len(), summary.schema_version);
        Ok((Snapshot { physical: None, summary, logical_dir, export: None }, detail))
    }
}

/// The logical export of a snapshot copy, running as its own task; dropping this stops it.
struct PendingExport {
    result: tokio::sync::oneshot::Receiver<Result<transfer::ExportSummary, StoreError>>,
    expected: transfer::ExportSummary,
    _task: AbortOnDrop,
}

impl PendingExport {
    fn start(frozen: Db, dir: PathBuf, expected: transfer::ExportSummary) -> Self {
        let (done, result) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = done.send(transfer::export(&frozen, &dir).await);
            frozen.close().await;
        });
        Self { result, expected, _task: AbortOnDrop(task.abort_handle()) }
    }

    /// Waits for the export (on the archive's blocking thread) and checks it wrote what the summary promised.
    fn finish(self) -> Result<(), ArchiveError> {
        let failed = |why: String| ArchiveError::InvalidSource(format!("the database's logical export: {why}"));
        match self.result.blocking_recv() {
            Ok(Ok(exported)) if exported == self.expected => Ok(()),
            Ok(Ok(_)) => Err(failed("it does not match the snapshot's row counts".to_owned())),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(_) => Err(failed("it stopped before the end".to_owned())),
        }
    }
}

/// Stops a task when dropped (an archive that failed no longer waits for the export).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every file under the media directory, as archive entries (read while the archive is written, not copied).
async fn list_media(root: PathBuf) -> Result<(Vec<Source>, String), BackupError> {
    blocking(move || {
        let mut out = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BackupError::io("reading the media directory", e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| BackupError::io("reading the media directory", e))?;
                let kind = entry.file_type().map_err(|e| BackupError::io("reading the media directory", e))?;
                let path = entry.path();
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file()
                    && let Ok(relative) = path.strip_prefix(&root)
                    && let Some(relative) = relative.to_str()
                {
                    out.push(Source { archive_path: format!("media/{relative}"), file: path.clone() });
                }
            }
        }
        out.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
        let detail = format!("{} files", out.len());
        Ok((out, detail))
    })
    .await
}

/// The secrets travel sealed (see [`SealedSecrets`]); an instance without a key yet has none to carry.
fn seal_secrets(config: &Config, passphrase: Option<&str>) -> Result<SealedSecrets, BackupError> {
    let Some(key_text) = config.encryption_key.as_ref() else {
        return Ok(SealedSecrets { key_fingerprint: String::new(), session_secret: None, encryption_key: None });
    };
    let key = DataKey::from_base64(key_text.expose())
        .map_err(|e| BackupError::Secrets(format!("the instance encryption key does not load: {e}")))?;
    SealedSecrets::seal(&key, config.session_secret.as_ref().map(|s| s.expose()), passphrase)
        .map_err(|e| BackupError::Secrets(e.to_string()))
}

/// The settings that describe the instance rather than this server (no database URL, no listen address, no
/// secrets), kept for reference beside the data.
fn write_portable_config(config: &Config, path: &Path) -> Result<(), BackupError> {
    let portable = serde_json::json!({
        "public_url": config.public_url.as_ref().map(url::Url::as_str),
        "license_server_url": config.license_server_url.as_str(),
        "network_probe_url": config.network_probe_url.as_str(),
        "log_level": config.log_level,
        "job_lease_seconds": config.job_lease.as_secs(),
        "backend": config.database.backend_name(),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&portable).unwrap_or_default())
        .map_err(|e| BackupError::io("writing config.json", e))
}

/// Applies retention to the kinds scheduled pruning may touch.
async fn prune(ctx: &Context<'_>) -> Result<((), String), BackupError> {
    let mut conn = ctx.db.read().await?;
    let settings = policy::BackupSettings::load(&mut conn).await?;
    drop(conn);
    let backups: Vec<BackupSummary> = ctx.destination.list()?.iter().filter_map(policy::summary_of).collect();
    let doomed = policy::to_prune(&backups, &settings.retention, now_millis());
    for name in &doomed {
        ctx.destination.delete(name)?;
    }
    Ok(((), format!("{} removed", doomed.len())))
}

/// The backend's name as archives record it.
pub(super) fn backend_name(backend: crate::store::Backend) -> &'static str {
    match backend {
        crate::store::Backend::Sqlite => "sqlite",
        crate::store::Backend::Postgres => "postgres",
    }
}
