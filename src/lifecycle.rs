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

/// A stop request (SIGTERM or SIGINT), watched in the background from the moment this is made until the process
/// ends. Once tokio has listened for a signal its handler stays installed for the life of the process, so a signal
/// that arrives while nobody listens is swallowed: between serving and an update's restart, a `systemctl stop`
/// would be ignored and the process would start again.
#[derive(Clone)]
pub struct StopRequest(tokio::sync::watch::Receiver<bool>);

impl StopRequest {
    pub fn watch() -> Self {
        let (arrived, watching) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = arrived.send(true);
        });
        Self(watching)
    }

    /// Whether a stop has been requested.
    pub fn arrived(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when a stop is requested (at once if one already was).
    pub async fn requested(&mut self) {
        if self.0.wait_for(|arrived| *arrived).await.is_err() {
            // The watching task ended without a signal (the runtime is shutting down): no stop will come.
            std::future::pending::<()>().await;
        }
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
