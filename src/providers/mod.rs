//! WhatsApp connectors: one [`Provider`] trait, one module per provider (Meta Cloud API, 360dialog, Twilio,
//! Chatwoot, Evolution API), and the normalized types they speak: what to send ([`Outgoing`]), what arrives
//! ([`Event`]), and how a call failed ([`ProviderError`]).
//!
//! Providers know HTTP and their own wire formats and nothing else: no database, no tenant, no queue. The message
//! services decide what to send and store what arrives. The request, response and webhook examples in
//! `tests/fixtures/providers/` (copied from the shared fixtures) are the contract their tests check.

pub mod chatwoot;
pub mod dialog360;
mod events;
pub mod evolution;
mod http;
pub mod meta;
mod meta_codec;
pub mod twilio;
mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::domain::message::Status;
use crate::domain::phone::Phone;

pub use events::{
    ContactRef, Event, InboundMessage, Location, MediaRef, MessageKind, ParseError, Reaction, ReplyChoice,
    StatusUpdate, VerifyError, WebhookRequest,
};
pub use http::Http;

/// A boxed future, so the trait stays object-safe (`&'static dyn Provider`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The providers, by the names the API and the webhook URLs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Meta,
    Dialog360,
    Twilio,
    Chatwoot,
    Evolution,
}

impl ProviderKind {
    pub const ALL: [Self; 5] = [Self::Meta, Self::Dialog360, Self::Twilio, Self::Chatwoot, Self::Evolution];

    /// `meta`, `360dialog`, `twilio`, `chatwoot`, `evolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Dialog360 => "360dialog",
            Self::Twilio => "twilio",
            Self::Chatwoot => "chatwoot",
            Self::Evolution => "evolution",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The product name people know.
    pub fn label(self) -> &'static str {
        match self {
            Self::Meta => "Meta Cloud API",
            Self::Dialog360 => "360dialog",
            Self::Twilio => "Twilio",
            Self::Chatwoot => "Chatwoot",
            Self::Evolution => "Evolution API",
        }
    }

    /// The connector implementing this provider.
    pub fn connector(self) -> &'static dyn Provider {
        match self {
            Self::Meta => &meta::Meta,
            Self::Dialog360 => &dialog360::Dialog360,
            Self::Twilio => &twilio::Twilio,
            Self::Chatwoot => &chatwoot::Chatwoot,
            Self::Evolution => &evolution::Evolution,
        }
    }

    /// Official APIs (Meta's rules apply: the 24-hour window and messaging-limit tiers); the others are gateways.
    pub fn is_official(self) -> bool {
        matches!(self, Self::Meta | Self::Dialog360 | Self::Twilio)
    }
}

/// One credential field of a provider, by the provider's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    /// Write-only: stored encrypted, never shown again.
    pub secret: bool,
    pub required: bool,
}

/// What a provider can do; the UI and the API offer only these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub templates: bool,
    /// Media by URL.
    pub media: bool,
    /// Media by uploading the file's bytes.
    pub media_upload: bool,
    /// Reply buttons and lists.
    pub interactive: bool,
    pub mark_read: bool,
    /// Free-form messages only within 24 hours of the customer's last message (the official APIs).
    pub customer_window: bool,
}

/// An account's credential values by field name (decrypted; never logged).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(pub BTreeMap<String, String>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Credentials {
    /// A required field; missing or blank is a configuration error that names the field.
    pub fn get(&self, name: &str) -> Result<&str, ProviderError> {
        self.optional(name).ok_or_else(|| ProviderError::misconfigured(format!("missing credential `{name}`")))
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// What a connector needs to know about one connected number.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub kind: ProviderKind,
    /// The API base URL, without a trailing slash: the account's own, or the provider's default.
    pub base_url: String,
    /// The business's own number.
    pub phone: Phone,
    pub credentials: Credentials,
    /// Meta: the verify token of the GET handshake. 360dialog, Chatwoot, Evolution: the secret their webhooks must
    /// carry (`?secret=` in the URL or the `X-Conversure-Secret` header). Twilio signs with its auth token instead.
    pub webhook_secret: String,
    /// Our public webhook URL for this account, exactly as the provider is told to call it (Twilio signs it).
    pub webhook_url: String,
}

/// Who a message goes to. The phone is enough for most providers; the others are the provider's own ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub phone: Option<Phone>,
    /// Evolution: the chat's JID (`…@s.whatsapp.net`, or `…@lid` for a privacy id without a phone).
    pub jid: Option<String>,
    /// 2026 business-scoped user id (`US.…`), for users known only by it.
    pub bsuid: Option<String>,
    /// The provider's conversation id, where sending needs one (Chatwoot's conversation id).
    pub thread: Option<String>,
}

/// A reply button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    pub title: String,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

/// The kinds of media WhatsApp carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Document,
    Audio,
    Video,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Sticker => "sticker",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "image" => Self::Image,
            "document" => Self::Document,
            "audio" => Self::Audio,
            "video" => Self::Video,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }
}

