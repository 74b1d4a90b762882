//! The Meta Cloud API wire format shared by the Meta and 360dialog connectors (360dialog relays Meta's send bodies,
//! answers and webhooks byte for byte): send bodies, the multipart media upload, error classification, the calls
//! themselves ([`Api`]) and the webhook parser.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use super::http::{self, MAX_MEDIA_BYTES};
use super::*;

/// Biggest JSON answer read from the API: Meta's answers are a few hundred bytes.
const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Longest provider error text kept (it ends up in the UI and the job log).
const MAX_ERROR_TEXT: usize = 500;

// ---- Send bodies -------------------------------------------------------------------------------------------------

/// Whether `value` can go into a URL path as one segment as is. Meta's ids (phone number ids, media ids) are digits;
/// anything with `/`, `?`, `%` or a dot segment could point an authenticated request at another Graph path.
pub(super) fn is_plain_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value != "."
        && value != ".."
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The `to` of a send body: the phone's digits, as Meta's `wa_id`s are written.
fn to_field(recipient: &Recipient) -> Result<String, ProviderError> {
    if let Some(phone) = &recipient.phone {
        return Ok(phone.digits().to_owned());
    }
    // 2026 business-scoped user ids (BSUID, `US.…`, see SUMMARY.md §1 "2026 usernames/BSUID"): users who adopt a
    // username may be known only by it. We address them through `to` like a wa_id. Some third-party guides (Kapso)
    // describe a separate `recipient` field for BSUID sends; if Meta settles on that, this is the one place to change.
    if let Some(bsuid) = recipient.bsuid.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        return Ok(bsuid.to_owned());
    }
    Err(ProviderError::misconfigured("the recipient has neither a phone number nor a WhatsApp user id"))
}

/// The Cloud API body for one message. Media to upload must have been uploaded first: its id is `uploaded`.
pub(super) fn message_body(message: &Outgoing, uploaded: Option<&str>) -> Result<Value, ProviderError> {
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    body.insert("to".into(), json!(to_field(&message.to)?));

    let (kind, object) = match &message.content {
        Content::Text { body, preview_url } => ("text", json!({ "preview_url": preview_url, "body": body })),
        Content::Template { name, language, variables } => {
            let mut template = json!({ "name": name, "language": { "code": language } });
            // Meta refuses a body component with no parameters, so templates without variables carry none.
            if !variables.is_empty() {
                let parameters: Vec<Value> = variables.iter().map(|v| json!({ "type": "text", "text": v })).collect();
                template["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            ("template", template)
        }
        Content::Media { kind, source, caption, filename } => {
            let mut media = Map::new();
            match source {
                MediaSource::Url(url) => {
                    media.insert("link".into(), json!(url));
                }
                MediaSource::Upload { .. } => {
                    let id = uploaded.ok_or_else(|| ProviderError::misconfigured("the media was not uploaded"))?;
                    media.insert("id".into(), json!(id));
                }
            }
            // WhatsApp shows captions on images, videos and documents only; the API refuses one on audio and stickers.
            if let Some(caption) = caption.as_deref().filter(|c| !c.is_empty())
                && matches!(kind, MediaKind::Image | MediaKind::Video | MediaKind::Document)
            {
                media.insert("caption".into(), json!(caption));
            }
            if *kind == MediaKind::Document {
                let uploaded_name = match source {
                    MediaSource::Upload { filename, .. } => Some(filename.as_str()),
                    MediaSource::Url(_) => None,
                };
                // The name the customer sees; without one WhatsApp shows "Untitled".
                if let Some(name) = filename.as_deref().or(uploaded_name).filter(|n| !n.is_empty()) {
                    media.insert("filename".into(), json!(name));
                }
            }
            (kind.as_str(), Value::Object(media))
        }
        Content::Buttons { body, buttons } => {
            let buttons: Vec<Value> =
                buttons.iter().map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } })).collect();
            ("interactive", json!({ "type": "button", "body": { "text": body }, "action": { "buttons": buttons } }))
        }
        Content::List { body, button, sections } => {
            let sections: Vec<Value> = sections
                .iter()
                .map(|section| {
                    let rows: Vec<Value> = section
                        .rows
                        .iter()
                        .map(|row| {
                            let mut value = json!({ "id": row.id, "title": row.title });
                            if let Some(description) = row.description.as_deref().filter(|d| !d.is_empty()) {
                                value["description"] = json!(description);
                            }
                            value
                        })
                        .collect();
                    json!({ "title": section.title, "rows": rows })
                })
                .collect();
            (
                "interactive",
                json!({
                    "type": "list",
                    "body": { "text": body },
                    "action": { "button": button, "sections": sections },
                }),
            )
        }
    };
    body.insert("type".into(), json!(kind));
    body.insert(kind.into(), object);

    if let Some(reply_to) = message.reply_to.as_deref().filter(|r| !r.is_empty()) {
        body.insert("context".into(), json!({ "message_id": reply_to }));
    }
    // Meta echoes this back on every status webhook of the message, which ties statuses to our row even before the
    // send's answer (with the wamid) has been stored.
    if !message.client_ref.is_empty() {
        body.insert("biz_opaque_callback_data".into(), json!(message.client_ref));
    }
    Ok(Value::Object(body))
}

