//! Tests of the mocks themselves: fixture-shaped requests get fixture-shaped answers, credentials and scripted
//! failures behave like the providers', and the webhook signatures match the providers' published examples.
//! Run with `cargo test --test it mock_providers` (no database needed).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Failure, MockAuth, MockProvider, chatwoot, evolution, fixture_json, meta, twilio};

fn client() -> reqwest::Client {
    conversure::init_crypto();
    reqwest::Client::new()
}

/// The fixture's send body, addressed to `to`.
fn meta_text_request(to: &str) -> Value {
    let mut body = fixture_json("meta-cloud-api/send_text_request.json");
    body["to"] = json!(to);
    body
}

#[tokio::test]
async fn meta_send_answers_like_the_fixture_and_records_the_send() {
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let url = format!("{}/{}/messages", mock.base_url(), auth.account);
    let response =
        client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("+16505551234")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["contacts"][0]["input"], "+16505551234");
    assert_eq!(body["contacts"][0]["wa_id"], "16505551234");
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    assert!(wamid.starts_with("wamid."), "{wamid}");

    // A second send gets another id; a mark-as-read is answered but is not a send.
    let again: Value = client()
        .post(&url)
        .bearer_auth(&auth.token)
        .json(&meta_text_request("16505551234"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(again["messages"][0]["id"], body["messages"][0]["id"]);
    let mut read = fixture_json("meta-cloud-api/mark_as_read_request.json");
    read["message_id"] = json!(wamid);
    let read: Value =
        client().post(&url).bearer_auth(&auth.token).json(&read).send().await.unwrap().json().await.unwrap();
    assert_eq!(read, json!({ "success": true }));

    assert_eq!(mock.requests().len(), 3);
    assert_eq!(mock.sends().len(), 2);
    assert_eq!(mock.count_sends_to("+1 650 555 1234"), 2);
    assert_eq!(mock.sends()[0].assigned_id.as_deref(), Some(wamid));
    assert_eq!(mock.sends()[0].header("authorization"), Some(format!("Bearer {}", auth.token).as_str()));
}

#[tokio::test]
async fn meta_refuses_bad_tokens_and_bad_bodies_like_meta() {
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let url = format!("{}/{}/messages", mock.base_url(), auth.account);

    let response = client().post(&url).bearer_auth("wrong").json(&meta_text_request("1555")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, fixture_json("meta-cloud-api/error_response_190_token_expired.json"));

    let mut no_type = meta_text_request("1555");
    no_type.as_object_mut().unwrap().remove("type");
    let response = client().post(&url).bearer_auth(&auth.token).json(&no_type).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 100);
    assert_eq!(body["error"]["message"], "(#100) Invalid parameter");
    assert_eq!(body["error"]["type"], "OAuthException");
    assert_eq!(body["error"]["error_data"]["messaging_product"], "whatsapp");

    let mut no_product = meta_text_request("1555");
    no_product["messaging_product"] = json!("sms");
    let response = client().post(&url).bearer_auth(&auth.token).json(&no_product).send().await.unwrap();
    assert_eq!(response.status(), 400);

    // A rotated token: the old one is refused from now on.
    mock.expect_token("rotated");
    let response = client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("1555")).send().await;
    assert_eq!(response.unwrap().status(), 401);
    let response = client().post(&url).bearer_auth("rotated").json(&meta_text_request("1555")).send().await;
    assert_eq!(response.unwrap().status(), 200);
    let custom = MockProvider::start_with("meta", MockAuth::new("tok", "42")).await;
    let response = client()
        .post(format!("{}/42/messages", custom.base_url()))
        .bearer_auth("tok")
        .json(&meta_text_request("1555"))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 200);

    // Another phone number id is an unknown object.
    let auth = mock.auth();
    let other = format!("{}/999/messages", mock.base_url());
    let response =
        client().post(&other).bearer_auth(&auth.token).json(&meta_text_request("1555")).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn meta_scripted_failures_come_in_order_then_sends_succeed() {
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let url = format!("{}/{}/messages", mock.base_url(), auth.account);
    let send = || client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("15550001")).send();

    mock.fail_next(1, Failure::RateLimited);
    mock.fail_next(1, Failure::OutsideWindow);
    mock.fail_next(1, Failure::ServerError);
    let response = send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 130429);
    assert_eq!(body["error"]["message"], "(#130429) Rate limit hit");
    let body: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["code"], 131047);
    assert_eq!(body["error"]["message"], "(#131047) Re-engagement message");
    assert_eq!(send().await.unwrap().status(), 500);
    assert_eq!(send().await.unwrap().status(), 200);

    mock.fail_recipient("+15550002", Failure::OutsideWindow);
    let to_blocked = client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("+15550002")).send();
    assert_eq!(to_blocked.await.unwrap().status(), 400);
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(mock.count_sends_to("15550001"), 5);
    assert_eq!(mock.count_sends_to("15550002"), 1);
}

