//! Quick replies: canned answers typed as `/shortcut`, workspace-wide or personal, with placeholders filled from
//! the conversation.
//!
//! Workspace-wide replies are managed by managers and admins ([`Permission::ManageQuickReplies`]); every member
//! keeps their own personal ones, which nobody else sees. An API key has no person behind it: it manages the
//! workspace-wide ones only.
//!
//! Placeholders (`{{contact.name}}`, `{{contact.first_name}}`, `{{contact.phone}}`, `{{contact.email}}`,
//! `{{contact.<custom field>}}`, `{{agent.name}}`, `{{number.name}}`) are filled here, on the server, so the
//! composer's suggestions, the no-script prefill and the API agree. One that names nothing, or a value this
//! conversation does not have, stays in the text as typed: the agent sees it before sending. They are not refused
//! when saved, because custom fields differ from contact to contact.

use std::collections::BTreeMap;

use super::conversations::{restriction, visible_under};
use super::{Shared, WhatsAppError};
use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::services::access::{AccessError, Actor};
use crate::store::conversations::{self, Conversation};
use crate::store::quick_replies::{self, QuickReply};
use crate::store::{Conn, accounts, contacts, now_millis};

/// Longest body, as WhatsApp's text limit.
const MAX_BODY: usize = 4096;
/// Most suggestions the composer shows for a prefix.
const MAX_SUGGESTIONS: usize = 8;

/// A reply to create or change.
#[derive(Debug, Clone, Default)]
pub struct QuickReplyInput {
    pub shortcut: String,
    pub body: String,
    /// The member's own (on create only; a reply keeps its owner).
    pub personal: bool,
}

/// A reply with its text filled for one conversation.
#[derive(Debug, Clone)]
pub struct Filled {
    pub reply: QuickReply,
    pub text: String,
}

/// Whether a shortcut is `^[a-z0-9_-]{1,32}$`.
pub fn shortcut_valid(shortcut: &str) -> bool {
    (1..=32).contains(&shortcut.len())
        && shortcut.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Replaces each `{{ name }}` that has a non-empty value; the others stay exactly as written.
pub fn fill(body: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            rest = &rest[start..];
            break;
        };
        match values.get(after[..end].trim()).filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

pub struct QuickReplyService {
    shared: Shared,
}

impl QuickReplyService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The replies `actor` may use: the workspace's and their own, by shortcut, starting with `prefix`.
    pub async fn list(&self, actor: &Actor, prefix: &str) -> Result<Vec<QuickReply>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let prefix = prefix.trim().trim_start_matches('/').to_lowercase();
        Ok(quick_replies::list(&mut conn, actor.workspace_id, actor.user_id(), &prefix).await?)
    }

    /// One reply `actor` may use (someone else's personal one is not found).
    pub async fn get(&self, actor: &Actor, id: i64) -> Result<QuickReply, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        visible(&mut conn, actor, id).await
    }

    /// Whether `actor` may create and change the workspace-wide replies (pages hide the choice otherwise).
    pub fn manages_workspace_replies(&self, actor: &Actor) -> bool {
        actor.role.allows(Permission::ManageQuickReplies)
    }

    pub async fn create(&self, actor: &Actor, input: &QuickReplyInput) -> Result<QuickReply, WhatsAppError> {
        actor.require_write()?;
        let owner = match (input.personal, actor.user_id()) {
            (true, Some(user)) => Some(user),
            (true, None) => return Err(WhatsAppError::Fields(vec![("personal", Msg::new("compose.qr.key_personal"))])),
            (false, _) if !self.manages_workspace_replies(actor) => return Err(AccessError::Forbidden.into()),
            (false, _) => None,
        };
        let (shortcut, body) = checked(input)?;
        let mut tx = self.shared.db().write().await?;
        if quick_replies::shortcut_taken(&mut tx, actor.workspace_id, owner, &shortcut, None).await? {
            return Err(WhatsAppError::Fields(vec![("shortcut", Msg::new("compose.qr.shortcut_taken"))]));
        }
        let id = quick_replies::create(&mut tx, actor.workspace_id, owner, &shortcut, &body, now_millis()).await?;
        let reply = quick_replies::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(reply)
    }

    pub async fn update(&self, actor: &Actor, id: i64, input: &QuickReplyInput) -> Result<QuickReply, WhatsAppError> {
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let reply = editable(&mut tx, actor, id).await?;
        let (shortcut, body) = checked(input)?;
        if quick_replies::shortcut_taken(&mut tx, actor.workspace_id, reply.user_id, &shortcut, Some(id)).await? {
            return Err(WhatsAppError::Fields(vec![("shortcut", Msg::new("compose.qr.shortcut_taken"))]));
        }
        quick_replies::update(&mut tx, actor.workspace_id, id, &shortcut, &body, now_millis()).await?;
        let reply = quick_replies::get(&mut tx, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
        tx.commit().await?;
        Ok(reply)
    }

    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<(), WhatsAppError> {
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        editable(&mut tx, actor, id).await?;
        quick_replies::delete(&mut tx, actor.workspace_id, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The replies starting with `prefix`, filled for a conversation `actor` can see (the composer's suggestions).
    pub async fn suggest(
        &self,
        actor: &Actor,
        conversation_id: i64,
        prefix: &str,
    ) -> Result<Vec<Filled>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let values = placeholders(&mut conn, actor, conversation_id).await?;
        let prefix = prefix.trim().trim_start_matches('/').to_lowercase();
        let replies = quick_replies::list(&mut conn, actor.workspace_id, actor.user_id(), &prefix).await?;
        Ok(replies
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|reply| Filled { text: fill(&reply.body, &values), reply })
            .collect())
    }

    /// One reply filled for a conversation `actor` can see.
    pub async fn render(&self, actor: &Actor, conversation_id: i64, id: i64) -> Result<Filled, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let values = placeholders(&mut conn, actor, conversation_id).await?;
        let reply = visible(&mut conn, actor, id).await?;
        Ok(Filled { text: fill(&reply.body, &values), reply })
    }
}

