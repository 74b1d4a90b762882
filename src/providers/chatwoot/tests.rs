//! Tests of the chatwoot module: the fixtures parse to the expected events, sends match the fixture requests.

use super::wire::mock;
use super::*;

fn account(base: &str) -> AccountConfig {
    mock::account(
        ProviderKind::Chatwoot,
        base,
        &[("api_access_token", "cw-token"), ("account_id", "3"), ("inbox_id", "58")],
    )
}

fn one(body: &str) -> Event {
    let request =
        WebhookRequest { method: "POST", url: "https://x/hook", query: "", headers: &[], body: body.as_bytes() };
    let mut events = Chatwoot.parse(&account("http://unused"), &request).unwrap();
    assert_eq!(events.len(), 1);
    events.remove(0)
}

const WIDGET: &str =
    include_str!("../../../tests/fixtures/providers/chatwoot/webhook_message_created_captured_webwidget.json");
const API_DOCS: &str =
    include_str!("../../../tests/fixtures/providers/chatwoot/webhook_message_created_api_channel_docs_2020.json");

#[test]
fn incoming_message_from_the_web_widget_capture() {
    let Event::Message(m) = one(WIDGET) else { panic!("not a message") };
    assert_eq!(m.id, "77287");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("hola desde el body 🫡 "));
    assert_eq!(m.contact.provider_contact_id.as_deref(), Some("52870"));
    assert_eq!(m.contact.name.as_deref(), Some("solitary-forest-213"));
    assert_eq!(m.contact.thread.as_deref(), Some("13098"));
    assert_eq!(m.contact.phone, None);
    assert_eq!(m.contact.wa_id, None, "a web-widget source id is a UUID, not a WhatsApp id");
    assert_eq!(m.timestamp_ms, 1_752_161_782_262);
    assert_eq!(m.context_id, None);
}

#[test]
fn incoming_message_from_the_api_channel_docs() {
    let Event::Message(m) = one(API_DOCS) else { panic!("not a message") };
    assert_eq!(m.id, "0");
    assert_eq!(m.text.as_deref(), Some("This is a incoming message from API Channel"));
    assert_eq!(m.contact.name.as_deref(), Some("contact-name"));
    assert_eq!(m.contact.thread.as_deref(), Some("0"));
    assert_eq!(m.timestamp_ms, 1_598_802_184_000);
}

#[test]
fn whatsapp_shaped_messages_echoes_notes_and_other_events() {
    let mut body: Value = serde_json::from_str(WIDGET).unwrap();
    body["sender"]["phone_number"] = json!("+5511900000001");
    body["conversation"]["contact_inbox"]["source_id"] = json!("5511900000001");
    body["content_attributes"]["in_reply_to"] = json!(77001);
    body["attachments"] = json!([{"id": 9, "file_type": "image", "data_url": "https://cw.example.com/rails/active_storage/blobs/redirect/x/photo.jpg"}]);
    body["created_at"] = json!(1_752_161_782);
    let Event::Message(m) = one(&body.to_string()) else { panic!() };
    assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+5511900000001"));
    assert_eq!(m.contact.wa_id.as_deref(), Some("5511900000001"));
    assert_eq!(m.context_id.as_deref(), Some("77001"));
    assert_eq!(m.kind, MessageKind::Image);
    assert_eq!(m.text.as_deref(), Some("hola desde el body 🫡 "), "the content is the caption");
    let media = m.media.unwrap();
    assert_eq!((media.id.as_deref(), media.mime.as_deref()), (Some("9"), Some("image/jpeg")));
    assert_eq!(m.timestamp_ms, 1_752_161_782_000);

    // An agent's reply: the customer is the conversation's contact.
    body["message_type"] = json!("outgoing");
    body["sender"] = json!({"id": 1, "name": "Agent", "type": "user"});
    body["conversation"]["meta"]["sender"] = json!({"id": 52870, "name": "Ana", "phone_number": "+5511900000001"});
    let Event::Echo(echo) = one(&body.to_string()) else { panic!() };
    assert_eq!(echo.contact.name.as_deref(), Some("Ana"));
    assert_eq!(echo.contact.provider_contact_id.as_deref(), Some("52870"));
    body["message_type"] = json!(3);
    assert!(matches!(one(&body.to_string()), Event::Echo(_)), "integer message_type");
    body["message_type"] = json!(2);
    assert_eq!(one(&body.to_string()), Event::Other { kind: "activity".into() });
    body["message_type"] = json!("outgoing");
    body["private"] = json!(true);
    assert_eq!(one(&body.to_string()), Event::Other { kind: "note".into() });

    for event in ["conversation_created", "conversation_status_changed", "contact_updated", "webwidget_triggered"] {
        let body = json!({"event": event, "id": 1, "changed_attributes": null});
        assert_eq!(one(&body.to_string()), Event::Other { kind: event.into() });
    }
    let request = |body: &'static str| WebhookRequest {
        method: "POST",
        url: "https://x",
        query: "",
        headers: &[],
        body: body.as_bytes(),
    };
    assert!(Chatwoot.parse(&account("http://unused"), &request("<html>")).is_err());
    assert!(Chatwoot.parse(&account("http://unused"), &request("{\"id\": 1}")).is_err());
}

