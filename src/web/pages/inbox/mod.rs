//! The team inbox (`/inbox`): the workspace's conversations, most recent first, and beside them the open thread
//! with its delivery ticks, a reply box (text, or a template once the 24-hour window has closed) and Retry for
//! failed messages. Every action is a plain form with a redirect, so the page works without JavaScript; htmx's
//! boost only makes it smoother.
//!
//! What an agent may see is the services' call: they hide the conversations assigned to others, and a
//! conversation of another workspace is simply not found.

mod compose;
mod contact;
pub(crate) mod live;
mod organize;
mod quick_replies;
mod template_picker;
mod view;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::admin::{Nav, WithNav, check_csrf, optional_number, query_string, zone};
use crate::domain::message::window_open;
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::compose::Compose;
use crate::services::whatsapp::outbound::Target;
use crate::store::conversations::Filter;
use crate::store::now_millis;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::{CsrfOnly, FieldErrors};
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

use view::{Composer, ConversationRow, Thread};

/// Conversations per page of the list.
const LIST_PAGE: i64 = 30;
/// Messages per page of a thread.
const THREAD_PAGE: i64 = 50;
/// The conversation states the list can be filtered by.
const STATUSES: [&str; 4] = ["open", "pending", "resolved", "archived"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(list))
        .route("/inbox/{id}", get(show))
        .route("/inbox/{id}/reply", post(reply))
        .route("/inbox/{id}/messages/{message_id}/retry", post(retry))
        .merge(compose::routes())
        .merge(contact::routes())
        .merge(quick_replies::routes())
        .merge(live::routes())
        .merge(template_picker::routes())
        .merge(organize::routes())
}

/// A WhatsApp error as an error page (for reads and actions without a form to show it on).
pub(crate) fn inbox_error(err: WhatsAppError) -> AppError {
    match err {
        WhatsAppError::Access(e) => AppError::Forbidden(e.msg()),
        WhatsAppError::NotFound => AppError::NotFound,
        WhatsAppError::Fields(fields) => AppError::Invalid(fields),
        WhatsAppError::Refused { msg, .. } => AppError::Conflict(msg),
        WhatsAppError::Store(e) => e.into(),
        WhatsAppError::Internal(detail) => AppError::Internal(detail),
    }
}

/// The list's filters and pages: `?number=&status=&q=`, `cursor` for older conversations, `before` for earlier
/// messages of the open thread.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InboxQuery {
    number: String,
    status: String,
    q: String,
    cursor: String,
    before: String,
    /// A quick reply to pre-fill the reply box with (the composer's list without a script).
    quick_reply: String,
    /// The template chosen in the composer's picker (its variable form without a script).
    template: String,
    /// `open`, `mine`, `unassigned` or `all` (`organize`).
    tab: String,
    /// A tag id.
    tag: String,
    /// A user id, or `none`.
    assignee: String,
}

impl InboxQuery {
    /// The filters as a query string, carried by every link and form so the list stays as the user set it.
    fn filters(&self) -> String {
        self.with(None)
    }

    /// The filters plus one more parameter (a page's cursor).
    fn with(&self, extra: Option<(&str, &str)>) -> String {
        let mut pairs = vec![("number", self.number.as_str()), ("status", &self.status), ("q", &self.q)];
        pairs.extend([("tab", self.tab.as_str()), ("tag", &self.tag), ("assignee", &self.assignee)]);
        pairs.extend(extra);
        query_string(&pairs)
    }

    /// The filters for the service; an unknown state is ignored rather than refused (it came from a URL).
    fn filter(&self) -> Filter {
        let query = self.q.trim();
        Filter {
            account_id: optional_number(&self.number),
            status: STATUSES.contains(&self.status.as_str()).then(|| self.status.clone()),
            query: (!query.is_empty()).then(|| query.to_owned()),
            ..Filter::default()
        }
    }
}

/// The filter form: the numbers and states to choose from.
pub struct FilterView {
    /// `(id, label, selected)`.
    pub numbers: Vec<(i64, String, bool)>,
    /// `(value, label, selected)`.
    pub statuses: Vec<(&'static str, String, bool)>,
    pub q: String,
}

#[derive(Template)]
#[template(path = "inbox/index.html")]
struct InboxPage<'a> {
    page: &'a Page,
    nav: Nav,
    filter: FilterView,
    rows: Vec<ConversationRow>,
    /// The first page of the list, when an older one is shown.
    newest_href: Option<String>,
    older_href: Option<String>,
    /// The list's filters as a query string (empty without filters).
    qs: String,
    thread: Option<Thread>,
    /// The workspace's latest change, read before the list: the live stream resumes after it, so nothing that
    /// happens between this render and the page's connection is missed.
    events_after: i64,
    /// The status tabs with their counts, and the tag and assignee filters (`organize`).
    tabs: organize::Tabs,
    organize: organize::ListControls,
}

