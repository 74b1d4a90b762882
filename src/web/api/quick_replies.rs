//! `/api/v1/quick-replies` and `/api/v1/conversations/{id}/quick-replies/{quick_reply_id}/render`: the workspace's
//! quick replies (an API key has no person behind it, so it sees and manages the workspace-wide ones only), and a
//! reply filled for a conversation.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::Endpoint;
use super::Verb::{Delete, Get, Patch, Post};
use super::at;
use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::numbers::whatsapp;
use super::views::time;
use crate::services::whatsapp::quick_replies::QuickReplyInput;
use crate::store::quick_replies::QuickReply;
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        at(Get, "/api/v1/quick-replies", list),
        at(Post, "/api/v1/quick-replies", create),
        at(Patch, "/api/v1/quick-replies/{id}", update),
        at(Delete, "/api/v1/quick-replies/{id}", remove),
        at(Get, "/api/v1/conversations/{id}/quick-replies/{quick_reply_id}/render", render),
    ]
}

#[derive(Debug, Serialize)]
pub struct QuickReplyView {
    id: i64,
    shortcut: String,
    body: String,
    /// `workspace` (API keys only see these) or `personal`.
    scope: &'static str,
    created_at: String,
    updated_at: String,
}

impl From<QuickReply> for QuickReplyView {
    fn from(r: QuickReply) -> Self {
        Self {
            scope: if r.user_id.is_some() { "personal" } else { "workspace" },
            id: r.id,
            shortcut: r.shortcut,
            body: r.body,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct QuickReplyList {
    quick_replies: Vec<QuickReplyView>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    /// Shortcuts starting with this.
    prefix: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<QuickReplyList>, AppError> {
    let prefix = query.prefix.unwrap_or_default();
    let replies = state.services().quick_replies.list(&actor, &prefix).await.map_err(whatsapp)?;
    Ok(Json(QuickReplyList { quick_replies: replies.into_iter().map(QuickReplyView::from).collect() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReplyBody {
    shortcut: String,
    body: String,
}

pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<QuickReplyBody>,
) -> Result<(StatusCode, Json<QuickReplyView>), AppError> {
    let input = QuickReplyInput { shortcut: body.shortcut, body: body.body, personal: false };
    let reply = state.services().quick_replies.create(&actor, &input).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(reply.into())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuickReplyChange {
    shortcut: Option<String>,
    body: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(change): ApiJson<QuickReplyChange>,
) -> Result<Json<QuickReplyView>, AppError> {
    let services = state.services();
    let current = services.quick_replies.get(&actor, id).await.map_err(whatsapp)?;
    let input = QuickReplyInput {
        shortcut: change.shortcut.unwrap_or(current.shortcut),
        body: change.body.unwrap_or(current.body),
        personal: false,
    };
    Ok(Json(services.quick_replies.update(&actor, id, &input).await.map_err(whatsapp)?.into()))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().quick_replies.delete(&actor, id).await.map_err(whatsapp)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{id}` and `{quick_reply_id}` of a path; anything but numbers names nothing (404).
pub struct ConversationReply(i64, i64);

impl<S: Send + Sync> FromRequestParts<S> for ConversationReply {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<(i64, i64)>::from_request_parts(parts, state).await {
            Ok(Path((conversation, reply))) => Ok(Self(conversation, reply)),
            Err(_) => Err(AppError::NotFound),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RenderedView {
    quick_reply_id: i64,
    conversation_id: i64,
    shortcut: String,
    /// The body with the conversation's placeholders filled; those without a value stay as written.
    text: String,
}

pub async fn render(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ConversationReply(conversation_id, id): ConversationReply,
) -> Result<Json<RenderedView>, AppError> {
    let filled = state.services().quick_replies.render(&actor, conversation_id, id).await.map_err(whatsapp)?;
    Ok(Json(RenderedView { quick_reply_id: id, conversation_id, shortcut: filled.reply.shortcut, text: filled.text }))
}
