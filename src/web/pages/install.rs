//! The install wizard's pages. The wizard is open only with the setup token, which the first visit trades for a
//! cookie so the token leaves the address bar (and with it browser history and Referer headers).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::domain::check::{self, Check};
use crate::i18n::Lang;
use crate::services::doctor::PROXY_HEADERS;
use crate::web::error::AppError;
use crate::web::page::{Page, cookie};
use crate::web::render;
use crate::web::state::AppState;

/// Cookie that carries the setup token between wizard pages.
const SETUP_COOKIE: &str = "conversure_setup";

/// The wizard's steps, in order; the progress indicator shows them all.
const STEPS: [&str; 7] = [
    "install.steps.requirements",
    "install.steps.database",
    "install.steps.license",
    "install.steps.site",
    "install.steps.admin",
    "install.steps.email",
    "install.steps.finish",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/install", get(requirements)).route("/install/checks", get(checks))
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
    pub state: &'static str,
}

fn steps(page: &Page, current: usize) -> Vec<StepView> {
    STEPS
        .iter()
        .enumerate()
        .map(|(index, key)| StepView {
            number: index + 1,
            label: page.lang.t(key).to_owned(),
            state: match index.cmp(&current) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "todo",
            },
        })
        .collect()
}

#[derive(Template)]
#[template(path = "install/requirements.html")]
struct RequirementsPage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    view: ChecksView,
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
    let install = &state.services.install;
    if let Some(token) = query.token.as_deref() {
        if !install.verify_token(token.trim()) {
            return token_required(&page, true);
        }
        let cookie = format!("{SETUP_COOKIE}={}; Path=/install; HttpOnly; SameSite=Lax; Max-Age=86400", token.trim());
        let mut response = Redirect::to("/install").into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.to_string()))?);
        return Ok(response);
    }
    if !has_setup_cookie(&state, &headers) {
        return token_required(&page, false);
    }
    let checks = state.services.doctor.run(Some(&proxy_headers(&headers))).await;
    let view = RequirementsPage { page: &page, steps: steps(&page, 0), view: ChecksView::new(&checks, page.lang) };
    Ok(render::html(&view)?.into_response())
}

/// The checks again: an htmx fragment, or JSON for `Accept: application/json`.
async fn checks(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    if !has_setup_cookie(&state, &headers) {
        return Err(AppError::Forbidden(crate::domain::msg::Msg::new("install.token.required_title")));
    }
    let checks = state.services.doctor.run(Some(&proxy_headers(&headers))).await;
    let view = ChecksView::new(&checks, page.lang);
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(Json(view).into_response());
    }
    Ok(render::html(&ChecksFragment { page: &page, view })?.into_response())
}

fn has_setup_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(headers, SETUP_COOKIE).is_some_and(|token| state.services.install.verify_token(&token))
}

fn token_required(page: &Page, rejected: bool) -> Result<Response, AppError> {
    let body: Html<String> = render::html(&TokenRequiredPage { page, rejected })?;
    Ok((StatusCode::FORBIDDEN, body).into_response())
}

fn proxy_headers(headers: &HeaderMap) -> Vec<String> {
    PROXY_HEADERS.iter().filter(|name| headers.contains_key(**name)).map(|name| (*name).to_owned()).collect()
}
