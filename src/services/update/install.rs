//! The file-level steps of an update: the preflight checks, the capped download, unpacking the executable from the
//! `.tar.zst`, the `version` smoke test, and the swap (and its reversal) by renames in the executable's directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::state::old_exe;

/// Biggest release archive accepted (the executable compresses to a few tens of MB).
pub const MAX_ARCHIVE_BYTES: u64 = 256 * 1024 * 1024;
/// Biggest executable unpacked from an archive.
const MAX_EXECUTABLE_BYTES: u64 = 512 * 1024 * 1024;
/// Free space kept beyond the archive, the unpacked executable and a backup of the database.
const DISK_MARGIN_BYTES: u64 = 64 * 1024 * 1024;
/// How long the new executable's `version` may take.
const SMOKE_TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Why this installation cannot update itself in place; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "Conversure runs in a container, whose image owns the executable: pull the new image instead (docker pull {image}:{version}) and recreate the container"
    )]
    Container { image: &'static str, version: String },
    #[error(
        "the executable's directory {0} is not writable by this process; update it with your package manager or as its owner"
    )]
    NotWritable(String),
    #[error("this build trusts no release signing key, so it cannot verify an update; install the new version by hand")]
    NoTrustedKey,
    #[error(
        "not enough free disk: {need_mb} MB needed for the download, the new executable and a backup, {free_mb} MB free"
    )]
    Disk { need_mb: u64, free_mb: u64 },
}

/// The container image the vendor publishes (named in the pull instruction).
pub const IMAGE: &str = "ghcr.io/conversure/conversure";

/// Whether this process runs in a container (Docker, Podman, systemd-nspawn and the like).
pub fn in_container() -> bool {
    (container_files_matter() && (Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists()))
        || std::env::var_os("container").is_some_and(|v| !v.is_empty())
}

/// The test suite itself may run inside a container; test builds can ignore the marker files there
/// (`CONVERSURE_TEST_IGNORE_CONTAINER_FILES=1`) and still detect the `container` variable. Release builds always
/// look at the files.
fn container_files_matter() -> bool {
    #[cfg(feature = "test-keys")]
    if std::env::var_os("CONVERSURE_TEST_IGNORE_CONTAINER_FILES").is_some() {
        return false;
    }
    true
}

/// The checks that need no download: container, writable executable directory, a trusted key.
pub fn preflight(exe: &Path, offered_version: &str) -> Result<(), Refusal> {
    if in_container() {
        return Err(Refusal::Container { image: IMAGE, version: offered_version.to_owned() });
    }
    let dir = exe.parent().unwrap_or(Path::new("/"));
    if crate::system::check_writable(dir).is_err() {
        return Err(Refusal::NotWritable(dir.display().to_string()));
    }
    if !super::keys::any_trusted() {
        return Err(Refusal::NoTrustedKey);
    }
    Ok(())
}

/// Room for the archive, the unpacked executable (twice: staged and placed) and a backup the size of the data.
pub fn check_disk(data_root: &Path, archive_size: u64, data_size: u64) -> Result<(), Refusal> {
    let need = archive_size.saturating_mul(4).saturating_add(data_size).saturating_add(DISK_MARGIN_BYTES);
    let free = crate::system::free_disk_bytes(data_root).unwrap_or(u64::MAX);
    if free < need {
        return Err(Refusal::Disk { need_mb: need.div_ceil(1 << 20), free_mb: free / (1 << 20) });
    }
    Ok(())
}

