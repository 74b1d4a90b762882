//! Wizard step "License": a license file, a purchase code, or evaluation mode.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{Alert, Shown, StepView, show_failure, step_url};
use crate::services::install::{LicenseChoice, Step};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Template)]
#[template(path = "install/license.html")]
struct LicensePage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    way: String,
    purchase_code: String,
    /// The license already chosen, when coming back to this step.
    current: Option<String>,
}

async fn license_view<'a>(
    state: &AppState,
    page: &'a Page,
    alert: Option<Alert>,
    errors: FieldErrors,
    way: String,
    purchase_code: String,
) -> LicensePage<'a> {
    let services = state.services();
    let draft = services.install.draft().await;
    let current = draft
        .license
        .as_deref()
        .and_then(|stored| crate::license::License::from_stored(stored, &draft.instance_id).ok())
        .map(|l| l.status_msg(crate::store::now_millis()).render(page.lang));
    LicensePage {
        page,
        steps: steps(state, page, Step::License).await,
        back: previous(Step::License),
        alert,
        errors,
        way,
        purchase_code,
        current,
    }
}

pub async fn license_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::License);
    let view = license_view(&state, &page, None, FieldErrors::default(), "file".to_owned(), String::new()).await;
    Ok(render::html(&view)?.into_response())
}

/// Largest license file accepted: real ones are about a kilobyte.
const MAX_LICENSE_BYTES: usize = 64 * 1024;

pub async fn license_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::License);
    let (mut way, mut code, mut file) = (String::new(), String::new(), String::new());
    let bad_upload = || AppError::BadRequest(crate::domain::msg::Msg::new("install.license.upload_invalid"));
    while let Some(field) = multipart.next_field().await.map_err(|_| bad_upload())? {
        match field.name().unwrap_or_default() {
            "way" => way = field.text().await.map_err(|_| bad_upload())?,
            "purchase_code" => code = field.text().await.map_err(|_| bad_upload())?,
            "license_file" => {
                let bytes = field.bytes().await.map_err(|_| bad_upload())?;
                if bytes.len() > MAX_LICENSE_BYTES {
                    return Err(bad_upload());
                }
                file = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {}
        }
    }
    let choice = match way.as_str() {
        "code" => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if state.secure_cookies { "https" } else { "http" };
            LicenseChoice::PurchaseCode { code: code.clone(), site_url: format!("{scheme}://{host}") }
        }
        "evaluation" => LicenseChoice::Evaluation,
        _ => LicenseChoice::File(file),
    };
    match state.services().install.choose_license(choice).await {
        Ok(_) => Ok(Redirect::to(step_url(Step::Site)).into_response()),
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => Ok(response),
            Shown::Form(errors, alert) => {
                let view = license_view(&state, &page, alert, errors, way, code).await;
                Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?))
            }
        },
    }
}
