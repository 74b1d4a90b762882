//! The SMTP settings form as submitted, and its validation into [`SmtpSettings`] with an error per field.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use lettre::Address;

use super::{Security, SmtpSettings};
use crate::config::Secret;
use crate::domain::msg::Msg;

/// Longest accepted sender name, in characters.
pub const MAX_FROM_NAME_CHARS: usize = 100;
/// Longest accepted host name (the DNS limit).
const MAX_HOST_LEN: usize = 253;

/// The fields as a web form submits them (all text; `security` is `none`, `starttls` or `tls`). Deserializes from a
/// urlencoded body, missing fields as empty. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct SmtpForm {
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from_address: String,
    pub from_name: String,
}

impl fmt::Debug for SmtpForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpForm")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &if self.password.is_empty() { "" } else { "[redacted]" })
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .finish()
    }
}

impl From<&SmtpSettings> for SmtpForm {
    /// The form pre-filled with saved settings; the password stays empty (it is never sent back to the browser).
    fn from(settings: &SmtpSettings) -> Self {
        Self {
            host: settings.host.clone(),
            port: settings.port.to_string(),
            security: settings.security.as_str().to_owned(),
            username: settings.username.clone().unwrap_or_default(),
            password: String::new(),
            from_address: settings.from_address.clone(),
            from_name: settings.from_name.clone().unwrap_or_default(),
        }
    }
}

/// Validates a submitted form. On failure returns every problem, keyed by field name (`host`, `port`, `security`,
/// `username`, `password`, `from_address`, `from_name`), so each error can be shown next to its field.
///
/// An empty port means the usual port of the chosen security. Surrounding spaces are ignored except in the password.
pub fn parse_form(fields: &SmtpForm) -> Result<SmtpSettings, Vec<(&'static str, Msg)>> {
    parse_form_keeping_password(fields, None)
}

/// [`parse_form`] for a settings page that does not show the saved password: an empty password with a user name keeps
/// `saved` (when there is one) instead of being an error.
pub fn parse_form_keeping_password(
    fields: &SmtpForm,
    saved: Option<&Secret>,
) -> Result<SmtpSettings, Vec<(&'static str, Msg)>> {
    let mut errors = Vec::new();

    let host = fields.host.trim();
    if host.is_empty() {
        errors.push(("host", Msg::new("mail.field_error.host_required")));
    } else if !valid_host(host) {
        errors.push(("host", Msg::new("mail.field_error.host")));
    }

    let security = match Security::from_str(&fields.security) {
        Ok(security) => Some(security),
        Err(_) => {
            errors.push(("security", Msg::new("mail.field_error.security")));
            None
        }
    };

    let port_text = fields.port.trim();
    let port = if port_text.is_empty() {
        security.map(Security::default_port)
    } else {
        match port_text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                errors.push(("port", Msg::new("mail.field_error.port")));
                None
            }
        }
    };

    let username = Some(fields.username.trim()).filter(|u| !u.is_empty());
    let password = if fields.password.is_empty() {
        saved.filter(|_| username.is_some()).cloned()
    } else {
        Some(Secret::new(fields.password.clone()))
    };
    match (username, &password) {
        (Some(_), None) => errors.push(("password", Msg::new("mail.field_error.password_required"))),
        (None, Some(_)) => errors.push(("username", Msg::new("mail.field_error.username_required"))),
        _ => {}
    }

    let from_address = fields.from_address.trim();
    if from_address.is_empty() {
        errors.push(("from_address", Msg::new("mail.field_error.from_address_required")));
    } else if Address::from_str(from_address).is_err() {
        errors.push(("from_address", Msg::new("mail.field_error.from_address")));
    }

    let from_name = fields.from_name.trim();
    if from_name.chars().any(char::is_control) {
        errors.push(("from_name", Msg::new("mail.field_error.from_name")));
    } else if from_name.chars().count() > MAX_FROM_NAME_CHARS {
        errors.push((
            "from_name",
            Msg::with("mail.field_error.from_name_too_long", &[("max", MAX_FROM_NAME_CHARS.to_string())]),
        ));
    }

    match (security, port) {
        (Some(security), Some(port)) if errors.is_empty() => Ok(SmtpSettings {
            host: host.to_owned(),
            port,
            security,
            username: username.map(str::to_owned),
            password,
            from_address: from_address.to_owned(),
            from_name: Some(from_name).filter(|n| !n.is_empty()).map(str::to_owned),
        }),
        _ => Err(errors),
    }
}

