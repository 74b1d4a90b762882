//! `/api/v1/instance/tls` (owner key only): the TLS mode and every certificate's state, expiry and last error; the
//! HTTPS settings saved to `config.toml`; and `POST /api/v1/instance/restart`, which applies them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{ApiJson, ApiOwner};
use super::{Endpoint, Verb, at};
use crate::services::https::{HttpsSettingsChange, HttpsSettingsView};
use crate::tls::TlsSnapshot;
use crate::web::error::AppError;
use crate::web::pages::owner::https_error;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        at(Verb::Get, "/api/v1/instance/tls", show),
        at(Verb::Get, "/api/v1/instance/tls/settings", settings),
        at(Verb::Patch, "/api/v1/instance/tls/settings", save_settings),
        at(Verb::Post, "/api/v1/instance/restart", restart),
    ]
}

async fn show(State(state): State<AppState>, ApiOwner(_): ApiOwner) -> Json<TlsSnapshot> {
    Json(state.tls.snapshot())
}

/// `GET /api/v1/instance/tls/settings`.
async fn settings(State(state): State<AppState>, ApiOwner(_): ApiOwner) -> Result<Json<HttpsSettingsView>, AppError> {
    Ok(Json(state.services().https.view().map_err(https_error)?))
}

/// `PATCH /api/v1/instance/tls/settings`: the fields given, validated with the rest as the next start will read
/// them (422 and nothing written).
async fn save_settings(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiJson(change): ApiJson<HttpsSettingsChange>,
) -> Result<Json<HttpsSettingsView>, AppError> {
    Ok(Json(state.services().https.change(&owner, change).await.map_err(https_error)?))
}

/// `POST /api/v1/instance/restart`: 202, then the server stops and starts again (re-exec, or systemd restarts it).
async fn restart(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Response, AppError> {
    state.services().https.record_restart(&owner).await.map_err(https_error)?;
    state.runtime.request_restart();
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "restarting" }))).into_response())
}
