//! The Evolution API v2 mock (one instance, `apikey` header) and the builders of its webhook events.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest;

use super::{
    Answer, BuiltWebhook, Failure, Recorded, Shared, fixture_json, insert, json_reply, now_secs, random_hex32, remove,
    set,
};

/// Evolution's error envelope (`{status, error, response: {message}}`, from its Express error handler).
fn error(status: u16, error: &str, message: Value) -> axum::response::Response {
    json_reply(status, &json!({ "status": status, "error": error, "response": { "message": message } }))
}

/// The answer to a scripted failure, as Evolution gives it.
pub(super) fn failure(failure: Failure) -> axum::response::Response {
    match failure {
        Failure::RateLimited => error(429, "Too Many Requests", json!("Too Many Requests")),
        Failure::TokenExpired => error(401, "Unauthorized", json!("Unauthorized")),
        Failure::ServerError => error(500, "Internal Server Error", json!("Internal Server Error")),
        Failure::OutsideWindow => unreachable!("refused when scripted"),
        Failure::Down => unreachable!("handled by the connection"),
    }
}

pub(super) fn classify(recorded: &Recorded) -> (bool, Option<String>) {
    let segments = recorded.segments();
    let is_send = recorded.method == "POST"
        && matches!(segments.as_slice(), ["message", action, _] if action.starts_with("send"));
    if is_send { (true, recorded.json_str("/number").map(str::to_owned)) } else { (false, None) }
}

/// A fresh message key id, as Baileys makes them for messages sent from the web client (`3EB0` + 16 hex).
pub fn fresh_key_id() -> String {
    format!("3EB0{}", random_hex32()[..16].to_ascii_uppercase())
}

/// `5511…` → `5511…@s.whatsapp.net`; a JID stays as it is.
fn jid(number: &str) -> String {
    if number.contains('@') { number.to_owned() } else { format!("{}@s.whatsapp.net", super::digits(number)) }
}

pub(super) fn route(shared: &Shared, recorded: &Recorded) -> Answer {
    let segments = recorded.segments();
    let method = recorded.method.as_str();
    let Some(instance) = segments.get(2).filter(|_| segments.len() == 3) else {
        return not_found(recorded);
    };
    let known = matches!(
        (method, segments[0], segments[1]),
        ("POST", "message", "sendText" | "sendMedia")
            | ("GET", "instance", "connectionState")
            | ("PUT" | "POST", "chat", "markMessageAsRead")
            | ("POST", "chat", "getBase64FromMediaMessage")
    );
    if !known {
        return not_found(recorded);
    }
    // Evolution's instance guard runs before the key check: an unknown instance is a 404 whatever the key.
    let auth = shared.auth();
    if *instance != auth.account {
        let mut body = fixture_json("evolution-api/error_404_instance_not_found.json");
        set(&mut body, "/response/message/0", format!("The \"{instance}\" instance does not exist"));
        return Answer::Reply(json_reply(404, &body));
    }
    if recorded.header("apikey") != Some(auth.token.as_str()) {
        return Answer::Reply(failure(Failure::TokenExpired));
    }
    match segments[1] {
        "sendText" => send_text(shared, recorded),
        "sendMedia" => send_media(shared, recorded),
        "connectionState" => {
            let mut body = fixture_json("evolution-api/instance_connection_state_response.json");
            set(&mut body, "/instance/instanceName", *instance);
            set(&mut body, "/instance/state", shared.connection_state.lock().unwrap().clone());
            Answer::Reply(json_reply(200, &body))
        }
        // Evolution answers 201 to these POST/PUT routes (chat.router.ts).
        "markMessageAsRead" => {
            Answer::Reply(json_reply(201, &json!({ "message": "Read messages", "read": "success" })))
        }
        _ => base64_media(shared, recorded),
    }
}

fn not_found(recorded: &Recorded) -> Answer {
    let message = json!([format!("Cannot {} {}", recorded.method, recorded.path)]);
    Answer::Reply(error(404, "Not Found", message))
}

fn bad_request(message: &str) -> Answer {
    Answer::Reply(error(400, "Bad Request", json!([message])))
}

/// The `number` of a send, when present.
fn number(recorded: &Recorded) -> Option<String> {
    recorded.json_str("/number").filter(|n| !n.trim().is_empty()).map(str::to_owned)
}

