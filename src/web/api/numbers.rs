//! `/api/v1/whatsapp-accounts`: connect, list, change, test and disconnect the workspace's WhatsApp numbers.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};

use super::extract::{ApiActor, ApiId, ApiJson};
use crate::domain::msg::Msg;
use crate::services::whatsapp::numbers::{NewNumber, NumberChanges, TestResult};
use crate::services::whatsapp::{NumberView, WhatsAppError};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// How WhatsApp errors answer over the API.
pub fn whatsapp(e: WhatsAppError) -> AppError {
    match e {
        WhatsAppError::Access(e) => super::error::access(e),
        WhatsAppError::NotFound => AppError::NotFound,
        WhatsAppError::Fields(fields) => AppError::Invalid(fields),
        WhatsAppError::Refused { msg, .. } => AppError::Conflict(msg),
        WhatsAppError::Store(e) => e.into(),
        WhatsAppError::Internal(e) => AppError::Internal(e),
    }
}

#[derive(Debug, Serialize)]
pub struct Numbers {
    whatsapp_accounts: Vec<NumberView>,
}

pub async fn list(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<Numbers>, AppError> {
    let list = state.services().numbers.list(&actor).await.map_err(whatsapp)?;
    Ok(Json(Numbers { whatsapp_accounts: list }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    provider: String,
    phone_number: String,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
    #[serde(default)]
    api_base_url: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<NumberView>), AppError> {
    let new = NewNumber {
        name: body.name,
        provider: body.provider,
        phone_number: body.phone_number,
        credentials: body.credentials,
        api_base_url: body.api_base_url,
    };
    let created = state.services().numbers.create(&actor, &new).await.map_err(whatsapp)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<NumberView>, AppError> {
    Ok(Json(state.services().numbers.get(&actor, id).await.map_err(whatsapp)?))
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn explicit<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    credentials: Option<BTreeMap<String, String>>,
    #[serde(deserialize_with = "explicit")]
    api_base_url: Option<Option<String>>,
    status: Option<String>,
    warmup_enabled: Option<bool>,
    /// `[20, 50, 100, 1000]`.
    warmup_schedule: Option<Vec<i64>>,
    #[serde(deserialize_with = "explicit")]
    messaging_limit: Option<Option<i64>>,
    throughput_per_second: Option<i64>,
}

pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<NumberView>, AppError> {
    if body.warmup_schedule.as_ref().is_some_and(Vec::is_empty) {
        return Err(AppError::Invalid(vec![("warmup_schedule", Msg::new("whatsapp.warmup_invalid"))]));
    }
    let changes = NumberChanges {
        name: body.name,
        credentials: body.credentials,
        api_base_url: body.api_base_url.map(Option::unwrap_or_default),
        status: body.status,
        warmup_enabled: body.warmup_enabled,
        warmup_schedule: body.warmup_schedule.map(|s| s.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
        messaging_limit: body.messaging_limit,
        throughput_per_second: body.throughput_per_second,
    };
    Ok(Json(state.services().numbers.update(&actor, id, &changes).await.map_err(whatsapp)?))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().numbers.delete(&actor, id).await.map_err(whatsapp)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<TestResult>, AppError> {
    Ok(Json(state.services().numbers.test(&actor, id).await.map_err(whatsapp)?))
}