/// The read-receipt body (`mark_as_read_request.json`).
pub(super) fn read_body(message_id: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id })
}

/// Keeps a multipart header value to one safe line: a quote or line break in a user's file name would otherwise
/// end the header early.
fn header_safe(value: &str, fallback: &str) -> String {
    let cleaned: String =
        value.chars().map(|c| if c.is_control() || c == '"' || c == '\\' { '_' } else { c }).collect();
    if cleaned.trim().is_empty() { fallback.to_owned() } else { cleaned }
}

/// The multipart/form-data body of a media upload (fields `messaging_product`, `type`, `file`), built by hand since
/// reqwest's `multipart` feature is not part of the build. Returns the content type (with its boundary) and body.
pub(super) fn upload_body(bytes: &[u8], mime: &str, filename: &str) -> (String, Vec<u8>) {
    // Random, so that no file can contain the boundary by accident (or by design).
    let boundary = format!("conversure-{}", hex::encode(rand::random::<[u8; 16]>()));
    let mime = if !mime.is_empty() && mime.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !mime.contains('"') {
        mime
    } else {
        "application/octet-stream"
    };
    let filename = header_safe(filename, "file");
    let mut body = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in [("messaging_product", "whatsapp"), ("type", mime)] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// ---- Answers -----------------------------------------------------------------------------------------------------

/// What a Meta error code means for the queue. `None` for codes with no special meaning (the HTTP status decides).
fn kind_for_code(code: i64) -> Option<FailureKind> {
    Some(match code {
        190 => FailureKind::Unauthorized,
        // Throughput (130429), pair rate (131056), WABA API rate (80007), app API rate (4), app calls (613).
        130429 | 131056 | 80007 | 4 | 613 => FailureKind::RateLimited,
        131047 => FailureKind::OutsideWindow,
        // Undeliverable (131026), recipient is the sender (131021), invalid user (1013).
        131026 | 131021 | 1013 => FailureKind::InvalidRecipient,
        // Meta's generic "something went wrong" (131000), spam-rate limit (131016), service trouble (1, 2).
        131000 | 131016 | 2 | 1 => FailureKind::Transient,
        _ => return None,
    })
}

/// A code as Meta writes it: usually a number, sometimes a string.
fn code_of(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn nonempty<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Classifies a non-2xx answer: by Meta's error `code` when it is one we know, else by the HTTP status.
/// Reads Meta's envelope `{"error":{"code","message","error_data":{"details"}}}` and the older
/// `{"errors":[{"code","title","details"}]}` some 360dialog endpoints still answer with.
pub(super) fn classify_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|root| {
        root.get("error").filter(|e| e.is_object()).or_else(|| root.get("errors")?.as_array()?.first())
    });
    let code = error.and_then(|e| code_of(e.get("code")));
    let kind = code.and_then(kind_for_code).unwrap_or_else(|| http::classify_status(status));
    let message = error
        .and_then(|e| {
            e.get("error_data")
                .and_then(|d| nonempty(d, "details"))
                .or_else(|| nonempty(e, "details"))
                .or_else(|| nonempty(e, "message"))
                .or_else(|| nonempty(e, "title"))
        })
        .map(|text| super::wire::truncate(text, MAX_ERROR_TEXT))
        .unwrap_or_else(|| format!("the provider answered HTTP {status}"));
    let mut failure =
        ProviderError::new(kind, Some(code.map_or_else(|| status.to_string(), |c| c.to_string())), message);
    if failure.retryable() {
        failure.retry_after = http::retry_after(headers);
    }
    failure
}

