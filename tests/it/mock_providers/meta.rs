//! The Meta Cloud API mock (also serving 360dialog, whose API and webhooks are the Cloud API's bodies on another
//! host with another key) and the builders of Cloud API webhooks.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    Answer, BuiltWebhook, Failure, Kind, Recorded, Shared, bytes_reply, digits, fixture_json, insert, json_reply,
    next_serial, now_secs, random_hex32, remove, set,
};

/// The message types the Cloud API accepts in a send; anything else is `(#100) Invalid parameter`.
const SEND_TYPES: [&str; 11] = [
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];

/// The WhatsApp Business Account id the Meta mock lists templates for (`GET /{WABA_ID}/message_templates`).
pub const WABA_ID: &str = "102290129340398";

/// A fresh message id in Meta's shape: `wamid.` + a base64-looking string, unique in this process.
pub fn fresh_wamid() -> String {
    format!("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI{:06}{}A=", next_serial(), &random_hex32()[..12].to_ascii_uppercase())
}

/// A fresh numeric id (media ids are numeric strings).
pub fn fresh_numeric_id() -> String {
    format!("{}", 1_000_000_000_000_000 + next_serial())
}

/// A Graph-looking trace id, fresh per error as Meta's are.
fn fbtrace_id() -> String {
    format!("A{}", &random_hex32()[..22])
}

/// `{"error": {...}}` in the envelope of `error_response_envelope_syntax.txt`.
fn error_envelope(code: i64, title: &str, details: &str) -> Value {
    json!({
        "error": {
            "message": format!("(#{code}) {title}"),
            "type": "OAuthException",
            "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": details },
            "fbtrace_id": fbtrace_id(),
        }
    })
}

fn invalid_parameter(details: &str) -> Answer {
    Answer::Reply(json_reply(400, &error_envelope(100, "Invalid parameter", details)))
}

/// Graph's answer for an id that is not (or not visible as) an object.
fn unknown_object(id: &str, method: &str) -> Answer {
    let verb = if method == "GET" { "get" } else { "post" };
    let message = format!(
        "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing \
         permissions, or does not support this operation. Please read the Graph API documentation at \
         https://developers.facebook.com/docs/graph-api"
    );
    let body = json!({
        "error": { "message": message, "type": "GraphMethodException", "code": 100, "error_subcode": 33,
                   "fbtrace_id": fbtrace_id() }
    });
    Answer::Reply(json_reply(400, &body))
}

/// The answer to a scripted failure, as Meta gives it.
pub(super) fn failure(failure: Failure) -> axum::response::Response {
    match failure {
        Failure::RateLimited => {
            let mut body = fixture_json("meta-cloud-api/error_response_130429_rate_limit.json");
            set(&mut body, "/error/fbtrace_id", fbtrace_id());
            json_reply(400, &body)
        }
        Failure::TokenExpired => json_reply(401, &fixture_json("meta-cloud-api/error_response_190_token_expired.json")),
        Failure::OutsideWindow => json_reply(
            400,
            &error_envelope(
                131047,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to \
                 this number.",
            ),
        ),
        Failure::ServerError => {
            json_reply(500, &error_envelope(131000, "Something went wrong", "Something went wrong."))
        }
        Failure::Down => unreachable!("handled by the connection"),
    }
}

