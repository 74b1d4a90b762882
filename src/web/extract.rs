//! Extractors that turn a signed-in session into the scope services need: a workspace [`Actor`], or the [`Owner`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::domain::msg::Msg;
use crate::domain::role::Role;
use crate::services::access::Actor;
use crate::services::auth::CurrentUser;
use crate::services::workspaces::Owner;
use crate::web::error::AppError;
use crate::web::pages::auth::SignedIn;
use crate::web::state::AppState;

/// A signed-in member acting in their current workspace. Without a session: the sign-in page; without an active
/// membership in an active workspace: 403.
pub struct WorkspaceUser {
    pub user: CurrentUser,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for WorkspaceUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(user, _) = SignedIn::from_request_parts(parts, state).await?;
        let Some(membership) = user.membership.clone() else {
            return Err(AppError::Forbidden(Msg::new("access.no_workspace")).into_response());
        };
        if membership.workspace.status != "active" {
            return Err(AppError::Forbidden(Msg::new("access.workspace_suspended")).into_response());
        }
        let role = Role::parse(&membership.role).unwrap_or(Role::Agent);
        let actor = Actor::user(user.user.id, &user.user.email, user.user.is_owner, membership.workspace.id, role);
        Ok(Self { user, actor })
    }
}

/// The signed-in instance owner; anyone else gets 404, so the owner area is not even visible to them.
pub struct OwnerUser {
    pub user: CurrentUser,
    pub owner: Owner,
}

impl FromRequestParts<AppState> for OwnerUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(user, _) = SignedIn::from_request_parts(parts, state).await?;
        if !user.user.is_owner {
            return Err(AppError::NotFound.into_response());
        }
        let owner = Owner::user(user.user.id, &user.user.email);
        Ok(Self { user, owner })
    }
}
