//! Where backup archives are kept, behind an object-safe trait so an S3-compatible target can be added beside the
//! local directory.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::config::DataDir;

/// The file-name suffix every stored backup has.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// A backup as a destination lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBackup {
    pub file_name: String,
    pub size: u64,
    /// Unix milliseconds.
    pub modified_at: i64,
}

/// Why a destination operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "{0:?} is not a valid backup file name (letters, digits, '.', '_' and '-' only, ending in {ARCHIVE_SUFFIX})"
    )]
    InvalidName(String),
    #[error("there is no backup named {0}")]
    NotFound(String),
    #[error("a backup named {0} already exists")]
    AlreadyExists(String),
    #[error("could not {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

fn io_error(action: &'static str, path: &Path) -> impl Fn(io::Error) -> DestinationError {
    move |source| DestinationError::Io { action, path: path.to_path_buf(), source }
}

/// A place that keeps backup archives. File names come from API callers, so every implementation validates them
/// with [`check_file_name`].
pub trait Destination: Send + Sync {
    /// A short name for the UI and logs, such as `local`.
    fn name(&self) -> &str;
    /// Takes the finished archive at `local` into the destination under `file_name` (moving it when it can).
    fn store(&self, local: &Path, file_name: &str) -> Result<(), DestinationError>;
    /// The stored backups, newest first.
    fn list(&self) -> Result<Vec<StoredBackup>, DestinationError>;
    /// A local path to the archive that the archive reader can open.
    fn open(&self, file_name: &str) -> Result<PathBuf, DestinationError>;
    fn delete(&self, file_name: &str) -> Result<(), DestinationError>;
}

/// Refuses names that could leave the directory or are not archives: only `[A-Za-z0-9._-]`, ending in `.tar.zst`,
/// not starting with a dot (hidden and partial files are not backups).
pub fn check_file_name(file_name: &str) -> Result<(), DestinationError> {
    let stem_len = file_name.len().saturating_sub(ARCHIVE_SUFFIX.len());
    let valid = file_name.len() <= 255
        && stem_len > 0
        && file_name.ends_with(ARCHIVE_SUFFIX)
        && !file_name.starts_with('.')
        && file_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid { Ok(()) } else { Err(DestinationError::InvalidName(file_name.to_owned())) }
}

/// Backups in a directory of the data directory (`backups/`, mode 0700; archives 0600).
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    /// The data directory's `backups/`, created if missing.
    pub fn in_data_dir(data_dir: &DataDir) -> Result<Self, DestinationError> {
        Self::new(data_dir.backups_dir())
    }

    /// Uses `dir`, creating it (and its parents) with owner-only permissions if missing.
    pub fn new(dir: PathBuf) -> Result<Self, DestinationError> {
        DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io_error("create", &dir))?;
        Ok(Self { dir })
    }

    /// The directory the archives are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, file_name: &str) -> Result<PathBuf, DestinationError> {
        check_file_name(file_name)?;
        Ok(self.dir.join(file_name))
    }

    /// Copies `local` under a hidden partial name (across filesystems), then links it into place without
    /// overwriting.
    fn copy_into_place(&self, local: &Path, target: &Path, file_name: &str) -> Result<(), DestinationError> {
        let partial = self.dir.join(format!(".{file_name}.partial"));
        let result = (|| {
            let mut from = File::open(local).map_err(io_error("read", local))?;
            let mut to = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)
                .map_err(io_error("write", &partial))?;
            io::copy(&mut from, &mut to).map_err(io_error("copy to", &partial))?;
            to.sync_all().map_err(io_error("write", &partial))?;
            link_new(&partial, target, file_name)
        })();
        let _ = fs::remove_file(&partial);
        result?;
        fs::remove_file(local).map_err(io_error("remove", local))
    }
}

/// Hard-links `from` to `to`, refusing to replace an existing backup.
fn link_new(from: &Path, to: &Path, file_name: &str) -> Result<(), DestinationError> {
    match fs::hard_link(from, to) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(DestinationError::AlreadyExists(file_name.into())),
        other => other.map_err(io_error("store", to)),
    }
}

impl Destination for LocalDir {
    fn name(&self) -> &str {
        "local"
    }

