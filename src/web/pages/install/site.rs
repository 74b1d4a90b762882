//! Wizard step "Site": name, public address, time zone and default language.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Alert, Shown, StepView, show_failure, step_url};
use crate::i18n::Lang;
use crate::services::install::{SiteForm, Step};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::site::remember_language;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
use super::steps::{page_with_status, previous, steps};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SiteInput {
    name: String,
    public_url: String,
    timezone: String,
    language: String,
    /// The "serve HTTPS with an automatic certificate" checkbox.
    https: Option<String>,
}

#[derive(Template)]
#[template(path = "install/site.html")]
struct SitePage<'a> {
    page: &'a Page,
    steps: Vec<StepView>,
    back: Option<&'static str>,
    alert: Option<Alert>,
    errors: FieldErrors,
    input: SiteInput,
    timezones: Vec<String>,
    languages: Vec<(&'static str, &'static str)>,
}

fn timezones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
}

fn languages() -> Vec<(&'static str, &'static str)> {
    Lang::ALL.iter().map(|l| (l.code(), l.native_name())).collect()
}

pub async fn site_page(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Site);
    let draft = state.services().install.draft().await;
    let input = match draft.site {
        Some(site) => SiteInput {
            name: site.name,
            public_url: site.public_url,
            timezone: site.timezone,
            language: site.language,
            https: site.https.then(|| "on".to_owned()),
        },
        None => {
            // The address the browser used is the best first guess for the public URL.
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if state.secure_cookies { "https" } else { "http" };
            let timezone = jiff::tz::TimeZone::system().iana_name().unwrap_or("UTC").to_owned();
            SiteInput {
                name: String::new(),
                public_url: format!("{scheme}://{host}"),
                timezone,
                language: page.lang.code().to_owned(),
                https: None,
            }
        }
    };
    let view = SitePage {
        page: &page,
        steps: steps(&state, &page, Step::Site).await,
        back: previous(Step::Site),
        alert: None,
        errors: FieldErrors::default(),
        input,
        timezones: timezones(),
        languages: languages(),
    };
    Ok(render::html(&view)?.into_response())
}

pub async fn site_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(input): Form<SiteInput>,
) -> Result<Response, AppError> {
    crate::guarded_step!(state, page, headers, Step::Site);
    let form = SiteForm {
        name: input.name.clone(),
        public_url: input.public_url.clone(),
        timezone: input.timezone.clone(),
        language: input.language.clone(),
        https: input.https.is_some(),
    };
    match state.services().install.save_site(&form).await {
        Ok(()) => {
            // From here on the pages speak the language the owner chose.
            let mut response = Redirect::to(step_url(Step::Admin)).into_response();
            if let Some(lang) = Lang::from_code(&input.language) {
                remember_language(&mut response, lang, state.secure_cookies);
            }
            Ok(response)
        }
        Err(err) => match show_failure(err, page.lang)? {
            Shown::Elsewhere(response) => Ok(response),
            Shown::Form(errors, _) => {
                let view = SitePage {
                    page: &page,
                    steps: steps(&state, &page, Step::Site).await,
                    back: previous(Step::Site),
                    alert: None,
                    errors,
                    input,
                    timezones: timezones(),
                    languages: languages(),
                };
                Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?))
            }
        },
    }
}
