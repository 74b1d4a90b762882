//! Facts about the installed instance: its id and its license.

use crate::domain::msg::Msg;
use crate::license::{License, LicenseKind};
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, now_millis};

/// The license as the UI shows it.
#[derive(Debug, Clone)]
pub struct LicenseStatus {
    pub evaluation: bool,
    /// Whether paid features work (active or in grace).
    pub paid_features: bool,
    /// "Evaluation mode: 12 days left…", "Licensed to …", or why it does not verify.
    pub message: Msg,
}

pub struct InstanceService {
    db: Db,
}

impl InstanceService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The stored license, re-verified; `None` before install.
    pub async fn license(&self) -> Result<Option<LicenseStatus>, StoreError> {
        let mut conn = self.db.read().await?;
        let stored = settings::load(&mut conn, Scope::Instance, "").await?;
        let (Some(text), Some(instance_id)) = (stored.get("license.stored"), stored.get("instance.id")) else {
            return Ok(None);
        };
        let now = now_millis();
        Ok(Some(match License::from_stored(text, instance_id) {
            Ok(license) => LicenseStatus {
                evaluation: license.kind() == LicenseKind::Evaluation,
                paid_features: license.paid_features_enabled(now),
                message: license.status_msg(now),
            },
            // A stored license that no longer verifies (edited by hand, or a key withdrawn) disables paid features
            // but, like expiry, never locks anyone out.
            Err(e) => LicenseStatus { evaluation: false, paid_features: false, message: e.msg() },
        }))
    }
}
