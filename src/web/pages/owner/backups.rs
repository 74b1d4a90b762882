//! `/owner/backups`: make a backup now, download, delete, upload and restore archives, the running operation's
//! progress, the history of every operation's steps, and the schedule, retention and passphrase.

use askama::Template;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::domain::msg::Msg;
use crate::services::backup::ops::{Progress, Record};
use crate::services::backup::policy::{BackupSettings, SettingsInput};
use crate::services::backup::{BackupError, BackupKind, BackupSummary, RestoreRequest};
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::forms::{CsrfOnly, DoneQuery, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, Notice, WithNav, check_csrf, local_time};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/owner/backups", get(index).post(create))
        .route("/owner/backups/progress", get(progress))
        .route("/owner/backups/settings", post(save_settings))
        .route("/owner/backups/upload", post(upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/owner/backups/files/{name}", get(download))
        .route("/owner/backups/files/{name}/delete", post(delete))
        .route("/owner/backups/files/{name}/restore", post(restore))
}

/// A backup error as the page shows it: the request's fault as a message above the form, the server's as an error.
pub(crate) fn backup_error(err: BackupError) -> AppError {
    match err {
        BackupError::NotFound(_) => AppError::NotFound,
        BackupError::Busy => AppError::Conflict(Msg::new("backup.error.busy")),
        BackupError::Invalid(fields) => AppError::Invalid(fields),
        e if e.is_caller_error() => {
            AppError::BadRequest(Msg::with("backup.error.refused", &[("error", e.to_string())]))
        }
        e => AppError::Internal(e.to_string()),
    }
}

pub struct BackupRow {
    pub name: String,
    pub kind: &'static str,
    pub size: String,
    pub created: String,
}

pub struct HistoryRow {
    pub record: Record,
    pub started: String,
}

#[derive(Template)]
#[template(path = "owner/backups.html")]
struct BackupsPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    backups: Vec<BackupRow>,
    running: Option<Progress>,
    history: Vec<HistoryRow>,
    settings: BackupSettings,
    directory: String,
    errors: FieldErrors,
}

impl BackupsPage<'_> {
    fn kind_label(&self, kind: &BackupKind) -> &'static str {
        kind_key(*kind)
    }

    fn size(&self, bytes: &u64) -> String {
        human_size(*bytes)
    }
}

#[derive(Template)]
#[template(path = "owner/_backup_progress.html")]
struct ProgressFragment<'a> {
    page: &'a Page,
    running: Option<Progress>,
}

impl ProgressFragment<'_> {
    fn size(&self, bytes: &u64) -> String {
        human_size(*bytes)
    }
}

/// `kind` label key of the catalog.
fn kind_key(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Manual => "backup.kind.manual",
        BackupKind::Scheduled => "backup.kind.scheduled",
        BackupKind::PreUpdate => "backup.kind.pre_update",
        BackupKind::PreRestore => "backup.kind.pre_restore",
    }
}

/// Bytes as people read them (1000-based, one decimal).
pub(crate) fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

fn row(page: &Page, b: &BackupSummary) -> BackupRow {
    BackupRow {
        name: b.file_name.clone(),
        kind: page.t(kind_key(b.kind)),
        size: human_size(b.size),
        created: local_time(b.created_at, &jiff::tz::TimeZone::UTC),
    }
}

async fn render_page(
    state: &AppState,
    page: &Page,
    nav: Nav,
    notice: Option<Notice>,
    errors: Option<FieldErrors>,
) -> Result<Response, AppError> {
    let failed_fields = errors.is_some();
    let errors = errors.unwrap_or_default();
    let failed = notice.as_ref().is_some_and(|n| n.kind == "error") || failed_fields;
    let overview = state.services().backups.overview().await.map_err(backup_error)?;
    let view = BackupsPage {
        page,
        nav,
        notice,
        backups: overview.backups.iter().map(|b| row(page, b)).collect(),
        running: overview.running,
        history: overview
            .history
            .into_iter()
            .map(|record| HistoryRow { started: local_time(record.started_at, &jiff::tz::TimeZone::UTC), record })
            .collect(),
        settings: overview.settings,
        directory: overview.directory,
        errors,
    };
    let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render::html(&view)?).into_response())
}

/// `GET /owner/backups`.
async fn index(
    State(state): State<AppState>,
    page: Page,
    WithNav(_owner, nav): WithNav<OwnerUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match query.done.as_str() {
        "started" => Some(Notice::success(page.t("backup.notice.started").to_owned())),
        "restoring" => Some(Notice::success(page.t("backup.notice.restoring").to_owned())),
        "uploaded" => Some(Notice::success(page.t("backup.notice.uploaded").to_owned())),
        "deleted" => Some(Notice::success(page.t("backup.notice.deleted").to_owned())),
        "saved" => Some(Notice::success(page.t("backup.notice.saved").to_owned())),
        _ => None,
    };
    render_page(&state, &page, nav, notice, None).await
}

