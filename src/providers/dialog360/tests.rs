//! Tests of the dialog360 module: the fixtures parse to the expected events, sends match the fixture requests.

use serde_json::{Value, json};

use super::meta_codec::mock::MockServer;
use super::*;

fn phone(text: &str) -> Phone {
    Phone::parse(text).unwrap()
}

fn account(base_url: &str) -> AccountConfig {
    AccountConfig {
        kind: ProviderKind::Dialog360,
        base_url: base_url.to_owned(),
        phone: phone("+15550783881"),
        credentials: Credentials([("api_key".to_owned(), "d360-test-key".to_owned())].into_iter().collect()),
        webhook_secret: "s3cret-hook".to_owned(),
        webhook_url: "https://crm.example.com/hooks/360dialog/1".to_owned(),
    }
}

fn request<'a>(query: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest { method: "POST", url: "https://crm.example.com/hooks/360dialog/1", query, headers, body }
}

fn text(to: &str, body: &str) -> Outgoing {
    Outgoing {
        to: Recipient { phone: Some(phone(to)), ..Default::default() },
        content: Content::Text { body: body.to_owned(), preview_url: false },
        client_ref: "cvm-7".to_owned(),
        reply_to: None,
    }
}

#[test]
fn verify_wants_the_shared_secret() {
    let account = account(DEFAULT_BASE_URL);
    let header = |v: &str| vec![("x-conversure-secret".to_owned(), v.to_owned())];
    assert_eq!(Dialog360.verify(&account, &request("secret=s3cret-hook", &[], b"{}")), Ok(()));
    assert_eq!(Dialog360.verify(&account, &request("", &header("s3cret-hook"), b"{}")), Ok(()));
    assert_eq!(Dialog360.verify(&account, &request("secret=nope", &[], b"{}")), Err(VerifyError::Mismatch));
    assert_eq!(Dialog360.verify(&account, &request("", &header("nope"), b"{}")), Err(VerifyError::Mismatch));
    assert_eq!(Dialog360.verify(&account, &request("", &[], b"{}")), Err(VerifyError::Missing));
    // Meta's signature means nothing here.
    let signed = vec![("x-hub-signature-256".to_owned(), "sha256=00".to_owned())];
    assert_eq!(Dialog360.verify(&account, &request("", &signed, b"{}")), Err(VerifyError::Missing));
    let mut unset = account.clone();
    unset.webhook_secret.clear();
    assert_eq!(Dialog360.verify(&unset, &request("secret=", &[], b"{}")), Err(VerifyError::Mismatch));
    assert_eq!(Dialog360.handshake(&account, &request("hub.mode=subscribe", &[], b"")), None);
}

