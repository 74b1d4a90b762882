//! `GET /api/v1/instance/tls`: the TLS mode and every certificate's state, expiry and last error (owner key only).

use axum::Json;
use axum::extract::State;

use super::extract::ApiOwner;
use super::{Endpoint, Verb, at};
use crate::tls::TlsSnapshot;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![at(Verb::Get, "/api/v1/instance/tls", show)]
}

async fn show(State(state): State<AppState>, ApiOwner(_): ApiOwner) -> Json<TlsSnapshot> {
    Json(state.tls.snapshot())
}