/// `POST /message/sendText/{instance}` `{number, text}` → 201 `send_text_response.json`.
fn send_text(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(number) = number(recorded) else {
        return bad_request("instance requires property \"number\"");
    };
    // v1 bodies (`textMessage: {text}`) are refused by v2 with this message (issue #2570).
    let Some(text) = recorded.json_str("/text") else {
        return bad_request("instance requires property \"text\"");
    };
    if let Some(failure) = shared.recipient_failure(Some(&number)) {
        return Answer::Fail(failure);
    }
    let id = fresh_key_id();
    let mut answer = fixture_json("evolution-api/send_text_response.json");
    set(&mut answer, "/key/remoteJid", jid(&number));
    set(&mut answer, "/key/id", id.clone());
    set(&mut answer, "/message/extendedTextMessage/text", text);
    set(&mut answer, "/messageTimestamp", now_secs().to_string());
    Answer::Sent(json_reply(201, &answer), id)
}

/// `POST /message/sendMedia/{instance}` `{number, mediatype, mimetype, media, caption, fileName}` → 201
/// `send_media_response.json`, its `imageMessage` renamed after the media type.
fn send_media(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(number) = number(recorded) else {
        return bad_request("instance requires property \"number\"");
    };
    let Some(mediatype) = recorded.json_str("/mediatype") else {
        return bad_request("instance requires property \"mediatype\"");
    };
    if !["image", "document", "video", "audio", "ptv"].contains(&mediatype) {
        return bad_request("mediatype must be one of image, document, video, audio, ptv");
    }
    if recorded.json_str("/media").is_none_or(str::is_empty) {
        return bad_request("instance requires property \"media\"");
    }
    if let Some(failure) = shared.recipient_failure(Some(&number)) {
        return Answer::Fail(failure);
    }
    let id = fresh_key_id();
    let mut answer = fixture_json("evolution-api/send_media_response.json");
    set(&mut answer, "/key/remoteJid", jid(&number));
    set(&mut answer, "/key/id", id.clone());
    set(&mut answer, "/messageTimestamp", now_secs().to_string());
    let mut content = answer.pointer("/message/imageMessage").cloned().unwrap();
    if let Some(mime) = recorded.json_str("/mimetype") {
        set(&mut content, "/mimetype", mime);
    }
    match recorded.json_str("/caption") {
        Some(caption) => set(&mut content, "/caption", caption),
        None => remove(&mut content, "", "caption"),
    }
    if mediatype != "image" {
        // Only images and videos carry dimensions.
        remove(&mut content, "", "height");
        remove(&mut content, "", "width");
    }
    if let (Some(name), "document") = (recorded.json_str("/fileName"), mediatype) {
        insert(&mut content, "", "fileName", name);
    }
    let key = format!("{}Message", if mediatype == "ptv" { "ptv" } else { mediatype });
    set(&mut answer, "/message", json!({ key: content }));
    Answer::Sent(json_reply(201, &answer), id)
}

/// `POST /chat/getBase64FromMediaMessage/{instance}` `{message: {key: {id}}}` → the registered media as base64.
fn base64_media(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(id) = recorded.json_str("/message/key/id") else {
        return bad_request("instance requires property \"message\"");
    };
    let Some(media) = shared.media(id) else {
        return bad_request("Message not found");
    };
    let kind = media.mime.split('/').next().unwrap_or_default();
    let media_type = match kind {
        "image" | "video" | "audio" => format!("{kind}Message"),
        _ => "documentMessage".to_owned(),
    };
    let extension = media.mime.rsplit('/').next().unwrap_or("bin").replace("jpeg", "jpg");
    let body = json!({
        "mediaType": media_type,
        "fileName": format!("{id}.{extension}"),
        "caption": null,
        "size": { "fileLength": media.bytes.len().to_string() },
        "mimetype": media.mime,
        "base64": STANDARD.encode(&media.bytes),
    });
    Answer::Reply(json_reply(201, &body))
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks.

/// The instance, its connected number and the customer an event is about.
#[derive(Debug, Clone)]
pub struct EvolutionParty {
    pub instance: String,
    /// The instance's own number (digits): the envelope's `sender`.
    pub business: String,
    /// The customer (digits): `remoteJid` is `{customer}@s.whatsapp.net`.
    pub customer: String,
    pub push_name: String,
    /// Where Evolution believes it posts (the envelope's `destination`).
    pub destination: String,
}

impl EvolutionParty {
    pub fn new(instance: &str, business: &str, customer: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            business: super::digits(business),
            customer: super::digits(customer),
            push_name: "Contato Teste".to_owned(),
            destination: "http://127.0.0.1/webhooks/evolution".to_owned(),
        }
    }

    fn remote_jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.customer)
    }
}

