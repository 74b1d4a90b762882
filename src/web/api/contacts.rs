//! `/api/v1/contacts`: search the workspace's contacts, read and change one (name, email, custom fields, tags),
//! and list its conversations.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::Endpoint;
use super::Verb::{Get, Patch};
use super::at;
use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::messages::ConversationView;
use super::numbers::whatsapp;
use super::views::time;
use crate::services::whatsapp::contacts::{ContactDetails, ContactPatch};
use crate::store::contacts::Contact;
use crate::web::error::AppError;
use crate::web::state::AppState;

const DEFAULT_PAGE: i64 = 25;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        at(Get, "/api/v1/contacts", list),
        at(Get, "/api/v1/contacts/{id}", show),
        at(Patch, "/api/v1/contacts/{id}", update),
        at(Get, "/api/v1/contacts/{id}/conversations", conversations),
    ]
}

#[derive(Debug, Serialize)]
pub struct ContactSummary {
    id: i64,
    name: String,
    phone_number: Option<String>,
    email: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Contact> for ContactSummary {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            name: c.name,
            phone_number: c.phone,
            email: c.email,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TagView {
    id: i64,
    name: String,
    color: String,
}

#[derive(Debug, Serialize)]
pub struct ContactView {
    #[serde(flatten)]
    contact: ContactSummary,
    custom_fields: BTreeMap<String, String>,
    tags: Vec<TagView>,
}

impl From<ContactDetails> for ContactView {
    fn from(d: ContactDetails) -> Self {
        Self {
            contact: d.contact.into(),
            custom_fields: d.custom_fields,
            tags: d.tags.into_iter().map(|t| TagView { id: t.id, name: t.name, color: t.color }).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ContactList {
    contacts: Vec<ContactSummary>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    /// Name or phone prefix.
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ContactList>, AppError> {
    let page = state
        .services()
        .contacts
        .search(
            &actor,
            query.q.as_deref().unwrap_or_default(),
            query.cursor.as_deref(),
            query.limit.unwrap_or(DEFAULT_PAGE),
        )
        .await
        .map_err(whatsapp)?;
    Ok(Json(ContactList {
        contacts: page.contacts.into_iter().map(ContactSummary::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<ContactView>, AppError> {
    Ok(Json(state.services().contacts.get(&actor, id).await.map_err(whatsapp)?.into()))
}

/// Absent fields stay as they are; `custom_fields` replaces the whole set; `tag_ids` the whole set of tags.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactChange {
    name: Option<String>,
    /// `null` or `""` clears it.
    #[serde(deserialize_with = "present")]
    email: Option<Option<String>>,
    custom_fields: Option<BTreeMap<String, String>>,
    tag_ids: Option<Vec<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(change): ApiJson<ContactChange>,
) -> Result<Json<ContactView>, AppError> {
    let patch = ContactPatch {
        name: change.name,
        email: change.email.map(Option::unwrap_or_default),
        custom_fields: change.custom_fields,
        tag_ids: change.tag_ids,
    };
    Ok(Json(state.services().contacts.update(&actor, id, &patch).await.map_err(whatsapp)?.into()))
}

#[derive(Debug, Serialize)]
pub struct ContactConversations {
    conversations: Vec<ConversationView>,
}

pub async fn conversations(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<ContactConversations>, AppError> {
    let details = state.services().contacts.get(&actor, id).await.map_err(whatsapp)?;
    Ok(Json(ContactConversations {
        conversations: details.conversations.into_iter().map(ConversationView::from).collect(),
    }))
}
