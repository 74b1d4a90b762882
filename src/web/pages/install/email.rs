//! Wizard step "Email": SMTP settings with a test email, or skip.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Alert, Shown, StepView, show_failure, step_url};
use crate::mail::SmtpForm;
use crate::services::install::{EmailForm, Step};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailInput {
    action: String,
    host: String,
    port: String,
    security: String,
    username: String,
    password: String,
    from_address: String,
    from_name: String,
}

impl EmailInput {
    fn smtp(&self) -> SmtpForm {
        SmtpForm {
            host: self.host.clone(),
            port: self.port.clone(),
            security: self.security.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "install/email.html")]
struct EmailPage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    input: EmailInput,
}

pub async fn email_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Email);
    let draft = state.services().install.draft().await;
    let from_name = draft.site.map(|s| s.name).unwrap_or_default();
    let input =
        EmailInput { port: "587".to_owned(), security: "starttls".to_owned(), from_name, ..EmailInput::default() };
    let view = EmailPage {
        page: &page,
        steps: steps(&state, &page, Step::Email).await,
        back: previous(Step::Email),
        alert: None,
        errors: FieldErrors::default(),
        input,
    };
    Ok(render::html(&view)?.into_response())
}

pub async fn email_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(mut input): Form<EmailInput>,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Email);
    let services = state.services();
    let smtp = input.smtp();
    input.password.clear();
    let outcome = match input.action.as_str() {
        "test" => services.install.send_test_email(&smtp, page.lang).await.map(Some),
        "skip" => services.install.save_email(&EmailForm { smtp, skip: true }).await.map(|()| None),
        _ => services.install.save_email(&EmailForm { smtp, skip: false }).await.map(|()| None),
    };
    let (status, alert, errors) = match outcome {
        Ok(None) => return Ok(Redirect::to(step_url(Step::Finish)).into_response()),
        Ok(Some(to)) => (
            StatusCode::OK,
            Some(Alert { kind: "success", message: page.lang.format("mail.test.sent", &[("to", &to)]) }),
            FieldErrors::default(),
        ),
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => return Ok(response),
            Shown::Form(errors, alert) => (StatusCode::UNPROCESSABLE_ENTITY, alert, errors),
        },
    };
    let view = EmailPage {
        page: &page,
        steps: steps(&state, &page, Step::Email).await,
        back: previous(Step::Email),
        alert,
        errors,
        input,
    };
    Ok(page_with_status(status, render::html(&view)?))
}
