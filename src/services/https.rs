//! The owner's HTTPS settings in `config.toml`: the mode, the domains, the ACME contact, staging or another
//! directory, and the certificate files. Shown as the next start will read them, validated exactly as start-up
//! validates them (certificate files included), written atomically, and applied by a restart. Keys the environment
//! sets win over the file, so the form shows them and refuses to change them.

use serde::{Deserialize, Serialize};

use crate::config::tls::{self as tls_config, TlsConfig, TlsMode};
use crate::config::{Config, ConfigError, DataDir, FileConfig, write};
use crate::domain::msg::Msg;
use crate::services::workspaces::Owner;
use crate::store::{Db, StoreError, audit};

/// The form's fields and the `config.toml` keys they set.
const FIELDS: [(&str, &str); 7] = [
    ("mode", "tls_mode"),
    ("domains", "tls_domains"),
    ("email", "acme_email"),
    ("staging", "acme_staging"),
    ("directory_url", "acme_directory_url"),
    ("cert_file", "tls_cert_file"),
    ("key_file", "tls_key_file"),
];

/// What the owner edits (the form and `PUT /api/v1/instance/tls/settings`); empty text means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpsSettings {
    /// `off`, `auto` or `manual`.
    pub mode: String,
    /// Comma-separated domains (auto mode).
    pub domains: String,
    pub email: String,
    /// Let's Encrypt's staging directory instead of production.
    pub staging: bool,
    /// Another ACME directory (empty: Let's Encrypt).
    pub directory_url: String,
    pub cert_file: String,
    pub key_file: String,
}

impl HttpsSettings {
    /// A field's value as text, trimmed (`staging`: `true` or `false`).
    pub fn value(&self, field: &str) -> String {
        match field {
            "mode" => self.mode.trim().to_owned(),
            "domains" => self.domains.trim().to_owned(),
            "email" => self.email.trim().to_owned(),
            "staging" => self.staging.to_string(),
            "directory_url" => self.directory_url.trim().to_owned(),
            "cert_file" => self.cert_file.trim().to_owned(),
            "key_file" => self.key_file.trim().to_owned(),
            _ => String::new(),
        }
    }

    fn set(&mut self, field: &str, value: String) {
        match field {
            "mode" => self.mode = value,
            "domains" => self.domains = value,
            "email" => self.email = value,
            "staging" => self.staging = matches!(value.trim(), "true" | "1"),
            "directory_url" => self.directory_url = value,
            "cert_file" => self.cert_file = value,
            "key_file" => self.key_file = value,
            _ => {}
        }
    }
}

