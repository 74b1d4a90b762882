//! WhatsApp use cases: connected numbers ([`numbers`]), webhook ingestion ([`ingest`]), sending ([`outbound`]),
//! reading conversations ([`conversations`]) and the daily quotas ([`quota`]). What they share lives here: the
//! instance's data key that seals credentials, the HTTP client, and the public URL webhooks are reached at.

pub mod compose;
pub mod composer;
pub mod contacts;
pub mod conversations;
pub mod ingest;
pub mod live;
pub mod media;
pub mod numbers;
pub mod organize;
pub mod outbound;
pub mod quick_replies;
pub mod quota;
pub mod templates;
mod views;

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::DataKey;
use crate::domain::msg::Msg;
use crate::domain::phone::Phone;
use crate::providers::{AccountConfig, Credentials, Http, ProviderError, ProviderKind};
use crate::services::access::AccessError;
use crate::store::whatsapp_accounts::AccountRow;
use crate::store::{Conn, Db, StoreError};

pub use views::{Capability, NumberView, QuotaView};

/// Why a WhatsApp operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WhatsAppError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// No such number, conversation or message in this workspace (404).
    #[error("not found")]
    NotFound,
    /// Field name → what is wrong (422).
    #[error("invalid input")]
    Fields(Vec<(&'static str, Msg)>),
    /// The current state refuses it (409): the 24-hour window closed, a quota used up, a capability missing.
    /// `code` is the stable API error detail (`outside_window`, `quota_exceeded`, …).
    #[error("refused: {code}")]
    Refused { code: &'static str, msg: Msg },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken installation (no data key); logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl WhatsAppError {
    fn refused(code: &'static str, key: &'static str) -> Self {
        Self::Refused { code, msg: Msg::new(key) }
    }
}

/// What the WhatsApp services share.
#[derive(Clone)]
pub struct Shared {
    db: Db,
    key: Option<Arc<DataKey>>,
    http: Http,
    /// `public_url` from the configuration, used when the `site.public_url` setting is absent.
    public_url: Option<String>,
    /// Where message files are kept (`<data dir>/media`).
    media_dir: std::path::PathBuf,
}

/// Associated data sealed with an account's credentials: a sealed blob only opens for the account it was made for.
fn aad(account_key: &str) -> Vec<u8> {
    format!("whatsapp-account:{account_key}").into_bytes()
}

impl Shared {
    pub fn new(config: &Config, db: Db) -> Self {
        let key = config.encryption_key.as_ref().and_then(|secret| DataKey::from_base64(secret.expose()).ok());
        Self {
            db,
            key: key.map(Arc::new),
            http: Http::new(),
            public_url: config.public_url.as_ref().map(url::Url::to_string),
            media_dir: config.data_dir.media_dir(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn key(&self) -> Result<&DataKey, WhatsAppError> {
        self.key.as_deref().ok_or_else(|| WhatsAppError::Internal("the instance has no data key".into()))
    }

    fn seal(&self, account_key: &str, plaintext: &str) -> Result<String, WhatsAppError> {
        Ok(self.key()?.seal_str(plaintext, &aad(account_key)))
    }

    fn open(&self, account_key: &str, sealed: &str) -> Result<String, WhatsAppError> {
        self.key()?
            .open_str(sealed, &aad(account_key))
            .map_err(|e| WhatsAppError::Internal(format!("account credentials do not open: {e}")))
    }

    fn seal_credentials(&self, account_key: &str, credentials: &Credentials) -> Result<String, WhatsAppError> {
        let json = serde_json::to_string(&credentials.0).map_err(|e| WhatsAppError::Internal(e.to_string()))?;
        self.seal(account_key, &json)
    }

    fn open_credentials(&self, row: &AccountRow) -> Result<Credentials, WhatsAppError> {
        let json = self.open(&row.account_key, &row.credentials)?;
        serde_json::from_str(&json).map(Credentials).map_err(|e| WhatsAppError::Internal(e.to_string()))
    }

    /// The instance's public URL without a trailing slash (setting `site.public_url`, else the configuration).
    async fn base_url(&self, conn: &mut Conn) -> Result<String, StoreError> {
        crate::services::site::public_base_url(conn, self.public_url.as_deref()).await
    }

    /// Everything a connector needs about a stored number, credentials opened.
    fn account_config(&self, row: &AccountRow, base_url: &str) -> Result<AccountConfig, WhatsAppError> {
        let kind = ProviderKind::parse(&row.provider)
            .ok_or_else(|| WhatsAppError::Internal(format!("unknown provider {}", row.provider)))?;
        let phone =
            Phone::parse(&row.phone).map_err(|_| WhatsAppError::Internal("stored phone does not parse".into()))?;
        let provider_base = row
            .api_base_url
            .clone()
            .or_else(|| kind.connector().default_base_url().map(str::to_owned))
            .unwrap_or_default();
        Ok(AccountConfig {
            kind,
            base_url: provider_base.trim_end_matches('/').to_owned(),
            phone,
            credentials: self.open_credentials(row)?,
            webhook_secret: self.open(&row.account_key, &row.webhook_secret)?,
            webhook_url: webhook_url(base_url, kind, &row.account_key),
        })
    }
}

/// The URL a provider is told to call for a number. The shared secret of the providers without signatures is not
/// part of it: [`webhook_url_with_secret`] adds it where it is shown to the user.
pub fn webhook_url(base_url: &str, kind: ProviderKind, account_key: &str) -> String {
    format!("{base_url}/webhooks/{}/{account_key}", kind.as_str())
}

/// The webhook URL to paste into the provider's console: with `?secret=` for 360dialog, Chatwoot and Evolution.
pub fn webhook_url_with_secret(base_url: &str, kind: ProviderKind, account_key: &str, secret: &str) -> String {
    let url = webhook_url(base_url, kind, account_key);
    match kind {
        ProviderKind::Meta | ProviderKind::Twilio => url,
        _ => format!("{url}?secret={secret}"),
    }
}

/// A provider failure as a person reads it: the kind in words, then the provider's own message and code.
pub fn describe_failure(error: &ProviderError) -> String {
    let code = error.code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default();
    format!("{}{code}", error.message)
}
