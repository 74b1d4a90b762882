//! The WhatsApp numbers pages of the workspace admin panel: the list (`/admin/numbers`), one number with its
//! webhook setup, quota, "Test connection" and edit form (`/admin/numbers/{id}`), and deleting it after a
//! confirmation. Connecting a number and the forms' plumbing live in [`form`].
//!
//! Only admins use these pages. The service lets every member list and read numbers (the composer needs them), so
//! the reads check `ManageSettings` here, before anything is shown; the changes are checked by the service.

mod form;

pub use form::{create, new_page, update};

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::team::workspace_of;
use super::{Nav, Notice, WithNav, check_csrf, local_time};
use crate::domain::role::Permission;
use crate::services::whatsapp::{NumberView, WhatsAppError};
use crate::store::now_millis;
use crate::web::error::AppError;
use crate::web::extract::WorkspaceUser;
use crate::web::forms::{CsrfOnly, DoneQuery, FieldErrors};
use crate::web::page::Page;
use crate::web::render;
use crate::web::state::AppState;

use form::EditForm;

/// A WhatsApp error as an error page (for reads and actions without a form to show it on).
pub(crate) fn numbers_error(err: WhatsAppError) -> AppError {
    match err {
        WhatsAppError::Access(e) => AppError::Forbidden(e.msg()),
        WhatsAppError::NotFound => AppError::NotFound,
        WhatsAppError::Fields(fields) => AppError::Invalid(fields),
        WhatsAppError::Refused { msg, .. } => AppError::Conflict(msg),
        WhatsAppError::Store(e) => e.into(),
        WhatsAppError::Internal(detail) => AppError::Internal(detail),
    }
}

/// Refuses members who may not manage numbers, with the same 403 the other admin pages give: the pages show
/// webhook secrets, which the service would hand to any member.
fn require_admin(who: &WorkspaceUser) -> Result<(), AppError> {
    who.actor.require(Permission::ManageSettings).map_err(|e| AppError::Forbidden(e.msg()))
}

/// Whether an htmx request asked for a fragment (boosted links and forms want the whole page).
fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-boosted")
}

// ---- The list -------------------------------------------------------------------------------------------------

/// One row of the numbers table.
pub struct NumberRow {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub provider_label: &'static str,
    pub active: bool,
    /// The last "Test connection": `None` when never tested.
    pub test_ok: Option<bool>,
    pub tested: String,
    /// Empty when no webhook arrived yet.
    pub last_webhook: String,
    pub sent_today: i64,
    /// Today's cap under the warm-up; `None` without warm-up.
    pub daily_quota: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/numbers.html")]
struct ListPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    numbers: Vec<NumberRow>,
    timezone: String,
}

/// `GET /admin/numbers`: the workspace's numbers with their state.
pub async fn list(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let numbers = state.services().numbers.list(&who.actor).await.map_err(numbers_error)?;
    let (_, tz) = workspace_of(&who);
    let time = |millis: Option<i64>| millis.map(|m| local_time(m, &tz)).unwrap_or_default();
    let rows = numbers
        .into_iter()
        .map(|n| NumberRow {
            id: n.id,
            active: n.status == "active",
            test_ok: n.last_test_ok,
            tested: time(n.last_test_at),
            last_webhook: time(n.last_webhook_at),
            sent_today: n.quota.sent_today,
            daily_quota: n.quota.daily_quota,
            name: n.name,
            phone: n.phone_number,
            provider_label: n.provider_label,
        })
        .collect();
    let notice = (query.done == "deleted").then(|| Notice::success(page.t("numbers.deleted").to_owned()));
    let view =
        ListPage { page: &page, nav, notice, numbers: rows, timezone: tz.iana_name().unwrap_or("UTC").to_owned() };
    Ok(render::html(&view)?.into_response())
}

// ---- One number -----------------------------------------------------------------------------------------------

/// The last "Test connection" of a number, as its result box shows it.
pub struct TestBox {
    /// `None`: never tested.
    pub ok: Option<bool>,
    pub detail: String,
    pub at: String,
}

/// The result box alone: the answer to an htmx "Test connection".
#[derive(Template)]
#[template(path = "admin/number_test.html")]
struct TestFragment<'a> {
    page: &'a Page,
    test: TestBox,
}

#[derive(Template)]
#[template(path = "admin/number.html")]
pub(super) struct NumberPage<'a> {
    page: &'a Page,
    nav: Nav,
    notice: Option<Notice>,
    number: NumberView,
    /// Official APIs have Meta's messaging limit and its tiers; gateways do not.
    official: bool,
    /// Where the API calls go when no base URL is set (placeholder of the field); empty for self-hosted ones.
    default_base_url: &'static str,
    /// Where the API calls go (for the setup examples).
    api_base: String,
    /// `(name, label, supported)` of each capability.
    capabilities: Vec<(&'static str, String, bool)>,
    last_webhook: String,
    created: String,
    test: TestBox,
    /// Evolution: the instance name, for the setup call.
    instance: String,
    edit: EditForm,
    errors: FieldErrors,
}

