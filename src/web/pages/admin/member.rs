//! One member's pages: view and edit (name, role, daily quota), deactivate or reactivate, and delete after a
//! confirmation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Failure, Nav, Notice, WithNav, check_csrf, optional_number, team_error};
use crate::domain::role::{Permission, Role};
use crate::services::dashboard::MemberDetail;
use crate::services::team::MemberChange;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::{CsrfOnly, FieldErrors};
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

use super::team::{MemberRow, row, workspace_of};

#[derive(Template)]
#[template(path = "admin/member.html")]
struct MemberPage<'a> {
    page: &'a Page,
    nav: Nav,
    can_manage: bool,
    member: MemberRow,
    assigned: i64,
    roles: [Role; 3],
    notice: Option<Notice>,
    errors: FieldErrors,
    /// The edit form's values (what was typed after a failed change).
    form: EditInput,
}

/// The edit form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditInput {
    csrf: String,
    name: String,
    role: String,
    daily_quota: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemberQuery {
    done: String,
}

fn member_view<'a>(
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    detail: MemberDetail,
    form: Option<EditInput>,
    notice: Option<Notice>,
    errors: FieldErrors,
) -> MemberPage<'a> {
    let (_, tz) = workspace_of(who);
    let member = row(&detail.member, &who.actor, &tz);
    let form = form.unwrap_or_else(|| EditInput {
        csrf: String::new(),
        name: member.name.clone(),
        role: member.role.clone(),
        daily_quota: member.quota.map(|q| q.to_string()).unwrap_or_default(),
    });
    MemberPage {
        page,
        nav,
        can_manage: who.actor.role.allows(Permission::ManageTeam),
        member,
        assigned: detail.assigned_conversations,
        roles: Role::ALL,
        notice,
        errors,
        form,
    }
}

/// `GET /admin/members/{id}`: one member, with the edit, status and delete controls.
pub async fn member_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<MemberQuery>,
) -> Result<Response, AppError> {
    let detail = state.services().dashboard.member(&who.actor, id).await.map_err(team_error)?;
    let notice = match query.done.as_str() {
        "saved" => Some(Notice::success(page.t("admin.member.saved").to_owned())),
        "deactivated" => Some(Notice::success(page.t("admin.member.deactivated").to_owned())),
        "reactivated" => Some(Notice::success(page.t("admin.member.reactivated").to_owned())),
        _ => None,
    };
    let view = member_view(&page, nav, &who, detail, None, notice, FieldErrors::default());
    Ok(render::html(&view)?.into_response())
}

/// `POST /admin/members/{id}`: name, role and daily quota.
pub async fn update(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(input): Form<EditInput>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    let change = MemberChange {
        name: Some(input.name.clone()),
        role: Some(input.role.clone()),
        daily_quota: Some(optional_number(&input.daily_quota)),
        status: None,
    };
    let failure = match services.team.update(&who.actor, id, change).await {
        Ok(_) => return Ok(Redirect::to(&format!("/admin/members/{id}?done=saved")).into_response()),
        Err(err) => Failure::from_team(err, page.lang),
    };
    let (notice, errors) = match failure {
        Failure::Page(err) => return Err(err),
        Failure::Fields(errors) => (None, errors),
        Failure::Alert(notice) => (Some(notice), FieldErrors::default()),
    };
    let detail = services.dashboard.member(&who.actor, id).await.map_err(team_error)?;
    let view = member_view(&page, nav, &who, detail, Some(input), notice, errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusInput {
    csrf: String,
    /// `active` or `inactive`.
    status: String,
}

/// `POST /admin/members/{id}/status`: deactivates or reactivates a member.
pub async fn set_status(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(input): Form<StatusInput>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    let change = MemberChange { status: Some(input.status.clone()), ..MemberChange::default() };
    let failure = match services.team.update(&who.actor, id, change).await {
        Ok(member) => {
            let done = if member.status == "active" { "reactivated" } else { "deactivated" };
            return Ok(Redirect::to(&format!("/admin/members/{id}?done={done}")).into_response());
        }
        Err(err) => Failure::from_team(err, page.lang),
    };
    let notice = match failure {
        Failure::Page(err) => return Err(err),
        Failure::Fields(errors) => {
            Notice::error(errors.get("status").map_or_else(|| page.t("admin.bad_input").to_owned(), str::to_owned))
        }
        Failure::Alert(notice) => notice,
    };
    let detail = services.dashboard.member(&who.actor, id).await.map_err(team_error)?;
    let view = member_view(&page, nav, &who, detail, None, Some(notice), FieldErrors::default());
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

#[derive(Template)]
#[template(path = "admin/member_delete.html")]
struct DeletePage<'a> {
    page: &'a Page,
    nav: Nav,
    member: MemberRow,
    assigned: i64,
    notice: Option<Notice>,
}

/// `GET /admin/members/{id}/delete`: the confirmation step.
pub async fn delete_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !who.actor.role.allows(Permission::ManageTeam) {
        return Err(AppError::Forbidden(crate::services::access::AccessError::Forbidden.msg()));
    }
    let detail = state.services().dashboard.member(&who.actor, id).await.map_err(team_error)?;
    let (_, tz) = workspace_of(&who);
    let view = DeletePage {
        page: &page,
        nav,
        member: row(&detail.member, &who.actor, &tz),
        assigned: detail.assigned_conversations,
        notice: None,
    };
    Ok(render::html(&view)?.into_response())
}

/// `POST /admin/members/{id}/delete`: removes the member; their conversations become unassigned.
pub async fn delete(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    let notice = match services.team.remove(&who.actor, id).await {
        Ok(()) => return Ok(Redirect::to("/admin?done=removed").into_response()),
        Err(err) => match Failure::from_team(err, page.lang) {
            Failure::Page(err) => return Err(err),
            Failure::Alert(notice) => notice,
            Failure::Fields(_) => Notice::error(page.t("admin.bad_input").to_owned()),
        },
    };
    let detail = services.dashboard.member(&who.actor, id).await.map_err(team_error)?;
    let (_, tz) = workspace_of(&who);
    let view = DeletePage {
        page: &page,
        nav,
        member: row(&detail.member, &who.actor, &tz),
        assigned: detail.assigned_conversations,
        notice: Some(notice),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}
