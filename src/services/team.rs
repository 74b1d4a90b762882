//! A workspace's team: list, add (with a password, or by invitation), change role and daily quota, deactivate,
//! remove. Every method takes the [`Actor`] and works only inside its workspace.

use std::sync::Arc;

use crate::domain::identity::{Email, display_name};
use crate::domain::msg::Msg;
use crate::domain::password;
use crate::domain::role::{Permission, Role};
use crate::i18n::Lang;
use crate::services::access::{AccessError, Actor};
use crate::services::limits::{self, Limit};
use crate::services::security::{Invitation, SecurityService};
use crate::store::accounts::{self, Member};
use crate::store::{Db, StoreError, now_millis};

/// Which members to list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Matches name or email, case-insensitively.
    pub search: Option<String>,
    /// `active` or `inactive`; `None` for both.
    pub status: Option<String>,
}

/// A member to add.
#[derive(Debug, Clone, Default)]
pub struct NewMember {
    pub name: String,
    pub email: String,
    pub role: String,
    /// When absent the member is invited and sets a password through the invitation link.
    pub password: Option<String>,
    pub daily_quota: Option<i64>,
}

/// Changes to a member; `None` leaves a field as it is. `daily_quota: Some(None)` removes the quota.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    pub name: Option<String>,
    pub role: Option<String>,
    pub daily_quota: Option<Option<i64>>,
    pub status: Option<String>,
}

/// A member just added.
#[derive(Debug, Clone)]
pub struct Added {
    pub member: Member,
    /// Set when the member has no password yet and was invited.
    pub needs_invitation: bool,
    /// The invitation: emailed, or a link for the admin to pass on. `None` when none was needed, or when creating
    /// it failed (logged; the member exists and can be invited again).
    pub invitation: Option<Invitation>,
}

