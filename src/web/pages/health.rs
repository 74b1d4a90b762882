//! `/healthz` (is the database answering?) and `/readyz` (should a load balancer send traffic?).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::web::state::AppState;

/// 200 with the running version when the database answers, 503 when it does not.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.services().health.check().await {
        // The version lets the update's health gate tell the new executable from the old one.
        Ok(()) => Json(json!({ "status": "ok", "version": crate::services::update::version() })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": "database" })))
                .into_response()
        }
    }
}

/// 200 while serving, 503 while draining for shutdown.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_ready() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "draining" }))).into_response()
    }
}
