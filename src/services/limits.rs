//! Per-workspace limits set by the instance owner (agents, numbers, contacts, messages per month), enforced with a
//! clear error where the thing is created. Stored as workspace settings `limits.*`; absent means unlimited.

use crate::domain::msg::Msg;
use crate::services::team::TeamError;
use crate::store::settings::{self, Scope};
use crate::store::{Conn, StoreError, accounts, now_millis, stats};

/// A limited resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Agents,
    Numbers,
    Contacts,
    MessagesPerMonth,
}

impl Limit {
    pub const ALL: [Limit; 4] = [Limit::Agents, Limit::Numbers, Limit::Contacts, Limit::MessagesPerMonth];

    /// The settings key (`limits.agents`, …), also the field name in forms and the API.
    pub fn key(self) -> &'static str {
        match self {
            Self::Agents => "limits.agents",
            Self::Numbers => "limits.numbers",
            Self::Contacts => "limits.contacts",
            Self::MessagesPerMonth => "limits.messages_per_month",
        }
    }

    pub fn name(self) -> &'static str {
        self.key().trim_start_matches("limits.")
    }
}

/// The limits of a workspace; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkspaceLimits {
    pub agents: Option<i64>,
    pub numbers: Option<i64>,
    pub contacts: Option<i64>,
    pub messages_per_month: Option<i64>,
}

impl WorkspaceLimits {
    pub fn get(&self, limit: Limit) -> Option<i64> {
        match limit {
            Limit::Agents => self.agents,
            Limit::Numbers => self.numbers,
            Limit::Contacts => self.contacts,
            Limit::MessagesPerMonth => self.messages_per_month,
        }
    }

    fn set(&mut self, limit: Limit, value: Option<i64>) {
        match limit {
            Limit::Agents => self.agents = value,
            Limit::Numbers => self.numbers = value,
            Limit::Contacts => self.contacts = value,
            Limit::MessagesPerMonth => self.messages_per_month = value,
        }
    }
}

/// Reads a workspace's limits.
pub async fn load(conn: &mut Conn, workspace_id: i64) -> Result<WorkspaceLimits, StoreError> {
    let values = settings::load(conn, Scope::Workspace(workspace_id), "limits.").await?;
    let mut limits = WorkspaceLimits::default();
    for limit in Limit::ALL {
        limits.set(limit, values.get(limit.key()).and_then(|v| v.parse().ok()));
    }
    Ok(limits)
}

/// Writes a workspace's limits (`None` removes a limit).
pub async fn save(conn: &mut Conn, workspace_id: i64, limits: &WorkspaceLimits) -> Result<(), StoreError> {
    for limit in Limit::ALL {
        match limits.get(limit) {
            Some(value) => settings::put(conn, Scope::Workspace(workspace_id), limit.key(), &value.to_string()).await?,
            None => {
                settings::delete(conn, Scope::Workspace(workspace_id), limit.key()).await?;
            }
        }
    }
    Ok(())
}

/// Refuses when adding `more` of `limit` would exceed the workspace's limit. Call inside the write transaction
/// that adds them, so two concurrent adds cannot both pass.
pub async fn check(conn: &mut Conn, workspace_id: i64, limit: Limit, more: i64) -> Result<(), TeamError> {
    let Some(max) = load(conn, workspace_id).await?.get(limit) else { return Ok(()) };
    let current = match limit {
        Limit::Agents => accounts::count_active_members(conn, workspace_id, None).await?,
        Limit::Numbers => stats::numbers(conn, workspace_id).await?,
        Limit::Contacts => stats::contacts(conn, workspace_id).await?,
        Limit::MessagesPerMonth => stats::outbound_since(conn, workspace_id, start_of_month()).await?,
    };
    if current + more > max {
        let key = match limit {
            Limit::Agents => "limits.reached_agents",
            Limit::Numbers => "limits.reached_numbers",
            Limit::Contacts => "limits.reached_contacts",
            Limit::MessagesPerMonth => "limits.reached_messages",
        };
        return Err(TeamError::Refused(Msg::with(key, &[("limit", max.to_string())])));
    }
    Ok(())
}

/// The first instant of this month in UTC, in unix milliseconds.
fn start_of_month() -> i64 {
    let now = jiff::Timestamp::from_millisecond(now_millis()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    date.first_of_month().to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_millisecond())
}
