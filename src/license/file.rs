//! The license file format `conversure-license-v1`: signing (vendor side) and offline verification (this build).
//!
//! A file is a small JSON envelope around the payload bytes and an Ed25519 signature over exactly those bytes, both
//! base64url without padding. Signing raw bytes means nothing has to be canonicalised: whatever the vendor's tool
//! serialised is what gets checked, byte for byte. The signature is checked before the payload is even parsed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys::{self, TrustedKey};
use super::{License, LicenseError, PRODUCT, Payload, Source};

/// The `format` of every file this build reads and writes.
pub const FORMAT: &str = "conversure-license-v1";

/// Larger files are refused before parsing (a real license is well under 2 KiB).
const MAX_FILE_BYTES: usize = 64 * 1024;

/// The envelope, as written to the file.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    format: String,
    key_id: String,
    payload: String,
    signature: String,
}

/// A license file read without checking its signature: only for showing what a file claims (the vendor tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub key_id: String,
    pub payload: Payload,
}

/// The file text of `payload` signed with the Ed25519 private key `seed` under the id `key_id`.
pub fn sign(payload: &Payload, key_id: &str, seed: &[u8; 32]) -> String {
    // A struct of strings, integers and options always serialises; an empty payload would fail every verification.
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    let signature = SigningKey::from_bytes(seed).sign(&bytes);
    let envelope = Envelope {
        format: FORMAT.to_owned(),
        key_id: key_id.to_owned(),
        payload: URL_SAFE_NO_PAD.encode(&bytes),
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    };
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// Checks a license file before installing it: trusted key, signature, product, instance binding, not expired.
pub fn verify(text: &str, instance_id: &str, now_ms: i64) -> Result<License, LicenseError> {
    check(text, keys::trusted(), Some(instance_id), Some(now_ms))
}

/// Re-checks a license file kept in the settings, at start-up: like [`verify`], but an expired license is accepted
/// (it then shows as lapsed instead of disappearing).
pub fn verify_stored(text: &str, instance_id: &str) -> Result<License, LicenseError> {
    check(text, keys::trusted(), Some(instance_id), None)
}

/// Checks key, signature and product only, whatever the instance and the date (for the vendor tool).
pub fn verify_signature(text: &str) -> Result<License, LicenseError> {
    check(text, keys::trusted(), None, None)
}

/// Reads what a file claims without checking the signature. Never base a decision on the result.
pub fn read_unverified(text: &str) -> Result<Unverified, LicenseError> {
    let envelope = envelope(clean(text))?;
    let payload = payload(&decode(&envelope.payload, "payload")?)?;
    Ok(Unverified { key_id: envelope.key_id, payload })
}

/// The checks, against any list of keys; `None` skips the instance binding or the expiry check.
pub(super) fn check<'k>(
    text: &str,
    keys: impl Iterator<Item = &'k TrustedKey>,
    instance_id: Option<&str>,
    now_ms: Option<i64>,
) -> Result<License, LicenseError> {
    let text = clean(text);
    let envelope = envelope(text)?;
    let bytes = decode(&envelope.payload, "payload")?;
    let signature: [u8; 64] = decode(&envelope.signature, "signature")?
        .try_into()
        .map_err(|_| LicenseError::Malformed("the signature is not 64 bytes long".into()))?;

    let mut keys = keys.peekable();
    if keys.peek().is_none() {
        return Err(LicenseError::NoProductionKeys);
    }
    let (_, public) = keys
        .find(|(id, _)| *id == envelope.key_id)
        .ok_or_else(|| LicenseError::UnknownKey { key_id: envelope.key_id.clone() })?;
    let public =
        VerifyingKey::from_bytes(public).map_err(|_| LicenseError::UnknownKey { key_id: envelope.key_id.clone() })?;
    // Strict verification also refuses malleable signatures and weak keys.
    public.verify_strict(&bytes, &Signature::from_bytes(&signature)).map_err(|_| LicenseError::BadSignature)?;

    let payload = payload(&bytes)?;
    if payload.product != PRODUCT {
        return Err(LicenseError::WrongProduct { product: payload.product });
    }
    if let (Some(expected), Some(licensed)) = (instance_id, payload.instance_id.as_deref())
        && licensed != expected
    {
        return Err(LicenseError::OtherInstance { licensed: licensed.to_owned() });
    }
    if let (Some(now), Some(expires_at)) = (now_ms, payload.expires_at)
        && expires_at <= now
    {
        return Err(LicenseError::Expired { expired_at: expires_at });
    }
    Ok(License { payload, source: Source::File { text: text.to_owned(), key_id: envelope.key_id } })
}

/// The file without surrounding whitespace or a byte-order mark (some editors add one); otherwise exactly as issued.
fn clean(text: &str) -> &str {
    text.trim_start_matches('\u{feff}').trim()
}

fn envelope(text: &str) -> Result<Envelope, LicenseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(LicenseError::Malformed(format!("the file is larger than {MAX_FILE_BYTES} bytes")));
    }
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| LicenseError::Malformed(format!("not a license file: {e}")))?;
    if envelope.format != FORMAT {
        return Err(LicenseError::Malformed(format!(
            "unsupported format {:?} (this build reads {FORMAT})",
            envelope.format
        )));
    }
    Ok(envelope)
}

fn decode(text: &str, what: &str) -> Result<Vec<u8>, LicenseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| LicenseError::Malformed(format!("the {what} is not base64url: {e}")))
}

fn payload(bytes: &[u8]) -> Result<Payload, LicenseError> {
    serde_json::from_slice(bytes).map_err(|e| LicenseError::Malformed(format!("the payload does not parse: {e}")))
}
