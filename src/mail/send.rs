//! Sending one email over SMTP with lettre, and turning lettre's errors into [`MailError`]s an admin can act on.

use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Email, Security, SmtpSettings};
use crate::domain::msg::Msg;

/// How long one attempt may take in all (connect, TLS, login, sending). lettre's own timeout covers only the TCP
/// connect, so the whole exchange runs under this deadline too: a silent server cannot hang the caller.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Why an email was not sent. Each variant maps to a catalog message that says what to do ([`MailError::msg`]);
/// `Display` is for logs (English, with the technical cause).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid recipient address {address:?}: {cause}")]
    InvalidRecipient { address: String, cause: String },
    #[error("invalid sender address {address:?}: {cause}")]
    InvalidSender { address: String, cause: String },
    #[error("cannot connect to {server}: {cause}")]
    Connect { server: String, cause: String },
    #[error("TLS with {server} failed: {cause}")]
    Tls { server: String, cause: String },
    #[error("{server} does not offer STARTTLS, which the settings require")]
    StartTlsUnavailable { server: String },
    #[error("{server} refused the user name or password: {reply}")]
    AuthFailed { server: String, reply: String },
    #[error("{server} requires authentication: {reply}")]
    AuthRequired { server: String, reply: String },
    #[error("{server} offers no authentication mechanism lettre supports on this connection")]
    AuthUnsupported { server: String },
    #[error("{server} rejected the email: {reply}")]
    Rejected { server: String, reply: String },
    #[error("{server} did not answer within {} s", TIMEOUT.as_secs())]
    Timeout { server: String },
    #[error("{server} does not answer like an SMTP server: {cause}")]
    Protocol { server: String, cause: String },
    #[error("the email could not be built: {0}")]
    Build(String),
    #[error("sending through {server} failed: {cause}")]
    Other { server: String, cause: String },
}

impl MailError {
    /// The message to show the admin, with what to do about it.
    pub fn msg(&self) -> Msg {
        match self {
            Self::InvalidRecipient { address, .. } => {
                Msg::with("mail.error.invalid_recipient", &[("address", address.clone())])
            }
            Self::InvalidSender { address, .. } => {
                Msg::with("mail.error.invalid_sender", &[("address", address.clone())])
            }
            Self::Connect { server, cause } => {
                Msg::with("mail.error.connect", &[("server", server.clone()), ("error", cause.clone())])
            }
            Self::Tls { server, cause } => {
                Msg::with("mail.error.tls", &[("server", server.clone()), ("error", cause.clone())])
            }
            Self::StartTlsUnavailable { server } => {
                Msg::with("mail.error.starttls_unavailable", &[("server", server.clone())])
            }
            Self::AuthFailed { reply, .. } => Msg::with("mail.error.auth_failed", &[("reply", reply.clone())]),
            Self::AuthRequired { reply, .. } => Msg::with("mail.error.auth_required", &[("reply", reply.clone())]),
            Self::AuthUnsupported { server } => Msg::with("mail.error.auth_unsupported", &[("server", server.clone())]),
            Self::Rejected { reply, .. } => Msg::with("mail.error.rejected", &[("reply", reply.clone())]),
            Self::Timeout { server } => Msg::with(
                "mail.error.timeout",
                &[("server", server.clone()), ("seconds", TIMEOUT.as_secs().to_string())],
            ),
            Self::Protocol { server, cause } => {
                Msg::with("mail.error.protocol", &[("server", server.clone()), ("error", cause.clone())])
            }
            Self::Build(cause) => Msg::with("mail.error.other", &[("error", cause.clone())]),
            Self::Other { cause, .. } => Msg::with("mail.error.other", &[("error", cause.clone())]),
        }
    }
}

/// Sends `email` through the configured server: STARTTLS required for [`Security::StartTls`], TLS from the first byte
/// for [`Security::Tls`], plain text for [`Security::None`]; logs in when a user name is set. One connection per call
/// (no pool), at most [`TIMEOUT`].
pub async fn send(settings: &SmtpSettings, email: &Email) -> Result<(), MailError> {
    let message = build_message(settings, email)?;
    let server = settings.server();
    let transport = transport(settings)?;
    match tokio::time::timeout(TIMEOUT, transport.send(message)).await {
        Ok(Ok(_response)) => Ok(()),
        Ok(Err(e)) => Err(classify(&e, &server)),
        Err(_elapsed) => Err(MailError::Timeout { server }),
    }
}

fn build_message(settings: &SmtpSettings, email: &Email) -> Result<Message, MailError> {
    let from_address = Address::from_str(settings.from_address.trim())
        .map_err(|e| MailError::InvalidSender { address: settings.from_address.clone(), cause: e.to_string() })?;
    let to = Address::from_str(email.to.trim())
        .map_err(|e| MailError::InvalidRecipient { address: email.to.clone(), cause: e.to_string() })?;
    // lettre adds no Message-ID by itself; spam filters count a missing one against the sender.
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), from_address.domain());
    let builder = Message::builder()
        .message_id(Some(message_id))
        .from(Mailbox::new(settings.from_name.clone(), from_address))
        .to(Mailbox::new(None, to))
        .subject(email.subject.as_str());
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| MailError::Build(e.to_string()))
}

