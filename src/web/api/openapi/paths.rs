//! The paths of the OpenAPI document: every route under /api/v1 with its parameters and answers.

use serde_json::{Value, json};

use super::*;

pub(super) fn paths() -> Value {
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

pub(super) fn job_paths() -> Value {
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
