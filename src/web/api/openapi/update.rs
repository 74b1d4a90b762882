//! The update part of the OpenAPI document: `/api/v1/instance/update` (owner keys only).

use serde_json::{Value, json};

use super::*;

pub(super) fn update_paths() -> Value {
    let owner = "Owner keys only (others get 404).";
    json!({
        "/api/v1/instance/update": {
            "get": operation("getUpdate", "owner", "The running version, the last check and the last update",
                &format!("{owner} `can_apply` is true when a newer version is offered and this installation can replace its own executable; otherwise `blocked_reason` says why (for example: in a container, pull the new image)."),
                responses(&[("200", ok("The update status.", "UpdateStatus")), ("404", error("NotFound"))])),
        },
        "/api/v1/instance/update/check": {
            "post": operation("checkUpdate", "owner", "Check for a new version now",
                &format!("{owner} Reads the release manifest (the instance also checks every 12 hours). A failed check is reported in `check_error`, not as an error status."),
                responses(&[("200", ok("The update status after the check.", "UpdateStatus")), ("404", error("NotFound"))])),
        },
        "/api/v1/instance/update/apply": {
            "post": operation("applyUpdate", "owner", "Install the newest version",
                &format!("{owner} Downloads the release archive, verifies its size, SHA-256 and Ed25519 signature (over version, platform and checksum, against the release keys built in), runs the new executable once, takes a pre-update backup, and replaces the executable keeping the old one. Answers 202, then the server restarts: the new version must answer `/healthz` with its version within 60 s, or the old executable and the pre-update backup are put back. The outcome appears in `last_attempt` of `GET /api/v1/instance/update`. Nothing is changed when the answer is 409 (an update or backup is running, or nothing newer) or 422 (the reason: a refused release or a preflight check)."),
                responses(&[("202", ok("Installed; restarting into the health gate.", "UpdateStarted")),
                            ("404", error("NotFound")), ("409", error("Conflict")), ("422", error("Invalid"))])),
        },
    })
}

pub(super) fn update_schemas() -> Value {
    let text_or_null = |d: &str| nullable("string", d);
    let attempt = json!({
        "type": "object",
        "required": ["from", "to", "backup_file", "started_at", "outcome"],
        "properties": {
            "from": { "type": "string" }, "to": { "type": "string" },
            "backup_file": { "type": "string", "description": "The pre-update backup." },
            "started_at": { "type": "string", "format": "date-time" },
            "outcome": { "type": ["object", "null"], "description": "Null while the health gate runs.",
                "properties": { "succeeded": { "type": "boolean" },
                                "reason": { "type": "string", "description": "Why it failed and was rolled back." },
                                "finished_at": { "type": "string", "format": "date-time" } } },
        },
    });
    json!({
        "UpdateAttempt": attempt,
        "UpdateStatus": {
            "type": "object",
            "required": ["current_version", "can_apply", "running"],
            "properties": {
                "current_version": { "type": "string", "example": "0.1.0" },
                "latest_version": text_or_null("The newest published version at the last check."),
                "available_version": text_or_null("The newer version offered; null when this one is the newest."),
                "notes": text_or_null("The release notes (plain text)."),
                "published_at": text_or_null("When the release was published."),
                "checked_at": text_or_null("When the manifest was last read."),
                "check_error": text_or_null("Why the last check failed."),
                "can_apply": { "type": "boolean" },
                "blocked_reason": text_or_null("Why this installation cannot update itself."),
                "running": { "type": "boolean", "description": "An update is being installed now." },
                "last_attempt": { "oneOf": [schema("UpdateAttempt"), { "type": "null" }] },
            },
        },
        "UpdateStarted": {
            "type": "object", "required": ["status", "attempt"],
            "properties": { "status": { "type": "string", "enum": ["restarting"] }, "attempt": schema("UpdateAttempt") },
        },
    })
}
