//! The thread header's actions as plain forms: assign, state, snooze, unread, tags and private notes. Each answers
//! with a redirect (303); refused input shows the thread again with the reason by the actions and changes nothing.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::view::Composer;
use super::super::{InboxQuery, inbox_error, inbox_page};
use crate::domain::msg::Msg;
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::organize::{Change, snooze_until};
use crate::store::now_millis;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::CsrfOnly;
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, WithNav, check_csrf};
use crate::web::render;
use crate::web::state::AppState;

/// Back to the thread, the list's filters kept.
fn back(id: i64, query: &InboxQuery) -> Response {
    Redirect::to(&format!("/inbox/{id}{}", query.filters())).into_response()
}

/// A refused action: the thread again, the reason by the actions (422), the note kept.
async fn refused(
    state: &AppState,
    page: &Page,
    nav: Nav,
    who: &WorkspaceUser,
    (id, query): (i64, &InboxQuery),
    result: Result<(), WhatsAppError>,
    note_text: &str,
) -> Result<Response, AppError> {
    let fields = match result {
        Ok(()) => return Ok(back(id, query)),
        Err(WhatsAppError::Fields(fields)) => fields,
        Err(other) => return Err(inbox_error(other)),
    };
    let mut view = inbox_page(state, page, nav, who, query, Some((id, Composer::default()))).await?;
    if let Some(thread) = view.thread.as_mut() {
        let reasons: Vec<String> = fields.iter().map(|(_, msg)| msg.render(page.lang)).collect();
        thread.organize.error = Some(reasons.join(" "));
        thread.organize.note_text = note_text.to_owned();
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignForm {
    csrf: String,
    /// Empty: nobody; `me`; or a user id.
    assignee: String,
}

/// `POST /inbox/{id}/assign`.
pub async fn assign(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<AssignForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let assignee = match input.assignee.trim() {
        "" | "none" => None,
        "me" => Some(who.actor.user_id().unwrap_or(-1)),
        other => Some(other.parse().unwrap_or(-1)),
    };
    let change = Change { assignee: Some(assignee), ..Change::default() };
    let result = state.services().organize.update(&who.actor, id, &change).await.map(drop);
    refused(&state, &page, nav, &who, (id, &query), result, "").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

/// `POST /inbox/{id}/status`: a new state, which also ends a snooze.
pub async fn status(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<StatusForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let change = Change { status: Some(input.status.trim().to_owned()), ..Change::default() };
    let result = state.services().organize.update(&who.actor, id, &change).await.map(drop);
    refused(&state, &page, nav, &who, (id, &query), result, "").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SnoozeForm {
    csrf: String,
    /// `hour`, `tomorrow`, `monday` or `custom`.
    preset: String,
    /// A `datetime-local` value, for `custom`.
    until: String,
}

/// `POST /inbox/{id}/snooze`.
pub async fn snooze(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<SnoozeForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let timezone = who.user.membership.as_ref().map_or("UTC", |m| m.workspace.timezone.as_str());
    let result = match snooze_until(&input.preset, &input.until, timezone, now_millis()) {
        Ok(until) => {
            let change = Change { snoozed_until: Some(Some(until)), ..Change::default() };
            state.services().organize.update(&who.actor, id, &change).await.map(drop)
        }
        Err(e) => Err(e),
    };
    refused(&state, &page, nav, &who, (id, &query), result, "").await
}

/// `POST /inbox/{id}/unread`: marked unread, then back to the list (opening the thread would read it again).
pub async fn unread(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    state.services().organize.mark_unread(&who.actor, id).await.map_err(inbox_error)?;
    Ok(Redirect::to(&format!("/inbox{}", query.filters())).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagForm {
    csrf: String,
    tag_id: String,
    /// `add` or `remove`.
    op: String,
}

/// `POST /inbox/{id}/tags`: adds or removes one tag.
pub async fn tag(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<TagForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let result = match input.tag_id.trim().parse::<i64>() {
        Ok(tag_id) => state.services().organize.tag(&who.actor, id, tag_id, input.op != "remove").await,
        Err(_) => Err(WhatsAppError::Fields(vec![("tag_id", Msg::new("organize.tags_invalid"))])),
    };
    refused(&state, &page, nav, &who, (id, &query), result, "").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    csrf: String,
    text: String,
}

/// `POST /inbox/{id}/notes`: a private note, never sent.
pub async fn note(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<NoteForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let result = state.services().organize.add_note(&who.actor, id, &input.text).await.map(drop);
    refused(&state, &page, nav, &who, (id, &query), result, &input.text).await
}
