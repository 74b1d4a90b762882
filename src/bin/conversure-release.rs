//! `conversure-release`: the vendor's tool to create the release signing key and write a signed release manifest.
//!
//! ```text
//! conversure-release keygen --out KEYFILE [--key-id ID]
//! conversure-release manifest --key KEYFILE --key-id ID --version V --notes-file F --asset TARGET=FILE=URL ...
//! ```
//!
//! The key file holds the 32-byte Ed25519 seed as hex (mode 0600; keep it offline). Each asset's signature covers
//! `conversure-release\nversion=V\ntarget=TARGET\nsha256=HEX\n`; see `src/services/update/manifest.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conversure::services::update::manifest::{self, FORMAT, Manifest};

#[derive(Debug, Parser)]
#[command(name = "conversure-release", version, about = "Create the release signing key and signed release manifests.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a release signing key; prints the line to add to src/services/update/keys.rs.
    Keygen {
        /// Where to write the private seed (hex, mode 0600); an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The id of the key in manifests.
        #[arg(long, value_name = "ID", default_value = "release-2026")]
        key_id: String,
    },
    /// Print the signed manifest JSON for the given release archives.
    Manifest {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        key_id: String,
        #[arg(long, value_name = "VERSION")]
        version: String,
        /// The release notes (plain text).
        #[arg(long, value_name = "FILE")]
        notes_file: PathBuf,
        /// TARGET=FILE=URL: a platform's `.tar.zst` archive and the address it is published at.
        #[arg(long = "asset", value_name = "TARGET=FILE=URL", required = true)]
        assets: Vec<String>,
        /// Publication time (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        published_at: Option<String>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Keygen { out, key_id } => keygen(&out, &key_id),
        Command::Manifest { key, key_id, version, notes_file, assets, published_at } => {
            build_manifest(&key, &key_id, &version, &notes_file, &assets, published_at)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(out: &Path, key_id: &str) -> Result<(), String> {
    let seed: [u8; 32] = rand::random();
    write_private(out, hex::encode(seed).as_bytes())?;
    println!("Private seed written to {} (keep it offline).", out.display());
    println!("Add this line to PRODUCTION in src/services/update/keys.rs:");
    println!("    (\"{key_id}\", public_key_from_hex(\"{}\")),", manifest::public_key_hex(&seed));
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} already exists; not overwriting it", path.display()),
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_seed(path: &Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| format!("{} does not hold a 64-hex-digit seed", path.display()))
}

fn build_manifest(
    key: &Path,
    key_id: &str,
    version: &str,
    notes_file: &Path,
    assets: &[String],
    published_at: Option<String>,
) -> Result<(), String> {
    let seed = read_seed(key)?;
    if semver::Version::parse(version).is_err() {
        return Err(format!("--version {version:?} is not a version number such as 0.2.0"));
    }
    let notes =
        std::fs::read_to_string(notes_file).map_err(|e| format!("cannot read {}: {e}", notes_file.display()))?;
    let mut signed = Vec::new();
    for spec in assets {
        let mut parts = spec.splitn(3, '=');
        let (Some(target), Some(file), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("--asset {spec:?}: use TARGET=FILE=URL"));
        };
        let archive = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        signed.push(manifest::sign_asset(&seed, key_id, version, target, url, &archive));
    }
    let published_at = published_at.unwrap_or_else(|| jiff::Timestamp::now().to_string());
    let manifest = Manifest {
        format: FORMAT,
        version: version.to_owned(),
        published_at,
        notes: notes.trim().to_owned(),
        assets: signed,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
