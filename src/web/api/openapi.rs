//! The OpenAPI 3.1 description of the API, built once and served at `GET /api/v1/openapi.json` (no key needed).
//! A unit test checks that it describes exactly the routes of [`super::served`].

use std::sync::LazyLock;

use axum::Json;
use serde_json::{Map, Value, json};

static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(DOCUMENT.clone())
}

/// The document (for tests and tools).
pub fn document() -> &'static Value {
    &DOCUMENT
}

const DESCRIPTION: &str = "\
The Conversure JSON API. Every request except this document needs a workspace API key:

    Authorization: Bearer cvk_<prefix>_<secret>

A key belongs to one workspace and sees nothing else: anything of another workspace answers 404, exactly like \
something that does not exist.

Scopes: `read` keys may only use GET (anything else is 403). `write` keys may also change data, as a manager of \
the workspace (the team and the API keys need `admin`). `admin` keys act as an administrator of the workspace; \
every request made with one is written to the workspace's audit log (`api.admin_request`, with method and path).

Owner endpoints (`/api/v1/workspaces`, `/api/v1/jobs/schedules`) manage every workspace of the installation. \
They answer only to an admin-scope key created by the instance owner while signed in; every other key gets 404 \
there. Keys created from the command line or through this API never have that power. The jobs endpoints act on \
the key's workspace for admin keys, and on every workspace's jobs for the owner's key.

Errors are JSON: `{\"error\": {\"code\", \"message\", \"request_id\"}}`, plus `fields` (field name → message) on \
422. `code` is stable; `message` is for people, in the installation's language (a `conversure_lang=ar` or `=en` \
cookie chooses another). Times are RFC 3339 in UTC.";

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn ok(description: &str, schema_name: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema(schema_name) } } })
}

fn body(schema_name: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema(schema_name) } } })
}

fn no_content(description: &str) -> Value {
    json!({ "description": description })
}

/// An operation with the responses every authenticated operation shares.
fn operation(id: &str, tag: &str, summary: &str, description: &str, mut responses: Map<String, Value>) -> Value {
    for (status, name) in [("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden")] {
        responses.entry(status.to_owned()).or_insert_with(|| error(name));
    }
    json!({
        "operationId": id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "responses": responses,
    })
}

fn responses(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(status, value)| ((*status).to_owned(), value.clone())).collect()
}

fn with(mut operation: Value, key: &str, value: Value) -> Value {
    operation[key] = value;
    operation
}

fn id_parameter(what: &str) -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "description": format!("The {what}'s id."),
             "schema": { "type": "integer", "format": "int64" } }])
}

fn nullable(kind: &str, description: &str) -> Value {
    json!({ "type": [kind, "null"], "description": description })
}

fn limit_schema(nullable_only: bool) -> Value {
    let one = |what: &str| {
        json!({ "type": ["integer", "null"], "minimum": 0,
                "description": format!("Most {what} allowed; null is unlimited.{}",
                    if nullable_only { "" } else { " Absent: unchanged." }) })
    };
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "agents": one("active members"),
            "numbers": one("WhatsApp numbers"),
            "contacts": one("contacts"),
            "messages_per_month": one("outbound messages per calendar month (UTC)"),
        },
    })
}

