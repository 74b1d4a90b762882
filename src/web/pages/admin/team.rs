//! The team panel: the member table with search and filter, the workspace overview, and adding members. Reads
//! need `ViewTeam`, changes `ManageTeam` (the services check; the pages only hide what the role cannot use).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Failure, Nav, Notice, WithNav, check_csrf, local_date, optional_number, query_string, team_error, zone};
use crate::domain::role::{Permission, Role};
use crate::services::access::Actor;
use crate::services::dashboard::{AdminPanel, Direction, NumberState, Overview, Trend};
use crate::services::team::{MemberFilter, NewMember};
use crate::store::accounts::Member;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::FieldErrors;
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

// ---- View models ----------------------------------------------------------------------------------------------

/// One row of the team table.
pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    /// Empty when there is no quota.
    pub quota: Option<i64>,
    pub sent_today: i64,
    pub active: bool,
    pub invited: bool,
    pub joined: String,
    /// The signed-in user's own row (they cannot deactivate or remove themselves).
    pub is_self: bool,
}

fn member_rows(members: &[Member], actor: &Actor, tz: &jiff::tz::TimeZone) -> Vec<MemberRow> {
    members.iter().map(|m| row(m, actor, tz)).collect()
}

pub(super) fn row(m: &Member, actor: &Actor, tz: &jiff::tz::TimeZone) -> MemberRow {
    MemberRow {
        id: m.user_id,
        name: m.name.clone(),
        email: m.email.clone(),
        role: m.role.clone(),
        quota: m.daily_quota,
        sent_today: m.sent_today,
        active: m.status == "active",
        invited: m.invited,
        joined: local_date(m.joined_at, tz),
        is_self: actor.user_id() == Some(m.user_id),
    }
}

/// A count with its weekly trend, ready to show.
pub struct StatView {
    pub total: i64,
    pub current: i64,
    /// `up`, `down` or `flat`.
    pub direction: &'static str,
    /// `+50%`, `-33%`; empty when there is no base to compare with.
    pub percent: String,
}

fn stat(total: i64, trend: Trend) -> StatView {
    StatView {
        total,
        current: trend.current,
        direction: match trend.direction() {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Flat => "flat",
        },
        percent: trend.percent().map(|p| format!("{p:+}%")).unwrap_or_default(),
    }
}

/// The overview cards.
pub struct OverviewView {
    pub numbers: Vec<NumberState>,
    pub sent_today: i64,
    pub daily_limit: Option<i64>,
    /// Contacts and conversations: (element id, catalog key of the label, the count).
    pub trends: Vec<(&'static str, &'static str, StatView)>,
    pub active_members: i64,
    pub agents_limit: Option<i64>,
}

fn overview_view(o: Overview) -> OverviewView {
    OverviewView {
        sent_today: o.sent_today,
        daily_limit: o.daily_limit,
        trends: vec![
            ("stat-contacts", "admin.overview.contacts", stat(o.contacts, o.contacts_trend)),
            ("stat-conversations", "admin.overview.conversations", stat(o.conversations, o.conversations_trend)),
        ],
        active_members: o.active_members,
        agents_limit: o.limits.agents,
        numbers: o.numbers,
    }
}

/// The add-member form as typed (the password is never sent back).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddInput {
    csrf: String,
    name: String,
    email: String,
    role: String,
    password: String,
    daily_quota: String,
}

/// The team filter (`?q=&status=`), also the state of the panel after a change (`added`, `invite`, `done`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TeamQuery {
    q: String,
    status: String,
    /// The id of a member just added.
    added: String,
    invite: Option<String>,
    done: String,
}

impl TeamQuery {
    fn filter(&self) -> MemberFilter {
        MemberFilter {
            search: Some(self.q.trim().to_owned()).filter(|s| !s.is_empty()),
            status: Some(self.status.clone()).filter(|s| matches!(s.as_str(), "active" | "inactive")),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct PanelPage<'a> {
    page: &'a Page,
    nav: Nav,
    workspace: String,
    can_manage: bool,
    notice: Option<Notice>,
    q: String,
    status: String,
    members: Vec<MemberRow>,
    overview: OverviewView,
    roles: [Role; 3],
    /// The add form: open after a failed add, with what was typed.
    add_open: bool,
    add: AddInput,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/_team_rows.html")]
struct RowsFragment<'a> {
    page: &'a Page,
    members: Vec<MemberRow>,
    can_manage: bool,
}

pub(super) fn workspace_of(user: &WorkspaceUser) -> (String, jiff::tz::TimeZone) {
    user.user.membership.as_ref().map_or_else(
        || (String::new(), jiff::tz::TimeZone::UTC),
        |m| (m.workspace.name.clone(), zone(&m.workspace.timezone)),
    )
}

struct PanelState {
    notice: Option<Notice>,
    add_open: bool,
    add: AddInput,
    errors: FieldErrors,
}

fn render_panel<'a>(
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    query: &TeamQuery,
    panel: AdminPanel,
    state: PanelState,
) -> PanelPage<'a> {
    let (workspace, tz) = workspace_of(who);
    PanelPage {
        page,
        nav,
        workspace,
        can_manage: who.actor.role.allows(Permission::ManageTeam),
        notice: state.notice,
        q: query.q.clone(),
        status: query.status.clone(),
        members: member_rows(&panel.members, &who.actor, &tz),
        overview: overview_view(panel.overview),
        roles: Role::ALL,
        add_open: state.add_open,
        add: state.add,
        errors: state.errors,
    }
}

