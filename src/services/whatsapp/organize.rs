//! Organizing conversations: assignment (manual and round-robin), state and snooze, tags, private notes, read and
//! unread, the tabs' counts, and the workspace's inbox settings.
//!
//! Who may assign: managers and admins (and API keys) to any active member or nobody; agents only to themselves,
//! and they may unassign only a conversation that is theirs. Every change checks visibility first (hidden is
//! "not found") and records an inbox event in its transaction.

use std::collections::BTreeSet;

use super::conversations::{restriction, visible_under};
use super::{Shared, WhatsAppError};
use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::services::access::{AccessError, Actor};
use crate::store::conversations::{self, Conversation, Filter, Tab, TabCounts};
use crate::store::inbox_events::{self, EventKind};
use crate::store::inbox_settings::{self, InboxSettings};
use crate::store::messages::{self, Message, NewMessage};
use crate::store::tags::{self, Tag};
use crate::store::{Conn, Db, StoreError, now_millis, organize};

/// The conversation states.
pub const STATUSES: [&str; 4] = ["open", "pending", "resolved", "archived"];
/// A member counts as online for round-robin when the inbox was open this recently.
pub const ONLINE_FOR_MS: i64 = 2 * 60 * 1000;
/// Longest private note, in characters.
pub const MAX_NOTE: usize = 4096;
/// Longest tag name, in characters.
pub const MAX_TAG_NAME: usize = 40;
/// Snoozes further out than this are refused (a year).
const MAX_SNOOZE_MS: i64 = 366 * 24 * 60 * 60 * 1000;

/// What to change in a conversation; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<i64>>,
    pub status: Option<String>,
    /// `Some(None)` ends a snooze. A new state without a snooze ends it too.
    pub snoozed_until: Option<Option<i64>>,
    /// The conversation's tags, exactly.
    pub tag_ids: Option<Vec<i64>>,
}

/// A tab named in a URL or the API (`open`, `mine`, `unassigned`, `all`); absent or empty is no tab.
#[allow(clippy::result_unit_err)]
pub fn parse_tab(text: Option<&str>, user: Option<i64>) -> Result<Option<Tab>, ()> {
    match text.map(str::trim).unwrap_or_default() {
        "" => Ok(None),
        "open" => Ok(Some(Tab::Open)),
        // An API key is nobody: its "mine" is empty.
        "mine" => Ok(Some(Tab::Mine(user.unwrap_or(0)))),
        "unassigned" => Ok(Some(Tab::Unassigned)),
        "all" => Ok(Some(Tab::All)),
        _ => Err(()),
    }
}

fn field(name: &'static str, key: &'static str) -> WhatsAppError {
    WhatsAppError::Fields(vec![(name, Msg::new(key))])
}

/// A tag's name and colour, checked: a name of 1 to [`MAX_TAG_NAME`] characters and a `#rrggbb` colour.
fn tag_input(name: &str, color: &str) -> Result<(String, String), WhatsAppError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let color = color.trim().to_ascii_lowercase();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > MAX_TAG_NAME {
        errors.push(("name", Msg::new("organize.tag_name_invalid")));
    }
    let hex = color.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    if hex.is_none() {
        errors.push(("color", Msg::new("organize.tag_color_invalid")));
    }
    if errors.is_empty() { Ok((name, color)) } else { Err(WhatsAppError::Fields(errors)) }
}

/// A taken tag name as the field error it is.
fn tag_conflict(e: StoreError) -> WhatsAppError {
    match e {
        StoreError::Conflict { .. } => field("name", "organize.tag_taken"),
        other => other.into(),
    }
}

/// When a snooze preset ends, in the workspace's zone: `hour` (an hour from now), `tomorrow` (9:00 tomorrow),
/// `monday` (9:00 next Monday), or `custom` with a `YYYY-MM-DDTHH:MM` local time (a `datetime-local` input).
pub fn snooze_until(preset: &str, custom: &str, timezone: &str, now: i64) -> Result<i64, WhatsAppError> {
    let invalid = || field("snoozed_until", "organize.snooze_invalid");
    let tz = jiff::tz::TimeZone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = jiff::Timestamp::from_millisecond(now).map_err(|_| invalid())?.to_zoned(tz.clone());
    let nine = |date: jiff::civil::Date| -> Result<i64, WhatsAppError> {
        let at = date.at(9, 0, 0, 0).to_zoned(tz.clone()).map_err(|_| invalid())?;
        Ok(at.timestamp().as_millisecond())
    };
    let until = match preset {
        "hour" => now + 60 * 60 * 1000,
        "tomorrow" => nine(zoned.date().tomorrow().map_err(|_| invalid())?)?,
        "monday" => {
            let today = zoned.date();
            let ahead = i64::from(7 - today.weekday().to_monday_zero_offset());
            nine(today.checked_add(jiff::Span::new().days(ahead)).map_err(|_| invalid())?)?
        }
        "custom" => {
            let local: jiff::civil::DateTime = custom.trim().parse().map_err(|_| invalid())?;
            local.to_zoned(tz).map_err(|_| invalid())?.timestamp().as_millisecond()
        }
        _ => return Err(invalid()),
    };
    Ok(until)
}

