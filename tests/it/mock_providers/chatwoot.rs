//! The Chatwoot Application API mock (one account, one WhatsApp inbox, contacts and conversations kept in memory)
//! and the builder of its `message_created` webhooks.
//!
//! Response shapes follow Chatwoot's jbuilder views (`contacts/create`, `contacts/search`, `conversations/create`
//! via the conversation partial, `conversations/messages/create`): notably the message API answers `message_type`
//! as an integer (`message_type_before_type_cast`), while webhooks carry the string.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    Answer, BuiltWebhook, Failure, Recorded, Shared, bytes_reply, digits, fixture_json, insert, json_reply, now_secs,
    set,
};

/// The one inbox the mock has.
pub const INBOX_ID: i64 = 1;
pub const INBOX_NAME: &str = "Mock WhatsApp";

/// Contacts, conversations and messages created through the API.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) contacts: Vec<Value>,
    conversations: Vec<Conversation>,
    last_message_id: i64,
}

#[derive(Debug, Clone)]
struct Conversation {
    id: i64,
    contact_id: i64,
    inbox_id: i64,
    status: String,
    created_at: i64,
}

impl State {
    /// Adds a contact with a contact inbox in the WhatsApp inbox (source id = the number without `+`, as Chatwoot's
    /// WhatsApp channel makes it) and returns its id.
    pub(super) fn insert_contact(&mut self, name: &str, phone: &str) -> i64 {
        let id = i64::try_from(self.contacts.len()).unwrap() + 1;
        let now = now_secs();
        self.contacts.push(json!({
            "additional_attributes": {},
            "availability_status": "offline",
            "email": null,
            "id": id,
            "name": name,
            "phone_number": phone,
            "blocked": false,
            "identifier": null,
            "thumbnail": "",
            "custom_attributes": {},
            "last_activity_at": null,
            "created_at": now,
            "contact_inboxes": [ { "source_id": digits(phone), "inbox": inbox_json(INBOX_ID) } ],
        }));
        id
    }

    fn contact(&self, id: i64) -> Option<&Value> {
        self.contacts.iter().find(|c| c["id"] == id)
    }

    fn contact_by_source_id(&self, source_id: &str) -> Option<&Value> {
        self.contacts.iter().find(|c| {
            c["contact_inboxes"].as_array().is_some_and(|inboxes| inboxes.iter().any(|i| i["source_id"] == source_id))
        })
    }

    fn conversation(&self, id: i64) -> Option<&Conversation> {
        self.conversations.iter().find(|c| c.id == id)
    }

    fn phone_of_conversation(&self, id: i64) -> Option<String> {
        let conversation = self.conversation(id)?;
        self.contact(conversation.contact_id)?["phone_number"].as_str().map(str::to_owned)
    }
}

/// The inbox as `GET /inboxes/{id}` and contact inboxes show it.
fn inbox_json(id: i64) -> Value {
    json!({
        "id": id,
        "avatar_url": "",
        "channel_id": id,
        "name": INBOX_NAME,
        "channel_type": "Channel::Whatsapp",
        "greeting_enabled": false,
        "greeting_message": null,
        "working_hours_enabled": false,
        "enable_email_collect": true,
        "csat_survey_enabled": false,
        "enable_auto_assignment": true,
        "phone_number": "+15550100",
        "provider": "whatsapp_cloud",
    })
}

/// The contact without its contact inboxes, as the conversation partial embeds it.
fn contact_summary(contact: &Value) -> Value {
    let mut contact = contact.clone();
    if let Some(object) = contact.as_object_mut() {
        object.remove("contact_inboxes");
    }
    contact
}

/// The answer to a scripted failure, as Chatwoot (Rails, Rack::Attack) gives it.
pub(super) fn failure(failure: Failure) -> axum::response::Response {
    match failure {
        Failure::RateLimited => bytes_reply(429, "text/plain", b"Retry later\n".to_vec()),
        Failure::TokenExpired => json_reply(401, &json!({ "error": "Invalid Access Token" })),
        Failure::ServerError => json_reply(500, &json!({ "status": 500, "error": "Internal Server Error" })),
        Failure::OutsideWindow => unreachable!("refused when scripted"),
        Failure::Down => unreachable!("handled by the connection"),
    }
}

