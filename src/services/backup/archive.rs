//! The backup archive file: a `.tar.zst`, optionally passphrase-encrypted, holding `header.json` first, then the
//! data entries, then `manifest.json` with every entry's size and sha256, all hashed while streaming in one pass.
//!
//! Layers, outermost first: file ← [encryption] ← zstd (+ integrity trailer) ← tar. Everything here is synchronous;
//! the orchestrator runs it on a blocking thread.

mod read;
mod streams;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::crypt::{CryptError, Encryptor, KdfParams};
use super::manifest::{Entry, FORMAT, Header, Manifest};
pub use read::{extract, read_header, verify};
use streams::{Envelope, HashingWriter};

/// The archive's first entry.
pub const HEADER_ENTRY: &str = "header.json";
/// The archive's last entry.
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// zstd level 1: on the G6 dataset it compresses a third faster than level 3 for a 7 % bigger archive, and the
/// backup's time budget (8 s/GB) is the scarcer resource (docs/PERFORMANCE.md, `backup`).
const ZSTD_LEVEL: i32 = 1;
const FILE_BUFFER: usize = 1 << 20;

/// One file to put in the archive, and the path it gets there (`database/sqlite.db`, `media/…`, `config.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub archive_path: String,
    pub file: PathBuf,
}

/// A finished archive: its size and the sha256 of the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

/// Why an archive could not be written, read, verified or extracted; each message is one clear line.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("this archive is encrypted: enter its passphrase")]
    Encrypted,
    #[error("wrong passphrase or damaged archive")]
    WrongPassphrase,
    #[error("this file is not a Conversure backup archive")]
    NotABackup,
    #[error("this backup has archive format {0}; this version of Conversure reads format {FORMAT}")]
    UnknownFormat(u32),
    #[error("the archive is damaged: {0}")]
    Damaged(String),
    #[error("the archive holds an unsafe entry ({0}); nothing was extracted")]
    UnsafeEntry(String),
    #[error("{0}")]
    Decryption(String),
    #[error("cannot back up {0}")]
    InvalidSource(String),
    #[error("{0} changed while it was being backed up; try again")]
    SourceChanged(String),
    #[error("cannot extract into {0}: the directory is not empty")]
    DestinationNotEmpty(PathBuf),
    #[error("could not {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

impl ArchiveError {
    fn io(action: &'static str, path: &Path) -> impl Fn(io::Error) -> Self {
        move |source| Self::Io { action, path: path.to_path_buf(), source }
    }
}

impl From<CryptError> for ArchiveError {
    fn from(error: CryptError) -> Self {
        match error {
            CryptError::WrongPassphrase => Self::WrongPassphrase,
            other => Self::Decryption(other.to_string()),
        }
    }
}

/// Checks that an entry path is relative and stays inside the extraction directory: `/`-separated, no empty,
/// `.` or `..` components, no backslashes or NULs. Returns why it is unsafe otherwise.
pub fn check_entry_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.len() > 4096
        || path.starts_with('/')
        || path.contains(['\\', '\0'])
        || path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad { Err(format!("{path:?} is not a safe relative path")) } else { Ok(()) }
}

/// `out` with `.partial` appended: where the archive is written until it is complete.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes the archive to `out` (through `out.partial`, renamed when complete and synced; removed on any error).
/// `progress` is called with the number of source bytes read so far.
pub fn write(
    out: &Path,
    header: &Header,
    sources: &[Source],
    passphrase: Option<&str>,
    progress: &dyn Fn(u64),
) -> Result<Written, ArchiveError> {
    write_each(out, header, sources.iter().cloned().map(Ok), passphrase, progress)
}

/// [`write`] with sources that may still be in the making: each is taken from `sources` only when its turn comes
/// (a file written beside the archive can be waited for there), and the first error ends the archive.
pub fn write_each(
    out: &Path,
    header: &Header,
    sources: impl Iterator<Item = Result<Source, ArchiveError>>,
    passphrase: Option<&str>,
    progress: &dyn Fn(u64),
) -> Result<Written, ArchiveError> {
    if header.format != FORMAT {
        return Err(ArchiveError::UnknownFormat(header.format));
    }
    let partial = partial_path(out);
    let written = write_partial(&partial, header, sources, passphrase, progress).and_then(|written| {
        fs::rename(&partial, out).map_err(ArchiveError::io("rename", &partial))?;
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Makes the rename itself durable; a directory that cannot be opened for syncing is not an error.
            if let Ok(dir) = File::open(parent) {
                dir.sync_all().map_err(ArchiveError::io("sync", parent))?;
            }
        }
        Ok(written)
    });
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written
}

/// Refuses what would make an unreadable archive: unsafe, reserved or repeated paths (`seen` holds the paths
/// before it), and sources that are not regular files.
fn check_source(source: &Source, seen: &mut std::collections::HashSet<String>) -> Result<(), ArchiveError> {
    let path = source.archive_path.as_str();
    check_entry_path(path).map_err(ArchiveError::InvalidSource)?;
    if path == HEADER_ENTRY || path == MANIFEST_ENTRY {
        return Err(ArchiveError::InvalidSource(format!("{path}: the name is reserved")));
    }
    if !seen.insert(path.to_owned()) {
        return Err(ArchiveError::InvalidSource(format!("{path}: listed twice")));
    }
    let metadata = fs::symlink_metadata(&source.file).map_err(ArchiveError::io("read", &source.file))?;
    if !metadata.is_file() {
        return Err(ArchiveError::InvalidSource(format!("{}: not a regular file", source.file.display())));
    }
    Ok(())
}

