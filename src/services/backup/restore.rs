//! Restoring an archive: verify it (manifest, checksums, decryption, schema version), extract it into a staging
//! directory on the data directory's filesystem, take a pre-restore backup, then swap the database, media and
//! secrets in, migrate and check; on any failure after the swap, put the previous state back.

use std::path::{Path, PathBuf};

use super::manifest::{Header, SecretsError, key_fingerprint};
use super::{BackupError, BackupKind, BackupService, Scratch, blocking, ops};
use crate::config::{Config, DatabaseUrl, Secret};
use crate::crypto::DataKey;
use crate::lifecycle::DataDirLock;
use crate::store::{Db, migrate, transfer};

/// What the person restoring supplies besides the archive.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    /// The archive's passphrase, when it was encrypted with one.
    pub passphrase: Option<String>,
    /// The encryption key from the recovery kit of the instance that made the backup, when it is another instance
    /// and the archive carries no passphrase-sealed copy of it.
    pub encryption_key: Option<String>,
}

/// A verified archive, extracted, with the secrets its data needs.
pub(crate) struct Staged {
    scratch: Scratch,
    pub header: Header,
    /// The configuration secrets the restored data needs (None: keep the current ones).
    secrets: Option<(Secret, Option<Secret>)>,
}

impl Staged {
    fn content(&self) -> PathBuf {
        self.scratch.path().join("content")
    }
}

/// Verifies and extracts `archive`; nothing outside the staging directory changes.
pub(crate) async fn stage(config: &Config, archive: &Path, request: &RestoreRequest) -> Result<Staged, BackupError> {
    let scratch = Scratch::new(config, "restore")?;
    let content = scratch.path().join("content");
    let path = archive.to_owned();
    let passphrase = request.passphrase.clone().filter(|p| !p.is_empty());
    let header = precheck(config, archive, request).await?;
    let extracted =
        blocking(move || Ok(super::archive::extract(&path, passphrase.as_deref(), &content, &|_| {})?)).await?;
    if extracted.header != header {
        return Err(BackupError::Failed("the archive's manifest does not match its header".into()));
    }
    let secrets = adopt_secrets(config, &header, request)?;
    Ok(Staged { scratch, header, secrets })
}

/// The checks that need only the archive's first entry: readable (with the passphrase), not newer than this
/// Conversure, and restorable with the keys at hand. A restore answers these at once, before it starts.
pub(crate) async fn precheck(config: &Config, archive: &Path, request: &RestoreRequest) -> Result<Header, BackupError> {
    let path = archive.to_owned();
    let passphrase = request.passphrase.clone().filter(|p| !p.is_empty());
    let header = blocking(move || Ok(super::archive::read_header(&path, passphrase.as_deref())?)).await?;
    check_versions(&header)?;
    adopt_secrets(config, &header, request)?;
    Ok(header)
}

fn check_versions(header: &Header) -> Result<(), BackupError> {
    if header.format > super::create::ARCHIVE_FORMAT || header.logical.format > transfer::FORMAT {
        return Err(BackupError::Failed(format!(
            "this archive has format {} (this Conversure reads up to {}): update Conversure first",
            header.format,
            super::create::ARCHIVE_FORMAT
        )));
    }
    let supported = migrate::latest_version();
    if header.schema_version > supported {
        return Err(BackupError::NewerSchema { found: header.schema_version, supported });
    }
    Ok(())
}

/// Decides which encryption key and session secret the restored data goes with: the current ones when the backup
/// was made with this key, else the key carried under the archive's passphrase or the one from the recovery kit.
fn adopt_secrets(
    config: &Config,
    header: &Header,
    request: &RestoreRequest,
) -> Result<Option<(Secret, Option<Secret>)>, BackupError> {
    let sealed = &header.secrets;
    if sealed.key_fingerprint.is_empty() {
        return Ok(None);
    }
    let current = config.encryption_key.as_ref().and_then(|k| DataKey::from_base64(k.expose()).ok());
    if current.as_ref().is_some_and(|k| key_fingerprint(k) == sealed.key_fingerprint) {
        return Ok(None);
    }
    let from_kit = request.encryption_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
    let kit_key = match from_kit {
        Some(text) => Some(DataKey::from_base64(text).map_err(|_| {
            BackupError::Secrets("the encryption key entered is not a recovery-kit key (base64 of 32 bytes)".into())
        })?),
        None => None,
    };
    let passphrase = request.passphrase.as_deref().filter(|p| !p.is_empty());
    let opened = sealed.open(passphrase, kit_key.as_ref()).map_err(|e| match e {
        SecretsError::ForeignKey | SecretsError::NoKey => BackupError::Secrets(
            "this backup comes from another instance: enter the encryption key from that instance's recovery kit \
             (or the backup's passphrase, when it was made with one)"
                .into(),
        ),
        other => BackupError::Secrets(other.to_string()),
    })?;
    let session = opened.session_secret.as_ref().map(|s| Secret::new(s.as_str()));
    Ok(Some((Secret::new(opened.encryption_key.as_str()), session)))
}

