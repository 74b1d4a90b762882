//! Organizing from the inbox: the status tabs with their counts (also as the `/inbox/counts` fragment the live
//! script re-fetches), the tag and assignee filters, tag chips on rows (coloured by `/inbox/tags.css`), note
//! authors, and what the thread header's actions ([`actions`]) show.

mod actions;

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::view::{ConversationRow, Day, local};
use super::{InboxQuery, inbox_error};
use crate::domain::role::Permission;
use crate::services::whatsapp::organize::parse_tab;
use crate::store::conversations::{Conversation, Filter, TabCounts};
use crate::store::now_millis;
use crate::store::tags::Tag;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::page::Page;
use crate::web::pages::admin::{optional_number, query_string};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox/counts", get(counts))
        .route("/inbox/tags.css", get(tag_colors))
        .route("/inbox/{id}/assign", post(actions::assign))
        .route("/inbox/{id}/status", post(actions::status))
        .route("/inbox/{id}/snooze", post(actions::snooze))
        .route("/inbox/{id}/unread", post(actions::unread))
        .route("/inbox/{id}/tags", post(actions::tag))
        .route("/inbox/{id}/notes", post(actions::note))
}

const TABS: [&str; 4] = ["open", "mine", "unassigned", "all"];

impl InboxQuery {
    /// The tab shown: the one asked for, else "open" (or "all" when a state is picked, so the state filter is not
    /// narrowed further).
    fn tab_name(&self) -> &str {
        match self.tab.as_str() {
            tab if TABS.contains(&tab) => tab,
            _ if self.status.is_empty() => "open",
            _ => "all",
        }
    }

    /// The list's filter with the tab, tag and assignee; unknown values from a URL match nothing rather than fail.
    pub(super) fn narrowed(&self, user: Option<i64>) -> Filter {
        let assignee = match self.assignee.trim() {
            "" => None,
            "none" => Some(None),
            id => Some(Some(id.parse().unwrap_or(-1))),
        };
        Filter {
            tab: parse_tab(Some(self.tab_name()), user).ok().flatten(),
            tag_id: optional_number(&self.tag),
            assignee,
            ..self.filter()
        }
    }
}

/// A tag as a coloured chip (its colours come from `/inbox/tags.css`).
#[derive(Debug, Clone)]
pub struct Chip {
    pub id: i64,
    pub name: String,
}

impl From<&Tag> for Chip {
    fn from(tag: &Tag) -> Self {
        Self { id: tag.id, name: tag.name.clone() }
    }
}

/// One status tab.
pub struct TabLink {
    pub name: &'static str,
    pub label: String,
    pub href: String,
    pub count: i64,
    pub current: bool,
}

/// The tabs with their counts.
pub struct Tabs {
    pub links: Vec<TabLink>,
}

/// The tag and assignee filters: `(value, label, selected)`.
pub struct ListControls {
    pub tags: Vec<(String, String, bool)>,
    pub assignees: Vec<(String, String, bool)>,
}

/// What a list row shows beyond the basics.
#[derive(Default)]
pub struct RowExtras {
    pub tags: Vec<Chip>,
    pub snoozed: String,
    pub assignee: String,
}