/// The shortcut and body, checked; the body keeps its inner spacing.
fn checked(input: &QuickReplyInput) -> Result<(String, String), WhatsAppError> {
    let shortcut = input.shortcut.trim().trim_start_matches('/').to_owned();
    let body = input.body.trim().to_owned();
    let mut errors = Vec::new();
    if !shortcut_valid(&shortcut) {
        errors.push(("shortcut", Msg::new("compose.qr.shortcut_invalid")));
    }
    if body.is_empty() || body.chars().count() > MAX_BODY {
        errors.push(("body", Msg::new("compose.qr.body_invalid")));
    }
    if errors.is_empty() { Ok((shortcut, body)) } else { Err(WhatsAppError::Fields(errors)) }
}

/// A reply the actor may use: the workspace's, or their own.
async fn visible(conn: &mut Conn, actor: &Actor, id: i64) -> Result<QuickReply, WhatsAppError> {
    let reply = quick_replies::get(conn, actor.workspace_id, id).await?.ok_or(WhatsAppError::NotFound)?;
    match reply.user_id {
        None => Ok(reply),
        Some(owner) if Some(owner) == actor.user_id() => Ok(reply),
        Some(_) => Err(WhatsAppError::NotFound),
    }
}

/// A reply the actor may change: their own, or a workspace-wide one when they manage those.
async fn editable(conn: &mut Conn, actor: &Actor, id: i64) -> Result<QuickReply, WhatsAppError> {
    let reply = visible(conn, actor, id).await?;
    if reply.user_id.is_none() && !actor.role.allows(Permission::ManageQuickReplies) {
        return Err(AccessError::Forbidden.into());
    }
    Ok(reply)
}

/// The placeholder values of a conversation the actor can see (hidden or another workspace's: not found).
async fn placeholders(
    conn: &mut Conn,
    actor: &Actor,
    conversation_id: i64,
) -> Result<BTreeMap<String, String>, WhatsAppError> {
    let conversation = conversation_for(conn, actor, conversation_id).await?;
    let mut values = BTreeMap::new();
    if let Some(fields) = contacts::custom_fields(conn, actor.workspace_id, conversation.contact_id).await? {
        let fields: BTreeMap<String, serde_json::Value> = serde_json::from_str(&fields).unwrap_or_default();
        for (key, value) in fields {
            if let Some(text) = value.as_str() {
                values.insert(format!("contact.{key}"), text.to_owned());
            }
        }
    }
    let contact = contacts::get(conn, actor.workspace_id, conversation.contact_id).await?;
    let name = conversation.contact_name.trim().to_owned();
    values.insert("contact.first_name".into(), name.split_whitespace().next().unwrap_or_default().to_owned());
    values.insert("contact.name".into(), name);
    values.insert("contact.phone".into(), conversation.contact_phone.clone().unwrap_or_default());
    values.insert("contact.email".into(), contact.and_then(|c| c.email).unwrap_or_default());
    values.insert("number.name".into(), conversation.account_name.clone());
    if let Some(user_id) = actor.user_id()
        && let Some(user) = accounts::user_by_id(conn, user_id).await?
    {
        values.insert("agent.name".into(), user.name);
    }
    Ok(values)
}

/// A conversation of the actor's workspace that they can see.
pub(super) async fn conversation_for(
    conn: &mut Conn,
    actor: &Actor,
    conversation_id: i64,
) -> Result<Conversation, WhatsAppError> {
    let conversation =
        conversations::get(conn, actor.workspace_id, conversation_id).await?.ok_or(WhatsAppError::NotFound)?;
    if !visible_under(restriction(conn, actor).await?, &conversation) {
        return Err(WhatsAppError::NotFound);
    }
    Ok(conversation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts() {
        assert!(shortcut_valid("thanks") && shortcut_valid("a-b_9") && shortcut_valid(&"x".repeat(32)));
        assert!(!shortcut_valid("") && !shortcut_valid("Thanks") && !shortcut_valid("a b"));
        assert!(!shortcut_valid(&"x".repeat(33)) && !shortcut_valid("é"));
    }

    #[test]
    fn placeholders_fill_or_stay_visible() {
        let values: BTreeMap<String, String> = [("contact.name", "Ada"), ("agent.name", "Kim"), ("contact.email", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(fill("Hi {{contact.name}}, {{ agent.name }} here", &values), "Hi Ada, Kim here");
        assert_eq!(fill("{{contact.plan}} {{contact.email}}", &values), "{{contact.plan}} {{contact.email}}");
        assert_eq!(fill("open {{ brace", &values), "open {{ brace");
        assert_eq!(fill("👋 {{contact.name}}!", &values), "👋 Ada!");
    }
}
