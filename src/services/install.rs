//! Whether the instance is installed, and the one-time setup token that guards the install wizard until it is.

use std::io::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use subtle::ConstantTimeEq;

use crate::config::DataDir;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError};

/// The instance setting whose presence means "installed"; its value is the install time in unix milliseconds.
pub const INSTALLED_KEY: &str = "instance.installed_at";

/// What can go wrong while reading or creating the install state.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the setup token {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
}

/// Tracks the install state and checks setup tokens.
pub struct InstallService {
    data_dir: DataDir,
    installed: AtomicBool,
    token: RwLock<Option<String>>,
}

impl InstallService {
    /// Reads the install state; a fresh instance gets a setup token (kept across restarts until install finishes).
    pub async fn init(db: Db, data_dir: DataDir) -> Result<Self, InstallError> {
        let mut conn = db.read().await?;
        let installed = settings::get(&mut conn, Scope::Instance, INSTALLED_KEY).await?.is_some();
        drop(conn);
        let token = if installed { None } else { Some(load_or_create_token(&data_dir)?) };
        Ok(Self { data_dir, installed: AtomicBool::new(installed), token: RwLock::new(token) })
    }

    /// True once the install wizard has finished.
    pub fn is_installed(&self) -> bool {
        self.installed.load(Ordering::Acquire)
    }

    /// The setup token, while not installed (for the start-up banner).
    pub fn setup_token(&self) -> Option<String> {
        self.token.read().ok().and_then(|t| t.clone())
    }

    /// Where the token is kept, for the messages that tell an operator how to find it.
    pub fn token_path(&self) -> std::path::PathBuf {
        self.data_dir.setup_token_file()
    }

    /// Whether `candidate` is the current setup token; compared in constant time. Always false once installed.
    pub fn verify_token(&self, candidate: &str) -> bool {
        if self.is_installed() {
            return false;
        }
        let Ok(guard) = self.token.read() else { return false };
        guard.as_deref().is_some_and(|token| {
            token.len() == candidate.len() && bool::from(token.as_bytes().ct_eq(candidate.as_bytes()))
        })
    }
}

fn load_or_create_token(data_dir: &DataDir) -> Result<String, InstallError> {
    let path = data_dir.setup_token_file();
    let error = |source| InstallError::TokenFile { path: path.display().to_string(), source };
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 && existing.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(existing.to_owned());
        }
    }
    let token = hex::encode(rand::random::<[u8; 20]>());
    // Write beside and rename, so a crash never leaves a half-written token that locks the operator out.
    let staging = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&staging).map_err(error)?;
    file.write_all(format!("{token}\n").as_bytes()).and_then(|()| file.sync_all()).map_err(error)?;
    std::fs::rename(&staging, &path).map_err(error)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let first = load_or_create_token(&data_dir).unwrap();
        assert_eq!(first.len(), 40);
        assert_eq!(load_or_create_token(&data_dir).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data_dir.setup_token_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_token_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        std::fs::write(data_dir.setup_token_file(), "garbage").unwrap();
        let token = load_or_create_token(&data_dir).unwrap();
        assert_ne!(token, "garbage");
    }
}
