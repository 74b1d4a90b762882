//! Tests of the evolution module: the fixtures parse to the expected events, sends match the fixture requests.

use super::wire::mock;
use super::*;

fn account(base: &str) -> AccountConfig {
    mock::account(ProviderKind::Evolution, base, &[("api_key", "evo-key"), ("instance", "inst-test")])
}

fn parse(body: &str) -> Vec<Event> {
    let request =
        WebhookRequest { method: "POST", url: "https://x/hook", query: "", headers: &[], body: body.as_bytes() };
    Evolution.parse(&account("http://unused"), &request).unwrap()
}

fn one(body: &str) -> Event {
    let mut events = parse(body);
    assert_eq!(events.len(), 1);
    events.remove(0)
}

fn message(body: &str) -> InboundMessage {
    match one(body) {
        Event::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn text_message() {
    let m = message(include_str!(
        "../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v2_text_fixture.json"
    ));
    assert_eq!(m.id, "3EB0EVTEXT0001");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("Olá, tudo bem?"));
    assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+5511900000001"));
    assert_eq!(m.contact.jid.as_deref(), Some("5511900000001@s.whatsapp.net"));
    assert_eq!(m.contact.name.as_deref(), Some("Contato Teste"));
    assert_eq!(m.timestamp_ms, 1_790_000_000_000);
    assert_eq!(m.context_id, None);
}

#[test]
fn image_with_inline_base64() {
    let m = message(include_str!(
        "../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v2_image_base64_fixture.json"
    ));
    assert_eq!(m.kind, MessageKind::Image);
    let media = m.media.unwrap();
    assert_eq!(media.id.as_deref(), Some("3EB0EVIMG0001"));
    assert_eq!(media.mime.as_deref(), Some("image/png"));
    let bytes = media.inline.unwrap();
    assert_eq!(&bytes[..4], b"\x89PNG");
}

#[test]
fn location_and_reaction() {
    let m = message(include_str!(
        "../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v2_location_fixture.json"
    ));
    assert_eq!(m.kind, MessageKind::Location);
    assert_eq!(
        m.location,
        Some(Location {
            latitude: -23.5505,
            longitude: -46.6333,
            name: Some("Praça da Sé".into()),
            address: Some("Sé, São Paulo - SP".into())
        })
    );
    let fixture = include_str!(
        "../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v2_reaction_fixture.json"
    );
    let m = message(fixture);
    assert_eq!(m.id, "3EB0EVREACT0001");
    assert_eq!(m.kind, MessageKind::Reaction);
    assert_eq!(m.reaction, Some(Reaction { message_id: "3EB0ORIGINAL0001".into(), emoji: Some("👍".into()) }));
    let removed = message(&fixture.replace("\"text\": \"👍\"", "\"text\": \"\""));
    assert_eq!(removed.reaction.unwrap().emoji, None);
}

#[test]
fn v1_8_payload_reads_too() {
    let m =
        message(include_str!("../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v1_8_real.json"));
    assert_eq!(m.id, "3A554E20ECABF3D45BB2");
    assert_eq!(m.kind, MessageKind::Text);
    assert!(m.text.unwrap().starts_with("Olá! Vim do Instagram"));
    assert_eq!(m.contact.name.as_deref(), Some("Giovanna Darcanovas"));
    assert_eq!(m.contact.phone, None, "the number is masked in the fixture");
    assert_eq!(m.contact.jid.as_deref(), Some("55119********@s.whatsapp.net"));
    assert_eq!(m.timestamp_ms, 1_717_607_420_000);
}

#[test]
fn messages_update() {
    let fixture = include_str!("../../../tests/fixtures/providers/evolution-api/webhook_messages_update_real.json");
    assert_eq!(one(fixture), Event::Other { kind: "messages.update.deleted".into() });
    // The same receipt for one of our messages.
    let ours = fixture.replace("\"fromMe\": false", "\"fromMe\": true");
    for (name, status) in [
        ("SERVER_ACK", Status::Sent),
        ("DELIVERY_ACK", Status::Delivered),
        ("READ", Status::Read),
        ("PLAYED", Status::Played),
        ("ERROR", Status::Failed),
    ] {
        let Event::Status(update) = one(&ours.replace("DELETED", name)) else { panic!("{name}") };
        assert_eq!(update.message_id, "A5561E44C2A63682E4295B52F484C14E", "keyId, not the database id");
        assert_eq!(update.status, status);
        assert_eq!(update.recipient.as_deref(), Some("200000000000@s.whatsapp.net"));
        assert_eq!(update.timestamp_ms, 1_758_749_877_432, "the envelope's date_time");
        assert_eq!(update.error.is_some(), status == Status::Failed);
    }
    assert_eq!(one(&ours.replace("DELETED", "PENDING")), Event::Other { kind: "messages.update.pending".into() });
    assert_eq!(one(&fixture.replace("DELETED", "READ")), Event::Other { kind: "messages.update.inbound".into() });
}

#[test]
fn echoes_groups_and_other_events() {
    let text =
        include_str!("../../../tests/fixtures/providers/evolution-api/webhook_messages_upsert_v2_text_fixture.json");
    let Event::Echo(echo) = one(&text.replace("\"fromMe\": false", "\"fromMe\": true")) else { panic!() };
    assert_eq!(echo.contact.phone.as_ref().map(Phone::as_str), Some("+5511900000001"));
    assert_eq!(echo.contact.name, None, "pushName is the business's own name on echoes");
    assert!(matches!(one(&text.replace("messages.upsert", "send.message")), Event::Echo(_)));
    assert!(matches!(one(&text.replace("messages.upsert", "MESSAGES_UPSERT")), Event::Message(_)));
    assert_eq!(
        one(&text.replace("5511900000001@s.whatsapp.net", "120363000000000000@g.us")),
        Event::Other { kind: "group".into() }
    );
    let lid = text.replace(
        "\"remoteJid\": \"5511900000001@s.whatsapp.net\",",
        "\"remoteJid\": \"13718@lid\", \"remoteJidAlt\": \"5511900000002@s.whatsapp.net\",",
    );
    let m = message(&lid);
    assert_eq!(m.contact.jid.as_deref(), Some("13718@lid"));
    assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+5511900000002"));

    let connection =
        r#"{"event":"connection.update","instance":"i","data":{"instance":"i","state":"close","statusReason":401}}"#;
    assert_eq!(one(connection), Event::Connection { state: "close".into() });
    assert_eq!(
        one(r#"{"event":"qrcode.updated","instance":"i","data":{"qrcode":{}}}"#),
        Event::Other { kind: "qrcode.updated".into() }
    );
    let quoted = r#"{"event":"messages.upsert","data":{"key":{"remoteJid":"5511900000001@s.whatsapp.net","fromMe":false,"id":"X1"},
        "message":{"extendedTextMessage":{"text":"yes","contextInfo":{"stanzaId":"BAE5"}}},"messageTimestamp":"1790000000"}}"#;
    let m = message(quoted);
    assert_eq!(
        (m.text.as_deref(), m.context_id.as_deref(), m.timestamp_ms),
        (Some("yes"), Some("BAE5"), 1_790_000_000_000)
    );
    let unknown = r#"{"event":"messages.upsert","data":{"key":{"remoteJid":"5511900000001@s.whatsapp.net","id":"X2"},"message":{"pollCreationMessage":{}}}}"#;
    assert_eq!(message(unknown).kind, MessageKind::Unsupported);
    let list = r#"{"event":"messages.upsert","data":{"key":{"remoteJid":"5511900000001@s.whatsapp.net","id":"X3"},"message":{"listResponseMessage":{"title":"Blue","singleSelectReply":{"selectedRowId":"row-2"}}}}}"#;
    assert_eq!(message(list).reply, Some(ReplyChoice { id: "row-2".into(), title: "Blue".into() }));
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    let request = |body: &'static str| WebhookRequest {
        method: "POST",
        url: "https://x",
        query: "",
        headers: &[],
        body: body.as_bytes(),
    };
    let account = account("http://unused");
    assert!(Evolution.parse(&account, &request("not json")).is_err());
    assert!(Evolution.parse(&account, &request("{\"data\": {}}")).is_err());
    assert_eq!(
        Evolution.parse(&account, &request("{\"event\": \"messages.upsert\", \"data\": 7}")).unwrap(),
        vec![Event::Other { kind: "messages.upsert".into() }]
    );
}

