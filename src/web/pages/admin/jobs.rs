//! The jobs pages: `/admin/jobs` for a workspace's admins (their workspace's jobs) and, through [`jobs_view`],
//! `/owner/jobs` for the owner (every job, the schedules and the web cron address). Counts by state, one state's
//! jobs with their errors, and Retry / Discard for failed and dead ones.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, Notice, WithNav, check_csrf, local_time, query_string, zone};
use crate::services::jobs::{JobScope, JobsError, JobsOverview, ScheduleView, job_state};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// How many jobs a page lists.
pub(crate) const PAGE_SIZE: i64 = 100;

/// `?state=&done=&id=`: the state shown, and what the last action did.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JobsQuery {
    pub state: String,
    /// `retried` or `discarded`.
    pub done: String,
    pub id: String,
}

/// The Retry and Discard form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionInput {
    pub csrf: String,
    /// The state tab to come back to.
    pub state: String,
}

/// A state tab with its count.
pub struct StateTab {
    pub state: &'static str,
    pub label: String,
    pub count: i64,
    pub current: bool,
    pub href: String,
}

/// One job of the table.
pub struct JobItem {
    pub id: i64,
    pub kind: String,
    pub queue: String,
    /// `None`: an instance job (no workspace).
    pub workspace_id: Option<i64>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: String,
    pub updated: String,
    /// Failed and dead jobs can be retried or discarded.
    pub actionable: bool,
}

/// One schedule (owner page); empty times were never reached.
pub struct ScheduleItem {
    pub name: &'static str,
    pub expression: &'static str,
    pub last_fire: String,
    pub last_run: String,
    pub last_result: String,
    pub last_error: String,
    pub next_fire: String,
}

/// What only the owner's page has.
pub struct OwnerExtras {
    pub schedules: Vec<ScheduleView>,
    pub cron_url: String,
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
pub struct JobsView<'a> {
    pub page: &'a Page,
    pub nav: Nav,
    /// `/admin/jobs` or `/owner/jobs`.
    pub base: &'static str,
    /// The owner's page spans workspaces: it names them, and shows the schedules and the web cron address.
    pub is_owner_page: bool,
    pub notice: Option<Notice>,
    pub state: &'static str,
    pub tabs: Vec<StateTab>,
    pub jobs: Vec<JobItem>,
    pub timezone: String,
    pub schedules: Vec<ScheduleItem>,
    pub cron_url: String,
}

/// A jobs error as an error page.
pub(crate) fn jobs_error(err: JobsError) -> AppError {
    match err {
        JobsError::Access(e) => AppError::Forbidden(e.msg()),
        JobsError::NotFound => AppError::NotFound,
        JobsError::BadToken => AppError::Forbidden(JobsError::BadToken.msg()),
        JobsError::Store(e) => e.into(),
    }
}

/// The notice for `?done=…&id=…` after a redirect.
fn notice(page: &Page, query: &JobsQuery) -> Option<Notice> {
    let id = query.id.trim().parse::<i64>().ok()?.to_string();
    match query.done.as_str() {
        "retried" => Some(Notice::success(page.format("jobs.retried", &[("id", id)]))),
        "discarded" => Some(Notice::success(page.format("jobs.discarded", &[("id", id)]))),
        _ => None,
    }
}

/// The jobs page for an overview (and, for the owner, the schedules and the web cron address).
pub(crate) fn jobs_view(
    page: &Page,
    nav: Nav,
    base: &'static str,
    query: &JobsQuery,
    overview: JobsOverview,
    owner: Option<OwnerExtras>,
) -> Result<Response, AppError> {
    let tz = zone(&overview.timezone);
    let time = |millis: Option<i64>| millis.map(|m| local_time(m, &tz)).unwrap_or_default();
    let tabs = overview
        .counts
        .iter()
        .map(|(state, count)| StateTab {
            state,
            label: page.t(&format!("jobs.state.{state}")).to_owned(),
            count: *count,
            current: *state == overview.state,
            href: format!("{base}{}", query_string(&[("state", state)])),
        })
        .collect();
    let jobs = overview
        .jobs
        .into_iter()
        .map(|j| JobItem {
            actionable: matches!(j.state.as_str(), "failed" | "dead"),
            id: j.id,
            kind: j.kind,
            queue: j.queue,
            workspace_id: j.workspace_id,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error.unwrap_or_default(),
            updated: local_time(j.updated_at, &tz),
        })
        .collect();
    let is_owner_page = owner.is_some();
    let (schedules, cron_url) = match owner {
        Some(extras) => (
            extras
                .schedules
                .into_iter()
                .map(|s| ScheduleItem {
                    name: s.name,
                    expression: s.expression,
                    last_fire: time(s.last_fire_at),
                    last_run: time(s.last_run_at),
                    last_result: s.last_result.unwrap_or_default(),
                    last_error: s.last_error.unwrap_or_default(),
                    next_fire: time(s.next_fire_at),
                })
                .collect(),
            extras.cron_url,
        ),
        None => (Vec::new(), String::new()),
    };
    let view = JobsView {
        page,
        nav,
        base,
        is_owner_page,
        notice: notice(page, query),
        state: overview.state,
        tabs,
        jobs,
        timezone: overview.timezone,
        schedules,
        cron_url,
    };
    Ok(render::html(&view)?.into_response())
}

/// Where an action returns: the state tab it came from, with what it did.
pub(crate) fn done_href(base: &str, state: &str, done: &str, id: i64) -> String {
    format!("{base}{}", query_string(&[("state", job_state(state)), ("done", done), ("id", &id.to_string())]))
}

/// `GET /admin/jobs`: the workspace's jobs (admins).
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<JobsQuery>,
) -> Result<Response, AppError> {
    let scope = JobScope::for_actor(&who.actor).map_err(|e| jobs_error(e.into()))?;
    let overview = state.services().jobs.overview(scope, &query.state, PAGE_SIZE).await.map_err(jobs_error)?;
    jobs_view(&page, nav, "/admin/jobs", &query, overview, None)
}

/// `POST /admin/jobs/{id}/retry`: queues a failed or dead job of the workspace again.
pub async fn retry(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(input): Form<ActionInput>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let scope = JobScope::for_actor(&who.actor).map_err(|e| jobs_error(e.into()))?;
    state.services().jobs.retry(scope, id).await.map_err(jobs_error)?;
    Ok(Redirect::to(&done_href("/admin/jobs", &input.state, "retried", id)).into_response())
}

/// `POST /admin/jobs/{id}/discard`: deletes a failed or dead job of the workspace.
pub async fn discard(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(input): Form<ActionInput>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let scope = JobScope::for_actor(&who.actor).map_err(|e| jobs_error(e.into()))?;
    state.services().jobs.discard(scope, id).await.map_err(jobs_error)?;
    Ok(Redirect::to(&done_href("/admin/jobs", &input.state, "discarded", id)).into_response())
}
