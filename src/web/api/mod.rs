//! The JSON API under `/api/v1`, authenticated with workspace API keys (`Authorization: Bearer cvk_…`).
//!
//! Every route is declared once, in [`endpoints`]: the router is built from that table and the OpenAPI document
//! (served at `/api/v1/openapi.json`) is checked against it, so neither can list a route the other lacks.

mod backups;
mod contacts;
mod domains;
mod error;
mod events;
pub mod extract;
mod jobs;
mod keys;
mod messages;
mod numbers;
pub mod openapi;
mod organize;
mod quick_replies;
mod templates;
mod tls;
pub(crate) mod update;
mod users;
mod views;
mod workspaces;

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::domain::msg::Msg;
use crate::web::error::ErrorReport;
use crate::web::state::AppState;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    /// Lower case, as OpenAPI names operations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Patch => MethodFilter::PATCH,
            Self::Delete => MethodFilter::DELETE,
        }
    }
}

/// One method on one path, and what serves it.
struct Endpoint {
    verb: Verb,
    path: &'static str,
    route: MethodRouter<AppState>,
}

fn at<H, T>(verb: Verb, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Endpoint { verb, path, route: on(verb.filter(), handler) }
}

/// Raises an endpoint's body limit to what uploads need.
fn upload(mut endpoint: Endpoint) -> Endpoint {
    let limit = crate::services::whatsapp::media::MAX_UPLOAD + 64 * 1024;
    endpoint.route = endpoint.route.layer(axum::extract::DefaultBodyLimit::max(limit));
    endpoint
}

/// Every route of the API: the one list the router and the OpenAPI check are built from.
fn endpoints() -> Vec<Endpoint> {
    use Verb::{Delete, Get, Patch, Post};
    vec![
        at(Get, "/api/v1/openapi.json", openapi::serve),
        at(Get, "/api/v1/me", keys::me),
        at(Get, "/api/v1/users", users::list),
        at(Post, "/api/v1/users", users::create),
        at(Get, "/api/v1/users/{id}", users::show),
        at(Patch, "/api/v1/users/{id}", users::update),
        at(Delete, "/api/v1/users/{id}", users::remove),
        at(Post, "/api/v1/users/{id}/deactivate", users::deactivate),
        at(Post, "/api/v1/users/{id}/activate", users::activate),
        at(Get, "/api/v1/api-keys", keys::list),
        at(Post, "/api/v1/api-keys", keys::create),
        at(Delete, "/api/v1/api-keys/{id}", keys::revoke),
        at(Get, "/api/v1/workspaces", workspaces::list),
        at(Post, "/api/v1/workspaces", workspaces::create),
        at(Get, "/api/v1/workspaces/{id}", workspaces::show),
        at(Patch, "/api/v1/workspaces/{id}", workspaces::update),
        at(Delete, "/api/v1/workspaces/{id}", workspaces::delete),
        at(Get, "/api/v1/jobs", jobs::list),
        at(Get, "/api/v1/jobs/counts", jobs::counts),
        at(Get, "/api/v1/jobs/schedules", jobs::schedules),
        at(Post, "/api/v1/jobs/{id}/retry", jobs::retry),
        at(Delete, "/api/v1/jobs/{id}", jobs::discard),
        at(Get, "/api/v1/whatsapp-accounts", numbers::list),
        at(Post, "/api/v1/whatsapp-accounts", numbers::create),
        at(Get, "/api/v1/whatsapp-accounts/{id}", numbers::show),
        at(Patch, "/api/v1/whatsapp-accounts/{id}", numbers::update),
        at(Delete, "/api/v1/whatsapp-accounts/{id}", numbers::remove),
        at(Post, "/api/v1/whatsapp-accounts/{id}/test", numbers::test),
        at(Get, "/api/v1/conversations", messages::list_conversations),
        at(Get, "/api/v1/conversations/{id}", messages::show_conversation),
        at(Get, "/api/v1/conversations/{id}/messages", messages::list_messages),
        at(Post, "/api/v1/conversations/{id}/messages", messages::send_in_conversation),
        at(Post, "/api/v1/conversations/{id}/read", messages::mark_read),
        at(Post, "/api/v1/messages", messages::send_new),
        at(Get, "/api/v1/messages/{id}", messages::show_message),
        at(Post, "/api/v1/messages/{id}/retry", messages::retry_message),
        upload(at(Post, "/api/v1/media", messages::upload)),
        at(Get, "/api/v1/media/{id}", messages::download),
    ]
    .into_iter()
    // Each inbox module lists its own endpoints.
    .chain(templates::endpoints())
    .chain(backups::endpoints())
    .chain(update::endpoints())
    .chain(tls::endpoints())
    .chain(events::endpoints())
    .chain(contacts::endpoints())
    .chain(quick_replies::endpoints())
    .chain(organize::endpoints())
    .chain(domains::endpoints())
    .collect()
}

/// The (method, path) pairs the API serves, e.g. `(Verb::Get, "/api/v1/users/{id}")`.
pub fn served() -> Vec<(Verb, &'static str)> {
    endpoints().into_iter().map(|e| (e.verb, e.path)).collect()
}

/// The API's routes, to merge into the application's router.
pub fn routes() -> Router<AppState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, e| router.route(e.path, e.route))
        .method_not_allowed_fallback(method_not_allowed)
}

/// A known path asked with a method it does not have: 405 as a JSON error.
async fn method_not_allowed(method: Method) -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response.extensions_mut().insert(ErrorReport {
        code: "method_not_allowed",
        message: Msg::with("api.method_not_allowed", &[("method", method.to_string())]),
        internal: None,
        fields: Vec::new(),
    });
    response
}