/// Sends are message creations (and conversation creations with an opening message); the recipient is the
/// conversation's contact.
pub(super) fn classify(shared: &Shared, recorded: &Recorded) -> (bool, Option<String>) {
    if recorded.method != "POST" {
        return (false, None);
    }
    let state = shared.chatwoot.lock().unwrap();
    match recorded.segments().as_slice() {
        ["api", "v1", "accounts", _, "conversations", id, "messages"] => {
            (true, id.parse().ok().and_then(|id| state.phone_of_conversation(id)))
        }
        ["api", "v1", "accounts", _, "conversations"]
            if recorded.json.as_ref().is_some_and(|j| j["message"].is_object()) =>
        {
            let json = recorded.json.as_ref().unwrap();
            let contact = json["contact_id"]
                .as_i64()
                .and_then(|id| state.contact(id))
                .or_else(|| json["source_id"].as_str().and_then(|s| state.contact_by_source_id(s)));
            (true, contact.and_then(|c| c["phone_number"].as_str().map(str::to_owned)))
        }
        _ => (false, None),
    }
}

fn not_found() -> Answer {
    Answer::Reply(json_reply(404, &json!({ "error": "Resource could not be found" })))
}

/// Rails' answer to an invalid record: the messages joined, and the attributes at fault.
fn record_invalid(message: &str, attribute: &str) -> Answer {
    Answer::Reply(json_reply(422, &json!({ "message": message, "attributes": [attribute] })))
}

pub(super) fn route(shared: &Shared, recorded: &Recorded) -> Answer {
    let auth = shared.auth();
    let segments = recorded.segments();
    let ["api", "v1", "accounts", account, rest @ ..] = segments.as_slice() else {
        return Answer::Reply(json_reply(404, &json!({ "status": 404, "error": "Not Found" })));
    };
    if recorded.header("api_access_token") != Some(auth.token.as_str()) {
        return Answer::Reply(failure(Failure::TokenExpired));
    }
    if *account != auth.account {
        return Answer::Reply(json_reply(401, &json!({ "error": "You are not authorized to access this account" })));
    }
    let account_id: i64 = account.parse().unwrap_or_default();
    match (recorded.method.as_str(), rest) {
        ("GET", ["contacts", "search"]) => search(shared, recorded),
        ("POST", ["contacts"]) => create_contact(shared, recorded),
        ("POST", ["conversations"]) => create_conversation(shared, recorded, account_id),
        ("POST", ["conversations", id, "messages"]) => match id.parse() {
            Ok(id) => create_message(shared, recorded, id),
            Err(_) => not_found(),
        },
        ("POST", ["conversations", id, "update_last_seen"]) => {
            let state = shared.chatwoot.lock().unwrap();
            match id.parse().ok().and_then(|id| state.conversation(id)) {
                // The view renders the conversation partial (update_last_seen.json.jbuilder).
                Some(conversation) => {
                    Answer::Reply(json_reply(200, &conversation_json(&state, conversation, account_id)))
                }
                None => not_found(),
            }
        }
        ("GET", ["inboxes", id]) if id.parse() == Ok(INBOX_ID) => Answer::Reply(json_reply(200, &inbox_json(INBOX_ID))),
        _ => not_found(),
    }
}