/// The accepted send (`send_success_response.json`): `messages[0].id` and `contacts[0].wa_id`.
pub(super) fn read_sent(answer: &Value) -> Result<Sent, ProviderError> {
    let id = answer
        .pointer("/messages/0/id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        // Accepted but unidentifiable: retrying could send the message twice, so this is not retried.
        .ok_or_else(|| ProviderError::new(FailureKind::Permanent, None, "the provider's answer has no message id"))?;
    // Meta's own samples show a trailing space in wa_id; the id is digits either way.
    let wa_id = answer.pointer("/contacts/0/wa_id").and_then(Value::as_str).map(str::trim).filter(|w| !w.is_empty());
    Ok(Sent { provider_message_id: id.to_owned(), wa_id: wa_id.map(str::to_owned), thread: None })
}

// ---- Calls -------------------------------------------------------------------------------------------------------

/// Authenticated calls to a Cloud API host. Holds the credential as a sensitive header value and never prints it.
pub(super) struct Api<'a> {
    http: &'a Http,
    auth_name: HeaderName,
    auth_value: HeaderValue,
    /// The raw credential, only to scrub it from error texts should a server ever echo it.
    secret: &'a str,
}

impl<'a> Api<'a> {
    /// `header: value` on every request; `field` names the credential in configuration errors.
    pub(super) fn new(
        http: &'a Http,
        header: &'static str,
        value: &str,
        secret: &'a str,
        field: &str,
    ) -> Result<Self, ProviderError> {
        let mut auth_value = HeaderValue::from_str(value).map_err(|_| {
            ProviderError::misconfigured(format!("credential `{field}` holds characters an HTTP header cannot carry"))
        })?;
        auth_value.set_sensitive(true);
        Ok(Self { http, auth_name: HeaderName::from_static(header), auth_value, secret })
    }

    fn url(text: &str) -> Result<url::Url, ProviderError> {
        url::Url::parse(text)
            .map_err(|_| ProviderError::misconfigured("the provider's API base URL is not a valid URL"))
    }

    fn scrub(&self, mut error: ProviderError) -> ProviderError {
        if !self.secret.is_empty() && error.message.contains(self.secret) {
            error.message = error.message.replace(self.secret, "[redacted]");
        }
        error
    }

    /// Sends a request; a non-2xx answer becomes a classified error.
    async fn execute(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
        let response = request
            .header(self.auth_name.clone(), self.auth_value.clone())
            .send()
            .await
            .map_err(|e| http::transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // The body only explains the failure: when it cannot be read, the status alone still classifies it.
        let body = http::read_limited(response, MAX_JSON_BYTES).await.unwrap_or_default();
        Err(self.scrub(classify_error(status.as_u16(), &headers, &body)))
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let response = self.execute(request).await?;
        let body = http::read_limited(response, MAX_JSON_BYTES).await?;
        serde_json::from_slice(&body)
            .map_err(|_| ProviderError::new(FailureKind::Permanent, None, "the provider's answer is not JSON"))
    }

    pub(super) async fn get_json(&self, url: &str) -> Result<Value, ProviderError> {
        self.json(self.http.client().get(Self::url(url)?)).await
    }

    pub(super) async fn post_json(&self, url: &str, body: &Value) -> Result<Value, ProviderError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| ProviderError::new(FailureKind::Permanent, None, "the message could not be encoded"))?;
        let request = self.http.client().post(Self::url(url)?).header(CONTENT_TYPE, "application/json").body(bytes);
        self.json(request).await
    }

    /// Uploads a file to `{media_url}`; returns Meta's media id.
    pub(super) async fn upload(
        &self,
        media_url: &str,
        bytes: &[u8],
        mime: &str,
        filename: &str,
    ) -> Result<String, ProviderError> {
        let (content_type, body) = upload_body(bytes, mime, filename);
        let request = self.http.client().post(Self::url(media_url)?).header(CONTENT_TYPE, content_type).body(body);
        let answer = self.json(request).await?;
        answer
            .get("id")
            .and_then(|id| id.as_str().map(str::to_owned).or_else(|| id.as_u64().map(|n| n.to_string())))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::new(FailureKind::Permanent, None, "the media upload returned no id"))
    }

    /// Sends one message through `{messages_url}`, uploading its media to `{media_url}` first when needed.
    pub(super) async fn send(
        &self,
        messages_url: &str,
        media_url: &str,
        message: &Outgoing,
    ) -> Result<Sent, ProviderError> {
        // Refuse an unaddressable message before spending an upload on it.
        to_field(&message.to)?;
        let uploaded = match &message.content {
            Content::Media { source: MediaSource::Upload { bytes, mime, filename }, .. } => {
                Some(self.upload(media_url, bytes, mime, filename).await?)
            }
            _ => None,
        };
        let body = message_body(message, uploaded.as_deref())?;
        read_sent(&self.post_json(messages_url, &body).await?)
    }

    pub(super) async fn mark_read(&self, messages_url: &str, message_id: &str) -> Result<(), ProviderError> {
        self.post_json(messages_url, &read_body(message_id)).await.map(drop)
    }

    /// Resolves a media id (`GET {url}`, `media_retrieve_url_response.json`) to its short-lived download URL and
    /// declared MIME type.
    pub(super) async fn media_location(&self, url: &str) -> Result<(String, Option<String>), ProviderError> {
        let answer = self.get_json(url).await?;
        let download = nonempty(&answer, "url").ok_or_else(|| {
            ProviderError::new(FailureKind::Permanent, None, "the provider gave no URL for the media")
        })?;
        Ok((download.to_owned(), nonempty(&answer, "mime_type").map(str::to_owned)))
    }

    /// Downloads media bytes with the same credential (the download URL is not public).
    pub(super) async fn download(&self, url: &str, mime: Option<String>) -> Result<FetchedMedia, ProviderError> {
        let response = self.execute(self.http.client().get(Self::url(url)?)).await?;
        let served = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = http::read_limited(response, MAX_MEDIA_BYTES).await?;
        // The type Meta declared for the media is more precise than what the CDN serves it as.
        let mime = mime.or(served).unwrap_or_else(|| "application/octet-stream".to_owned());
        Ok(FetchedMedia { bytes, mime })
    }
}

