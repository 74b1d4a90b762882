//! `/api/v1/conversations`, `/api/v1/messages` and `/api/v1/media`: read conversations and threads, send
//! messages (text, template, media), retry a failed one, upload and download files.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::numbers::whatsapp;
use super::views::time;
use crate::domain::msg::Msg;
use crate::services::whatsapp::compose::{Choice, Compose, Section};
use crate::services::whatsapp::outbound::Target;
use crate::store::conversations::{Conversation, Filter};
use crate::store::media::MediaRow;
use crate::store::messages::Message;
use crate::web::error::AppError;
use crate::web::state::AppState;

const DEFAULT_PAGE: i64 = 25;

#[derive(Debug, Serialize)]
pub struct ConversationView {
    id: i64,
    whatsapp_account_id: i64,
    whatsapp_account_name: String,
    contact: ContactView,
    status: String,
    assignee_user_id: Option<i64>,
    unread_count: i64,
    last_message_at: Option<String>,
    last_message_preview: Option<String>,
    last_inbound_at: Option<String>,
    /// Hidden from the open tab until then.
    snoozed_until: Option<String>,
    /// Whether a free-form message may be sent now (the customer wrote within 24 hours).
    window_open: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Serialize)]
struct ContactView {
    id: i64,
    name: String,
    phone_number: Option<String>,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            window_open: crate::domain::message::window_open(c.last_inbound_at, crate::store::now_millis()),
            id: c.id,
            whatsapp_account_id: c.account_id,
            whatsapp_account_name: c.account_name,
            contact: ContactView { id: c.contact_id, name: c.contact_name, phone_number: c.contact_phone },
            status: c.status,
            assignee_user_id: c.assignee_user_id,
            unread_count: c.unread_count,
            last_message_at: c.last_message_at.map(time),
            last_message_preview: c.last_message_preview,
            last_inbound_at: c.last_inbound_at.map(time),
            snoozed_until: c.snoozed_until.map(time),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    id: i64,
    conversation_id: i64,
    whatsapp_account_id: i64,
    direction: String,
    provider_message_id: Option<String>,
    kind: String,
    text: Option<String>,
    /// Details by kind: template, media, location, reaction, reply, context.
    details: Option<serde_json::Value>,
    status: String,
    error: Option<ErrorView>,
    sent_by_user_id: Option<i64>,
    occurred_at: String,
    sent_at: Option<String>,
    delivered_at: Option<String>,
    read_at: Option<String>,
    failed_at: Option<String>,
    created_at: String,
}

