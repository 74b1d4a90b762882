//! Wizard step "Admin account": the first workspace and its admin.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Alert, Shown, StepView, show_failure, step_url};
use crate::services::install::{AdminForm, Step};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AdminInput {
    workspace_name: String,
    workspace_slug: String,
    name: String,
    email: String,
    password: String,
    password_confirm: String,
}

#[derive(Template)]
#[template(path = "install/admin.html")]
struct AdminPage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    input: AdminInput,
    min_password: usize,
}

pub async fn admin_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Admin);
    let draft = state.services().install.draft().await;
    let input = match draft.admin {
        Some(a) => AdminInput {
            workspace_name: a.workspace_name,
            workspace_slug: a.workspace_slug,
            name: a.name,
            email: a.email,
            ..AdminInput::default()
        },
        None => AdminInput { workspace_name: draft.site.map(|s| s.name).unwrap_or_default(), ..AdminInput::default() },
    };
    let view = AdminPage {
        page: &page,
        steps: steps(&state, &page, Step::Admin).await,
        back: previous(Step::Admin),
        alert: None,
        errors: FieldErrors::default(),
        input,
        min_password: crate::domain::password::MIN_LEN,
    };
    Ok(render::html(&view)?.into_response())
}

pub async fn admin_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(mut input): Form<AdminInput>,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Admin);
    let form = AdminForm {
        workspace_name: input.workspace_name.clone(),
        workspace_slug: input.workspace_slug.clone(),
        name: input.name.clone(),
        email: input.email.clone(),
        password: std::mem::take(&mut input.password),
        password_confirm: std::mem::take(&mut input.password_confirm),
    };
    match state.services().install.save_admin(&form).await {
        Ok(()) => Ok(Redirect::to(step_url(Step::Email)).into_response()),
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => Ok(response),
            Shown::Form(errors, _) => {
                let view = AdminPage {
                    page: &page,
                    steps: steps(&state, &page, Step::Admin).await,
                    back: previous(Step::Admin),
                    alert: None,
                    errors,
                    input,
                    min_password: crate::domain::password::MIN_LEN,
                };
                Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?))
            }
        },
    }
}
