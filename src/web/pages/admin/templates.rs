//! The message templates pages of the workspace admin panel: the list by number with "Sync templates" for the
//! numbers whose provider lists them and the form to add one by hand (`/admin/templates`), one template's edit
//! form (`/admin/templates/{id}`), and deleting it. Only members with `ManageSettings` use them; the service checks
//! the changes, the reads are checked here since the service lets every member read templates.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::numbers::numbers_error;
use super::{Nav, Notice, WithNav, check_csrf, optional_number};
use crate::domain::role::Permission;
use crate::providers::ProviderKind;
use crate::services::whatsapp::templates::{TemplateChanges, TemplateInput, TemplateView, rules};
use crate::services::whatsapp::{NumberView, WhatsAppError};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/templates", get(list).post(create))
        .route("/admin/templates/sync", post(sync))
        .route("/admin/templates/{id}", get(edit_page).post(update))
        .route("/admin/templates/{id}/delete", post(delete))
}

fn require_admin(who: &WorkspaceUser) -> Result<(), AppError> {
    who.actor.require(Permission::ManageSettings).map_err(|e| AppError::Forbidden(e.msg()))
}

/// The add and edit form, as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateForm {
    csrf: String,
    /// A number's id, or empty for every number.
    account_id: String,
    name: String,
    language: String,
    category: String,
    status: String,
    body: String,
}

impl TemplateForm {
    fn stored(template: &TemplateView) -> Self {
        Self {
            csrf: String::new(),
            account_id: template.account_id.map(|id| id.to_string()).unwrap_or_default(),
            name: template.name.clone(),
            language: template.language.clone(),
            category: template.category.clone(),
            status: template.status.clone(),
            body: template.body.clone(),
        }
    }

    fn input(&self) -> TemplateInput {
        TemplateInput {
            account_id: optional_number(&self.account_id),
            name: self.name.clone(),
            language: self.language.clone(),
            category: self.category.clone(),
            status: self.status.clone(),
            body: self.body.clone(),
        }
    }
}

/// The choices of the form's selects: `(value, label)`.
pub struct Choices {
    pub numbers: Vec<(String, String)>,
    pub categories: Vec<(&'static str, String)>,
    pub statuses: Vec<(&'static str, String)>,
}

fn choices(page: &Page, numbers: &[NumberView]) -> Choices {
    Choices {
        numbers: numbers.iter().map(|n| (n.id.to_string(), format!("{} ({})", n.name, n.phone_number))).collect(),
        categories: rules::CATEGORIES
            .iter()
            .map(|c| (*c, page.t(&format!("templates.category_name.{c}")).to_owned()))
            .collect(),
        statuses: rules::STATUSES.iter().map(|s| (*s, status_label(page, s))).collect(),
    }
}

/// A status in words; one Meta added since shows as it came.
fn status_label(page: &Page, status: &str) -> String {
    if rules::STATUSES.contains(&status) {
        page.t(&format!("templates.status.{status}")).to_owned()
    } else {
        status.to_owned()
    }
}

/// One row of a number's table.
pub struct Row {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub status_label: String,
    pub body: String,
    pub synced: bool,
}

/// The templates of one number, or the workspace-wide ones (`account_id` `None`).
pub struct Group {
    pub account_id: Option<i64>,
    pub title: String,
    /// The number's provider lists templates: "Sync templates" is offered.
    pub can_sync: bool,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/templates.html")]
struct ListPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    groups: Vec<Group>,
    choices: Choices,
    form: TemplateForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/templates_edit.html")]
struct EditPage<'a> {
    page: &'a Page,
    nav: Nav,
    id: i64,
    choices: Choices,
    form: TemplateForm,
    errors: FieldErrors,
}

fn row(page: &Page, t: TemplateView) -> Row {
    let category = if rules::CATEGORIES.contains(&t.category.as_str()) {
        page.t(&format!("templates.category_name.{}", t.category)).to_owned()
    } else {
        t.category.clone()
    };
    Row {
        id: t.id,
        status_label: status_label(page, &t.status),
        synced: t.components.as_array().is_some_and(|c| !c.is_empty()),
        name: t.name,
        language: t.language,
        category,
        status: t.status,
        body: t.body,
    }
}

/// The list page; `form` and `errors` are what was typed into the add form after a refusal.
async fn list_page<'a>(
    state: &AppState,
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    notice: Option<Notice>,
    form: TemplateForm,
    errors: FieldErrors,
) -> Result<ListPage<'a>, AppError> {
    let services = state.services();
    let numbers = services.numbers.list(&who.actor).await.map_err(numbers_error)?;
    let mut templates = services.templates.list(&who.actor, None).await.map_err(numbers_error)?;
    let mut groups = vec![Group {
        account_id: None,
        title: page.t("templates.workspace_wide").to_owned(),
        can_sync: false,
        rows: Vec::new(),
    }];
    groups.extend(numbers.iter().map(|n| Group {
        account_id: Some(n.id),
        title: format!("{} ({})", n.name, n.phone_number),
        can_sync: ProviderKind::parse(n.provider).is_some_and(|k| k.connector().lists_templates()),
        rows: Vec::new(),
    }));
    for group in &mut groups {
        let (mine, rest): (Vec<_>, Vec<_>) = templates.into_iter().partition(|t| t.account_id == group.account_id);
        group.rows = mine.into_iter().map(|t| row(page, t)).collect();
        templates = rest;
    }
    let choices = choices(page, &numbers);
    Ok(ListPage { page, nav, notice, groups, choices, form, errors })
}

