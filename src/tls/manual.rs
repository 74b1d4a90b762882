//! `tls_mode = "manual"`: serves the operator's certificate and key files and reloads them when they change; a
//! broken new pair keeps the old one served and is reported on the status board.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::TlsError;
use super::status::TlsStatus;
use super::store::{CertStore, LoadedCertificate};
use crate::config::tls::ManualTls;

/// How often the files' modification times are compared.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What identifies a version of the two files.
type Fingerprint = [Option<(SystemTime, u64)>; 2];

/// Watches the certificate and key files.
pub struct ManualCertificate {
    files: ManualTls,
    store: Arc<CertStore>,
    status: Arc<TlsStatus>,
}

impl ManualCertificate {
    /// Loads the pair once; an unusable pair at start is a start-up error (there is nothing older to serve).
    pub fn load(files: &ManualTls, store: Arc<CertStore>, status: Arc<TlsStatus>) -> Result<Self, TlsError> {
        let watcher = Self { files: files.clone(), store, status };
        watcher.reload().map_err(|reason| TlsError::Setup(format!("{} cannot be served: {reason}", watcher.name())))?;
        Ok(watcher)
    }

    /// Polls the files until shutdown and reloads them after each change.
    pub fn watch(self, mut stop: watch::Receiver<bool>) {
        tokio::spawn(async move {
            let mut seen = self.fingerprint();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return,
                }
                let now = self.fingerprint();
                if now == seen {
                    continue;
                }
                seen = now;
                match self.reload() {
                    Ok(()) => tracing::info!(file = %self.name(), "reloaded the TLS certificate"),
                    Err(reason) => {
                        tracing::warn!(file = %self.name(), reason, "the changed TLS certificate is unusable; still serving the previous one");
                        self.status.failed(&self.name(), false, &reason, None);
                    }
                }
            }
        });
    }

    fn reload(&self) -> Result<(), String> {
        let certificate = read_pair(&self.files)?;
        self.status.valid(&self.name(), false, certificate.not_after);
        self.store.set_any_host(certificate);
        Ok(())
    }

    fn fingerprint(&self) -> Fingerprint {
        [&self.files.cert_file, &self.files.key_file]
            .map(|path| std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len()))))
    }

    fn name(&self) -> String {
        self.files.cert_file.display().to_string()
    }
}

/// Reads and parses the certificate chain and key, as serving them will.
fn read_pair(files: &ManualTls) -> Result<LoadedCertificate, String> {
    let read = |path: &PathBuf| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    LoadedCertificate::from_pem(&read(&files.cert_file)?, &read(&files.key_file)?)
}

/// Whether the files make a certificate this server can serve (checked before they are saved as settings).
pub fn check_certificate_files(files: &ManualTls) -> Result<(), String> {
    read_pair(files).map(drop)
}
