//! The JSON API with workspace API keys, on SQLite and Postgres: authentication, scopes, every endpoint's success
//! and failure, tenant isolation, the OpenAPI document, and the `workspace` / `api-key` commands.

use std::process::{Command, Output};

use conversure::config::DatabaseUrl;
use conversure::domain::role::Role;
use conversure::services::access::Actor;
use conversure::services::api_keys::{ApiKeyService, NewKey};
use conversure::services::workspaces::{NewWorkspace, Owner, WorkspaceService};
use conversure::startup::Application;
use conversure::store::{Db, accounts};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, TestDb, binary, test_config};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD, finish_after_database, pass_requirements};

const MEMBER_PASSWORD: &str = "amber kettle lighthouse 77";

/// An installed instance, a second handle on its database (for fixtures and checks), and an owner key.
pub(crate) struct Api {
    pub(crate) app: TestApp,
    pub(crate) db: Db,
    /// The first workspace ("Acme Support", made by the wizard).
    pub(crate) workspace_id: i64,
    pub(crate) owner_id: i64,
    /// An admin-scope key the signed-in owner created: it may use the owner endpoints.
    pub(crate) owner_key: String,
}

/// An answer: status, JSON body (`Null` when empty), and the `WWW-Authenticate` header.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) challenge: Option<String>,
}

pub(crate) async fn installed(backend: Backend) -> Option<Api> {
    installed_with(backend, &[]).await
}

/// [`installed`] with extra `CONVERSURE_*` settings.
pub(crate) async fn installed_with(backend: Backend, env: &[(&str, &str)]) -> Option<Api> {
    let app = crate::helpers::spawn_app_with(backend, env).await?;
    pass_requirements(&app).await;
    let used = app
        .client
        .post(app.url("/install/database"))
        .form(&[("action", "use"), ("kind", "sqlite")])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    finish_after_database(&app).await;
    let url = match &app.db.url {
        Some(url) => DatabaseUrl::parse(url).unwrap(),
        None => DatabaseUrl::Sqlite(app.data_dir.path().join("conversure.db")),
    };
    let db = Db::open(&url).await.unwrap();
    let mut conn = db.read().await.unwrap();
    let owner = accounts::user_by_email(&mut conn, ADMIN_EMAIL).await.unwrap().unwrap();
    let workspace_id = accounts::memberships_of(&mut conn, owner.id).await.unwrap()[0].workspace.id;
    drop(conn);
    // The owner signed in, in their workspace, as its admin: what the settings page does.
    let actor = Actor::user(owner.id, ADMIN_EMAIL, true, workspace_id, Role::Admin);
    let new = NewKey { name: "Owner automation".into(), scope: "admin".into() };
    let owner_key = ApiKeyService::new(db.clone()).create(&actor, &new).await.unwrap().secret;
    Some(Api { app, db, workspace_id, owner_id: owner.id, owner_key })
}

impl Api {
    /// Connects a Meta Cloud API number named `name` pointing at `mock` (webhooks signed with `app_secret`;
    /// `extra` credentials such as a `waba_id` added); returns its API body.
    pub(crate) async fn connect_meta(
        &self,
        mock: &crate::mock_providers::MockProvider,
        name: &str,
        phone: &str,
        app_secret: &str,
        extra: Value,
    ) -> Value {
        let auth = mock.auth();
        let mut credentials =
            json!({ "access_token": auth.token, "phone_number_id": auth.account, "app_secret": app_secret });
        if let (Some(all), Value::Object(more)) = (credentials.as_object_mut(), extra) {
            all.extend(more);
        }
        let body = json!({
            "name": name, "provider": "meta", "phone_number": phone, "api_base_url": mock.base_url(),
            "credentials": credentials,
        });
        let created = self.post("/api/v1/whatsapp-accounts", &self.owner_key, body).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body
    }

    pub(crate) async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        Answer { status, body, challenge }
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str, key: &str) -> Answer {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// A new key of the first workspace, made through the API with the owner key.
    pub(crate) async fn key(&self, name: &str, scope: &str) -> String {
        let created = self.post("/api/v1/api-keys", &self.owner_key, json!({ "name": name, "scope": scope })).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["key"].as_str().unwrap().to_owned()
    }

    async fn audit_count(&self, action: &str) -> i64 {
        let mut conn = self.db.read().await.unwrap();
        conn.fetch_one("SELECT COUNT(*) FROM audit_log WHERE action = $1", &[action.into()])
            .await
            .unwrap()
            .int(0)
            .unwrap()
    }
}

/// A key made as the CLI makes it (no creator user).
async fn cli_key(db: &Db, slug: &str, scope: &str) -> String {
    let new = NewKey { name: format!("{slug} {scope}"), scope: scope.into() };
    ApiKeyService::new(db.clone()).create_for_workspace(&Owner::cli(), slug, &new).await.unwrap().secret
}

/// The error body's code, and that it has the documented shape.
pub(crate) fn code(answer: &Answer) -> &str {
    let error = &answer.body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {}", answer.body);
    assert!(error["request_id"].as_str().is_some_and(|r| !r.is_empty()), "a request id: {}", answer.body);
    error["code"].as_str().unwrap_or_default()
}

