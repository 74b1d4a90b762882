//! `/api/v1/instance/backups` (the owner's key): list with the running operation and history, start a backup,
//! download, delete, upload (streamed) and restore archives, and the schedule/retention settings.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, ApiOwner};
use super::{Endpoint, Verb, at};
use crate::domain::msg::Msg;
use crate::services::backup::policy::SettingsInput;
use crate::services::backup::{BackupError, BackupKind, RestoreRequest};
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    let mut upload_route = at(Verb::Post, "/api/v1/instance/backups/upload", upload);
    upload_route.route = upload_route.route.layer(axum::extract::DefaultBodyLimit::disable());
    vec![
        at(Verb::Get, "/api/v1/instance/backups", list),
        at(Verb::Post, "/api/v1/instance/backups", create),
        upload_route,
        at(Verb::Patch, "/api/v1/instance/backups/settings", save_settings),
        at(Verb::Get, "/api/v1/instance/backups/{name}", download),
        at(Verb::Delete, "/api/v1/instance/backups/{name}", remove),
        at(Verb::Post, "/api/v1/instance/backups/{name}/restore", restore),
    ]
}

/// 409 while another operation runs; 422 for a refused archive, passphrase or key (with the reason); 404 for an
/// unknown name.
fn api_error(e: BackupError) -> AppError {
    match e {
        BackupError::Busy => AppError::Conflict(Msg::new("backup.error.busy")),
        BackupError::NotFound(_) => AppError::NotFound,
        BackupError::Invalid(fields) => AppError::Invalid(fields),
        e if e.is_caller_error() => {
            AppError::Invalid(vec![("archive", Msg::with("backup.error.refused", &[("error", e.to_string())]))])
        }
        e => AppError::Internal(e.to_string()),
    }
}

/// A JSON body that may be left out entirely (an empty body means every field's default).
fn optional_json<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(Msg::with("api.body_invalid", &[("detail", e.to_string())])))
}

/// `GET /api/v1/instance/backups`.
async fn list(State(state): State<AppState>, _owner: ApiOwner) -> Result<Response, AppError> {
    let overview = state.services().backups.overview().await.map_err(api_error)?;
    Ok(Json(overview).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct CreateBody {
    #[serde(default)]
    passphrase: Option<String>,
}

/// `POST /api/v1/instance/backups`: starts a manual backup (202); poll the list for its end.
async fn create(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let body: CreateBody = optional_json(&body)?;
    let passphrase = body.passphrase.filter(|p| !p.is_empty());
    state.services().backups.start(BackupKind::Manual, &owner.label, passphrase).map_err(api_error)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "started" }))).into_response())
}

/// `PATCH /api/v1/instance/backups/settings`.
async fn save_settings(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Response, AppError> {
    let backups = state.services().backups.clone();
    backups.save_settings(&input, Some(&owner.label)).await.map_err(api_error)?;
    Ok(Json(backups.settings().await.map_err(api_error)?).into_response())
}

/// `GET /api/v1/instance/backups/{name}`: the archive, streamed.
async fn download(
    State(state): State<AppState>,
    _owner: ApiOwner,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let path = state.services().backups.open(&name).await.map_err(api_error)?;
    crate::web::pages::owner::backups::archive_response(&path, &name).await
}

/// `DELETE /api/v1/instance/backups/{name}`.
async fn remove(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    state.services().backups.delete(&name, Some(&owner.label)).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
struct RestoreBody {
    #[serde(default)]
    passphrase: Option<String>,
    #[serde(default)]
    encryption_key: Option<String>,
}

/// `POST /api/v1/instance/backups/{name}/restore`: checks the archive's header, passphrase, version and keys at
/// once (422 with the reason), then restores in the background (202).
async fn restore(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let body: RestoreBody = optional_json(&body)?;
    let request = RestoreRequest {
        passphrase: body.passphrase.filter(|p| !p.is_empty()),
        encryption_key: body.encryption_key.filter(|k| !k.trim().is_empty()),
    };
    let path = state.services().backups.open(&name).await.map_err(api_error)?;
    state.runtime.start_restore(path, request, owner.label.clone()).await.map_err(api_error)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "status": "restoring" }))).into_response())
}

/// `POST /api/v1/instance/backups/upload`: the archive as the raw body (`application/octet-stream`), its
/// passphrase, if any, in `X-Backup-Passphrase`. Verified completely before it is listed (201).
async fn upload(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let passphrase =
        headers.get("x-backup-passphrase").and_then(|v| v.to_str().ok()).map(str::to_owned).filter(|p| !p.is_empty());
    let stream = body.into_data_stream();
    let summary = state.services().backups.receive_stream(stream, passphrase, &owner.label).await.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(summary)).into_response())
}
