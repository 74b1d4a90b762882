//! `/api/v1/templates`: the workspace's WhatsApp message templates: list and read them (any key), add, change and
//! delete them by hand, and sync a number's templates from its provider (admin keys).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::numbers::{explicit, whatsapp};
use super::views::time;
use super::{Endpoint, Verb, at};
use crate::services::whatsapp::templates::{SyncReport, TemplateChanges, TemplateInput, TemplateView};
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        at(Verb::Get, "/api/v1/templates", list),
        at(Verb::Post, "/api/v1/templates", create),
        at(Verb::Post, "/api/v1/templates/sync", sync),
        at(Verb::Get, "/api/v1/templates/{id}", show),
        at(Verb::Patch, "/api/v1/templates/{id}", update),
        at(Verb::Delete, "/api/v1/templates/{id}", remove),
    ]
}

#[derive(Debug, Serialize)]
pub struct TemplateBody {
    id: i64,
    /// `null`: every number of the workspace.
    whatsapp_account_id: Option<i64>,
    name: String,
    language: String,
    category: String,
    status: String,
    body: String,
    /// How many body variables (`{{1}}`…) a send needs.
    variables: usize,
    components: serde_json::Value,
    /// Whether the composer can send it: approved, and only body variables to fill.
    sendable: bool,
    created_at: String,
    updated_at: String,
}

impl From<TemplateView> for TemplateBody {
    fn from(t: TemplateView) -> Self {
        Self {
            sendable: t.sendable(),
            id: t.id,
            whatsapp_account_id: t.account_id,
            name: t.name,
            language: t.language,
            category: t.category,
            status: t.status,
            body: t.body,
            variables: t.variables,
            components: t.components,
            created_at: time(t.created_at),
            updated_at: time(t.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TemplateList {
    templates: Vec<TemplateBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    whatsapp_account_id: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<TemplateList>, AppError> {
    let templates = state.services().templates.list(&actor, query.whatsapp_account_id).await.map_err(whatsapp)?;
    Ok(Json(TemplateList { templates: templates.into_iter().map(TemplateBody::from).collect() }))
}

pub async fn show(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<TemplateBody>, AppError> {
    Ok(Json(state.services().templates.get(&actor, id).await.map_err(whatsapp)?.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplateBody {
    #[serde(default)]
    whatsapp_account_id: Option<i64>,
    name: String,
    language: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    body: String,
}

pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<NewTemplateBody>,
) -> Result<(StatusCode, Json<TemplateBody>), AppError> {
    let input = TemplateInput {
        account_id: body.whatsapp_account_id,
        name: body.name,
        language: body.language,
        category: body.category,
        status: body.status,
        body: body.body,
    };
    let created = state.services().templates.create(&actor, &input).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(deserialize_with = "explicit")]
    whatsapp_account_id: Option<Option<i64>>,
    name: Option<String>,
    language: Option<String>,
    category: Option<String>,
    status: Option<String>,
    body: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<TemplateBody>, AppError> {
    let changes = TemplateChanges {
        account_id: body.whatsapp_account_id,
        name: body.name,
        language: body.language,
        category: body.category,
        status: body.status,
        body: body.body,
    };
    Ok(Json(state.services().templates.update(&actor, id, &changes).await.map_err(whatsapp)?.into()))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().templates.delete(&actor, id).await.map_err(whatsapp)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    whatsapp_account_id: i64,
}

pub async fn sync(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<SyncBody>,
) -> Result<Json<SyncReport>, AppError> {
    Ok(Json(state.services().templates.sync(&actor, body.whatsapp_account_id).await.map_err(whatsapp)?))
}
