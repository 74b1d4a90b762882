//! The JSON shapes the API answers with (described one to one in the OpenAPI document). Times are RFC 3339 in UTC.

use serde::Serialize;

use crate::services::api_keys::{CreatedKey, KeyInfo};
use crate::services::limits::WorkspaceLimits;
use crate::services::workspaces::WorkspaceSummary;
use crate::store::accounts::Member;
use crate::store::api_keys::ApiKey;

/// Unix milliseconds as an RFC 3339 timestamp (`2025-05-01T09:30:00Z`).
pub fn time(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_string()
}

#[derive(Debug, Serialize)]
pub struct WorkspaceRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct KeyRef {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: String,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub workspace: WorkspaceRef,
    pub key: KeyRef,
    /// Whether this key may use the owner endpoints (`/api/v1/workspaces`).
    pub owner: bool,
}

impl From<KeyInfo> for Me {
    fn from(info: KeyInfo) -> Self {
        Self {
            workspace: WorkspaceRef { id: info.workspace.id, slug: info.workspace.slug, name: info.workspace.name },
            key: KeyRef { id: info.key.id, name: info.key.name, prefix: info.key.prefix, scope: info.key.scope },
            owner: info.owner,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub daily_quota: Option<i64>,
    /// Invited and not joined yet (no password set).
    pub invited: bool,
    pub totp_enabled: bool,
    pub joined_at: String,
    pub sent_today: i64,
    /// Only in the answer to creating a member without a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
}

/// How an invited member learns about it.
#[derive(Debug, Serialize)]
pub struct Invitation {
    /// Sent by email (the instance's SMTP settings).
    pub emailed: bool,
    /// The invitation link, when it was not emailed: pass it on; valid for seven days, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl From<Member> for User {
    fn from(m: Member) -> Self {
        Self {
            id: m.user_id,
            name: m.name,
            email: m.email,
            role: m.role,
            status: m.status,
            daily_quota: m.daily_quota,
            invited: m.invited,
            totp_enabled: m.totp_enabled,
            joined_at: time(m.joined_at),
            sent_today: m.sent_today,
            invitation: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Users {
    pub users: Vec<User>,
}

#[derive(Debug, Serialize)]
pub struct Key {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for Key {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scope: k.scope,
            created_at: time(k.created_at),
            last_used_at: k.last_used_at.map(time),
            revoked: k.revoked_at.is_some(),
            revoked_at: k.revoked_at.map(time),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Keys {
    pub api_keys: Vec<Key>,
}

/// A key just created: the only answer that carries the full key.
#[derive(Debug, Serialize)]
pub struct NewKey {
    #[serde(flatten)]
    pub key: Key,
    #[serde(rename = "key")]
    pub secret: String,
}

impl From<CreatedKey> for NewKey {
    fn from(created: CreatedKey) -> Self {
        Self { key: created.key.into(), secret: created.secret }
    }
}

#[derive(Debug, Serialize)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub status: String,
    pub created_at: String,
    /// Active members.
    pub members: i64,
    pub limits: WorkspaceLimits,
}

impl From<WorkspaceSummary> for Workspace {
    fn from(s: WorkspaceSummary) -> Self {
        Self {
            id: s.workspace.id,
            slug: s.workspace.slug,
            name: s.workspace.name,
            timezone: s.workspace.timezone,
            status: s.workspace.status,
            created_at: time(s.workspace.created_at),
            members: s.members,
            limits: s.limits,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Workspaces {
    pub workspaces: Vec<Workspace>,
}
