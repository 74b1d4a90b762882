//! The message pipeline end to end, on SQLite and Postgres, against the mock providers: numbers connected through
//! the API, webhooks verified and stored once, statuses that only climb (also when they arrive first), the 24-hour
//! window, the warm-up quota, retries and permanent failures, and tenant isolation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{Api, code, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::mock_providers::{Failure, MockProvider, evolution, meta, post_webhook};

const APP_SECRET: &str = "meta-app-secret-for-tests";
const CUSTOMER: &str = "+447700900123";

/// Connects a Meta number pointing at the mock; returns its API body.
async fn connect_meta(api: &Api, mock: &MockProvider, phone: &str) -> Value {
    api.connect_meta(mock, "Support", phone, APP_SECRET, json!({})).await
}

/// The path of a webhook URL (the app is reached on its test address whatever public URL it names).
fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

async fn count(api: &Api, sql: &str) -> i64 {
    let mut conn = api.db.read().await.unwrap();
    conn.fetch_one(sql, &[]).await.unwrap().int(0).unwrap()
}

/// Polls a message until its status is `want` (or fails after 15 s).
async fn wait_status(api: &Api, id: i64, want: &str) -> Value {
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

async fn meta_pipeline(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550100").await;
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    assert!(number["verify_token"].as_str().is_some_and(|t| t.len() >= 20));
    assert!(!number.to_string().contains(APP_SECRET) && !number.to_string().contains(&mock.auth().token));

    // The GET handshake answers the challenge only with the right verify token.
    let token = number["verify_token"].as_str().unwrap();
    let handshake = |t: &str| format!("{url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={t}");
    let ok = api.app.client.get(handshake(token)).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(api.app.client.get(handshake("wrong")).send().await.unwrap().status(), 403);

    // An inbound message: stored once however often it is delivered.
    let party = meta::CloudParty::new(&mock.auth().account, "+15550100", CUSTOMER);
    let wamid = meta::fresh_wamid();
    let inbound = meta::inbound_text(&party, &wamid, meta::now(), "Hello, is my order on its way?");
    for _ in 0..3 {
        let answer = post_webhook(&url, &meta::signed(&inbound, APP_SECRET)).await;
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(count(&api, "SELECT COUNT(*) FROM messages").await, 1);
    let list = api.get("/api/v1/conversations", &api.owner_key).await;
    let conversation = &list.body["conversations"][0];
    assert_eq!(conversation["contact"]["phone_number"], CUSTOMER);
    assert_eq!(conversation["contact"]["name"], "Kerry Fisher");
    assert_eq!(conversation["unread_count"], 1);
    assert_eq!(conversation["window_open"], true);
    let conversation_id = conversation["id"].as_i64().unwrap();
    let thread = api.get(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key).await;
    assert_eq!(thread.body["messages"][0]["text"], "Hello, is my order on its way?");
    assert_eq!(thread.body["messages"][0]["status"], "received");

    // Forged, missing and malformed: refused, nothing stored.
    let other = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "forged");
    assert_eq!(post_webhook(&url, &meta::signed(&other, "not-the-secret")).await.status(), 403);
    assert_eq!(post_webhook(&url, &meta::unsigned(&other)).await.status(), 401);
    let mut garbage = meta::signed(&json!({}), APP_SECRET);
    garbage.body = b"{not json".to_vec();
    garbage.headers =
        vec![("x-hub-signature-256".into(), format!("sha256={}", meta::signature(APP_SECRET, &garbage.body)))];
    assert_eq!(post_webhook(&url, &garbage).await.status(), 400);
    let unknown = api.app.url("/webhooks/meta/no-such-account-key");
    assert_eq!(post_webhook(&unknown, &meta::signed(&other, APP_SECRET)).await.status(), 404);
    let mut huge = meta::signed(&json!({}), APP_SECRET);
    huge.body = vec![b' '; 17 * 1024 * 1024];
    assert_eq!(post_webhook(&url, &huge).await.status(), 413);
    assert_eq!(count(&api, "SELECT COUNT(*) FROM messages").await, 1);

    // A reply goes out as Meta expects it, then statuses arrive out of order.
    let sent = api
        .post(
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            &api.owner_key,
            json!({"text": "Yes, today!"}),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.body["status"], "pending");
    let id = sent.body["id"].as_i64().unwrap();
    let message = wait_status(&api, id, "sent").await;
    let provider_id = message["provider_message_id"].as_str().unwrap().to_owned();
    assert!(provider_id.starts_with("wamid."));
    let request = &mock.sends()[0];
    assert_eq!(request.path, format!("/v23.0/{}/messages", mock.auth().account));
    assert_eq!(request.header("authorization"), Some(format!("Bearer {}", mock.auth().token).as_str()));
    let body = request.json.clone().unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], "447700900123");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Yes, today!");

    for status in ["read", "delivered", "read", "sent"] {
        let update = meta::status(&party, &provider_id, status, meta::now());
        assert_eq!(post_webhook(&url, &meta::signed(&update, APP_SECRET)).await.status(), 200);
    }
    let message = api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body;
    assert_eq!(message["status"], "read", "a late delivered or sent never lowers read");
    let failed = meta::status_failed(&party, &provider_id, meta::now(), 131026);
    assert_eq!(post_webhook(&url, &meta::signed(&failed, APP_SECRET)).await.status(), 200);
    let message = api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body;
    assert_eq!(message["status"], "failed", "failed wins and is terminal");
    assert_eq!(message["error"]["code"], "131026");
    let read_again = meta::status(&party, &provider_id, "read", meta::now() + 1);
    post_webhook(&url, &meta::signed(&read_again, APP_SECRET)).await;
    assert_eq!(api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body["status"], "failed");

    // Reading the conversation clears its unread count and marks the customer's message read at Meta.
    let read = api.post(&format!("/api/v1/conversations/{conversation_id}/read"), &api.owner_key, json!({})).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["unread_count"], 0);
    let mut marked = None;
    for _ in 0..200 {
        marked = mock.requests().into_iter().find(|r| r.json.as_ref().is_some_and(|j| j["status"] == "read"));
        if marked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let marked = marked.expect("a mark-as-read request").json.unwrap();
    assert_eq!(marked["message_id"], wamid.as_str());
    assert_eq!(marked["messaging_product"], "whatsapp");

    // Reply buttons go out as Meta's interactive message; bad ones change nothing.
    let buttons = json!({"interactive": {"type": "buttons", "body": "Track your order?",
        "buttons": [{"id": "track", "title": "Track"}, {"id": "agent", "title": "Talk to us"}]}});
    let sent = api.post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, buttons).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    wait_status(&api, sent.body["id"].as_i64().unwrap(), "sent").await;
    let body = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(body["type"], "interactive");
    assert_eq!(body["interactive"]["type"], "button");
    assert_eq!(body["interactive"]["action"]["buttons"][1]["reply"]["id"], "agent");
    let too_many = json!({"interactive": {"type": "buttons", "body": "x", "buttons": [
        {"id": "1", "title": "a"}, {"id": "2", "title": "b"}, {"id": "3", "title": "c"}, {"id": "4", "title": "d"}]}});
    let refused =
        api.post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, too_many).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let list = json!({"interactive": {"type": "list", "body": "Pick a slot", "button": "Slots",
        "sections": [{"title": "Tomorrow", "rows": [{"id": "t9", "title": "09:00", "description": "Morning"}]}]}});
    let sent = api.post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, list).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    wait_status(&api, sent.body["id"].as_i64().unwrap(), "sent").await;
    let body = mock.sends().last().unwrap().json.clone().unwrap();
    assert_eq!(body["interactive"]["type"], "list");
    assert_eq!(body["interactive"]["action"]["sections"][0]["rows"][0]["id"], "t9");

    // A provider that is down: the message stays pending with the reason visible, and goes out on the retry.
    mock.fail_next_send(1, Failure::Down);
    let retried = api
        .post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, json!({"text": "again"}))
        .await;
    let retried_id = retried.body["id"].as_i64().unwrap();
    let mut seen_waiting = false;
    for _ in 0..200 {
        let message = api.get(&format!("/api/v1/messages/{retried_id}"), &api.owner_key).await.body;
        if message["status"] == "pending" && message["error"]["code"] == "transient" {
            seen_waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_waiting, "the failed attempt shows while the message waits for its retry");
    let retried = wait_status(&api, retried_id, "sent").await;
    assert!(retried["provider_message_id"].as_str().is_some());
    assert_eq!(retried["error"], Value::Null, "the error of the failed attempt is gone once sent");
    // A server error is retried too.
    mock.fail_next_send(1, Failure::ServerError);
    let again = api
        .post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, json!({"text": "more"}))
        .await;
    wait_status(&api, again.body["id"].as_i64().unwrap(), "sent").await;
    // A permanent refusal fails with the provider's reason.
    mock.fail_recipient("447700900123", Failure::TokenExpired);
    let refused = api
        .post(&format!("/api/v1/conversations/{conversation_id}/messages"), &api.owner_key, json!({"text": "x"}))
        .await;
    let refused = wait_status(&api, refused.body["id"].as_i64().unwrap(), "failed").await;
    assert_eq!(refused["error"]["code"], "190");
    assert!(refused["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    mock.heal_recipient("447700900123");
}
both_backends!(meta_messages_flow_through_the_pipeline, meta_pipeline);

async fn window_and_templates(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550101").await;
    let account_id = number["id"].as_i64().unwrap();

    // Nobody wrote: free-form text is refused at once, a template goes out.
    let text = api
        .post(
            "/api/v1/messages",
            &api.owner_key,
            json!({"whatsapp_account_id": account_id, "to": CUSTOMER, "text": "hi"}),
        )
        .await;
    assert_eq!(text.status, 409, "{}", text.body);
    assert!(text.body["error"]["message"].as_str().unwrap().contains("24 hours"));
    let template = api
        .post(
            "/api/v1/messages",
            &api.owner_key,
            json!({"whatsapp_account_id": account_id, "to": CUSTOMER,
                   "template": {"name": "order_update", "language": "en_US", "variables": ["Ada", "#1042"]}}),
        )
        .await;
    assert_eq!(template.status, 201, "{}", template.body);
    wait_status(&api, template.body["id"].as_i64().unwrap(), "sent").await;
    let body = mock.sends()[0].json.clone().unwrap();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "order_update");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(body["template"]["components"][0]["parameters"][1]["text"], "#1042");

    // Bad input changes nothing.
    let before = count(&api, "SELECT COUNT(*) FROM messages").await;
    for bad in [
        json!({"whatsapp_account_id": account_id, "to": "not a phone", "template": {"name": "a", "language": "en"}}),
        json!({"whatsapp_account_id": account_id, "to": CUSTOMER}),
        json!({"whatsapp_account_id": account_id, "to": CUSTOMER, "text": "a", "template": {"name": "a", "language": "en"}}),
        json!({"whatsapp_account_id": 999_999, "to": CUSTOMER, "template": {"name": "a", "language": "en"}}),
        json!({"whatsapp_account_id": account_id, "to": CUSTOMER, "surprise": 1}),
    ] {
        let answer = api.post("/api/v1/messages", &api.owner_key, bad.clone()).await;
        assert!(matches!(answer.status, 400 | 422), "{bad} → {} {}", answer.status, answer.body);
    }
    assert_eq!(count(&api, "SELECT COUNT(*) FROM messages").await, before);

    // Meta's messaging limit counts unique users reached by business-initiated messages.
    let limited = api
        .patch(&format!("/api/v1/whatsapp-accounts/{account_id}"), &api.owner_key, json!({"messaging_limit": 1}))
        .await;
    assert_eq!(limited.status, 200, "{}", limited.body);
    assert_eq!(limited.body["quota"]["business_initiated_24h"], 1);
    let second = api
        .post(
            "/api/v1/messages",
            &api.owner_key,
            json!({"whatsapp_account_id": account_id, "to": "+447700900999", "template": {"name": "a", "language": "en"}}),
        )
        .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert_eq!(code(&second), "conflict");
}
both_backends!(the_24_hour_window_and_messaging_limit, window_and_templates);

