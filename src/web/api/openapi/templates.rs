//! The message templates part of the OpenAPI document: `/api/v1/templates` and the provider sync.

use serde_json::{Value, json};

use super::*;

pub(super) fn template_paths() -> Value {
    let template_id = id_parameter("template");
    let manage = "Needs an `admin` key.";
    json!({
        "/api/v1/templates": {
            "get": with(
                operation("listTemplates", "whatsapp", "The workspace's message templates",
                    "Any scope. Workspace-wide templates (no number) first, then each number's own, by name and language.",
                    responses(&[("200", ok("The templates.", "TemplateList"))])),
                "parameters", json!([{ "name": "whatsapp_account_id", "in": "query", "required": false,
                    "schema": { "type": "integer" }, "description": "Only this number's own templates." }]),
            ),
            "post": with(
                operation("createTemplate", "whatsapp", "Add a template by hand",
                    &format!("{manage} For numbers whose provider has no template listing (Twilio, Chatwoot, Evolution), or a template not yet synced. The name is `^[a-z0-9_]{{1,512}}$`, the language a WhatsApp code (`en`, `en_US`), the body's placeholders `{{{{1}}}}`…`{{{{n}}}}` numbered from 1 without gaps. A name and language already used for the same number is 422."),
                    responses(&[("201", ok("The template.", "Template")), ("422", error("Invalid"))])),
                "requestBody", body("NewTemplate"),
            ),
        },
        "/api/v1/templates/sync": {
            "post": with(
                operation("syncTemplates", "whatsapp", "Sync a number's templates from its provider",
                    &format!("{manage} Meta Cloud API numbers only (set the `waba_id` credential): every template of the business account is read, page after page, and upserted by name and language for this number; the number's templates the provider no longer lists are deleted. Workspace-wide templates are not touched. A provider without a listing, or a failed listing, is 409 with the reason, and nothing changes."),
                    responses(&[("200", ok("What the sync did.", "TemplateSyncReport")), ("409", error("Conflict")), ("422", error("Invalid"))])),
                "requestBody", body("TemplateSync"),
            ),
        },
        "/api/v1/templates/{id}": {
            "get": with(
                operation("getTemplate", "whatsapp", "One template", "Any scope.",
                    responses(&[("200", ok("The template.", "Template")), ("404", error("NotFound"))])),
                "parameters", template_id.clone(),
            ),
            "patch": with(with(
                operation("updateTemplate", "whatsapp", "Change a template",
                    &format!("{manage} Fields left out keep their value; `whatsapp_account_id: null` makes it workspace-wide. A synced template's next sync puts back what the provider says."),
                    responses(&[("200", ok("The template.", "Template")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", template_id.clone()),
                "requestBody", body("TemplateChange"),
            ),
            "delete": with(
                operation("deleteTemplate", "whatsapp", "Delete a template", manage,
                    responses(&[("204", no_content("Deleted.")), ("404", error("NotFound"))])),
                "parameters", template_id,
            ),
        },
    })
}

pub(super) fn template_schemas() -> Value {
    let status = json!({ "type": "string", "enum": ["approved", "pending", "rejected", "paused", "disabled"],
        "description": "Only `approved` templates can be sent. Default `approved`." });
    let category = json!({ "type": "string", "enum": ["", "marketing", "utility", "authentication"] });
    json!({
        "TemplateList": { "type": "object", "required": ["templates"],
            "properties": { "templates": { "type": "array", "items": schema("Template") } } },
        "Template": {
            "type": "object",
            "required": ["id", "whatsapp_account_id", "name", "language", "category", "status", "body", "variables",
                         "components", "sendable", "created_at", "updated_at"],
            "properties": {
                "id": { "type": "integer" },
                "whatsapp_account_id": nullable("integer", "The number it belongs to; null for every number of the workspace."),
                "name": { "type": "string" },
                "language": { "type": "string", "example": "en_US" },
                "category": { "type": "string", "description": "`marketing`, `utility`, `authentication`, or empty." },
                "status": { "type": "string", "description": "Meta's status in lower case (`approved`, `pending`, `rejected`, `paused`, `disabled`, …)." },
                "body": { "type": "string", "description": "The body text with its `{{1}}` placeholders." },
                "variables": { "type": "integer", "description": "How many body variables a send needs." },
                "components": { "type": "array", "items": { "type": "object" },
                    "description": "The provider's components (HEADER, BODY, FOOTER, BUTTONS) as synced; empty for templates entered by hand." },
                "sendable": { "type": "boolean",
                    "description": "Approved, and nothing to fill but body variables (no media header, header variable or dynamic button)." },
                "created_at": { "type": "string", "format": "date-time" },
                "updated_at": { "type": "string", "format": "date-time" },
            },
        },
        "NewTemplate": {
            "type": "object", "additionalProperties": false, "required": ["name", "language", "body"],
            "properties": {
                "whatsapp_account_id": nullable("integer", "A number of the workspace; absent or null: every number."),
                "name": { "type": "string", "pattern": "^[a-z0-9_]{1,512}$" },
                "language": { "type": "string", "example": "en_US" },
                "category": category.clone(),
                "status": status.clone(),
                "body": { "type": "string", "maxLength": 1024, "example": "Hi {{1}}, your order {{2}} is on its way." },
            },
        },
        "TemplateChange": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "whatsapp_account_id": nullable("integer", "null: every number of the workspace."),
                "name": { "type": "string", "pattern": "^[a-z0-9_]{1,512}$" },
                "language": { "type": "string" },
                "category": category,
                "status": status,
                "body": { "type": "string", "maxLength": 1024 },
            },
        },
        "TemplateSync": {
            "type": "object", "additionalProperties": false, "required": ["whatsapp_account_id"],
            "properties": { "whatsapp_account_id": { "type": "integer" } },
        },
        "TemplateSyncReport": {
            "type": "object", "required": ["listed", "added", "updated", "removed"],
            "properties": {
                "listed": { "type": "integer", "description": "Templates the provider listed." },
                "added": { "type": "integer" },
                "updated": { "type": "integer" },
                "removed": { "type": "integer", "description": "The number's templates the provider no longer lists, deleted." },
            },
        },
    })
}
