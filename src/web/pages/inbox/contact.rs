//! The contact panel beside the thread: name, phone, email, custom fields, tags and the contact's other
//! conversations, edited by plain forms (`POST /inbox/{id}/contact`, `POST /inbox/{id}/contact/tags`) through the
//! conversation, so an agent edits only the contacts of conversations they can see.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::organize::Chip;
use super::view::{conversation_status, local};
use super::{InboxQuery, inbox_error, inbox_page};
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::contacts::{ContactDetails, ContactPatch};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::admin::{WithNav, check_csrf, optional_number};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/inbox/{id}/contact", post(save)).route("/inbox/{id}/contact/tags", post(tag))
}

/// One of the contact's conversations.
pub struct OtherConversation {
    pub href: String,
    pub number: String,
    pub status: String,
    pub status_label: String,
    pub time: String,
    /// The one open beside the panel.
    pub current: bool,
}

/// The panel.
pub struct ContactPanel {
    pub conversation_id: i64,
    pub name: String,
    pub phone: String,
    pub email: String,
    /// `(key, value)`, by key.
    pub fields: Vec<(String, String)>,
    pub new_key: String,
    pub new_value: String,
    pub tags: Vec<Chip>,
    /// The workspace's tags the contact does not carry.
    pub other_tags: Vec<Chip>,
    pub conversations: Vec<OtherConversation>,
    pub errors: FieldErrors,
    /// The list's filters, kept by the forms.
    pub qs: String,
}

/// The panel of conversation `id`'s contact.
pub(super) async fn panel(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    id: i64,
    qs: &str,
    tz: &jiff::tz::TimeZone,
) -> Result<ContactPanel, AppError> {
    let services = state.services();
    let details: ContactDetails = services.contacts.of_conversation(&who.actor, id).await.map_err(inbox_error)?;
    let all_tags = services.contacts.workspace_tags(&who.actor).await.map_err(inbox_error)?;
    let carried: BTreeSet<i64> = details.tags.iter().map(|t| t.id).collect();
    Ok(ContactPanel {
        conversation_id: id,
        name: details.contact.name.clone(),
        phone: details.contact.phone.clone().unwrap_or_default(),
        email: details.contact.email.clone().unwrap_or_default(),
        fields: details.custom_fields.clone().into_iter().collect(),
        new_key: String::new(),
        new_value: String::new(),
        tags: details.tags.iter().map(Chip::from).collect(),
        other_tags: all_tags.iter().filter(|t| !carried.contains(&t.id)).map(Chip::from).collect(),
        conversations: details
            .conversations
            .iter()
            .map(|c| OtherConversation {
                href: format!("/inbox/{}{qs}", c.id),
                number: c.account_name.clone(),
                status: c.status.clone(),
                status_label: conversation_status(page, &c.status),
                time: local(c.last_message_at.unwrap_or(c.created_at), tz, "%Y-%m-%d %H:%M"),
                current: c.id == id,
            })
            .collect(),
        errors: FieldErrors::default(),
        qs: qs.to_owned(),
    })
}

/// The contact form as typed: `name`, `email`, `field.<key>` per custom field, `remove` (repeated) for the
/// fields to drop, and `new_key` / `new_value` to add one.
#[derive(Debug, Default)]
struct ContactForm {
    csrf: String,
    name: String,
    email: String,
    fields: BTreeMap<String, String>,
    new_key: String,
    new_value: String,
}

impl ContactForm {
    fn parse(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        let mut removed = BTreeSet::new();
        for (name, value) in pairs {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "name" => form.name = value,
                "email" => form.email = value,
                "remove" => {
                    removed.insert(value);
                }
                "new_key" => form.new_key = value.trim().to_owned(),
                "new_value" => form.new_value = value,
                other => {
                    if let Some(key) = other.strip_prefix("field.") {
                        form.fields.insert(key.to_owned(), value);
                    }
                }
            }
        }
        form.fields.retain(|key, _| !removed.contains(key));
        form
    }

    /// The whole set of custom fields after this edit.
    fn custom_fields(&self) -> BTreeMap<String, String> {
        let mut fields = self.fields.clone();
        if !self.new_key.is_empty() {
            fields.insert(self.new_key.clone(), self.new_value.clone());
        }
        fields
    }
}

/// `POST /inbox/{id}/contact`: saves the contact, then back to the thread; bad input shows the panel again with
/// the errors and what was typed (422), nothing saved.
pub async fn save(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = ContactForm::parse(pairs);
    check_csrf(&who.user, &form.csrf)?;
    let services = state.services();
    let details = services.contacts.of_conversation(&who.actor, id).await.map_err(inbox_error)?;
    let patch = ContactPatch {
        name: Some(form.name.clone()),
        email: Some(form.email.clone()),
        custom_fields: Some(form.custom_fields()),
        tag_ids: None,
    };
    match services.contacts.update(&who.actor, details.contact.id, &patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/inbox/{id}{}#contact", query.filters())).into_response()),
        Err(WhatsAppError::Fields(fields)) => {
            let mut view = inbox_page(&state, &page, nav, &who, &query, Some((id, Default::default()))).await?;
            if let Some(panel) = view.thread.as_mut().and_then(|t| t.contact.as_mut()) {
                panel.name = form.name.clone();
                panel.email = form.email.clone();
                panel.fields = form.fields.clone().into_iter().collect();
                panel.new_key = form.new_key.clone();
                panel.new_value = form.new_value.clone();
                panel.errors = FieldErrors::from_msgs(&fields, page.lang);
            }
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
        }
        Err(other) => Err(inbox_error(other)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagForm {
    csrf: String,
    tag_id: String,
    /// `add` or `remove`.
    action: String,
}

/// `POST /inbox/{id}/contact/tags`: adds or removes one tag on the contact, then back to the thread.
pub async fn tag(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(form): Form<TagForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    let tag_id = optional_number(&form.tag_id).ok_or(AppError::NotFound)?;
    let add = form.action != "remove";
    state.services().contacts.tag(&who.actor, id, tag_id, add).await.map_err(inbox_error)?;
    Ok(Redirect::to(&format!("/inbox/{id}{}#contact", query.filters())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_adds_keeps_and_removes_fields() {
        let pairs = [
            ("csrf", "t"),
            ("name", "Ada"),
            ("field.plan", "gold"),
            ("field.city", "Leeds"),
            ("remove", "city"),
            ("new_key", " order "),
            ("new_value", "1042"),
        ];
        let form = ContactForm::parse(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        let fields = form.custom_fields();
        assert_eq!(fields.get("plan").map(String::as_str), Some("gold"));
        assert_eq!(fields.get("order").map(String::as_str), Some("1042"));
        assert!(!fields.contains_key("city"));
    }
}