// ---- Handlers -------------------------------------------------------------------------------------------------

/// `GET /admin`: the panel; `?q=` and `?status=` filter the team without JavaScript too.
pub async fn panel(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<TeamQuery>,
) -> Result<Response, AppError> {
    let panel = state.services().dashboard.panel(&who.actor, &query.filter()).await.map_err(team_error)?;
    let notice = notice_for(&page, &query, &panel.members);
    let view = render_panel(
        &page,
        nav,
        &who,
        &query,
        panel,
        PanelState { notice, add_open: false, add: AddInput::default(), errors: FieldErrors::default() },
    );
    Ok(render::html(&view)?.into_response())
}

/// The message after a redirect back to the panel.
fn notice_for(page: &Page, query: &TeamQuery, members: &[Member]) -> Option<Notice> {
    if let Ok(id) = query.added.parse::<i64>() {
        let name = members.iter().find(|m| m.user_id == id).map(|m| m.name.clone()).unwrap_or_default();
        let key = if query.invite.is_some() { "admin.team.added_invite" } else { "admin.team.added" };
        let kind = if query.invite.is_some() { "info" } else { "success" };
        return Some(Notice { kind, message: page.format(key, &[("name", name)]) });
    }
    let key = match query.done.as_str() {
        "removed" => "admin.team.removed",
        "switched" => "admin.switched",
        _ => return None,
    };
    Some(Notice::success(page.t(key).to_owned()))
}

/// `GET /admin/team`: the table's rows only, for the filter's htmx requests.
pub async fn team_rows(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    Query(query): Query<TeamQuery>,
) -> Result<Response, AppError> {
    let members = state.services().team.list(&who.actor, &query.filter()).await.map_err(team_error)?;
    let (_, tz) = workspace_of(&who);
    let view = RowsFragment {
        page: &page,
        members: member_rows(&members, &who.actor, &tz),
        can_manage: who.actor.role.allows(Permission::ManageTeam),
    };
    let mut response = render::html(&view)?.into_response();
    // The address bar follows the filter, so a reload or a shared link shows the same list.
    let here = format!("/admin{}", query_string(&[("q", query.q.trim()), ("status", &query.status)]));
    if let Ok(value) = HeaderValue::from_str(&here) {
        response.headers_mut().insert("hx-push-url", value);
    }
    Ok(response)
}

/// `POST /admin/members`: adds a member, with a password or to be invited.
pub async fn add(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Form(mut input): Form<AddInput>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let services = state.services();
    let new = NewMember {
        name: input.name.clone(),
        email: input.email.clone(),
        role: input.role.clone(),
        password: Some(input.password.clone()).filter(|p| !p.is_empty()),
        daily_quota: optional_number(&input.daily_quota),
    };
    input.password.clear();
    let failure = match services.team.add(&who.actor, new, page.lang).await {
        Ok(added) => match added.invitation.filter(|i| !i.emailed) {
            // Not emailed (no SMTP, or sending failed): the link is shown once, here, for the admin to pass on.
            Some(invitation) => {
                let mut message = page.lang.format("admin.team.invite_link", &[("link", &invitation.link)]);
                if let Some(error) = invitation.mail_error {
                    message = format!("{} {message}", error.render(page.lang));
                }
                let notice = Notice { kind: "info", message };
                let query = TeamQuery::default();
                let panel = services.dashboard.panel(&who.actor, &query.filter()).await.map_err(team_error)?;
                let state = PanelState {
                    notice: Some(notice),
                    add_open: false,
                    add: AddInput::default(),
                    errors: FieldErrors::default(),
                };
                let view = render_panel(&page, nav, &who, &query, panel, state);
                return Ok(render::html(&view)?.into_response());
            }
            None => {
                let invite = if added.needs_invitation { "&invite=1" } else { "" };
                return Ok(Redirect::to(&format!("/admin?added={}{invite}", added.member.user_id)).into_response());
            }
        },
        Err(err) => Failure::from_team(err, page.lang),
    };
    let (notice, errors) = match failure {
        Failure::Page(err) => return Err(err),
        Failure::Fields(errors) => (None, errors),
        Failure::Alert(notice) => (Some(notice), FieldErrors::default()),
    };
    let query = TeamQuery::default();
    let panel = services.dashboard.panel(&who.actor, &query.filter()).await.map_err(team_error)?;
    let view = render_panel(&page, nav, &who, &query, panel, PanelState { notice, add_open: true, add: input, errors });
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render::html(&view)?).into_response())
}
