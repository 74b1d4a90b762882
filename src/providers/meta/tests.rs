//! Tests of the meta module: the fixtures parse to the expected events, sends match the fixture requests.

use serde_json::{Value, json};

use super::meta_codec::mock::MockServer;
use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/providers/meta-cloud-api/", $name))
    };
}

fn phone(text: &str) -> Phone {
    Phone::parse(text).unwrap()
}

fn account(base_url: &str) -> AccountConfig {
    let credentials = [
        ("access_token", "EAAG-test-token"),
        ("phone_number_id", "106540352242922"),
        ("app_secret", "TEST_APP_SECRET"),
        ("waba_id", "102290129340398"),
    ];
    AccountConfig {
        kind: ProviderKind::Meta,
        base_url: base_url.to_owned(),
        phone: phone("+15550783881"),
        credentials: Credentials(credentials.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
        webhook_secret: "meatyhamhock".to_owned(),
        webhook_url: "https://crm.example.com/hooks/meta/1".to_owned(),
    }
}

fn request<'a>(method: &'a str, query: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest { method, url: "https://crm.example.com/hooks/meta/1", query, headers, body }
}

fn parse(body: &str) -> Vec<Event> {
    let account = account(DEFAULT_BASE_URL);
    Meta.parse(&account, &request("POST", "", &[], body.as_bytes())).unwrap()
}

