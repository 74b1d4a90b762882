//! The byte-stream layers under the tar: hashing while writing, the optional encryption envelope, and the integrity
//! trailer that makes every byte of an unencrypted archive count.
//!
//! The trailer is a zstd *skippable frame* (so `zstd -d` still reads the file) holding the sha256 of all compressed
//! bytes before it. Without it, a flipped bit in zstd framing that decodes to the same data (a larger window size,
//! say) would go unnoticed; with encryption the trailer is inside the authenticated stream as well.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use super::super::crypt::{CryptError, Encryptor};

/// First four bytes of a zstd frame.
pub(super) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// A zstd skippable-frame magic (0x184D2A50..=0x184D2A5F), little-endian.
const SKIPPABLE_MAGIC: [u8; 4] = 0x184D_2A5C_u32.to_le_bytes();
const TRAILER_TAG: &[u8; 8] = b"CVSBKSUM";
const TRAILER_BODY_LEN: usize = TRAILER_TAG.len() + 32;
pub(super) const TRAILER_LEN: usize = 8 + TRAILER_BODY_LEN;

/// The trailer for compressed bytes whose sha256 is `digest`.
pub(super) fn trailer(digest: &[u8; 32]) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[..4].copy_from_slice(&SKIPPABLE_MAGIC);
    out[4..8].copy_from_slice(&(TRAILER_BODY_LEN as u32).to_le_bytes());
    out[8..16].copy_from_slice(TRAILER_TAG);
    out[16..].copy_from_slice(digest);
    out
}

/// A writer that counts, and unless made with [`HashingWriter::counting`] hashes, what passes through it.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Option<Sha256>,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        Self { inner, hasher: Some(Sha256::new()), count: 0 }
    }

    /// Counts only: for bytes whose hash is already known another way (hashing is a large part of a backup's CPU).
    pub(super) fn counting(inner: W) -> Self {
        Self { inner, hasher: None, count: 0 }
    }

    /// The inner writer, the hash state (`None` when only counting) and the byte count of everything written.
    pub(super) fn into_parts(self) -> (W, Option<Sha256>, u64) {
        (self.inner, self.hasher, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(data)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&data[..written]);
        }
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where the compressed stream goes: straight to the file, or through the encryptor first.
pub(super) enum Envelope<W: Write> {
    Plain(W),
    // Boxed: the encryptor holds an expanded AES key schedule (about 1 KiB), the plain variant nothing.
    Encrypted(Box<Encryptor<W>>),
}

impl<W: Write> Envelope<W> {
    /// Ends the stream (sealing the last encrypted chunk) and returns the file writer.
    pub(super) fn finish(self) -> io::Result<W> {
        match self {
            Self::Plain(inner) => Ok(inner),
            Self::Encrypted(encryptor) => encryptor.finish(),
        }
    }
}

impl<W: Write> Write for Envelope<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(inner) => inner.write(data),
            Self::Encrypted(encryptor) => encryptor.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(inner) => inner.flush(),
            Self::Encrypted(encryptor) => encryptor.flush(),
        }
    }
}

/// A reader that passes on everything but the last [`TRAILER_LEN`] bytes, hashing what it passes, so the trailer
/// can be checked against the compressed bytes once the decoder is done.
pub(super) struct TrailerReader<R> {
    inner: R,
    buffer: Box<[u8]>,
    filled: usize,
    at_end: bool,
    hasher: Sha256,
}

/// What went wrong with the trailer; the reader turns these into "damaged archive" errors.
#[derive(Debug)]
pub(super) enum TrailerProblem {
    Missing,
    Mismatch,
    TrailingData,
}

impl<R: Read> TrailerReader<R> {
    pub(super) fn new(inner: R) -> Self {
        let buffer = vec![0u8; 256 * 1024].into_boxed_slice();
        Self { inner, buffer, filled: 0, at_end: false, hasher: Sha256::new() }
    }

    /// Checks, once the decoder has read everything, that exactly a valid trailer is left and that it matches.
    pub(super) fn finish(mut self) -> io::Result<Result<(), TrailerProblem>> {
        let mut rest = [0u8; 4096];
        if self.read(&mut rest)? > 0 {
            return Ok(Err(TrailerProblem::TrailingData));
        }
        if self.filled != TRAILER_LEN {
            return Ok(Err(TrailerProblem::Missing));
        }
        let found = &self.buffer[..TRAILER_LEN];
        let digest: [u8; 32] = self.hasher.finalize().into();
        if found[..16] != trailer(&[0u8; 32])[..16] {
            return Ok(Err(TrailerProblem::Missing));
        }
        if found != trailer(&digest) {
            return Ok(Err(TrailerProblem::Mismatch));
        }
        Ok(Ok(()))
    }
}

impl<R: Read> Read for TrailerReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.filled > TRAILER_LEN {
                let take = out.len().min(self.filled - TRAILER_LEN);
                out[..take].copy_from_slice(&self.buffer[..take]);
                self.hasher.update(&self.buffer[..take]);
                self.buffer.copy_within(take..self.filled, 0);
                self.filled -= take;
                return Ok(take);
            }
            if self.at_end || out.is_empty() {
                return Ok(0);
            }
            match self.inner.read(&mut self.buffer[self.filled..]) {
                Ok(0) => self.at_end = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The [`CryptError`] behind an I/O error from the layered readers, if decryption is what failed.
pub(super) fn crypt_error_in(error: &io::Error) -> Option<&CryptError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = error.get_ref().map(|inner| inner as _);
    while let Some(inner) = current {
        if let Some(crypt) = inner.downcast_ref::<CryptError>() {
            return Some(crypt);
        }
        current = match inner.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|e| e as _),
            None => inner.source(),
        };
    }
    None
}

/// The most specific message in an error chain (tar wraps the cause in "failed to iterate over archive").
pub(super) fn innermost_message(error: &io::Error) -> String {
    let mut message = error.to_string();
    let mut current: Option<&(dyn std::error::Error + 'static)> = error.get_ref().map(|inner| inner as _);
    while let Some(inner) = current {
        message = inner.to_string();
        current = match inner.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|e| e as _),
            None => inner.source(),
        };
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_reader_holds_back_and_checks_the_trailer() {
        let body: Vec<u8> = (0..300_000).map(|i| (i % 253) as u8).collect();
        let mut file = body.clone();
        file.extend_from_slice(&trailer(&Sha256::digest(&body).into()));
        let mut reader = TrailerReader::new(&file[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, body);
        assert!(reader.finish().unwrap().is_ok());

        let mut altered = file.clone();
        *altered.last_mut().unwrap() ^= 1;
        let mut reader = TrailerReader::new(&altered[..]);
        reader.read_to_end(&mut Vec::new()).unwrap();
        assert!(matches!(reader.finish().unwrap(), Err(TrailerProblem::Mismatch)));

        let mut reader = TrailerReader::new(&body[..]);
        reader.read_to_end(&mut Vec::new()).unwrap();
        assert!(reader.finish().unwrap().is_err());
    }
}
