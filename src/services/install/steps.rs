//! Wizard steps "Requirements", "License", "Site", "Admin account" and "Email".

use super::draft::{AdminDraft, EmailDraft, SiteDraft};
use super::{InstallService, StepError};
use crate::domain::check::{self, Status};
use crate::domain::identity::{Email, Slug, display_name};
use crate::domain::msg::Msg;
use crate::domain::password;
use crate::i18n::Lang;
use crate::license::License;
use crate::mail::{self, SmtpForm};
use crate::store::accounts;
use crate::store::now_millis;

/// How the buyer licenses the instance.
#[derive(Debug, Clone)]
pub enum LicenseChoice {
    /// The text of a license file.
    File(String),
    /// A purchase code to activate online, with the address the instance is reached at (the license server records
    /// it; before the Site step the address the browser used is the best known).
    PurchaseCode {
        code: String,
        site_url: String,
    },
    Evaluation,
}

#[derive(Debug, Clone, Default)]
pub struct SiteForm {
    pub name: String,
    pub public_url: String,
    pub timezone: String,
    pub language: String,
    /// Get a certificate for the public address's domain and serve HTTPS (after the restart that ends the wizard).
    pub https: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AdminForm {
    pub workspace_name: String,
    pub workspace_slug: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

/// The email step: SMTP settings, or skip.
#[derive(Debug, Clone, Default)]
pub struct EmailForm {
    pub smtp: SmtpForm,
    pub skip: bool,
}

impl InstallService {
    /// Runs the requirement checks and moves on when none failed.
    pub async fn accept_requirements(&self, proxy_headers: Option<&[String]>) -> Result<(), StepError> {
        let checks = self.check_requirements(proxy_headers).await;
        if check::overall(&checks) == Status::Fail {
            return Err(StepError::Message(Msg::new("install.requirements.blocked")));
        }
        self.update_draft(|d| d.requirements_ok = true).await
    }

    /// Verifies and keeps the license: a file offline, a purchase code online, or evaluation mode.
    pub async fn choose_license(&self, choice: LicenseChoice) -> Result<License, StepError> {
        self.may_open(super::Step::License).await?;
        let instance_id = self.draft.lock().await.instance_id.clone();
        let now = now_millis();
        let license = match choice {
            LicenseChoice::File(text) if text.trim().is_empty() => {
                return Err(StepError::field("license_file", Msg::new("install.license.file_missing")));
            }
            LicenseChoice::File(text) => crate::license::verify(text.trim(), &instance_id, now)
                .map_err(|e| StepError::field("license_file", e.msg()))?,
            LicenseChoice::PurchaseCode { code, site_url } => {
                let site = self.config.public_url.as_ref().map_or(site_url, url::Url::to_string);
                crate::license::activate(&self.config.license_server_url, &code, &instance_id, &site)
                    .await
                    .map(|(license, _)| license)
                    .map_err(|e| StepError::field("purchase_code", e.msg()))?
            }
            LicenseChoice::Evaluation => License::evaluation(&instance_id, now),
        };
        let stored = license.to_stored();
        self.update_draft(|d| d.license = Some(stored)).await?;
        Ok(license)
    }

    /// Site name, public URL, timezone and default language.
    pub async fn save_site(&self, form: &SiteForm) -> Result<(), StepError> {
        self.may_open(super::Step::Site).await?;
        let mut errors = Vec::new();
        let name = display_name(&form.name).map_err(|m| errors.push(("name", m))).ok();
        let public_url = parse_public_url(&form.public_url).map_err(|m| errors.push(("public_url", m))).ok();
        let timezone = form.timezone.trim();
        if jiff::tz::TimeZone::get(timezone).is_err() {
            errors.push(("timezone", Msg::new("install.site.timezone_invalid")));
        }
        let language = Lang::from_code(&form.language);
        if language.is_none() {
            errors.push(("language", Msg::new("install.site.language_invalid")));
        }
        if form.https {
            if self.config.tls_from_environment.iter().any(|(key, _)| *key == "tls_mode") {
                errors.push(("https", Msg::new("install.site.https_fixed")));
            } else if public_url.as_deref().and_then(certificate_domain).is_none() {
                errors.push(("https", Msg::new("install.site.https_needs_domain")));
            }
        }
        let (Some(name), Some(public_url), Some(language), true) = (name, public_url, language, errors.is_empty())
        else {
            return Err(StepError::Fields(errors));
        };
        let site = SiteDraft {
            name,
            public_url,
            timezone: timezone.to_owned(),
            language: language.code().to_owned(),
            https: form.https,
        };
        self.update_draft(|d| d.site = Some(site)).await
    }

    /// The first workspace and its admin; the password is checked against the policy and kept only as its hash.
    pub async fn save_admin(&self, form: &AdminForm) -> Result<(), StepError> {
        self.may_open(super::Step::Admin).await?;
        let draft = self.draft().await;
        let site_name = draft.site.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        let mut errors = Vec::new();
        let workspace_name = display_name(&form.workspace_name).map_err(|m| errors.push(("workspace_name", m))).ok();
        let slug_text = if form.workspace_slug.trim().is_empty() {
            Slug::suggest(&form.workspace_name)
        } else {
            form.workspace_slug.clone()
        };
        let slug = Slug::parse(&slug_text).map_err(|m| errors.push(("workspace_slug", m))).ok();
        let name = display_name(&form.name).map_err(|m| errors.push(("name", m))).ok();
        let email = Email::parse(&form.email).map_err(|m| errors.push(("email", m))).ok();
        let inputs = [form.email.as_str(), form.name.as_str(), site_name.as_str(), form.workspace_name.as_str()];
        if let Err(m) = password::check(&form.password, &inputs) {
            errors.push(("password", m));
        } else if form.password != form.password_confirm {
            errors.push(("password_confirm", Msg::new("install.admin.password_mismatch")));
        }
        // In a re-used database the slug and email may be taken already.
        if let (Some(slug), Some(email), Some(choice)) = (&slug, &email, &draft.database) {
            let db = self.open_chosen(choice).await?;
            let mut conn = db.read().await?;
            if accounts::slug_taken(&mut conn, slug.as_str()).await? {
                errors.push(("workspace_slug", Msg::new("install.admin.slug_taken")));
            }
            if accounts::user_by_email(&mut conn, &email.lookup).await?.is_some() {
                errors.push(("email", Msg::new("install.admin.email_taken")));
            }
        }
        let (Some(workspace_name), Some(slug), Some(name), Some(email), true) =
            (workspace_name, slug, name, email, errors.is_empty())
        else {
            return Err(StepError::Fields(errors));
        };
        let password_hash = crate::services::auth::hash_password(&form.password).await.map_err(StepError::Internal)?;
        let admin = AdminDraft {
            workspace_name,
            workspace_slug: slug.as_str().to_owned(),
            name,
            email: email.display,
            password_hash,
        };
        self.update_draft(|d| d.admin = Some(admin)).await
    }

    /// Sends a test email with the submitted settings, to the admin's address; changes nothing.
    pub async fn send_test_email(&self, form: &SmtpForm, lang: Lang) -> Result<String, StepError> {
        let settings = mail::parse_form(form).map_err(StepError::Fields)?;
        let draft = self.draft().await;
        let to = draft.admin.as_ref().map(|a| a.email.clone()).unwrap_or_else(|| settings.from_address.clone());
        let site = draft.site.as_ref().map_or("Conversure", |s| s.name.as_str());
        mail::send(&settings, &mail::test_email(lang, site, &to)).await.map_err(|e| StepError::Message(e.msg()))?;
        Ok(to)
    }

    /// Keeps the SMTP settings (password sealed with the new data key), or records that email was skipped.
    pub async fn save_email(&self, form: &EmailForm) -> Result<(), StepError> {
        self.may_open(super::Step::Email).await?;
        let email = if form.skip {
            EmailDraft::Skipped
        } else {
            let settings = mail::parse_form(&form.smtp).map_err(StepError::Fields)?;
            let key = self.draft().await.secrets.data_key().map_err(|e| StepError::Internal(e.to_string()))?;
            EmailDraft::Configured { settings: settings.to_settings(&key) }
        };
        self.update_draft(|d| d.email = Some(email)).await
    }
}

/// An `http(s)://host[:port][/path]` address users reach the instance at; kept without a trailing slash.
/// The domain a public CA can issue a certificate for: that of an `https://` address with a DNS name (not an IP
/// address, not a single label such as `localhost`).
pub(super) fn certificate_domain(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let named = matches!(url.host(), Some(url::Host::Domain(_))) && host.contains('.');
    (url.scheme() == "https" && named && crate::config::tls::is_dns_name(&host)).then_some(host)
}

fn parse_public_url(value: &str) -> Result<String, Msg> {
    let url = url::Url::parse(value.trim()).map_err(|_| Msg::new("install.site.url_invalid"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) || url.query().is_some() {
        return Err(Msg::new("install.site.url_invalid"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_public_url;

    #[test]
    fn certificate_domains() {
        use super::certificate_domain;
        assert_eq!(certificate_domain("https://CRM.example.com").as_deref(), Some("crm.example.com"));
        for none in ["http://crm.example.com", "https://10.0.0.5", "https://localhost:8443", "https://[::1]"] {
            assert_eq!(certificate_domain(none), None, "{none}");
        }
    }

    #[test]
    fn public_urls() {
        assert_eq!(parse_public_url(" https://crm.example.com/ ").unwrap(), "https://crm.example.com");
        assert_eq!(parse_public_url("http://10.0.0.5:8080").unwrap(), "http://10.0.0.5:8080");
        for bad in ["crm.example.com", "ftp://x.example", "https://", "https://x.example/?a=1"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}
