//! What arrives from providers, normalized: the raw webhook request as received, why one is refused, and the events
//! (messages, echoes, statuses, connection changes) every connector parses its webhooks into.

use super::MediaKind;
use crate::domain::message::Status;
use crate::domain::phone::Phone;

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
