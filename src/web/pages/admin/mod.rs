//! The workspace admin panel (`/admin`: team, numbers, sending and trends), its audit log (`/admin/audit`), the
//! workspace switcher (`/workspace`), and what every signed-in page shares: the navigation, the session's CSRF
//! check and how times are shown.

mod audit;
mod inbox_settings;
mod jobs;
mod member;
mod numbers;
mod tags;
mod team;
mod templates;
mod workspace;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::domain::msg::Msg;
use crate::domain::role::{Permission, Role};
use crate::i18n::Lang;
use crate::services::auth::CurrentUser;
use crate::services::team::TeamError;
use crate::store::accounts::Membership;
use crate::web::error::AppError;
use crate::web::extract::{OwnerUser, WorkspaceUser};
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::pages::auth::SignedIn;
use crate::web::state::AppState;

pub(crate) use audit::{AuditInput, audit_view};
pub(crate) use jobs::{ActionInput, JobsQuery, OwnerExtras, PAGE_SIZE, done_href, jobs_error, jobs_view};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(team::panel))
        .route("/admin/team", get(team::team_rows))
        .route("/admin/members", post(team::add))
        .route("/admin/members/{id}", get(member::member_page).post(member::update))
        .route("/admin/members/{id}/status", post(member::set_status))
        .route("/admin/members/{id}/delete", get(member::delete_page).post(member::delete))
        .route("/admin/audit", get(audit::workspace_log))
        .route("/admin/jobs", get(jobs::list))
        .route("/admin/jobs/{id}/retry", post(jobs::retry))
        .route("/admin/jobs/{id}/discard", post(jobs::discard))
        .route("/admin/numbers", get(numbers::list).post(numbers::create))
        .route("/admin/numbers/new", get(numbers::new_page))
        .route("/admin/numbers/{id}", get(numbers::show).post(numbers::update))
        .route("/admin/numbers/{id}/test", post(numbers::test))
        .route("/admin/numbers/{id}/delete", get(numbers::delete_page).post(numbers::delete))
        .route("/workspace", get(workspace::list))
        .route("/workspace/switch", post(workspace::switch))
        .merge(templates::routes())
        .merge(inbox_settings::routes())
        .merge(tags::routes())
}

// ---- Navigation -----------------------------------------------------------------------------------------------

/// A workspace in the switcher.
#[derive(Debug, Clone)]
pub struct NavWorkspace {
    pub id: i64,
    pub name: String,
    pub suspended: bool,
    pub current: bool,
}

/// What the navigation partial (`templates/partials/_nav.html`) shows.
#[derive(Debug, Clone)]
pub struct Nav {
    pub user_name: String,
    /// The session's CSRF token, for the sign-out and switch forms.
    pub csrf: String,
    pub is_owner: bool,
    /// The role in the current (active) workspace allows the admin panel.
    pub can_admin: bool,
    /// … and its audit log.
    pub can_audit: bool,
    pub current: Option<NavWorkspace>,
    /// The user's workspaces; only the current one when `complete` is false.
    pub workspaces: Vec<NavWorkspace>,
    /// Whether `workspaces` lists every workspace of the user (else the switcher links to `/workspace`).
    pub complete: bool,
    /// `home`, `admin`, `audit`, `jobs`, `numbers`, `owner` or `workspace`: the link shown as the current page.
    pub section: &'static str,
    /// For the owner: what needs their attention on every panel page (see [`OwnerAlerts`]).
    pub alerts: OwnerAlerts,
}

/// The owner's panel-wide banners.
#[derive(Debug, Clone, Default)]
pub struct OwnerAlerts {
    /// A newer version the last update check found.
    pub update_available: Option<String>,
    /// A certificate is failing to be obtained or renewed.
    pub tls_failing: bool,
}

impl OwnerAlerts {
    /// Reads the alerts for an owner (nobody else sees them). A failed read only costs the banner, never the page.
    async fn for_user(user: &CurrentUser, state: &AppState) -> Self {
        if !user.user.is_owner {
            return Self::default();
        }
        let update_available = state.services().update.available_version().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the last update check for the banner");
            None
        });
        Self { update_available, tls_failing: state.tls.any_failing() }
    }
}

