//! The workspaces a signed-in user belongs to, and moving their session from one to another.

use crate::services::auth::CurrentUser;
use crate::services::auth::token_hash;
use crate::store::accounts::{self, Membership};
use crate::store::{Db, StoreError, sessions};

/// Why a switch failed.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// Not a member of that workspace (or no such workspace): 404, whichever it is.
    #[error("not found")]
    NotFound,
    /// The session ended meanwhile.
    #[error("session ended")]
    SessionEnded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct SessionWorkspaceService {
    db: Db,
}

impl SessionWorkspaceService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The workspaces the user is an active member of, oldest first.
    pub async fn workspaces(&self, user: &CurrentUser) -> Result<Vec<Membership>, StoreError> {
        let mut conn = self.db.read().await?;
        accounts::memberships_of(&mut conn, user.user.id).await
    }

    /// Moves the session (`session_token`, the cookie's value) into `workspace_id`, after checking that the user is
    /// an active member there.
    pub async fn switch(
        &self,
        user: &CurrentUser,
        session_token: &str,
        workspace_id: i64,
    ) -> Result<Membership, SwitchError> {
        let mut tx = self.db.write().await?;
        let membership = accounts::memberships_of(&mut tx, user.user.id)
            .await?
            .into_iter()
            .find(|m| m.workspace.id == workspace_id)
            .ok_or(SwitchError::NotFound)?;
        if !sessions::set_workspace(&mut tx, &token_hash(session_token), workspace_id).await? {
            return Err(SwitchError::SessionEnded);
        }
        tx.commit().await?;
        Ok(membership)
    }
}
