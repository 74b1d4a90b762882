//! Unit tests of the license rules: verification against ad-hoc keys, states over time, storage, error messages.

use ed25519_dalek::SigningKey;

use super::file::check;
use super::keys::TrustedKey;
use super::*;

const NOW: i64 = 1_780_000_000_000;
const SEED: [u8; 32] = [7; 32];

fn key(id: &'static str) -> TrustedKey {
    (id, SigningKey::from_bytes(&SEED).verifying_key().to_bytes())
}

fn payload() -> Payload {
    Payload {
        license_id: "lic-1".into(),
        product: PRODUCT.into(),
        licensee: "Acme Ltd".into(),
        email: Some("owner@acme.test".into()),
        plan: "business".into(),
        issued_at: NOW - DAY_MS,
        expires_at: Some(NOW + 30 * DAY_MS),
        instance_id: Some("inst-1".into()),
        limits: Limits { agents: Some(10), ..Limits::default() },
        features: vec![ALL_FEATURES.into()],
    }
}

#[test]
fn a_signed_file_verifies_against_its_key_only() {
    let text = sign(&payload(), "k1", &SEED);
    let keys = [key("k1")];
    let license = check(&text, keys.iter(), Some("inst-1"), Some(NOW)).unwrap();
    assert_eq!(license.kind(), LicenseKind::Signed);
    assert_eq!(license.key_id(), Some("k1"));
    assert_eq!(license.payload(), &payload());
    assert_eq!(license.to_stored(), text);

    let other = [("k1", SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes())];
    assert_eq!(check(&text, other.iter(), None, None), Err(LicenseError::BadSignature));
    let renamed = [key("k2")];
    assert_eq!(check(&text, renamed.iter(), None, None), Err(LicenseError::UnknownKey { key_id: "k1".into() }));
    assert_eq!(check(&text, [].iter(), None, None), Err(LicenseError::NoProductionKeys));
}

#[test]
fn binding_product_and_expiry_are_checked() {
    let keys = [key("k1")];
    let text = sign(&payload(), "k1", &SEED);
    assert_eq!(
        check(&text, keys.iter(), Some("inst-2"), Some(NOW)),
        Err(LicenseError::OtherInstance { licensed: "inst-1".into() })
    );
    let expires_at = NOW + 30 * DAY_MS;
    assert_eq!(
        check(&text, keys.iter(), Some("inst-1"), Some(expires_at)),
        Err(LicenseError::Expired { expired_at: expires_at })
    );
    assert!(check(&text, keys.iter(), Some("inst-1"), None).is_ok(), "stored licenses are not refused for their date");

    let unbound = sign(&Payload { instance_id: None, ..payload() }, "k1", &SEED);
    assert!(check(&unbound, keys.iter(), Some("anything"), Some(NOW)).is_ok());
    let other_product = sign(&Payload { product: "other".into(), ..payload() }, "k1", &SEED);
    assert_eq!(
        check(&other_product, keys.iter(), None, None),
        Err(LicenseError::WrongProduct { product: "other".into() })
    );
}

#[test]
fn damaged_files_are_malformed() {
    let keys = [key("k1")];
    for text in [
        "",
        "{}",
        "not json",
        "{\"format\":\"conversure-license-v2\",\"key_id\":\"k1\",\"payload\":\"\",\"signature\":\"\"}",
    ] {
        assert!(matches!(check(text, keys.iter(), None, None), Err(LicenseError::Malformed(_))), "{text:?}");
    }
    let text = sign(&payload(), "k1", &SEED);
    let padded = text.replacen("\"signature\":\"", "\"signature\":\"AAAA", 1);
    assert!(matches!(check(&padded, keys.iter(), None, None), Err(LicenseError::Malformed(_))));
    let with_bom = format!("\u{feff}{text}\n");
    assert!(check(&with_bom, keys.iter(), None, None).is_ok());
}

#[test]
fn evaluation_runs_fourteen_days_without_grace() {
    let eval = License::evaluation("inst-1", NOW);
    assert_eq!(eval.kind(), LicenseKind::Evaluation);
    assert_eq!(eval.limits(), &EVALUATION_LIMITS);
    assert_eq!(eval.key_id(), None);
    assert_eq!(eval.state(NOW), LicenseState::Active { days_left: Some(14) });
    assert_eq!(eval.state(NOW + 1), LicenseState::Active { days_left: Some(14) });
    assert_eq!(eval.state(NOW + DAY_MS), LicenseState::Active { days_left: Some(13) });
    assert_eq!(eval.state(NOW + 14 * DAY_MS - 1), LicenseState::Active { days_left: Some(1) });
    assert_eq!(eval.state(NOW + 14 * DAY_MS), LicenseState::Lapsed);
    assert!(eval.has_feature("campaigns", NOW));
    assert!(!eval.paid_features_enabled(NOW + 14 * DAY_MS));
    assert!(!eval.has_feature("campaigns", NOW + 14 * DAY_MS));
}

#[test]
fn paid_licenses_get_grace_then_lapse() {
    let keys = [key("k1")];
    let license = check(&sign(&payload(), "k1", &SEED), keys.iter(), None, None).unwrap();
    let end = NOW + 30 * DAY_MS;
    assert_eq!(license.state(end - 1), LicenseState::Active { days_left: Some(1) });
    assert_eq!(license.state(end), LicenseState::Grace { days_left: 14 });
    assert_eq!(license.state(end + 13 * DAY_MS + 1), LicenseState::Grace { days_left: 1 });
    assert!(license.paid_features_enabled(end + 14 * DAY_MS - 1));
    assert_eq!(license.state(end + 14 * DAY_MS), LicenseState::Lapsed);
    assert!(!license.paid_features_enabled(end + 14 * DAY_MS));

    let perpetual = check(&sign(&Payload { expires_at: None, ..payload() }, "k1", &SEED), keys.iter(), None, None);
    assert_eq!(perpetual.unwrap().state(i64::MAX), LicenseState::Active { days_left: None });
}

