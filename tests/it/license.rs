//! Licensing end to end: files signed with the test key, tampering, expiry and grace, storage, activation against the
//! mock license server, and the vendor tool `conversure-license`.

use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conversure::license::{self, License, LicenseError, LicenseKind, LicenseState};
use serde_json::Value;

use crate::license_server::{
    MockLicenseServer, TEST_KEY_ID, TEST_SEED_HEX, now_ms, test_license, test_payload, test_seed,
};

const DAY: i64 = 24 * 60 * 60 * 1000;

fn envelope(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn with_field(text: &str, name: &str, value: &str) -> String {
    let mut envelope = envelope(text);
    envelope[name] = Value::String(value.to_owned());
    envelope.to_string()
}

#[test]
fn a_valid_file_verifies_and_round_trips_through_storage() {
    let now = now_ms();
    let text = test_license(Some("inst-a"), Some(now + 30 * DAY));
    let license = license::verify(&text, "inst-a", now).unwrap();
    assert_eq!(license.kind(), LicenseKind::Signed);
    assert_eq!(license.key_id(), Some(TEST_KEY_ID));
    assert_eq!(license.payload().licensee, "Test Buyer LLC");
    assert_eq!(license.limits().agents, Some(25));
    assert_eq!(license.limits().contacts, None, "null means unlimited");
    assert_eq!(license.state(now), LicenseState::Active { days_left: Some(30) });
    assert!(license.paid_features_enabled(now));

    let stored = license.to_stored();
    assert_eq!(stored, text);
    assert_eq!(License::from_stored(&stored, "inst-a").unwrap(), license);

    // The file as the vendor's tool writes it (trailing newline) and as some editors save it (byte-order mark).
    assert!(license::verify(&format!("\u{feff}{text}\n"), "inst-a", now).is_ok());
    // An unbound license installs anywhere.
    assert!(license::verify(&test_license(None, None), "any-instance", now).is_ok());
}

#[test]
fn a_one_byte_change_anywhere_is_refused() {
    let now = now_ms();
    let text = test_license(Some("inst-a"), None);
    let original = envelope(&text);

    // Every byte of the decoded payload and signature, flipped and re-encoded: the signature no longer matches.
    for field in ["payload", "signature"] {
        let bytes = URL_SAFE_NO_PAD.decode(original[field].as_str().unwrap()).unwrap();
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            let tampered = with_field(&text, field, &URL_SAFE_NO_PAD.encode(&changed));
            assert_eq!(license::verify(&tampered, "inst-a", now), Err(LicenseError::BadSignature), "{field} byte {i}");
        }
    }
    // Every character of the encoded fields: a bad signature, or no longer decodable.
    for field in ["payload", "signature"] {
        let encoded = original[field].as_str().unwrap();
        for i in 0..encoded.len() {
            let mut changed = encoded.as_bytes().to_vec();
            changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
            let tampered = with_field(&text, field, std::str::from_utf8(&changed).unwrap());
            let result = license::verify(&tampered, "inst-a", now);
            assert!(
                matches!(result, Err(LicenseError::BadSignature | LicenseError::Malformed(_))),
                "{field} char {i}: {result:?}"
            );
        }
    }
    // Every byte of the file itself: never accepted.
    for i in 0..text.len() {
        let mut changed = text.as_bytes().to_vec();
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(changed).unwrap();
        assert!(license::verify(&tampered, "inst-a", now).is_err(), "file byte {i} changed and still accepted");
    }
}

#[test]
fn an_expired_license_cannot_be_installed_but_stays_visible_as_lapsed() {
    let now = now_ms();
    let expired_at = now - 30 * DAY;
    let text = test_license(Some("inst-a"), Some(expired_at));
    let refused = license::verify(&text, "inst-a", now).unwrap_err();
    assert_eq!(refused, LicenseError::Expired { expired_at });
    assert_eq!(refused.msg().key, "license.error.expired");

    let stored = License::from_stored(&text, "inst-a").unwrap();
    assert_eq!(stored.state(now), LicenseState::Lapsed);
    assert!(!stored.paid_features_enabled(now));
    assert_eq!(stored.status_msg(now).key, "license.state.lapsed");

    // Expired yesterday: still in grace when read back from storage.
    let yesterday = test_license(Some("inst-a"), Some(now - DAY));
    assert!(matches!(license::verify(&yesterday, "inst-a", now), Err(LicenseError::Expired { .. })));
    let in_grace = License::from_stored(&yesterday, "inst-a").unwrap();
    assert_eq!(in_grace.state(now), LicenseState::Grace { days_left: 13 });
    assert!(in_grace.paid_features_enabled(now));
}

