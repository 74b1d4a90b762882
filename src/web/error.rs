//! `AppError`: the one error type at the web edge. Handlers return it; the `render_errors` middleware turns it into a
//! full page, an htmx fragment or JSON, with a stable code and the request id, and logs it once.
//!
//! Internal detail goes to the log only; users see a translated message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::msg::Msg;
use crate::services::install::InstallError;
use crate::store::StoreError;

/// What a request failed with.
#[derive(Debug)]
pub enum AppError {
    NotFound,
    Forbidden(Msg),
    BadRequest(Msg),
    /// A dependency (the database) is down; retrying later may work.
    Unavailable(Msg),
    /// A bug or unexpected failure; the text is logged, never shown.
    Internal(String),
    /// Missing or wrong credentials (401). The API adds `WWW-Authenticate: Bearer`.
    Unauthorized(Msg),
    /// Valid, but the current state refuses it (409): a limit reached, the last admin.
    Conflict(Msg),
    /// Field name → what is wrong (422). JSON lists every field under `fields`; pages show the first message.
    Invalid(Vec<(&'static str, Msg)>),
}

/// The error as the renderer needs it, carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// Stable, documented code for API clients and support (`not_found`, `forbidden`, …).
    pub code: &'static str,
    pub message: Msg,
    /// Logged, never shown.
    pub internal: Option<String>,
    /// Per-field messages of a validation error (JSON only).
    pub fields: Vec<(&'static str, Msg)>,
}

impl AppError {
    fn parts(self) -> (StatusCode, ErrorReport) {
        let report = |code, message, internal| ErrorReport { code, message, internal, fields: Vec::new() };
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, report("not_found", Msg::new("error.not_found"), None)),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, report("forbidden", m, None)),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, report("bad_request", m, None)),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, report("unavailable", m, None)),
            Self::Internal(detail) => {
                (StatusCode::INTERNAL_SERVER_ERROR, report("internal", Msg::new("error.internal"), Some(detail)))
            }
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, report("unauthorized", m, None)),
            Self::Conflict(m) => (StatusCode::CONFLICT, report("conflict", m, None)),
            Self::Invalid(fields) => {
                let first = fields.first().map_or_else(|| Msg::new("api.invalid"), |(_, m)| m.clone());
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorReport { code: "invalid", message: first, internal: None, fields },
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, report) = self.parts();
        let mut response = status.into_response();
        response.extensions_mut().insert(report);
        response
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Self::Unavailable(Msg::new("error.database_unavailable"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<InstallError> for AppError {
    fn from(err: InstallError) -> Self {
        match err {
            InstallError::Store(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        Self::Internal(format!("template: {err}"))
    }
}
