//! The release manifest: its format, validation, the exact bytes each asset's signature covers, signing (for the
//! `conversure-release` tool and the tests) and verification against the release keys compiled in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys;

/// The manifest format this build reads.
pub const FORMAT: u32 = 1;

/// The platform this executable was built for, as release assets name it (a Rust target triple), fixed at compile
/// time from the target's architecture and OS, so a binary only accepts its own platform. The release script
/// builds the `-unknown-linux-gnu` triples below; any other build names itself `unsupported` and matches no asset.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
#[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_os = "linux")))]
pub const TARGET: &str = "unsupported";

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub published_at: String,
    #[serde(default)]
    pub notes: String,
    pub assets: Vec<Asset>,
}

/// The archive of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub target: String,
    pub url: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the archive file.
    pub sha256: String,
    pub key_id: String,
    /// Base64 Ed25519 signature over [`signed_message`].
    pub signature: String,
}

/// Why a manifest or an asset is refused; the text is shown to the owner as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the release manifest is not valid JSON: {0}")]
    Json(String),
    #[error("the release manifest has format {0}; this version reads format {FORMAT}")]
    Format(u32),
    #[error("the release manifest's version {0:?} is not a version number")]
    Version(String),
    #[error("the release has no archive for this platform ({TARGET})")]
    NoAsset,
    #[error("the release archive's checksum is not 64 hex digits")]
    BadChecksumField,
    #[error("the release archive's signature is not valid base64 Ed25519")]
    BadSignatureField,
    #[error("the release is signed with key {0:?}, which this build does not trust")]
    UnknownKey(String),
    #[error("the release archive's signature is wrong: it was not signed by a trusted release key")]
    BadSignature,
    #[error("the downloaded archive's SHA-256 does not match the manifest")]
    ChecksumMismatch,
    #[error("the downloaded archive is {got} bytes; the manifest says {expected}")]
    SizeMismatch { expected: u64, got: u64 },
}

/// The exact bytes an asset's signature covers: the version, the platform and the archive's checksum, so a valid
/// archive for another platform or version is refused.
pub fn signed_message(version: &str, target: &str, sha256: &str) -> String {
    format!("conversure-release\nversion={version}\ntarget={target}\nsha256={sha256}\n")
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Signs an archive for the manifest (the release tool and the tests use this).
pub fn sign_asset(seed: &[u8; 32], key_id: &str, version: &str, target: &str, url: &str, archive: &[u8]) -> Asset {
    let sha256 = sha256_hex(archive);
    let signature = SigningKey::from_bytes(seed).sign(signed_message(version, target, &sha256).as_bytes());
    Asset {
        target: target.to_owned(),
        url: url.to_owned(),
        size: archive.len() as u64,
        sha256,
        key_id: key_id.to_owned(),
        signature: STANDARD.encode(signature.to_bytes()),
    }
}

/// The public key of a seed, as hex (for the trusted-key lists).
pub fn public_key_hex(seed: &[u8; 32]) -> String {
    hex::encode(SigningKey::from_bytes(seed).verifying_key().to_bytes())
}

impl Manifest {
    /// Parses and validates a manifest's text.
    pub fn parse(text: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Self = serde_json::from_slice(text).map_err(|e| ManifestError::Json(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(ManifestError::Format(manifest.format));
        }
        manifest.semver()?;
        Ok(manifest)
    }

    /// The version as a comparable semantic version.
    pub fn semver(&self) -> Result<semver::Version, ManifestError> {
        semver::Version::parse(&self.version).map_err(|_| ManifestError::Version(self.version.clone()))
    }

    /// The archive for this platform.
    pub fn asset_for_this_platform(&self) -> Result<&Asset, ManifestError> {
        self.assets.iter().find(|a| a.target == TARGET).ok_or(ManifestError::NoAsset)
    }

    /// Whether this release is newer than `running` (equal versions and downgrades are never offered).
    pub fn is_newer_than(&self, running: &str) -> bool {
        match (self.semver(), semver::Version::parse(running)) {
            (Ok(offered), Ok(running)) => offered > running,
            _ => false,
        }
    }
}

/// Checks an asset's signature against the trusted release keys, before anything is downloaded.
pub fn verify_signature(version: &str, asset: &Asset) -> Result<(), ManifestError> {
    if asset.sha256.len() != 64 || !asset.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ManifestError::BadChecksumField);
    }
    let public = keys::trusted_key(&asset.key_id).ok_or_else(|| ManifestError::UnknownKey(asset.key_id.clone()))?;
    let key = VerifyingKey::from_bytes(&public).map_err(|_| ManifestError::UnknownKey(asset.key_id.clone()))?;
    let raw = STANDARD.decode(asset.signature.trim()).map_err(|_| ManifestError::BadSignatureField)?;
    let signature = Signature::from_slice(&raw).map_err(|_| ManifestError::BadSignatureField)?;
    key.verify(signed_message(version, &asset.target, &asset.sha256).as_bytes(), &signature)
        .map_err(|_| ManifestError::BadSignature)
}

