//! `/api/v1/instance/update`: the owner's key sees the running and available versions, checks now, and installs the
//! newest version (202: the server restarts behind the health gate and rolls back by itself on failure).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::ApiOwner;
use super::views::time;
use super::{Endpoint, Verb, at};
use crate::domain::msg::Msg;
use crate::services::update::{UpdateError, UpdateStatus, state::UpdateState};
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        at(Verb::Get, "/api/v1/instance/update", show),
        at(Verb::Post, "/api/v1/instance/update/check", check),
        at(Verb::Post, "/api/v1/instance/update/apply", apply),
    ]
}

/// How an update error answers: 409 for "not now", 422 with the reason for everything that refused the release.
pub fn update_error(e: UpdateError) -> AppError {
    let reason = e.to_string();
    match e {
        UpdateError::Busy => AppError::Conflict(Msg::new("update.busy")),
        UpdateError::NothingNewer(_) => AppError::Conflict(Msg::with("update.refused", &[("reason", reason)])),
        UpdateError::Refused(_) | UpdateError::Rejected(_) | UpdateError::Failed(_) => {
            AppError::Invalid(vec![("update", Msg::with("update.refused", &[("reason", reason)]))])
        }
        UpdateError::Store(e) => e.into(),
    }
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub succeeded: bool,
    pub reason: String,
    pub finished_at: String,
}

#[derive(Debug, Serialize)]
pub struct Attempt {
    pub from: String,
    pub to: String,
    pub backup_file: String,
    pub started_at: String,
    pub outcome: Option<Outcome>,
}

impl From<UpdateState> for Attempt {
    fn from(a: UpdateState) -> Self {
        Self {
            from: a.from,
            to: a.to,
            backup_file: a.backup_file,
            started_at: time(a.started_at),
            outcome: a.outcome.map(|o| Outcome {
                succeeded: o.succeeded,
                reason: o.reason,
                finished_at: time(o.finished_at),
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub current_version: String,
    pub latest_version: Option<String>,
    pub available_version: Option<String>,
    pub notes: Option<String>,
    pub published_at: Option<String>,
    pub checked_at: Option<String>,
    pub check_error: Option<String>,
    pub can_apply: bool,
    pub blocked_reason: Option<String>,
    pub running: bool,
    pub last_attempt: Option<Attempt>,
}

impl From<UpdateStatus> for Status {
    fn from(s: UpdateStatus) -> Self {
        let check = s.check.unwrap_or_default();
        Self {
            can_apply: s.available.is_some() && s.blocked.is_none() && !s.running,
            current_version: s.current,
            latest_version: check.latest_version,
            available_version: s.available,
            notes: Some(check.notes).filter(|n| !n.is_empty()),
            published_at: Some(check.published_at).filter(|p| !p.is_empty()),
            checked_at: (check.checked_at > 0).then(|| time(check.checked_at)),
            check_error: check.error,
            blocked_reason: s.blocked.map(|b| b.to_string()),
            running: s.running,
            last_attempt: s.last_attempt.map(Attempt::from),
        }
    }
}

/// `GET /api/v1/instance/update`.
async fn show(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Json<Status>, AppError> {
    Ok(Json(state.services().update.status(&owner).await.map_err(update_error)?.into()))
}

/// `POST /api/v1/instance/update/check`.
async fn check(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Json<Status>, AppError> {
    Ok(Json(state.services().update.check(&owner).await.map_err(update_error)?.into()))
}

/// `POST /api/v1/instance/update/apply`: 202 once installed; the restart and health gate follow.
async fn apply(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Response, AppError> {
    let attempt = state.runtime.apply_update(&owner).await.map_err(update_error)?;
    let body = serde_json::json!({ "status": "restarting", "attempt": Attempt::from(attempt) });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
