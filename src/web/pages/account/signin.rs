//! Pages around signing in: the TOTP step (`/login/totp`), "forgot password" and the reset link
//! (`/password/forgot`, `/password/reset/{token}`), and the invitation link (`/invite/{token}`).
//!
//! Before sign-in there is no session to hold a CSRF token, so these forms use a double-submit cookie (as the
//! sign-in form does), scoped to their own path; the TOTP step uses the pending session's token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::Client;
use crate::crypto::constant_time_eq;
use crate::domain::msg::Msg;
use crate::domain::password::MIN_LEN;
use crate::services::auth::SESSION_TTL;
use crate::services::security::{LinkTarget, SecurityError};
use crate::web::cookies::{self, SameSite};
use crate::web::error::AppError;
use crate::web::forms::FieldErrors;
use crate::web::page::{Page, cookie};
use crate::web::pages::auth::{SESSION_COOKIE, safe_next};
use crate::web::pages::install::Alert;
use crate::web::render;
use crate::web::state::AppState;

/// Double-submit token of the forms before sign-in (forgot, reset, invitation).
const FORM_CSRF_COOKIE: &str = "conversure_form_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/totp", get(totp_page).post(totp_submit))
        .route("/password/forgot", get(forgot_page).post(forgot_submit))
        .route("/password/reset/{token}", get(reset_page).post(reset_submit))
        .route("/invite/{token}", get(invite_page).post(invite_submit))
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

/// Refuses a form whose token is not the one in its cookie.
fn check_form_csrf(headers: &HeaderMap, submitted: &str) -> Result<(), AppError> {
    let expected = cookie(headers, FORM_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(&expected, submitted) {
        return Err(AppError::Forbidden(Msg::new("error.csrf")));
    }
    Ok(())
}

/// A rendered form with a fresh double-submit cookie for `path`.
fn with_form_cookie(
    state: &AppState,
    status: StatusCode,
    html: axum::response::Html<String>,
    csrf: &str,
    path: &str,
) -> Response {
    let mut response = (status, html).into_response();
    cookies::set(&mut response, FORM_CSRF_COOKIE, csrf, path, 3600, SameSite::Strict, state.secure_cookies);
    super::no_store(response)
}

fn alert(kind: &'static str, msg: &Msg, page: &Page) -> Option<Alert> {
    Some(Alert { kind, message: msg.render(page.lang) })
}

// ---- /login/totp -----------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/totp.html")]
struct TotpPage<'a> {
    page: &'a Page,
    alert: Option<Alert>,
    errors: FieldErrors,
    csrf: String,
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TotpInput {
    csrf: String,
    code: String,
    next: String,
}

async fn totp_page(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let Some(pending) = state.services().security.pending_sign_in(&token).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let next = safe_next(query.next.as_deref());
    let view = TotpPage { page: &page, alert: None, errors: FieldErrors::default(), csrf: pending.csrf_token, next };
    Ok(render::html(&view)?.into_response())
}

async fn totp_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: Client,
    Form(input): Form<TotpInput>,
) -> Result<Response, AppError> {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let security = &state.services().security;
    let Some(pending) = security.pending_sign_in(&token).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !constant_time_eq(&pending.csrf_token, &input.csrf) {
        return Err(AppError::Forbidden(Msg::new("error.csrf")));
    }
    let next = safe_next(Some(&input.next));
    let (status, alert, errors) = match security.complete_sign_in(&token, &input.code, client.ip.as_deref()).await {
        Ok(()) => {
            let mut response = Redirect::to(&next).into_response();
            let ttl = SESSION_TTL.as_secs();
            cookies::set(&mut response, SESSION_COOKIE, &token, "/", ttl, SameSite::Lax, state.secure_cookies);
            return Ok(response);
        }
        Err(SecurityError::Invalid(errors)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, FieldErrors::from_msgs(&errors, page.lang))
        }
        Err(SecurityError::Throttled(t)) => {
            (StatusCode::TOO_MANY_REQUESTS, alert("error", &t.msg(), &page), FieldErrors::default())
        }
        Err(SecurityError::NotPending) => return Ok(Redirect::to("/login").into_response()),
        Err(other) => return Err(other.into()),
    };
    let view = TotpPage { page: &page, alert, errors, csrf: pending.csrf_token, next };
    Ok((status, render::html(&view)?).into_response())
}

// ---- /password/forgot ------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage<'a> {
    page: &'a Page,
    alert: Option<Alert>,
    errors: FieldErrors,
    /// False: no SMTP server, so the page says to ask an administrator instead of showing the form.
    mail: bool,
    /// The request was taken: the page says an email is on its way (if the account exists).
    sent: bool,
    email: String,
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ForgotInput {
    csrf: String,
    email: String,
}

async fn forgot_page(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    let mail = state.services().security.mail_configured().await?;
    let csrf = random_token();
    let view = ForgotPage {
        page: &page,
        alert: None,
        errors: FieldErrors::default(),
        mail,
        sent: false,
        email: String::new(),
        csrf: csrf.clone(),
    };
    Ok(with_form_cookie(&state, StatusCode::OK, render::html(&view)?, &csrf, "/password"))
}

