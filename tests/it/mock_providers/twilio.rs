//! The Twilio Programmable Messaging mock (WhatsApp senders) and the builders of Twilio's form-encoded webhooks,
//! signed with `X-Twilio-Signature`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use super::{
    Answer, BuiltWebhook, Failure, Recorded, Shared, bytes_reply, fixture, fixture_json, json_reply, random_hex32, set,
};

/// Twilio's REST error shape: `{"code","message","more_info","status"}`.
fn error(status: u16, code: u32, message: &str) -> axum::response::Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    });
    json_reply(status, &body)
}

/// The answer to a scripted failure, as Twilio gives it.
pub(super) fn failure(failure: Failure) -> axum::response::Response {
    match failure {
        // 20429 is the REST API's own rate limit; WhatsApp's channel limit (63018) arrives in a status callback.
        Failure::RateLimited => error(429, 20429, "Too Many Requests"),
        Failure::TokenExpired => error(401, 20003, "Authenticate"),
        Failure::OutsideWindow => error(
            400,
            63016,
            "Failed to send freeform message because you are outside the allowed window. If you are using \
             WhatsApp, please use a Message Template.",
        ),
        Failure::ServerError => error(500, 20500, "Internal Server Error"),
        Failure::Down => unreachable!("handled by the connection"),
    }
}

pub(super) fn classify(recorded: &Recorded) -> (bool, Option<String>) {
    let is_send = recorded.method == "POST" && recorded.path.ends_with("/Messages.json");
    if is_send { (true, recorded.form_value("To").map(str::to_owned)) } else { (false, None) }
}

/// HTTP Basic `AccountSid:AuthToken`.
fn authorized(shared: &Shared, recorded: &Recorded) -> bool {
    let auth = shared.auth();
    let expected = format!("Basic {}", STANDARD.encode(format!("{}:{}", auth.account, auth.token)));
    recorded.header("authorization") == Some(expected.as_str())
}

pub(super) fn route(shared: &Shared, recorded: &Recorded) -> Answer {
    if !authorized(shared, recorded) {
        return Answer::Reply(failure(Failure::TokenExpired));
    }
    let account = shared.auth().account;
    let segments = recorded.segments();
    match (recorded.method.as_str(), segments.as_slice()) {
        ("POST", ["2010-04-01", "Accounts", sid, "Messages.json"]) if *sid == account => create(shared, recorded),
        ("GET", ["2010-04-01", "Accounts", file]) if *file == format!("{account}.json") => {
            let body = json!({
                "sid": account,
                "owner_account_sid": account,
                "friendly_name": "Mock Account",
                "status": "active",
                "type": "Full",
                "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
                "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
                "uri": format!("/2010-04-01/Accounts/{account}.json"),
            });
            Answer::Reply(json_reply(200, &body))
        }
        // The media URL shape of inbound webhooks, and the short one the brief's tests use.
        ("GET", ["2010-04-01", "Accounts", sid, "Messages", _, "Media", id]) if *sid == account => media(shared, id),
        ("GET", ["media-bytes", id]) => media(shared, id),
        _ => Answer::Reply(error(404, 20404, &format!("The requested resource {} was not found", recorded.path))),
    }
}

fn media(shared: &Shared, id: &str) -> Answer {
    match shared.media(id) {
        Some(media) => Answer::Reply(bytes_reply(200, &media.mime, media.bytes)),
        None => Answer::Reply(error(404, 20404, &format!("The requested resource /Media/{id} was not found"))),
    }
}

