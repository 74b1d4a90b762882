//! Tests of the Meta codec shared by Meta and 360dialog: bodies, errors and the webhook parser on the fixtures.

use super::*;

fn phone(text: &str) -> Phone {
    Phone::parse(text).unwrap()
}

#[test]
fn plain_ids_keep_requests_on_their_path() {
    for good in ["106540352242922", "2754859441498128", "abc-DEF_1.2"] {
        assert!(is_plain_id(good), "{good}");
    }
    for bad in ["", ".", "..", "12/../me", "12?fields=x", "12%2F", "12 3", "12#x"] {
        assert!(!is_plain_id(bad), "{bad}");
    }
}

#[test]
fn recipient_is_digits_else_bsuid_else_refused() {
    let by_phone = Recipient { phone: Some(phone("+16505551234")), bsuid: Some("US.1".into()), ..Default::default() };
    assert_eq!(to_field(&by_phone).unwrap(), "16505551234");
    let by_bsuid = Recipient { bsuid: Some("US.13491208655302741918".into()), ..Default::default() };
    assert_eq!(to_field(&by_bsuid).unwrap(), "US.13491208655302741918");
    let nobody = Recipient { jid: Some("x@lid".into()), ..Default::default() };
    assert_eq!(to_field(&nobody).unwrap_err().kind, FailureKind::Misconfigured);
}

#[test]
fn multipart_body_carries_the_three_fields_and_escapes_the_name() {
    let (content_type, body) = upload_body(b"\x89PNG-bytes", "image/png", "we\"ird\r\nname.png");
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with(&format!("--{boundary}\r\n")));
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
    assert!(text.contains("name=\"type\"\r\n\r\nimage/png\r\n"));
    assert!(text.contains(
        "name=\"file\"; filename=\"we_ird__name.png\"\r\nContent-Type: image/png\r\n\r\n\u{fffd}PNG-bytes\r\n"
    ));
    // A new boundary each time.
    assert_ne!(upload_body(b"", "image/png", "a").0, content_type);
    // A MIME type that would break the header falls back.
    let (_, body) = upload_body(b"x", "image/png\r\nX-Evil: 1", "a");
    assert!(String::from_utf8_lossy(&body).contains("Content-Type: application/octet-stream\r\n"));
}

#[test]
fn error_codes_classify() {
    let cases = [
        (190, 401, FailureKind::Unauthorized),
        (130429, 400, FailureKind::RateLimited),
        (131056, 400, FailureKind::RateLimited),
        (80007, 400, FailureKind::RateLimited),
        (4, 400, FailureKind::RateLimited),
        (613, 400, FailureKind::RateLimited),
        (131047, 400, FailureKind::OutsideWindow),
        (131026, 400, FailureKind::InvalidRecipient),
        (131021, 400, FailureKind::InvalidRecipient),
        (1013, 400, FailureKind::InvalidRecipient),
        (131000, 500, FailureKind::Transient),
        (131016, 400, FailureKind::Transient),
        (2, 400, FailureKind::Transient),
        (1, 400, FailureKind::Transient),
        (100, 400, FailureKind::Permanent),
        (132001, 404, FailureKind::Permanent),
        // Unknown codes fall back on the status.
        (0, 401, FailureKind::Unauthorized),
        (999999, 503, FailureKind::Transient),
    ];
    for (code, status, kind) in cases {
        let body = format!(r#"{{"error":{{"message":"(#{code}) x","type":"OAuthException","code":{code}}}}}"#);
        let error = classify_error(status, &HeaderMap::new(), body.as_bytes());
        assert_eq!(error.kind, kind, "code {code}");
        assert_eq!(error.code.as_deref(), Some(code.to_string().as_str()));
    }
}

#[test]
fn error_message_prefers_details_and_reads_retry_after() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", HeaderValue::from_static("30"));
    let body = include_str!("../../../tests/fixtures/providers/meta-cloud-api/error_response_130429_rate_limit.json");
    let error = classify_error(400, &headers, body.as_bytes());
    assert_eq!(error.kind, FailureKind::RateLimited);
    assert!(error.message.starts_with("Message failed to send because there were too many messages"));
    assert_eq!(error.retry_after, Some(std::time::Duration::from_secs(30)));

    let body = include_str!("../../../tests/fixtures/providers/meta-cloud-api/error_response_190_token_expired.json");
    let error = classify_error(401, &headers, body.as_bytes());
    assert_eq!(error.kind, FailureKind::Unauthorized);
    assert!(error.message.starts_with("Error validating access token"));
    assert_eq!(error.retry_after, None, "only retryable failures wait");

    // Not JSON at all: the status decides and names itself.
    let error = classify_error(502, &HeaderMap::new(), b"<html>Bad gateway</html>");
    assert_eq!((error.kind, error.code.as_deref()), (FailureKind::Transient, Some("502")));
    assert_eq!(error.message, "the provider answered HTTP 502");

    // 360dialog's older envelope.
    let body =
        br#"{"meta":{"api_status":"stable"},"errors":[{"code":1013,"title":"User is not valid","details":"x"}]}"#;
    let error = classify_error(400, &HeaderMap::new(), body);
    assert_eq!(
        (error.kind, error.code.as_deref(), error.message.as_str()),
        (FailureKind::InvalidRecipient, Some("1013"), "x")
    );
}

