//! The backups part of the OpenAPI document: `/api/v1/instance/backups` for the instance owner's key.

use serde_json::{Value, json};

use super::*;

pub(super) fn backup_paths() -> Value {
    let owner = "Needs the instance owner's `admin` key (any other key gets 404).";
    let name = json!([{ "name": "name", "in": "path", "required": true,
        "description": "The archive's file name, as listed (`[A-Za-z0-9._-]`, ending in `.tar.zst`).",
        "schema": { "type": "string" } }]);
    json!({
        "/api/v1/instance/backups": {
            "get": operation("listBackups", "instance", "Backups, the running operation and the history",
                &format!("{owner} Archives newest first; `running` is the backup or restore under way (its step and bytes), `history` the last operations with every step's result."),
                responses(&[("200", ok("The backups.", "BackupOverview")), ("404", error("NotFound"))])),
            "post": with(
                operation("createBackup", "instance", "Back up now",
                    &format!("{owner} Starts a manual backup and answers at once (202); it appears in the list when done, and a failure in `history` (also emailed to the owners). `passphrase` encrypts this archive (else the saved passphrase, if any). 409 while another backup or restore runs."),
                    responses(&[("202", no_content("Started.")), ("409", error("Conflict"))])),
                "requestBody", json!({ "required": false, "content": { "application/json": { "schema": schema("NewBackup") } } }),
            ),
        },
        "/api/v1/instance/backups/upload": {
            "post": with(
                operation("uploadBackup", "instance", "Upload an archive",
                    &format!("{owner} The archive as the raw body (`application/octet-stream`, any size the disk takes; streamed). Its passphrase, when encrypted, in the `X-Backup-Passphrase` header. It is verified completely (manifest, every checksum, decryption) before it is listed; anything else is 422 and nothing is kept."),
                    responses(&[("201", ok("The listed archive.", "Backup")), ("422", error("Invalid"))])),
                "requestBody", json!({ "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } }),
            ),
        },
        "/api/v1/instance/backups/settings": {
            "patch": with(
                operation("updateBackupSettings", "instance", "Schedule, retention and passphrase",
                    &format!("{owner} `schedule` is a five-field cron expression in UTC (empty: no scheduled backups). Retention applies to scheduled and pre-restore backups only; manual and pre-update backups are never pruned. `passphrase` (12+ characters) encrypts every later backup; `clear_passphrase: \"on\"` stops it. Invalid fields are 422 and nothing changes."),
                    responses(&[("200", ok("The saved settings.", "BackupSettings")), ("422", error("Invalid"))])),
                "requestBody", body("BackupSettingsChange"),
            ),
        },
        "/api/v1/instance/backups/{name}": {
            "get": with(
                operation("downloadBackup", "instance", "Download an archive", owner,
                    responses(&[("200", json!({ "description": "The archive.", "content": { "application/zstd": { "schema": { "type": "string", "format": "binary" } } } })), ("404", error("NotFound"))])),
                "parameters", name.clone(),
            ),
            "delete": with(
                operation("deleteBackup", "instance", "Delete an archive", owner,
                    responses(&[("204", no_content("Deleted.")), ("404", error("NotFound"))])),
                "parameters", name.clone(),
            ),
        },
        "/api/v1/instance/backups/{name}/restore": {
            "post": with(with(
                operation("restoreBackup", "instance", "Restore an archive",
                    &format!("{owner} Checks the header, passphrase, schema version (a newer one is refused) and keys at once (422 with the reason), then restores in the background (202): verify every checksum, take a pre-restore backup, pause the queue and cron, swap the database, media and secrets in, migrate, check, resume; on failure the previous state comes back. A backup of another instance needs its passphrase (when it was made with one) or `encryption_key` from that instance's recovery kit. Follow the outcome in the list's `history`."),
                    responses(&[("202", no_content("Restoring.")), ("404", error("NotFound")), ("409", error("Conflict")), ("422", error("Invalid"))])),
                "parameters", name),
                "requestBody", json!({ "required": false, "content": { "application/json": { "schema": schema("RestoreBackup") } } }),
            ),
        },
    })
}

pub(super) fn backup_schemas() -> Value {
    let kind = json!({ "type": "string", "enum": ["manual", "scheduled", "pre-update", "pre-restore"] });
    let step = json!({ "type": "object", "properties": {
        "step": { "type": "string" }, "ok": { "type": "boolean" }, "detail": { "type": "string" },
        "millis": { "type": "integer" } } });
    json!({
        "Backup": { "type": "object", "required": ["file_name", "size", "created_at", "kind"], "properties": {
            "file_name": { "type": "string" }, "size": { "type": "integer" },
            "created_at": { "type": "integer", "description": "Unix milliseconds." }, "kind": kind } },
        "BackupOverview": { "type": "object", "properties": {
            "backups": { "type": "array", "items": schema("Backup") },
            "running": { "nullable": true, "type": "object", "properties": {
                "operation": { "type": "string", "enum": ["backup", "restore"] }, "subject": { "type": "string" },
                "step": { "type": "string" }, "bytes_done": { "type": "integer" }, "started_at": { "type": "integer" } } },
            "history": { "type": "array", "items": { "type": "object", "properties": {
                "operation": { "type": "string" }, "subject": { "type": "string" }, "ok": { "type": "boolean" },
                "started_at": { "type": "integer" }, "finished_at": { "type": "integer" },
                "file_name": { "type": "string", "nullable": true }, "error": { "type": "string", "nullable": true },
                "steps": { "type": "array", "items": step } } } },
            "settings": schema("BackupSettings"),
            "directory": { "type": "string" } } },
        "BackupSettings": { "type": "object", "properties": {
            "schedule": { "type": "string" },
            "retention": { "type": "array", "items": { "type": "object", "properties": {
                "kind": kind, "keep_count": { "type": "integer" }, "keep_days": { "type": "integer" } } } },
            "passphrase_set": { "type": "boolean" },
            "last_scheduled_at": { "type": "integer", "nullable": true } } },
        "BackupSettingsChange": { "type": "object", "properties": {
            "schedule": { "type": "string" },
            "scheduled_keep_count": { "type": "string" }, "scheduled_keep_days": { "type": "string" },
            "pre_restore_keep_count": { "type": "string" }, "pre_restore_keep_days": { "type": "string" },
            "passphrase": { "type": "string" }, "clear_passphrase": { "type": "string" } } },
        "NewBackup": { "type": "object", "properties": { "passphrase": { "type": "string" } } },
        "RestoreBackup": { "type": "object", "properties": {
            "passphrase": { "type": "string" }, "encryption_key": { "type": "string" } } },
    })
}