/// Where outgoing media comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A public URL the provider fetches.
    Url(String),
    /// The file itself (providers with `media_upload`).
    Upload { bytes: Vec<u8>, mime: String, filename: String },
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text {
        body: String,
        preview_url: bool,
    },
    /// An approved template. Twilio names templates by Content SID (`HX…`), which goes in `name`.
    Template {
        name: String,
        language: String,
        /// Body variables `{{1}}`, `{{2}}`, … in order.
        variables: Vec<String>,
    },
    Media {
        kind: MediaKind,
        source: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    },
    /// Up to three reply buttons.
    Buttons {
        body: String,
        buttons: Vec<ReplyButton>,
    },
    List {
        body: String,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Recipient,
    pub content: Content,
    /// Our own reference for the message (e.g. `cvm-42`): Meta echoes it back as `biz_opaque_callback_data`.
    pub client_ref: String,
    /// The provider id of the message this one answers, where the provider supports quoting.
    pub reply_to: Option<String>,
}

/// A send the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `wamid.…`, `SM…`, Evolution's `key.id`, Chatwoot's message id.
    pub provider_message_id: String,
    /// The recipient's WhatsApp id, where the provider normalised it (Meta `contacts[].wa_id`).
    pub wa_id: Option<String>,
    /// The provider's conversation id, when sending created or found one (Chatwoot).
    pub thread: Option<String>,
}

/// A message template as the provider lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTemplate {
    pub name: String,
    pub language: String,
    /// Lower case: `marketing`, `utility`, `authentication`.
    pub category: String,
    /// Lower case: `approved`, `pending`, `rejected`, `paused`, `disabled`, …
    pub status: String,
    /// The body's text with its `{{1}}` placeholders.
    pub body: String,
    /// The components as the provider gave them (header, body, footer, buttons), for previews.
    pub components: serde_json::Value,
}

/// A media file fetched from a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    pub bytes: Vec<u8>,
    pub mime: String,
}

/// How a provider call failed: what the queue does with it depends on the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Token wrong or expired (Meta 190, HTTP 401/403): permanent until someone fixes the credentials.
    Unauthorized,
    /// Throughput, pair-rate or API limit (Meta 130429, 131056, 80007; Twilio 63018; HTTP 429): retried later.
    RateLimited,
    /// Free-form message outside the 24-hour window (Meta 131047, Twilio 63016): send a template instead.
    OutsideWindow,
    /// Not a WhatsApp user, unknown or blocked number (Meta 131026, Twilio 63024, 21610).
    InvalidRecipient,
    /// Network trouble, timeouts, 5xx: retried.
    Transient,
    /// The provider refused the request for good (bad parameters, unknown template, …).
    Permanent,
    /// Our side is incomplete: a missing credential, an unsupported content type for this provider.
    Misconfigured,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::RateLimited => "rate_limited",
            Self::OutsideWindow => "outside_window",
            Self::InvalidRecipient => "invalid_recipient",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Misconfigured => "misconfigured",
        }
    }
}

/// A failed provider call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: FailureKind,
    /// The provider's own code (`131047`, `63016`, `401`, …) when it gave one.
    pub code: Option<String>,
    /// What went wrong, readable (the provider's message when it has one); never holds credentials.
    pub message: String,
    /// When the provider said to come back (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: FailureKind, code: Option<String>, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into(), retry_after: None }
    }

    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Misconfigured, None, message)
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Transient, None, message)
    }

    /// Whether trying again later can succeed.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, FailureKind::RateLimited | FailureKind::Transient)
    }
}

/// One provider's API and webhook format.
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    fn capabilities(&self) -> Capabilities;

    /// The credential fields a user fills in, by the provider's own names.
    fn credential_fields(&self) -> &'static [CredentialField];

    /// The API base URL when the account sets none (`None`: the account must set one, as Evolution's is
    /// self-hosted).
    fn default_base_url(&self) -> Option<&'static str>;

    /// The GET verification handshake, for providers that have one (Meta): the body to answer with, or why not.
    /// `None` when the provider has no handshake (a GET is then 405).
    fn handshake(
        &self,
        _account: &AccountConfig,
        _request: &WebhookRequest<'_>,
    ) -> Option<Result<String, VerifyError>> {
        None
    }

    /// Checks that a webhook comes from the provider: a signature over the raw body, or the account's secret.
    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError>;

    /// Reads a verified webhook into events. Unknown event types become [`Event::Other`], never an error.
    fn parse(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError>;

    /// The content type and body to acknowledge a webhook with (Twilio wants TwiML).
    fn acknowledgement(&self) -> (&'static str, &'static str) {
        ("application/json", "{}")
    }

    /// Sends one message.
    fn send<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Sent, ProviderError>>;

    /// Tells the customer their message was read (blue ticks), where supported. `from` is who sent it (Evolution
    /// needs the chat's JID, Chatwoot its conversation).
    fn mark_read<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message_id: &'a str,
        from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Checks the credentials with a harmless call; on success a short description of what answered
    /// (the number's display name, the instance's state, …).
    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Whether [`Provider::list_templates`] can be asked (the others' templates are entered by hand).
    fn lists_templates(&self) -> bool {
        false
    }

    /// Every message template of the account's business account, all pages read.
    fn list_templates<'a>(
        &'a self,
        _http: &'a Http,
        _account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<Vec<ListedTemplate>, ProviderError>> {
        Box::pin(async { Err(ProviderError::misconfigured("this provider does not list templates")) })
    }

    /// Downloads an inbound message's media.
    fn fetch_media<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>>;
}
