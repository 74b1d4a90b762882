//! Outgoing email over SMTP: the instance's SMTP settings, their form and storage, sending, and the test email.
//!
//! - [`parse_form`] validates what the setup wizard (or the settings page) submits, reporting every field's error.
//! - [`SmtpSettings::to_settings`] / [`SmtpSettings::from_settings`] map the settings to `smtp.*` instance settings,
//!   the password sealed with the instance's [`DataKey`](crate::crypto::DataKey).
//! - [`send`] delivers one [`Email`] with lettre and classifies failures as [`MailError`]s that tell the admin what to
//!   fix; [`test_email`] builds the "email works" message from the catalog.

mod form;
mod send;
mod stored;

use std::fmt;
use std::str::FromStr;

pub use form::{SmtpForm, parse_form, parse_form_keeping_password};
pub use send::{MailError, TIMEOUT, send};
pub use stored::{SettingsError, keys};

use crate::config::Secret;
use crate::i18n::Lang;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Security {
    /// Plain text; only sensible for a relay on the same machine or a trusted network.
    None,
    /// Connect in plain text, then upgrade with STARTTLS; refuse to continue when the server cannot.
    #[default]
    StartTls,
    /// TLS from the first byte ("implicit TLS", formerly "SSL").
    Tls,
}

impl Security {
    /// Every option, in the order a form lists them.
    pub const ALL: [Security; 3] = [Security::StartTls, Security::Tls, Security::None];

    /// The stored and submitted form: `none`, `starttls` or `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::StartTls => "starttls",
            Self::Tls => "tls",
        }
    }

    /// The usual port: 587 (submission) for STARTTLS, 465 (submissions) for TLS, 25 for none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }

    /// Catalog key of the option's label.
    pub fn label_key(self) -> &'static str {
        match self {
            Self::None => "mail.security.none",
            Self::StartTls => "mail.security.starttls",
            Self::Tls => "mail.security.tls",
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A security value that is none of `none`, `starttls`, `tls`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SMTP security {0:?} (expected none, starttls or tls)")]
pub struct UnknownSecurity(pub String);

impl FromStr for Security {
    type Err = UnknownSecurity;

    /// Parses `none`, `starttls` or `tls`, ignoring case and surrounding spaces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownSecurity(text.into()))
    }
}

/// Where and how to send email. `Debug` is safe to log: the password is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// A valid address (checked by [`parse_form`] and [`SmtpSettings::from_settings`]).
    pub from_address: String,
    pub from_name: Option<String>,
}

impl SmtpSettings {
    /// `host:port`, as error messages name the server.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One email to one recipient: plain text, optionally with an HTML alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The email the wizard's "Send a test email" button sends, in the admin's language.
pub fn test_email(lang: Lang, site_name: &str, to: &str) -> Email {
    let subject = lang.format("mail.test_email.subject", &[("site", site_name)]);
    let text = lang.format("mail.test_email.body", &[("site", site_name)]);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5;\">\n{body}</body>\n</html>\n",
        lang = lang.code(),
        dir = lang.direction().as_str(),
        title = escape_html(&subject),
        body = text_to_html(&text),
    );
    Email { to: to.trim().to_owned(), subject, text, html: Some(html) }
}

/// Plain text as HTML paragraphs: blank lines separate paragraphs, single line breaks become `<br>`.
fn text_to_html(text: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<String> = paragraph.lines().map(|line| escape_html(line.trim())).collect();
        out.push_str("<p>");
        out.push_str(&lines.join("<br>\n"));
        out.push_str("</p>\n");
    }
    out
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_parses_and_prints() {
        for security in Security::ALL {
            assert_eq!(security.as_str().parse::<Security>().unwrap(), security);
            assert_eq!(security.to_string(), security.as_str());
        }
        assert_eq!(" STARTTLS ".parse::<Security>().unwrap(), Security::StartTls);
        assert!("ssl".parse::<Security>().is_err());
        assert!("".parse::<Security>().is_err());
        assert_eq!(Security::StartTls.default_port(), 587);
        assert_eq!(Security::Tls.default_port(), 465);
        assert_eq!(Security::None.default_port(), 25);
    }

    #[test]
    fn test_email_is_translated_and_escaped() {
        let email = test_email(Lang::En, "Acme <Sales> & Co", " admin@example.com ");
        assert_eq!(email.to, "admin@example.com");
        assert!(email.subject.contains("Acme <Sales> & Co"), "{}", email.subject);
        assert!(email.text.contains("Acme <Sales> & Co"), "{}", email.text);
        let html = email.html.unwrap();
        assert!(html.contains("Acme &lt;Sales&gt; &amp; Co"), "{html}");
        assert!(!html.contains("<Sales>"), "{html}");
        assert!(html.contains("<p>") && html.contains("dir=\"ltr\""), "{html}");
        assert!(!email.text.contains("mail.test_email"), "the catalog has the text: {}", email.text);

        let arabic = test_email(Lang::Ar, "Acme", "admin@example.com");
        assert_ne!(arabic.subject, email.subject);
        assert!(arabic.html.unwrap().contains("dir=\"rtl\""));
    }

    #[test]
    fn servers_are_named_with_their_port() {
        let mut settings = SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::StartTls,
            username: None,
            password: Some(Secret::new("hunter2")),
            from_address: "crm@example.com".into(),
            from_name: None,
        };
        assert_eq!(settings.server(), "smtp.example.com:587");
        assert!(!format!("{settings:?}").contains("hunter2"));
        settings.host = "::1".into();
        assert_eq!(settings.server(), "[::1]:587");
    }
}
