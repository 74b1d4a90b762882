//! Who is asking: a signed-in user or an API key, always inside one workspace (the tenant scope). Services take an
//! [`Actor`] and call [`Actor::require`]; there is no way to reach a workspace's data without one.

use crate::domain::msg::Msg;
use crate::domain::role::{Permission, Role, Scope};

/// How the actor authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user.
    User { user_id: i64, email: String, is_owner: bool },
    /// An API key of the workspace.
    ApiKey { key_id: i64, name: String, scope: Scope },
}

/// The authenticated caller, scoped to one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: Principal,
    pub workspace_id: i64,
    pub role: Role,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    /// The caller may not do this (403).
    #[error("forbidden")]
    Forbidden,
    /// The API key's scope does not allow changes (403).
    #[error("read-only key")]
    ReadOnly,
}

impl AccessError {
    pub fn msg(&self) -> Msg {
        match self {
            Self::Forbidden => Msg::new("access.forbidden"),
            Self::ReadOnly => Msg::new("access.read_only"),
        }
    }
}

impl Actor {
    /// A signed-in user in a workspace with a role.
    pub fn user(user_id: i64, email: &str, is_owner: bool, workspace_id: i64, role: Role) -> Self {
        Self { principal: Principal::User { user_id, email: email.to_owned(), is_owner }, workspace_id, role }
    }

    /// An API key of a workspace.
    pub fn api_key(key_id: i64, name: &str, scope: Scope, workspace_id: i64) -> Self {
        Self { principal: Principal::ApiKey { key_id, name: name.to_owned(), scope }, workspace_id, role: scope.role() }
    }

    /// Refuses unless the actor's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AccessError> {
        if self.role.allows(permission) { Ok(()) } else { Err(AccessError::Forbidden) }
    }

    /// Refuses changes through a read-only API key (users are limited by their role alone).
    pub fn require_write(&self) -> Result<(), AccessError> {
        match &self.principal {
            Principal::ApiKey { scope: Scope::Read, .. } => Err(AccessError::ReadOnly),
            _ => Ok(()),
        }
    }

    /// The user behind the request, if it is a user.
    pub fn user_id(&self) -> Option<i64> {
        match self.principal {
            Principal::User { user_id, .. } => Some(user_id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// Whether the actor is the instance owner (a signed-in user only; keys never are).
    pub fn is_owner(&self) -> bool {
        matches!(self.principal, Principal::User { is_owner: true, .. })
    }

    /// How the audit log names the actor.
    pub fn label(&self) -> String {
        match &self.principal {
            Principal::User { email, .. } => email.clone(),
            Principal::ApiKey { name, key_id, .. } => format!("api-key:{key_id}:{name}"),
        }
    }

    /// Writes an audit entry for this actor in its workspace, inside the caller's transaction.
    pub async fn audit(
        &self,
        conn: &mut crate::store::Conn,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), crate::store::StoreError> {
        let entry = crate::store::audit::Entry {
            workspace_id: Some(self.workspace_id),
            actor_user_id: self.user_id(),
            actor_label: &self.label(),
            action,
            target: Some(target),
            detail,
            ip: None,
        };
        crate::store::audit::record(conn, &entry).await
    }

    /// Whether the request came through an API key with the admin scope (such use is audited).
    pub fn is_admin_key(&self) -> bool {
        matches!(self.principal, Principal::ApiKey { scope: Scope::Admin, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_by_scope() {
        let read = Actor::api_key(1, "ro", Scope::Read, 7);
        assert_eq!(read.require_write(), Err(AccessError::ReadOnly));
        assert_eq!(read.require(Permission::ManageTeam), Err(AccessError::Forbidden));
        let admin = Actor::api_key(2, "adm", Scope::Admin, 7);
        assert!(admin.require(Permission::ManageTeam).is_ok() && admin.is_admin_key() && !admin.is_owner());
        let agent = Actor::user(3, "a@x.io", false, 7, Role::Agent);
        assert_eq!(agent.require(Permission::ViewTeam), Err(AccessError::Forbidden));
        assert!(agent.require_write().is_ok());
    }
}
