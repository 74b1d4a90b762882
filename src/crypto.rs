//! The instance's data-encryption key, and authenticated encryption (AES-256-GCM) of secrets stored in the database.
//!
//! A sealed value is `version (1) || nonce (12 random bytes) || ciphertext || tag (16)`. Every seal takes an
//! *associated data* label naming what the value is for (`b"smtp.password"`): the label is authenticated but not
//! stored, so a ciphertext copied into another setting does not decrypt there.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use zeroize::{Zeroize, Zeroizing};

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;
/// The format version written as the first byte of every sealed value.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Shortest possible sealed value: version, nonce and tag around an empty plaintext.
const MIN_SEALED_LEN: usize = 1 + NONCE_LEN + TAG_LEN;

/// Why a key could not be loaded or a value could not be opened. Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the data key is not valid base64: {0}")]
    KeyEncoding(String),
    #[error("the data key must be {KEY_LEN} bytes, this one is {0} bytes")]
    KeyLength(usize),
    #[error("the encrypted value is not valid base64")]
    Encoding,
    #[error("the encrypted value is too short ({0} bytes) to be a sealed value")]
    Truncated(usize),
    #[error("the encrypted value has format version {0}, which this version of Conversure does not know")]
    UnknownVersion(u8),
    #[error("the encrypted value does not open with this key and purpose (wrong key, wrong purpose, or tampered)")]
    Decrypt,
    #[error("the decrypted value is not UTF-8 text")]
    NotText,
}

/// The instance's 256-bit data-encryption key. The bytes are wiped from memory on drop, and `Debug` never shows them.
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// A new random key from the operating system's CSPRNG (through `rand`'s thread-local generator).
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Loads a key from standard base64 (surrounding whitespace, such as a file's final newline, is ignored).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(BASE64.decode(text.trim()).map_err(|e| CryptoError::KeyEncoding(e.to_string()))?);
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| CryptoError::KeyLength(decoded.len()))?;
        Ok(Self(bytes))
    }

    /// The key as standard base64 (44 characters), wiped from memory when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.0))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// Encrypts and authenticates `plaintext` for the purpose named by `aad`, with a fresh random nonce.
    ///
    /// # Panics
    ///
    /// Only when `plaintext` exceeds AES-GCM's limit of 64 GiB, which no stored secret comes near.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = match self.cipher().encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad }) {
            Ok(ciphertext) => ciphertext,
            // aes-gcm fails only on inputs longer than 2^36 bytes.
            Err(_) => panic!("AES-GCM refused a {} byte plaintext (limit 64 GiB)", plaintext.len()),
        };
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value made by [`DataKey::seal`] with the same key and `aad`. Any other key or purpose, and any
    /// truncated or altered input, is an error.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < MIN_SEALED_LEN {
            return Err(CryptoError::Truncated(sealed.len()));
        }
        let (version, rest) = sealed.split_at(1);
        if version[0] != VERSION {
            return Err(CryptoError::UnknownVersion(version[0]));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated(sealed.len()))?;
        self.cipher().decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad }).map_err(|_| CryptoError::Decrypt)
    }

    /// [`DataKey::seal`] for text, as standard base64 to store in a TEXT column.
    pub fn seal_str(&self, plaintext: &str, aad: &[u8]) -> String {
        BASE64.encode(self.seal(plaintext.as_bytes(), aad))
    }

    /// Opens a value made by [`DataKey::seal_str`].
    pub fn open_str(&self, sealed: &str, aad: &[u8]) -> Result<String, CryptoError> {
        let sealed = BASE64.decode(sealed.trim()).map_err(|_| CryptoError::Encoding)?;
        let plaintext = self.open(&sealed, aad)?;
        String::from_utf8(plaintext).map_err(|e| {
            e.into_bytes().zeroize();
            CryptoError::NotText
        })
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Compares two secrets (tokens, codes) in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"smtp.password";

    #[test]
    fn round_trip() {
        let key = DataKey::generate();
        let sealed = key.seal(b"hunter2", AAD);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(sealed.len(), MIN_SEALED_LEN + 7);
        assert_eq!(key.open(&sealed, AAD).unwrap(), b"hunter2");
        assert_eq!(key.open(&key.seal(b"", AAD), AAD).unwrap(), b"");

        let text = key.seal_str("pässwörd", AAD);
        assert!(!text.contains("pässwörd"));
        assert_eq!(key.open_str(&text, AAD).unwrap(), "pässwörd");
    }

    #[test]
    fn nonces_are_fresh() {
        let key = DataKey::generate();
        assert_ne!(key.seal(b"same", AAD), key.seal(b"same", AAD));
    }

    #[test]
    fn tampering_is_detected() {
        let key = DataKey::generate();
        let sealed = key.seal(b"hunter2", AAD);
        for byte in 1..sealed.len() {
            for bit in 0..8 {
                let mut tampered = sealed.clone();
                tampered[byte] ^= 1 << bit;
                assert_eq!(key.open(&tampered, AAD), Err(CryptoError::Decrypt), "byte {byte} bit {bit}");
            }
        }
        let mut other_version = sealed.clone();
        other_version[0] = 2;
        assert_eq!(key.open(&other_version, AAD), Err(CryptoError::UnknownVersion(2)));
    }

    #[test]
    fn wrong_aad_does_not_open() {
        let key = DataKey::generate();
        let sealed = key.seal(b"hunter2", AAD);
        assert_eq!(key.open(&sealed, b"whatsapp.token"), Err(CryptoError::Decrypt));
        assert_eq!(key.open(&sealed, b""), Err(CryptoError::Decrypt));
    }

    #[test]
    fn wrong_key_does_not_open() {
        let sealed = DataKey::generate().seal_str("hunter2", AAD);
        assert_eq!(DataKey::generate().open_str(&sealed, AAD), Err(CryptoError::Decrypt));
    }

    #[test]
    fn short_or_garbled_input_is_an_error() {
        let key = DataKey::generate();
        let sealed = key.seal(b"hunter2", AAD);
        for len in 0..sealed.len() {
            assert!(key.open(&sealed[..len], AAD).is_err(), "{len} bytes");
        }
        assert_eq!(key.open(&[], AAD), Err(CryptoError::Truncated(0)));
        assert_eq!(key.open_str("not base64!", AAD), Err(CryptoError::Encoding));
        assert_eq!(key.open_str("", AAD), Err(CryptoError::Truncated(0)));
    }

    #[test]
    fn keys_load_from_base64() {
        let key = DataKey::generate();
        let encoded = key.to_base64();
        assert_eq!(encoded.len(), 44);
        let again = DataKey::from_base64(&format!("{}\n", encoded.as_str())).unwrap();
        assert_eq!(again.open(&key.seal(b"x", AAD), AAD).unwrap(), b"x");

        assert!(matches!(DataKey::from_base64("not base64!"), Err(CryptoError::KeyEncoding(_))));
        assert_eq!(DataKey::from_base64(&BASE64.encode([0u8; 16])).unwrap_err(), CryptoError::KeyLength(16));
        assert_eq!(DataKey::from_base64("").unwrap_err(), CryptoError::KeyLength(0));
    }

    #[test]
    fn debug_is_redacted() {
        let key = DataKey::from_base64(&BASE64.encode([7u8; KEY_LEN])).unwrap();
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert!(!format!("{:?}", CryptoError::KeyLength(3)).contains("BwcH"));
    }
}