/// `GET /owner/backups/progress`: the progress box, polled while an operation runs; when it has just ended the
/// page reloads to show the result.
async fn progress(
    State(state): State<AppState>,
    page: Page,
    _owner: OwnerUser,
    Query(query): Query<ProgressQuery>,
) -> Result<Response, AppError> {
    let running = state.services().backups.running();
    let ended = running.is_none() && query.watching;
    let mut response = render::html(&ProgressFragment { page: &page, running })?.into_response();
    if ended {
        response.headers_mut().insert("hx-refresh", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ProgressQuery {
    #[serde(default)]
    watching: bool,
}

#[derive(Deserialize)]
struct CreateInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passphrase: String,
}

/// `POST /owner/backups`: "Back up now".
async fn create(
    State(state): State<AppState>,
    owner: OwnerUser,
    Form(input): Form<CreateInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let passphrase = Some(input.passphrase).filter(|p| !p.is_empty());
    state.services().backups.start(BackupKind::Manual, &owner.owner.label, passphrase).map_err(backup_error)?;
    Ok(Redirect::to("/owner/backups?done=started").into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    settings: SettingsInput,
}

/// `POST /owner/backups/settings`.
async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Form(input): Form<SettingsForm>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    match state.services().backups.save_settings(&input.settings, Some(&owner.owner.label)).await {
        Ok(()) => Ok(Redirect::to("/owner/backups?done=saved").into_response()),
        Err(BackupError::Invalid(fields)) => {
            let errors = FieldErrors::from_msgs(&fields, page.lang);
            render_page(&state, &page, nav, None, Some(errors)).await
        }
        Err(e) => Err(backup_error(e)),
    }
}

/// `GET /owner/backups/files/{name}`: the archive, streamed.
async fn download(
    State(state): State<AppState>,
    _owner: OwnerUser,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let path = state.services().backups.open(&name).await.map_err(backup_error)?;
    archive_response(&path, &name).await
}

/// An archive file as a streamed download (the page's and the API's).
pub(crate) async fn archive_response(path: &std::path::Path, name: &str) -> Result<Response, AppError> {
    let file = tokio::fs::File::open(path).await.map_err(|e| AppError::Internal(e.to_string()))?;
    let length = file.metadata().await.map(|m| m.len()).unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "application/zstd".to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

/// `POST /owner/backups/files/{name}/delete`.
async fn delete(
    State(state): State<AppState>,
    owner: OwnerUser,
    Path(name): Path<String>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    state.services().backups.delete(&name, Some(&owner.owner.label)).await.map_err(backup_error)?;
    Ok(Redirect::to("/owner/backups?done=deleted").into_response())
}

#[derive(Deserialize)]
struct RestoreInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passphrase: String,
    #[serde(default)]
    encryption_key: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /owner/backups/files/{name}/restore`: verifies what can be verified at once, then restores in the
/// background (the page shows the progress).
async fn restore(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(name): Path<String>,
    Form(input): Form<RestoreInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    if input.confirm != "on" {
        let notice = Notice::error(page.t("backup.error.confirm").to_owned());
        return render_page(&state, &page, nav, Some(notice), None).await;
    }
    let request = RestoreRequest {
        passphrase: Some(input.passphrase).filter(|p| !p.is_empty()),
        encryption_key: Some(input.encryption_key).filter(|k| !k.trim().is_empty()),
    };
    let started = async {
        let path = state.services().backups.open(&name).await?;
        state.runtime.start_restore(path, request, owner.owner.label.clone()).await
    };
    match started.await {
        Ok(()) => Ok(Redirect::to("/owner/backups?done=restoring").into_response()),
        Err(e) if e.is_caller_error() || matches!(e, BackupError::Busy) => {
            let notice = Notice::error(page.format("backup.error.refused", &[("error", e.to_string())]));
            render_page(&state, &page, nav, Some(notice), None).await
        }
        Err(e) => Err(backup_error(e)),
    }
}

/// `POST /owner/backups/upload`: multipart `csrf`, `passphrase`, then `file`, streamed to disk (no size limit but
/// the disk's), verified completely, then listed.
async fn upload(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let bad = |_| AppError::BadRequest(Msg::new("backup.error.upload"));
    let (mut csrf, mut passphrase) = (String::new(), String::new());
    let backups = state.services().backups.clone();
    let mut received = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(bad)?,
            Some("passphrase") => passphrase = field.text().await.map_err(bad)?,
            Some("file") => {
                check_csrf(&owner.user, &csrf)?;
                let pass = Some(passphrase.clone()).filter(|p| !p.is_empty());
                received = Some(backups.receive_stream(field, pass, &owner.owner.label).await);
            }
            _ => {}
        }
    }
    match received {
        Some(Ok(_)) => Ok(Redirect::to("/owner/backups?done=uploaded").into_response()),
        Some(Err(e)) if e.is_caller_error() => {
            let notice = Notice::error(page.format("backup.error.refused", &[("error", e.to_string())]));
            render_page(&state, &page, nav, Some(notice), None).await
        }
        Some(Err(e)) => Err(backup_error(e)),
        None => {
            check_csrf(&owner.user, &csrf)?;
            let notice = Notice::error(page.t("backup.error.no_file").to_owned());
            render_page(&state, &page, nav, Some(notice), None).await
        }
    }
}
