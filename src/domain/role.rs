//! Roles in a workspace and what each may do. The one place that answers "may this person do that?".

use serde::{Deserialize, Serialize};

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Answers conversations assigned to them (and unassigned ones when the workspace allows).
    Agent,
    /// Sees every conversation of the workspace and who handles what.
    Manager,
    /// Manages the team, numbers, API keys and settings of the workspace.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value.trim())
    }
}

/// Something a request may want to do inside a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the workspace's team list.
    ViewTeam,
    /// Add, change, deactivate and delete members.
    ManageTeam,
    /// See every conversation, not only assigned ones.
    SeeAllConversations,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Change workspace settings (numbers, limits shown to the workspace, policies).
    ManageSettings,
    /// Read the workspace's audit log.
    ViewAudit,
    /// Create, change and delete the workspace-wide quick replies (everyone keeps their own personal ones).
    ManageQuickReplies,
    /// Create, rename, recolour and delete the workspace's tags.
    ManageTags,
}

impl Role {
    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::ViewTeam
            | Permission::SeeAllConversations
            | Permission::ManageQuickReplies
            | Permission::ManageTags => self >= Role::Manager,
            Permission::ManageTeam | Permission::ManageApiKeys | Permission::ManageSettings | Permission::ViewAudit => {
                self == Role::Admin
            }
        }
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET only.
    Read,
    /// Read and change data.
    Write,
    /// Everything an admin may do, including the team.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Read, Self::Write, Self::Admin].into_iter().find(|s| s.as_str() == value.trim())
    }

    /// The role an API key acts with; a key never exceeds what the scope names.
    pub fn role(self) -> Role {
        match self {
            Self::Read | Self::Write => Role::Manager,
            Self::Admin => Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_in_order() {
        assert!(Role::Admin.allows(Permission::ManageTeam));
        assert!(!Role::Manager.allows(Permission::ManageTeam));
        assert!(Role::Manager.allows(Permission::SeeAllConversations));
        assert!(!Role::Agent.allows(Permission::SeeAllConversations));
        assert!(!Role::Agent.allows(Permission::ViewTeam));
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Scope::parse("admin").map(Scope::role), Some(Role::Admin));
    }
}