/// Checks a downloaded archive against the asset's size and checksum.
pub fn verify_archive(asset: &Asset, archive: &[u8]) -> Result<(), ManifestError> {
    if archive.len() as u64 != asset.size {
        return Err(ManifestError::SizeMismatch { expected: asset.size, got: archive.len() as u64 });
    }
    if sha256_hex(archive) != asset.sha256 {
        return Err(ManifestError::ChecksumMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_seed() -> [u8; 32] {
        hex::decode(keys::TEST_SEED_HEX).unwrap().try_into().unwrap()
    }

    fn manifest(version: &str, asset: Asset) -> Manifest {
        Manifest {
            format: FORMAT,
            version: version.into(),
            published_at: "2026-11-22T10:00:00Z".into(),
            notes: String::new(),
            assets: vec![asset],
        }
    }

    #[test]
    fn the_test_seed_matches_the_trusted_test_key() {
        assert_eq!(keys::trusted_key("release-test").map(hex::encode), Some(public_key_hex(&test_seed())));
    }

    #[test]
    fn a_signed_asset_verifies_and_round_trips() {
        let asset = sign_asset(&test_seed(), "release-test", "0.2.0", TARGET, "http://x/a", b"archive");
        let text = serde_json::to_vec(&manifest("0.2.0", asset)).unwrap();
        let parsed = Manifest::parse(&text).unwrap();
        let asset = parsed.asset_for_this_platform().unwrap();
        verify_signature(&parsed.version, asset).unwrap();
        verify_archive(asset, b"archive").unwrap();
        assert_eq!(verify_archive(asset, b"archivf"), Err(ManifestError::ChecksumMismatch));
        assert!(matches!(verify_archive(asset, b"short"), Err(ManifestError::SizeMismatch { .. })));
    }

    #[test]
    fn a_signature_for_another_version_or_platform_or_key_is_refused() {
        let asset = sign_asset(&test_seed(), "release-test", "0.2.0", TARGET, "http://x/a", b"archive");
        assert_eq!(verify_signature("0.3.0", &asset), Err(ManifestError::BadSignature));
        let mut other_platform = asset.clone();
        other_platform.target = "riscv64-unknown-linux-gnu".into();
        assert_eq!(verify_signature("0.2.0", &other_platform), Err(ManifestError::BadSignature));
        let stranger = sign_asset(&[7; 32], "release-test", "0.2.0", TARGET, "http://x/a", b"archive");
        assert_eq!(verify_signature("0.2.0", &stranger), Err(ManifestError::BadSignature));
        let mut unknown = asset;
        unknown.key_id = "someone".into();
        assert_eq!(verify_signature("0.2.0", &unknown), Err(ManifestError::UnknownKey("someone".into())));
    }

    #[test]
    fn only_newer_versions_are_offered_and_bad_manifests_are_named() {
        let asset = sign_asset(&test_seed(), "release-test", "0.2.0", TARGET, "http://x/a", b"a");
        let m = manifest("0.2.0", asset.clone());
        assert!(m.is_newer_than("0.1.0"));
        assert!(!m.is_newer_than("0.2.0"));
        assert!(!m.is_newer_than("0.10.0"));
        assert!(matches!(Manifest::parse(b"{"), Err(ManifestError::Json(_))));
        let mut wrong = manifest("two", asset.clone());
        assert_eq!(Manifest::parse(&serde_json::to_vec(&wrong).unwrap()), Err(ManifestError::Version("two".into())));
        wrong.version = "0.2.0".into();
        wrong.format = 9;
        assert_eq!(Manifest::parse(&serde_json::to_vec(&wrong).unwrap()), Err(ManifestError::Format(9)));
        let mut elsewhere = manifest("0.2.0", asset);
        elsewhere.assets[0].target = "aarch64-apple-darwin".into();
        assert_eq!(elsewhere.asset_for_this_platform(), Err(ManifestError::NoAsset));
    }
}
