//! Tests of the twilio module: the fixtures parse to the expected events, sends match the fixture requests.

use super::wire::mock;
use super::*;

const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn example_params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn account(base: &str) -> AccountConfig {
    mock::account(
        ProviderKind::Twilio,
        base,
        &[("account_sid", "ACtest"), ("auth_token", "12345"), ("from", "+14155238886")],
    )
}

/// The form body of a fixture: its only line that is not a `#` comment.
fn fixture_body(text: &str) -> &str {
    text.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap()
}

fn parse(body: &str) -> Event {
    let request = WebhookRequest {
        method: "POST",
        url: "https://crm.example.com/hooks",
        query: "",
        headers: &[],
        body: body.as_bytes(),
    };
    let mut events = Twilio.parse(&account("http://unused"), &request).unwrap();
    assert_eq!(events.len(), 1);
    events.remove(0)
}

fn message(body: &str) -> InboundMessage {
    match parse(body) {
        Event::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn status(body: &str) -> StatusUpdate {
    match parse(body) {
        Event::Status(s) => s,
        other => panic!("not a status: {other:?}"),
    }
}

#[test]
fn signature_matches_twilios_worked_examples() {
    let fixture = include_str!("../../../tests/fixtures/providers/twilio/signature_x_twilio_signature.txt");
    assert!(fixture.contains("RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_eq!(signature("12345", URL, &example_params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    assert_eq!(
        signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &example_params()),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    let duplicates: Vec<(String, String)> =
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    assert_eq!(signature("12345", URL, &duplicates), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

fn form_body(params: &[(String, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish()
}

fn verify(url: &str, body: &str, signature: Option<&str>) -> Result<(), VerifyError> {
    let headers: Vec<(String, String)> =
        signature.map(|s| vec![("x-twilio-signature".to_owned(), s.to_owned())]).unwrap_or_default();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let request = WebhookRequest { method: "POST", url, query, headers: &headers, body: body.as_bytes() };
    Twilio.verify(&account("http://unused"), &request)
}

#[test]
fn verify_accepts_the_examples_with_and_without_ports() {
    let body = form_body(&example_params());
    assert_eq!(verify(URL, &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Ok(()));
    // Signed with the default port, received without it, and the other way round.
    assert_eq!(verify(URL, &body, Some("kvajT1Ptam85bY51eRf/AJRuM3w=")), Ok(()));
    assert_eq!(
        verify("https://mycompany.com:443/myapp.php?foo=1&bar=2", &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
        Ok(())
    );
    // twilio-python's port tests: a non-default port signed without it, and http with :80.
    assert_eq!(
        verify("http://mycompany.com:1234/myapp.php?foo=1&bar=2", &body, Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")),
        Ok(())
    );
    assert_eq!(
        verify("http://mycompany.com/myapp.php?foo=1&bar=2", &body, Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")),
        Ok(())
    );
}

#[test]
fn verify_refuses_changed_or_missing_signatures() {
    let mut params = example_params();
    params[2].1 = "9999".to_owned();
    let body = form_body(&params);
    assert_eq!(verify(URL, &body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Err(VerifyError::Mismatch));
    // An added parameter changes the signature too (all parameters are signed, known or not).
    let mut params = example_params();
    params.push(("Extra".to_owned(), "1".to_owned()));
    assert_eq!(verify(URL, &form_body(&params), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), Err(VerifyError::Mismatch));
    assert_eq!(verify(URL, &form_body(&example_params()), None), Err(VerifyError::Missing));
    assert_eq!(verify(URL, &form_body(&example_params()), Some(" ")), Err(VerifyError::Missing));
    assert_eq!(
        verify(
            "https://other.example.com/myapp.php?foo=1&bar=2",
            &form_body(&example_params()),
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn verify_checks_json_bodies_by_their_hash() {
    let body = r#"{"property": "value", "boolean": true}"#;
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert_eq!(verify(url, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")), Ok(()));
    assert_eq!(
        verify(url, r#"{"property": "other"}"#, Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn url_variants_add_or_strip_the_port() {
    assert_eq!(url_variants("https://a.test/x?y=1"), ["https://a.test/x?y=1", "https://a.test:443/x?y=1"]);
    assert_eq!(url_variants("http://a.test:8080/x"), ["http://a.test:8080/x", "http://a.test/x"]);
    assert_eq!(url_variants("https://[::1]/x"), ["https://[::1]/x", "https://[::1]:443/x"]);
    assert_eq!(url_variants("not a url"), ["not a url"]);
}

#[test]
fn inbound_text() {
    let m = message(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/inbound_whatsapp_text.txt")));
    assert_eq!(m.id, "SMe287d7109a5a925f182f0e07fe5b223b");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("Msg"));
    assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+14133881111"));
    assert_eq!(m.contact.bsuid, None);
    assert!(m.timestamp_ms > 1_700_000_000_000, "no time in the webhook: the time it arrived");
}

#[test]
fn inbound_text_with_profile_name_and_wa_id() {
    let m = message(fixture_body(include_str!(
        "../../../tests/fixtures/providers/twilio/inbound_whatsapp_text_profile_waid.txt"
    )));
    assert_eq!(m.id, "SM95fd59caa1ad5c3138d42f804d9ffe04");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("אישור הגעה"));
    assert_eq!(m.contact.name.as_deref(), Some("Eyal"));
    assert_eq!(m.contact.wa_id.as_deref(), Some("9725XXXXXXXX"));
    assert_eq!(m.contact.phone, None, "the fixture's redacted number is not a number");
}

#[test]
fn inbound_image() {
    let m = message(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/inbound_whatsapp_image.txt")));
    assert_eq!(m.id, "MMabcdef123456789");
    assert_eq!(m.kind, MessageKind::Image);
    assert_eq!(m.text, None, "empty Body is no caption");
    let media = m.media.unwrap();
    assert_eq!(media.mime.as_deref(), Some("image/jpeg"));
    assert_eq!(
        media.url.as_deref(),
        Some(
            "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/MMabcdef123456789/Media/ME123456"
        )
    );
    assert_eq!(m.contact.name.as_deref(), Some("מיכל"));
}

#[test]
fn inbound_location() {
    let m =
        message(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/inbound_whatsapp_location.txt")));
    assert_eq!(m.id, "SMxx");
    assert_eq!(m.kind, MessageKind::Location);
    let location = m.location.unwrap();
    assert!((location.latitude - 12.160894393921).abs() < 1e-9);
    assert!((location.longitude - 75.265205383301).abs() < 1e-9);
    assert_eq!(location.name, None);
    let with_label = message(
        "MessageSid=SM1&From=whatsapp%3A%2B14133881111&MessageType=location&Latitude=1.5&Longitude=-2&Label=Home&Address=Main+St",
    );
    let location = with_label.location.unwrap();
    assert_eq!((location.name.as_deref(), location.address.as_deref()), (Some("Home"), Some("Main St")));
}

#[test]
fn inbound_template_button() {
    let m = message(fixture_body(include_str!(
        "../../../tests/fixtures/providers/twilio/inbound_whatsapp_template_button.txt"
    )));
    assert_eq!(m.kind, MessageKind::TemplateButton);
    assert_eq!(m.text.as_deref(), Some("Confirm"));
    assert_eq!(m.reply, Some(ReplyChoice { id: "Confirm".into(), title: "Confirm".into() }));
    let with_payload = message(
        "MessageSid=SM1&From=whatsapp%3A%2B14133881111&Body=Yes&ButtonText=Yes&ButtonPayload=confirm-42&OriginalRepliedMessageSid=SM0",
    );
    assert_eq!(with_payload.reply, Some(ReplyChoice { id: "confirm-42".into(), title: "Yes".into() }));
    assert_eq!(with_payload.context_id.as_deref(), Some("SM0"));
}

#[test]
fn inbound_with_bsuid() {
    let m =
        message(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/inbound_whatsapp_with_bsuid.txt")));
    assert_eq!(m.contact.phone.as_ref().map(Phone::as_str), Some("+14133881111"));
    assert_eq!(m.contact.bsuid.as_deref(), Some("US.1234"));
    let m = message(fixture_body(include_str!(
        "../../../tests/fixtures/providers/twilio/inbound_whatsapp_from_bsuid_only.txt"
    )));
    assert_eq!(m.contact.phone, None);
    assert_eq!(m.contact.bsuid.as_deref(), Some("US.1234"));
    assert_eq!(m.text.as_deref(), Some("Msg"));
}

#[test]
fn status_callbacks() {
    let s =
        status(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/status_callback_delivered.txt")));
    assert_eq!((s.message_id.as_str(), s.status), ("SMe287d7109a5a925f182f0e07fe5b223b", Status::Delivered));
    assert_eq!(s.error, None);
    let s = status(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/status_callback_read.txt")));
    assert_eq!(s.status, Status::Read);
    let s =
        status(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/status_callback_sent_full.txt")));
    assert_eq!((s.message_id.as_str(), s.status), ("SM0b6e2697aae04182a9f5b5c7a8994c7f", Status::Sent));
    assert_eq!(s.recipient.as_deref(), Some("2021"));

    let s =
        status(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/status_callback_failed_21610.txt")));
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.recipient.as_deref(), Some("+12028831111"));
    assert_eq!(s.error, Some(("21610".into(), "The recipient has unsubscribed (replied STOP)".into())));
    let s =
        status(fixture_body(include_str!("../../../tests/fixtures/providers/twilio/status_callback_failed_63018.txt")));
    assert_eq!(s.error, Some(("63018".into(), "Rate limit exceeded".into())));
    let s = status(fixture_body(include_str!(
        "../../../tests/fixtures/providers/twilio/status_callback_failed_30008_with_message.txt"
    )));
    assert_eq!(s.message_id, "SMd560ac79e4a4d36b3ce59f1f50471986");
    assert_eq!(s.error, Some(("30008".into(), "Unknown error".into())));

    let s = status("MessageSid=SM1&MessageStatus=undelivered");
    assert_eq!(
        (s.status, s.error),
        (Status::Failed, Some(("undelivered".into(), "Twilio reported the message as undelivered".into())))
    );
    for early in ["queued", "accepted", "sending", "scheduled"] {
        assert_eq!(
            parse(&format!("MessageSid=SM1&MessageStatus={early}")),
            Event::Other { kind: format!("status.{early}") }
        );
    }
}

#[test]
fn malformed_forms_are_refused() {
    let request =
        |body: &'static [u8]| WebhookRequest { method: "POST", url: "https://x", query: "", headers: &[], body };
    let account = account("http://unused");
    assert!(Twilio.parse(&account, &request(b"")).is_err());
    assert!(Twilio.parse(&account, &request(b"{\"json\": true}")).is_err());
    assert!(Twilio.parse(&account, &request(b"MessageSid=SM1&Body=\xff")).is_err());
    assert_eq!(Twilio.acknowledgement().0, "text/xml");
}

fn outgoing(content: Content) -> Outgoing {
    Outgoing {
        to: Recipient { phone: Some(Phone::parse("+250788383383").unwrap()), ..Recipient::default() },
        content,
        client_ref: "cvm-1".into(),
        reply_to: None,
    }
}

const MESSAGES: &str = "/2010-04-01/Accounts/ACtest/Messages.json";

#[tokio::test]
async fn send_text_posts_the_form_with_basic_auth() {
    let response = include_str!("../../../tests/fixtures/providers/twilio/messages_create_response_queued.json");
    let server = mock::serve(&[("POST", MESSAGES, 201, response)]).await;
    let account = account(&server.base);
    let text = Content::Text { body: "Simple Message ☺".into(), preview_url: false };
    let sent = Twilio.send(&Http::new(), &account, &outgoing(text)).await.unwrap();
    assert_eq!(sent.provider_message_id, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    let seen = server.seen();
    let request = &seen[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", MESSAGES));
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    // base64("ACtest:12345")
    assert_eq!(request.header("authorization"), Some("Basic QUN0ZXN0OjEyMzQ1"));
    // The fixture's field names, with our values.
    let fixture =
        fixture_body(include_str!("../../../tests/fixtures/providers/twilio/messages_create_request_text.txt"));
    let names: Vec<String> = url::form_urlencoded::parse(fixture.as_bytes())
        .map(|(k, _)| k.into_owned())
        .filter(|k| k != "MessagingServiceSid")
        .collect();
    let mut got: Vec<String> = request.form().into_iter().map(|(k, _)| k).collect();
    let mut want = names.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(request.form_value("To").as_deref(), Some("whatsapp:+250788383383"));
    assert_eq!(request.form_value("From").as_deref(), Some("whatsapp:+14155238886"));
    assert_eq!(request.form_value("Body").as_deref(), Some("Simple Message ☺"));
    assert_eq!(request.form_value("StatusCallback").as_deref(), Some("https://crm.example.com/hooks/test/1"));
}

#[tokio::test]
async fn send_template_and_media() {
    let response =
        include_str!("../../../tests/fixtures/providers/twilio/messages_create_response_whatsapp_scheduled.json");
    let server = mock::serve(&[("POST", MESSAGES, 201, response)]).await;
    let mut account = account(&server.base);
    account.credentials.0.insert("from".into(), "whatsapp:+12065551212".into());
    let template = Content::Template {
        name: "HXb5b62575e6e4ff6129ad7c8efe1f983e".into(),
        language: "en".into(),
        variables: vec!["Chef".into(), "tomorrow".into()],
    };
    Twilio.send(&Http::new(), &account, &outgoing(template)).await.unwrap();
    let media = Content::Media {
        kind: MediaKind::Image,
        source: MediaSource::Url("https://cdn.example.com/a.jpg".into()),
        caption: Some("Look".into()),
        filename: None,
    };
    Twilio.send(&Http::new(), &account, &outgoing(media)).await.unwrap();

    let seen = server.seen();
    let template = &seen[0];
    assert_eq!(template.form_value("From").as_deref(), Some("whatsapp:+12065551212"));
    assert_eq!(template.form_value("ContentSid").as_deref(), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
    let variables: serde_json::Value = serde_json::from_str(&template.form_value("ContentVariables").unwrap()).unwrap();
    assert_eq!(variables, serde_json::json!({"1": "Chef", "2": "tomorrow"}));
    assert_eq!(template.form_value("Body"), None, "templates carry no Body");
    let media = &seen[1];
    assert_eq!(media.form_value("MediaUrl").as_deref(), Some("https://cdn.example.com/a.jpg"));
    assert_eq!(media.form_value("Body").as_deref(), Some("Look"));
}

#[tokio::test]
async fn unsupported_content_is_refused_before_any_request() {
    let server = mock::serve(&[]).await;
    let account = account(&server.base);
    for content in [
        Content::Template { name: "order_update".into(), language: "en".into(), variables: vec![] },
        Content::Buttons { body: "?".into(), buttons: vec![] },
        Content::Media {
            kind: MediaKind::Image,
            source: MediaSource::Upload { bytes: vec![1], mime: "image/png".into(), filename: "a.png".into() },
            caption: None,
            filename: None,
        },
    ] {
        let error = Twilio.send(&Http::new(), &account, &outgoing(content)).await.unwrap_err();
        assert_eq!(error.kind, FailureKind::Misconfigured);
    }
    let error = Twilio.mark_read(&Http::new(), &account, "SM1", &Recipient::default()).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Misconfigured);
    assert!(server.seen().is_empty());
}

async fn send_error(status: u16, body: &str) -> ProviderError {
    let server = mock::serve(&[("POST", MESSAGES, status, body)]).await;
    let text = Content::Text { body: "hi".into(), preview_url: false };
    Twilio.send(&Http::new(), &account(&server.base), &outgoing(text)).await.unwrap_err()
}

#[tokio::test]
async fn errors_are_classified_by_twilio_code() {
    let error = send_error(
        400,
        r#"{"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400}"#,
    )
    .await;
    assert_eq!((error.kind, error.code.as_deref()), (FailureKind::OutsideWindow, Some("63016")));
    assert!(error.message.contains("outside the allowed window"));
    let error = send_error(401, r#"{"code": 20003, "message": "Authenticate", "status": 401}"#).await;
    assert_eq!(error.kind, FailureKind::Unauthorized);
    assert!(!error.message.contains("12345"), "no credentials in errors");
    let error = send_error(500, "oops").await;
    assert_eq!((error.kind, error.code.as_deref()), (FailureKind::Transient, Some("500")));
    let error = send_error(429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#).await;
    assert_eq!(error.kind, FailureKind::RateLimited);
    let error = send_error(400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#).await;
    assert_eq!(error.kind, FailureKind::InvalidRecipient);
    let error = send_error(400, r#"{"code": 21655, "message": "The ContentSid is Invalid", "status": 400}"#).await;
    assert_eq!(error.kind, FailureKind::Permanent);
}

#[tokio::test]
async fn test_connection_and_media() {
    let server = mock::serve(&[
        (
            "GET",
            "/2010-04-01/Accounts/ACtest.json",
            200,
            r#"{"friendly_name": "My first account", "status": "active"}"#,
        ),
        ("GET", "/media/ME1", 200, "JPEGDATA"),
    ])
    .await;
    let account = account(&server.base);
    assert_eq!(Twilio.test_connection(&Http::new(), &account).await.unwrap(), "My first account (active)");
    let media = MediaRef { url: Some(format!("{}/media/ME1", server.base)), ..MediaRef::default() };
    let fetched = Twilio.fetch_media(&Http::new(), &account, &media).await.unwrap();
    assert_eq!(fetched.bytes, b"JPEGDATA");
    assert_eq!(server.seen()[1].header("authorization"), Some("Basic QUN0ZXN0OjEyMzQ1"));
    // Credentials are not sent to a host that is not Twilio's.
    let elsewhere = MediaRef { url: Some("https://evil.example.com/m".into()), ..MediaRef::default() };
    assert!(Twilio.fetch_media(&Http::new(), &account, &elsewhere).await.is_err());
}