/// The thread header's actions.
#[derive(Default)]
pub struct ThreadActions {
    pub status: String,
    /// `(value, label)` of the other states, each a one-click form.
    pub other_statuses: Vec<(&'static str, String)>,
    pub snoozed: String,
    /// `(value, label, selected)`: nobody, then the members one may assign to.
    pub assignees: Vec<(String, String, bool)>,
    pub assigned_to_me: bool,
    pub tags: Vec<Chip>,
    /// The workspace's tags not on the conversation.
    pub addable: Vec<Chip>,
    /// Now in the workspace's zone, as a `datetime-local` minimum.
    pub now_local: String,
    /// Why the last action was refused.
    pub error: Option<String>,
    pub note_text: String,
}

fn tabs(page: &Page, query: &InboxQuery, counts: TabCounts) -> Tabs {
    let current = query.tab_name();
    let links = TABS
        .iter()
        .zip([counts.open, counts.mine, counts.unassigned, counts.all])
        .map(|(name, count)| {
            let pairs = [
                ("tab", *name),
                ("number", query.number.as_str()),
                ("tag", &query.tag),
                ("assignee", &query.assignee),
                ("q", &query.q),
            ];
            TabLink {
                name,
                label: page.t(&format!("organize.tabs.{name}")).to_owned(),
                href: format!("/inbox{}", query_string(&pairs)),
                count,
                current: *name == current,
            }
        })
        .collect();
    Tabs { links }
}

/// The tabs of the list page.
pub(super) async fn list_tabs(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    query: &InboxQuery,
) -> Result<Tabs, AppError> {
    let number = optional_number(&query.number);
    let counts = state.services().organize.counts(&who.actor, number).await.map_err(inbox_error)?;
    Ok(tabs(page, query, counts))
}

/// A member as the inbox names them: (user id, name, active).
pub(super) type Member = (i64, String, bool);

/// The workspace's members and tags, read once per page and shared by the list's filters, its rows, the thread's
/// actions and the notes' authors.
pub(super) struct Roster {
    pub members: Vec<Member>,
    pub tags: Vec<Tag>,
}

pub(super) async fn roster(state: &AppState, who: &WorkspaceUser) -> Result<Roster, AppError> {
    let services = state.services();
    let tags = services.organize.tags(&who.actor).await.map_err(inbox_error)?;
    Ok(Roster { members: members(state, who).await?, tags })
}

/// The workspace's members (for a fragment that needs only them).
pub(super) async fn members(state: &AppState, who: &WorkspaceUser) -> Result<Vec<Member>, AppError> {
    state.services().organize.members(&who.actor).await.map_err(inbox_error)
}

/// The tag and assignee filters.
pub(super) fn list_controls(page: &Page, query: &InboxQuery, roster: &Roster) -> ListControls {
    let (all_tags, members) = (&roster.tags, &roster.members);
    let tags = all_tags.iter().map(|t| (t.id.to_string(), t.name.clone(), query.tag == t.id.to_string())).collect();
    let mut assignees =
        vec![("none".to_owned(), page.t("organize.filter.nobody").to_owned(), query.assignee == "none")];
    assignees.extend(
        members
            .iter()
            .filter(|(_, _, active)| *active)
            .map(|(id, name, _)| (id.to_string(), name.clone(), query.assignee == id.to_string())),
    );
    ListControls { tags, assignees }
}

/// "Snoozed until …" in the member's zone, empty when not snoozed.
fn snoozed_label(page: &Page, snoozed_until: Option<i64>, tz: &jiff::tz::TimeZone) -> String {
    snoozed_until
        .map(|at| page.format("organize.snoozed_until", &[("time", local(at, tz, "%Y-%m-%d %H:%M"))]))
        .unwrap_or_default()
}

/// The rows with their tags, snooze and assignee (one query for all the rows' tags).
pub(super) async fn decorate_rows(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    members: &[Member],
    conversations: &[Conversation],
    mut rows: Vec<ConversationRow>,
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<ConversationRow>, AppError> {
    let services = state.services();
    let ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
    let mut tags = services.organize.tags_of(&who.actor, &ids).await.map_err(inbox_error)?;
    let names: HashMap<i64, &String> = members.iter().map(|(id, name, _)| (*id, name)).collect();
    for (row, conversation) in rows.iter_mut().zip(conversations) {
        row.organize = RowExtras {
            tags: tags.remove(&conversation.id).unwrap_or_default().iter().map(Chip::from).collect(),
            snoozed: snoozed_label(page, conversation.snoozed_until, tz),
            assignee: conversation
                .assignee_user_id
                .and_then(|id| names.get(&id).map(|name| (*name).clone()))
                .unwrap_or_default(),
        };
    }
    Ok(rows)
}

/// The thread header's actions for a conversation.
pub(super) async fn thread_actions(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    conversation: &Conversation,
    tz: &jiff::tz::TimeZone,
    roster: &Roster,
) -> Result<ThreadActions, AppError> {
    let services = state.services();
    let tags = services.organize.conversation_tags(&who.actor, conversation.id).await.map_err(inbox_error)?;
    let (all_tags, members) = (&roster.tags, &roster.members);
    let me = who.actor.user_id();
    let assigns_anyone = who.actor.role.allows(Permission::SeeAllConversations);
    let current = conversation.assignee_user_id;
    let mut assignees = vec![(String::new(), page.t("organize.actions.nobody").to_owned(), current.is_none())];
    assignees.extend(
        members
            .iter()
            // Agents assign only themselves; the current assignee stays listed so the select shows the truth.
            .filter(|(id, _, active)| *active && (assigns_anyone || Some(*id) == me) || Some(*id) == current)
            .map(|(id, name, _)| (id.to_string(), name.clone(), Some(*id) == current)),
    );
    let statuses = crate::services::whatsapp::organize::STATUSES;
    Ok(ThreadActions {
        status: conversation.status.clone(),
        other_statuses: statuses
            .iter()
            .filter(|s| **s != conversation.status)
            .map(|s| (*s, super::view::conversation_status(page, s)))
            .collect(),
        snoozed: snoozed_label(page, conversation.snoozed_until, tz),
        assignees,
        assigned_to_me: me.is_some() && current == me,
        addable: all_tags.iter().filter(|t| !tags.iter().any(|on| on.id == t.id)).map(Chip::from).collect(),
        tags: tags.iter().map(Chip::from).collect(),
        now_local: local(now_millis(), tz, "%Y-%m-%dT%H:%M"),
        error: None,
        note_text: String::new(),
    })
}

/// Names the author of each private note.
pub(super) fn sign_notes(members: &[Member], mut days: Vec<Day>) -> Vec<Day> {
    for bubble in days.iter_mut().flat_map(|d| d.messages.iter_mut()).filter(|m| m.direction == "note") {
        bubble.author = bubble
            .author_id
            .and_then(|id| members.iter().find(|(m, _, _)| *m == id))
            .map(|(_, name, _)| name.clone())
            .unwrap_or_default();
    }
    days
}

#[derive(Template)]
#[template(path = "inbox/_tabs.html")]
struct TabsFragment<'a> {
    page: &'a Page,
    tabs: Tabs,
}

/// `GET /inbox/counts`: the tabs alone, for the live script to swap in.
pub async fn counts(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    Query(query): Query<InboxQuery>,
) -> Result<Response, AppError> {
    let tabs = list_tabs(&state, &page, &who, &query).await?;
    Ok(render::html(&TabsFragment { page: &page, tabs })?.into_response())
}

/// The text colour that reads best on a background (`#rrggbb`): black or white, by WCAG contrast.
fn contrast_text(background: &str) -> &'static str {
    let channel = |i: usize| {
        let value = background.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
        let c = f64::from(value) / 255.0;
        if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with black (L+0.05)/0.05 against white 1.05/(L+0.05): black wins above L ≈ 0.179.
    if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) { "#000000" } else { "#ffffff" }
}

