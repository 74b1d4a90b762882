//! `/admin/inbox`: the workspace's inbox settings (admins): whether agents see every conversation, and round-robin
//! assignment of new conversations among the online agents.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, Notice, WithNav, check_csrf};
use crate::store::inbox_settings::InboxSettings;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::DoneQuery;
use crate::web::page::Page;
use crate::web::pages::inbox::inbox_error;
use crate::web::render;
use crate::web::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/admin/inbox", axum::routing::get(show).post(save))
}

#[derive(Template)]
#[template(path = "admin/inbox_settings.html")]
struct SettingsPage<'a> {
    page: &'a Page,
    nav: Nav,
    settings: InboxSettings,
    notice: Option<Notice>,
}

/// `GET /admin/inbox`.
pub async fn show(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let settings = state.services().organize.settings(&who.actor).await.map_err(inbox_error)?;
    let notice = (query.done == "saved").then(|| Notice::success(page.t("organize.settings.saved").to_owned()));
    Ok(render::html(&SettingsPage { page: &page, nav, settings, notice })?.into_response())
}

/// The form: a checked box sends `1`, an unchecked one nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    csrf: String,
    agents_see_all: String,
    auto_assign: String,
}

/// `POST /admin/inbox`: saves, then back to the page with a notice.
pub async fn save(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Form(input): Form<SettingsForm>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let settings =
        InboxSettings { agents_see_all: !input.agents_see_all.is_empty(), auto_assign: !input.auto_assign.is_empty() };
    state.services().organize.set_settings(&who.actor, settings).await.map_err(inbox_error)?;
    Ok(Redirect::to("/admin/inbox?done=saved").into_response())
}