#[test]
fn parses_the_documented_inbound_text() {
    let body = include_str!("../../../tests/fixtures/providers/360dialog/webhook_inbound_text_docs.json");
    let events = Dialog360.parse(&account(DEFAULT_BASE_URL), &request("", &[], body.as_bytes())).unwrap();
    let [Event::Message(message)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((message.id.as_str(), message.kind), ("wamid.ID", MessageKind::Text));
    assert_eq!(message.text.as_deref(), Some("MESSAGE_BODY"));
    assert_eq!(message.contact.name.as_deref(), Some("NAME"));
    // `PHONE_NUMBER` is a placeholder, not a number.
    assert_eq!(message.contact.phone, None);
}

#[test]
fn parses_meta_payloads_too() {
    let body = include_str!("../../../tests/fixtures/providers/meta-cloud-api/webhook_status_failed.json");
    let events = Dialog360.parse(&account(DEFAULT_BASE_URL), &request("", &[], body.as_bytes())).unwrap();
    let [Event::Status(status)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((status.status, status.error.as_ref().map(|e| e.0.as_str())), (Status::Failed, Some("130472")));
}

#[test]
fn media_urls_move_to_the_api_host() {
    let meta = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3";
    assert_eq!(
        media_download_url(meta, DEFAULT_BASE_URL).unwrap(),
        "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1&ext=2&hash=3"
    );
    assert_eq!(
        media_download_url(meta, "http://127.0.0.1:4567").unwrap(),
        "http://127.0.0.1:4567/whatsapp_business/attachments/?mid=1&ext=2&hash=3"
    );
    let elsewhere = "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1";
    assert_eq!(media_download_url(elsewhere, "http://127.0.0.1:4567").unwrap(), elsewhere);
    assert_eq!(media_download_url("not a url", DEFAULT_BASE_URL).unwrap_err().kind, FailureKind::Permanent);
}

#[tokio::test]
async fn send_posts_meta_bodies_with_the_api_key() {
    let server = MockServer::start().await;
    server.reply(200, include_str!("../../../tests/fixtures/providers/meta-cloud-api/send_success_response.json"));
    let sent = Dialog360
        .send(&Http::new(), &account(&server.base), &text("+16505551234", "Hello from WhatsApp API"))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");

    let [request] = server.requests().try_into().unwrap();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/messages"));
    assert_eq!(request.header("d360-api-key"), Some("d360-test-key"));
    assert_eq!(request.header("authorization"), None);
    let mut expected: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/providers/360dialog/send_text_request_cloud.json"))
            .unwrap();
    expected["to"] = json!("16505551234");
    let body = request.json();
    for field in ["messaging_product", "recipient_type", "to", "type"] {
        assert_eq!(body[field], expected[field], "{field}");
    }
    assert_eq!(body["text"]["body"], expected["text"]["body"]);
}

#[tokio::test]
async fn uploads_to_the_media_endpoint() {
    let server = MockServer::start().await;
    server.reply(200, r#"{"id":"4490709327384033"}"#);
    server.reply(200, include_str!("../../../tests/fixtures/providers/meta-cloud-api/send_success_response.json"));
    let mut message = text("+16505551234", "");
    message.content = Content::Media {
        kind: MediaKind::Image,
        source: MediaSource::Upload { bytes: b"png".to_vec(), mime: "image/png".into(), filename: "a.png".into() },
        caption: Some("look".into()),
        filename: None,
    };
    Dialog360.send(&Http::new(), &account(&server.base), &message).await.unwrap();
    let [upload, send] = server.requests().try_into().unwrap();
    assert_eq!(upload.path, "/media");
    assert_eq!(upload.header("d360-api-key"), Some("d360-test-key"));
    assert!(upload.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    assert_eq!(send.path, "/messages");
    assert_eq!(send.json()["image"], json!({"id": "4490709327384033", "caption": "look"}));
}

#[tokio::test]
async fn failures_are_classified_like_meta() {
    let cases = [
        (
            400,
            include_str!("../../../tests/fixtures/providers/meta-cloud-api/error_response_130429_rate_limit.json"),
            FailureKind::RateLimited,
        ),
        (
            401,
            r#"{"meta":{"success":false,"http_code":401,"developer_message":"Invalid api key"}}"#,
            FailureKind::Unauthorized,
        ),
        (400, r#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#, FailureKind::OutsideWindow),
        (503, "", FailureKind::Transient),
    ];
    for (status, body, kind) in cases {
        let server = MockServer::start().await;
        server.reply(status, body);
        let error = Dialog360.send(&Http::new(), &account(&server.base), &text("+16505551234", "x")).await.unwrap_err();
        assert_eq!(error.kind, kind, "{status} {body}");
        assert!(!error.message.contains("d360-test-key"));
    }
}

#[tokio::test]
async fn mark_read_and_test_connection() {
    let server = MockServer::start().await;
    server.reply(200, r#"{"success":true}"#);
    server.reply(200, r#"{"url":"https://crm.example.com/hooks/360dialog/1?secret=x"}"#);
    server.reply(200, r#"{}"#);
    let account = account(&server.base);
    let http = Http::new();
    Dialog360.mark_read(&http, &account, "wamid.in", &Recipient::default()).await.unwrap();
    assert_eq!(
        Dialog360.test_connection(&http, &account).await.unwrap(),
        "webhook: https://crm.example.com/hooks/360dialog/1?secret=x"
    );
    assert_eq!(Dialog360.test_connection(&http, &account).await.unwrap(), "connected");

    let requests = server.requests();
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("POST", "/messages"));
    assert_eq!(
        requests[0].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in"})
    );
    assert_eq!((requests[1].method.as_str(), requests[1].path.as_str()), ("GET", "/v1/configs/webhook"));
    assert!(requests.iter().all(|r| r.header("d360-api-key") == Some("d360-test-key")));
}

#[tokio::test]
async fn fetch_media_downloads_through_the_api_host() {
    let server = MockServer::start().await;
    server.reply(
        200,
        r#"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&ext=487r9re&hash=h","mime_type":"audio/ogg","sha256":"x","file_size":"3","id":"65463453"}"#,
    );
    server.reply_with(200, b"ogg", &[("content-type", "audio/ogg")]);
    let media = MediaRef { id: Some("65463453".into()), ..Default::default() };
    let fetched = Dialog360.fetch_media(&Http::new(), &account(&server.base), &media).await.unwrap();
    assert_eq!(fetched, FetchedMedia { bytes: b"ogg".to_vec(), mime: "audio/ogg".into() });

    let [resolve, download] = server.requests().try_into().unwrap();
    assert_eq!((resolve.method.as_str(), resolve.path.as_str()), ("GET", "/65463453"));
    assert_eq!(download.method, "GET");
    assert_eq!(download.path, "/whatsapp_business/attachments/?mid=65463453&ext=487r9re&hash=h");
    assert_eq!(download.header("d360-api-key"), Some("d360-test-key"));
}

#[test]
fn describes_itself() {
    assert_eq!(Dialog360.default_base_url(), Some("https://waba-v2.360dialog.io"));
    assert_eq!(Dialog360.credential_fields(), [CredentialField { name: "api_key", secret: true, required: true }]);
    assert_eq!(Dialog360.capabilities(), meta::Meta.capabilities());
}
