//! The composer and contact part of the OpenAPI document: `/api/v1/quick-replies` (with a reply filled for a
//! conversation) and `/api/v1/contacts`.

use serde_json::{Value, json};

use super::*;

pub(super) fn compose_paths() -> Value {
    let reply_id = id_parameter("quick reply");
    let contact_id = id_parameter("contact");
    let write = "Needs a `write` or `admin` key.";
    let placeholders = "Placeholders filled from the conversation: `{{contact.name}}`, `{{contact.first_name}}`, \
        `{{contact.phone}}`, `{{contact.email}}`, `{{contact.<custom field key>}}`, `{{agent.name}}` (empty for API \
        keys) and `{{number.name}}`. A placeholder that names nothing, or has no value in this conversation, stays \
        in the text as written, so a person sees it before sending; they are not refused when saved.";
    let mut render_params = id_parameter("conversation");
    if let Some(list) = render_params.as_array_mut() {
        list.push(json!({ "name": "quick_reply_id", "in": "path", "required": true,
            "description": "The quick reply's id.", "schema": { "type": "integer", "format": "int64" } }));
    }
    json!({
        "/api/v1/quick-replies": {
            "get": with(
                operation("listQuickReplies", "conversations", "The workspace-wide quick replies",
                    "Any scope. Personal quick replies belong to members and are never listed to keys.",
                    responses(&[("200", ok("The quick replies, by shortcut.", "QuickReplyList"))])),
                "parameters", json!([{ "name": "prefix", "in": "query", "required": false,
                    "schema": { "type": "string" }, "description": "Only shortcuts starting with this." }]),
            ),
            "post": with(
                operation("createQuickReply", "conversations", "Create a workspace-wide quick reply",
                    &format!("{write} The shortcut is `^[a-z0-9_-]{{1,32}}$`, unique in the workspace (422 otherwise); the body holds 1 to 4096 characters. {placeholders}"),
                    responses(&[("201", ok("The quick reply.", "QuickReply")), ("422", error("Invalid"))])),
                "requestBody", body("NewQuickReply"),
            ),
        },
        "/api/v1/quick-replies/{id}": {
            "patch": with(with(
                operation("updateQuickReply", "conversations", "Change a quick reply",
                    &format!("{write} Absent fields stay as they are."),
                    responses(&[("200", ok("The quick reply.", "QuickReply")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", reply_id.clone()), "requestBody", body("QuickReplyChange"),
            ),
            "delete": with(
                operation("deleteQuickReply", "conversations", "Delete a quick reply", write,
                    responses(&[("204", no_content("Deleted.")), ("404", error("NotFound"))])),
                "parameters", reply_id,
            ),
        },
        "/api/v1/conversations/{id}/quick-replies/{quick_reply_id}/render": {
            "get": with(
                operation("renderQuickReply", "conversations", "A quick reply filled for a conversation",
                    &format!("Any scope. Nothing is sent: send the text with `POST /api/v1/conversations/{{id}}/messages`. {placeholders}"),
                    responses(&[("200", ok("The filled text.", "RenderedQuickReply")), ("404", error("NotFound"))])),
                "parameters", render_params,
            ),
        },
        "/api/v1/contacts": {
            "get": with(
                operation("listContacts", "conversations", "Contacts, newest first",
                    "Any scope.",
                    responses(&[("200", ok("A page of contacts.", "ContactList")), ("422", error("Invalid"))])),
                "parameters", json!([
                    { "name": "q", "in": "query", "required": false, "schema": { "type": "string" },
                      "description": "A prefix of the name (any case) or of the phone number (`+44…` or `44…`)." },
                    { "name": "cursor", "in": "query", "required": false, "schema": { "type": "string" },
                      "description": "`next_cursor` of the previous page." },
                    { "name": "limit", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 1, "maximum": 100 } },
                ]),
            ),
        },
        "/api/v1/contacts/{id}": {
            "get": with(
                operation("getContact", "conversations", "One contact, with custom fields and tags", "Any scope.",
                    responses(&[("200", ok("The contact.", "Contact")), ("404", error("NotFound"))])),
                "parameters", contact_id.clone(),
            ),
            "patch": with(with(
                operation("updateContact", "conversations", "Change a contact",
                    &format!("{write} The phone number is the provider's and cannot change. Absent fields stay; `custom_fields` and `tag_ids` replace the whole set. Custom field keys are `^[a-z0-9_]{{1,40}}$`, values at most 1000 characters, at most 50 fields; tag ids must be the workspace's. Bad input is 422 and changes nothing. Open inboxes show the change live."),
                    responses(&[("200", ok("The contact.", "Contact")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", contact_id.clone()), "requestBody", body("ContactChange"),
            ),
        },
        "/api/v1/contacts/{id}/conversations": {
            "get": with(
                operation("listContactConversations", "conversations", "A contact's conversations, one per number",
                    "Any scope. Most recent activity first.",
                    responses(&[("200", ok("The conversations.", "ContactConversations")), ("404", error("NotFound"))])),
                "parameters", contact_id,
            ),
        },
    })
}

pub(super) fn compose_schemas() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let contact_properties = json!({
        "id": { "type": "integer", "format": "int64" },
        "name": { "type": "string" },
        "phone_number": nullable("string", "E.164, when known."),
        "email": nullable("string", "The contact's email address."),
        "created_at": time,
        "updated_at": time,
    });
    let mut full = contact_properties.clone();
    if let Some(map) = full.as_object_mut() {
        map.insert("custom_fields".into(), json!({ "type": "object", "additionalProperties": { "type": "string" } }));
        map.insert(
            "tags".into(),
            json!({ "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "integer", "format": "int64" }, "name": { "type": "string" },
            "color": { "type": "string", "description": "`#rrggbb`." } } } }),
        );
    }
    json!({
        "QuickReply": {
            "type": "object",
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "shortcut": { "type": "string", "pattern": "^[a-z0-9_-]{1,32}$" },
                "body": { "type": "string" },
                "scope": { "type": "string", "enum": ["workspace", "personal"] },
                "created_at": time,
                "updated_at": time,
            },
        },
        "QuickReplyList": {
            "type": "object",
            "properties": { "quick_replies": { "type": "array", "items": schema("QuickReply") } },
        },
        "NewQuickReply": {
            "type": "object",
            "additionalProperties": false,
            "required": ["shortcut", "body"],
            "properties": {
                "shortcut": { "type": "string", "pattern": "^[a-z0-9_-]{1,32}$" },
                "body": { "type": "string", "minLength": 1, "maxLength": 4096 },
            },
        },
        "QuickReplyChange": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "shortcut": { "type": "string", "pattern": "^[a-z0-9_-]{1,32}$" },
                "body": { "type": "string", "minLength": 1, "maxLength": 4096 },
            },
        },
        "RenderedQuickReply": {
            "type": "object",
            "properties": {
                "quick_reply_id": { "type": "integer", "format": "int64" },
                "conversation_id": { "type": "integer", "format": "int64" },
                "shortcut": { "type": "string" },
                "text": { "type": "string" },
            },
        },
        "ContactSummary": { "type": "object", "properties": contact_properties },
        "Contact": { "type": "object", "properties": full },
        "ContactList": {
            "type": "object",
            "properties": {
                "contacts": { "type": "array", "items": schema("ContactSummary") },
                "next_cursor": nullable("string", "Pass as `cursor` for the next page; null on the last."),
            },
        },
        "ContactChange": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 200 },
                "email": nullable("string", "null or an empty string clears it."),
                "custom_fields": { "type": "object", "maxProperties": 50,
                    "propertyNames": { "pattern": "^[a-z0-9_]{1,40}$" },
                    "additionalProperties": { "type": "string", "maxLength": 1000 } },
                "tag_ids": { "type": "array", "items": { "type": "integer", "format": "int64" } },
            },
        },
        "ContactConversations": {
            "type": "object",
            "properties": { "conversations": { "type": "array", "items": schema("Conversation") } },
        },
    })
}
