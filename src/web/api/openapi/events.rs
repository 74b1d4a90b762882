//! The live events part of the OpenAPI document: `GET /api/v1/events` (server-sent events) and its event data.

use serde_json::{Value, json};

use super::*;

pub(super) fn event_paths() -> Value {
    let stream = json!({
        "description": "A `text/event-stream` that stays open. Each change is one event: `id:` (the change's id), \
            `event:` (`message`, `status` or `conversation`) and `data:` (a JSON `InboxEvent`). `reset` (no id) means \
            changes were pruned since the resume point: reload what you keep. A comment line (`:`) every 15 seconds \
            keeps the connection open.",
        "content": { "text/event-stream": { "schema": schema("InboxEvent") } },
    });
    json!({
        "/api/v1/events": {
            "get": with(
                operation("streamEvents", "conversations", "Live changes of the workspace's inbox",
                    "Any scope. Server-sent events for new messages (`message`), delivery changes and stored media \
                    (`status`) and conversation changes such as assignment or read (`conversation`), in id order. \
                    Resume after a disconnection with the `Last-Event-ID` header (EventSource clients send it \
                    themselves) or `?after=<id>`: the changes since are sent first, once each; without either the \
                    stream starts from now. Changes are kept a day. A key restricted like an agent only receives \
                    changes of the conversations it may read. The stream ends when the key is revoked or the \
                    workspace suspended.",
                    responses(&[("200", stream)])),
                "parameters", json!([
                    { "name": "after", "in": "query", "required": false,
                      "schema": { "type": "integer", "format": "int64" },
                      "description": "Send the changes after this event id first (`Last-Event-ID` wins)." },
                    { "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "string" },
                      "description": "The id of the last event received." },
                ]),
            ),
        },
    })
}

pub(super) fn event_schemas() -> Value {
    json!({
        "InboxEvent": {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "id": { "type": "integer", "format": "int64", "description": "The change's id (also the SSE `id:`); absent on `reset`." },
                "kind": { "type": "string", "enum": ["message", "status", "conversation", "reset"] },
                "conversation_id": { "type": "integer", "format": "int64" },
                "message_id": nullable("integer", "The message a `message` or `status` change is about; null for `conversation`."),
            },
        },
    })
}