fn schemas() -> Value {
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

fn shared_responses() -> Value {
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

fn paths() -> Value {
    let user_id = id_parameter("user");
    let key_id = id_parameter("API key");
    let workspace_id = id_parameter("workspace");
    let owner_note = "Owner endpoint: only an admin-scope key created by the instance owner; any other key gets 404.";
    let team_write = "Needs an `admin` key.";
    json!({
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This document",
                "security": [],
                "responses": { "200": { "description": "The OpenAPI document.",
                                        "content": { "application/json": { "schema": { "type": "object" } } } } },
            },
        },
        "/api/v1/me": {
            "get": operation("me", "meta", "The calling key and its workspace", "Any scope.",
                responses(&[("200", ok("The key and its workspace.", "Me"))])),
        },
        "/api/v1/users": {
            "get": with(
                operation("listUsers", "users", "List the workspace's members", "Any scope. Sorted by name.",
                    responses(&[("200", ok("The members.", "UserList")), ("422", error("Invalid"))])),
                "parameters",
                json!([
                    { "name": "search", "in": "query", "required": false,
                      "description": "Matches name or email, case-insensitively.", "schema": { "type": "string" } },
                    { "name": "status", "in": "query", "required": false,
                      "schema": { "type": "string", "enum": ["active", "inactive"] } },
                ]),
            ),
            "post": with(
                operation("createUser", "users", "Add a member",
                    &format!("{team_write} A new user, or an existing user of this installation joining this workspace. Counts against the agents limit (409 when reached)."),
                    responses(&[("201", ok("The member added.", "User")), ("409", error("Conflict")), ("422", error("Invalid"))])),
                "requestBody", body("NewUser"),
            ),
        },
        "/api/v1/users/{id}": {
            "get": with(
                operation("getUser", "users", "One member", "Any scope.",
                    responses(&[("200", ok("The member.", "User")), ("404", error("NotFound"))])),
                "parameters", user_id.clone(),
            ),
            "patch": with(with(
                operation("updateUser", "users", "Change a member",
                    &format!("{team_write} Role, name, daily quota, status. The last active admin cannot be demoted or deactivated (409)."),
                    responses(&[("200", ok("The member after the change.", "User")), ("404", error("NotFound")),
                                ("409", error("Conflict")), ("422", error("Invalid"))])),
                "parameters", user_id.clone()), "requestBody", body("UserChange"),
            ),
            "delete": with(
                operation("deleteUser", "users", "Remove a member",
                    &format!("{team_write} Their conversations become unassigned; nothing else is lost."),
                    responses(&[("204", no_content("Removed.")), ("404", error("NotFound")), ("409", error("Conflict"))])),
                "parameters", user_id.clone(),
            ),
        },
        "/api/v1/users/{id}/deactivate": {
            "post": with(
                operation("deactivateUser", "users", "Deactivate a member",
                    &format!("{team_write} The member can no longer sign in to this workspace."),
                    responses(&[("200", ok("The member after the change.", "User")), ("404", error("NotFound")),
                                ("409", error("Conflict"))])),
                "parameters", user_id.clone(),
            ),
        },
        "/api/v1/users/{id}/activate": {
            "post": with(
                operation("activateUser", "users", "Reactivate a member",
                    &format!("{team_write} Counts against the agents limit."),
                    responses(&[("200", ok("The member after the change.", "User")), ("404", error("NotFound")),
                                ("409", error("Conflict"))])),
                "parameters", user_id,
            ),
        },
        "/api/v1/api-keys": {
            "get": operation("listApiKeys", "api-keys", "List the workspace's API keys",
                "Needs an `admin` key. Newest first; revoked keys are listed as revoked.",
                responses(&[("200", ok("The keys (never their secrets).", "ApiKeyList"))])),
            "post": with(
                operation("createApiKey", "api-keys", "Create an API key",
                    "Needs an `admin` key. The answer carries the full key, once.",
                    responses(&[("201", ok("The key, with its full text in `key`.", "CreatedApiKey")), ("422", error("Invalid"))])),
                "requestBody", body("NewApiKey"),
            ),
        },
        "/api/v1/api-keys/{id}": {
            "delete": with(
                operation("revokeApiKey", "api-keys", "Revoke an API key",
                    "Needs an `admin` key. Takes effect at once; revoking a revoked key changes nothing.",
                    responses(&[("204", no_content("Revoked.")), ("404", error("NotFound"))])),
                "parameters", key_id,
            ),
        },
        "/api/v1/workspaces": {
            "get": operation("listWorkspaces", "owner", "List every workspace", owner_note,
                responses(&[("200", ok("Every workspace, oldest first.", "WorkspaceList")), ("404", error("NotFound"))])),
            "post": with(
                operation("createWorkspace", "owner", "Create a workspace", owner_note,
                    responses(&[("201", ok("The workspace.", "Workspace")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "requestBody", body("NewWorkspace"),
            ),
        },
        "/api/v1/workspaces/{id}": {
            "get": with(
                operation("getWorkspace", "owner", "One workspace", owner_note,
                    responses(&[("200", ok("The workspace.", "Workspace")), ("404", error("NotFound"))])),
                "parameters", workspace_id.clone(),
            ),
            "patch": with(with(
                operation("updateWorkspace", "owner", "Suspend, reactivate or change limits",
                    &format!("{owner_note} Limits change first (all or nothing), then the status."),
                    responses(&[("200", ok("The workspace after the change.", "Workspace")), ("404", error("NotFound")),
                                ("422", error("Invalid"))])),
                "parameters", workspace_id.clone()), "requestBody", body("WorkspaceChange"),
            ),
            "delete": with(
                operation("deleteWorkspace", "owner", "Delete a workspace and everything in it",
                    &format!("{owner_note} `confirm` must repeat the workspace's slug. The last workspace cannot be deleted (409)."),
                    responses(&[("204", no_content("Deleted.")), ("404", error("NotFound")), ("409", error("Conflict")),
                                ("422", error("Invalid"))])),
                "parameters",
                json!([
                    workspace_id[0].clone(),
                    { "name": "confirm", "in": "query", "required": true,
                      "description": "The workspace's slug, typed again.", "schema": { "type": "string" } },
                ]),
            ),
        },
    })
}

/// The entries of two JSON objects in one.
fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

fn job_schemas() -> Value {
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

fn job_paths() -> Value {
    let job_id = id_parameter("job");
    let scope = "Needs an `admin` key: the key's workspace's jobs. With the owner's key: every workspace's jobs.";
    json!({
        "/api/v1/jobs": {
            "get": with(
                operation("listJobs", "jobs", "List jobs in one state", &format!("{scope} Newest change first."),
                    responses(&[("200", ok("The jobs.", "JobList")), ("422", error("Invalid"))])),
                "parameters",
                json!([
                    { "name": "state", "in": "query", "required": false,
                      "schema": { "type": "string", "enum": ["dead", "failed", "queued", "running", "done"], "default": "dead" } },
                    { "name": "limit", "in": "query", "required": false,
                      "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 50 } },
                ]),
            ),
        },
        "/api/v1/jobs/counts": {
            "get": operation("countJobs", "jobs", "Count jobs by state", scope,
                responses(&[("200", ok("The counts.", "JobCounts"))])),
        },
        "/api/v1/jobs/schedules": {
            "get": operation("listSchedules", "jobs", "The cron schedules with their last and next runs",
                "Owner endpoint: only an admin-scope key created by the instance owner; any other key gets 404.",
                responses(&[("200", ok("The schedules.", "ScheduleList")), ("404", error("NotFound"))])),
        },
        "/api/v1/jobs/{id}/retry": {
            "post": with(
                operation("retryJob", "jobs", "Retry a failed or dead job",
                    &format!("{scope} The job is queued again at once with fresh attempts."),
                    responses(&[("204", no_content("Queued again.")), ("404", error("NotFound"))])),
                "parameters", job_id.clone(),
            ),
        },
        "/api/v1/jobs/{id}": {
            "delete": with(
                operation("discardJob", "jobs", "Discard a failed or dead job",
                    &format!("{scope} The job is deleted; jobs in other states are not found (404)."),
                    responses(&[("204", no_content("Discarded.")), ("404", error("NotFound"))])),
                "parameters", job_id,
            ),
        },
    })
}

fn build() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Conversure API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "servers": [{ "url": "/", "description": "This installation." }],
        "security": [{ "bearer": [] }],
        "tags": [
            { "name": "meta", "description": "The API itself." },
            { "name": "users", "description": "Members of the key's workspace." },
            { "name": "api-keys", "description": "API keys of the key's workspace (admin scope)." },
            { "name": "owner", "description": "Every workspace of the installation (owner keys only)." },
            { "name": "jobs", "description": "The background job queue: the key's workspace (admin scope), or every workspace (owner keys)." },
        ],
        "paths": merged(paths(), job_paths()),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "cvk_<prefix>_<secret>",
                    "description": "A workspace API key, created by a workspace admin or with `conversure api-key create`.",
                },
            },
            "schemas": merged(schemas(), job_schemas()),
            "responses": shared_responses(),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_document_describes_exactly_the_served_routes() {
        let doc = document();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let described: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(path, item)| {
                item.as_object().into_iter().flatten().map(move |(m, _)| (m.clone(), path.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = super::super::served()
            .into_iter()
            .map(|(verb, path)| (verb.as_str().to_owned(), path.to_owned()))
            .collect();
        assert_eq!(described, served);
    }

    /// Every `$ref` points at something the document defines.
    #[test]
    fn references_resolve() {
        fn walk(value: &Value, doc: &Value, seen: &mut usize) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.trim_start_matches('#');
                        assert!(doc.pointer(pointer).is_some(), "dangling {target}");
                        *seen += 1;
                    }
                    map.values().for_each(|v| walk(v, doc, seen));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc, seen)),
                _ => {}
            }
        }
        let mut seen = 0;
        walk(document(), document(), &mut seen);
        assert!(seen > 20);
    }

    #[test]
    fn every_operation_has_an_id_and_responses() {
        for (path, item) in document()["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                assert!(op["operationId"].is_string(), "{method} {path}");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
                if path.contains("{id}") {
                    let params = op["parameters"].as_array().cloned().unwrap_or_default();
                    assert!(params.iter().any(|p| p["name"] == "id" && p["in"] == "path"), "{method} {path}");
                }
            }
        }
    }
}
