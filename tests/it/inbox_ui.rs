//! The team inbox (`/inbox`) over HTTP, on SQLite and Postgres, against the mock Meta provider: an inbound message
//! in the list, opening it (read, unread badge gone), replying with a tick once sent, a failed send with its reason
//! and Retry, the closed 24-hour window (text disabled, the template form offered), and another workspace's admin
//! who finds nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{Api, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::mock_providers::{Failure, MockProvider, meta, post_webhook};
use crate::web_user::{Browser, location};
use crate::wizard::{ADMIN_EMAIL, ADMIN_PASSWORD};

const APP_SECRET: &str = "meta-app-secret-for-inbox";
const CUSTOMER: &str = "+447700900123";
const BOB_EMAIL: &str = "bob@beta.example";
const BOB_PASSWORD: &str = "silver canyon lantern 58";

// ---- Helpers -----------------------------------------------------------------------------------------------------

/// The list item of a conversation, or of a message, by its id attribute.
fn item(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let open = html[..at].rfind("<li").unwrap();
    html[open..].split("</li>").next().unwrap().to_owned()
}

/// Connects a Meta number pointing at the mock through the API; returns its API body.
async fn connect_meta(api: &Api, mock: &MockProvider, phone: &str) -> Value {
    api.connect_meta(mock, "Support", phone, APP_SECRET, json!({})).await
}

/// The path of a webhook URL (the app is reached on its test address whatever public URL it names).
pub(crate) fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

