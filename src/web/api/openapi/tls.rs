//! The TLS part of the OpenAPI document: the HTTPS status, the HTTPS settings and the restart that applies them
//! (the instance owner's key only).

use serde_json::{Value, json};

use super::*;

pub(super) fn tls_paths() -> Value {
    json!({
        "/api/v1/instance/tls": {
            "get": operation("showTls", "instance", "HTTPS status",
                "Needs the instance owner's `admin` key (any other key gets 404). The TLS mode (`off`, `auto`, `manual`, set in `config.toml` and applied at start), the listeners, the ACME directory, and per certificate its state, expiry, last error and next retry. Certificates are obtained in the background, so a failing one is reported here rather than stopping the server.",
                responses(&[("200", ok("The status.", "TlsStatus")), ("404", error("NotFound"))])),
        },
        "/api/v1/instance/tls/settings": {
            "get": operation("getTlsSettings", "instance", "HTTPS settings",
                "Needs the instance owner's `admin` key. The settings the next start will use (from `config.toml`, with the keys the environment sets listed in `fixed`), and whether they differ from the running ones (`restart_required`).",
                responses(&[("200", ok("The settings.", "TlsSettings")), ("404", error("NotFound"))])),
            "patch": with(
                operation("updateTlsSettings", "instance", "Change the HTTPS settings",
                    "Needs the instance owner's `admin` key. The fields given replace the saved ones; the result is validated exactly as start-up reads it (domain names, the directory address, the contact email; in `manual` mode the certificate and key files must be readable and match). A field the environment sets cannot be changed here. Invalid settings are 422 and nothing is written. The settings apply after `POST /api/v1/instance/restart`.",
                    responses(&[("200", ok("The saved settings.", "TlsSettings")), ("404", error("NotFound")), ("422", error("Invalid"))])),
                "requestBody", body("TlsSettingsChange"),
            ),
        },
        "/api/v1/instance/restart": {
            "post": operation("restartInstance", "instance", "Restart the server",
                "Needs the instance owner's `admin` key. Answers 202, then the server finishes the requests in flight, stops and starts again with the saved settings (in place, or under systemd by exiting for it to restart the service). `GET /healthz` answers again once it is back.",
                responses(&[("202", ok("Restarting.", "Restarting")), ("404", error("NotFound"))])),
        },
    })
}

pub(super) fn tls_schemas() -> Value {
    let millis =
        |what: &str| json!({ "type": ["integer", "null"], "description": format!("{what} (Unix milliseconds).") });
    let settings = json!({
        "mode": { "type": "string", "enum": ["off", "auto", "manual"] },
        "domains": { "type": "string", "description": "Comma-separated domains (auto mode).", "example": "crm.example.com" },
        "email": { "type": "string", "description": "Contact address for the certificate authority (may be empty)." },
        "staging": { "type": "boolean", "description": "Let's Encrypt's staging directory (untrusted test certificates)." },
        "directory_url": { "type": "string", "description": "Another ACME directory; empty for Let's Encrypt." },
        "cert_file": { "type": "string", "description": "Manual mode: the certificate chain (PEM path)." },
        "key_file": { "type": "string", "description": "Manual mode: the private key (PEM path)." },
    });
    json!({
        "TlsSettingsChange": { "type": "object", "additionalProperties": false, "properties": settings.clone() },
        "TlsSettings": { "type": "object", "required": ["saved", "fixed", "restart_required"], "properties": {
            "saved": { "type": "object", "properties": settings },
            "fixed": { "type": "array", "items": { "type": "string" },
                       "description": "Fields set by CONVERSURE_* environment variables, which win over config.toml." },
            "restart_required": { "type": "boolean", "description": "The saved settings are not the running ones." } } },
        "Restarting": { "type": "object", "required": ["status"],
                        "properties": { "status": { "type": "string", "enum": ["restarting"] } } },
        "TlsStatus": { "type": "object", "required": ["mode", "certificates"], "properties": {
            "mode": { "type": "string", "enum": ["off", "auto", "manual"] },
            "https_listen": { "type": ["string", "null"] },
            "http_listen": { "type": ["string", "null"], "description": "The HTTP listener that redirects to HTTPS." },
            "directory_url": { "type": ["string", "null"], "description": "The ACME directory (auto mode)." },
            "certificates": { "type": "array", "items": schema("TlsCertificate") } } },
        "TlsCertificate": { "type": "object", "required": ["name", "state", "on_demand"], "properties": {
            "name": { "type": "string", "description": "The domain (auto mode) or the certificate file (manual mode)." },
            "state": { "type": "string", "enum": ["pending", "valid", "failing"] },
            "on_demand": { "type": "boolean", "description": "Obtained for a custom domain when first asked for." },
            "expires_at": millis("When the served certificate expires"),
            "last_error": { "type": ["string", "null"] },
            "next_retry_at": millis("When a failed order is tried again") } },
    })
}
