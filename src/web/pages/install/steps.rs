//! What every wizard step shares (the setup-token and step-order guard, the progress indicator), and step 1's
//! "continue" action.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{
    Shown, StepView, has_setup_cookie, progress, proxy_headers, render_requirements, show_failure, step_url,
    token_required,
};
use crate::services::install::{Step, StepError};
use crate::web::error::AppError;
use crate::web::page::Page;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
pub(super) async fn guard(
    state: &AppState,
    page: &Page,
    headers: &HeaderMap,
    step: Step,
) -> Result<Option<Response>, AppError> {
    if !has_setup_cookie(state, headers) {
        return token_required(page, false).map(Some);
    }
    match state.services().install.may_open(step).await {
        Ok(()) => Ok(None),
        Err(StepError::OutOfOrder(next)) => Ok(Some(Redirect::to(step_url(next)).into_response())),
        Err(other) => match show_failure(other, page.lang)? {
            Shown::Elsewhere(response) => Ok(Some(response)),
            Shown::Form(..) => Ok(None),
        },
    }
}

pub(super) fn previous(step: Step) -> Option<&'static str> {
    Step::ALL.get(step.index().checked_sub(1)?).map(|s| step_url(*s))
}

pub(super) async fn steps(state: &AppState, page: &Page, current: Step) -> Vec<StepView> {
    progress(page, current, state.services().install.next_step().await)
}

pub(super) fn page_with_status(status: StatusCode, body: axum::response::Html<String>) -> Response {
    (status, body).into_response()
}

pub async fn accept_requirements(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if !has_setup_cookie(&state, &headers) {
        return token_required(&page, false);
    }
    match state.services().install.accept_requirements(Some(&proxy_headers(&headers))).await {
        Ok(()) => Ok(Redirect::to(step_url(Step::Database)).into_response()),
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => Ok(response),
            Shown::Form(_, alert) => {
                render_requirements(&state, &page, &headers, alert, StatusCode::UNPROCESSABLE_ENTITY).await
            }
        },
    }
}
