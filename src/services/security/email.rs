//! The branded emails of this area (password reset, invitation): one askama text + HTML pair, every string from the
//! catalog in the recipient's language, with the site's name and (validated) brand colour.

use askama::Template;

use crate::i18n::Lang;
use crate::mail::Email;
use crate::services::site::Brand;

/// Which email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Reset,
    Invite,
}

/// What the emails say, before translation.
pub struct Content<'a> {
    pub kind: Kind,
    pub lang: Lang,
    pub brand: &'a Brand,
    pub to: &'a str,
    /// The recipient's name (may be empty for an invited person who has not chosen one).
    pub name: &'a str,
    pub link: &'a str,
    /// For invitations: who invited, and to which workspace.
    pub inviter: &'a str,
    pub workspace: &'a str,
}

/// The translated strings and brand values both templates render.
struct View {
    lang: &'static str,
    dir: &'static str,
    site: String,
    primary: String,
    primary_contrast: &'static str,
    subject: String,
    greeting: String,
    intro: String,
    button: String,
    link: String,
    link_hint: String,
    expiry: String,
    ignore: String,
    footer: String,
}

#[derive(Template)]
#[template(path = "auth/email.txt")]
struct TextEmail<'a> {
    v: &'a View,
}

#[derive(Template)]
#[template(path = "auth/email.html")]
struct HtmlEmail<'a> {
    v: &'a View,
}

/// Builds the email; fails only if a template does not render (a bug).
pub fn build(content: &Content<'_>) -> Result<Email, askama::Error> {
    let lang = content.lang;
    let site = content.brand.name.as_str();
    let args = [
        ("site", site),
        ("email", content.to),
        ("name", content.name),
        ("inviter", content.inviter),
        ("workspace", content.workspace),
    ];
    let t = |key: &str| lang.format(key, &args);
    let (subject, intro, button, expiry, ignore) = match content.kind {
        Kind::Reset => (
            t("security.email.reset.subject"),
            t("security.email.reset.intro"),
            t("security.email.reset.button"),
            t("security.email.reset.expiry"),
            t("security.email.reset.ignore"),
        ),
        Kind::Invite => (
            t("security.email.invite.subject"),
            t("security.email.invite.intro"),
            t("security.email.invite.button"),
            t("security.email.invite.expiry"),
            t("security.email.invite.ignore"),
        ),
    };
    let greeting = if content.name.trim().is_empty() {
        t("security.email.greeting_anonymous")
    } else {
        t("security.email.greeting")
    };
    let view = View {
        lang: lang.code(),
        dir: lang.direction().as_str(),
        site: site.to_owned(),
        primary: content.brand.primary.clone(),
        primary_contrast: content.brand.primary_contrast,
        subject,
        greeting,
        intro,
        button,
        link: content.link.to_owned(),
        link_hint: t("security.email.link_hint"),
        expiry,
        ignore,
        footer: t("security.email.footer"),
    };
    let text = TextEmail { v: &view }.render()?;
    let html = HtmlEmail { v: &view }.render()?;
    Ok(Email { to: content.to.trim().to_owned(), subject: view.subject.clone(), text, html: Some(html) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::site::default_look;

    #[test]
    fn emails_are_translated_branded_and_escaped() {
        let mut brand = default_look().brand;
        brand.name = "Acme <Chat> & Co".into();
        brand.primary = "#112233".into();
        let content = Content {
            kind: Kind::Invite,
            lang: Lang::En,
            brand: &brand,
            to: " new@acme.example ",
            name: "",
            link: "https://crm.acme.example/invite/abc?x=1&y=2",
            inviter: "Olivia <Owner>",
            workspace: "Support",
        };
        let email = build(&content).unwrap();
        assert_eq!(email.to, "new@acme.example");
        assert!(email.subject.contains("Olivia <Owner>") && email.subject.contains("Support"), "{}", email.subject);
        assert!(email.text.contains("https://crm.acme.example/invite/abc?x=1&y=2"), "{}", email.text);
        assert!(email.text.contains("Acme <Chat> & Co"), "the text part is not HTML-escaped: {}", email.text);
        let html = email.html.unwrap();
        assert!(html.contains("#112233") && html.contains("dir=\"ltr\""), "{html}");
        assert!(html.contains("Acme &#60;Chat&#62; &#38; Co") || html.contains("Acme &lt;Chat&gt; &amp; Co"), "{html}");
        assert!(!html.contains("<Owner>") && !html.contains("security.email"), "{html}");

        let reset = Content { kind: Kind::Reset, lang: Lang::Ar, name: "Olivia", ..content };
        let arabic = build(&reset).unwrap();
        assert!(arabic.html.unwrap().contains("dir=\"rtl\""));
        assert!(!arabic.text.contains("security.email"), "{}", arabic.text);
    }
}
