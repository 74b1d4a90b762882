//! The instance owner's panel (`/owner`): every workspace (create, suspend, reactivate, delete, limits), the instance
//! settings, the whole audit log and every job (`/owner/jobs`). Anyone but the owner gets 404 from [`OwnerUser`], so
//! the area stays invisible.

pub(crate) mod backups;
mod jobs;
mod tls;
pub(crate) use tls::https_error;
mod update;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::domain::msg::Msg;
use crate::services::limits::WorkspaceLimits;
use crate::services::settings::{InstanceSettings, SettingsError};
use crate::services::workspaces::{NewWorkspace, WorkspaceError, WorkspaceSummary};
use crate::web::error::AppError;
use crate::web::extract::OwnerUser;
use crate::web::forms::{CsrfConfirm, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::{
    AuditInput, Nav, Notice, WithNav, audit_view, check_csrf, languages, local_date, optional_number, timezones, zone,
};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/owner", get(index))
        .route("/owner/workspaces", post(create))
        .route("/owner/workspaces/{id}", get(workspace_page))
        .route("/owner/workspaces/{id}/limits", post(set_limits))
        .route("/owner/workspaces/{id}/status", post(set_status))
        .route("/owner/workspaces/{id}/delete", post(delete))
        .route("/owner/settings", get(settings_page).post(save_settings))
        .route("/owner/audit", get(audit_log))
        .route("/owner/jobs", get(jobs::list))
        .route("/owner/jobs/{id}/retry", post(jobs::retry))
        .route("/owner/jobs/{id}/discard", post(jobs::discard))
        .merge(backups::routes())
        .merge(tls::routes())
        .merge(update::routes())
}

// ---- View models ----------------------------------------------------------------------------------------------

/// A workspace as the owner's table shows it.
pub struct WorkspaceRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub suspended: bool,
    pub members: i64,
    pub timezone: String,
    /// The limits that are set, as (catalog key of the label, value); empty when the workspace has none.
    pub set_limits: Vec<(&'static str, i64)>,
    pub created: String,
}

fn workspace_row(summary: &WorkspaceSummary) -> WorkspaceRow {
    let w = &summary.workspace;
    WorkspaceRow {
        id: w.id,
        name: w.name.clone(),
        slug: w.slug.clone(),
        suspended: w.status != "active",
        members: summary.members,
        timezone: w.timezone.clone(),
        set_limits: [
            ("owner.limits.agents", summary.limits.agents),
            ("owner.limits.numbers", summary.limits.numbers),
            ("owner.limits.contacts", summary.limits.contacts),
            ("owner.limits.messages_per_month", summary.limits.messages_per_month),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect(),
        created: local_date(w.created_at, &zone(&w.timezone)),
    }
}

/// How a failed change is shown.
enum Shown {
    Fields(FieldErrors),
    Alert(Notice),
}

fn shown(err: WorkspaceError, lang: crate::i18n::Lang) -> Result<Shown, AppError> {
    match err {
        WorkspaceError::Fields(fields) => Ok(Shown::Fields(FieldErrors::from_msgs(&fields, lang))),
        WorkspaceError::Refused(msg) => Ok(Shown::Alert(Notice::error(msg.render(lang)))),
        WorkspaceError::NotFound => Err(AppError::NotFound),
        WorkspaceError::Store(e) => Err(e.into()),
    }
}

fn page_error(err: WorkspaceError) -> AppError {
    match err {
        WorkspaceError::NotFound => AppError::NotFound,
        WorkspaceError::Store(e) => e.into(),
        WorkspaceError::Fields(_) => AppError::BadRequest(Msg::new("admin.bad_input")),
        WorkspaceError::Refused(msg) => AppError::Forbidden(msg),
    }
}

// ---- The workspaces -------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateInput {
    csrf: String,
    name: String,
    slug: String,
    timezone: String,
    admin_email: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
    created: String,
}

#[derive(Template)]
#[template(path = "owner/index.html")]
struct IndexPage<'a> {
    page: &'a Page,
    nav: Nav,
    workspaces: Vec<WorkspaceRow>,
    notice: Option<Notice>,
    create_open: bool,
    create: CreateInput,
    errors: FieldErrors,
    timezones: Vec<String>,
}

fn default_create(user: &OwnerUser) -> CreateInput {
    let timezone = user.user.membership.as_ref().map_or_else(|| "UTC".to_owned(), |m| m.workspace.timezone.clone());
    CreateInput { timezone, ..CreateInput::default() }
}