/// The whole page: the list, and the thread of `open` (its id and composer) when one is open.
async fn inbox_page<'a>(
    state: &AppState,
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    query: &InboxQuery,
    open: Option<(i64, Composer)>,
) -> Result<InboxPage<'a>, AppError> {
    let services = state.services();
    let tz = who.user.membership.as_ref().map_or(jiff::tz::TimeZone::UTC, |m| zone(&m.workspace.timezone));
    let now = now_millis();
    let qs = query.filters();
    let events_after = services.live.latest_id(&who.actor).await.map_err(inbox_error)?;
    let list = services
        .conversations
        .list(&who.actor, &query.narrowed(who.actor.user_id()), Some(query.cursor.as_str()), LIST_PAGE)
        .await
        .map_err(inbox_error)?;
    let numbers = services.numbers.list(&who.actor).await.map_err(inbox_error)?;
    let current = open.as_ref().map(|(id, _)| *id);
    let rows = list.conversations.iter().map(|c| view::row(page, c, &qs, current, &tz, now)).collect();
    let roster = organize::roster(state, who).await?;
    let rows = organize::decorate_rows(state, page, who, &roster.members, &list.conversations, rows, &tz).await?;
    let older_href =
        list.next_cursor.as_deref().map(|cursor| format!("/inbox{}", query.with(Some(("cursor", cursor)))));
    let newest_href = (!query.cursor.is_empty()).then(|| format!("/inbox{qs}"));

    let thread = match open {
        Some((id, composer)) => {
            let conversation = services.conversations.get(&who.actor, id).await.map_err(inbox_error)?;
            let messages = services
                .conversations
                .messages(&who.actor, id, Some(query.before.as_str()), THREAD_PAGE)
                .await
                .map_err(inbox_error)?;
            let number = numbers.iter().find(|n| n.id == conversation.account_id);
            let supports = |name: &str| {
                // Without the number (it cannot normally vanish under its conversation) assume the strictest rules.
                number.is_none_or(|n| n.capabilities.iter().any(|c| c.name == name && c.supported))
            };
            let composer = Composer {
                window_closed: supports("customer_window") && !window_open(conversation.last_inbound_at, now),
                templates: supports("templates"),
                ..composer
            };
            let composer = compose::tools(state, page, who, id, query, composer).await?;
            let composer = template_picker::fill(state, page, who, conversation.account_id, query, composer).await?;
            let earlier_href = messages
                .next_cursor
                .as_deref()
                .map(|before| format!("/inbox/{id}{}", query.with(Some(("before", before)))));
            Some(Thread {
                id,
                name: conversation.contact_name.clone(),
                phone: conversation.contact_phone.clone().unwrap_or_default(),
                number: conversation.account_name.clone(),
                status_label: view::conversation_status(page, &conversation.status),
                days: finish_days(
                    state,
                    page,
                    who,
                    id,
                    &roster.members,
                    view::days(page, &messages.messages, &tz, now),
                )
                .await?,
                earlier_href,
                composer,
                contact: Some(contact::panel(state, page, who, id, &qs, &tz).await?),
                organize: organize::thread_actions(state, page, who, &conversation, &tz, &roster).await?,
            })
        }
        None => None,
    };

    let selected = optional_number(&query.number);
    let filter = FilterView {
        numbers: numbers.iter().map(|n| (n.id, n.name.clone(), selected == Some(n.id))).collect(),
        statuses: STATUSES.iter().map(|s| (*s, view::conversation_status(page, s), query.status == *s)).collect(),
        q: query.q.clone(),
    };
    let tabs = organize::list_tabs(state, page, who, query).await?;
    let organize = organize::list_controls(page, query, &roster);
    Ok(InboxPage { page, nav, filter, rows, newest_href, older_href, qs, thread, events_after, tabs, organize })
}

/// The thread's bubbles with what other slices add to them (file previews, the authors of notes): the full page
/// and the live fragments call this one function, so a bubble looks the same however it arrived.
async fn finish_days(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    conversation_id: i64,
    members: &[organize::Member],
    days: Vec<view::Day>,
) -> Result<Vec<view::Day>, AppError> {
    let days = compose::add_media(state, page, who, conversation_id, days).await?;
    Ok(organize::sign_notes(members, days))
}

/// `GET /inbox`: the conversations, filtered.
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, AppError> {
    let view = inbox_page(&state, &page, nav, &who, &query, None).await?;
    Ok(render::html(&view)?.into_response())
}

