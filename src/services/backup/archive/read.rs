//! Reading archives back: the header alone, a full verification, or an extraction that verifies as it goes and
//! removes everything it wrote if anything does not check out.

use std::collections::{HashMap, HashSet};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufReader, Cursor, Read, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::streams::{self, TrailerProblem, TrailerReader, ZSTD_MAGIC};
use super::{ArchiveError, HEADER_ENTRY, MANIFEST_ENTRY, check_entry_path};
use crate::services::backup::crypt::{self, Decryptor};
use crate::services::backup::manifest::{Entry, FORMAT, Header, Manifest};

/// Upper bounds for the JSON entries, so a crafted archive cannot make us buffer gigabytes.
const MAX_HEADER_LEN: u64 = 1 << 20;
const MAX_MANIFEST_LEN: u64 = 256 << 20;
const COPY_BUFFER: usize = 256 * 1024;

type Decoder = zstd::Decoder<'static, BufReader<TrailerReader<Box<dyn Read>>>>;

/// Opens the layers down to the zstd decoder, recognising an encrypted archive by its magic.
fn open(path: &Path, passphrase: Option<&str>) -> Result<Decoder, ArchiveError> {
    let mut file = File::open(path).map_err(ArchiveError::io("open", path))?;
    let mut magic = [0u8; 8];
    let len = crypt::read_full(&mut file, &mut magic).map_err(ArchiveError::io("read", path))?;
    let start = Cursor::new(magic[..len].to_vec()).chain(BufReader::with_capacity(1 << 20, file));
    let envelope: Box<dyn Read> = if magic == *crypt::MAGIC {
        let passphrase = passphrase.filter(|p| !p.is_empty()).ok_or(ArchiveError::Encrypted)?;
        Box::new(Decryptor::new(start, passphrase)?)
    } else if magic[..4] == ZSTD_MAGIC {
        Box::new(start)
    } else {
        return Err(ArchiveError::NotABackup);
    };
    zstd::Decoder::new(TrailerReader::new(envelope)).map_err(ArchiveError::io("read", path))
}

/// Turns an error from the layered readers into what the user should hear.
fn read_error(error: io::Error) -> ArchiveError {
    match streams::crypt_error_in(&error) {
        Some(crypt::CryptError::WrongPassphrase) => ArchiveError::WrongPassphrase,
        Some(other) => ArchiveError::Decryption(other.to_string()),
        None => ArchiveError::Damaged(format!("it cannot be read ({})", streams::innermost_message(&error))),
    }
}

/// Reads the header (the first entry) without reading the rest; nothing beyond that entry is verified.
pub fn read_header(path: &Path, passphrase: Option<&str>) -> Result<Header, ArchiveError> {
    let mut archive = tar::Archive::new(open(path, passphrase)?);
    let mut entries = archive.entries().map_err(read_error)?;
    let mut first = entries.next().ok_or_else(|| damaged("it is empty"))?.map_err(read_error)?;
    if entry_path(&first)? != HEADER_ENTRY {
        return Err(damaged("it does not start with header.json"));
    }
    parse_header(&read_small(&mut first, MAX_HEADER_LEN)?)
}

/// Reads the whole archive and checks every entry against the manifest, the manifest against the header, and the
/// compressed stream against its trailer. Returns the manifest.
pub fn verify(path: &Path, passphrase: Option<&str>) -> Result<Manifest, ArchiveError> {
    scan(path, passphrase, None, &|_| {})
}

/// Extracts the data entries into `dest` (which must be missing or empty) while verifying as [`verify`] does. On any
/// failure everything extracted is removed again, leaving `dest` as it was. `progress` gets the data bytes read.
pub fn extract(
    path: &Path,
    passphrase: Option<&str>,
    dest: &Path,
    progress: &dyn Fn(u64),
) -> Result<Manifest, ArchiveError> {
    let mut extraction = Extraction::begin(dest)?;
    let result = scan(path, passphrase, Some(&mut extraction), progress);
    if result.is_err() {
        extraction.discard();
    }
    result
}

