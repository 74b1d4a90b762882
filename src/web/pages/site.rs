//! Site-wide endpoints: the brand stylesheet and the language switch.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::i18n::Lang;
use crate::services::site;
use crate::web::cookies::{self, SameSite};
use crate::web::error::AppError;
use crate::web::page::{LANG_COOKIE, brand_css};
use crate::web::state::AppState;

/// The brand's colours as CSS variables (kept out of the HTML so the CSP can forbid inline styles).
pub async fn brand_stylesheet(State(state): State<AppState>) -> Response {
    let look = state.services().site.look().await.unwrap_or_else(|_| site::default_look());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            // The URL carries a version of the colours, so the stylesheet may be cached; a change gets a new URL.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        brand_css(&look.brand),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LangChoice {
    set: String,
    back: Option<String>,
}

/// Remembers the visitor's language in a cookie and returns to the page they came from.
pub async fn switch_language(
    State(state): State<AppState>,
    Query(choice): Query<LangChoice>,
) -> Result<Response, AppError> {
    let lang = Lang::from_code(&choice.set).ok_or_else(|| {
        AppError::BadRequest(crate::domain::msg::Msg::with("error.unknown_language", &[("code", choice.set.clone())]))
    })?;
    let mut response = Redirect::to(&safe_back(choice.back.as_deref())).into_response();
    remember_language(&mut response, lang, state.secure_cookies);
    Ok(response)
}

/// Sets the cookie that keeps a visitor's language choice for a year.
pub fn remember_language(response: &mut Response, lang: Lang, secure: bool) {
    cookies::set(response, LANG_COOKIE, lang.code(), "/", 31_536_000, SameSite::Lax, secure);
}

/// Only paths on this site: `//evil.example` and `https://…` would make this an open redirect.
fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn back_links_stay_on_site() {
        assert_eq!(super::safe_back(Some("/install?x=1")), "/install?x=1");
        assert_eq!(super::safe_back(Some("//evil.example/")), "/");
        assert_eq!(super::safe_back(Some("https://evil.example/")), "/");
        assert_eq!(super::safe_back(Some("/\\evil.example")), "/");
        assert_eq!(super::safe_back(None), "/");
    }
}