/// `PATCH` semantics for the API: the fields given replace the saved ones, the rest stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsSettingsChange {
    pub mode: Option<String>,
    pub domains: Option<String>,
    pub email: Option<String>,
    pub staging: Option<bool>,
    pub directory_url: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// The settings page's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpsSettingsView {
    /// What the next start will use.
    pub saved: HttpsSettings,
    /// Form fields the environment sets (they cannot be changed here).
    pub fixed: Vec<&'static str>,
    /// The saved settings differ from the running ones: a restart applies them.
    pub restart_required: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpsSettingsError {
    /// Field errors; nothing was written.
    #[error("the HTTPS settings are not valid")]
    Invalid(Vec<(&'static str, Msg)>),
    #[error("cannot update config.toml: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads and writes the HTTPS settings of this instance.
pub struct HttpsSettingsService {
    config: Config,
    db: Db,
}

impl HttpsSettingsService {
    pub fn new(config: &Config, db: Db) -> Self {
        Self { config: config.clone(), db }
    }

    /// The settings as saved, with the fixed fields and whether a restart is pending.
    pub fn view(&self) -> Result<HttpsSettingsView, HttpsSettingsError> {
        let file = read_file(&self.config.data_dir)?;
        let mut saved = HttpsSettings::default();
        for (field, key) in FIELDS {
            let value = self.fixed_value(key).or_else(|| file.tls_value(key)).unwrap_or_default();
            saved.set(field, value);
        }
        if saved.mode.is_empty() {
            saved.mode = "off".to_owned();
        }
        let next = tls_config::resolve(|key| self.fixed_value(key).or_else(|| file.tls_value(key))).ok();
        Ok(HttpsSettingsView {
            restart_required: next.as_ref().is_some_and(|next| *next != self.config.tls),
            fixed: self.fixed_fields(),
            saved,
        })
    }

    /// Validates `input` as the next start will and writes it to `config.toml`; nothing changes on an error.
    pub async fn save(&self, owner: &Owner, input: &HttpsSettings) -> Result<HttpsSettingsView, HttpsSettingsError> {
        let file = read_file(&self.config.data_dir)?;
        // A field the environment sets may be left empty (a disabled form field is not sent) or repeat its value;
        // anything else would be silently overridden at start, so it is refused.
        let mut input = input.clone();
        let mut errors = Vec::new();
        for field in self.fixed_fields() {
            let fixed = self.fixed_value(key_of(field)).unwrap_or_default();
            let sent = input.value(field);
            if !sent.is_empty() && sent != "false" && sent != fixed.trim() {
                let variable = format!("CONVERSURE_{}", key_of(field).to_ascii_uppercase());
                errors.push((field, Msg::with("tls.settings.fixed", &[("variable", variable)])));
            }
            input.set(field, fixed);
        }
        if !errors.is_empty() {
            return Err(HttpsSettingsError::Invalid(errors));
        }
        let input = &input;
        let next = self.validate(&file, input)?;
        write::update(&self.config.data_dir, |file| {
            for (field, key) in FIELDS.into_iter().filter(|(field, _)| !self.fixed_fields().contains(field)) {
                file.set_tls_value(key, Some(input.value(field)).filter(|v| !v.is_empty()));
            }
        })
        .map_err(|e| HttpsSettingsError::Io(e.to_string()))?;
        let detail = serde_json::json!({ "mode": input.value("mode"), "domains": input.value("domains") });
        self.audit(owner, "tls.settings_changed", Some(mode_name(&next)), detail).await?;
        self.view()
    }

    /// Applies `change` over the saved settings, then [`Self::save`].
    pub async fn change(
        &self,
        owner: &Owner,
        change: HttpsSettingsChange,
    ) -> Result<HttpsSettingsView, HttpsSettingsError> {
        let saved = self.view()?.saved;
        let input = HttpsSettings {
            mode: change.mode.unwrap_or(saved.mode),
            domains: change.domains.unwrap_or(saved.domains),
            email: change.email.unwrap_or(saved.email),
            staging: change.staging.unwrap_or(saved.staging),
            directory_url: change.directory_url.unwrap_or(saved.directory_url),
            cert_file: change.cert_file.unwrap_or(saved.cert_file),
            key_file: change.key_file.unwrap_or(saved.key_file),
        };
        self.save(owner, &input).await
    }

    /// The settings start-up would build from `input` (the keys the form does not show come from the file).
    fn validate(&self, file: &FileConfig, input: &HttpsSettings) -> Result<TlsConfig, HttpsSettingsError> {
        let value = |key: &'static str| match FIELDS.iter().find(|(_, k)| *k == key) {
            Some((field, _)) => Some(input.value(field)).filter(|v| !v.is_empty() && v != "false"),
            None => file.tls_value(key),
        };
        let next = tls_config::resolve(value).map_err(|e| match e {
            ConfigError::Invalid { key, reason, .. } => {
                let field = FIELDS.iter().find(|(_, k)| *k == key).map_or("mode", |(field, _)| *field);
                HttpsSettingsError::Invalid(vec![(field, Msg::with("tls.settings.invalid", &[("reason", reason)]))])
            }
            other => HttpsSettingsError::Io(other.to_string()),
        })?;
        if let TlsMode::Manual(files) = &next.mode {
            crate::tls::check_certificate_files(files).map_err(|reason| {
                HttpsSettingsError::Invalid(vec![(
                    "cert_file",
                    Msg::with("tls.settings.invalid", &[("reason", reason)]),
                )])
            })?;
        }
        Ok(next)
    }

    /// Records the owner's restart that applies the saved settings (the caller then restarts the server).
    pub async fn record_restart(&self, owner: &Owner) -> Result<(), HttpsSettingsError> {
        self.audit(owner, "instance.restarted", None, serde_json::json!({})).await
    }

    async fn audit(
        &self,
        owner: &Owner,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), HttpsSettingsError> {
        let mut tx = self.db.write().await?;
        let entry = audit::Entry {
            workspace_id: None,
            actor_user_id: owner.user_id,
            actor_label: &owner.label,
            action,
            target,
            detail,
            ip: None,
        };
        audit::record(&mut tx, &entry).await?;
        Ok(tx.commit().await?)
    }

    fn fixed_value(&self, key: &str) -> Option<String> {
        self.config.tls_from_environment.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    }

    fn fixed_fields(&self) -> Vec<&'static str> {
        FIELDS.iter().filter(|(_, key)| self.fixed_value(key).is_some()).map(|(field, _)| *field).collect()
    }
}

fn key_of(field: &str) -> &'static str {
    FIELDS.iter().find(|(f, _)| *f == field).map_or("tls_mode", |(_, key)| *key)
}

fn mode_name(tls: &TlsConfig) -> &'static str {
    match tls.mode {
        TlsMode::Off => "off",
        TlsMode::Auto(_) => "auto",
        TlsMode::Manual(_) => "manual",
    }
}

fn read_file(data_dir: &DataDir) -> Result<FileConfig, HttpsSettingsError> {
    match std::fs::read_to_string(data_dir.config_file()) {
        Ok(text) => FileConfig::parse(&text).map_err(|e| HttpsSettingsError::Io(format!("config.toml: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(HttpsSettingsError::Io(e.to_string())),
    }
}
