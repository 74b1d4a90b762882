//! The TLS part of the OpenAPI document: `GET /api/v1/instance/tls` for the instance owner's key.

use serde_json::{Value, json};

use super::*;

pub(super) fn tls_paths() -> Value {
    json!({
        "/api/v1/instance/tls": {
            "get": operation("showTls", "instance", "HTTPS status",
                "Needs the instance owner's `admin` key (any other key gets 404). The TLS mode (`off`, `auto`, `manual`, set in `config.toml` and applied at start), the listeners, the ACME directory, and per certificate its state, expiry, last error and next retry. Certificates are obtained in the background, so a failing one is reported here rather than stopping the server.",
                responses(&[("200", ok("The status.", "TlsStatus")), ("404", error("NotFound"))])),
        },
    })
}

pub(super) fn tls_schemas() -> Value {
    let millis =
        |what: &str| json!({ "type": ["integer", "null"], "description": format!("{what} (Unix milliseconds).") });
    json!({
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
