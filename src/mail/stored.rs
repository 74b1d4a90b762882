//! SMTP settings as instance settings (`smtp.*` keys), with the password sealed by the instance's data key.

use std::collections::BTreeMap;
use std::str::FromStr;

use lettre::Address;

use super::{Security, SmtpSettings};
use crate::config::Secret;
use crate::crypto::{CryptoError, DataKey};
use crate::domain::msg::Msg;

/// The setting keys. Load them with the prefix [`keys::PREFIX`].
pub mod keys {
    /// Common prefix of every SMTP setting.
    pub const PREFIX: &str = "smtp.";
    pub const HOST: &str = "smtp.host";
    pub const PORT: &str = "smtp.port";
    pub const SECURITY: &str = "smtp.security";
    pub const USERNAME: &str = "smtp.username";
    /// The password, sealed with the data key under [`PASSWORD_AAD`] and base64-encoded.
    pub const PASSWORD_ENC: &str = "smtp.password_enc";
    pub const FROM_ADDRESS: &str = "smtp.from_address";
    pub const FROM_NAME: &str = "smtp.from_name";
    /// What the password's ciphertext is bound to: it opens under no other setting.
    pub const PASSWORD_AAD: &[u8] = b"smtp.password";
}

/// Saved SMTP settings that cannot be used as they are (edited by hand, or sealed with another instance's key).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("setting {key} is missing")]
    Missing { key: &'static str },
    #[error("setting {key} has an invalid value {value:?}")]
    Invalid { key: &'static str, value: String },
    #[error("setting smtp.password_enc does not decrypt with this instance's data key: {0}")]
    Password(#[source] CryptoError),
}

impl SettingsError {
    /// The message to show the admin: enter the settings again.
    pub fn msg(&self) -> Msg {
        match self {
            Self::Missing { key } => Msg::with("mail.error.stored", &[("key", (*key).to_owned())]),
            Self::Invalid { key, .. } => Msg::with("mail.error.stored", &[("key", (*key).to_owned())]),
            Self::Password(_) => Msg::new("mail.error.stored_password"),
        }
    }
}

impl SmtpSettings {
    /// Every `smtp.*` setting to write, all keys always present: an unset optional value is an empty string, so
    /// saving over older settings clears what is no longer set. The password is sealed, never stored in clear.
    pub fn to_settings(&self, key: &DataKey) -> Vec<(String, String)> {
        let password = self.password.as_ref().map(|p| key.seal_str(p.expose(), keys::PASSWORD_AAD));
        [
            (keys::HOST, self.host.clone()),
            (keys::PORT, self.port.to_string()),
            (keys::SECURITY, self.security.as_str().to_owned()),
            (keys::USERNAME, self.username.clone().unwrap_or_default()),
            (keys::PASSWORD_ENC, password.unwrap_or_default()),
            (keys::FROM_ADDRESS, self.from_address.clone()),
            (keys::FROM_NAME, self.from_name.clone().unwrap_or_default()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Reads settings written by [`SmtpSettings::to_settings`] (other keys are ignored); `None` when no SMTP server is
    /// configured (`smtp.host` absent or empty).
    pub fn from_settings(
        values: &BTreeMap<String, String>,
        key: &DataKey,
    ) -> Result<Option<SmtpSettings>, SettingsError> {
        let get = |k: &str| values.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let Some(host) = get(keys::HOST) else {
            return Ok(None);
        };
        let invalid = |k: &'static str, v: &str| SettingsError::Invalid { key: k, value: v.to_owned() };

        let security_text = get(keys::SECURITY).ok_or(SettingsError::Missing { key: keys::SECURITY })?;
        let security = Security::from_str(security_text).map_err(|_| invalid(keys::SECURITY, security_text))?;
        let port = match get(keys::PORT) {
            None => security.default_port(),
            Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| invalid(keys::PORT, text))?,
        };
        let from_address = get(keys::FROM_ADDRESS).ok_or(SettingsError::Missing { key: keys::FROM_ADDRESS })?;
        Address::from_str(from_address).map_err(|_| invalid(keys::FROM_ADDRESS, from_address))?;
        let password = get(keys::PASSWORD_ENC)
            .map(|sealed| key.open_str(sealed, keys::PASSWORD_AAD).map(Secret::new))
            .transpose()
            .map_err(SettingsError::Password)?;

        Ok(Some(SmtpSettings {
            host: host.to_owned(),
            port,
            security,
            username: get(keys::USERNAME).map(str::to_owned),
            password,
            from_address: from_address.to_owned(),
            from_name: get(keys::FROM_NAME).map(str::to_owned),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.com".into(),
            port: 465,
            security: Security::Tls,
            username: Some("crm@example.com".into()),
            password: Some(Secret::new("hunter2-pässword")),
            from_address: "crm@example.com".into(),
            from_name: Some("Acme Sales".into()),
        }
    }

    fn stored(settings: &SmtpSettings, key: &DataKey) -> BTreeMap<String, String> {
        settings.to_settings(key).into_iter().collect()
    }

    #[test]
    fn round_trip() {
        let key = DataKey::generate();
        let values = stored(&settings(), &key);
        assert_eq!(
            values.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "smtp.from_address",
                "smtp.from_name",
                "smtp.host",
                "smtp.password_enc",
                "smtp.port",
                "smtp.security",
                "smtp.username"
            ]
        );
        assert_eq!(values["smtp.security"], "tls");
        assert_eq!(SmtpSettings::from_settings(&values, &key).unwrap(), Some(settings()));

        let minimal = SmtpSettings { username: None, password: None, from_name: None, ..settings() };
        let values = stored(&minimal, &key);
        assert_eq!(values["smtp.password_enc"], "");
        assert_eq!(SmtpSettings::from_settings(&values, &key).unwrap(), Some(minimal));
    }

    #[test]
    fn the_password_is_not_stored_in_clear() {
        let key = DataKey::generate();
        let values = stored(&settings(), &key);
        for (k, v) in &values {
            assert!(!v.contains("hunter2"), "{k} = {v}");
        }
        let sealed = &values["smtp.password_enc"];
        assert_eq!(key.open_str(sealed, b"smtp.password").unwrap(), "hunter2-pässword");
        assert!(key.open_str(sealed, b"smtp.username").is_err(), "bound to its purpose");
        assert_ne!(stored(&settings(), &key)["smtp.password_enc"], *sealed, "a fresh nonce every time");
    }

    #[test]
    fn another_key_cannot_read_the_password() {
        let values = stored(&settings(), &DataKey::generate());
        let error = SmtpSettings::from_settings(&values, &DataKey::generate()).unwrap_err();
        assert!(matches!(error, SettingsError::Password(CryptoError::Decrypt)), "{error}");
        assert_eq!(error.msg(), Msg::new("mail.error.stored_password"));
    }

    #[test]
    fn absent_or_broken_settings() {
        let key = DataKey::generate();
        assert_eq!(SmtpSettings::from_settings(&BTreeMap::new(), &key).unwrap(), None);
        let mut values = stored(&settings(), &key);
        values.insert("smtp.host".into(), "".into());
        assert_eq!(SmtpSettings::from_settings(&values, &key).unwrap(), None);

        let mut values = stored(&settings(), &key);
        values.insert("smtp.port".into(), "http".into());
        let error = SmtpSettings::from_settings(&values, &key).unwrap_err();
        assert!(matches!(error, SettingsError::Invalid { key: "smtp.port", .. }), "{error}");
        assert_eq!(error.msg().key, "mail.error.stored");

        let mut values = stored(&settings(), &key);
        values.remove("smtp.port");
        assert_eq!(SmtpSettings::from_settings(&values, &key).unwrap().unwrap().port, 465);
        values.remove("smtp.security");
        assert!(matches!(
            SmtpSettings::from_settings(&values, &key),
            Err(SettingsError::Missing { key: "smtp.security" })
        ));
    }
}
