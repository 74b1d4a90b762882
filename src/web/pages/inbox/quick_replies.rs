//! `/inbox/quick-replies`: the workspace's quick replies and the member's own, to list, create, change and
//! delete. Managers and admins manage the workspace-wide ones; everyone manages their personal ones.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::inbox_error;
use crate::services::whatsapp::WhatsAppError;
use crate::services::whatsapp::quick_replies::QuickReplyInput;
use crate::store::quick_replies::QuickReply;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::{CsrfOnly, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, WithNav, check_csrf};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox/quick-replies", get(index).post(create))
        .route("/inbox/quick-replies/{id}", post(update))
        .route("/inbox/quick-replies/{id}/delete", post(delete))
}

/// A reply as the page lists it.
pub struct Row {
    pub id: i64,
    pub shortcut: String,
    pub body: String,
    pub personal: bool,
    /// The member may change it.
    pub editable: bool,
    /// The edit form's values: the stored ones, or what was typed when a change was refused.
    pub form: QuickReplyFormView,
    pub errors: FieldErrors,
    /// The edit form shows open (a refused change).
    pub open: bool,
}

/// What the create or edit form shows.
#[derive(Default, Clone)]
pub struct QuickReplyFormView {
    pub shortcut: String,
    pub body: String,
    pub personal: bool,
}

#[derive(Template)]
#[template(path = "inbox/quick_replies.html")]
struct QuickRepliesPage<'a> {
    page: &'a Page,
    nav: Nav,
    rows: Vec<Row>,
    /// The member may create workspace-wide replies.
    manages: bool,
    new: QuickReplyFormView,
    errors: FieldErrors,
}

/// The page, with a refused form's values and errors (`editing`: the reply it was for; `None`: the create form).
async fn render_page<'a>(
    state: &AppState,
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    refused: Option<(Option<i64>, QuickReplyFormView, FieldErrors)>,
) -> Result<QuickRepliesPage<'a>, AppError> {
    let services = state.services();
    let replies = services.quick_replies.list(&who.actor, "").await.map_err(inbox_error)?;
    let manages = services.quick_replies.manages_workspace_replies(&who.actor);
    let (mut new, mut errors) =
        (QuickReplyFormView { personal: !manages, ..Default::default() }, FieldErrors::default());
    let mut row_form = None;
    match refused {
        Some((None, form, e)) => (new, errors) = (form, e),
        Some((Some(id), form, e)) => row_form = Some((id, form, e)),
        None => {}
    }
    let rows = replies
        .into_iter()
        .map(|r: QuickReply| {
            let personal = r.user_id.is_some();
            let refused = row_form.as_ref().filter(|(id, _, _)| *id == r.id);
            let (form, errors) = match refused {
                Some((_, form, errors)) => (form.clone(), errors.clone()),
                None => {
                    let form = QuickReplyFormView { shortcut: r.shortcut.clone(), body: r.body.clone(), personal };
                    (form, FieldErrors::default())
                }
            };
            Row {
                editable: personal || manages,
                personal,
                open: refused.is_some(),
                form,
                errors,
                id: r.id,
                shortcut: r.shortcut,
                body: r.body,
            }
        })
        .collect();
    Ok(QuickRepliesPage { page, nav, rows, manages, new, errors })
}

/// `GET /inbox/quick-replies`.
pub async fn index(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
) -> Result<Response, AppError> {
    let view = render_page(&state, &page, nav, &who, None).await?;
    Ok(render::html(&view)?.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QuickReplyForm {
    csrf: String,
    shortcut: String,
    body: String,
    /// `personal` or `workspace`.
    scope: String,
}

impl QuickReplyForm {
    fn input(&self) -> QuickReplyInput {
        QuickReplyInput {
            shortcut: self.shortcut.clone(),
            body: self.body.clone(),
            personal: self.scope != "workspace",
        }
    }

    fn view(&self) -> QuickReplyFormView {
        QuickReplyFormView {
            shortcut: self.shortcut.clone(),
            body: self.body.clone(),
            personal: self.scope != "workspace",
        }
    }
}

/// Back to the list after a change, or the page again with the form's errors (422).
async fn after(
    state: &AppState,
    page: &Page,
    nav: Nav,
    who: &WorkspaceUser,
    result: Result<(), WhatsAppError>,
    editing: Option<i64>,
    form: &QuickReplyForm,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => Ok(Redirect::to("/inbox/quick-replies").into_response()),
        Err(WhatsAppError::Fields(fields)) => {
            let errors = FieldErrors::from_msgs(&fields, page.lang);
            let view = render_page(state, page, nav, who, Some((editing, form.view(), errors))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
        }
        Err(other) => Err(inbox_error(other)),
    }
}

/// `POST /inbox/quick-replies`.
pub async fn create(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(form): Form<QuickReplyForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    let result = state.services().quick_replies.create(&who.actor, &form.input()).await.map(|_| ());
    after(&state, &page, nav, &who, result, None, &form).await
}

/// `POST /inbox/quick-replies/{id}`.
pub async fn update(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(form): Form<QuickReplyForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    let result = state.services().quick_replies.update(&who.actor, id, &form.input()).await.map(|_| ());
    after(&state, &page, nav, &who, result, Some(id), &form).await
}

/// `POST /inbox/quick-replies/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    WithNav(who, _nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &form.csrf)?;
    state.services().quick_replies.delete(&who.actor, id).await.map_err(inbox_error)?;
    Ok(Redirect::to("/inbox/quick-replies").into_response())
}