/// A host name or IP address, not a URL or `host:port`.
fn valid_host(host: &str) -> bool {
    if host.len() > MAX_HOST_LEN || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if host.contains(':') {
        // Only an IPv6 address has colons; `smtp.example.com:587` or `smtp://…` do not belong here.
        return host.parse::<Ipv6Addr>().is_ok();
    }
    !host.contains(['/', '@', '?', '#', '[', ']']) && !host.starts_with(['.', '-']) && !host.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SmtpForm {
        SmtpForm {
            host: " smtp.example.com ".into(),
            port: "".into(),
            security: "starttls".into(),
            username: "crm@example.com".into(),
            password: " secret with spaces ".into(),
            from_address: "crm@example.com".into(),
            from_name: " Acme Sales ".into(),
        }
    }

    fn fields(errors: &[(&'static str, Msg)]) -> Vec<&'static str> {
        errors.iter().map(|(field, _)| *field).collect()
    }

    #[test]
    fn a_complete_form_parses() {
        let settings = parse_form(&form()).unwrap();
        assert_eq!(settings.host, "smtp.example.com");
        assert_eq!(settings.port, 587, "empty port: the usual one for STARTTLS");
        assert_eq!(settings.security, Security::StartTls);
        assert_eq!(settings.username.as_deref(), Some("crm@example.com"));
        assert_eq!(settings.password.as_ref().map(Secret::expose), Some(" secret with spaces "));
        assert_eq!(settings.from_name.as_deref(), Some("Acme Sales"));

        let tls = parse_form(&SmtpForm { security: "tls".into(), ..form() }).unwrap();
        assert_eq!(tls.port, 465);
        let plain = SmtpForm {
            security: "none".into(),
            port: "2525".into(),
            username: "".into(),
            password: "".into(),
            from_name: "".into(),
            host: "127.0.0.1".into(),
            ..form()
        };
        let plain = parse_form(&plain).unwrap();
        assert_eq!((plain.port, plain.username, plain.password, plain.from_name), (2525, None, None, None));
        assert_eq!(parse_form(&SmtpForm { host: "::1".into(), ..form() }).unwrap().host, "::1");
    }

    #[test]
    fn every_error_is_reported_by_field() {
        let bad = SmtpForm {
            host: "".into(),
            port: "70000".into(),
            security: "ssl".into(),
            username: "".into(),
            password: "orphan".into(),
            from_address: "not an address".into(),
            from_name: "Line\nbreak".into(),
        };
        let errors = parse_form(&bad).unwrap_err();
        assert_eq!(fields(&errors), ["host", "security", "port", "username", "from_address", "from_name"]);
        assert_eq!(errors[0].1, Msg::new("mail.field_error.host_required"));
        assert_eq!(errors[4].1, Msg::new("mail.field_error.from_address"));

        let errors = parse_form(&SmtpForm { password: "".into(), from_address: " ".into(), ..form() }).unwrap_err();
        assert_eq!(fields(&errors), ["password", "from_address"]);
        assert_eq!(errors[0].1, Msg::new("mail.field_error.password_required"));
        assert_eq!(errors[1].1, Msg::new("mail.field_error.from_address_required"));
    }

    #[test]
    fn ports_and_hosts_are_checked() {
        for port in ["0", "65536", "-1", "587a", "5 87"] {
            let errors = parse_form(&SmtpForm { port: port.into(), ..form() }).unwrap_err();
            assert_eq!(fields(&errors), ["port"], "{port}");
        }
        assert_eq!(parse_form(&SmtpForm { port: " 65535 ".into(), ..form() }).unwrap().port, 65535);
        for host in ["smtp.example.com:587", "smtp://smtp.example.com", "smtp example.com", "user@smtp.example.com"] {
            let errors = parse_form(&SmtpForm { host: host.into(), ..form() }).unwrap_err();
            assert_eq!(errors, [("host", Msg::new("mail.field_error.host"))], "{host}");
        }
    }

    #[test]
    fn sender_name_is_limited() {
        let long = "x".repeat(MAX_FROM_NAME_CHARS + 1);
        let errors = parse_form(&SmtpForm { from_name: long, ..form() }).unwrap_err();
        assert_eq!(errors[0].1.key, "mail.field_error.from_name_too_long");
        assert!(parse_form(&SmtpForm { from_name: "شركة أكمي".into(), ..form() }).is_ok());
    }

    #[test]
    fn a_saved_password_can_be_kept() {
        let saved = Secret::new("saved");
        let keep = SmtpForm { password: "".into(), ..form() };
        let settings = parse_form_keeping_password(&keep, Some(&saved)).unwrap();
        assert_eq!(settings.password, Some(saved.clone()));
        let replaced = parse_form_keeping_password(&form(), Some(&saved)).unwrap();
        assert_eq!(replaced.password.unwrap().expose(), " secret with spaces ");
        let no_login = SmtpForm { username: "".into(), password: "".into(), ..form() };
        assert_eq!(parse_form_keeping_password(&no_login, Some(&saved)).unwrap().password, None);
        assert!(parse_form_keeping_password(&keep, None).is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", form());
        assert!(!text.contains("secret with spaces") && text.contains("[redacted]"), "{text}");
    }

    #[test]
    fn forms_prefill_from_settings_without_the_password() {
        let settings = parse_form(&form()).unwrap();
        let again = SmtpForm::from(&settings);
        assert_eq!(again.password, "");
        assert_eq!(again.port, "587");
        assert_eq!(parse_form_keeping_password(&again, settings.password.as_ref()).unwrap(), settings);
    }
}