/// `GET /contacts/search?q=`: name, email, phone number or identifier containing `q` (case-insensitive, like the
/// ILIKE Chatwoot runs), 15 per page.
fn search(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(q) = recorded.query_value("q").filter(|q| !q.is_empty()) else {
        return Answer::Reply(json_reply(422, &json!({ "error": "Specify search string with parameter q" })));
    };
    let page: usize = recorded.query_value("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let needle = q.to_lowercase();
    let state = shared.chatwoot.lock().unwrap();
    let found: Vec<Value> = state
        .contacts
        .iter()
        .filter(|c| {
            ["name", "email", "phone_number", "identifier"]
                .iter()
                .any(|field| c[field].as_str().is_some_and(|v| v.to_lowercase().contains(&needle)))
        })
        .cloned()
        .collect();
    let count = found.len();
    let payload: Vec<Value> = found.into_iter().skip((page - 1) * 15).take(15).collect();
    Answer::Reply(json_reply(200, &json!({ "meta": { "count": count, "current_page": page }, "payload": payload })))
}

/// `POST /contacts`: an E.164 phone, unique in the account; answers the contact and its contact inbox.
fn create_contact(shared: &Shared, recorded: &Recorded) -> Answer {
    let Some(body) = recorded.json.as_ref() else {
        return record_invalid("Name can't be blank", "name");
    };
    let phone = body["phone_number"].as_str();
    if let Some(phone) = phone {
        let e164 = phone.strip_prefix('+').is_some_and(|rest| {
            (2..=15).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit()) && !rest.starts_with('0')
        });
        if !e164 {
            return record_invalid("Phone number should be in e164 format", "phone_number");
        }
    }
    let mut state = shared.chatwoot.lock().unwrap();
    if let Some(phone) = phone
        && state.contacts.iter().any(|c| c["phone_number"] == phone)
    {
        return record_invalid("Phone number has already been taken", "phone_number");
    }
    let name = body["name"].as_str().unwrap_or_default();
    let id = state.insert_contact(name, phone.unwrap_or_default());
    let contact = state.contacts.last_mut().unwrap();
    if phone.is_none() {
        set(contact, "/phone_number", Value::Null);
    }
    for field in ["email", "identifier"] {
        if let Some(value) = body[field].as_str() {
            set(contact, &format!("/{field}"), value);
        }
    }
    // Without an inbox there is no contact inbox (the swagger marks inbox_id required; the controller tolerates it).
    let inbox_id = body["inbox_id"].as_i64();
    if inbox_id.is_none() {
        set(contact, "/contact_inboxes", json!([]));
    }
    let contact = state.contact(id).unwrap().clone();
    let contact_inbox = match inbox_id {
        Some(inbox_id) => {
            json!({ "inbox": inbox_json(inbox_id), "source_id": contact["contact_inboxes"][0]["source_id"] })
        }
        None => json!({ "inbox": null, "source_id": null }),
    };
    Answer::Reply(json_reply(200, &json!({ "payload": { "contact": contact, "contact_inbox": contact_inbox } })))
}

/// The conversation partial (`api/v1/conversations/partials/_conversation.json.jbuilder`).
fn conversation_json(state: &State, conversation: &Conversation, account_id: i64) -> Value {
    let sender = state.contact(conversation.contact_id).map(contact_summary).unwrap_or(Value::Null);
    let now = now_secs();
    json!({
        "meta": { "sender": sender, "channel": "Channel::Whatsapp", "hmac_verified": false },
        "id": conversation.id,
        "messages": [],
        "account_id": account_id,
        "uuid": uuid::Uuid::new_v4().to_string(),
        "additional_attributes": {},
        "agent_last_seen_at": 0,
        "assignee_last_seen_at": 0,
        "can_reply": true,
        "contact_last_seen_at": 0,
        "custom_attributes": {},
        "inbox_id": conversation.inbox_id,
        "labels": [],
        "muted": false,
        "snoozed_until": null,
        "status": conversation.status,
        "created_at": conversation.created_at,
        "timestamp": now,
        "first_reply_created_at": 0,
        "unread_count": 0,
        "last_non_activity_message": null,
        "last_activity_at": now,
        "priority": null,
        "waiting_since": 0,
        "sla_policy_id": null,
    })
}

