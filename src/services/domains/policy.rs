//! Which hosts get an on-demand certificate: exactly the verified custom domains, asked of the services running
//! right now (they are replaced in-process after install and restore, so the policy holds the [`Runtime`]).

use crate::services::Runtime;

/// The certificate policy for custom domains, for the TLS acceptor.
#[derive(Clone)]
pub struct VerifiedDomains {
    runtime: Runtime,
}

impl VerifiedDomains {
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime }
    }

    /// True only for a verified custom domain of an active workspace (SNI names arrive in any case, maybe with a
    /// trailing dot). Answered from memory: it runs inside the TLS handshake.
    pub fn wants_certificate(&self, host: &str) -> bool {
        self.runtime.services().domains.is_verified(&super::normalise_host_header(host))
    }
}

impl crate::tls::HostPolicy for VerifiedDomains {
    fn wants_certificate(&self, host: &str) -> bool {
        VerifiedDomains::wants_certificate(self, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::domains::{self, CheckResult};
    use crate::store::{accounts, now_millis};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_verified_domains_of_active_workspaces_get_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = crate::config::Overrides { data_dir: Some(dir.path().to_owned()), ..Default::default() };
        let config = crate::config::Config::load_from(&overrides, Default::default()).unwrap();
        let db = crate::store::Db::open(&config.database).await.unwrap();
        crate::store::migrate::run(&db).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let workspace = accounts::create_workspace(&mut tx, "shop", "Shop", "UTC").await.unwrap();
        let verified = domains::create(&mut tx, workspace, "shop.example.test", "t1", now_millis()).await.unwrap();
        domains::create(&mut tx, workspace, "pending.example.test", "t2", now_millis()).await.unwrap();
        let result = CheckResult { verified: true, error: None, at: now_millis() };
        domains::record_check(&mut tx, verified.id, &result).await.unwrap();
        tx.commit().await.unwrap();

        let runtime = Runtime::new(crate::services::Services::new(&config, db.clone()).await.unwrap());
        let policy = VerifiedDomains::new(runtime.clone());
        assert!(policy.wants_certificate("shop.example.test"));
        assert!(policy.wants_certificate("SHOP.example.test."));
        assert!(!policy.wants_certificate("pending.example.test"));
        assert!(!policy.wants_certificate("unknown.example.test"));

        // The owner suspending the workspace withdraws its domains at once; reactivating brings them back.
        let owner = crate::services::workspaces::Owner::cli();
        runtime.services().workspaces.set_suspended(&owner, workspace, true).await.unwrap();
        assert!(!policy.wants_certificate("shop.example.test"));
        runtime.services().workspaces.set_suspended(&owner, workspace, false).await.unwrap();
        assert!(policy.wants_certificate("shop.example.test"));
        db.close().await;
    }
}
