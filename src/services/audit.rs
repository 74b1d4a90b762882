//! Reading the audit log: a workspace's entries for its admins, every entry for the instance owner. Filters by
//! action, actor and date range (dates in the site's time zone), newest first, paged by id. Writing is done by the
//! services that act (`store::audit::record`); nothing here changes the log.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::services::access::{AccessError, Actor};
use crate::services::workspaces::Owner;
use crate::store::audit::{self, AuditQuery, AuditRow, AuditScope};
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError};

/// Entries per page.
pub const PAGE_SIZE: i64 = 50;

/// The actions Conversure writes, in the order the filter offers them. Actions found in the log but not listed here
/// are offered too, under their raw name.
pub const KNOWN_ACTIONS: &[&str] = &[
    "auth.sign_in",
    "auth.sign_in_failed",
    "auth.password_reset",
    "auth.invitation_created",
    "auth.invitation_accepted",
    "auth.other_sessions_signed_out",
    "auth.owner_recovered",
    "team.member_added",
    "team.member_changed",
    "team.role_changed",
    "team.member_removed",
    "workspace.created",
    "workspace.suspended",
    "workspace.reactivated",
    "workspace.deleted",
    "workspace.limits_changed",
    "settings.changed",
    "security.require_totp_changed",
    "instance.installed",
    "inbox.settings_changed",
    "inbox.tag_created",
    "inbox.tag_changed",
    "inbox.tag_deleted",
    "inbox.template_created",
    "inbox.template_changed",
    "inbox.template_deleted",
    "inbox.templates_synced",
];

/// The translated label of a known action; `None` for anything else (shown raw).
pub fn action_label(action: &str) -> Option<Msg> {
    Some(match action {
        "auth.sign_in" => Msg::new("admin.audit.actions.sign_in"),
        "auth.sign_in_failed" => Msg::new("admin.audit.actions.sign_in_failed"),
        "auth.password_reset" => Msg::new("admin.audit.actions.password_reset"),
        "auth.invitation_created" => Msg::new("admin.audit.actions.invitation_created"),
        "auth.invitation_accepted" => Msg::new("admin.audit.actions.invitation_accepted"),
        "auth.other_sessions_signed_out" => Msg::new("admin.audit.actions.other_sessions_signed_out"),
        "auth.owner_recovered" => Msg::new("admin.audit.actions.owner_recovered"),
        "team.member_added" => Msg::new("admin.audit.actions.member_added"),
        "team.member_changed" => Msg::new("admin.audit.actions.member_changed"),
        "team.role_changed" => Msg::new("admin.audit.actions.role_changed"),
        "team.member_removed" => Msg::new("admin.audit.actions.member_removed"),
        "workspace.created" => Msg::new("admin.audit.actions.workspace_created"),
        "workspace.suspended" => Msg::new("admin.audit.actions.workspace_suspended"),
        "workspace.reactivated" => Msg::new("admin.audit.actions.workspace_reactivated"),
        "workspace.deleted" => Msg::new("admin.audit.actions.workspace_deleted"),
        "workspace.limits_changed" => Msg::new("admin.audit.actions.limits_changed"),
        "settings.changed" => Msg::new("admin.audit.actions.settings_changed"),
        "security.require_totp_changed" => Msg::new("admin.audit.actions.require_totp_changed"),
        "instance.installed" => Msg::new("admin.audit.actions.installed"),
        "inbox.settings_changed" => Msg::new("admin.audit.actions.inbox_settings_changed"),
        "inbox.tag_created" => Msg::new("admin.audit.actions.tag_created"),
        "inbox.tag_changed" => Msg::new("admin.audit.actions.tag_changed"),
        "inbox.tag_deleted" => Msg::new("admin.audit.actions.tag_deleted"),
        "inbox.template_created" => Msg::new("admin.audit.actions.template_created"),
        "inbox.template_changed" => Msg::new("admin.audit.actions.template_changed"),
        "inbox.template_deleted" => Msg::new("admin.audit.actions.template_deleted"),
        "inbox.templates_synced" => Msg::new("admin.audit.actions.templates_synced"),
        "backup.created" => Msg::new("backup.audit.created"),
        "backup.failed" => Msg::new("backup.audit.failed"),
        "backup.restored" => Msg::new("backup.audit.restored"),
        "backup.restore_failed" => Msg::new("backup.audit.restore_failed"),
        "backup.deleted" => Msg::new("backup.audit.deleted"),
        "backup.uploaded" => Msg::new("backup.audit.uploaded"),
        "backup.settings_changed" => Msg::new("backup.audit.settings_changed"),
        "update.started" => Msg::new("update.audit.started"),
        "update.succeeded" => Msg::new("update.audit.succeeded"),
        "update.failed" => Msg::new("update.audit.failed"),
        "tls.settings_changed" => Msg::new("tls.audit.settings_changed"),
        "instance.restarted" => Msg::new("admin.audit.actions.restarted"),
        "domain.added" => Msg::new("domains.audit.added"),
        "domain.removed" => Msg::new("domains.audit.removed"),
        _ => return None,
    })
}

/// The filters as typed into the form; empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: String,
    pub actor: String,
    /// `YYYY-MM-DD`, the first day included.
    pub from: String,
    /// `YYYY-MM-DD`, the last day included.
    pub to: String,
    /// Only entries older than this id (the "older" link).
    pub before: Option<i64>,
}