#[tokio::test]
async fn down_closes_the_connection_and_delay_outlasts_a_timeout() {
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let url = format!("{}/{}/messages", mock.base_url(), auth.account);

    mock.fail_next_send(1, Failure::Down);
    let error = client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("1555")).send().await;
    let error = error.expect_err("no answer from a provider that is down");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    // The next request is served on a fresh connection.
    let response = client().post(&url).bearer_auth(&auth.token).json(&meta_text_request("1555")).send().await;
    assert_eq!(response.unwrap().status(), 200);

    mock.set_delay(Duration::from_millis(400));
    let timed = client()
        .post(&url)
        .bearer_auth(&auth.token)
        .json(&meta_text_request("1555"))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(timed.expect_err("the answer comes too late").is_timeout());
    assert_eq!(mock.sends().len(), 3, "a request whose client gave up is still recorded");
}

#[tokio::test]
async fn meta_media_upload_retrieve_and_download() {
    let mock = MockProvider::start("meta").await;
    let auth = mock.auth();
    let form = reqwest::multipart::Form::new().text("messaging_product", "whatsapp").part(
        "file",
        reqwest::multipart::Part::bytes(b"\x89PNG fake".to_vec()).file_name("a.png").mime_str("image/png").unwrap(),
    );
    let url = format!("{}/{}/media", mock.base_url(), auth.account);
    let uploaded: Value =
        client().post(&url).bearer_auth(&auth.token).multipart(form).send().await.unwrap().json().await.unwrap();
    let id = uploaded["id"].as_str().unwrap();
    assert!(id.chars().all(|c| c.is_ascii_digit()));

    mock.add_media("2621233374848975", b"jpeg bytes", "image/jpeg");
    let info: Value = client()
        .get(format!("{}/2621233374848975?phone_number_id={}", mock.base_url(), auth.account))
        .bearer_auth(&auth.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["mime_type"], "image/jpeg");
    assert_eq!(info["file_size"], "10");
    let media_url = info["url"].as_str().unwrap();
    assert_eq!(media_url, format!("{}/media-bytes/2621233374848975", mock.origin()));
    let download = client().get(media_url).bearer_auth(&auth.token).send().await.unwrap();
    assert_eq!(download.headers()["content-type"], "image/jpeg");
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"jpeg bytes");
    assert_eq!(client().get(media_url).send().await.unwrap().status(), 401);

    let phone: Value = client()
        .get(format!("{}/{}?fields=display_phone_number,verified_name", mock.base_url(), auth.account))
        .bearer_auth(&auth.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(phone["verified_name"], "Mock Business");
}

