//! Twilio's webhook parameters read into events: inbound messages (text, media, location, button replies) and
//! status callbacks.

use super::known_error;
use crate::domain::message::Status;
use crate::domain::phone::Phone;
use crate::providers::*;

/// The form parameters of a webhook, in the order received.
pub(super) struct Form(pub(super) Vec<(String, String)>);

impl Form {
    /// A parameter's first non-blank value.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, v)| n == name && !v.trim().is_empty()).map(|(_, v)| v.as_str())
    }
}

pub(super) fn status_event(form: &Form, id: &str, value: &str, now: i64) -> Event {
    let status = match value {
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" => Status::Read,
        "failed" | "undelivered" => Status::Failed,
        // queued, accepted, sending, scheduled: Twilio's own progress before WhatsApp has it, not a rank change.
        other => return Event::Other { kind: format!("status.{other}") },
    };
    let error = (status == Status::Failed).then(|| {
        let code = form.get("ErrorCode");
        let text = form
            .get("ErrorMessage")
            .map(str::to_owned)
            .or_else(|| code.and_then(|c| c.parse().ok()).and_then(known_error).map(str::to_owned))
            .or_else(|| code.map(|c| format!("Twilio error {c}")))
            .unwrap_or_else(|| format!("Twilio reported the message as {value}"));
        (code.unwrap_or(value).to_owned(), text)
    });
    Event::Status(StatusUpdate {
        message_id: id.to_owned(),
        status,
        timestamp_ms: now,
        recipient: form.get("To").map(str::to_owned),
        error,
    })
}

pub(super) fn inbound(form: &Form, id: &str, now: i64) -> InboundMessage {
    let mut contact = ContactRef { name: form.get("ProfileName").map(str::to_owned), ..ContactRef::default() };
    if let Some(from) = form.get("From") {
        let address = from.trim().strip_prefix("whatsapp:").unwrap_or(from.trim());
        // A user known only by a business-scoped id arrives as `whatsapp:US.…` instead of a number.
        if address.starts_with(|c: char| c.is_ascii_digit() || c == '+') {
            contact.phone = Phone::parse(address).ok();
        } else if !address.is_empty() {
            contact.bsuid = Some(address.to_owned());
        }
    }
    if let Some(external) = form.get("ExternalUserId") {
        contact.bsuid = Some(external.strip_prefix("whatsapp:").unwrap_or(external).to_owned());
    }
    if let Some(wa_id) = form.get("WaId") {
        contact.wa_id = Some(wa_id.to_owned());
        if contact.phone.is_none() {
            contact.phone = Phone::parse(wa_id).ok();
        }
    }
    let body = form.get("Body").map(str::to_owned);
    let mut message = InboundMessage {
        id: id.to_owned(),
        contact,
        timestamp_ms: now,
        kind: MessageKind::Unsupported,
        text: None,
        media: None,
        location: None,
        reaction: None,
        reply: None,
        context_id: form.get("OriginalRepliedMessageSid").map(str::to_owned),
    };
    let media_count: u32 = form.get("NumMedia").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    let coordinates = form
        .get("Latitude")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .zip(form.get("Longitude").and_then(|v| v.trim().parse::<f64>().ok()))
        .filter(|(lat, lon)| lat.is_finite() && lon.is_finite());
    if let (true, Some(url)) = (media_count > 0, form.get("MediaUrl0")) {
        // WhatsApp carries one file per message; Twilio numbers them from 0 like MMS.
        let mime = form.get("MediaContentType0").map(str::to_owned);
        let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some("image") => MediaKind::Image,
            Some("video") => MediaKind::Video,
            Some("audio") => MediaKind::Audio,
            _ => MediaKind::Document,
        };
        message.kind = MessageKind::from_media(kind);
        message.text = body;
        message.media = Some(MediaRef { url: Some(url.to_owned()), mime, ..MediaRef::default() });
    } else if let Some((latitude, longitude)) = coordinates {
        message.kind = MessageKind::Location;
        message.location = Some(Location {
            latitude,
            longitude,
            name: form.get("Label").map(str::to_owned),
            address: form.get("Address").map(str::to_owned),
        });
    } else if let Some(title) = form.get("ButtonText") {
        // A template quick-reply tap. `ButtonPayload` is only evidenced by third-party tests; without it the title
        // is the best id there is.
        message.kind = MessageKind::TemplateButton;
        message.text = Some(title.to_owned());
        message.reply =
            Some(ReplyChoice { id: form.get("ButtonPayload").unwrap_or(title).to_owned(), title: title.to_owned() });
    } else if let Some(list_id) = form.get("ListId") {
        // List replies (`ListId`/`ListTitle`): evidenced only by third-party tests, not Twilio's documentation.
        let title = form.get("ListTitle").or(body.as_deref()).unwrap_or(list_id).to_owned();
        message.kind = MessageKind::ListReply;
        message.text = Some(title.clone());
        message.reply = Some(ReplyChoice { id: list_id.to_owned(), title });
    } else if body.is_some() {
        message.kind = MessageKind::Text;
        message.text = body;
    }
    message
}
