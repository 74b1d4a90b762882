//! The data directory and the fixed layout of what Conversure keeps in it.

use std::path::{Path, PathBuf};

/// The one directory that holds everything an instance owns: configuration, database, media, backups, secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps a directory path; nothing is created or checked here.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The platform's default data directory (for example `~/.local/share/conversure` on Linux).
    pub fn platform_default() -> Option<Self> {
        directories::ProjectDirs::from("app", "Conversure", "conversure").map(|dirs| Self::new(dirs.data_dir()))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`: settings written by the operator or the install wizard.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The SQLite database used when no other database URL is configured.
    pub fn sqlite_database(&self) -> PathBuf {
        self.root.join("conversure.db")
    }

    /// The lock file that keeps a second process off this directory.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("conversure.lock")
    }

    /// The one-time token that opens the install wizard; deleted once the instance is installed.
    pub fn setup_token_file(&self) -> PathBuf {
        self.root.join("setup-token")
    }

    /// Uploaded and downloaded media.
    pub fn media_dir(&self) -> PathBuf {
        self.root.join("media")
    }

    /// ACME state: account key, issued certificates and the issuance ledger (never restored from a backup).
    pub fn acme_dir(&self) -> PathBuf {
        self.root.join("acme")
    }

    /// Scratch space on the same filesystem, so staged files can be renamed into place atomically.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Backup archives kept on this machine (the local backup destination).
    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_inside_the_root() {
        let dir = DataDir::new("/srv/cs");
        for path in [dir.config_file(), dir.sqlite_database(), dir.lock_file(), dir.setup_token_file(), dir.media_dir()]
        {
            assert!(path.starts_with("/srv/cs"), "{path:?}");
        }
    }
}
