//! Form plumbing shared by the pages: per-field error messages, translated for the page's language.

use std::collections::BTreeMap;

use crate::domain::msg::Msg;
use crate::i18n::Lang;

/// Error messages by field name, ready to show next to each field.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors {
    by_field: BTreeMap<&'static str, String>,
}

impl FieldErrors {
    /// Translates service-level field errors; the first message per field wins.
    pub fn from_msgs(errors: &[(&'static str, Msg)], lang: Lang) -> Self {
        let mut by_field = BTreeMap::new();
        for (field, msg) in errors {
            by_field.entry(*field).or_insert_with(|| msg.render(lang));
        }
        Self { by_field }
    }

    /// The message for a field, if it has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    /// ` field--invalid` when the field has an error (for the wrapper's class attribute), else nothing.
    pub fn class(&self, field: &str) -> &'static str {
        if self.by_field.contains_key(field) { " field--invalid" } else { "" }
    }
}

/// A form that carries nothing but the CSRF token (delete, retry, restart, sign-out buttons).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    pub csrf: String,
}

/// A form with the CSRF token and a confirmation: a ticked checkbox (`on`) or a typed name, as the handler asks.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CsrfConfirm {
    pub csrf: String,
    pub confirm: String,
}

/// `?done=…` after a redirect: which change was just made, for the page's success notice.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    pub done: String,
}