/// The media id of an inbound message's media, checked to be safe in a URL path.
pub(super) fn media_id(media: &MediaRef) -> Result<&str, ProviderError> {
    let id = media
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ProviderError::new(FailureKind::Permanent, None, "the media has no id to fetch it by"))?;
    if is_plain_id(id) {
        Ok(id)
    } else {
        Err(ProviderError::new(FailureKind::Permanent, None, "the media id is not a valid id"))
    }
}

// ---- Webhooks ----------------------------------------------------------------------------------------------------

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn owned(value: &Value, key: &str) -> Option<String> {
    nonempty(value, key).map(str::to_owned)
}

/// Unix seconds (a string in Meta's webhooks, a number in some relays) to milliseconds. An unreadable timestamp
/// (Meta's samples carry placeholders) becomes the time of receipt, which is what the event's time is closest to.
fn timestamp_ms(value: Option<&Value>, now: i64) -> i64 {
    let seconds = value.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse::<i64>().ok())));
    seconds.filter(|s| *s > 0).and_then(|s| s.checked_mul(1000)).unwrap_or(now)
}

/// The readable reason of an error object: `error_data.details`, else its title or message.
fn error_reason(error: &Value) -> Option<String> {
    error
        .get("error_data")
        .and_then(|d| nonempty(d, "details"))
        .or_else(|| nonempty(error, "title"))
        .or_else(|| nonempty(error, "message"))
        .map(str::to_owned)
}

fn coordinate(value: Option<&Value>, limit: f64) -> Option<f64> {
    let value = value?;
    let number = value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))?;
    (number.is_finite() && number.abs() <= limit).then_some(number)
}

/// Is this a business-scoped user id (`US.13491208655302741918`) rather than a phone number?
fn looks_like_bsuid(text: &str) -> bool {
    text.split_once('.')
        .is_some_and(|(country, _)| country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()))
}

/// The customer a message is from (or, for echoes, to): `who` is `from`/`to`, matched against `value.contacts[]` by
/// `wa_id` or the 2026 `user_id`.
fn contact_ref(who: Option<&str>, contacts: &[Value]) -> ContactRef {
    let matched = match who {
        Some(who) => contacts.iter().find(|c| nonempty(c, "wa_id") == Some(who) || nonempty(c, "user_id") == Some(who)),
        // Users known only by a username may come without `from`; a single contact is then unambiguous.
        None if contacts.len() == 1 => contacts.first(),
        None => None,
    };
    let wa_id = matched
        .and_then(|c| nonempty(c, "wa_id"))
        .or_else(|| who.filter(|w| w.bytes().all(|b| b.is_ascii_digit())))
        .map(str::to_owned);
    let bsuid =
        matched.and_then(|c| nonempty(c, "user_id")).or_else(|| who.filter(|w| looks_like_bsuid(w))).map(str::to_owned);
    ContactRef {
        phone: who.and_then(|w| Phone::parse(w).ok()),
        wa_id,
        bsuid,
        name: matched.and_then(|c| c.get("profile")).and_then(|p| owned(p, "name")),
        ..ContactRef::default()
    }
}

/// The message types we read, for payloads that forget `type` (Meta's own location sample does).
const KNOWN_TYPES: [&str; 12] = [
    "text",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "location",
    "reaction",
    "interactive",
    "button",
    "contacts",
    "template",
];