fn field<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer.body["error"]["fields"][name].as_str().unwrap_or_default()
}

fn ids(list: &Value, key: &str) -> Vec<i64> {
    list[key].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()).collect()
}

fn is_key(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("cvk_") else { return false };
    let Some((prefix, secret)) = rest.split_at_checked(8) else { return false };
    prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && secret.len() == 44
        && secret.starts_with('_')
        && secret[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

both_backends!(keys_authenticate_and_scopes_limit_them, keys_authenticate_and_scopes_limit_them_on);
async fn keys_authenticate_and_scopes_limit_them_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };

    // No key, a malformed header, an unknown key: 401 with the Bearer challenge and a JSON error.
    for header in [None, Some("cvk_unknown_key"), Some(&"x".repeat(300)[..])] {
        let answer = api.call(Method::GET, "/api/v1/me", header, None).await;
        assert_eq!(answer.status, 401, "{header:?}");
        assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
        assert_eq!(code(&answer), "unauthorized");
    }
    let basic = api.app.client.get(api.app.url("/api/v1/users")).basic_auth("owner", Some("pw")).send().await.unwrap();
    assert_eq!(basic.status(), 401);

    // The owner key: its workspace, its name and scope.
    let me = api.get("/api/v1/me", &api.owner_key).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["workspace"]["id"], api.workspace_id);
    assert_eq!(me.body["workspace"]["slug"], "acme-support");
    assert_eq!(me.body["workspace"]["name"], "Acme Support");
    assert_eq!(
        (me.body["key"]["name"].as_str(), me.body["key"]["scope"].as_str()),
        (Some("Owner automation"), Some("admin"))
    );
    assert_eq!(me.body["owner"], true);

    // Keys are created with their full text once, and listed without it.
    let created = api.post("/api/v1/api-keys", &api.owner_key, json!({ "name": "Reporting", "scope": "read" })).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let read_key = created.body["key"].as_str().unwrap().to_owned();
    assert!(is_key(&read_key), "{read_key}");
    assert_eq!(created.body["prefix"].as_str().unwrap(), &read_key[4..12]);
    assert_eq!((created.body["scope"].as_str(), created.body["revoked"].as_bool()), (Some("read"), Some(false)));
    let read_id = created.body["id"].as_i64().unwrap();
    let default_scope = api.post("/api/v1/api-keys", &api.owner_key, json!({ "name": "Default" })).await;
    assert_eq!(default_scope.body["scope"], "read", "read is the default scope");
    let write_key = api.key("Sync", "write").await;
    let admin_key = api.key("Provisioning", "admin").await;
    let listed = api.get("/api/v1/api-keys", &api.owner_key).await;
    assert_eq!(listed.status, 200);
    let last_used = |list: &Value, name: &str| -> Value {
        list["api_keys"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap()["last_used_at"].clone()
    };
    assert!(last_used(&listed.body, "Sync").is_null(), "not used yet");
    let text = listed.body.to_string();
    assert!(!text.contains(&read_key) && !text.contains(&write_key) && !text.contains("\"key\""), "{text}");
    assert_eq!(ids(&listed.body, "api_keys").len(), 5);

    // Read: GET only. Write: changes, but not the team or the keys. Admin: everything in the workspace.
    assert_eq!(api.get("/api/v1/users", &read_key).await.status, 200);
    let new_user = json!({ "name": "Rita", "email": "rita@acme.example", "role": "agent" });
    let refused = api.post("/api/v1/users", &read_key, new_user.clone()).await;
    assert_eq!((refused.status, code(&refused)), (403, "forbidden"));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("only read"), "{}", refused.body);
    assert_eq!(
        api.patch(&format!("/api/v1/users/{}", api.owner_id), &read_key, json!({ "name": "X" })).await.status,
        403
    );
    assert_eq!(api.delete(&format!("/api/v1/api-keys/{read_id}"), &read_key).await.status, 403);
    assert_eq!(api.get("/api/v1/api-keys", &read_key).await.status, 403, "listing keys needs admin");
    assert_eq!(api.get("/api/v1/users", &write_key).await.status, 200);
    assert_eq!(api.post("/api/v1/users", &write_key, new_user.clone()).await.status, 403, "the team needs admin");
    assert_eq!(api.post("/api/v1/api-keys", &write_key, json!({ "name": "More" })).await.status, 403);
    let used = last_used(&api.get("/api/v1/api-keys", &api.owner_key).await.body, "Sync");
    assert!(used.is_string(), "use is recorded");
    api.get("/api/v1/me", &write_key).await;
    let again = last_used(&api.get("/api/v1/api-keys", &api.owner_key).await.body, "Sync");
    assert_eq!(again, used, "at most one write a minute per key");
    assert_eq!(api.post("/api/v1/users", &admin_key, new_user).await.status, 201);

    // An admin key made through the API is not an owner key: the owner endpoints do not exist for it.
    let not_owner = api.get("/api/v1/me", &admin_key).await;
    assert_eq!(not_owner.body["owner"], false);
    assert_eq!(api.get("/api/v1/workspaces", &admin_key).await.status, 404);
    assert_eq!(api.get("/api/v1/workspaces", &api.owner_key).await.status, 200);

    // Validation is per field.
    let invalid = api.post("/api/v1/api-keys", &admin_key, json!({ "name": " ", "scope": "root" })).await;
    assert_eq!((invalid.status, code(&invalid)), (422, "invalid"));
    assert!(
        !field(&invalid, "name").is_empty() && field(&invalid, "scope").contains("read, write or admin"),
        "{}",
        invalid.body
    );
    assert_eq!(invalid.body["error"]["message"], invalid.body["error"]["fields"]["name"]);

    // Revocation is immediate, idempotent, and 404 for keys that are not there.
    let revoked = api.delete(&format!("/api/v1/api-keys/{read_id}"), &admin_key).await;
    assert_eq!(revoked.status, 204);
    let after = api.get("/api/v1/me", &read_key).await;
    assert_eq!((after.status, after.challenge.as_deref()), (401, Some("Bearer")));
    assert_eq!(api.delete(&format!("/api/v1/api-keys/{read_id}"), &admin_key).await.status, 204);
    assert_eq!(api.delete("/api/v1/api-keys/987654", &admin_key).await.status, 404);
    assert_eq!(api.delete("/api/v1/api-keys/abc", &admin_key).await.status, 404);
    let listed = api.get("/api/v1/api-keys", &api.owner_key).await.body;
    let entry = listed["api_keys"].as_array().unwrap().iter().find(|k| k["id"] == read_id).unwrap().clone();
    assert_eq!(entry["revoked"], true);
    assert!(entry["revoked_at"].is_string() && entry["last_used_at"].is_string(), "{entry}");
    assert_eq!(api.audit_count("api_key.revoked").await, 1, "revoking twice is audited once");
    assert_eq!(api.audit_count("api_key.created").await, 5);

    // Every request with an admin-scope key is audited, with its method and path; other scopes are not.
    let before = api.audit_count("api.admin_request").await;
    api.get("/api/v1/users?search=zzz", &admin_key).await;
    api.get("/api/v1/users", &write_key).await;
    assert_eq!(api.audit_count("api.admin_request").await, before + 1);
    let mut conn = api.db.read().await.unwrap();
    let detail = conn
        .fetch_one("SELECT detail FROM audit_log WHERE action = 'api.admin_request' ORDER BY id DESC LIMIT 1", &[])
        .await
        .unwrap()
        .text(0)
        .unwrap();
    drop(conn);
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!((detail["method"].as_str(), detail["path"].as_str()), (Some("GET"), Some("/api/v1/users")));

    // Malformed requests: JSON errors too.
    let not_json = api
        .app
        .client
        .post(api.app.url("/api/v1/api-keys"))
        .bearer_auth(&admin_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.json::<Value>().await.unwrap()["error"]["code"], "bad_request");
    let unknown_field = api.post("/api/v1/api-keys", &admin_key, json!({ "name": "A", "scopes": "admin" })).await;
    assert_eq!((unknown_field.status, code(&unknown_field)), (400, "bad_request"));
    let wrong_method = api.call(Method::PUT, "/api/v1/users", Some(&admin_key), Some(json!({}))).await;
    assert_eq!((wrong_method.status, code(&wrong_method)), (405, "method_not_allowed"));
    let nowhere = api.get("/api/v1/nowhere", &admin_key).await;
    assert_eq!((nowhere.status, code(&nowhere)), (404, "not_found"));

    // Messages are in the installation's language, unless the language cookie asks for another.
    let arabic =
        api.app.client.get(api.app.url("/api/v1/me")).header("cookie", "conversure_lang=ar").send().await.unwrap();
    let arabic: Value = arabic.json().await.unwrap();
    assert!(arabic["error"]["message"].as_str().unwrap().contains("مفتاح"), "{arabic}");
}