/// One entry, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    /// The workspace's slug; `None` for instance-level entries (or a deleted workspace).
    pub workspace: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// Compact JSON; empty when there is nothing beyond the action.
    pub detail: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// A page of entries.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The `before` id of the next (older) page, when there is one.
    pub older: Option<i64>,
    /// The actions the filter offers: the known ones, then any other found in the log.
    pub actions: Vec<String>,
    /// The IANA time zone dates are entered and shown in (the site's).
    pub timezone: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Field name → what is wrong (a date that does not parse, a range that ends before it starts).
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct AuditService {
    db: Db,
}

impl AuditService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The actor's workspace's entries. Needs [`Permission::ViewAudit`].
    pub async fn list(&self, actor: &Actor, filter: &AuditFilter) -> Result<AuditPage, AuditError> {
        actor.require(Permission::ViewAudit)?;
        self.read(AuditScope::Workspace(actor.workspace_id), filter).await
    }

    /// Every entry of the instance, instance-level ones (failed sign-ins, deleted workspaces, …) included.
    pub async fn list_all(&self, _owner: &Owner, filter: &AuditFilter) -> Result<AuditPage, AuditError> {
        self.read(AuditScope::Instance, filter).await
    }

    async fn read(&self, scope: AuditScope, filter: &AuditFilter) -> Result<AuditPage, AuditError> {
        let mut conn = self.db.read().await?;
        let timezone = site_timezone(&mut conn).await?;
        let tz = TimeZone::get(&timezone).unwrap_or(TimeZone::UTC);
        let mut errors = Vec::new();
        let from = day(&filter.from).map_err(|m| errors.push(("from", m))).ok().flatten();
        let to = day(&filter.to).map_err(|m| errors.push(("to", m))).ok().flatten();
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            errors.push(("to", Msg::new("admin.audit.range_invalid")));
        }
        if !errors.is_empty() {
            return Err(AuditError::Fields(errors));
        }
        let action = Some(filter.action.trim()).filter(|a| !a.is_empty());
        let actor = Some(filter.actor.trim()).filter(|a| !a.is_empty());
        let query = AuditQuery {
            action,
            actor,
            from: from.map(|d| start_of(d, &tz)),
            until: to.and_then(|d| d.tomorrow().ok()).map(|d| start_of(d, &tz)),
            before_id: filter.before,
        };
        let mut rows = audit::list(&mut conn, scope, &query, PAGE_SIZE + 1).await?;
        let older = if rows.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX) {
            rows.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
            rows.last().map(|r| r.id)
        } else {
            None
        };
        let present = audit::actions(&mut conn, scope).await?;
        let mut actions: Vec<String> = KNOWN_ACTIONS.iter().map(|a| (*a).to_owned()).collect();
        let known: BTreeSet<&str> = KNOWN_ACTIONS.iter().copied().collect();
        actions.extend(present.into_iter().filter(|a| !known.contains(a.as_str())));
        Ok(AuditPage { entries: rows.into_iter().map(entry).collect(), older, actions, timezone })
    }
}

/// The site's time zone (`site.timezone`), UTC when unset or unknown.
async fn site_timezone(conn: &mut crate::store::Conn) -> Result<String, StoreError> {
    let stored = settings::get(conn, Scope::Instance, "site.timezone").await?;
    Ok(stored.filter(|tz| TimeZone::get(tz).is_ok()).unwrap_or_else(|| "UTC".to_owned()))
}

/// An optional `YYYY-MM-DD`.
fn day(text: &str) -> Result<Option<Date>, Msg> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<Date>().map(Some).map_err(|_| Msg::new("admin.audit.date_invalid"))
}

/// The first instant of a day in a time zone, in unix milliseconds.
fn start_of(date: Date, tz: &TimeZone) -> i64 {
    date.to_zoned(tz.clone()).map_or(0, |z| z.timestamp().as_millisecond())
}

fn entry(row: AuditRow) -> AuditEntry {
    // Stored as compact JSON already; re-serialising keeps it compact whatever wrote it, and drops an empty object.
    let detail = match serde_json::from_str::<serde_json::Value>(&row.detail) {
        Ok(serde_json::Value::Object(map)) if map.is_empty() => String::new(),
        Ok(serde_json::Value::Null) => String::new(),
        Ok(value) => value.to_string(),
        Err(_) => row.detail,
    };
    AuditEntry {
        id: row.id,
        workspace: row.workspace_slug,
        actor: row.actor_label,
        action: row.action,
        target: row.target,
        detail,
        ip: row.ip,
        created_at: row.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_or_say_why() {
        assert_eq!(day(" ").unwrap(), None);
        assert_eq!(day("2025-03-01").unwrap(), Some(jiff::civil::date(2025, 3, 1)));
        assert!(day("01/03/2025").is_err());
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        // Midnight in Berlin in winter is 23:00 UTC the day before.
        assert_eq!(start_of(jiff::civil::date(2025, 1, 2), &berlin), 1_735_772_400_000);
    }

    #[test]
    fn every_known_action_has_a_label() {
        // The owner's instance-wide actions are labelled too, though workspace filters do not offer them.
        let instance =
            ["backup.created", "backup.failed", "backup.restored", "backup.restore_failed", "backup.deleted"];
        let instance = instance.iter().chain(&["backup.uploaded", "backup.settings_changed", "update.started"]);
        let instance = instance.chain(&["update.succeeded", "update.failed", "domain.added", "domain.removed"]);
        let instance = instance.chain(&["tls.settings_changed", "instance.restarted"]);
        for action in KNOWN_ACTIONS.iter().chain(instance) {
            let label = action_label(action).unwrap_or_else(|| panic!("{action} has no label"));
            assert_ne!(crate::i18n::Lang::En.t(label.key), label.key, "{action}");
        }
        assert!(action_label("made.up").is_none());
    }
}