/// `GET /inbox/{id}`: the list and one thread, which opening marks read (idempotent, and what people expect).
pub async fn show(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, AppError> {
    let services = state.services();
    // Visibility first: marking read does not itself hide the conversations assigned to other agents.
    let conversation = services.conversations.get(&who.actor, id).await.map_err(inbox_error)?;
    // Only when something is unread: each marking asks the provider for blue ticks, which a reload should not repeat.
    if conversation.unread_count > 0 {
        services.outbound.mark_read(&who.actor, id).await.map_err(inbox_error)?;
    }
    let view = inbox_page(&state, &page, nav, &who, &query, Some((id, Composer::default()))).await?;
    Ok(render::html(&view)?.into_response())
}

/// The reply form: text, or a template (`mode=template`) with one variable per line.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplyForm {
    csrf: String,
    mode: String,
    text: String,
    template_name: String,
    template_language: String,
    template_variables: String,
}

impl ReplyForm {
    fn compose(&self) -> Compose {
        if self.mode == "template" {
            Compose::Template {
                name: self.template_name.clone(),
                language: self.template_language.clone(),
                variables: self
                    .template_variables
                    .lines()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }
        } else {
            Compose::Text(self.text.clone())
        }
    }
}

/// `POST /inbox/{id}/reply`: sends, then back to the thread. A refusal (window closed, quota, bad input) shows the
/// thread again with the reason by the composer and what was typed kept.
pub async fn reply(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<ReplyForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let sent = state.services().outbound.send(&who.actor, Target::Conversation(id), &input.compose()).await;
    let (status, error, errors) = match sent {
        Ok(_) => return Ok(Redirect::to(&format!("/inbox/{id}{}", query.filters())).into_response()),
        Err(WhatsAppError::Fields(fields)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, FieldErrors::from_msgs(&fields, page.lang))
        }
        Err(WhatsAppError::Refused { msg, .. }) => {
            (StatusCode::CONFLICT, Some(msg.render(page.lang)), FieldErrors::default())
        }
        Err(other) => return Err(inbox_error(other)),
    };
    let composer = Composer {
        mode: if input.mode == "template" { "template".to_owned() } else { String::new() },
        text: input.text,
        template_name: input.template_name,
        template_language: input.template_language,
        template_variables: input.template_variables,
        error,
        errors,
        ..Composer::default()
    };
    let view = inbox_page(&state, &page, nav, &who, &query, Some((id, composer))).await?;
    Ok((status, render::html(&view)?).into_response())
}

/// `POST /inbox/{id}/messages/{message_id}/retry`: sends a failed message again, then back to the thread.
pub async fn retry(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path((id, message_id)): Path<(i64, i64)>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    // The conversation must be visible to this member, and the message one of its own: the service only checks
    // the workspace.
    services.conversations.get(&who.actor, id).await.map_err(inbox_error)?;
    let message = services.outbound.get(&who.actor, message_id).await.map_err(inbox_error)?;
    if message.conversation_id != id {
        return Err(AppError::NotFound);
    }
    services.outbound.retry(&who.actor, message_id).await.map_err(inbox_error)?;
    Ok(Redirect::to(&format!("/inbox/{id}{}#message-{message_id}", query.filters())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_come_from_the_query() {
        let query = InboxQuery { number: "4".into(), status: "open".into(), q: " kerry ".into(), ..Default::default() };
        let filter = query.filter();
        assert_eq!(filter.account_id, Some(4));
        assert_eq!(filter.status.as_deref(), Some("open"));
        assert_eq!(filter.query.as_deref(), Some("kerry"));
        assert_eq!(query.filters(), "?number=4&status=open&q=%20kerry%20");
        let odd = InboxQuery { status: "deleted".into(), ..Default::default() };
        assert_eq!(odd.filter().status, None, "an unknown state does not filter");
        assert_eq!(odd.filters(), "?status=deleted");
    }

    #[test]
    fn templates_take_one_variable_per_line() {
        let form = ReplyForm {
            mode: "template".into(),
            template_name: "order_update".into(),
            template_language: "en_US".into(),
            template_variables: "Ada\r\n\r\n#1042\n".into(),
            ..Default::default()
        };
        assert_eq!(
            form.compose(),
            Compose::Template {
                name: "order_update".into(),
                language: "en_US".into(),
                variables: vec!["Ada".into(), "#1042".into()]
            }
        );
        let text = ReplyForm { text: "Hi".into(), ..Default::default() };
        assert_eq!(text.compose(), Compose::Text("Hi".into()));
    }
}
