//! Sign-in security: throttling, TOTP second factor with recovery codes, the sessions list, password resets by email
//! and invitation links.
//!
//! - [`throttle`]: the per-account and per-address limits [`crate::services::auth::AuthService::sign_in`] applies.
//! - TOTP ([`SecurityService::start_totp`], [`SecurityService::confirm_totp`], [`SecurityService::complete_sign_in`]):
//!   RFC 6238, 30 s steps, 6 digits, SHA-1 (what authenticator apps support); the secret is sealed with the
//!   instance's data key; a code is accepted once (the last used step is remembered per user).
//! - One-time links ([`SecurityService::request_password_reset`], [`SecurityService::invite`]): 32 random bytes,
//!   base64url, stored as SHA-256; resets live one hour, invitations seven days; each works once.

mod email;
mod links;
mod sessions;
pub mod throttle;
mod totp;

use std::sync::Arc;

pub use links::{INVITE_TTL, Invitation, LinkTarget, RESET_TTL};
pub use sessions::SessionView;
pub use throttle::Throttled;
pub use totp::{PENDING_TTL_MS, PendingSignIn, RECOVERY_CODES, SecurityOverview, TotpSetup, TotpStatus};

use crate::config::Config;
use crate::crypto::DataKey;
use crate::domain::msg::Msg;
use crate::i18n::Lang;
use crate::mail::{self, SmtpSettings};
use crate::services::access::{AccessError, Actor};
use crate::services::auth::CurrentUser;
use crate::services::site::{Brand, SiteService};
use crate::store::settings::{self, Scope};
use crate::store::{Conn, Db, StoreError, accounts};

/// The workspace setting that makes TOTP mandatory for its members (`"1"`).
pub const REQUIRE_TOTP_KEY: &str = "security.require_totp";

/// Why a security action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Input refused; each message belongs next to the field it names. Nothing was changed.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<(&'static str, Msg)>),
    /// Too many failed attempts lately.
    #[error("throttled: {0:?}")]
    Throttled(Throttled),
    /// Too many password-reset requests from this address lately.
    #[error("too many reset requests; retry in {minutes} minutes")]
    TooManyRequests { minutes: i64 },
    /// The one-time link is unknown, used or expired.
    #[error("the link is invalid, used or expired")]
    LinkInvalid,
    /// No sign-in in this browser is waiting for a second factor.
    #[error("no sign-in waits for a second factor")]
    NotPending,
    /// Two-step verification is not in the state the action needs (for example confirming without a setup).
    #[error("two-step verification is not in the state this action needs")]
    TotpState,
    /// No SMTP server is configured, so no email can be sent.
    #[error("no SMTP server is configured")]
    MailNotConfigured,
    #[error("no such user")]
    UnknownUser,
    /// An invitation for someone who has a password already.
    #[error("the user has joined already")]
    AlreadyJoined,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken installation (no data key, a secret that does not open); logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl SecurityError {
    /// One field's error.
    pub(crate) fn field(field: &'static str, msg: Msg) -> Self {
        Self::Invalid(vec![(field, msg)])
    }

    /// The message to show (for field errors: the first one).
    pub fn msg(&self) -> Msg {
        match self {
            Self::Invalid(errors) => errors.first().map_or_else(|| Msg::new("security.invalid"), |(_, m)| m.clone()),
            Self::Throttled(t) => t.msg(),
            Self::TooManyRequests { minutes } => {
                Msg::with("security.forgot.throttled", &[("minutes", minutes.to_string())])
            }
            Self::LinkInvalid => Msg::new("security.link.invalid"),
            Self::NotPending => Msg::new("security.totp.not_pending"),
            Self::TotpState => Msg::new("security.totp.wrong_state"),
            Self::MailNotConfigured => Msg::new("security.forgot.no_mail"),
            Self::UnknownUser => Msg::new("error.not_found"),
            Self::AlreadyJoined => Msg::new("security.invite.already_joined"),
            Self::Access(e) => e.msg(),
            Self::Store(_) => Msg::new("error.database_unavailable"),
            Self::Internal(_) => Msg::new("error.internal"),
        }
    }
}

