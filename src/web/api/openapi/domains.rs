//! The custom domains part of the OpenAPI document: the owner's `/api/v1/workspaces/{id}/domains…` and the
//! workspace's own read-only `/api/v1/domains`.

use serde_json::{Value, json};

use super::*;

pub(super) fn domain_paths() -> Value {
    let owner = "Needs the instance owner's `admin` key (any other key gets 404).";
    let workspace_id = id_parameter("workspace");
    let both_ids = json!([
        { "name": "id", "in": "path", "required": true, "description": "The workspace's id.",
          "schema": { "type": "integer", "format": "int64" } },
        { "name": "domain_id", "in": "path", "required": true, "description": "The domain's id.",
          "schema": { "type": "integer", "format": "int64" } },
    ]);
    json!({
        "/api/v1/domains": {
            "get": operation("listOwnDomains", "domains", "The key's workspace's custom domains",
                "Needs an `admin` key. Read-only: the instance owner adds and removes domains. Includes the instance's \
                 own host names: a custom domain's A/AAAA records point at the same address.",
                responses(&[("200", ok("The domains.", "DomainList"))])),
        },
        "/api/v1/workspaces/{id}/domains": {
            "get": with(
                operation("listDomains", "domains", "A workspace's custom domains", owner,
                    responses(&[("200", ok("The domains.", "DomainList")), ("404", error("NotFound"))])),
                "parameters", workspace_id.clone(),
            ),
            "post": with(with(
                operation("addDomain", "domains", "Add a custom domain",
                    &format!("{owner} The host name is lower-cased; it must be a DNS name with at least two labels (not \
                        an IP address, at most 253 characters), not the instance's own host, and not used by any \
                        workspace yet (422 otherwise, and nothing is stored). It starts `pending`: point its DNS at \
                        this server, then verify it."),
                    responses(&[("201", ok("The domain.", "Domain")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "parameters", workspace_id), "requestBody", body("NewDomain"),
            ),
        },
        "/api/v1/workspaces/{id}/domains/{domain_id}": {
            "delete": with(
                operation("removeDomain", "domains", "Remove a custom domain",
                    &format!("{owner} The domain stops being served and gets no more certificates."),
                    responses(&[("204", no_content("Removed.")), ("404", error("NotFound"))])),
                "parameters", both_ids.clone(),
            ),
        },
        "/api/v1/workspaces/{id}/domains/{domain_id}/verify": {
            "post": with(
                operation("verifyDomain", "domains", "Check a custom domain now",
                    &format!("{owner} The server fetches `http://<domain>/.well-known/conversure-domain/<token>` and \
                        expects its own token back, proving DNS (and any port forwarding) reaches it. The domain \
                        becomes `verified`, or `failed` with `last_error`. Every domain is also re-checked hourly."),
                    responses(&[("200", ok("The domain after the check.", "Domain")), ("404", error("NotFound"))])),
                "parameters", both_ids,
            ),
        },
    })
}

pub(super) fn domain_schemas() -> Value {
    let time =
        |description: &str| json!({ "type": ["string", "null"], "format": "date-time", "description": description });
    json!({
        "Domain": { "type": "object",
            "required": ["id", "workspace_id", "host", "status", "last_error", "created_at"], "properties": {
            "id": { "type": "integer" },
            "workspace_id": { "type": "integer" },
            "host": { "type": "string", "example": "crm.example.com" },
            "status": { "type": "string", "enum": ["pending", "verified", "failed"] },
            "last_error": nullable("string",
                "Why the last check failed: `no_answer: <detail>`, `http_status: <code>` or `wrong_token`."),
            "last_error_message": nullable("string", "The failure explained."),
            "checked_at": time("The last check."),
            "verified_at": time("When it was first verified (since its last failure)."),
            "created_at": { "type": "string", "format": "date-time" },
        } },
        "DomainList": { "type": "object", "required": ["domains", "instance_hosts"], "properties": {
            "domains": { "type": "array", "items": schema("Domain") },
            "instance_hosts": { "type": "array", "items": { "type": "string" },
                "description": "The instance's own host names (its public URL's)." },
        } },
        "NewDomain": { "type": "object", "additionalProperties": false, "required": ["host"], "properties": {
            "host": { "type": "string", "maxLength": 253 },
        }, "example": { "host": "crm.example.com" } },
    })
}
