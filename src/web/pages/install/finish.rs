//! Wizard step "Finish": the summary, the recovery kit, and the commit.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Alert, Shown, StepView, show_failure};
use crate::services::install::{DatabaseChoice, EmailDraft, Step};
use crate::web::client::ClientInfo;
use crate::web::cookies;
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::restart::{AfterRestart, restarting};
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Template)]
#[template(path = "install/finish.html")]
struct FinishPage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    summary: Vec<(String, String)>,
    kit_downloaded: bool,
}

async fn finish_view<'a>(
    state: &AppState,
    page: &'a Page,
    alert: Option<Alert>,
    errors: FieldErrors,
) -> FinishPage<'a> {
    let draft = state.services().install.draft().await;
    let lang = page.lang;
    let mut summary = Vec::new();
    if let Some(choice) = &draft.database {
        let value = match choice {
            DatabaseChoice::Sqlite => lang.t("install.finish.sqlite").to_owned(),
            DatabaseChoice::Postgres { url } => crate::config::redact_url(url),
        };
        summary.push((lang.t("install.steps.database").to_owned(), value));
    }
    if let Some(stored) = &draft.license
        && let Ok(license) = crate::license::License::from_stored(stored, &draft.instance_id)
    {
        summary.push((
            lang.t("install.steps.license").to_owned(),
            license.status_msg(crate::store::now_millis()).render(lang),
        ));
    }
    if let Some(site) = &draft.site {
        summary.push((
            lang.t("install.steps.site").to_owned(),
            format!("{} · {} · {}", site.name, site.public_url, site.timezone),
        ));
    }
    if let Some(admin) = &draft.admin {
        summary.push((
            lang.t("install.steps.admin").to_owned(),
            format!("{} <{}> · {}", admin.name, admin.email, admin.workspace_name),
        ));
    }
    if let Some(email) = &draft.email {
        let value = match email {
            EmailDraft::Configured { .. } => lang.t("install.finish.email_configured"),
            _ => lang.t("install.finish.email_skipped"),
        };
        summary.push((lang.t("install.steps.email").to_owned(), value.to_owned()));
    }
    FinishPage {
        page,
        steps: steps(state, page, Step::Finish).await,
        back: previous(Step::Finish),
        alert,
        errors,
        summary,
        kit_downloaded: draft.kit_downloaded,
    }
}

pub async fn finish_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Finish);
    let view = finish_view(&state, &page, None, FieldErrors::default()).await;
    Ok(render::html(&view)?.into_response())
}

/// The recovery kit as a file download.
pub async fn recovery_kit(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Finish);
    let kit = match state.services().install.recovery_kit().await {
        Ok(kit) => kit,
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => return Ok(response),
            Shown::Form(..) => return Err(AppError::Internal("recovery kit".into())),
        },
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"conversure-recovery-kit.txt\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        kit,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FinishInput {
    kit_saved: Option<String>,
}

pub async fn finish_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: ClientInfo,
    Form(input): Form<FinishInput>,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Finish);
    let ip = client.ip.map(|ip| ip.to_string());
    match state.runtime.finish_install(input.kit_saved.is_some(), ip.as_deref()).await {
        Ok(_) => {
            // HTTPS chosen in the Site step starts with a restart; the page follows it to the sign-in page.
            let restart = state.services().https.view().is_ok_and(|v| v.restart_required);
            let mut response = if restart {
                state.runtime.request_restart();
                restarting(&page, AfterRestart::Login)?
            } else {
                Redirect::to("/login?installed=1").into_response()
            };
            // The setup cookie has served its purpose.
            cookies::clear(&mut response, super::SETUP_COOKIE, "/install");
            Ok(response)
        }
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => Ok(response),
            Shown::Form(errors, alert) => {
                let view = finish_view(&state, &page, alert, errors).await;
                Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?))
            }
        },
    }
}