#[test]
fn verify_requires_the_secret() {
    let account = account("http://unused");
    let check = |query: &'static str| {
        Evolution
            .verify(&account, &WebhookRequest { method: "POST", url: "https://x", query, headers: &[], body: b"{}" })
    };
    assert_eq!(check("secret=s3cret"), Ok(()));
    assert_eq!(check("secret=wrong"), Err(VerifyError::Mismatch));
    assert_eq!(check(""), Err(VerifyError::Missing));
}

fn outgoing(content: Content) -> Outgoing {
    Outgoing {
        to: Recipient { phone: Some(Phone::parse("+5511999999999").unwrap()), ..Recipient::default() },
        content,
        client_ref: "cvm-1".into(),
        reply_to: None,
    }
}

#[tokio::test]
async fn send_text_and_media() {
    let server = mock::serve(&[
        (
            "POST",
            "/message/sendText/inst-test",
            201,
            include_str!("../../../tests/fixtures/providers/evolution-api/send_text_response.json"),
        ),
        (
            "POST",
            "/message/sendMedia/inst-test",
            201,
            include_str!("../../../tests/fixtures/providers/evolution-api/send_media_response.json"),
        ),
    ])
    .await;
    let account = account(&server.base);
    let sent = Evolution
        .send(&Http::new(), &account, &outgoing(Content::Text { body: "Olá!".into(), preview_url: false }))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "BAE594145F4C59B4");
    let upload = Content::Media {
        kind: MediaKind::Image,
        source: MediaSource::Upload { bytes: b"PNG".to_vec(), mime: "image/png".into(), filename: "a.png".into() },
        caption: Some("Caption text".into()),
        filename: None,
    };
    let sent = Evolution.send(&Http::new(), &account, &outgoing(upload)).await.unwrap();
    assert_eq!(sent.provider_message_id, "BAE5F5A632EAE722");
    let by_url = Content::Media {
        kind: MediaKind::Document,
        source: MediaSource::Url("https://cdn.example.com/files/report.pdf?sig=1".into()),
        caption: None,
        filename: None,
    };
    Evolution.send(&Http::new(), &account, &outgoing(by_url)).await.unwrap();

    let seen = server.seen();
    let text = &seen[0];
    assert_eq!((text.method.as_str(), text.path.as_str()), ("POST", "/message/sendText/inst-test"));
    assert_eq!(text.header("apikey"), Some("evo-key"));
    assert_eq!(text.header("content-type"), Some("application/json"));
    let body = text.json();
    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/providers/evolution-api/send_text_request.json"))
            .unwrap();
    for field in ["number", "text", "linkPreview"] {
        assert!(fixture.get(field).is_some() && body.get(field).is_some(), "{field}");
    }
    assert_eq!(body["number"], "5511999999999");
    assert_eq!(body["text"], "Olá!");

    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/providers/evolution-api/send_media_request.json"))
            .unwrap();
    let media = seen[1].json();
    let mut want: Vec<&String> = fixture.as_object().unwrap().keys().collect();
    let mut got: Vec<&String> = media.as_object().unwrap().keys().collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(media["media"], "UE5H", "the upload as base64");
    assert_eq!((media["mediatype"].as_str(), media["mimetype"].as_str()), (Some("image"), Some("image/png")));
    assert_eq!((media["fileName"].as_str(), media["caption"].as_str()), (Some("a.png"), Some("Caption text")));
    let document = seen[2].json();
    assert_eq!(document["media"], "https://cdn.example.com/files/report.pdf?sig=1");
    assert_eq!(
        (document["fileName"].as_str(), document["mimetype"].as_str()),
        (Some("report.pdf"), Some("application/pdf"))
    );
}