/// Sign-in security use cases.
pub struct SecurityService {
    db: Db,
    /// The instance's data key (absent before the install finishes, or if `encryption_key` does not load).
    key: Option<Arc<DataKey>>,
    /// `public_url` from the configuration, used when the `site.public_url` setting is absent.
    public_url: Option<String>,
}

impl SecurityService {
    pub fn new(config: &Config, db: Db) -> Self {
        let key = config.encryption_key.as_ref().and_then(|secret| match DataKey::from_base64(secret.expose()) {
            Ok(key) => Some(Arc::new(key)),
            Err(e) => {
                tracing::error!(error = %e, "encryption_key does not load: TOTP and the SMTP password are unusable");
                None
            }
        });
        Self { db, key, public_url: config.public_url.as_ref().map(url::Url::to_string) }
    }

    fn key(&self) -> Result<&DataKey, SecurityError> {
        self.key.as_deref().ok_or_else(|| SecurityError::Internal("the instance has no data key".into()))
    }

    /// The site's brand (name, validated colours).
    async fn brand(&self) -> Result<Brand, StoreError> {
        Ok(SiteService::new(self.db.clone()).look().await?.brand)
    }

    /// The instance's public URL without a trailing slash (setting `site.public_url`, else the configuration).
    async fn base_url(&self, conn: &mut Conn) -> Result<String, StoreError> {
        crate::services::site::public_base_url(conn, self.public_url.as_deref()).await
    }

    /// The configured SMTP server, if any. Settings that do not load count as none (and are logged).
    async fn smtp(&self, conn: &mut Conn) -> Result<Option<SmtpSettings>, SecurityError> {
        let values = settings::load(conn, Scope::Instance, mail::keys::PREFIX).await?;
        if values.get(mail::keys::HOST).is_none_or(|h| h.trim().is_empty()) {
            return Ok(None);
        }
        match SmtpSettings::from_settings(&values, self.key()?) {
            Ok(settings) => Ok(settings),
            Err(e) => {
                tracing::warn!(error = %e, "the stored SMTP settings do not load; no email can be sent");
                Ok(None)
            }
        }
    }

    /// Whether emails can be sent (the forgot-password page says so when not).
    pub async fn mail_configured(&self) -> Result<bool, SecurityError> {
        let mut conn = self.db.read().await?;
        Ok(self.smtp(&mut conn).await?.is_some())
    }

    /// The language to write to a user in: their first workspace's `site.language`, else the instance's, else English.
    async fn recipient_lang(&self, conn: &mut Conn, user_id: i64) -> Result<Lang, StoreError> {
        let memberships = accounts::memberships_of(conn, user_id).await?;
        if let Some(m) = memberships.first()
            && let Some(lang) = settings::get(conn, Scope::Workspace(m.workspace.id), "site.language").await?
            && let Some(lang) = Lang::from_code(&lang)
        {
            return Ok(lang);
        }
        let site = settings::get(conn, Scope::Instance, "site.language").await?;
        Ok(site.as_deref().and_then(Lang::from_code).unwrap_or_default())
    }

    /// Whether the user's current workspace requires TOTP.
    async fn workspace_requires_totp(&self, conn: &mut Conn, user: &CurrentUser) -> Result<bool, StoreError> {
        let Some(membership) = &user.membership else { return Ok(false) };
        let value = settings::get(conn, Scope::Workspace(membership.workspace.id), REQUIRE_TOTP_KEY).await?;
        Ok(value.as_deref() == Some("1"))
    }
}

/// The actor a signed-in user is in their current workspace (`None` outside any workspace).
pub fn actor_of(user: &CurrentUser) -> Option<Actor> {
    let membership = user.membership.as_ref()?;
    let role = crate::domain::role::Role::parse(&membership.role)?;
    Some(Actor::user(user.user.id, &user.user.email, user.user.is_owner, membership.workspace.id, role))
}

/// SHA-256 of a token or code, hex: what the database stores instead of the secret.
fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}
