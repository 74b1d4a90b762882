//! `GET /cron?token=…`: web cron for hosts that stop idle processes; enqueues the due schedules.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::services::jobs::JobsError;
use crate::web::error::AppError;
use crate::web::state::AppState;

#[derive(Deserialize)]
pub struct CronQuery {
    #[serde(default)]
    token: String,
}

pub async fn web_cron(State(state): State<AppState>, Query(query): Query<CronQuery>) -> Result<Response, AppError> {
    match state.services().jobs.web_cron(&query.token).await {
        Ok(fired) => Ok(Json(json!({ "fired": fired })).into_response()),
        Err(JobsError::BadToken) => Err(AppError::Forbidden(JobsError::BadToken.msg())),
        Err(JobsError::Store(e)) => Err(e.into()),
        Err(other) => Err(AppError::Internal(other.to_string())),
    }
}