#[tokio::test]
async fn errors_and_unsupported_content() {
    let server = mock::serve(&[(
        "POST",
        "/message/sendText/inst-test",
        404,
        include_str!("../../../tests/fixtures/providers/evolution-api/error_404_instance_not_found.json"),
    )])
    .await;
    let account = account(&server.base);
    let text = outgoing(Content::Text { body: "hi".into(), preview_url: false });
    let error = Evolution.send(&Http::new(), &account, &text).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Misconfigured);
    assert!(error.message.contains("does not exist"), "{}", error.message);

    let error = Evolution
        .send(
            &Http::new(),
            &account,
            &outgoing(Content::Template { name: "t".into(), language: "en".into(), variables: vec![] }),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind, FailureKind::Misconfigured);

    let answers = [
        (
            401,
            r#"{"status":401,"error":"Unauthorized","response":{"message":"Unauthorized"}}"#,
            FailureKind::Unauthorized,
        ),
        (
            400,
            r#"{"status":400,"error":"Bad Request","response":{"message":[{"jid":"5511999999999@s.whatsapp.net","exists":false,"number":"5511999999999"}]}}"#,
            FailureKind::InvalidRecipient,
        ),
        (500, "{}", FailureKind::Transient),
    ];
    for (status, body, kind) in answers {
        let server = mock::serve(&[("POST", "/message/sendText/inst-test", status, body)]).await;
        let error = Evolution.send(&Http::new(), &self::account(&server.base), &text).await.unwrap_err();
        assert_eq!(error.kind, kind, "{status}");
        assert!(!error.message.contains("evo-key"));
    }
}

