//! The instance owner's view: every workspace, created, suspended, deleted, and given limits.

use std::sync::Arc;

use crate::domain::identity::{Email, Slug, display_name};
use crate::domain::msg::Msg;
use crate::services::domains::DomainService;
use crate::services::limits::{self, WorkspaceLimits};
use crate::store::accounts::{self, Workspace};
use crate::store::{Db, StoreError, audit};

/// Proof that the caller is the instance owner: a signed-in owner, or the server's shell (the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user_id: Option<i64>,
    pub label: String,
}

impl Owner {
    /// The owner, signed in.
    pub fn user(user_id: i64, email: &str) -> Self {
        Self { user_id: Some(user_id), label: email.to_owned() }
    }

    /// Whoever runs `conversure` on the server: they hold the data directory, so they hold everything.
    pub fn cli() -> Self {
        Self { user_id: None, label: "cli".to_owned() }
    }
}

/// A workspace as the owner panel and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSummary {
    pub workspace: Workspace,
    pub members: i64,
    pub limits: WorkspaceLimits,
}

/// A workspace to create.
#[derive(Debug, Clone, Default)]
pub struct NewWorkspace {
    pub name: String,
    /// Derived from the name when empty.
    pub slug: String,
    pub timezone: String,
    /// An existing user of the instance to make the workspace's admin.
    pub admin_email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    #[error("refused")]
    Refused(Msg),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct WorkspaceService {
    db: Db,
    /// Told when a workspace stops or starts being served, so its custom domains lose or regain their
    /// certificates at once rather than at the next hourly re-check.
    domains: Option<Arc<DomainService>>,
}

impl WorkspaceService {
    pub fn new(db: Db) -> Self {
        Self { db, domains: None }
    }

    /// The service whose verified-hosts cache follows suspensions and deletions.
    pub fn with_domains(mut self, domains: Arc<DomainService>) -> Self {
        self.domains = Some(domains);
        self
    }

    /// Reloads the verified hosts after a workspace was suspended, reactivated or deleted (the change itself is
    /// committed: a failed reload is logged and caught up by the hourly re-check).
    async fn domains_changed(&self) {
        if let Some(domains) = &self.domains
            && let Err(e) = domains.refresh().await
        {
            tracing::warn!(error = %e, "cannot reload the verified custom domains");
        }
    }

    pub async fn list(&self, _owner: &Owner) -> Result<Vec<WorkspaceSummary>, WorkspaceError> {
        let mut conn = self.db.read().await?;
        let mut out = Vec::new();
        for (workspace, members) in accounts::all_workspaces(&mut conn).await? {
            let limits = limits::load(&mut conn, workspace.id).await?;
            out.push(WorkspaceSummary { workspace, members, limits });
        }
        Ok(out)
    }

    pub async fn get(&self, _owner: &Owner, id: i64) -> Result<WorkspaceSummary, WorkspaceError> {
        let mut conn = self.db.read().await?;
        let workspace = accounts::workspace_by_id(&mut conn, id).await?.ok_or(WorkspaceError::NotFound)?;
        let limits = limits::load(&mut conn, id).await?;
        let members = accounts::count_active_members(&mut conn, id, None).await?;
        Ok(WorkspaceSummary { workspace, members, limits })
    }

    /// Finds a workspace by slug (for the CLI).
    pub async fn by_slug(&self, _owner: &Owner, slug: &str) -> Result<Workspace, WorkspaceError> {
        let mut conn = self.db.read().await?;
        accounts::workspace_by_slug(&mut conn, slug.trim()).await?.ok_or(WorkspaceError::NotFound)
    }

