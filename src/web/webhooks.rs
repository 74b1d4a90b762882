//! Webhook ingress: `GET|POST /webhooks/{provider}/{account_key}`. The raw body goes to the ingestion service
//! untouched (signatures are checked on these bytes); the answer is sent only after the events are committed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::services::whatsapp::ingest::{WebhookCall, WebhookError, WebhookReply};
use crate::web::client::ClientInfo;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// Largest webhook body: Evolution can inline media as base64 in its events.
const WEBHOOK_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{provider}/{account_key}", get(receive).post(receive))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
}

fn refused(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(json!({ "error": code }))).into_response()
}

async fn receive(
    State(state): State<AppState>,
    Path((provider, account_key)): Path<(String, String)>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    client: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let path_and_query = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let call = WebhookCall {
        provider: &provider,
        account_key: &account_key,
        method: method.as_str(),
        path_and_query: &path_and_query,
        query: uri.query().unwrap_or_default(),
        // The scheme and host the request came to (Twilio signs the URL it called; used without a public URL).
        origin: &client.origin(),
        headers: &pairs,
        body: &body,
    };
    match state.services().ingest.receive(&call).await {
        Ok(WebhookReply::Challenge(challenge)) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response())
        }
        Ok(WebhookReply::Ack { content_type, body }) => {
            Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
        }
        Err(WebhookError::UnknownAccount) => Ok(refused(StatusCode::NOT_FOUND, "unknown_account")),
        Err(WebhookError::Unauthenticated) => Ok(refused(StatusCode::UNAUTHORIZED, "missing_signature")),
        Err(WebhookError::Forbidden) => Ok(refused(StatusCode::FORBIDDEN, "bad_signature")),
        Err(WebhookError::Malformed(detail)) => {
            tracing::info!(provider, detail, "malformed webhook refused");
            Ok(refused(StatusCode::BAD_REQUEST, "malformed"))
        }
        Err(WebhookError::MethodNotAllowed) => Ok(refused(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")),
        Err(WebhookError::Store(e)) => Err(e.into()),
        Err(WebhookError::Internal(e)) => Err(AppError::Internal(e)),
    }
}
