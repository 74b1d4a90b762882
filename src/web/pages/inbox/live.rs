//! The live inbox's endpoints: the change stream (`GET /inbox/events`, server-sent events), the fragments a page
//! fetches after an event (one message bubble, one list row), presence heartbeats and marking read. The page
//! works without them; `assets/js/inbox.js` uses them to update it in place.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::view::{self, Bubble};
use super::{InboxQuery, inbox_error};
use crate::services::whatsapp::live::{LiveEvent, Validity};
use crate::store::now_millis;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::CsrfOnly;
use crate::web::page::{Page, cookie};
use crate::web::pages::admin::{check_csrf, zone};
use crate::web::pages::auth::SESSION_COOKIE;
use crate::web::render;
use crate::web::state::AppState;

/// How often an idle stream sends a comment, so proxies keep it open and a dead client is noticed.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox/events", get(events))
        .route("/inbox/rows/{id}", get(row))
        .route("/inbox/{id}/messages/{message_id}", get(message))
        .route("/inbox/{id}/presence", post(presence))
        .route("/inbox/{id}/read", post(read))
}

/// Where a stream resumes: `?after=` on the first connection.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResumeQuery {
    pub after: Option<i64>,
}

/// The id after which a stream resumes: the `Last-Event-ID` the browser resends on reconnecting, else `?after=`.
pub(crate) fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Option<i64> {
    headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok()).or(after)
}

/// One live event as SSE: changes carry their id (the browser resends the last one on reconnecting).
fn sse_event(event: LiveEvent) -> Event {
    match event {
        LiveEvent::Change { id, conversation_id, message_id, kind } => {
            Event::default().id(id.to_string()).event(kind.as_str()).data(
                serde_json::json!({
                    "id": id, "conversation_id": conversation_id, "message_id": message_id, "kind": kind.as_str()
                })
                .to_string(),
            )
        }
        LiveEvent::Reset => Event::default().event("reset").data(r#"{"kind":"reset"}"#),
        LiveEvent::Presence(view) => Event::default().event("presence").data(
            serde_json::json!({
                "conversation_id": view.conversation_id,
                "kind": "presence",
                "viewing": view.viewing,
                "typing": view.typing,
            })
            .to_string(),
        ),
    }
}

/// A stream of live events as a `text/event-stream` response (the page's and the API's).
pub(crate) fn sse(events: mpsc::Receiver<LiveEvent>) -> Response {
    use tokio_stream::StreamExt;
    let stream = ReceiverStream::new(events).map(|event| Ok::<_, std::convert::Infallible>(sse_event(event)));
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // Reverse proxies that buffer (nginx) would hold the events back.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    response
}

/// `GET /inbox/events`: the member's live stream. It ends when the session is signed out or leaves the workspace.
pub async fn events(
    State(state): State<AppState>,
    who: WorkspaceUser,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, AppError> {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let (user_id, workspace_id) = (who.user.user.id, who.actor.workspace_id);
    let checker = state.clone();
    let still_valid: Validity = Box::new(move || {
        let (state, token) = (checker.clone(), token.clone());
        Box::pin(async move {
            match state.services().auth.current(&token).await {
                Ok(Some(user)) => {
                    user.user.id == user_id
                        && user
                            .membership
                            .is_some_and(|m| m.workspace.id == workspace_id && m.workspace.status == "active")
                }
                Ok(None) => false,
                // A database blip is not a sign-out: look again at the next check.
                Err(_) => true,
            }
        })
    });
    let resume = resume_point(&headers, query.after);
    let stream = state.services().live.stream(&who.actor, resume, still_valid).await.map_err(inbox_error)?;
    Ok(sse(stream))
}

/// What `_message.html` reads of the thread around it.
struct ThreadRef {
    id: i64,
}

/// What `_message.html` reads of the navigation: the form token.
struct CsrfRef {
    csrf: String,
}

#[derive(Template)]
#[template(path = "inbox/_message.html")]
struct MessageFragment<'a> {
    page: &'a Page,
    nav: CsrfRef,
    qs: String,
    t: ThreadRef,
    b: Bubble,
}

/// `GET /inbox/{id}/messages/{message_id}`: one message's bubble (404 when the conversation is hidden from the
/// member or the message is not one of its).
pub async fn message(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    Path((id, message_id)): Path<(i64, i64)>,
    Query(query): Query<InboxQuery>,
) -> Result<Response, AppError> {
    let message = state.services().live.message(&who.actor, id, message_id).await.map_err(inbox_error)?;
    let tz = who.user.membership.as_ref().map_or(jiff::tz::TimeZone::UTC, |m| zone(&m.workspace.timezone));
    let day =
        view::Day { label: String::new(), date: String::new(), messages: vec![view::bubble(&page, &message, &tz)] };
    let members = super::organize::members(&state, &who).await?;
    let finished = super::finish_days(&state, &page, &who, id, &members, vec![day]).await?;
    let Some(b) = finished.into_iter().flat_map(|d| d.messages).next() else { return Err(AppError::NotFound) };
    let fragment = MessageFragment {
        page: &page,
        nav: CsrfRef { csrf: who.user.csrf_token.clone() },
        qs: query.filters(),
        t: ThreadRef { id },
        b,
    };
    Ok(render::html(&fragment)?.into_response())
}

#[derive(Template)]
#[template(path = "inbox/_row.html")]
struct RowFragment<'a> {
    page: &'a Page,
    r: view::ConversationRow,
}

