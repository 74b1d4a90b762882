//! Evolution API v2 connector (a self-hosted WhatsApp Web gateway): sending text and media, read receipts, the
//! instance's connection state, media download, and reading its webhook envelope (`messages.upsert`,
//! `send.message`, `messages.update`, `connection.update`).

use serde_json::{Value, json};

use super::http::{MAX_MEDIA_BYTES, classify_status};
use super::wire::{self, Answer};
use super::*;

pub struct Evolution;

const FIELDS: &[CredentialField] = &[
    CredentialField { name: "api_key", secret: true, required: true },
    CredentialField { name: "instance", secret: false, required: true },
];

impl Provider for Evolution {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Evolution
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            templates: false,
            media: true,
            media_upload: true,
            interactive: false,
            mark_read: true,
            customer_window: false,
        }
    }

    fn credential_fields(&self) -> &'static [CredentialField] {
        FIELDS
    }

    /// Evolution is self-hosted: every account names its own server.
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    /// Evolution signs nothing; the URL we give it carries the account's secret.
    fn verify(&self, account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<(), VerifyError> {
        request.check_secret(&account.webhook_secret)
    }

    fn parse(&self, _account: &AccountConfig, request: &WebhookRequest<'_>) -> Result<Vec<Event>, ParseError> {
        let envelope: Value =
            serde_json::from_slice(request.body).map_err(|e| ParseError(format!("the body is not JSON: {e}")))?;
        let Some(event) = envelope.get("event").and_then(Value::as_str) else {
            return Err(ParseError("no `event` in the envelope".into()));
        };
        let event = event_name(event);
        // Status updates carry no time of their own; the envelope's `date_time` is when Evolution sent them.
        let sent_at = envelope.get("date_time").and_then(wire::timestamp_ms).unwrap_or_else(wire::now_ms);
        let data = envelope.get("data").unwrap_or(&Value::Null);
        // Most events carry one object; `*.set` and some older versions carry arrays of them.
        let items: Vec<&Value> = match data {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        Ok(items.into_iter().map(|data| to_event(&event, data, sent_at)).collect())
    }

    fn send<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message: &'a Outgoing,
    ) -> BoxFuture<'a, Result<Sent, ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let number = match (&message.to.phone, &message.to.jid) {
                (Some(phone), _) => phone.digits().to_owned(),
                // A privacy id (`…@lid`) or any chat JID: Evolution accepts the JID itself as `number`.
                (None, Some(jid)) => jid.clone(),
                (None, None) => {
                    return Err(ProviderError::new(
                        FailureKind::InvalidRecipient,
                        None,
                        "the recipient has no phone number or WhatsApp id",
                    ));
                }
            };
            // Quoting (`reply_to`) is left out: the fixtures do not show the shape Evolution expects for it.
            let (endpoint, body) = match &message.content {
                Content::Text { body, preview_url } => {
                    ("sendText", json!({"number": number, "text": body, "linkPreview": preview_url}))
                }
                Content::Media { kind, source, caption, filename } => {
                    ("sendMedia", media_body(&number, *kind, source, caption.as_deref(), filename.as_deref())?)
                }
                Content::Template { .. } => {
                    return Err(ProviderError::misconfigured(
                        "Evolution API cannot send WhatsApp templates (it is not the official API)",
                    ));
                }
                Content::Buttons { .. } | Content::List { .. } => {
                    return Err(ProviderError::misconfigured(
                        "Evolution API cannot send interactive messages (buttons, lists) through this connector",
                    ));
                }
            };
            let answer = wire::call(api.post(http, &format!("message/{endpoint}"), &body)).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let id = wire::text_at(&answer.json, "/key/id").ok_or_else(|| {
                ProviderError::new(
                    FailureKind::Permanent,
                    None,
                    "Evolution accepted the message but returned no key.id",
                )
            })?;
            Ok(Sent { provider_message_id: id, wa_id: None, thread: None })
        })
    }

    fn mark_read<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        message_id: &'a str,
        from: &'a Recipient,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let jid = match (&from.jid, &from.phone) {
                (Some(jid), _) => jid.clone(),
                (None, Some(phone)) => format!("{}@s.whatsapp.net", phone.digits()),
                (None, None) => {
                    return Err(ProviderError::new(
                        FailureKind::InvalidRecipient,
                        None,
                        "the sender has no phone number or WhatsApp id",
                    ));
                }
            };
            let body = json!({"readMessages": [{"remoteJid": jid, "fromMe": false, "id": message_id}]});
            let answer = wire::call(api.post(http, "chat/markMessageAsRead", &body)).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            Ok(())
        })
    }

    fn test_connection<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let api = Api::of(account)?;
            let answer = wire::call(api.get(http, "instance/connectionState")).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let name = wire::text_at(&answer.json, "/instance/instanceName").unwrap_or_else(|| api.instance.to_owned());
            // Any state is a working API key; the text shows the UI whether WhatsApp itself is connected (`open`).
            let state = wire::text_at(&answer.json, "/instance/state").unwrap_or_else(|| "unknown".to_owned());
            Ok(format!("instance {name}: {state}"))
        })
    }

    fn fetch_media<'a>(
        &'a self,
        http: &'a Http,
        account: &'a AccountConfig,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<FetchedMedia, ProviderError>> {
        Box::pin(async move {
            let default_mime = || media.mime.clone().unwrap_or_else(|| "application/octet-stream".to_owned());
            if let Some(bytes) = &media.inline {
                return Ok(FetchedMedia { bytes: bytes.clone(), mime: default_mime() });
            }
            let api = Api::of(account)?;
            let id = media.id.as_deref().ok_or_else(|| ProviderError::misconfigured("the media has no message id"))?;
            // Not in the fixtures: `POST /chat/getBase64FromMediaMessage/{instance}` is Evolution's own endpoint
            // (chat router, getBase64FromMediaMessage in its source) that downloads and decrypts a message's media.
            let body = json!({"message": {"key": {"id": id}}});
            let request = api.post(http, "chat/getBase64FromMediaMessage", &body);
            // base64 is 4/3 of the file, plus the JSON around it.
            let answer = wire::call_limited(request, MAX_MEDIA_BYTES / 3 * 4 + 64 * 1024).await?;
            if !answer.is_success() {
                return Err(error(&answer));
            }
            let bytes =
                answer.json.get("base64").and_then(Value::as_str).and_then(wire::decode_base64).ok_or_else(|| {
                    ProviderError::new(FailureKind::Permanent, None, "Evolution returned no readable media")
                })?;
            let mime = wire::text_at(&answer.json, "/mimetype").unwrap_or_else(default_mime);
            Ok(FetchedMedia { bytes, mime })
        })
    }
}