/// What was moved aside by a swap, to put back if the restored instance does not come up.
struct Previous {
    dir: PathBuf,
    moved: Vec<(PathBuf, PathBuf)>,
    config: Option<crate::config::write::PreviousConfig>,
}

impl Previous {
    fn move_aside(&mut self, live: &Path) -> Result<(), BackupError> {
        if !live.exists() {
            return Ok(());
        }
        let aside = self.dir.join(format!("{}", self.moved.len()));
        std::fs::rename(live, &aside).map_err(|e| BackupError::io(&format!("moving {} aside", live.display()), e))?;
        self.moved.push((live.to_owned(), aside));
        Ok(())
    }

    /// Puts every moved file back (whatever the restore left in its place is removed first).
    fn put_back(&mut self, data_dir: &crate::config::DataDir) {
        for (live, aside) in self.moved.drain(..).rev() {
            if live.is_dir() {
                let _ = std::fs::remove_dir_all(&live);
            } else {
                let _ = std::fs::remove_file(&live);
            }
            if let Err(e) = std::fs::rename(&aside, &live) {
                tracing::error!(error = %e, path = %live.display(), "could not put a file back after a failed restore");
            }
        }
        if let Some(previous) = self.config.take()
            && let Err(e) = crate::config::write::restore(data_dir, &previous)
        {
            tracing::error!(error = %e, "could not put config.toml back after a failed restore");
        }
    }
}

/// The configuration the restored instance runs with: the target database and, when the archive came from
/// another instance, its secrets.
fn restored_config(config: &Config, staged: &Staged, target: &DatabaseUrl) -> Config {
    let mut next = config.clone();
    next.database = target.clone();
    if let Some((key, session)) = &staged.secrets {
        next.encryption_key = Some(key.clone());
        if let Some(session) = session {
            next.session_secret = Some(session.clone());
        }
    }
    next
}

/// Puts the staged data in place of the live one and opens the result, migrated and checked. The live database
/// must be closed (SQLite) or idle (Postgres). On failure everything moved is put back and the error returned;
/// Postgres rows are put back by the caller from the pre-restore backup.
pub(crate) async fn swap_in(
    config: &Config,
    staged: &Staged,
    target: &DatabaseUrl,
) -> Result<(Db, Config), BackupError> {
    let next = restored_config(config, staged, target);
    let mut previous = Previous { dir: staged.scratch.path().join("previous"), moved: Vec::new(), config: None };
    ops::create_private_dir(&previous.dir).map_err(|e| BackupError::io("creating the staging directory", e))?;
    match swap_steps(config, staged, target, &next, &mut previous).await {
        Ok(db) => Ok((db, next)),
        Err(e) => {
            previous.put_back(&config.data_dir);
            Err(e)
        }
    }
}

