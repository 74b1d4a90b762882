//! The schemas of the OpenAPI document: request and response bodies, errors.

use serde_json::{Value, json};

use super::*;

pub(super) fn schemas() -> Value {
    let time = |description: &str| json!({ "type": "string", "format": "date-time", "description": description });
    let time_or_null =
        |description: &str| json!({ "type": ["string", "null"], "format": "date-time", "description": description });
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "Stable machine-readable code.",
                            "enum": ["bad_request", "unauthorized", "forbidden", "not_found", "method_not_allowed",
                                     "conflict", "invalid", "unavailable", "internal"],
                        },
                        "message": { "type": "string", "description": "For people, in the installation's language." },
                        "request_id": { "type": "string", "description": "Also in the `x-request-id` header; quote it to support." },
                        "fields": {
                            "type": "object",
                            "description": "Only with code `invalid` (422): field name → what is wrong.",
                            "additionalProperties": { "type": "string" },
                        },
                    },
                },
            },
            "example": { "error": { "code": "invalid", "message": "Enter a valid email address.",
                                     "request_id": "0b8e5c1e-4f0a-4c55-9a57-3c1c2f6f2d7e",
                                     "fields": { "email": "Enter a valid email address." } } },
        },
        "Scope": { "type": "string", "enum": ["read", "write", "admin"] },
        "Role": { "type": "string", "enum": ["admin", "manager", "agent"] },
        "Me": {
            "type": "object",
            "required": ["workspace", "key", "owner"],
            "properties": {
                "workspace": {
                    "type": "object",
                    "required": ["id", "slug", "name"],
                    "properties": {
                        "id": { "type": "integer", "format": "int64" },
                        "slug": { "type": "string" },
                        "name": { "type": "string" },
                    },
                },
                "key": {
                    "type": "object",
                    "required": ["id", "name", "prefix", "scope"],
                    "properties": {
                        "id": { "type": "integer", "format": "int64" },
                        "name": { "type": "string" },
                        "prefix": { "type": "string" },
                        "scope": schema("Scope"),
                    },
                },
                "owner": { "type": "boolean", "description": "Whether this key may use the owner endpoints." },
            },
        },
        "User": {
            "type": "object",
            "required": ["id", "name", "email", "role", "status", "daily_quota", "invited", "totp_enabled",
                         "joined_at", "sent_today"],
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "name": { "type": "string" },
                "email": { "type": "string", "format": "email" },
                "role": schema("Role"),
                "status": { "type": "string", "enum": ["active", "inactive"] },
                "daily_quota": nullable("integer", "Outbound messages per day; null is no quota."),
                "invited": { "type": "boolean", "description": "Invited and not joined yet (no password set)." },
                "totp_enabled": { "type": "boolean" },
                "joined_at": time("When the member joined this workspace."),
                "sent_today": { "type": "integer", "description": "Outbound messages sent since midnight UTC." },
            },
        },
        "UserList": {
            "type": "object",
            "required": ["users"],
            "properties": { "users": { "type": "array", "items": schema("User") } },
        },
        "NewUser": {
            "type": "object",
            "required": ["name", "email", "role"],
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                "email": { "type": "string", "format": "email",
                           "description": "An existing user of another workspace of this installation joins with their account." },
                "role": schema("Role"),
                "password": { "type": "string",
                              "description": "Without it the member is invited (the answer says `invited: true`) and sets a password through the invitation." },
                "daily_quota": { "type": ["integer", "null"], "minimum": 0 },
            },
        },
        "UserChange": {
            "type": "object",
            "additionalProperties": false,
            "description": "Only the fields given change.",
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                "role": schema("Role"),
                "daily_quota": { "type": ["integer", "null"], "minimum": 0, "description": "null removes the quota." },
                "status": { "type": "string", "enum": ["active", "inactive"] },
            },
        },
        "ApiKey": {
            "type": "object",
            "required": ["id", "name", "prefix", "scope", "created_at", "last_used_at", "revoked", "revoked_at"],
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "name": { "type": "string" },
                "prefix": { "type": "string", "description": "The 8 characters after `cvk_`, to recognise the key." },
                "scope": schema("Scope"),
                "created_at": time("When the key was created."),
                "last_used_at": time_or_null("Last use, to the minute."),
                "revoked": { "type": "boolean" },
                "revoked_at": time_or_null("When the key was revoked."),
            },
        },
        "ApiKeyList": {
            "type": "object",
            "required": ["api_keys"],
            "properties": { "api_keys": { "type": "array", "items": schema("ApiKey") } },
        },
        "NewApiKey": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                "scope": { "allOf": [schema("Scope")], "default": "read" },
            },
        },
        "CreatedApiKey": {
            "allOf": [
                schema("ApiKey"),
                {
                    "type": "object",
                    "required": ["key"],
                    "properties": {
                        "key": { "type": "string", "pattern": "^cvk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$",
                                 "description": "The full key. Shown only in this answer; store it now." },
                    },
                },
            ],
        },
        "Limits": {
            "type": "object",
            "required": ["agents", "numbers", "contacts", "messages_per_month"],
            "properties": limit_schema(true)["properties"].clone(),
        },
        "LimitsChange": limit_schema(false),
        "Workspace": {
            "type": "object",
            "required": ["id", "slug", "name", "timezone", "status", "created_at", "members", "limits"],
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "slug": { "type": "string" },
                "name": { "type": "string" },
                "timezone": { "type": "string", "description": "IANA time zone, e.g. Europe/Berlin." },
                "status": { "type": "string", "enum": ["active", "suspended"] },
                "created_at": time("When the workspace was created."),
                "members": { "type": "integer", "description": "Members of the workspace." },
                "limits": schema("Limits"),
            },
        },
        "WorkspaceList": {
            "type": "object",
            "required": ["workspaces"],
            "properties": { "workspaces": { "type": "array", "items": schema("Workspace") } },
        },
        "NewWorkspace": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                "slug": { "type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
                          "description": "2–40 of a-z, 0-9 and inner hyphens; derived from the name when empty." },
                "timezone": { "type": "string", "default": "UTC" },
                "admin_email": { "type": ["string", "null"], "format": "email",
                                 "description": "An existing user of this installation, made the workspace's admin." },
            },
        },
        "WorkspaceChange": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "status": { "type": "string", "enum": ["active", "suspended"],
                            "description": "Suspended workspaces cannot be signed in to, and their keys get 403." },
                "limits": schema("LimitsChange"),
            },
        },
    })
}