/// How many zstd worker threads to compress with: one per core but one, so compression overlaps hashing and
/// encryption and a core stays free for the server answering webhooks meanwhile (G6's ingestion p99).
fn zstd_workers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1));
    cores.saturating_sub(1).max(1)
}

fn write_partial(
    partial: &Path,
    header: &Header,
    sources: impl Iterator<Item = Result<Source, ArchiveError>>,
    passphrase: Option<&str>,
    progress: &dyn Fn(u64),
) -> Result<Written, ArchiveError> {
    let failed = ArchiveError::io("write", partial);
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(partial).map_err(&failed)?;
    let buffered = BufWriter::with_capacity(FILE_BUFFER, file);
    // The whole file's sha256: of the ciphertext when encrypted; otherwise the file is the compressed bytes and the
    // trailer, and the compressed bytes' hash (which the trailer needs anyway) is carried on instead of hashing twice.
    let envelope = match passphrase {
        Some(passphrase) => {
            let whole = HashingWriter::new(buffered);
            Envelope::Encrypted(Box::new(Encryptor::new(whole, passphrase, KdfParams::current())?))
        }
        None => Envelope::Plain(HashingWriter::counting(buffered)),
    };
    let mut encoder = zstd::Encoder::new(HashingWriter::new(envelope), ZSTD_LEVEL).map_err(&failed)?;
    encoder.include_checksum(true).map_err(&failed)?;
    encoder.multithread(zstd_workers()).map_err(&failed)?;
    let mut tar = tar::Builder::new(encoder);
    let mtime = u64::try_from(header.created_at / 1000).unwrap_or(0);

    let header_json = serde_json::to_vec_pretty(header).map_err(|e| failed(io::Error::other(e)))?;
    let header_entry = append(&mut tar, HEADER_ENTRY, &mut &header_json[..], header_json.len() as u64, mtime);
    let mut entries = vec![header_entry.map_err(&failed)?];
    let read_so_far = Cell::new(0u64);
    let mut seen = std::collections::HashSet::new();
    for source in sources {
        let source = source?;
        check_source(&source, &mut seen)?;
        entries.push(append_source(&mut tar, &source, mtime, &|n| {
            read_so_far.set(read_so_far.get() + n);
            progress(read_so_far.get());
        })?);
    }
    let manifest = Manifest { header: header.clone(), entries };
    let manifest_json = serde_json::to_vec(&manifest).map_err(|e| failed(io::Error::other(e)))?;
    append(&mut tar, MANIFEST_ENTRY, &mut &manifest_json[..], manifest_json.len() as u64, mtime).map_err(&failed)?;

    let compressed = tar.into_inner().and_then(|encoder| encoder.finish()).map_err(&failed)?;
    let (mut envelope, compressed_hash, _) = compressed.into_parts();
    let compressed_hash = compressed_hash.unwrap_or_default();
    let trailer = streams::trailer(&compressed_hash.clone().finalize().into());
    envelope.write_all(&trailer).map_err(&failed)?;
    let (buffered, whole_hash, size) = envelope.finish().map_err(&failed)?.into_parts();
    let whole_digest = whole_hash.unwrap_or_else(|| compressed_hash.chain_update(trailer)).finalize();
    let file = buffered.into_inner().map_err(|e| failed(e.into_error()))?;
    file.sync_all().map_err(&failed)?;
    Ok(Written { size, sha256: hex::encode(whole_digest) })
}

/// Adds one source file, hashing it as it streams; a file that shrank meanwhile is an error (a torn copy).
fn append_source<W: Write>(
    tar: &mut tar::Builder<W>,
    source: &Source,
    mtime: u64,
    progress: &dyn Fn(u64),
) -> Result<Entry, ArchiveError> {
    let file = File::open(&source.file).map_err(ArchiveError::io("read", &source.file))?;
    let size = file.metadata().map_err(ArchiveError::io("read", &source.file))?.len();
    let mut reader = Progress { inner: file.take(size), progress };
    let entry = append(tar, &source.archive_path, &mut reader, size, mtime)
        .map_err(ArchiveError::io("add to the archive", &source.file))?;
    if entry.size != size {
        return Err(ArchiveError::SourceChanged(source.file.display().to_string()));
    }
    Ok(entry)
}

/// Appends one regular-file entry of `size` bytes; returns its manifest entry with the bytes actually read.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &mut dyn Read,
    size: u64,
    mtime: u64,
) -> io::Result<Entry> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    let mut hashing = Hashing { inner: data, hasher: Sha256::new(), count: 0 };
    tar.append_data(&mut header, path, &mut hashing)?;
    Ok(Entry { path: path.to_owned(), size: hashing.count, sha256: hex::encode(hashing.hasher.finalize()) })
}

/// A reader that hashes and counts what is read through it.
struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    count: u64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A reader that reports each read's size to a progress callback.
struct Progress<'a, R> {
    inner: R,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}