#[derive(Debug, Serialize)]
struct ErrorView {
    code: Option<String>,
    message: Option<String>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        let error = (m.error_code.is_some() || m.error_message.is_some())
            .then(|| ErrorView { code: m.error_code.clone(), message: m.error_message.clone() });
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            whatsapp_account_id: m.account_id,
            direction: m.direction,
            provider_message_id: m.provider_message_id,
            kind: m.kind,
            text: m.body,
            details: m.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()),
            status: m.status,
            error,
            sent_by_user_id: m.sent_by_user_id,
            occurred_at: time(m.occurred_at),
            sent_at: m.sent_at.map(time),
            delivered_at: m.delivered_at.map(time),
            read_at: m.read_at.map(time),
            failed_at: m.failed_at.map(time),
            created_at: time(m.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConversationList {
    conversations: Vec<ConversationView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageList {
    messages: Vec<MessageView>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    whatsapp_account_id: Option<i64>,
    status: Option<String>,
    /// A user id, or `none` for unassigned.
    assignee: Option<String>,
    q: Option<String>,
    /// `open`, `mine`, `unassigned` or `all` (see the organize API).
    tab: Option<String>,
    tag_id: Option<i64>,
    cursor: Option<String>,
    limit: Option<i64>,
}

pub async fn list_conversations(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConversationList>, AppError> {
    let assignee = match query.assignee.as_deref() {
        None | Some("") => None,
        Some("none") => Some(None),
        Some(id) => Some(Some(
            id.parse::<i64>().map_err(|_| AppError::Invalid(vec![("assignee", Msg::new("api.assignee_invalid"))]))?,
        )),
    };
    if let Some(status) = query.status.as_deref()
        && !["open", "pending", "resolved", "archived"].contains(&status)
    {
        return Err(AppError::Invalid(vec![("status", Msg::new("api.conversation_status_invalid"))]));
    }
    let filter = Filter {
        account_id: query.whatsapp_account_id,
        status: query.status,
        assignee,
        query: query.q,
        visible_to: None,
        tab: crate::services::whatsapp::organize::parse_tab(query.tab.as_deref(), actor.user_id())
            .map_err(|_| AppError::Invalid(vec![("tab", Msg::new("organize.tab_invalid"))]))?,
        tag_id: query.tag_id,
    };
    let page = state
        .services()
        .conversations
        .list(&actor, &filter, query.cursor.as_deref(), query.limit.unwrap_or(DEFAULT_PAGE))
        .await
        .map_err(whatsapp)?;
    Ok(Json(ConversationList {
        conversations: page.conversations.into_iter().map(ConversationView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub async fn show_conversation(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<ConversationView>, AppError> {
    Ok(Json(state.services().conversations.get(&actor, id).await.map_err(whatsapp)?.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

pub async fn list_messages(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<MessageList>, AppError> {
    let page = state
        .services()
        .conversations
        .messages(&actor, id, query.cursor.as_deref(), query.limit.unwrap_or(DEFAULT_PAGE * 2))
        .await
        .map_err(whatsapp)?;
    Ok(Json(MessageList {
        messages: page.messages.into_iter().map(MessageView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    name: String,
    language: String,
    #[serde(default)]
    variables: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaBody {
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    media_id: Option<i64>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

/// Reply buttons (`type: "buttons"`) or a list (`type: "list"`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InteractiveBody {
    Buttons { body: String, buttons: Vec<Choice> },
    List { body: String, button: String, sections: Vec<Section> },
}

/// Exactly one of `text`, `template`, `media` or `interactive`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComposeBody {
    text: Option<String>,
    template: Option<TemplateBody>,
    media: Option<MediaBody>,
    interactive: Option<InteractiveBody>,
}

impl ComposeBody {
    fn compose(self) -> Result<Compose, AppError> {
        match (self.text, self.template, self.media, self.interactive) {
            (Some(text), None, None, None) => Ok(Compose::Text(text)),
            (None, Some(t), None, None) => {
                Ok(Compose::Template { name: t.name, language: t.language, variables: t.variables })
            }
            (None, None, None, Some(InteractiveBody::Buttons { body, buttons })) => {
                Ok(Compose::Buttons { body, buttons })
            }
            (None, None, None, Some(InteractiveBody::List { body, button, sections })) => {
                Ok(Compose::List { body, button, sections })
            }
            (None, None, Some(m), None) => Ok(Compose::Media {
                kind: m.kind,
                url: m.url,
                media_id: m.media_id,
                caption: m.caption,
                filename: m.filename,
            }),
            _ => Err(AppError::Invalid(vec![("text", Msg::new("api.compose_one"))])),
        }
    }
}

pub async fn send_in_conversation(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<ComposeBody>,
) -> Result<(StatusCode, Json<MessageView>), AppError> {
    let compose = body.compose()?;
    state.services().conversations.get(&actor, id).await.map_err(whatsapp)?;
    let message = state.services().outbound.send(&actor, Target::Conversation(id), &compose).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(message.into())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessageBody {
    whatsapp_account_id: i64,
    to: String,
    #[serde(flatten)]
    compose: ComposeBody,
}

pub async fn send_new(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<MessageView>), AppError> {
    // `deny_unknown_fields` does not combine with `flatten`: check the field names by hand.
    let allowed = ["whatsapp_account_id", "to", "text", "template", "media", "interactive"];
    if let Some(unknown) = body.as_object().and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str()))) {
        return Err(AppError::BadRequest(Msg::with(
            "api.body_invalid",
            &[("detail", format!("unknown field `{unknown}`"))],
        )));
    }
    let body: NewMessageBody = serde_json::from_value(body)
        .map_err(|e| AppError::BadRequest(Msg::with("api.body_invalid", &[("detail", e.to_string())])))?;
    let compose = body.compose.compose()?;
    let target = Target::New { account_id: body.whatsapp_account_id, to: body.to };
    let message = state.services().outbound.send(&actor, target, &compose).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(message.into())))
}

/// `POST /api/v1/conversations/{id}/read`: no unread messages left; the customer sees blue ticks where supported.
pub async fn mark_read(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<ConversationView>, AppError> {
    state.services().conversations.get(&actor, id).await.map_err(whatsapp)?;
    state.services().outbound.mark_read(&actor, id).await.map_err(whatsapp)?;
    Ok(Json(state.services().conversations.get(&actor, id).await.map_err(whatsapp)?.into()))
}

pub async fn show_message(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<MessageView>, AppError> {
    let message = state.services().outbound.get(&actor, id).await.map_err(whatsapp)?;
    // The conversation's visibility rules apply to its messages too.
    state.services().conversations.get(&actor, message.conversation_id).await.map_err(whatsapp)?;
    Ok(Json(message.into()))
}

pub async fn retry_message(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<MessageView>, AppError> {
    let message = state.services().outbound.get(&actor, id).await.map_err(whatsapp)?;
    state.services().conversations.get(&actor, message.conversation_id).await.map_err(whatsapp)?;
    Ok(Json(state.services().outbound.retry(&actor, id).await.map_err(whatsapp)?.into()))
}

#[derive(Debug, Serialize)]
pub struct MediaView {
    id: i64,
    kind: String,
    mime: Option<String>,
    filename: Option<String>,
    size: Option<i64>,
    sha256: Option<String>,
    state: String,
    message_id: Option<i64>,
}

impl From<MediaRow> for MediaView {
    fn from(m: MediaRow) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            mime: m.mime,
            filename: m.filename,
            size: m.size,
            sha256: m.sha256,
            state: m.state,
            message_id: m.message_id,
        }
    }
}

/// `POST /api/v1/media`: multipart with `kind` and `file`.
pub async fn upload(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<MediaView>), AppError> {
    let bad = |detail: String| AppError::BadRequest(Msg::with("api.body_invalid", &[("detail", detail)]));
    let (mut kind, mut file) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some("kind") => kind = Some(field.text().await.map_err(|e| bad(e.body_text()))?),
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let mime = field.content_type().unwrap_or_default().to_owned();
                let bytes: Bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                file = Some((name, mime, bytes));
            }
            Some(other) => return Err(bad(format!("unknown field `{other}`"))),
            None => return Err(bad("a field without a name".into())),
        }
    }
    let (Some(kind), Some((name, mime, bytes))) = (kind, file) else {
        return Err(AppError::Invalid(vec![("file", Msg::new("api.upload_fields"))]));
    };
    let row = state.services().media.upload(&actor, &kind, &name, &mime, &bytes).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// `GET /api/v1/media/{id}`: the file's bytes.
pub async fn download(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Response, AppError> {
    let file = state.services().media.read(&actor, id).await.map_err(whatsapp)?;
    let mime = file.row.mime.clone().unwrap_or_else(|| "application/octet-stream".into());
    let name = file.row.filename.clone().unwrap_or_else(|| format!("media-{id}"));
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\', '\r', '\n'], "_"));
    Ok(([(header::CONTENT_TYPE, mime), (header::CONTENT_DISPOSITION, disposition)], file.bytes).into_response())
}