pub(super) fn shared_responses() -> Value {
    let error_response = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": schema("Error") } } });
    let mut unauthorized = error_response("No key, an unknown key or a revoked key.");
    unauthorized["headers"] = json!({
        "WWW-Authenticate": { "description": "Always `Bearer`.", "schema": { "type": "string" } },
    });
    json!({
        "BadRequest": error_response("The body is not JSON of the expected shape (unknown fields are refused too), or the query string is malformed."),
        "Unauthorized": unauthorized,
        "Forbidden": error_response("The key's scope does not allow this (read-only keys: anything but GET), or the key's workspace is suspended."),
        "NotFound": error_response("No such thing in the key's workspace (things of other workspaces are not found either)."),
        "Invalid": error_response("Some fields are not valid; `error.fields` names each with its message."),
        "Conflict": error_response("Refused by the current state: a workspace limit is reached, the last admin would go, the last workspace would be deleted."),
    })
}

pub(super) fn job_schemas() -> Value {
    let time = |description: &str| json!({ "type": "string", "format": "date-time", "description": description });
    let time_or_null =
        |description: &str| json!({ "type": ["string", "null"], "format": "date-time", "description": description });
    let state = json!({ "type": "string", "enum": ["dead", "failed", "queued", "running", "done"] });
    let count = json!({ "type": "integer", "minimum": 0 });
    json!({
        "Job": {
            "type": "object",
            "required": ["id", "workspace_id", "queue", "kind", "state", "attempts", "max_attempts", "run_at",
                         "last_error", "updated_at"],
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "workspace_id": { "type": ["integer", "null"], "format": "int64",
                                  "description": "The job's workspace; null for instance jobs (owner keys only see those)." },
                "queue": { "type": "string" },
                "kind": { "type": "string", "description": "What the job does, e.g. `maintenance.cleanup`." },
                "state": state,
                "attempts": { "type": "integer", "description": "Attempts made so far (reset by a retry)." },
                "max_attempts": { "type": "integer", "description": "After this many failed attempts the job is dead." },
                "run_at": time("When the job is (or was) due."),
                "last_error": nullable("string", "The error of the last failed attempt."),
                "updated_at": time("When the job last changed."),
            },
        },
        "JobList": {
            "type": "object",
            "required": ["jobs"],
            "properties": { "jobs": { "type": "array", "items": schema("Job") } },
        },
        "JobCounts": {
            "type": "object",
            "required": ["counts"],
            "properties": {
                "counts": {
                    "type": "object",
                    "description": "How many jobs are in each state; every state is listed, zero included.",
                    "required": ["dead", "failed", "queued", "running", "done"],
                    "properties": { "dead": count, "failed": count, "queued": count, "running": count, "done": count },
                },
            },
        },
        "Schedule": {
            "type": "object",
            "required": ["name", "expression", "last_fire_at", "last_run_at", "last_result", "last_error", "next_fire_at"],
            "properties": {
                "name": { "type": "string", "description": "e.g. `cleanup`, `database-upkeep`." },
                "expression": { "type": "string", "description": "Cron expression, in UTC." },
                "last_fire_at": time_or_null("The last tick enqueued; null if never."),
                "last_run_at": time_or_null("When the last tick's job finished; null if never."),
                "last_result": nullable("string", "What the last run reported."),
                "last_error": nullable("string", "The last run's error, if it failed."),
                "next_fire_at": time_or_null("The next tick."),
            },
        },
        "ScheduleList": {
            "type": "object",
            "required": ["schedules"],
            "properties": { "schedules": { "type": "array", "items": schema("Schedule") } },
        },
    })
}