fn nav_workspace(membership: &Membership, current: Option<i64>) -> NavWorkspace {
    NavWorkspace {
        id: membership.workspace.id,
        name: membership.workspace.name.clone(),
        suspended: membership.workspace.status != "active",
        current: Some(membership.workspace.id) == current,
    }
}

impl Nav {
    /// The navigation with every workspace of the user.
    pub fn new(user: &CurrentUser, memberships: &[Membership], section: &'static str) -> Self {
        let mut nav = Self::basic(user);
        let current_id = nav.current.as_ref().map(|c| c.id);
        nav.workspaces = memberships.iter().map(|m| nav_workspace(m, current_id)).collect();
        nav.complete = true;
        nav.section = section;
        nav
    }

    /// The navigation from the signed-in user alone (the start page): the switcher then links to `/workspace`.
    pub fn basic(user: &CurrentUser) -> Self {
        let current = user.membership.as_ref().map(|m| nav_workspace(m, Some(m.workspace.id)));
        let role =
            user.membership.as_ref().filter(|m| m.workspace.status == "active").and_then(|m| Role::parse(&m.role));
        Self {
            user_name: user.user.name.clone(),
            csrf: user.csrf_token.clone(),
            is_owner: user.user.is_owner,
            can_admin: role.is_some_and(|r| r.allows(Permission::ViewTeam)),
            can_audit: role.is_some_and(|r| r.allows(Permission::ViewAudit)),
            workspaces: current.iter().cloned().collect(),
            current,
            complete: false,
            section: "home",
            alerts: OwnerAlerts::default(),
        }
    }

    /// Whether the switcher has somewhere else to go (or may have, when the list is not complete).
    pub fn can_switch(&self) -> bool {
        !self.complete || self.workspaces.len() > 1
    }
}

/// Which navigation link a path belongs to.
fn section_of(path: &str) -> &'static str {
    if path.starts_with("/admin/audit") {
        "audit"
    } else if path.starts_with("/admin/jobs") || path.starts_with("/owner/jobs") {
        "jobs"
    } else if path.starts_with("/admin/numbers") {
        "numbers"
    } else if path.starts_with("/admin/templates") {
        "templates"
    } else if path.starts_with("/admin/inbox") {
        "inbox-settings"
    } else if path.starts_with("/admin/tags") {
        "tags"
    } else if path.starts_with("/admin") {
        "admin"
    } else if path.starts_with("/owner") {
        "owner"
    } else if path.starts_with("/inbox") {
        "inbox"
    } else if path.starts_with("/workspace") {
        "workspace"
    } else {
        "home"
    }
}

/// An extractor that also knows who is signed in.
pub trait HasUser {
    fn current_user(&self) -> &CurrentUser;
}

impl HasUser for WorkspaceUser {
    fn current_user(&self) -> &CurrentUser {
        &self.user
    }
}

impl HasUser for OwnerUser {
    fn current_user(&self) -> &CurrentUser {
        &self.user
    }
}

impl HasUser for SignedIn {
    fn current_user(&self) -> &CurrentUser {
        &self.0
    }
}

/// `T` (a signed-in extractor) plus the page's navigation with every workspace of the user.
pub struct WithNav<T>(pub T, pub Nav);

impl<T> FromRequestParts<AppState> for WithNav<T>
where
    T: FromRequestParts<AppState, Rejection = Response> + HasUser + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let inner = T::from_request_parts(parts, state).await?;
        let user = inner.current_user();
        let memberships =
            state.services().session_workspace.workspaces(user).await.map_err(|e| AppError::from(e).into_response())?;
        let mut nav = Nav::new(user, &memberships, section_of(parts.uri.path()));
        nav.alerts = OwnerAlerts::for_user(user, state).await;
        Ok(Self(inner, nav))
    }
}

// ---- Shared helpers -------------------------------------------------------------------------------------------

/// Refuses a signed-in form whose `csrf` field is not the session's token (403, before anything is read or changed).
pub(crate) fn check_csrf(user: &CurrentUser, sent: &str) -> Result<(), AppError> {
    if sent.is_empty() || !crate::crypto::constant_time_eq(&user.csrf_token, sent) {
        return Err(AppError::Forbidden(Msg::new("error.csrf")));
    }
    Ok(())
}

