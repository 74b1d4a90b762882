//! Custom domains: the instance owner gives a workspace its own host names, each proven to reach this server by a
//! self-probe ([`probe`]); verified ones brand the sign-in page for their workspace and get certificates on demand.

pub mod host;
pub mod policy;
pub mod probe;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::services::access::{AccessError, Actor};
use crate::services::auth::token_hash;
use crate::services::workspaces::Owner;
use crate::store::accounts::Workspace;
use crate::store::domains::{self, CheckResult, Domain, HostWorkspace};
use crate::store::{Conn, Db, StoreError, accounts, audit, now_millis, sessions};

pub use host::normalise_host_header;
use probe::Prober;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// No such workspace or domain (or another workspace's): 404.
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A workspace's domains and the instance's own host names (for the DNS instructions: "the same address as …").
#[derive(Debug, Clone)]
pub struct DomainsOverview {
    pub workspace_id: i64,
    pub workspace_name: String,
    pub domains: Vec<Domain>,
    pub own_hosts: Vec<String>,
}

/// The custom domains service; one per [`crate::services::Services`].
pub struct DomainService {
    db: Db,
    prober: Prober,
    /// The configuration's `public_url` host: the instance's own name is never a workspace's domain.
    configured_host: Option<String>,
    /// Verified hosts of active workspaces, kept in memory so certificate decisions (made during TLS handshakes,
    /// synchronously) and the per-request branding check need no database round trip for unknown hosts.
    verified: Arc<RwLock<HashSet<String>>>,
}

impl DomainService {
    /// Builds the service and loads the verified hosts.
    pub async fn load(config: &Config, db: Db) -> Result<Self, StoreError> {
        let service = Self {
            db,
            prober: Prober::new(config.domain_probe_addr),
            configured_host: config.public_url.as_ref().and_then(|u| u.host_str()).map(str::to_ascii_lowercase),
            verified: Arc::default(),
        };
        service.refresh().await?;
        Ok(service)
    }

    /// A workspace's domains with what the DNS instructions need, for the instance owner.
    pub async fn overview(&self, _owner: &Owner, workspace_id: i64) -> Result<DomainsOverview, DomainError> {
        let mut conn = self.db.read().await?;
        let workspace = accounts::workspace_by_id(&mut conn, workspace_id).await?.ok_or(DomainError::NotFound)?;
        self.overview_of(&mut conn, workspace).await
    }

    /// The domains of the actor's own workspace, read-only, for its admins.
    pub async fn overview_own(&self, actor: &Actor) -> Result<DomainsOverview, DomainError> {
        actor.require(Permission::ManageSettings)?;
        let mut conn = self.db.read().await?;
        let workspace = accounts::workspace_by_id(&mut conn, actor.workspace_id).await?.ok_or(DomainError::NotFound)?;
        self.overview_of(&mut conn, workspace).await
    }

    async fn overview_of(&self, conn: &mut Conn, workspace: Workspace) -> Result<DomainsOverview, DomainError> {
        Ok(DomainsOverview {
            domains: domains::list(conn, workspace.id).await?,
            own_hosts: own_hosts(conn, self.configured_host.as_deref()).await?,
            workspace_id: workspace.id,
            workspace_name: workspace.name,
        })
    }

    /// Adds a pending domain to a workspace. Bad or taken names change nothing.
    pub async fn add(&self, owner: &Owner, workspace_id: i64, input: &str) -> Result<Domain, DomainError> {
        let mut tx = self.db.write().await?;
        accounts::workspace_by_id(&mut tx, workspace_id).await?.ok_or(DomainError::NotFound)?;
        let own = own_hosts(&mut tx, self.configured_host.as_deref()).await?;
        let host = host::parse_domain(input, &own).map_err(|msg| DomainError::Fields(vec![("host", msg)]))?;
        let taken = || DomainError::Fields(vec![("host", Msg::new("domains.invalid.taken"))]);
        if domains::by_host(&mut tx, &host).await?.is_some() {
            return Err(taken());
        }
        let token = hex::encode(rand::random::<[u8; 16]>());
        let domain = match domains::create(&mut tx, workspace_id, &host, &token, now_millis()).await {
            Err(StoreError::Conflict { .. }) => return Err(taken()),
            other => other?,
        };
        record(&mut tx, owner, workspace_id, "domain.added", &host).await?;
        tx.commit().await?;
        Ok(domain)
    }

    /// Removes a domain of a workspace; it stops being served and certified at once.
    pub async fn remove(&self, owner: &Owner, workspace_id: i64, id: i64) -> Result<(), DomainError> {
        let mut tx = self.db.write().await?;
        let domain = domains::get(&mut tx, workspace_id, id).await?.ok_or(DomainError::NotFound)?;
        domains::delete(&mut tx, workspace_id, id).await?;
        record(&mut tx, owner, workspace_id, "domain.removed", &domain.host).await?;
        tx.commit().await?;
        self.refresh().await?;
        Ok(())
    }

    /// Checks a domain now ("Verify now") and returns it with the outcome recorded.
    pub async fn verify(&self, _owner: &Owner, workspace_id: i64, id: i64) -> Result<Domain, DomainError> {
        let domain = {
            let mut conn = self.db.read().await?;
            domains::get(&mut conn, workspace_id, id).await?.ok_or(DomainError::NotFound)?
        };
        self.check(&domain).await?;
        let mut conn = self.db.read().await?;
        domains::get(&mut conn, workspace_id, id).await?.ok_or(DomainError::NotFound)
    }