/// The conversation open beside the list, for the row's highlight.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CurrentQuery {
    current: Option<i64>,
}

/// `GET /inbox/rows/{id}?<the list's filters>`: one row of the list, or 204 when the conversation does not match
/// the filters (the page then drops it); 404 when it is hidden from the member.
pub async fn row(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Query(current): Query<CurrentQuery>,
) -> Result<Response, AppError> {
    let found = state.services().live.row(&who.actor, &query.filter(), id).await.map_err(inbox_error)?;
    let Some(conversation) = found else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    let tz = who.user.membership.as_ref().map_or(jiff::tz::TimeZone::UTC, |m| zone(&m.workspace.timezone));
    let r = view::row(&page, &conversation, &query.filters(), current.current, &tz, now_millis());
    let members = super::organize::members(&state, &who).await?;
    let one = std::slice::from_ref(&conversation);
    let decorated = super::organize::decorate_rows(&state, &page, &who, &members, one, vec![r], &tz).await?;
    let Some(r) = decorated.into_iter().next() else { return Err(AppError::NotFound) };
    Ok(render::html(&RowFragment { page: &page, r })?.into_response())
}

/// A presence heartbeat: `typing=1` while the composer is in use.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PresenceForm {
    csrf: String,
    typing: String,
}

/// `POST /inbox/{id}/presence`: the member is viewing (or typing in) the conversation; 204.
pub async fn presence(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(input): Form<PresenceForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let typing = input.typing == "1";
    state.services().live.presence(&who.actor, &who.user.user.name, id, typing).await.map_err(inbox_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /inbox/{id}/read`: marks the conversation read; back to it (204 for the page's script).
pub async fn read(
    State(state): State<AppState>,
    who: WorkspaceUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    // Visibility first: the service marks any conversation of the workspace.
    services.conversations.get(&who.actor, id).await.map_err(inbox_error)?;
    services.outbound.mark_read(&who.actor, id).await.map_err(inbox_error)?;
    if headers.contains_key("x-inbox-live") {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Redirect::to(&format!("/inbox/{id}{}", query.filters())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_event_id_wins_over_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_point(&headers, Some(4)), Some(4));
        headers.insert("last-event-id", "17".parse().unwrap());
        assert_eq!(resume_point(&headers, Some(4)), Some(17));
        headers.insert("last-event-id", "junk".parse().unwrap());
        assert_eq!(resume_point(&headers, None), None);
    }
}