fn transport(settings: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let server = settings.server();
    let tls_parameters = || {
        crate::init_crypto();
        TlsParameters::new(settings.host.clone())
            .map_err(|e| MailError::Tls { server: server.clone(), cause: cause_of(&e) })
    };
    let tls = match settings.security {
        Security::None => Tls::None,
        Security::StartTls => Tls::Required(tls_parameters()?),
        Security::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
        .port(settings.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if let (Some(username), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(username.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

/// Sorts a lettre error into what went wrong, from the most specific signal to the least.
fn classify(error: &lettre::transport::smtp::Error, server: &str) -> MailError {
    let server = server.to_owned();
    if let Some(code) = error.status() {
        let code = code.to_string();
        let reply = one_line(&format!("{code} {}", error.source().map(|s| s.to_string()).unwrap_or_default()));
        return match code.as_str() {
            // 535: authentication credentials invalid; 534: mechanism too weak (Gmail: "use an app password").
            "535" | "534" => MailError::AuthFailed { server, reply },
            // 530: authentication required (some servers: "must issue a STARTTLS command first").
            "530" => MailError::AuthRequired { server, reply },
            _ => MailError::Rejected { server, reply },
        };
    }
    if error.is_timeout() {
        return MailError::Timeout { server };
    }
    if let Some(tls) = rustls_error(error) {
        return MailError::Tls { server, cause: tls.to_string() };
    }
    let cause = cause_of(error);
    if error.is_tls() {
        return MailError::Tls { server, cause };
    }
    if error.is_client() {
        // lettre reports these as client errors with fixed texts.
        if cause.contains("STARTTLS is not supported") {
            return MailError::StartTlsUnavailable { server };
        }
        if cause.contains("No compatible authentication mechanism") {
            return MailError::AuthUnsupported { server };
        }
        return MailError::Other { server, cause };
    }
    if error.is_response() {
        return MailError::Protocol { server, cause };
    }
    if error.is_transport_shutdown() {
        return MailError::Other { server, cause };
    }
    // What is left are lettre's connection and network errors: the TCP connection failed or broke off.
    MailError::Connect { server, cause }
}

/// The TLS error inside, if any. lettre wraps a failed handshake as a connection error around the `io::Error` that
/// tokio-rustls returns, whose payload is the `rustls::Error`; `io::Error::source` skips that payload, so look inside.
fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && let Some(tls) = rustls_error(inner)
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

/// The innermost cause's text ("Connection refused (os error 111)"), without lettre's "Connection error: " prefixes.
fn cause_of(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    one_line(&current.to_string())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: 1,
            security: Security::None,
            username: None,
            password: None,
            from_address: "crm@example.com".into(),
            from_name: Some("Acme Sales".into()),
        }
    }

    fn email(to: &str) -> Email {
        Email { to: to.into(), subject: "Hi".into(), text: "Hello".into(), html: None }
    }

    #[tokio::test]
    async fn addresses_are_checked_before_connecting() {
        let error = send(&settings(), &email("not an address")).await.unwrap_err();
        assert!(
            matches!(&error, MailError::InvalidRecipient { address, .. } if address == "not an address"),
            "{error}"
        );
        assert_eq!(error.msg().key, "mail.error.invalid_recipient");

        let bad_sender = SmtpSettings { from_address: "nope".into(), ..settings() };
        let error = send(&bad_sender, &email("a@example.com")).await.unwrap_err();
        assert!(matches!(error, MailError::InvalidSender { .. }), "{error}");
    }

    #[test]
    fn messages_carry_from_name_and_both_parts() {
        let mut mail = email("to@example.com");
        mail.html = Some("<p>Hello</p>".into());
        let message = build_message(&settings(), &mail).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("From: \"Acme Sales\" <crm@example.com>"), "{raw}");
        assert!(raw.contains("multipart/alternative") && raw.contains("text/html"), "{raw}");
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let with_password =
            SmtpSettings { username: Some("u".into()), password: Some(Secret::new("hunter2")), ..settings() };
        let transport = transport(&with_password).unwrap();
        assert!(!format!("{transport:?}").contains("hunter2"));
    }

    #[test]
    fn every_error_has_a_message() {
        let server = || "smtp.example.com:587".to_owned();
        let errors = [
            MailError::InvalidRecipient { address: "x".into(), cause: "c".into() },
            MailError::InvalidSender { address: "x".into(), cause: "c".into() },
            MailError::Connect { server: server(), cause: "refused".into() },
            MailError::Tls { server: server(), cause: "bad certificate".into() },
            MailError::StartTlsUnavailable { server: server() },
            MailError::AuthFailed { server: server(), reply: "535 no".into() },
            MailError::AuthRequired { server: server(), reply: "530 login first".into() },
            MailError::AuthUnsupported { server: server() },
            MailError::Rejected { server: server(), reply: "550 no such user".into() },
            MailError::Timeout { server: server() },
            MailError::Protocol { server: server(), cause: "garbage".into() },
            MailError::Build("x".into()),
            MailError::Other { server: server(), cause: "x".into() },
        ];
        for error in errors {
            let msg = error.msg();
            let text = msg.render(crate::i18n::Lang::En);
            assert_ne!(text, msg.key, "{} is in the catalog", msg.key);
            assert!(!text.contains('{'), "every placeholder of {} is filled: {text}", msg.key);
            let arabic = msg.render(crate::i18n::Lang::Ar);
            assert!(!arabic.contains('{'), "every placeholder of {} is filled: {arabic}", msg.key);
        }
    }
}
