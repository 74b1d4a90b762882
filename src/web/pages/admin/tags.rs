//! `/admin/tags`: the workspace's tags (managers and admins): create, rename, recolour, delete. A refused form is
//! shown again with its error beside the tag it was for and what was typed kept.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, Notice, WithNav, check_csrf};
use crate::domain::role::Permission;
use crate::services::whatsapp::WhatsAppError;
use crate::store::tags::Tag;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::{DoneQuery, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::inbox::inbox_error;
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/tags", get(list).post(create))
        .route("/admin/tags/{id}", post(update))
        .route("/admin/tags/{id}/delete", post(delete))
}

/// The form that failed: which tag (`None`: the new-tag form), what was typed and why.
struct Failed {
    tag_id: Option<i64>,
    name: String,
    color: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/tags.html")]
struct TagsPage<'a> {
    page: &'a Page,
    nav: Nav,
    tags: Vec<Tag>,
    notice: Option<Notice>,
    failed: Option<Failed>,
    /// The new-tag form's values.
    new_name: String,
    new_color: String,
    new_errors: FieldErrors,
}

impl TagsPage<'_> {
    /// The values and errors a tag's row shows: what was typed when its form failed, else the stored ones.
    fn row(&self, tag: &Tag) -> (String, String, FieldErrors) {
        match &self.failed {
            Some(f) if f.tag_id == Some(tag.id) => (f.name.clone(), f.color.clone(), f.errors.clone()),
            _ => (tag.name.clone(), tag.color.clone(), FieldErrors::default()),
        }
    }
}

async fn render_page(
    state: &AppState,
    page: &Page,
    nav: Nav,
    who: &WorkspaceUser,
    notice: Option<Notice>,
    failed: Option<Failed>,
) -> Result<Response, AppError> {
    who.actor.require(Permission::ManageTags).map_err(|e| AppError::Forbidden(e.msg()))?;
    let tags = state.services().organize.tags(&who.actor).await.map_err(inbox_error)?;
    let (new_name, new_color, new_errors) = match &failed {
        Some(f) if f.tag_id.is_none() => (f.name.clone(), f.color.clone(), f.errors.clone()),
        _ => (String::new(), "#1f7a4d".to_owned(), FieldErrors::default()),
    };
    let status = if failed.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let view = TagsPage { page, nav, tags, notice, failed, new_name, new_color, new_errors };
    Ok((status, render::html(&view)?).into_response())
}

/// `GET /admin/tags`.
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let key = match query.done.as_str() {
        "created" => Some("organize.tags_admin.created"),
        "saved" => Some("organize.tags_admin.saved"),
        "deleted" => Some("organize.tags_admin.deleted"),
        _ => None,
    };
    let notice = key.map(|k| Notice::success(page.t(k).to_owned()));
    render_page(&state, &page, nav, &who, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagForm {
    csrf: String,
    name: String,
    color: String,
}

/// The outcome of a create or update: back to the list, or the form again with its errors and `typed` kept.
async fn outcome(
    state: &AppState,
    page: &Page,
    nav: Nav,
    who: &WorkspaceUser,
    result: Result<Tag, WhatsAppError>,
    mut typed: Failed,
    done: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/tags?done={done}")).into_response()),
        Err(WhatsAppError::Fields(fields)) => {
            typed.errors = FieldErrors::from_msgs(&fields, page.lang);
            render_page(state, page, nav, who, None, Some(typed)).await
        }
        Err(other) => Err(inbox_error(other)),
    }
}

/// `POST /admin/tags`: creates a tag.
pub async fn create(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(input): Form<TagForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let result = state.services().organize.create_tag(&who.actor, &input.name, &input.color).await;
    let typed = Failed { tag_id: None, name: input.name, color: input.color, errors: FieldErrors::default() };
    outcome(&state, &page, nav, &who, result, typed, "created").await
}

/// `POST /admin/tags/{id}`: renames and recolours a tag.
pub async fn update(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(input): Form<TagForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let result = state.services().organize.update_tag(&who.actor, id, &input.name, &input.color).await;
    let typed = Failed { tag_id: Some(id), name: input.name, color: input.color, errors: FieldErrors::default() };
    outcome(&state, &page, nav, &who, result, typed, "saved").await
}

/// `POST /admin/tags/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(input): Form<TagForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    state.services().organize.delete_tag(&who.actor, id).await.map_err(inbox_error)?;
    Ok(Redirect::to("/admin/tags?done=deleted").into_response())
}
