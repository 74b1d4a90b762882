//! Custom domains over the API: the owner manages any workspace's (`/api/v1/workspaces/{id}/domains…`, an
//! owner-created admin key; 404 for anyone else), and a workspace's admin keys read their own (`/api/v1/domains`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{ApiActor, ApiId, ApiJson, ApiOwner};
use super::views::time;
use super::{Endpoint, Verb, at};
use crate::i18n::Lang;
use crate::services::domains::{DomainsOverview, error_message};
use crate::store::domains::Domain;
use crate::web::error::AppError;
use crate::web::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Verb::{Delete, Get, Post};
    vec![
        at(Get, "/api/v1/domains", own),
        at(Get, "/api/v1/workspaces/{id}/domains", list),
        at(Post, "/api/v1/workspaces/{id}/domains", add),
        at(Delete, "/api/v1/workspaces/{id}/domains/{domain_id}", remove),
        at(Post, "/api/v1/workspaces/{id}/domains/{domain_id}/verify", verify),
    ]
}

#[derive(Debug, Serialize)]
pub struct DomainView {
    pub id: i64,
    pub workspace_id: i64,
    pub host: String,
    /// `pending`, `verified` or `failed`.
    pub status: String,
    /// The failure's code and detail, e.g. `http_status: 404`; null unless failed.
    pub last_error: Option<String>,
    /// The failure explained (English).
    pub last_error_message: Option<String>,
    pub checked_at: Option<String>,
    pub verified_at: Option<String>,
    pub created_at: String,
}

impl From<Domain> for DomainView {
    fn from(d: Domain) -> Self {
        Self {
            last_error_message: d.last_error.as_deref().map(|e| error_message(e).render(Lang::En)),
            id: d.id,
            workspace_id: d.workspace_id,
            host: d.host,
            status: d.status,
            last_error: d.last_error,
            checked_at: d.checked_at.map(time),
            verified_at: d.verified_at.map(time),
            created_at: time(d.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DomainList {
    pub domains: Vec<DomainView>,
    /// The instance's own host names; a custom domain's A/AAAA records point at the same address.
    pub instance_hosts: Vec<String>,
}

impl From<DomainsOverview> for DomainList {
    fn from(overview: DomainsOverview) -> Self {
        Self {
            domains: overview.domains.into_iter().map(DomainView::from).collect(),
            instance_hosts: overview.own_hosts,
        }
    }
}

/// The `{id}` and `{domain_id}` of a path; anything but numbers names nothing (404).
struct DomainPath(i64, i64);

fn domain_path(Path((id, domain_id)): Path<(String, String)>) -> Result<DomainPath, AppError> {
    match (id.parse(), domain_id.parse()) {
        (Ok(id), Ok(domain_id)) => Ok(DomainPath(id, domain_id)),
        _ => Err(AppError::NotFound),
    }
}

async fn own(State(state): State<AppState>, ApiActor(actor): ApiActor) -> Result<Json<DomainList>, AppError> {
    Ok(Json(state.services().domains.overview_own(&actor).await?.into()))
}

async fn list(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiId(id): ApiId,
) -> Result<Json<DomainList>, AppError> {
    Ok(Json(state.services().domains.overview(&owner, id).await?.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewDomain {
    host: String,
}

async fn add(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<NewDomain>,
) -> Result<(StatusCode, Json<DomainView>), AppError> {
    let domain = state.services().domains.add(&owner, id, &body.host).await?;
    Ok((StatusCode::CREATED, Json(domain.into())))
}

async fn remove(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    path: Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let DomainPath(id, domain_id) = domain_path(path)?;
    state.services().domains.remove(&owner, id, domain_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn verify(
    State(state): State<AppState>,
    ApiOwner(owner): ApiOwner,
    path: Path<(String, String)>,
) -> Result<Json<DomainView>, AppError> {
    let DomainPath(id, domain_id) = domain_path(path)?;
    Ok(Json(state.services().domains.verify(&owner, id, domain_id).await?.into()))
}
