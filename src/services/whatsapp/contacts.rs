//! Contacts as the inbox shows and edits them: details, custom fields, tags and the contact's other conversations.
//!
//! A contact is reached through its conversations: an agent restricted to their own conversations sees and edits
//! a contact only when one of its conversations is visible to them, and sees only those of its conversations.
//! Every edit records a conversation event on each of the contact's conversations, so open inboxes refresh.

use std::collections::BTreeMap;

use super::conversations::{restriction, visible_under};
use super::quick_replies::conversation_for;
use super::{Shared, WhatsAppError};
use crate::domain::identity::Email;
use crate::domain::msg::Msg;
use crate::services::access::Actor;
use crate::store::contacts::{self, Contact, ContactChange};
use crate::store::conversations::{self, Conversation};
use crate::store::inbox_events::{self, EventKind};
use crate::store::tags::{self, Tag};
use crate::store::{Conn, now_millis};

/// Most custom fields a contact holds.
pub const MAX_FIELDS: usize = 50;
/// Longest custom field value.
pub const MAX_FIELD_VALUE: usize = 1000;
/// Longest contact name.
const MAX_NAME: usize = 200;
/// Most contacts a search page holds.
pub const MAX_PAGE: i64 = 100;

/// A contact with everything the panel and the API show.
#[derive(Debug, Clone)]
pub struct ContactDetails {
    pub contact: Contact,
    pub custom_fields: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
    /// Its conversations the actor can see, most recent first.
    pub conversations: Vec<Conversation>,
}

/// A change to a contact; `None` keeps what is stored.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<String>,
    /// An empty text clears the address.
    pub email: Option<String>,
    /// The whole set: fields absent from it are removed.
    pub custom_fields: Option<BTreeMap<String, String>>,
    pub tag_ids: Option<Vec<i64>>,
}

/// Whether a custom field key is `^[a-z0-9_]{1,40}$`.
pub fn field_key_valid(key: &str) -> bool {
    (1..=40).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A page of contacts and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    pub next_cursor: Option<String>,
}

pub struct ContactService {
    shared: Shared,
}

impl ContactService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Contacts whose name or phone starts with `query`, newest first; `cursor` is the last id shown.
    pub async fn search(
        &self,
        actor: &Actor,
        query: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<ContactPage, WhatsAppError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(text) => Some(text.parse::<i64>().map_err(|_| field("cursor", "whatsapp.cursor_invalid"))?),
            None => None,
        };
        let mut conn = self.shared.db().read().await?;
        let restricted = restriction(&mut conn, actor).await?.is_some();
        let mut found = Vec::new();
        let mut before = before;
        // A restricted actor's page skips the contacts they cannot reach; keep reading until the page is full.
        loop {
            let rows = contacts::search(&mut conn, actor.workspace_id, query, before, limit + 1).await?;
            let exhausted = rows.len() as i64 <= limit;
            for contact in rows {
                before = Some(contact.id);
                if !restricted || !visible_conversations(&mut conn, actor, contact.id).await?.is_empty() {
                    found.push(contact);
                }
                if found.len() as i64 > limit {
                    break;
                }
            }
            if exhausted || found.len() as i64 > limit {
                break;
            }
        }
        let next_cursor = if found.len() as i64 > limit {
            found.truncate(limit as usize);
            found.last().map(|c| c.id.to_string())
        } else {
            None
        };
        Ok(ContactPage { contacts: found, next_cursor })
    }

    /// A contact the actor can reach.
    pub async fn get(&self, actor: &Actor, contact_id: i64) -> Result<ContactDetails, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        details(&mut conn, actor, contact_id).await
    }

    /// The contact of a conversation the actor can see.
    pub async fn of_conversation(&self, actor: &Actor, conversation_id: i64) -> Result<ContactDetails, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        let conversation = conversation_for(&mut conn, actor, conversation_id).await?;
        details(&mut conn, actor, conversation.contact_id).await
    }

    /// Changes a contact the actor can reach.
    pub async fn update(
        &self,
        actor: &Actor,
        contact_id: i64,
        patch: &ContactPatch,
    ) -> Result<ContactDetails, WhatsAppError> {
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let current = details(&mut tx, actor, contact_id).await?;
        let now = now_millis();
        let name = match &patch.name {
            Some(name) => name.trim().to_owned(),
            None => current.contact.name.clone(),
        };
        let email = match &patch.email {
            Some(text) if text.trim().is_empty() => None,
            Some(text) => Some(text.trim().to_owned()),
            None => current.contact.email.clone(),
        };
        let custom_fields = patch.custom_fields.clone().unwrap_or_else(|| current.custom_fields.clone());
        let mut errors = Vec::new();
        if name.chars().count() > MAX_NAME {
            errors.push(("name", Msg::new("compose.contact.name_invalid")));
        }
        if let Some(email) = &email
            && let Err(msg) = Email::parse(email)
        {
            errors.push(("email", msg));
        }
        if let Some(msg) = fields_error(&custom_fields) {
            errors.push(("custom_fields", msg));
        }
        if let Some(ids) = &patch.tag_ids {
            let mut wanted = ids.clone();
            wanted.sort_unstable();
            wanted.dedup();
            if tags::existing_ids(&mut tx, actor.workspace_id, &wanted).await? != wanted {
                errors.push(("tag_ids", Msg::new("compose.contact.tag_unknown")));
            }
        }
        if !errors.is_empty() {
            return Err(WhatsAppError::Fields(errors));
        }
        let json = serde_json::to_string(&custom_fields).map_err(|e| WhatsAppError::Internal(e.to_string()))?;
        let change = ContactChange { name: &name, email: email.as_deref(), custom_fields: &json };
        contacts::update(&mut tx, actor.workspace_id, contact_id, &change, now).await?;
        if let Some(ids) = &patch.tag_ids {
            tags::set_for_contact(&mut tx, actor.workspace_id, contact_id, ids, now).await?;
        }
        touch_conversations(&mut tx, actor.workspace_id, contact_id, now).await?;
        tx.commit().await?;
        self.get(actor, contact_id).await
    }

    /// Adds (`add`) or removes a tag on the contact of a conversation the actor can see.
    pub async fn tag(
        &self,
        actor: &Actor,
        conversation_id: i64,
        tag_id: i64,
        add: bool,
    ) -> Result<ContactDetails, WhatsAppError> {
        actor.require_write()?;
        let mut tx = self.shared.db().write().await?;
        let conversation = conversation_for(&mut tx, actor, conversation_id).await?;
        let contact_id = conversation.contact_id;
        if tags::get(&mut tx, actor.workspace_id, tag_id).await?.is_none() {
            return Err(field("tag_id", "compose.contact.tag_unknown"));
        }
        let now = now_millis();
        let changed = if add {
            tags::add_to_contact(&mut tx, actor.workspace_id, contact_id, tag_id, now).await?
        } else {
            tags::remove_from_contact(&mut tx, actor.workspace_id, contact_id, tag_id).await?
        };
        if changed {
            touch_conversations(&mut tx, actor.workspace_id, contact_id, now).await?;
        }
        tx.commit().await?;
        self.get(actor, contact_id).await
    }

    /// The workspace's tags, to offer in the panel.
    pub async fn workspace_tags(&self, actor: &Actor) -> Result<Vec<Tag>, WhatsAppError> {
        let mut conn = self.shared.db().read().await?;
        Ok(tags::list(&mut conn, actor.workspace_id).await?)
    }
}

