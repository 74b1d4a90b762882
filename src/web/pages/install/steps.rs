//! Handlers of the wizard's steps after the requirement checks.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    Alert, Shown, StepView, has_setup_cookie, progress, proxy_headers, render_requirements, show_failure, step_url,
    token_required,
};
use crate::i18n::Lang;
use crate::mail::SmtpForm;
use crate::services::install::{
    AdminForm, DatabaseChoice, DatabaseForm, DatabaseProbe, EmailDraft, EmailForm, LicenseChoice, SiteForm, Step,
    StepError,
};
use crate::web::cookies;
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::site::remember_language;
use crate::web::render;
use crate::web::state::AppState;

/// Lets the request through when it carries the setup cookie and the step may be opened; otherwise the answer.
async fn guard(state: &AppState, page: &Page, headers: &HeaderMap, step: Step) -> Result<Option<Response>, AppError> {
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

macro_rules! guarded {
    ($state:expr, $page:expr, $headers:expr, $step:expr) => {
        if let Some(answer) = guard(&$state, &$page, &$headers, $step).await? {
            return Ok(answer);
        }
    };
}

fn previous(step: Step) -> Option<&'static str> {
    Step::ALL.get(step.index().checked_sub(1)?).map(|s| step_url(*s))
}

async fn steps(state: &AppState, page: &Page, current: Step) -> Vec<StepView> {
    progress(page, current, state.services().install.next_step().await)
}

fn page_with_status(status: StatusCode, body: axum::response::Html<String>) -> Response {
    (status, body).into_response()
}

// ---- Requirements ---------------------------------------------------------------------------------------------

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

// ---- Database -------------------------------------------------------------------------------------------------

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
    guarded!(state, page, headers, Step::Database);
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
    guarded!(state, page, headers, Step::Database);
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

// ---- License --------------------------------------------------------------------------------------------------

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
    guarded!(state, page, headers, Step::License);
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
    guarded!(state, page, headers, Step::License);
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

// ---- Site -----------------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SiteInput {
    name: String,
    public_url: String,
    timezone: String,
    language: String,
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
    guarded!(state, page, headers, Step::Site);
    let draft = state.services().install.draft().await;
    let input = match draft.site {
        Some(site) => {
            SiteInput { name: site.name, public_url: site.public_url, timezone: site.timezone, language: site.language }
        }
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
    guarded!(state, page, headers, Step::Site);
    let form = SiteForm {
        name: input.name.clone(),
        public_url: input.public_url.clone(),
        timezone: input.timezone.clone(),
        language: input.language.clone(),
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

// ---- Admin ----------------------------------------------------------------------------------------------------

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
    guarded!(state, page, headers, Step::Admin);
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
    guarded!(state, page, headers, Step::Admin);
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

// ---- Email ----------------------------------------------------------------------------------------------------

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
    guarded!(state, page, headers, Step::Email);
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
    guarded!(state, page, headers, Step::Email);
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

// ---- Finish ---------------------------------------------------------------------------------------------------

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
    guarded!(state, page, headers, Step::Finish);
    let view = finish_view(&state, &page, None, FieldErrors::default()).await;
    Ok(render::html(&view)?.into_response())
}

/// The recovery kit as a file download.
pub async fn recovery_kit(State(state): State<AppState>, page: Page, headers: HeaderMap) -> Result<Response, AppError> {
    guarded!(state, page, headers, Step::Finish);
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
    Form(input): Form<FinishInput>,
) -> Result<Response, AppError> {
    guarded!(state, page, headers, Step::Finish);
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or(v).trim().to_owned());
    match state.runtime.finish_install(input.kit_saved.is_some(), ip.as_deref()).await {
        Ok(_) => {
            let mut response = Redirect::to("/login?installed=1").into_response();
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