#[tokio::test]
async fn dialog360_sends_with_its_key_and_hands_out_lookaside_urls() {
    let mock = MockProvider::start("360dialog").await;
    let key = mock.auth().token;
    let body = fixture_json("360dialog/send_text_request_cloud.json");
    let url = format!("{}/messages", mock.base_url());
    let answer: Value =
        client().post(&url).header("D360-API-KEY", &key).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["contacts"][0]["input"], "PHONE_NUMBER");
    assert!(answer["messages"][0]["id"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(client().post(&url).json(&body).send().await.unwrap().status(), 401);

    mock.add_media("555", b"pdf", "application/pdf");
    let info: Value = client()
        .get(format!("{}/555", mock.base_url()))
        .header("D360-API-KEY", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lookaside = url::Url::parse(info["url"].as_str().unwrap()).unwrap();
    assert_eq!(lookaside.host_str(), Some("lookaside.fbsbx.com"));
    // What the connector does: the same path and query on the 360dialog host.
    let rewritten = format!("{}{}?{}", mock.base_url(), lookaside.path(), lookaside.query().unwrap());
    let bytes = client().get(rewritten).header("D360-API-KEY", &key).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), b"pdf");

    let config: Value = client()
        .get(format!("{}/v1/configs/webhook", mock.base_url()))
        .header("D360-API-KEY", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(config.get("url").is_some());
}

#[tokio::test]
async fn twilio_send_is_201_with_the_message_resource() {
    let mock = MockProvider::start("twilio").await;
    let auth = mock.auth();
    let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", mock.base_url(), auth.account);
    let form = twilio::fixture_params("messages_create_request_text.txt");
    let response = client().post(&url).basic_auth(&auth.account, Some(&auth.token)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    let sid = body["sid"].as_str().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(body["to"], "whatsapp:+250788383383");
    assert_eq!(body["from"], "whatsapp:+12065551212");
    assert_eq!(body["body"], "Simple Message ☺");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["account_sid"], auth.account.as_str());
    assert_eq!(mock.count_sends_to("+250788383383"), 1);

    // A template by ContentSid needs no Body.
    let template = twilio::fixture_params("messages_create_request_template_contentsid.txt");
    let response = client().post(&url).basic_auth(&auth.account, Some(&auth.token)).form(&template).send().await;
    assert_eq!(response.unwrap().status(), 201);

    let mut empty = form.clone();
    twilio::remove_param(&mut empty, "Body");
    let response = client().post(&url).basic_auth(&auth.account, Some(&auth.token)).form(&empty).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 21602, "message": "Message body is required.",
               "more_info": "https://www.twilio.com/docs/errors/21602", "status": 400})
    );

    let response = client().post(&url).basic_auth(&auth.account, Some("wrong")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 20003);

    mock.fail_next_send(1, Failure::OutsideWindow);
    mock.fail_next_send(1, Failure::RateLimited);
    let response = client().post(&url).basic_auth(&auth.account, Some(&auth.token)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 63016);
    let response = client().post(&url).basic_auth(&auth.account, Some(&auth.token)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 429);
}

