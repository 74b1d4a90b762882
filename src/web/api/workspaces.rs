//! `/api/v1/workspaces`: the instance owner's endpoints (an admin-scope key the owner created; 404 for any other).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::workspace;
use super::extract::{ApiId, ApiJson, ApiOwner, ApiQuery};
use super::users::double_option;
use super::views::{Workspace, Workspaces};
use crate::domain::msg::Msg;
use crate::services::limits::WorkspaceLimits;
use crate::services::workspaces::NewWorkspace;
use crate::web::error::AppError;
use crate::web::state::AppState;

pub async fn list(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Json<Workspaces>, AppError> {
    let list = state.services().workspaces.list(&owner).await.map_err(workspace)?;
    Ok(Json(Workspaces { workspaces: list.into_iter().map(Workspace::from).collect() }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    slug: String,
    timezone: String,
    admin_email: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Workspace>), AppError> {
    let services = state.services();
    let new = NewWorkspace { name: body.name, slug: body.slug, timezone: body.timezone, admin_email: body.admin_email };
    let created = services.workspaces.create(&owner, &new).await.map_err(workspace)?;
    let summary = services.workspaces.get(&owner, created.id).await.map_err(workspace)?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

pub async fn show(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiId(id): ApiId,
) -> Result<Json<Workspace>, AppError> {
    let summary = state.services().workspaces.get(&owner, id).await.map_err(workspace)?;
    Ok(Json(summary.into()))
}

/// Each limit: absent leaves it, `null` removes it (unlimited), a number sets it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsChange {
    #[serde(default, deserialize_with = "double_option")]
    agents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    numbers: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    contacts: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    messages_per_month: Option<Option<i64>>,
}

impl LimitsChange {
    fn apply(&self, current: WorkspaceLimits) -> WorkspaceLimits {
        WorkspaceLimits {
            agents: self.agents.unwrap_or(current.agents),
            numbers: self.numbers.unwrap_or(current.numbers),
            contacts: self.contacts.unwrap_or(current.contacts),
            messages_per_month: self.messages_per_month.unwrap_or(current.messages_per_month),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    status: Option<String>,
    limits: Option<LimitsChange>,
}

/// Changes the limits first (refused as a whole when one is invalid), then the status.
pub async fn update(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Workspace>, AppError> {
    if body.status.as_deref().is_some_and(|s| !matches!(s, "active" | "suspended")) {
        return Err(AppError::Invalid(vec![("status", Msg::new("api.workspace_status_invalid"))]));
    }
    let services = state.services();
    let service = &services.workspaces;
    let before = service.get(&owner, id).await.map_err(workspace)?;
    if let Some(change) = &body.limits {
        let limits = change.apply(before.limits);
        if limits != before.limits {
            service.set_limits(&owner, id, &limits).await.map_err(workspace)?;
        }
    }
    if let Some(status) = body.status.filter(|s| *s != before.workspace.status) {
        service.set_suspended(&owner, id, status == "suspended").await.map_err(workspace)?;
    }
    let after = service.get(&owner, id).await.map_err(workspace)?;
    Ok(Json(after.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeleteQuery {
    confirm: String,
}

pub async fn delete(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiId(id): ApiId,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, AppError> {
    state.services().workspaces.delete(&owner, id, &query.confirm).await.map_err(workspace)?;
    Ok(StatusCode::NO_CONTENT)
}
