//! The workspace switcher: `GET /workspace` lists the user's workspaces, `POST /workspace/switch` moves the session.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, WithNav, check_csrf};
use crate::services::session_workspace::SwitchError;
use crate::web::error::AppError;
use crate::web::page::Page;
use crate::web::pages::auth::SignedIn;
use crate::web::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "admin/workspaces.html")]
struct WorkspacesPage<'a> {
    page: &'a Page,
    nav: Nav,
}

/// `GET /workspace`: every workspace of the user, each with a button to switch to it.
pub async fn list(page: Page, WithNav(_, nav): WithNav<SignedIn>) -> Result<Response, AppError> {
    Ok(render::html(&WorkspacesPage { page: &page, nav })?.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchInput {
    csrf: String,
    workspace_id: String,
}

/// `POST /workspace/switch`: moves the session into another of the user's workspaces, then to the start page.
pub async fn switch(
    State(state): State<AppState>,
    SignedIn(user, token): SignedIn,
    Form(input): Form<SwitchInput>,
) -> Result<Response, AppError> {
    check_csrf(&user, &input.csrf)?;
    let workspace_id = input.workspace_id.trim().parse::<i64>().map_err(|_| AppError::NotFound)?;
    match state.services().session_workspace.switch(&user, &token, workspace_id).await {
        Ok(_) => Ok(Redirect::to("/").into_response()),
        Err(SwitchError::NotFound) => Err(AppError::NotFound),
        Err(SwitchError::SessionEnded) => Ok(Redirect::to("/login").into_response()),
        Err(SwitchError::Store(e)) => Err(e.into()),
    }
}
