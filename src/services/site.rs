//! The site's look and language: brand name, logo and colours, and the default language, from settings.

use std::collections::BTreeMap;

use crate::i18n::Lang;
use crate::store::settings::{self, Scope};
use crate::store::{Conn, Db, StoreError};

const DEFAULT_NAME: &str = "Conversure";
const DEFAULT_LOGO: &str = "img/logo.svg";
const DEFAULT_PRIMARY: &str = "#0f766e";
const DEFAULT_ACCENT: &str = "#25d366";

/// How pages look: shown in the header, the title and as CSS variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    /// An absolute URL, or a path under `/assets/` for the built-in logo.
    pub logo: Logo,
    /// `#rrggbb`, validated: it is written into CSS.
    pub primary: String,
    /// Black or white, whichever reads better on `primary`.
    pub primary_contrast: &'static str,
    pub accent: String,
    pub show_powered_by: bool,
}

/// Where the logo comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logo {
    /// An embedded asset path such as `img/logo.svg`.
    Asset(&'static str),
    /// An uploaded or external image URL.
    Url(String),
}

/// The resolved look of the site plus its default language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteLook {
    pub brand: Brand,
    /// `None` until the owner picks one: pages then follow the browser.
    pub default_lang: Option<Lang>,
}

/// Reads the site's branding and language settings.
pub struct SiteService {
    db: Db,
}

impl SiteService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The instance's look. Invalid stored values fall back to defaults: a bad colour must never break every page.
    pub async fn look(&self) -> Result<SiteLook, StoreError> {
        let mut conn = self.db.read().await?;
        let values = settings::load(&mut conn, Scope::Instance, "").await?;
        Ok(look_from(&values))
    }
}

/// The look with no settings at all; used where settings cannot be read (an error page while the database is down).
pub fn default_look() -> SiteLook {
    look_from(&BTreeMap::new())
}

fn look_from(values: &BTreeMap<String, String>) -> SiteLook {
    let get = |key: &str| values.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let primary =
        get("brand.primary_color").filter(|c| is_hex_colour(c)).unwrap_or(DEFAULT_PRIMARY).to_ascii_lowercase();
    let accent = get("brand.accent_color").filter(|c| is_hex_colour(c)).unwrap_or(DEFAULT_ACCENT).to_ascii_lowercase();
    let logo = get("brand.logo_url")
        .filter(|u| u.starts_with("https://") || u.starts_with("/media/"))
        .map_or(Logo::Asset(DEFAULT_LOGO), |u| Logo::Url(u.to_owned()));
    SiteLook {
        brand: Brand {
            name: get("brand.name").unwrap_or(DEFAULT_NAME).to_owned(),
            logo,
            primary_contrast: contrast_for(&primary),
            primary,
            accent,
            show_powered_by: get("brand.powered_by") != Some("0"),
        },
        default_lang: get("site.language").and_then(Lang::from_code),
    }
}

/// `#rgb` or `#rrggbb`.
pub fn is_hex_colour(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Black or white text on a background colour, by its relative luminance (WCAG).
fn contrast_for(hex: &str) -> &'static str {
    let digits = hex.trim_start_matches('#');
    let expanded: String =
        if digits.len() == 3 { digits.chars().flat_map(|c| [c, c]).collect() } else { digits.to_owned() };
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(expanded.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    // Contrast with white is (1.05)/(L+0.05); with black (L+0.05)/0.05. They are equal at L ≈ 0.179.
    if luminance > 0.179 { "#000000" } else { "#ffffff" }
}

/// The instance's public URL without a trailing slash: the `site.public_url` setting, else `configured` (the
/// configuration's `public_url`), else empty. Links in emails and the webhook URLs given to providers start here.
pub async fn public_base_url(conn: &mut Conn, configured: Option<&str>) -> Result<String, StoreError> {
    let stored = settings::get(conn, Scope::Instance, "site.public_url").await?;
    let url = stored.filter(|u| !u.trim().is_empty()).or_else(|| configured.map(str::to_owned)).unwrap_or_default();
    Ok(url.trim().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_without_settings() {
        let look = look_from(&values(&[]));
        assert_eq!(look.brand.name, "Conversure");
        assert_eq!(look.brand.primary, DEFAULT_PRIMARY);
        assert_eq!(look.default_lang, None);
        assert!(look.brand.show_powered_by);
    }

    #[test]
    fn settings_override_and_bad_values_fall_back() {
        let look = look_from(&values(&[
            ("brand.name", "Acme Chat"),
            ("brand.primary_color", "#FFEE00"),
            ("brand.accent_color", "red;}body{display:none"),
            ("brand.logo_url", "javascript:alert(1)"),
            ("site.language", "ar"),
        ]));
        assert_eq!(look.brand.name, "Acme Chat");
        assert_eq!(look.brand.primary, "#ffee00");
        assert_eq!(look.brand.primary_contrast, "#000000");
        assert_eq!(look.brand.accent, DEFAULT_ACCENT);
        assert_eq!(look.brand.logo, Logo::Asset(DEFAULT_LOGO));
        assert_eq!(look.default_lang, Some(Lang::Ar));
    }

    #[test]
    fn contrast_picks_readable_text() {
        assert_eq!(contrast_for("#000"), "#ffffff");
        assert_eq!(contrast_for("#ffffff"), "#000000");
        assert_eq!(contrast_for(DEFAULT_PRIMARY), "#ffffff");
    }
}
