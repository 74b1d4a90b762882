//! The state every handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::services::Services;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services, ready: Arc::new(AtomicBool::new(true)) }
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