/// `GET /owner`: every workspace and the form to create one.
async fn index(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let list = state.services().workspaces.list(&owner.owner).await.map_err(page_error)?;
    let workspaces: Vec<WorkspaceRow> = list.iter().map(workspace_row).collect();
    let notice = if let Ok(id) = query.created.parse::<i64>() {
        let name = workspaces.iter().find(|w| w.id == id).map(|w| w.name.clone()).unwrap_or_default();
        Some(Notice::success(page.format("owner.workspaces.created", &[("name", name)])))
    } else if query.done == "deleted" {
        Some(Notice::success(page.t("owner.workspaces.deleted").to_owned()))
    } else {
        None
    };
    let view = IndexPage {
        page: &page,
        nav,
        workspaces,
        notice,
        create_open: false,
        create: default_create(&owner),
        errors: FieldErrors::default(),
        timezones: timezones(),
    };
    Ok(render::html(&view)?.into_response())
}

/// `POST /owner/workspaces`: creates a workspace (optionally with an existing user as its admin).
async fn create(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Form(input): Form<CreateInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let services = state.services();
    let new = NewWorkspace {
        name: input.name.clone(),
        slug: input.slug.clone(),
        timezone: input.timezone.clone(),
        admin_email: Some(input.admin_email.clone()).filter(|e| !e.trim().is_empty()),
    };
    let (notice, errors) = match services.workspaces.create(&owner.owner, &new).await {
        Ok(workspace) => return Ok(Redirect::to(&format!("/owner?created={}", workspace.id)).into_response()),
        Err(err) => match shown(err, page.lang)? {
            Shown::Fields(errors) => (None, errors),
            Shown::Alert(notice) => (Some(notice), FieldErrors::default()),
        },
    };
    let list = services.workspaces.list(&owner.owner).await.map_err(page_error)?;
    let view = IndexPage {
        page: &page,
        nav,
        workspaces: list.iter().map(workspace_row).collect(),
        notice,
        create_open: true,
        create: input,
        errors,
        timezones: timezones(),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

/// The limits form: empty is unlimited.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LimitsInput {
    csrf: String,
    agents: String,
    numbers: String,
    contacts: String,
    messages_per_month: String,
}

impl LimitsInput {
    fn from_limits(limits: &WorkspaceLimits) -> Self {
        let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            csrf: String::new(),
            agents: text(limits.agents),
            numbers: text(limits.numbers),
            contacts: text(limits.contacts),
            messages_per_month: text(limits.messages_per_month),
        }
    }

    fn limits(&self) -> WorkspaceLimits {
        WorkspaceLimits {
            agents: optional_number(&self.agents),
            numbers: optional_number(&self.numbers),
            contacts: optional_number(&self.contacts),
            messages_per_month: optional_number(&self.messages_per_month),
        }
    }
}

#[derive(Template)]
#[template(path = "owner/workspace.html")]
struct WorkspacePage<'a> {
    page: &'a Page,
    nav: Nav,
    workspace: WorkspaceRow,
    notice: Option<Notice>,
    limits: LimitsInput,
    errors: FieldErrors,
    confirm: String,
}

fn workspace_view<'a>(
    page: &'a Page,
    nav: Nav,
    summary: &WorkspaceSummary,
    notice: Option<Notice>,
    limits: Option<LimitsInput>,
    errors: FieldErrors,
    confirm: String,
) -> WorkspacePage<'a> {
    WorkspacePage {
        page,
        nav,
        workspace: workspace_row(summary),
        notice,
        limits: limits.unwrap_or_else(|| LimitsInput::from_limits(&summary.limits)),
        errors,
        confirm,
    }
}

/// `GET /owner/workspaces/{id}`: one workspace with its limits, suspension and deletion.
async fn workspace_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let summary = state.services().workspaces.get(&owner.owner, id).await.map_err(page_error)?;
    let notice = match query.done.as_str() {
        "limits" => Some(Notice::success(page.t("owner.workspace.limits_saved").to_owned())),
        "suspended" => Some(Notice::success(page.t("owner.workspace.suspended_done").to_owned())),
        "reactivated" => Some(Notice::success(page.t("owner.workspace.reactivated_done").to_owned())),
        _ => None,
    };
    let view = workspace_view(&page, nav, &summary, notice, None, FieldErrors::default(), String::new());
    Ok(render::html(&view)?.into_response())
}