#[test]
fn verify_requires_the_secret() {
    let account = account("http://unused");
    let headers = [("x-conversure-secret".to_owned(), "s3cret".to_owned())];
    let ok = WebhookRequest { method: "POST", url: "https://x", query: "", headers: &headers, body: b"{}" };
    assert_eq!(Chatwoot.verify(&account, &ok), Ok(()));
    let signed_only = [("x-chatwoot-signature".to_owned(), "sha256=00".to_owned())];
    let request = WebhookRequest { method: "POST", url: "https://x", query: "", headers: &signed_only, body: b"{}" };
    assert_eq!(Chatwoot.verify(&account, &request), Err(VerifyError::Missing));
}

fn outgoing(thread: Option<&str>, content: Content) -> Outgoing {
    Outgoing {
        to: Recipient {
            phone: Some(Phone::parse("+5511900000001").unwrap()),
            thread: thread.map(str::to_owned),
            ..Recipient::default()
        },
        content,
        client_ref: "cvm-1".into(),
        reply_to: None,
    }
}

#[tokio::test]
async fn send_into_a_known_conversation() {
    let server = mock::serve(&[(
        "POST",
        "/api/v1/accounts/3/conversations/13098/messages",
        200,
        r#"{"id": 77300, "content": "hi"}"#,
    )])
    .await;
    let account = account(&server.base);
    let text = Content::Text { body: "Hello, how can I help you?".into(), preview_url: false };
    let sent = Chatwoot.send(&Http::new(), &account, &outgoing(Some("13098"), text)).await.unwrap();
    assert_eq!(sent, Sent { provider_message_id: "77300".into(), wa_id: None, thread: Some("13098".into()) });
    let template = Content::Template {
        name: "purchase_receipt".into(),
        language: "en_US".into(),
        variables: vec!["Visa".into(), "Nike".into()],
    };
    Chatwoot.send(&Http::new(), &account, &outgoing(Some("13098"), template)).await.unwrap();

    let seen = server.seen();
    assert_eq!(seen[0].header("api_access_token"), Some("cw-token"));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let fixture: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/providers/chatwoot/api_message_create_request.json"
    ))
    .unwrap();
    let body = seen[0].json();
    for field in ["content", "message_type", "private"] {
        assert_eq!(body[field].is_null(), fixture[field].is_null(), "{field}");
    }
    assert_eq!(body, json!({"content": "Hello, how can I help you?", "message_type": "outgoing", "private": false}));
    let template = seen[1].json();
    assert_eq!(
        template["template_params"],
        json!({"name": "purchase_receipt", "language": "en_US", "processed_params": {"1": "Visa", "2": "Nike"}})
    );
    assert_eq!(template["message_type"], "outgoing");
    assert!(template["content"].as_str().unwrap().contains("purchase_receipt"));
}