    pub async fn create(&self, owner: &Owner, new: &NewWorkspace) -> Result<Workspace, WorkspaceError> {
        let mut errors = Vec::new();
        let name = display_name(&new.name).map_err(|m| errors.push(("name", m))).ok();
        let slug_text = if new.slug.trim().is_empty() { Slug::suggest(&new.name) } else { new.slug.clone() };
        let slug = Slug::parse(&slug_text).map_err(|m| errors.push(("slug", m))).ok();
        let timezone = if new.timezone.trim().is_empty() { "UTC".to_owned() } else { new.timezone.trim().to_owned() };
        if jiff::tz::TimeZone::get(&timezone).is_err() {
            errors.push(("timezone", Msg::new("install.site.timezone_invalid")));
        }
        let admin_email = new.admin_email.as_deref().filter(|e| !e.trim().is_empty()).map(Email::parse).transpose();
        let admin_email = admin_email.map_err(|m| errors.push(("admin_email", m))).ok().flatten();
        let (Some(name), Some(slug), true) = (name, slug, errors.is_empty()) else {
            return Err(WorkspaceError::Fields(errors));
        };
        let mut tx = self.db.write().await?;
        if accounts::slug_taken(&mut tx, slug.as_str()).await? {
            return Err(WorkspaceError::Fields(vec![("slug", Msg::new("install.admin.slug_taken"))]));
        }
        let admin =
            match &admin_email {
                Some(email) => Some(accounts::user_by_email(&mut tx, &email.lookup).await?.ok_or_else(|| {
                    WorkspaceError::Fields(vec![("admin_email", Msg::new("workspaces.admin_unknown"))])
                })?),
                None => None,
            };
        let id = accounts::create_workspace(&mut tx, slug.as_str(), &name, &timezone).await?;
        if let Some(admin) = &admin {
            accounts::add_membership(&mut tx, id, admin.id, "admin").await?;
        }
        record(&mut tx, owner, Some(id), "workspace.created", slug.as_str()).await?;
        let workspace = accounts::workspace_by_id(&mut tx, id).await?.ok_or(WorkspaceError::NotFound)?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Suspends (`true`) or reactivates a workspace. A suspended workspace's members cannot sign in to it.
    pub async fn set_suspended(&self, owner: &Owner, id: i64, suspended: bool) -> Result<(), WorkspaceError> {
        let mut tx = self.db.write().await?;
        let status = if suspended { "suspended" } else { "active" };
        if !accounts::set_workspace_status(&mut tx, id, status).await? {
            return Err(WorkspaceError::NotFound);
        }
        let action = if suspended { "workspace.suspended" } else { "workspace.reactivated" };
        record(&mut tx, owner, Some(id), action, &id.to_string()).await?;
        tx.commit().await?;
        self.domains_changed().await;
        Ok(())
    }

    /// Deletes a workspace and everything in it. `confirm_slug` must repeat the workspace's slug.
    pub async fn delete(&self, owner: &Owner, id: i64, confirm_slug: &str) -> Result<(), WorkspaceError> {
        let mut tx = self.db.write().await?;
        let workspace = accounts::workspace_by_id(&mut tx, id).await?.ok_or(WorkspaceError::NotFound)?;
        if confirm_slug.trim() != workspace.slug {
            return Err(WorkspaceError::Fields(vec![(
                "confirm",
                Msg::with("workspaces.confirm_slug", &[("slug", workspace.slug.clone())]),
            )]));
        }
        if accounts::all_workspaces(&mut tx).await?.len() <= 1 {
            return Err(WorkspaceError::Refused(Msg::new("workspaces.last_one")));
        }
        accounts::delete_workspace(&mut tx, id).await?;
        record(&mut tx, owner, None, "workspace.deleted", &workspace.slug).await?;
        tx.commit().await?;
        self.domains_changed().await;
        Ok(())
    }

    pub async fn set_limits(&self, owner: &Owner, id: i64, new_limits: &WorkspaceLimits) -> Result<(), WorkspaceError> {
        let values = [new_limits.agents, new_limits.numbers, new_limits.contacts, new_limits.messages_per_month];
        if values.iter().flatten().any(|v| *v < 0) {
            return Err(WorkspaceError::Fields(vec![("limits", Msg::new("workspaces.limit_invalid"))]));
        }
        let mut tx = self.db.write().await?;
        accounts::workspace_by_id(&mut tx, id).await?.ok_or(WorkspaceError::NotFound)?;
        limits::save(&mut tx, id, new_limits).await?;
        record(&mut tx, owner, Some(id), "workspace.limits_changed", &id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn record(
    conn: &mut crate::store::Conn,
    owner: &Owner,
    workspace_id: Option<i64>,
    action: &str,
    target: &str,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        &audit::Entry {
            workspace_id,
            actor_user_id: owner.user_id,
            actor_label: &owner.label,
            action,
            target: Some(target),
            detail: serde_json::json!({}),
            ip: None,
        },
    )
    .await
}