both_backends!(a_suspended_workspace_locks_its_keys_out, a_suspended_workspace_locks_its_keys_out_on);
async fn a_suspended_workspace_locks_its_keys_out_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let beta = api.post("/api/v1/workspaces", &api.owner_key, json!({ "name": "Beta", "slug": "beta" })).await;
    assert_eq!(beta.status, 201, "{}", beta.body);
    let beta_id = beta.body["id"].as_i64().unwrap();
    let beta_key = cli_key(&api.db, "beta", "admin").await;
    assert_eq!(api.get("/api/v1/me", &beta_key).await.status, 200);
    let me = api.get("/api/v1/me", &beta_key).await;
    assert_eq!((me.body["owner"].as_bool(), me.body["workspace"]["slug"].as_str()), (Some(false), Some("beta")));

    let suspended =
        api.patch(&format!("/api/v1/workspaces/{beta_id}"), &api.owner_key, json!({ "status": "suspended" })).await;
    assert_eq!((suspended.status, suspended.body["status"].as_str()), (200, Some("suspended")));
    let locked = api.get("/api/v1/users", &beta_key).await;
    assert_eq!((locked.status, code(&locked)), (403, "forbidden"));
    assert!(locked.body["error"]["message"].as_str().unwrap().contains("suspended"));
    let active =
        api.patch(&format!("/api/v1/workspaces/{beta_id}"), &api.owner_key, json!({ "status": "active" })).await;
    assert_eq!(active.body["status"], "active");
    assert_eq!(api.get("/api/v1/users", &beta_key).await.status, 200);
}

