//! `/owner/tls`: the HTTPS mode, the listeners, and every certificate's state, expiry, last error and next retry,
//! with a warning when one is failing; the HTTPS settings form (saved to `config.toml`, applied by "Restart now").

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get, routing::post};
use serde::Deserialize;

use crate::services::https::{HttpsSettings, HttpsSettingsError, HttpsSettingsView};
use crate::tls::{CertState, TlsSnapshot};
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::forms::{CsrfOnly, DoneQuery, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, Notice, WithNav, check_csrf, local_time, zone};
use crate::web::pages::restart::{AfterRestart, restarting};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/owner/tls", get(show))
        .route("/owner/tls/settings", post(save_settings))
        .route("/owner/restart", post(restart))
}

/// A certificate as the table shows it.
struct CertificateRow {
    name: String,
    /// The catalog key of the state's label.
    state_key: &'static str,
    failing: bool,
    on_demand: bool,
    expires: String,
    last_error: String,
    next_retry: String,
}

#[derive(Template)]
#[template(path = "owner/tls.html")]
struct TlsPage<'a> {
    page: &'a Page,
    nav: Nav,
    snapshot: TlsSnapshot,
    rows: Vec<CertificateRow>,
    failing: bool,
    notice: Option<Notice>,
    settings: HttpsSettingsView,
    /// What the form shows: the saved settings, or what was sent when it was refused.
    form: HttpsSettings,
    errors: FieldErrors,
}

impl TlsPage<'_> {
    fn fixed(&self, field: &str) -> bool {
        self.settings.fixed.contains(&field)
    }

    fn form_value(&self, field: &str) -> String {
        self.form.value(field)
    }
}

/// `GET /owner/tls`.
async fn show(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match query.done.as_str() {
        "saved" => Some(Notice::success(page.t("tls.settings.saved").to_owned())),
        "restarted" => Some(Notice::success(page.t("tls.settings.restarted").to_owned())),
        _ => None,
    };
    render_page(&state, &page, &owner, nav, notice, None).await
}

/// A refused form: what was sent and why.
struct Refused {
    sent: HttpsSettings,
    errors: FieldErrors,
}

async fn render_page(
    state: &AppState,
    page: &Page,
    owner: &OwnerUser,
    mut nav: Nav,
    notice: Option<Notice>,
    refused: Option<Refused>,
) -> Result<Response, AppError> {
    // This page shows the failing certificates itself.
    nav.alerts.tls_failing = false;
    let tz = zone(owner.user.membership.as_ref().map_or("UTC", |m| m.workspace.timezone.as_str()));
    let snapshot = state.tls.snapshot();
    let when = |millis: Option<i64>| millis.map(|m| local_time(m, &tz)).unwrap_or_default();
    let rows = snapshot
        .certificates
        .iter()
        .map(|c| CertificateRow {
            name: c.name.clone(),
            state_key: match c.state {
                CertState::Pending => "tls.state.pending",
                CertState::Valid => "tls.state.valid",
                CertState::Failing => "tls.state.failing",
            },
            failing: c.state == CertState::Failing,
            on_demand: c.on_demand,
            expires: when(c.expires_at),
            last_error: c.last_error.clone().unwrap_or_default(),
            next_retry: when(c.next_retry_at),
        })
        .collect();
    let failing = snapshot.failing();
    let settings = state.services().https.view().map_err(https_error)?;
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (form, errors) = match refused {
        Some(refused) => (refused.sent, refused.errors),
        None => (settings.saved.clone(), FieldErrors::default()),
    };
    let view = TlsPage { page, nav, snapshot, rows, failing, notice, settings, form, errors };
    Ok((status, render::html(&view)?).into_response())
}

/// A settings failure that is not about a field (config.toml unreadable or unwritable, the database).
pub(crate) fn https_error(e: HttpsSettingsError) -> AppError {
    match e {
        HttpsSettingsError::Invalid(fields) => AppError::Invalid(fields),
        HttpsSettingsError::Io(reason) => AppError::Internal(reason),
        HttpsSettingsError::Store(e) => e.into(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsForm {
    csrf: String,
    mode: String,
    domains: String,
    email: String,
    /// The checkbox: present when ticked.
    staging: Option<String>,
    directory_url: String,
    cert_file: String,
    key_file: String,
}

/// `POST /owner/tls/settings`: validated as the next start will read them, then saved; a restart applies them.
async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &form.csrf)?;
    let sent = HttpsSettings {
        mode: form.mode,
        domains: form.domains,
        email: form.email,
        staging: form.staging.is_some(),
        directory_url: form.directory_url,
        cert_file: form.cert_file,
        key_file: form.key_file,
    };
    match state.services().https.save(&owner.owner, &sent).await {
        Ok(_) => Ok(Redirect::to("/owner/tls?done=saved").into_response()),
        Err(HttpsSettingsError::Invalid(fields)) => {
            let refused = Refused { sent, errors: FieldErrors::from_msgs(&fields, page.lang) };
            let notice = Notice::error(page.t("tls.settings.refused").to_owned());
            render_page(&state, &page, &owner, nav, Some(notice), Some(refused)).await
        }
        Err(e) => Err(https_error(e)),
    }
}

/// `POST /owner/restart`: "Restart now" (the saved settings apply at start). The answer is a page that waits for
/// the server to come back and then returns to the HTTPS page.
async fn restart(
    State(state): State<AppState>,
    page: Page,
    owner: OwnerUser,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &form.csrf)?;
    state.services().https.record_restart(&owner.owner).await.map_err(https_error)?;
    state.runtime.request_restart();
    restarting(&page, AfterRestart::Tls)
}
