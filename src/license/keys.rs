//! The Ed25519 public keys this build trusts to sign license files, compiled in.
//!
//! The production list is empty until the vendor adds its key (the procedure is in `docs/LICENSING.md`: run
//! `conversure-license keygen`, paste the line it prints into [`PRODUCTION`]). A build without any trusted key refuses
//! every license file with [`LicenseError::NoProductionKeys`](super::LicenseError::NoProductionKeys); evaluation mode
//! still works. The test key exists only with the `test-keys` cargo feature, which only the test suite turns on.

/// A trusted key: its id (the `key_id` of a license file) and the 32-byte Ed25519 public key.
pub type TrustedKey = (&'static str, [u8; 32]);

/// The vendor's production keys. Keep retired keys here as long as licenses signed with them must keep working;
/// remove a key only to revoke everything it ever signed.
pub const PRODUCTION: &[TrustedKey] = &[];

/// The key the test suite signs with (its private seed lives only in `tests/it/license_server.rs`).
#[cfg(feature = "test-keys")]
pub const TEST: &[TrustedKey] =
    &[("test-2026", public_key_from_hex("bb9bdf3c54b6b82b686e587f131d9bc982ade846a469ce0f70cbfa9e06eb2eb6"))];

/// No test key: this is a release build.
#[cfg(not(feature = "test-keys"))]
pub const TEST: &[TrustedKey] = &[];

/// Every key this build trusts, production keys first.
pub fn trusted() -> impl Iterator<Item = &'static TrustedKey> {
    PRODUCTION.iter().chain(TEST.iter())
}

/// The public key trusted under `key_id`, if any.
pub fn trusted_key(key_id: &str) -> Option<[u8; 32]> {
    trusted().find(|(id, _)| *id == key_id).map(|(_, key)| *key)
}

/// Decodes 64 hex digits at compile time, so a mistyped key in the lists above fails the build instead of a license.
pub const fn public_key_from_hex(text: &str) -> [u8; 32] {
    let digits = text.as_bytes();
    assert!(digits.len() == 64, "an Ed25519 public key is 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(digits[2 * i]) << 4) | nibble(digits[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => panic!("a public key holds only hex digits"),
    }
}
