//! Reading conversations and their messages, within the caller's workspace. Agents without
//! [`Permission::SeeAllConversations`] see the conversations assigned to them and the unassigned ones, unless the
//! workspace lets agents see everything ([`restriction`] is the one rule every reader applies).

use super::{Shared, WhatsAppError};
use crate::domain::role::Permission;
use crate::services::access::Actor;
use crate::store::conversations::{self, Conversation, Filter};
use crate::store::messages::{self, Message};
use crate::store::{Conn, inbox_settings};

/// Most rows a page holds.
pub const MAX_PAGE: i64 = 100;

/// A page of conversations and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    /// Pass back as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of a thread, newest first, and the cursor of the older page.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next_cursor: Option<String>,
}

/// A list cursor: `<activity time>.<id>` of the last row shown.
fn parse_cursor(text: &str) -> Result<(i64, i64), WhatsAppError> {
    let invalid = || WhatsAppError::Fields(vec![("cursor", crate::domain::msg::Msg::new("whatsapp.cursor_invalid"))]);
    let (at, id) = text.split_once('.').ok_or_else(invalid)?;
    Ok((at.parse().map_err(|_| invalid())?, id.parse().map_err(|_| invalid())?))
}

pub struct ConversationService {
    shared: Shared,
}

impl ConversationService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Conversations by most recent activity, filtered; `limit` is clamped to 1..=[`MAX_PAGE`].
    pub async fn list(
        &self,
        actor: &Actor,
        filter: &Filter,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<ConversationPage, WhatsAppError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let after = cursor.filter(|c| !c.is_empty()).map(parse_cursor).transpose()?;
        let mut filter = filter.clone();
        let mut conn = self.shared.db().read().await?;
        filter.visible_to = restriction(&mut conn, actor).await?;
        let mut rows = conversations::list(&mut conn, actor.workspace_id, &filter, after, limit + 1).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|c| format!("{}.{}", c.last_message_at.unwrap_or(c.created_at), c.id))
        } else {
            None
        };
        Ok(ConversationPage { conversations: rows, next_cursor })
    }

    /// One conversation.
    pub async fn get(&self, actor: &Actor, id: i64) -> Result<Conversation, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let conversation =
            conversations::get(&mut conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        let restricted_to = restriction(&mut conn, actor).await?;
        if !visible_under(restricted_to, &conversation) {
            return Err(WhatsAppError::NotFound);
        }
        Ok(conversation)
    }

    /// A conversation's messages, newest first; `cursor` is the id of the oldest message already shown.
    pub async fn messages(
        &self,
        actor: &Actor,
        id: i64,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<MessagePage, WhatsAppError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                WhatsAppError::Fields(vec![("cursor", crate::domain::msg::Msg::new("whatsapp.cursor_invalid"))])
            })?),
            None => None,
        };
        let conversation = self.get(actor, id).await?;
        let mut conn = self.shared.db().read().await?;
        let mut rows = messages::thread(&mut conn, actor.workspace_id, conversation.id, before, limit + 1).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|m| m.id.to_string())
        } else {
            None
        };
        Ok(MessagePage { messages: rows, next_cursor })
    }
}

/// Whom `actor`'s view of the conversations is limited to: `None` when they see all of the workspace's (managers
/// and admins, or everyone when the workspace lets agents see all), else `Some(user)`: that user's conversations
/// and the unassigned ones. An API key has a role but no user: restricted, it sees the unassigned ones only.
pub(crate) async fn restriction(conn: &mut Conn, actor: &Actor) -> Result<Option<i64>, WhatsAppError> {
    if actor.role.allows(Permission::SeeAllConversations) {
        return Ok(None);
    }
    if inbox_settings::get(conn, actor.workspace_id).await?.agents_see_all {
        return Ok(None);
    }
    Ok(Some(actor.user_id().unwrap_or(0)))
}

/// Whether a conversation shows under a [`restriction`]; hidden ones are "not found".
pub(crate) fn visible_under(restricted_to: Option<i64>, conversation: &Conversation) -> bool {
    visible_with_assignee(restricted_to, conversation.assignee_user_id)
}

/// [`visible_under`] for a conversation known only by its assignee (the live streams read no more).
pub(crate) fn visible_with_assignee(restricted_to: Option<i64>, assignee_user_id: Option<i64>) -> bool {
    match restricted_to {
        None => true,
        Some(user) => assignee_user_id.is_none_or(|assignee| assignee == user),
    }
}