fn damaged(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Damaged(what.into())
}

/// The entry's path, refused unless it is a regular file at a safe relative path.
fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, ArchiveError> {
    let raw = entry.path_bytes();
    let path = String::from_utf8_lossy(&raw).into_owned();
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(ArchiveError::UnsafeEntry(format!("{path:?} is a link, device or directory, not a file")));
    }
    if std::str::from_utf8(&raw).is_err() {
        return Err(ArchiveError::UnsafeEntry(format!("{path:?} is not UTF-8")));
    }
    check_entry_path(&path).map_err(ArchiveError::UnsafeEntry)?;
    Ok(path)
}

fn read_small(entry: &mut impl Read, limit: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = Vec::new();
    entry.take(limit + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(damaged("a metadata entry is implausibly large"));
    }
    Ok(bytes)
}

/// Parses `header.json`, checking the format version before anything else so a newer layout is named as such.
fn parse_header(bytes: &[u8]) -> Result<Header, ArchiveError> {
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let format = serde_json::from_slice::<FormatOnly>(bytes).map_err(|_| damaged("header.json is not readable"))?;
    if format.format != FORMAT {
        return Err(ArchiveError::UnknownFormat(format.format));
    }
    serde_json::from_slice(bytes).map_err(|e| damaged(format!("header.json is not readable ({e})")))
}

fn scan(
    path: &Path,
    passphrase: Option<&str>,
    mut extraction: Option<&mut Extraction>,
    progress: &dyn Fn(u64),
) -> Result<Manifest, ArchiveError> {
    let mut archive = tar::Archive::new(open(path, passphrase)?);
    let mut header: Option<Header> = None;
    let mut manifest: Option<Manifest> = None;
    let mut seen: Vec<Entry> = Vec::new();
    let mut names = HashSet::new();
    let mut data_read = 0u64;
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let path = entry_path(&entry)?;
        if manifest.is_some() {
            return Err(damaged(format!("{path} comes after the manifest")));
        }
        if !names.insert(path.clone()) {
            return Err(damaged(format!("{path} appears twice")));
        }
        if header.is_none() {
            if path != HEADER_ENTRY {
                return Err(damaged("it does not start with header.json"));
            }
            let bytes = read_small(&mut entry, MAX_HEADER_LEN)?;
            header = Some(parse_header(&bytes)?);
            seen.push(Entry { path, size: bytes.len() as u64, sha256: hex::encode(Sha256::digest(&bytes)) });
        } else if path == MANIFEST_ENTRY {
            let bytes = read_small(&mut entry, MAX_MANIFEST_LEN)?;
            let parsed = serde_json::from_slice(&bytes).map_err(|_| damaged("manifest.json is not readable"))?;
            manifest = Some(parsed);
        } else {
            let mut out = match extraction.as_deref_mut() {
                Some(extraction) => Some(extraction.create(&path)?),
                None => None,
            };
            let mut on_read = |n: u64| {
                data_read += n;
                progress(data_read);
            };
            let (size, sha256) = copy_hashing(&mut entry, out.as_mut(), &mut on_read)?;
            seen.push(Entry { path, size, sha256 });
        }
    }
    let manifest = manifest.ok_or_else(|| damaged("it ends early: the manifest is missing"))?;
    if Some(&manifest.header) != header.as_ref() {
        return Err(damaged("header.json does not match the manifest"));
    }
    check_against_manifest(&seen, &manifest.entries)?;
    check_stream_end(archive.into_inner())?;
    Ok(manifest)
}

