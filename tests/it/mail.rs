//! Sending email against a real SMTP server (aiosmtpd): delivery, login, and how failures are classified.

use std::time::{Duration, Instant};

use conversure::config::Secret;
use conversure::i18n::Lang;
use conversure::mail::{self, Email, MailError, Security, SmtpSettings};

use crate::smtp::SmtpServer;

const WAIT: Duration = Duration::from_secs(10);

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from_address: "crm@example.com".into(),
        from_name: Some("Acme Sales".into()),
    }
}

fn login(port: u16, user: &str, password: &str) -> SmtpSettings {
    SmtpSettings { username: Some(user.into()), password: Some(Secret::new(password)), ..settings(port) }
}

fn short_email() -> Email {
    Email { to: "admin@example.com".into(), subject: "Hello".into(), text: "Hello there".into(), html: None }
}

/// The message text with quoted-printable soft line breaks joined, so a long line can be searched for.
fn unfolded(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "")
}

/// The value of a header in a raw message.
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}: ");
    raw.lines().take_while(|line| !line.is_empty()).find_map(|line| line.strip_prefix(prefix.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_email_arrives_with_text_and_html() {
    let Some(server) = SmtpServer::try_start(None) else { return };
    let email = mail::test_email(Lang::En, "Acme CRM", "admin@example.com");
    mail::send(&settings(server.port), &email).await.unwrap();

    let messages = server.wait_for_messages(1, WAIT).await;
    assert_eq!(messages.len(), 1, "server log:\n{}", server.log());
    let raw = &messages[0];
    assert_eq!(header(raw, "From"), Some("\"Acme Sales\" <crm@example.com>"), "{raw}");
    assert_eq!(header(raw, "To"), Some("admin@example.com"), "{raw}");
    assert_eq!(header(raw, "Subject"), Some(email.subject.as_str()), "{raw}");
    assert!(email.subject.contains("Acme CRM"));
    assert!(header(raw, "Date").is_some() && header(raw, "Message-ID").is_some(), "{raw}");
    assert!(header(raw, "Content-Type").is_some_and(|v| v.starts_with("multipart/alternative")), "{raw}");

    let body = unfolded(raw);
    let text_part = body.find("Content-Type: text/plain").expect("a text part");
    let html_part = body.find("Content-Type: text/html").expect("an html part");
    assert!(text_part < html_part, "text first, html as the preferred alternative");
    assert!(body[text_part..html_part].contains("This is a test email from Acme CRM."), "{body}");
    assert!(body[html_part..].contains("<p>Hello,</p>"), "{body}");
    assert!(body[html_part..].contains("This is a test email from Acme CRM."), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arabic_test_email_arrives() {
    let Some(server) = SmtpServer::try_start(None) else { return };
    let email = mail::test_email(Lang::Ar, "أكمي", "admin@example.com");
    mail::send(&settings(server.port), &email).await.unwrap();
    let messages = server.wait_for_messages(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    // Non-ASCII subjects travel encoded (RFC 2047), never as raw 8-bit header bytes.
    assert!(header(&messages[0], "Subject").is_some_and(|s| s.starts_with("=?utf-8?")), "{}", messages[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_login_sends_and_a_wrong_one_is_an_authentication_error() {
    let Some(server) = SmtpServer::try_start(Some(("crm@example.com", "s3cret pass"))) else { return };

    mail::send(&login(server.port, "crm@example.com", "s3cret pass"), &short_email()).await.unwrap();
    assert_eq!(server.wait_for_messages(1, WAIT).await.len(), 1, "server log:\n{}", server.log());

    let error = mail::send(&login(server.port, "crm@example.com", "wrong"), &short_email()).await.unwrap_err();
    assert!(matches!(&error, MailError::AuthFailed { reply, .. } if reply.starts_with("535")), "{error:?}");
    assert_eq!(error.msg().key, "mail.error.auth_failed");
    let shown = error.msg().render(Lang::En);
    assert!(shown.contains("user name or password") && shown.contains("535"), "{shown}");

    let error = mail::send(&settings(server.port), &short_email()).await.unwrap_err();
    assert!(matches!(&error, MailError::AuthRequired { reply, .. } if reply.starts_with("530")), "{error:?}");
    assert_eq!(error.msg().key, "mail.error.auth_required");

    assert_eq!(server.messages().len(), 1, "nothing else was delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_for_a_server_without_login_are_an_unsupported_login() {
    let Some(server) = SmtpServer::try_start(None) else { return };
    let error = mail::send(&login(server.port, "crm", "pw"), &short_email()).await.unwrap_err();
    assert!(matches!(error, MailError::AuthUnsupported { .. }), "{error:?}");
    assert_eq!(error.msg().key, "mail.error.auth_unsupported");
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_connect_failure_right_away() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let error = mail::send(&settings(port), &short_email()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let MailError::Connect { server, cause } = &error else { panic!("{error:?}") };
    assert_eq!(server, &format!("127.0.0.1:{port}"));
    assert!(cause.to_lowercase().contains("refused"), "{cause}");
    assert_eq!(error.msg().key, "mail.error.connect");
    let shown = error.msg().render(Lang::En);
    assert!(shown.contains(&format!("127.0.0.1:{port}")) && shown.contains(cause.as_str()), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_starttls_without_server_support_fails_fast_and_sends_nothing() {
    let Some(server) = SmtpServer::try_start(Some(("crm", "pw"))) else { return };
    let settings = SmtpSettings { security: Security::StartTls, ..login(server.port, "crm", "pw") };
    let started = Instant::now();
    let error = mail::send(&settings, &short_email()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(error, MailError::StartTlsUnavailable { .. }), "{error:?}");
    assert_eq!(error.msg().key, "mail.error.starttls_unavailable");
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_against_a_plain_server_is_a_tls_failure() {
    let Some(server) = SmtpServer::try_start(None) else { return };
    let settings = SmtpSettings { security: Security::Tls, ..settings(server.port) };
    let started = Instant::now();
    let error = mail::send(&settings, &short_email()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(error, MailError::Tls { .. }), "{error:?}");
    assert_eq!(error.msg().key, "mail.error.tls");
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_recipient_is_refused_before_connecting() {
    let Some(server) = SmtpServer::try_start(None) else { return };
    let email = Email { to: "admin at example.com".into(), ..short_email() };
    let error = mail::send(&settings(server.port), &email).await.unwrap_err();
    assert!(matches!(error, MailError::InvalidRecipient { .. }), "{error:?}");
    assert!(server.messages().is_empty());
}