/// Polls a message until its status is `want` (or fails after 15 s).
pub(crate) async fn wait_status(api: &Api, id: i64, want: &str) -> Value {
    for _ in 0..300 {
        let message = api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await;
        if message.body["status"] == want {
            return message.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "message {id} never reached {want}: {}",
        api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body
    );
}

/// The newest message of a conversation, through the API.
pub(crate) async fn newest_message(api: &Api, conversation: i64) -> Value {
    let thread = api.get(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key).await;
    thread.body["messages"][0].clone()
}

// ---- The inbox ---------------------------------------------------------------------------------------------------

both_backends!(the_inbox_reads_replies_and_retries, the_inbox_reads_replies_and_retries_on);
async fn the_inbox_reads_replies_and_retries_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550100").await;
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // Nothing yet; the navigation links the inbox.
    let empty = owner.html("/inbox").await;
    assert!(empty.contains("id=\"inbox-empty\""), "{empty}");
    assert!(empty.contains("id=\"nav-inbox\" aria-current=\"page\""), "the nav link is current: {empty}");
    assert!(owner.html("/").await.contains("id=\"nav-inbox\""), "linked from every page");

    // A customer writes: the conversation is listed with the name, the preview and an unread badge.
    let party = meta::CloudParty::new(&mock.auth().account, "+15550100", CUSTOMER);
    let inbound = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Hello, is my order on its way?");
    assert_eq!(post_webhook(&url, &meta::signed(&inbound, APP_SECRET)).await.status(), 200);
    let listed = api.get("/api/v1/conversations", &api.owner_key).await;
    let id = listed.body["conversations"][0]["id"].as_i64().unwrap();
    let list = owner.html("/inbox").await;
    let row = item(&list, &format!("conversation-{id}"));
    assert!(row.contains("Kerry Fisher") && row.contains("Hello, is my order on its way?"), "{row}");
    assert!(row.contains("data-unread=\"1\""), "unread: {row}");
    assert!(list.contains("id=\"no-thread\""), "no thread open yet");

    // The filters: a matching search keeps it, another state hides it.
    assert!(owner.html("/inbox?q=kerry").await.contains(&format!("id=\"conversation-{id}\"")));
    let resolved = owner.html("/inbox?status=resolved").await;
    assert!(resolved.contains("id=\"inbox-empty\"") && !resolved.contains("Kerry Fisher"), "{resolved}");

    // Opening it shows the message and marks the conversation read.
    let thread = owner.html(&format!("/inbox/{id}")).await;
    assert!(thread.contains("id=\"thread\"") && thread.contains("Hello, is my order on its way?"), "{thread}");
    assert!(thread.contains("class=\"day__label\""), "a day separator: {thread}");
    assert!(thread.contains(&format!("href=\"/inbox/{id}\" aria-current=\"page\"")), "the row is current");
    assert!(!item(&thread, &format!("conversation-{id}")).contains("data-unread"), "the badge is gone");
    assert_eq!(api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["unread_count"], 0);
    assert!(!thread.contains("id=\"window-closed\""), "the window is open");

    // Without the session's CSRF token nothing is sent; an empty text is refused next to the box.
    let forged = owner.post(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "forged")]).await;
    assert_eq!(forged.status(), 403);
    let blank = owner.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "   ")]).await;
    assert_eq!(blank.status(), 422);
    let html = blank.text().await.unwrap();
    assert!(html.contains("id=\"text-error\"") && html.contains("Write a message of 1 to 4096 characters."), "{html}");
    assert!(mock.sends().is_empty());

    // A reply: redirected to the thread, sent as Meta expects it, then shown with its tick.
    let replied = owner.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "Yes, today!")]).await;
    assert_eq!(replied.status(), 303);
    assert_eq!(location(&replied), format!("/inbox/{id}"));
    let message_id = newest_message(&api, id).await["id"].as_i64().unwrap();
    wait_status(&api, message_id, "sent").await;
    let body = mock.sends()[0].json.clone().unwrap();
    assert_eq!(body["to"], "447700900123");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Yes, today!");
    let thread = owner.html(&format!("/inbox/{id}")).await;
    let bubble = item(&thread, &format!("message-{message_id}"));
    assert!(bubble.contains("msg--outbound") && bubble.contains("Yes, today!"), "{bubble}");
    assert!(bubble.contains("data-tick=\"sent\"") && bubble.contains("✓"), "a tick: {bubble}");

    // A permanent failure shows its reason and Retry; Retry sends it once the provider accepts it again.
    mock.fail_recipient("447700900123", Failure::TokenExpired);
    let replied = owner.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "Tracking: #1042")]).await;
    assert_eq!(replied.status(), 303);
    let failed_id = newest_message(&api, id).await["id"].as_i64().unwrap();
    let failed = wait_status(&api, failed_id, "failed").await;
    let reason = failed["error"]["message"].as_str().unwrap().to_owned();
    let thread = owner.html(&format!("/inbox/{id}")).await;
    let bubble = item(&thread, &format!("message-{failed_id}"));
    assert!(bubble.contains("data-tick=\"failed\"") && bubble.contains("✕"), "{bubble}");
    assert!(bubble.contains(&format!("id=\"retry-{failed_id}\"")), "a Retry button: {bubble}");
    let shown = reason.replace('\'', "&#39;").replace('"', "&#34;");
    assert!(bubble.contains(&shown) || bubble.contains(&reason), "the reason {reason}: {bubble}");
    mock.heal_recipient("447700900123");
    let sends_before = mock.sends().len();
    let retried = owner.send(&format!("/inbox/{id}/messages/{failed_id}/retry"), &[]).await;
    assert_eq!(retried.status(), 303);
    assert!(location(&retried).starts_with(&format!("/inbox/{id}")), "back to the thread");
    wait_status(&api, failed_id, "sent").await;
    assert!(mock.sends().len() > sends_before, "sent again");
    assert_eq!(mock.sends().last().unwrap().json.clone().unwrap()["text"]["body"], "Tracking: #1042");
    let thread = owner.html(&format!("/inbox/{id}")).await;
    assert!(!thread.contains(&format!("id=\"retry-{failed_id}\"")), "no Retry once sent");
    // A message of another conversation, or one that did not fail, cannot be retried through this one.
    let sent_again = owner.send(&format!("/inbox/{id}/messages/{failed_id}/retry"), &[]).await;
    assert_eq!(sent_again.status(), 409, "a sent message is not retried");
    assert_eq!(owner.send(&format!("/inbox/{}/messages/{failed_id}/retry", id + 1000), &[]).await.status(), 404);

    // A conversation the business started with a template: the window is closed, so only a template may go out.
    let account_id = number["id"].as_i64().unwrap();
    let template = api
        .post(
            "/api/v1/messages",
            &api.owner_key,
            json!({"whatsapp_account_id": account_id, "to": "+447700900456",
                   "template": {"name": "order_update", "language": "en_US", "variables": ["Ada"]}}),
        )
        .await;
    assert_eq!(template.status, 201, "{}", template.body);
    let cold = template.body["conversation_id"].as_i64().unwrap();
    let closed = owner.html(&format!("/inbox/{cold}")).await;
    assert!(closed.contains("id=\"window-closed\"") && closed.contains("more than 24 hours old"), "{closed}");
    assert!(closed.contains("disabled aria-describedby=\"window-closed\""), "the text box is disabled: {closed}");
    assert!(closed.contains("id=\"send-text\" disabled"), "{closed}");
    assert!(closed.contains("id=\"template-box\" open") && closed.contains("id=\"template-form\""), "{closed}");
    // Text posted anyway (an old page): refused with the reason by the composer, the text kept.
    let refused = owner.send(&format!("/inbox/{cold}/reply"), &[("mode", "text"), ("text", "Are you there?")]).await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"composer-error\"") && html.contains(">Are you there?</textarea>"), "{html}");
    // The template form sends.
    let sent = owner
        .send(
            &format!("/inbox/{cold}/reply"),
            &[
                ("mode", "template"),
                ("template_name", "order_update"),
                ("template_language", "en_US"),
                ("template_variables", "Ada\n#1043"),
            ],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let template_id = newest_message(&api, cold).await["id"].as_i64().unwrap();
    wait_status(&api, template_id, "sent").await;
    let body = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "order_update");
    assert_eq!(body["template"]["components"][0]["parameters"][1]["text"], "#1043");

    // In Arabic the page runs right to left.
    let arabic = owner.get("/lang?set=ar&back=/inbox").await;
    assert!(arabic.status().is_redirection());
    let rtl = owner.html(&format!("/inbox/{id}")).await;
    assert!(rtl.contains("dir=\"rtl\"") && rtl.contains("صندوق الوارد"), "{rtl}");
}