async fn swap_steps(
    config: &Config,
    staged: &Staged,
    target: &DatabaseUrl,
    next: &Config,
    previous: &mut Previous,
) -> Result<Db, BackupError> {
    let content = staged.content();
    let logical = content.join("database").join("logical");
    // The logical import counts every table's rows inside its own transaction; only a physical SQLite copy, moved
    // in as a file, still needs its rows counted after it is opened.
    let mut moved_physical_copy = false;
    match target {
        DatabaseUrl::Sqlite(live) => {
            let physical = content.join("database").join("sqlite.db");
            let ready = if staged.header.physical_database && physical.exists() {
                moved_physical_copy = true;
                physical
            } else {
                // Another backend's backup: build an SQLite file at the archive's schema and import the rows.
                let built = staged.scratch.path().join("built.db");
                let db = Db::open(&DatabaseUrl::Sqlite(built.clone())).await?;
                let imported = import_logical(&db, &logical, &staged.header).await;
                db.close().await;
                imported?;
                built
            };
            for suffix in ["", "-wal", "-shm", "-journal"] {
                previous.move_aside(&PathBuf::from(format!("{}{suffix}", live.display())))?;
            }
            std::fs::rename(&ready, live).map_err(|e| BackupError::io("moving the restored database in", e))?;
        }
        DatabaseUrl::Postgres(_) => {
            let db = Db::open(target).await?;
            let imported = import_logical(&db, &logical, &staged.header).await;
            db.close().await;
            imported?;
        }
    }
    let media = config.data_dir.media_dir();
    previous.move_aside(&media)?;
    let staged_media = content.join("media");
    if staged_media.exists() {
        std::fs::rename(&staged_media, &media).map_err(|e| BackupError::io("moving the restored media in", e))?;
    }
    let target_text = match target {
        DatabaseUrl::Sqlite(path) if *path == config.data_dir.sqlite_database() => None,
        DatabaseUrl::Sqlite(path) => Some(format!("sqlite:{}", path.display())),
        DatabaseUrl::Postgres(url) => Some(url.expose().to_owned()),
    };
    if staged.secrets.is_some() || (target != &config.database && !config.fixed_by_operator.contains(&"database_url")) {
        let secrets = staged.secrets.clone();
        let written = crate::config::write::update(&config.data_dir, |file| {
            if let Some((key, session)) = &secrets {
                file.encryption_key = Some(key.expose().to_owned());
                if let Some(session) = session {
                    file.session_secret = Some(session.expose().to_owned());
                }
            }
            if target_text.is_some() || file.database_url.is_some() {
                file.database_url = target_text.clone();
            }
        })
        .map_err(|e| BackupError::io("writing config.toml", e))?;
        previous.config = Some(written);
    }
    open_checked(next, &staged.header, moved_physical_copy).await
}

/// A fresh database at the archive's schema version, filled from the logical export.
async fn import_logical(db: &Db, dir: &Path, header: &Header) -> Result<(), BackupError> {
    if migrate::current_version(db).await? != header.schema_version {
        migrate::wipe_and_run_to(db, header.schema_version).await?;
    }
    transfer::replace_all(db, dir, &header.logical).await?;
    Ok(())
}

/// Opens the restored database, checks a moved-in file holds the archive's rows (`count_rows`), migrates it to this
/// version and pings it. Counting after a Postgres import would race the still-serving old pool, whose writes (an
/// audit entry, a webhook) land on the restored rows the moment the import commits.
async fn open_checked(config: &Config, header: &Header, count_rows: bool) -> Result<Db, BackupError> {
    let db = Db::open(&config.database).await?;
    let checked = async {
        if count_rows {
            rows_match(&db, header).await?;
        }
        migrate::run(&db).await?;
        db.ping(std::time::Duration::from_secs(5)).await?;
        Ok(())
    };
    match checked.await {
        Ok(()) => Ok(db),
        Err(e) => {
            db.close().await;
            Err(e)
        }
    }
}

/// Fails naming the first table whose row count differs from the archive's manifest.
async fn rows_match(db: &Db, header: &Header) -> Result<(), BackupError> {
    let found = transfer::summary(db).await?.tables;
    for expected in &header.logical.tables {
        let rows = found.iter().find(|found| found.table == expected.table).map(|found| found.rows);
        if rows != Some(expected.rows) {
            return Err(BackupError::Failed(format!(
                "the restored table {} holds {} rows, the backup {}",
                expected.table,
                rows.map_or("no".to_owned(), |r| r.to_string()),
                expected.rows
            )));
        }
    }
    Ok(())
}

/// Restores without a running server (the CLI, and the updater's rollback): takes the data-directory lock, makes a
/// pre-restore backup of what is there, swaps, and puts everything back if the result does not open. `target`
/// restores into another database (for example moving from SQLite to Postgres); it is then written to config.toml.
pub async fn restore_offline(
    config: &Config,
    archive: &Path,
    request: &RestoreRequest,
    target: Option<&DatabaseUrl>,
) -> Result<RestoreOutcome, BackupError> {
    // A fresh data directory (a move to a new server) is created as the server would create it.
    ops::create_private_dir(config.data_dir.root()).map_err(|e| BackupError::io("creating the data directory", e))?;
    let _lock = DataDirLock::acquire(&config.data_dir.lock_file(), config.data_dir.root())
        .map_err(|e| BackupError::Failed(e.to_string()))?;
    let target = target.cloned().unwrap_or_else(|| config.database.clone());
    let dir = config.data_dir.backups_dir();
    let subject = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut op = ops::Operation::begin(&dir, "restore", &subject)?;
    let result = offline_steps(config, archive, request, &target, &mut op).await;
    op.set_file(&subject);
    let record = op.finish(&result.as_ref().map(drop).map_err(|e| BackupError::Failed(e.to_string())));
    if let Ok(outcome) = &result {
        let service = BackupService::new(&outcome.config, outcome_db(&outcome.config).await?)?;
        service.report(Some("cli"), &record, None).await;
        service.db.close().await;
    }
    result
}

