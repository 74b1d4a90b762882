//! The Meta webhook parser, shared by Meta and 360dialog: every entry, change, message and status of a Cloud API
//! webhook into normalized events, leniently, so one odd item never fails the whole batch.

use serde_json::Value;

use super::{code_of, nonempty};
use crate::domain::message::Status;
use crate::domain::phone::Phone;
use crate::providers::*;

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
pub(in crate::providers) fn parse_webhook(body: &[u8]) -> Result<Vec<Event>, ParseError> {
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
