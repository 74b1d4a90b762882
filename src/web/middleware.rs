//! Request-wide behaviour: the install gate, error rendering, security headers, request ids and tracing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use crate::domain::msg::Msg;
use crate::services::site;
use crate::web::error::{AppError, ErrorReport};
use crate::web::page::Page;
use crate::web::state::AppState;
use crate::web::views::{AlertFragment, ErrorPage};

/// The request id header, set on every request and echoed on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Security headers on every response. The CSP allows no inline script or style: brand colours come from
/// `/brand.css`, and htmx is configured not to inject its indicator styles.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn is_wizard(path: &str) -> bool {
    path == "/install" || path.starts_with("/install/")
}

/// Until the instance is installed, only the wizard, health, assets and the language switch are served; every
/// other page redirects to `/install`. Once installed, the wizard is gone.
pub async fn install_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let always_open = matches!(path, "/healthz" | "/readyz" | "/brand.css" | "/lang") || path.starts_with("/assets/");
    if always_open {
        return next.run(request).await;
    }
    if state.services().install.is_installed() {
        return if is_wizard(path) { AppError::NotFound.into_response() } else { next.run(request).await };
    }
    if is_wizard(path) {
        next.run(request).await
    } else if path.starts_with("/api/") {
        AppError::Unavailable(Msg::new("error.not_installed")).into_response()
    } else {
        Redirect::to("/install").into_response()
    }
}

/// How the client wants an error shown.
enum ErrorFormat {
    Json,
    Fragment,
    Page,
}

fn error_format(path: &str, headers: &HeaderMap) -> ErrorFormat {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if path.starts_with("/api/") || (accept.contains("application/json") && !accept.contains("text/html")) {
        ErrorFormat::Json
    } else if headers.contains_key("hx-request") {
        ErrorFormat::Fragment
    } else {
        ErrorFormat::Page
    }
}

/// Renders responses that carry an [`ErrorReport`] and logs each error once, with the request's span.
pub async fn render_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    let here = request.uri().path_and_query().map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let mut response = next.run(request).await;
    let Some(report) = response.extensions_mut().remove::<ErrorReport>() else {
        return response;
    };
    let status = response.status();
    let request_id = headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    match &report.internal {
        Some(detail) => tracing::error!(code = report.code, %status, %detail, "request failed"),
        None => tracing::debug!(code = report.code, %status, "request refused"),
    }
    let look = state.services().site.look().await.unwrap_or_else(|_| site::default_look());
    let page = Page::resolve(&headers, here, look);
    let message = report.message.render(page.lang);
    let mut rendered = match error_format(&path, &headers) {
        ErrorFormat::Json => {
            let mut body = json!({ "error": { "code": report.code, "message": message, "request_id": request_id } });
            if !report.fields.is_empty() {
                let fields: serde_json::Map<_, _> = report
                    .fields
                    .iter()
                    .map(|(name, msg)| ((*name).to_owned(), json!(msg.render(page.lang))))
                    .collect();
                body["error"]["fields"] = serde_json::Value::Object(fields);
            }
            axum::Json(body).into_response()
        }
        ErrorFormat::Fragment => {
            let view = AlertFragment { page: &page, kind: "error", message, request_id: Some(request_id) };
            let mut fragment = html_or_500(askama::Template::render(&view));
            let fragment_headers = fragment.headers_mut();
            fragment_headers.insert("hx-retarget", HeaderValue::from_static("#flash"));
            fragment_headers.insert("hx-reswap", HeaderValue::from_static("innerHTML"));
            fragment
        }
        ErrorFormat::Page => {
            let view = ErrorPage { page: &page, status: status.as_u16(), code: report.code, message, request_id };
            html_or_500(askama::Template::render(&view))
        }
    };
    // A template failure above would be a bug: still answer with the original status, never a 200.
    *rendered.status_mut() = if rendered.status().is_success() { status } else { StatusCode::INTERNAL_SERVER_ERROR };
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

fn html_or_500(rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error template failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Paths whose requests stream large bodies (backup archives) and so may take longer than a request's deadline.
const UNBOUNDED_PATHS: [&str; 2] = ["/owner/backups/upload", "/api/v1/instance/backups/upload"];

/// Ends a request that takes longer than [`super::REQUEST_TIMEOUT`] with 408, except the archive uploads, which
/// take as long as the upload does.
pub async fn request_timeout(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if UNBOUNDED_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(super::REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}
