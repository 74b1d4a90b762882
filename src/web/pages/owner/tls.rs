//! `/owner/tls`: the HTTPS mode, the listeners, and every certificate's state, expiry, last error and next retry,
//! with a warning when one is failing. The settings live in `config.toml` and apply at start (the page says so).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::tls::{CertState, TlsSnapshot};
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, WithNav, local_time, zone};
use crate::web::render;
use crate::web::state::AppState;

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
}

/// `GET /owner/tls`.
pub async fn show(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, mut nav): WithNav<OwnerUser>,
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
    let view = TlsPage { page: &page, nav, snapshot, rows, failing };
    Ok(render::html(&view)?.into_response())
}