/// The account's API: base URL, key and instance name.
struct Api<'a> {
    base: &'a str,
    key: &'a str,
    instance: &'a str,
}

impl<'a> Api<'a> {
    fn of(account: &'a AccountConfig) -> Result<Self, ProviderError> {
        if account.base_url.trim().is_empty() {
            return Err(ProviderError::misconfigured("Evolution API needs the URL of its server"));
        }
        Ok(Self {
            base: account.base_url.trim_end_matches('/'),
            key: account.credentials.get("api_key")?,
            instance: account.credentials.get("instance")?,
        })
    }

    /// `{base}/{path}/{instance}`: every instance route names the instance last.
    fn url(&self, path: &str) -> String {
        format!("{}/{path}/{}", self.base, wire::segment(self.instance))
    }

    fn get(&self, http: &Http, path: &str) -> reqwest::RequestBuilder {
        http.client().get(self.url(path)).header("apikey", self.key).header(reqwest::header::ACCEPT, "application/json")
    }

    fn post(&self, http: &Http, path: &str, body: &Value) -> reqwest::RequestBuilder {
        http.client()
            .post(self.url(path))
            .header("apikey", self.key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(wire::json_bytes(body))
    }
}

/// The `sendMedia` body: the file by URL, or its bytes as base64.
fn media_body(
    number: &str,
    kind: MediaKind,
    source: &MediaSource,
    caption: Option<&str>,
    filename: Option<&str>,
) -> Result<Value, ProviderError> {
    let mediatype = match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => {
            return Err(ProviderError::misconfigured("Evolution API stickers are not supported by this connector"));
        }
    };
    let (media, mime, name) = match source {
        MediaSource::Url(url) => {
            let from_url = url.split(['?', '#']).next().and_then(|u| u.rsplit('/').next()).filter(|n| n.contains('.'));
            let name = filename.or(from_url).unwrap_or(mediatype).to_owned();
            // Evolution requires a mimetype; guess it from the name, else a generic one for the kind.
            let mime = wire::mime_from_name(&name).or_else(|| wire::mime_from_name(url)).unwrap_or(match kind {
                MediaKind::Image => "image/jpeg",
                MediaKind::Video => "video/mp4",
                MediaKind::Audio => "audio/mpeg",
                _ => "application/octet-stream",
            });
            (url.clone(), mime.to_owned(), name)
        }
        MediaSource::Upload { bytes, mime, filename: uploaded } => {
            (wire::encode_base64(bytes), mime.clone(), filename.unwrap_or(uploaded).to_owned())
        }
    };
    Ok(json!({
        "number": number,
        "mediatype": mediatype,
        "mimetype": mime,
        "caption": caption.unwrap_or_default(),
        "media": media,
        "fileName": name,
    }))
}