/// `GET /inbox/tags.css`: each tag's colours as a class (the page's CSP allows no inline styles).
pub async fn tag_colors(State(state): State<AppState>, who: WorkspaceUser) -> Result<Response, AppError> {
    let tags = state.services().organize.tags(&who.actor).await.map_err(inbox_error)?;
    // Colours are validated `#rrggbb` on the way in, so nothing here can break out of the rule.
    let css: String = tags
        .iter()
        .map(|t| format!(".chip--t{}{{background:{};color:{};}}\n", t.id, t.color, contrast_text(&t.color)))
        .collect();
    Ok(([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], css).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chips_read_well() {
        assert_eq!(contrast_text("#ffffff"), "#000000");
        assert_eq!(contrast_text("#ffd400"), "#000000");
        assert_eq!(contrast_text("#1f7a4d"), "#ffffff");
        assert_eq!(contrast_text("#000000"), "#ffffff");
    }

    #[test]
    fn the_default_tab_is_open_unless_a_state_is_picked() {
        let plain = InboxQuery::default();
        assert_eq!(plain.tab_name(), "open");
        let resolved = InboxQuery { status: "resolved".into(), ..Default::default() };
        assert_eq!(resolved.tab_name(), "all");
        let mine = InboxQuery { tab: "mine".into(), tag: "3".into(), assignee: "none".into(), ..Default::default() };
        let filter = mine.narrowed(Some(9));
        assert_eq!(filter.tab, Some(crate::store::conversations::Tab::Mine(9)));
        assert_eq!((filter.tag_id, filter.assignee), (Some(3), Some(None)));
    }
}