#[test]
fn twilio_signature_matches_twilios_worked_example() {
    let params: Vec<(String, String)> = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(twilio::signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    let built = twilio::signed(url, &params, "12345");
    assert_eq!(built.header("x-twilio-signature"), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_eq!(built.content_type, "application/x-www-form-urlencoded");
    // The body carries the same parameters the signature covers.
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(&built.body).into_owned().collect();
    assert_eq!(decoded, params);
}

#[test]
fn meta_signature_matches_metas_sdk_vector() {
    assert_eq!(
        meta::signature("TEST_APP_SECRET", b"test"),
        "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
    );
}

#[test]
fn meta_webhooks_substitute_by_path() {
    let party = meta::CloudParty::new("106540352242922", "+1 555-078-3881", "+16505551234");
    let text = meta::inbound_text(&party, "wamid.TEST1", 1_700_000_000, "hola");
    let message = &text["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["from"], "16505551234");
    assert_eq!(message["id"], "wamid.TEST1");
    assert_eq!(message["timestamp"], "1700000000");
    assert_eq!(message["text"]["body"], "hola");
    let value = &text["entry"][0]["changes"][0]["value"];
    assert_eq!(value["metadata"]["phone_number_id"], "106540352242922");
    assert_eq!(value["metadata"]["display_phone_number"], "15550783881");
    assert_eq!(value["contacts"][0]["wa_id"], "16505551234");

    let built = meta::signed(&text, "app-secret");
    let expected = format!("sha256={}", meta::signature("app-secret", &built.body));
    assert_eq!(built.header("x-hub-signature-256"), Some(expected.as_str()));
    assert!(meta::unsigned(&text).headers.is_empty());

    let failed = meta::status_failed(&party, "wamid.OUT", 1_700_000_001, 131047);
    let status = &failed["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["status"], "failed");
    assert_eq!(status["recipient_id"], "16505551234");
    assert_eq!(status["errors"][0]["code"], 131047);
    let removed = meta::inbound_reaction(&party, "wamid.R", 1, "wamid.OUT", None);
    assert!(removed["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"].get("emoji").is_none());
    let here = meta::inbound_location(&party, "wamid.L", 1, 1.5, 2.5, None, None);
    assert_eq!(
        here["entry"][0]["changes"][0]["value"]["messages"][0]["location"],
        json!({"latitude": 1.5, "longitude": 2.5})
    );
    for status in ["sent", "delivered", "read"] {
        let value = meta::status(&party, "wamid.OUT", status, 1);
        assert_eq!(value["entry"][0]["changes"][0]["value"]["statuses"][0]["status"], status);
    }
}

#[test]
fn twilio_webhooks_carry_whatsapp_addresses() {
    let party = twilio::TwilioParty::new("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "+12028831111", "+14133881111");
    let params = twilio::inbound_text(&party, "SM00000000000000000000000000000001", "Hi");
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(get("From"), Some("whatsapp:+14133881111"));
    assert_eq!(get("To"), Some("whatsapp:+12028831111"));
    assert_eq!(get("WaId"), Some("14133881111"));
    assert_eq!(get("Body"), Some("Hi"));
    assert_eq!(get("SmsStatus"), Some("received"));
    let failed = twilio::status_failed(&party, "SM1", "failed", 63016, None);
    assert!(failed.iter().any(|(n, v)| n == "ErrorCode" && v == "63016"));
    assert!(!failed.iter().any(|(n, _)| n == "ErrorMessage"));
}

#[tokio::test]
async fn evolution_send_text_is_201_and_guards_instance_and_key() {
    let mock = MockProvider::start("evolution").await;
    let auth = mock.auth();
    let body = json!({ "number": "5511999999999", "text": "Olá!" });
    let url = format!("{}/message/sendText/{}", mock.base_url(), auth.account);
    let response = client().post(&url).header("apikey", &auth.token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["key"]["remoteJid"], "5511999999999@s.whatsapp.net");
    assert_eq!(answer["key"]["fromMe"], true);
    let id = answer["key"]["id"].as_str().unwrap();
    assert!(id.starts_with("3EB0") && id.len() == 20, "{id}");
    assert_eq!(answer["message"]["extendedTextMessage"]["text"], "Olá!");
    assert_eq!(answer["status"], "PENDING");

    let response = client().post(&url).header("apikey", "wrong").json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let other = format!("{}/message/sendText/invalid-instance", mock.base_url());
    let response = client().post(&other).header("apikey", &auth.token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        fixture_json("evolution-api/error_404_instance_not_found.json")
    );

    let v1 = json!({ "number": "5511999999999", "textMessage": { "text": "x" } });
    let response = client().post(&url).header("apikey", &auth.token).json(&v1).send().await.unwrap();
    assert_eq!(response.status(), 400);

    let media = json!({ "number": "5511999999999", "mediatype": "document", "mimetype": "application/pdf",
                        "caption": "c", "media": "https://example.com/a.pdf", "fileName": "a.pdf" });
    let url = format!("{}/message/sendMedia/{}", mock.base_url(), auth.account);
    let answer: Value =
        client().post(&url).header("apikey", &auth.token).json(&media).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["message"]["documentMessage"]["mimetype"], "application/pdf");
    assert_eq!(mock.count_sends_to("+55 11 99999-9999"), 5, "refused sends are sends too");

    mock.add_media("3EB0AAAA", b"img", "image/jpeg");
    let url = format!("{}/chat/getBase64FromMediaMessage/{}", mock.base_url(), auth.account);
    let request = json!({ "message": { "key": { "id": "3EB0AAAA" } }, "convertToMp4": false });
    let answer: Value =
        client().post(&url).header("apikey", &auth.token).json(&request).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["mimetype"], "image/jpeg");
    assert_eq!(STANDARD.decode(answer["base64"].as_str().unwrap()).unwrap(), b"img");

    let state: Value = client()
        .get(format!("{}/instance/connectionState/{}", mock.base_url(), auth.account))
        .header("apikey", &auth.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["instance"]["state"], "open");
}

#[test]
fn evolution_webhooks_have_the_v2_envelope() {
    let party = evolution::EvolutionParty::new("conversure-test", "5511900000000", "5511900000001");
    let value = evolution::upsert_text(&party, "3EB0X", 1_790_000_000, "oi");
    assert_eq!(value["event"], "messages.upsert");
    assert_eq!(value["instance"], "conversure-test");
    assert_eq!(value["data"]["key"]["remoteJid"], "5511900000001@s.whatsapp.net");
    assert_eq!(value["data"]["message"]["conversation"], "oi");
    assert_eq!(value["sender"], "5511900000000@s.whatsapp.net");
    assert!(value.get("_source").is_none());
    let update = evolution::messages_update(&party, "3EB0Y", "READ");
    assert_eq!(update["data"]["keyId"], "3EB0Y");
    assert_eq!(update["data"]["status"], "READ");
    assert_eq!(evolution::connection_update(&party, "open")["data"]["state"], "open");
    assert_eq!(evolution::send_message_echo(&party, "3EB0Z", 1, "x")["event"], "send.message");
}

#[tokio::test]
async fn chatwoot_contact_conversation_message_round_trip() {
    let mock = MockProvider::start("chatwoot").await;
    let auth = mock.auth();
    let base = format!("{}/api/v1/accounts/{}", mock.base_url(), auth.account);
    let post = |path: &str, body: Value| {
        client().post(format!("{base}{path}")).header("api_access_token", &auth.token).json(&body).send()
    };

    let mut contact = fixture_json("chatwoot/api_contact_create_request.json");
    contact["phone_number"] = json!("+15550123");
    let created: Value = post("/contacts", contact.clone()).await.unwrap().json().await.unwrap();
    let contact_id = created["payload"]["contact"]["id"].as_i64().unwrap();
    assert_eq!(created["payload"]["contact"]["phone_number"], "+15550123");
    assert_eq!(created["payload"]["contact_inbox"]["source_id"], "15550123");
    assert_eq!(created["payload"]["contact_inbox"]["inbox"]["channel_type"], "Channel::Whatsapp");
    assert_eq!(post("/contacts", contact).await.unwrap().status(), 422, "the phone is taken");

    let found: Value = client()
        .get(format!("{base}/contacts/search?q=%2B15550123"))
        .header("api_access_token", &auth.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["meta"]["count"], 1);
    assert_eq!(found["payload"][0]["id"], contact_id);

    let conversation = json!({ "source_id": "15550123", "inbox_id": 1, "contact_id": contact_id });
    let conversation: Value = post("/conversations", conversation).await.unwrap().json().await.unwrap();
    let conversation_id = conversation["id"].as_i64().unwrap();
    assert_eq!(conversation["inbox_id"], 1);
    assert_eq!(conversation["meta"]["sender"]["id"], contact_id);

    let message = fixture_json("chatwoot/api_message_create_request.json");
    let answer: Value =
        post(&format!("/conversations/{conversation_id}/messages"), message).await.unwrap().json().await.unwrap();
    assert_eq!(answer["content"], "Hello, how can I help you?");
    assert_eq!(answer["message_type"], 1, "the message API answers the integer column");
    assert_eq!(answer["conversation_id"], conversation_id);
    assert_eq!(mock.count_sends_to("+15550123"), 1);

    let seen = post(&format!("/conversations/{conversation_id}/update_last_seen"), json!({})).await.unwrap();
    assert_eq!(seen.status(), 200);
    let inbox: Value = client()
        .get(format!("{base}/inboxes/1"))
        .header("api_access_token", &auth.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["name"], "Mock WhatsApp");

    let response = client().get(format!("{base}/inboxes/1")).header("api_access_token", "bad").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "error": "Invalid Access Token" }));
}

