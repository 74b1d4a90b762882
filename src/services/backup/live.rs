//! Restoring into the running process: the queue and cron pause, the services are rebuilt over the restored
//! database and swapped in, as the install wizard does; the previous state comes back if the restored one fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::restore::{self, RestoreRequest};
use super::{BackupError, BackupKind, ops};
use crate::config::{Config, DatabaseUrl};
use crate::services::{Runtime, Services};
use crate::store::Db;

/// How long running jobs get to finish before a restore swaps the database under them.
const PAUSE_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

impl Runtime {
    /// Restores `archive` into this instance: verify, pre-restore backup, pause, swap, reopen, resume. Returns once
    /// the restored instance serves (or the previous one again, with the reason).
    pub async fn restore_backup(
        &self,
        archive: &Path,
        request: &RestoreRequest,
        actor: Option<&str>,
    ) -> Result<(), BackupError> {
        let services = self.services();
        let config = services.backups.config().clone();
        let subject = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut op = ops::Operation::begin(&config.data_dir.backups_dir(), "restore", &subject)?;
        op.set_file(&subject);
        let result = self.restore_steps(&mut op, &services, &config, archive, request).await;
        let record = op.finish(&result.as_ref().map(drop).map_err(|e| BackupError::Failed(e.to_string())));
        self.services().backups.report(actor, &record, result.as_ref().err()).await;
        result
    }

    /// Starts a restore in the background once the archive's header, passphrase, version and secrets check out
    /// (those answers come at once); progress and the outcome show on the backup page and in the history.
    pub async fn start_restore(
        &self,
        archive: PathBuf,
        request: RestoreRequest,
        actor: String,
    ) -> Result<(), BackupError> {
        let services = self.services();
        let config = services.backups.config().clone();
        restore::precheck(&config, &archive, &request).await?;
        let subject = archive.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut op = ops::Operation::begin(&config.data_dir.backups_dir(), "restore", &subject)?;
        op.set_file(&subject);
        let runtime = self.clone();
        tokio::spawn(async move {
            let result = runtime.restore_steps(&mut op, &services, &config, &archive, &request).await;
            let record = op.finish(&result.as_ref().map(drop).map_err(|e| BackupError::Failed(e.to_string())));
            runtime.services().backups.report(Some(&actor), &record, result.as_ref().err()).await;
        });
        Ok(())
    }

    async fn restore_steps(
        &self,
        op: &mut ops::Operation,
        services: &Arc<Services>,
        config: &Config,
        archive: &Path,
        request: &RestoreRequest,
    ) -> Result<(), BackupError> {
        op.step("verify");
        let staged = restore::stage(config, archive, request).await;
        op.done("verify", staged.is_ok(), staged.as_ref().err().map(ToString::to_string).unwrap_or_default());
        let staged = staged?;

        op.step("pre-restore backup");
        let passphrase = services.backups.stored_passphrase().await?;
        let pre = services.backups.create_in(op, BackupKind::PreRestore, None).await?;
        op.done("pre-restore backup", true, pre.file_name.clone());

        op.step("pause");
        self.stop_background(PAUSE_GRACE).await;
        op.done("pause", true, "queue and cron stopped");

        op.step("swap");
        // SQLite: the file is renamed away, so its connections close first (requests meanwhile get 503).
        // Postgres: the rows are replaced in one transaction; the old pool serves until the new services take over.
        let sqlite = matches!(config.database, DatabaseUrl::Sqlite(_));
        if sqlite {
            services.db.close().await;
        }
        match restore::swap_in(config, &staged, &config.database).await {
            Ok((db, next)) => {
                let swapped = self.replace_services(&next, db).await;
                if !sqlite {
                    retire(&services.db);
                }
                op.done("swap", swapped.is_ok(), swapped.as_ref().err().map(ToString::to_string).unwrap_or_default());
                if swapped.is_err() {
                    self.reopen_previous(config, &pre.file_name, passphrase).await;
                }
                swapped
            }
            Err(e) => {
                op.done("swap", false, e.to_string());
                if !sqlite {
                    retire(&services.db);
                }
                self.reopen_previous(config, &pre.file_name, passphrase).await;
                Err(e)
            }
        }
    }

    /// Builds services over `db` and makes them current, with the queue and cron running again.
    async fn replace_services(&self, config: &Config, db: Db) -> Result<(), BackupError> {
        let next = match Services::new(config, db.clone()).await {
            Ok(next) => next,
            Err(e) => {
                db.close().await;
                return Err(BackupError::Failed(format!("the restored instance does not start: {e}")));
            }
        };
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        self.start_background().await;
        Ok(())
    }

    /// After a failed swap: the files are back already; Postgres rows come back from the pre-restore backup. Then
    /// the previous instance serves again.
    async fn reopen_previous(&self, config: &Config, pre_restore: &str, passphrase: Option<String>) {
        if matches!(config.database, DatabaseUrl::Postgres(_)) {
            restore::revert_postgres(config, pre_restore, passphrase).await;
        }
        let reopened = async {
            let db = Db::open(&config.database).await?;
            self.replace_services(config, db).await
        };
        if let Err(e) = reopened.await {
            tracing::error!(error = %e, "the previous instance did not reopen after a failed restore");
        }
    }
}

/// Closes the old Postgres pool without waiting on it here: closing waits for every borrowed connection, and a
/// request still holding one (a slow page, a live stream) must not hold up the restore's outcome.
fn retire(db: &Db) {
    let db = db.clone();
    tokio::spawn(async move { db.close().await });
}