both_backends!(users_are_listed_added_changed_and_removed, users_are_listed_added_changed_and_removed_on);
async fn users_are_listed_added_changed_and_removed_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let key = api.key("Team sync", "admin").await;
    let read_key = api.key("Reader", "read").await;

    // With a password: a member at once. Without: invited.
    let with_password = json!({ "name": "Paula Agent", "email": "Paula@Acme.example", "role": "agent",
                                "password": MEMBER_PASSWORD, "daily_quota": 40 });
    let paula = api.post("/api/v1/users", &key, with_password).await;
    assert_eq!(paula.status, 201, "{}", paula.body);
    assert_eq!(paula.body["invited"], false);
    assert_eq!((paula.body["role"].as_str(), paula.body["daily_quota"].as_i64()), (Some("agent"), Some(40)));
    assert_eq!((paula.body["status"].as_str(), paula.body["sent_today"].as_i64()), (Some("active"), Some(0)));
    assert!(paula.body["joined_at"].as_str().unwrap().ends_with('Z'));
    let paula_id = paula.body["id"].as_i64().unwrap();
    let ivan = api
        .post("/api/v1/users", &key, json!({ "name": "Ivan", "email": "ivan@acme.example", "role": "manager" }))
        .await;
    assert_eq!((ivan.status, ivan.body["invited"].as_bool()), (201, Some(true)), "{}", ivan.body);
    let ivan_id = ivan.body["id"].as_i64().unwrap();

    // Per-field validation, and an existing member.
    let bad =
        api.post("/api/v1/users", &key, json!({ "email": "not-an-email", "role": "boss", "daily_quota": -1 })).await;
    assert_eq!((bad.status, code(&bad)), (422, "invalid"));
    for name in ["name", "email", "role", "daily_quota"] {
        assert!(!field(&bad, name).is_empty(), "{name}: {}", bad.body);
    }
    let weak = api
        .post(
            "/api/v1/users",
            &key,
            json!({ "name": "W", "email": "w@acme.example", "role": "agent", "password": "password1" }),
        )
        .await;
    assert!(!field(&weak, "password").is_empty(), "{}", weak.body);
    let again =
        api.post("/api/v1/users", &key, json!({ "name": "P", "email": "paula@acme.example", "role": "agent" })).await;
    assert_eq!(again.status, 422);
    assert!(field(&again, "email").contains("already a member"), "{}", again.body);

    // List, search, filter.
    let all = api.get("/api/v1/users", &read_key).await;
    assert_eq!(ids(&all.body, "users").len(), 3);
    let found = api.get("/api/v1/users?search=PAULA", &read_key).await;
    assert_eq!(ids(&found.body, "users"), [paula_id]);
    assert_eq!(ids(&api.get("/api/v1/users?status=inactive", &read_key).await.body, "users").len(), 0);
    let bad_status = api.get("/api/v1/users?status=gone", &read_key).await;
    assert_eq!((bad_status.status, field(&bad_status, "status").is_empty()), (422, false));
    let bad_query = api.get("/api/v1/users?colour=red", &read_key).await;
    assert_eq!(bad_query.status, 400);

    // One member; others are 404.
    let one = api.get(&format!("/api/v1/users/{paula_id}"), &read_key).await;
    assert_eq!((one.status, one.body["email"].as_str()), (200, Some("Paula@Acme.example")));
    assert_eq!(api.get("/api/v1/users/999999", &read_key).await.status, 404);
    assert_eq!(api.get("/api/v1/users/paula", &read_key).await.status, 404);

    // PATCH changes only what is given; null clears the quota.
    let path = format!("/api/v1/users/{paula_id}");
    let changed = api.patch(&path, &key, json!({ "name": "Paula A.", "role": "manager" })).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!((changed.body["name"].as_str(), changed.body["role"].as_str()), (Some("Paula A."), Some("manager")));
    assert_eq!(changed.body["daily_quota"], 40, "untouched");
    let cleared = api.patch(&path, &key, json!({ "daily_quota": null })).await;
    assert!(cleared.body["daily_quota"].is_null(), "{}", cleared.body);
    let invalid = api.patch(&path, &key, json!({ "role": "owner", "status": "away", "daily_quota": -5 })).await;
    assert_eq!(invalid.status, 422);
    assert!(
        !field(&invalid, "role").is_empty()
            && !field(&invalid, "status").is_empty()
            && !field(&invalid, "daily_quota").is_empty()
    );
    assert_eq!(api.patch("/api/v1/users/999999", &key, json!({ "name": "Nobody" })).await.status, 404);

    // Deactivate and activate.
    let off = api.post(&format!("/api/v1/users/{paula_id}/deactivate"), &key, json!({})).await;
    assert_eq!((off.status, off.body["status"].as_str()), (200, Some("inactive")));
    assert_eq!(ids(&api.get("/api/v1/users?status=inactive", &read_key).await.body, "users"), [paula_id]);
    let on = api.post(&format!("/api/v1/users/{paula_id}/activate"), &key, json!({})).await;
    assert_eq!((on.status, on.body["status"].as_str()), (200, Some("active")));
    assert_eq!(api.post("/api/v1/users/999999/deactivate", &key, json!({})).await.status, 404);

    // The last active admin stays: 409 with a clear message.
    let last = api.post(&format!("/api/v1/users/{}/deactivate", api.owner_id), &key, json!({})).await;
    assert_eq!((last.status, code(&last)), (409, "conflict"));
    assert!(last.body["error"]["message"].as_str().unwrap().contains("at least one active administrator"));
    assert_eq!(api.delete(&format!("/api/v1/users/{}", api.owner_id), &key).await.status, 409);

    // The agents limit: reached means 409 naming the limit, for new members and for reactivation.
    let limits = api
        .patch(
            &format!("/api/v1/workspaces/{}", api.workspace_id),
            &api.owner_key,
            json!({ "limits": { "agents": 3 } }),
        )
        .await;
    assert_eq!((limits.status, limits.body["limits"]["agents"].as_i64()), (200, Some(3)), "{}", limits.body);
    let over = api
        .post("/api/v1/users", &key, json!({ "name": "Oscar", "email": "oscar@acme.example", "role": "agent" }))
        .await;
    assert_eq!((over.status, code(&over)), (409, "conflict"));
    let message = over.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("limit of 3 active members"), "{message}");
    api.post(&format!("/api/v1/users/{ivan_id}/deactivate"), &key, json!({})).await;
    api.post("/api/v1/users", &key, json!({ "name": "Oscar", "email": "oscar@acme.example", "role": "agent" })).await;
    let reactivate = api.post(&format!("/api/v1/users/{ivan_id}/activate"), &key, json!({})).await;
    assert_eq!(reactivate.status, 409, "{}", reactivate.body);

    // Remove.
    assert_eq!(api.delete(&path, &key).await.status, 204);
    assert_eq!(api.get(&path, &key).await.status, 404);
    assert_eq!(api.delete(&path, &key).await.status, 404);
}