async fn evolution_gateway(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("evolution").await;
    let auth = mock.auth();
    let created = api
        .post(
            "/api/v1/whatsapp-accounts",
            &api.owner_key,
            json!({"name": "Gateway", "provider": "evolution", "phone_number": "+5511999990000", "api_base_url": mock.base_url(),
                   "credentials": {"api_key": auth.token, "instance": auth.account}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let number = created.body;
    assert_eq!(number["quota"]["warmup_enabled"], true, "warm-up is on by default for gateways");
    assert_eq!(number["quota"]["daily_quota"], 20);
    let secret = number["webhook_secret"].as_str().unwrap();
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    assert!(url.contains(&format!("secret={secret}")));
    let id = number["id"].as_i64().unwrap();

    // Test connection reaches the mock.
    let test = api.post(&format!("/api/v1/whatsapp-accounts/{id}/test"), &api.owner_key, json!({})).await;
    assert_eq!(test.status, 200, "{}", test.body);
    assert_eq!(test.body["ok"], true, "{}", test.body);

    // Without the secret: refused.
    let party = evolution::EvolutionParty::new(&auth.account, "+5511999990000", "+5511988887777");
    let hello = evolution::upsert_text(&party, &evolution::fresh_key_id(), meta::now(), "Oi!");
    let no_secret = url.split('?').next().unwrap().to_owned();
    assert_eq!(post_webhook(&no_secret, &evolution::unsigned(&hello)).await.status(), 401);
    assert_eq!(post_webhook(&format!("{no_secret}?secret=wrong"), &evolution::unsigned(&hello)).await.status(), 403);
    assert_eq!(post_webhook(&url, &evolution::unsigned(&hello)).await.status(), 200);

    // A status that arrives before its message is kept and applied when the message arrives.
    let early = evolution::fresh_key_id();
    let delivered = evolution::messages_update(&party, &early, "DELIVERY_ACK");
    assert_eq!(post_webhook(&url, &evolution::unsigned(&delivered)).await.status(), 200);
    let echo = evolution::upsert_from_me(&party, &early, meta::now(), "sent from the phone");
    assert_eq!(post_webhook(&url, &evolution::unsigned(&echo)).await.status(), 200);
    let mut conn = api.db.read().await.unwrap();
    let row = conn
        .fetch_one("SELECT direction, status FROM messages WHERE provider_message_id = $1", &[early.as_str().into()])
        .await
        .unwrap();
    assert_eq!((row.text(0).unwrap(), row.text(1).unwrap()), ("outbound".to_owned(), "delivered".to_owned()));
    drop(conn);

    // The warm-up quota: two a day, the third refused until midnight.
    let patched =
        api.patch(&format!("/api/v1/whatsapp-accounts/{id}"), &api.owner_key, json!({"warmup_schedule": [2, 5]})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let conversation =
        api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/conversations/{conversation}/messages");
    for text in ["one", "two"] {
        let sent = api.post(&path, &api.owner_key, json!({"text": text})).await;
        assert_eq!(sent.status, 201, "{}", sent.body);
        wait_status(&api, sent.body["id"].as_i64().unwrap(), "sent").await;
    }
    let third = api.post(&path, &api.owner_key, json!({"text": "three"})).await;
    assert_eq!(third.status, 409, "{}", third.body);
    assert!(third.body["error"]["message"].as_str().unwrap().contains("quota"));
    let send = &mock.sends()[0];
    assert_eq!(send.path, format!("/message/sendText/{}", auth.account));
    assert_eq!(send.header("apikey"), Some(auth.token.as_str()));
    assert_eq!(send.json.as_ref().unwrap()["number"], "5511988887777");

    // Another workspace sees none of it.
    let other = crate::api::cli_key_for_new_workspace(&api, "other-ws").await;
    assert_eq!(api.get(&format!("/api/v1/whatsapp-accounts/{id}"), &other).await.status, 404);
    assert_eq!(api.get(&format!("/api/v1/conversations/{conversation}"), &other).await.status, 404);
    assert_eq!(api.get("/api/v1/conversations", &other).await.body["conversations"], json!([]));
    let sneaky =
        api.post(&format!("/api/v1/conversations/{conversation}/messages"), &other, json!({"text": "x"})).await;
    assert_eq!(sneaky.status, 404);
}
both_backends!(an_evolution_gateway_with_warmup, evolution_gateway);

async fn daily_reset(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("evolution").await;
    let auth = mock.auth();
    let created = api
        .post(
            "/api/v1/whatsapp-accounts",
            &api.owner_key,
            json!({"name": "Gateway", "provider": "evolution", "phone_number": "+5511999990001", "api_base_url": mock.base_url(),
                   "credentials": {"api_key": auth.token, "instance": auth.account}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    // The workspace is in Tokyo; the number started its warm-up on the 1st and sent 7 messages on the 8th.
    let mut tx = api.db.write().await.unwrap();
    tx.execute("UPDATE workspaces SET timezone = 'Asia/Tokyo' WHERE id = $1", &[api.workspace_id.into()])
        .await
        .unwrap();
    tx.execute(
        "UPDATE whatsapp_accounts SET warmup_started_on = '2026-11-01', quota_day = '2026-11-08', sent_today = 7,
            warmup_week = 1 WHERE id = $1",
        &[id.into()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let state = |db: conversure::store::Db| async move {
        let mut conn = db.read().await.unwrap();
        let row = conn
            .fetch_one("SELECT quota_day, sent_today, warmup_week FROM whatsapp_accounts WHERE id = $1", &[id.into()])
            .await
            .unwrap();
        (row.text(0).unwrap(), row.int(1).unwrap(), row.int(2).unwrap())
    };
    use conversure::services::whatsapp::quota::reset_days;
    // 14:59 UTC on the 8th is still the 8th in Tokyo (23:59): nothing changes.
    assert_eq!(reset_days(&api.db, at("2026-11-08T14:59:00Z")).await.unwrap(), 0);
    assert_eq!(state(api.db.clone()).await, ("2026-11-08".to_owned(), 7, 1));
    // 15:00 UTC is midnight in Tokyo: a new day, the count back to zero; the 15th starts week three.
    assert_eq!(reset_days(&api.db, at("2026-11-08T15:00:00Z")).await.unwrap(), 1);
    assert_eq!(state(api.db.clone()).await, ("2026-11-09".to_owned(), 0, 1));
    assert_eq!(reset_days(&api.db, at("2026-11-08T15:15:00Z")).await.unwrap(), 0, "once per day");
    assert_eq!(reset_days(&api.db, at("2026-11-14T15:00:00Z")).await.unwrap(), 1);
    assert_eq!(state(api.db.clone()).await, ("2026-11-15".to_owned(), 0, 2));
    let shown = api.get(&format!("/api/v1/whatsapp-accounts/{id}"), &api.owner_key).await;
    assert_eq!(shown.body["quota"]["warmup_week"].as_i64().map(|w| w >= 2), Some(true), "{}", shown.body);
}
both_backends!(the_daily_quota_resets_at_local_midnight, daily_reset);

async fn agent_quota(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("meta").await;
    let number = connect_meta(&api, &mock, "+15550102").await;
    let party = meta::CloudParty::new(&mock.auth().account, "+15550102", CUSTOMER);
    let url = api.app.url(&path_of(number["webhook_url"].as_str().unwrap()));
    let hello = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "hello");
    assert_eq!(post_webhook(&url, &meta::signed(&hello, APP_SECRET)).await.status(), 200);
    let conversation =
        api.get("/api/v1/conversations", &api.owner_key).await.body["conversations"][0]["id"].as_i64().unwrap();

    // The admin gives themselves a daily quota of one message; the composer (a signed-in user) is held to it.
    let quota = api.patch(&format!("/api/v1/users/{}", api.owner_id), &api.owner_key, json!({"daily_quota": 1})).await;
    assert_eq!(quota.status, 200, "{}", quota.body);
    let config = crate::helpers::test_config(api.app.data_dir.path(), api.app.db.url.clone(), &[]);
    let outbound = conversure::services::whatsapp::outbound::OutboundService::new(
        conversure::services::whatsapp::Shared::new(&config, api.db.clone()),
    );
    let agent = conversure::services::access::Actor::user(
        api.owner_id,
        crate::wizard::ADMIN_EMAIL,
        true,
        api.workspace_id,
        conversure::domain::role::Role::Admin,
    );
    use conversure::services::whatsapp::compose::Compose;
    use conversure::services::whatsapp::outbound::Target;
    let first = outbound.send(&agent, Target::Conversation(conversation), &Compose::Text("one".into())).await;
    assert!(first.is_ok(), "{first:?}");
    let second = outbound.send(&agent, Target::Conversation(conversation), &Compose::Text("two".into())).await;
    assert!(
        matches!(
            second,
            Err(conversure::services::whatsapp::WhatsAppError::Refused { code: "agent_quota_exceeded", .. })
        ),
        "{second:?}"
    );
    // An integration's key has no agent quota.
    let by_key =
        api.post(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key, json!({"text": "k"})).await;
    assert_eq!(by_key.status, 201, "{}", by_key.body);
}
both_backends!(an_agents_daily_quota_is_enforced, agent_quota);