/// Why a team operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// No such member in this workspace (404, whether or not the user exists elsewhere).
    #[error("not found")]
    NotFound,
    /// Field name → what is wrong.
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    /// A rule of the workspace or the instance forbids it (for example the agents limit).
    #[error("refused")]
    Refused(Msg),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Midnight UTC today, in unix milliseconds: "sent today" counts from here. (Per-workspace time zones arrive
/// with the daily quota reset of the job queue.)
fn start_of_today() -> i64 {
    let now = now_millis();
    now - now.rem_euclid(86_400_000)
}

pub struct TeamService {
    db: Db,
    security: Arc<SecurityService>,
}

impl TeamService {
    pub fn new(db: Db, security: Arc<SecurityService>) -> Self {
        Self { db, security }
    }

    pub async fn list(&self, actor: &Actor, filter: &MemberFilter) -> Result<Vec<Member>, TeamError> {
        actor.require(Permission::ViewTeam)?;
        let mut conn = self.db.read().await?;
        let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let status = filter.status.as_deref().filter(|s| matches!(*s, "active" | "inactive"));
        Ok(accounts::members(&mut conn, actor.workspace_id, start_of_today(), search, status).await?)
    }

    pub async fn get(&self, actor: &Actor, user_id: i64) -> Result<Member, TeamError> {
        // Everyone may see themselves; the rest of the team needs ViewTeam.
        if actor.user_id() != Some(user_id) {
            actor.require(Permission::ViewTeam)?;
        }
        let mut conn = self.db.read().await?;
        accounts::member_of(&mut conn, actor.workspace_id, user_id, start_of_today()).await?.ok_or(TeamError::NotFound)
    }

    /// Adds a member: a new user, or an existing user of another workspace (by email) joining this one. A member
    /// without a password is invited, by email in `lang` when SMTP is configured.
    pub async fn add(&self, actor: &Actor, new: NewMember, lang: Lang) -> Result<Added, TeamError> {
        actor.require(Permission::ManageTeam)?;
        actor.require_write()?;
        let mut errors = Vec::new();
        let name = display_name(&new.name).map_err(|m| errors.push(("name", m))).ok();
        let email = Email::parse(&new.email).map_err(|m| errors.push(("email", m))).ok();
        let role = Role::parse(&new.role);
        if role.is_none() {
            errors.push(("role", Msg::new("team.role_invalid")));
        }
        if let Some(quota) = new.daily_quota
            && quota < 0
        {
            errors.push(("daily_quota", Msg::new("team.quota_invalid")));
        }
        if let Some(password) = &new.password
            && let Err(m) = password::check(password, &[&new.email, &new.name])
        {
            errors.push(("password", m));
        }
        let (Some(name), Some(email), Some(role), true) = (name, email, role, errors.is_empty()) else {
            return Err(TeamError::Fields(errors));
        };
        let password_hash = match &new.password {
            Some(p) => Some(crate::services::auth::hash_password(p).await.map_err(StoreError::Backend)?),
            None => None,
        };

        let mut tx = self.db.write().await?;
        limits::check(&mut tx, actor.workspace_id, Limit::Agents, 1).await?;
        let (user_id, created) = match accounts::user_by_email(&mut tx, &email.lookup).await? {
            Some(existing) => {
                if accounts::member_of(&mut tx, actor.workspace_id, existing.id, 0).await?.is_some() {
                    return Err(TeamError::Fields(vec![("email", Msg::new("team.already_member"))]));
                }
                (existing.id, false)
            }
            None => {
                let new_user = accounts::NewUser {
                    email: &email.display,
                    email_lower: &email.lookup,
                    name: &name,
                    password_hash: password_hash.as_deref(),
                    is_owner: false,
                };
                (accounts::create_user(&mut tx, &new_user).await?, true)
            }
        };
        accounts::add_membership(&mut tx, actor.workspace_id, user_id, role.as_str()).await?;
        if new.daily_quota.is_some() {
            accounts::update_membership(&mut tx, actor.workspace_id, user_id, None, Some(new.daily_quota), None)
                .await?;
        }
        let detail = serde_json::json!({ "role": role.as_str(), "new_user": created });
        actor.audit(&mut tx, "team.member_added", &email.display, detail).await?;
        let member = accounts::member_of(&mut tx, actor.workspace_id, user_id, start_of_today())
            .await?
            .ok_or(TeamError::NotFound)?;
        tx.commit().await?;
        let invitation = if member.invited {
            match self.security.invite(user_id, actor.workspace_id, &actor.label(), lang).await {
                Ok(invitation) => Some(invitation),
                Err(e) => {
                    tracing::warn!(error = %e, user_id, "could not create the invitation");
                    None
                }
            }
        } else {
            None
        };
        Ok(Added { needs_invitation: member.invited, member, invitation })
    }

    pub async fn update(&self, actor: &Actor, user_id: i64, change: MemberChange) -> Result<Member, TeamError> {
        actor.require(Permission::ManageTeam)?;
        actor.require_write()?;
        let mut errors = Vec::new();
        let name =
            change.name.as_deref().map(display_name).transpose().map_err(|m| errors.push(("name", m))).ok().flatten();
        let role = match change.role.as_deref() {
            None => None,
            Some(text) => match Role::parse(text) {
                Some(role) => Some(role),
                None => {
                    errors.push(("role", Msg::new("team.role_invalid")));
                    None
                }
            },
        };
        if matches!(change.daily_quota, Some(Some(q)) if q < 0) {
            errors.push(("daily_quota", Msg::new("team.quota_invalid")));
        }
        let status = change.status.as_deref();
        if status.is_some_and(|s| !matches!(s, "active" | "inactive")) {
            errors.push(("status", Msg::new("team.status_invalid")));
        }
        if !errors.is_empty() {
            return Err(TeamError::Fields(errors));
        }
        let mut tx = self.db.write().await?;
        let before = accounts::member_of(&mut tx, actor.workspace_id, user_id, 0).await?.ok_or(TeamError::NotFound)?;
        if actor.user_id() == Some(user_id) && (status == Some("inactive") || role.is_some_and(|r| r != Role::Admin)) {
            // An admin cannot lock themselves out; another admin (or the owner) has to do it.
            return Err(TeamError::Refused(Msg::new("team.not_yourself")));
        }
        if before.role == "admin" && (status == Some("inactive") || role.is_some_and(|r| r != Role::Admin)) {
            ensure_another_admin(&mut tx, actor.workspace_id).await?;
        }
        if status == Some("active") && before.status != "active" {
            limits::check(&mut tx, actor.workspace_id, Limit::Agents, 1).await?;
        }
        if let Some(name) = name.as_ref().filter(|n| **n != before.name) {
            // The name is the person's, shared by every workspace they belong to: one workspace may not change it
            // for the others.
            let memberships = accounts::memberships_of(&mut tx, user_id).await?;
            if memberships.iter().any(|m| m.workspace.id != actor.workspace_id) {
                return Err(TeamError::Fields(vec![("name", Msg::new("team.name_shared"))]));
            }
            accounts::rename_user(&mut tx, user_id, name).await?;
        }
        accounts::update_membership(
            &mut tx,
            actor.workspace_id,
            user_id,
            role.map(Role::as_str),
            change.daily_quota,
            status,
        )
        .await?;
        let mut detail = serde_json::Map::new();
        if let Some(role) = role.filter(|r| r.as_str() != before.role) {
            detail.insert("role".into(), serde_json::json!({ "from": before.role, "to": role.as_str() }));
        }
        if let Some(quota) = change.daily_quota {
            detail.insert("daily_quota".into(), serde_json::json!(quota));
        }
        if let Some(status) = status {
            detail.insert("status".into(), serde_json::json!(status));
        }
        let action = if detail.contains_key("role") { "team.role_changed" } else { "team.member_changed" };
        actor.audit(&mut tx, action, &before.email, serde_json::Value::Object(detail)).await?;
        let after = accounts::member_of(&mut tx, actor.workspace_id, user_id, start_of_today())
            .await?
            .ok_or(TeamError::NotFound)?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes a member in one transaction: their conversations become unassigned, nothing else is lost.
    pub async fn remove(&self, actor: &Actor, user_id: i64) -> Result<(), TeamError> {
        actor.require(Permission::ManageTeam)?;
        actor.require_write()?;
        if actor.user_id() == Some(user_id) {
            return Err(TeamError::Refused(Msg::new("team.not_yourself")));
        }
        let mut tx = self.db.write().await?;
        let member = accounts::member_of(&mut tx, actor.workspace_id, user_id, 0).await?.ok_or(TeamError::NotFound)?;
        if member.role == "admin" {
            ensure_another_admin(&mut tx, actor.workspace_id).await?;
        }
        accounts::remove_member(&mut tx, actor.workspace_id, user_id).await?;
        actor.audit(&mut tx, "team.member_removed", &member.email, serde_json::json!({ "role": member.role })).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A workspace keeps at least one active admin besides the one being changed.
async fn ensure_another_admin(conn: &mut crate::store::Conn, workspace_id: i64) -> Result<(), TeamError> {
    if accounts::count_active_members(conn, workspace_id, Some("admin")).await? <= 1 {
        return Err(TeamError::Refused(Msg::new("team.last_admin")));
    }
    Ok(())
}