both_backends!(the_owner_manages_workspaces, the_owner_manages_workspaces_on);
async fn the_owner_manages_workspaces_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let owner = &api.owner_key;
    let admin_key = api.key("Tenant admin", "admin").await;
    let write_key = api.key("Tenant write", "write").await;

    let list = api.get("/api/v1/workspaces", owner).await;
    assert_eq!(ids(&list.body, "workspaces"), [api.workspace_id]);
    let first = &list.body["workspaces"][0];
    assert_eq!((first["slug"].as_str(), first["status"].as_str()), (Some("acme-support"), Some("active")));
    assert!(first["limits"]["agents"].is_null() && first["members"].as_i64() == Some(1), "{first}");

    // Create: validation per field, a taken slug, an unknown admin.
    let created = api
        .post(
            "/api/v1/workspaces",
            owner,
            json!({ "name": "Globex Help", "slug": "globex", "timezone": "Asia/Dubai", "admin_email": ADMIN_EMAIL }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        (created.body["slug"].as_str(), created.body["timezone"].as_str()),
        (Some("globex"), Some("Asia/Dubai"))
    );
    assert_eq!(created.body["members"], 1, "the admin joined");
    let globex = created.body["id"].as_i64().unwrap();
    let derived = api.post("/api/v1/workspaces", owner, json!({ "name": "Initech Support" })).await;
    assert_eq!((derived.status, derived.body["slug"].as_str()), (201, Some("initech-support")));
    let bad =
        api.post("/api/v1/workspaces", owner, json!({ "name": "", "slug": "-x-", "timezone": "Mars/Base" })).await;
    assert_eq!(bad.status, 422);
    assert!(
        !field(&bad, "name").is_empty() && !field(&bad, "slug").is_empty() && !field(&bad, "timezone").is_empty(),
        "{}",
        bad.body
    );
    let taken = api.post("/api/v1/workspaces", owner, json!({ "name": "Again", "slug": "globex" })).await;
    assert!(taken.status == 422 && !field(&taken, "slug").is_empty());
    let stranger = api
        .post(
            "/api/v1/workspaces",
            owner,
            json!({ "name": "S", "slug": "stranger", "admin_email": "nobody@x.example" }),
        )
        .await;
    assert!(stranger.status == 422 && !field(&stranger, "admin_email").is_empty());

    // Get; PATCH limits (absent: unchanged, null: unlimited) and status.
    let path = format!("/api/v1/workspaces/{globex}");
    assert_eq!(api.get(&path, owner).await.body["name"], "Globex Help");
    assert_eq!(api.get("/api/v1/workspaces/424242", owner).await.status, 404);
    let limited = api.patch(&path, owner, json!({ "limits": { "agents": 5, "contacts": 1000 } })).await;
    assert_eq!(
        limited.body["limits"],
        json!({ "agents": 5, "numbers": null, "contacts": 1000, "messages_per_month": null })
    );
    let more = api.patch(&path, owner, json!({ "limits": { "numbers": 2, "contacts": null } })).await;
    assert_eq!(more.body["limits"], json!({ "agents": 5, "numbers": 2, "contacts": null, "messages_per_month": null }));
    let negative = api.patch(&path, owner, json!({ "limits": { "agents": -1 }, "status": "suspended" })).await;
    assert_eq!((negative.status, field(&negative, "limits").is_empty()), (422, false));
    assert_eq!(api.get(&path, owner).await.body["status"], "active", "a refused PATCH changes nothing");
    let bad_status = api.patch(&path, owner, json!({ "status": "paused" })).await;
    assert_eq!((bad_status.status, field(&bad_status, "status").is_empty()), (422, false));
    let suspended = api.patch(&path, owner, json!({ "status": "suspended" })).await;
    assert_eq!(suspended.body["status"], "suspended");
    assert_eq!(api.patch("/api/v1/workspaces/424242", owner, json!({ "status": "active" })).await.status, 404);

    // Delete needs the slug repeated.
    let unconfirmed = api.delete(&path, owner).await;
    assert_eq!(unconfirmed.status, 422);
    assert!(field(&unconfirmed, "confirm").contains("globex"), "{}", unconfirmed.body);
    assert_eq!(api.delete(&format!("{path}?confirm=acme-support"), owner).await.status, 422);
    assert_eq!(api.delete(&format!("{path}?confirm=globex"), owner).await.status, 204);
    assert_eq!(api.get(&path, owner).await.status, 404);
    assert_eq!(api.delete(&format!("{path}?confirm=globex"), owner).await.status, 404);

    // Anyone but the owner's admin key: 404 on every owner route, changing nothing.
    let initech = derived.body["id"].as_i64().unwrap();
    let ipath = format!("/api/v1/workspaces/{initech}");
    for key in [&admin_key, &write_key] {
        assert_eq!(api.get("/api/v1/workspaces", key).await.status, 404);
        assert_eq!(api.post("/api/v1/workspaces", key, json!({ "name": "Mine" })).await.status, 404);
        assert_eq!(api.get(&ipath, key).await.status, 404);
        assert_eq!(api.patch(&ipath, key, json!({ "status": "suspended" })).await.status, 404);
        assert_eq!(api.delete(&format!("{ipath}?confirm=initech-support"), key).await.status, 404);
    }
    let after = api.get("/api/v1/workspaces", owner).await;
    assert_eq!(ids(&after.body, "workspaces"), [api.workspace_id, initech]);
    assert!(after.body["workspaces"].as_array().unwrap().iter().all(|w| w["status"] == "active"));

    // The owner's own keys in a second workspace are not owner keys unless made by the owner signed in there.
    let actor = Actor::user(api.owner_id, ADMIN_EMAIL, true, initech, Role::Admin);
    let new = NewKey { name: "W".into(), scope: "write".into() };
    let owner_write = ApiKeyService::new(api.db.clone()).create(&actor, &new).await.unwrap().secret;
    assert_eq!(api.get("/api/v1/workspaces", &owner_write).await.status, 404, "owner keys need the admin scope");

    // Deleting the last workspace is refused.
    assert_eq!(api.delete(&format!("{ipath}?confirm=initech-support"), owner).await.status, 204);
    let last = api.delete(&format!("/api/v1/workspaces/{}?confirm=acme-support", api.workspace_id), owner).await;
    assert_eq!((last.status, code(&last)), (409, "conflict"));
}