/// A failed API call. Evolution answers `{status, error, response: {message: [...]}}`.
fn error(answer: &Answer) -> ProviderError {
    let messages = answer.json.pointer("/response/message");
    // Sending to a number that is not on WhatsApp: 400 with `[{"exists": false, "jid": …, "number": …}]`.
    let not_on_whatsapp = messages
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|m| m.get("exists").and_then(Value::as_bool) == Some(false)));
    let text = messages
        .and_then(|m| match m {
            Value::Array(items) => items.iter().find_map(|m| m.as_str().map(str::to_owned)),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .or_else(|| wire::error_text(&answer.json))
        .map(|t| wire::truncate(&t, 300));
    let (kind, message) = match answer.status {
        _ if not_on_whatsapp => (FailureKind::InvalidRecipient, "the number is not on WhatsApp".to_owned()),
        404 => (
            FailureKind::Misconfigured,
            format!("Evolution instance not found ({})", text.as_deref().unwrap_or("check the instance name")),
        ),
        status => (classify_status(status), text.unwrap_or_else(|| format!("Evolution API answered HTTP {status}"))),
    };
    let mut error = ProviderError::new(kind, Some(answer.status.to_string()), message);
    error.retry_after = answer.retry_after;
    error
}

/// `messages.upsert` from `MESSAGES_UPSERT` too (the configuration's spelling), so either form is read alike.
fn event_name(event: &str) -> String {
    event.trim().to_ascii_lowercase().replace('_', ".")
}

fn to_event(event: &str, data: &Value, sent_at: i64) -> Event {
    match event {
        "messages.upsert" | "send.message" => message_event(event, data),
        "messages.update" => status_event(data, sent_at),
        "connection.update" => match wire::text_at(data, "/state") {
            Some(state) => Event::Connection { state },
            None => Event::Other { kind: event.to_owned() },
        },
        other => Event::Other { kind: other.to_owned() },
    }
}

fn status_event(data: &Value, sent_at: i64) -> Event {
    let Some(id) = wire::text_at(data, "/keyId").or_else(|| wire::text_at(data, "/key/id")) else {
        return Event::Other { kind: "messages.update".into() };
    };
    // Named in v2, numeric (the WhatsApp protocol's enum) in some paths.
    let name = match data.get("status") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => "ERROR".to_owned(),
            Some(1) => "PENDING".to_owned(),
            Some(2) => "SERVER_ACK".to_owned(),
            Some(3) => "DELIVERY_ACK".to_owned(),
            Some(4) => "READ".to_owned(),
            Some(5) => "PLAYED".to_owned(),
            _ => "DELETED".to_owned(),
        },
        Some(Value::String(s)) => s.trim().to_ascii_uppercase(),
        _ => return Event::Other { kind: "messages.update".into() },
    };
    let status = match name.as_str() {
        "SERVER_ACK" => Status::Sent,
        "DELIVERY_ACK" => Status::Delivered,
        "READ" => Status::Read,
        "PLAYED" => Status::Played,
        "ERROR" => Status::Failed,
        // PENDING is before the server has it; DELETED is also what Evolution reports for edits: neither is a step.
        other => return Event::Other { kind: format!("messages.update.{}", other.to_ascii_lowercase()) },
    };
    // Receipts for the customer's own messages (fromMe false: the business read them on the phone) are not
    // statuses of anything we sent; passing them on would mark an inbound message "read".
    if data.get("fromMe").and_then(Value::as_bool) == Some(false) {
        return Event::Other { kind: "messages.update.inbound".into() };
    }
    Event::Status(StatusUpdate {
        message_id: id,
        status,
        timestamp_ms: sent_at,
        recipient: wire::text_at(data, "/remoteJid").or_else(|| wire::text_at(data, "/key/remoteJid")),
        error: (status == Status::Failed)
            .then(|| ("ERROR".to_owned(), "WhatsApp reported an error delivering the message".to_owned())),
    })
}

