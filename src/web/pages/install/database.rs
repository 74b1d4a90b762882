//! Wizard step "Database": test the connection, then migrate the chosen database.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Alert, Shown, StepView, show_failure};
use crate::services::install::{DatabaseChoice, DatabaseForm, DatabaseProbe, Step};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DatabaseInput {
    action: String,
    kind: String,
    url: String,
    host: String,
    port: String,
    database: String,
    user: String,
    password: String,
    existing: String,
    wipe_confirmation: String,
}

#[derive(Template)]
#[template(path = "install/database.html")]
struct DatabasePage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    /// Set when the operator fixed the database with a flag or the environment (shown, not editable).
    fixed: Option<String>,
    input: DatabaseInput,
    probe: Option<DatabaseProbe>,
    migrated: Option<Vec<String>>,
}

pub async fn database_page(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Database);
    let services = state.services();
    let draft = services.install.draft().await;
    let kind = match draft.database {
        Some(DatabaseChoice::Postgres { .. }) => "postgres",
        _ => "sqlite",
    };
    let view = DatabasePage {
        page: &page,
        steps: steps(&state, &page, Step::Database).await,
        back: previous(Step::Database),
        alert: None,
        errors: FieldErrors::default(),
        fixed: services.install.database_fixed(),
        input: DatabaseInput { kind: kind.to_owned(), port: "5432".to_owned(), ..DatabaseInput::default() },
        probe: None,
        migrated: None,
    };
    Ok(render::html(&view)?.into_response())
}

pub async fn database_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(mut input): Form<DatabaseInput>,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Database);
    let services = state.services();
    let form = DatabaseForm {
        kind: input.kind.clone(),
        url: input.url.clone(),
        host: input.host.clone(),
        port: input.port.clone(),
        database: input.database.clone(),
        user: input.user.clone(),
        password: input.password.clone(),
        existing: input.existing.clone(),
        wipe_confirmation: input.wipe_confirmation.clone(),
    };
    // The password (and a URL, which may carry one) is never sent back into the page.
    input.password.clear();
    if input.url.contains('@') {
        input.url = crate::config::redact_url(&input.url);
    }
    let (status, alert, errors, probe, migrated) = if input.action == "use" {
        match services.install.choose_database(&form).await {
            Ok((probe, report)) => {
                let message = page.lang.format("install.database.ready", &[("server", &probe.server)]);
                let applied = report.applied;
                (
                    StatusCode::OK,
                    Some(Alert { kind: "success", message }),
                    FieldErrors::default(),
                    Some(probe),
                    Some(applied),
                )
            }
            Err(err) => match show_failure(err, page.lang)? {
                Shown::Elsewhere(response) => return Ok(response),
                Shown::Form(errors, alert) => {
                    // Show what was found, so the re-use / wipe choice can be made.
                    let probe = services.install.test_database(&form).await.ok();
                    (StatusCode::UNPROCESSABLE_ENTITY, alert, errors, probe, None)
                }
            },
        }
    } else {
        match services.install.test_database(&form).await {
            Ok(probe) => {
                let message = page.lang.format("install.database.connected", &[("server", &probe.server)]);
                (StatusCode::OK, Some(Alert { kind: "success", message }), FieldErrors::default(), Some(probe), None)
            }
            Err(err) => match show_failure(err, page.lang)? {
                Shown::Elsewhere(response) => return Ok(response),
                Shown::Form(errors, alert) => (StatusCode::UNPROCESSABLE_ENTITY, alert, errors, None, None),
            },
        }
    };
    let view = DatabasePage {
        page: &page,
        steps: steps(&state, &page, Step::Database).await,
        back: previous(Step::Database),
        alert,
        errors,
        fixed: services.install.database_fixed(),
        input,
        probe,
        migrated,
    };
    Ok(page_with_status(status, render::html(&view)?))
}