/// `POST /owner/workspaces/{id}/limits`.
async fn set_limits(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Form(input): Form<LimitsInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let services = state.services();
    let (notice, errors) = match services.workspaces.set_limits(&owner.owner, id, &input.limits()).await {
        Ok(()) => return Ok(Redirect::to(&format!("/owner/workspaces/{id}?done=limits")).into_response()),
        Err(err) => match shown(err, page.lang)? {
            Shown::Fields(errors) => (None, errors),
            Shown::Alert(notice) => (Some(notice), FieldErrors::default()),
        },
    };
    let summary = services.workspaces.get(&owner.owner, id).await.map_err(page_error)?;
    let view = workspace_view(&page, nav, &summary, notice, Some(input), errors, String::new());
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusInput {
    csrf: String,
    /// `1` suspends, `0` reactivates.
    suspend: String,
}

/// `POST /owner/workspaces/{id}/status`: suspends or reactivates.
async fn set_status(
    State(state): State<AppState>,
    WithNav(owner, _): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Form(input): Form<StatusInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let suspend = match input.suspend.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(AppError::BadRequest(Msg::new("admin.bad_input"))),
    };
    state.services().workspaces.set_suspended(&owner.owner, id, suspend).await.map_err(page_error)?;
    let done = if suspend { "suspended" } else { "reactivated" };
    Ok(Redirect::to(&format!("/owner/workspaces/{id}?done={done}")).into_response())
}

/// `POST /owner/workspaces/{id}/delete`: deletes the workspace and everything in it, once its slug is typed.
async fn delete(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Form(input): Form<CsrfConfirm>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let services = state.services();
    let (notice, errors) = match services.workspaces.delete(&owner.owner, id, &input.confirm).await {
        Ok(()) => return Ok(Redirect::to("/owner?done=deleted").into_response()),
        Err(err) => match shown(err, page.lang)? {
            Shown::Fields(errors) => (None, errors),
            Shown::Alert(notice) => (Some(notice), FieldErrors::default()),
        },
    };
    let summary = services.workspaces.get(&owner.owner, id).await.map_err(page_error)?;
    let view = workspace_view(&page, nav, &summary, notice, None, errors, input.confirm);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

// ---- Instance settings ----------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsInput {
    csrf: String,
    brand_name: String,
    primary_color: String,
    accent_color: String,
    language: String,
    public_url: String,
    timezone: String,
}

impl SettingsInput {
    fn settings(&self) -> InstanceSettings {
        InstanceSettings {
            brand_name: self.brand_name.clone(),
            primary_color: self.primary_color.clone(),
            accent_color: self.accent_color.clone(),
            language: self.language.clone(),
            public_url: self.public_url.clone(),
            timezone: self.timezone.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "owner/settings.html")]
struct SettingsPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    form: InstanceSettings,
    errors: FieldErrors,
    timezones: Vec<String>,
    languages: Vec<(&'static str, &'static str)>,
}

/// `GET /owner/settings`.
async fn settings_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let form = state.services().settings.get(&owner.owner).await.map_err(settings_error)?;
    let notice = (query.done == "saved").then(|| Notice::success(page.t("owner.settings.saved").to_owned()));
    let view = SettingsPage {
        page: &page,
        nav,
        notice,
        form,
        errors: FieldErrors::default(),
        timezones: timezones(),
        languages: languages(),
    };
    Ok(render::html(&view)?.into_response())
}

fn settings_error(err: SettingsError) -> AppError {
    match err {
        SettingsError::Store(e) => e.into(),
        SettingsError::Fields(_) => AppError::BadRequest(Msg::new("admin.bad_input")),
    }
}

/// `POST /owner/settings`.
async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Form(input): Form<SettingsInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let form = input.settings();
    let errors = match state.services().settings.update(&owner.owner, &form).await {
        Ok(_) => return Ok(Redirect::to("/owner/settings?done=saved").into_response()),
        Err(SettingsError::Fields(fields)) => FieldErrors::from_msgs(&fields, page.lang),
        Err(other) => return Err(settings_error(other)),
    };
    let view =
        SettingsPage { page: &page, nav, notice: None, form, errors, timezones: timezones(), languages: languages() };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

// ---- Audit log ------------------------------------------------------------------------------------------------

/// `GET /owner/audit`: every entry of the instance.
async fn audit_log(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Query(input): Query<AuditInput>,
) -> Result<Response, AppError> {
    let result = state.services().audit.list_all(&owner.owner, &input.filter()).await;
    audit_view(&page, nav, "/owner/audit", true, input, result)
}
