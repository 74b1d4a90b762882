//! `GET /api/v1/events`: the workspace's live inbox changes as server-sent events, the same stream the inbox page
//! reads, for integrations that react to new messages and delivery states without polling.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::extract::{ApiActor, ApiQuery};
use super::numbers::whatsapp;
use super::{Endpoint, Verb, at};
use crate::services::whatsapp::live::Validity;
use crate::web::error::AppError;
use crate::web::pages::inbox::live::{ResumeQuery, resume_point, sse};
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![at(Verb::Get, "/api/v1/events", stream)]
}

/// The key behind a request's `Authorization: Bearer …` header.
fn presented_key(headers: &HeaderMap) -> String {
    let value = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.trim().split_once(' ').map(|(_, key)| key.trim().to_owned()).unwrap_or_default()
}

/// `GET /api/v1/events`: ends when the key is revoked or its workspace suspended.
async fn stream(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResumeQuery>,
) -> Result<Response, AppError> {
    let key = presented_key(&headers);
    let checker = state.clone();
    let still_valid: Validity = Box::new(move || {
        let (state, key) = (checker.clone(), key.clone());
        Box::pin(async move { state.services().api_keys.still_valid(&key).await })
    });
    let resume = resume_point(&headers, query.after);
    let events = state.services().live.stream(&actor, resume, still_valid).await.map_err(whatsapp)?;
    Ok(sse(events))
}