/// `POST /conversations` `{source_id, inbox_id, contact_id, status?, message?}`.
fn create_conversation(shared: &Shared, recorded: &Recorded, account_id: i64) -> Answer {
    let Some(body) = recorded.json.as_ref() else {
        return record_invalid("Source can't be blank", "source_id");
    };
    let Some(source_id) = body["source_id"].as_str().filter(|s| !s.is_empty()) else {
        return record_invalid("Source can't be blank", "source_id");
    };
    let inbox_id = body["inbox_id"].as_i64().or_else(|| body["inbox_id"].as_str().and_then(|s| s.parse().ok()));
    if inbox_id != Some(INBOX_ID) {
        return not_found();
    }
    let mut state = shared.chatwoot.lock().unwrap();
    let contact_id = body["contact_id"]
        .as_i64()
        .filter(|id| state.contact(*id).is_some())
        .or_else(|| state.contact_by_source_id(source_id).and_then(|c| c["id"].as_i64()));
    let Some(contact_id) = contact_id else {
        return not_found();
    };
    let opening = body.pointer("/message/content").and_then(Value::as_str);
    if opening.is_some()
        && let Some(failure) = shared.recipient_failure(recorded.recipient.as_deref())
    {
        return Answer::Fail(failure);
    }
    let id = i64::try_from(state.conversations.len()).unwrap() + 1;
    let status = body["status"].as_str().unwrap_or("open").to_owned();
    let conversation = Conversation { id, contact_id, inbox_id: INBOX_ID, status, created_at: now_secs() };
    state.conversations.push(conversation.clone());
    let mut answer = conversation_json(&state, &conversation, account_id);
    if let Some(content) = opening {
        // The opening message is created with the conversation and shows in `messages`.
        state.last_message_id += 1;
        let message_id = state.last_message_id;
        let message = message_json(message_id, content, 1, id, false, None);
        set(&mut answer, "/messages", json!([message]));
        return Answer::Sent(json_reply(200, &answer), message_id.to_string());
    }
    Answer::Reply(json_reply(200, &answer))
}

/// The message view (`conversations/messages/create.json.jbuilder`); `message_type` as the integer column.
fn message_json(
    id: i64,
    content: &str,
    message_type: i64,
    conversation_id: i64,
    private: bool,
    echo_id: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "content": content,
        "inbox_id": INBOX_ID,
        "echo_id": echo_id,
        "conversation_id": conversation_id,
        "message_type": message_type,
        "content_type": "text",
        "content_attributes": {},
        "created_at": now_secs(),
        "private": private,
        "sender": {
            "id": 1,
            "name": "Mock Agent",
            "available_name": "Mock Agent",
            "avatar_url": "",
            "type": "user",
            "availability_status": "online",
            "thumbnail": "",
        },
    })
}

/// `POST /conversations/{id}/messages` (JSON, or multipart with `attachments[]`).
fn create_message(shared: &Shared, recorded: &Recorded, conversation_id: i64) -> Answer {
    let field = |name: &str| -> Option<String> {
        match recorded.json.as_ref() {
            Some(json) => json
                .get(name)
                .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_bool().map(|b| b.to_string()))),
            None => recorded.form_value(name).map(str::to_owned),
        }
    };
    let attachments: Vec<_> = recorded.parts.iter().filter(|p| p.filename.is_some()).collect();
    let has_template = recorded.json.as_ref().is_some_and(|j| j["template_params"].is_object());
    let content = field("content").unwrap_or_default();
    if content.is_empty() && attachments.is_empty() && !has_template {
        return record_invalid("Content can't be blank", "content");
    }
    let message_type = match field("message_type").as_deref() {
        None | Some("outgoing") => 1,
        Some("incoming") => 0,
        Some("activity") => 2,
        Some("template") => 3,
        Some(other) => return record_invalid(&format!("'{other}' is not a valid message_type"), "message_type"),
    };
    let private = field("private").as_deref() == Some("true");
    let mut state = shared.chatwoot.lock().unwrap();
    if state.conversation(conversation_id).is_none() {
        return not_found();
    }
    if let Some(failure) = shared.recipient_failure(recorded.recipient.as_deref()) {
        return Answer::Fail(failure);
    }
    state.last_message_id += 1;
    let id = state.last_message_id;
    let mut message = message_json(id, &content, message_type, conversation_id, private, field("echo_id").as_deref());
    if !attachments.is_empty() {
        let list: Vec<Value> = attachments
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mime = part.content_type.clone().unwrap_or_default();
                let file_type = match mime.split('/').next() {
                    Some(kind @ ("image" | "audio" | "video")) => kind.to_owned(),
                    _ => "file".to_owned(),
                };
                json!({
                    "id": i + 1,
                    "message_id": id,
                    "file_type": file_type,
                    "account_id": shared.auth().account.parse::<i64>().unwrap_or_default(),
                    "extension": null,
                    "data_url": format!("{}/rails/active_storage/blobs/{}", shared.origin, part.filename.clone().unwrap_or_default()),
                    "thumb_url": "",
                    "file_size": part.data.len(),
                })
            })
            .collect();
        insert(&mut message, "", "attachments", list);
    }
    Answer::Sent(json_reply(200, &message), id.to_string())
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks.