    fn store(&self, local: &Path, file_name: &str) -> Result<(), DestinationError> {
        let target = self.path_of(file_name)?;
        fs::set_permissions(local, fs::Permissions::from_mode(0o600)).map_err(io_error("protect", local))?;
        // A hard link then unlink is a move that never overwrites; it fails across filesystems, then we copy.
        match fs::hard_link(local, &target) {
            Ok(()) => fs::remove_file(local).map_err(io_error("remove", local)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(DestinationError::AlreadyExists(file_name.into()))
            }
            Err(_) => self.copy_into_place(local, &target, file_name),
        }?;
        if let Ok(dir) = File::open(&self.dir) {
            dir.sync_all().map_err(io_error("sync", &self.dir))?;
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<StoredBackup>, DestinationError> {
        let mut backups = Vec::new();
        for child in fs::read_dir(&self.dir).map_err(io_error("list", &self.dir))? {
            let child = child.map_err(io_error("list", &self.dir))?;
            let Some(file_name) = child.file_name().to_str().map(str::to_owned) else { continue };
            if check_file_name(&file_name).is_err() {
                continue;
            }
            // symlink_metadata: a link planted in the directory is not listed (or followed).
            let metadata = fs::symlink_metadata(child.path()).map_err(io_error("read", &child.path()))?;
            if !metadata.is_file() {
                continue;
            }
            let modified_at = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |age| i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
            backups.push(StoredBackup { file_name, size: metadata.len(), modified_at });
        }
        backups.sort_by(|a, b| b.modified_at.cmp(&a.modified_at).then_with(|| b.file_name.cmp(&a.file_name)));
        Ok(backups)
    }

    fn open(&self, file_name: &str) -> Result<PathBuf, DestinationError> {
        let path = self.path_of(file_name)?;
        match fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.is_file() => Ok(path),
            Ok(_) => Err(DestinationError::NotFound(file_name.into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(DestinationError::NotFound(file_name.into())),
            Err(e) => Err(DestinationError::Io { action: "open", path, source: e }),
        }
    }

    fn delete(&self, file_name: &str) -> Result<(), DestinationError> {
        let path = self.open(file_name)?;
        fs::remove_file(&path).map_err(io_error("delete", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_validated() {
        for good in ["conversure-20250101-manual.tar.zst", "a.tar.zst", "A_b-1.2.tar.zst"] {
            assert!(check_file_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".tar.zst",
            "../x.tar.zst",
            "a/b.tar.zst",
            "a\\b.tar.zst",
            "x.tar",
            "x.tar.zst.partial",
            ".hidden.tar.zst",
            "sp ace.tar.zst",
            "é.tar.zst",
        ] {
            assert!(matches!(check_file_name(bad), Err(DestinationError::InvalidName(_))), "{bad}");
        }
    }

    #[test]
    fn local_dir_stores_lists_opens_and_deletes() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("backups");
        let local = LocalDir::new(dir.clone()).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(local.name(), "local");

        let staged = root.path().join("staged");
        fs::write(&staged, b"archive one").unwrap();
        local.store(&staged, "one.tar.zst").unwrap();
        assert!(!staged.exists(), "the staged file was moved");
        let stored = local.open("one.tar.zst").unwrap();
        assert_eq!(fs::read(&stored).unwrap(), b"archive one");
        assert_eq!(fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);

        fs::write(&staged, b"again").unwrap();
        assert!(matches!(local.store(&staged, "one.tar.zst"), Err(DestinationError::AlreadyExists(_))));
        assert_eq!(fs::read(&stored).unwrap(), b"archive one", "an existing backup is never overwritten");
        local.store(&staged, "two.tar.zst").unwrap();

        // Not listed: other files, partials, and symlinks.
        fs::write(dir.join("notes.txt"), b"x").unwrap();
        fs::write(dir.join(".three.tar.zst.partial"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link.tar.zst")).unwrap();
        let names: Vec<String> = local.list().unwrap().into_iter().map(|b| b.file_name).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"one.tar.zst".to_owned()) && names.contains(&"two.tar.zst".to_owned()));
        assert!(matches!(local.open("link.tar.zst"), Err(DestinationError::NotFound(_))));
        assert!(matches!(local.open("../staged.tar.zst"), Err(DestinationError::InvalidName(_))));

        local.delete("one.tar.zst").unwrap();
        assert!(matches!(local.open("one.tar.zst"), Err(DestinationError::NotFound(_))));
        assert!(matches!(local.delete("one.tar.zst"), Err(DestinationError::NotFound(_))));
    }

    #[test]
    fn list_is_newest_first() {
        let root = tempfile::tempdir().unwrap();
        let local = LocalDir::new(root.path().join("b")).unwrap();
        for (name, age_secs) in [("old.tar.zst", 3_000), ("new.tar.zst", 10), ("mid.tar.zst", 500)] {
            let path = local.dir().join(name);
            fs::write(&path, name).unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
            File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
        }
        let names: Vec<String> = local.list().unwrap().into_iter().map(|b| b.file_name).collect();
        assert_eq!(names, ["new.tar.zst", "mid.tar.zst", "old.tar.zst"]);
    }
}
