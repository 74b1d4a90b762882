//! The OpenAPI 3.1 description of the API, built once and served at `GET /api/v1/openapi.json` (no key needed).
//! A unit test checks that it describes exactly the routes of [`super::served`].

use std::sync::LazyLock;

use axum::Json;
use serde_json::{Map, Value, json};

mod backups;
mod compose;
mod domains;
mod events;
mod organize;
mod paths;
mod schemas;
mod templates;
mod tls;
mod update;
mod whatsapp;

use events::{event_paths, event_schemas};
use paths::{job_paths, paths};
use schemas::{job_schemas, schemas, shared_responses};
use templates::{template_paths, template_schemas};
use whatsapp::{whatsapp_paths, whatsapp_schemas};

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

pub(super) fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn error(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

pub(super) fn ok(description: &str, schema_name: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema(schema_name) } } })
}

pub(super) fn body(schema_name: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema(schema_name) } } })
}

pub(super) fn no_content(description: &str) -> Value {
    json!({ "description": description })
}

/// An operation with the responses every authenticated operation shares.
pub(super) fn operation(
    id: &str,
    tag: &str,
    summary: &str,
    description: &str,
    mut responses: Map<String, Value>,
) -> Value {
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

pub(super) fn responses(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(status, value)| ((*status).to_owned(), value.clone())).collect()
}

pub(super) fn with(mut operation: Value, key: &str, value: Value) -> Value {
    operation[key] = value;
    operation
}

pub(super) fn id_parameter(what: &str) -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "description": format!("The {what}'s id."),
             "schema": { "type": "integer", "format": "int64" } }])
}

pub(super) fn nullable(kind: &str, description: &str) -> Value {
    json!({ "type": [kind, "null"], "description": description })
}

pub(super) fn limit_schema(nullable_only: bool) -> Value {
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

/// The entries of two JSON objects in one.
/// One JSON object with the members of all `parts` (each module describes its own paths and schemas).
fn merged_all<const N: usize>(parts: [Value; N]) -> Value {
    let mut all = serde_json::Map::new();
    for part in parts {
        if let Value::Object(members) = part {
            for (key, value) in members {
                // Two modules may describe different methods of one path: their operations are merged.
                match (all.get_mut(&key), value) {
                    (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                    (_, value) => {
                        all.insert(key, value);
                    }
                }
            }
        }
    }
    Value::Object(all)
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
            { "name": "domains", "description": "Custom domains of workspaces (managed with owner keys)." },
            { "name": "jobs", "description": "The background job queue: the key's workspace (admin scope), or every workspace (owner keys)." },
            { "name": "whatsapp", "description": "WhatsApp numbers of the key's workspace and their providers." },
            { "name": "conversations", "description": "Conversations with customers and their threads." },
            { "name": "messages", "description": "Sending messages and files, and their delivery status." },
        ],
        "paths": merged_all([
            paths(),
            job_paths(),
            whatsapp_paths(),
            template_paths(),
            event_paths(),
            compose::compose_paths(),
            backups::backup_paths(),
            update::update_paths(),
            tls::tls_paths(),
            organize::organize_paths(),
            domains::domain_paths(),
        ]),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "cvk_<prefix>_<secret>",
                    "description": "A workspace API key, created by a workspace admin or with `conversure api-key create`.",
                },
            },
            "schemas": merged_all([
                schemas(),
                job_schemas(),
                whatsapp_schemas(),
                template_schemas(),
                event_schemas(),
                compose::compose_schemas(),
                backups::backup_schemas(),
                update::update_schemas(),
                tls::tls_schemas(),
                organize::organize_schemas(),
                domains::domain_schemas(),
            ]),
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
