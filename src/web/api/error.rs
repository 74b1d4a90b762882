//! How the services' errors answer over the API: 404 for anything outside the caller's workspace, 403 for missing
//! rights, 422 with per-field messages, 409 when the current state refuses (a limit reached, the last admin).

use crate::domain::msg::Msg;
use crate::services::access::AccessError;
use crate::services::api_keys::ApiKeyError;
use crate::services::team::TeamError;
use crate::services::workspaces::WorkspaceError;
use crate::web::error::AppError;

pub fn access(e: AccessError) -> AppError {
    AppError::Forbidden(e.msg())
}

pub fn team(e: TeamError) -> AppError {
    match e {
        TeamError::Access(e) => access(e),
        TeamError::NotFound => AppError::NotFound,
        TeamError::Fields(fields) => AppError::Invalid(fields),
        TeamError::Refused(msg) => AppError::Conflict(msg),
        TeamError::Store(e) => e.into(),
    }
}

pub fn workspace(e: WorkspaceError) -> AppError {
    match e {
        WorkspaceError::NotFound => AppError::NotFound,
        WorkspaceError::Fields(fields) => AppError::Invalid(fields),
        WorkspaceError::Refused(msg) => AppError::Conflict(msg),
        WorkspaceError::Store(e) => e.into(),
    }
}

pub fn keys(e: ApiKeyError) -> AppError {
    match e {
        ApiKeyError::Access(e) => access(e),
        ApiKeyError::NotFound => AppError::NotFound,
        ApiKeyError::Fields(fields) => AppError::Invalid(fields),
        ApiKeyError::Unauthenticated => AppError::Unauthorized(Msg::new("api.unauthorized")),
        ApiKeyError::Suspended => AppError::Forbidden(Msg::new("access.workspace_suspended")),
        ApiKeyError::Store(e) => e.into(),
    }
}
