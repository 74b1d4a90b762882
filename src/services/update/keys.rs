//! The Ed25519 public keys this build trusts to sign release archives, compiled in.
//!
//! The production list is empty until the vendor adds its release key: run `conversure-release keygen`, paste the
//! line it prints into [`PRODUCTION`], and keep the seed file it writes offline. A build without any trusted key
//! offers no one-click update (the preflight says so). The test key exists only with the `test-keys` cargo feature,
//! which only the test suite turns on, so a release signed with it is refused by every shipped binary.

use crate::license::keys::TrustedKey;
#[cfg(feature = "test-keys")]
use crate::license::keys::public_key_from_hex;

/// The vendor's release keys. Keep a retired key as long as releases signed with it must still install.
pub const PRODUCTION: &[TrustedKey] = &[];

/// The key the test suite signs releases with (its seed is [`TEST_SEED_HEX`], known to the tests only).
#[cfg(feature = "test-keys")]
pub const TEST: &[TrustedKey] =
    &[("release-test", public_key_from_hex("cb37ad498b1e18599332234ac474a97b6fb305e88e2f7f48dc7413396ef07876"))];

/// No test key: this is a release build.
#[cfg(not(feature = "test-keys"))]
pub const TEST: &[TrustedKey] = &[];

/// The private seed of the test release key, for the test suite's release server.
#[cfg(feature = "test-keys")]
pub const TEST_SEED_HEX: &str = "ad89590cebc5a6321ab4d613a0a9957103202cd23f3cd9946aab7d22b708a33a";

/// Every release key this build trusts, production keys first.
pub fn trusted() -> impl Iterator<Item = &'static TrustedKey> {
    PRODUCTION.iter().chain(TEST.iter())
}

/// The release key trusted under `key_id`, if any.
pub fn trusted_key(key_id: &str) -> Option<[u8; 32]> {
    trusted().find(|(id, _)| *id == key_id).map(|(_, key)| *key)
}

/// Whether this build can verify any release at all.
pub fn any_trusted() -> bool {
    trusted().next().is_some()
}
