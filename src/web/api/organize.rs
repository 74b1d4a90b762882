//! Organizing conversations over the API: `PATCH /api/v1/conversations/{id}` (assignee, state, snooze, tags),
//! unread, private notes, the tabs' counts, the workspace's tags (`/api/v1/tags`) and inbox settings
//! (`/api/v1/inbox-settings`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::messages::{ConversationView, MessageView};
use super::numbers::whatsapp;
use super::users::double_option;
use super::views::time;
use super::{Endpoint, Verb, at};
use crate::domain::msg::Msg;
use crate::services::whatsapp::organize::Change;
use crate::store::conversations::TabCounts;
use crate::store::inbox_settings::InboxSettings;
use crate::store::tags::Tag;
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Verb::{Delete, Get, Patch, Post};
    vec![
        at(Patch, "/api/v1/conversations/{id}", update_conversation),
        at(Post, "/api/v1/conversations/{id}/unread", mark_unread),
        at(Post, "/api/v1/conversations/{id}/notes", add_note),
        at(Get, "/api/v1/conversations/counts", counts),
        at(Get, "/api/v1/tags", list_tags),
        at(Post, "/api/v1/tags", create_tag),
        at(Patch, "/api/v1/tags/{id}", update_tag),
        at(Delete, "/api/v1/tags/{id}", delete_tag),
        at(Get, "/api/v1/inbox-settings", settings),
        at(Patch, "/api/v1/inbox-settings", update_settings),
    ]
}

#[derive(Debug, Serialize)]
pub struct TagView {
    id: i64,
    name: String,
    color: String,
    created_at: String,
    updated_at: String,
}

impl From<Tag> for TagView {
    fn from(t: Tag) -> Self {
        Self { id: t.id, name: t.name, color: t.color, created_at: time(t.created_at), updated_at: time(t.updated_at) }
    }
}

#[derive(Debug, Serialize)]
pub struct TagList {
    tags: Vec<TagView>,
}

/// A conversation with its tags, as the organizing endpoints answer.
#[derive(Debug, Serialize)]
pub struct OrganizedConversation {
    #[serde(flatten)]
    conversation: ConversationView,
    tags: Vec<TagView>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationChange {
    #[serde(default, deserialize_with = "double_option")]
    assignee_user_id: Option<Option<i64>>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    snoozed_until: Option<Option<String>>,
    #[serde(default)]
    tag_ids: Option<Vec<i64>>,
}

impl ConversationChange {
    fn change(self) -> Result<Change, AppError> {
        let snoozed_until = match self.snoozed_until {
            Some(Some(text)) => Some(Some(
                text.parse::<jiff::Timestamp>()
                    .map_err(|_| AppError::Invalid(vec![("snoozed_until", Msg::new("organize.snooze_invalid"))]))?
                    .as_millisecond(),
            )),
            Some(None) => Some(None),
            None => None,
        };
        Ok(Change { assignee: self.assignee_user_id, status: self.status, snoozed_until, tag_ids: self.tag_ids })
    }
}

async fn organized(
    state: &AppState,
    actor: &crate::services::access::Actor,
    id: i64,
) -> Result<OrganizedConversation, AppError> {
    let services = state.services();
    let conversation = services.conversations.get(actor, id).await.map_err(whatsapp)?;
    let tags = services.organize.conversation_tags(actor, id).await.map_err(whatsapp)?;
    Ok(OrganizedConversation { conversation: conversation.into(), tags: tags.into_iter().map(TagView::from).collect() })
}

pub async fn update_conversation(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<ConversationChange>,
) -> Result<Json<OrganizedConversation>, AppError> {
    let change = body.change()?;
    state.services().organize.update(&actor, id, &change).await.map_err(whatsapp)?;
    Ok(Json(organized(&state, &actor, id).await?))
}

pub async fn mark_unread(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<OrganizedConversation>, AppError> {
    state.services().organize.mark_unread(&actor, id).await.map_err(whatsapp)?;
    Ok(Json(organized(&state, &actor, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<(StatusCode, Json<MessageView>), AppError> {
    let note = state.services().organize.add_note(&actor, id, &body.text).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CountsQuery {
    whatsapp_account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct CountsView {
    open: i64,
    mine: i64,
    unassigned: i64,
    all: i64,
}

impl From<TabCounts> for CountsView {
    fn from(c: TabCounts) -> Self {
        Self { open: c.open, mine: c.mine, unassigned: c.unassigned, all: c.all }
    }
}

pub async fn counts(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<CountsQuery>,
) -> Result<Json<CountsView>, AppError> {
    let counts = state.services().organize.counts(&actor, query.whatsapp_account_id).await.map_err(whatsapp)?;
    Ok(Json(counts.into()))
}

pub async fn list_tags(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<TagList>, AppError> {
    let tags = state.services().organize.tags(&actor).await.map_err(whatsapp)?;
    Ok(Json(TagList { tags: tags.into_iter().map(TagView::from).collect() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTag {
    name: String,
    color: String,
}

pub async fn create_tag(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<NewTag>,
) -> Result<(StatusCode, Json<TagView>), AppError> {
    let tag = state.services().organize.create_tag(&actor, &body.name, &body.color).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(tag.into())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagChange {
    name: Option<String>,
    color: Option<String>,
}

pub async fn update_tag(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<TagChange>,
) -> Result<Json<TagView>, AppError> {
    let organize = &state.services().organize;
    // Absent fields keep their value; the service checks the result as a whole.
    let current = organize.tag_by_id(&actor, id).await.map_err(whatsapp)?;
    let name = body.name.unwrap_or(current.name);
    let color = body.color.unwrap_or(current.color);
    let tag = organize.update_tag(&actor, id, &name, &color).await.map_err(whatsapp)?;
    Ok(Json(tag.into()))
}

pub async fn delete_tag(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().organize.delete_tag(&actor, id).await.map_err(whatsapp)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct SettingsView {
    agents_see_all: bool,
    auto_assign: bool,
}

impl From<InboxSettings> for SettingsView {
    fn from(s: InboxSettings) -> Self {
        Self { agents_see_all: s.agents_see_all, auto_assign: s.auto_assign }
    }
}

pub async fn settings(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<Json<SettingsView>, AppError> {
    Ok(Json(state.services().organize.settings(&actor).await.map_err(whatsapp)?.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsChange {
    agents_see_all: Option<bool>,
    auto_assign: Option<bool>,
}

pub async fn update_settings(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<SettingsChange>,
) -> Result<Json<SettingsView>, AppError> {
    let organize = &state.services().organize;
    let current = organize.settings(&actor).await.map_err(whatsapp)?;
    let wanted = InboxSettings {
        agents_see_all: body.agents_see_all.unwrap_or(current.agents_see_all),
        auto_assign: body.auto_assign.unwrap_or(current.auto_assign),
    };
    Ok(Json(organize.set_settings(&actor, wanted).await.map_err(whatsapp)?.into()))
}
