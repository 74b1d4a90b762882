//! The update's one link to backups: the pre-update backup before the swap, and its restore when the new version
//! fails the health gate. Kept in this one place so the backup service's API is used from a single spot.

use std::sync::Arc;

use crate::config::Config;
use crate::services::backup::{BackupError, BackupKind, BackupService, RestoreRequest, restore_offline};

/// Takes the mandatory pre-update backup through the instance's backup service.
pub struct PreUpdateBackup {
    backups: Arc<BackupService>,
}

impl PreUpdateBackup {
    pub fn new(backups: Arc<BackupService>) -> Self {
        Self { backups }
    }

    /// Takes a backup of kind "pre-update" (one at a time: another running backup is [`BackupError::Busy`]); its
    /// file name on success. An update never continues without it.
    pub async fn create(&self, actor: &str) -> Result<String, BackupError> {
        Ok(self.backups.create(BackupKind::PreUpdate, Some(actor), None).await?.file_name)
    }
}

/// Restores the pre-update backup `file_name` into the data (database and media), with the data directory free.
pub async fn restore(config: &Config, file_name: &str) -> Result<(), String> {
    let archive = config.data_dir.backups_dir().join(file_name);
    let request = RestoreRequest { passphrase: None, encryption_key: None };
    restore_offline(config, &archive, &request, None)
        .await
        .map(drop)
        .map_err(|e| format!("cannot restore the pre-update backup {file_name}: {e}"))
}