fn one_message(body: &str) -> InboundMessage {
    match parse(body).as_slice() {
        [Event::Message(message)] => message.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

fn one_status(body: &str) -> StatusUpdate {
    match parse(body).as_slice() {
        [Event::Status(status)] => status.clone(),
        other => panic!("expected one status, got {other:?}"),
    }
}

fn outgoing(content: Content) -> Outgoing {
    Outgoing {
        to: Recipient { phone: Some(phone("+16505551234")), ..Default::default() },
        content,
        client_ref: "cvm-42".to_owned(),
        reply_to: None,
    }
}

// ---- Webhook trust -----------------------------------------------------------------------------------------

#[test]
fn signature_vectors_from_meta_sdk_and_elixir_docs() {
    let meta = "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221";
    assert!(signature_matches(b"TEST_APP_SECRET", b"test", meta));
    let elixir = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
    assert!(signature_matches(b"secret", b"test", elixir));
    assert!(!signature_matches(b"secret", b"test", meta));
    assert!(!signature_matches(b"TEST_APP_SECRET", b"test ", meta));
    assert!(!signature_matches(b"TEST_APP_SECRET", b"test", &meta.replace("sha256=", "sha1=")));
    assert!(!signature_matches(b"TEST_APP_SECRET", b"test", "sha256=zz"));
    assert!(!signature_matches(b"TEST_APP_SECRET", b"test", "sha256="));
}

#[test]
fn verify_checks_the_raw_body_against_the_app_secret() {
    let account = account(DEFAULT_BASE_URL);
    let signed = |value: &str| vec![("x-hub-signature-256".to_owned(), value.to_owned())];
    let good = signed("sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221");
    assert_eq!(Meta.verify(&account, &request("POST", "", &good, b"test")), Ok(()));
    assert_eq!(Meta.verify(&account, &request("POST", "", &good, b"test2")), Err(VerifyError::Mismatch));
    assert_eq!(Meta.verify(&account, &request("POST", "", &[], b"test")), Err(VerifyError::Missing));
    let malformed = signed("0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221");
    assert_eq!(Meta.verify(&account, &request("POST", "", &malformed, b"test")), Err(VerifyError::Mismatch));
    let mut unsigned_account = account.clone();
    unsigned_account.credentials.0.remove("app_secret");
    assert_eq!(Meta.verify(&unsigned_account, &request("POST", "", &good, b"test")), Err(VerifyError::Mismatch));
}

#[test]
fn handshake_echoes_the_challenge_for_the_right_token() {
    let account = account(DEFAULT_BASE_URL);
    let check = |query: &str| Meta.handshake(&account, &request("GET", query, &[], b""));
    assert_eq!(
        check("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock"),
        Some(Ok("1158201444".to_owned()))
    );
    assert_eq!(check("hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong"), Some(Err(VerifyError::Mismatch)));
    assert_eq!(
        check("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock"),
        Some(Err(VerifyError::Mismatch))
    );
    assert_eq!(check("hub.mode=subscribe&hub.challenge=1"), Some(Err(VerifyError::Missing)));
    let mut open = account.clone();
    open.webhook_secret.clear();
    assert_eq!(
        Meta.handshake(&open, &request("GET", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=", &[], b"")),
        Some(Err(VerifyError::Mismatch)),
        "an account without a verify token accepts none"
    );
}

// ---- Webhook parsing ---------------------------------------------------------------------------------------

#[test]
fn inbound_text() {
    let message = one_message(fixture!("webhook_inbound_text.json"));
    assert_eq!(message.id, "wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W");
    assert_eq!(message.kind, MessageKind::Text);
    assert_eq!(message.text.as_deref(), Some("Hello this is an answer"));
    assert_eq!(message.timestamp_ms, 1_603_059_201_000);
    assert_eq!(message.contact.phone, Some(phone("+16315551234")));
    assert_eq!(message.contact.wa_id.as_deref(), Some("16315551234"));
    assert_eq!(message.contact.name.as_deref(), Some("Kerry Fisher"));
    assert_eq!(message.contact.bsuid, None);
    assert_eq!(message.context_id, None);
}

#[test]
fn inbound_text_with_bsuid() {
    let message = one_message(fixture!("webhook_inbound_text_with_user_id.json"));
    assert_eq!((message.id.as_str(), message.text.as_deref()), ("wamid.xyzxyz", Some("Body Text")));
    assert_eq!(message.contact.bsuid.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(message.contact.phone, Some(phone("+972987654321")));
    assert_eq!(message.contact.name.as_deref(), Some("Test Name"));
    assert_eq!(message.timestamp_ms, 1_697_043_223_000);
}

#[test]
fn inbound_image_with_placeholders() {
    let message = one_message(fixture!("webhook_inbound_image.json"));
    assert_eq!((message.id.as_str(), message.kind), ("wamid.id", MessageKind::Image));
    assert_eq!(message.text.as_deref(), Some("This is a caption"));
    let media = message.media.unwrap();
    assert_eq!(media.id.as_deref(), Some("2754859441498128"));
    assert_eq!(media.mime.as_deref(), Some("image/jpeg"));
    assert_eq!(media.sha256.as_deref(), Some("81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3"));
    // `<FROM_PHONE_NUMBER>` is no phone, and `<TIMESTAMP>` no time: the time of receipt stands in.
    assert_eq!(message.contact.phone, None);
    assert!(message.timestamp_ms > 1_700_000_000_000);
}

#[test]
fn inbound_image_with_url() {
    let message = one_message(fixture!("webhook_inbound_image_with_url.json"));
    let media = message.media.unwrap();
    assert_eq!(media.id.as_deref(), Some("65463453"));
    assert!(media.url.unwrap().starts_with("https://lookaside.fbsbx.com/whatsapp_business/attachments/"));
    assert_eq!(message.text, None);
}

#[test]
fn inbound_button_and_list_replies() {
    let button = one_message(fixture!("webhook_inbound_interactive_button_reply.json"));
    assert_eq!(button.kind, MessageKind::ButtonReply);
    assert_eq!(button.reply, Some(ReplyChoice { id: "callback_data".into(), title: "title".into() }));
    assert_eq!(button.text.as_deref(), Some("title"));
    assert_eq!(button.context_id.as_deref(), Some("wamid.xyzxyz"));

    let list = one_message(fixture!("webhook_inbound_interactive_list_reply.json"));
    assert_eq!((list.id.as_str(), list.kind), ("wamid.zyzxyz", MessageKind::ListReply));
    assert_eq!(list.reply, Some(ReplyChoice { id: "callback_data".into(), title: "title".into() }));
}

#[test]
fn inbound_template_quick_reply() {
    let message = one_message(fixture!("webhook_inbound_template_quick_reply_button.json"));
    assert_eq!(message.kind, MessageKind::TemplateButton);
    assert_eq!(message.reply, Some(ReplyChoice { id: "No-Button-Payload".into(), title: "No".into() }));
    assert_eq!(message.context_id.as_deref(), Some("wamid.gBGGFlCGg0cvAgkLFm4e9tICiTI"));
    assert_eq!(message.contact.name.as_deref(), Some("Kerry Fisher"));
}

#[test]
fn inbound_location() {
    let message = one_message(fixture!("webhook_inbound_location.json"));
    assert_eq!(message.kind, MessageKind::Location);
    assert_eq!(
        message.location,
        Some(Location {
            latitude: 37.4611978,
            longitude: -122.2164385,
            name: Some("Facebook HQ".into()),
            address: Some("1 Hacker Way, Menlo Park, CA 94025".into()),
        })
    );
    // `context: {forwarded: true}` quotes nothing.
    assert_eq!(message.context_id, None);
}

#[test]
fn inbound_reaction_and_its_removal() {
    let reaction = one_message(fixture!("webhook_inbound_reaction.json"));
    assert_eq!(reaction.kind, MessageKind::Reaction);
    assert_eq!(reaction.reaction, Some(Reaction { message_id: "wamid.yzxyzx=".into(), emoji: Some("😮".into()) }));

    let removed = one_message(fixture!("webhook_inbound_reaction_removed.json"));
    assert_eq!(removed.reaction, Some(Reaction { message_id: "wamid.yzxyzx=".into(), emoji: None }));

    let empty = fixture!("webhook_inbound_reaction.json").replace("😮", "");
    assert_eq!(one_message(&empty).reaction.unwrap().emoji, None);
}

#[test]
fn inbound_unsupported_keeps_the_reason() {
    let message = one_message(fixture!("webhook_inbound_unsupported_with_errors.json"));
    assert_eq!(message.kind, MessageKind::Unsupported);
    assert_eq!(message.text.as_deref(), Some("Message type is currently not supported."));
    assert_eq!(message.id, "wamid.xyzxyz");
}

#[test]
fn statuses() {
    let sent = one_status(fixture!("webhook_status_sent.json"));
    assert_eq!(
        sent,
        StatusUpdate {
            message_id: "wamid.xyzxyz".into(),
            status: Status::Sent,
            timestamp_ms: 1_698_266_945_000,
            recipient: Some("972987654321".into()),
            error: None,
        }
    );
    assert_eq!(one_status(fixture!("webhook_status_delivered.json")).status, Status::Delivered);
    let read = one_status(fixture!("webhook_status_read.json"));
    assert_eq!((read.status, read.timestamp_ms), (Status::Read, 1_689_380_458_000));
    let minimal = one_status(fixture!("webhook_status_sent_minimal_postman.json"));
    assert_eq!(minimal.message_id, "wamid.gBGGFlCGg0cvAglAxydbAoy-gwNo");
    assert_eq!(minimal.recipient.as_deref(), Some("16315551234"));

    let failed = one_status(fixture!("webhook_status_failed.json"));
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        failed.error,
        Some((
            "130472".into(),
            "Failed to send message because this user's phone number is part of an experiment".into()
        ))
    );

    let played = fixture!("webhook_status_read.json").replace("\"read\"", "\"played\"");
    assert_eq!(one_status(&played).status, Status::Played);
}

#[test]
fn postman_fixtures_do_not_panic() {
    // Known-buggy samples (SUMMARY.md §1): only checked not to break the parser.
    let failed = parse(fixture!("webhook_status_failed_postman.json"));
    let [Event::Status(status)] = failed.as_slice() else { panic!("{failed:?}") };
    assert_eq!(status.error.as_ref().map(|e| e.0.as_str()), Some("131014"));
    let _ = Meta.parse(
        &account(DEFAULT_BASE_URL),
        &request("POST", "", &[], fixture!("send_success_response_postman.json").as_bytes()),
    );
}

#[test]
fn system_errors_are_other_events() {
    assert_eq!(parse(fixture!("webhook_value_errors_130429.json")), vec![Event::Other { kind: "errors".into() }]);
}

#[test]
fn batches_keep_every_entry_and_change() {
    let text: Value = serde_json::from_str(fixture!("webhook_inbound_text.json")).unwrap();
    let status: Value = serde_json::from_str(fixture!("webhook_status_delivered.json")).unwrap();
    let batch = json!({
        "object": "whatsapp_business_account",
        "entry": [text["entry"][0], status["entry"][0]],
    });
    let events = parse(&batch.to_string());
    assert!(matches!(events.as_slice(), [Event::Message(_), Event::Status(_)]), "{events:?}");
}

#[test]
fn wrong_envelopes_are_refused() {
    let account = account(DEFAULT_BASE_URL);
    for body in ["", "{", r#"{"object":"instagram","entry":[]}"#, r#"{"entry":[]}"#] {
        assert!(Meta.parse(&account, &request("POST", "", &[], body.as_bytes())).is_err(), "{body}");
    }
}

// ---- Send bodies -------------------------------------------------------------------------------------------

fn body_of(content: Content) -> Value {
    meta_codec::message_body(&outgoing(content), Some("4490709327384033")).unwrap()
}

/// The fixture with the Postman recipient placeholder filled in.
fn expected(fixture: &str) -> Value {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    value["to"] = json!("16505551234");
    value
}

#[test]
fn text_body_matches_the_fixture() {
    let mut expected = expected(fixture!("send_text_request.json"));
    expected["text"]["body"] = json!("hi there");
    expected["biz_opaque_callback_data"] = json!("cvm-42");
    assert_eq!(body_of(Content::Text { body: "hi there".into(), preview_url: false }), expected);
    let preview = body_of(Content::Text { body: "https://x.example".into(), preview_url: true });
    assert_eq!(preview["text"]["preview_url"], json!(true));
}

#[test]
fn template_bodies_match_the_fixtures() {
    let hello = body_of(Content::Template { name: "hello_world".into(), language: "en_US".into(), variables: vec![] });
    let fixture = expected(fixture!("send_template_hello_world_request.json"));
    assert_eq!(hello["template"], fixture["template"]);
    assert_eq!((hello["type"].clone(), hello["to"].clone()), (fixture["type"].clone(), fixture["to"].clone()));
    assert!(hello["template"].get("components").is_none());

    let with_vars = body_of(Content::Template {
        name: "order_update".into(),
        language: "pt_BR".into(),
        variables: vec!["Ana".into(), "#1234".into()],
    });
    let fixture = expected(fixture!("send_template_with_components_request.json"));
    let fixture_body =
        fixture["template"]["components"].as_array().unwrap().iter().find(|c| c["type"] == "body").unwrap().clone();
    let ours = &with_vars["template"]["components"][0];
    assert_eq!(ours["type"], fixture_body["type"]);
    let mut first = fixture_body["parameters"][0].clone();
    first["text"] = json!("Ana");
    assert_eq!(ours["parameters"][0], first);
    assert_eq!(ours["parameters"][1], json!({"type": "text", "text": "#1234"}));
    assert_eq!(with_vars["template"]["language"], json!({"code": "pt_BR"}));
}

#[test]
fn media_bodies_match_the_fixture() {
    let image = body_of(Content::Media {
        kind: MediaKind::Image,
        source: MediaSource::Url("https://cdn.example.com/a.jpg".into()),
        caption: None,
        filename: None,
    });
    let mut fixture = expected(fixture!("send_image_by_link_request.json"));
    fixture["image"]["link"] = json!("https://cdn.example.com/a.jpg");
    fixture["biz_opaque_callback_data"] = json!("cvm-42");
    assert_eq!(image, fixture);

    let document = body_of(Content::Media {
        kind: MediaKind::Document,
        source: MediaSource::Url("https://cdn.example.com/q.pdf".into()),
        caption: Some("Your quote".into()),
        filename: Some("quote.pdf".into()),
    });
    assert_eq!(
        document["document"],
        json!({"link": "https://cdn.example.com/q.pdf", "caption": "Your quote", "filename": "quote.pdf"})
    );

    let uploaded = body_of(Content::Media {
        kind: MediaKind::Audio,
        source: MediaSource::Upload { bytes: vec![1], mime: "audio/ogg".into(), filename: "v.ogg".into() },
        caption: Some("dropped: audio has no caption".into()),
        filename: None,
    });
    assert_eq!(
        (uploaded["type"].clone(), uploaded["audio"].clone()),
        (json!("audio"), json!({"id": "4490709327384033"}))
    );
}

#[test]
fn interactive_bodies_match_the_fixtures() {
    let buttons = body_of(Content::Buttons {
        body: "<BUTTON_TEXT>".into(),
        buttons: vec![
            ReplyButton { id: "<UNIQUE_BUTTON_ID_1>".into(), title: "<BUTTON_TITLE_1>".into() },
            ReplyButton { id: "<UNIQUE_BUTTON_ID_2>".into(), title: "<BUTTON_TITLE_2>".into() },
        ],
    });
    let fixture = expected(fixture!("send_interactive_buttons_request.json"));
    assert_eq!(buttons["interactive"], fixture["interactive"]);
    assert_eq!(buttons["type"], fixture["type"]);

    let row = |section: u8, row: u8| ListRow {
        id: format!("<LIST_SECTION_{section}_ROW_{row}_ID>"),
        title: format!("<SECTION_{section}_ROW_{row}_TITLE>"),
        description: Some(format!("<SECTION_{section}_ROW_{row}_DESC>")),
    };
    let list = body_of(Content::List {
        body: "<BODY_TEXT>".into(),
        button: "<BUTTON_TEXT>".into(),
        sections: vec![
            ListSection { title: "<LIST_SECTION_1_TITLE>".into(), rows: vec![row(1, 1), row(1, 2)] },
            ListSection { title: "<LIST_SECTION_2_TITLE>".into(), rows: vec![row(2, 1), row(2, 2)] },
        ],
    });
    let fixture = expected(fixture!("send_interactive_list_request.json"));
    // Our lists have no header or footer; the rest is the fixture's.
    assert_eq!(list["interactive"]["action"], fixture["interactive"]["action"]);
    assert_eq!(list["interactive"]["body"], fixture["interactive"]["body"]);
    assert_eq!(list["interactive"]["type"], json!("list"));
}

#[test]
fn replies_quote_and_bsuid_recipients_go_in_to() {
    let mut message = outgoing(Content::Text { body: "yes".into(), preview_url: false });
    message.reply_to = Some("wamid.quoted".into());
    message.to = Recipient { bsuid: Some("US.13491208655302741918".into()), ..Default::default() };
    let body = meta_codec::message_body(&message, None).unwrap();
    assert_eq!(body["context"], json!({"message_id": "wamid.quoted"}));
    assert_eq!(body["to"], json!("US.13491208655302741918"));
    assert_eq!(body["recipient_type"], json!("individual"));
}

// ---- HTTP --------------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_posts_the_body_with_the_bearer_token() {
    let server = MockServer::start().await;
    server.reply(200, fixture!("send_success_response.json"));
    let account = account(&server.base);
    let sent = Meta
        .send(&Http::new(), &account, &outgoing(Content::Text { body: "hello".into(), preview_url: false }))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
    assert_eq!(sent.wa_id.as_deref(), Some("16505076520"));

    let [request] = server.requests().try_into().unwrap();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/106540352242922/messages"));
    assert_eq!(request.header("authorization"), Some("Bearer EAAG-test-token"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["to"], json!("16505551234"));
    assert_eq!(body["text"], json!({"preview_url": false, "body": "hello"}));
    assert_eq!(body["messaging_product"], json!("whatsapp"));
}

#[tokio::test]
async fn uploads_then_sends_by_id() {
    let server = MockServer::start().await;
    server.reply(200, fixture!("media_upload_response.json"));
    server.reply(200, fixture!("send_success_response.json"));
    let account = account(&server.base);
    let message = outgoing(Content::Media {
        kind: MediaKind::Document,
        source: MediaSource::Upload {
            bytes: b"%PDF-1.7 body".to_vec(),
            mime: "application/pdf".into(),
            filename: "quote.pdf".into(),
        },
        caption: None,
        filename: None,
    });
    Meta.send(&Http::new(), &account, &message).await.unwrap();

    let [upload, send] = server.requests().try_into().unwrap();
    assert_eq!((upload.method.as_str(), upload.path.as_str()), ("POST", "/106540352242922/media"));
    assert_eq!(upload.header("authorization"), Some("Bearer EAAG-test-token"));
    let content_type = upload.header("content-type").unwrap();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
    let text = String::from_utf8_lossy(&upload.body);
    assert!(text.contains(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"")));
    assert!(text.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"));
    assert!(text.contains("filename=\"quote.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7 body\r\n"));

    assert_eq!(send.path, "/106540352242922/messages");
    assert_eq!(send.json()["document"], json!({"id": "4490709327384033", "filename": "quote.pdf"}));
}

async fn failed_send(status: u16, body: &str, headers: &[(&str, &str)]) -> ProviderError {
    let server = MockServer::start().await;
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    server.reply_with(status, body.as_bytes(), &all);
    let account = account(&server.base);
    Meta.send(&Http::new(), &account, &outgoing(Content::Text { body: "x".into(), preview_url: false }))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn send_failures_are_classified() {
    let limited = failed_send(400, fixture!("error_response_130429_rate_limit.json"), &[("retry-after", "60")]).await;
    assert_eq!((limited.kind, limited.code.as_deref()), (FailureKind::RateLimited, Some("130429")));
    assert_eq!(limited.retry_after, Some(std::time::Duration::from_secs(60)));

    let expired = failed_send(401, fixture!("error_response_190_token_expired.json"), &[]).await;
    assert_eq!((expired.kind, expired.code.as_deref()), (FailureKind::Unauthorized, Some("190")));
    assert!(!expired.message.contains("EAAG-test-token"));

    let window = r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
        "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A"}}"#;
    let outside = failed_send(400, window, &[]).await;
    assert_eq!(outside.kind, FailureKind::OutsideWindow);
    assert!(outside.message.starts_with("Message failed to send because more than 24 hours"));

    let down = failed_send(500, "Internal Server Error", &[]).await;
    assert_eq!((down.kind, down.code.as_deref()), (FailureKind::Transient, Some("500")));
}

#[tokio::test]
async fn an_echoed_token_is_scrubbed() {
    let body = r#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token EAAG-test-token","type":"OAuthException","code":190}}"#;
    let error = failed_send(401, body, &[]).await;
    assert!(!error.message.contains("EAAG-test-token"), "{}", error.message);
    assert!(error.message.contains("[redacted]"));
}

#[tokio::test]
async fn unreachable_and_misconfigured_accounts() {
    // Nothing listens on port 9 of localhost: a transport failure, retried.
    let error = Meta
        .send(
            &Http::new(),
            &account("http://127.0.0.1:9"),
            &outgoing(Content::Text { body: "x".into(), preview_url: false }),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Transient);

    let mut broken = account("http://127.0.0.1:9");
    broken.credentials.0.insert("phone_number_id".into(), "1/../../me".into());
    let error = Meta.test_connection(&Http::new(), &broken).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Misconfigured);
    broken.credentials.0.remove("access_token");
    let error = Meta.test_connection(&Http::new(), &broken).await.unwrap_err();
    assert_eq!((error.kind, error.message.as_str()), (FailureKind::Misconfigured, "missing credential `access_token`"));
}

#[tokio::test]
async fn mark_read_posts_the_read_body() {
    let server = MockServer::start().await;
    server.reply(200, r#"{"success":true}"#);
    let account = account(&server.base);
    Meta.mark_read(&Http::new(), &account, "wamid.in", &Recipient::default()).await.unwrap();
    let [request] = server.requests().try_into().unwrap();
    assert_eq!(request.path, "/106540352242922/messages");
    assert_eq!(request.header("authorization"), Some("Bearer EAAG-test-token"));
    let mut expected: Value = serde_json::from_str(fixture!("mark_as_read_request.json")).unwrap();
    expected["message_id"] = json!("wamid.in");
    assert_eq!(request.json(), expected);
}

#[tokio::test]
async fn test_connection_names_the_number() {
    let server = MockServer::start().await;
    server.reply(
        200,
        r#"{"verified_name":"Acme Support","display_phone_number":"+1 555-078-3881","id":"106540352242922"}"#,
    );
    server.reply(200, r#"{"id":"106540352242922"}"#);
    server.reply(400, r#"{"error":{"message":"Unsupported get request","type":"GraphMethodException","code":100,"error_subcode":33}}"#);
    let account = account(&server.base);
    let http = Http::new();
    assert_eq!(Meta.test_connection(&http, &account).await.unwrap(), "Acme Support (+1 555-078-3881)");
    assert_eq!(Meta.test_connection(&http, &account).await.unwrap(), "connected");
    let error = Meta.test_connection(&http, &account).await.unwrap_err();
    assert_eq!((error.kind, error.message.as_str()), (FailureKind::Permanent, "Unsupported get request"));

    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/106540352242922?fields=display_phone_number,verified_name");
    assert_eq!(requests[0].header("authorization"), Some("Bearer EAAG-test-token"));
}

#[tokio::test]
async fn fetch_media_resolves_then_downloads_with_the_token() {
    let server = MockServer::start().await;
    let mut info: Value = serde_json::from_str(fixture!("media_retrieve_url_response.json")).unwrap();
    info["url"] = json!(format!("{}/whatsapp_business/attachments/?mid=2621233374848975&ext=1&hash=x", server.base));
    server.reply(200, &info.to_string());
    server.reply_with(200, b"\xff\xd8jpeg-bytes", &[("content-type", "application/octet-stream")]);
    let account = account(&server.base);
    let media = MediaRef { id: Some("2621233374848975".into()), ..Default::default() };
    let fetched = Meta.fetch_media(&Http::new(), &account, &media).await.unwrap();
    assert_eq!(fetched, FetchedMedia { bytes: b"\xff\xd8jpeg-bytes".to_vec(), mime: "image/jpeg".into() });

    let [resolve, download] = server.requests().try_into().unwrap();
    assert_eq!((resolve.method.as_str(), resolve.path.as_str()), ("GET", "/2621233374848975"));
    assert_eq!(download.path, "/whatsapp_business/attachments/?mid=2621233374848975&ext=1&hash=x");
    for request in [&resolve, &download] {
        assert_eq!(request.header("authorization"), Some("Bearer EAAG-test-token"));
    }

    // An id that would leave the media path is refused before any request.
    let sneaky = MediaRef { id: Some("../106540352242922".into()), ..Default::default() };
    assert_eq!(Meta.fetch_media(&Http::new(), &account, &sneaky).await.unwrap_err().kind, FailureKind::Permanent);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn describes_itself() {
    assert_eq!(Meta.default_base_url(), Some("https://graph.facebook.com/v23.0"));
    let names: Vec<_> = Meta.credential_fields().iter().map(|f| (f.name, f.secret, f.required)).collect();
    assert_eq!(
        names,
        [
            ("access_token", true, true),
            ("phone_number_id", false, true),
            ("app_secret", true, true),
            ("waba_id", false, false)
        ]
    );
    let caps = Meta.capabilities();
    assert!(caps.templates && caps.media && caps.media_upload && caps.interactive && caps.mark_read);
    assert!(caps.customer_window);
}