/// `?done=` and the sync's counts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
    listed: String,
    added: String,
    updated: String,
    removed: String,
}

impl DoneQuery {
    fn notice(&self, page: &Page) -> Option<Notice> {
        let message = match self.done.as_str() {
            "created" | "saved" | "deleted" => page.t(&format!("templates.{}", self.done)).to_owned(),
            "synced" => page.format(
                "templates.synced_notice",
                &[
                    ("listed", self.listed.clone()),
                    ("added", self.added.clone()),
                    ("updated", self.updated.clone()),
                    ("removed", self.removed.clone()),
                ],
            ),
            _ => return None,
        };
        Some(Notice::success(message))
    }
}

/// `GET /admin/templates`.
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let notice = query.notice(&page);
    let view = list_page(&state, &page, nav, &who, notice, TemplateForm::default(), FieldErrors::default()).await?;
    Ok(render::html(&view)?.into_response())
}

/// A refusal of the form: field errors (422) next to the fields, anything else as an error page.
fn form_errors(err: WhatsAppError, page: &Page) -> Result<FieldErrors, AppError> {
    match err {
        WhatsAppError::Fields(fields) => Ok(FieldErrors::from_msgs(&fields, page.lang)),
        other => Err(numbers_error(other)),
    }
}

/// `POST /admin/templates`: adds a template by hand.
pub async fn create(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(form): Form<TemplateForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    match state.services().templates.create(&who.actor, &form.input()).await {
        Ok(_) => Ok(Redirect::to("/admin/templates?done=created").into_response()),
        Err(err) => {
            let errors = form_errors(err, &page)?;
            let view = list_page(&state, &page, nav, &who, None, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
        }
    }
}

/// `GET /admin/templates/{id}`.
pub async fn edit_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let services = state.services();
    let template = services.templates.get(&who.actor, id).await.map_err(numbers_error)?;
    let numbers = services.numbers.list(&who.actor).await.map_err(numbers_error)?;
    let view = EditPage {
        choices: choices(&page, &numbers),
        page: &page,
        nav,
        id,
        form: TemplateForm::stored(&template),
        errors: FieldErrors::default(),
    };
    Ok(render::html(&view)?.into_response())
}

/// `POST /admin/templates/{id}`: saves the edit form (every field is sent, so every field is replaced).
pub async fn update(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(form): Form<TemplateForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    let input = form.input();
    let changes = TemplateChanges {
        account_id: Some(input.account_id),
        name: Some(input.name),
        language: Some(input.language),
        category: Some(input.category),
        status: Some(input.status),
        body: Some(input.body),
    };
    let services = state.services();
    match services.templates.update(&who.actor, id, &changes).await {
        Ok(_) => Ok(Redirect::to("/admin/templates?done=saved").into_response()),
        Err(err) => {
            let errors = form_errors(err, &page)?;
            let numbers = services.numbers.list(&who.actor).await.map_err(numbers_error)?;
            let view = EditPage { choices: choices(&page, &numbers), page: &page, nav, id, form, errors };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
        }
    }
}

/// A form with the CSRF token and, for the sync, the number.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    account_id: String,
}

/// `POST /admin/templates/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    state.services().templates.delete(&who.actor, id).await.map_err(numbers_error)?;
    Ok(Redirect::to("/admin/templates?done=deleted").into_response())
}

/// `POST /admin/templates/sync`: reads a number's templates from its provider; a refusal shows above the list.
pub async fn sync(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    let account_id = optional_number(&form.account_id).unwrap_or(-1);
    match state.services().templates.sync(&who.actor, account_id).await {
        Ok(report) => Ok(Redirect::to(&format!(
            "/admin/templates?done=synced&listed={}&added={}&updated={}&removed={}",
            report.listed, report.added, report.updated, report.removed
        ))
        .into_response()),
        Err(WhatsAppError::Refused { msg, .. }) => {
            let notice = Some(Notice::error(msg.render(page.lang)));
            let view =
                list_page(&state, &page, nav, &who, notice, TemplateForm::default(), FieldErrors::default()).await?;
            Ok((StatusCode::CONFLICT, render::html(&view)?).into_response())
        }
        Err(other) => Err(numbers_error(other)),
    }
}
