//! `/api/v1/jobs`: the job queue of the key's workspace for admin-scope keys, of every workspace for the owner's key
//! (counts by state, one state's jobs, retry, discard), and `/api/v1/jobs/schedules` for the owner's key only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::access;
use super::extract::{ApiActor, ApiId, ApiOwner, ApiQuery};
use super::views::time;
use crate::domain::msg::Msg;
use crate::services::jobs::{JOB_STATES, JobScope, JobsError, ScheduleView};
use crate::store::jobs::JobRow;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// Whose jobs the key reaches: the owner's key every workspace's, an admin-scope key its workspace's (other scopes
/// get 403; a read key also cannot change anything).
pub struct ApiJobScope(pub JobScope);

impl FromRequestParts<AppState> for ApiJobScope {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiActor(actor) = ApiActor::from_request_parts(parts, state).await?;
        if let Ok(ApiOwner(owner)) = ApiOwner::from_request_parts(parts, state).await {
            return Ok(Self(JobScope::for_owner(&owner)));
        }
        JobScope::for_actor(&actor).map(Self).map_err(|e| access(e).into_response())
    }
}

fn jobs_error(e: JobsError) -> AppError {
    match e {
        JobsError::Access(e) => access(e),
        JobsError::NotFound => AppError::NotFound,
        JobsError::BadToken => AppError::Forbidden(JobsError::BadToken.msg()),
        JobsError::Store(e) => e.into(),
    }
}

#[derive(Debug, Serialize)]
pub struct Job {
    pub id: i64,
    /// `null` for instance jobs.
    pub workspace_id: Option<i64>,
    pub queue: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub last_error: Option<String>,
    pub updated_at: String,
}

impl From<JobRow> for Job {
    fn from(j: JobRow) -> Self {
        Self {
            id: j.id,
            workspace_id: j.workspace_id,
            queue: j.queue,
            kind: j.kind,
            state: j.state,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: time(j.run_at),
            last_error: j.last_error,
            updated_at: time(j.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Jobs {
    pub jobs: Vec<Job>,
}

/// Every state, zero included.
#[derive(Debug, Serialize)]
pub struct JobCounts {
    pub counts: BTreeMap<&'static str, i64>,
}

#[derive(Debug, Serialize)]
pub struct Schedule {
    pub name: &'static str,
    pub expression: &'static str,
    pub last_fire_at: Option<String>,
    pub last_run_at: Option<String>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub next_fire_at: Option<String>,
}

impl From<ScheduleView> for Schedule {
    fn from(s: ScheduleView) -> Self {
        Self {
            name: s.name,
            expression: s.expression,
            last_fire_at: s.last_fire_at.map(time),
            last_run_at: s.last_run_at.map(time),
            last_result: s.last_result,
            last_error: s.last_error,
            next_fire_at: s.next_fire_at.map(time),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Schedules {
    pub schedules: Vec<Schedule>,
}

pub async fn counts(
    State(state): State<AppState>,
    ApiJobScope(scope): ApiJobScope,
) -> Result<Json<JobCounts>, AppError> {
    let found = state.services().jobs.counts(scope).await.map_err(jobs_error)?;
    let counts =
        JOB_STATES.iter().map(|s| (*s, found.iter().find(|(state, _)| state == s).map_or(0, |(_, n)| *n))).collect();
    Ok(Json(JobCounts { counts }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiJobScope(scope): ApiJobScope,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Jobs>, AppError> {
    let wanted = query.state.unwrap_or_default();
    let wanted = if wanted.trim().is_empty() { "dead".to_owned() } else { wanted };
    if !JOB_STATES.contains(&wanted.as_str()) {
        return Err(AppError::Invalid(vec![("state", Msg::new("jobs.state_invalid"))]));
    }
    let jobs = state.services().jobs.list(scope, &wanted, query.limit.unwrap_or(50)).await.map_err(jobs_error)?;
    Ok(Json(Jobs { jobs: jobs.into_iter().map(Job::from).collect() }))
}

pub async fn retry(
    State(state): State<AppState>,
    ApiJobScope(scope): ApiJobScope,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().jobs.retry(scope, id).await.map_err(jobs_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn discard(
    State(state): State<AppState>,
    ApiJobScope(scope): ApiJobScope,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().jobs.discard(scope, id).await.map_err(jobs_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn schedules(State(state): State<AppState>, ApiOwner(owner): ApiOwner) -> Result<Json<Schedules>, AppError> {
    let list = state.services().jobs.schedules(&owner).await.map_err(jobs_error)?;
    Ok(Json(Schedules { schedules: list.into_iter().map(Schedule::from).collect() }))
}