async fn outcome_db(config: &Config) -> Result<Db, BackupError> {
    Ok(Db::open(&config.database).await?)
}

/// What a finished restore leaves: the configuration the instance now runs with.
pub struct RestoreOutcome {
    pub config: Config,
    pub header: Header,
    pub pre_restore: Option<String>,
}

async fn offline_steps(
    config: &Config,
    archive: &Path,
    request: &RestoreRequest,
    target: &DatabaseUrl,
    op: &mut ops::Operation,
) -> Result<RestoreOutcome, BackupError> {
    // An archive this instance encrypted with its saved passphrase (a pre-update backup being put back by the
    // updater, say) opens without the passphrase being typed again.
    let mut request = request.clone();
    if request.passphrase.is_none() {
        request.passphrase = saved_passphrase(config, target).await;
    }
    op.step("verify");
    let staged = stage(config, archive, &request).await;
    op.done("verify", staged.is_ok(), staged.as_ref().err().map(ToString::to_string).unwrap_or_default());
    let staged = staged?;
    // The pre-restore backup covers what the restore replaces: the target database when it already holds an
    // instance, with this data directory's media.
    op.step("pre-restore backup");
    let mut pre_config = config.clone();
    pre_config.database = target.clone();
    let current = Db::open(target).await?;
    let (pre_restore, pre_passphrase) = if migrate::current_version(&current).await? > 0 {
        let service = match BackupService::new(&pre_config, current.clone()) {
            Ok(service) => service,
            Err(e) => {
                current.close().await;
                return Err(e);
            }
        };
        let passphrase = service.stored_passphrase().await;
        let made = match passphrase {
            Ok(passphrase) => service.create_in(op, BackupKind::PreRestore, None).await.map(|m| (m, passphrase)),
            Err(e) => Err(e),
        };
        current.close().await;
        let (made, passphrase) = made?;
        (Some(made.file_name), passphrase)
    } else {
        current.close().await;
        (None, None)
    };
    op.done("pre-restore backup", true, pre_restore.clone().unwrap_or_else(|| "nothing to keep".into()));
    op.step("swap");
    let swapped = swap_in(config, &staged, target).await;
    op.done("swap", swapped.is_ok(), swapped.as_ref().err().map(ToString::to_string).unwrap_or_default());
    match swapped {
        Ok((db, next)) => {
            db.close().await;
            Ok(RestoreOutcome { config: next, header: staged.header.clone(), pre_restore })
        }
        Err(e) => {
            if matches!(target, DatabaseUrl::Postgres(_))
                && let Some(name) = &pre_restore
            {
                revert_postgres(&pre_config, name, pre_passphrase).await;
            }
            Err(e)
        }
    }
}

/// The passphrase saved in the target instance's settings, if it has one (best effort: none when it cannot be read).
async fn saved_passphrase(config: &Config, target: &DatabaseUrl) -> Option<String> {
    if let DatabaseUrl::Sqlite(path) = target
        && !path.exists()
    {
        return None;
    }
    let mut target_config = config.clone();
    target_config.database = target.clone();
    let db = Db::open(target).await.ok()?;
    let found = match migrate::current_version(&db).await {
        Ok(version) if version > 0 => match BackupService::new(&target_config, db.clone()) {
            Ok(service) => service.stored_passphrase().await.ok().flatten(),
            Err(_) => None,
        },
        _ => None,
    };
    db.close().await;
    found
}

/// Postgres rows cannot be moved aside like a file: a failed restore re-imports the pre-restore backup.
pub(crate) async fn revert_postgres(target_config: &Config, pre_restore: &str, passphrase: Option<String>) {
    let reverted = async {
        let path = target_config.data_dir.backups_dir().join(pre_restore);
        let request = RestoreRequest { passphrase, encryption_key: None };
        let staged = stage(target_config, &path, &request).await?;
        let (db, _) = swap_in(target_config, &staged, &target_config.database).await?;
        db.close().await;
        Ok::<_, BackupError>(())
    };
    if let Err(e) = reverted.await {
        tracing::error!(error = %e, archive = pre_restore, "could not re-import the pre-restore backup");
    }
}
