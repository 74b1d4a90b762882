//! Twilio, 360dialog and Chatwoot through the running app, on SQLite and Postgres: webhooks verified the provider's
//! way (Twilio's signature over the public URL, the per-account secret for the others), replies that reach the
//! mock in the provider's own request shape, and statuses applied to the sent message.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{Api, installed};
use crate::both_backends;
use crate::helpers::Backend;
use crate::mock_providers::{MockProvider, chatwoot, meta, post_webhook, twilio};

const CUSTOMER: &str = "+447700900123";

async fn connect(api: &Api, provider: &str, phone: &str, mock: &MockProvider, credentials: Value) -> Value {
    let created = api
        .post(
            "/api/v1/whatsapp-accounts",
            &api.owner_key,
            json!({"name": provider, "provider": provider, "phone_number": phone, "api_base_url": mock.base_url(),
                   "credentials": credentials}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body
}

/// The app's own address for a webhook URL it handed out (the public URL may name another host).
fn local(api: &Api, url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    api.app.url(&match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    })
}

async fn only_conversation(api: &Api, account_id: i64) -> i64 {
    let list = api.get(&format!("/api/v1/conversations?whatsapp_account_id={account_id}"), &api.owner_key).await;
    assert_eq!(list.body["conversations"].as_array().map(Vec::len), Some(1), "{}", list.body);
    list.body["conversations"][0]["id"].as_i64().unwrap()
}

async fn reply(api: &Api, conversation: i64, text: &str) -> Value {
    let sent = api
        .post(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key, json!({"text": text}))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let id = sent.body["id"].as_i64().unwrap();
    for _ in 0..300 {
        let message = api.get(&format!("/api/v1/messages/{id}"), &api.owner_key).await.body;
        if message["status"] != "pending" {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} stayed pending");
}

async fn twilio_flow(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("twilio").await;
    let auth = mock.auth();
    let number = connect(
        &api,
        "twilio",
        "+14155238886",
        &mock,
        json!({"account_sid": auth.account, "auth_token": auth.token, "from": "+14155238886"}),
    )
    .await;
    let public = number["webhook_url"].as_str().unwrap().to_owned();
    let url = local(&api, &public);
    let party = twilio::TwilioParty::new(&auth.account, "+14155238886", CUSTOMER);

    // Twilio signs the URL it was told to call: the public one, whatever address reaches us.
    let params = twilio::inbound_text(&party, &twilio::fresh_sid(false), "Hi from Twilio");
    let answer = post_webhook(&url, &twilio::signed(&public, &params, &auth.token)).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"].to_str().unwrap().contains("xml"));
    assert!(answer.text().await.unwrap().contains("<Response"));
    let forged = twilio::signed(&public, &params, "not-the-auth-token");
    assert_eq!(post_webhook(&url, &forged).await.status(), 403);
    let mut unsigned = twilio::signed(&public, &params, &auth.token);
    unsigned.headers.clear();
    assert_eq!(post_webhook(&url, &unsigned).await.status(), 401);

    let conversation = only_conversation(&api, number["id"].as_i64().unwrap()).await;
    let message = reply(&api, conversation, "Hello from the inbox").await;
    assert_eq!(message["status"], "sent", "{message}");
    let sid = message["provider_message_id"].as_str().unwrap().to_owned();
    let send = &mock.sends()[0];
    assert_eq!(send.path, format!("/2010-04-01/Accounts/{}/Messages.json", auth.account));
    assert_eq!(send.form_value("To"), Some(format!("whatsapp:{CUSTOMER}").as_str()));
    assert_eq!(send.form_value("From"), Some("whatsapp:+14155238886"));
    assert_eq!(send.form_value("Body"), Some("Hello from the inbox"));
    assert_eq!(send.form_value("StatusCallback"), Some(public.as_str()));
    assert!(send.header("authorization").is_some_and(|h| h.starts_with("Basic ")));

    // Status callbacks: read, then a late delivered that changes nothing.
    for status in ["read", "delivered"] {
        let callback = twilio::status_callback(&party, &sid, status);
        assert_eq!(post_webhook(&url, &twilio::signed(&public, &callback, &auth.token)).await.status(), 200);
    }
    assert_eq!(api.get(&format!("/api/v1/messages/{}", message["id"]), &api.owner_key).await.body["status"], "read");

    // Twilio has no buttons or lists for this connector: refused at once, nothing queued.
    let buttons = json!({"interactive": {"type": "buttons", "body": "x", "buttons": [{"id": "a", "title": "A"}]}});
    let refused = api.post(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key, buttons).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
}
both_backends!(twilio_webhooks_and_sends, twilio_flow);

async fn dialog360_flow(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("360dialog").await;
    let number = connect(&api, "360dialog", "+15550111", &mock, json!({"api_key": mock.auth().token})).await;
    let url = local(&api, number["webhook_url"].as_str().unwrap());
    assert!(url.contains("?secret="), "360dialog has no signatures: the URL carries a secret");
    let party = meta::CloudParty::new("123456789", "+15550111", CUSTOMER);
    let inbound = meta::inbound_text(&party, &meta::fresh_wamid(), meta::now(), "Hi from 360dialog");
    assert_eq!(post_webhook(url.split('?').next().unwrap(), &meta::unsigned(&inbound)).await.status(), 401);
    assert_eq!(post_webhook(&url, &meta::unsigned(&inbound)).await.status(), 200);
    let conversation = only_conversation(&api, number["id"].as_i64().unwrap()).await;
    let message = reply(&api, conversation, "Hello via 360dialog").await;
    assert_eq!(message["status"], "sent", "{message}");
    let send = &mock.sends()[0];
    assert_eq!(send.path, "/messages");
    assert_eq!(send.header("d360-api-key"), Some(mock.auth().token.as_str()));
    assert_eq!(send.json.as_ref().unwrap()["text"]["body"], "Hello via 360dialog");
}
both_backends!(dialog360_webhooks_and_sends, dialog360_flow);

async fn chatwoot_flow(backend: Backend) {
    let Some(api) = installed(backend).await else { return };
    let mock = MockProvider::start("chatwoot").await;
    let auth = mock.auth();
    let number = connect(
        &api,
        "chatwoot",
        "+15550122",
        &mock,
        json!({"api_access_token": auth.token, "account_id": auth.account, "inbox_id": "1"}),
    )
    .await;
    let url = local(&api, number["webhook_url"].as_str().unwrap());
    // The customer's conversation exists in Chatwoot (it is where the webhook comes from).
    let contact = mock.add_chatwoot_contact("Kerry Fisher", CUSTOMER);
    let created: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts/{}/conversations", mock.base_url(), auth.account))
        .header("api_access_token", &auth.token)
        .json(&json!({"source_id": "447700900123", "inbox_id": 1, "contact_id": contact}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chatwoot_conversation = created["id"].as_i64().unwrap();
    mock.clear_requests();
    let party = chatwoot::ChatwootParty::new(auth.account.parse().unwrap(), chatwoot_conversation, contact, CUSTOMER);
    let incoming = chatwoot::message_created(&party, 9001, "Hi from Chatwoot", true, None);
    assert_eq!(post_webhook(&url, &chatwoot::unsigned(&incoming)).await.status(), 200);
    let conversation = only_conversation(&api, number["id"].as_i64().unwrap()).await;
    let message = reply(&api, conversation, "Hello via Chatwoot").await;
    assert_eq!(message["status"], "sent", "{message}");
    let send = mock.sends().into_iter().last().unwrap();
    assert_eq!(send.path, format!("/api/v1/accounts/{}/conversations/{chatwoot_conversation}/messages", auth.account));
    assert_eq!(send.header("api_access_token"), Some(auth.token.as_str()));
    assert_eq!(send.json.as_ref().unwrap()["content"], "Hello via Chatwoot");

    // Chatwoot reports our own send back as an outgoing message: it does not become a second message.
    let provider_id: i64 = message["provider_message_id"].as_str().unwrap().parse().unwrap();
    let echo = chatwoot::message_created(&party, provider_id, "Hello via Chatwoot", false, None);
    assert_eq!(post_webhook(&url, &chatwoot::unsigned(&echo)).await.status(), 200);
    let thread = api.get(&format!("/api/v1/conversations/{conversation}/messages"), &api.owner_key).await;
    assert_eq!(thread.body["messages"].as_array().unwrap().len(), 2, "{}", thread.body);
}
both_backends!(chatwoot_webhooks_and_sends, chatwoot_flow);
