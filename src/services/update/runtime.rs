//! The process side of an update: a restart request the `serve` command waits on beside the shutdown signal, and
//! [`Runtime::apply_update`], which installs and then asks the server to stop so the health gate can take over.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{UpdateError, state::UpdateState};
use crate::services::Runtime;
use crate::services::workspaces::Owner;

/// "Stop serving, the health gate takes over": set once an update is installed.
#[derive(Debug, Default)]
pub struct RestartRequest {
    requested: AtomicBool,
    wake: tokio::sync::Notify,
}

impl Runtime {
    /// Installs the newest version, then asks the server to stop serving so the health gate can start it.
    pub async fn apply_update(&self, owner: &Owner) -> Result<UpdateState, UpdateError> {
        let attempt = self.services().update.apply(owner).await?;
        self.request_restart();
        Ok(attempt)
    }

    /// Asks `serve` to stop serving and hand over to the health gate.
    pub fn request_restart(&self) {
        self.restart.requested.store(true, Ordering::Release);
        // `notify_one` keeps a permit when nobody waits yet, so the request is never lost.
        self.restart.wake.notify_one();
    }

    /// Resolves once a restart was requested.
    pub async fn restart_requested(&self) {
        if !self.is_restart_requested() {
            self.restart.wake.notified().await;
        }
    }

    /// Whether the server stopped to hand over to the health gate (rather than on a signal).
    pub fn is_restart_requested(&self) -> bool {
        self.restart.requested.load(Ordering::Acquire)
    }
}