/// A message above a form or a table.
#[derive(Debug, Clone)]
pub struct Notice {
    /// `success`, `error`, `info`, `warn`.
    pub kind: &'static str,
    pub message: String,
}

impl Notice {
    pub fn success(message: String) -> Self {
        Self { kind: "success", message }
    }

    pub fn error(message: String) -> Self {
        Self { kind: "error", message }
    }
}

/// How a failed change is shown: next to the fields, as an alert over the form (both 422), or as an error page.
pub(crate) enum Failure {
    Fields(FieldErrors),
    Alert(Notice),
    Page(AppError),
}

impl Failure {
    pub(crate) fn from_team(err: TeamError, lang: Lang) -> Self {
        match err {
            TeamError::Fields(fields) => Self::Fields(FieldErrors::from_msgs(&fields, lang)),
            TeamError::Refused(msg) => Self::Alert(Notice::error(msg.render(lang))),
            other => Self::Page(team_error(other)),
        }
    }
}

/// A team error as an error page (for reads, where there is no form to show it on).
pub(crate) fn team_error(err: TeamError) -> AppError {
    match err {
        TeamError::Access(e) => AppError::Forbidden(e.msg()),
        TeamError::NotFound => AppError::NotFound,
        TeamError::Fields(_) => AppError::BadRequest(Msg::new("admin.bad_input")),
        TeamError::Refused(msg) => AppError::Forbidden(msg),
        TeamError::Store(e) => e.into(),
    }
}

/// The translation of `{group}.{key}` (a role, a number's state), for templates: `keyed(page, "role", m.role.as_str())`.
pub fn keyed(page: &Page, group: &str, key: &str) -> String {
    page.t(&format!("{group}.{key}")).to_owned()
}

/// A time zone by name, UTC when unknown.
pub(crate) fn zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// `2025-03-01 14:05:09` in a time zone.
pub(crate) fn local_time(millis: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|ts| ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `2025-03-01` in a time zone.
pub(crate) fn local_date(millis: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|ts| ts.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// An optional whole number typed into a form: empty is `None`. Anything else that is not a number becomes `-1`,
/// which the services refuse with their own message for the field (so every field error comes back at once).
pub(crate) fn optional_number(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.parse::<i64>().unwrap_or(-1))
}

/// Every IANA time zone, sorted (for the time zone selects).
pub(crate) fn timezones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
}

/// `(code, name)` of every language of the interface.
pub(crate) fn languages() -> Vec<(&'static str, &'static str)> {
    Lang::ALL.iter().map(|l| (l.code(), l.native_name())).collect()
}

/// `?name=value&…` with the values percent-encoded; empty values are left out.
pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    /// Everything but RFC 3986's unreserved characters.
    const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VALUE)))
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_the_path() {
        assert_eq!(section_of("/"), "home");
        assert_eq!(section_of("/admin/members/3"), "admin");
        assert_eq!(section_of("/admin/audit"), "audit");
        assert_eq!(section_of("/owner/audit"), "owner");
        assert_eq!(section_of("/admin/jobs"), "jobs");
        assert_eq!(section_of("/owner/jobs"), "jobs");
        assert_eq!(section_of("/workspace"), "workspace");
    }

    #[test]
    fn numbers_and_queries() {
        assert_eq!(optional_number(" "), None);
        assert_eq!(optional_number("25"), Some(25));
        assert_eq!(optional_number("lots"), Some(-1));
        assert_eq!(query_string(&[("q", "a b&c"), ("status", "")]), "?q=a%20b%26c");
        assert_eq!(
            query_string(&[("action", "team.role_changed"), ("actor", "o@x")]),
            "?action=team.role_changed&actor=o%40x"
        );
        assert_eq!(query_string(&[("q", "")]), "");
    }

    #[test]
    fn times_show_in_the_zone() {
        let berlin = zone("Europe/Berlin");
        assert_eq!(local_time(1_735_772_400_000, &berlin), "2025-01-02 00:00:00");
        assert_eq!(local_date(1_735_772_400_000, &zone("UTC")), "2025-01-01");
        assert_eq!(zone("Nowhere/Else"), jiff::tz::TimeZone::UTC);
    }
}
