//! A user's own sessions: the list with "this device", and signing out every other one.

use super::{SecurityError, SecurityService};
use crate::services::auth::{self, CurrentUser};
use crate::store::audit;
use crate::store::security as store;

/// One session as the sessions page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the browser asking.
    pub current: bool,
}

impl SecurityService {
    /// The user's live sessions, most recently used first.
    pub async fn sessions(&self, user_id: i64, current_token: &str) -> Result<Vec<SessionView>, SecurityError> {
        let current = auth::token_hash(current_token);
        let mut conn = self.db.read().await?;
        let rows = store::sessions_of(&mut conn, user_id).await?;
        Ok(rows
            .into_iter()
            .map(|r| SessionView {
                current: crate::crypto::constant_time_eq(&r.token_hash, &current),
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                ip: r.ip,
                user_agent: r.user_agent,
            })
            .collect())
    }

    /// Ends every session of the user but the asking one; returns how many ended.
    pub async fn sign_out_other_sessions(
        &self,
        user: &CurrentUser,
        current_token: &str,
        ip: Option<&str>,
    ) -> Result<u64, SecurityError> {
        let keep = auth::token_hash(current_token);
        let mut tx = self.db.write().await?;
        let ended = store::delete_sessions_except(&mut tx, user.user.id, Some(&keep)).await?;
        audit::record(
            &mut tx,
            &audit::Entry {
                workspace_id: user.membership.as_ref().map(|m| m.workspace.id),
                actor_user_id: Some(user.user.id),
                actor_label: &user.user.email,
                action: "auth.other_sessions_signed_out",
                target: None,
                detail: serde_json::json!({ "sessions": ended }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}
