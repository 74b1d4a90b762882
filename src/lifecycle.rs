//! Process lifecycle: the data-directory lock, and the shutdown signal.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Holds the exclusive lock on a data directory for as long as it lives.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the data directory {dir} is in use by another Conversure process{pid}; stop that one first, or pass a different --data-dir"
    )]
    Held { dir: String, pid: String },
    #[error("cannot create the lock file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl DataDirLock {
    /// Takes the lock (`flock`, released by the kernel even after `kill -9`) and records our pid in the file.
    pub fn acquire(lock_path: &Path, dir: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io { path: lock_path.display().to_string(), source };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let pid = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
                return Err(LockError::Held { dir: dir.display().to_string(), pid });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// Resolves when the process is asked to stop (SIGTERM or SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupt received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conversure.lock");
        let first = DataDirLock::acquire(&path, dir.path()).unwrap();
        let err = DataDirLock::acquire(&path, dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by another Conversure process"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        DataDirLock::acquire(&path, dir.path()).unwrap();
    }
}