/// Fetches `url` into memory, refusing anything bigger than `cap` bytes.
pub async fn fetch_capped(client: &reqwest::Client, url: &str, cap: u64) -> Result<Vec<u8>, String> {
    let mut response = client.get(url).send().await.map_err(|e| fetch_error(url, &e))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fetch_error(url, &e))? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(format!("{url} sent more than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn fetch_error(url: &str, error: &reqwest::Error) -> String {
    if error.is_timeout() { format!("{url} did not answer in time") } else { format!("cannot fetch {url}: {error}") }
}

/// Unpacks the `conversure` entry of a `.tar.zst` archive to `dest`, executable (0755).
pub fn extract_executable(archive: &[u8], dest: &Path) -> Result<(), String> {
    let decoder = zstd::stream::read::Decoder::new(archive).map_err(|e| format!("not a zstd archive: {e}"))?;
    let mut tar = tar::Archive::new(decoder);
    let entries = tar.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let is_executable = entry.path().is_ok_and(|p| p.as_ref() == Path::new("conversure"));
        if !is_executable {
            continue;
        }
        let mut out = std::fs::File::create(dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        let copied = std::io::copy(&mut entry.take(MAX_EXECUTABLE_BYTES + 1), &mut out)
            .map_err(|e| format!("cannot unpack the executable: {e}"))?;
        if copied > MAX_EXECUTABLE_BYTES {
            let _ = std::fs::remove_file(dest);
            return Err("the executable in the archive is implausibly large".to_owned());
        }
        out.sync_all().map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        set_executable(dest).map_err(|e| format!("cannot make {} executable: {e}", dest.display()))?;
        return Ok(());
    }
    Err("the archive holds no `conversure` executable".to_owned())
}

fn set_executable(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Runs `<exe> version` and checks its first line names `version`: catches a binary for another platform, a
/// truncated file or a mislabelled release before anything is replaced.
pub fn smoke_test(exe: &Path, version: &str) -> Result<(), String> {
    let mut child = std::process::Command::new(exe)
        .arg("version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("the new executable does not start here: {e}"))?;
    let deadline = Instant::now() + SMOKE_TEST_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the new executable did not answer `version` in time".to_owned());
            }
        }
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    let first = said.lines().next().unwrap_or_default().trim().to_owned();
    if !status.success() || first != format!("conversure {version}") {
        return Err(format!("the new executable reports {first:?} instead of \"conversure {version}\""));
    }
    Ok(())
}

/// Puts `new` in place of `exe`, keeping the running executable as `<exe>.old`. The new file is first copied next
/// to `exe`, so both renames stay in one directory (atomic); if the second fails the first is undone.
pub fn swap(exe: &Path, new: &Path) -> Result<(), String> {
    let staged = sibling(exe, ".new");
    std::fs::copy(new, &staged)
        .map_err(|e| format!("cannot copy the new executable next to {}: {e}", exe.display()))?;
    set_executable(&staged).map_err(|e| format!("cannot make {} executable: {e}", staged.display()))?;
    let old = old_exe(exe);
    if let Err(e) = std::fs::rename(exe, &old) {
        let _ = std::fs::remove_file(&staged);
        return Err(format!("cannot move {} aside: {e}", exe.display()));
    }
    if let Err(e) = std::fs::rename(&staged, exe) {
        let _ = std::fs::rename(&old, exe);
        let _ = std::fs::remove_file(&staged);
        return Err(format!("cannot put the new executable in place: {e}"));
    }
    Ok(())
}

/// Undoes [`swap`]: `<exe>.old` goes back to `exe`.
pub fn put_back(exe: &Path) -> Result<(), String> {
    std::fs::rename(old_exe(exe), exe).map_err(|e| format!("cannot put the previous executable back: {e}"))
}

/// A hidden file next to `path` (same directory, so renames between them are atomic).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, content).unwrap();
        zstd::encode_all(builder.into_inner().unwrap().as_slice(), 3).unwrap()
    }

    #[test]
    fn the_executable_is_unpacked_and_runs_its_smoke_test() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("new");
        let script = b"#!/bin/sh\necho 'conversure 9.9.9'\n";
        extract_executable(&archive_with("conversure", script), &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), script);
        smoke_test(&dest, "9.9.9").unwrap();
        let err = smoke_test(&dest, "1.0.0").unwrap_err();
        assert!(err.contains("9.9.9"), "{err}");
        let err = extract_executable(&archive_with("other", b"x"), &dest).unwrap_err();
        assert!(err.contains("no `conversure`"), "{err}");
        assert!(extract_executable(b"not an archive", &dest).is_err());
    }

    #[test]
    fn swap_keeps_the_old_executable_and_put_back_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("conversure");
        let new = dir.path().join("staged");
        std::fs::write(&exe, b"old").unwrap();
        std::fs::write(&new, b"new").unwrap();
        swap(&exe, &new).unwrap();
        assert_eq!(std::fs::read(&exe).unwrap(), b"new");
        assert_eq!(std::fs::read(old_exe(&exe)).unwrap(), b"old");
        put_back(&exe).unwrap();
        assert_eq!(std::fs::read(&exe).unwrap(), b"old");
        assert!(!old_exe(&exe).exists());
    }
}