/// `POST …/Messages.json`: validates like Twilio, answers 201 with the Message resource.
fn create(shared: &Shared, recorded: &Recorded) -> Answer {
    let to = recorded.form_value("To").unwrap_or_default();
    let from = recorded.form_value("From");
    let service = recorded.form_value("MessagingServiceSid");
    if to.is_empty() {
        return Answer::Reply(error(400, 21604, "A 'To' phone number is required."));
    }
    if !to.starts_with("whatsapp:") {
        return Answer::Reply(error(400, 21211, &format!("Invalid 'To' Phone Number: {to}")));
    }
    // A Messaging Service may pick the sender itself; otherwise From is a WhatsApp sender.
    match from {
        Some(from) if !from.starts_with("whatsapp:") => {
            return Answer::Reply(error(400, 21212, &format!("Invalid 'From' Phone Number: {from}")));
        }
        None if service.is_none() => return Answer::Reply(error(400, 21603, "A 'From' phone number is required.")),
        _ => {}
    }
    let body = recorded.form_value("Body").filter(|b| !b.is_empty());
    let media_urls = recorded.form_values("MediaUrl");
    let content_sid = recorded.form_value("ContentSid");
    if body.is_none() && media_urls.is_empty() && content_sid.is_none() {
        return Answer::Reply(error(400, 21602, "Message body is required."));
    }
    if let Some(failure) = shared.recipient_failure(Some(to)) {
        return Answer::Fail(failure);
    }

    let account = shared.auth().account;
    let prefix = if media_urls.is_empty() { "SM" } else { "MM" };
    let sid = format!("{prefix}{}", random_hex32());
    let now = httpdate_now();
    let mut answer = fixture_json("twilio/messages_create_response_queued.json");
    set(&mut answer, "/account_sid", account.clone());
    set(&mut answer, "/sid", sid.clone());
    set(&mut answer, "/to", to);
    set(&mut answer, "/from", from.map_or(Value::Null, Value::from));
    set(&mut answer, "/body", body.unwrap_or_default());
    set(&mut answer, "/messaging_service_sid", service.map_or(Value::Null, Value::from));
    set(&mut answer, "/num_media", media_urls.len().to_string());
    set(&mut answer, "/date_created", now.clone());
    set(&mut answer, "/date_updated", now);
    // A queued message has not been sent yet.
    set(&mut answer, "/date_sent", Value::Null);
    set(&mut answer, "/uri", format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"));
    set(&mut answer, "/subresource_uris/media", format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"));
    Answer::Sent(json_reply(201, &answer), sid)
}

/// Now as an RFC 2822 date, the way Twilio writes `date_created`.
fn httpdate_now() -> String {
    jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks.

/// The parameters of a Twilio fixture: the one line of the `.txt` file that is not a `#` comment.
pub fn fixture_params(file: &str) -> Vec<(String, String)> {
    let text = fixture(&format!("twilio/{file}"));
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("twilio/{file} has no parameter line"));
    url::form_urlencoded::parse(line.as_bytes()).into_owned().collect()
}

/// Sets a parameter, keeping its place when it is already there.
pub fn set_param(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    match params.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_owned(),
        None => params.push((name.to_owned(), value.to_owned())),
    }
}

pub fn remove_param(params: &mut Vec<(String, String)>, name: &str) {
    params.retain(|(n, _)| n != name);
}

/// The account, the business's WhatsApp sender and the customer a webhook is about.
#[derive(Debug, Clone)]
pub struct TwilioParty {
    pub account_sid: String,
    /// The business sender, E.164 (`+1…`); webhooks write it `whatsapp:+1…`.
    pub business: String,
    /// The customer, E.164.
    pub customer: String,
    pub profile_name: String,
}

impl TwilioParty {
    pub fn new(account_sid: &str, business: &str, customer: &str) -> Self {
        Self {
            account_sid: account_sid.to_owned(),
            business: business.to_owned(),
            customer: customer.to_owned(),
            profile_name: "Kerry Fisher".to_owned(),
        }
    }

    fn customer_address(&self) -> String {
        format!("whatsapp:{}", self.customer)
    }

    fn business_address(&self) -> String {
        format!("whatsapp:{}", self.business)
    }
}

/// A fresh inbound message SID (`SM` + 32 hex; `MM` when it carries media).
pub fn fresh_sid(with_media: bool) -> String {
    format!("{}{}", if with_media { "MM" } else { "SM" }, random_hex32())
}

/// The fields every inbound message carries: ids, account, addresses, and the WhatsApp extras `ProfileName`/`WaId`.
fn apply_inbound(params: &mut Vec<(String, String)>, party: &TwilioParty, message_sid: &str) {
    for name in ["MessageSid", "SmsSid", "SmsMessageSid"] {
        set_param(params, name, message_sid);
    }
    set_param(params, "AccountSid", &party.account_sid);
    set_param(params, "From", &party.customer_address());
    set_param(params, "To", &party.business_address());
    set_param(params, "ProfileName", &party.profile_name);
    set_param(params, "WaId", &super::digits(&party.customer));
}

/// A text from the customer (`inbound_whatsapp_text.txt`, with `ProfileName`/`WaId` as real WhatsApp inbound has).
pub fn inbound_text(party: &TwilioParty, message_sid: &str, body: &str) -> Vec<(String, String)> {
    let mut params = fixture_params("inbound_whatsapp_text.txt");
    apply_inbound(&mut params, party, message_sid);
    set_param(&mut params, "Body", body);
    set_param(&mut params, "MessageType", "text");
    params
}

/// An image from the customer (`inbound_whatsapp_image.txt`): `NumMedia=1`, `MediaUrl0`, `MediaContentType0`.
/// `MessageType` is `image` (the fixture's `text` is its author's value, see the fixture's note).
pub fn inbound_image(
    party: &TwilioParty,
    message_sid: &str,
    media_url: &str,
    content_type: &str,
    caption: Option<&str>,
) -> Vec<(String, String)> {
    let mut params = fixture_params("inbound_whatsapp_image.txt");
    apply_inbound(&mut params, party, message_sid);
    remove_param(&mut params, "MessagingServiceSid");
    set_param(&mut params, "Body", caption.unwrap_or_default());
    set_param(&mut params, "MediaUrl0", media_url);
    set_param(&mut params, "MediaContentType0", content_type);
    set_param(&mut params, "MessageType", "image");
    params
}

/// A shared location (`inbound_whatsapp_location.txt`: `MessageType=location`, `Latitude`/`Longitude` strings).
pub fn inbound_location(
    party: &TwilioParty,
    message_sid: &str,
    latitude: f64,
    longitude: f64,
) -> Vec<(String, String)> {
    let mut params = fixture_params("inbound_whatsapp_location.txt");
    apply_inbound(&mut params, party, message_sid);
    remove_param(&mut params, "MessagingServiceSid");
    set_param(&mut params, "Latitude", &latitude.to_string());
    set_param(&mut params, "Longitude", &longitude.to_string());
    set_param(&mut params, "NumMedia", "0");
    set_param(&mut params, "Body", "");
    params
}

/// A quick-reply button tap (`inbound_whatsapp_template_button.txt`: `ButtonText`, the body is the button's text).
/// `ButtonPayload` is added only when given: the fixtures do not verify it.
pub fn inbound_button(
    party: &TwilioParty,
    message_sid: &str,
    text: &str,
    payload: Option<&str>,
) -> Vec<(String, String)> {
    let mut params = fixture_params("inbound_whatsapp_template_button.txt");
    apply_inbound(&mut params, party, message_sid);
    set_param(&mut params, "Body", text);
    set_param(&mut params, "ButtonText", text);
    if let Some(payload) = payload {
        set_param(&mut params, "ButtonPayload", payload);
        set_param(&mut params, "MessageType", "button");
    }
    params
}

/// A status callback (`status_callback_sent_full.txt`, the full field set) for `sent`, `delivered`, `read`, ….
pub fn status_callback(party: &TwilioParty, message_sid: &str, status: &str) -> Vec<(String, String)> {
    let mut params = fixture_params("status_callback_sent_full.txt");
    remove_param(&mut params, "MessagingServiceSid");
    set_param(&mut params, "MessageSid", message_sid);
    set_param(&mut params, "SmsSid", message_sid);
    set_param(&mut params, "MessageStatus", status);
    set_param(&mut params, "SmsStatus", status);
    set_param(&mut params, "AccountSid", &party.account_sid);
    set_param(&mut params, "To", &party.customer_address());
    set_param(&mut params, "From", &party.business_address());
    params
}

/// A `failed` (or `undelivered`) status callback with `ErrorCode` and, when given, `ErrorMessage`
/// (`status_callback_failed_30008_with_message.txt`).
pub fn status_failed(
    party: &TwilioParty,
    message_sid: &str,
    status: &str,
    error_code: u32,
    error_message: Option<&str>,
) -> Vec<(String, String)> {
    let mut params = fixture_params("status_callback_failed_30008_with_message.txt");
    remove_param(&mut params, "MessagingServiceSid");
    set_param(&mut params, "MessageSid", message_sid);
    set_param(&mut params, "SmsSid", message_sid);
    set_param(&mut params, "MessageStatus", status);
    set_param(&mut params, "AccountSid", &party.account_sid);
    set_param(&mut params, "From", &party.business_address());
    set_param(&mut params, "To", &party.customer_address());
    set_param(&mut params, "ErrorCode", &error_code.to_string());
    match error_message {
        Some(message) => set_param(&mut params, "ErrorMessage", message),
        None => remove_param(&mut params, "ErrorMessage"),
    }
    params
}

/// `base64(HMAC-SHA1(auth_token, url + name₁value₁name₂value₂…))` with names sorted and each name's values sorted
/// and de-duplicated, as twilio-python's `RequestValidator.compute_signature`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name).or_default().insert(value);
    }
    let mut payload = url.to_owned();
    for (name, values) in sorted {
        for value in values {
            payload.push_str(name);
            payload.push_str(value);
        }
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A Twilio webhook to `url` (the exact URL it is posted to: the signature covers it): the form body and
/// `X-Twilio-Signature`.
pub fn signed(url: &str, params: &[(String, String)], auth_token: &str) -> BuiltWebhook {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    BuiltWebhook {
        content_type: "application/x-www-form-urlencoded".to_owned(),
        headers: vec![("x-twilio-signature".to_owned(), signature(auth_token, url, params))],
        body: body.into_bytes(),
    }
}
