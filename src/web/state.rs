//! The state every handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::services::{Runtime, Services};

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Runtime,
    /// Whether the connection is TLS (sets the `Secure` flag on cookies).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-*` headers are believed (see `web::client`).
    pub trusted_proxies: Arc<crate::config::network::TrustedProxies>,
    /// The TLS mode and certificate status (the owner panel and `GET /api/v1/instance/tls` show it).
    pub tls: Arc<crate::tls::TlsStatus>,
    ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime,
            secure_cookies: false,
            trusted_proxies: Arc::default(),
            tls: Arc::new(crate::tls::TlsStatus::new(&crate::config::TlsConfig::default())),
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Believes `X-Forwarded-*` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: crate::config::network::TrustedProxies) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }

    /// Reports this TLS status board.
    pub fn with_tls_status(mut self, status: Arc<crate::tls::TlsStatus>) -> Self {
        self.tls = status;
        self
    }

    /// The services of this moment (they change once, when the install wizard finishes).
    pub fn services(&self) -> Arc<Services> {
        self.runtime.services()
    }

    /// Whether `/readyz` should say yes (false while draining for shutdown).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the instance as draining, so load balancers stop sending new requests.
    pub fn set_draining(&self) {
        self.ready.store(false, Ordering::Release);
    }
}
