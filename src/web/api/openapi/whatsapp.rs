//! The WhatsApp part of the OpenAPI document: numbers, conversations, messages and media.

use serde_json::{Value, json};

use super::*;

pub(super) fn whatsapp_paths() -> Value {
    let number_id = id_parameter("WhatsApp number");
    let conversation_id = id_parameter("conversation");
    let message_id = id_parameter("message");
    let manage = "Needs an `admin` key.";
    let send_note = "Needs a `write` or `admin` key. The message is stored `pending` with its send job; the answer \
        comes at once and `status` moves to `sent`, `delivered`, `read` or `failed` as the provider reports. Refused \
        with 409 when it cannot be sent: outside the 24-hour window (official APIs; send a template), a quota used \
        up (warm-up, Meta messaging limit, the agent's daily quota), a disabled number, or a kind the number's \
        provider does not support.";
    let page = json!([
        { "name": "cursor", "in": "query", "required": false, "schema": { "type": "string" },
          "description": "`next_cursor` of the previous page." },
        { "name": "limit", "in": "query", "required": false,
          "schema": { "type": "integer", "minimum": 1, "maximum": 100 } },
    ]);
    let mut list_params = json!([
        { "name": "whatsapp_account_id", "in": "query", "required": false, "schema": { "type": "integer" } },
        { "name": "status", "in": "query", "required": false,
          "schema": { "type": "string", "enum": ["open", "pending", "resolved", "archived"] } },
        { "name": "assignee", "in": "query", "required": false, "schema": { "type": "string" },
          "description": "A user id, or `none` for unassigned conversations." },
        { "name": "q", "in": "query", "required": false, "schema": { "type": "string" },
          "description": "Matches the contact's name or phone number (substring), or a word of a message's text (full text; SQLite also matches the last word as a prefix). Typed text is never search syntax." },
        { "name": "tab", "in": "query", "required": false,
          "schema": { "type": "string", "enum": ["open", "mine", "unassigned", "all"] },
          "description": "`open`: open and not snoozed. `mine`: open or pending, not snoozed, assigned to the key's user (API keys have none: empty). `unassigned`: open or pending, not snoozed, assigned to nobody. `all` or absent: any state." },
        { "name": "tag_id", "in": "query", "required": false, "schema": { "type": "integer" },
          "description": "Only conversations with this tag." },
    ]);
    if let (Some(list), Some(extra)) = (list_params.as_array_mut(), page.as_array()) {
        list.extend(extra.iter().cloned());
    }
    let mut messages_params = conversation_id.clone();
    if let (Some(list), Some(extra)) = (messages_params.as_array_mut(), page.as_array()) {
        list.extend(extra.iter().cloned());
    }
    json!({
        "/api/v1/whatsapp-accounts": {
            "get": operation("listWhatsAppAccounts", "whatsapp", "The workspace's WhatsApp numbers",
                "Any scope. Secret credentials are never returned, only whether they are set; the webhook secret and verify token only to admin keys.",
                responses(&[("200", ok("The numbers.", "WhatsAppAccountList"))])),
            "post": with(
                operation("createWhatsAppAccount", "whatsapp", "Connect a number",
                    &format!("{manage} Credential fields carry the provider's own names. The answer holds `webhook_url` (and `verify_token` for Meta, `webhook_secret` for 360dialog, Chatwoot and Evolution) to paste into the provider's console. Counts against the numbers limit (409)."),
                    responses(&[("201", ok("The number.", "WhatsAppAccount")), ("409", error("Conflict")), ("422", error("Invalid"))])),
                "requestBody", body("NewWhatsAppAccount"),
            ),
        },
        "/api/v1/whatsapp-accounts/{id}": {
            "get": with(
                operation("getWhatsAppAccount", "whatsapp", "One number", "Any scope.",
                    responses(&[("200", ok("The number.", "WhatsAppAccount")), ("404", error("NotFound"))])),
                "parameters", number_id.clone(),
            ),
            "patch": with(with(
                operation("updateWhatsAppAccount", "whatsapp", "Change a number",
                    &format!("{manage} Credentials merge: the fields sent replace the stored ones."),
                    responses(&[("200", ok("The number.", "WhatsAppAccount")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", number_id.clone()), "requestBody", body("WhatsAppAccountChange"),
            ),
            "delete": with(
                operation("deleteWhatsAppAccount", "whatsapp", "Disconnect a number",
                    &format!("{manage} Its conversations and messages are deleted with it."),
                    responses(&[("204", no_content("Disconnected.")), ("404", error("NotFound"))])),
                "parameters", number_id.clone(),
            ),
        },
        "/api/v1/whatsapp-accounts/{id}/test": {
            "post": with(
                operation("testWhatsAppAccount", "whatsapp", "Test the connection",
                    &format!("{manage} Calls the provider with the stored credentials and records the result."),
                    responses(&[("200", ok("The result.", "ConnectionTest")), ("404", error("NotFound"))])),
                "parameters", number_id,
            ),
        },
        "/api/v1/conversations": {
            "get": with(
                operation("listConversations", "conversations", "Conversations, most recent activity first",
                    "Any scope. Agents' keys see unassigned conversations only; managers and admins see all.",
                    responses(&[("200", ok("A page of conversations.", "ConversationList")), ("422", error("Invalid"))])),
                "parameters", list_params,
            ),
        },
        "/api/v1/conversations/{id}": {
            "get": with(
                operation("getConversation", "conversations", "One conversation", "Any scope.",
                    responses(&[("200", ok("The conversation.", "Conversation")), ("404", error("NotFound"))])),
                "parameters", conversation_id.clone(),
            ),
        },
        "/api/v1/conversations/{id}/messages": {
            "get": with(
                operation("listMessages", "conversations", "A conversation's messages, newest first", "Any scope.",
                    responses(&[("200", ok("A page of messages.", "MessageList")), ("404", error("NotFound"))])),
                "parameters", messages_params,
            ),
            "post": with(with(
                operation("sendInConversation", "messages", "Reply in a conversation", send_note,
                    responses(&[("201", ok("The message, pending.", "Message")), ("404", error("NotFound")),
                                ("409", error("Conflict")), ("422", error("Invalid"))])),
                "parameters", conversation_id), "requestBody", body("Compose"),
            ),
        },
        "/api/v1/conversations/{id}/read": {
            "post": with(
                operation("markConversationRead", "conversations", "Mark a conversation read",
                    "Needs a `write` or `admin` key. No unread messages are left; where the number's provider supports it (Meta, 360dialog, Chatwoot, Evolution), the customer's latest message is marked read at the provider by a background job.",
                    responses(&[("200", ok("The conversation.", "Conversation")), ("404", error("NotFound"))])),
                "parameters", id_parameter("conversation"),
            ),
        },
        "/api/v1/messages": {
            "post": with(
                operation("sendMessage", "messages", "Start a conversation (or write in the existing one)", send_note,
                    responses(&[("201", ok("The message, pending.", "Message")), ("409", error("Conflict")), ("422", error("Invalid"))])),
                "requestBody", body("NewMessage"),
            ),
        },
        "/api/v1/messages/{id}": {
            "get": with(
                operation("getMessage", "messages", "One message and its status", "Any scope.",
                    responses(&[("200", ok("The message.", "Message")), ("404", error("NotFound"))])),
                "parameters", message_id.clone(),
            ),
        },
        "/api/v1/messages/{id}/retry": {
            "post": with(
                operation("retryMessage", "messages", "Send a failed message again",
                    "Needs a `write` or `admin` key. Only failed outbound messages that never reached the provider (409 otherwise).",
                    responses(&[("200", ok("The message, pending again.", "Message")), ("404", error("NotFound")), ("409", error("Conflict"))])),
                "parameters", message_id,
            ),
        },
        "/api/v1/media": {
            "post": with(
                operation("uploadMedia", "messages", "Upload a file to send",
                    "Needs a `write` or `admin` key. Multipart form data with `kind` (image, document, audio, video, sticker) and `file` (up to 100 MB). Send it with `{\"media\": {\"kind\", \"media_id\"}}`.",
                    responses(&[("201", ok("The stored file.", "Media")), ("413", { json!({ "description": "The file is larger than 100 MB." }) }), ("422", error("Invalid"))])),
                "requestBody", json!({ "required": true, "content": { "multipart/form-data": { "schema": {
                    "type": "object", "required": ["kind", "file"],
                    "properties": { "kind": { "type": "string" }, "file": { "type": "string", "format": "binary" } } } } } }),
            ),
        },
        "/api/v1/media/{id}": {
            "get": with(
                operation("downloadMedia", "messages", "A stored file's bytes",
                    "Any scope. Inbound files are fetched from the provider by a job; until then 409.",
                    responses(&[("200", json!({ "description": "The file.", "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } })),
                                ("404", error("NotFound")), ("409", error("Conflict"))])),
                "parameters", id_parameter("file"),
            ),
        },
    })
}

pub(super) fn whatsapp_schemas() -> Value {
    let time = |description: &str| json!({ "type": "string", "format": "date-time", "description": description });
    let time_or_null =
        |description: &str| json!({ "type": ["string", "null"], "format": "date-time", "description": description });
    json!({
        "WhatsAppAccountList": { "type": "object", "required": ["whatsapp_accounts"],
            "properties": { "whatsapp_accounts": { "type": "array", "items": schema("WhatsAppAccount") } } },
        "NewWhatsAppAccount": {
            "type": "object", "additionalProperties": false, "required": ["name", "provider", "phone_number"],
            "properties": {
                "name": { "type": "string", "maxLength": 100 },
                "provider": { "type": "string", "enum": ["meta", "360dialog", "twilio", "chatwoot", "evolution"] },
                "phone_number": { "type": "string", "description": "The business number with its country code." },
                "credentials": { "type": "object", "additionalProperties": { "type": "string" },
                    "description": "By the provider's own names. Meta: `access_token`, `phone_number_id`, `app_secret`, `waba_id` (optional). 360dialog: `api_key`. Twilio: `account_sid`, `auth_token`, `from`. Chatwoot: `api_access_token`, `account_id`, `inbox_id`. Evolution: `api_key`, `instance`." },
                "api_base_url": nullable("string", "The provider's API base URL; required for Evolution (self-hosted), optional for the others."),
            },
            "example": { "name": "Support", "provider": "meta", "phone_number": "+15550100",
                         "credentials": { "access_token": "EAAG…", "phone_number_id": "106540352242922", "app_secret": "…" } },
        },
        "WhatsAppAccountChange": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "name": { "type": "string" },
                "credentials": { "type": "object", "additionalProperties": { "type": "string" } },
                "api_base_url": nullable("string", "null or empty: the provider's default."),
                "status": { "type": "string", "enum": ["active", "disabled"] },
                "warmup_enabled": { "type": "boolean" },
                "warmup_schedule": { "type": "array", "items": { "type": "integer", "minimum": 1 },
                    "description": "Messages per day for week 1, 2, …; the last holds afterwards. Not decreasing." },
                "messaging_limit": nullable("integer", "Meta's messaging limit tier (unique users per 24 h); null is unlimited."),
                "throughput_per_second": { "type": "integer", "minimum": 1, "maximum": 1000 },
            },
        },
        "WhatsAppAccount": {
            "type": "object",
            "required": ["id", "name", "provider", "phone_number", "status", "webhook_url", "credentials", "capabilities", "quota"],
            "properties": {
                "id": { "type": "integer" },
                "name": { "type": "string" },
                "provider": { "type": "string" },
                "provider_label": { "type": "string" },
                "phone_number": { "type": "string", "description": "E.164." },
                "status": { "type": "string", "enum": ["active", "disabled"] },
                "api_base_url": nullable("string", "Set on the account; null means the provider's default."),
                "webhook_url": { "type": "string", "description": "Paste into the provider's console." },
                "verify_token": { "type": "string", "description": "Meta only: the verify token of the webhook handshake." },
                "webhook_secret": { "type": "string", "description": "360dialog, Chatwoot, Evolution: the secret the webhook URL carries." },
                "credentials": { "type": "array", "items": { "type": "object", "properties": {
                    "name": { "type": "string" }, "secret": { "type": "boolean" }, "required": { "type": "boolean" },
                    "value": { "type": "string", "description": "Only for non-secret fields." }, "set": { "type": "boolean" } } } },
                "capabilities": { "type": "array", "items": { "type": "object", "properties": {
                    "name": { "type": "string", "enum": ["text", "templates", "media", "media_upload", "interactive", "mark_read", "customer_window"] },
                    "supported": { "type": "boolean" } } } },
                "quota": { "type": "object", "properties": {
                    "warmup_enabled": { "type": "boolean" },
                    "warmup_schedule": { "type": "array", "items": { "type": "integer" } },
                    "warmup_week": { "type": "integer" },
                    "daily_quota": nullable("integer", "Today's warm-up cap; null without warm-up."),
                    "sent_today": { "type": "integer" },
                    "messaging_limit": nullable("integer", "Meta's messaging limit; null is unlimited."),
                    "business_initiated_24h": { "type": "integer" },
                    "throughput_per_second": { "type": "integer" } } },
                "connection_state": nullable("string", "As a gateway reports it (Evolution: open, connecting, close)."),
                "last_test_at": time_or_null("The last connection test."),
                "last_test_ok": nullable("boolean", "Whether it passed."),
                "last_test_detail": nullable("string", "What answered, or why it failed."),
                "last_webhook_at": time_or_null("The last webhook received."),
                "created_at": time("Connected."),
                "updated_at": time("Last changed."),
            },
        },
        "ConnectionTest": { "type": "object", "required": ["ok", "detail"], "properties": {
            "ok": { "type": "boolean" }, "detail": { "type": "string" },
            "failure": { "type": "string", "enum": ["unauthorized", "rate_limited", "outside_window", "invalid_recipient", "transient", "permanent", "misconfigured"] } } },
        "ConversationList": { "type": "object", "required": ["conversations"], "properties": {
            "conversations": { "type": "array", "items": schema("Conversation") },
            "next_cursor": nullable("string", "Pass as `cursor` for the next page; null on the last.") } },
        "Conversation": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "whatsapp_account_id": { "type": "integer" },
                "whatsapp_account_name": { "type": "string" },
                "contact": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "name": { "type": "string" }, "phone_number": nullable("string", "E.164, when known.") } },
                "status": { "type": "string", "enum": ["open", "pending", "resolved", "archived"] },
                "assignee_user_id": nullable("integer", "The assigned member."),
                "unread_count": { "type": "integer" },
                "last_message_at": time_or_null("The latest message."),
                "last_message_preview": nullable("string", "Its text, shortened."),
                "last_inbound_at": time_or_null("The customer's latest message: the 24-hour window runs from it."),
                "snoozed_until": time_or_null("Hidden from the open tab until then; reopens at that time or on a new customer message."),
                "window_open": { "type": "boolean", "description": "Whether a free-form message may be sent now." },
                "created_at": time("Started."),
                "updated_at": time("Last changed."),
            },
        },
        "MessageList": { "type": "object", "required": ["messages"], "properties": {
            "messages": { "type": "array", "items": schema("Message") },
            "next_cursor": nullable("string", "Pass as `cursor` for older messages; null at the start.") } },
        "Message": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "conversation_id": { "type": "integer" },
                "whatsapp_account_id": { "type": "integer" },
                "direction": { "type": "string", "enum": ["inbound", "outbound"] },
                "provider_message_id": nullable("string", "The provider's id (wamid…, SM…), once sent."),
                "kind": { "type": "string", "description": "text, image, document, audio, video, sticker, location, reaction, button_reply, list_reply, template_button, contacts, template, unsupported." },
                "text": nullable("string", "The text, caption or reply title."),
                "details": { "type": ["object", "null"], "description": "By kind: template, media, location, reaction, reply, context_id." },
                "status": { "type": "string", "enum": ["pending", "sent", "delivered", "read", "played", "failed", "received"] },
                "error": { "type": ["object", "null"], "properties": { "code": { "type": ["string", "null"] }, "message": { "type": ["string", "null"] } },
                    "description": "Why it failed (or the last failed attempt while it is retried)." },
                "sent_by_user_id": nullable("integer", "The member who wrote it."),
                "occurred_at": time("When it happened (the provider's time for inbound messages)."),
                "sent_at": time_or_null("Accepted by the provider."),
                "delivered_at": time_or_null("Delivered."),
                "read_at": time_or_null("Read."),
                "failed_at": time_or_null("Failed."),
                "created_at": time("Stored."),
            },
        },
        "Compose": {
            "type": "object", "additionalProperties": false,
            "description": "Exactly one of `text`, `template`, `media` or `interactive`.",
            "properties": {
                "text": { "type": "string", "maxLength": 4096 },
                "template": { "type": "object", "required": ["name", "language"], "properties": {
                    "name": { "type": "string", "description": "The approved template's name (Twilio: its Content SID, HX…)." },
                    "language": { "type": "string", "example": "en_US" },
                    "variables": { "type": "array", "items": { "type": "string" }, "description": "Body variables {{1}}, {{2}}, … in order." } } },
                "media": { "type": "object", "required": ["kind"], "properties": {
                    "kind": { "type": "string", "enum": ["image", "document", "audio", "video", "sticker"] },
                    "url": { "type": "string", "description": "A public URL (providers with media by URL)." },
                    "media_id": { "type": "integer", "description": "An uploaded file (POST /api/v1/media)." },
                    "caption": { "type": "string" }, "filename": { "type": "string" } } },
                "interactive": { "type": "object", "required": ["type", "body"],
                    "description": "Reply buttons or a list (Meta and 360dialog). Buttons: 1–3, titles ≤ 20 characters. List: `button` label ≤ 20 characters, 1–10 rows in titled sections, row titles ≤ 24. The ids come back in the customer's reply.",
                    "properties": {
                        "type": { "type": "string", "enum": ["buttons", "list"] },
                        "body": { "type": "string", "maxLength": 1024 },
                        "buttons": { "type": "array", "items": schema("Choice") },
                        "button": { "type": "string" },
                        "sections": { "type": "array", "items": { "type": "object", "required": ["title", "rows"], "properties": {
                            "title": { "type": "string" }, "rows": { "type": "array", "items": schema("Choice") } } } } } },
            },
        },
        "Choice": { "type": "object", "required": ["id", "title"], "properties": {
            "id": { "type": "string" }, "title": { "type": "string" }, "description": { "type": "string", "description": "List rows only, ≤ 72 characters." } } },
        "NewMessage": {
            "allOf": [schema("Compose"), { "type": "object", "required": ["whatsapp_account_id", "to"], "properties": {
                "whatsapp_account_id": { "type": "integer" },
                "to": { "type": "string", "description": "The customer's number with its country code." } } }],
            "example": { "whatsapp_account_id": 1, "to": "+447700900123",
                         "template": { "name": "order_update", "language": "en_US", "variables": ["Ada", "#1042"] } },
        },
        "Media": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" }, "kind": { "type": "string" }, "mime": nullable("string", "Content type."),
                "filename": nullable("string", "File name."), "size": nullable("integer", "Bytes."),
                "sha256": nullable("string", "Hex SHA-256 of the bytes."),
                "state": { "type": "string", "enum": ["pending", "stored", "failed"] },
                "message_id": nullable("integer", "The message it belongs to, once sent."),
            },
        },
    })
}