/// The account, inbox, conversation, contact and agent a `message_created` webhook is about.
#[derive(Debug, Clone)]
pub struct ChatwootParty {
    pub account_id: i64,
    pub account_name: String,
    pub inbox_id: i64,
    pub inbox_name: String,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub contact_name: String,
    /// The contact's phone, E.164.
    pub phone: String,
    pub agent_id: i64,
    pub agent_name: String,
}

impl ChatwootParty {
    pub fn new(account_id: i64, conversation_id: i64, contact_id: i64, phone: &str) -> Self {
        Self {
            account_id,
            account_name: "Mock Account".to_owned(),
            inbox_id: INBOX_ID,
            inbox_name: INBOX_NAME.to_owned(),
            conversation_id,
            contact_id,
            contact_name: "Kerry Fisher".to_owned(),
            phone: phone.to_owned(),
            agent_id: 1,
            agent_name: "Mock Agent".to_owned(),
        }
    }
}

/// A `message_created` webhook (`webhook_message_created_api_channel_docs_2020.json`, with the `private` and
/// `conversation.contact_inbox` members today's payloads carry): `incoming` from the contact, or `outgoing` from an
/// agent. `source_id` is the provider's message id (a wamid for WhatsApp), null for an agent's fresh message.
pub fn message_created(
    party: &ChatwootParty,
    message_id: i64,
    content: &str,
    incoming: bool,
    source_id: Option<&str>,
) -> Value {
    let mut value = fixture_json("chatwoot/webhook_message_created_api_channel_docs_2020.json");
    let now = now_secs();
    set(&mut value, "/id", message_id);
    set(&mut value, "/content", content);
    set(&mut value, "/created_at", jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    set(&mut value, "/message_type", if incoming { "incoming" } else { "outgoing" });
    set(&mut value, "/content_type", "text");
    set(&mut value, "/source_id", source_id.map_or(Value::Null, Value::from));
    insert(&mut value, "", "private", false);
    let sender = if incoming {
        json!({
            "id": party.contact_id, "name": party.contact_name, "avatar": "", "type": "contact",
            "phone_number": party.phone, "email": null, "identifier": null, "thumbnail": "",
            "additional_attributes": {}, "custom_attributes": {},
        })
    } else {
        json!({ "id": party.agent_id, "name": party.agent_name, "avatar": "", "type": "user", "email": null })
    };
    set(&mut value, "/sender", sender);
    set(&mut value, "/inbox/id", party.inbox_id);
    set(&mut value, "/inbox/name", party.inbox_name.clone());
    set(&mut value, "/conversation/channel", "Channel::Whatsapp");
    set(&mut value, "/conversation/id", party.conversation_id);
    set(&mut value, "/conversation/inbox_id", party.inbox_id);
    set(&mut value, "/conversation/additional_attributes", json!({}));
    set(&mut value, "/conversation/timestamp", now);
    insert(
        &mut value,
        "/conversation",
        "contact_inbox",
        json!({
            "contact_id": party.contact_id, "inbox_id": party.inbox_id, "source_id": digits(&party.phone),
        }),
    );
    set(&mut value, "/account/id", party.account_id);
    set(&mut value, "/account/name", party.account_name.clone());
    value
}

/// An unsigned Chatwoot webhook (the app authenticates it by the secret in its URL).
pub fn unsigned(value: &Value) -> BuiltWebhook {
    BuiltWebhook::json(value)
}

/// A webhook signed as Chatwoot's 2026 releases do: `X-Chatwoot-Signature: sha256=hex(HMAC-SHA256(secret,
/// "{timestamp}.{body}"))`, `X-Chatwoot-Timestamp`, `X-Chatwoot-Delivery`. The signed string is UNVERIFIED (see
/// `api_and_webhooks_reference.txt`).
pub fn signed(value: &Value, secret: &str, timestamp: i64) -> BuiltWebhook {
    let mut built = BuiltWebhook::json(value);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&built.body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    built.headers.push(("x-chatwoot-signature".to_owned(), signature));
    built.headers.push(("x-chatwoot-timestamp".to_owned(), timestamp.to_string()));
    built.headers.push(("x-chatwoot-delivery".to_owned(), uuid::Uuid::new_v4().to_string()));
    built
}
