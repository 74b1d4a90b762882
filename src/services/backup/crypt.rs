//! Passphrase encryption of backup archives (argon2id, then AES-256-GCM in the STREAM construction) and sealing of
//! the small secrets a backup carries.
//!
//! An encrypted archive is `CVSBKENC` ‖ version (1) ‖ argon2id memory KiB, iterations, lanes (3 × u32 BE) ‖ salt (16)
//! ‖ nonce prefix (7), then the plaintext in 64 KiB chunks, each sealed with nonce = prefix ‖ chunk counter (u32 BE)
//! ‖ last-chunk flag and the 44-byte header as associated data. Reordered, dropped, truncated or altered chunks and
//! an altered header all fail to authenticate.

use std::io::{self, Read, Write};

use aes_gcm::aead::{Aead, AeadInPlace, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::crypto::DataKey;

/// First bytes of an encrypted archive.
pub const MAGIC: &[u8; 8] = b"CVSBKENC";
const VERSION: u8 = 1;
/// Plaintext bytes per sealed chunk.
const CHUNK_LEN: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;
const NONCE_PREFIX_LEN: usize = 7;
const PARAMS_LEN: usize = 12;
const HEADER_LEN: usize = MAGIC.len() + 1 + PARAMS_LEN + SALT_LEN + NONCE_PREFIX_LEN;
/// Version byte of a passphrase-sealed secret.
const SECRET_VERSION: u8 = 1;
const SECRET_NONCE_LEN: usize = 12;

/// Why encryption or decryption failed. Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("wrong passphrase or damaged archive")]
    WrongPassphrase,
    #[error("the archive is damaged: its encrypted data does not authenticate")]
    Tampered,
    #[error("the archive is damaged: its encrypted data ends early")]
    Truncated,
    #[error("the archive is encrypted with format version {0}, which this version of Conversure cannot read")]
    UnknownVersion(u8),
    #[error("the archive's key-derivation settings are out of range ({0})")]
    BadParams(String),
    #[error("the passphrase must not be empty")]
    EmptyPassphrase,
    #[error("the sealed secret is malformed")]
    MalformedSecret,
    #[error("the secret does not open with this key or passphrase")]
    SecretMismatch,
    #[error("could not encrypt: {0}")]
    Io(#[from] io::Error),
}

/// argon2id cost settings; recorded in every encrypted header so they can be raised later without breaking old
/// archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a third of a second on a small server, per key derivation.
    pub const RECOMMENDED: Self = Self { memory_kib: 64 * 1024, iterations: 3, lanes: 1 };
    /// Cheap settings so unit tests that derive many keys stay fast (the format reads any in-range settings).
    #[cfg(test)]
    pub const FAST_FOR_TESTS: Self = Self { memory_kib: 256, iterations: 1, lanes: 1 };

    /// The settings new archives and secrets are written with.
    pub fn current() -> Self {
        #[cfg(test)]
        return Self::FAST_FOR_TESTS;
        #[cfg(not(test))]
        return Self::RECOMMENDED;
    }

    fn to_bytes(self) -> [u8; PARAMS_LEN] {
        let mut out = [0u8; PARAMS_LEN];
        out[0..4].copy_from_slice(&self.memory_kib.to_be_bytes());
        out[4..8].copy_from_slice(&self.iterations.to_be_bytes());
        out[8..12].copy_from_slice(&self.lanes.to_be_bytes());
        out
    }

    /// Reads settings from a header, refusing values that would make a crafted archive exhaust memory or time.
    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptError> {
        let word = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
        let (Some(memory_kib), Some(iterations), Some(lanes)) = (word(0), word(4), word(8)) else {
            return Err(CryptError::Truncated);
        };
        if memory_kib > 1024 * 1024 || iterations > 16 || !(1..=16).contains(&lanes) {
            return Err(CryptError::BadParams(format!("m={memory_kib} KiB, t={iterations}, p={lanes}")));
        }
        Ok(Self { memory_kib, iterations, lanes })
    }

    /// The 256-bit key for `passphrase` and `salt`.
    fn derive(self, passphrase: &str, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptError> {
        if passphrase.is_empty() {
            return Err(CryptError::EmptyPassphrase);
        }
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.lanes, Some(32))
            .map_err(|e| CryptError::BadParams(e.to_string()))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice())
            .map_err(|e| CryptError::BadParams(e.to_string()))?;
        Ok(key)
    }
}

