//! Liveness of the instance's dependencies, for `/healthz`.

use std::time::Duration;

use crate::store::{Db, StoreError};

/// How long a health check waits for the database before calling it down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers whether the instance can serve requests right now.
pub struct HealthService {
    db: Db,
}

impl HealthService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// `Ok` when the database answers a query in time.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.db.ping(PING_TIMEOUT).await
    }
}
