//! The inbox composer and contact panel over HTTP, on SQLite and Postgres, against the mock providers: quick
//! replies (workspace-wide and personal, placeholders, the no-script prefill, the API), emoji reaching the
//! provider byte for byte, attachments (sent as Meta media, too large refused, not offered on Twilio), the
//! composer disabled when the agent's quota is used up, and the contact panel (edits, custom fields, tags, the
//! contact's conversations) with its visibility rules and tenant isolation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::mock_providers::{MockProvider, meta, post_webhook, twilio};
use crate::web_user::{Browser, csrf_of, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const APP_SECRET: &str = "meta-app-secret-for-compose";
const CUSTOMER: &str = "+447700900123";
const AGENT_EMAIL: &str = "ana@acme.example";
const AGENT_PASSWORD: &str = "copper meadow violin 31";

// ---- Helpers -----------------------------------------------------------------------------------------------------

/// A Meta number on the mock with one inbound conversation from Kerry Fisher; returns (number id, conversation id).
async fn meta_conversation(api: &Api, mock: &MockProvider, phone: &str) -> (i64, i64) {
    let created = api.connect_meta(mock, "Support", phone, APP_SECRET, json!({})).await;
    let parsed = url::Url::parse(created["webhook_url"].as_str().unwrap()).unwrap();
    let url = api.app.url(parsed.path());
    let party = meta::CloudParty::new(&mock.auth().account, phone, CUSTOMER);
    let inbound = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Hello there");
    assert_eq!(post_webhook(&url, &meta::signed(&inbound, APP_SECRET)).await.status(), 200);
    let number = created["id"].as_i64().unwrap();
    let listed = api.get(&format!("/api/v1/conversations?whatsapp_account_id={number}"), &api.owner_key).await;
    (number, listed.body["conversations"][0]["id"].as_i64().unwrap())
}

/// Adds an agent to the first workspace; returns their user id.
async fn add_agent(api: &Api, owner: &Browser<'_>) -> i64 {
    let added = owner
        .send(
            "/admin/members",
            &[("name", "Ana Agent"), ("email", AGENT_EMAIL), ("role", "agent"), ("password", AGENT_PASSWORD)],
        )
        .await;
    assert_eq!(added.status(), 303, "the agent is added");
    let mut conn = api.db.read().await.unwrap();
    conversure::store::accounts::user_by_email(&mut conn, AGENT_EMAIL).await.unwrap().unwrap().id
}

async fn sql(api: &Api, statement: &str, params: &[conversure::store::Value]) {
    let mut conn = api.db.write().await.unwrap();
    conn.execute(statement, params).await.unwrap();
    conn.commit().await.unwrap();
}

async fn newest_message(api: &Api, conversation: i64) -> Value {
    api.get(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key).await.body["messages"][0].clone()
}

/// Polls a message until it leaves `pending` (or fails after 15 s).
async fn settled(api: &Api, id: i64) -> Value {
    for _ in 0..300 {
        let message = api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body;
        if message["status"] != "pending" {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} stayed pending");
}

/// A multipart upload to the composer, with the session's CSRF token.
async fn attach(browser: &Browser<'_>, conversation: i64, name: &str, mime: &str, bytes: Vec<u8>) -> reqwest::Response {
    let csrf = csrf_of(&browser.html("/").await);
    let file = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()).mime_str(mime).unwrap();
    let form = reqwest::multipart::Form::new().text("csrf", csrf).text("caption", "Your invoice").part("file", file);
    browser.client.post(browser.app.url(&format!("/inbox/{conversation}/attach"))).multipart(form).send().await.unwrap()
}

fn unescape(html: &str) -> String {
    html.replace("&#123;", "{")
        .replace("&#125;", "}")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

// ---- Quick replies, emoji, attachments, quota --------------------------------------------------------------------

both_backends!(the_composer_tools, the_composer_tools_on);
async fn the_composer_tools_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let (_, id) = meta_conversation(&api, &mock, "+15550100").await;
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let agent_id = add_agent(&api, &owner).await;
    let agent = Browser::signed_in(&api.app, AGENT_EMAIL, AGENT_PASSWORD).await;

    // A workspace-wide reply from the admin; a bad shortcut is refused and stores nothing.
    let body = "Hi {{contact.first_name}}, {{agent.name}} from {{number.name}} here. Plan: {{contact.plan}}";
    let bad =
        owner.send("/inbox/quick-replies", &[("shortcut", "Bad One"), ("body", body), ("scope", "workspace")]).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("id=\"shortcut-error\""));
    assert_eq!(api.get("/api/v1/quick-replies", &api.owner_key).await.body["quick_replies"], json!([]));
    let made =
        owner.send("/inbox/quick-replies", &[("shortcut", "hello"), ("body", body), ("scope", "workspace")]).await;
    assert_eq!(location(&made), "/inbox/quick-replies");
    let listed = api.get("/api/v1/quick-replies", &api.owner_key).await.body;
    let hello = listed["quick_replies"][0]["id"].as_i64().unwrap();
    assert_eq!(listed["quick_replies"][0]["scope"], "workspace");
    let taken =
        owner.send("/inbox/quick-replies", &[("shortcut", "hello"), ("body", "x"), ("scope", "workspace")]).await;
    assert_eq!(taken.status(), 422, "the shortcut is taken");

    // The agent: a personal reply yes, a workspace-wide one no; the admin does not see the agent's own.
    let denied =
        agent.send("/inbox/quick-replies", &[("shortcut", "mine"), ("body", "x"), ("scope", "workspace")]).await;
    assert_eq!(denied.status(), 403);
    let own = agent
        .send("/inbox/quick-replies", &[("shortcut", "mine"), ("body", "Talk soon 👋"), ("scope", "personal")])
        .await;
    assert_eq!(own.status(), 303);
    let agent_page = agent.html("/inbox/quick-replies").await;
    assert!(agent_page.contains("/mine") && agent_page.contains("/hello"), "{agent_page}");
    assert!(!agent_page.contains(&format!("id=\"qr-delete-{hello}\"")), "an agent cannot delete workspace replies");
    let owner_page = owner.html("/inbox/quick-replies").await;
    assert!(!owner_page.contains("/mine"), "personal replies are private: {owner_page}");
    assert_eq!(
        api.get("/api/v1/quick-replies", &api.owner_key).await.body["quick_replies"].as_array().unwrap().len(),
        1
    );

    // Placeholders filled on the server: the suggestions fragment, the API, and the no-script prefill.
    sql(
        &api,
        "UPDATE contacts SET custom_fields = '{\"plan\":\"gold\"}' WHERE workspace_id = $1",
        &[api.workspace_id.into()],
    )
    .await;
    sql(&api, "UPDATE users SET name = 'Olga Owner' WHERE id = $1", &[api.owner_id.into()]).await;
    let filled = "Hi Kerry, Olga Owner from Support here. Plan: gold";
    let fragment = unescape(&owner.html(&format!("/inbox/{id}/quick-replies?q=hel")).await);
    assert!(fragment.contains(filled) && fragment.contains("role=\"option\""), "{fragment}");
    assert!(!unescape(&owner.html(&format!("/inbox/{id}/quick-replies?q=zz")).await).contains("role=\"option\""));
    let rendered = api.get(&format!("/api/v1/conversations/{id}/quick-replies/{hello}/render"), &api.owner_key).await;
    assert_eq!(rendered.body["text"], "Hi Kerry, {{agent.name}} from Support here. Plan: gold", "keys have no name");
    let prefilled = unescape(&owner.html(&format!("/inbox/{id}?quick_reply={hello}")).await);
    assert!(prefilled.contains(&format!(">{filled}</textarea>")), "{prefilled}");
    assert!(prefilled.contains("id=\"emoji-picker\"") && prefilled.contains("data-emoji=\"👍\""), "the emoji picker");
    // Unknown placeholders stay visible.
    sql(&api, "UPDATE contacts SET custom_fields = '{}' WHERE workspace_id = $1", &[api.workspace_id.into()]).await;
    let rendered = api.get(&format!("/api/v1/conversations/{id}/quick-replies/{hello}/render"), &api.owner_key).await;
    assert!(rendered.body["text"].as_str().unwrap().ends_with("Plan: {{contact.plan}}"), "{}", rendered.body);

    // The API manages workspace replies: create, bad shortcut (422, nothing stored), change, delete.
    let created = api.post("/api/v1/quick-replies", &api.owner_key, json!({"shortcut": "bye", "body": "Bye!"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let bye = created.body["id"].as_i64().unwrap();
    let invalid = api.post("/api/v1/quick-replies", &api.owner_key, json!({"shortcut": "no way", "body": "x"})).await;
    assert_eq!(invalid.status, 422);
    let changed = api
        .call(
            Method::PATCH,
            &format!("/api/v1/quick-replies/{bye}"),
            Some(&api.owner_key),
            Some(json!({"body": "See you"})),
        )
        .await;
    assert_eq!(changed.body["body"], "See you");
    let removed = api.call(Method::DELETE, &format!("/api/v1/quick-replies/{bye}"), Some(&api.owner_key), None).await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        api.get("/api/v1/quick-replies", &api.owner_key).await.body["quick_replies"].as_array().unwrap().len(),
        1
    );

    // Emoji reach the provider byte for byte.
    let text = "Thanks 👍🏽 see you soon ❤️ 👨‍👩‍👧";
    let sent = owner.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", text)]).await;
    assert_eq!(sent.status(), 303);
    let message = newest_message(&api, id).await;
    assert_eq!(settled(&api, message["id"].as_i64().unwrap()).await["status"], "sent");
    assert_eq!(mock.sends().last().unwrap().json.clone().unwrap()["text"]["body"], text);

    // A file from the composer: stored, uploaded to Meta and sent as an image with its caption.
    let png = [&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..], &[7u8; 64][..]].concat();
    let attached = attach(&owner, id, "invoice.png", "image/png", png).await;
    assert_eq!(attached.status(), 303, "{}", attached.text().await.unwrap());
    let message = newest_message(&api, id).await;
    assert_eq!(message["kind"], "image");
    assert_eq!(settled(&api, message["id"].as_i64().unwrap()).await["status"], "sent");
    let send = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(send["type"], "image", "{send}");
    assert_eq!(send["image"]["caption"], "Your invoice");
    assert!(send["image"]["id"].is_string(), "sent by the uploaded media id: {send}");
    let thread = owner.html(&format!("/inbox/{id}")).await;
    assert!(
        thread.contains("class=\"msg__media msg__media--image\"") && thread.contains("<img src=\"/inbox/media/"),
        "{thread}"
    );
    let media_href = thread.split("<img src=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let image = owner.get(&media_href).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    // Too large for an image: refused with the reason, nothing sent.
    let sends = mock.sends().len();
    let huge = attach(&owner, id, "big.png", "image/png", vec![1u8; 5 * 1024 * 1024 + 1]).await;
    assert_eq!(huge.status(), 422);
    let html = huge.text().await.unwrap();
    assert!(html.contains("id=\"file-error\"") && html.contains("5 MB"), "{html}");
    assert_eq!(mock.sends().len(), sends, "nothing sent");

    // The agent's daily quota used up: the composer is disabled with the reason, as the send path refuses.
    sql(&api, "UPDATE memberships SET daily_quota = 0 WHERE user_id = $1", &[agent_id.into()]).await;
    let blocked = agent.html(&format!("/inbox/{id}")).await;
    assert!(blocked.contains("id=\"quota-used-up\"") && blocked.contains("daily sending quota"), "{blocked}");
    assert!(blocked.contains("id=\"send-text\" disabled"), "{blocked}");
    assert!(!blocked.contains("id=\"attach-form\""), "no attachment while blocked");
    let refused = agent.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "hi")]).await;
    assert_eq!(refused.status(), 409);
    assert!(!owner.html(&format!("/inbox/{id}")).await.contains("id=\"quota-used-up\""), "the admin has no quota");

    // A Twilio number cannot send uploads: the composer says so instead of offering the file input.
    let twilio_mock = MockProvider::start("twilio").await;
    let auth = twilio_mock.auth();
    let number = api
        .post(
            "/api/v1/whatsapp-accounts",
            &api.owner_key,
            json!({"name": "Twilio", "provider": "twilio", "phone_number": "+14155238886", "api_base_url": twilio_mock.base_url(),
                   "credentials": {"account_sid": auth.account, "auth_token": auth.token, "from": "+14155238886"}}),
        )
        .await;
    assert_eq!(number.status, 201, "{}", number.body);
    let public = number.body["webhook_url"].as_str().unwrap().to_owned();
    let party = twilio::TwilioParty::new(&auth.account, "+14155238886", "+447700900777");
    let params = twilio::inbound_text(&party, &twilio::fresh_sid(false), "Hi from Twilio");
    let url = api.app.url(url::Url::parse(&public).unwrap().path());
    assert_eq!(post_webhook(&url, &twilio::signed(&public, &params, &auth.token)).await.status(), 200);
    let number_id = number.body["id"].as_i64().unwrap();
    let listed = api.get(&format!("/api/v1/conversations?whatsapp_account_id={number_id}"), &api.owner_key).await;
    let twilio_conversation = listed.body["conversations"][0]["id"].as_i64().unwrap();
    let page = owner.html(&format!("/inbox/{twilio_conversation}")).await;
    assert!(page.contains("id=\"attach-unsupported\"") && !page.contains("id=\"attach-form\""), "{page}");
    let refused = attach(&owner, twilio_conversation, "a.png", "image/png", vec![1, 2, 3]).await;
    assert_eq!(refused.status(), 409);
    assert!(twilio_mock.sends().is_empty());
}