both_backends!(another_workspace_sees_and_changes_nothing, another_workspace_sees_and_changes_nothing_on);
async fn another_workspace_sees_and_changes_nothing_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    // The first workspace: a member, and keys of each scope.
    let a_admin = api.key("A admin", "admin").await;
    let a_member = api
        .post("/api/v1/users", &a_admin, json!({ "name": "Anna", "email": "anna@acme.example", "role": "agent" }))
        .await;
    let a_user_ids = [api.owner_id, a_member.body["id"].as_i64().unwrap()];
    api.key("A read", "read").await;
    let a_keys_before = api.get("/api/v1/api-keys", &a_admin).await.body;
    let a_key_ids = ids(&a_keys_before, "api_keys");
    let a_users_before = api.get("/api/v1/users", &a_admin).await.body;

    // A second workspace with its own admin and key.
    let workspaces = WorkspaceService::new(api.db.clone());
    let new = NewWorkspace { name: "Beta Corp".into(), slug: "beta".into(), ..NewWorkspace::default() };
    let beta = workspaces.create(&Owner::cli(), &new).await.unwrap();
    let b_key = cli_key(&api.db, "beta", "admin").await;
    let b_admin = api
        .post(
            "/api/v1/users",
            &b_key,
            json!({ "name": "Bert", "email": "bert@beta.example", "role": "admin", "password": MEMBER_PASSWORD }),
        )
        .await;
    assert_eq!(b_admin.status, 201, "{}", b_admin.body);
    let b_me = api.get("/api/v1/me", &b_key).await;
    assert_eq!(b_me.body["workspace"]["id"], beta.id);

    // Lists show only the second workspace's own things.
    let b_users = api.get("/api/v1/users", &b_key).await.body;
    assert_eq!(ids(&b_users, "users"), [b_admin.body["id"].as_i64().unwrap()]);
    assert!(!b_users.to_string().contains("acme.example"));
    let b_keys = ids(&api.get("/api/v1/api-keys", &b_key).await.body, "api_keys");
    assert!(b_keys.iter().all(|id| !a_key_ids.contains(id)), "{b_keys:?} vs {a_key_ids:?}");

    // Every route, aimed at the first workspace's users and keys: not found.
    for id in a_user_ids {
        let user = format!("/api/v1/users/{id}");
        assert_eq!(api.get(&user, &b_key).await.status, 404, "GET {user}");
        let patched = api
            .patch(&user, &b_key, json!({ "name": "Hacked", "role": "agent", "daily_quota": 1, "status": "inactive" }))
            .await;
        assert_eq!(patched.status, 404, "PATCH {user}: {}", patched.body);
        assert_eq!(api.post(&format!("{user}/deactivate"), &b_key, json!({})).await.status, 404);
        assert_eq!(api.post(&format!("{user}/activate"), &b_key, json!({})).await.status, 404);
        assert_eq!(api.delete(&user, &b_key).await.status, 404, "DELETE {user}");
    }
    for id in &a_key_ids {
        assert_eq!(api.delete(&format!("/api/v1/api-keys/{id}"), &b_key).await.status, 404, "key {id}");
    }
    // Adding a person of the first workspace by email makes them a member of the second too (their account is
    // the installation's), but the second workspace cannot rename them, and removing them there leaves the first alone.
    let anna_in_b = api
        .post("/api/v1/users", &b_key, json!({ "name": "Anna B", "email": "anna@acme.example", "role": "agent" }))
        .await;
    assert_eq!(anna_in_b.status, 201, "{}", anna_in_b.body);
    let anna_path = format!("/api/v1/users/{}", a_user_ids[1]);
    let renamed = api.patch(&anna_path, &b_key, json!({ "name": "Hacked" })).await;
    assert_eq!(renamed.status, 422);
    assert!(field(&renamed, "name").contains("another workspace"), "{}", renamed.body);
    assert_eq!(api.patch(&anna_path, &b_key, json!({ "role": "manager", "daily_quota": 3 })).await.status, 200);
    assert_eq!(api.delete(&anna_path, &b_key).await.status, 204);
    assert_eq!(api.get(&anna_path, &b_key).await.status, 404);

    let a_workspace = format!("/api/v1/workspaces/{}", api.workspace_id);
    assert_eq!(api.get("/api/v1/workspaces", &b_key).await.status, 404);
    assert_eq!(api.post("/api/v1/workspaces", &b_key, json!({ "name": "X" })).await.status, 404);
    assert_eq!(api.get(&a_workspace, &b_key).await.status, 404);
    assert_eq!(api.patch(&a_workspace, &b_key, json!({ "status": "suspended" })).await.status, 404);
    assert_eq!(api.delete(&format!("{a_workspace}?confirm=acme-support"), &b_key).await.status, 404);

    // The first workspace, seen with its own key: unchanged.
    let a_users_after = api.get("/api/v1/users", &a_admin).await.body;
    assert_eq!(a_users_after, a_users_before);
    let a_keys_after = api.get("/api/v1/api-keys", &a_admin).await.body;
    let shape = |list: &Value| -> Vec<(Value, Value, Value, Value)> {
        list["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["id"].clone(), k["name"].clone(), k["scope"].clone(), k["revoked"].clone()))
            .collect()
    };
    assert_eq!(shape(&a_keys_after), shape(&a_keys_before));
    let a_me = api.get("/api/v1/me", &api.owner_key).await;
    assert_eq!(a_me.body["workspace"]["id"], api.workspace_id);
    assert_eq!(api.get(&a_workspace, &api.owner_key).await.body["status"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    let Some(api) = installed(Backend::Sqlite).await else { return };
    let response = api.app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200, "served without a key");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["fields"].is_object());
    let served = conversure::web::api::served();
    assert!(served.len() >= 17);
    for (verb, path) in served {
        let operation = &doc["paths"][path][verb.as_str()];
        assert!(operation.is_object(), "{} {path} is not in the document", verb.as_str());
        // And the route really is served: anything but 404/405 without a key.
        let method = Method::from_bytes(verb.as_str().to_uppercase().as_bytes()).unwrap();
        let answer = api.call(method, &path.replace("{id}", "1"), None, None).await;
        assert!(answer.status == 401 || answer.status == 200, "{} {path}: {}", verb.as_str(), answer.status);
    }
    assert!(doc["info"]["description"].as_str().unwrap().contains("instance owner"));
}