pub struct OrganizeService {
    shared: Shared,
}

impl OrganizeService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The workspace's inbox settings (admins).
    pub async fn settings(&self, actor: &Actor) -> Result<InboxSettings, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        let mut conn = self.shared.db().read().await?;
        Ok(inbox_settings::get(&mut conn, actor.workspace_id).await?)
    }

    /// Changes the workspace's inbox settings (admins; audited).
    pub async fn set_settings(&self, actor: &Actor, settings: InboxSettings) -> Result<InboxSettings, WhatsAppError> {
        actor.require(Permission::ManageSettings)?;
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        if !inbox_settings::set(&mut tx, actor.workspace_id, settings).await? {
            return Err(WhatsAppError::NotFound);
        }
        let detail = serde_json::json!({
            "agents_see_all": settings.agents_see_all, "auto_assign": settings.auto_assign });
        actor.audit(&mut tx, "inbox.settings_changed", "workspace", detail).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// A conversation the actor may see, inside `conn`.
    async fn visible(&self, conn: &mut Conn, actor: &Actor, id: i64) -> Result<Conversation, WhatsAppError> {
        let conversation = conversations::get(conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        if !visible_under(restriction(conn, actor).await?, &conversation) {
            return Err(WhatsAppError::NotFound);
        }
        Ok(conversation)
    }

    /// Whether the actor may give `current`'s conversation to `wanted`.
    fn may_assign(actor: &Actor, current: Option<i64>, wanted: Option<i64>) -> bool {
        if actor.role.allows(Permission::SeeAllConversations) {
            return true;
        }
        let me = actor.user_id();
        match wanted {
            Some(user) => me == Some(user),
            None => current.is_none() || current == me,
        }
    }

    /// Applies a change: everything is checked first, so bad input changes nothing.
    pub async fn update(&self, actor: &Actor, id: i64, change: &Change) -> Result<Conversation, WhatsAppError> {
        actor.require_write()?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        let conversation = self.visible(&mut tx, actor, id).await?;
        let mut errors = Vec::new();
        if let Some(Some(user)) = change.assignee
            && !organize::is_active_member(&mut tx, actor.workspace_id, user).await?
        {
            errors.push(("assignee_user_id", Msg::new("organize.assignee_invalid")));
        }
        if let Some(status) = &change.status
            && !STATUSES.contains(&status.as_str())
        {
            errors.push(("status", Msg::new("organize.status_invalid")));
        }
        if let Some(Some(until)) = change.snoozed_until
            && (until <= now || until > now + MAX_SNOOZE_MS)
        {
            errors.push(("snoozed_until", Msg::new("organize.snooze_invalid")));
        }
        let tag_ids = change.tag_ids.as_ref().map(|ids| ids.iter().copied().collect::<BTreeSet<i64>>());
        if let Some(ids) = &tag_ids {
            let wanted: Vec<i64> = ids.iter().copied().collect();
            if tags::existing_ids(&mut tx, actor.workspace_id, &wanted).await? != wanted {
                errors.push(("tag_ids", Msg::new("organize.tags_invalid")));
            }
        }
        if !errors.is_empty() {
            return Err(WhatsAppError::Fields(errors));
        }
        if let Some(wanted) = change.assignee {
            if !Self::may_assign(actor, conversation.assignee_user_id, wanted) {
                return Err(AccessError::Forbidden.into());
            }
            organize::set_assignee(&mut tx, actor.workspace_id, id, wanted, now).await?;
        }
        if change.status.is_some() || change.snoozed_until.is_some() {
            let status = change.status.as_deref().unwrap_or(&conversation.status);
            let snoozed = change.snoozed_until.flatten();
            organize::set_state(&mut tx, actor.workspace_id, id, status, snoozed, now).await?;
        }
        if let Some(ids) = tag_ids {
            let ids: Vec<i64> = ids.into_iter().collect();
            tags::set_for_conversation(&mut tx, actor.workspace_id, id, &ids, now).await?;
        }
        inbox_events::record(&mut tx, actor.workspace_id, id, None, EventKind::Conversation, now).await?;
        let updated = conversations::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Adds or removes one tag of a conversation (the thread header's chips).
    pub async fn tag(&self, actor: &Actor, id: i64, tag_id: i64, on: bool) -> Result<(), WhatsAppError> {
        actor.require_write()?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        self.visible(&mut tx, actor, id).await?;
        if tags::get(&mut tx, actor.workspace_id, tag_id).await?.is_none() {
            return Err(field("tag_id", "organize.tags_invalid"));
        }
        let changed = if on {
            tags::add_to_conversation(&mut tx, actor.workspace_id, id, tag_id, now).await?
        } else {
            tags::remove_from_conversation(&mut tx, actor.workspace_id, id, tag_id).await?
        };
        if changed {
            inbox_events::record(&mut tx, actor.workspace_id, id, None, EventKind::Conversation, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a conversation unread (at least one unread message).
    pub async fn mark_unread(&self, actor: &Actor, id: i64) -> Result<Conversation, WhatsAppError> {
        actor.require_write()?;
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        self.visible(&mut tx, actor, id).await?;
        organize::mark_unread(&mut tx, actor.workspace_id, id, now).await?;
        inbox_events::record(&mut tx, actor.workspace_id, id, None, EventKind::Conversation, now).await?;
        let updated = conversations::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Adds a private note: stored with the conversation, shown to the team, never sent.
    pub async fn add_note(&self, actor: &Actor, id: i64, text: &str) -> Result<Message, WhatsAppError> {
        actor.require_write()?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE {
            return Err(field("text", "organize.note_invalid"));
        }
        let now = now_millis();
        let mut tx = self.shared.db().write().await?;
        let conversation = self.visible(&mut tx, actor, id).await?;
        let new = NewMessage {
            workspace_id: actor.workspace_id,
            conversation_id: id,
            account_id: conversation.account_id,
            direction: "note",
            provider_message_id: None,
            kind: "text",
            body: Some(text),
            payload: None,
            // Never sent: "sent" only satisfies the column's rule; the thread shows no tick for notes.
            status: "sent",
            sent_by_user_id: actor.user_id(),
            occurred_at: now,
            now,
        };
        let message_id = messages::insert(&mut tx, &new)
            .await?
            .ok_or_else(|| WhatsAppError::Internal("a note without provider id was not stored".into()))?;
        inbox_events::record(&mut tx, actor.workspace_id, id, Some(message_id), EventKind::Message, now).await?;
        let note = messages::get(&mut tx, actor.workspace_id, message_id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(note)
    }

    /// The tabs' counts under the number filter and the actor's visibility.
    pub async fn counts(&self, actor: &Actor, account_id: Option<i64>) -> Result<TabCounts, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let filter = Filter { account_id, visible_to: restriction(&mut conn, actor).await?, ..Filter::default() };
        Ok(conversations::counts(&mut conn, actor.workspace_id, &filter, actor.user_id()).await?)
    }

    /// The members one may pick as assignee and who wrote notes: (user id, name, active).
    pub async fn members(&self, actor: &Actor) -> Result<Vec<(i64, String, bool)>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        Ok(organize::member_names(&mut conn, actor.workspace_id).await?)
    }

    /// The tags of a conversation the actor may see.
    pub async fn conversation_tags(&self, actor: &Actor, id: i64) -> Result<Vec<Tag>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        self.visible(&mut conn, actor, id).await?;
        Ok(tags::of_conversation(&mut conn, actor.workspace_id, id).await?)
    }

    /// The tags of the listed conversations (already filtered for visibility by the list), by conversation id.
    pub async fn tags_of(
        &self,
        actor: &Actor,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<Tag>>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        Ok(tags::of_conversations(&mut conn, actor.workspace_id, ids).await?)
    }

    /// The workspace's tags (everyone may read them: they filter the list).
    pub async fn tags(&self, actor: &Actor) -> Result<Vec<Tag>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        Ok(tags::list(&mut conn, actor.workspace_id).await?)
    }

    pub async fn tag_by_id(&self, actor: &Actor, id: i64) -> Result<Tag, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        tags::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)
    }

    /// Creates a tag (managers and admins).
    pub async fn create_tag(&self, actor: &Actor, name: &str, color: &str) -> Result<Tag, WhatsAppError> {
        actor.require(Permission::ManageTags)?;
        actor.require_write()?;
        let (name, color) = tag_input(name, color)?;
        let mut tx = self.shared.db().write().await?;
        let tag = tags::create(&mut tx, actor.workspace_id, &name, &color, now_millis()).await.map_err(tag_conflict)?;
        actor
            .audit(&mut tx, "inbox.tag_created", &format!("tag:{}", tag.id), serde_json::json!({"name": name}))
            .await?;
        tx.commit().await?;
        Ok(tag)
    }

    /// Renames and recolours a tag (managers and admins).
    pub async fn update_tag(&self, actor: &Actor, id: i64, name: &str, color: &str) -> Result<Tag, WhatsAppError> {
        actor.require(Permission::ManageTags)?;
        actor.require_write()?;
        let (name, color) = tag_input(name, color)?;
        let mut tx = self.shared.db().write().await?;
        let changed = tags::update(&mut tx, actor.workspace_id, id, &name, &color, now_millis()).await;
        if !changed.map_err(tag_conflict)? {
            return Err(WhatsAppError::NotFound);
        }
        actor.audit(&mut tx, "inbox.tag_changed", &format!("tag:{id}"), serde_json::json!({"name": name})).await?;
        let tag = tags::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(tag)
    }

    /// Deletes a tag and its links (managers and admins).
    pub async fn delete_tag(&self, actor: &Actor, id: i64) -> Result<(), WhatsAppError> {
        actor.require(Permission::ManageTags)?;
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        if !tags::delete(&mut tx, actor.workspace_id, id).await? {
            return Err(WhatsAppError::NotFound);
        }
        actor.audit(&mut tx, "inbox.tag_deleted", &format!("tag:{id}"), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Round-robin for the conversations an ingest batch created, as (workspace, conversation): per workspace the
/// setting is read once and, when on, each goes to the next online agent after the last one assigned. Nobody
/// online: they stay unassigned. Runs inside the batch's transaction.
pub(crate) async fn auto_assign_new(conn: &mut Conn, created: &[(i64, i64)], now: i64) -> Result<(), StoreError> {
    let workspaces: BTreeSet<i64> = created.iter().map(|(workspace, _)| *workspace).collect();
    for workspace in workspaces {
        if !inbox_settings::get(conn, workspace).await?.auto_assign {
            continue;
        }
        let agents = organize::online_agents(conn, workspace, now - ONLINE_FOR_MS).await?;
        let Some(first) = agents.first().copied() else { continue };
        let mut last = organize::last_auto_assigned(conn, workspace).await?;
        for (_, conversation) in created.iter().filter(|(w, _)| *w == workspace) {
            let next = last.and_then(|l| agents.iter().copied().find(|a| *a > l)).unwrap_or(first);
            if organize::assign_if_unassigned(conn, workspace, *conversation, next, now).await? {
                inbox_events::record(conn, workspace, *conversation, None, EventKind::Conversation, now).await?;
                last = Some(next);
            }
        }
        if let Some(user) = last {
            organize::set_last_auto_assigned(conn, workspace, user).await?;
        }
    }
    Ok(())
}

/// Reopens every conversation whose snooze is due by `now`; returns how many.
pub async fn reopen_snoozed(db: &Db, now: i64) -> Result<usize, StoreError> {
    let mut tx = db.write().await?;
    let reopened = organize::reopen_due(&mut tx, now).await?;
    for (workspace, conversation) in &reopened {
        inbox_events::record(&mut tx, *workspace, *conversation, None, EventKind::Conversation, now).await?;
    }
    tx.commit().await?;
    Ok(reopened.len())
}

/// The `snooze-reopen` schedule: every minute.
pub fn schedule(db: &Db) -> Result<crate::jobs::cron::Schedule, String> {
    let db = db.clone();
    crate::jobs::cron::Schedule::new("snooze-reopen", "* * * * *", true, move || {
        let db = db.clone();
        async move {
            let reopened = reopen_snoozed(&db, now_millis()).await.map_err(|e| e.to_string())?;
            Ok(format!("reopened {reopened} snoozed conversations"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn snooze_presets_follow_the_zone() {
        // Wednesday 2026-03-04 22:30 UTC is already Thursday in Dubai (+4).
        let now = at("2026-03-04T22:30:00Z");
        assert_eq!(snooze_until("hour", "", "UTC", now).unwrap(), now + 3_600_000);
        assert_eq!(snooze_until("tomorrow", "", "UTC", now).unwrap(), at("2026-03-05T09:00:00Z"));
        assert_eq!(snooze_until("tomorrow", "", "Asia/Dubai", now).unwrap(), at("2026-03-06T05:00:00Z"));
        assert_eq!(snooze_until("monday", "", "UTC", now).unwrap(), at("2026-03-09T09:00:00Z"));
        assert_eq!(snooze_until("custom", "2026-03-10T14:15", "Asia/Dubai", now).unwrap(), at("2026-03-10T10:15:00Z"));
        assert!(snooze_until("custom", "soon", "UTC", now).is_err());
        assert!(snooze_until("forever", "", "UTC", now).is_err());
    }

    #[test]
    fn tabs_and_tags_are_checked() {
        assert_eq!(parse_tab(Some("mine"), Some(7)), Ok(Some(Tab::Mine(7))));
        assert_eq!(parse_tab(None, None), Ok(None));
        assert!(parse_tab(Some("deleted"), None).is_err());
        assert_eq!(tag_input("  VIP   client ", "#AABBCC").unwrap(), ("VIP client".into(), "#aabbcc".into()));
        assert!(tag_input("", "#aabbcc").is_err());
        assert!(tag_input("x", "red").is_err());
        assert!(tag_input("x", "#abc").is_err());
    }
}