/// The per-chunk nonce: prefix ‖ counter ‖ last flag.
fn chunk_nonce(prefix: &[u8; NONCE_PREFIX_LEN], counter: u32, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut nonce = [0u8; 12];
    nonce[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    nonce[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::from(nonce)
}

/// A `Write` adapter that encrypts everything written through it; call [`Encryptor::finish`] to seal the last chunk.
pub struct Encryptor<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    prefix: [u8; NONCE_PREFIX_LEN],
    counter: u32,
    chunk: Vec<u8>,
}

impl<W: Write> Encryptor<W> {
    /// Derives the key from `passphrase` with fresh random salt and writes the header to `inner`.
    pub fn new(mut inner: W, passphrase: &str, params: KdfParams) -> Result<Self, CryptError> {
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut prefix);
        let key = params.derive(passphrase, &salt)?;
        let mut header = [0u8; HEADER_LEN];
        let mut at = 0;
        for part in [&MAGIC[..], &[VERSION], &params.to_bytes(), &salt, &prefix] {
            header[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        inner.write_all(&header)?;
        let cipher = Aes256Gcm::new(key.as_slice().into());
        Ok(Self { inner, cipher, header, prefix, counter: 0, chunk: Vec::with_capacity(CHUNK_LEN + TAG_LEN) })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        let tag = self
            .cipher
            .encrypt_in_place_detached(&nonce, &self.header, &mut self.chunk)
            .map_err(|_| io::Error::other("AES-GCM refused a chunk"))?;
        self.inner.write_all(&self.chunk)?;
        self.inner.write_all(&tag)?;
        self.chunk.clear();
        // A counter that wrapped would reuse nonces; 2^32 chunks of 64 KiB (256 TiB) is far beyond any backup.
        self.counter = self.counter.checked_add(1).ok_or_else(|| io::Error::other("archive too large to encrypt"))?;
        Ok(())
    }

    /// Seals the final (possibly empty) chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full chunk is sealed only once more data arrives, because the last chunk must carry the last flag.
        if self.chunk.len() == CHUNK_LEN && !data.is_empty() {
            self.seal_chunk(false)?;
        }
        let take = data.len().min(CHUNK_LEN - self.chunk.len());
        self.chunk.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Read` adapter that decrypts and authenticates an encrypted archive; it yields only authenticated plaintext
/// and reports any damage as an `io::Error` wrapping a [`CryptError`].
pub struct Decryptor<R: Read> {
    inner: R,
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    prefix: [u8; NONCE_PREFIX_LEN],
    counter: u32,
    chunk: Vec<u8>,
    position: usize,
    /// The byte read ahead to learn whether the current chunk is the last one.
    peeked: Option<u8>,
    finished: bool,
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub(super) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl<R: Read> Decryptor<R> {
    /// Reads the header (magic included) and derives the key; a wrong passphrase shows at the first chunk.
    pub fn new(mut inner: R, passphrase: &str) -> Result<Self, CryptError> {
        let mut header = [0u8; HEADER_LEN];
        if read_full(&mut inner, &mut header)? < HEADER_LEN {
            return Err(CryptError::Truncated);
        }
        if &header[..MAGIC.len()] != MAGIC {
            return Err(CryptError::Tampered);
        }
        let version = header[MAGIC.len()];
        if version != VERSION {
            return Err(CryptError::UnknownVersion(version));
        }
        let params_at = MAGIC.len() + 1;
        let params = KdfParams::from_bytes(&header[params_at..params_at + PARAMS_LEN])?;
        let salt_at = params_at + PARAMS_LEN;
        let key = params.derive(passphrase, &header[salt_at..salt_at + SALT_LEN])?;
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        prefix.copy_from_slice(&header[salt_at + SALT_LEN..]);
        let cipher = Aes256Gcm::new(key.as_slice().into());
        let chunk = Vec::with_capacity(CHUNK_LEN + TAG_LEN);
        Ok(Self { inner, cipher, header, prefix, counter: 0, chunk, position: 0, peeked: None, finished: false })
    }

    fn open_next_chunk(&mut self) -> Result<(), CryptError> {
        self.chunk.clear();
        self.chunk.resize(CHUNK_LEN + TAG_LEN, 0);
        let mut filled = 0;
        if let Some(byte) = self.peeked.take() {
            self.chunk[0] = byte;
            filled = 1;
        }
        filled += read_full(&mut self.inner, &mut self.chunk[filled..])?;
        let mut last = filled < CHUNK_LEN + TAG_LEN;
        if !last {
            let mut probe = [0u8; 1];
            match read_full(&mut self.inner, &mut probe)? {
                0 => last = true,
                _ => self.peeked = Some(probe[0]),
            }
        }
        if filled < TAG_LEN {
            return Err(CryptError::Truncated);
        }
        self.chunk.truncate(filled);
        let tag = Tag::clone_from_slice(&self.chunk[filled - TAG_LEN..]);
        self.chunk.truncate(filled - TAG_LEN);
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        if self.cipher.decrypt_in_place_detached(&nonce, &self.header, &mut self.chunk, &tag).is_err() {
            self.chunk.clear();
            return Err(if self.counter == 0 { CryptError::WrongPassphrase } else { CryptError::Tampered });
        }
        self.counter = self.counter.checked_add(1).ok_or(CryptError::Tampered)?;
        self.position = 0;
        self.finished = last;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.chunk.len() {
            if self.finished || buf.is_empty() {
                return Ok(0);
            }
            self.open_next_chunk().map_err(|e| match e {
                CryptError::Io(io) => io,
                other => io::Error::other(other),
            })?;
        }
        let take = buf.len().min(self.chunk.len() - self.position);
        buf[..take].copy_from_slice(&self.chunk[self.position..self.position + take]);
        self.position += take;
        Ok(take)
    }
}

/// What seals a small secret: a passphrase (through argon2id with its own salt) or the instance's data key.
#[derive(Clone, Copy)]
pub enum SealingKey<'a> {
    Passphrase(&'a str),
    DataKey(&'a DataKey),
}

/// Seals `plaintext` for `purpose` (associated data, not stored); the result is standard base64.
pub fn seal_secret(key: SealingKey<'_>, purpose: &[u8], plaintext: &str) -> Result<String, CryptError> {
    match key {
        SealingKey::DataKey(key) => Ok(key.seal_str(plaintext, purpose)),
        SealingKey::Passphrase(passphrase) => {
            let params = KdfParams::current();
            let mut salt = [0u8; SALT_LEN];
            let mut nonce = [0u8; SECRET_NONCE_LEN];
            rand::rng().fill_bytes(&mut salt);
            rand::rng().fill_bytes(&mut nonce);
            let key = params.derive(passphrase, &salt)?;
            let cipher = Aes256Gcm::new(key.as_slice().into());
            let sealed = cipher
                .encrypt(&Nonce::from(nonce), Payload { msg: plaintext.as_bytes(), aad: purpose })
                .map_err(|_| CryptError::MalformedSecret)?;
            let mut out = vec![SECRET_VERSION];
            for part in [&params.to_bytes()[..], &salt, &nonce, &sealed] {
                out.extend_from_slice(part);
            }
            Ok(BASE64.encode(out))
        }
    }
}

/// Opens a value made by [`seal_secret`] with the same key (or passphrase) and purpose.
pub fn open_secret(key: SealingKey<'_>, purpose: &[u8], sealed: &str) -> Result<Zeroizing<String>, CryptError> {
    let plaintext = match key {
        SealingKey::DataKey(key) => key.open_str(sealed, purpose).map_err(|_| CryptError::SecretMismatch)?,
        SealingKey::Passphrase(passphrase) => {
            let bytes = BASE64.decode(sealed.trim()).map_err(|_| CryptError::MalformedSecret)?;
            let min_len = 1 + PARAMS_LEN + SALT_LEN + SECRET_NONCE_LEN + TAG_LEN;
            if bytes.len() < min_len || bytes[0] != SECRET_VERSION {
                return Err(CryptError::MalformedSecret);
            }
            let params = KdfParams::from_bytes(&bytes[1..1 + PARAMS_LEN])?;
            let (salt, rest) = bytes[1 + PARAMS_LEN..].split_at(SALT_LEN);
            let (nonce, ciphertext) = rest.split_at(SECRET_NONCE_LEN);
            let nonce: [u8; SECRET_NONCE_LEN] = nonce.try_into().map_err(|_| CryptError::MalformedSecret)?;
            let key = params.derive(passphrase, salt)?;
            let cipher = Aes256Gcm::new(key.as_slice().into());
            let opened = cipher
                .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: purpose })
                .map_err(|_| CryptError::SecretMismatch)?;
            String::from_utf8(opened).map_err(|_| CryptError::MalformedSecret)?
        }
    };
    Ok(Zeroizing::new(plaintext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt(plaintext: &[u8], passphrase: &str, params: KdfParams) -> Vec<u8> {
        let mut encryptor = Encryptor::new(Vec::new(), passphrase, params).unwrap();
        // Odd write sizes exercise chunk boundaries.
        for piece in plaintext.chunks(7_777) {
            encryptor.write_all(piece).unwrap();
        }
        encryptor.finish().unwrap()
    }

    fn decrypt(ciphertext: &[u8], passphrase: &str) -> Result<Vec<u8>, String> {
        let mut decryptor = Decryptor::new(ciphertext, passphrase).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        decryptor.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        for len in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 3 * CHUNK_LEN, 3 * CHUNK_LEN + 5] {
            let plaintext = sample(len);
            let ciphertext = encrypt(&plaintext, "pass", KdfParams::FAST_FOR_TESTS);
            assert_eq!(decrypt(&ciphertext, "pass").unwrap(), plaintext, "length {len}");
        }
    }

    #[test]
    fn recommended_params_round_trip() {
        let ciphertext = encrypt(b"hello", "pass", KdfParams::RECOMMENDED);
        assert_eq!(decrypt(&ciphertext, "pass").unwrap(), b"hello");
    }

    #[test]
    fn wrong_passphrase_is_reported_as_such() {
        let ciphertext = encrypt(&sample(100_000), "right", KdfParams::FAST_FOR_TESTS);
        assert_eq!(decrypt(&ciphertext, "wrong").unwrap_err(), "wrong passphrase or damaged archive");
    }

    #[test]
    fn every_altered_byte_and_truncation_is_refused() {
        let plaintext = sample(2 * CHUNK_LEN + 100);
        let ciphertext = encrypt(&plaintext, "pass", KdfParams::FAST_FOR_TESTS);
        let step = ciphertext.len() / 97;
        for at in (0..HEADER_LEN).chain((HEADER_LEN..ciphertext.len()).step_by(step)).chain([ciphertext.len() - 1]) {
            let mut altered = ciphertext.clone();
            altered[at] ^= 0x01;
            assert!(decrypt(&altered, "pass").is_err(), "flip at {at} went unnoticed");
        }
        // Dropping a whole final chunk, or cutting anywhere, is detected too.
        for cut in [ciphertext.len() - 1, ciphertext.len() - 100 - TAG_LEN, HEADER_LEN + CHUNK_LEN + TAG_LEN, 10] {
            assert!(decrypt(&ciphertext[..cut], "pass").is_err(), "cut at {cut} went unnoticed");
        }
    }

    #[test]
    fn oversized_params_are_refused_before_deriving() {
        let mut ciphertext = encrypt(b"x", "pass", KdfParams::FAST_FOR_TESTS);
        ciphertext[MAGIC.len() + 1] = 0xFF;
        assert!(decrypt(&ciphertext, "pass").unwrap_err().contains("out of range"));
    }

    #[test]
    fn secrets_seal_and_open_only_for_their_purpose() {
        let key = DataKey::generate();
        for sealing in [SealingKey::Passphrase("pw"), SealingKey::DataKey(&key)] {
            let sealed = seal_secret(sealing, b"a", "top secret").unwrap();
            assert!(!sealed.contains("top secret"));
            assert_eq!(open_secret(sealing, b"a", &sealed).unwrap().as_str(), "top secret");
        }
        let sealed = seal_secret(SealingKey::Passphrase("pw"), b"a", "v").unwrap();
        assert!(open_secret(SealingKey::Passphrase("other"), b"a", &sealed).is_err());
        assert!(open_secret(SealingKey::Passphrase("pw"), b"b", &sealed).is_err());
        assert!(matches!(seal_secret(SealingKey::Passphrase(""), b"a", "v"), Err(CryptError::EmptyPassphrase)));
    }
}