/// The path after the Graph version (`/v23.0/…`) for Meta; the whole path for 360dialog.
fn api_segments(kind: Kind, recorded: &Recorded) -> Option<Vec<String>> {
    let segments = recorded.segments();
    match kind {
        Kind::Meta => {
            let (version, rest) = segments.split_first()?;
            let is_version = version.strip_prefix('v').is_some_and(|v| v.parse::<f32>().is_ok());
            is_version.then(|| rest.iter().map(|s| (*s).to_owned()).collect())
        }
        _ => Some(segments.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Whether a request is a message send (not a mark-as-read), and to whom.
pub(super) fn classify(recorded: &Recorded) -> (bool, Option<String>) {
    let is_messages = recorded.method == "POST" && recorded.path.ends_with("/messages");
    let is_read = recorded.json_str("/status").is_some();
    if is_messages && !is_read { (true, recorded.json_str("/to").map(str::to_owned)) } else { (false, None) }
}

fn authorized(kind: Kind, shared: &Shared, recorded: &Recorded) -> bool {
    let expected = shared.auth().token;
    match kind {
        Kind::Meta => recorded.header("authorization") == Some(format!("Bearer {expected}").as_str()),
        _ => recorded.header("d360-api-key") == Some(expected.as_str()),
    }
}

pub(super) fn route(shared: &Shared, recorded: &Recorded) -> Answer {
    let kind = shared.kind;
    let segments: Vec<&str> = recorded.segments();
    // Media downloads live outside the Graph version prefix, as lookaside.fbsbx.com does.
    if let ["media-bytes", id] = segments.as_slice() {
        return download(kind, shared, recorded, id);
    }
    if kind == Kind::Dialog360 && segments.as_slice() == ["whatsapp_business", "attachments"] {
        let id = recorded.query_value("mid").unwrap_or_default();
        return download(kind, shared, recorded, &id);
    }
    let Some(rest) = api_segments(kind, recorded) else {
        return unknown_path(recorded);
    };
    if !authorized(kind, shared, recorded) {
        return Answer::Reply(failure(Failure::TokenExpired));
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = recorded.method.as_str();
    let phone_number_id = shared.auth().account;
    match (kind, method, rest.as_slice()) {
        (Kind::Meta, "POST", [id, "messages"]) if *id == phone_number_id => messages(shared, recorded),
        (Kind::Meta, "POST", [id, "media"]) if *id == phone_number_id => upload(shared, recorded),
        (Kind::Meta, "POST", [id, _]) => unknown_object(id, method),
        (Kind::Dialog360, "POST", ["messages"]) => messages(shared, recorded),
        (Kind::Dialog360, "POST", ["media"]) => upload(shared, recorded),
        (Kind::Dialog360, "GET", ["v1", "configs", "webhook"]) => {
            Answer::Reply(json_reply(200, &shared.webhook_config.lock().unwrap()))
        }
        (Kind::Dialog360, "POST", ["v1", "configs", "webhook"]) => {
            let Some(url) = recorded.json_str("/url").map(str::to_owned) else {
                return invalid_parameter("The parameter url is required.");
            };
            let mut config = json!({ "url": url });
            if let Some(headers) = recorded.json.as_ref().and_then(|j| j.get("headers")) {
                insert(&mut config, "", "headers", headers.clone());
            }
            *shared.webhook_config.lock().unwrap() = config.clone();
            Answer::Reply(json_reply(200, &config))
        }
        // Templates belong to the business account: answered exactly as `templates_list_response.json` (one
        // page: its cursors come without `paging.next`).
        (Kind::Meta, "GET", [waba, "message_templates"]) if *waba == WABA_ID => {
            Answer::Reply(json_reply(200, &fixture_json("meta-cloud-api/templates_list_response.json")))
        }
        (Kind::Meta, "GET", [id]) if *id == phone_number_id => {
            // Graph answers only the fields asked for, plus the id.
            let body = json!({ "display_phone_number": "+1 555-0100", "verified_name": "Mock Business", "id": id });
            Answer::Reply(json_reply(200, &body))
        }
        (_, "GET", [id]) => match shared.media(id) {
            Some(media) => Answer::Reply(json_reply(200, &retrieve_url(kind, shared, id, &media))),
            None => unknown_object(id, method),
        },
        (_, "DELETE", [id]) => match shared.media.lock().unwrap().remove(*id) {
            Some(_) => Answer::Reply(json_reply(200, &json!({ "success": true }))),
            None => unknown_object(id, method),
        },
        _ => unknown_path(recorded),
    }
}

fn unknown_path(recorded: &Recorded) -> Answer {
    let body = json!({
        "error": { "message": format!("Unknown path components: {}", recorded.path), "type": "OAuthException",
                   "code": 2500, "fbtrace_id": fbtrace_id() }
    });
    Answer::Reply(json_reply(400, &body))
}

/// `POST …/messages`: a send, or a mark-as-read (`"status": "read"`).
fn messages(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(body) = recorded.json.as_ref() else {
        return invalid_parameter("The request body must be JSON.");
    };
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return invalid_parameter("The parameter messaging_product is required.");
    }
    if let Some(status) = body.get("status") {
        if status.as_str() != Some("read") {
            return invalid_parameter("Param status must be one of {read}.");
        }
        if body.get("message_id").and_then(Value::as_str).is_none_or(str::is_empty) {
            return invalid_parameter("The parameter message_id is required.");
        }
        return Answer::Reply(json_reply(200, &json!({ "success": true })));
    }
    let Some(to) = body.get("to").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) else {
        return invalid_parameter("The parameter to is required.");
    };
    let Some(kind) = body.get("type").and_then(Value::as_str) else {
        return invalid_parameter("The parameter type is required.");
    };
    if !SEND_TYPES.contains(&kind) {
        return invalid_parameter(&format!("Param type must be one of {{{}}}.", SEND_TYPES.join(", ")));
    }
    let Some(object) = body.get(kind).filter(|o| o.is_object()) else {
        return invalid_parameter(&format!("The parameter {kind} is required."));
    };
    if let Err(details) = validate_object(kind, object) {
        return invalid_parameter(&details);
    }
    if let Some(failure) = shared.recipient_failure(Some(to)) {
        return Answer::Fail(failure);
    }

    let wamid = fresh_wamid();
    let mut answer = fixture_json("meta-cloud-api/send_success_response.json");
    set(&mut answer, "/contacts/0/input", to);
    set(&mut answer, "/contacts/0/wa_id", digits(to));
    set(&mut answer, "/messages/0/id", wamid.clone());
    Answer::Sent(json_reply(200, &answer), wamid)
}

/// The per-type required members, as Meta checks them.
fn validate_object(kind: &str, object: &Value) -> Result<(), String> {
    let has = |pointer: &str| object.pointer(pointer).is_some_and(|v| !v.is_null() && v != "");
    match kind {
        "text" if !has("/body") => Err("The parameter text['body'] is required.".to_owned()),
        "image" | "audio" | "video" | "document" | "sticker" if !has("/id") && !has("/link") => {
            Err(format!("Param {kind} must contain either 'id' or 'link'."))
        }
        "template" if !has("/name") || !has("/language/code") => {
            Err("The parameters template['name'] and template['language']['code'] are required.".to_owned())
        }
        "interactive" if !has("/type") || !has("/action") => {
            Err("The parameters interactive['type'] and interactive['action'] are required.".to_owned())
        }
        "location" if !has("/latitude") || !has("/longitude") => {
            Err("The parameters location['latitude'] and location['longitude'] are required.".to_owned())
        }
        "reaction" if !has("/message_id") => Err("The parameter reaction['message_id'] is required.".to_owned()),
        _ => Ok(()),
    }
}

/// `POST …/media` (multipart: `messaging_product`, `file`): stores the bytes under a fresh id.
fn upload(shared: &Shared, recorded: &Recorded) -> Answer {
    if recorded.form_value("messaging_product") != Some("whatsapp") {
        return invalid_parameter("The parameter messaging_product is required.");
    }
    let Some(file) = recorded.parts.iter().find(|p| p.name == "file" && p.filename.is_some()) else {
        return invalid_parameter("The parameter file is required.");
    };
    let mime = file
        .content_type
        .clone()
        .or_else(|| recorded.form_value("type").map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let id = fresh_numeric_id();
    let media = super::Media { bytes: file.data.clone(), mime };
    shared.media.lock().unwrap().insert(id.clone(), media);
    let mut answer = fixture_json("meta-cloud-api/media_upload_response.json");
    set(&mut answer, "/id", id);
    Answer::Reply(json_reply(200, &answer))
}

/// `GET /{media-id}`: the short-lived download URL. Meta's points at this mock; 360dialog's keeps the real
/// `lookaside.fbsbx.com` host, which its connector must rewrite to the account's base URL (as 360dialog requires).
fn retrieve_url(kind: Kind, shared: &Shared, id: &str, media: &super::Media) -> Value {
    let url = match kind {
        Kind::Meta => format!("{}/media-bytes/{id}", shared.origin),
        _ => format!(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={id}&source=getMedia&ext=1&hash={}",
            &random_hex32()[..16]
        ),
    };
    let mut answer = fixture_json("meta-cloud-api/media_retrieve_url_response.json");
    set(&mut answer, "/url", url);
    set(&mut answer, "/mime_type", media.mime.clone());
    set(&mut answer, "/sha256", hex::encode(Sha256::digest(&media.bytes)));
    set(&mut answer, "/file_size", media.bytes.len().to_string());
    set(&mut answer, "/id", id);
    answer
}

/// The bytes behind a download URL; the token is required here too, as on lookaside.fbsbx.com.
fn download(kind: Kind, shared: &Shared, recorded: &Recorded, id: &str) -> Answer {
    if !authorized(kind, shared, recorded) {
        return Answer::Reply(failure(Failure::TokenExpired));
    }
    match shared.media(id) {
        Some(media) => Answer::Reply(bytes_reply(200, &media.mime, media.bytes)),
        None => Answer::Reply(bytes_reply(404, "text/plain", b"Not Found".to_vec())),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks (Meta and 360dialog send the same bodies; only Meta signs them).

/// The business number and the customer a Cloud API webhook is about.
#[derive(Debug, Clone)]
pub struct CloudParty {
    pub waba_id: String,
    pub phone_number_id: String,
    /// The business number as Meta writes it in `metadata` (digits).
    pub display_phone_number: String,
    /// The customer's `wa_id` (digits, no `+`).
    pub customer: String,
    pub profile_name: String,
    /// The 2026 business-scoped user id (`US.…`); `None` leaves `user_id`/`parent_user_id` out, as older payloads do.
    pub bsuid: Option<String>,
}

impl CloudParty {
    /// `customer` and `display_phone_number` may be written with `+` and spaces; Meta sends digits.
    pub fn new(phone_number_id: &str, display_phone_number: &str, customer: &str) -> Self {
        Self {
            waba_id: "102290129340398".to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            display_phone_number: digits(display_phone_number),
            customer: digits(customer),
            profile_name: "Kerry Fisher".to_owned(),
            bsuid: None,
        }
    }
}

const VALUE: &str = "/entry/0/changes/0/value";

/// Puts the party into a fixture: WABA, business metadata, contact, and the customer in the message or status.
fn apply_party(value: &mut Value, party: &CloudParty) {
    set(value, "/entry/0/id", party.waba_id.clone());
    set(value, &format!("{VALUE}/metadata/display_phone_number"), party.display_phone_number.clone());
    set(value, &format!("{VALUE}/metadata/phone_number_id"), party.phone_number_id.clone());
    if value.pointer(&format!("{VALUE}/contacts/0")).is_some() {
        let contact = format!("{VALUE}/contacts/0");
        set(value, &format!("{contact}/profile/name"), party.profile_name.clone());
        set(value, &format!("{contact}/wa_id"), party.customer.clone());
        match &party.bsuid {
            Some(bsuid) => insert(value, &contact, "user_id", bsuid.clone()),
            None => {
                // The fixtures' sample BSUID would make every test customer the same user.
                remove(value, &contact, "user_id");
                remove(value, &contact, "parent_user_id");
            }
        }
    }
    if value.pointer(&format!("{VALUE}/messages/0")).is_some() {
        set(value, &format!("{VALUE}/messages/0/from"), party.customer.clone());
    }
    if value.pointer(&format!("{VALUE}/statuses/0")).is_some() {
        set(value, &format!("{VALUE}/statuses/0/recipient_id"), party.customer.clone());
    }
}

/// An inbound message fixture with the party, id and timestamp set.
fn inbound(file: &str, party: &CloudParty, wamid: &str, timestamp: i64) -> Value {
    let mut value = fixture_json(&format!("meta-cloud-api/{file}"));
    apply_party(&mut value, party);
    set(&mut value, &format!("{VALUE}/messages/0/id"), wamid);
    set(&mut value, &format!("{VALUE}/messages/0/timestamp"), timestamp.to_string());
    value
}

const MESSAGE: &str = "/entry/0/changes/0/value/messages/0";

/// A text message from the customer (`webhook_inbound_text.json`).
pub fn inbound_text(party: &CloudParty, wamid: &str, timestamp: i64, body: &str) -> Value {
    let mut value = inbound("webhook_inbound_text.json", party, wamid, timestamp);
    set(&mut value, &format!("{MESSAGE}/text/body"), body);
    value
}

/// An image from the customer (`webhook_inbound_image.json`), by media id; no caption leaves `caption` out.
pub fn inbound_image(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    media_id: &str,
    mime: &str,
    caption: Option<&str>,
) -> Value {
    let mut value = inbound("webhook_inbound_image.json", party, wamid, timestamp);
    let image = format!("{MESSAGE}/image");
    set(&mut value, &format!("{image}/id"), media_id);
    set(&mut value, &format!("{image}/mime_type"), mime);
    match caption {
        Some(caption) => set(&mut value, &format!("{image}/caption"), caption),
        None => remove(&mut value, &image, "caption"),
    }
    value
}

/// A shared location (`webhook_inbound_location.json`). Without a name it is a "current location" share, which
/// carries only the coordinates. The fixture's `context.forwarded` is dropped: a fresh share is not a forward.
pub fn inbound_location(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    latitude: f64,
    longitude: f64,
    name: Option<&str>,
    address: Option<&str>,
) -> Value {
    let mut value = inbound("webhook_inbound_location.json", party, wamid, timestamp);
    remove(&mut value, MESSAGE, "context");
    let location = format!("{MESSAGE}/location");
    set(&mut value, &format!("{location}/latitude"), latitude);
    set(&mut value, &format!("{location}/longitude"), longitude);
    match name {
        Some(name) => set(&mut value, &format!("{location}/name"), name),
        None => {
            remove(&mut value, &location, "name");
            remove(&mut value, &location, "url");
        }
    }
    match address {
        Some(address) => set(&mut value, &format!("{location}/address"), address),
        None => remove(&mut value, &location, "address"),
    }
    value
}

/// A reaction to `target_wamid`; `None` is the removal of a reaction (`emoji` omitted, as Meta sends it).
pub fn inbound_reaction(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    target_wamid: &str,
    emoji: Option<&str>,
) -> Value {
    let file = if emoji.is_some() { "webhook_inbound_reaction.json" } else { "webhook_inbound_reaction_removed.json" };
    let mut value = inbound(file, party, wamid, timestamp);
    set(&mut value, &format!("{MESSAGE}/reaction/message_id"), target_wamid);
    if let Some(emoji) = emoji {
        set(&mut value, &format!("{MESSAGE}/reaction/emoji"), emoji);
    }
    value
}

/// The context of a reply: the business number and the message replied to.
fn set_context(value: &mut Value, party: &CloudParty, context_wamid: &str) {
    set(value, &format!("{MESSAGE}/context/from"), party.display_phone_number.clone());
    set(value, &format!("{MESSAGE}/context/id"), context_wamid);
}

/// A tap on a reply button of an interactive message (`type: interactive`, `button_reply`).
pub fn inbound_button_reply(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    context_wamid: &str,
    id: &str,
    title: &str,
) -> Value {
    let mut value = inbound("webhook_inbound_interactive_button_reply.json", party, wamid, timestamp);
    set_context(&mut value, party, context_wamid);
    set(&mut value, &format!("{MESSAGE}/interactive/button_reply/id"), id);
    set(&mut value, &format!("{MESSAGE}/interactive/button_reply/title"), title);
    value
}

/// A row chosen in a list message (`type: interactive`, `list_reply`); `description` is optional, as in Meta's.
pub fn inbound_list_reply(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    context_wamid: &str,
    id: &str,
    title: &str,
    description: Option<&str>,
) -> Value {
    let mut value = inbound("webhook_inbound_interactive_list_reply.json", party, wamid, timestamp);
    set_context(&mut value, party, context_wamid);
    let reply = format!("{MESSAGE}/interactive/list_reply");
    set(&mut value, &format!("{reply}/id"), id);
    set(&mut value, &format!("{reply}/title"), title);
    match description {
        Some(description) => set(&mut value, &format!("{reply}/description"), description),
        None => remove(&mut value, &reply, "description"),
    }
    value
}

/// A tap on a template's quick-reply button: `type: button` with `text` and `payload` (not `interactive`).
pub fn inbound_template_button(
    party: &CloudParty,
    wamid: &str,
    timestamp: i64,
    context_wamid: &str,
    text: &str,
    payload: &str,
) -> Value {
    let mut value = inbound("webhook_inbound_template_quick_reply_button.json", party, wamid, timestamp);
    set_context(&mut value, party, context_wamid);
    set(&mut value, &format!("{MESSAGE}/button/text"), text);
    set(&mut value, &format!("{MESSAGE}/button/payload"), payload);
    value
}

const STATUS: &str = "/entry/0/changes/0/value/statuses/0";

/// A `sent`, `delivered` or `read` status of the business's message `wamid`.
pub fn status(party: &CloudParty, wamid: &str, status: &str, timestamp: i64) -> Value {
    let file = match status {
        "sent" => "webhook_status_sent.json",
        "delivered" => "webhook_status_delivered.json",
        "read" => "webhook_status_read.json",
        "failed" => panic!("use status_failed for a failed status"),
        other => panic!("no fixture for status `{other}`"),
    };
    let mut value = fixture_json(&format!("meta-cloud-api/{file}"));
    apply_party(&mut value, party);
    set(&mut value, &format!("{STATUS}/id"), wamid);
    set(&mut value, &format!("{STATUS}/timestamp"), timestamp.to_string());
    value
}

/// A `failed` status with Meta's error `code` (131047 outside the window, 131026 undeliverable, 130472 experiment,
/// 131049 marketing limit, 130429 rate limit); titles and details as Meta's error-code table words them.
pub fn status_failed(party: &CloudParty, wamid: &str, timestamp: i64, code: i64) -> Value {
    let (title, details) = match code {
        131047 => (
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this \
             number.",
        ),
        131026 => ("Message undeliverable", "Receiver is incapable of receiving this message"),
        130472 => (
            "User's number is part of an experiment",
            "Failed to send message because this user's phone number is part of an experiment",
        ),
        131049 => (
            "This message was not delivered to maintain healthy ecosystem engagement.",
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        ),
        130429 => (
            "Rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number in a short \
             period of time",
        ),
        _ => ("Something went wrong", "Something went wrong."),
    };
    let mut value = fixture_json("meta-cloud-api/webhook_status_failed.json");
    apply_party(&mut value, party);
    set(&mut value, &format!("{STATUS}/id"), wamid);
    set(&mut value, &format!("{STATUS}/timestamp"), timestamp.to_string());
    let error = format!("{STATUS}/errors/0");
    set(&mut value, &format!("{error}/code"), code);
    set(&mut value, &format!("{error}/title"), title);
    set(&mut value, &format!("{error}/message"), title);
    set(&mut value, &format!("{error}/error_data/details"), details);
    value
}

/// Now, for webhook timestamps.
pub fn now() -> i64 {
    now_secs()
}

/// `hex(HMAC-SHA256(app_secret, body))`, the value after `sha256=` in `X-Hub-Signature-256`.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A Meta webhook: the JSON body and `X-Hub-Signature-256` over exactly those bytes.
pub fn signed(value: &Value, app_secret: &str) -> BuiltWebhook {
    let mut built = BuiltWebhook::json(value);
    let header = format!("sha256={}", signature(app_secret, &built.body));
    built.headers.push(("x-hub-signature-256".to_owned(), header));
    built
}

/// A 360dialog webhook: the same body, no signature (the app's per-account secret travels in the URL).
pub fn unsigned(value: &Value) -> BuiltWebhook {
    BuiltWebhook::json(value)
}