    /// Re-checks every domain (the hourly schedule); a summary for the job log.
    pub async fn recheck_all(&self) -> Result<String, StoreError> {
        let all = {
            let mut conn = self.db.read().await?;
            domains::all(&mut conn).await?
        };
        let mut verified = 0;
        for domain in &all {
            if self.check(domain).await? {
                verified += 1;
            }
        }
        Ok(format!("checked {} domains, {verified} verified", all.len()))
    }

    /// Probes one domain and records the result (the probe runs outside any transaction: it calls ourselves).
    async fn check(&self, domain: &Domain) -> Result<bool, StoreError> {
        let outcome = self.prober.check(&domain.host, &domain.token).await;
        if let Err(failure) = &outcome {
            tracing::info!(
                host = domain.host,
                code = failure.code,
                detail = failure.detail,
                "custom domain check failed"
            );
        }
        let error = outcome.as_ref().err().map(probe::ProbeFailure::stored);
        let result = CheckResult { verified: outcome.is_ok(), error: error.as_deref(), at: now_millis() };
        let mut tx = self.db.write().await?;
        domains::record_check(&mut tx, domain.id, &result).await?;
        tx.commit().await?;
        self.refresh().await?;
        Ok(result.verified)
    }

    /// Whether `token` is this host's probe token: the well-known route answers only then.
    pub async fn answers_probe(&self, host: &str, token: &str) -> Result<bool, StoreError> {
        let mut conn = self.db.read().await?;
        let domain = domains::by_host(&mut conn, &normalise_host_header(host)).await?;
        Ok(domain.is_some_and(|d| crate::crypto::constant_time_eq(&d.token, token)))
    }

    /// The workspace a request's host brands, when it is a verified custom domain of an active workspace.
    pub async fn workspace_for_host(&self, host: &str) -> Result<Option<HostWorkspace>, StoreError> {
        let host = normalise_host_header(host);
        if !self.is_verified(&host) {
            return Ok(None);
        }
        let mut conn = self.db.read().await?;
        domains::verified_workspace(&mut conn, &host).await
    }

    /// Moves a just-created session into the workspace of the custom domain it signed in on, when the user is a
    /// member there; otherwise the session stays where sign-in put it.
    pub async fn enter_host_workspace(&self, session_token: &str, host: &str) -> Result<bool, StoreError> {
        let Some(target) = self.workspace_for_host(host).await? else { return Ok(false) };
        let hash = token_hash(session_token);
        let mut tx = self.db.write().await?;
        let Some(session) = sessions::find(&mut tx, &hash).await? else { return Ok(false) };
        let member = accounts::memberships_of(&mut tx, session.user_id)
            .await?
            .iter()
            .any(|m| m.workspace.id == target.workspace_id);
        if !member || !sessions::set_workspace(&mut tx, &hash, target.workspace_id).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether `host` is a verified custom domain right now (in memory; no I/O).
    pub fn is_verified(&self, host: &str) -> bool {
        match self.verified.read() {
            Ok(set) => set.contains(host),
            Err(poisoned) => poisoned.into_inner().contains(host),
        }
    }

    /// Reloads the in-memory set of verified hosts from the database.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let hosts: HashSet<String> = {
            let mut conn = self.db.read().await?;
            domains::verified_hosts(&mut conn).await?.into_iter().map(|h| h.host).collect()
        };
        match self.verified.write() {
            Ok(mut set) => *set = hosts,
            Err(poisoned) => *poisoned.into_inner() = hosts,
        }
        Ok(())
    }

    /// The hourly re-check, for the cron.
    pub fn schedule(self: &Arc<Self>) -> Result<crate::jobs::cron::Schedule, String> {
        let service = Arc::clone(self);
        crate::jobs::cron::Schedule::new("domains-check", "41 * * * *", false, move || {
            let service = Arc::clone(&service);
            async move { service.recheck_all().await.map_err(|e| e.to_string()) }
        })
    }
}

/// The translated reason of a stored `last_error` (`code` or `code: detail`).
pub fn error_message(last_error: &str) -> Msg {
    let (code, detail) = last_error.split_once(": ").unwrap_or((last_error, ""));
    let detail = detail.to_owned();
    match code {
        "no_answer" => Msg::with("domains.error.no_answer", &[("detail", detail)]),
        "http_status" => Msg::with("domains.error.http_status", &[("status", detail)]),
        "wrong_token" => Msg::new("domains.error.wrong_token"),
        _ => Msg::with("domains.error.other", &[("detail", last_error.to_owned())]),
    }
}

/// The configured public host and the `site.public_url` setting's host.
async fn own_hosts(conn: &mut Conn, configured: Option<&str>) -> Result<Vec<String>, StoreError> {
    let base = crate::services::site::public_base_url(conn, None).await?;
    let stored = url::Url::parse(&base).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    Ok(configured.map(str::to_owned).into_iter().chain(stored).collect())
}

async fn record(conn: &mut Conn, owner: &Owner, workspace_id: i64, action: &str, host: &str) -> Result<(), StoreError> {
    let entry = audit::Entry {
        workspace_id: Some(workspace_id),
        actor_user_id: owner.user_id,
        actor_label: &owner.label,
        action,
        target: Some(host),
        detail: serde_json::json!({}),
        ip: None,
    };
    audit::record(conn, &entry).await
}
