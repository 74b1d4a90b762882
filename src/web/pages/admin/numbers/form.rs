//! The number forms: connecting a number (`GET /admin/numbers/new?provider=…`, `POST /admin/numbers`) and changing
//! one (`POST /admin/numbers/{id}`). Credential fields are the provider's own, posted as `cred_<name>`. Secret ones
//! are write-only: never written back into a page, not even after a failed submit, and blank on edit keeps the
//! stored value.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{NumberPage, number_page, numbers_error, require_admin};
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::providers::ProviderKind;
use crate::services::whatsapp::numbers::{NewNumber, NumberChanges};
use crate::services::whatsapp::{NumberView, WhatsAppError};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, Notice, WithNav, check_csrf, optional_number};
use crate::web::render;
use crate::web::state::AppState;

/// The prefix of credential fields in the forms (`cred_access_token`), so a provider's field names never clash
/// with the form's own (`name`, `phone_number`, …).
const CRED_PREFIX: &str = "cred_";

/// A posted form as name → value: the credential fields depend on the provider, so no fixed struct fits. A name
/// sent twice keeps its last value (the warm-up checkbox follows a hidden `0`, so unticked still says "off").
struct Posted(BTreeMap<String, String>);

impl Posted {
    fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs.into_iter().collect())
    }

    fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The value of a field the form had, `None` when it was not sent at all (left as it is).
    fn sent(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The provider's credential fields that were sent, by the provider's names.
    fn credentials(&self, kind: ProviderKind) -> BTreeMap<String, String> {
        kind.connector()
            .credential_fields()
            .iter()
            .filter_map(|f| Some((f.name.to_owned(), self.sent(&format!("{CRED_PREFIX}{}", f.name))?.to_owned())))
            .collect()
    }
}

/// One credential field of a form.
pub struct CredentialInput {
    pub name: &'static str,
    pub secret: bool,
    pub required: bool,
    /// On the edit form: whether a value is stored (the only thing said about a secret).
    pub editing: bool,
    pub set: bool,
    /// A non-secret field's value; always empty for a secret one.
    pub value: String,
    pub hint: String,
    pub error: Option<String>,
}

/// The credential fields of `kind`: non-secret values from what was typed, else from what is stored.
fn credential_inputs(
    page: &Page,
    kind: ProviderKind,
    stored: Option<&NumberView>,
    posted: Option<&Posted>,
    errors: &FieldErrors,
) -> Vec<CredentialInput> {
    kind.connector()
        .credential_fields()
        .iter()
        .map(|f| {
            let stored = stored.and_then(|n| n.credentials.iter().find(|c| c.name == f.name));
            let typed = posted.and_then(|p| p.sent(&format!("{CRED_PREFIX}{}", f.name)));
            let value = match (f.secret, typed) {
                (true, _) => String::new(),
                (false, Some(typed)) => typed.to_owned(),
                (false, None) => stored.and_then(|c| c.value.clone()).unwrap_or_default(),
            };
            CredentialInput {
                name: f.name,
                secret: f.secret,
                required: f.required,
                editing: stored.is_some(),
                set: stored.is_some_and(|c| c.set),
                value,
                hint: page.t(&format!("numbers.hint.{}.{}", kind.as_str(), f.name)).to_owned(),
                error: errors.get(f.name).map(str::to_owned),
            }
        })
        .collect()
}