// ---- Another workspace -------------------------------------------------------------------------------------------

both_backends!(another_workspace_sees_nothing, another_workspace_sees_nothing_on);
async fn another_workspace_sees_nothing_on(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550102").await;
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    let party = meta::CloudParty::new(&mock.auth().account, "+15550102", CUSTOMER);
    let inbound = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Private to Acme");
    assert_eq!(post_webhook(&url, &meta::signed(&inbound, APP_SECRET)).await.status(), 200);
    let id = api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["id"].as_i64().unwrap();

    // The owner makes a second workspace with its own admin, Bob.
    let owner = Browser::signed_in(&api.app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let created = owner
        .send(
            "/owner/workspaces",
            &[("name", "Beta Team"), ("slug", "beta"), ("timezone", "UTC"), ("admin_email", ADMIN_EMAIL)],
        )
        .await;
    let beta: i64 = location(&created).trim_start_matches("/owner?created=").parse().unwrap();
    owner.send("/workspace/switch", &[("workspace_id", &beta.to_string())]).await;
    let bob_added = owner
        .send(
            "/admin/members",
            &[("name", "Bob Beta"), ("email", BOB_EMAIL), ("role", "admin"), ("password", BOB_PASSWORD)],
        )
        .await;
    assert_eq!(bob_added.status(), 303, "Bob is added to Beta");

    let bob = Browser::signed_in(&api.app, BOB_EMAIL, BOB_PASSWORD).await;
    let list = bob.html("/inbox").await;
    assert!(list.contains("id=\"inbox-empty\"") && !list.contains("Private to Acme"), "{list}");
    assert_eq!(bob.get(&format!("/inbox/{id}")).await.status(), 404);
    let reply = bob.send(&format!("/inbox/{id}/reply"), &[("mode", "text"), ("text", "hi")]).await;
    assert_eq!(reply.status(), 404);
    assert!(mock.sends().is_empty(), "nothing was sent");

    // Acme's conversation is still unread: Bob's visit changed nothing.
    let listed = api.get("/api/v1/conversations", &api.owner_key).await;
    assert_eq!(listed.body["conversations"][0]["unread_count"], 1);
}