/// The number's page; `edit` holds what was typed after a failed change, else the stored values are shown.
pub(super) fn number_page<'a>(
    page: &'a Page,
    nav: Nav,
    who: &WorkspaceUser,
    number: NumberView,
    edit: Option<EditForm>,
    notice: Option<Notice>,
    errors: FieldErrors,
) -> NumberPage<'a> {
    let (_, tz) = workspace_of(who);
    let time = |millis: Option<i64>| millis.map(|m| local_time(m, &tz)).unwrap_or_default();
    let kind = number.kind();
    let edit = edit.unwrap_or_else(|| EditForm::stored(page, &number));
    let instance = number
        .credentials
        .iter()
        .find(|c| c.name == "instance")
        .and_then(|c| c.value.clone())
        .unwrap_or_else(|| "{instance}".to_owned());
    let default_base_url = kind.and_then(|k| k.connector().default_base_url()).unwrap_or_default();
    NumberPage {
        page,
        nav,
        notice,
        official: kind.is_some_and(|k| k.is_official()),
        default_base_url,
        api_base: number.api_base_url.clone().unwrap_or_else(|| default_base_url.to_owned()),
        capabilities: number
            .capabilities
            .iter()
            .map(|c| (c.name, capability_label(page, c.name), c.supported))
            .collect(),
        last_webhook: time(number.last_webhook_at),
        created: local_time(number.created_at, &tz),
        test: TestBox {
            ok: number.last_test_ok,
            detail: number.last_test_detail.clone().unwrap_or_default(),
            at: time(number.last_test_at),
        },
        instance,
        edit,
        errors,
        number,
    }
}

/// `GET /admin/numbers/{id}`: one number, its webhook setup, quota, connection test and edit form.
pub async fn show(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let number = state.services().numbers.get(&who.actor, id).await.map_err(numbers_error)?;
    let notice = match query.done.as_str() {
        "created" => Some(Notice::success(page.t("numbers.created").to_owned())),
        "saved" => Some(Notice::success(page.t("numbers.saved").to_owned())),
        // The result itself is in the result box (stored with the number); the notice says which way it went.
        "tested" => match number.last_test_ok {
            Some(true) => Some(Notice::success(page.t("numbers.test.passed").to_owned())),
            Some(false) => Some(Notice::error(page.t("numbers.test.failed_notice").to_owned())),
            None => None,
        },
        _ => None,
    };
    let view = number_page(&page, nav, &who, number, None, notice, FieldErrors::default());
    Ok(render::html(&view)?.into_response())
}

/// `POST /admin/numbers/{id}/test`: checks the stored credentials with the provider. htmx gets the result box;
/// without JavaScript the browser goes back to the number's page, which shows the stored result.
pub async fn test(
    State(state): State<AppState>,
    page: Page,
    who: WorkspaceUser,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    let result = state.services().numbers.test(&who.actor, id).await.map_err(numbers_error)?;
    if !wants_fragment(&headers) {
        return Ok(Redirect::to(&format!("/admin/numbers/{id}?done=tested")).into_response());
    }
    let (_, tz) = workspace_of(&who);
    let test = TestBox { ok: Some(result.ok), detail: result.detail, at: local_time(now_millis(), &tz) };
    Ok(render::html(&TestFragment { page: &page, test })?.into_response())
}

/// A capability's name in words; the raw name when the catalog does not know it yet.
pub fn capability_label(page: &Page, name: &str) -> String {
    let key = format!("numbers.capability.{name}");
    let label = page.t(&key);
    if label == key { name.to_owned() } else { label.to_owned() }
}

// ---- Deleting -------------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/number_delete.html")]
struct DeletePage<'a> {
    page: &'a Page,
    nav: Nav,
    number: NumberView,
}

/// `GET /admin/numbers/{id}/delete`: the confirmation step, which says what goes with the number.
pub async fn delete_page(
    State(state): State<AppState>,
    page: Page,
    WithNav(who, nav): WithNav<WorkspaceUser>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin(&who)?;
    let number = state.services().numbers.get(&who.actor, id).await.map_err(numbers_error)?;
    Ok(render::html(&DeletePage { page: &page, nav, number })?.into_response())
}

/// `POST /admin/numbers/{id}/delete`: disconnects the number; its conversations and messages are deleted with it.
pub async fn delete(
    State(state): State<AppState>,
    who: WorkspaceUser,
    Path(id): Path<i64>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    check_csrf(&who.user, &input.csrf)?;
    state.services().numbers.delete(&who.actor, id).await.map_err(numbers_error)?;
    Ok(Redirect::to("/admin/numbers?done=deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::providers::ProviderKind;

    #[test]
    fn the_pages_are_their_own_nav_section() {
        assert_eq!(super::super::section_of("/admin/numbers"), "numbers");
        assert_eq!(super::super::section_of("/admin/numbers/3/delete"), "numbers");
    }

    #[test]
    fn htmx_fragments_only_for_plain_htmx_requests() {
        let mut headers = HeaderMap::new();
        assert!(!wants_fragment(&headers));
        headers.insert("hx-request", "true".parse().unwrap());
        assert!(wants_fragment(&headers));
        headers.insert("hx-boosted", "true".parse().unwrap());
        assert!(!wants_fragment(&headers), "a boosted form wants the page");
    }

    /// The keys built at run time (hints, descriptions, capabilities) exist in every catalog; the catalog test only
    /// sees literal keys.
    #[test]
    fn computed_keys_exist() {
        let mut keys = Vec::new();
        for kind in ProviderKind::ALL {
            keys.push(format!("numbers.about.{}", kind.as_str()));
            for field in kind.connector().credential_fields() {
                keys.push(format!("numbers.hint.{}.{}", kind.as_str(), field.name));
            }
        }
        // The service's capability names (`capability_list` is private to it; a new one shows its raw name).
        for name in ["text", "templates", "media", "media_upload", "interactive", "mark_read", "customer_window"] {
            keys.push(format!("numbers.capability.{name}"));
        }
        for lang in Lang::ALL {
            for key in &keys {
                assert_ne!(lang.t(key), key.as_str(), "{} lacks {key}", lang.code());
            }
        }
    }
}
