//! Custom domain pages: the owner manages a workspace's domains (`/owner/workspaces/{id}/domains`: add, verify now,
//! remove), workspace admins read theirs with the DNS instructions (`/admin/domains`), and the self-probe's answer
//! (`/.well-known/conversure-domain/{token}`, for the requested host only).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::services::domains::{DomainError, DomainsOverview, error_message};
use crate::store::domains::Domain;
use crate::web::client::ClientInfo;
use crate::web::error::AppError;
use crate::web::extract::{OwnerUser, WorkspaceUser};
use crate::web::forms::{CsrfOnly, DoneQuery, FieldErrors};
use crate::web::page::Page;
use crate::web::pages::admin::{Nav, Notice, WithNav, check_csrf, local_time, zone};
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/owner/workspaces/{id}/domains", get(owner_page).post(add))
        .route("/owner/workspaces/{id}/domains/{domain_id}/verify", post(verify))
        .route("/owner/workspaces/{id}/domains/{domain_id}/delete", post(remove))
        .route("/admin/domains", get(admin_page))
        .route("/.well-known/conversure-domain/{token}", get(probe_answer))
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound => Self::NotFound,
            DomainError::Fields(fields) => Self::Invalid(fields),
            DomainError::Access(e) => Self::Forbidden(e.msg()),
            DomainError::Store(e) => e.into(),
        }
    }
}

/// A domain as the pages show it.
pub struct DomainRow {
    pub id: i64,
    pub host: String,
    /// `pending`, `verified` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub checked: Option<String>,
}

fn rows(page: &Page, domains: &[Domain]) -> Vec<DomainRow> {
    let utc = zone("UTC");
    domains
        .iter()
        .map(|d| DomainRow {
            id: d.id,
            host: d.host.clone(),
            status: d.status.clone(),
            error: d.last_error.as_deref().map(|e| error_message(e).render(page.lang)),
            checked: d.checked_at.map(|at| local_time(at, &utc)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "domains/owner.html")]
struct OwnerPage<'a> {
    page: &'a Page,
    nav: Nav,
    workspace_id: i64,
    workspace_name: String,
    domains: Vec<DomainRow>,
    own_host: String,
    notice: Option<Notice>,
    host: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "domains/admin.html")]
struct AdminPage<'a> {
    page: &'a Page,
    nav: Nav,
    workspace_name: String,
    domains: Vec<DomainRow>,
    own_host: String,
}

fn owner_view<'a>(page: &'a Page, nav: Nav, overview: DomainsOverview, notice: Option<Notice>) -> OwnerPage<'a> {
    OwnerPage {
        domains: rows(page, &overview.domains),
        own_host: overview.own_hosts.first().cloned().unwrap_or_default(),
        page,
        nav,
        workspace_id: overview.workspace_id,
        workspace_name: overview.workspace_name,
        notice,
        host: String::new(),
        errors: FieldErrors::default(),
    }
}

/// `GET /owner/workspaces/{id}/domains`.
async fn owner_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let overview = state.services().domains.overview(&owner.owner, id).await?;
    let notice = match query.done.as_str() {
        "added" => Some(Notice::success(page.t("domains.added").to_owned())),
        "removed" => Some(Notice::success(page.t("domains.removed").to_owned())),
        "verified" => Some(Notice::success(page.t("domains.verified_done").to_owned())),
        "failed" => Some(Notice::error(page.t("domains.failed_done").to_owned())),
        _ => None,
    };
    Ok(render::html(&owner_view(&page, nav, overview, notice))?.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddInput {
    csrf: String,
    host: String,
}

/// `POST /owner/workspaces/{id}/domains`: adds a pending domain; a bad name re-renders the form with the reason.
async fn add(
    State(state): State<AppState>,
    page: Page,
    WithNav(owner, nav): WithNav<OwnerUser>,
    Path(id): Path<i64>,
    Form(input): Form<AddInput>,
) -> Result<Response, AppError> {
    check_csrf(&owner.user, &input.csrf)?;
    let services = state.services();
    let errors = match services.domains.add(&owner.owner, id, &input.host).await {
        Ok(_) => return Ok(Redirect::to(&format!("/owner/workspaces/{id}/domains?done=added")).into_response()),
        Err(DomainError::Fields(fields)) => FieldErrors::from_msgs(&fields, page.lang),
        Err(other) => return Err(other.into()),
    };
    let overview = services.domains.overview(&owner.owner, id).await?;
    let view = OwnerPage { host: input.host, errors, ..owner_view(&page, nav, overview, None) };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}

/// `POST /owner/workspaces/{id}/domains/{domain_id}/verify`: checks now; the page then shows the outcome.
async fn verify(
    State(state): State<AppState>,
    OwnerUser { user, owner }: OwnerUser,
    Path((id, domain_id)): Path<(i64, i64)>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    let domain = state.services().domains.verify(&owner, id, domain_id).await?;
    let done = if domain.status == "verified" { "verified" } else { "failed" };
    Ok(Redirect::to(&format!("/owner/workspaces/{id}/domains?done={done}")).into_response())
}

/// `POST /owner/workspaces/{id}/domains/{domain_id}/delete`.
async fn remove(
    State(state): State<AppState>,
    OwnerUser { user, owner }: OwnerUser,
    Path((id, domain_id)): Path<(i64, i64)>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    state.services().domains.remove(&owner, id, domain_id).await?;
    Ok(Redirect::to(&format!("/owner/workspaces/{id}/domains?done=removed")).into_response())
}

/// `GET /admin/domains`: the workspace's own domains, read-only, with the DNS instructions.
async fn admin_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(member, nav): WithNav<WorkspaceUser>,
) -> Result<Response, AppError> {
    let overview = state.services().domains.overview_own(&member.actor).await?;
    let view = AdminPage {
        domains: rows(&page, &overview.domains),
        own_host: overview.own_hosts.first().cloned().unwrap_or_default(),
        page: &page,
        nav,
        workspace_name: overview.workspace_name,
    };
    Ok(render::html(&view)?.into_response())
}

/// `GET /.well-known/conversure-domain/{token}`: the token back, only when it is the requested host's own.
async fn probe_answer(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let host = client.host.unwrap_or_default();
    if state.services().domains.answers_probe(&host, &token).await? {
        Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token).into_response())
    } else {
        Err(AppError::NotFound)
    }
}
