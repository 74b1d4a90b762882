//! Restarting the server from the browser: the page shown while it restarts, and the poll that page uses to move on
//! once another process answers (public: it only tells whether the answering process is a new one).

use askama::Template;
use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::web::error::AppError;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// This process, as told apart from the one that follows a restart (`exec` keeps the process id, so a time).
static THIS_PROCESS: std::sync::LazyLock<i64> = std::sync::LazyLock::new(crate::store::now_millis);

pub fn routes() -> Router<AppState> {
    Router::new().route("/restart/wait", get(wait))
}

/// Where the browser goes once the server is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterRestart {
    /// The owner's HTTPS settings.
    Tls,
    /// The sign-in page after the install wizard.
    Login,
}

impl AfterRestart {
    fn path(self) -> &'static str {
        match self {
            Self::Tls => "/owner/tls?done=restarted",
            Self::Login => "/login?installed=1",
        }
    }

    /// The catalog key of the link to go on by hand.
    fn label(self) -> &'static str {
        match self {
            Self::Tls => "tls.restarting.back",
            Self::Login => "tls.restarting.to_login",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Login => "login",
        }
    }
}

#[derive(Template)]
#[template(path = "restarting.html")]
struct RestartingPage<'a> {
    page: &'a Page,
    process: i64,
    after: &'static str,
    back: &'static str,
    back_label: &'static str,
}

/// The page that waits for the restart, then goes on to `after`.
pub fn restarting(page: &Page, after: AfterRestart) -> Result<Response, AppError> {
    let view = RestartingPage {
        page,
        process: *THIS_PROCESS,
        after: after.name(),
        back: after.path(),
        back_label: after.label(),
    };
    Ok(render::html(&view)?.into_response())
}

#[derive(Deserialize)]
struct WaitQuery {
    process: i64,
    after: AfterRestart,
}

/// `GET /restart/wait?process=N&after=tls|login`: "not yet" (204) while process `N` still answers, then on to the
/// next page. Polls that fail while nothing listens are simply repeated by the page.
async fn wait(Query(query): Query<WaitQuery>) -> Response {
    if query.process == *THIS_PROCESS {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert("hx-redirect", HeaderValue::from_static(query.after.path()));
    response
}
