//! `/owner/jobs`: every job of the instance, the schedules with their last and next runs, and the web cron address;
//! Retry and Discard act on any workspace's failed and dead jobs.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::services::jobs::JobScope;
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::page::Page;
use crate::web::pages::admin::{
    ActionInput, JobsQuery, OwnerExtras, PAGE_SIZE, WithNav, check_csrf, done_href, jobs_error, jobs_view,
};
use crate::web::state::AppState;

/// `GET /owner/jobs`.
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(query): Query<JobsQuery>,
) -> Result<Response, AppError> {
    let found =
        state.services().jobs.owner_overview(&owner.owner, &query.state, PAGE_SIZE).await.map_err(jobs_error)?;
    let extras = OwnerExtras { schedules: found.schedules, cron_url: found.cron_url };
    jobs_view(&page, nav, "/owner/jobs", &query, found.overview, Some(extras))
}

/// `POST /owner/jobs/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    owner: OwnerUser,
    Path(id): Path<i64>,
    Form(input): Form<ActionInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    state.services().jobs.retry(JobScope::for_owner(&owner.owner), id).await.map_err(jobs_error)?;
    Ok(Redirect::to(&done_href("/owner/jobs", &input.state, "retried", id)).into_response())
}

/// `POST /owner/jobs/{id}/discard`.
pub async fn discard(
    State(state): State<AppState>,
    owner: OwnerUser,
    Path(id): Path<i64>,
    Form(input): Form<ActionInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    state.services().jobs.discard(JobScope::for_owner(&owner.owner), id).await.map_err(jobs_error)?;
    Ok(Redirect::to(&done_href("/owner/jobs", &input.state, "discarded", id)).into_response())
}
