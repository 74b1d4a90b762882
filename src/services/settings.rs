//! The owner's instance settings: brand name and colours, default language, public URL and time zone. Every change
//! is validated, written in one transaction and audited as `settings.changed` (with what changed, from and to).

use std::collections::BTreeMap;

use crate::domain::identity::display_name;
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::services::site::is_hex_colour;
use crate::services::workspaces::Owner;
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, audit};

/// The settings as the form shows and sends them. An empty colour means the default colour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceSettings {
    pub brand_name: String,
    pub primary_color: String,
    pub accent_color: String,
    /// `en`, `ar`.
    pub language: String,
    pub public_url: String,
    /// An IANA time zone name.
    pub timezone: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Field name → what is wrong; nothing was saved.
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which setting holds each field.
const KEYS: [&str; 6] =
    ["brand.name", "brand.primary_color", "brand.accent_color", "site.language", "site.public_url", "site.timezone"];

pub struct SettingsService {
    db: Db,
}

impl SettingsService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The current values (as stored; empty when unset).
    pub async fn get(&self, _owner: &Owner) -> Result<InstanceSettings, SettingsError> {
        let mut conn = self.db.read().await?;
        let values = settings::load(&mut conn, Scope::Instance, "").await?;
        let get = |key: &str| values.get(key).cloned().unwrap_or_default();
        Ok(InstanceSettings {
            brand_name: get(KEYS[0]),
            primary_color: get(KEYS[1]),
            accent_color: get(KEYS[2]),
            language: get(KEYS[3]),
            public_url: get(KEYS[4]),
            timezone: if get(KEYS[5]).is_empty() { "UTC".to_owned() } else { get(KEYS[5]) },
        })
    }

    /// Validates and saves every field; on any error nothing is saved. Returns the saved values.
    pub async fn update(&self, owner: &Owner, input: &InstanceSettings) -> Result<InstanceSettings, SettingsError> {
        let clean = validate(input)?;
        let wanted: [(&str, &str); 6] = [
            (KEYS[0], &clean.brand_name),
            (KEYS[1], &clean.primary_color),
            (KEYS[2], &clean.accent_color),
            (KEYS[3], &clean.language),
            (KEYS[4], &clean.public_url),
            (KEYS[5], &clean.timezone),
        ];
        let mut tx = self.db.write().await?;
        let before = settings::load(&mut tx, Scope::Instance, "").await?;
        let mut changed = BTreeMap::new();
        for (key, value) in wanted {
            let old = before.get(key).map(String::as_str).unwrap_or_default();
            if old == value {
                continue;
            }
            if value.is_empty() {
                settings::delete(&mut tx, Scope::Instance, key).await?;
            } else {
                settings::put(&mut tx, Scope::Instance, key, value).await?;
            }
            changed.insert(key.to_owned(), serde_json::json!({ "from": old, "to": value }));
        }
        if !changed.is_empty() {
            audit::record(
                &mut tx,
                &audit::Entry {
                    workspace_id: None,
                    actor_user_id: owner.user_id,
                    actor_label: &owner.label,
                    action: "settings.changed",
                    target: Some("instance"),
                    detail: serde_json::json!({ "changed": changed }),
                    ip: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(clean)
    }
}

/// Checks every field and normalises it (trimmed, colours lower-case, the URL without a trailing slash).
fn validate(input: &InstanceSettings) -> Result<InstanceSettings, SettingsError> {
    let mut errors = Vec::new();
    let brand_name = display_name(&input.brand_name).map_err(|m| errors.push(("brand_name", m))).unwrap_or_default();
    let mut colour = |field: &'static str, value: &str| {
        let value = value.trim().to_ascii_lowercase();
        if !value.is_empty() && !is_hex_colour(&value) {
            errors.push((field, Msg::new("owner.settings.colour_invalid")));
        }
        value
    };
    let primary_color = colour("primary_color", &input.primary_color);
    let accent_color = colour("accent_color", &input.accent_color);
    let language = Lang::from_code(&input.language).map(|l| l.code().to_owned()).unwrap_or_else(|| {
        errors.push(("language", Msg::new("install.site.language_invalid")));
        String::new()
    });
    let public_url = public_url(&input.public_url).map_err(|m| errors.push(("public_url", m))).unwrap_or_default();
    let timezone = input.timezone.trim().to_owned();
    if jiff::tz::TimeZone::get(&timezone).is_err() {
        errors.push(("timezone", Msg::new("install.site.timezone_invalid")));
    }
    if !errors.is_empty() {
        return Err(SettingsError::Fields(errors));
    }
    Ok(InstanceSettings { brand_name, primary_color, accent_color, language, public_url, timezone })
}

/// An `http(s)://host[:port][/path]` URL without query, kept without its trailing slash (as the wizard stores it).
fn public_url(value: &str) -> Result<String, Msg> {
    let url = url::Url::parse(value.trim()).map_err(|_| Msg::new("install.site.url_invalid"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) || url.query().is_some() {
        return Err(Msg::new("install.site.url_invalid"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> InstanceSettings {
        InstanceSettings {
            brand_name: " Acme Chat ".into(),
            primary_color: "#0F766E".into(),
            accent_color: String::new(),
            language: "ar".into(),
            public_url: "https://crm.acme.example/".into(),
            timezone: "Asia/Riyadh".into(),
        }
    }

    #[test]
    fn valid_settings_are_normalised() {
        let clean = validate(&good()).unwrap();
        assert_eq!(clean.brand_name, "Acme Chat");
        assert_eq!(clean.primary_color, "#0f766e");
        assert_eq!(clean.accent_color, "", "empty means the default colour");
        assert_eq!(clean.public_url, "https://crm.acme.example");
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = InstanceSettings {
            brand_name: "  ".into(),
            primary_color: "red;}body{display:none".into(),
            accent_color: "#12345".into(),
            language: "xx".into(),
            public_url: "crm.acme.example".into(),
            timezone: "Mars/Olympus".into(),
        };
        let Err(SettingsError::Fields(errors)) = validate(&bad) else { panic!("refused") };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["brand_name", "primary_color", "accent_color", "language", "public_url", "timezone"]);
    }
}