/// One `messages[]` or `message_echoes[]` item; `None` without an id (nothing could deduplicate it).
fn read_message(item: &Value, who: Option<&str>, contacts: &[Value], now: i64) -> Option<InboundMessage> {
    let id = owned(item, "id")?;
    let mut message = InboundMessage {
        id,
        contact: contact_ref(who, contacts),
        timestamp_ms: timestamp_ms(item.get("timestamp"), now),
        kind: MessageKind::Unsupported,
        text: None,
        media: None,
        location: None,
        reaction: None,
        reply: None,
        context_id: item.get("context").and_then(|c| owned(c, "id")),
    };
    let kind = nonempty(item, "type").or_else(|| KNOWN_TYPES.into_iter().find(|t| item.get(*t).is_some()));
    let body = kind.and_then(|k| item.get(k)).unwrap_or(&Value::Null);
    match kind {
        Some("text") => {
            message.kind = MessageKind::Text;
            message.text = body.get("body").and_then(Value::as_str).map(str::to_owned);
        }
        Some(name @ ("image" | "document" | "audio" | "video" | "sticker")) => {
            if let Some(media_kind) = MediaKind::parse(name) {
                message.kind = MessageKind::from_media(media_kind);
            }
            message.text = owned(body, "caption");
            message.media = Some(MediaRef {
                id: owned(body, "id"),
                url: owned(body, "url"),
                mime: owned(body, "mime_type"),
                filename: owned(body, "filename"),
                sha256: owned(body, "sha256"),
                inline: None,
            });
        }
        Some("location") => {
            let latitude = coordinate(body.get("latitude"), 90.0);
            let longitude = coordinate(body.get("longitude"), 180.0);
            if let (Some(latitude), Some(longitude)) = (latitude, longitude) {
                message.kind = MessageKind::Location;
                message.location =
                    Some(Location { latitude, longitude, name: owned(body, "name"), address: owned(body, "address") });
            }
        }
        Some("reaction") => {
            if let Some(target) = owned(body, "message_id") {
                message.kind = MessageKind::Reaction;
                // Removal: `emoji` omitted (Meta's docs) or empty (seen in real payloads).
                message.reaction = Some(Reaction { message_id: target, emoji: owned(body, "emoji") });
            }
        }
        Some("interactive") => {
            let (kind, choice) = match nonempty(body, "type") {
                Some("button_reply") => (MessageKind::ButtonReply, body.get("button_reply")),
                Some("list_reply") => (MessageKind::ListReply, body.get("list_reply")),
                _ => (MessageKind::Interactive, None),
            };
            message.kind = kind;
            if let Some(choice) = choice {
                let reply = ReplyChoice {
                    id: owned(choice, "id").unwrap_or_default(),
                    title: owned(choice, "title").unwrap_or_default(),
                };
                message.text = Some(reply.title.clone()).filter(|t| !t.is_empty());
                message.reply = Some(reply);
            } else {
                // Flow answers (`nfm_reply`) and other interactive replies: keep what is readable.
                message.text = body.get("nfm_reply").and_then(|n| owned(n, "body"));
            }
        }
        Some("button") => {
            message.kind = MessageKind::TemplateButton;
            let title = owned(body, "text").unwrap_or_default();
            // The payload is the id we gave the button; a button without one is known by its text.
            let id = owned(body, "payload").unwrap_or_else(|| title.clone());
            message.text = Some(title.clone()).filter(|t| !t.is_empty());
            message.reply = Some(ReplyChoice { id, title });
        }
        Some("contacts") => {
            message.kind = MessageKind::Contacts;
            let cards: Vec<String> = list(item, "contacts")
                .iter()
                .map(|card| {
                    let name = card.get("name").and_then(|n| owned(n, "formatted_name")).unwrap_or_default();
                    let phones: Vec<&str> = list(card, "phones").iter().filter_map(|p| nonempty(p, "phone")).collect();
                    match (name.is_empty(), phones.is_empty()) {
                        (_, true) => name,
                        (true, false) => phones.join(", "),
                        (false, false) => format!("{name}: {}", phones.join(", ")),
                    }
                })
                .filter(|card| !card.is_empty())
                .collect();
            message.text = Some(cards.join("\n")).filter(|t| !t.is_empty());
        }
        Some("template") => {
            // Only echoes carry templates (what the business sent).
            message.kind = MessageKind::Template;
            message.text = owned(body, "name");
        }
        _ => {}
    }
    if message.kind == MessageKind::Unsupported {
        message.text = list(item, "errors").first().and_then(error_reason);
    }
    Some(message)
}

