//! The account's security pages (`/account/security`: TOTP, recovery codes, the workspace's TOTP requirement;
//! `/account/sessions`) and, in [`signin`], the pages around signing in: the TOTP step, password reset, invitations.

mod signin;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::crypto::constant_time_eq;
use crate::domain::msg::Msg;
use crate::services::auth::CurrentUser;
use crate::services::security::{SecurityError, SecurityOverview, SessionView, TotpSetup, TotpStatus, actor_of};
use crate::web::client::ClientInfo;
use crate::web::error::AppError;
use crate::web::forms::{CsrfOnly, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::Nav;
use crate::web::pages::auth::SignedIn;
use crate::web::pages::install::Alert;
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/security", get(security_page))
        .route("/account/security/totp/start", post(totp_start))
        .route("/account/security/totp/confirm", post(totp_confirm))
        .route("/account/security/totp/recovery-codes", post(totp_regenerate))
        .route("/account/security/totp/disable", post(totp_disable))
        .route("/account/security/require", post(require_totp))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/sign-out-others", post(sign_out_others))
        .merge(signin::routes())
}

/// Where a request comes from: the address (decided by [`ClientInfo`]: trusted proxies only) and user agent.
pub(crate) struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(info) = ClientInfo::from_request_parts(parts, state).await;
        let ip = info.ip.map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(Self { ip, user_agent })
    }
}

impl From<SecurityError> for AppError {
    fn from(err: SecurityError) -> Self {
        match err {
            SecurityError::Store(e) => e.into(),
            SecurityError::Internal(detail) => Self::Internal(detail),
            SecurityError::Access(e) => Self::Forbidden(e.msg()),
            SecurityError::UnknownUser => Self::NotFound,
            other => Self::BadRequest(other.msg()),
        }
    }
}

/// Refuses a signed-in form whose token is not the session's.
fn check_csrf(user: &CurrentUser, submitted: &str) -> Result<(), AppError> {
    if constant_time_eq(&user.csrf_token, submitted) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Msg::new("error.csrf")))
    }
}

