//! The install wizard's pages. The wizard is open only with the setup token, which the first visit trades for a
//! cookie so the token leaves the address bar (and with it browser history and Referer headers). Every step is a
//! plain form that works without JavaScript; htmx (`hx-boost`) only makes the round trips smoother.

/// Answers with the token page or a redirect to the right step, unless the request may open `$step`.
#[macro_export]
#[doc(hidden)]
macro_rules! guarded_step {
    ($state:expr, $page:expr, $headers:expr, $step:expr) => {
        if let Some(answer) = $crate::web::pages::install::steps::guard(&$state, &$page, &$headers, $step).await? {
            return Ok(answer);
        }
    };
}

mod admin;
mod database;
mod email;
mod finish;
mod license;
mod site;
mod steps;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::domain::check::{self, Check};
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::services::doctor::PROXY_HEADERS;
use crate::services::install::{Step, StepError};
use crate::web::cookies::{self, SameSite};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::{Page, cookie};
use crate::web::render;
use crate::web::state::AppState;

/// Cookie that carries the setup token between wizard pages.
pub(super) const SETUP_COOKIE: &str = "conversure_setup";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/install", get(requirements))
        .route("/install/checks", get(checks))
        .route("/install/requirements", axum::routing::post(steps::accept_requirements))
        .route("/install/database", get(database::database_page).post(database::database_submit))
        .route("/install/license", get(license::license_page).post(license::license_submit))
        .route("/install/site", get(site::site_page).post(site::site_submit))
        .route("/install/admin", get(admin::admin_page).post(admin::admin_submit))
        .route("/install/email", get(email::email_page).post(email::email_submit))
        .route("/install/finish", get(finish::finish_page).post(finish::finish_submit))
        .route("/install/recovery-kit", get(finish::recovery_kit))
}

/// The URL of a step.
fn step_url(step: Step) -> &'static str {
    match step {
        Step::Requirements => "/install",
        Step::Database => "/install/database",
        Step::License => "/install/license",
        Step::Site => "/install/site",
        Step::Admin => "/install/admin",
        Step::Email => "/install/email",
        Step::Finish => "/install/finish",
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// One check, translated, as the templates and the JSON answer show it.
#[derive(Serialize)]
pub struct CheckView {
    pub id: &'static str,
    pub status: &'static str,
    pub title: String,
    pub detail: String,
    pub fix: Option<String>,
}

/// The checks with their summary.
#[derive(Serialize)]
pub struct ChecksView {
    pub overall: &'static str,
    pub summary: String,
    pub checks: Vec<CheckView>,
}

impl ChecksView {
    fn new(checks: &[Check], lang: Lang) -> Self {
        let overall = check::overall(checks);
        Self {
            overall: overall.as_str(),
            summary: lang.t(&format!("install.requirements.summary_{}", overall.as_str())).to_owned(),
            checks: checks
                .iter()
                .map(|c| CheckView {
                    id: c.id,
                    status: c.status.as_str(),
                    title: c.title.render(lang),
                    detail: c.detail.render(lang),
                    fix: c.fix.as_ref().map(|f| f.render(lang)),
                })
                .collect(),
        }
    }
}

/// A step of the progress indicator.
pub struct StepView {
    pub number: usize,
    pub label: String,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
    /// Done steps link back to themselves.
    pub href: Option<&'static str>,
}

/// The progress indicator with `current` highlighted; steps before `next` are done.
fn progress(page: &Page, current: Step, next: Step) -> Vec<StepView> {
    Step::ALL
        .iter()
        .map(|step| StepView {
            number: step.index() + 1,
            label: page.lang.t(&format!("install.steps.{}", step.slug())).to_owned(),
            state: if *step == current {
                "current"
            } else if *step < next {
                "done"
            } else {
                "todo"
            },
            href: (*step < next && *step != current).then(|| step_url(*step)),
        })
        .collect()
}

/// A message above a form.
pub struct Alert {
    /// `success`, `error`, `info`, `warn`.
    pub kind: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "install/requirements.html")]
struct RequirementsPage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    view: ChecksView,
    alert: Option<Alert>,
}

#[derive(Template)]
#[template(path = "install/_checks.html")]
struct ChecksFragment<'a> {
    page: &'a Page,
    view: ChecksView,
}

#[derive(Template)]
#[template(path = "install/token_required.html")]
struct TokenRequiredPage<'a> {
    page: &'a Page,
    /// The visitor sent a token, and it was wrong.
    rejected: bool,
}

/// Step 1: the requirement checks. `?token=` is traded for a cookie and a clean URL.
async fn requirements(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let services = state.services();
    let install = &services.install;
    if let Some(token) = query.token.as_deref() {
        if !install.verify_token(token.trim()) {
            return token_required(&page, true);
        }
        let mut response = Redirect::to("/install").into_response();
        cookies::set(
            &mut response,
            SETUP_COOKIE,
            token.trim(),
            "/install",
            86_400,
            SameSite::Lax,
            state.secure_cookies,
        );
        return Ok(response);
    }
    if !has_setup_cookie(&state, &headers) {
        return token_required(&page, false);
    }
    render_requirements(&state, &page, &headers, None, StatusCode::OK).await
}

async fn render_requirements(
    state: &AppState,
    page: &Page,
    headers: &HeaderMap,
    alert: Option<Alert>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let install = &state.services().install;
    let checks = install.check_requirements(Some(&proxy_headers(headers))).await;
    let next = install.next_step().await;
    let view = RequirementsPage {
        page,
        steps: progress(page, Step::Requirements, next),
        view: ChecksView::new(&checks, page.lang),
        alert,
    };
    Ok((status, render::html(&view)?).into_response())
}

/// The checks again: an htmx fragment, or JSON for `Accept: application/json`.
async fn checks(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    if !has_setup_cookie(&state, &headers) {
        return Err(AppError::Forbidden(Msg::new("install.token.required_title")));
    }
    let checks = state.services().install.check_requirements(Some(&proxy_headers(&headers))).await;
    let view = ChecksView::new(&checks, page.lang);
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(axum::Json(view).into_response());
    }
    Ok(render::html(&ChecksFragment { page: &page, view })?.into_response())
}

fn has_setup_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(headers, SETUP_COOKIE).is_some_and(|token| state.services().install.verify_token(&token))
}

fn token_required(page: &Page, rejected: bool) -> Result<Response, AppError> {
    let body: Html<String> = render::html(&TokenRequiredPage { page, rejected })?;
    Ok((StatusCode::FORBIDDEN, body).into_response())
}

fn proxy_headers(headers: &HeaderMap) -> Vec<String> {
    PROXY_HEADERS.iter().filter(|name| headers.contains_key(**name)).map(|name| (*name).to_owned()).collect()
}

/// How a failed step is shown: field errors and/or an alert, or a redirect / error response.
enum Shown {
    Form(FieldErrors, Option<Alert>),
    Elsewhere(Response),
}

fn show_failure(err: StepError, lang: Lang) -> Result<Shown, AppError> {
    match err {
        StepError::Fields(fields) => Ok(Shown::Form(FieldErrors::from_msgs(&fields, lang), None)),
        StepError::Message(msg) => {
            Ok(Shown::Form(FieldErrors::default(), Some(Alert { kind: "error", message: msg.render(lang) })))
        }
        StepError::OutOfOrder(next) => Ok(Shown::Elsewhere(Redirect::to(step_url(next)).into_response())),
        StepError::AlreadyInstalled => Err(AppError::NotFound),
        StepError::Internal(detail) => Err(AppError::Internal(detail)),
    }
}
