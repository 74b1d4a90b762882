//! Signing in and out, and the start page a signed-in user lands on.

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router};
use serde::Deserialize;

use crate::crypto::constant_time_eq;
use crate::domain::msg::Msg;
use crate::services::auth::{AuthError, CurrentUser, SESSION_TTL};
use crate::services::security::PENDING_TTL_MS;
use crate::web::client::ClientInfo;
use crate::web::cookies::{self, SameSite};
use crate::web::error::AppError;
use crate::web::forms::CsrfOnly;
use crate::web::page::{Page, cookie};
use crate::web::pages::account::Client;
use crate::web::pages::install::Alert;
use crate::web::render;
use crate::web::state::AppState;

pub(crate) const SESSION_COOKIE: &str = "conversure_session";
/// Double-submit token of the sign-in form (there is no session yet to hold one).
const LOGIN_CSRF_COOKIE: &str = "conversure_login_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", axum::routing::get(home))
        .route("/login", axum::routing::get(login_page).post(login_submit))
        .route("/logout", axum::routing::post(logout))
}

/// The signed-in user; pages that need one redirect to the sign-in page without it.
pub struct SignedIn(pub CurrentUser, pub(crate) String);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let to_login = || {
            let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            let next = percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC);
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login()) };
        match state.services().auth.current(&token).await {
            // A workspace that requires TOTP lets a member without it do nothing but enrol (or sign out).
            Ok(Some(user)) if user.must_enroll_totp && !allowed_before_enrolment(parts.uri.path()) => {
                Err(Redirect::to("/account/security").into_response())
            }
            Ok(Some(user)) => Ok(Self(user, token)),
            Ok(None) => Err(to_login()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// The pages a member who must enrol in TOTP may still open.
fn allowed_before_enrolment(path: &str) -> bool {
    path == "/logout" || path == "/account/security" || path.starts_with("/account/security/")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    installed: Option<String>,
    reset: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginInput {
    email: String,
    password: String,
    csrf: String,
    next: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage<'a> {
    page: &'a Page,
    alert: Option<Alert>,
    email: String,
    csrf: String,
    next: String,
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

fn login_response(state: &AppState, status: StatusCode, view: &LoginPage<'_>) -> Result<Response, AppError> {
    let mut response = (status, render::html(view)?).into_response();
    cookies::set(&mut response, LOGIN_CSRF_COOKIE, &view.csrf, "/login", 3600, SameSite::Strict, state.secure_cookies);
    Ok(response)
}

async fn login_page(
    State(state): State<AppState>,
    page: Page,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let alert = if query.installed.is_some() {
        Some(Alert { kind: "success", message: page.t("auth.installed").to_owned() })
    } else {
        query.reset.is_some().then(|| Alert { kind: "success", message: page.t("security.reset.done").to_owned() })
    };
    let view = LoginPage {
        page: &page,
        alert,
        email: String::new(),
        csrf: random_token(),
        next: safe_next(query.next.as_deref()),
    };
    login_response(&state, StatusCode::OK, &view)
}

async fn login_submit(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    client: Client,
    origin: ClientInfo,
    Form(input): Form<LoginInput>,
) -> Result<Response, AppError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(&expected, &input.csrf) {
        return Err(AppError::Forbidden(Msg::new("error.csrf")));
    }
    let (ip, agent) = (client.ip.as_deref(), client.user_agent.as_deref());
    match state.services().auth.sign_in(&input.email, &input.password, ip, agent).await {
        Ok(session) => {
            // Signed in on a workspace's custom domain: the session starts in that workspace.
            if let Some(host) = origin.host.as_deref() {
                state.services().domains.enter_host_workspace(&session.token, host).await?;
            }
            let next = safe_next(Some(&input.next));
            // With TOTP on, the session counts only after the code: it lives a few minutes until then.
            let (target, ttl) = if session.mfa_pending {
                let next = percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC);
                (format!("/login/totp?next={next}"), u64::try_from(PENDING_TTL_MS / 1000).unwrap_or(600))
            } else {
                (next, SESSION_TTL.as_secs())
            };
            let mut response = Redirect::to(&target).into_response();
            cookies::set(&mut response, SESSION_COOKIE, &session.token, "/", ttl, SameSite::Lax, state.secure_cookies);
            cookies::clear(&mut response, LOGIN_CSRF_COOKIE, "/login");
            Ok(response)
        }
        Err(err) => {
            let status = if matches!(err, AuthError::Throttled(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let alert = Some(Alert { kind: "error", message: err.msg().render(page.lang) });
            let view = LoginPage {
                page: &page,
                alert,
                email: input.email,
                csrf: random_token(),
                next: safe_next(Some(&input.next)),
            };
            login_response(&state, status, &view)
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    SignedIn(user, token): SignedIn,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    if !constant_time_eq(&user.csrf_token, &input.csrf) {
        return Err(AppError::Forbidden(Msg::new("error.csrf")));
    }
    state.services().auth.sign_out(&token).await?;
    let mut response = Redirect::to("/login").into_response();
    cookies::clear(&mut response, SESSION_COOKIE, "/");
    Ok(response)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    page: &'a Page,
    user: &'a CurrentUser,
    license: Option<(bool, String)>,
}

async fn home(State(state): State<AppState>, page: Page, SignedIn(user, _): SignedIn) -> Result<Response, AppError> {
    let license =
        state.services().instance.license().await?.map(|status| (status.evaluation, status.message.render(page.lang)));
    Ok(render::html(&HomePage { page: &page, user: &user, license })?.into_response())
}

/// Only a path on this site; anything else returns to the start page (no open redirect).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.starts_with("/login") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}
