//! Chatwoot's webhooks read into events: incoming messages, echoes of outgoing ones, notes and activity.

use serde_json::Value;

use super::wire;
use crate::providers::*;

/// `message_type` as a string (top level) or Chatwoot's integer enum (inside nested objects).
pub(super) fn message_type(value: Option<&Value>) -> Option<&'static str> {
    match value? {
        Value::String(s) => match s.as_str() {
            "incoming" => Some("incoming"),
            "outgoing" => Some("outgoing"),
            "activity" => Some("activity"),
            "template" => Some("template"),
            _ => None,
        },
        Value::Number(n) => match n.as_i64()? {
            0 => Some("incoming"),
            1 => Some("outgoing"),
            2 => Some("activity"),
            3 => Some("template"),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn message_event(event: &str, body: &Value) -> Event {
    if body.get("private").and_then(Value::as_bool) == Some(true) {
        return Event::Other { kind: "note".into() };
    }
    let incoming = match message_type(body.get("message_type")) {
        Some("incoming") => true,
        Some("outgoing" | "template") => false,
        Some("activity") => return Event::Other { kind: "activity".into() },
        _ => return Event::Other { kind: event.to_owned() },
    };
    let Some(id) = wire::text_at(body, "/id") else {
        return Event::Other { kind: event.to_owned() };
    };
    let conversation = body.get("conversation").unwrap_or(&Value::Null);
    // The customer: the sender of an incoming message, the conversation's contact for our own.
    let person = if incoming { body.get("sender") } else { conversation.pointer("/meta/sender") }
        .filter(|p| p.is_object())
        .unwrap_or(&Value::Null);
    let contact_inbox = conversation.get("contact_inbox").unwrap_or(&Value::Null);
    // For WhatsApp inboxes the contact-inbox source id is the customer's WhatsApp id (digits); other channels use
    // their own ids (a UUID for the web widget).
    let wa_id =
        wire::text_at(contact_inbox, "/source_id").filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let phone = wire::text_at(person, "/phone_number")
        .and_then(|p| Phone::parse(&p).ok())
        .or_else(|| wa_id.as_deref().and_then(|w| Phone::parse(w).ok()));
    let contact = ContactRef {
        phone,
        wa_id,
        provider_contact_id: wire::text_at(person, "/id").or_else(|| wire::text_at(contact_inbox, "/contact_id")),
        name: wire::text_at(person, "/name"),
        // The conversation's display id, the one the API's paths take.
        thread: wire::text_at(conversation, "/id"),
        ..ContactRef::default()
    };
    let text = wire::text_at(body, "/content");
    let mut message = InboundMessage {
        id,
        contact,
        timestamp_ms: body.get("created_at").and_then(wire::timestamp_ms).unwrap_or_else(wire::now_ms),
        kind: if text.is_some() { MessageKind::Text } else { MessageKind::Unsupported },
        text,
        media: None,
        location: None,
        reaction: None,
        reply: None,
        context_id: wire::text_at(body, "/content_attributes/in_reply_to"),
    };
    // One attachment per message is what WhatsApp carries; Chatwoot's list may hold more from other channels, and
    // only the first is kept.
    if let Some(attachment) = body.pointer("/attachments/0").filter(|a| a.is_object()) {
        read_attachment(&mut message, attachment);
    }
    if incoming { Event::Message(message) } else { Event::Echo(message) }
}

pub(super) fn read_attachment(message: &mut InboundMessage, attachment: &Value) {
    let file_type = attachment.get("file_type").and_then(Value::as_str).unwrap_or("file");
    if file_type == "location" {
        let lat = attachment.get("coordinates_lat").and_then(wire::float);
        let lon = attachment.get("coordinates_long").and_then(wire::float);
        if let Some((latitude, longitude)) = lat.zip(lon) {
            message.kind = MessageKind::Location;
            let name = wire::text_at(attachment, "/fallback_title");
            message.location = Some(Location { latitude, longitude, name, address: None });
        }
        return;
    }
    let kind = match file_type {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        "file" => MediaKind::Document,
        // contact cards, fallbacks, shares and other non-files.
        _ => return,
    };
    let Some(url) = wire::text_at(attachment, "/data_url") else {
        return;
    };
    message.kind = MessageKind::from_media(kind);
    message.media = Some(MediaRef {
        id: wire::text_at(attachment, "/id"),
        mime: wire::mime_from_name(&url).map(str::to_owned),
        url: Some(url),
        ..MediaRef::default()
    });
}