#[tokio::test]
async fn mark_read_connection_state_and_media() {
    let server = mock::serve(&[
        ("POST", "/chat/markMessageAsRead/inst-test", 201, r#"{"message":"Read messages","read":"success"}"#),
        (
            "GET",
            "/instance/connectionState/inst-test",
            200,
            include_str!("../../../tests/fixtures/providers/evolution-api/instance_connection_state_response.json"),
        ),
        ("POST", "/chat/getBase64FromMediaMessage/inst-test", 201, r#"{"mimetype":"image/png","base64":"UE5H"}"#),
    ])
    .await;
    let account = account(&server.base);
    let from = Recipient { phone: Some(Phone::parse("+5511900000001").unwrap()), ..Recipient::default() };
    Evolution.mark_read(&Http::new(), &account, "3EB0EVTEXT0001", &from).await.unwrap();
    assert_eq!(Evolution.test_connection(&Http::new(), &account).await.unwrap(), "instance teste-docs: open");
    let media = MediaRef { id: Some("3EB0EVIMG0001".into()), ..MediaRef::default() };
    let fetched = Evolution.fetch_media(&Http::new(), &account, &media).await.unwrap();
    assert_eq!((fetched.bytes.as_slice(), fetched.mime.as_str()), (&b"PNG"[..], "image/png"));
    let inline = MediaRef { inline: Some(b"x".to_vec()), mime: Some("image/png".into()), ..MediaRef::default() };
    assert_eq!(Evolution.fetch_media(&Http::new(), &account, &inline).await.unwrap().bytes, b"x");

    let seen = server.seen();
    assert_eq!(
        seen[0].json(),
        json!({"readMessages": [{"remoteJid": "5511900000001@s.whatsapp.net", "fromMe": false, "id": "3EB0EVTEXT0001"}]})
    );
    assert_eq!(seen[1].header("apikey"), Some("evo-key"));
    assert_eq!(seen[2].json(), json!({"message": {"key": {"id": "3EB0EVIMG0001"}}}));
    assert_eq!(seen.len(), 3, "inline media needs no request");
}