fn read_status(item: &Value, now: i64) -> Option<StatusUpdate> {
    let status = match nonempty(item, "status")? {
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" => Status::Read,
        "played" => Status::Played,
        "failed" => Status::Failed,
        _ => return None,
    };
    let error = list(item, "errors").first().map(|error| {
        let code = code_of(error.get("code")).map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        (code, error_reason(error).unwrap_or_default())
    });
    Some(StatusUpdate {
        message_id: owned(item, "id")?,
        status,
        timestamp_ms: timestamp_ms(item.get("timestamp"), now),
        recipient: owned(item, "recipient_id").or_else(|| owned(item, "recipient_user_id")),
        error,
    })
}

fn read_change(change: &Value, now: i64, events: &mut Vec<Event>) {
    let field = nonempty(change, "field").unwrap_or("unknown");
    let value = change.get("value").unwrap_or(&Value::Null);
    let contacts = list(value, "contacts");
    let before = events.len();
    if field == "messages" {
        for item in list(value, "messages") {
            let who = nonempty(item, "from").or_else(|| nonempty(item, "from_user_id"));
            events.push(match read_message(item, who, contacts, now) {
                Some(message) => Event::Message(message),
                None => Event::Other { kind: "messages".into() },
            });
        }
        for item in list(value, "statuses") {
            // Statuses we do not track (`deleted`, `warning`, …) are stored raw like any unknown event.
            events.push(read_status(item, now).map_or_else(|| Event::Other { kind: "statuses".into() }, Event::Status));
        }
        if !list(value, "errors").is_empty() {
            events.push(Event::Other { kind: "errors".into() });
        }
    }
    if field == "messages" || field == "smb_message_echoes" {
        // What the business sent from the WhatsApp Business app (coexistence): the customer is `to`.
        for item in list(value, "message_echoes") {
            let who = nonempty(item, "to").or_else(|| nonempty(item, "to_user_id"));
            events.push(match read_message(item, who, contacts, now) {
                Some(message) => Event::Echo(message),
                None => Event::Other { kind: field.into() },
            });
        }
    }
    if events.len() == before {
        events.push(Event::Other { kind: field.into() });
    }
}

/// Reads a Cloud API webhook (`object: whatsapp_business_account`, any number of `entry[].changes[]`).
pub(super) fn parse_webhook(body: &[u8]) -> Result<Vec<Event>, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ParseError(format!("not JSON: {e}")))?;
    if root.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err(ParseError("not a WhatsApp Business Account webhook".into()));
    }
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError("the webhook has no `entry` list".into()))?;
    let now = super::wire::now_ms();
    let mut events = Vec::new();
    for entry in entries {
        for change in list(entry, "changes") {
            read_change(change, now, &mut events);
        }
    }
    Ok(events)
}

// ---- Test support ------------------------------------------------------------------------------------------------

/// A local HTTP server for the connectors' tests: answers with queued replies, in order, and records every request.
#[cfg(test)]
pub(super) mod mock {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;