/// Copies an entry's data to `out` (when extracting), hashing it; returns its size and sha256 hex.
fn copy_hashing(
    entry: &mut impl Read,
    mut out: Option<&mut (File, PathBuf)>,
    on_read: &mut dyn FnMut(u64),
) -> Result<(u64, String), ArchiveError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        let n = match entry.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        hasher.update(&buffer[..n]);
        size += n as u64;
        if let Some((file, path)) = out.as_deref_mut() {
            file.write_all(&buffer[..n]).map_err(ArchiveError::io("write", path))?;
        }
        on_read(n as u64);
    }
    if let Some((file, path)) = out {
        file.sync_all().map_err(ArchiveError::io("write", path))?;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Every entry read must be listed with the same size and checksum, and every listed entry must have been read.
fn check_against_manifest(seen: &[Entry], listed: &[Entry]) -> Result<(), ArchiveError> {
    let mut by_path: HashMap<&str, &Entry> = HashMap::with_capacity(listed.len());
    for entry in listed {
        if by_path.insert(entry.path.as_str(), entry).is_some() {
            return Err(damaged(format!("the manifest lists {} twice", entry.path)));
        }
    }
    for entry in seen {
        match by_path.remove(entry.path.as_str()) {
            None => return Err(damaged(format!("{} is not listed in the manifest", entry.path))),
            Some(expected) if expected != entry => {
                return Err(damaged(format!("{} does not match its checksum", entry.path)));
            }
            Some(_) => {}
        }
    }
    match by_path.keys().min() {
        Some(missing) => Err(damaged(format!("{missing} is listed in the manifest but missing"))),
        None => Ok(()),
    }
}

/// After the tar's end marker only zero padding may follow; then the zstd frame must end (checking its checksum)
/// and the integrity trailer must match the compressed bytes.
fn check_stream_end(mut decoder: Decoder) -> Result<(), ArchiveError> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        match decoder.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) if buffer[..n].iter().all(|&b| b == 0) => {}
            Ok(_) => return Err(damaged("there is data after the end of the archive")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e)),
        }
    }
    let rest = decoder.finish();
    if !rest.buffer().is_empty() {
        return Err(damaged("there is data after the end of the archive"));
    }
    match rest.into_inner().finish().map_err(read_error)? {
        Ok(()) => Ok(()),
        Err(TrailerProblem::Missing) => Err(damaged("it ends early: the integrity trailer is missing")),
        Err(TrailerProblem::Mismatch) => Err(damaged("its compressed data does not match its checksum")),
        Err(TrailerProblem::TrailingData) => Err(damaged("there is data after the end of the archive")),
    }
}

/// The files and directories an extraction created, so a failed one can be undone.
struct Extraction {
    dest: PathBuf,
    created_dest: bool,
}

impl Extraction {
    fn begin(dest: &Path) -> Result<Self, ArchiveError> {
        match fs::read_dir(dest) {
            Ok(mut children) => match children.next() {
                None => Ok(Self { dest: dest.to_path_buf(), created_dest: false }),
                Some(_) => Err(ArchiveError::DestinationNotEmpty(dest.to_path_buf())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                private_dirs().create(dest).map_err(ArchiveError::io("create", dest))?;
                Ok(Self { dest: dest.to_path_buf(), created_dest: true })
            }
            Err(e) => Err(ArchiveError::Io { action: "open", path: dest.to_path_buf(), source: e }),
        }
    }

    /// Creates the file for a (checked) entry path, with its parent directories; never overwrites.
    fn create(&mut self, relative: &str) -> Result<(File, PathBuf), ArchiveError> {
        let path = self.dest.join(relative);
        if let Some(parent) = path.parent() {
            private_dirs().create(parent).map_err(ArchiveError::io("create", parent))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(ArchiveError::io("create", &path))?;
        Ok((file, path))
    }

    /// Removes everything extracted: the whole directory if it was created here, else its contents.
    fn discard(&self) {
        if self.created_dest {
            let _ = fs::remove_dir_all(&self.dest);
            return;
        }
        if let Ok(children) = fs::read_dir(&self.dest) {
            for child in children.flatten() {
                let path = child.path();
                let _ = if child.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }
}

fn private_dirs() -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder
}
