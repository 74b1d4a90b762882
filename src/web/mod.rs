//! The HTTP edge: routers, middleware order, and the views. Handlers extract, call one service, render.
//! Nothing below this module knows about HTTP, and nothing here writes SQL or calls providers.

pub mod api;
pub mod assets;
pub mod client;
mod cookies;
pub mod error;
pub mod extract;
mod forms;
pub mod middleware;
pub mod page;
mod pages;
mod render;
pub mod state;
mod views;
mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::web::error::AppError;
use crate::web::middleware::{REQUEST_ID, SECURITY_HEADERS};
use crate::web::state::AppState;

/// Largest request body accepted by default; upload routes raise it for themselves.
const BODY_LIMIT: usize = 1024 * 1024;
/// Requests that take longer are answered 408 rather than holding a connection forever.
/// How long a request may take (archive uploads excepted, see [`middleware::request_timeout`]).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The application's router for HTTPS connections: `Secure` cookies and HSTS (one year, without subdomains, which
/// may serve other things over plain HTTP).
pub fn router_over_tls(mut state: AppState) -> Router {
    state.secure_cookies = true;
    router(state).layer(SetResponseHeaderLayer::overriding(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
}

/// The whole application's router.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(pages::health::healthz))
        .route("/readyz", get(pages::health::readyz))
        .route("/assets/{*path}", get(assets::serve))
        .route("/brand.css", get(pages::site::brand_stylesheet))
        .route("/lang", get(pages::site::switch_language))
        .route("/cron", get(pages::cron::web_cron))
        .merge(pages::install::routes())
        .merge(pages::auth::routes())
        .merge(api::routes())
        .merge(pages::account::routes())
        .merge(pages::admin::routes())
        .merge(pages::inbox::routes())
        .merge(pages::owner::routes())
        .merge(pages::domains::routes())
        .merge(pages::restart::routes())
        .merge(webhooks::routes())
        .fallback(|| async { AppError::NotFound })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Layers wrap what was added before them: the gate runs inside the error renderer, so its 404s render too.
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::install_gate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::render_errors))
        // Outermost of the three, so every later layer and handler sees the same client address, scheme and host.
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::client_info))
        .with_state(state);

    let mut router = routes;
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(axum::middleware::from_fn(middleware::request_timeout)),
    )
}
