//! `/api/v1/me` and `/api/v1/api-keys`: the calling key, and the workspace's keys (admin scope).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::keys;
use super::extract::{ApiActor, ApiId, ApiJson};
use super::views::{Key, Keys, Me, NewKey};
use crate::services::api_keys;
use crate::web::error::AppError;
use crate::web::state::AppState;

pub async fn me(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Me>, AppError> {
    let info = state.services().api_keys.me(&actor).await.map_err(keys)?;
    Ok(Json(info.into()))
}

pub async fn list(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Keys>, AppError> {
    let list = state.services().api_keys.list(&actor).await.map_err(keys)?;
    Ok(Json(Keys { api_keys: list.into_iter().map(Key::from).collect() }))
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    scope: String,
}

impl Default for CreateBody {
    fn default() -> Self {
        Self { name: String::new(), scope: "read".to_owned() }
    }
}

pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<NewKey>), AppError> {
    let new = api_keys::NewKey { name: body.name, scope: body.scope };
    let created = state.services().api_keys.create(&actor, &new).await.map_err(keys)?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

pub async fn revoke(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().api_keys.revoke(&actor, id).await.map_err(keys)?;
    Ok(StatusCode::NO_CONTENT)
}