/// Splits a service's field errors into the form's own and the credential fields' (the service files them all
/// under `credentials`, naming the field in the message's `field` argument).
fn split_errors(fields: &[(&'static str, Msg)], kind: Option<ProviderKind>, lang: Lang) -> (FieldErrors, FieldErrors) {
    let known = kind.map_or(&[][..], |k| k.connector().credential_fields());
    let (mut own, mut credentials) = (Vec::new(), Vec::new());
    for (field, msg) in fields {
        let named = (*field == "credentials")
            .then(|| msg.args.iter().find(|(arg, _)| *arg == "field"))
            .flatten()
            .and_then(|(_, value)| known.iter().find(|f| f.name == value));
        match named {
            Some(f) => credentials.push((f.name, msg.clone())),
            None => own.push((*field, msg.clone())),
        }
    }
    (FieldErrors::from_msgs(&own, lang), FieldErrors::from_msgs(&credentials, lang))
}

/// How a failed submit is shown: next to the fields (422), as an alert over the form (409), or as an error page.
enum Failure {
    Fields(Vec<(&'static str, Msg)>),
    Alert(Notice),
    Page(AppError),
}

impl Failure {
    fn from(err: WhatsAppError, lang: Lang) -> Self {
        match err {
            WhatsAppError::Fields(fields) => Self::Fields(fields),
            WhatsAppError::Refused { msg, .. } => Self::Alert(Notice::error(msg.render(lang))),
            other => Self::Page(numbers_error(other)),
        }
    }
}

// ---- Connecting a number --------------------------------------------------------------------------------------

/// A provider to choose.
pub struct ProviderChoice {
    pub id: &'static str,
    pub label: &'static str,
    pub about: String,
    pub current: bool,
    pub href: String,
}

/// The connect form's values.
pub struct NewForm {
    /// Empty until a provider is chosen.
    pub provider: &'static str,
    pub provider_label: &'static str,
    pub about: String,
    pub name: String,
    pub phone_number: String,
    pub api_base_url: String,
    /// Self-hosted providers (Evolution) have no default address.
    pub base_url_required: bool,
    pub default_base_url: &'static str,
    pub credentials: Vec<CredentialInput>,
}

#[derive(Template)]
#[template(path = "admin/number_new.html")]
struct NewPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    providers: Vec<ProviderChoice>,
    form: NewForm,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    provider: String,
}

fn new_view<'a>(
    page: &'a Page,
    nav: Nav,
    kind: Option<ProviderKind>,
    posted: Option<&Posted>,
    notice: Option<Notice>,
    errors: &[(&'static str, Msg)],
) -> NewPage<'a> {
    let (errors, credential_errors) = split_errors(errors, kind, page.lang);
    let about = |k: ProviderKind| page.t(&format!("numbers.about.{}", k.as_str())).to_owned();
    let providers = ProviderKind::ALL
        .into_iter()
        .map(|k| ProviderChoice {
            id: k.as_str(),
            label: k.label(),
            about: about(k),
            current: Some(k) == kind,
            href: format!("/admin/numbers/new?provider={}", k.as_str()),
        })
        .collect();
    let typed = |name: &str| posted.map(|p| p.get(name).to_owned()).unwrap_or_default();
    let form = NewForm {
        provider: kind.map_or("", ProviderKind::as_str),
        provider_label: kind.map_or("", ProviderKind::label),
        about: kind.map(about).unwrap_or_default(),
        name: typed("name"),
        phone_number: typed("phone_number"),
        api_base_url: typed("api_base_url"),
        base_url_required: kind.is_some_and(|k| k.connector().default_base_url().is_none()),
        default_base_url: kind.and_then(|k| k.connector().default_base_url()).unwrap_or_default(),
        credentials: kind.map(|k| credential_inputs(page, k, None, posted, &credential_errors)).unwrap_or_default(),
    };
    NewPage { page, nav, notice, providers, form, errors }
}

/// `GET /admin/numbers/new?provider=meta`: choose a provider, then fill in its fields.
pub async fn new_page(
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<NewQuery>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let kind = ProviderKind::parse(query.provider.trim());
    Ok(render::html(&new_view(&page, nav, kind, None, None, &[]))?.into_response())
}

/// `POST /admin/numbers`: connects a number, then shows its page (webhook setup next).
pub async fn create(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let posted = Posted::new(pairs);
    check_csrf(&who.user, posted.get("csrf"))?;
    let kind = ProviderKind::parse(posted.get("provider").trim());
    let new = NewNumber {
        name: posted.get("name").to_owned(),
        provider: posted.get("provider").to_owned(),
        phone_number: posted.get("phone_number").to_owned(),
        credentials: kind.map(|k| posted.credentials(k)).unwrap_or_default(),
        api_base_url: Some(posted.get("api_base_url").to_owned()),
    };
    let (status, notice, errors) = match state.services().numbers.create(&who.actor, &new).await {
        Ok(number) => return Ok(Redirect::to(&format!("/admin/numbers/{}?done=created", number.id)).into_response()),
        Err(err) => match Failure::from(err, page.lang) {
            Failure::Page(err) => return Err(err),
            Failure::Fields(fields) => (StatusCode::UNPROCESSABLE_ENTITY, None, fields),
            Failure::Alert(notice) => (StatusCode::CONFLICT, Some(notice), Vec::new()),
        },
    };
    let view = new_view(&page, nav, kind, Some(&posted), notice, &errors);
    Ok((status, render::html(&view)?).into_response())
}

// ---- Changing a number ----------------------------------------------------------------------------------------

/// The edit form's values: the stored ones, or what was typed after a failed change.
pub struct EditForm {
    pub name: String,
    /// `active` or `disabled`.
    pub status: String,
    pub api_base_url: String,
    pub warmup_enabled: bool,
    pub warmup_schedule: String,
    /// Empty: unlimited.
    pub messaging_limit: String,
    pub throughput_per_second: String,
    pub credentials: Vec<CredentialInput>,
}

impl EditForm {
    /// The stored values of a number.
    pub fn stored(page: &Page, number: &NumberView) -> Self {
        let quota = &number.quota;
        Self {
            name: number.name.clone(),
            status: number.status.clone(),
            api_base_url: number.api_base_url.clone().unwrap_or_default(),
            warmup_enabled: quota.warmup_enabled,
            warmup_schedule: quota.warmup_schedule.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
            messaging_limit: quota.messaging_limit.map(|n| n.to_string()).unwrap_or_default(),
            throughput_per_second: quota.throughput_per_second.to_string(),
            credentials: number
                .kind()
                .map(|k| credential_inputs(page, k, Some(number), None, &FieldErrors::default()))
                .unwrap_or_default(),
        }
    }

    /// What was typed (secrets left out), with the credential fields' errors.
    fn typed(page: &Page, number: &NumberView, posted: &Posted, credential_errors: &FieldErrors) -> Self {
        let stored = Self::stored(page, number);
        let or_stored = |name: &str, stored: String| posted.sent(name).map_or(stored, str::to_owned);
        Self {
            name: or_stored("name", stored.name),
            status: or_stored("status", stored.status),
            api_base_url: or_stored("api_base_url", stored.api_base_url),
            warmup_enabled: posted.sent("warmup_enabled").map_or(stored.warmup_enabled, is_on),
            warmup_schedule: or_stored("warmup_schedule", stored.warmup_schedule),
            messaging_limit: or_stored("messaging_limit", stored.messaging_limit),
            throughput_per_second: or_stored("throughput_per_second", stored.throughput_per_second),
            credentials: number
                .kind()
                .map(|k| credential_inputs(page, k, Some(number), Some(posted), credential_errors))
                .unwrap_or_default(),
        }
    }
}

/// A checkbox's value: ticked sends `1` (after the hidden `0`).
fn is_on(value: &str) -> bool {
    matches!(value, "1" | "on" | "true")
}

/// The changes a submitted edit form asks for; a field the form did not send is left as it is.
fn changes(posted: &Posted, kind: Option<ProviderKind>) -> NumberChanges {
    let text = |name: &str| posted.sent(name).map(str::to_owned);
    NumberChanges {
        name: text("name"),
        credentials: kind.map(|k| posted.credentials(k)).filter(|c| !c.is_empty()),
        // Blank clears it, back to the provider's default (the service refuses that where there is none).
        api_base_url: text("api_base_url"),
        status: text("status"),
        warmup_enabled: posted.sent("warmup_enabled").map(is_on),
        // Blank keeps the schedule: switching the warm-up off should not need one.
        warmup_schedule: text("warmup_schedule").filter(|s| !s.trim().is_empty()),
        messaging_limit: posted.sent("messaging_limit").map(optional_number),
        throughput_per_second: posted.sent("throughput_per_second").and_then(optional_number),
    }
}

/// `POST /admin/numbers/{id}`: name, status, credentials (blank secret = keep), base URL, warm-up and limits.
pub async fn update(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let posted = Posted::new(pairs);
    check_csrf(&who.user, posted.get("csrf"))?;
    let numbers = &state.services().numbers;
    // The provider decides which credential fields the form has; reading also answers 404 for another workspace's.
    let number = numbers.get(&who.actor, id).await.map_err(numbers_error)?;
    let kind = number.kind();
    let failure = match numbers.update(&who.actor, id, &changes(&posted, kind)).await {
        Ok(_) => return Ok(Redirect::to(&format!("/admin/numbers/{id}?done=saved")).into_response()),
        Err(err) => Failure::from(err, page.lang),
    };
    let (status, notice, errors) = match failure {
        Failure::Page(err) => return Err(err),
        Failure::Fields(fields) => (StatusCode::UNPROCESSABLE_ENTITY, None, fields),
        Failure::Alert(notice) => (StatusCode::CONFLICT, Some(notice), Vec::new()),
    };
    let (errors, credential_errors) = split_errors(&errors, kind, page.lang);
    let edit = EditForm::typed(&page, &number, &posted, &credential_errors);
    let view: NumberPage<'_> = number_page(&page, nav, &who, number, Some(edit), notice, errors);
    Ok((status, render::html(&view)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        Posted::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn credentials_are_the_providers_own_fields() {
        let form = posted(&[("cred_access_token", "tok"), ("cred_phone_number_id", "123"), ("cred_api_key", "x")]);
        let sent = form.credentials(ProviderKind::Meta);
        assert_eq!(sent.keys().collect::<Vec<_>>(), ["access_token", "phone_number_id"]);
        assert!(form.credentials(ProviderKind::Twilio).is_empty());
    }

    #[test]
    fn unsent_fields_are_left_alone() {
        let none = changes(&posted(&[("csrf", "x")]), Some(ProviderKind::Meta));
        assert!(none.name.is_none() && none.credentials.is_none() && none.warmup_enabled.is_none());
        assert!(none.messaging_limit.is_none() && none.throughput_per_second.is_none());
        let all = changes(
            &posted(&[
                ("warmup_enabled", "0"),
                ("warmup_enabled", "1"),
                ("warmup_schedule", " "),
                ("messaging_limit", ""),
                ("throughput_per_second", "lots"),
            ]),
            Some(ProviderKind::Meta),
        );
        assert_eq!(all.warmup_enabled, Some(true), "the ticked box wins over the hidden 0");
        assert_eq!(all.warmup_schedule, None);
        assert_eq!(all.messaging_limit, Some(None), "blank is unlimited");
        assert_eq!(all.throughput_per_second, Some(-1), "the service refuses it with its own message");
    }

    #[test]
    fn credential_errors_go_to_their_field() {
        let errors = [
            ("credentials", Msg::with("whatsapp.credential_missing", &[("field", "access_token".to_owned())])),
            ("credentials", Msg::with("whatsapp.credential_unknown", &[("field", "nope".to_owned())])),
            ("name", Msg::new("whatsapp.status_invalid")),
        ];
        let (own, credentials) = split_errors(&errors, Some(ProviderKind::Meta), Lang::En);
        assert!(credentials.get("access_token").is_some_and(|m| m.contains("access_token")));
        assert!(own.get("credentials").is_some() && own.get("name").is_some());
        assert!(own.get("access_token").is_none());
    }
}
