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

mod templates;
mod webhook;
pub(super) use webhook::parse_webhook;

// ---- Test support ------------------------------------------------------------------------------------------------

#[cfg(test)]
pub(super) mod mock;

#[cfg(test)]
mod tests;