    #[derive(Debug, Clone)]
    pub struct Recorded {
        pub method: String,
        /// Path and query.
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("the request body is JSON")
        }
    }

    struct Reply {
        status: u16,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    }

    #[derive(Default)]
    struct Inner {
        replies: VecDeque<Reply>,
        requests: Vec<Recorded>,
    }

    pub struct MockServer {
        /// `http://127.0.0.1:<port>`.
        pub base: String,
        inner: Arc<Mutex<Inner>>,
    }

    async fn handle(State(inner): State<Arc<Mutex<Inner>>>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default().to_vec();
        let recorded = Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect(),
            body,
        };
        let reply = {
            let mut inner = inner.lock().unwrap();
            inner.requests.push(recorded);
            inner.replies.pop_front()
        };
        let reply = reply.unwrap_or(Reply { status: 418, body: b"no reply queued".to_vec(), headers: vec![] });
        let mut builder = Response::builder().status(reply.status);
        for (name, value) in reply.headers {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(reply.body)).unwrap()
    }

    impl MockServer {
        pub async fn start() -> Self {
            let inner = Arc::new(Mutex::new(Inner::default()));
            let app = axum::Router::new().fallback(handle).with_state(inner.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { base, inner }
        }

        /// Queues a JSON answer.
        pub fn reply(&self, status: u16, body: &str) {
            self.reply_with(status, body.as_bytes(), &[("content-type", "application/json")]);
        }

        pub fn reply_with(&self, status: u16, body: &[u8], headers: &[(&str, &str)]) {
            let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
            self.inner.lock().unwrap().replies.push_back(Reply { status, body: body.to_vec(), headers });
        }

        pub fn requests(&self) -> Vec<Recorded> {
            self.inner.lock().unwrap().requests.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> Phone {
        Phone::parse(text).unwrap()
    }

    #[test]
    fn plain_ids_keep_requests_on_their_path() {
        for good in ["106540352242922", "2754859441498128", "abc-DEF_1.2"] {
            assert!(is_plain_id(good), "{good}");
        }
        for bad in ["", ".", "..", "12/../me", "12?fields=x", "12%2F", "12 3", "12#x"] {
            assert!(!is_plain_id(bad), "{bad}");
        }
    }

    #[test]
    fn recipient_is_digits_else_bsuid_else_refused() {
        let by_phone =
            Recipient { phone: Some(phone("+16505551234")), bsuid: Some("US.1".into()), ..Default::default() };
        assert_eq!(to_field(&by_phone).unwrap(), "16505551234");
        let by_bsuid = Recipient { bsuid: Some("US.13491208655302741918".into()), ..Default::default() };
        assert_eq!(to_field(&by_bsuid).unwrap(), "US.13491208655302741918");
        let nobody = Recipient { jid: Some("x@lid".into()), ..Default::default() };
        assert_eq!(to_field(&nobody).unwrap_err().kind, FailureKind::Misconfigured);
    }

    #[test]
    fn multipart_body_carries_the_three_fields_and_escapes_the_name() {
        let (content_type, body) = upload_body(b"\x89PNG-bytes", "image/png", "we\"ird\r\nname.png");
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
        assert!(text.contains("name=\"type\"\r\n\r\nimage/png\r\n"));
        assert!(text.contains(
            "name=\"file\"; filename=\"we_ird__name.png\"\r\nContent-Type: image/png\r\n\r\n\u{fffd}PNG-bytes\r\n"
        ));
        // A new boundary each time.
        assert_ne!(upload_body(b"", "image/png", "a").0, content_type);
        // A MIME type that would break the header falls back.
        let (_, body) = upload_body(b"x", "image/png\r\nX-Evil: 1", "a");
        assert!(String::from_utf8_lossy(&body).contains("Content-Type: application/octet-stream\r\n"));
    }

    #[test]
    fn error_codes_classify() {
        let cases = [
            (190, 401, FailureKind::Unauthorized),
            (130429, 400, FailureKind::RateLimited),
            (131056, 400, FailureKind::RateLimited),
            (80007, 400, FailureKind::RateLimited),
            (4, 400, FailureKind::RateLimited),
            (613, 400, FailureKind::RateLimited),
            (131047, 400, FailureKind::OutsideWindow),
            (131026, 400, FailureKind::InvalidRecipient),
            (131021, 400, FailureKind::InvalidRecipient),
            (1013, 400, FailureKind::InvalidRecipient),
            (131000, 500, FailureKind::Transient),
            (131016, 400, FailureKind::Transient),
            (2, 400, FailureKind::Transient),
            (1, 400, FailureKind::Transient),
            (100, 400, FailureKind::Permanent),
            (132001, 404, FailureKind::Permanent),
            // Unknown codes fall back on the status.
            (0, 401, FailureKind::Unauthorized),
            (999999, 503, FailureKind::Transient),
        ];
        for (code, status, kind) in cases {
            let body = format!(r#"{{"error":{{"message":"(#{code}) x","type":"OAuthException","code":{code}}}}}"#);
            let error = classify_error(status, &HeaderMap::new(), body.as_bytes());
            assert_eq!(error.kind, kind, "code {code}");
            assert_eq!(error.code.as_deref(), Some(code.to_string().as_str()));
        }
    }

    #[test]
    fn error_message_prefers_details_and_reads_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("30"));
        let body = include_str!("../../tests/fixtures/providers/meta-cloud-api/error_response_130429_rate_limit.json");
        let error = classify_error(400, &headers, body.as_bytes());
        assert_eq!(error.kind, FailureKind::RateLimited);
        assert!(error.message.starts_with("Message failed to send because there were too many messages"));
        assert_eq!(error.retry_after, Some(std::time::Duration::from_secs(30)));

        let body = include_str!("../../tests/fixtures/providers/meta-cloud-api/error_response_190_token_expired.json");
        let error = classify_error(401, &headers, body.as_bytes());
        assert_eq!(error.kind, FailureKind::Unauthorized);
        assert!(error.message.starts_with("Error validating access token"));
        assert_eq!(error.retry_after, None, "only retryable failures wait");

        // Not JSON at all: the status decides and names itself.
        let error = classify_error(502, &HeaderMap::new(), b"<html>Bad gateway</html>");
        assert_eq!((error.kind, error.code.as_deref()), (FailureKind::Transient, Some("502")));
        assert_eq!(error.message, "the provider answered HTTP 502");

        // 360dialog's older envelope.
        let body =
            br#"{"meta":{"api_status":"stable"},"errors":[{"code":1013,"title":"User is not valid","details":"x"}]}"#;
        let error = classify_error(400, &HeaderMap::new(), body);
        assert_eq!(
            (error.kind, error.code.as_deref(), error.message.as_str()),
            (FailureKind::InvalidRecipient, Some("1013"), "x")
        );
    }

    #[test]
    fn sent_reads_the_wamid_and_trims_wa_id() {
        let answer: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/providers/meta-cloud-api/send_success_response.json"
        ))
        .unwrap();
        let sent = read_sent(&answer).unwrap();
        assert_eq!(sent.provider_message_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
        assert_eq!(sent.wa_id.as_deref(), Some("16505076520"));
        let answer: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/providers/meta-cloud-api/send_success_response_postman.json"
        ))
        .unwrap();
        assert_eq!(read_sent(&answer).unwrap().wa_id.as_deref(), Some("48XXXXXXXXX"));
        assert_eq!(read_sent(&json!({"messages": []})).unwrap_err().kind, FailureKind::Permanent);
    }

    #[test]
    fn unknown_types_and_fields_never_fail() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[
            {"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1700000000","type":"order","order":{}}]}},
            {"field":"message_template_status_update","value":{"event":"APPROVED"}},
            {"field":"messages","value":{"statuses":[{"id":"wamid.2","status":"deleted","timestamp":"1"}]}}
        ]}]}"#;
        let events = parse_webhook(body).unwrap();
        assert_eq!(events.len(), 3);
        let Event::Message(message) = &events[0] else { panic!("{events:?}") };
        assert_eq!((message.kind, message.timestamp_ms), (MessageKind::Unsupported, 1_700_000_000_000));
        assert_eq!(message.contact.phone, Some(phone("+16505551234")));
        assert_eq!(events[1], Event::Other { kind: "message_template_status_update".into() });
        assert_eq!(events[2], Event::Other { kind: "statuses".into() });
    }

    #[test]
    fn echoes_name_the_customer_they_went_to() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"smb_message_echoes",
            "value":{"message_echoes":[{"from":"15550783881","to":"16505551234","id":"wamid.echo","timestamp":"1700000001",
            "type":"text","text":{"body":"sent from the phone"}}]}}]}]}"#;
        let events = parse_webhook(body).unwrap();
        let [Event::Echo(echo)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(echo.id, "wamid.echo");
        assert_eq!(echo.text.as_deref(), Some("sent from the phone"));
        assert_eq!(echo.contact.phone, Some(phone("+16505551234")));
        assert_eq!(echo.contact.wa_id.as_deref(), Some("16505551234"));
    }

    #[test]
    fn malformed_webhooks_are_parse_errors() {
        for body in
            [&b"not json"[..], b"[]", br#"{"object":"page","entry":[]}"#, br#"{"object":"whatsapp_business_account"}"#]
        {
            assert!(parse_webhook(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        // Odd shapes inside a valid envelope are tolerated, not fatal.
        let odd = br#"{"object":"whatsapp_business_account","entry":[1,{"changes":[{"value":[]},{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}"#;
        assert_eq!(
            parse_webhook(odd).unwrap(),
            vec![Event::Other { kind: "unknown".into() }, Event::Other { kind: "messages".into() }]
        );
    }

    #[test]
    fn contacts_and_coordinates_read_leniently() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[
            {"from":"16505551234","id":"wamid.c","timestamp":"1","type":"contacts","contacts":[
                {"name":{"formatted_name":"Ada Lovelace"},"phones":[{"phone":"+44 20 7946 0000","type":"WORK"}]}]},
            {"from":"16505551234","id":"wamid.l","timestamp":"1","type":"location","location":{"latitude":"51.5","longitude":"-0.12"}},
            {"from":"16505551234","id":"wamid.bad","timestamp":"1","type":"location","location":{"latitude":200,"longitude":0}}
        ]}}]}]}"#;
        let events = parse_webhook(body).unwrap();
        let [Event::Message(card), Event::Message(place), Event::Message(bad)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!((card.kind, card.text.as_deref()), (MessageKind::Contacts, Some("Ada Lovelace: +44 20 7946 0000")));
        let location = place.location.as_ref().unwrap();
        assert_eq!((location.latitude, location.longitude, location.name.as_deref()), (51.5, -0.12, None));
        assert_eq!((bad.kind, bad.location.as_ref()), (MessageKind::Unsupported, None));
    }
}