/// A moment in the workspace's time zone (UTC outside a workspace), to the minute.
pub(crate) fn when(millis: i64, user: Option<&CurrentUser>) -> String {
    let tz = user
        .and_then(|u| u.membership.as_ref())
        .and_then(|m| jiff::tz::TimeZone::get(&m.workspace.timezone).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(millis)
        .map(|ts| ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_default()
}

/// The signed-in navigation, with no section of its own highlighted (the account pages have their own tabs).
fn nav(user: &CurrentUser) -> Nav {
    let mut nav = Nav::basic(user);
    nav.section = "account";
    nav
}

/// Pages showing secrets (the TOTP key, recovery codes) must not be kept by the browser or a proxy.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---- /account/security -----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account/security.html")]
struct SecurityPage<'a> {
    page: &'a Page,
    user: &'a CurrentUser,
    nav: Nav,
    alert: Option<Alert>,
    errors: FieldErrors,
    /// Off: the "turn on" button.
    off: bool,
    /// An enrolment waiting for its first code.
    setup: Option<TotpSetup>,
    /// On: since when, and how many recovery codes are left.
    enabled: Option<(String, i64)>,
    required: bool,
    can_require: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SecurityQuery {
    done: Option<String>,
}

async fn security_response(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    status: StatusCode,
    alert: Option<Alert>,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let SecurityOverview { totp, required, can_require } = state.services().security.overview(user).await?;
    let (off, setup, enabled) = match totp {
        TotpStatus::Off => (true, None, None),
        TotpStatus::Pending(setup) => (false, Some(setup), None),
        TotpStatus::On { since, recovery_codes_left } => {
            (false, None, Some((when(since, Some(user)), recovery_codes_left)))
        }
    };
    // A member who must enrol sees why before anything else.
    let alert = alert.or_else(|| {
        user.must_enroll_totp
            .then(|| Alert { kind: "warn", message: page.t("security.totp.required_notice").to_owned() })
    });
    let view = SecurityPage { page, user, nav: nav(user), alert, errors, off, setup, enabled, required, can_require };
    Ok(no_store((status, render::html(&view)?).into_response()))
}

async fn security_page(
    State(state): State<AppState>,
    page: Page,
    SignedIn(user, _): SignedIn,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, AppError> {
    let key = match query.done.as_deref() {
        Some("totp_off") => Some("security.totp.turned_off"),
        Some("require_on") => Some("security.require.turned_on"),
        Some("require_off") => Some("security.require.turned_off"),
        _ => None,
    };
    let alert = key.map(|k| Alert { kind: "success", message: page.t(k).to_owned() });
    security_response(&state, &page, &user, StatusCode::OK, alert, FieldErrors::default()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeInput {
    csrf: String,
    code: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PasswordInput {
    csrf: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RequireInput {
    csrf: String,
    require: Option<String>,
}

async fn totp_start(
    State(state): State<AppState>,
    SignedIn(user, _): SignedIn,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    state.services().security.start_totp(&user).await?;
    Ok(Redirect::to("/account/security#totp").into_response())
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    page: &'a Page,
    nav: Nav,
    /// True right after turning TOTP on, false after regenerating.
    enabled_now: bool,
    codes: Vec<String>,
}

fn recovery_codes_response(
    page: &Page,
    user: &CurrentUser,
    enabled_now: bool,
    codes: Vec<String>,
) -> Result<Response, AppError> {
    let view = RecoveryCodesPage { page, nav: nav(user), enabled_now, codes };
    Ok(no_store(render::html(&view)?.into_response()))
}

/// Renders the security page again with the service's field errors under the form's own field names, or turns
/// other failures into errors.
async fn refused(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    err: SecurityError,
    field_names: &[(&'static str, &'static str)],
) -> Result<Response, AppError> {
    match err {
        SecurityError::Invalid(errors) => {
            let renamed: Vec<(&'static str, Msg)> = errors
                .into_iter()
                .map(|(field, msg)| {
                    let name = field_names.iter().find(|(from, _)| *from == field).map_or(field, |(_, to)| *to);
                    (name, msg)
                })
                .collect();
            let errors = FieldErrors::from_msgs(&renamed, page.lang);
            security_response(state, page, user, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        SecurityError::Throttled(t) => {
            let alert = Some(Alert { kind: "error", message: t.msg().render(page.lang) });
            security_response(state, page, user, StatusCode::TOO_MANY_REQUESTS, alert, FieldErrors::default()).await
        }
        SecurityError::TotpState => {
            let alert = Some(Alert { kind: "error", message: err.msg().render(page.lang) });
            security_response(state, page, user, StatusCode::CONFLICT, alert, FieldErrors::default()).await
        }
        other => Err(other.into()),
    }
}

async fn totp_confirm(
    State(state): State<AppState>,
    page: Page,
    SignedIn(user, _): SignedIn,
    client: Client,
    Form(input): Form<CodeInput>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    match state.services().security.confirm_totp(&user, &input.code, client.ip.as_deref()).await {
        Ok(codes) => recovery_codes_response(&page, &user, true, codes),
        Err(err) => refused(&state, &page, &user, err, &[]).await,
    }
}

async fn totp_regenerate(
    State(state): State<AppState>,
    page: Page,
    SignedIn(user, _): SignedIn,
    client: Client,
    Form(input): Form<PasswordInput>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    match state.services().security.regenerate_recovery_codes(&user, &input.password, client.ip.as_deref()).await {
        Ok(codes) => recovery_codes_response(&page, &user, false, codes),
        Err(err) => refused(&state, &page, &user, err, &[("password", "regenerate_password")]).await,
    }
}

async fn totp_disable(
    State(state): State<AppState>,
    page: Page,
    SignedIn(user, _): SignedIn,
    client: Client,
    Form(input): Form<PasswordInput>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    match state.services().security.disable_totp(&user, &input.password, client.ip.as_deref()).await {
        Ok(()) => Ok(Redirect::to("/account/security?done=totp_off").into_response()),
        Err(err) => refused(&state, &page, &user, err, &[("password", "disable_password")]).await,
    }
}

async fn require_totp(
    State(state): State<AppState>,
    SignedIn(user, _): SignedIn,
    Form(input): Form<RequireInput>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    let Some(actor) = actor_of(&user) else { return Err(AppError::Forbidden(Msg::new("security.require.forbidden"))) };
    let on = input.require.as_deref() == Some("1");
    state.services().security.set_require_totp(&actor, on).await?;
    let done = if on { "require_on" } else { "require_off" };
    Ok(Redirect::to(&format!("/account/security?done={done}")).into_response())
}

// ---- /account/sessions -----------------------------------------------------------------------------------------

/// One row of the sessions table.
struct SessionRow {
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage<'a> {
    page: &'a Page,
    user: &'a CurrentUser,
    nav: Nav,
    alert: Option<Alert>,
    sessions: Vec<SessionRow>,
    others: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SessionsQuery {
    ended: Option<u64>,
}

fn session_row(view: SessionView, user: &CurrentUser) -> SessionRow {
    let mut user_agent: String = view.user_agent.unwrap_or_default().chars().take(120).collect();
    if user_agent.chars().count() == 120 {
        user_agent.push('…');
    }
    SessionRow {
        created: when(view.created_at, Some(user)),
        last_seen: when(view.last_seen_at, Some(user)),
        ip: view.ip.unwrap_or_default(),
        user_agent,
        current: view.current,
    }
}

async fn sessions_page(
    State(state): State<AppState>,
    page: Page,
    SignedIn(user, token): SignedIn,
    Query(query): Query<SessionsQuery>,
) -> Result<Response, AppError> {
    let sessions = state.services().security.sessions(user.user.id, &token).await?;
    let others = sessions.iter().filter(|s| !s.current).count();
    let sessions = sessions.into_iter().map(|s| session_row(s, &user)).collect();
    let alert = query.ended.map(|n| {
        let message = if n == 1 {
            page.t("security.sessions.signed_out_one").to_owned()
        } else {
            page.format("security.sessions.signed_out_others", &[("count", n.to_string())])
        };
        Alert { kind: "success", message }
    });
    Ok(render::html(&SessionsPage { page: &page, user: &user, nav: nav(&user), alert, sessions, others })?
        .into_response())
}

async fn sign_out_others(
    State(state): State<AppState>,
    SignedIn(user, token): SignedIn,
    client: Client,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    let ended = state.services().security.sign_out_other_sessions(&user, &token, client.ip.as_deref()).await?;
    Ok(Redirect::to(&format!("/account/sessions?ended={ended}")).into_response())
}
