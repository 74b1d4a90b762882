//! The workspace admin panel's use case: the team (through [`TeamService`]) with the workspace's numbers, today's
//! sending against the daily limit, and contact and conversation counts with their weekly trends.

use crate::domain::role::Permission;
use crate::services::access::Actor;
use crate::services::limits::{self, WorkspaceLimits};
use crate::services::team::{MemberFilter, TeamError, TeamService};
use crate::store::accounts::Member;
use crate::store::{Db, dashboard, now_millis, stats};

const DAY_MS: i64 = 86_400_000;

/// A count this week against the week before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trend {
    /// Created in the last 7 days.
    pub current: i64,
    /// Created in the 7 days before those.
    pub previous: i64,
}

/// Which way a [`Trend`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Flat,
}

impl Trend {
    pub fn direction(&self) -> Direction {
        match self.current.cmp(&self.previous) {
            std::cmp::Ordering::Greater => Direction::Up,
            std::cmp::Ordering::Less => Direction::Down,
            std::cmp::Ordering::Equal => Direction::Flat,
        }
    }

    /// The change in whole percent of the week before; `None` when that week had none (no base to compare with).
    pub fn percent(&self) -> Option<i64> {
        if self.previous == 0 {
            return None;
        }
        let change = (self.current - self.previous).saturating_mul(100);
        // Rounded half away from zero.
        let rounded = (change.abs() + self.previous / 2) / self.previous;
        Some(if change < 0 { -rounded } else { rounded })
    }
}

/// A WhatsApp number of the workspace and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberState {
    pub id: i64,
    pub label: String,
    pub provider: String,
    pub phone: Option<String>,
    /// `pending`, `connected`, `failing` or `disabled`.
    pub status: String,
    pub daily_limit: Option<i64>,
}

/// The workspace at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub numbers: Vec<NumberState>,
    /// Outbound messages since midnight UTC (the same day the members' "sent today" counts).
    pub sent_today: i64,
    /// The sum of the daily limits of the numbers in use; `None` when a number in use has no limit, or there is none.
    pub daily_limit: Option<i64>,
    pub contacts: i64,
    pub conversations: i64,
    pub contacts_trend: Trend,
    pub conversations_trend: Trend,
    /// The limits the owner set for this workspace.
    pub limits: WorkspaceLimits,
    /// Active members (what the agents limit counts).
    pub active_members: i64,
}

/// Everything the admin panel shows.
#[derive(Debug, Clone)]
pub struct AdminPanel {
    pub members: Vec<Member>,
    pub overview: Overview,
}

/// One member with what removing them would touch.
#[derive(Debug, Clone)]
pub struct MemberDetail {
    pub member: Member,
    /// Conversations assigned to them; they become unassigned when the member is removed.
    pub assigned_conversations: i64,
}

pub struct DashboardService {
    db: Db,
    team: TeamService,
}

/// The daily capacity of the numbers in use: unlimited as soon as one of them has no limit.
fn daily_capacity(numbers: &[NumberState]) -> Option<i64> {
    let in_use: Vec<&NumberState> = numbers.iter().filter(|n| n.status != "disabled").collect();
    if in_use.is_empty() {
        return None;
    }
    in_use.iter().map(|n| n.daily_limit).sum()
}

impl DashboardService {
    pub fn new(db: Db, security: std::sync::Arc<crate::services::security::SecurityService>) -> Self {
        Self { team: TeamService::new(db.clone(), security), db }
    }

    /// The team (filtered) and the workspace overview. Needs [`Permission::ViewTeam`].
    pub async fn panel(&self, actor: &Actor, filter: &MemberFilter) -> Result<AdminPanel, TeamError> {
        let members = self.team.list(actor, filter).await?;
        let overview = self.overview(actor).await?;
        Ok(AdminPanel { members, overview })
    }

    /// The workspace overview alone. Needs [`Permission::ViewTeam`].
    pub async fn overview(&self, actor: &Actor) -> Result<Overview, TeamError> {
        actor.require(Permission::ViewTeam)?;
        let workspace_id = actor.workspace_id;
        let now = now_millis();
        let mut conn = self.db.read().await?;
        let timezone = crate::services::whatsapp::numbers::workspace_timezone(&mut conn, workspace_id).await?;
        let numbers: Vec<NumberState> = crate::store::whatsapp_accounts::list(&mut conn, workspace_id)
            .await?
            .into_iter()
            .map(|row| NumberState {
                daily_limit: crate::services::whatsapp::quota::daily_cap(&row, &timezone, now),
                status: crate::services::whatsapp::quota::connection_state(&row).to_owned(),
                id: row.id,
                label: row.name,
                provider: row.provider,
                phone: Some(row.phone),
            })
            .collect();
        let sent_today = stats::outbound_since(&mut conn, workspace_id, now - now.rem_euclid(DAY_MS)).await?;
        let (contacts_now, conversations_now) =
            stats::created_between(&mut conn, workspace_id, now - 7 * DAY_MS, now + 1).await?;
        let (contacts_before, conversations_before) =
            stats::created_between(&mut conn, workspace_id, now - 14 * DAY_MS, now - 7 * DAY_MS).await?;
        Ok(Overview {
            daily_limit: daily_capacity(&numbers),
            numbers,
            sent_today,
            contacts: stats::contacts(&mut conn, workspace_id).await?,
            conversations: stats::conversations(&mut conn, workspace_id).await?,
            contacts_trend: Trend { current: contacts_now, previous: contacts_before },
            conversations_trend: Trend { current: conversations_now, previous: conversations_before },
            limits: limits::load(&mut conn, workspace_id).await?,
            active_members: crate::store::accounts::count_active_members(&mut conn, workspace_id, None).await?,
        })
    }

    /// One member of the workspace and how many conversations they hold (404 outside the workspace).
    pub async fn member(&self, actor: &Actor, user_id: i64) -> Result<MemberDetail, TeamError> {
        actor.require(Permission::ViewTeam)?;
        let member = self.team.get(actor, user_id).await?;
        let mut conn = self.db.read().await?;
        let assigned_conversations = dashboard::assigned_conversations(&mut conn, actor.workspace_id, user_id).await?;
        Ok(MemberDetail { member, assigned_conversations })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_are_zero_safe() {
        let flat = Trend { current: 0, previous: 0 };
        assert_eq!((flat.direction(), flat.percent()), (Direction::Flat, None));
        let new = Trend { current: 4, previous: 0 };
        assert_eq!((new.direction(), new.percent()), (Direction::Up, None));
        let gone = Trend { current: 0, previous: 3 };
        assert_eq!((gone.direction(), gone.percent()), (Direction::Down, Some(-100)));
        assert_eq!(Trend { current: 3, previous: 2 }.percent(), Some(50));
        assert_eq!(Trend { current: 2, previous: 3 }.percent(), Some(-33));
        assert_eq!(Trend { current: 5, previous: 3 }.percent(), Some(67));
    }

    fn number(status: &str, limit: Option<i64>) -> NumberState {
        NumberState {
            id: 1,
            label: "x".into(),
            provider: "meta".into(),
            phone: None,
            status: status.into(),
            daily_limit: limit,
        }
    }

    #[test]
    fn capacity_is_unlimited_when_any_number_in_use_is() {
        assert_eq!(daily_capacity(&[]), None);
        assert_eq!(daily_capacity(&[number("connected", Some(250)), number("pending", Some(1000))]), Some(1250));
        assert_eq!(daily_capacity(&[number("connected", Some(250)), number("connected", None)]), None);
        assert_eq!(daily_capacity(&[number("connected", Some(250)), number("disabled", None)]), Some(250));
    }
}