#[test]
fn sent_reads_the_wamid_and_trims_wa_id() {
    let answer: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/providers/meta-cloud-api/send_success_response.json"
    ))
    .unwrap();
    let sent = read_sent(&answer).unwrap();
    assert_eq!(sent.provider_message_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
    assert_eq!(sent.wa_id.as_deref(), Some("16505076520"));
    let answer: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/providers/meta-cloud-api/send_success_response_postman.json"
    ))
    .unwrap();
    assert_eq!(read_sent(&answer).unwrap().wa_id.as_deref(), Some("48XXXXXXXXX"));
    assert_eq!(read_sent(&json!({"messages": []})).unwrap_err().kind, FailureKind::Permanent);
}

#[test]
fn unknown_types_and_fields_never_fail() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[
        {"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1700000000","type":"order","order":{}}]}},
        {"field":"message_template_status_update","value":{"event":"APPROVED"}},
        {"field":"messages","value":{"statuses":[{"id":"wamid.2","status":"deleted","timestamp":"1"}]}}
    ]}]}"#;
    let events = parse_webhook(body).unwrap();
    assert_eq!(events.len(), 3);
    let Event::Message(message) = &events[0] else { panic!("{events:?}") };
    assert_eq!((message.kind, message.timestamp_ms), (MessageKind::Unsupported, 1_700_000_000_000));
    assert_eq!(message.contact.phone, Some(phone("+16505551234")));
    assert_eq!(events[1], Event::Other { kind: "message_template_status_update".into() });
    assert_eq!(events[2], Event::Other { kind: "statuses".into() });
}

#[test]
fn echoes_name_the_customer_they_went_to() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"smb_message_echoes",
        "value":{"message_echoes":[{"from":"15550783881","to":"16505551234","id":"wamid.echo","timestamp":"1700000001",
        "type":"text","text":{"body":"sent from the phone"}}]}}]}]}"#;
    let events = parse_webhook(body).unwrap();
    let [Event::Echo(echo)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(echo.id, "wamid.echo");
    assert_eq!(echo.text.as_deref(), Some("sent from the phone"));
    assert_eq!(echo.contact.phone, Some(phone("+16505551234")));
    assert_eq!(echo.contact.wa_id.as_deref(), Some("16505551234"));
}

#[test]
fn malformed_webhooks_are_parse_errors() {
    for body in
        [&b"not json"[..], b"[]", br#"{"object":"page","entry":[]}"#, br#"{"object":"whatsapp_business_account"}"#]
    {
        assert!(parse_webhook(body).is_err(), "{}", String::from_utf8_lossy(body));
    }
    // Odd shapes inside a valid envelope are tolerated, not fatal.
    let odd = br#"{"object":"whatsapp_business_account","entry":[1,{"changes":[{"value":[]},{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}"#;
    assert_eq!(
        parse_webhook(odd).unwrap(),
        vec![Event::Other { kind: "unknown".into() }, Event::Other { kind: "messages".into() }]
    );
}

#[test]
fn contacts_and_coordinates_read_leniently() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[
        {"from":"16505551234","id":"wamid.c","timestamp":"1","type":"contacts","contacts":[
            {"name":{"formatted_name":"Ada Lovelace"},"phones":[{"phone":"+44 20 7946 0000","type":"WORK"}]}]},
        {"from":"16505551234","id":"wamid.l","timestamp":"1","type":"location","location":{"latitude":"51.5","longitude":"-0.12"}},
        {"from":"16505551234","id":"wamid.bad","timestamp":"1","type":"location","location":{"latitude":200,"longitude":0}}
    ]}}]}]}"#;
    let events = parse_webhook(body).unwrap();
    let [Event::Message(card), Event::Message(place), Event::Message(bad)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((card.kind, card.text.as_deref()), (MessageKind::Contacts, Some("Ada Lovelace: +44 20 7946 0000")));
    let location = place.location.as_ref().unwrap();
    assert_eq!((location.latitude, location.longitude, location.name.as_deref()), (51.5, -0.12, None));
    assert_eq!((bad.kind, bad.location.as_ref()), (MessageKind::Unsupported, None));
}