#[tokio::test]
async fn send_without_a_conversation_creates_contact_and_conversation() {
    let server = mock::serve(&[
        ("GET", "/api/v1/accounts/3/contacts/search", 200, r#"{"meta": {"count": 1}, "payload": [{"id": 7, "phone_number": "+551190000000155"}]}"#),
        (
            "POST",
            "/api/v1/accounts/3/contacts",
            200,
            r#"{"payload": {"contact": {"id": 52871, "phone_number": "+5511900000001"}, "contact_inbox": {"inbox": {"id": 58}, "source_id": "5511900000001"}}}"#,
        ),
        ("POST", "/api/v1/accounts/3/conversations", 200, r#"{"id": 13100, "account_id": 3, "inbox_id": 58}"#),
        ("POST", "/api/v1/accounts/3/conversations/13100/messages", 200, r#"{"id": 77400}"#),
    ])
    .await;
    let account = account(&server.base);
    let text = Content::Text { body: "Olá".into(), preview_url: false };
    let sent = Chatwoot.send(&Http::new(), &account, &outgoing(None, text)).await.unwrap();
    assert_eq!(sent, Sent { provider_message_id: "77400".into(), wa_id: None, thread: Some("13100".into()) });

    let seen = server.seen();
    let paths: Vec<(&str, &str)> = seen.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("GET", "/api/v1/accounts/3/contacts/search"),
            ("POST", "/api/v1/accounts/3/contacts"),
            ("GET", "/api/v1/accounts/3/contacts/52871/conversations"),
            ("POST", "/api/v1/accounts/3/conversations"),
            ("POST", "/api/v1/accounts/3/conversations/13100/messages"),
        ]
    );
    assert_eq!(seen[0].query, "q=%2B5511900000001");
    // The search found a longer number only: not our contact.
    let contact = seen[1].json();
    assert_eq!(contact, json!({"inbox_id": 58, "name": "+5511900000001", "phone_number": "+5511900000001"}));
    let conversation = seen[3].json();
    assert_eq!(conversation, json!({"source_id": "5511900000001", "inbox_id": 58, "contact_id": 52871}));
    let fixture: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/providers/chatwoot/api_conversation_create_request.json"
    ))
    .unwrap();
    for field in ["source_id", "inbox_id", "contact_id"] {
        assert!(fixture.get(field).is_some(), "{field}");
    }
    assert_eq!(seen[4].json()["content"], "Olá");
    assert!(seen.iter().all(|s| s.header("api_access_token") == Some("cw-token")));
}