#[test]
fn a_license_for_another_instance_is_refused() {
    let now = now_ms();
    let text = test_license(Some("inst-a"), None);
    let expected = LicenseError::OtherInstance { licensed: "inst-a".into() };
    assert_eq!(license::verify(&text, "inst-b", now), Err(expected.clone()));
    assert_eq!(License::from_stored(&text, "inst-b"), Err(expected.clone()));
    assert_eq!(expected.msg().key, "license.error.other_instance");
}

#[test]
fn unknown_keys_and_foreign_signers_are_refused() {
    let now = now_ms();
    let payload = test_payload(None, None);
    let unknown = license::sign(&payload, "prod-1999", &test_seed());
    assert_eq!(license::verify(&unknown, "inst-a", now), Err(LicenseError::UnknownKey { key_id: "prod-1999".into() }));
    // Someone else's key, claiming to be the trusted one.
    let forged = license::sign(&payload, TEST_KEY_ID, &[42; 32]);
    assert_eq!(license::verify(&forged, "inst-a", now), Err(LicenseError::BadSignature));
    assert_eq!(
        LicenseError::BadSignature.msg().render(conversure::i18n::Lang::En),
        "The license file was changed after it was issued; download it again from your account."
    );
}

#[test]
fn evaluation_lasts_fourteen_days_with_trial_limits() {
    let now = now_ms();
    let eval = License::evaluation("inst-a", now);
    assert_eq!(eval.kind(), LicenseKind::Evaluation);
    let limits = eval.limits();
    assert_eq!(
        (limits.workspaces, limits.agents, limits.numbers, limits.contacts, limits.messages_per_month),
        (Some(1), Some(3), Some(1), Some(1000), Some(2000))
    );
    assert!(license::FEATURES.iter().all(|f| eval.has_feature(f, now)));
    assert_eq!(eval.state(now), LicenseState::Active { days_left: Some(14) });
    assert_eq!(eval.state(now + 10 * DAY), LicenseState::Active { days_left: Some(4) });
    assert_eq!(eval.state(now + 14 * DAY), LicenseState::Lapsed, "an evaluation has no grace");

    let stored = eval.to_stored();
    let back = License::from_stored(&stored, "inst-a").unwrap();
    assert_eq!(back, eval);
    assert_eq!(back.state(now + DAY), LicenseState::Active { days_left: Some(13) });
}