fn field(name: &'static str, key: &'static str) -> WhatsAppError {
    WhatsAppError::Fields(vec![(name, Msg::new(key))])
}

/// What is wrong with a set of custom fields, if anything.
pub fn fields_error(fields: &BTreeMap<String, String>) -> Option<Msg> {
    if fields.len() > MAX_FIELDS {
        return Some(Msg::with("compose.contact.fields_too_many", &[("max", MAX_FIELDS.to_string())]));
    }
    if let Some(key) = fields.keys().find(|k| !field_key_valid(k)) {
        return Some(Msg::with("compose.contact.field_key_invalid", &[("key", key.clone())]));
    }
    if let Some(key) = fields.iter().find(|(_, v)| v.chars().count() > MAX_FIELD_VALUE).map(|(k, _)| k) {
        return Some(Msg::with("compose.contact.field_value_invalid", &[("key", key.clone())]));
    }
    None
}

/// The contact's conversations the actor can see.
async fn visible_conversations(
    conn: &mut Conn,
    actor: &Actor,
    contact_id: i64,
) -> Result<Vec<Conversation>, WhatsAppError> {
    let restricted_to = restriction(conn, actor).await?;
    let all = conversations::of_contact(conn, actor.workspace_id, contact_id).await?;
    Ok(all.into_iter().filter(|c| visible_under(restricted_to, c)).collect())
}

/// A contact of the workspace with at least one conversation the actor can see (or any, for those who see all).
async fn details(conn: &mut Conn, actor: &Actor, contact_id: i64) -> Result<ContactDetails, WhatsAppError> {
    let contact = contacts::get(conn, actor.workspace_id, contact_id).await?.ok_or(WhatsAppError::NotFound)?;
    let conversations = visible_conversations(conn, actor, contact_id).await?;
    if conversations.is_empty() && restriction(conn, actor).await?.is_some() {
        return Err(WhatsAppError::NotFound);
    }
    let stored = contacts::custom_fields(conn, actor.workspace_id, contact_id).await?.unwrap_or_default();
    let values: BTreeMap<String, serde_json::Value> = serde_json::from_str(&stored).unwrap_or_default();
    let custom_fields = values
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    let tags = tags::of_contact(conn, actor.workspace_id, contact_id).await?;
    Ok(ContactDetails { contact, custom_fields, tags, conversations })
}

/// Tells the open inboxes that each of the contact's conversations changed.
async fn touch_conversations(
    conn: &mut Conn,
    workspace_id: i64,
    contact_id: i64,
    now: i64,
) -> Result<(), WhatsAppError> {
    for conversation in conversations::of_contact(conn, workspace_id, contact_id).await? {
        inbox_events::record(conn, workspace_id, conversation.id, None, EventKind::Conversation, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_are_checked() {
        let ok: BTreeMap<String, String> = [("plan".to_owned(), "gold".to_owned())].into();
        assert!(fields_error(&ok).is_none());
        let bad_key: BTreeMap<String, String> = [("Plan".to_owned(), "gold".to_owned())].into();
        assert!(fields_error(&bad_key).is_some());
        let long: BTreeMap<String, String> = [("plan".to_owned(), "x".repeat(MAX_FIELD_VALUE + 1))].into();
        assert!(fields_error(&long).is_some());
        let many: BTreeMap<String, String> = (0..=MAX_FIELDS).map(|i| (format!("f{i}"), String::new())).collect();
        assert!(fields_error(&many).is_some());
        assert!(field_key_valid("order_no_2") && !field_key_valid("") && !field_key_valid(&"a".repeat(41)));
    }
}
