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
    ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime, secure_cookies: false, ready: Arc::new(AtomicBool::new(true)) }
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
