//! `/owner/update`: the running and the newest version with its notes, "Check now", "Update now" (after a
//! confirmation) with the restart followed live, the last attempt's outcome, and why this installation cannot update
//! itself when it cannot (a container, a read-only executable, no trusted key).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::services::update::state::UpdateState;
use crate::services::update::{UpdateError, UpdateStatus};
use crate::web::api::update::update_error;
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::forms::{CsrfConfirm, CsrfOnly, DoneQuery};
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, Notice, WithNav, check_csrf, local_time};
use crate::web::render;
use crate::web::state::AppState;

/// An attempt without an outcome after this long lost its health gate (a crash, a power cut): the page stops
/// waiting for it and says so.
const GATE_GIVEN_UP_MILLIS: i64 = 15 * 60 * 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/owner/update", get(index))
        .route("/owner/update/progress", get(progress))
        .route("/owner/update/check", post(check))
        .route("/owner/update/apply", post(apply))
}

/// The last attempt as the page shows it.
struct AttemptView {
    from: String,
    to: String,
    started: String,
    backup_file: String,
    /// `running`, `succeeded`, `failed` or `lost` (no outcome ever came).
    state: &'static str,
    reason: String,
    finished: String,
}

/// `running`, `succeeded`, `failed` or `lost`.
fn attempt_state(attempt: &UpdateState, now: i64) -> &'static str {
    match &attempt.outcome {
        Some(o) if o.succeeded => "succeeded",
        Some(_) => "failed",
        None if now - attempt.started_at > GATE_GIVEN_UP_MILLIS => "lost",
        None => "running",
    }
}

fn attempt_view(attempt: &UpdateState, now: i64) -> AttemptView {
    let utc = jiff::tz::TimeZone::UTC;
    let (reason, finished) = match &attempt.outcome {
        Some(o) => (o.reason.clone(), local_time(o.finished_at, &utc)),
        None => (String::new(), String::new()),
    };
    AttemptView {
        state: attempt_state(attempt, now),
        from: attempt.from.clone(),
        to: attempt.to.clone(),
        started: local_time(attempt.started_at, &utc),
        backup_file: attempt.backup_file.clone(),
        reason,
        finished,
    }
}

/// Whether an update is under way: being installed here, or restarting behind the health gate.
fn in_flight(status: &UpdateStatus, now: i64) -> bool {
    status.running || status.last_attempt.as_ref().is_some_and(|a| attempt_state(a, now) == "running")
}

#[derive(Template)]
#[template(path = "owner/update.html")]
struct UpdatePage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    current: String,
    latest: Option<String>,
    available: Option<String>,
    notes: String,
    published: String,
    checked: String,
    check_error: Option<String>,
    blocked: Option<String>,
    in_flight: bool,
    last_attempt: Option<AttemptView>,
}

#[derive(Template)]
#[template(path = "owner/_update_progress.html")]
struct ProgressFragment<'a> {
    page: &'a Page,
    in_flight: bool,
}

async fn render_page(
    state: &AppState,
    page: &Page,
    owner: &OwnerUser,
    mut nav: Nav,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let update = state.services().update.status(&owner.owner).await.map_err(update_error)?;
    let now = crate::store::now_millis();
    // This page shows the offered version itself.
    nav.alerts.update_available = None;
    let check = update.check.clone().unwrap_or_default();
    let view = UpdatePage {
        page,
        nav,
        notice,
        in_flight: in_flight(&update, now),
        current: update.current.clone(),
        latest: check.latest_version.clone(),
        available: update.available.clone(),
        notes: check.notes,
        published: check.published_at,
        checked: if check.checked_at > 0 {
            local_time(check.checked_at, &jiff::tz::TimeZone::UTC)
        } else {
            String::new()
        },
        check_error: check.error,
        blocked: update.blocked.as_ref().map(ToString::to_string),
        last_attempt: update.last_attempt.as_ref().map(|a| attempt_view(a, now)),
    };
    Ok((status, render::html(&view)?).into_response())
}

/// `GET /owner/update`.
async fn index(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match query.done.as_str() {
        "checked" => Some(Notice::success(page.t("update.notice.checked").to_owned())),
        _ => None,
    };
    render_page(&state, &page, &owner, nav, notice, StatusCode::OK).await
}

#[derive(Deserialize)]
struct ProgressQuery {
    #[serde(default)]
    watching: bool,
}

/// `GET /owner/update/progress`: polled while an update is under way (the requests that fail while the server
/// restarts are simply repeated); once the attempt has its outcome the page reloads to show it.
async fn progress(
    State(state): State<AppState>,
    page: Page,
    owner: OwnerUser,
    Query(query): Query<ProgressQuery>,
) -> Result<Response, AppError> {
    let update = state.services().update.status(&owner.owner).await.map_err(update_error)?;
    let in_flight = in_flight(&update, crate::store::now_millis());
    let mut response = render::html(&ProgressFragment { page: &page, in_flight })?.into_response();
    if !in_flight && query.watching {
        response.headers_mut().insert("hx-refresh", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `POST /owner/update/check`: "Check now"; a failed check is shown on the page with its reason.
async fn check(
    State(state): State<AppState>,
    owner: OwnerUser,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    state.services().update.check(&owner.owner).await.map_err(update_error)?;
    Ok(Redirect::to("/owner/update?done=checked").into_response())
}

/// `POST /owner/update/apply`: "Update now". Everything is verified and backed up before the executable changes;
/// the page then follows the restart.
async fn apply(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Form(input): Form<CsrfConfirm>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    if input.confirm != "on" {
        let notice = Notice::error(page.t("update.error.confirm").to_owned());
        return render_page(&state, &page, &owner, nav, Some(notice), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match state.runtime.apply_update(&owner.owner).await {
        Ok(_) => Ok(Redirect::to("/owner/update").into_response()),
        Err(UpdateError::Store(e)) => Err(e.into()),
        Err(e) => {
            let status = if matches!(e, UpdateError::Busy | UpdateError::NothingNewer(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let message = match e {
                UpdateError::Busy => page.t("update.busy").to_owned(),
                other => page.format("update.refused", &[("reason", other.to_string())]),
            };
            render_page(&state, &page, &owner, nav, Some(Notice::error(message)), status).await
        }
    }
}