// ----------------------------------------------------------------------------------------------- the command line

fn conversure(args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    command.args(args).current_dir("/").env("CONVERSURE_NETWORK_PROBE_URL", "http://127.0.0.1:9/");
    for (key, _) in
        std::env::vars().filter(|(k, _)| k.starts_with("CONVERSURE_") && k != "CONVERSURE_NETWORK_PROBE_URL")
    {
        command.env_remove(key);
    }
    command.output().expect("run conversure")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure: non-zero exit, and one `error:` line on standard error, last, naming `what` (log lines may precede
/// it), and nothing on standard output.
fn assert_one_line_error(output: &Output, what: &str) {
    assert!(!output.status.success(), "should fail: {}", stdout(output));
    let text = stderr(output);
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {text}");
    assert_eq!(text.trim_end().lines().last(), Some(errors[0]), "the error comes last: {text}");
    assert!(errors[0].contains(what), "{text}");
    assert!(stdout(output).is_empty(), "nothing on stdout: {}", stdout(output));
}

both_backends!(the_cli_provisions_a_workspace_and_a_working_key, the_cli_provisions_a_workspace_and_a_working_key_on);
async fn the_cli_provisions_a_workspace_and_a_working_key_on(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let mut base = vec!["--data-dir".to_owned(), data_arg.clone()];
    if let Some(url) = &db.url {
        base.extend(["--database-url".to_owned(), url.clone()]);
    }
    let with_base = |args: &[&str]| -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(base.iter().map(String::as_str));
        conversure(&all)
    };

    // Refused on a data directory that is not installed, leaving nothing behind.
    let early = with_base(&["workspace", "create", "--name", "Beta", "--slug", "beta"]);
    assert_one_line_error(&early, "not an installed");
    assert!(!data.exists(), "the refused command left no data directory");
    assert_one_line_error(&with_base(&["api-key", "create", "--workspace", "beta", "--name", "K"]), "not an installed");

    let password_file = root.path().join("password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let install = with_base(&[
        "install",
        "--admin-email",
        ADMIN_EMAIL,
        "--admin-password-file",
        password_file.to_str().unwrap(),
        "--site-url",
        "https://crm.acme.example",
        "--evaluation",
    ]);
    assert!(install.status.success(), "{}", stderr(&install));

    // workspace create: what was made is printed; bad values are named, one line each.
    let created =
        with_base(&["workspace", "create", "--name", "Beta Ltd", "--slug", "beta", "--admin-email", ADMIN_EMAIL]);
    assert!(created.status.success(), "{}", stderr(&created));
    let said = stdout(&created);
    assert!(
        said.contains("created workspace beta") && said.contains("Beta Ltd") && said.contains(ADMIN_EMAIL),
        "{said}"
    );
    assert_one_line_error(&with_base(&["workspace", "create", "--name", "Again", "--slug", "beta"]), "--slug");
    assert_one_line_error(&with_base(&["workspace", "create", "--name", "Bad", "--slug", "Not A Slug!"]), "--slug");
    assert_one_line_error(
        &with_base(&["workspace", "create", "--name", "G", "--slug", "gamma", "--admin-email", "nobody@x.example"]),
        "--admin-email",
    );
    assert_one_line_error(&with_base(&["workspace", "create", "--name", " ", "--slug", "delta"]), "--name");

    // api-key create: the key alone on stdout; bad flags named.
    let key_out =
        with_base(&["api-key", "create", "--workspace", "beta", "--name", "Provisioning", "--scope", "write"]);
    assert!(key_out.status.success(), "{}", stderr(&key_out));
    let printed = stdout(&key_out);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let key = printed.trim().to_owned();
    assert!(is_key(&key), "{key}");
    assert!(!stderr(&key_out).contains(&key[13..]), "the secret is printed once");
    assert!(stderr(&key_out).contains(&key[4..12]), "the prefix is named: {}", stderr(&key_out));
    let read_out = with_base(&["api-key", "create", "--workspace", "beta", "--name", "Reader"]);
    let read_key = stdout(&read_out).trim().to_owned();
    assert_one_line_error(
        &with_base(&["api-key", "create", "--workspace", "beta", "--name", "K", "--scope", "root"]),
        "--scope",
    );
    assert_one_line_error(&with_base(&["api-key", "create", "--workspace", "nowhere", "--name", "K"]), "--workspace");
    assert_one_line_error(&with_base(&["api-key", "create", "--workspace", "beta", "--name", ""]), "--name");
    let missing = with_base(&["api-key", "create", "--name", "K"]);
    assert!(!missing.status.success() && stderr(&missing).contains("--workspace"));

    // Serve the data directory: the printed keys work, in their workspace, with their scope; never as owner keys.
    let config = test_config(&data, db.url.clone(), &[]);
    let app = Application::build(config).await.expect("serve the installed data directory");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let client = reqwest::Client::new();
    let me: Value =
        client.get(format!("http://{addr}/api/v1/me")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["workspace"]["slug"].as_str(), me["key"]["scope"].as_str()), (Some("beta"), Some("write")), "{me}");
    assert_eq!(me["owner"], false);
    let users: Value = client
        .get(format!("http://{addr}/api/v1/users"))
        .bearer_auth(&read_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["users"][0]["email"], ADMIN_EMAIL, "the admin joined the new workspace: {users}");
    assert_eq!(users["users"][0]["role"], "admin");
    let owner_route = client.get(format!("http://{addr}/api/v1/workspaces")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(owner_route.status(), 404);
    let _ = stop.send(());
    server.await.unwrap();
}

/// A new workspace (made as the CLI makes it) and an admin key of it: the outsider in tenant-isolation checks.
pub(crate) async fn cli_key_for_new_workspace(api: &Api, slug: &str) -> String {
    let new = NewWorkspace { name: format!("Outsider {slug}"), slug: slug.into(), ..NewWorkspace::default() };
    WorkspaceService::new(api.db.clone()).create(&Owner::cli(), &new).await.unwrap();
    cli_key(&api.db, slug, "admin").await
}
