//! The composer's template picker: the approved templates of the conversation's number (its own and the
//! workspace-wide ones), one labelled input per body variable, and a preview of the filled message.
//!
//! Without JavaScript everything is a round trip: choosing a template is a GET (`/inbox/{id}?template=<id>`) that
//! renders its variable form, "Preview" posts the form and renders the page again with the preview and what was
//! typed, "Send" posts it to the same route. `template_picker.js` only fills the preview live and chooses on change.

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde_json::Value;

use super::view::Composer;
use super::{InboxQuery, inbox_error, inbox_page};
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::templates::{TemplateView, rules};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::admin::{WithNav, check_csrf};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/inbox/{id}/template", post(submit))
}

/// A template to choose.
pub struct PickerOption {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

/// One body variable's input.
pub struct VariableField {
    /// `var_1` for `{{1}}`.
    pub name: &'static str,
    pub label: String,
    pub value: String,
    /// The provider's example value, as a placeholder.
    pub example: String,
}

/// The chosen template: its form and its preview.
pub struct Chosen {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub header: Option<String>,
    /// The body with its `{{n}}` placeholders (the script fills it live).
    pub body: String,
    /// The body filled with what was typed so far.
    pub preview: String,
    pub footer: Option<String>,
    pub buttons: Vec<String>,
    pub fields: Vec<VariableField>,
    /// Why it cannot be sent from here, in words.
    pub unsupported: Option<String>,
}

/// The picker's state: what to offer, and what was chosen and typed.
#[derive(Default)]
pub struct Picker {
    /// The approved templates of the number; empty: the manual name-and-language form is the fallback.
    pub options: Vec<PickerOption>,
    pub chosen: Option<Chosen>,
    /// The template posted (else `?template=`).
    pub selected: Option<i64>,
    /// The variables as typed, `values[0]` for `{{1}}`.
    pub values: Vec<String>,
    pub errors: FieldErrors,
    /// A refusal (not approved, window, quota), shown above the form.
    pub error: Option<String>,
    /// The list's filters, carried by the GET form that chooses a template.
    pub filters: Vec<(&'static str, String)>,
}

impl Picker {
    /// Whether the template box starts open: something was chosen, or a send was refused.
    pub fn open(&self) -> bool {
        self.chosen.is_some() || self.error.is_some()
    }
}

/// The example values Meta keeps with a template's body (`example.body_text[0]`).
fn examples(components: &Value) -> Vec<String> {
    components
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("body")))
        .and_then(|c| c.pointer("/example/body_text/0"))
        .and_then(Value::as_array)
        .map(|values| values.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn chosen(page: &Page, template: &TemplateView, values: &[String]) -> Chosen {
    let examples = examples(&template.components);
    let fields = rules::VARIABLE_FIELDS
        .iter()
        .enumerate()
        .take(template.variables)
        .map(|(index, name)| VariableField {
            name,
            label: page.format("templates.picker.variable", &[("n", (index + 1).to_string())]),
            value: values.get(index).cloned().unwrap_or_default(),
            example: examples.get(index).cloned().unwrap_or_default(),
        })
        .collect();
    Chosen {
        id: template.id,
        name: template.name.clone(),
        language: template.language.clone(),
        header: template.parts.header.clone(),
        body: template.body.clone(),
        preview: rules::fill(&template.body, values),
        footer: template.parts.footer.clone(),
        buttons: template.parts.buttons.clone(),
        fields,
        unsupported: template.parts.unsupported.map(|key| page.t(key).to_owned()),
    }
}

/// Fills the composer's picker for a conversation on `account_id`: the number's approved templates, and the one
/// chosen (posted, else `?template=`) with its fields and preview. Nothing when the provider sends no templates.
pub async fn fill(
    state: &AppState,
    page: &Page,
    who: &WorkspaceUser,
    account_id: i64,
    query: &InboxQuery,
    mut composer: Composer,
) -> Result<Composer, AppError> {
    if !composer.templates {
        return Ok(composer);
    }
    let templates = state.services().templates.approved_for(&who.actor, account_id).await.map_err(inbox_error)?;
    let picker = &mut composer.picker;
    let selected = picker.selected.or_else(|| query.template.trim().parse().ok());
    picker.options = templates
        .iter()
        .map(|t| PickerOption {
            id: t.id,
            label: format!("{} · {}", t.name, t.language),
            selected: Some(t.id) == selected,
        })
        .collect();
    picker.chosen = templates.iter().find(|t| Some(t.id) == selected).map(|t| chosen(page, t, &picker.values));
    picker.filters = [("number", &query.number), ("status", &query.status), ("q", &query.q)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
    Ok(composer)
}

/// The posted picker form: `template_id`, `action` (`preview` or `send`) and `var_1`…`var_n`.
struct Posted {
    csrf: String,
    template_id: Option<i64>,
    preview: bool,
    values: Vec<String>,
}

fn posted(pairs: Vec<(String, String)>) -> Posted {
    let mut form = Posted { csrf: String::new(), template_id: None, preview: false, values: Vec::new() };
    for (name, value) in pairs {
        match name.as_str() {
            "csrf" => form.csrf = value,
            "template_id" => form.template_id = value.trim().parse().ok(),
            "action" => form.preview = value == "preview",
            other => {
                let index = rules::VARIABLE_FIELDS.iter().position(|f| *f == other);
                if let Some(index) = index {
                    if form.values.len() <= index {
                        form.values.resize(index + 1, String::new());
                    }
                    form.values[index] = value;
                }
            }
        }
    }
    form
}

/// `POST /inbox/{id}/template`: "Preview" renders the thread again with the preview; "Send" sends the template
/// with its variables and goes back to the thread. A missing variable is an error at its field (422), a template
/// that cannot be sent a refusal above the form (409); nothing is sent either way and what was typed stays.
pub async fn submit(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<InboxQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = posted(pairs);
    check_csrf(&who.user, &form.csrf)?;
    let mut picker = Picker { selected: form.template_id, values: form.values, ..Picker::default() };
    let status = if form.preview {
        // Reading the conversation first keeps a hidden or foreign one a 404, as for every other action.
        state.services().conversations.get(&who.actor, id).await.map_err(inbox_error)?;
        StatusCode::OK
    } else {
        let Some(template_id) = form.template_id else {
            return Err(AppError::Invalid(vec![("template", crate::domain::msg::Msg::new("templates.unknown"))]));
        };
        match state.services().templates.send(&who.actor, id, template_id, &picker.values).await {
            Ok(_) => return Ok(Redirect::to(&format!("/inbox/{id}{}", query.filters())).into_response()),
            Err(WhatsAppError::Fields(fields)) => {
                picker.errors = FieldErrors::from_msgs(&fields, page.lang);
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Err(WhatsAppError::Refused { msg, .. }) => {
                picker.error = Some(msg.render(page.lang));
                StatusCode::CONFLICT
            }
            Err(other) => return Err(inbox_error(other)),
        }
    };
    let composer = Composer { picker, ..Composer::default() };
    let view = inbox_page(&state, &page, nav, &who, &query, Some((id, composer))).await?;
    Ok((status, render::html(&view)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_keeps_variables_by_number() {
        let form = posted(vec![
            ("csrf".into(), "t".into()),
            ("template_id".into(), "7".into()),
            ("var_2".into(), "FALL25".into()),
            ("var_1".into(), "Mark".into()),
            ("var_99".into(), "ignored".into()),
            ("action".into(), "preview".into()),
        ]);
        assert_eq!(form.template_id, Some(7));
        assert!(form.preview);
        assert_eq!(form.values, ["Mark", "FALL25"]);
        assert!(!posted(vec![("action".into(), "send".into())]).preview);
    }

    #[test]
    fn examples_come_from_the_body_component() {
        let listing: Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/providers/meta-cloud-api/templates_list_response.json"
        ))
        .unwrap();
        assert_eq!(examples(&listing["data"][1]["components"]), ["Mark", "FALL25"]);
        assert!(examples(&listing["data"][0]["components"]).is_empty());
    }
}