fn message_event(event: &str, data: &Value) -> Event {
    let key = data.get("key").unwrap_or(&Value::Null);
    let (Some(id), Some(jid)) = (wire::text_at(key, "/id"), wire::text_at(key, "/remoteJid")) else {
        return Event::Other { kind: event.to_owned() };
    };
    if jid.ends_with("@g.us") {
        return Event::Other { kind: "group".into() };
    }
    if jid.ends_with("@broadcast") || jid.ends_with("@newsletter") {
        return Event::Other { kind: "broadcast".into() };
    }
    // `send.message` is the echo of a send through the API; `messages.upsert` with fromMe one sent from the phone.
    let from_me = event == "send.message" || key.get("fromMe").and_then(Value::as_bool) == Some(true);
    let phone = if jid.ends_with("@lid") {
        // A privacy id: the number, when WhatsApp shares it, is in `remoteJidAlt` (newer) or `senderPn`.
        ["/remoteJidAlt", "/senderPn"].iter().find_map(|p| wire::text_at(key, p).and_then(|j| Phone::parse(&j).ok()))
    } else {
        Phone::parse(&jid).ok()
    };
    let contact = ContactRef {
        phone,
        jid: Some(jid),
        // On our own messages `pushName` is the business's name, not the customer's.
        name: if from_me { None } else { wire::text_at(data, "/pushName") },
        ..ContactRef::default()
    };
    let content = data.get("message").unwrap_or(&Value::Null);
    let mut message = InboundMessage {
        id: id.clone(),
        contact,
        timestamp_ms: data.get("messageTimestamp").and_then(wire::timestamp_ms).unwrap_or_else(wire::now_ms),
        kind: MessageKind::Unsupported,
        text: None,
        media: None,
        location: None,
        reaction: None,
        reply: None,
        context_id: context_id(data, content),
    };
    read_content(&mut message, content, &id);
    if from_me { Event::Echo(message) } else { Event::Message(message) }
}

/// The quoted message: `data.contextInfo.stanzaId`, or the `contextInfo` inside the message's content.
fn context_id(data: &Value, content: &Value) -> Option<String> {
    wire::text_at(data, "/contextInfo/stanzaId")
        .or_else(|| content.as_object()?.values().find_map(|inner| wire::text_at(inner, "/contextInfo/stanzaId")))
}

