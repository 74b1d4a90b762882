//! The audit log pages: `/admin/audit` for a workspace's admins and (through [`audit_view`]) `/owner/audit` for the
//! owner. Filters are a plain GET form; "older" pages by id.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Nav, WithNav, local_time, query_string, zone};
use crate::services::audit::{AuditError, AuditFilter, AuditPage, action_label};
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

/// The filter form (`?action=&actor=&from=&to=&before=`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditInput {
    pub action: String,
    pub actor: String,
    pub from: String,
    pub to: String,
    /// An entry id; anything else is ignored.
    pub before: String,
}

impl AuditInput {
    pub fn filter(&self) -> AuditFilter {
        AuditFilter {
            action: self.action.clone(),
            actor: self.actor.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            before: self.before.trim().parse().ok(),
        }
    }
}

/// One row of the log.
pub struct EntryRow {
    pub time: String,
    pub workspace: Option<String>,
    pub actor: String,
    pub action: String,
    /// The translated label, or the raw action.
    pub label: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

/// A choice of the action filter.
pub struct ActionChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditView<'a> {
    pub page: &'a Page,
    pub nav: Nav,
    /// `/admin/audit` or `/owner/audit`.
    pub base: &'static str,
    /// The owner's log spans workspaces, so it names them.
    pub show_workspace: bool,
    pub input: AuditInput,
    pub errors: FieldErrors,
    pub actions: Vec<ActionChoice>,
    pub entries: Vec<EntryRow>,
    pub timezone: String,
    pub older_href: Option<String>,
    /// Set while paging: back to the newest entries.
    pub newest_href: Option<String>,
}

fn label(page: &Page, action: &str) -> String {
    action_label(action).map_or_else(|| action.to_owned(), |m| m.render(page.lang))
}

/// The page for a result of `AuditService::list` or `list_all`: 422 with the fields marked when the filter is
/// invalid, an error page for anything else.
pub(crate) fn audit_view(
    page: &Page,
    nav: Nav,
    base: &'static str,
    show_workspace: bool,
    input: AuditInput,
    result: Result<AuditPage, AuditError>,
) -> Result<Response, AppError> {
    let (found, errors) = match result {
        Ok(found) => (Some(found), FieldErrors::default()),
        Err(AuditError::Fields(fields)) => (None, FieldErrors::from_msgs(&fields, page.lang)),
        Err(AuditError::Access(e)) => return Err(AppError::Forbidden(e.msg())),
        Err(AuditError::Store(e)) => return Err(e.into()),
    };
    let status = if found.is_some() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (entries, older, known, timezone) = match found {
        Some(p) => (p.entries, p.older, p.actions, p.timezone),
        None => (
            Vec::new(),
            None,
            crate::services::audit::KNOWN_ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
            String::new(),
        ),
    };
    let tz = zone(&timezone);
    let filters = |before: Option<i64>| {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        format!(
            "{base}{}",
            query_string(&[
                ("action", &input.action),
                ("actor", input.actor.trim()),
                ("from", &input.from),
                ("to", &input.to),
                ("before", &before)
            ])
        )
    };
    let older_href = older.map(|id| filters(Some(id)));
    let newest_href = (!input.before.trim().is_empty()).then(|| filters(None));
    let actions = known
        .iter()
        .map(|a| ActionChoice { value: a.clone(), label: label(page, a), selected: *a == input.action })
        .collect();
    let entries = entries
        .into_iter()
        .map(|e| EntryRow {
            time: local_time(e.created_at, &tz),
            workspace: e.workspace,
            label: label(page, &e.action),
            actor: e.actor,
            action: e.action,
            target: e.target.unwrap_or_default(),
            detail: e.detail,
            ip: e.ip.unwrap_or_default(),
        })
        .collect();
    let view = AuditView {
        page,
        nav,
        base,
        show_workspace,
        input,
        errors,
        actions,
        entries,
        timezone,
        older_href,
        newest_href,
    };
    Ok((status, render::html(&view)?).into_response())
}

/// `GET /admin/audit`: the workspace's log (admins).
pub async fn workspace_log(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(input): Query<AuditInput>,
) -> Result<Response, AppError> {
    let result = state.services().audit.list(&who.actor, &input.filter()).await;
    audit_view(&page, nav, "/admin/audit", false, input, result)
}
