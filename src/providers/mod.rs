//! WhatsApp connectors: one [`Provider`] trait, one module per provider (Meta Cloud API, 360dialog, Twilio,
//! Chatwoot, Evolution API), and the normalized types they speak: what to send ([`Outgoing`]), what arrives
//! ([`Event`]), and how a call failed ([`ProviderError`]).
//!
//! Providers know HTTP and their own wire formats and nothing else: no database, no tenant, no queue. The message
//! services decide what to send and store what arrives. The request, response and webhook examples in
//! `tests/fixtures/providers/` (copied from the shared fixtures) are the contract their tests check.

pub mod chatwoot;
pub mod dialog360;
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

// ---- Webhooks ----------------------------------------------------------------------------------------------------

/// A webhook request as received, before anything is trusted.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The public URL the provider called, with the query string (what Twilio signs).
    pub url: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    /// The raw body: signatures are checked on these bytes, never on re-serialised JSON.
    pub body: &'a [u8],
}

impl WebhookRequest<'_> {
    /// A header's value by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter's (decoded) value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// The check for providers that do not sign their webhooks: the request must carry the account's shared
    /// secret, as `?secret=` or an `X-Conversure-Secret` header (compared in constant time). No secret at all is
    /// `Missing`; a wrong one is `Mismatch`.
    pub fn check_secret(&self, secret: &str) -> Result<(), VerifyError> {
        let presented = self.header("x-conversure-secret").map(str::to_owned).or_else(|| self.query_param("secret"));
        match presented {
            None => Err(VerifyError::Missing),
            Some(p) if !secret.is_empty() && crate::crypto::constant_time_eq(&p, secret) => Ok(()),
            Some(_) => Err(VerifyError::Mismatch),
        }
    }
}

/// Why a webhook is not accepted as coming from the provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature or secret at all (401).
    #[error("missing signature")]
    Missing,
    /// A signature or secret that does not match (403).
    #[error("signature does not match")]
    Mismatch,
}

/// A webhook body that cannot be read (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed webhook: {0}")]
pub struct ParseError(pub String);

/// Who a message is from (inbound) or to (echoes), with every id the provider gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactRef {
    pub phone: Option<Phone>,
    /// Meta's `wa_id` (digits), Twilio's `WaId`.
    pub wa_id: Option<String>,
    /// Evolution's chat JID, including privacy ids ending in `@lid`.
    pub jid: Option<String>,
    /// Business-scoped user id (`US.…`).
    pub bsuid: Option<String>,
    /// Chatwoot's contact id.
    pub provider_contact_id: Option<String>,
    /// The profile name.
    pub name: Option<String>,
    /// The provider's conversation id (Chatwoot).
    pub thread: Option<String>,
}

/// What kind of message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Image,
    Document,
    Audio,
    Video,
    Sticker,
    Location,
    Reaction,
    /// A tap on an interactive reply button.
    ButtonReply,
    /// A choice from an interactive list.
    ListReply,
    /// A tap on a template's quick-reply button.
    TemplateButton,
    Contacts,
    Template,
    Interactive,
    /// Something WhatsApp or the provider could not pass on.
    Unsupported,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Reaction => "reaction",
            Self::ButtonReply => "button_reply",
            Self::ListReply => "list_reply",
            Self::TemplateButton => "template_button",
            Self::Contacts => "contacts",
            Self::Template => "template",
            Self::Interactive => "interactive",
            Self::Unsupported => "unsupported",
        }
    }

    pub fn from_media(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Image => Self::Image,
            MediaKind::Document => Self::Document,
            MediaKind::Audio => Self::Audio,
            MediaKind::Video => Self::Video,
            MediaKind::Sticker => Self::Sticker,
        }
    }
}

/// Media attached to an inbound message, as the provider references it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRef {
    /// The provider's media id (Meta), fetched through its API.
    pub id: Option<String>,
    /// A URL to fetch it from (Twilio `MediaUrl0`, Evolution, Chatwoot `data_url`).
    pub url: Option<String>,
    pub mime: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<String>,
    /// The bytes themselves, when the webhook carried them (Evolution with base64 on).
    pub inline: Option<Vec<u8>>,
}

/// A shared location. Coordinates as the provider sent them (JSON numbers or decimal strings).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A reaction to an earlier message; `emoji` `None` removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub message_id: String,
    pub emoji: Option<String>,
}

/// A button or list reply: the id we gave the option (or the template button's payload) and its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyChoice {
    pub id: String,
    pub title: String,
}

/// A message, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The provider's message id: what deduplication keys on.
    pub id: String,
    /// The customer (the sender of an inbound message, the recipient of an echo).
    pub contact: ContactRef,
    /// When the provider says it happened, unix milliseconds.
    pub timestamp_ms: i64,
    pub kind: MessageKind,
    /// The text, or a media caption, or a reply's title.
    pub text: Option<String>,
    pub media: Option<MediaRef>,
    pub location: Option<Location>,
    pub reaction: Option<Reaction>,
    pub reply: Option<ReplyChoice>,
    /// The provider id of the message this one quotes or answers.
    pub context_id: Option<String>,
}

/// A delivery status for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The provider's id of the message the status is about.
    pub message_id: String,
    pub status: Status,
    pub timestamp_ms: i64,
    /// The recipient as the provider names it (`wa_id`, `whatsapp:+…`, JID).
    pub recipient: Option<String>,
    /// On failure: the provider's code and its readable reason.
    pub error: Option<(String, String)>,
}

/// What a webhook said, normalized. One request may carry several.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A customer wrote.
    Message(InboundMessage),
    /// A message the business sent outside Conversure (from the phone, from Chatwoot's own UI), or the provider's
    /// echo of one of ours: stored as outbound, deduplicated by its id like any other.
    Echo(InboundMessage),
    Status(StatusUpdate),
    /// The gateway's connection to WhatsApp changed (Evolution `connection.update`: `open`, `close`, …).
    Connection {
        state: String,
    },
    /// Anything else: stored raw and acknowledged (`kind` is the provider's event name).
    Other {
        kind: String,
    },
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

    /// Downloads an inbound message's media.
    fn fetch_media<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>>;
}