#[test]
fn chatwoot_message_created_webhooks() {
    let party = chatwoot::ChatwootParty::new(1, 7, 3, "+15550123");
    let incoming = chatwoot::message_created(&party, 42, "hello", true, Some("wamid.X"));
    assert_eq!(incoming["event"], "message_created");
    assert_eq!(incoming["message_type"], "incoming");
    assert_eq!(incoming["sender"]["type"], "contact");
    assert_eq!(incoming["conversation"]["id"], 7);
    assert_eq!(incoming["conversation"]["channel"], "Channel::Whatsapp");
    let outgoing = chatwoot::message_created(&party, 43, "hi", false, None);
    assert_eq!(outgoing["message_type"], "outgoing");
    assert_eq!(outgoing["sender"]["type"], "user");
    let built = chatwoot::signed(&outgoing, "s3cret", 1_700_000_000);
    assert!(built.header("x-chatwoot-signature").unwrap().starts_with("sha256="));
}

#[tokio::test]
async fn post_webhook_delivers_body_and_headers() {
    // The Evolution mock records whatever reaches it, which is enough to see what post_webhook put on the wire.
    let mock = MockProvider::start("evolution").await;
    let party = meta::CloudParty::new("1", "1555", "1666");
    let built = meta::signed(&meta::inbound_text(&party, "wamid.W", 1, "x"), "secret");
    let response = super::post_webhook(&format!("{}/hook?secret=abc", mock.origin()), &built).await;
    assert_eq!(response.status(), 404);
    let seen = &mock.requests()[0];
    assert_eq!(seen.body, built.body);
    assert_eq!(seen.header("x-hub-signature-256"), built.header("x-hub-signature-256"));
    assert_eq!(seen.query_value("secret").as_deref(), Some("abc"));
}
