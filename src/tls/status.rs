//! What the TLS layer reports about itself: the mode and, per certificate, its state, expiry and last error.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;

use crate::config::{TlsConfig, TlsMode};

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertState {
    /// Not obtained yet; the first order is under way or waiting.
    Pending,
    /// Served; `expires_at` says until when.
    Valid,
    /// The last attempt failed; `last_error` says why and `next_retry_at` when it is tried again.
    Failing,
}

/// One certificate: a domain in `auto` mode, the certificate file in `manual` mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateStatus {
    /// The domain (auto mode) or the certificate file (manual mode).
    pub name: String,
    pub state: CertState,
    /// Obtained on demand for a host the host policy allowed (a workspace's custom domain).
    pub on_demand: bool,
    /// Unix milliseconds after which the served certificate is no longer valid.
    pub expires_at: Option<i64>,
    pub last_error: Option<String>,
    /// Unix milliseconds of the next attempt after a failure.
    pub next_retry_at: Option<i64>,
}

/// A copy of the whole status, for the owner panel and the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsSnapshot {
    /// `off`, `auto` or `manual`.
    pub mode: &'static str,
    pub https_listen: Option<String>,
    pub http_listen: Option<String>,
    /// The ACME directory in auto mode.
    pub directory_url: Option<String>,
    pub certificates: Vec<CertificateStatus>,
}

impl TlsSnapshot {
    /// Whether any certificate is failing (the owner panel then shows a warning).
    pub fn failing(&self) -> bool {
        self.certificates.iter().any(|c| c.state == CertState::Failing)
    }
}

/// The live status board, shared by the ACME manager, the certificate reloader and the web layer.
#[derive(Debug)]
pub struct TlsStatus {
    mode: &'static str,
    https_listen: Option<String>,
    http_listen: Option<String>,
    directory_url: Option<String>,
    certificates: RwLock<BTreeMap<String, CertificateStatus>>,
}

impl TlsStatus {
    /// The board for a configuration; nothing is known about certificates yet.
    pub fn new(config: &TlsConfig) -> Self {
        let (mode, directory_url) = match &config.mode {
            TlsMode::Off => ("off", None),
            TlsMode::Auto(auto) => ("auto", Some(auto.directory_url.to_string())),
            TlsMode::Manual(_) => ("manual", None),
        };
        let enabled = config.enabled();
        Self {
            mode,
            https_listen: enabled.then(|| config.https_listen.to_string()),
            http_listen: config.http_listen.filter(|_| enabled).map(|a| a.to_string()),
            directory_url,
            certificates: RwLock::new(BTreeMap::new()),
        }
    }

    /// Records that `name` is waiting for its first certificate (kept as it is when already known).
    pub fn pending(&self, name: &str, on_demand: bool) {
        self.update(name, on_demand, |_| {});
    }

    /// Records a certificate now being served.
    pub fn valid(&self, name: &str, on_demand: bool, expires_at: i64) {
        self.update(name, on_demand, |c| {
            c.state = CertState::Valid;
            c.expires_at = Some(expires_at);
            c.last_error = None;
            c.next_retry_at = None;
        });
    }

    /// Records a failure; a certificate still being served keeps its expiry so the panel shows both.
    pub fn failed(&self, name: &str, on_demand: bool, error: &str, next_retry_at: Option<i64>) {
        self.update(name, on_demand, |c| {
            c.state = CertState::Failing;
            c.last_error = Some(error.to_owned());
            c.next_retry_at = next_retry_at;
        });
    }

    fn update(&self, name: &str, on_demand: bool, change: impl FnOnce(&mut CertificateStatus)) {
        let mut certificates = self.certificates.write().unwrap_or_else(|e| e.into_inner());
        let entry = certificates.entry(name.to_owned()).or_insert_with(|| CertificateStatus {
            name: name.to_owned(),
            state: CertState::Pending,
            on_demand,
            expires_at: None,
            last_error: None,
            next_retry_at: None,
        });
        change(entry);
    }

    /// Whether any certificate is failing, without copying the board (every owner page asks).
    pub fn any_failing(&self) -> bool {
        let certificates = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        certificates.values().any(|c| c.state == CertState::Failing)
    }

    /// The status of this moment.
    pub fn snapshot(&self) -> TlsSnapshot {
        let certificates = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        TlsSnapshot {
            mode: self.mode,
            https_listen: self.https_listen.clone(),
            http_listen: self.http_listen.clone(),
            directory_url: self.directory_url.clone(),
            certificates: certificates.values().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keeps_expiry_and_success_clears_error() {
        let status = TlsStatus::new(&TlsConfig::default());
        status.pending("a.test", false);
        status.valid("a.test", false, 100);
        status.failed("a.test", false, "refused", Some(5));
        let snap = status.snapshot();
        assert!(snap.failing());
        assert_eq!(snap.certificates[0].expires_at, Some(100));
        status.valid("a.test", false, 200);
        let snap = status.snapshot();
        assert!(!snap.failing());
        assert_eq!(snap.certificates[0].last_error, None);
        assert_eq!(snap.mode, "off");
    }
}