#[tokio::test]
async fn send_reuses_the_contacts_open_conversation() {
    let server = mock::serve(&[
        (
            "GET",
            "/api/v1/accounts/3/contacts/search",
            200,
            r#"{"payload": [{"id": 52870, "phone_number": "+5511900000001", "contact_inboxes": [{"source_id": "5511900000001", "inbox": {"id": 58}}]}]}"#,
        ),
        (
            "GET",
            "/api/v1/accounts/3/contacts/52870/conversations",
            200,
            r#"{"payload": [{"id": 10, "inbox_id": 58, "status": "resolved"}, {"id": 12, "inbox_id": 58, "status": "open"}, {"id": 15, "inbox_id": 4, "status": "open"}]}"#,
        ),
        ("POST", "/api/v1/accounts/3/conversations/12/messages", 200, r#"{"id": 5}"#),
    ])
    .await;
    let upload = Content::Media {
        kind: MediaKind::Document,
        source: MediaSource::Upload {
            bytes: b"%PDF".to_vec(),
            mime: "application/pdf".into(),
            filename: "a.pdf".into(),
        },
        caption: Some("Your invoice".into()),
        filename: None,
    };
    let sent = Chatwoot.send(&Http::new(), &account(&server.base), &outgoing(None, upload)).await.unwrap();
    assert_eq!((sent.provider_message_id.as_str(), sent.thread.as_deref()), ("5", Some("12")));
    let seen = server.seen();
    let message = seen.last().unwrap();
    let content_type = message.header("content-type").unwrap();
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    let body = String::from_utf8_lossy(&message.body);
    assert!(
        body.contains("name=\"attachments[]\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n")
    );
    assert!(body.contains("name=\"content\"\r\n\r\nYour invoice\r\n"));
    assert!(body.contains("name=\"message_type\"\r\n\r\noutgoing\r\n"));
}

#[tokio::test]
async fn errors_and_refusals() {
    let text = Content::Text { body: "hi".into(), preview_url: false };
    for (status, body, kind) in [
        (401, r#"{"errors": ["You need to sign in or sign up before continuing."]}"#, FailureKind::Unauthorized),
        (404, r#"{"error": "Resource could not be found"}"#, FailureKind::Misconfigured),
        (422, r#"{"message": "Content can't be blank"}"#, FailureKind::Permanent),
        (429, "{}", FailureKind::RateLimited),
        (502, "bad gateway", FailureKind::Transient),
    ] {
        let server = mock::serve(&[("POST", "/api/v1/accounts/3/conversations/1/messages", status, body)]).await;
        let error =
            Chatwoot.send(&Http::new(), &account(&server.base), &outgoing(Some("1"), text.clone())).await.unwrap_err();
        assert_eq!(error.kind, kind, "{status}");
        assert_eq!(error.code.as_deref(), Some(status.to_string().as_str()));
        assert!(!error.message.contains("cw-token"));
        if status == 422 {
            assert_eq!(error.message, "Content can't be blank");
        }
    }
    let server = mock::serve(&[]).await;
    let account = account(&server.base);
    let by_url = Content::Media {
        kind: MediaKind::Image,
        source: MediaSource::Url("https://x/a.png".into()),
        caption: None,
        filename: None,
    };
    assert_eq!(
        Chatwoot.send(&Http::new(), &account, &outgoing(None, by_url)).await.unwrap_err().kind,
        FailureKind::Misconfigured
    );
    let nobody = Outgoing { to: Recipient::default(), ..outgoing(None, text) };
    assert_eq!(Chatwoot.send(&Http::new(), &account, &nobody).await.unwrap_err().kind, FailureKind::InvalidRecipient);
    let error = Chatwoot.mark_read(&Http::new(), &account, "1", &Recipient::default()).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Misconfigured);
    assert!(server.seen().is_empty(), "refused before any request");
}

#[tokio::test]
async fn mark_read_test_connection_and_attachments() {
    let server = mock::serve(&[
        ("POST", "/api/v1/accounts/3/conversations/13098/update_last_seen", 200, "{}"),
        (
            "GET",
            "/api/v1/accounts/3/inboxes/58",
            200,
            r#"{"id": 58, "name": "WhatsApp Sales", "channel_type": "Channel::Whatsapp"}"#,
        ),
        ("GET", "/files/photo.jpg", 200, "JPEG"),
    ])
    .await;
    let account = account(&server.base);
    let from = Recipient { thread: Some("13098".into()), ..Recipient::default() };
    Chatwoot.mark_read(&Http::new(), &account, "77287", &from).await.unwrap();
    assert_eq!(
        Chatwoot.test_connection(&Http::new(), &account).await.unwrap(),
        "inbox WhatsApp Sales (Channel::Whatsapp)"
    );
    let media = MediaRef { url: Some(format!("{}/files/photo.jpg", server.base)), ..MediaRef::default() };
    let fetched = Chatwoot.fetch_media(&Http::new(), &account, &media).await.unwrap();
    assert_eq!(fetched.bytes, b"JPEG");
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert!(seen.iter().all(|s| s.header("api_access_token") == Some("cw-token")));

    // Another host gets no token.
    let storage = mock::serve(&[("GET", "/blob", 200, "DATA")]).await;
    let media = MediaRef { url: Some(format!("{}/blob", storage.base)), ..MediaRef::default() };
    assert_eq!(Chatwoot.fetch_media(&Http::new(), &account, &media).await.unwrap().bytes, b"DATA");
    assert_eq!(storage.seen()[0].header("api_access_token"), None);
}
