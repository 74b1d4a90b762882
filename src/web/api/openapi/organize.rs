//! The organizing part of the OpenAPI document: changing a conversation (assignee, state, snooze, tags), unread,
//! private notes, the tabs' counts, `/api/v1/tags` and `/api/v1/inbox-settings`.

use serde_json::{Value, json};

use super::*;

pub(super) fn organize_paths() -> Value {
    let conversation_id = id_parameter("conversation");
    let tag_id = id_parameter("tag");
    let write = "Needs a `write` or `admin` key.";
    let manage_tags = "Needs a `write` or `admin` key (tags are managed by managers and admins).";
    let admin = "Needs an `admin` key.";
    json!({
        "/api/v1/conversations/{id}": {
            "patch": with(with(
                operation("updateConversation", "conversations", "Assign, set the state, snooze or tag a conversation",
                    &format!("{write} Absent fields stay as they are; everything is checked before anything changes \
                        (422 with the fields at fault). `assignee_user_id` must be an active member of the workspace, \
                        or null to unassign. `status` is one of open, pending, resolved, archived; setting a state \
                        without `snoozed_until` ends a snooze. `snoozed_until` (RFC 3339, in the future, within a \
                        year) hides the conversation from the open tab until then; null ends the snooze. `tag_ids` \
                        replaces the conversation's tags (ids of this workspace). Members signed in as agents may only \
                        assign conversations to themselves and unassign their own."),
                    responses(&[("200", ok("The conversation with its tags.", "OrganizedConversation")),
                                ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", conversation_id.clone()), "requestBody", body("ConversationChange"),
            ),
        },
        "/api/v1/conversations/{id}/unread": {
            "post": with(
                operation("markConversationUnread", "conversations", "Mark a conversation unread",
                    &format!("{write} It counts at least one unread message (nothing is sent to the provider)."),
                    responses(&[("200", ok("The conversation with its tags.", "OrganizedConversation")),
                                ("404", error("NotFound"))])),
                "parameters", conversation_id.clone(),
            ),
        },
        "/api/v1/conversations/{id}/notes": {
            "post": with(with(
                operation("addNote", "conversations", "Add a private note",
                    &format!("{write} Stored in the thread with direction `note` and never sent to the customer. \
                        1 to 4096 characters."),
                    responses(&[("201", ok("The note.", "Message")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", conversation_id), "requestBody", body("NewNote"),
            ),
        },
        "/api/v1/conversations/counts": {
            "get": with(
                operation("conversationCounts", "conversations", "How many conversations each tab holds",
                    "Any scope. Counted under the same visibility as the list; see `tab` of listConversations.",
                    responses(&[("200", ok("The counts.", "ConversationCounts")), ("400", error("BadRequest"))])),
                "parameters", json!([{ "name": "whatsapp_account_id", "in": "query", "required": false,
                    "schema": { "type": "integer" }, "description": "Only this number's conversations." }]),
            ),
        },
        "/api/v1/tags": {
            "get": operation("listTags", "tags", "The workspace's tags", "Any scope.",
                responses(&[("200", ok("The tags, by name.", "TagList"))])),
            "post": with(
                operation("createTag", "tags", "Create a tag",
                    &format!("{manage_tags} The name (1 to 40 characters) is unique in the workspace ignoring case; the colour is `#rrggbb`."),
                    responses(&[("201", ok("The tag.", "Tag")), ("422", error("Invalid"))])),
                "requestBody", body("NewTag"),
            ),
        },
        "/api/v1/tags/{id}": {
            "patch": with(with(
                operation("updateTag", "tags", "Rename or recolour a tag",
                    &format!("{manage_tags} Absent fields stay as they are."),
                    responses(&[("200", ok("The tag.", "Tag")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", tag_id.clone()), "requestBody", body("TagChange"),
            ),
            "delete": with(
                operation("deleteTag", "tags", "Delete a tag",
                    &format!("{manage_tags} It is removed from every conversation and contact."),
                    responses(&[("204", no_content("Deleted.")), ("404", error("NotFound"))])),
                "parameters", tag_id,
            ),
        },
        "/api/v1/inbox-settings": {
            "get": operation("getInboxSettings", "inbox", "The workspace's inbox settings", admin,
                responses(&[("200", ok("The settings.", "InboxSettings"))])),
            "patch": with(
                operation("updateInboxSettings", "inbox", "Change the inbox settings",
                    &format!("{admin} Absent fields stay as they are. Written to the audit log."),
                    responses(&[("200", ok("The settings.", "InboxSettings")), ("400", error("BadRequest"))])),
                "requestBody", body("InboxSettingsChange"),
            ),
        },
    })
}

pub(super) fn organize_schemas() -> Value {
    let time = |description: &str| json!({ "type": "string", "format": "date-time", "description": description });
    let settings = json!({
        "agents_see_all": { "type": "boolean",
            "description": "Agents see every conversation; otherwise only theirs and the unassigned ones." },
        "auto_assign": { "type": "boolean",
            "description": "New conversations go round-robin to the agents online in the last two minutes." },
    });
    json!({
        "Tag": { "type": "object", "required": ["id", "name", "color"], "properties": {
            "id": { "type": "integer" },
            "name": { "type": "string" },
            "color": { "type": "string", "pattern": "^#[0-9a-f]{6}$" },
            "created_at": time("Created."),
            "updated_at": time("Last changed."),
        } },
        "TagList": { "type": "object", "required": ["tags"],
            "properties": { "tags": { "type": "array", "items": schema("Tag") } } },
        "NewTag": { "type": "object", "additionalProperties": false, "required": ["name", "color"], "properties": {
            "name": { "type": "string", "maxLength": 40 },
            "color": { "type": "string", "pattern": "^#[0-9a-fA-F]{6}$" },
        }, "example": { "name": "VIP", "color": "#1f7a4d" } },
        "TagChange": { "type": "object", "additionalProperties": false, "properties": {
            "name": { "type": "string", "maxLength": 40 },
            "color": { "type": "string", "pattern": "^#[0-9a-fA-F]{6}$" },
        } },
        "ConversationChange": { "type": "object", "additionalProperties": false, "properties": {
            "assignee_user_id": nullable("integer", "An active member; null unassigns."),
            "status": { "type": "string", "enum": ["open", "pending", "resolved", "archived"] },
            "snoozed_until": { "type": ["string", "null"], "format": "date-time",
                "description": "In the future, within a year; null ends the snooze." },
            "tag_ids": { "type": "array", "items": { "type": "integer" }, "description": "The tags, exactly." },
        }, "example": { "assignee_user_id": 7, "status": "pending", "tag_ids": [2, 5] } },
        "OrganizedConversation": { "allOf": [schema("Conversation"), { "type": "object", "required": ["tags"],
            "properties": { "tags": { "type": "array", "items": schema("Tag") } } }] },
        "NewNote": { "type": "object", "additionalProperties": false, "required": ["text"], "properties": {
            "text": { "type": "string", "minLength": 1, "maxLength": 4096 } } },
        "ConversationCounts": { "type": "object", "required": ["open", "mine", "unassigned", "all"], "properties": {
            "open": { "type": "integer" }, "mine": { "type": "integer" },
            "unassigned": { "type": "integer" }, "all": { "type": "integer" } } },
        "InboxSettings": { "type": "object", "required": ["agents_see_all", "auto_assign"], "properties": settings.clone() },
        "InboxSettingsChange": { "type": "object", "additionalProperties": false, "properties": settings },
    })
}