/// Fills the kind and content from Baileys' message object (`conversation`, `imageMessage`, …).
fn read_content(message: &mut InboundMessage, content: &Value, id: &str) {
    // Documents with a caption come wrapped; Evolution usually unwraps them, older paths do not.
    let wrapped = content.pointer("/documentWithCaptionMessage/message/documentMessage");
    let media = [
        ("imageMessage", MediaKind::Image),
        ("videoMessage", MediaKind::Video),
        ("ptvMessage", MediaKind::Video),
        ("audioMessage", MediaKind::Audio),
        ("documentMessage", MediaKind::Document),
        ("stickerMessage", MediaKind::Sticker),
    ]
    .into_iter()
    .find_map(|(name, kind)| content.get(name).filter(|v| v.is_object()).map(|v| (kind, v)))
    .or_else(|| wrapped.map(|v| (MediaKind::Document, v)));

    if let Some(text) = content.get("conversation").and_then(wire::text) {
        message.kind = MessageKind::Text;
        message.text = Some(text);
    } else if let Some(text) = wire::text_at(content, "/extendedTextMessage/text") {
        message.kind = MessageKind::Text;
        message.text = Some(text);
    } else if let Some((kind, inner)) = media {
        message.kind = MessageKind::from_media(kind);
        message.text = wire::text_at(inner, "/caption");
        message.media = Some(MediaRef {
            // The message id is what `getBase64FromMediaMessage` downloads by.
            id: Some(id.to_owned()),
            // `imageMessage.url` is WhatsApp's encrypted CDN file, useless without the media key; `mediaUrl` is
            // Evolution's own decrypted copy when it stores media in S3/MinIO.
            url: wire::text_at(content, "/mediaUrl"),
            mime: wire::text_at(inner, "/mimetype"),
            filename: wire::text_at(inner, "/fileName"),
            sha256: None,
            // With `webhook.base64` on, the file itself rides along.
            inline: content.get("base64").and_then(Value::as_str).and_then(wire::decode_base64),
        });
    } else if let Some(location) = content.get("locationMessage").or_else(|| content.get("liveLocationMessage")) {
        let coordinates = location
            .get("degreesLatitude")
            .and_then(wire::float)
            .zip(location.get("degreesLongitude").and_then(wire::float));
        if let Some((latitude, longitude)) = coordinates {
            message.kind = MessageKind::Location;
            message.location = Some(Location {
                latitude,
                longitude,
                name: wire::text_at(location, "/name"),
                address: wire::text_at(location, "/address"),
            });
        }
    } else if let Some(reaction) = content.get("reactionMessage") {
        if let Some(target) = wire::text_at(reaction, "/key/id") {
            message.kind = MessageKind::Reaction;
            // An empty text takes the reaction away.
            message.reaction = Some(Reaction { message_id: target, emoji: wire::text_at(reaction, "/text") });
        }
    } else if let Some(reply) = content.get("buttonsResponseMessage") {
        set_reply(message, MessageKind::ButtonReply, reply, "/selectedButtonId", "/selectedDisplayText");
    } else if let Some(reply) = content.get("listResponseMessage") {
        set_reply(message, MessageKind::ListReply, reply, "/singleSelectReply/selectedRowId", "/title");
    } else if let Some(reply) = content.get("templateButtonReplyMessage") {
        set_reply(message, MessageKind::TemplateButton, reply, "/selectedId", "/selectedDisplayText");
    } else if let Some(card) = content.get("contactMessage").or_else(|| content.get("contactsArrayMessage")) {
        message.kind = MessageKind::Contacts;
        message.text = wire::text_at(card, "/displayName");
    }
}

fn set_reply(message: &mut InboundMessage, kind: MessageKind, reply: &Value, id: &str, title: &str) {
    let title = wire::text_at(reply, title);
    let Some(id) = wire::text_at(reply, id).or_else(|| title.clone()) else {
        return;
    };
    let title = title.unwrap_or_else(|| id.clone());
    message.kind = kind;
    message.text = Some(title.clone());
    message.reply = Some(ReplyChoice { id, title });
}

#[cfg(test)]
mod tests;