async fn forgot_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: Client,
    Form(input): Form<ForgotInput>,
) -> Result<Response, AppError> {
    check_form_csrf(&headers, &input.csrf)?;
    let result = state.services().security.request_password_reset(&input.email, client.ip.as_deref()).await;
    let mut view = ForgotPage {
        page: &page,
        alert: None,
        errors: FieldErrors::default(),
        mail: true,
        sent: false,
        email: input.email.trim().to_owned(),
        csrf: random_token(),
    };
    let status = match result {
        Ok(()) => {
            view.sent = true;
            StatusCode::OK
        }
        Err(SecurityError::Invalid(errors)) => {
            view.errors = FieldErrors::from_msgs(&errors, page.lang);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(err @ SecurityError::TooManyRequests { .. }) => {
            view.alert = alert("error", &err.msg(), &page);
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(SecurityError::MailNotConfigured) => {
            view.mail = false;
            StatusCode::OK
        }
        Err(other) => return Err(other.into()),
    };
    let csrf = view.csrf.clone();
    Ok(with_form_cookie(&state, status, render::html(&view)?, &csrf, "/password"))
}

// ---- Invalid links ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/link_invalid.html")]
struct LinkInvalidPage<'a> {
    page: &'a Page,
    /// Reset links point to "request a new link"; invitations to asking the admin.
    reset: bool,
}

fn link_invalid(page: &Page, reset: bool) -> Result<Response, AppError> {
    Ok((StatusCode::GONE, render::html(&LinkInvalidPage { page, reset })?).into_response())
}

// ---- /password/reset/{token} -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage<'a> {
    page: &'a Page,
    min_password: usize,
    errors: FieldErrors,
    target: LinkTarget,
    action: String,
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordForm {
    csrf: String,
    name: String,
    password: String,
    password_confirm: String,
}

async fn reset_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let target = match state.services().security.reset_target(&token).await {
        Ok(target) => target,
        Err(SecurityError::LinkInvalid) => return link_invalid(&page, true),
        Err(other) => return Err(other.into()),
    };
    let csrf = random_token();
    let action = format!("/password/reset/{token}");
    let view = ResetPage {
        page: &page,
        min_password: MIN_LEN,
        errors: FieldErrors::default(),
        target,
        action,
        csrf: csrf.clone(),
    };
    Ok(with_form_cookie(&state, StatusCode::OK, render::html(&view)?, &csrf, "/password"))
}

async fn reset_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: Client,
    Path(token): Path<String>,
    Form(input): Form<PasswordForm>,
) -> Result<Response, AppError> {
    check_form_csrf(&headers, &input.csrf)?;
    let security = &state.services().security;
    let keep = cookie(&headers, SESSION_COOKIE);
    let result = security
        .reset_password(&token, &input.password, &input.password_confirm, keep.as_deref(), client.ip.as_deref())
        .await;
    match result {
        Ok(()) => {
            let mut response = Redirect::to("/login?reset=1").into_response();
            cookies::clear(&mut response, FORM_CSRF_COOKIE, "/password");
            Ok(response)
        }
        Err(SecurityError::Invalid(errors)) => {
            let target = match security.reset_target(&token).await {
                Ok(target) => target,
                Err(SecurityError::LinkInvalid) => return link_invalid(&page, true),
                Err(other) => return Err(other.into()),
            };
            let csrf = random_token();
            let errors = FieldErrors::from_msgs(&errors, page.lang);
            let view = ResetPage {
                page: &page,
                min_password: MIN_LEN,
                errors,
                target,
                action: format!("/password/reset/{token}"),
                csrf: csrf.clone(),
            };
            Ok(with_form_cookie(&state, StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?, &csrf, "/password"))
        }
        Err(SecurityError::LinkInvalid) => link_invalid(&page, true),
        Err(other) => Err(other.into()),
    }
}

// ---- /invite/{token} -------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "auth/invite.html")]
struct InvitePage<'a> {
    page: &'a Page,
    min_password: usize,
    errors: FieldErrors,
    target: LinkTarget,
    person_name: String,
    action: String,
    csrf: String,
}

async fn invite_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let target = match state.services().security.invitation_target(&token).await {
        Ok(target) => target,
        Err(SecurityError::LinkInvalid) => return link_invalid(&page, false),
        Err(other) => return Err(other.into()),
    };
    let csrf = random_token();
    let view = InvitePage {
        page: &page,
        min_password: MIN_LEN,
        errors: FieldErrors::default(),
        person_name: target.name.clone(),
        target,
        action: format!("/invite/{token}"),
        csrf: csrf.clone(),
    };
    Ok(with_form_cookie(&state, StatusCode::OK, render::html(&view)?, &csrf, "/invite"))
}

async fn invite_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: Client,
    Path(token): Path<String>,
    Form(input): Form<PasswordForm>,
) -> Result<Response, AppError> {
    check_form_csrf(&headers, &input.csrf)?;
    let security = &state.services().security;
    let (ip, agent) = (client.ip.as_deref(), client.user_agent.as_deref());
    match security.accept_invitation(&token, &input.name, &input.password, &input.password_confirm, ip, agent).await {
        Ok(session) => {
            let mut response = Redirect::to("/").into_response();
            let ttl = SESSION_TTL.as_secs();
            cookies::set(&mut response, SESSION_COOKIE, &session.token, "/", ttl, SameSite::Lax, state.secure_cookies);
            cookies::clear(&mut response, FORM_CSRF_COOKIE, "/invite");
            Ok(response)
        }
        Err(SecurityError::Invalid(errors)) => {
            let target = match security.invitation_target(&token).await {
                Ok(target) => target,
                Err(SecurityError::LinkInvalid) => return link_invalid(&page, false),
                Err(other) => return Err(other.into()),
            };
            let csrf = random_token();
            let view = InvitePage {
                page: &page,
                min_password: MIN_LEN,
                errors: FieldErrors::from_msgs(&errors, page.lang),
                target,
                person_name: input.name.trim().to_owned(),
                action: format!("/invite/{token}"),
                csrf: csrf.clone(),
            };
            Ok(with_form_cookie(&state, StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?, &csrf, "/invite"))
        }
        Err(SecurityError::LinkInvalid) => link_invalid(&page, false),
        Err(other) => Err(other.into()),
    }
}