/// The v2 envelope, taken from the real `messages.update` capture: event, instance, data, destination, date_time,
/// sender, server_url, apikey (null unless the server exposes keys).
fn envelope(party: &EvolutionParty, event: &str, data: Value) -> Value {
    let mut value = fixture_json("evolution-api/webhook_messages_update_real.json");
    set(&mut value, "/event", event);
    set(&mut value, "/instance", party.instance.clone());
    set(&mut value, "/data", data);
    set(&mut value, "/destination", party.destination.clone());
    set(&mut value, "/date_time", jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    set(&mut value, "/sender", format!("{}@s.whatsapp.net", party.business));
    set(&mut value, "/server_url", "http://evolution.mock:8080");
    set(&mut value, "/apikey", Value::Null);
    value
}

/// A v2 `messages.upsert` fixture's `data` with the party, id and time set, plus the fields the source adds that
/// the trimmed fixtures lack (`status`, `instanceId`, `source`).
fn upsert_data(file: &str, party: &EvolutionParty, id: &str, timestamp: i64) -> Value {
    let fixture = fixture_json(&format!("evolution-api/{file}"));
    let mut data = fixture.get("data").cloned().unwrap();
    set(&mut data, "/key/remoteJid", party.remote_jid());
    set(&mut data, "/key/id", id);
    set(&mut data, "/pushName", party.push_name.clone());
    set(&mut data, "/messageTimestamp", timestamp);
    // Incoming messages without a status get DELIVERY_ACK (whatsapp.baileys.service.ts).
    insert(&mut data, "", "status", "DELIVERY_ACK");
    insert(&mut data, "", "instanceId", instance_id(party));
    insert(&mut data, "", "source", "android");
    data
}

/// A stable instance UUID per instance name.
fn instance_id(party: &EvolutionParty) -> String {
    let hex = hex::encode(sha2::Sha256::digest(party.instance.as_bytes()));
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A text from the customer (`messages.upsert`, `conversation`).
pub fn upsert_text(party: &EvolutionParty, id: &str, timestamp: i64, text: &str) -> Value {
    let mut data = upsert_data("webhook_messages_upsert_v2_text_fixture.json", party, id, timestamp);
    set(&mut data, "/message/conversation", text);
    envelope(party, "messages.upsert", data)
}

/// An image from the customer; with `base64` the bytes ride along (webhook `base64: true`), without it the app
/// fetches them with `getBase64FromMediaMessage`.
pub fn upsert_image(
    party: &EvolutionParty,
    id: &str,
    timestamp: i64,
    mime: &str,
    caption: Option<&str>,
    base64: Option<&str>,
) -> Value {
    let mut data = upsert_data("webhook_messages_upsert_v2_image_base64_fixture.json", party, id, timestamp);
    set(&mut data, "/message/imageMessage/mimetype", mime);
    if let Some(caption) = caption {
        insert(&mut data, "/message/imageMessage", "caption", caption);
    }
    match base64 {
        Some(base64) => set(&mut data, "/message/base64", base64),
        None => remove(&mut data, "/message", "base64"),
    }
    envelope(party, "messages.upsert", data)
}

/// A shared location (`locationMessage`, degrees as numbers).
pub fn upsert_location(
    party: &EvolutionParty,
    id: &str,
    timestamp: i64,
    latitude: f64,
    longitude: f64,
    name: Option<&str>,
    address: Option<&str>,
) -> Value {
    let mut data = upsert_data("webhook_messages_upsert_v2_location_fixture.json", party, id, timestamp);
    let location = "/message/locationMessage";
    set(&mut data, &format!("{location}/degreesLatitude"), latitude);
    set(&mut data, &format!("{location}/degreesLongitude"), longitude);
    match name {
        Some(name) => set(&mut data, &format!("{location}/name"), name),
        None => remove(&mut data, location, "name"),
    }
    match address {
        Some(address) => set(&mut data, &format!("{location}/address"), address),
        None => remove(&mut data, location, "address"),
    }
    envelope(party, "messages.upsert", data)
}

/// A reaction to the business's message `target_id` (`from_me` of the target: true for our own messages); an empty
/// emoji is the removal of a reaction, as Evolution sends it.
pub fn upsert_reaction(party: &EvolutionParty, id: &str, timestamp: i64, target_id: &str, emoji: &str) -> Value {
    let mut data = upsert_data("webhook_messages_upsert_v2_reaction_fixture.json", party, id, timestamp);
    let reaction = "/message/reactionMessage";
    set(&mut data, &format!("{reaction}/key/remoteJid"), party.remote_jid());
    set(&mut data, &format!("{reaction}/key/id"), target_id);
    set(&mut data, &format!("{reaction}/key/fromMe"), true);
    set(&mut data, &format!("{reaction}/text"), emoji);
    set(&mut data, &format!("{reaction}/senderTimestampMs"), (timestamp * 1000).to_string());
    envelope(party, "messages.upsert", data)
}

/// The `send.message` echo of a text the business sent through the API (`fromMe: true`, `PENDING`).
pub fn send_message_echo(party: &EvolutionParty, id: &str, timestamp: i64, text: &str) -> Value {
    let mut data = upsert_data("webhook_messages_upsert_v2_text_fixture.json", party, id, timestamp);
    set(&mut data, "/key/fromMe", true);
    set(&mut data, "/message/conversation", text);
    set(&mut data, "/status", "PENDING");
    remove(&mut data, "/message", "messageContextInfo");
    envelope(party, "send.message", data)
}

/// A text the business sent from the phone itself: `messages.upsert` with `fromMe: true`.
pub fn upsert_from_me(party: &EvolutionParty, id: &str, timestamp: i64, text: &str) -> Value {
    let mut value = upsert_text(party, id, timestamp, text);
    set(&mut value, "/data/key/fromMe", true);
    set(&mut value, "/data/status", "SERVER_ACK");
    value
}

/// A `messages.update` for the business's message `key_id`: status `SERVER_ACK`, `DELIVERY_ACK`, `READ`, `PLAYED`,
/// `ERROR` or `DELETED` (`webhook_messages_update_real.json`).
pub fn messages_update(party: &EvolutionParty, key_id: &str, status: &str) -> Value {
    let fixture = fixture_json("evolution-api/webhook_messages_update_real.json");
    let mut data = fixture.get("data").cloned().unwrap();
    set(&mut data, "/keyId", key_id);
    set(&mut data, "/remoteJid", party.remote_jid());
    set(&mut data, "/fromMe", true);
    set(&mut data, "/participant", party.remote_jid());
    set(&mut data, "/status", status);
    set(&mut data, "/instanceId", instance_id(party));
    set(&mut data, "/messageId", format!("cm{}", &random_hex32()[..23]));
    envelope(party, "messages.update", data)
}

/// A `connection.update`: `open` (with the number and profile), `connecting`, `close` or `refused`. No capture of
/// this event exists; the data follows Evolution's source (see `webhook_envelope_and_events_from_source.txt`).
pub fn connection_update(party: &EvolutionParty, state: &str) -> Value {
    let data = match state {
        "open" => json!({
            "instance": party.instance,
            "wuid": format!("{}@s.whatsapp.net", party.business),
            "profileName": "Mock Business",
            "profilePictureUrl": null,
            "state": "open",
            "statusReason": 200,
        }),
        // Baileys' DisconnectReason: 401 loggedOut for a closed session, 428 connectionClosed otherwise.
        "close" => json!({ "instance": party.instance, "state": "close", "statusReason": 401 }),
        other => json!({ "instance": party.instance, "state": other, "statusReason": 428 }),
    };
    envelope(party, "connection.update", data)
}

/// Evolution signs nothing: the app authenticates it by the secret in the URL.
pub fn unsigned(value: &Value) -> BuiltWebhook {
    BuiltWebhook::json(value)
}
