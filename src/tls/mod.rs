//! HTTPS: the three TLS modes (off, automatic ACME certificates, manual certificate files), the HTTPS listener with
//! on-demand certificates for hosts a [`HostPolicy`] allows, the HTTP→HTTPS redirect server, and the status board
//! the owner panel and API show. Certificates are obtained in the background: start-up never waits for them.

mod acme;
mod ledger;
mod listener;
mod manual;
mod redirect;
pub mod status;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{DataDir, TlsConfig, TlsMode};
pub use manual::check_certificate_files;
pub use status::{CertState, CertificateStatus, TlsSnapshot, TlsStatus};

use acme::AcmeManager;
use listener::{Handshaker, OnDemand, TlsListener};
use manual::ManualCertificate;
use store::CertStore;

/// Decides which host names beyond `tls_domains` may get a certificate on demand (verified custom domains).
pub trait HostPolicy: Send + Sync {
    fn wants_certificate(&self, host: &str) -> bool;
}

/// The policy until custom domains provide theirs: only the configured `tls_domains`.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredDomains {
    domains: Vec<String>,
}

impl ConfiguredDomains {
    pub fn new(config: &TlsConfig) -> Self {
        match &config.mode {
            TlsMode::Auto(auto) => Self { domains: auto.domains.clone() },
            _ => Self::default(),
        }
    }
}

impl HostPolicy for ConfiguredDomains {
    fn wants_certificate(&self, host: &str) -> bool {
        self.domains.iter().any(|d| d == host)
    }
}

/// Why TLS could not be set up; the message names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {0}")]
    Setup(String),
}

/// HTTPS set up and bound, not serving yet.
pub struct TlsServer {
    status: Arc<TlsStatus>,
    store: Arc<CertStore>,
    https: TcpListener,
    http: Option<TcpListener>,
    acme: Option<(Arc<AcmeManager>, Vec<String>)>,
    manual: Option<ManualCertificate>,
    stop: watch::Sender<bool>,
}

impl TlsServer {
    /// Prepares the mode's certificate source on listeners already bound; `None` when TLS is off.
    pub fn new(
        config: &TlsConfig,
        data_dir: &DataDir,
        https: TcpListener,
        http: Option<TcpListener>,
    ) -> Result<Self, TlsError> {
        let status = Arc::new(TlsStatus::new(config));
        let store = Arc::new(CertStore::default());
        let (stop, stopping) = watch::channel(false);
        let (mut acme, mut manual) = (None, None);
        match &config.mode {
            TlsMode::Off => return Err(TlsError::Setup("tls_mode is off".to_owned())),
            TlsMode::Auto(auto) => {
                let manager = AcmeManager::new(auto, data_dir.acme_dir(), store.clone(), status.clone(), stopping)?;
                acme = Some((Arc::new(manager), auto.domains.clone()));
            }
            TlsMode::Manual(files) => manual = Some(ManualCertificate::load(files, store.clone(), status.clone())?),
        }
        Ok(Self { status, store, https, http, acme, manual, stop })
    }

    /// The status board, for the web layer.
    pub fn status(&self) -> Arc<TlsStatus> {
        self.status.clone()
    }

    /// The HTTPS address actually bound.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.local_addr().ok()
    }

    /// The HTTP (redirect) address actually bound.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Starts serving `app` over HTTPS and the redirect over HTTP, and starts obtaining certificates.
    pub fn start(self, app: Router, policy: Arc<dyn HostPolicy>) -> Result<RunningTls, TlsError> {
        let stopping = self.stop.subscribe();
        let on_demand = self.acme.as_ref().map(|(manager, domains)| {
            for domain in domains {
                manager.maintain(domain.clone(), false);
            }
            OnDemand { manager: manager.clone(), policy }
        });
        if let Some(manual) = self.manual {
            manual.watch(stopping.clone());
        }
        let handshaker = Handshaker::new(self.store.clone(), on_demand).map_err(|e| TlsError::Setup(e.to_string()))?;
        let https_port = self.https.local_addr().map(|a| a.port()).unwrap_or(443);
        let listener = TlsListener::spawn(self.https, Arc::new(handshaker), stopping.clone())
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .tap_io(|_| {});
        let mut servers = vec![tokio::spawn(
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stopped(stopping.clone()))
                .into_future(),
        )];
        if let Some(http) = self.http {
            let redirect = redirect::router(self.store.clone(), https_port);
            servers.push(tokio::spawn(
                axum::serve(http, redirect).with_graceful_shutdown(stopped(stopping)).into_future(),
            ));
        }
        Ok(RunningTls { stop: StopTls(Arc::new(self.stop)), servers })
    }
}

/// The HTTPS and redirect servers while they run.
pub struct RunningTls {
    stop: StopTls,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Tells the HTTPS side to stop accepting (shutdown begins everywhere at once).
#[derive(Clone)]
pub struct StopTls(Arc<watch::Sender<bool>>);

impl StopTls {
    pub fn now(&self) {
        let _ = self.0.send(true);
    }
}

impl RunningTls {
    /// A handle that starts the shutdown from elsewhere.
    pub fn stop_signal(&self) -> StopTls {
        self.stop.clone()
    }

    /// Stops accepting, lets in-flight requests finish, and stops certificate maintenance.
    pub async fn stop(self) {
        self.stop.now();
        for server in self.servers {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "an HTTPS server stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "an HTTPS server task failed"),
            }
        }
    }
}

async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}
