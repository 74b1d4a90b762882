//! What every full page needs: language, direction, brand and asset URLs, resolved per request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::i18n::Lang;
use crate::services::site::{Brand, Logo, SiteLook};
use crate::web::assets;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// Cookie holding a visitor's explicit language choice.
pub const LANG_COOKIE: &str = "conversure_lang";

/// The per-request context every template gets as `page`.
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    pub brand: Brand,
    /// Path and query of this request, so the language switcher can come back here.
    pub here: String,
}

/// One entry of the language switcher.
pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

impl Page {
    /// Builds the context from the request's headers and the site's look.
    pub fn resolve(headers: &HeaderMap, here: String, look: SiteLook) -> Self {
        let from_cookie = cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c));
        let from_browser =
            || headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::negotiate);
        let lang = from_cookie.or(look.default_lang).or_else(from_browser).unwrap_or_default();
        Self { lang, brand: look.brand, here }
    }

    /// The translation of a catalog key.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.lang.t(key)
    }

    /// The translation of a catalog key with its placeholders filled in (templates pass `[("name", value)]`).
    pub fn format(&self, key: &str, args: &[(&str, String)]) -> String {
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.lang.format(key, &args)
    }

    /// `ltr` or `rtl`.
    pub fn dir(&self) -> &'static str {
        self.lang.direction().as_str()
    }

    /// Versioned URL of an embedded asset.
    pub fn asset(&self, path: &str) -> String {
        assets::url(path)
    }

    /// The logo's URL.
    pub fn logo_url(&self) -> String {
        match &self.brand.logo {
            Logo::Asset(path) => assets::url(path),
            Logo::Url(url) => url.clone(),
        }
    }

    /// The brand stylesheet's URL, versioned by the colours so a change shows at once.
    pub fn brand_css_url(&self) -> String {
        format!("/brand.css?v={}", brand_version(&self.brand))
    }

    /// Links to switch language and come back to this page.
    pub fn languages(&self) -> Vec<LangLink> {
        let back = utf8_percent_encode(&self.here, NON_ALPHANUMERIC);
        Lang::ALL
            .into_iter()
            .map(|lang| LangLink {
                code: lang.code(),
                name: lang.native_name(),
                href: format!("/lang?set={}&back={back}", lang.code()),
                current: lang == self.lang,
            })
            .collect()
    }
}

/// The CSS variables of a brand (colours are validated hex values, so nothing can escape the declaration).
pub fn brand_css(brand: &Brand) -> String {
    format!(
        ":root{{--brand-primary:{};--brand-primary-contrast:{};--brand-accent:{};}}\n",
        brand.primary, brand.primary_contrast, brand.accent
    )
}

fn brand_version(brand: &Brand) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(brand_css(brand).as_bytes())[..4])
}

/// The value of one cookie from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

impl FromRequestParts<AppState> for Page {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let services = state.services();
        let mut look = services.site.look().await?;
        // A verified custom domain shows its workspace's name instead of the instance's.
        let Ok(client) = crate::web::client::ClientInfo::from_request_parts(parts, state).await;
        if let Some(host) = client.host.as_deref()
            && let Some(workspace) = services.domains.workspace_for_host(host).await?
        {
            look.brand.name = workspace.workspace_name;
        }
        let here = parts.uri.path_and_query().map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        Ok(Self::resolve(&parts.headers, here, look))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn look(default_lang: Option<Lang>) -> SiteLook {
        let brand = Brand {
            name: "X".into(),
            logo: Logo::Asset("img/logo.svg"),
            primary: "#112233".into(),
            primary_contrast: "#ffffff",
            accent: "#445566".into(),
            show_powered_by: true,
        };
        SiteLook { brand, default_lang }
    }

    #[test]
    fn cookie_beats_setting_beats_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("ar"));
        assert_eq!(Page::resolve(&headers, "/".into(), look(None)).lang, Lang::Ar);
        assert_eq!(Page::resolve(&headers, "/".into(), look(Some(Lang::En))).lang, Lang::En);
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; conversure_lang=ar"));
        assert_eq!(Page::resolve(&headers, "/".into(), look(Some(Lang::En))).lang, Lang::Ar);
    }

    #[test]
    fn language_links_return_here() {
        let page = Page::resolve(&HeaderMap::new(), "/install?x=1".into(), look(None));
        let links = page.languages();
        assert_eq!(links.len(), Lang::ALL.len());
        assert_eq!(links[1].href, "/lang?set=ar&back=%2Finstall%3Fx%3D1");
        assert!(links[0].current);
    }
}