#[test]
fn features_are_granted_by_name_or_wildcard() {
    let keys = [key("k1")];
    let named = Payload { features: vec!["sending".into()], expires_at: None, ..payload() };
    let license = check(&sign(&named, "k1", &SEED), keys.iter(), None, None).unwrap();
    assert!(license.has_feature("sending", NOW));
    assert!(!license.has_feature("campaigns", NOW));
}

#[test]
fn evaluation_round_trips_through_storage() {
    let eval = License::evaluation("inst-1", NOW);
    let stored = eval.to_stored();
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value, serde_json::json!({"kind": "evaluation", "instance_id": "inst-1", "started_at": NOW}));
    assert_eq!(License::from_stored(&stored, "inst-1").unwrap(), eval);
    assert_eq!(License::from_stored(&stored, "inst-2"), Err(LicenseError::OtherInstance { licensed: "inst-1".into() }));
    let odd = r#"{"kind":"gift","instance_id":"inst-1","started_at":1}"#;
    assert!(matches!(License::from_stored(odd, "inst-1"), Err(LicenseError::Malformed(_))));
    assert!(matches!(License::from_stored("garbage", "inst-1"), Err(LicenseError::Malformed(_))));
}

#[test]
fn purchase_codes_are_checked_for_shape() {
    assert_eq!(check_purchase_code("  ABCD-1234-efgh \n"), Ok("ABCD-1234-efgh"));
    for bad in ["", "short", "has space inside", "ünïcödé-code", "semi;colon1", &"x".repeat(65)] {
        assert_eq!(check_purchase_code(bad), Err(LicenseError::InvalidPurchaseCode), "{bad:?}");
    }
    assert!(check_purchase_code(&"x".repeat(64)).is_ok());
    assert!(check_purchase_code("12345678").is_ok());
}

#[test]
fn every_error_has_a_message_that_renders() {
    use crate::i18n::Lang;
    let errors = [
        LicenseError::Malformed("x".into()),
        LicenseError::UnknownKey { key_id: "k9".into() },
        LicenseError::NoProductionKeys,
        LicenseError::BadSignature,
        LicenseError::WrongProduct { product: "other".into() },
        LicenseError::OtherInstance { licensed: "i".into() },
        LicenseError::Expired { expired_at: NOW },
        LicenseError::InvalidPurchaseCode,
        LicenseError::ActivationRefused { code: "unknown_code".into(), message: "m".into() },
        LicenseError::ActivationRefused { code: "already_activated".into(), message: "m".into() },
        LicenseError::ActivationRefused { code: "refunded".into(), message: "Refunded purchase".into() },
        LicenseError::ServerUnreachable("refused".into()),
        LicenseError::ServerError(502),
    ];
    for error in errors {
        let msg = error.msg();
        for lang in Lang::ALL {
            let text = msg.render(lang);
            assert_ne!(text, msg.key, "{} has no {} text", msg.key, lang.code());
            assert!(!text.contains('{'), "{} leaves a placeholder: {text}", msg.key);
        }
    }
    assert!(LicenseError::Expired { expired_at: NOW }.to_string().contains("2026-05-28"));
    assert!(LicenseError::Expired { expired_at: NOW }.msg().render(Lang::En).contains("2026-05-28"));
    assert!(
        LicenseError::ActivationRefused { code: "refunded".into(), message: "Refunded purchase".into() }
            .msg()
            .render(Lang::En)
            .contains("Refunded purchase")
    );
}

#[test]
fn status_messages_follow_the_state() {
    use crate::i18n::Lang;
    let eval = License::evaluation("inst-1", NOW);
    assert_eq!(
        eval.status_msg(NOW).render(Lang::En),
        "Evaluation mode: 14 days left. Paid features stop when it ends; your data stays."
    );
    assert_eq!(eval.status_msg(NOW + 15 * DAY_MS).key, "license.state.evaluation_ended");
    let keys = [key("k1")];
    let license = check(&sign(&payload(), "k1", &SEED), keys.iter(), None, None).unwrap();
    assert_eq!(license.status_msg(NOW).key, "license.state.active_until");
    assert_eq!(license.status_msg(NOW + 31 * DAY_MS).render(Lang::En).split(':').next(), Some("Expired"));
    assert_eq!(license.status_msg(NOW + 60 * DAY_MS).key, "license.state.lapsed");
    assert_eq!(license.summary_msg().render(Lang::En), "Licensed to Acme Ltd, business plan");
}

#[test]
fn trusted_keys_are_valid_and_unique() {
    let ids: Vec<&str> = keys::trusted().map(|(id, _)| *id).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "key ids are unique");
    for (id, public) in keys::trusted() {
        assert!(ed25519_dalek::VerifyingKey::from_bytes(public).is_ok(), "{id} is a valid Ed25519 public key");
    }
    let key = keys::public_key_from_hex("00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100");
    assert_eq!(key[..4], [0x00, 0x11, 0x22, 0x33]);
    assert_eq!(key[16..18], [0xff, 0xee]);
}