// ---- The contact panel -------------------------------------------------------------------------------------------

both_backends!(the_contact_panel, the_contact_panel_on);
async fn the_contact_panel_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let (_, id) = meta_conversation(&api, &mock, "+15550100").await;
    let second = MockProvider::start("meta").await;
    let (_, other) = meta_conversation(&api, &second, "+15550101").await;
    let contact =
        api.get(&format!("/api/v1/conversations/{id}"), &api.owner_key).await.body["contact"]["id"].as_i64().unwrap();
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // The panel: the details and both conversations of the contact, linked.
    let page = owner.html(&format!("/inbox/{id}")).await;
    assert!(page.contains("id=\"contact\"") && page.contains("id=\"show-contact\""), "{page}");
    assert!(page.contains(&format!("href=\"/inbox/{other}\"")) && page.contains("id=\"contact-phone\""), "{page}");

    // A bad email: 422 with the error, nothing changed.
    let bad = owner.send(&format!("/inbox/{id}/contact"), &[("name", "Kerry F."), ("email", "not an email")]).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("id=\"email-error\""));
    let unchanged = api.get(&format!("/api/v1/contacts/{contact}"), &api.owner_key).await.body;
    assert_eq!(unchanged["name"], "Kerry Fisher");
    // A good edit: name, email, a new custom field; then a field changed and one removed.
    let saved = owner
        .send(
            &format!("/inbox/{id}/contact"),
            &[("name", "Kerry F."), ("email", "kerry@example.com"), ("new_key", "plan"), ("new_value", "gold")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("/inbox/{id}#contact"));
    let saved = owner
        .send(
            &format!("/inbox/{id}/contact"),
            &[
                ("name", "Kerry F."),
                ("email", "kerry@example.com"),
                ("field.plan", "platinum"),
                ("new_key", "city"),
                ("new_value", "Leeds"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let bad_key =
        owner.send(&format!("/inbox/{id}/contact"), &[("name", "K"), ("new_key", "Bad Key"), ("new_value", "x")]).await;
    assert_eq!(bad_key.status(), 422);
    let removed = owner
        .send(
            &format!("/inbox/{id}/contact"),
            &[
                ("name", "Kerry F."),
                ("email", "kerry@example.com"),
                ("field.plan", "platinum"),
                ("field.city", "Leeds"),
                ("remove", "city"),
            ],
        )
        .await;
    assert_eq!(removed.status(), 303);
    let shown = api.get(&format!("/api/v1/contacts/{contact}"), &api.owner_key).await.body;
    assert_eq!(shown["name"], "Kerry F.");
    assert_eq!(shown["email"], "kerry@example.com");
    assert_eq!(shown["custom_fields"], json!({"plan": "platinum"}));

    // Tags: added and removed as chips, from the workspace's tags.
    sql(
        &api,
        "INSERT INTO tags (workspace_id, name, name_lower, color, created_at, updated_at) VALUES ($1, 'VIP', 'vip', '#aa0000', 0, 0)",
        &[api.workspace_id.into()],
    )
    .await;
    let page = owner.html(&format!("/inbox/{id}")).await;
    let tag_id: i64 = page
        .split("<option value=\"")
        .filter_map(|s| s.split('"').next())
        .filter_map(|v| v.parse().ok())
        .last()
        .unwrap();
    let tagged =
        owner.send(&format!("/inbox/{id}/contact/tags"), &[("tag_id", &tag_id.to_string()), ("action", "add")]).await;
    assert_eq!(tagged.status(), 303);
    assert_eq!(api.get(&format!("/api/v1/contacts/{contact}"), &api.owner_key).await.body["tags"][0]["name"], "VIP");
    assert!(owner.html(&format!("/inbox/{id}")).await.contains(&format!("id=\"untag-{tag_id}\"")));
    owner.send(&format!("/inbox/{id}/contact/tags"), &[("tag_id", &tag_id.to_string()), ("action", "remove")]).await;
    assert_eq!(api.get(&format!("/api/v1/contacts/{contact}"), &api.owner_key).await.body["tags"], json!([]));

    // The API: search, change (bad email 422 unchanged, tags by id, an unknown tag 422), its conversations.
    let found = api.get("/api/v1/contacts?q=kerr", &api.owner_key).await.body;
    assert_eq!(found["contacts"][0]["id"], contact);
    assert_eq!(api.get("/api/v1/contacts?q=%2B4477", &api.owner_key).await.body["contacts"][0]["id"], contact);
    assert_eq!(api.get("/api/v1/contacts?q=zed", &api.owner_key).await.body["contacts"], json!([]));
    let path = format!("/api/v1/contacts/{contact}");
    let bad = api.call(Method::PATCH, &path, Some(&api.owner_key), Some(json!({"email": "nope", "name": "X"}))).await;
    assert_eq!(bad.status, 422);
    assert_eq!(api.get(&path, &api.owner_key).await.body["name"], "Kerry F.");
    let unknown = api.call(Method::PATCH, &path, Some(&api.owner_key), Some(json!({"tag_ids": [tag_id + 999]}))).await;
    assert_eq!(unknown.status, 422);
    let patched = api
        .call(
            Method::PATCH,
            &path,
            Some(&api.owner_key),
            Some(json!({"tag_ids": [tag_id], "custom_fields": {"tier": "2"}, "email": null})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["tags"][0]["id"], tag_id);
    assert_eq!(patched.body["custom_fields"], json!({"tier": "2"}));
    assert_eq!(patched.body["email"], Value::Null);
    let conversations = api.get(&format!("{path}/conversations"), &api.owner_key).await.body;
    assert_eq!(conversations["conversations"].as_array().unwrap().len(), 2);
    // Edits are live events on each of the contact's conversations.
    let mut conn = api.db.read().await.unwrap();
    let events = conn
        .fetch_all(
            "SELECT DISTINCT conversation_id FROM inbox_events WHERE workspace_id = $1 AND kind = 'conversation'",
            &[api.workspace_id.into()],
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    drop(conn);

    // A restricted agent: the conversation assigned to the admin is hidden, and so is editing through it.
    sql(&api, "UPDATE conversations SET assignee_user_id = $1 WHERE id = $2", &[api.owner_id.into(), id.into()]).await;
    add_agent(&api, &owner).await;
    let agent = Browser::signed_in(&api.app, AGENT_EMAIL, AGENT_PASSWORD).await;
    let hidden = agent.send(&format!("/inbox/{id}/contact"), &[("name", "Hacked")]).await;
    assert_eq!(hidden.status(), 404);
    assert_eq!(
        agent.send(&format!("/inbox/{id}/contact/tags"), &[("tag_id", &tag_id.to_string())]).await.status(),
        404
    );
    assert_eq!(agent.get(&format!("/inbox/{id}/quick-replies?q=")).await.status(), 404);
    // Through the visible (unassigned) conversation the agent may edit, and sees only that conversation listed.
    let visible = agent.html(&format!("/inbox/{other}")).await;
    assert!(!visible.contains(&format!("href=\"/inbox/{id}\"")), "the hidden conversation is not listed");
    let edited = agent.send(&format!("/inbox/{other}/contact"), &[("name", "Kerry Fisher"), ("field.tier", "3")]).await;
    assert_eq!(edited.status(), 303);
    assert_eq!(api.get(&path, &api.owner_key).await.body["name"], "Kerry Fisher");

    // Another workspace's key finds nothing.
    let beta = api
        .post("/api/v1/workspaces", &api.owner_key, json!({"name": "Beta", "slug": "beta", "timezone": "UTC"}))
        .await;
    assert_eq!(beta.status, 201, "{}", beta.body);
    let beta_id = beta.body["id"].as_i64().unwrap();
    let actor = conversure::services::access::Actor::user(
        api.owner_id,
        ADMIN_EMAIL,
        true,
        beta_id,
        conversure::domain::role::Role::Admin,
    );
    let new = conversure::services::api_keys::NewKey { name: "Beta".into(), scope: "admin".into() };
    let beta_key =
        conversure::services::api_keys::ApiKeyService::new(api.db.clone()).create(&actor, &new).await.unwrap().secret;
    assert_eq!(api.get(&path, &beta_key).await.status, 404);
    assert_eq!(api.get(&format!("{path}/conversations"), &beta_key).await.status, 404);
    assert_eq!(api.call(Method::PATCH, &path, Some(&beta_key), Some(json!({"name": "x"}))).await.status, 404);
    assert_eq!(api.get("/api/v1/contacts", &beta_key).await.body["contacts"], json!([]));
    assert_eq!(api.get(&format!("/api/v1/conversations/{id}/quick-replies/1/render"), &beta_key).await.status, 404);
}