#[test]
fn paid_licenses_get_fourteen_days_of_grace() {
    let now = now_ms();
    let end = now + 2 * DAY;
    let license = license::verify(&test_license(Some("inst-a"), Some(end)), "inst-a", now).unwrap();
    assert_eq!(license.state(now), LicenseState::Active { days_left: Some(2) });
    assert_eq!(license.state(end - 1), LicenseState::Active { days_left: Some(1) });
    assert_eq!(license.state(end), LicenseState::Grace { days_left: 14 });
    assert_eq!(license.state(end + 7 * DAY), LicenseState::Grace { days_left: 7 });
    assert_eq!(license.state(end + 14 * DAY - 1), LicenseState::Grace { days_left: 1 });
    assert!(license.paid_features_enabled(end + 14 * DAY - 1));
    assert_eq!(license.state(end + 14 * DAY), LicenseState::Lapsed);
    assert!(!license.paid_features_enabled(end + 14 * DAY));
    assert!(!license.has_feature("sending", end + 14 * DAY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_returns_a_license_bound_to_this_instance() {
    let server = MockLicenseServer::start(&["CODE-1234-ABCD"]).await;
    let (license, text) =
        license::activate(&server.url, "  CODE-1234-ABCD\n", "inst-a", "https://crm.example.test").await.unwrap();
    assert_eq!(license.kind(), LicenseKind::Signed);
    assert_eq!(license.payload().instance_id.as_deref(), Some("inst-a"));
    assert_eq!(license.payload().plan, "regular");
    assert_eq!(License::from_stored(&text, "inst-a").unwrap(), license);
    assert_eq!(license.to_stored(), text);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["purchase_code"], "CODE-1234-ABCD", "the code is sent trimmed");
    assert_eq!(requests[0]["instance_id"], "inst-a");
    assert_eq!(requests[0]["site_url"], "https://crm.example.test");
    assert_eq!(requests[0]["product"], "conversure");
    assert_eq!(requests[0]["version"], env!("CARGO_PKG_VERSION"));

    // Activating again on the same instance (a reinstall) gets the same license again.
    let (again, _) =
        license::activate(&server.url, "CODE-1234-ABCD", "inst-a", "https://crm.example.test").await.unwrap();
    assert_eq!(again.payload().license_id, license.payload().license_id);

    // During installation the public URL may not be known yet.
    let server = MockLicenseServer::start(&["CODE-5678-EFGH"]).await;
    assert!(license::activate(&server.url, "CODE-5678-EFGH", "inst-b", "").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_code_is_refused_by_the_server() {
    let server = MockLicenseServer::start(&["CODE-1234-ABCD"]).await;
    let error =
        license::activate(&server.url, "CODE-9999-ZZZZ", "inst-a", "https://crm.example.test").await.unwrap_err();
    assert!(
        matches!(&error, LicenseError::ActivationRefused { code, message } if code == "unknown_code" && !message.is_empty()),
        "{error:?}"
    );
    assert_eq!(error.msg().key, "license.error.code_unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_activated_elsewhere_is_refused() {
    let server = MockLicenseServer::start(&["CODE-1234-ABCD"]).await;
    license::activate(&server.url, "CODE-1234-ABCD", "inst-a", "https://a.example.test").await.unwrap();
    let error = license::activate(&server.url, "CODE-1234-ABCD", "inst-b", "https://b.example.test").await.unwrap_err();
    assert!(matches!(&error, LicenseError::ActivationRefused { code, .. } if code == "already_activated"), "{error:?}");
    assert_eq!(error.msg().key, "license.error.code_in_use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_trouble_is_reported_as_such() {
    let server = MockLicenseServer::start(&["CODE-1234-ABCD"]).await;
    server.fail_next_with(503);
    let error =
        license::activate(&server.url, "CODE-1234-ABCD", "inst-a", "https://crm.example.test").await.unwrap_err();
    assert_eq!(error, LicenseError::ServerError(503));
    // A 4xx without the refusal shape (a wrong URL behind a proxy) is a server problem, not a refusal.
    server.fail_next_with(404);
    let error =
        license::activate(&server.url, "CODE-1234-ABCD", "inst-a", "https://crm.example.test").await.unwrap_err();
    assert_eq!(error, LicenseError::ServerError(404));
    // And the next attempt works.
    assert!(license::activate(&server.url, "CODE-1234-ABCD", "inst-a", "https://crm.example.test").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_reported() {
    let port = crate::helpers::free_port();
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let error = license::activate(&url, "CODE-1234-ABCD", "inst-a", "https://crm.example.test").await.unwrap_err();
    assert!(matches!(error, LicenseError::ServerUnreachable(_)), "{error:?}");
    assert_eq!(error.msg().key, "license.error.unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_the_wrong_shape_is_never_sent() {
    let server = MockLicenseServer::start(&["CODE-1234-ABCD"]).await;
    for bad in ["", "short", "CODE 1234 ABCD", "CODE-1234-ABCD;drop", &"A".repeat(65)] {
        let error = license::activate(&server.url, bad, "inst-a", "https://crm.example.test").await.unwrap_err();
        assert_eq!(error, LicenseError::InvalidPurchaseCode, "{bad:?}");
    }
    assert!(server.requests().is_empty(), "no request was sent");
}

// The vendor tool.

fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conversure-license")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_vendor_tool_creates_keys_signs_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    let keygen = tool(&["keygen", "--out", &path("new.key"), "--key-id", "prod-2031"]);
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let printed = text(&keygen.stdout);
    assert!(printed.contains("(\"prod-2031\", public_key_from_hex(\""), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path("new.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = tool(&["keygen", "--out", &path("new.key")]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    // Signed with the test key, which this (test) build trusts.
    std::fs::write(path("test.key"), format!("{TEST_SEED_HEX}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path("test.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let signed = tool(&[
        "sign",
        "--key",
        &path("test.key"),
        "--key-id",
        TEST_KEY_ID,
        "--licensee",
        "Acme Ltd",
        "--plan",
        "business",
        "--email",
        "owner@acme.test",
        "--expires",
        "2099-12-31",
        "--instance-id",
        "inst-a",
        "--limit-agents",
        "10",
        "--feature",
        "sending",
        "--out",
        &path("acme.license"),
    ]);
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let file = std::fs::read_to_string(path("acme.license")).unwrap();
    let license = license::verify(&file, "inst-a", now_ms()).unwrap();
    assert_eq!(license.payload().licensee, "Acme Ltd");
    assert_eq!(license.limits().agents, Some(10));
    assert_eq!(license.payload().features, ["sending"]);
    assert_eq!(license::format_date(license.payload().expires_at.unwrap() - 1), "2099-12-31", "valid through the day");

    let verified = tool(&["verify", &path("acme.license"), "--instance-id", "inst-a"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    let out = text(&verified.stdout);
    assert!(out.contains("trusted by this build") && out.contains("signature: valid"), "{out}");
    let elsewhere = tool(&["verify", &path("acme.license"), "--instance-id", "inst-b"]);
    assert!(!elsewhere.status.success());
    assert!(text(&elsewhere.stdout).contains("bound to the installation inst-a"), "{}", text(&elsewhere.stdout));

    // The new key is not in this build: its licenses are signed (with a warning) and reported as untrusted.
    let untrusted = tool(&[
        "sign",
        "--key",
        &path("new.key"),
        "--key-id",
        "prod-2031",
        "--licensee",
        "Acme",
        "--plan",
        "business",
        "--out",
        &path("untrusted.license"),
    ]);
    assert!(untrusted.status.success(), "{}", text(&untrusted.stderr));
    assert!(text(&untrusted.stderr).contains("does not trust"));
    let checked = tool(&["verify", &path("untrusted.license")]);
    assert!(!checked.status.success());
    assert!(text(&checked.stdout).contains("NOT trusted by this build"), "{}", text(&checked.stdout));
}

#[test]
fn the_vendor_tool_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(path("test.key"), TEST_SEED_HEX).unwrap();
    std::fs::write(path("bad.key"), "not hex at all").unwrap();
    let sign = |key: &str, extra: &[&str]| {
        let mut args = vec!["sign", "--key", key, "--key-id", TEST_KEY_ID, "--licensee", "Acme", "--plan", "pro"];
        args.extend_from_slice(extra);
        tool(&args)
    };
    let out = path("x.license");
    for (output, expected) in [
        (sign(&path("test.key"), &["--expires", "2020-01-01", "--out", &out]), "in the past"),
        (sign(&path("test.key"), &["--expires", "31/12/2099", "--out", &out]), "not a date"),
        (sign(&path("test.key"), &["--feature", "teleport", "--out", &out]), "unknown feature"),
        (sign(&path("test.key"), &["--email", "nobody", "--out", &out]), "not an email"),
        (sign(&path("bad.key"), &["--out", &out]), "does not hold a hex key"),
        (sign(&path("missing.key"), &["--out", &out]), "cannot read the key"),
        (sign(&path("test.key"), &["--out", &path("test.key")]), "already exists"),
        (tool(&["verify", &path("bad.key")]), "not a valid Conversure license file"),
    ] {
        assert!(!output.status.success());
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "expected {expected:?} in {stderr:?}");
        assert_eq!(stderr.trim_end().lines().filter(|l| !l.contains("warning")).count(), 1, "{stderr:?}");
    }
    assert!(!std::path::Path::new(&out).exists(), "nothing was written");
}
