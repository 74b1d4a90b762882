//! `/api/v1/users`: the members of the key's workspace.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::team;
use super::extract::{ApiActor, ApiId, ApiJson, ApiQuery};
use super::views::{Invitation, User, Users};
use crate::domain::msg::Msg;
use crate::services::team::{MemberChange, MemberFilter, NewMember};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// `null` and absent differ: `Some(None)` clears a value, `None` leaves it.
pub(super) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    search: Option<String>,
    status: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Users>, AppError> {
    let status = query.status.filter(|s| !s.trim().is_empty());
    if status.as_deref().is_some_and(|s| !matches!(s, "active" | "inactive")) {
        return Err(AppError::Invalid(vec![("status", Msg::new("team.status_invalid"))]));
    }
    let filter = MemberFilter { search: query.search, status };
    let members = state.services().team.list(&actor, &filter).await.map_err(team)?;
    Ok(Json(Users { users: members.into_iter().map(User::from).collect() }))
}

/// Missing fields read as empty, so they are reported per field (422) like wrong ones.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    email: String,
    role: String,
    password: Option<String>,
    daily_quota: Option<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<User>), AppError> {
    let new = NewMember {
        name: body.name,
        email: body.email,
        role: body.role,
        password: body.password,
        daily_quota: body.daily_quota,
    };
    let lang = state.services().site.look().await.ok().and_then(|look| look.default_lang).unwrap_or_default();
    let added = state.services().team.add(&actor, new, lang).await.map_err(team)?;
    let mut user = User::from(added.member);
    user.invited = added.needs_invitation;
    user.invitation = added.invitation.map(|i| Invitation { emailed: i.emailed, link: (!i.emailed).then_some(i.link) });
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn show(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<User>, AppError> {
    let member = state.services().team.get(&actor, id).await.map_err(team)?;
    Ok(Json(member.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    role: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    daily_quota: Option<Option<i64>>,
    status: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<User>, AppError> {
    let change = MemberChange { name: body.name, role: body.role, daily_quota: body.daily_quota, status: body.status };
    let member = state.services().team.update(&actor, id, change).await.map_err(team)?;
    Ok(Json(member.into()))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<StatusCode, AppError> {
    state.services().team.remove(&actor, id).await.map_err(team)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_status(
    state: &AppState,
    actor: &crate::services::access::Actor,
    id: i64,
    status: &str,
) -> Result<Json<User>, AppError> {
    let change = MemberChange { status: Some(status.to_owned()), ..MemberChange::default() };
    let member = state.services().team.update(actor, id, change).await.map_err(team)?;
    Ok(Json(member.into()))
}

pub async fn deactivate(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<User>, AppError> {
    set_status(&state, &actor, id, "inactive").await
}

pub async fn activate(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiId(id): ApiId,
) -> Result<Json<User>, AppError> {
    set_status(&state, &actor, id, "active").await
}
